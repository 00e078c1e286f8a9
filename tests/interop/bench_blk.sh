#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-bench blk --rw=verify (vhu's front-end as the virtio driver) writes a
# pattern over a disk and reads it back, against real back-ends:
# qemu-storage-daemon (split; it has no packed ring) and vhu-blk (split,
# packed, 2 queues, the driver waiting on interrupts or busy-polling). The check must be able to fail: against vhu-blk's null
# disk, which drops writes, verify has to report mismatches and exit 1.
# A short randread run must also report IOPS and latencies.
#
#   bench_blk.sh VHU-BENCH VHU-BLK
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU-BENCH VHU-BLK"
BENCH=$1 BLK=$2
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"
[ -x "$BLK" ] || fail "vhu-blk '$BLK' is not executable"
need_cmd qemu-storage-daemon timeout

# bench NAME SOCK ARGS...: run vhu-bench blk, its JSON in $T/NAME.json
bench() {
	local name=$1 sock=$2
	shift 2
	timeout -k 2 60 "$BENCH" blk --socket-path="$sock" --json "$@" >"$T/$name.json" 2>"$T/$name.err"
	BENCH_RC=$?
}

# verify_ok NAME SOCK ARGS...: a verify pass with no failed request and no mismatch
verify_ok() {
	local name=$1
	bench "$@" --rw=verify --size=8M
	[ "$BENCH_RC" -eq 0 ] || fail "$name: vhu-bench exited $BENCH_RC: $(cat "$T/$name.err")"
	"$PYTHON" - "$T/$name.json" "$name" <<'PY' || fail "$name: bad result"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rw"] == "verify", r
assert r["ops"] == 2 * (8 << 20) // 4096, ("every block written then read", r["ops"])
assert r["errors"] == 0 and r["mismatches"] == 0, r
print(f"{sys.argv[2]}: verified {r['ops'] // 2} blocks, features {r['features']}")
PY
}

truncate -s 16M "$T/qsd.img"
start_peer qsd "$T/qsd.log" qemu-storage-daemon \
	--blockdev "driver=file,node-name=f,filename=$T/qsd.img" \
	--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$T/qsd.sock,writable=on"
wait_socket "$T/qsd.sock" qsd 10
verify_ok qsd_split "$T/qsd.sock"

truncate -s 16M "$T/blk.img"
start_peer vhu-blk "$T/vhu-blk.log" "$BLK" --socket-path="$T/blk.sock" --blk-file="$T/blk.img" --num-queues=2 \
	--queue-size=1024
wait_socket "$T/blk.sock" vhu-blk 10
verify_ok vhu_split "$T/blk.sock"
verify_ok vhu_packed "$T/blk.sock" --packed
verify_ok vhu_2queues "$T/blk.sock" --queues=2
# the driver's ways of waiting (interrupts; busy-polling with them off) and a 1024-entry ring
verify_ok vhu_wait_event "$T/blk.sock" --wait=event
verify_ok vhu_wait_poll "$T/blk.sock" --wait=poll --queue-size=1024
"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["wait"] == "poll" and r["queue_size"] == 1024, r' \
	"$T/vhu_wait_poll.json" || fail "vhu_wait_poll: --wait / --queue-size not reported"
"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert int(r["features"],16) >> 34 & 1' \
	"$T/vhu_packed.json" || fail "vhu_packed: the packed ring was not negotiated"

bench vhu_randread "$T/blk.sock" --rw=randread --iodepth=8 --time=1
[ "$BENCH_RC" -eq 0 ] || fail "randread: vhu-bench exited $BENCH_RC: $(cat "$T/vhu_randread.err")"
"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["iops"] > 0 and r["lat_us"]["p99"] >= r["lat_us"]["p50"] > 0, r' \
	"$T/vhu_randread.json" || fail "randread: no IOPS or latencies"

# the negative control: a disk that drops writes must fail verification
start_peer vhu-null "$T/vhu-null.log" "$BLK" --socket-path="$T/null.sock" --null-size=$((16 << 20))
wait_socket "$T/null.sock" vhu-null 10
bench null_verify "$T/null.sock" --rw=verify --size=8M
[ "$BENCH_RC" -eq 1 ] || fail "verify against a write-dropping disk exited $BENCH_RC, expected 1"
"$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["mismatches"] > 0, r' \
	"$T/null_verify.json" || fail "verify against a write-dropping disk saw no mismatch"
for p in qsd vhu-blk vhu-null; do
	stop_device $p
done
# vhu_2queues used queue 1 (the other runs only queue 0): vhu-blk's own count
counts=$(sed -n 's/^vhu-blk: requests per queue://p' "$T/vhu-blk.log" | tail -n 1)
case $counts in
*" 0="[1-9]*" 1="[1-9]*) note "vhu-blk requests per queue:$counts" ;;
*) fail "vhu-blk: a queue carried no request with --queues=2 (per queue:${counts:- none logged})" ;;
esac
echo "PASS: vhu-bench verify against qemu-storage-daemon and vhu-blk (split, packed, 2 queues); the null disk is caught"
