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
#   trace: the same drawings through vhu-trace (issue 21), on vhu-gpu and on
#         QEMU's back-end: the PNGs are those of a direct run, and the trace
#         shows the GPU socket's messages decoded (check_trace.py --gpu);
#         then a 4096x4096 scanout: a 64 MiB UPDATE streams through the
#         tracer, whose peak RSS stays under 16 MiB.
#   virgl: vhu-gpu --virgl (virglrenderer on Mesa's llvmpipe, EGL
#         surfaceless): the 2D drawing through virgl, the capsets, a 3D
#         context rendering a known scene read back over UPDATE and into
#         guest memory, every hostile 3D command failing alone, a second
#         front-end on packed rings; a missing or wrong --render-node, and
#         a build without virglrenderer, are one-line errors and exit 1.
#         deps.sh installs libvirglrenderer-dev, so no virgl is a failure.
#
#   gpu.sh VHU_GPU_DRAW VHU_GPU vhu|qemu|trace|virgl  (trace: $VHU_TRACE is vhu-trace)
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || fail "usage: $0 VHU_GPU_DRAW VHU_GPU vhu|qemu|trace|virgl"
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

# trace NAME SOCKET: vhu-trace from $T/NAME-tr.sock to SOCKET, JSON to $T/NAME.json
trace() {
	start_peer "trace-$1" "$T/trace-$1.log" "$VHU_TRACE" --listen="$T/$1-tr.sock" \
		--connect="$2" --json --output="$T/$1.json"
	wait_socket "$T/$1-tr.sock" "trace-$1"
}

# trace_done NAME CHECK_TRACE_ARGS...: stop the tracer (it must exit 0); check its trace
trace_done() {
	local name=$1
	shift
	stop_device "trace-$name"
	"${PYTHON:-python3}" "$LIB_DIR/check_trace.py" "$T/$name.json" --queues 2 "$@" ||
		fail "the trace of $name is wrong"
}

same_png() {
	for f in 0 cursor; do
		cmp "$T/$1-$f.png" "$T/$2-$f.png" || fail "scanout $f: $1 and $2 differ"
	done
}

case $mode in
trace)
	[ -x "${VHU_TRACE:-}" ] || fail "VHU_TRACE '${VHU_TRACE:-}' is not executable"
	need_exe "$QEMU_GPU"
	start_vhu_gpu --scanouts=2
	draw direct --socket-path "$T/vhu.sock" --check --png "$T/direct"
	trace vhu "$T/vhu.sock"
	draw vhu --socket-path "$T/vhu-tr.sock" --scanouts 2 --check --edid --png "$T/vhu"
	trace_done vhu --gpu 320x240 --scanouts 2 --edid
	same_png direct vhu
	start_peer qemu-gpu "$T/qemu-gpu.log" "$QEMU_GPU" --socket-path="$T/qemu.sock"
	wait_socket "$T/qemu.sock" qemu-gpu
	trace qemu "$T/qemu.sock"
	draw qemu --socket-path "$T/qemu-tr.sock" --check --png "$T/qemu"
	trace_done qemu --gpu 320x240
	same_png direct qemu
	# 64 MiB of pixels in one UPDATE: streamed, never held whole
	trace big "$T/vhu.sock"
	draw big --socket-path "$T/big-tr.sock" --width 4096 --height 4096 --check
	hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/${PEER_PID[trace-big]}/status")
	note "vhu-trace peak RSS with a 64 MiB UPDATE: $hwm KiB"
	[ -n "$hwm" ] && [ "$hwm" -lt 16384 ] || fail "vhu-trace's peak RSS is $hwm KiB: the UPDATE was held"
	trace_done big --gpu 4096x4096
	grep -q '"size": 67108884' "$T/big.json" || fail "no 64 MiB UPDATE in the trace"
	stop_device vhu-gpu
	;;
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
