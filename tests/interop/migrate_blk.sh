#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Live migration through lib/frontend (issue 16): vhu-bench blk --rw=verify
# turns dirty logging on, checks every page the back-end wrote into against
# the log (--log-check: 0 pages missed, or it fails), and half-way hands the
# running device over to a second back-end instance on the same image
# (--migrate-to: GET_VRING_BASE on the source, the same memory and ring
# positions on the destination); every block written is read back and
# checked on both sides of the switch-over, and the image checks out after.
#
#   migrate_blk.sh VHU_BENCH vhu-blk|qsd split|packed [VHU_BLK]
#
# qemu-storage-daemon (libvhost-user's log) is the peer nobody here wrote:
# it proves the front-end's log and switch-over against another back-end.
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || fail "usage: $0 VHU_BENCH vhu-blk|qsd split|packed [VHU_BLK]"
BENCH=$1 peer=$2 ring=$3 blk=${4:-}
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"

IMG=$T/disk.raw
truncate -s 64M "$IMG" || fail "cannot create $IMG"

start() { # NAME SOCK
	case $peer in
	vhu-blk)
		[ -x "$blk" ] || fail "vhu-blk '$blk' is not executable"
		start_peer "$1" "$T/$1.log" "$blk" --socket-path="$2" --blk-file="$IMG"
		;;
	qsd)
		need_cmd qemu-storage-daemon
		# two exports of one image, as two hosts on shared storage: no locks
		start_peer "$1" "$T/$1.log" qemu-storage-daemon \
			--blockdev "driver=file,node-name=f,filename=$IMG,locking=off,aio=io_uring" \
			--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$2,writable=on"
		;;
	*) fail "unknown peer '$peer'" ;;
	esac
	wait_socket "$2" "$1"
}
start src "$T/src.sock"
start dst "$T/dst.sock"

packed=
[ "$ring" = packed ] && packed=--packed
timeout 60 "$BENCH" blk --socket-path="$T/src.sock" --rw=verify --size=16M --time=4 \
	--log-check --migrate-to="$T/dst.sock" $packed >"$T/bench.out" 2>&1
rc=$?
cat "$T/bench.out"
if [ $rc -ne 0 ] && [ "$peer" = qsd ] && [ "$ring" = packed ] &&
	grep -q "does not offer packed" "$T/bench.out"; then
	skip "qemu-storage-daemon has no packed rings"
fi
[ $rc -eq 0 ] || fail "vhu-bench blk --log-check --migrate-to against $peer ($ring) exited with $rc"
grep -q "dirty log: .* 0 missed" "$T/bench.out" || fail "no log check in the output"
grep -q "handed over to" "$T/bench.out" || fail "no switch-over in the output"
peer_alive src || fail "the source died"
peer_alive dst || fail "the destination died"
# both exit cleanly on SIGTERM: a sanitizer report at exit fails the test
for p in src dst; do
	kill -TERM "${PEER_PID[$p]}"
	peer_wait_exit "$p" 10 || fail "$p did not exit on SIGTERM"
	[ "$PEER_RC" = 0 ] || fail "$p exited with $PEER_RC"
done
note "$peer $ring: log checked, device handed over, every block verified"
exit 0
