#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A/B two vhu-net builds under the same load at the same moment. This VM's
# rates swing by 2x from one run to the next (docs/PERFORMANCE.md), more
# than most changes move them, so runs one after the other cannot tell two
# builds apart. Here both run at once: each device on CPU 1 with its own
# DPDK virtio-user load on CPU 0, so whatever the host does, it does to
# both, and the ratio of their rates is what is compared.
#
#   scripts/ab-net.sh A_VHU_NET B_VHU_NET [fwd|ingress] [ROUNDS]
#   scripts/ab-net.sh A_VHU_NET dpdk [fwd|ingress] [ROUNDS]
#
# B = dpdk puts DPDK's vhost in B's place, as make bench compares them:
# testpmd io-forwarding between two net_vhost ports (fwd) or rxonly on one
# (ingress). So that CPU 1 is shared fairly, it gets as many busy threads
# as vhu-net has: two forwarding lcores for fwd (vhu-net polls each port's
# TX queue from its own thread), one for ingress.
# vhu-net's busy workers yield the CPU after 512 empty rounds in a row
# and testpmd's lcores never do, so under fwd this also measures how much
# CPU 1 vhu-net gives away (docs/PERFORMANCE.md, session 6).
#
# fwd: a testpmd io-forwarding loop through the device's two ports (the
# `fwd` part of make bench); ingress: testpmd txonly into one port. With
# two loads sharing CPU 0, ingress is often bound by the generators: trust
# fwd, where the devices are the busy side. SIZE (64) sets the frame size,
# TIME (4) the seconds counted, PACKED=1 makes the generators use packed
# rings, QSIZE=N gives their rings N entries, VHU_FLAGS (default --poll)
# are vhu-net's options (VHU_FLAGS= for its default mode). Prints each
# round's rates and B/A, and the
# median B/A. A vs A should print about 1.00.
#
# With two vhu-net builds, each round also prints what each spent per
# frame while it had frames (--record-busy, scripts/net-busy.py), and the
# median of B's over A's. Where the generators are the bottleneck the
# rates say little about the devices; this says what a change did to a
# device's cost. (Not against dpdk: testpmd's record-core-cycles counts
# the time its lcore is preempted, as it is here, sharing CPU 1.)
set -euo pipefail

A=$(realpath "$1") B=$2 mode=${3:-fwd} rounds=${4:-3}
[ "$B" = dpdk ] || B=$(realpath "$B")
SIZE=${SIZE:-64} TIME=${TIME:-4}
vq=
[ "${PACKED:-0}" = 1 ] && vq=,packed_vq=1
[ -n "${QSIZE:-}" ] && vq=$vq,queue_size=$QSIZE
# vhu-net's options (default --poll; VHU_FLAGS= for its default mode)
read -r -a vhu_flags <<<"${VHU_FLAGS---poll}"
command -v dpdk-testpmd >/dev/null || { echo "ab-net: dpdk-testpmd is missing" >&2; exit 1; }
tmp=$(mktemp -d /tmp/vhu-ab.XXXXXX)
pids=()
cleanup() {
	((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp" /var/run/dpdk/vhu-ab-*-$$
}
trap cleanup EXIT
dpdk_common=(--no-pci --no-huge -m 256 --no-shconf --no-telemetry --lcores=0@0,1@0)
ratios=() busy_ratios=()
declare -A vhu_pid
here=$(dirname "$(realpath "$0")")
net_busy() { python3 "$here/net-busy.py" "$@"; }
# busy_mark: vhu-net prints its counters; what is counted from one to the next
busy_mark() {
	local s
	for s in A B; do
		[ -n "${vhu_pid[$s]:-}" ] && kill -USR1 "${vhu_pid[$s]}" 2>/dev/null || true
	done
}
for round in $(seq "$rounds"); do
	pids=()
	vhu_pid=()
	# alternate which build starts first
	order=(A B)
	((round % 2 == 0)) && order=(B A)
	for s in "${order[@]}"; do
		bin=$A
		[ "$s" = B ] && bin=$B
		if [ "$bin" = dpdk ]; then
			rm -f "$tmp/dut.in"
			mkfifo "$tmp/dut.in"
			vdevs=(--vdev "net_vhost0,iface=$tmp/$s.a")
			if [ "$mode" = fwd ]; then
				vdevs+=(--vdev "net_vhost1,iface=$tmp/$s.b")
				fwd=(--lcores=0@1,1@1,2@1 -- -i --nb-cores=2 --forward-mode=io)
			else
				fwd=(--lcores=0@1,1@1 -- -i --forward-mode=rxonly)
			fi
			dpdk-testpmd --no-pci --no-huge -m 256 --no-shconf --no-telemetry \
				--file-prefix="vhu-ab-dut-$$" "${vdevs[@]}" "${fwd[@]}" \
				--total-num-mbufs=16384 \
				<"$tmp/dut.in" >"$tmp/$s.dut.log" 2>&1 &
			pids+=($!)
			exec {fd_dut}>"$tmp/dut.in"
			echo start >&"$fd_dut"
			continue
		fi
		ports=(--socket-path="$tmp/$s.a")
		[ "$mode" = fwd ] && ports+=(--socket-path="$tmp/$s.b")
		taskset -c 1 "$bin" "${ports[@]}" "${vhu_flags[@]}" --queue-pairs=1 --record-busy \
			>"$tmp/$s.dut.log" 2>&1 &
		pids+=($!)
		vhu_pid[$s]=$!
	done
	for s in A B; do
		for f in "$tmp/$s.a" "$tmp/$s.b"; do
			[ "$mode" = fwd ] || [ "$f" = "$tmp/$s.a" ] || continue
			for _ in $(seq 100); do [ -S "$f" ] && break; sleep 0.05; done
		done
	done
	for s in A B; do
		rm -f "$tmp/$s.in"
		mkfifo "$tmp/$s.in"
		if [ "$mode" = fwd ]; then
			dpdk-testpmd "${dpdk_common[@]}" --file-prefix="vhu-ab-$s-$$" \
				--vdev "net_virtio_user0,path=$tmp/$s.a,queues=1$vq,mac=02:00:00:00:00:0a" \
				--vdev "net_virtio_user1,path=$tmp/$s.b,queues=1$vq,mac=02:00:00:00:00:0b" -- -i \
				--total-num-mbufs=16384 --forward-mode=io \
				--eth-peer=0,02:00:00:00:00:0b --eth-peer=1,02:00:00:00:00:0a \
				<"$tmp/$s.in" >"$tmp/$s.gen.log" 2>&1 &
		else
			dpdk-testpmd "${dpdk_common[@]}" --file-prefix="vhu-ab-$s-$$" \
				--vdev "net_virtio_user0,path=$tmp/$s.a,queues=1$vq" -- -i \
				--total-num-mbufs=8192 --forward-mode=txonly \
				<"$tmp/$s.in" >"$tmp/$s.gen.log" 2>&1 &
		fi
		pids+=($!)
	done
	exec {fa}>"$tmp/A.in" {fb}>"$tmp/B.in"
	for fd in $fa $fb; do
		echo "set txpkts $SIZE" >&"$fd"
		if [ "$mode" = fwd ]; then echo "start tx_first 8" >&"$fd"; else echo start >&"$fd"; fi
	done
	sleep 2
	echo "clear port stats all" >&"$fa"
	echo "clear port stats all" >&"$fb"
	busy_mark
	sleep "$TIME"
	echo "show port stats all" >&"$fa"
	echo "show port stats all" >&"$fb"
	busy_mark
	sleep 0.3
	echo quit >&"$fa"
	echo quit >&"$fb"
	exec {fa}>&- {fb}>&-
	if [ "$B" = dpdk ]; then
		echo quit >&"$fd_dut" 2>/dev/null || true
		exec {fd_dut}>&-
	fi
	sleep 1
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	pids=()
	# fwd: frames the loop received on both ports; ingress: what the device took
	field=RX-packets
	[ "$mode" = fwd ] || field=TX-packets
	count() { awk -v f="$field:" -v m="$mode" '$1 == f { s += $2; if (m != "fwd") exit } END { print s + 0 }' "$1"; }
	a=$(count "$tmp/A.gen.log") b=$(count "$tmp/B.gen.log")
	r=$(python3 -c "print(f'{$b / $a:.3f}' if $a else 'nan')")
	ratios+=("$r")
	echo "round $round: A $((a / TIME)) pps, B $((b / TIME)) pps, B/A $r"
	if [ "$B" != dpdk ]; then
		na=$(net_busy vhu "$tmp/A.dut.log") nb=$(net_busy vhu "$tmp/B.dut.log")
		br=$(python3 -c "import math; a, b = float('$na'), float('$nb'); print('nan' if math.isnan(a) or math.isnan(b) or a == 0 else f'{b / a:.3f}')")
		busy_ratios+=("$br")
		echo "round $round: busy A $na ns/frame, B $nb ns/frame, B/A $br"
	fi
done
python3 -c "import statistics, sys; print('median B/A', statistics.median(float(x) for x in sys.argv[1:]))" "${ratios[@]}"
((${#busy_ratios[@]})) &&
	python3 -c "import statistics, sys; print('median busy ns/frame B/A', statistics.median(float(x) for x in sys.argv[1:]))" "${busy_ratios[@]}"
