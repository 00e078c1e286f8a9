#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every program and every vhu-bench subcommand answers --help and -h: usage on
# stdout (starting with "Usage:" and naming the options the README's synopsis
# gives it), nothing on stderr, exit status 0. And a bad option is still an
# error (exit 2 for the tools, 1 for the devices), so --help is not just
# "anything goes".
# Arguments: the built vhu-blk, vhu-net, vhu-rng, vhu-probe, vhu-bench, vhu-trace, vhu-ctl,
# vhu-gpu, vhu-gpu-draw, vhu-input and vhu-conform.
set -u

fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME WANT_OPTIONS -- CMD...: CMD's help must list each of WANT_OPTIONS.
check() {
	local name=$1 want=$2
	shift 3
	local flag rc opt before=$fails
	for flag in --help -h; do
		"$@" "$flag" >"$tmp/out" 2>"$tmp/err" </dev/null
		rc=$?
		if ((rc != 0)); then
			echo "FAIL: $name $flag: exit status $rc (want 0)"
			sed 's/^/  stderr: /' "$tmp/err"
			fails=$((fails + 1))
			continue
		fi
		if [[ -s $tmp/err ]]; then
			echo "FAIL: $name $flag: wrote to stderr"
			sed 's/^/  stderr: /' "$tmp/err"
			fails=$((fails + 1))
		fi
		if ! head -n 1 "$tmp/out" | grep -q '^Usage: '; then
			echo "FAIL: $name $flag: stdout does not start with 'Usage: '"
			fails=$((fails + 1))
		fi
		for opt in $want; do
			if ! grep -q -- "$opt\b" "$tmp/out"; then
				echo "FAIL: $name $flag: help does not mention $opt"
				fails=$((fails + 1))
			fi
		done
	done
	# A misspelt option stays an error, and says so on stderr.
	"$@" --no-such-option >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if ((rc == 0)) || [[ ! -s $tmp/err ]]; then
		echo "FAIL: $name --no-such-option: exit $rc, stderr '$(head -c 200 "$tmp/err")'"
		fails=$((fails + 1))
	fi
	((fails == before)) && echo "ok: $name"
}

blk=$1 net=$2 rng=$3 probe=$4 bench=$5 trace=$6 ctl=$7 gpu=$8 gpudraw=$9 input=${10}
conform=${11}

check vhu-blk "--socket-path --fd --blk-file --read-only --num-queues --queue-size --serial
	--direct --poll --poll-window --null-size --delay-us --log-level --print-capabilities
	--version --config --control-socket --control-mode --control-timeout" -- "$blk"
check vhu-net "--socket-path --fd --tap --tap-offload --queue-pairs --queue-size --mtu
	--ageing --poll --poll-window --record-busy --control-socket --control-mode --control-timeout" -- "$net"
check vhu-rng "--socket-path --fd --log-level" -- "$rng"
check vhu-input "--socket-path --fd --evdev-path --no-grab --events-socket --max-pending
	--log-level --print-capabilities --version" -- "$input"
check vhu-gpu "--socket-path --fd --max-hostmem --scanouts --log-level --print-capabilities
	--version" -- "$gpu"
check vhu-gpu-draw "--socket-path --width --height --scanouts --png --check --edid --hostile
	--hostmem --frames --verbose" -- "$gpudraw"
check vhu-ctl "--socket --timeout --version" -- "$ctl"
check vhu-probe "--socket-path --type --json --timeout --version" -- "$probe"
check vhu-trace "--listen --connect --json --output --once --timeout --version" -- "$trace"
check vhu-conform "--socket-path --exec --type --only --json --markdown --name --pid --peer-log
	--timeout --rss-limit --list --version --listen --nack" -- "$conform"
check "vhu-conform frontend" "--listen --nack --json --markdown --name --timeout" -- "$conform" frontend
check vhu-bench "blk net input" -- "$bench"
check "vhu-bench blk" "--socket-path --rw --bs --iodepth --queues --time --size --packed
	--json --reconnect --log-check --migrate-to --log-dirty" -- "$bench" blk
check "vhu-bench net" "--socket-path --mode --pkt-size --time --count --packed --json --verify
	--dst-mac --src-mac --log-dirty" \
	-- "$bench" net
check "vhu-bench input" "--socket-path --count --time --packed --buffers --config-only --status
	--expect" -- "$bench" input

if ((fails)); then
	echo "$fails failure(s)"
	exit 1
fi
echo "every program and subcommand answers --help and -h"
