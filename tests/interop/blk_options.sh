#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-blk's options that no other test used, each shown to take effect, with
# vhu-bench blk (vhu's front-end) as the driver:
#
#   --direct         the image is open with O_DIRECT (the flags in
#                    /proc/PID/fdinfo), and not without the option; a verify
#                    pass goes through it (4 KiB-aligned requests)
#   --queue-size=N   a 64-entry ring is accepted, a 128-entry one refused
#                    (SET_VRING_NUM above the limit: vhu-bench fails to start)
#   --poll-window=US and --poll: how often the queue's worker thread sleeps.
#                    Under one request at a time, --poll-window=0 sleeps on
#                    the kick or completion eventfd about once a request (its
#                    voluntary context switches, /proc/PID/task/TID/status);
#                    a 1000 us window keeps polling between requests and
#                    sleeps a small fraction as often; --poll never sleeps.
#                    Compared within one run, so a loaded machine shifts all
#                    three alike. Each also passes a verify pass.
#
#   blk_options.sh VHU-BENCH VHU-BLK
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU-BENCH VHU-BLK"
BENCH=$1 BLK=$2
need_exe "$BENCH" "$BLK"
need_cmd timeout

IMG=$T/disk.img # on the build machine's disk, not tmpfs: O_DIRECT needs it
truncate -s 16M "$IMG" || fail "truncate"

# blk NAME ARGS...: start vhu-blk as peer NAME on $T/NAME.sock
blk() {
	local name=$1
	shift
	start_peer "$name" "$T/$name.log" "$BLK" --socket-path="$T/$name.sock" --blk-file="$IMG" "$@"
	wait_socket "$T/$name.sock" "$name" 10
}

# verify NAME ARGS...: a verify pass over 4 MiB through peer NAME
verify() {
	local name=$1
	shift
	timeout -k 2 60 "$BENCH" blk --socket-path="$T/$name.sock" --rw=verify --size=4M --json "$@" \
		>"$T/$name.json" 2>"$T/$name.err" ||
		fail "$name: verify failed: $(cat "$T/$name.err" "$T/$name.json")"
	"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["errors"] == r["mismatches"] == 0 and r["verified"] == 1024, r' \
		"$T/$name.json" || fail "$name: bad verify result"
}

# o_direct PID: "yes" when one of PID's fds on $IMG has O_DIRECT (040000) set
o_direct() {
	local fd flags
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$IMG" ] || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${fd##*/}")
		[ $((8#$flags & 8#40000)) -ne 0 ] && echo yes && return
	done
	echo no
}

# ---- --direct -------------------------------------------------------------------
blk direct --direct
[ "$(o_direct "${PEER_PID[direct]}")" = yes ] || fail "--direct: the image is not open with O_DIRECT"
verify direct
stop_device direct
blk cached
[ "$(o_direct "${PEER_PID[cached]}")" = no ] || fail "without --direct the image has O_DIRECT"
stop_device cached
note "--direct: O_DIRECT on the image (and not without it); verify passes"

# ---- --queue-size ----------------------------------------------------------------
# vhu-bench's ring: 64 entries up to --iodepth=21, 128 up to 42
blk qs --queue-size=64
verify qs --iodepth=16
timeout -k 2 30 "$BENCH" blk --socket-path="$T/qs.sock" --rw=randread --time=1 --iodepth=32 \
	>"$T/qs128.out" 2>&1 && fail "--queue-size=64: a 128-entry ring was accepted"
peer_alive qs || fail "--queue-size=64: vhu-blk died refusing a 128-entry ring"
grep -q "128" "$T/qs.log" || fail "--queue-size=64: vhu-blk did not log the refused size"
stop_device qs
note "--queue-size=64: a 64-entry ring works, a 128-entry one is refused"

# ---- --poll-window and --poll ------------------------------------------------------
# sleeps NAME: the voluntary context switches of queue 0's worker thread
# (vhu-w0: the pool's first worker, which the only queue is given to; vhu-q0
# with --workers=0) over one second of a run at iodepth 1 (long enough for a loaded
# machine; stopped once measured)
sleeps() {
	local name=$1 pid=${PEER_PID[$1]} bp a b task=
	timeout -k 2 30 "$BENCH" blk --socket-path="$T/$name.sock" --rw=randread --iodepth=1 \
		--time=20 >"$T/$name.run.out" 2>&1 &
	bp=$!
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
		task=$(grep -lxE 'vhu-w0|vhu-q0' /proc/"$pid"/task/*/comm 2>/dev/null | head -n 1)
		[ -z "$task" ] || break
	done
	[ -n "$task" ] || fail "$name: no vhu-w0 or vhu-q0 worker thread in vhu-blk"
	task=${task%/comm}
	sleep 0.3
	a=$(sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "$task/status")
	sleep 1
	b=$(sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "$task/status")
	[ -n "$a" ] && [ -n "$b" ] || fail "$name: the worker went away: $(cat "$T/$name.run.out")"
	kill $bp 2>/dev/null
	wait $bp
	SLEEPS=$((b - a))
}

blk pw0 --poll-window=0
sleeps pw0
s0=$SLEEPS
verify pw0
stop_device pw0
blk pw1000 --poll-window=1000
sleeps pw1000
s1=$SLEEPS
verify pw1000
stop_device pw1000
blk poll --poll --poll-window=0
sleeps poll
s2=$SLEEPS
verify poll
stop_device poll
note "queue worker's sleeps in 1 s at one request in flight: --poll-window=0 $s0, --poll-window=1000 $s1, --poll $s2"
[ "$s0" -ge 200 ] || fail "--poll-window=0: the worker slept only $s0 times in 1 s: it is not sleeping between requests"
[ $((s1 * 10)) -le "$s0" ] ||
	fail "--poll-window=1000: the worker slept $s1 times, not well under --poll-window=0's $s0"
[ $((s2 * 20)) -le "$s0" ] || fail "--poll: the worker slept $s2 times (--poll-window=0: $s0)"
echo "PASS: vhu-blk --direct, --queue-size, --poll-window and --poll take effect; verify passes under each"
