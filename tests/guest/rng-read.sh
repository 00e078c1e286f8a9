# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154,SC2012
#
# Guest script: read from a virtio-rng device through /dev/hwrng and check
# that the bytes look random (not constant, not all zero).
#
# Environment (run-guest.sh --env):
#   RNG_BYTES   how many bytes to read (default 4096)
n=0
while [ -z "$(virtio_devs 4)" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "no virtio-rng device appeared within 10s"
	usleep 100000
done
wait_path /dev/hwrng 10
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case $cur in
virtio_rng*) ;;
*) fail "the current hwrng is '$cur', not virtio_rng (available: $(cat /sys/class/misc/hw_random/rng_available 2>/dev/null))" ;;
esac
want=${RNG_BYTES:-4096}
t0=$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/hwrng of=/tmp/rng bs=512 count=$(((want + 511) / 512)) iflag=fullblock status=none ||
	fail "reading /dev/hwrng failed"
t1=$(cut -d' ' -f1 /proc/uptime)
got=$(wc -c </tmp/rng)
[ "$got" -ge "$want" ] || fail "read $got of $want bytes from /dev/hwrng"
# 4096 random bytes take at least ~200 distinct values; a stuck device gives 1.
distinct=$(od -An -v -tu1 /tmp/rng | tr -s ' ' '\n' | grep -v '^$' | sort -u | wc -l)
[ "$distinct" -ge 64 ] || fail "only $distinct distinct byte values in $got bytes from /dev/hwrng"
data rng_bytes="$got" rng_distinct="$distinct" rng_device="$cur" \
	rng_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
note "read $got bytes from $cur ($distinct distinct byte values)"
