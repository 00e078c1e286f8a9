#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-blk's default mode (adaptive polling, lib/backend/worker.c):
#   idle:     with a driver connected and its rings running but nothing sent,
#             vhu-blk uses no CPU: its user + system time over one second
#             stays within 2 clock ticks (a sleeping process gets none, however
#             loaded the machine; a polling one gets its share);
#   no lost wake-up: one request at a time (nothing else would wake the
#             worker), each published after a random pause of 0..60 us, so
#             requests reach the worker at every point of its poll window and
#             right as it turns kicks back on to sleep; the driver either
#             sleeps on interrupts or busy-polls. A request the worker slept
#             through would stall the run (vhu-bench fails after 10 s without
#             a completion). Mostly without event idx: with it, the first
#             request after a wake-up kicks (avail_event is current then) and
#             that kick, unread while the worker polls, wakes it anyway; the
#             flags leave no such slack. Null disk (completed inside the kick), a file
#             (page-cache hits complete inside the io_uring submit) and an
#             O_DIRECT file (completions come later, by the eventfd), split
#             and packed, verify included.
#
#   blk_adaptive.sh VHU-BENCH VHU-BLK
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU-BENCH VHU-BLK"
BENCH=$1 BLK=$2
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"
[ -x "$BLK" ] || fail "vhu-blk '$BLK' is not executable"
need_cmd timeout

ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

truncate -s 64M "$T/disk.img"
start_peer file "$T/file.log" "$BLK" --socket-path="$T/file.sock" --blk-file="$T/disk.img"
start_peer null "$T/null.log" "$BLK" --socket-path="$T/null.sock" --null-size=$((64 << 20))
truncate -s 64M "$T/direct.img"
start_peer direct "$T/direct.log" "$BLK" --socket-path="$T/direct.sock" --blk-file="$T/direct.img" --direct
wait_socket "$T/file.sock" file 10
wait_socket "$T/null.sock" null 10
wait_socket "$T/direct.sock" direct 10

# ---- idle: a connected driver that sends nothing --------------------------------
timeout -k 2 60 "$BENCH" blk --socket-path="$T/file.sock" --iodepth=8 --time=1 --wait=poll \
	--idle=4 >"$T/idle.out" 2>"$T/idle.err" &
bp=$!
for ((i = 0; i < 300; i++)); do
	grep -q 'vhu-bench: idle' "$T/idle.err" && break
	sleep 0.1
done
grep -q 'vhu-bench: idle' "$T/idle.err" || fail "vhu-bench never went idle: $(cat "$T/idle.err")"
sleep 0.3 # the last poll window closes (at most 32 us)
pid=${PEER_PID[file]}
a=$(ticks "$pid")
sleep 1
b=$(ticks "$pid")
wait $bp || fail "the idle run failed: $(cat "$T/idle.err")"
note "vhu-blk CPU over 1 s with an idle driver connected: $((b - a)) ticks ($(getconf CLK_TCK) a second)"
[ $((b - a)) -le 2 ] || fail "vhu-blk used $((b - a)) clock ticks in 1 s with an idle driver: it does not sleep"

# ---- no lost wake-up --------------------------------------------------------------
# race NAME SOCK ARGS...: 2 s at iodepth 1 with random pauses; must finish clean
race() {
	local name=$1 sock=$2
	shift 2
	timeout -k 2 60 "$BENCH" blk --socket-path="$sock" --iodepth=1 --think-us=60 --json "$@" \
		>"$T/$name.json" 2>"$T/$name.err"
	local rc=$?
	[ $rc -eq 0 ] || fail "$name: vhu-bench exited $rc (a stall is a lost wake-up): $(cat "$T/$name.err")"
	note "$name: $("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["ops"], "requests, p99.9", r["lat_us"]["p999"], "us")' "$T/$name.json")"
}
race null_event "$T/null.sock" --wait=event --time=1 --no-event-idx
race null_poll "$T/null.sock" --wait=poll --time=1 --no-event-idx
race null_packed "$T/null.sock" --wait=poll --packed --time=2 --no-event-idx
race null_event_idx "$T/null.sock" --wait=poll --time=1
race file_event "$T/file.sock" --wait=event --time=1 --no-event-idx
race file_verify "$T/file.sock" --wait=poll --rw=verify --size=4M --no-event-idx
race direct_verify "$T/direct.sock" --wait=event --rw=verify --size=4M
stop_device direct
stop_device file
stop_device null
echo "PASS: vhu-blk idles at no CPU and serves requests that race its sleep"
