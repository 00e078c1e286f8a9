#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make bench: each vhu program against the peer it is compared with, the
# same load in the same run, alternating the two sides ROUNDS times (this
# machine is shared and noisy: medians and spreads, not single runs). The
# side under test is pinned to CPU 1, the load to CPU 0. Writes
# docs/PERFORMANCE.md. Parts (PARTS, default all):
#   blk      vhu-blk (default options) vs qemu-storage-daemon aio=io_uring and
#            aio=threads, all driven by vhu-bench, on tmpfs and on an O_DIRECT
#            file on the disk, iodepth 1 and 32, 256- and 1024-entry rings,
#            the driver on interrupts and busy-polling; plus each back-end's
#            CPU with an idle driver connected (issue 22)
#   gen      vhu-bench vs DPDK virtio-user as packet generators into DPDK's
#            net_vhost rxonly (issue 4)
#   ingress  DPDK virtio-user txonly into a vhu-net port vs into DPDK's
#            net_vhost rxonly (issues 5, 23)
#   fwd      port-to-port: vhu-net between two ports vs testpmd io-forwarding
#            between two net_vhost ports, a DPDK virtio-user loop around it
#            (issues 5, 23). Both: NET_RINGS (256 1024) x NET_LAYOUTS (split
#            packed) x NET_SIDES (vhu = default options, vhu-poll = --poll,
#            dpdk)
#   ovs      port-to-port: vhu-net (default options and --poll) vs Open
#            vSwitch with DPDK (scripts/ovs-switch.sh), 256- and 1024-entry
#            rings, 64 B and 1518 B, plus each switch's cost per frame
#            (issue 23). Needs a quiet machine: under heavy load OVS drops
#            the loop's first frames while its upcall installs the flow,
#            and the loop (a fixed set of frames) dies out
#   contention  the fwd loop through vhu-net (default and --poll) alone and
#            with a busy loop pinned to its CPU: does a polling worker stall
#            when it shares its CPU? (issue 23)
#   iommu    vhu-blk (null disk) under vhu-bench blk with and without --iommu,
#            and vhu-net between two ports under vhu-bench net with and
#            without --iommu: the device IOTLB, warm (buffers mapped once),
#            against plain guest-physical addresses (issue 17)
#   exports  one vhu-blk process serving 64 exports (null disks, 1 queue each,
#            its default worker pool: a thread per CPU) under 64 vhu-bench blk
#            at once, against the same process with one export under one
#            vhu-bench: aggregate IOPS and the ratio; the same with
#            --workers=0 (a thread per queue); the process's threads and its
#            memory per idle export (issue 22)
#   gpu      vhu-gpu vs QEMU's vhost-user-gpu (Debian qemu-system-gui): 2D
#            update throughput, TRANSFER_TO_HOST_2D plus RESOURCE_FLUSH of the
#            whole screen, the UPDATE received by vhu's front-end as the
#            display (vhu-gpu-draw --frames), 320x240 and 1024x768 (issue 18)
#   trace    vhu-trace's cost per message (issue 21): a control-plane load
#            (scripts/trace-load.py: GET_FEATURES and GET_PROTOCOL_FEATURES
#            round trips, one at a time) on vhu-blk directly and through
#            vhu-trace (text trace to a file), alternating: round trips per
#            second, their ratio, and the latency added per message
#   log      dirty logging on vs off (live migration's cost, issue 16): vhu-blk
#            under vhu-bench blk --log-check, vhu-net under vhu-bench net
#            --log-dirty on the receiving port
#
#   scripts/bench.sh                       everything (TIME=5 s per run, ROUNDS=3)
#   TIME=2 ROUNDS=1 scripts/bench.sh       quick look
#   PARTS="ingress fwd" scripts/bench.sh   only these; the other parts' rows are
#                                          kept from the last run that measured them
#   PARTS=blk BLK_WAITS=event ...          blk: only those cells are replaced
# Every run's rows are kept in docs/bench-results.jsonl (RESULTS=), each with
# its date, commit, rounds and run length; PERFORMANCE.md is written from it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
TIME=${TIME:-5}
ROUNDS=${ROUNDS:-3}
PARTS=${PARTS:-blk gen ingress fwd contention ovs log iommu gpu exports trace}
part() { [[ " $PARTS " == *" $1 "* ]]; }
OUT=${OUT:-$top/docs/PERFORMANCE.md}
RESULTS=${RESULTS:-$top/docs/bench-results.jsonl}
bench=$build/tools/bench/vhu-bench
ctl=$build/devices/vhu-ctl
blk=$build/devices/vhu-blk
net=$build/devices/vhu-net
for exe in "$bench" "$blk" "$net"; do
	[ -x "$exe" ] || { echo "bench: $exe is missing; run 'make build' first" >&2; exit 1; }
done
command -v qemu-storage-daemon >/dev/null || { echo "bench: qemu-storage-daemon is missing" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vhu-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/vhu-bench.XXXXXX)
peer=
cleanup() {
	[ -n "$peer" ] && kill "$peer" 2>/dev/null && wait "$peer" 2>/dev/null
	rm -rf "$tmp" "$shm"
}
trap cleanup EXIT
SIZE=$((1 << 30))
truncate -s "$SIZE" "$shm/disk.img"
ncpu=$(nproc)
pin_be="taskset -c $((ncpu > 1 ? 1 : 0))"
pin_fe="taskset -c 0"

# start_backend SIDE BACKING: vhu-blk or qsd on $tmp/s.sock
start_backend() {
	local side=$1 backing=$2
	rm -f "$tmp/s.sock"
	case $side/$backing in
	vhu/null) exec $pin_be "$blk" --socket-path="$tmp/s.sock" --null-size=$SIZE ;;
	vhu/tmpfs) exec $pin_be "$blk" --socket-path="$tmp/s.sock" --blk-file="$shm/disk.img" ;;
	qsd/null) exec $pin_be qemu-storage-daemon \
		--blockdev null-co,size=$SIZE,read-zeroes=on,node-name=n \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	qsd/tmpfs) exec $pin_be qemu-storage-daemon \
		--blockdev driver=file,node-name=n,filename="$shm/disk.img",cache.direct=off,aio=threads \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	esac >"$tmp/$side.log" 2>&1 &
	peer=$!
	for _ in $(seq 100); do [ -S "$tmp/s.sock" ] && return 0; sleep 0.05; done
	echo "bench: $side did not start:" >&2
	cat "$tmp/$side.log" >&2
	exit 1
}

# user + system CPU time of PID in clock ticks (perf counters are not
# available on these VMs: the back-end's CPU time per request stands in for
# cycles per request)
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

stop_backend() {
	kill "$peer" 2>/dev/null || true
	wait "$peer" 2>/dev/null || true
	peer=
}

results=$tmp/results.jsonl
: >"$results"

# ---- vhu-blk vs qemu-storage-daemon (issue 22) ----------------------------------
# start_blk SIDE BACKING QSIZE: vhu (default options) or qsd-io_uring /
# qsd-threads on $tmp/s.sock, on CPU 1, serving $shm/disk.img (tmpfs) or
# $direct_img with O_DIRECT (direct); the command, SOCK for the socket, in
# blk_cmd
start_blk() {
	local side=$1 backing=$2 qsize=$3 img=$shm/disk.img dflag= cdirect=off
	if [ "$backing" = direct ]; then
		img=$direct_img dflag=--direct cdirect=on
	fi
	rm -f "$tmp/s.sock"
	if [ "$side" = vhu ]; then
		blk_cmd="vhu-blk --socket-path=SOCK --blk-file=${backing}.img --queue-size=$qsize $dflag"
	else
		blk_cmd="qemu-storage-daemon --blockdev driver=file,node-name=n,filename=${backing}.img,cache.direct=$cdirect,aio=${side#qsd-} --export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path=SOCK,writable=on"
	fi
	case $side in
	vhu)
		exec $pin_be "$blk" --socket-path="$tmp/s.sock" --blk-file="$img" --queue-size="$qsize" $dflag ;;
	qsd-*)
		exec $pin_be qemu-storage-daemon \
			--blockdev driver=file,node-name=n,filename="$img",cache.direct=$cdirect,aio="${side#qsd-}" \
			--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	esac >"$tmp/$side.log" 2>&1 &
	peer=$!
	for _ in $(seq 100); do [ -S "$tmp/s.sock" ] && return 0; sleep 0.05; done
	echo "bench: $side did not start:" >&2
	cat "$tmp/$side.log" >&2
	exit 1
}
BLK_SIDES=${BLK_SIDES:-vhu qsd-io_uring qsd-threads}
BLK_BACKINGS=${BLK_BACKINGS:-tmpfs direct}
BLK_DEPTHS=${BLK_DEPTHS:-1 32}
BLK_QSIZES=${BLK_QSIZES:-256 1024}
BLK_WAITS=${BLK_WAITS:-event poll}
IDLE_SECS=${IDLE_SECS:-3}
if part blk; then
	# the O_DIRECT file lives on the real disk (the build dir's file system);
	# written through, so reads hit the device and not holes
	direct_img=$(mktemp "${DIRECT_DIR:-$build}/vhu-bench-direct.XXXXXX")
	trap 'rm -f "$direct_img"; cleanup' EXIT
	dd if=/dev/urandom of="$direct_img" bs=1M count=${DIRECT_MB:-256} status=none
	for backing in $BLK_BACKINGS; do
		for depth in $BLK_DEPTHS; do
			for qsize in $BLK_QSIZES; do
				for wait in $BLK_WAITS; do
					for round in $(seq "$ROUNDS"); do
						for side in $BLK_SIDES; do
							start_blk "$side" "$backing" "$qsize"
							cmd="taskset -c 0 vhu-bench blk --socket-path=SOCK --rw=randread --bs=4096 --iodepth=$depth --queue-size=$qsize --wait=$wait --time=$TIME --json"
							t0=$(cpu_ticks "$peer")
							if r=$($pin_fe "$bench" blk --socket-path="$tmp/s.sock" --rw=randread --bs=4096 \
								--iodepth="$depth" --queue-size="$qsize" --wait="$wait" --time="$TIME" --json); then
								ticks=$(($(cpu_ticks "$peer") - t0))
								echo "{\"kind\": \"blk\", \"side\": \"$side\", \"backing\": \"$backing\", \"depth\": $depth, \"qsize\": $qsize, \"wait\": \"$wait\", \"round\": $round, \"cmd\": \"$cmd\", \"be_cmd\": \"$blk_cmd\", \"cpu_ticks\": $ticks, \"r\": $r}" >>"$results"
								printf '%-12s %-6s depth %-2s ring %-4s %-5s round %s: %s IOPS, %s ticks\n' "$side" "$backing" "$depth" "$qsize" "$wait" "$round" \
									"$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["iops"]))' "$r")" "$ticks"
							else
								echo "bench: $side $backing depth $depth ring $qsize $wait failed" >&2
							fi
							stop_backend
						done
					done
				done
			done
		done
	done
	# idle: a driver connected, rings running, nothing sent (vhu-bench --idle)
	for round in $(seq "$ROUNDS"); do
		for side in $BLK_SIDES; do
			start_blk "$side" tmpfs 256
			$pin_fe "$bench" blk --socket-path="$tmp/s.sock" --iodepth=8 --time=1 --wait=poll \
				--idle=$((IDLE_SECS + 2)) >/dev/null 2>"$tmp/idle.err" &
			idle_pid=$!
			for _ in $(seq 300); do grep -q 'vhu-bench: idle' "$tmp/idle.err" && break; sleep 0.1; done
			sleep 0.5
			t0=$(cpu_ticks "$peer")
			sleep "$IDLE_SECS"
			ticks=$(($(cpu_ticks "$peer") - t0))
			wait "$idle_pid" || echo "bench: idle run against $side failed" >&2
			stop_backend
			echo "{\"kind\": \"blkidle\", \"side\": \"$side\", \"round\": $round, \"secs\": $IDLE_SECS, \"cpu_ticks\": $ticks}" >>"$results"
			printf '%-12s idle round %s: %s ticks in %s s\n' "$side" "$round" "$ticks" "$IDLE_SECS"
		done
	done
	rm -f "$direct_img"
fi

# ---- packets: vhu-bench vs DPDK's virtio-user as generators ------------------
# Both send into the same receiver, dpdk-testpmd with a net_vhost port in
# rxonly (forwarding lcore on CPU 1). The generator runs on CPU 0. The rate
# is what the RECEIVER counted over TIME seconds (its stats are cleared once
# the generator runs), so both sides are measured by the same counter.
PKT_SIZES=${PKT_SIZES:-64 1518}
cpu1=$((ncpu > 1 ? 1 : 0))
# xfer_now: what moving a cache line from CPU 0 to CPU 1 takes now, in ns
# (tools/bench/xcpu.c), or nan. The host places this VM's vCPUs near each
# other or far apart and moves them within minutes; every line a generator
# writes and a device reads costs that much, so each net run records it
# before and after, and the tables split the runs by placement.
xcpu=$build/tools/bench/xcpu
xfer_now() {
	if [ -x "$xcpu" ]; then "$xcpu" 0 "$cpu1" 2>/dev/null || echo nan; else echo nan; fi
}
dpdk_common=(--no-pci --no-huge -m 256 --no-shconf --no-telemetry)
# testpmd VAR IN OUT NAME ARGS...: start testpmd (reading commands from the
# fifo IN) from this shell, so that it can be waited for; its pid in VAR
testpmd() {
	local var=$1 in=$2 out=$3 name=$4
	shift 4
	rm -f "$in"
	mkfifo "$in"
	dpdk-testpmd "${dpdk_common[@]}" --file-prefix="vhu-bench-$name-$$" "$@" <"$in" >"$out" 2>&1 &
	printf -v "$var" %s $!
}
# port_stat LOG PORT FIELD: FIELD (RX-packets, TX-packets) of the first
# "show port stats" of PORT in testpmd's LOG (printed once it has quit)
port_stat() {
	awk -v p="$2" -v f="$3:" '$0 ~ "NIC statistics for port " p " +#" { on = 1 } on && $1 == f { print $2; exit }' "$1"
}
# wait_sock PATH...: until each is a listening socket (5 s at most)
wait_sock() {
	local s
	for s; do
		for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.05; done
	done
}
# start_txonly SIZE: DPDK virtio-user sending SIZE-byte frames to $tmp/n.sock
# from CPU 0 (testpmd txonly; gen_pid, commands on gen_fd)
# ($vu_opts: more virtio-user options, e.g. ",queue_size=1024,packed_vq=1")
vu_opts=
start_txonly() {
	testpmd gen_pid "$tmp/gen.in" "$tmp/gen.log" gen --lcores=0@0,1@0 \
		--vdev "net_virtio_user0,path=$tmp/n.sock,queues=1$vu_opts" -- -i \
		--total-num-mbufs=8192 --forward-mode=txonly
	exec {gen_fd}>"$tmp/gen.in"
	echo "set txpkts $1" >&"$gen_fd"
	echo start >&"$gen_fd"
}
# measure_and_stop MFD MPID OFD OPID: the testpmd that counts (commands on fd
# MFD, pid MPID) has its counters cleared after a warm-up and shown TIME s
# later, then quits; the other side (pid OPID; a testpmd reading fd OFD, or
# OFD empty) is told to quit too and stopped
# busy_mark clear|show: the device under test's cost per frame counted
# from clear to show (net-busy.py): vhu-net (--record-busy, busy_vhu = its
# pid) prints its counters, testpmd (record-core-cycles on, busy_fd = its
# commands) clears or shows its forwarding stats. Neither: nothing.
busy_vhu= busy_fd= busy_ovs=
busy_mark() {
	if [ -n "$busy_ovs" ]; then
		if [ "$1" = clear ]; then
			"$top/scripts/ovs-switch.sh" clear "$busy_ovs" || true
		else
			"$top/scripts/ovs-switch.sh" cycles "$busy_ovs" >"$busy_ovs.cycles" || true
		fi
	elif [ -n "$busy_vhu" ]; then
		kill -USR1 "$busy_vhu" 2>/dev/null || true
	elif [ -n "$busy_fd" ]; then
		echo "$1 fwd stats all" >&"$busy_fd"
	fi
}
# busy_of SIDE LOG: ns per frame the device spent while it had frames, or nan
busy_of() {
	python3 "$top/scripts/net-busy.py" "${1/vhu-poll/vhu}" "$2"
}
measure_and_stop() {
	local mfd=$1 mpid=$2 ofd=$3 opid=$4
	sleep 1.5
	echo "clear port stats all" >&"$mfd"
	busy_mark clear
	sleep "$TIME"
	echo "show port stats all" >&"$mfd"
	busy_mark show
	sleep 0.2
	echo quit >&"$mfd"
	eval "exec $mfd>&-"
	wait "$mpid" 2>/dev/null || true
	if [ -n "$ofd" ]; then
		echo quit >&"$ofd" 2>/dev/null || true
		eval "exec $ofd>&-"
	fi
	kill "$opid" 2>/dev/null || true
	wait "$opid" 2>/dev/null || true
	rm -rf /var/run/dpdk/vhu-bench-*-$$
}
if ! command -v dpdk-testpmd >/dev/null; then
	echo "bench: dpdk-testpmd is missing: no packet comparisons" >&2
	PARTS=${PARTS//gen/}
	PARTS=${PARTS//ingress/}
	PARTS=${PARTS//fwd/}
	PARTS=${PARTS//contention/}
	PARTS=${PARTS//ovs/}
fi
if part gen; then
	for size in $PKT_SIZES; do
		for round in $(seq "$ROUNDS"); do
			for side in vhu dpdk; do
				rm -f "$tmp/n.sock"
				testpmd rx_pid "$tmp/rx.in" "$tmp/rx.log" rx --lcores=0@0,1@$((ncpu > 1 ? 1 : 0)) \
					--vdev "net_vhost0,iface=$tmp/n.sock" -- -i --total-num-mbufs=8192 --forward-mode=rxonly
				exec {rx_fd}>"$tmp/rx.in"
				echo start >&"$rx_fd"
				for _ in $(seq 100); do [ -S "$tmp/n.sock" ] && break; sleep 0.05; done
				if [ "$side" = vhu ]; then
					$pin_fe "$bench" net --socket-path="$tmp/n.sock" --mode=tx --pkt-size="$size" \
						--time=$((TIME + 3)) --json >"$tmp/gen.json" 2>"$tmp/gen.err" &
					gen_pid=$!
					gen_cmd="taskset -c 0 vhu-bench net --socket-path=SOCK --mode=tx --pkt-size=$size"
				else
					start_txonly "$size"
					gen_cmd="dpdk-testpmd --lcores=0@0,1@0 --vdev net_virtio_user0,path=SOCK -- -i --forward-mode=txonly; set txpkts $size"
				fi
				other_fd=
				[ "$side" = dpdk ] && other_fd=$gen_fd
				measure_and_stop "$rx_fd" "$rx_pid" "$other_fd" "$gen_pid"
				pkts=$(awk '/NIC statistics for port 0/ { on = 1 } on && /RX-packets:/ { v = $2 } END { print v + 0 }' "$tmp/rx.log")
				pps=$((pkts / TIME))
				echo "{\"kind\": \"net\", \"side\": \"$side\", \"size\": $size, \"round\": $round, \"pps\": $pps, \"cmd\": \"$gen_cmd\"}" >>"$results"
				printf '%-5s net %4s B round %s: %s pps (receiver count)\n' "$side" "$size" "$round" "$pps"
			done
		done
	done
fi

# ---- vhu-net ingress: DPDK virtio-user txonly into one port ------------------------
# The same generator (testpmd, net_virtio_user, txonly, CPU 0) sends into a
# vhu-net port (--poll, 1 queue pair, CPU 1) or into testpmd's net_vhost in
# rxonly (forwarding lcore on CPU 1). Rate: the generator's TX-packets over
# TIME s after its counters were cleared, i.e. what the receiver took off
# the ring (it holds at most a ring's worth more), counted by DPDK both times.
# net_layout RING LAYOUT: vu_opts for a virtio-user ring of RING entries, split or packed
net_layout() {
	vu_opts=",queue_size=$1"
	[ "$2" = packed ] && vu_opts="$vu_opts,packed_vq=1"
	return 0
}
# vhu_net_flags SIDE: vhu (default options) or vhu-poll (--poll)
vhu_net_flags() {
	[ "$1" = vhu-poll ] && echo " --poll"
	return 0
}
NET_RINGS=${NET_RINGS:-256 1024}
NET_LAYOUTS=${NET_LAYOUTS:-split packed}
NET_SIDES=${NET_SIDES:-vhu vhu-poll dpdk}
if part ingress; then
	for ring in $NET_RINGS; do for layout in $NET_LAYOUTS; do
	net_layout "$ring" "$layout"
	for size in $PKT_SIZES; do
		for round in $(seq "$ROUNDS"); do
			for side in $NET_SIDES; do
				rm -f "$tmp/n.sock"
				xfer=$(xfer_now)
				if [ "$side" != dpdk ]; then
					flags=$(vhu_net_flags "$side")
					# shellcheck disable=SC2086 # the flags are words
					taskset -c $cpu1 "$net" --socket-path="$tmp/n.sock"$flags --queue-pairs=1 \
						--record-busy >"$tmp/dut.log" 2>&1 &
					dut_pid=$!
					busy_vhu=$dut_pid busy_fd=
					dut_cmd="taskset -c 1 vhu-net --socket-path=SOCK$flags --queue-pairs=1 --record-busy"
				else
					testpmd dut_pid "$tmp/dut.in" "$tmp/dut.log" dut --lcores=0@$cpu1,1@$cpu1 \
						--vdev "net_vhost0,iface=$tmp/n.sock" -- -i --total-num-mbufs=8192 \
						--forward-mode=rxonly
					exec {dut_fd}>"$tmp/dut.in"
					echo "set record-core-cycles on" >&"$dut_fd"
					echo start >&"$dut_fd"
					busy_vhu= busy_fd=$dut_fd
					dut_cmd="dpdk-testpmd --lcores=0@1,1@1 --vdev net_vhost0,iface=SOCK -- -i --forward-mode=rxonly"
				fi
				wait_sock "$tmp/n.sock"
				start_txonly "$size"
				other_fd=
				[ "$side" = dpdk ] && other_fd=$dut_fd
				measure_and_stop "$gen_fd" "$gen_pid" "$other_fd" "$dut_pid"
				pkts=$(port_stat "$tmp/gen.log" 0 TX-packets)
				pps=$((${pkts:-0} / TIME))
				busy=$(busy_of "$side" "$tmp/dut.log")
				busy_vhu= busy_fd=
				xfer_after=$(xfer_now)
				echo "{\"kind\": \"ingress\", \"side\": \"$side\", \"ring\": $ring, \"layout\": \"$layout\", \"size\": $size, \"round\": $round, \"pps\": $pps, \"busy_ns\": \"$busy\", \"xfer_ns\": \"$xfer\", \"xfer_after_ns\": \"$xfer_after\", \"cmd\": \"$dut_cmd\"}" >>"$results"
				printf '%-8s ingress ring %-4s %-6s %4s B round %s: %s pps, %s ns/frame busy, line moved in %s then %s ns\n' "$side" "$ring" "$layout" "$size" "$round" "$pps" "$busy" "$xfer" "$xfer_after"
			done
		done
	done
	done; done
	vu_opts=
fi

# loop_run A B QSIZE SIZE SETTLE OFD OPID: one testpmd (CPU 0) with two
# net_virtio_user ports on the sockets A and B (rings of QSIZE entries, ""
# for virtio-user's default) in io-forward mode, frames unicast to the
# other port's MAC; after SETTLE s it sends 8 bursts of SIZE-byte frames on
# each port, which then circle through the switch under test. Measured by
# measure_and_stop (OFD, OPID: the switch's side); pps = frames it received
# on both ports per second.
loop_run() {
	local qs=${3:+,queue_size=$3}$vu_opts a b
	testpmd gen_pid "$tmp/gen.in" "$tmp/gen.log" gen --lcores=0@0,1@0 \
		--vdev "net_virtio_user0,path=$1,queues=1,mac=$mac_a$qs" \
		--vdev "net_virtio_user1,path=$2,queues=1,mac=$mac_b$qs" -- -i \
		--total-num-mbufs=16384 --forward-mode=io --eth-peer=0,$mac_b --eth-peer=1,$mac_a
	exec {gen_fd}>"$tmp/gen.in"
	echo "set txpkts $4" >&"$gen_fd"
	sleep "$5"
	echo "start tx_first 8" >&"$gen_fd"
	measure_and_stop "$gen_fd" "$gen_pid" "$6" "$7"
	a=$(port_stat "$tmp/gen.log" 0 RX-packets)
	b=$(port_stat "$tmp/gen.log" 1 RX-packets)
	pps=$(((${a:-0} + ${b:-0}) / TIME))
}
mac_a=02:00:00:00:00:0a mac_b=02:00:00:00:00:0b

# ---- vhu-net port to port vs testpmd io-forwarding ------------------------------
# One testpmd with two net_virtio_user ports (CPU 0) in io-forwarding mode
# starts 8 bursts of 32 frames on each port (tx_first) and sends whatever
# arrives on one port out of the other: two loops through the device under
# test, which forwards port A to port B and B to A. The device: vhu-net with
# the two ports (--poll, 1 queue pair each, CPU 1; frames are unicast to a
# learnt MAC after the first lap) or testpmd io-forwarding between two
# net_vhost ports (one lcore, CPU 1). Rate: frames received by the loop
# testpmd on both ports over TIME s, after its counters were cleared.
if part fwd; then
	for ring in $NET_RINGS; do for layout in $NET_LAYOUTS; do
	net_layout "$ring" "$layout"
	for size in $PKT_SIZES; do
		for round in $(seq "$ROUNDS"); do
			for side in $NET_SIDES; do
				rm -f "$tmp/a.sock" "$tmp/b.sock"
				xfer=$(xfer_now)
				if [ "$side" != dpdk ]; then
					flags=$(vhu_net_flags "$side")
					# shellcheck disable=SC2086 # the flags are words
					taskset -c $cpu1 "$net" --socket-path="$tmp/a.sock" --socket-path="$tmp/b.sock"$flags \
						--queue-pairs=1 --record-busy >"$tmp/dut.log" 2>&1 &
					dut_pid=$!
					busy_vhu=$dut_pid busy_fd=
					dut_cmd="taskset -c 1 vhu-net --socket-path=A --socket-path=B$flags --queue-pairs=1 --record-busy"
				else
					testpmd dut_pid "$tmp/dut.in" "$tmp/dut.log" dut --lcores=0@$cpu1,1@$cpu1 \
						--vdev "net_vhost0,iface=$tmp/a.sock" --vdev "net_vhost1,iface=$tmp/b.sock" \
						-- -i --total-num-mbufs=16384 --forward-mode=io
					exec {dut_fd}>"$tmp/dut.in"
					echo "set record-core-cycles on" >&"$dut_fd"
					echo start >&"$dut_fd"
					busy_vhu= busy_fd=$dut_fd
					dut_cmd="dpdk-testpmd --lcores=0@1,1@1 --vdev net_vhost0,iface=A --vdev net_vhost1,iface=B -- -i --forward-mode=io"
				fi
				wait_sock "$tmp/a.sock" "$tmp/b.sock"
				other_fd=
				[ "$side" = dpdk ] && other_fd=$dut_fd
				loop_run "$tmp/a.sock" "$tmp/b.sock" "" "$size" 0 "$other_fd" "$dut_pid"
				busy=$(busy_of "$side" "$tmp/dut.log")
				busy_vhu= busy_fd=
				xfer_after=$(xfer_now)
				echo "{\"kind\": \"fwd\", \"side\": \"$side\", \"ring\": $ring, \"layout\": \"$layout\", \"size\": $size, \"round\": $round, \"pps\": $pps, \"busy_ns\": \"$busy\", \"xfer_ns\": \"$xfer\", \"xfer_after_ns\": \"$xfer_after\", \"cmd\": \"$dut_cmd\"}" >>"$results"
				printf '%-8s fwd ring %-4s %-6s %4s B round %s: %s pps (loop total), %s ns/frame busy, line moved in %s then %s ns\n' "$side" "$ring" "$layout" "$size" "$round" "$pps" "$busy" "$xfer" "$xfer_after"
			done
		done
	done
	done; done
	vu_opts=
fi

# ---- vhu-net sharing its CPU with a hog (issue 23: can a poll worker stall?) -----
# The fwd loop (64 B, 256-entry split rings) through vhu-net on CPU 1, its
# default options and --poll, alone and with a busy loop (nice 0) pinned to
# CPU 1 as well. Under contention the rate should fall with the CPU share
# (two workers and the hog: about a half to a third), not collapse.
if part contention; then
	for round in $(seq "$ROUNDS"); do
		for side in vhu vhu-poll; do
			for hog in 0 1; do
				flags=$(vhu_net_flags "$side")
				rm -f "$tmp/a.sock" "$tmp/b.sock"
				hog_pid=
				if [ "$hog" = 1 ]; then
					taskset -c $cpu1 sh -c 'while :; do :; done' &
					hog_pid=$!
				fi
				# shellcheck disable=SC2086 # the flags are words
				taskset -c $cpu1 "$net" --socket-path="$tmp/a.sock" --socket-path="$tmp/b.sock"$flags \
					--queue-pairs=1 >"$tmp/dut.log" 2>&1 &
				dut_pid=$!
				wait_sock "$tmp/a.sock" "$tmp/b.sock"
				loop_run "$tmp/a.sock" "$tmp/b.sock" 256 64 0 "" "$dut_pid"
				[ -z "$hog_pid" ] || { kill "$hog_pid"; wait "$hog_pid" 2>/dev/null || true; }
				echo "{\"kind\": \"contention\", \"side\": \"$side\", \"hog\": $hog, \"round\": $round, \"pps\": $pps, \"cmd\": \"taskset -c 1 vhu-net --socket-path=A --socket-path=B$flags --queue-pairs=1\"}" >>"$results"
				printf '%-8s contention hog %s round %s: %s pps (loop total)\n' "$side" "$hog" "$round" "$pps"
			done
		done
	done
fi

# ---- vhu-net vs Open vSwitch with DPDK, port to port (issue 23) ----------------
# The same loop as fwd (one testpmd, two net_virtio_user ports in io-forward
# mode on CPU 0, frames unicast to the learnt MACs), with the ring size
# given to virtio-user (queue_size=). The switch on CPU 1: vhu-net with its
# default options or --poll (--record-busy for its ns per frame), or OVS
# 3.1 with DPDK, its PMD on CPU 1 (scripts/ovs-switch.sh: bridge br0 with
# the NORMAL action, two dpdkvhostuser ports), its cycles per packet from
# dpif-netdev/pmd-stats-show over the TSC's MHz.
OVS_RINGS=${OVS_RINGS:-256 1024}
OVS_SIDES=${OVS_SIDES:-vhu vhu-poll ovs}
if part ovs && ! [ -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ]; then
	echo "bench: Open vSwitch with DPDK is missing (openvswitch-switch-dpdk): no ovs part" >&2
	PARTS=${PARTS//ovs/}
fi
if part ovs; then
	mhz=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
	for ring in $OVS_RINGS; do
		for size in $PKT_SIZES; do
			for round in $(seq "$ROUNDS"); do
				for side in $OVS_SIDES; do
					dut_pid=
					xfer=$(xfer_now)
					if [ "$side" = ovs ]; then
						rm -rf "$tmp/ovs"
						if ! "$top/scripts/ovs-switch.sh" start "$tmp/ovs" a b >"$tmp/ovs.log" 2>&1; then
							echo "bench: OVS did not start:" >&2
							cat "$tmp/ovs.log" >&2
							"$top/scripts/ovs-switch.sh" stop "$tmp/ovs" || true
							continue
						fi
						sa=$tmp/ovs/a sb=$tmp/ovs/b busy_ovs=$tmp/ovs
						dut_cmd="ovs-vswitchd-dpdk 3.1 (scripts/ovs-switch.sh: PMD on CPU 1, bridge br0 NORMAL, dpdkvhostuser ports A B)"
					else
						flags=
						[ "$side" = vhu-poll ] && flags=--poll
						sa=$tmp/a.sock sb=$tmp/b.sock
						rm -f "$sa" "$sb"
						# shellcheck disable=SC2086 # the flags are words
						taskset -c $cpu1 "$net" --socket-path="$sa" --socket-path="$sb" \
							--queue-pairs=1 $flags --record-busy >"$tmp/dut.log" 2>&1 &
						dut_pid=$!
						busy_vhu=$dut_pid
						dut_cmd="taskset -c 1 vhu-net --socket-path=A --socket-path=B --queue-pairs=1${flags:+ $flags} --record-busy"
						wait_sock "$sa" "$sb"
					fi
					# the loop's frames are only those sent first: wait until
					# both ports are up on the switch (OVS drops until then)
					loop_run "$sa" "$sb" "$ring" "$size" 2 "" "$dut_pid"
					if [ "$side" = ovs ]; then
						cyc=$(cat "$tmp/ovs.cycles" 2>/dev/null || true)
						busy=$(python3 -c 'import sys; c, m = sys.argv[1], float(sys.argv[2] or 0); print(f"{float(c) * 1000 / m:.1f}" if c and m else "nan")' "$cyc" "$mhz")
						"$top/scripts/ovs-switch.sh" stop "$tmp/ovs" || true
					else
						busy=$(busy_of vhu "$tmp/dut.log")
					fi
					# after the switch stopped (OVS's PMD would share CPU 1)
					xfer_after=$(xfer_now)
					busy_vhu= busy_ovs=
					echo "{\"kind\": \"ovs\", \"side\": \"$side\", \"ring\": $ring, \"size\": $size, \"round\": $round, \"pps\": $pps, \"busy_ns\": \"$busy\", \"xfer_ns\": \"$xfer\", \"xfer_after_ns\": \"$xfer_after\", \"cmd\": \"$dut_cmd\"}" >>"$results"
					printf '%-8s ovs-loop ring %-4s %4s B round %s: %s pps (loop total), %s ns/frame busy, line moved in %s then %s ns\n' "$side" "$ring" "$size" "$round" "$pps" "$busy" "$xfer" "$xfer_after"
				done
			done
		done
	done
fi

# net_rx_rate RXFLAGS TXFLAGS: vhu-net with two ports (CPU 1); vhu-bench net
# --mode=tx --pkt-size=64 TXFLAGS floods into port A, vhu-bench net
# --mode=rx RXFLAGS counts on port B for TIME s (both on CPU 0). Prints the
# receiver's rate (pps; 0 when it failed).
net_rx_rate() {
	rm -f "$tmp/a.sock" "$tmp/b.sock"
	taskset -c $cpu1 "$net" --socket-path="$tmp/a.sock" --socket-path="$tmp/b.sock" \
		--queue-pairs=1 >"$tmp/dut.log" 2>&1 &
	peer=$!
	wait_sock "$tmp/a.sock" "$tmp/b.sock"
	# shellcheck disable=SC2086 # the flags are words
	$pin_fe "$bench" net --socket-path="$tmp/b.sock" --mode=rx --time="$TIME" --json $1 \
		>"$tmp/rx.json" 2>"$tmp/rx.err" &
	local rx_pid=$! tx_pid
	sleep 0.5
	# shellcheck disable=SC2086
	$pin_fe "$bench" net --socket-path="$tmp/a.sock" --mode=tx --pkt-size=64 \
		--time=$((TIME + 2)) --json $2 >/dev/null 2>"$tmp/tx.err" &
	tx_pid=$!
	wait "$rx_pid" || true
	kill "$tx_pid" 2>/dev/null || true
	wait "$tx_pid" 2>/dev/null || true
	stop_backend
	python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).readline())["rx_pps"]))' \
		"$tmp/rx.json" 2>/dev/null || echo 0
}

# ---- dirty logging on vs off ---------------------------------------------------
# What a live migration costs while it runs. blk: vhu-blk (CPU 1) on the null
# disk and on tmpfs, vhu-bench blk randread 4 KiB at iodepth 32 (CPU 0), with
# and without --log-dirty (logging on; --log-check would add the driver's own
# bookkeeping of every page to the cost).
# net: vhu-net with two ports (CPU 1); vhu-bench net tx into port A floods
# 64 B frames to port B, where vhu-bench net rx counts them with and without
# --log-dirty (both vhu-bench on CPU 0). The two settings alternate.
if part log; then
	for backing in null tmpfs; do
		for round in $(seq "$ROUNDS"); do
			for mode in off on; do
				start_backend vhu "$backing"
				flag=
				[ "$mode" = on ] && flag=--log-dirty
				cmd="vhu-bench blk --socket-path=SOCK --rw=randread --bs=4096 --iodepth=32 --time=$TIME --json $flag"
				if r=$($pin_fe "$bench" blk --socket-path="$tmp/s.sock" --rw=randread --bs=4096 \
					--iodepth=32 --time="$TIME" --json $flag | tail -n 1); then
					iops=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["iops"]))' "$r")
					echo "{\"kind\": \"log\", \"dev\": \"blk\", \"what\": \"$backing\", \"mode\": \"$mode\", \"round\": $round, \"rate\": $iops, \"cmd\": \"$cmd\"}" >>"$results"
					printf 'log %-3s blk %-6s round %s: %s IOPS\n' "$mode" "$backing" "$round" "$iops"
				else
					echo "bench: log $mode blk $backing failed" >&2
				fi
				stop_backend
			done
		done
	done
	for round in $(seq "$ROUNDS"); do
		for mode in off on; do
			flag=
			[ "$mode" = on ] && flag=--log-dirty
			pps=$(net_rx_rate "$flag" "")
			cmd="vhu-bench net --socket-path=B --mode=rx --time=$TIME $flag (vhu-bench net --mode=tx --pkt-size=64 into port A)"
			echo "{\"kind\": \"log\", \"dev\": \"net\", \"what\": \"64 B\", \"mode\": \"$mode\", \"round\": $round, \"rate\": $pps, \"cmd\": \"$cmd\"}" >>"$results"
			printf 'log %-3s net 64 B round %s: %s pps\n' "$mode" "$round" "$pps"
		done
	done
fi

# ---- vhu-blk behind the IOMMU: a warm IOTLB against none ------------------------
# The same vhu-blk (null disk, CPU 1), the same vhu-bench blk randread load
# (CPU 0), alternating: plain, then --iommu (the front-end plays the IOMMU;
# its buffers miss once each, then every request is translated through the
# IOTLB and the queue's cache).
if part iommu; then
	for depth in 1 32; do
		for round in $(seq "$ROUNDS"); do
			for side in plain iommu; do
				start_backend vhu null
				flag=
				[ "$side" = iommu ] && flag=--iommu
				if r=$($pin_fe "$bench" blk --socket-path="$tmp/s.sock" --rw=randread \
					--bs=4096 --iodepth=$depth --time="$TIME" $flag --json | head -n 1); then
					echo "{\"kind\": \"iommu\", \"side\": \"$side\", \"depth\": $depth, \"round\": $round, \"r\": $r}" >>"$results"
					printf '%-5s iommu randread depth %-2s round %s: %s IOPS\n' "$side" "$depth" "$round" \
						"$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["iops"]))' "$r")"
				else
					echo "bench: iommu $side depth $depth failed" >&2
				fi
				stop_backend
			done
		done
	done
	# net: both drivers play the IOMMU (--iommu, no window: each buffer page
	# misses once), against the same two ports on guest-physical addresses
	for round in $(seq "$ROUNDS"); do
		for side in plain iommu; do
			flag=
			[ "$side" = iommu ] && flag=--iommu
			pps=$(net_rx_rate "$flag" "$flag")
			cmd="vhu-bench net --socket-path=B --mode=rx --time=$TIME $flag (vhu-bench net --mode=tx --pkt-size=64 $flag into port A)"
			echo "{\"kind\": \"iommu_net\", \"side\": \"$side\", \"round\": $round, \"rate\": $pps, \"cmd\": \"$cmd\"}" >>"$results"
			printf '%-5s iommu net 64 B round %s: %s pps\n' "$side" "$round" "$pps"
		done
	done
fi

# ---- many exports in one vhu-blk (issue 22) --------------------------------------
# One vhu-blk, unpinned (both CPUs), serving EXPORTS null-disk exports with one
# queue each; EXPORTS vhu-bench blk (randread 4 KiB, iodepth 32, interrupts:
# --wait=event, as guests that sleep), also unpinned, each on its own export,
# all at once: the requests vhu-blk served (export-stats) over TIME s once
# every export is busy, per second. Alternating with one vhu-bench on one
# export of a vhu-blk that serves only that one. Default options (a worker
# pool of one thread per CPU), then --workers=0 (a thread per queue). Then
# memory: the RSS of a vhu-blk with EXPORTS exports and of one with a single
# export, each with drivers connected and idle (vhu-bench --idle), and the
# CPU it spends idle.
EXPORTS=${EXPORTS:-64}
exports_cfg() { # N: a --config of N null-disk exports on $tmp/eI.sock
	python3 -c 'import json,sys; print(json.dumps({"exports": [{"name": "e%d" % i, "socket-path": "%s/e%d.sock" % (sys.argv[2], i), "null-size": 1 << 30} for i in range(int(sys.argv[1]))]}))' "$1" "$tmp" >"$tmp/exports.json"
}
start_exports() { # N FLAGS...: vhu-blk with N exports, pid in $peer
	local n=$1
	shift
	rm -f "$tmp"/e*.sock
	exports_cfg "$n"
	"$blk" --config="$tmp/exports.json" "$@" >"$tmp/exports.log" 2>&1 &
	peer=$!
	for _ in $(seq 200); do [ -S "$tmp/e$((n - 1)).sock" ] && break; sleep 0.05; done
}
drive_exports() { # N SECS EXTRA...: one vhu-bench per export, all at once; pids in $dpids
	local n=$1 secs=$2
	shift 2
	dpids=
	for i in $(seq 0 $((n - 1))); do
		"$bench" blk --socket-path="$tmp/e$i.sock" --rw=randread --bs=4096 --iodepth=32 \
			--wait=event --time="$secs" --json "$@" >"$tmp/d$i.json" 2>"$tmp/d$i.err" &
		dpids="$dpids $!"
	done
}
# N: the aggregate IOPS vhu-blk served over TIME s while every driver ran:
# export-stats (read-ops of all exports, and their uptime as the clock) once
# every export has served requests and TIME s later, so drivers that start
# late (64 processes on a loaded machine) count only while they run
measure_exports() {
	local n=$1
	drive_exports "$n" $((TIME + 60))
	for _ in $(seq 600); do
		"$ctl" -s "$tmp/ectl" export-stats >"$tmp/s1.json" 2>/dev/null &&
			! grep -q '"read-ops":0,' "$tmp/s1.json" && break
		sleep 0.1
	done
	"$ctl" -s "$tmp/ectl" export-stats >"$tmp/s1.json"
	sleep "$TIME"
	"$ctl" -s "$tmp/ectl" export-stats >"$tmp/s2.json"
	ls "/proc/$peer/task" | wc -l >"$tmp/threads"
	# shellcheck disable=SC2086
	kill $dpids 2>/dev/null || true
	# shellcheck disable=SC2086
	wait $dpids 2>/dev/null || true
	python3 - "$tmp/s1.json" "$tmp/s2.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ops = sum(e['read-ops'] for e in b) - sum(e['read-ops'] for e in a)
secs = max(e['uptime-s'] for e in b) - max(e['uptime-s'] for e in a)
print(round(ops / secs) if secs > 0 and min(e['read-ops'] for e in a) > 0 else 0)
PY
}
if part exports; then
	for workers in default 0; do
		wflag=
		[ "$workers" = 0 ] && wflag=--workers=0
		for round in $(seq "$ROUNDS"); do
			for n in 1 "$EXPORTS"; do
				start_exports "$n" --control-socket="$tmp/ectl" $wflag
				iops=$(measure_exports "$n")
				threads=$(cat "$tmp/threads") # while every driver ran
				stop_backend
				cmd="vhu-blk --config=FILE ($n null-disk exports) $wflag; $n x vhu-bench blk --socket-path=SOCK_I --rw=randread --bs=4096 --iodepth=32 --wait=event; IOPS: export-stats read-ops over $TIME s"
				echo "{\"kind\": \"exports\", \"workers\": \"$workers\", \"n\": $n, \"round\": $round, \"rate\": $iops, \"threads\": $threads, \"cmd\": \"$cmd\"}" >>"$results"
				printf 'exports %-3s workers %-7s round %s: %s IOPS, %s threads\n' "$n" "$workers" "$round" "$iops" "$threads"
			done
		done
	done
	# against qemu-storage-daemon serving as many exports (null-co disks,
	# read-zeroes=on as vhu-blk's null disk, spread over one iothread per
	# CPU: its fast configuration), the same drivers; both measured by the
	# drivers (the sum of their IOPS), vhu-blk with its default options
	for round in $(seq "$ROUNDS"); do
		for side in vhu qsd; do
			rm -f "$tmp"/e*.sock "$tmp"/d*.json
			if [ "$side" = vhu ]; then
				start_exports "$EXPORTS"
				cmd="vhu-blk --config=FILE ($EXPORTS null-disk exports)"
			else
				qargs=()
				for t in $(seq 0 $((ncpu - 1))); do qargs+=(--object "iothread,id=io$t"); done
				for i in $(seq 0 $((EXPORTS - 1))); do
					qargs+=(--blockdev "driver=null-co,node-name=n$i,size=1073741824,read-zeroes=on"
						--export "type=vhost-user-blk,id=e$i,node-name=n$i,addr.type=unix,addr.path=$tmp/e$i.sock,writable=on,iothread=io$((i % ncpu))")
				done
				qemu-storage-daemon "${qargs[@]}" >"$tmp/exports.log" 2>&1 &
				peer=$!
				for _ in $(seq 200); do [ -S "$tmp/e$((EXPORTS - 1)).sock" ] && break; sleep 0.05; done
				cmd="qemu-storage-daemon --object iothread,id=ioT (one per CPU) + $EXPORTS x (--blockdev driver=null-co,size=1G,read-zeroes=on --export type=vhost-user-blk,iothread=ioT)"
			fi
			drive_exports "$EXPORTS" "$TIME"
			sleep 1
			threads=$(ls "/proc/$peer/task" | wc -l)
			rss=$(awk '/VmRSS/ { print $2 }' "/proc/$peer/status")
			# shellcheck disable=SC2086
			wait $dpids 2>/dev/null || true
			iops=$(python3 -c 'import json,glob,sys; print(round(sum(json.load(open(f)).get("iops", 0) for f in glob.glob(sys.argv[1] + "/d*.json"))))' "$tmp" 2>/dev/null || echo 0)
			stop_backend
			echo "{\"kind\": \"exports_qsd\", \"side\": \"$side\", \"n\": $EXPORTS, \"round\": $round, \"rate\": $iops, \"threads\": $threads, \"rss_kib\": $rss, \"cmd\": \"$cmd\"}" >>"$results"
			printf 'exports %-3s %-4s round %s: %s IOPS (drivers), %s threads, %s KiB RSS\n' "$EXPORTS" "$side" "$round" "$iops" "$threads" "$rss"
		done
	done
	# memory and idle CPU: drivers connected, one request each, then idle 4 s
	for n in 1 "$EXPORTS"; do
		rm -f "$tmp"/d*.err
		start_exports "$n"
		rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$peer/status")
		drive_exports "$n" 1 --iodepth=1 --idle=60
		for _ in $(seq 600); do # every driver idle ("vhu-bench: idle" on stderr)
			[ "$(grep -l 'vhu-bench: idle' "$tmp"/d*.err 2>/dev/null | wc -l)" -ge "$n" ] && break
			sleep 0.1
		done
		sleep 1
		t0=$(cpu_ticks "$peer")
		sleep 1
		t1=$(cpu_ticks "$peer")
		rss=$(awk '/VmRSS/ { print $2 }' "/proc/$peer/status")
		# shellcheck disable=SC2086
		kill $dpids 2>/dev/null || true
		# shellcheck disable=SC2086
		wait $dpids 2>/dev/null || true
		stop_backend
		echo "{\"kind\": \"exports_mem\", \"n\": $n, \"rss_kib\": $rss, \"rss_unconnected_kib\": $rss0, \"idle_ticks\": $((t1 - t0))}" >>"$results"
		printf 'exports %-3s memory: %s KiB RSS connected and idle (%s KiB before), %s ticks in 1 s idle\n' "$n" "$rss" "$rss0" "$((t1 - t0))"
	done
fi

# ---- vhu-gpu vs QEMU's vhost-user-gpu: 2D updates (issue 18) --------------------
# The back-end on CPU 1, vhu-gpu-draw (driver and display) on CPU 0, the two
# back-ends alternating: each run draws and checks a frame, then times
# FRAMES full-screen TRANSFER_TO_HOST_2D + RESOURCE_FLUSH pairs, each UPDATE
# received whole by the display before the run ends.
qemu_gpu=/usr/lib/qemu/vhost-user-gpu
if part gpu && [ -x "$qemu_gpu" ] && [ -x "$build/devices/vhu-gpu" ]; then
	for size in 320x240 1024x768; do
		w=${size%x*} h=${size#*x}
		frames=$([ "$size" = 320x240 ] && echo $((TIME * 400)) || echo $((TIME * 40)))
		for round in $(seq "$ROUNDS"); do
			for side in vhu qemu; do
				rm -f "$tmp/g.sock"
				exe=$build/devices/vhu-gpu
				[ "$side" = qemu ] && exe=$qemu_gpu
				$pin_be "$exe" --socket-path="$tmp/g.sock" >"$tmp/gpu-$side.log" 2>&1 &
				peer=$!
				wait_sock "$tmp/g.sock"
				cmd="vhu-gpu-draw --socket-path=SOCK --width=$w --height=$h --check --frames=$frames"
				if r=$($pin_fe "$build/tools/gpu/vhu-gpu-draw" --socket-path="$tmp/g.sock" \
					--width="$w" --height="$h" --check --frames="$frames" | grep '^bench:'); then
					fps=$(echo "$r" | sed -n 's/.*: \([0-9.]*\) frames\/s.*/\1/p')
					mbs=$(echo "$r" | sed -n 's/.* \([0-9.]*\) MB\/s.*/\1/p')
					load=$(cut -d' ' -f1 /proc/loadavg)
					echo "{\"kind\": \"gpu\", \"side\": \"$side\", \"size\": \"$size\", \"round\": $round, \"fps\": $fps, \"mbs\": $mbs, \"load\": $load, \"cmd\": \"$cmd\"}" >>"$results"
					printf '%-4s gpu %-8s round %s: %s frames/s, %s MB/s\n' "$side" "$size" "$round" "$fps" "$mbs"
				else
					echo "bench: gpu $side $size failed" >&2
				fi
				stop_backend
			done
		done
	done
fi

# ---- vhu-trace's added latency per message (issue 21) ---------------------------
# vhu-blk (null disk) and vhu-trace on CPU 1, the load on CPU 0: TIME s of
# request/reply round trips (scripts/trace-load.py), straight to vhu-blk and
# through vhu-trace, alternating. Each round trip crosses the tracer twice
# (request and reply), so the latency it adds per message is half the
# difference of the median round trips.
trace_exe=$build/tools/trace/vhu-trace
if part trace && [ -x "$trace_exe" ]; then
	for round in $(seq "$ROUNDS"); do
		for side in direct trace; do
			start_backend vhu null
			sock=$tmp/s.sock
			tpid=
			if [ "$side" = trace ]; then
				rm -f "$tmp/t.sock"
				$pin_be "$trace_exe" --listen="$tmp/t.sock" --connect="$tmp/s.sock" \
					--output="$tmp/trace.txt" 2>"$tmp/trace.log" &
				tpid=$!
				wait_sock "$tmp/t.sock"
				sock=$tmp/t.sock
			fi
			r=$($pin_fe python3 "$top/scripts/trace-load.py" "$sock" "$TIME")
			[ -n "$tpid" ] && { kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null || true; }
			stop_backend
			cmd="scripts/trace-load.py SOCK $TIME; vhu-blk --null-size=1G; through: vhu-trace --listen=SOCK --connect=BLK_SOCK --output=FILE"
			echo "{\"kind\": \"trace\", \"side\": \"$side\", \"round\": $round, \"r\": $r, \"cmd\": \"$cmd\"}" >>"$results"
			printf '%-6s trace round %s: %s\n' "$side" "$round" "$r"
		done
	done
fi

commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- lib devices tools include 2>/dev/null || commit="$commit+changes"
python3 - "$results" "$OUT" "$TIME" "$ROUNDS" "$RESULTS" "$PARTS" "$commit" <<'EOF'
import json, os, statistics, subprocess, sys, datetime, platform
part_of = lambda r: {'net': 'gen', 'ingress': 'ingress', 'fwd': 'fwd', 'ovs': 'ovs', 'log': 'log', 'iommu': 'iommu', 'iommu_net': 'iommu', 'gpu': 'gpu', 'exports': 'exports', 'exports_mem': 'exports', 'exports_qsd': 'exports', 'contention': 'contention', 'trace': 'trace'}.get(r.get('kind'), 'blk')
stamp = {'date': str(datetime.date.today()), 'commit': sys.argv[7],
         'rounds': int(sys.argv[4]), 'secs': int(sys.argv[3])}
new = [dict(json.loads(l), **stamp) for l in open(sys.argv[1])]
ran = {part_of(r) for r in new}
store = sys.argv[5]
old = [json.loads(l) for l in open(store)] if os.path.exists(store) else []
# a part that ran replaces its old rows; blk only the cells it measured
# (BLK_WAITS=event re-measures the interrupt-driven cells and keeps the rest)
cellkey = lambda r: (r.get('kind'), r.get('side'), r.get('backing'), r.get('depth'), r.get('qsize'), r.get('wait'))
newcells = {cellkey(r) for r in new}
allrows = [r for r in old if part_of(r) not in ran or (part_of(r) == 'blk' and cellkey(r) not in newcells)] + new
with open(store, 'w') as f:
    for r in allrows:
        f.write(json.dumps(r, ensure_ascii=False) + '\n')
def measured(part):
    st = sorted({(r.get('date', '?'), r.get('commit', '?'), r.get('rounds', '?'), r.get('secs', '?')) for r in allrows if part_of(r) == part})
    return ' '.join(f"Measured {d} at `{c}`: median of {n} runs of {t} s per cell." for d, c, n, t in st) + '\n' if st else ''
rows = [r for r in allrows if r.get('kind') == 'blk']
net = [r for r in allrows if r.get('kind') == 'net']
ingress = [r for r in allrows if r.get('kind') == 'ingress']
fwd = [r for r in allrows if r.get('kind') == 'fwd']
out, secs = sys.argv[2], sys.argv[3]
secs_of = lambda part: next((r.get('secs', secs) for r in allrows if part_of(r) == part), secs)
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
def cell(v):
    if not v: return 'n/a', None
    m = statistics.median(v)
    return f"{m:,.0f} ({min(v):,.0f}–{max(v):,.0f})", m
lines = []
lines.append("# Performance\n")
lines.append(f"Written by `make bench` (scripts/bench.sh) on {datetime.date.today()}: "
             f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs ({cpu}), "
             f"kernel {platform.release()}. Each cell is the median of alternated runs "
             "(min–max in brackets); vhu and the peer alternate run by run under the same load. "
             "Each section says when and at which commit it was measured: `PARTS=` re-measures some "
             "sections and keeps the others (docs/bench-results.jsonl holds every row).\n")
if rows:
    hz = os.sysconf('SC_CLK_TCK')
    lines.append("## vhu-blk vs qemu-storage-daemon (4 KiB randread, 1 queue)\n")
    lines.append(measured('blk'))
    lines.append("vhu-blk runs with its **default options** (adaptive polling; only `--queue-size` to allow a 1024-entry ring and "
                 "`--direct` for the O_DIRECT file). It is compared with qemu-storage-daemon (QEMU 7.2) in both of its file "
                 "configurations: **`aio=io_uring`** (its fast one) and **`aio=threads`** (its default). All three are driven by "
                 "`vhu-bench blk` (vhu's userspace virtio driver, split ring, event idx), back-end on CPU 1, driver on CPU 0 "
                 "(`taskset`), alternating run by run. Backings: *tmpfs* = a 1 GiB file in /dev/shm (`cache.direct=off` for qsd); "
                 "*direct* = a 256 MiB file of random data on the VM's disk (/dev/vda), opened O_DIRECT (`vhu-blk --direct`, qsd "
                 "`cache.direct=on`). Driver modes: *event* = `--wait=event`, it sleeps on the call eventfd as an interrupt-driven "
                 "guest does; *poll* = `--wait=poll`, it busy-polls its used ring with interrupts off, as a polling guest driver does.\n")
    def sel(side, b, d, q, w):
        return [r for r in rows if r['side'] == side and r['backing'] == b and r['depth'] == d and r['qsize'] == q and r['wait'] == w]
    def med(v):
        return statistics.median(v) if v else None
    def cpu_us(v):
        x = [r['cpu_ticks'] / hz * 1e6 / r['r']['ops'] for r in v if r['r']['ops']]
        return f"{statistics.median(x):.1f}" if x else 'n/a'
    def lat(v):
        if not v: return 'n/a'
        return f"{med([r['r']['lat_us']['p50'] for r in v]):.1f} / {med([r['r']['lat_us']['p99'] for r in v]):.1f}"
    lines.append("| backing | iodepth | ring | driver | vhu-blk IOPS | qsd io_uring IOPS | vhu / io_uring | qsd threads IOPS | vhu / threads | p50 / p99 µs: vhu | qsd io_uring | qsd threads | back-end CPU µs per request: vhu / io_uring / threads |")
    lines.append("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|---|---|")
    targets = []
    for b, d, q, w in sorted({(r['backing'], r['depth'], r['qsize'], r['wait']) for r in rows}, key=lambda k: (k[0] != 'tmpfs', k[1], k[2], k[3])):
        v, u, t = sel('vhu', b, d, q, w), sel('qsd-io_uring', b, d, q, w), sel('qsd-threads', b, d, q, w)
        vc, vm = cell([r['r']['iops'] for r in v]); uc, um = cell([r['r']['iops'] for r in u]); tc, tm = cell([r['r']['iops'] for r in t])
        ru = f"{vm / um:.2f}×" if vm and um else 'n/a'
        rt = f"{vm / tm:.2f}×" if vm and tm else 'n/a'
        lines.append(f"| {b} | {d} | {q} | {w} | {vc} | {uc} | {ru} | {tc} | {rt} | {lat(v)} | {lat(u)} | {lat(t)} | {cpu_us(v)} / {cpu_us(u)} / {cpu_us(t)} |")
        if vm and um:
            if b == 'tmpfs' and d == 32:
                targets.append(f"tmpfs, iodepth 32, ring {q}, {w}: {vm / um:.2f}× qsd io_uring (target ≥ 1.5×) {'✓' if vm / um >= 1.5 else '✗'}")
            if b == 'direct' and d == 32:
                targets.append(f"O_DIRECT, iodepth 32, ring {q}, {w}: {vm / um:.2f}× qsd io_uring (target ≥ 1.2×) {'✓' if vm / um >= 1.2 else '✗'}")
            if d == 1:
                p50v, p99v = med([r['r']['lat_us']['p50'] for r in v]), med([r['r']['lat_us']['p99'] for r in v])
                p50u, p99u = med([r['r']['lat_us']['p50'] for r in u]), med([r['r']['lat_us']['p99'] for r in u])
                ok = p50v <= p50u and p99v <= p99u
                targets.append(f"{b}, iodepth 1, ring {q}, {w}: p50 {p50v:.1f} vs {p50u:.1f} µs, p99 {p99v:.1f} vs {p99u:.1f} µs against qsd io_uring (target: no worse) {'✓' if ok else '✗'}")
    idle = [r for r in allrows if r.get('kind') == 'blkidle']
    if idle:
        lines.append("\nIdle: a driver connected with its rings running and nothing sent (`vhu-bench blk --idle`), the back-end's CPU time "
                     f"over {idle[0]['secs']} s (user + system, `/proc/PID/stat`, {hz} ticks a second):\n")
        lines.append("| back-end | idle CPU % (median, max) |")
        lines.append("|---|---:|")
        for side in ['vhu', 'qsd-io_uring', 'qsd-threads']:
            x = [r['cpu_ticks'] / hz / r['secs'] * 100 for r in idle if r['side'] == side]
            if x:
                lines.append(f"| {side} | {statistics.median(x):.1f} % ({max(x):.1f} %) |")
        x = [r['cpu_ticks'] for r in idle if r['side'] == 'vhu']
        targets.append(f"idle: vhu-blk {statistics.median(x) / hz / idle[0]['secs'] * 100:.1f} % CPU (target 0 %) {'✓' if max(x) == 0 else '✗'}")
    lines.append("\nBack-end CPU per request: the back-end process's user + system time (`/proc/PID/stat`) during the run over the "
                 "requests completed (`perf stat` reports cycles as *not supported* on these VMs). A polling back-end spends its idle "
                 "time spinning, so this is an upper bound. p50 / p99: the driver's request latency.\n")
    lines.append("Targets (issue 22, against qsd `aio=io_uring`, vhu-blk default options):\n")
    lines.extend(f"- {t}" for t in targets)
    lines.append("\nCommands (SOCK = the back-end's socket): driver " + '; '.join(sorted({f"`{r['cmd']}`".replace(f"--iodepth={r['depth']}", '--iodepth=D').replace(f"--queue-size={r['qsize']}", '--queue-size=N').replace(f"--wait={r['wait']}", '--wait=MODE') for r in rows})) +
                 "; back-ends " + '; '.join(sorted({f"`taskset -c 1 {r['be_cmd']}`".replace(f"--queue-size={r['qsize']}", '--queue-size=N') for r in rows})) + ".\n")
if net:
    lines.append("## vhu-bench vs DPDK virtio-user as packet generators\n")
    lines.append(measured('gen'))
    lines.append("Both generators send into the same receiver: `dpdk-testpmd --lcores=0@0,1@1 --vdev net_vhost0,iface=SOCK -- -i --forward-mode=rxonly`. "
                 "The generator runs on CPU 0, the receiver's forwarding lcore on CPU 1. The rate is the receiver's RX-packets over "
                 f"{secs_of('gen')} s after its counters were cleared with the generator running, so both sides are counted by the same DPDK counter.\n")
    lines.append("| frame bytes | vhu-bench pps | DPDK virtio-user pps | vhu / DPDK |")
    lines.append("|---:|---:|---:|---:|")
    for size in sorted({r['size'] for r in net}):
        v, vm = cell([r['pps'] for r in net if r['side'] == 'vhu' and r['size'] == size])
        d, dm = cell([r['pps'] for r in net if r['side'] == 'dpdk' and r['size'] == size])
        lines.append(f"| {size} | {v} | {d} | {vm / dm:.2f}× |" if vm and dm else f"| {size} | {v} | {d} | n/a |")
    cmds = sorted({r['cmd'] for r in net})
    lines.append("\nGenerators: " + '; '.join(f"`{c}`" for c in cmds) + ".\n")
    lines.append("Target (issue 4): vhu-bench ≥ 1.0× DPDK virtio-user's pps at 64 B.\n")
# each run by where the host had the vCPUs, told by the line-transfer time
# before and after it (xfer_now in the shell part): a ratio of two runs in
# different places says more about the host than about the programs
XFER_NEAR, XFER_FAR = 120, 150
def place(r):
    t = [float(r.get(k, 'nan')) for k in ('xfer_ns', 'xfer_after_ns')]
    if not all(x == x for x in t):
        return None
    return 'near' if max(t) < XFER_NEAR else 'far' if min(t) >= XFER_FAR else None
def place_median(rows, side, where, value):
    """median of value(r) over @side's runs in @where (nan and 0 left out), and how many"""
    v = [x for x in (value(r) for r in rows if r['side'] == side and place(r) == where) if x == x and x]
    return (statistics.median(v), len(v)) if v else (None, 0)
def busy_cell(sel, side, size):
    v = [float(r['busy_ns']) for r in sel if r['side'] == side and r['size'] == size and r.get('busy_ns', 'nan') != 'nan']
    return (f"{statistics.median(v):.1f}", statistics.median(v)) if v else ('n/a', None)
def net_norm(sel):
    # rows before 2026-12-07 had no ring or layout (256, split) and 'vhu' was --poll
    return [dict(r, ring=r.get('ring', 256), layout=r.get('layout', 'split'),
                 side=r['side'] if 'ring' in r or r['side'] != 'vhu' else 'vhu-poll') for r in sel]
def net_table(sel, vhu_name, dpdk_name, targets=None):
    sel = net_norm(sel)
    lines.append(f"| ring | layout | frame bytes | {vhu_name} default pps | {vhu_name} `--poll` pps | {dpdk_name} pps | default / DPDK | "
                 "`--poll` / DPDK | ns per frame while busy: default / `--poll` / DPDK | DPDK's ns over vhu's (default) |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for ring in sorted({r['ring'] for r in sel}):
        for layout in sorted({r['layout'] for r in sel if r['ring'] == ring}, reverse=True):
            for size in sorted({r['size'] for r in sel if r['ring'] == ring and r['layout'] == layout}):
                s = [r for r in sel if r['ring'] == ring and r['layout'] == layout]
                c = {side: cell([r['pps'] for r in s if r['side'] == side and r['size'] == size]) for side in ('vhu', 'vhu-poll', 'dpdk')}
                b = {side: busy_cell(s, side, size) for side in ('vhu', 'vhu-poll', 'dpdk')}
                rat = lambda a, d: f"{a / d:.2f}×" if a and d else 'n/a'
                lines.append(f"| {ring} | {layout} | {size} | {c['vhu'][0]} | {c['vhu-poll'][0]} | {c['dpdk'][0]} | "
                             f"{rat(c['vhu'][1], c['dpdk'][1])} | {rat(c['vhu-poll'][1], c['dpdk'][1])} | "
                             f"{b['vhu'][0]} / {b['vhu-poll'][0]} / {b['dpdk'][0]} | {rat(b['dpdk'][1], b['vhu'][1])} |")
                if targets is not None:
                    for side, name in (('vhu', 'default'), ('vhu-poll', '--poll')):
                        if c[side][1] and c['dpdk'][1]:
                            ok = c[side][1] >= c['dpdk'][1]
                            targets.append(f"ring {ring}, {layout}, {size} B, {name}: {c[side][1] / c['dpdk'][1]:.2f}× "
                                           f"DPDK (target ≥ 1.0×) {'✓' if ok else '✗'}")
    if any(place(r) for r in sel):
        lines.append(f"\nThe rates by where the host had the two vCPUs: *near*, a line moved from CPU 0 to CPU 1 in under {XFER_NEAR} ns "
                     f"before and after the run (tools/bench/xcpu.c); *far*, in {XFER_FAR} ns or more both times; runs in between are "
                     "left out. Medians in Mpps, with the number of runs:\n")
        lines.append("| ring | layout | frame bytes | near: default / `--poll` / DPDK | near: default over DPDK, `--poll` over DPDK | "
                     "far: default / `--poll` / DPDK | far: default over DPDK, `--poll` over DPDK |")
        lines.append("|---:|---|---:|---|---|---|---|")
        for ring in sorted({r['ring'] for r in sel}):
            for layout in sorted({r['layout'] for r in sel if r['ring'] == ring}, reverse=True):
                for size in sorted({r['size'] for r in sel if r['ring'] == ring and r['layout'] == layout}):
                    cells = []
                    cellrows = [r for r in sel if r['ring'] == ring and r['layout'] == layout and r['size'] == size]
                    for where in ('near', 'far'):
                        m = {side: place_median(cellrows, side, where, lambda r: r['pps'])
                             for side in ('vhu', 'vhu-poll', 'dpdk')}
                        cells.append(' / '.join(f"{x / 1e6:.1f} ({k})" if x else 'n/a' for x, k in m.values()))
                        rat = lambda a, d: f"{a / d:.2f}×" if a and d else 'n/a'
                        cells.append(f"{rat(m['vhu'][0], m['dpdk'][0])}, {rat(m['vhu-poll'][0], m['dpdk'][0])}")
                    lines.append(f"| {ring} | {layout} | {size} | " + ' | '.join(cells) + " |")
    lines.append("\nns per frame while busy: what the device spent per frame it took, leaving out the time it found "
                 "nothing to do, so it tells the devices apart where the generator is the bottleneck and the rates cannot: "
                 "vhu-net `--record-busy` (busy_ns / busy_chains between two SIGUSR1 dumps), testpmd `set record-core-cycles on` "
                 "(its CPU cycles/packet over the TSC's MHz, between `clear fwd stats` and `show fwd stats`); "
                 "scripts/net-busy.py reads both.")
    lines.append("\nDevice under test: " + '; '.join(f"`{c}`" for c in sorted({r['cmd'] for r in sel})) + ".\n")
if ingress:
    lines.append("## vhu-net vs DPDK's vhost: frames taken in from one port\n")
    lines.append(measured('ingress'))
    lines.append("The same generator, `taskset`-free `dpdk-testpmd --lcores=0@0,1@0 --vdev net_virtio_user0,path=SOCK,queues=1 -- -i --forward-mode=txonly` "
                 "(`set txpkts N`; `queue_size=RING` and, packed, `packed_vq=1` added to the vdev; whatever features the device offers), sends into a vhu-net port or into testpmd's "
                 "net_vhost in rxonly. The device runs on CPU 1, the generator on CPU 0. Rate: the generator's TX-packets over "
                 f"{secs_of('ingress')} s after its counters were cleared (what the device took off the ring), counted by DPDK for both. "
                 "With one port vhu-net has nowhere to forward: this is its per-frame ingress (pop, header and length checks, "
                 "a copy of the headers, parsing, learning, lookup, completion).\n")
    t = []
    net_table(ingress, 'vhu-net', 'DPDK net_vhost rxonly', t)
    lines.append("Targets (issue 5: ≥ 1.2× DPDK's pps at 64 B and ≥ 1.0× at 1518 B with `--poll`, split, 256 entries; "
                 "issue 23: at least DPDK's rate at 256 and 1024 entries, split and packed, default and `--poll`):\n")
    lines.extend(f"- {x}" for x in t)
    lines.append("")
if fwd:
    lines.append("## vhu-net port to port vs testpmd io-forwarding between two net_vhost ports\n")
    lines.append(measured('fwd'))
    lines.append("A loop: `dpdk-testpmd --lcores=0@0,1@0 --vdev net_virtio_user0,path=A,mac=02:00:00:00:00:0a --vdev net_virtio_user1,path=B,mac=02:00:00:00:00:0b "
                 "-- -i --forward-mode=io --eth-peer=0,02:00:00:00:00:0b --eth-peer=1,02:00:00:00:00:0a` (`queue_size=RING` and, packed, `packed_vq=1` added to each vdev) on CPU 0 starts 8 bursts of 32 frames on each "
                 "port (`start tx_first 8`) and sends what arrives on one port out of the other, so frames circle through the device "
                 "under test (CPU 1) in both directions. Rate: frames the loop testpmd received on both ports over "
                 f"{secs_of('fwd')} s after its counters were cleared.\n")
    t = []
    net_table(fwd, 'vhu-net', 'testpmd io-fwd', t)
    lines.append("Targets (issue 23: at least DPDK's rate, every ring size and layout, default and `--poll`):\n")
    lines.extend(f"- {x}" for x in t)
    lines.append("")
    lines.append("vhu-net runs one worker thread per transmit queue, so here two threads share CPU 1; testpmd's one lcore polls both ports.\n")
ovsrows = [r for r in allrows if r.get('kind') == 'ovs']
if ovsrows:
    lines.append("## vhu-net vs Open vSwitch with DPDK, port to port (issue 23)\n")
    lines.append(measured('ovs'))
    lines.append("The loop of the section above, with the ring size given to virtio-user (`queue_size=256` or `1024` on both "
                 "`net_virtio_user` ports). The switch runs on CPU 1: vhu-net with its **default options** (adaptive polling) "
                 "or `--poll`, or Open vSwitch 3.1 with DPDK 22.11 (Debian `openvswitch-switch-dpdk`, set up by scripts/ovs-switch.sh: "
                 "`dpdk-init=true`, `dpdk-lcore-mask=0x1`, `pmd-cpu-mask=0x2`, `dpdk-extra=--no-huge -m 2048 --no-pci --legacy-mem`, "
                 "a netdev bridge with the NORMAL action and two `dpdkvhostuser` ports). The generator on CPU 0 caps the rate on 2 CPUs, "
                 "so the cost per frame says more: vhu-net's `--record-busy` ns per frame while busy, OVS's PMD "
                 "`avg processing cycles per packet` (`ovs-appctl dpif-netdev/pmd-stats-show`, cleared at the start) over the "
                 "CPU's MHz from /proc/cpuinfo.\n")
    lines.append("| ring | frame bytes | vhu-net default pps | vhu-net --poll pps | OVS-DPDK pps | default / OVS | --poll / OVS | ns per frame: default / --poll / OVS | default's cost over OVS's |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for ring in sorted({r['ring'] for r in ovsrows}):
        for size in sorted({r['size'] for r in ovsrows if r['ring'] == ring}):
            sel = [r for r in ovsrows if r['ring'] == ring and r['size'] == size]
            c = {side: cell([r['pps'] for r in sel if r['side'] == side]) for side in ('vhu', 'vhu-poll', 'ovs')}
            b = {side: busy_cell(sel, side, size) for side in ('vhu', 'vhu-poll', 'ovs')}
            rat = lambda x, y: f"{x / y:.2f}×" if x and y else 'n/a'
            lines.append(f"| {ring} | {size} | {c['vhu'][0]} | {c['vhu-poll'][0]} | {c['ovs'][0]} | {rat(c['vhu'][1], c['ovs'][1])} | "
                         f"{rat(c['vhu-poll'][1], c['ovs'][1])} | {b['vhu'][0]} / {b['vhu-poll'][0]} / {b['ovs'][0]} | {rat(b['vhu'][1], b['ovs'][1])} |")
    lines.append("\nTargets (issue 23), vhu-net's default mode: ≥ 1.5× OVS-DPDK's rate at 64 B and 1518 B, at 256 and 1024 entries; "
                 "cost per frame ≤ 0.5× OVS's.\n")
    # a round runs the three switches one after the other, so they share the
    # machine's phase: the ratios within a round say more than the medians' ratio
    rounds = sorted({r['round'] for r in ovsrows})
    lines.append("Round by round, vhu-net default over OVS (rate, then cost per frame); each switch's cost moves with the "
                 "machine between rounds, and the three switches of a round run one after the other. In brackets, where "
                 "measured: what moving one cache line from CPU 0 to CPU 1 took just before vhu-net's run and OVS's "
                 "(tools/bench/xcpu.c, a ping-pong between two pinned threads); the host places the two vCPUs near each "
                 "other (about 55 ns) or far apart (205–250 ns), and every line the generator writes and a switch "
                 "reads costs that much:\n")
    lines.append("| ring | frame bytes | " + ' | '.join(f"round {n}" for n in rounds) + " |")
    lines.append("|---:|---:|" + '---|' * len(rounds))
    for ring in sorted({r['ring'] for r in ovsrows}):
        for size in sorted({r['size'] for r in ovsrows if r['ring'] == ring}):
            cells = []
            for n in rounds:
                one = {r['side']: r for r in ovsrows if r['ring'] == ring and r['size'] == size and r['round'] == n}
                v, o = one.get('vhu'), one.get('ovs')
                if not v or not o or not o['pps']:
                    cells.append('n/a')
                    continue
                vb, ob = (float(x.get('busy_ns', 'nan')) for x in (v, o))
                cost = f"{vb / ob:.2f}×" if vb == vb and ob == ob and ob else 'n/a'
                # the line-transfer times before the two runs (older rows have none)
                xf = [float(x.get('xfer_ns', 'nan')) for x in (v, o)]
                xfer = f" ({xf[0]:.0f} / {xf[1]:.0f} ns)" if all(t == t for t in xf) else ''
                cells.append(f"{v['pps'] / o['pps']:.2f}×, {cost}{xfer}")
            lines.append(f"| {ring} | {size} | " + ' | '.join(cells) + " |")
    lines.append("")
    if any(place(r) for r in ovsrows):
        lines.append(f"The cost per frame by where the host had the two vCPUs: *near*, a line moved in under {XFER_NEAR} ns "
                     f"before and after the run; *far*, in {XFER_FAR} ns or more both times (runs in between, where the "
                     "placement changed, are left out). Medians, with the number of runs:\n")
        lines.append("| ring | frame bytes | near: default / OVS ns | near: default over OVS | far: default / OVS ns | far: default over OVS |")
        lines.append("|---:|---:|---|---:|---|---:|")
        for ring in sorted({r['ring'] for r in ovsrows}):
            for size in sorted({r['size'] for r in ovsrows if r['ring'] == ring}):
                cells = []
                cellrows = [r for r in ovsrows if r['ring'] == ring and r['size'] == size]
                for where in ('near', 'far'):
                    m = {side: place_median(cellrows, side, where, lambda r: float(r.get('busy_ns', 'nan')))
                         for side in ('vhu', 'ovs')}
                    cells.append(' / '.join(f"{x:.1f} ({k})" if x else 'n/a' for x, k in (m['vhu'], m['ovs'])))
                    cells.append(f"{m['vhu'][0] / m['ovs'][0]:.2f}×" if m['vhu'][0] and m['ovs'][0] else 'n/a')
                lines.append(f"| {ring} | {size} | " + ' | '.join(cells) + " |")
        lines.append("")
    lines.append("Switches: " + '; '.join(f"`{c}`" for c in sorted({r['cmd'] for r in ovsrows})) + ".\n")
conrows = [r for r in allrows if r.get('kind') == 'contention']
if conrows:
    lines.append("## vhu-net sharing its CPU with a busy loop (issue 23: can a polling worker stall?)\n")
    lines.append(measured('contention'))
    lines.append("The `fwd` loop (64 B frames, 256-entry split rings, testpmd on CPU 0) through vhu-net on CPU 1, alone and with "
                 "`taskset -c 1 sh -c 'while :; do :; done'` (nice 0) on CPU 1 too, alternating. Two workers (one per port's "
                 "transmit queue) and the hog share the CPU, so the rate should fall to about a half or a third, not collapse: "
                 "a `--poll` worker whose ring is empty yields after 512 empty rounds, and the default mode sleeps.\n")
    lines.append("| vhu-net | alone pps | with the hog pps | with / alone |")
    lines.append("|---|---:|---:|---:|")
    for side, name in (('vhu', 'default options'), ('vhu-poll', '`--poll`')):
        a = cell([r['pps'] for r in conrows if r['side'] == side and r['hog'] == 0])
        h = cell([r['pps'] for r in conrows if r['side'] == side and r['hog'] == 1])
        lines.append(f"| {name} | {a[0]} | {h[0]} | " + (f"{h[1] / a[1]:.2f}×" if a[1] and h[1] else 'n/a') + " |")
    lines.append("")
logrows = [r for r in allrows if r.get('kind') == 'log']
if logrows:
    lines.append("## Dirty logging on vs off (what a live migration costs)\n")
    lines.append(measured('log'))
    lines.append("While QEMU migrates a guest, the back-end marks every page it writes in the dirty log. "
                 "blk: vhu-blk (CPU 1) driven by `vhu-bench blk --rw=randread --bs=4096 --iodepth=32` (CPU 0), logging on "
                 "with `--log-dirty` (`--log-check`, used by the tests, also proves every page written into was marked). "
                 "net: vhu-net with two ports (CPU 1, default options); `vhu-bench net --mode=tx --pkt-size=64` into port A "
                 "floods to port B, where `vhu-bench net --mode=rx` counts what arrives, logging on with `--log-dirty`.\n")
    lines.append("| device | load | off | on | on / off |")
    lines.append("|---|---|---:|---:|---:|")
    for dev, what in sorted({(r['dev'], r['what']) for r in logrows}):
        off, om = cell([r['rate'] for r in logrows if r['dev'] == dev and r['what'] == what and r['mode'] == 'off'])
        on, onm = cell([r['rate'] for r in logrows if r['dev'] == dev and r['what'] == what and r['mode'] == 'on'])
        unit = 'IOPS' if dev == 'blk' else 'pps'
        load = f"randread 4 KiB, iodepth 32, {what}" if dev == 'blk' else f"{what} frames into the logged port"
        ratio = f"{onm / om:.2f}×" if om and onm else 'n/a'
        lines.append(f"| vhu-{dev} | {load} ({unit}) | {off} | {on} | {ratio} |")
    lines.append("\nTarget (issue 16): logging on ≥ 0.85× off.\n")
iommu = [r for r in allrows if r.get('kind') == 'iommu']
if iommu:
    lines.append("## vhu-blk and vhu-net behind a virtual IOMMU: a warm IOTLB (issue 17)\n")
    lines.append(measured('iommu'))
    lines.append("The same `vhu-blk --null-size=1G` (CPU 1) and `vhu-bench blk --rw=randread --bs=4096` (CPU 0), alternating a plain run "
                 "(guest-physical addresses) and one with `--iommu`: vhu-bench plays the guest's IOMMU, so every ring and buffer address is an "
                 "IOVA; each buffer page misses once (a MISS, an UPDATE), then every request is translated through the IOTLB and the queue's cache.\n")
    lines.append("| iodepth | plain IOPS | --iommu IOPS | iommu / plain |")
    lines.append("|---:|---:|---:|---:|")
    for d in sorted({r['depth'] for r in iommu}):
        med = lambda side: statistics.median([r['r']['iops'] for r in iommu if r['depth'] == d and r['side'] == side] or [0])
        p, i = med('plain'), med('iommu')
        lines.append(f"| {d} | {p:.0f} | {i:.0f} | {i / p:.2f}× |" if p else f"| {d} | {p:.0f} | {i:.0f} | n/a |")
    inet = [r for r in allrows if r.get('kind') == 'iommu_net']
    if inet:
        lines.append("\nvhu-net (CPU 1, two ports): `vhu-bench net --mode=tx --pkt-size=64` into port A, `vhu-bench net --mode=rx` counting on port B "
                     "(both on CPU 0), each with `--iommu` or without: every ring and buffer address of both ports an IOVA, each page missed once.\n")
        lines.append("| load | plain pps | --iommu pps | iommu / plain |")
        lines.append("|---|---:|---:|---:|")
        p, pm = cell([r['rate'] for r in inet if r['side'] == 'plain'])
        i, im = cell([r['rate'] for r in inet if r['side'] == 'iommu'])
        lines.append(f"| 64 B frames, port A to port B | {p} | {i} | " + (f"{im / pm:.2f}× |" if pm and im else "n/a |"))
    lines.append("\nTarget (issue 17): with a warm IOTLB, ≥ 0.8× the non-IOMMU rate.\n")
exp = [r for r in allrows if r.get('kind') == 'exports']
if exp:
    lines.append("## Many exports in one vhu-blk: the worker pool (issue 22)\n")
    lines.append(measured('exports'))
    lines.append("One vhu-blk process (both CPUs, unpinned) serving N exports, each a 1 GiB null disk with one queue "
                 "(`--config=FILE`), and N `vhu-bench blk --rw=randread --bs=4096 --iodepth=32 --wait=event` at once "
                 "(also unpinned; interrupt-driven, as guests that sleep), one per export: the sum of their IOPS, against "
                 "a vhu-blk with one export under one vhu-bench. The two alternate. Default options run the queues of all "
                 "exports on a pool of one worker thread per online CPU (here 2); `--workers=0` gives each queue a thread "
                 "of its own. Threads: `/proc/PID/task` of vhu-blk while every driver ran (the main thread, the control socket's "
                 "thread, the event loop that serves every export's messages (one thread when idle, more while messages are handled: `vhu_loop_create()`), and the workers: the pool's, or one per queue). The machine is shared with other jobs: "
                 "the numbers are indicative. One export is one driver thread and one queue, which one CPU bounds; 64 exports spread over both CPUs, so the ratio above 1 says the pool costs nothing per export rather than that it is faster. \n")
    lines.append("| workers | exports | aggregate IOPS | / one export | threads |")
    lines.append("|---|---:|---:|---:|---:|")
    for w in ['default', '0']:
        one = statistics.median([r['rate'] for r in exp if r['workers'] == w and r['n'] == 1] or [0])
        for n in sorted({r['n'] for r in exp if r['workers'] == w}):
            sel = [r for r in exp if r['workers'] == w and r['n'] == n]
            c, m = cell([r['rate'] for r in sel])
            ratio = f"{m / one:.2f}×" if one and m else 'n/a'
            wname = 'pool (default)' if w == 'default' else '`--workers=0`'
            lines.append(f"| {wname} | {n} | {c} | {ratio} | {max(r['threads'] for r in sel)} |")
    cmd = next((r['cmd'] for r in exp if r['n'] > 1), '')
    lines.append(f"\nCommand: `{cmd}`. Target (issue 22): 64 exports × 1 queue on 2 CPUs, aggregate ≥ 0.9× one export's.\n")
    mem = {r['n']: r for r in allrows if r.get('kind') == 'exports_mem'}
    if len(mem) == 2:
        (n1, a), (n2, b) = sorted(mem.items())
        per = (b['rss_kib'] - a['rss_kib']) / (n2 - n1)
        per0 = (b['rss_unconnected_kib'] - a['rss_unconnected_kib']) / (n2 - n1)
        lines.append(f"Memory per idle export: {per:,.0f} KiB of RSS with a driver connected and idle "
                     f"(vhu-blk with {n2} exports: {b['rss_kib']:,} KiB, with {n1}: {a['rss_kib']:,} KiB; this counts the pages "
                     f"of the driver's guest memory and rings that vhu-blk touched), {per0:,.0f} KiB before any driver "
                     f"connected. CPU of vhu-blk over 1 s with all drivers connected and idle: {b['idle_ticks']} ticks "
                     f"({n2} exports), {a['idle_ticks']} ({n1}) (1 tick = 10 ms).\n")
eq = [r for r in allrows if r.get('kind') == 'exports_qsd']
if eq:
    n = eq[0]['n']
    lines.append(f"Against qemu-storage-daemon serving {n} exports too (null-co disks with `read-zeroes=on`, as vhu-blk's null disk "
                 "returns zeros; the exports spread over one iothread per CPU, its fast configuration; no pinning), the same "
                 f"{n} drivers, alternating; here both are measured by the drivers (the sum of their IOPS over their run), and the "
                 "threads and RSS are read while they run:\n")
    lines.append("| back-end | aggregate IOPS | vhu / qsd | threads | RSS KiB (all exports busy) |")
    lines.append("|---|---:|---:|---:|---:|")
    v = cell([r['rate'] for r in eq if r['side'] == 'vhu'])
    q = cell([r['rate'] for r in eq if r['side'] == 'qsd'])
    for side, c in (('vhu', v), ('qsd', q)):
        sel = [r for r in eq if r['side'] == side]
        if sel:
            name = 'vhu-blk (default options)' if side == 'vhu' else 'qemu-storage-daemon'
            ratio = f"{v[1] / q[1]:.2f}×" if side == 'vhu' and v[1] and q[1] else ''
            lines.append(f"| {name} | {c[0]} | {ratio} | {max(r['threads'] for r in sel)} | {statistics.median([r['rss_kib'] for r in sel]):,.0f} |")
    lines.append("\nCommands: " + '; '.join(f"`{c}`" for c in sorted({r['cmd'] for r in eq})) + ".\n")
gpu = [r for r in allrows if r.get('kind') == 'gpu']
if gpu:
    lines.append("## vhu-gpu vs QEMU's vhost-user-gpu: 2D updates to the display (issue 18)\n")
    lines.append(measured('gpu'))
    lines.append("Each back-end (CPU 1) is driven by `vhu-gpu-draw` (CPU 0), which plays both the guest's virtio-gpu driver and, through "
                 "vhu's front-end, the display on the vhost-user-gpu socket. A run draws and checks a frame, then times full-screen "
                 "TRANSFER_TO_HOST_2D + RESOURCE_FLUSH pairs (a B8G8R8X8 resource); each flush's UPDATE carries the whole screen's "
                 "pixels over the socket and the run ends when the display has them all. The two back-ends alternate run by run. "
                 "Command: `" + gpu[-1]['cmd'] + "` (FRAMES: 400 × TIME at 320x240, 40 × TIME at 1024x768).\n")
    lines.append("| screen | vhu-gpu frames/s | QEMU vhost-user-gpu frames/s | vhu / QEMU | vhu-gpu MB/s | QEMU MB/s |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for size in sorted({r['size'] for r in gpu}, key=lambda s: int(s.split('x')[0])):
        v, vm = cell([r['fps'] for r in gpu if r['size'] == size and r['side'] == 'vhu'])
        q, qm = cell([r['fps'] for r in gpu if r['size'] == size and r['side'] == 'qemu'])
        vb, _ = cell([r['mbs'] for r in gpu if r['size'] == size and r['side'] == 'vhu'])
        qb, _ = cell([r['mbs'] for r in gpu if r['size'] == size and r['side'] == 'qemu'])
        lines.append(f"| {size} | {v} | {q} | " + (f"{vm / qm:.2f}× |" if vm and qm else "n/a |") + f" {vb} | {qb} |")
    loads = [r['load'] for r in gpu if 'load' in r]
    if loads:
        lines.append(f"\nLoad average (1 min) while these ran: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs; "
                     "above the CPU count the spread is the machine's, not the programs'.\n")
    lines.append("\nTarget (issue 18): ≥ 1.5× QEMU's vhost-user-gpu.\n")
tr = [r for r in allrows if r.get('kind') == 'trace']
if tr:
    lines.append("## vhu-trace: what it adds per message (issue 21)\n")
    lines.append(measured('trace'))
    lines.append("A front-end (`scripts/trace-load.py`, CPU 0) sends GET_FEATURES and GET_PROTOCOL_FEATURES alternately, each "
                 "waiting for its reply, to vhu-blk (CPU 1): straight to its socket, or through vhu-trace (also CPU 1) writing "
                 "its text trace to a file. The two alternate run by run. Each round trip crosses the tracer twice (the request "
                 "and the reply), so the latency added per message is half the difference of the median round trips. The data "
                 "plane (kick, call, the rings) never passes through vhu-trace and is not slowed by it.\n")
    lines.append("| | round trips/s | median round trip µs | p99 µs |")
    lines.append("|---|---:|---:|---:|")
    med = {}
    for side, name in (('direct', 'straight to vhu-blk'), ('trace', 'through vhu-trace')):
        sel = [r['r'] for r in tr if r['side'] == side]
        c, m = cell([x['rate'] for x in sel])
        p50 = statistics.median([x['p50_us'] for x in sel]) if sel else None
        p99 = statistics.median([x['p99_us'] for x in sel]) if sel else None
        med[side] = (m, p50)
        lines.append(f"| {name} | {c} | " + (f"{p50:.1f} | {p99:.1f} |" if sel else "n/a | n/a |"))
    (dm, dp), (tm, tp) = med['direct'], med['trace']
    if dm and tm and dp is not None and tp is not None:
        lines.append(f"\nThrough the tracer: {tm / dm:.2f}× the round trips per second; **{(tp - dp) / 2:.1f} µs added per message** "
                     "(median).\n")
    lines.append("Command: `" + tr[-1]['cmd'] + "`.\n")
extra = open(out).read().split('<!-- manual -->', 1) if os.path.exists(out) else []
if len(extra) == 2:
    lines.append('<!-- manual -->' + extra[1])
# the kept part ends as it ended: no newline added run after run
open(out, 'w').write('\n'.join(lines).rstrip('\n') + '\n')
print(f"bench: wrote {out}")
EOF
