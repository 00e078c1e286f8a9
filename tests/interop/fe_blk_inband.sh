#!/bin/bash
# SPDX-License-Identifier: MIT
#
# In-band notifications end to end (issue 20): vhu-bench blk --inband (vhu's
# front-end, no kick or call eventfds: SET_VRING_KICK/CALL/ERR with NOFD)
# against vhu-blk. Every kick is a VRING_KICK message and every interrupt a
# BACKEND_VRING_CALL on the back-end channel, so the verify passes only if
# both directions work: split with 2 queues and --wait=event (the driver
# sleeps until a call comes), packed with 2 queues. vhu-blk's trace log
# must show VRING_KICK requests and no SET_VRING_KICK carrying an fd.
#
#   fe_blk_inband.sh VHU_BENCH VHU_BLK
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU_BENCH VHU_BLK"
BENCH=$1 BLK=$2
[ -x "$BENCH" ] || fail "vhu-bench '$BENCH' is not executable"
[ -x "$BLK" ] || fail "vhu-blk '$BLK' is not executable"

IMG=$T/disk.raw
SOCK=$T/blk.sock
truncate -s 64M "$IMG" || fail "cannot create $IMG"
start_peer vhu-blk "$T/vhu-blk.log" "$BLK" --socket-path="$SOCK" --blk-file="$IMG" \
	--num-queues=2 --log-level=trace
wait_socket "$SOCK" vhu-blk

run() {
	local name=$1
	shift
	timeout 20 "$BENCH" blk --socket-path="$SOCK" --rw=verify --size=4M --iodepth=8 \
		--inband "$@" >"$T/$name.out" 2>&1
	local rc=$?
	cat "$T/$name.out"
	[ $rc -eq 0 ] || fail "vhu-bench --inband $* exited with $rc (124: a lost kick or call)"
	grep -q "in-band notifications: no kick or call eventfds" "$T/$name.out" ||
		fail "$name: in-band notifications were not negotiated"
	grep -q "1024 blocks read back and checked" "$T/$name.out" ||
		fail "$name: not every block was verified"
}
run split --queues=2 --wait=event
run packed --queues=2 --packed
peer_alive vhu-blk || fail "vhu-blk died"
stop_device vhu-blk
kicks=$(grep -c "VHOST_USER_VRING_KICK" "$T/vhu-blk.log")
[ "$kicks" -ge 2 ] || fail "vhu-blk saw $kicks VRING_KICK requests"
grep -E "SET_VRING_(KICK|CALL).*nfds [1-9]" "$T/vhu-blk.log" &&
	fail "a ring got an eventfd although in-band notifications were negotiated"
note "in-band: verified I/O, split and packed, $kicks VRING_KICK requests"
exit 0
