#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Format the C sources with clang-format 14 and the repository's .clang-format.
#   scripts/format.sh            fix every file in place
#   scripts/format.sh --check    change nothing; list files that differ, exit 1 if any
#   scripts/format.sh [--check] FILE...   only these files
# Exits 77 (meson's SKIP) with a "SKIP:" line when clang-format is missing.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
if [[ ${1:-} == --check ]]; then
	check=1
	shift
fi

cf=
for c in clang-format-14 clang-format; do
	if command -v "$c" >/dev/null; then
		cf=$c
		break
	fi
done
if [[ -z $cf ]]; then
	echo "SKIP: clang-format not installed (scripts/deps.sh installs it)"
	exit 77
fi

cd "$root" || exit 1
files=()
if (($# > 0)); then
	files=("$@")
else
	dirs=()
	for d in include lib devices tools tests; do
		[[ -d $d ]] && dirs+=("$d")
	done
	if ((${#dirs[@]} > 0)); then
		mapfile -t files < <(find "${dirs[@]}" -path tests/fuzz/corpus -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print | LC_ALL=C sort)
	fi
fi
if ((${#files[@]} == 0)); then
	echo "format: no C files"
	exit 0
fi

if ((check == 0)); then
	"$cf" -i --style=file "${files[@]}" || exit 1
	echo "format: formatted ${#files[@]} files"
	exit 0
fi

bad=0
for f in "${files[@]}"; do
	if ! out=$("$cf" --style=file "$f"); then
		echo "format: $cf failed on $f" >&2
		bad=$((bad + 1))
		continue
	fi
	if ! d=$(diff -u --label "a/$f" --label "b/$f" "$f" - <<<"$out"); then
		n=$(tail -n +3 <<<"$d" | grep -c '^[-+]')
		echo "format: $f: $n line(s) differ"
		head -n 40 <<<"$d" | sed 's/^/    /'
		bad=$((bad + 1))
	fi
done
if ((bad > 0)); then
	echo "format: $bad of ${#files[@]} files need formatting; run scripts/format.sh"
	exit 1
fi
echo "format: ${#files[@]} files clean"
