#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu's front-end as the display of a vhost-user-gpu back-end, with
# vhu-gpu-draw playing the guest's virtio-gpu driver (tools/gpu).
#
#   vhu:  vhu-gpu on two scanouts: every pixel and the cursor as drawn, the
#         EDID, every hostile command failing alone with its error code
#         (the host memory cap included), then a second front-end served.
#   qemu: QEMU's own vhost-user-gpu (Debian qemu-system-gui) and vhu-gpu get
#         the same drawing: both match it, and their PNGs are identical.
#
#   gpu.sh VHU_GPU_DRAW VHU_GPU vhu|qemu
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || fail "usage: $0 VHU_GPU_DRAW VHU_GPU vhu|qemu"
DRAW=$1 GPU=$2 mode=$3
QEMU_GPU=${QEMU_VHOST_USER_GPU:-/usr/lib/qemu/vhost-user-gpu}
[ -x "$DRAW" ] || fail "vhu-gpu-draw '$DRAW' is not executable"
[ -x "$GPU" ] || fail "vhu-gpu '$GPU' is not executable"

draw() {
	local name=$1
	shift
	timeout 60 "$DRAW" "$@" >"$T/$name.out" 2>&1
	local rc=$?
	cat "$T/$name.out"
	[ $rc -eq 0 ] || fail "vhu-gpu-draw ($name) exited with $rc"
}

start_vhu_gpu() {
	start_peer vhu-gpu "$T/vhu-gpu.log" "$GPU" --socket-path="$T/vhu.sock" "$@"
	wait_socket "$T/vhu.sock" vhu-gpu
}

case $mode in
vhu)
	start_vhu_gpu --max-hostmem=16777216 --scanouts=2
	draw vhu --socket-path "$T/vhu.sock" --scanouts 2 --check --edid --hostile \
		--hostmem 16777216 --png "$T/vhu"
	grep -q 'hostile: every bad command failed' "$T/vhu.out" || fail "no hostile summary"
	for f in vhu-0 vhu-1 vhu-cursor; do
		[ -s "$T/$f.png" ] || fail "$f.png was not written"
	done
	file "$T/vhu-0.png" | grep -q 'PNG image data, 320 x 240' || fail "vhu-0.png is no 320x240 PNG"
	# the device forgot the first front-end's resources: ids are free again
	draw vhu2 --socket-path "$T/vhu.sock" --check
	peer_alive vhu-gpu || fail "vhu-gpu died"
	stop_device vhu-gpu
	;;
qemu)
	need_exe "$QEMU_GPU"
	start_peer qemu-gpu "$T/qemu-gpu.log" "$QEMU_GPU" --socket-path="$T/qemu.sock"
	wait_socket "$T/qemu.sock" qemu-gpu
	draw qemu --socket-path "$T/qemu.sock" --check --png "$T/qemu"
	start_vhu_gpu
	draw vhu --socket-path "$T/vhu.sock" --check --png "$T/vhu"
	for f in 0 cursor; do
		cmp "$T/qemu-$f.png" "$T/vhu-$f.png" || fail "scanout $f: QEMU's and vhu-gpu's pictures differ"
	done
	stop_device vhu-gpu
	;;
*) fail "unknown mode '$mode'" ;;
esac
note "$mode: pass"
exit 0
