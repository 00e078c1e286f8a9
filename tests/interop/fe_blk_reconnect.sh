#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A crash-safe back-end, driven by vhu's front-end: vhu-bench blk
# --rw=verify --reconnect writes and reads back pass after pass while this
# script kills the back-end with SIGKILL at random moments (every 50-400 ms
# of its life) and starts it again on the same socket path. The front-end
# reconnects each time (vhu_frontend_reconnect: the kept inflight region, the
# rings resumed where they stand); the back-end resubmits what it had taken.
#
# Both peers are gated the same way: vhu-bench must exit 0 after
# >= MIN_RECONNECTS reconnects, with no failed request and no block read back
# wrong, and the image must hold the last pass's pattern in every block.
#
#   vhu-blk: 32 requests in flight (it keeps an inflight region and
#            resubmits what a kill cut off), split and packed rings.
#   qsd:     qemu-storage-daemon, split only (libvhost-user has no packed
#            ring), one request in flight: it keeps no inflight region and
#            completes out of order, so with more in flight a restart
#            completes some requests twice (docs/RELIABILITY.md). One at a
#            time, a restart resumes cleanly, so this proves vhu's front-end
#            reconnects to a back-end we did not write: each reconnect's
#            negotiation, memory table and ring resumption.
#
#   vhu-blk-client: the roles turned, as with QEMU's server=on: vhu-bench
#            --server listens, vhu-blk --client connects, and each new
#            incarnation finds the listening front-end by itself (back-off).
#
#   fe_blk_reconnect.sh VHU-BENCH vhu-blk|vhu-blk-client|qsd split|packed [VHU-BLK]
#
# Environment: RUN_SECONDS (bench --time, default 12; vhu-blk-client 6),
# MIN_RECONNECTS (default 10; vhu-blk-client 5), IODEPTH (default 32 for
# vhu-blk, 1 for qsd).
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || fail "usage: $0 VHU-BENCH vhu-blk|vhu-blk-client|qsd split|packed [VHU-BLK]"
BENCH=$1 peer=$2 ring=$3 BLK=${4:-}
# client mode repeats the vhu-blk case with the roles turned: a shorter run
if [ "$peer" = vhu-blk-client ]; then
	RUN=${RUN_SECONDS:-6}
	MIN_RECONNECTS=${MIN_RECONNECTS:-5}
else
	RUN=${RUN_SECONDS:-12}
	MIN_RECONNECTS=${MIN_RECONNECTS:-10}
fi
SIZE=$((16 << 20))
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"
need_cmd timeout
case $peer in
vhu-blk | vhu-blk-client) [ -x "$BLK" ] || skip "vhu-blk not built" ;;
qsd)
	[ "$ring" = split ] || fail "qemu-storage-daemon has no packed ring: only split applies"
	need_cmd qemu-storage-daemon
	;;
*) fail "unknown peer '$peer'" ;;
esac
packed=
[ "$ring" = packed ] && packed=--packed
client= server=
[ "$peer" = vhu-blk-client ] && client=--client server=--server

# The image on tmpfs when there is one: the kills should hit the ring, not the disk.
IMGDIR=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	IMGDIR=$(mktemp -d /dev/shm/vhu-rc-XXXXXX) || fail "mktemp in /dev/shm"
	on_cleanup "rm -rf -- '$IMGDIR'"
fi
IMG=$IMGDIR/disk.raw
SOCK=$T/blk.sock
truncate -s $SIZE "$IMG" || fail "cannot create $IMG"

incarnation=0
backend_start() {
	incarnation=$((incarnation + 1))
	case $peer in
	vhu-blk | vhu-blk-client)
		start_peer backend "$T/backend.$incarnation.log" "$BLK" --socket-path="$SOCK" \
			--blk-file="$IMG" $client
		;;
	qsd)
		start_peer backend "$T/backend.$incarnation.log" qemu-storage-daemon \
			--blockdev "driver=file,node-name=f,filename=$IMG" \
			--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$SOCK,writable=on"
		;;
	esac
}

backend_kill9() {
	local pid=${PEER_PID[backend]}
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	PEER_PID[backend]=
}

# A random pause of 50..399 ms.
nap() {
	sleep "0.$(printf %03d $((RANDOM % 350 + 50)))"
}

backend_start
# client mode: the bench makes the socket, the back-end finds it
[ -n "$client" ] || wait_socket "$SOCK" backend 10

if [ "$peer" = qsd ]; then
	IODEPTH=${IODEPTH:-1}
else
	IODEPTH=${IODEPTH:-32}
fi
cmd="vhu-bench blk --socket-path=S --rw=verify --size=16M --iodepth=$IODEPTH --time=$RUN --reconnect $server $packed --json"
timeout -k 2 $((RUN + 40)) "$BENCH" blk --socket-path="$SOCK" --rw=verify --size=$SIZE \
	--iodepth="$IODEPTH" --time="$RUN" --reconnect $server $packed --json >"$T/bench.json" 2>"$T/bench.err" &
bench_pid=$!
on_cleanup "kill $bench_pid 2>/dev/null"

# Kill and restart until two seconds before the bench's end, so it finishes its
# last pass against a back-end that stays.
kills=0
start=$SECONDS
sleep 0.5
while pid_running "$bench_pid" && ((SECONDS - start < RUN - 2)); do
	nap
	backend_kill9
	kills=$((kills + 1))
	backend_start
done
wait "$bench_pid"
rc=$?
elapsed=$((SECONDS - start))
# the last incarnation ends on SIGTERM: its exit status carries any
# sanitizer report
stop_device backend

# result TEXT: the outcome line (and the end of the bench's stderr on failure)
outcome() {
	echo "RESULT: $peer $ring: $*"
	echo "RESULT: $peer $ring: $kills SIGKILLs in ${elapsed}s; command: $cmd"
}

# What the bench said, as "key value" lines, or nothing.
summary=$("$PYTHON" - "$T/bench.json" <<'PY' 2>/dev/null
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("reconnects", "verified", "passes", "mismatches", "errors", "seconds"):
    print(k, r[k])
PY
)
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$summary"; }

# The image after the run: every block holds the last finished pass's pattern.
image_ok() {
	"$PYTHON" - "$IMG" "$1" <<'PY'
import struct, sys
img, last = sys.argv[1], int(sys.argv[2]) - 1
M = (1 << 64) - 1
bad = 0
with open(img, "rb") as f:
    block = 0
    while True:
        data = f.read(4096)
        if len(data) < 4096:
            break
        want = b"".join(struct.pack("<Q", ((block * 0x9e3779b97f4a7c15) & M) ^ ((i * 0xbf58476d1ce4e5b9) & M)
                                    ^ ((last * 0x94d049bb133111eb) & M)) for i in range(512))
        bad += data != want
        block += 1
print(f"image: {block} blocks, {bad} not holding pass {last}'s pattern")
sys.exit(bad != 0)
PY
}

reason=
if [ $rc -ne 0 ] || [ -z "$summary" ]; then
	reason="vhu-bench exited $rc: $(grep -v 'closed the connection\|reconnected to' "$T/bench.err" | tail -n 3 | tr '\n' ' ')"
elif [ "$(get mismatches)" != 0 ] || [ "$(get errors)" != 0 ]; then
	reason="$(get errors) failed requests, $(get mismatches) blocks read back wrong"
elif [ "$(get reconnects)" -lt "$MIN_RECONNECTS" ]; then
	reason="only $(get reconnects) reconnects (at least $MIN_RECONNECTS wanted)"
elif ! image_ok "$(get passes)" >"$T/image.out"; then
	reason="$(cat "$T/image.out")"
fi

if [ -n "$reason" ]; then
	cat "$T/bench.json" "$T/bench.err" 2>/dev/null | tail -n 30
	fail "$peer $ring under $kills SIGKILLs: $reason"
fi
cat "$T/image.out"
outcome "survives: $(get reconnects) reconnects, $(get verified) blocks verified, $(get passes) passes, image checked"
note "pass"
exit 0
