#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# meta/linkage: libvhu.so exports vhu_* and nothing else (libvfio-user's
# test-linkage.sh). Usage: linkage.sh PATH/TO/libvhu.so
set -u

lib=${1:?usage: linkage.sh LIBVHU_SO}
if ! command -v nm >/dev/null; then
	echo "SKIP: nm not installed (binutils)"
	exit 77
fi
if ! syms=$(nm -D --defined-only "$lib"); then
	echo "linkage: nm failed on $lib"
	exit 1
fi

# Lines are "VALUE TYPE NAME". Type A entries are the version nodes of
# libvhu.map (VHU_0), which are not symbols anyone can call.
bad=$(awk '!($2 == "A" && $3 ~ /^VHU_[0-9_.]*$/) && $3 !~ /^vhu_/ { print "  " $2 " " $3 }' <<<"$syms")
count=$(awk '$3 ~ /^vhu_/' <<<"$syms" | wc -l)

if [[ -n $bad ]]; then
	echo "linkage: $lib exports symbols outside the vhu_ prefix:"
	echo "$bad"
	echo "linkage: hide them (static, no VHU_API) or rename them; lib/libvhu.map is the list"
	exit 1
fi
if ((count == 0)); then
	echo "linkage: $lib exports no vhu_ symbol at all"
	exit 1
fi
echo "linkage: $count symbols exported, all vhu_*"
