# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154,SC2012
#
# Guest script: read from a virtio-rng device through /dev/hwrng twice and
# check that the bytes look random: a chi-square test over the 256 byte values
# of each read (255 degrees of freedom; outside 161..377 happens to random
# bytes with a probability of 2e-6, and catches a constant, a counter, a
# skewed or a too-even source), and the two reads differ (a device that
# hands out the same buffer again would pass the first test).
#
# Environment (run-guest.sh --env):
#   RNG_BYTES   how many bytes each read takes (default 4096; at least 2560,
#               ten per value, for the test to mean something)
n=0
while [ -z "$(virtio_devs 4)" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "no virtio-rng device appeared within 10s"
	usleep 100000
done
wait_path /dev/hwrng 10
vdev=$(virtio_devs 4 | head -n 1)
features=$(cat "/sys/bus/virtio/devices/$vdev/features" 2>/dev/null)
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case $cur in
virtio_rng*) ;;
*) fail "the current hwrng is '$cur', not virtio_rng (available: $(cat /sys/class/misc/hw_random/rng_available 2>/dev/null))" ;;
esac

want=${RNG_BYTES:-4096}
[ "$want" -ge 2560 ] || fail "RNG_BYTES=$want: at least 2560 bytes for the chi-square test"
t0=$(cut -d' ' -f1 /proc/uptime)
for r in a b; do
	dd if=/dev/hwrng of=/tmp/rng.$r bs=512 count=$(((want + 511) / 512)) iflag=fullblock \
		status=none || fail "reading /dev/hwrng failed"
done
t1=$(cut -d' ' -f1 /proc/uptime)
got=$(wc -c </tmp/rng.a)
[ "$got" -ge "$want" ] && [ "$(wc -c </tmp/rng.b)" -ge "$want" ] ||
	fail "read $got of $want bytes from /dev/hwrng"
cmp -s /tmp/rng.a /tmp/rng.b && fail "two reads of /dev/hwrng returned the same $got bytes"
# chi2 FILE: the chi-square statistic of FILE's byte values against uniform
chi2() {
	od -An -v -tu1 "$1" | awk '{ for (i = 1; i <= NF; i++) c[$i]++; n += NF }
		END { e = n / 256; for (v = 0; v < 256; v++) { d = c[v] - e; x += d * d / e }
		      printf "%.1f", x }'
}
ca=$(chi2 /tmp/rng.a) cb=$(chi2 /tmp/rng.b)
for x in "$ca" "$cb"; do
	awk -v x="$x" 'BEGIN { exit !(x > 161 && x < 377) }' ||
		fail "chi-square of the byte values is $x, outside 161..377 (255 degrees of freedom): not uniform random bytes"
done
data rng_bytes="$got" rng_chi2_a="$ca" rng_chi2_b="$cb" rng_device="$cur" features="$features" \
	rng_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
note "read 2 x $got bytes from $cur: chi-square $ca and $cb (255 degrees of freedom), the reads differ"
