# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Guest script for `make demo`: use the vhu-blk disk and the vhu-rng device
# the way a user would, and say what happened in plain words.
wait_path /dev/vda 10
wait_path /dev/hwrng 10
bytes=$(blockdev --getsize64 /dev/vda)
note "I see a virtio-blk disk /dev/vda of $bytes bytes ($(cat /sys/block/vda/queue/nr_requests) request slots, $(ls -d /sys/block/vda/mq/* | wc -l) queue(s)) and a virtio-rng device ($(cat /sys/class/misc/hw_random/rng_current))."
msg="hello from the guest, written through vhu-blk at uptime $(cut -d' ' -f1 /proc/uptime)s"
printf '%s\n' "$msg" | dd of=/dev/vda bs=512 conv=sync,fsync status=none || fail "writing the message failed"
note "I wrote a message into sector 0: \"$msg\""
dd if=/dev/hwrng of=/tmp/random bs=1M count=4 iflag=fullblock status=none || fail "reading /dev/hwrng failed"
note "I read 4 MiB of random bytes from /dev/hwrng (served by vhu-rng); the first 16: $(head -c 16 /tmp/random | od -An -tx1 | tr -d ' \n')"
dd if=/tmp/random of=/dev/vda bs=1M seek=1 conv=fsync status=none || fail "writing the random data failed"
sum=$(sha256sum /tmp/random | cut -d' ' -f1)
echo 3 >/proc/sys/vm/drop_caches
blockdev --flushbufs /dev/vda
back=$(dd if=/dev/vda bs=1M skip=1 count=4 status=none | sha256sum | cut -d' ' -f1)
[ "$back" = "$sum" ] || fail "read back $back, wrote $sum"
note "I wrote those 4 MiB to the disk at 1 MiB, dropped my caches and read them back: sha256 $sum matches."
data demo_sha256="$sum"
