# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Guest script: the vhost-user-blk disk is read-only (VIRTIO_BLK_F_RO). The
# kernel must see it read-only, reads must work, and a write must fail.
wait_path /dev/vda 10
[ "$(cat /sys/block/vda/ro)" = 1 ] || fail "/sys/block/vda/ro is $(cat /sys/block/vda/ro), expected 1"
sum=$(dd if=/dev/vda bs=1M count=1 status=none | sha256sum | cut -d' ' -f1) || fail "reading failed"
if printf 'x' | dd of=/dev/vda bs=512 count=1 conv=sync,fsync status=none 2>/dev/null; then
	fail "a write to the read-only disk succeeded"
fi
data ro_first_mib_sha256="$sum"
note "read-only: reads work, the write was refused"
