#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: until vhu's own devices land, show vhu-probe reading a real
# vhost-user-blk back-end (qemu-storage-daemon from Debian) and decoding
# what it offers.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
probe=$build/tools/probe/vhu-probe
[ -x "$probe" ] || { echo "demo: $probe is missing; run 'make build' first" >&2; exit 1; }
command -v qemu-storage-daemon >/dev/null ||
	{ echo "demo: qemu-storage-daemon is missing (apt-get install qemu-system-x86)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vhu-demo.XXXXXX)
qsd_pid=
cleanup() {
	[ -n "$qsd_pid" ] && kill "$qsd_pid" 2>/dev/null && wait "$qsd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

size=$((64 * 1024 * 1024 + 3 * 512))
qemu-img create -q -f raw "$tmp/disk.img" "$size"
echo "== starting qemu-storage-daemon: a vhost-user-blk export of a $size-byte image, 2 queues"
qemu-storage-daemon \
	--blockdev driver=file,node-name=disk,filename="$tmp/disk.img" \
	--export type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path="$tmp/blk.sock",writable=on,num-queues=2 \
	>"$tmp/qsd.log" 2>&1 &
qsd_pid=$!
for _ in $(seq 100); do [ -S "$tmp/blk.sock" ] && break; sleep 0.1; done
[ -S "$tmp/blk.sock" ] || { echo "demo: qemu-storage-daemon did not start:" >&2; cat "$tmp/qsd.log" >&2; exit 1; }

echo "== vhu-probe --socket-path=$tmp/blk.sock --type=blk"
echo
"$probe" --socket-path="$tmp/blk.sock" --type=blk
echo
echo "== what that means: the back-end offers the features above; its config space says"
echo "   the disk holds $((size / 512)) sectors of 512 bytes (the image is $size bytes)"
echo "   and it serves 2 queues, as qemu-storage-daemon was told (num-queues=2)."
