# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Guest script: the disk grows while the guest runs (issue 22). It reports
# its size, says it is ready (the host then calls export-resize on vhu-blk's
# control socket), waits for /sys/block/vda/size to change without a
# reboot, then writes 1 MiB past the old end and reads it back through a
# dropped page cache. BLK_OLD_SECTORS and BLK_NEW_SECTORS: the sizes wanted.
wait_path /dev/vda 10
old=$(cat /sys/block/vda/size)
[ "$old" = "$BLK_OLD_SECTORS" ] || fail "/sys/block/vda/size is $old, expected $BLK_OLD_SECTORS"
data resize_ready=1
n=0
while [ "$(cat /sys/block/vda/size)" = "$old" ]; do
	n=$((n + 1))
	[ "$n" -lt 1200 ] || fail "/sys/block/vda/size stayed $old for 120 s"
	usleep 100000
done
new=$(cat /sys/block/vda/size)
data new_sectors="$new"
[ "$new" = "$BLK_NEW_SECTORS" ] || fail "/sys/block/vda/size became $new, expected $BLK_NEW_SECTORS"
note "the disk grew from $old to $new sectors; $(dmesg | grep -i 'new size\|capacity change' | tail -n 1)"
# 1 MiB starting 1 MiB past the old end
seek=$((old / 2048 + 1))
dd if=/dev/urandom of=/tmp/p bs=1M count=1 status=none
dd if=/tmp/p of=/dev/vda bs=1M seek="$seek" conv=fsync status=none || fail "writing past the old end failed"
blockdev --flushbufs /dev/vda
echo 3 >/proc/sys/vm/drop_caches
a=$(sha256sum </tmp/p | cut -d' ' -f1)
b=$(dd if=/dev/vda bs=1M skip="$seek" count=1 status=none | sha256sum | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "the MiB written past the old end read back differently"
data past_end_mib="$seek" past_end_sha256="$a"
note "written past the old end and read back"
