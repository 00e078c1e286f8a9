#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vhu-blk features a guest can observe beyond read/write (issue 3):
#   test-blk-ops.sh OUTDIR VHU-BLK readonly   the disk is read-only: writes fail,
#                                             and the image is unchanged afterwards
#   test-blk-ops.sh OUTDIR VHU-BLK discard    DISCARD punches a hole in the image,
#                                             the data around it is intact
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -eq 3 ] || fail "usage: $0 OUTDIR VHU-BLK readonly|discard"
OUTDIR=$1 PROG=$2 MODE=$3
[ -x "$PROG" ] || skip "$PROG is not built"
guest_build "$OUTDIR"
img=$T/disk.img
head -c $((8 << 20)) /dev/urandom >"$img"
before=$(sha256sum <"$img" | cut -d' ' -f1)
case $MODE in
readonly)
	start_peer vhu-blk "$T/vhu-blk.log" "$PROG" --socket-path="$T/blk.sock" --blk-file="$img" --read-only
	script=blk-ro.sh ;;
discard)
	start_peer vhu-blk "$T/vhu-blk.log" "$PROG" --socket-path="$T/blk.sock" --blk-file="$img"
	script=blk-discard.sh ;;
*) fail "unknown mode $MODE" ;;
esac
wait_socket "$T/blk.sock" vhu-blk 10
guest_run --vhost-user-blk "$T/blk.sock" "$GUEST_SRC/$script"
stop_device vhu-blk
case $MODE in
readonly)
	[ "$(sha256sum <"$img" | cut -d' ' -f1)" = "$before" ] || fail "the read-only image changed"
	want=$(head -c $((1 << 20)) "$img" | sha256sum | cut -d' ' -f1)
	[ "$(guest_get ro_first_mib_sha256)" = "$want" ] || fail "the guest read different bytes than the image holds"
	note "PASS: read-only disk: guest reads match the image, its write was refused, image unchanged" ;;
discard)
	[ "$(guest_get discard_ok)" = 1 ] || fail "the guest did not finish"
	# the discarded MiB is a hole in the image now (vhu-blk punches it)
	holes=$(python3 -c 'import os,sys
f=os.open(sys.argv[1],os.O_RDONLY)
try: print(os.lseek(f,1<<20,os.SEEK_HOLE) < (2<<20))
except OSError: print(False)' "$img")
	[ "$holes" = True ] || fail "no hole in the image where the guest discarded"
	note "PASS: the guest's discard punched a hole in the image; the data around it is intact" ;;
esac
