#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Crash-safe back-end (issue 6): a guest writes and verifies patterns
# continuously (blk-churn.sh) while this script kills the back-end with
# SIGKILL at random moments and starts it again on the same socket path;
# QEMU reconnects (-chardev reconnect=1) and hands the inflight region back.
# Pass: the guest finished every round with what it wrote read back, no I/O
# error and a clean dmesg, and the image holds the last pattern.
#
#   test-blk-kill.sh OUTDIR [options]
#
#   --backend-cmd 'CMD'   the back-end; @SOCK@ and @IMG@ are replaced (run
#                         through sh -c; it must listen on @SOCK@)
#   --backend qsd         qemu-storage-daemon instead (the comparison)
#   --packed              packed=on on the device
#   --client              QEMU listens (-chardev server=on,wait=off) and the
#                         back-end connects: --client is added to its command,
#                         and each incarnation finds QEMU again by itself
#   --kills N             SIGKILLs (default 10; up to 4 more while none has
#                         found a request in flight)
#   --secs S              how long the guest churns (default 45)
#   --report              do not fail on data loss: print what happened and
#                         exit 0 or 1 as usual for harness errors only
#                         (for comparisons, docs/RELIABILITY.md)
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 1 ] || fail "usage: $0 OUTDIR [options]"
OUTDIR=$1
shift
BACKEND_CMD='' QSD=0 PACKED=0 CLIENT=0 KILLS=10 SECS=45 REPORT=0
while [ $# -gt 0 ]; do
	case $1 in
	--backend-cmd) BACKEND_CMD=$2; shift ;;
	--backend) [ "$2" = qsd ] || fail "unknown back-end $2"; QSD=1; shift ;;
	--packed) PACKED=1 ;;
	--client) CLIENT=1 ;;
	--kills) KILLS=$2; shift ;;
	--secs) SECS=$2; shift ;;
	--report) REPORT=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
{ [ -n "$BACKEND_CMD" ] || [ "$QSD" = 1 ]; } || fail "--backend-cmd or --backend qsd"
[ "$CLIENT" = 0 ] || [ "$QSD" = 0 ] || fail "--client: qemu-storage-daemon has no client mode"
need_cmd sha256sum truncate
[ "$QSD" = 0 ] || need_cmd qemu-storage-daemon

t0=$(date +%s.%N)
guest_build "$OUTDIR"

IMG=$T/disk.img
SOCK=$T/blk.sock
BYTES=$((16 * 1024 * 1024))
truncate -s "$BYTES" "$IMG" || fail "cannot create $IMG"

GEN=0
CUR=
# Start incarnation N of the back-end and wait until it listens (--client:
# the socket is QEMU's; the back-end connects when it can).
backend_start() {
	GEN=$((GEN + 1))
	CUR=backend$GEN
	if [ "$QSD" = 1 ]; then
		# a throttle (200 requests/s) keeps requests in flight, as --delay-us does for vhu-blk
		start_peer "$CUR" "$T/$CUR.log" qemu-storage-daemon \
			--object throttle-group,id=tg0,x-iops-total=200 \
			--blockdev "driver=file,node-name=file0,filename=$IMG" \
			--blockdev "driver=raw,node-name=raw0,file=file0" \
			--blockdev "driver=throttle,node-name=disk0,throttle-group=tg0,file=raw0" \
			--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$SOCK,writable=on,num-queues=1"
		wait_socket "$SOCK" "$CUR" 10
	else
		local cmd=${BACKEND_CMD//@SOCK@/$SOCK}
		cmd=${cmd//@IMG@/$IMG}
		if [ "$CLIENT" = 1 ]; then
			start_peer "$CUR" "$T/$CUR.log" sh -c "exec $cmd --client"
		else
			start_peer "$CUR" "$T/$CUR.log" sh -c "exec $cmd"
			wait_socket "$SOCK" "$CUR" 10
		fi
	fi
}

backend_kill9() {
	local pid=${PEER_PID[$CUR]}
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	PEER_PID[$CUR]=
}

# Wait until QEMU came back to the current back-end: a connection on its
# socket (QEMU's listener and the connection it accepted, or our listener
# and the connection from QEMU: two entries at the path either way).
wait_reconnected() {
	local i
	for ((i = 0; i < 100; i++)); do
		# --client: the back-end says so (QEMU's old connection may linger)
		if [ "$CLIENT" = 1 ]; then
			if grep -q "connected to $SOCK" "$T/$CUR.log" 2>/dev/null; then
				return 0
			fi
		# a connected (not listening) stream socket of ours at that path
		elif [ "$(awk -v p="$SOCK" '$NF == p' /proc/net/unix | wc -l)" -ge 2 ]; then
			return 0
		fi
		peer_alive "$CUR" || fail "back-end $CUR died on its own"
		sleep 0.1
	done
	fail "QEMU and $CUR did not reconnect within 10s"
}

rand_ms() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

backend_start

DEVOPTS=num-queues=1,reconnect=1
[ "$CLIENT" = 0 ] || DEVOPTS=num-queues=1,server=on
[ "$PACKED" = 0 ] || DEVOPTS="$DEVOPTS,packed=on"
CONSOLE=$T/console.log
DATA=$T/guest.data
note "guest: vhost-user-blk-pci $DEVOPTS, 16 MiB, churn ${SECS}s, $KILLS SIGKILLs"
"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
	--timeout $((SECS + 120)) --log "$CONSOLE" --data "$DATA" \
	--vhost-user-blk "$SOCK,$DEVOPTS" --env CHURN_SECS="$SECS" \
	"$GUEST_SRC/blk-churn.sh" >"$T/run-guest.out" 2>&1 &
GPID=$!
on_cleanup "kill $GPID 2>/dev/null"

# the guest is churning once it says so
for ((i = 0; i < 1200; i++)); do
	grep -q 'churn_start=1' "$CONSOLE" 2>/dev/null && break
	pid_running "$GPID" || break
	sleep 0.1
done
grep -q 'churn_start=1' "$CONSOLE" 2>/dev/null || {
	cat "$T/run-guest.out"
	wait "$GPID"
	[ $? -ne 77 ] || skip "$(sed -n 's/^SKIP: //p' "$T/run-guest.out" | tail -n 1)"
	fail "the guest never started churning"
}

resubmitted() { cat "$T"/backend*.log 2>/dev/null | grep -c 'resubmitted'; }
# A few kills may all miss the requests in flight (at --delay-us=20000 about
# one in four does): up to 4 more, until one has hit (vhu-blk only).
more_kills() {
	[ "$QSD" = 0 ] && [ "$REPORT" = 0 ] && [ "$kills" -lt $((KILLS + 4)) ] &&
		[ "$(resubmitted)" -eq 0 ]
}
kills=0
while { [ "$kills" -lt "$KILLS" ] || more_kills; } && pid_running "$GPID"; do
	sleep_ms "$(rand_ms 100 900)" # mid-I/O: the guest always has requests out
	pid_running "$GPID" || break
	backend_kill9
	kills=$((kills + 1))
	sleep_ms "$(rand_ms 0 400)"
	backend_start
	wait_reconnected
	[ "$kills" -lt "$KILLS" ] || sleep 1 # its rings start, then it logs a resubmission
done
note "killed the back-end $kills times"

wait "$GPID"
GRC=$?
cat "$T/run-guest.out"
resub=$(resubmitted)
note "back-end logs: $resub ring start(s) resubmitted requests in flight"
# the last incarnation ends on SIGTERM; its exit status carries any
# sanitizer report
if peer_alive "$CUR"; then
	stop_device "$CUR"
else
	fail "the back-end ($CUR) died by itself: $(tail -n 3 "$T/$CUR.log" 2>/dev/null | tr '\n' ' ')"
fi

outcome() {
	if [ "$REPORT" = 1 ]; then
		note "REPORT: $*"
		exit 0
	fi
	fail "$*"
}
[ "$kills" -ge "$KILLS" ] || outcome "the guest ended after $kills of $KILLS kills (status $GRC)"
[ "$GRC" -eq 0 ] || outcome "the guest failed after $kills kills: $(sed -n 's/^FAIL: //p' "$T/run-guest.out" | tail -n 1)"
# the guest's KEY=VALUE lines are data, never shell: read them with guest_get
GUEST_DATA=$DATA
rounds=$(guest_get rounds) features=$(guest_get features) sha256=$(guest_get sha256)
case $rounds in '' | *[!0-9]*) outcome "the guest reported rounds='$rounds', not a number" ;; esac
[ "${rounds:-0}" -ge 1 ] || outcome "the guest verified no round"
[ "$PACKED" = 0 ] || [ "$(feature_bit "${features:-}" 34)" = 1 ] ||
	fail "VIRTIO_F_RING_PACKED not negotiated (features ${features:-?})"
# a back-end that tracks inflight I/O logs each resubmission: the kills hit
# requests in flight (with vhu-blk --delay-us nearly every one does)
[ "$QSD" = 1 ] || [ "$REPORT" = 1 ] || [ "$resub" -ge 1 ] ||
	fail "no kill found a request in flight: the resubmission path was not exercised"
got=$(head -c "$BYTES" "$IMG" | sha256sum | cut -d' ' -f1)
[ "$got" = "${sha256:-}" ] || outcome "image sha256 $got is not the guest's last pattern ${sha256:-}"
if [ "$REPORT" = 1 ]; then
	note "REPORT: survived $kills SIGKILLs: $rounds rounds verified, image matches"
fi
note "PASS: $kills SIGKILLs ($resub found requests in flight), $rounds rounds verified, no I/O error, image matches; $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
