# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Guest script: DISCARD. Fill the first 4 MiB with a pattern and discard
# 1 MiB at 1 MiB; the other MiBs must be intact (the host then checks the
# discarded range became a hole). busybox cannot issue WRITE_ZEROES
# (no blkdiscard -z): that request is covered by tests/unit/test_blkdev.c.
wait_path /dev/vda 10
[ "$(cat /sys/block/vda/queue/discard_max_bytes)" -gt 0 ] || fail "the disk offers no discard"
dd if=/dev/urandom of=/tmp/p bs=1M count=4 status=none
dd if=/tmp/p of=/dev/vda bs=1M conv=fsync status=none || fail "writing the pattern failed"
blkdiscard -o $((1 << 20)) -l $((1 << 20)) /dev/vda || fail "blkdiscard failed"
blockdev --flushbufs /dev/vda
echo 3 >/proc/sys/vm/drop_caches
for mib in 0 2 3; do
	a=$(dd if=/tmp/p bs=1M skip=$mib count=1 status=none | sha256sum | cut -d' ' -f1)
	b=$(dd if=/dev/vda bs=1M skip=$mib count=1 status=none | sha256sum | cut -d' ' -f1)
	[ "$a" = "$b" ] || fail "MiB $mib changed although it was not discarded"
done
data discard_ok=1
note "discard done; the data around it is intact"
