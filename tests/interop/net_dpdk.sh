#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-net between real virtio-net drivers that are not ours: two
# dpdk-testpmd processes with net_virtio_user ports (DPDK's userspace
# virtio-net driver) on two vhu-net ports, txonly on one and rxonly on the
# other, and vhu-bench net (vhu's own driver) as a port against testpmd.
# Frames sent on one port must arrive on the other, and the counts of the
# three programs must agree: the sender's TX-packets are vhu-net's
# rx_packets on its port; the receiver's RX-packets are vhu-net's
# tx_packets on the other; and the difference is what vhu-net counted as
# dropped there (the receiver's ring was full: the switch never waits).
#
#   net_dpdk.sh VHU-NET VHU-BENCH split|packed QUEUE-PAIRS
#
# With 2 queue pairs testpmd sends many flows (--txonly-multi-flow) and
# both of the receiver's queues must get frames (vhu-net spreads flows):
# by vhu-net's own per-queue-pair counts (both TX queues of port 0 carried
# frames in, both RX queues of port 1 took frames out) and by testpmd's.
. "$(dirname "$0")/lib.sh"

[ $# -eq 4 ] || fail "usage: $0 VHU-NET VHU-BENCH split|packed QUEUE-PAIRS"
NET=$1 BENCH=$2 RING=$3 QP=$4
need_exe "$NET" "$BENCH"
need_cmd dpdk-testpmd timeout
SECS=${NET_DPDK_SECS:-2}

cpus=$("$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
read -r cpu0 cpu1 <<<"$cpus"
PREFIX=vhu-netdpdk-${T##*/vhu-}
if [ "$(id -u)" = 0 ]; then dpdk_rundir=/var/run/dpdk; else dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk; fi
VDEV_OPTS=queues=$QP
[ "$RING" = packed ] && VDEV_OPTS="$VDEV_OPTS,packed_vq=1"

start_net() {
	start_peer net "$T/net.log" "$NET" --socket-path="$T/p0.sock" --socket-path="$T/p1.sock" \
		--queue-pairs="$QP"
	wait_socket "$T/p0.sock" net 10
	wait_socket "$T/p1.sock" net 10
}

# net_counter PORT NAME: from the counters vhu-net printed when it stopped
net_counter() {
	sed -n "s/.*: port $1 .* $2=\([0-9]*\).*/\1/p" "$T/net.log" | tail -n 1
}

# net_qp_counts PORT NAME: "Q0 Q1 ..." of qp_rx_packets or qp_tx_packets
net_qp_counts() {
	sed -n "s/.*: queue pairs of port $1 .* $2=\([0-9,]*\).*/\1/p" "$T/net.log" | tail -n 1 |
		tr ',' ' '
}

stop_net() {
	stop_peer net
	[ "$PEER_RC" = 0 ] || fail "vhu-net exited with $PEER_RC"
	grep -q "port 1 .*tx_packets=" "$T/net.log" || fail "vhu-net printed no counters at exit"
}

# start_testpmd NAME SOCK FWD [ARGS...]: testpmd with a virtio-user port on SOCK
start_testpmd() {
	local name=$1 sock=$2 fwd=$3 fd
	shift 3
	on_cleanup "rm -rf -- '$dpdk_rundir/$PREFIX-$name'"
	# line-buffered: the log shows "start"'s answer while testpmd runs (wait_log)
	PEER_STDIN=hold start_peer "$name" "$T/$name.log" stdbuf -oL dpdk-testpmd \
		--lcores="0@$cpu0,1@$cpu1" --no-pci --no-huge -m 256 \
		--no-shconf --no-telemetry --file-prefix="$PREFIX-$name" \
		--vdev "net_virtio_user0,path=$sock,$VDEV_OPTS" \
		-- -i --total-num-mbufs=8192 --rxq="$QP" --txq="$QP" --forward-mode="$fwd" "$@"
	exec {fd}>"$T/$name.stdin"
	eval "FD_$name=$fd"
	[ "$fwd" != txonly ] || echo "set txpkts 64" >&"$fd"
	echo start >&"$fd"
	# forwarding, so its port is up and its receive buffers are posted:
	# on a loaded machine a second was not always enough, and a sender
	# that starts before then has every frame dropped for want of buffers
	wait_log "$T/$name.log" "$fwd packet forwarding - ports=" "$name" 30
}

# finish_testpmd NAME: stats, quit; sets RX_PACKETS, TX_PACKETS of port 0
finish_testpmd() {
	local name=$1 fd
	eval "fd=\$FD_$name"
	# stop first, then give the switch time to take what is still in the
	# ring: testpmd counts a frame as sent when it is on the ring, and the
	# ring dies with testpmd (a CI run saw 256 frames, one full ring, lost so)
	echo stop >&"$fd"
	sleep 0.5
	{ echo "show port stats all"; echo "show port xstats all"; echo quit; } >&"$fd"
	exec {fd}>&-
	peer_wait_exit "$name" 20 || fail "$name: testpmd did not quit"
	read -r RX_PACKETS TX_PACKETS < <(awk '
		/NIC statistics for port 0/ { on = 1; next }
		on && /RX-packets:/ { rxp = $2 }
		on && /TX-packets:/ { print rxp, $2; exit }' "$T/$name.log")
	[ -n "${TX_PACKETS:-}" ] || fail "$name: no port statistics in testpmd's log"
	# the virtio-user port was configured and started (testpmd prints its MAC
	# only once the port started; a port that failed to start prints an error)
	grep -q "^Configuring Port 0" "$T/$name.log" || fail "$name: testpmd never configured port 0"
	grep -q "^Port 0: [0-9A-F:]\{17\}$" "$T/$name.log" || fail "$name: testpmd's port 0 never started"
	! grep -q "Fail to start port 0\|Fail to configure port 0" "$T/$name.log" ||
		fail "$name: $(grep -m1 'Fail to' "$T/$name.log")"
}

negotiated() { # PORT: the features vhu-net logged for it
	sed -n "s/.*port $1: features \(0x[0-9a-f]*\).*/\1/p" "$T/net.log" | tail -n 1
}

check_packed() {
	local f
	[ "$RING" = packed ] || return 0
	for p in 0 1; do
		f=$(negotiated $p)
		[ -n "$f" ] && [ $(((f >> 34) & 1)) = 1 ] || fail "port $p: packed ring not negotiated ($f)"
	done
}

# ---- testpmd txonly -> vhu-net -> testpmd rxonly --------------------------------
# With NET_DPDK_TRACE=VHU-TRACE (issue 21) the sender's conversation with
# port 0 goes through vhu-trace: the frames must still all arrive, and the
# trace must show DPDK's requests decoded right (check_trace.py).
start_net
TX_SOCK=$T/p0.sock
if [ -n "${NET_DPDK_TRACE:-}" ]; then
	start_peer trace "$T/trace.log" "$NET_DPDK_TRACE" --listen="$T/t0.sock" \
		--connect="$T/p0.sock" --json --output="$T/trace.json"
	wait_socket "$T/t0.sock" trace 10
	TX_SOCK=$T/t0.sock
fi
start_testpmd rx "$T/p1.sock" rxonly
sleep 1
if [ "$QP" -gt 1 ]; then
	start_testpmd tx "$TX_SOCK" txonly --txonly-multi-flow
else
	start_testpmd tx "$TX_SOCK" txonly
fi
sleep "$SECS"
finish_testpmd tx
SENT=$TX_PACKETS
sleep 0.5
finish_testpmd rx
GOT=$RX_PACKETS
stop_net
if [ -n "${NET_DPDK_TRACE:-}" ]; then
	stop_device trace
	"$PYTHON" "$LIB_DIR/check_trace.py" "$T/trace.json" --queues $((2 * QP)) ||
		fail "the trace of DPDK virtio-user and vhu-net does not check out"
fi
check_packed
rx0=$(net_counter 0 rx_packets) tx1=$(net_counter 1 tx_packets)
drops1=$(($(net_counter 1 tx_drop_no_buffers) + $(net_counter 1 tx_drop_down) + $(net_counter 1 tx_drop_busy)))
note "testpmd sent $SENT, vhu-net took $rx0 in on port 0, put $tx1 out on port 1 (dropped $drops1), testpmd received $GOT"
[ "$SENT" -gt 0 ] || fail "testpmd sent nothing"
[ "$GOT" -gt 0 ] || fail "testpmd received nothing"
[ "$rx0" = "$SENT" ] || fail "vhu-net rx_packets on port 0 is $rx0, testpmd sent $SENT"
[ "$tx1" = "$GOT" ] || fail "vhu-net tx_packets on port 1 is $tx1, testpmd received $GOT"
[ $((tx1 + drops1)) = "$rx0" ] || fail "port 1: $tx1 out + $drops1 dropped != $rx0 in on port 0"
if [ "$QP" -gt 1 ]; then
	# the device's own per-queue-pair counts
	read -r -a in0 <<<"$(net_qp_counts 0 qp_rx_packets)"
	read -r -a out1 <<<"$(net_qp_counts 1 qp_tx_packets)"
	note "vhu-net per queue pair: port 0 in ${in0[*]:-?}, port 1 out ${out1[*]:-?}"
	[ ${#in0[@]} = "$QP" ] && [ ${#out1[@]} = "$QP" ] ||
		fail "vhu-net printed no per-queue-pair counts for $QP queue pairs"
	for q in $(seq 0 $((QP - 1))); do
		[ "${in0[$q]}" -gt 0 ] || fail "vhu-net: port 0's TX queue of pair $q carried no frame"
		[ "${out1[$q]}" -gt 0 ] || fail "vhu-net: port 1's RX queue of pair $q got no frame"
	done
	[ $((in0[0] + in0[1])) = "$rx0" ] || fail "port 0: per-queue ${in0[*]} do not add up to $rx0"
	[ $((out1[0] + out1[1])) = "$tx1" ] || fail "port 1: per-queue ${out1[*]} do not add up to $tx1"
	for q in 0 1; do
		# testpmd's forward statistics at "stop", one block per stream
		n=$(awk -v q="RX Port= 0/Queue= *$q " '$0 ~ q { on = 1; next }
			on && /RX-packets:/ { print $2; exit }' "$T/rx.log")
		[ "${n:-0}" -gt 0 ] || fail "receive queue $q of testpmd got no frames (flows not spread)"
		note "receiver queue $q: $n frames"
	done
fi

# ---- vhu-bench tx -> vhu-net -> testpmd rxonly (1 queue pair: vhu-bench has one) ----
if [ "$QP" = 1 ]; then
	N=20000
	start_net
	start_testpmd rx "$T/p1.sock" rxonly
	sleep 1
	bargs=()
	[ "$RING" = packed ] && bargs+=(--packed)
	timeout -k 2 60 "$BENCH" net --socket-path="$T/p0.sock" --mode=tx --count=$N --json \
		"${bargs[@]}" >"$T/bench.json" 2>"$T/bench.err" || fail "vhu-bench: $(cat "$T/bench.err")"
	sleep 0.5
	finish_testpmd rx
	stop_net
	rx0=$(net_counter 0 rx_packets) tx1=$(net_counter 1 tx_packets)
	drops1=$(($(net_counter 1 tx_drop_no_buffers) + $(net_counter 1 tx_drop_down) + $(net_counter 1 tx_drop_busy)))
	note "vhu-bench sent $N, vhu-net took $rx0, put $tx1 out (dropped $drops1), testpmd received $RX_PACKETS"
	[ "$rx0" = $N ] || fail "vhu-net rx_packets on port 0 is $rx0, vhu-bench sent $N"
	[ "$tx1" = "$RX_PACKETS" ] || fail "vhu-net tx_packets $tx1, testpmd received $RX_PACKETS"
	[ $((tx1 + drops1)) = $N ] || fail "port 1: $tx1 out + $drops1 dropped != $N"
	[ "$RX_PACKETS" -gt 0 ] || fail "testpmd received nothing"

	# vhu-bench to vhu-bench, fewer frames than a ring holds: nothing may be
	# lost, and every byte of every frame must arrive as sent (--verify: a
	# sequence number and a pattern in each payload, checked on receipt), at
	# the smallest size and at one near the MTU
	N=200
	start_net
	for size in 64 1400; do
		timeout -k 2 30 "$BENCH" net --socket-path="$T/p1.sock" --mode=rx --count=$N --json \
			--verify --pkt-size=$size "${bargs[@]}" >"$T/brx.json" 2>"$T/brx.err" &
		brx=$!
		sleep 1
		timeout -k 2 30 "$BENCH" net --socket-path="$T/p0.sock" --mode=tx --count=$N --json \
			--verify --pkt-size=$size "${bargs[@]}" >"$T/btx.json" 2>"$T/btx.err" ||
			fail "vhu-bench tx: $(cat "$T/btx.err")"
		wait $brx || fail "vhu-bench rx ($size bytes): $(cat "$T/brx.err" "$T/brx.json")"
		"$PYTHON" - "$T/brx.json" $N $size <<-'PY' || fail "vhu-bench rx: bad result $(cat "$T/brx.json")"
		import json, sys
		r = json.load(open(sys.argv[1])); n, size = int(sys.argv[2]), int(sys.argv[3])
		assert r['rx_packets'] == n and r['rx_frame_min'] == r['rx_frame_max'] == size, r
		assert r['rx_bad_hdr'] == 0 and r['rx_verified'] == n, r
		assert r['rx_bad_payload'] == 0 and r['rx_out_of_order'] == 0, r
		PY
		note "vhu-bench to vhu-bench: $N of $N frames of $size bytes, every byte as sent, in order"
	done
	stop_net
	[ "$(net_counter 1 tx_packets)" = $((2 * N)) ] ||
		fail "vhu-net tx_packets on port 1: $(net_counter 1 tx_packets), $((2 * N)) sent"
fi
echo "PASS: vhu-net between dpdk-testpmd virtio-user ports ($RING, $QP queue pair(s)) and vhu-bench: counts agree"
