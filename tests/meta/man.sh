#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# meta/man: each program's man page (man/*.1) documents every option its
# --help lists (and, for vhu-bench, each mode's), and man(1) renders it
# without a warning.
# Usage: man.sh MAN_DIR VHU-BLK VHU-NET VHU-RNG VHU-PROBE VHU-BENCH VHU-TRACE VHU-CTL VHU-GPU
#   VHU-GPU-DRAW VHU-INPUT VHU-CONFORM
set -u

mandir=$1
shift
fails=0

# options PROGRAM ARGS...: the --long-options its help lists
options() {
	"$@" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u
}

# check PAGE PROGRAM ARGS...
check() {
	local page=$mandir/$1.1 opt n=0
	shift
	[[ -f $page ]] || { echo "man: $page is missing"; fails=$((fails + 1)); return; }
	for opt in $(options "$@"); do
		n=$((n + 1))
		# troff writes a dash as \-
		if ! grep -q -- "${opt//-/\\\\-}\b" "$page"; then
			echo "man: ${page##*/} does not document $opt (from $* --help)"
			fails=$((fails + 1))
		fi
	done
	((n > 0)) || { echo "man: $* --help listed no options"; fails=$((fails + 1)); }
	if command -v man >/dev/null; then
		warn=$(MANWIDTH=80 man -l --warnings "$page" 2>&1 >/dev/null)
		if [[ -n $warn ]]; then
			echo "man: ${page##*/}: $warn"
			fails=$((fails + 1))
		fi
	fi
}

blk=$1 net=$2 rng=$3 probe=$4 bench=$5 trace=$6 ctl=$7 gpu=$8 gpudraw=$9 input=${10}
conform=${11}
check vhu-blk "$blk"
check vhu-ctl "$ctl"
check vhu-net "$net"
check vhu-rng "$rng"
check vhu-input "$input"
check vhu-gpu "$gpu"
check vhu-gpu-draw "$gpudraw"
check vhu-probe "$probe"
check vhu-trace "$trace"
check vhu-conform "$conform"
check vhu-conform "$conform" frontend
check vhu-bench "$bench" blk
check vhu-bench "$bench" net
check vhu-bench "$bench" input

if ((fails)); then
	echo "$fails problem(s)"
	exit 1
fi
echo "every option of every program is in its man page"
