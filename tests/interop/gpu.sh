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
#   virgl: vhu-gpu --virgl (virglrenderer on Mesa's llvmpipe, EGL
#         surfaceless): the 2D drawing through virgl, the capsets, a 3D
#         context rendering a known scene read back over UPDATE and into
#         guest memory, every hostile 3D command failing alone, a second
#         front-end on packed rings; a missing or wrong --render-node, and
#         a build without virglrenderer, are one-line errors and exit 1.
#         deps.sh installs libvirglrenderer-dev, so no virgl is a failure.
#
#   gpu.sh VHU_GPU_DRAW VHU_GPU vhu|qemu|virgl
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || fail "usage: $0 VHU_GPU_DRAW VHU_GPU vhu|qemu|virgl"
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
virgl)
	"$GPU" --print-capabilities | grep -q '"virgl"' ||
		fail "vhu-gpu was built without virglrenderer (scripts/deps.sh installs libvirglrenderer-dev)"
	# a render node that is missing or not DRM, or one without --virgl: one line, exit 1
	for args in "--virgl --render-node=$T/none" "--virgl --render-node=/dev/null" \
		"--render-node=/dev/null" "--virgl --max-contexts=65"; do
		# shellcheck disable=SC2086
		"$GPU" --socket-path="$T/bad.sock" $args >"$T/bad.out" 2>&1
		rc=$?
		cat "$T/bad.out"
		[ $rc -eq 1 ] || fail "vhu-gpu $args exited with $rc, not 1"
		[ "$(wc -l <"$T/bad.out")" -eq 1 ] || fail "vhu-gpu $args: not a one-line error"
		[ ! -e "$T/bad.sock" ] || fail "vhu-gpu $args listened"
	done
	# without --virgl the device does not offer VIRTIO_GPU_F_VIRGL
	start_vhu_gpu
	timeout 60 "$DRAW" --socket-path "$T/vhu.sock" --virgl >"$T/no.out" 2>&1 &&
		fail "vhu-gpu without --virgl offered VIRTIO_GPU_F_VIRGL"
	grep -q 'does not offer features' "$T/no.out" || { cat "$T/no.out"; fail "no refusal of --virgl"; }
	stop_device vhu-gpu
	rm -f "$T/vhu.sock"
	start_vhu_gpu --virgl --max-hostmem=16777216 --scanouts=2 --max-contexts=4
	draw virgl --socket-path "$T/vhu.sock" --scanouts 2 --check --edid --virgl --hostile \
		--hostmem 16777216 --png "$T/virgl"
	grep -q 'hostile: every bad command failed' "$T/virgl.out" || fail "no hostile summary"
	# context 1 and 3 more: --max-contexts=4 is where CTX_CREATE stops
	grep -q 'virgl hostile: 3 more contexts made, then ERR_OUT_OF_MEMORY' "$T/virgl.out" ||
		fail "the context cap is not --max-contexts"
	grep -q 'virgl scanout: 320x240, pixels match' "$T/virgl.out" || fail "no virgl scanout check"
	grep -q 'virgl readback: 320x240, pixels match' "$T/virgl.out" || fail "no virgl readback check"
	[ "$(grep -c '^capset [0-9]' "$T/virgl.out")" -ge 1 ] || fail "no capsets"
	file "$T/virgl-virgl.png" | grep -q 'PNG image data, 320 x 240' ||
		fail "virgl-virgl.png is no 320x240 PNG"
	# the first front-end's contexts and resources are gone: the same ids work again
	draw virgl2 --socket-path "$T/vhu.sock" --check --virgl --packed
	peer_alive vhu-gpu || fail "vhu-gpu died"
	stop_device vhu-gpu
	;;
*) fail "unknown mode '$mode'" ;;
esac
note "$mode: pass"
exit 0
