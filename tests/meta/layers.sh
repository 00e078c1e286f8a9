#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# meta/layers: no file includes across a layer the architecture forbids
# (docs/ARCHITECTURE.md, "Layers"). Usage: layers.sh SOURCE_ROOT
#
# A lib/ layer includes its own headers and those of the layers the table
# below allows; devices/ and tools/ include the public headers (<vhu/...>),
# system headers and their own program's headers, never lib/'s. Keep this
# table and the one in docs/ARCHITECTURE.md the same.
set -u

root=${1:?usage: layers.sh SOURCE_ROOT}
cd "$root" || exit 1

declare -A allowed=(
	[common]=""
	[wire]="common"
	[transport]="common wire"
	[memory]="common"
	[virtq]="common memory"
	[backend]="common wire transport memory virtq"
	[frontend]="common wire transport"
)
lib_layers=" ${!allowed[*]} "
bad=0

# every '#include "X"' of a file: prints "LINE X"
quoted_includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for f in lib/*/*.[ch]; do
	layer=${f#lib/}
	layer=${layer%%/*}
	if [[ $lib_layers != *" $layer "* ]]; then
		echo "layers: $f: lib/$layer is not in the table (tests/meta/layers.sh, docs/ARCHITECTURE.md)"
		bad=1
		continue
	fi
	while read -r inc; do
		[[ $inc == */* ]] || continue # a header of its own directory
		dep=${inc%%/*}
		[[ $dep == "$layer" ]] && continue
		if [[ " ${allowed[$layer]} " != *" $dep "* ]]; then
			echo "layers: $f includes \"$inc\": lib/$layer may include only: ${allowed[$layer]:-nothing}"
			bad=1
		fi
	done < <(quoted_includes "$f")
done

for f in devices/*/*.[ch] tools/*/*.[ch]; do
	dir=$(dirname "$f")
	while read -r inc; do
		# devices/* may use devices/common's headers; nothing may reach lib/
		if [[ $inc == */* || ! ( -f $dir/$inc || ($f == devices/* && -f devices/common/$inc) ) ]]; then
			echo "layers: $f includes \"$inc\": devices/ and tools/ use <vhu/...> and their own headers only"
			bad=1
		fi
	done < <(quoted_includes "$f")
done

if ((bad)); then
	exit 1
fi
echo "layers: every include follows docs/ARCHITECTURE.md"
