#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# meta/install: install into a temporary destdir, then build link_test.c
# against the installed headers and library with pkg-config, as a user of the
# library would, and run it.
# Usage: install.sh BUILD_ROOT SOURCE_ROOT "CC COMMAND" [SANITIZE]
# (CC COMMAND is the build's compiler, e.g. "cc" or "ccache clang"; SANITIZE
# is its b_sanitize value, so an instrumented libvhu gets a matching program.)
set -u

build=${1:?usage: install.sh BUILD_ROOT SOURCE_ROOT "CC COMMAND" [SANITIZE]}
src=${2:?}
read -ra cc <<<"${3:?}"
sanitize=${4:-none}

for t in meson pkg-config "${cc[0]}"; do
	if ! command -v "$t" >/dev/null; then
		echo "SKIP: $t not installed"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vhu-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

# meson test has already built everything; --no-rebuild keeps this test from
# running ninja inside a build that meson test is using.
if ! meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "install: meson install failed"
	exit 1
fi

pc=$(find "$dest" -name vhu.pc -path '*/pkgconfig/*' | head -n 1)
if [[ -z $pc ]]; then
	echo "install: no vhu.pc under the destdir"
	find "$dest" -type f | sed "s|^$dest||"
	exit 1
fi
for m in vhu-blk vhu-net vhu-rng vhu-input vhu-probe vhu-bench vhu-ctl vhu-trace vhu-conform; do
	if [[ -z $(find "$dest" -path "*/man/man1/$m.1*") ]] || [[ -z $(find "$dest" -path "*/bin/$m") ]]; then
		echo "install: $m or its man page $m.1 is not installed"
		exit 1
	fi
done
for h in protocol.h names.h version.h; do
	if [[ -z $(find "$dest" -path "*/include/vhu/$h") ]]; then
		echo "install: vhu/$h is not installed"
		exit 1
	fi
done

export PKG_CONFIG_PATH=${pc%/vhu.pc}
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH	# only the installed vhu, no system .pc
export PKG_CONFIG_SYSROOT_DIR=$dest
# With --prefix=/usr the paths are "system" ones that pkg-config would drop.
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
if ! flags=$(pkg-config --cflags --libs vhu); then
	echo "install: pkg-config --cflags --libs vhu failed"
	exit 1
fi

extra=()
# An instrumented libvhu needs the sanitizer runtime in the program too.
if [[ $sanitize != none && -n $sanitize ]]; then
	extra+=("-fsanitize=$sanitize")
fi
# shellcheck disable=SC2086 # $flags is a list of words from pkg-config
if ! "${cc[@]}" -std=c11 -Wall -Wextra -Werror "${extra[@]}" -o "$tmp/link_test" \
	"$src/tests/meta/link_test.c" $flags; then
	echo "install: link_test.c did not build with: $flags"
	exit 1
fi

libdir=$(dirname "$(find "$dest" -name 'libvhu.so*' | head -n 1)")
if ! out=$(LD_LIBRARY_PATH=$libdir "$tmp/link_test"); then
	echo "$out"
	echo "install: link_test failed"
	exit 1
fi
echo "$out"
# The program must have used the installed library, not one from the tree.
if ! ldd_out=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/link_test" 2>&1) ||
	! grep -q "libvhu.so.* => $dest" <<<"$ldd_out"; then
	echo "$ldd_out"
	echo "install: link_test did not resolve libvhu.so from the destdir"
	exit 1
fi
grep -q '^VHOST_USER_GET_FEATURES$' <<<"$out" || { echo "install: wrong output"; exit 1; }
echo "install: OK (${libdir#"$dest"})"
