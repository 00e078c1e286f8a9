#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lib/frontend drives a real vhost-user-blk back-end: vhu-blk or
# qemu-storage-daemon. fe_blk_check writes a pattern, reads it back, FLUSHes
# and asks GET_ID (see fe_blk_check.c). split-ro and packed-ro: vhu-blk
# --read-only over an image of random bytes; every write must fail with
# IOERR and the image must be unchanged.
#
#   fe_blk.sh FE_BLK_CHECK vhu-blk|qsd split|packed|split-ro|packed-ro [VHU_BLK]
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || fail "usage: $0 FE_BLK_CHECK vhu-blk|qsd split|packed [VHU_BLK]"
CHECK=$1 peer=$2 ring=$3 blk=${4:-}
[ -x "$CHECK" ] || fail "fe_blk_check '$CHECK' is not executable"

IMG=$T/disk.raw
SOCK=$T/blk.sock
truncate -s 64M "$IMG" || fail "cannot create $IMG"
serial=
ro=()
case $ring in
*-ro)
	[ "$peer" = vhu-blk ] || fail "the read-only check is for vhu-blk"
	head -c $((1 << 20)) /dev/urandom | dd of="$IMG" conv=notrunc status=none
	ro=(--read-only)
	;;
esac
before=$(sha256sum <"$IMG")

case $peer in
vhu-blk)
	[ -x "$blk" ] || skip "vhu-blk not built"
	serial=vhu-fe-check
	start_peer vhu-blk "$T/vhu-blk.log" "$blk" --socket-path="$SOCK" --blk-file="$IMG" \
		--serial=$serial "${ro[@]}"
	wait_socket "$SOCK" vhu-blk
	;;
qsd)
	need_cmd qemu-storage-daemon
	start_peer qsd "$T/qsd.log" qemu-storage-daemon \
		--blockdev "driver=file,node-name=f,filename=$IMG" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$SOCK,writable=on"
	wait_socket "$SOCK" qsd
	;;
*) fail "unknown peer '$peer'" ;;
esac

timeout 60 "$CHECK" "$SOCK" "$ring" $serial >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
[ $rc -eq 77 ] && skip "$peer: no $ring ring"
[ $rc -eq 0 ] || fail "fe_blk_check against $peer ($ring) exited with $rc"
peer_alive "$peer" || fail "$peer died during the check"
stop_device "$peer"
if [ ${#ro[@]} -gt 0 ]; then
	[ "$(sha256sum <"$IMG")" = "$before" ] || fail "the read-only image changed"
fi
note "$peer $ring: pass"
exit 0
