#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A QEMU guest's vhu-blk disk is grown over the control socket while the
# guest runs (issue 22): the guest's /sys/block/vda/size shows the new
# capacity without a reboot (BACKEND_CONFIG_CHANGE_MSG -> a virtio config
# interrupt), a write past the old end works and reads back, and the host
# finds the guest's bytes in the image at that offset.
#
#   test-blk-resize.sh OUTDIR VHU-BLK VHU-CTL
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -eq 3 ] || fail "usage: $0 OUTDIR VHU-BLK VHU-CTL"
OUTDIR=$1 PROG=$2 CTL=$3
[ -x "$PROG" ] && [ -x "$CTL" ] || skip "vhu-blk or vhu-ctl is not built"
need_cmd sha256sum truncate
guest_build "$OUTDIR"
img=$T/disk.img
OLD=$((16 << 20)) NEW=$((48 << 20))
truncate -s "$OLD" "$img"
start_peer vhu-blk "$T/vhu-blk.log" "$PROG" --socket-path="$T/blk.sock" --blk-file="$img" \
	--control-socket="$T/ctl"
wait_socket "$T/blk.sock" vhu-blk 10
wait_socket "$T/ctl" vhu-blk 10

# Once the guest says it is ready, grow the disk (in the background: the
# guest runs in the foreground).
console=$T/console.log
(
	for _ in $(seq 1 1800); do
		if grep -q '^VHU-GUEST-DATA: resize_ready=1' "$console" 2>/dev/null; then
			"$CTL" -s "$T/ctl" export-resize name="$T/blk.sock" size=$NEW >"$T/resize.out" 2>&1
			echo "status $?" >>"$T/resize.out"
			exit 0
		fi
		sleep 0.1
	done
	echo "the guest never got ready" >"$T/resize.out"
) &
resizer=$!
guest_run --timeout 240 --log "$console" --vhost-user-blk "$T/blk.sock" \
	--env BLK_OLD_SECTORS=$((OLD / 512)) --env BLK_NEW_SECTORS=$((NEW / 512)) \
	"$GUEST_SRC/blk-resize.sh"
wait "$resizer"
cat "$T/resize.out"
grep -q '"notified":true' "$T/resize.out" || fail "export-resize did not tell the front-end"
peer_alive vhu-blk || fail "vhu-blk died while the guest ran"
stop_device vhu-blk
[ "$(stat -c %s "$img")" -eq "$NEW" ] || fail "the image is $(stat -c %s "$img") bytes, not $NEW"
mib=$(guest_get past_end_mib)
want=$(guest_get past_end_sha256)
[ -n "$mib" ] && [ -n "$want" ] || fail "the guest reported no write past the old end"
got=$(dd if="$img" bs=1M skip="$mib" count=1 status=none | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the image at MiB $mib holds other bytes than the guest wrote"
note "PASS: grown from $((OLD >> 20)) to $((NEW >> 20)) MiB under a running guest: it saw $(guest_get new_sectors) sectors, its write at MiB $mib is in the image"
