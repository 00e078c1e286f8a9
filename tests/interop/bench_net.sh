#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-bench net (vhu's front-end as a virtio-net driver) against DPDK's
# net_vhost PMD in dpdk-testpmd, counted by testpmd's own statistics:
#   tx: vhu-bench --mode=tx --count=N into --forward-mode=rxonly; testpmd's
#       RX-packets for port 0 must be exactly N and RX-bytes N * 64
#       (DPDK counts frame bytes, without the virtio-net header)
#   rx: vhu-bench --mode=rx --count=N from --forward-mode=txonly
#       (set txpkts 64); vhu-bench must get N frames of exactly 64 bytes,
#       and testpmd's TX-packets must be >= N (it also fills the buffers
#       that were still posted when vhu-bench stopped counting)
# each with split and packed rings (DPDK 22.11's vhost library takes packed
# rings from the front-end; the packed bit must be in the negotiated features).
#
# testpmd runs with -i on a held stdin fifo (lib.sh PEER_STDIN=hold); the
# test writes "start" into it, and after vhu-bench is done "show port stats
# all" and "quit", then reads the statistics from the log once testpmd has
# exited (its stdout is a file, so it is only flushed at exit).
#
#   bench_net.sh VHU-BENCH
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || fail "usage: $0 VHU-BENCH"
BENCH=$1
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"
need_cmd dpdk-testpmd timeout
N=${BENCH_NET_COUNT:-50000}

cpus=$("$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
read -r cpu0 cpu1 <<<"$cpus"
PREFIX=vhu-interop-${T##*/vhu-}
if [ "$(id -u)" = 0 ]; then
	dpdk_rundir=/var/run/dpdk
else
	dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

# start_testpmd NAME FORWARD-MODE: testpmd with a vhost port on $T/NAME.sock,
# forwarding started; $CMD_FD writes to its stdin
start_testpmd() {
	local name=$1 fwd=$2
	on_cleanup "rm -rf -- '$dpdk_rundir/$PREFIX-$name'"
	PEER_STDIN=hold start_peer "$name" "$T/$name.log" dpdk-testpmd \
		--lcores="0@$cpu0,1@$cpu1" --no-pci --no-huge -m 256 \
		--no-shconf --no-telemetry --file-prefix="$PREFIX-$name" \
		--vdev "net_vhost0,iface=$T/$name.sock" \
		-- -i --total-num-mbufs=8192 --forward-mode="$fwd"
	wait_socket "$T/$name.sock" "$name" 20
	exec {CMD_FD}>"$T/$name.stdin"
	[ "$fwd" != txonly ] || echo "set txpkts 64" >&"$CMD_FD"
	echo start >&"$CMD_FD"
}

# finish_testpmd NAME: print the port statistics, quit, wait for the exit;
# sets RX_PACKETS, RX_BYTES and TX_PACKETS of port 0
finish_testpmd() {
	local name=$1
	echo "show port stats all" >&"$CMD_FD"
	echo quit >&"$CMD_FD"
	exec {CMD_FD}>&-
	peer_wait_exit "$name" 15 || fail "$name: testpmd did not quit"
	read -r RX_PACKETS RX_BYTES TX_PACKETS < <(awk '
		/NIC statistics for port 0/ { on = 1; next }
		on && /RX-packets:/ { rxp = $2; rxb = $6 }
		on && /TX-packets:/ { txp = $2; print rxp, rxb, txp; exit }' "$T/$name.log")
	[ -n "${TX_PACKETS:-}" ] || fail "$name: no port statistics in testpmd's log"
}

# bench NAME ARGS...: vhu-bench net against $T/NAME.sock, JSON in $T/NAME.json
bench() {
	local name=$1 rc
	shift
	timeout -k 2 60 "$BENCH" net --socket-path="$T/$name.sock" --json "$@" \
		>"$T/$name.json" 2>"$T/$name.err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$name: vhu-bench exited $rc: $(cat "$T/$name.err")"
}

# check NAME PY-ASSERTIONS: run them on the JSON as r
check() {
	"$PYTHON" - "$T/$1.json" "$1" "$2" <<-'PY' || { cat "$T/$1.json"; fail "$1: bad result"; }
	import json, sys
	r = json.load(open(sys.argv[1]))
	exec(sys.argv[3])
	PY
}

tx_test() {
	local name=$1
	shift
	start_testpmd "$name" rxonly
	bench "$name" --mode=tx --count="$N" "$@"
	finish_testpmd "$name"
	check "$name" "assert r['tx_packets'] == $N and r['rx_packets'] == 0, r"
	[ "$RX_PACKETS" -eq "$N" ] ||
		fail "$name: testpmd counted RX-packets $RX_PACKETS, vhu-bench sent $N"
	[ "$RX_BYTES" -eq $((N * 64)) ] ||
		fail "$name: testpmd counted RX-bytes $RX_BYTES, expected $((N * 64)) (64-byte frames)"
	note "$name: vhu-bench sent $N, testpmd RX-packets $RX_PACKETS RX-bytes $RX_BYTES"
}

rx_test() {
	local name=$1
	shift
	start_testpmd "$name" txonly
	bench "$name" --mode=rx --count="$N" "$@"
	finish_testpmd "$name"
	check "$name" "assert r['rx_packets'] == $N and r['rx_bytes'] == 64 * $N and \
r['rx_frame_min'] == r['rx_frame_max'] == 64 and r['rx_bad_hdr'] == 0, r"
	[ "$TX_PACKETS" -ge "$N" ] ||
		fail "$name: testpmd counted TX-packets $TX_PACKETS, vhu-bench received $N"
	note "$name: vhu-bench received $N 64-byte frames, testpmd TX-packets $TX_PACKETS"
}

packed_negotiated() {
	check "$1" "assert int(r['features'], 16) >> 34 & 1, 'packed ring not negotiated'"
}

tx_test tx_split
tx_test tx_packed --packed
packed_negotiated tx_packed
rx_test rx_split
rx_test rx_packed --packed
packed_negotiated rx_packed
echo "PASS: vhu-bench net tx and rx against dpdk-testpmd net_vhost (split and packed), $N packets each, counts agree"
