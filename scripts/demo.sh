#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make demo: boot a small VM (QEMU, KVM if it works here, else TCG) whose disk
# is served by vhu-blk and whose random-number device is served by vhu-rng,
# and tell in plain words what the guest did and what the host then found in
# the disk image. Then vhu-probe shows what vhu-blk offers on its socket.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
for exe in devices/vhu-blk devices/vhu-rng tools/probe/vhu-probe; do
	[ -x "$build/$exe" ] || { echo "demo: $build/$exe is missing; run 'make build' first" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "demo: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vhu-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building the test guest (Debian's kernel + a busybox initramfs; cached after the first run)"
guest=$("$top/tests/guest/build-guest.sh" "$build/tests/guest/vm")

size=$((64 * 1024 * 1024))
truncate -s "$size" "$tmp/disk.img"
echo "== starting vhu-blk on a $size-byte image (2 queues) and vhu-rng"
"$build/devices/vhu-blk" --socket-path="$tmp/blk.sock" --blk-file="$tmp/disk.img" \
	--num-queues=2 --serial=vhu-demo >"$tmp/blk.log" 2>&1 &
pids+=($!)
"$build/devices/vhu-rng" --socket-path="$tmp/rng.sock" >"$tmp/rng.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/blk.sock" ] && [ -S "$tmp/rng.sock" ] && break; sleep 0.1; done

echo "== booting the VM: vhost-user-blk-pci and vhost-user-rng-pci on those sockets"
status=0
"$top/tests/guest/run-guest.sh" --guest "$guest" --accel-cache "$build/tests/guest/vm/accel-probe" \
	--smp 2 --vhost-user-blk "$tmp/blk.sock,num-queues=2" --vhost-user-rng "$tmp/rng.sock" \
	--log "$tmp/console.log" --data "$tmp/data" "$top/tests/guest/demo-guest.sh" \
	>"$tmp/run.log" 2>&1 || status=$?
echo
echo "What the guest said:"
tr -d '\r' <"$tmp/console.log" | sed -n 's/^guest: /  /p'
if [ "$status" -ne 0 ]; then
	echo "demo: the guest failed:" >&2
	cat "$tmp/run.log" >&2
	exit 1
fi
echo
echo "What the host finds in the image after the VM powered off:"
echo "  sector 0: \"$(head -c 512 "$tmp/disk.img" | tr -d '\0' | head -n 1)\""
want=$(sed -n 's/^demo_sha256=//p' "$tmp/data" | tail -n 1)
got=$(dd if="$tmp/disk.img" bs=1M skip=1 count=4 status=none | sha256sum | cut -d' ' -f1)
if [ "$got" = "$want" ]; then
	echo "  the 4 MiB at 1 MiB hash to $got: the same bytes the guest wrote."
else
	echo "  MISMATCH: the image holds $got, the guest wrote $want" >&2
	exit 1
fi
echo "  $(sed -n 's/^run-guest: PASS (\(.*\))$/boot and run: \1/p' "$tmp/run.log")"
echo
echo "== vhu-probe --socket-path=$tmp/blk.sock --type=blk (what vhu-blk offers)"
"$build/tools/probe/vhu-probe" --socket-path="$tmp/blk.sock" --type=blk | sed -n '1,/^memory slots/p'
