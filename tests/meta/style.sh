#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# meta/style: the tree is clang-formatted, every source file carries an
# SPDX-License-Identifier line in its first 3 lines, and the code spells
# each errno one way (-ENOTSUP, never -EOPNOTSUPP: CONTRIBUTING.md).
# Usage: style.sh SOURCE_ROOT
set -u

root=${1:?usage: style.sh SOURCE_ROOT}
cd "$root" || exit 1
fail=0

# SPDX first: it needs no tools, so it runs even where clang-format is missing.
dirs=()
for d in include lib devices tools tests scripts; do
	[[ -d $d ]] && dirs+=("$d")
done
nospdx=0
while IFS= read -r f; do
	if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier:'; then
		echo "style: $f: no SPDX-License-Identifier in its first 3 lines"
		nospdx=$((nospdx + 1))
	fi
done < <({
	[[ -f meson.build ]] && echo meson.build
	[[ -f meson_options.txt ]] && echo meson_options.txt
	((${#dirs[@]})) && find "${dirs[@]}" -path tests/fuzz/corpus -prune -o -type f \
		\( -name '*.c' -o -name '*.h' -o -name meson.build -o -name '*.sh' \
		-o -name '*.py' \) -print
} | LC_ALL=C sort)
if ((nospdx > 0)); then
	echo "style: $nospdx file(s) lack an SPDX header"
	fail=1
else
	echo "style: SPDX headers present"
fi

# EOPNOTSUPP is ENOTSUP on Linux: one spelling
if grep -rn --include='*.c' --include='*.h' EOPNOTSUPP include lib devices tools 2>/dev/null; then
	echo "style: EOPNOTSUPP above: spell it ENOTSUP"
	fail=1
fi

scripts/format.sh --check
rc=$?
if ((rc == 77)); then
	# Report the SPDX result even when formatting could not be checked.
	((fail)) && exit 1
	exit 77
fi
((rc != 0)) && fail=1
exit $fail
