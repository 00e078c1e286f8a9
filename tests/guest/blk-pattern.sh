# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154,SC2012
#
# Guest script (run by /init, helpers from initlib.sh): write a random pattern
# over a whole virtio-blk disk, flush, drop the caches, read it back and
# compare. Prints for the host:
#
#   VHU-GUEST-DATA: sha256=<hex of what was written> bytes=<N> queues=<Q>
#                   features=<the device's feature bit string> ...
#
# With more than one vCPU the disk is cut into 2*ncpus parts and every CPU
# writes and reads its parts from its own CPU (taskset), so that blk-mq uses
# every queue. Even parts go in 1 MiB O_DIRECT requests, odd parts in 4 KiB
# buffered writes and an fsync (a FLUSH request): both large and small
# requests on the rings.
#
# Environment (run-guest.sh --env):
#   BLK_DEV      the disk (default: the first virtio-blk disk)
#   BLK_QUEUES   fail unless the disk has this many blk-mq hardware queues
#   BLK_BYTES    fail unless the disk has this many bytes
#   BLK_MAX      write at most this many bytes (default 192 MiB: the pattern
#                and the read-back copy live in tmpfs)
#   BLK_IOMMU    1: the device sits behind a virtual IOMMU (intel-iommu,
#                device-iotlb): fail unless VIRTIO_F_ACCESS_PLATFORM is
#                negotiated, the device's iommu group has a translating DMA
#                domain, ATS is enabled in its config space, and the run (from
#                the moment the disk is there) left no DMAR fault in dmesg.
#                Reports iommu_type= ats= dmar_faults= probe_dmar_faults=: the
#                latter are faults from before, which QEMU 7.2 itself causes
#                while the driver probes (tests/guest/README.md)

dev=${BLK_DEV:-}
if [ -z "$dev" ]; then
	n=0
	while [ -z "$dev" ]; do
		dev=$(virtio_blk_disks | head -n 1)
		[ -n "$dev" ] && break
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "no virtio-blk disk appeared within 10s (virtio devices: $(ls /sys/bus/virtio/devices | tr '\n' ' '))"
		usleep 100000
	done
fi
wait_path "$dev" 10
name=${dev##*/}
sys=/sys/block/$name

sectors=$(cat "$sys/size") || fail "cannot read $sys/size"
bytes=$((sectors * 512))
[ "$bytes" -gt 0 ] || fail "$dev has size 0"
[ -z "${BLK_BYTES:-}" ] || [ "$bytes" -eq "$BLK_BYTES" ] ||
	fail "$dev has $bytes bytes, expected $BLK_BYTES"
max=${BLK_MAX:-$((192 * 1024 * 1024))}
[ "$bytes" -le "$max" ] || bytes=$max

# virtio-blk makes one blk-mq queue per virtqueue, but no more than the guest
# has CPUs: 4 virtqueues on 2 vCPUs give 2 hardware queues.
queues=$(ls -d "$sys"/mq/* 2>/dev/null | wc -l)
ncpu=$(grep -c ^processor /proc/cpuinfo)
want=${BLK_QUEUES:-}
[ -z "$want" ] || [ "$want" -le "$ncpu" ] || want=$ncpu
[ -z "$want" ] || [ "$queues" -eq "$want" ] ||
	fail "$dev has $queues blk-mq queues, expected $want (${BLK_QUEUES} virtqueues, $ncpu CPUs)"
vdev=$(basename "$(readlink -f "$sys/device")")
features=$(cat "/sys/bus/virtio/devices/$vdev/features" 2>/dev/null)
ro=$(cat "$sys/ro")
[ "$ro" = 0 ] || fail "$dev is read-only"
cpus=$(nproc)
# iommu_checks: the device's DMA goes through the IOMMU (BLK_IOMMU=1)
iommu_checks() {
	[ "$(echo "$features" | cut -c34)" = 1 ] ||
		fail "VIRTIO_F_ACCESS_PLATFORM (bit 33) not negotiated: features $features"
	ls /sys/class/iommu/ 2>/dev/null | grep -q . || fail "no IOMMU in /sys/class/iommu"
	pdev=$(readlink -f "/sys/bus/virtio/devices/$vdev/..")
	[ -e "$pdev/iommu_group" ] || fail "$pdev has no iommu group"
	iommu_type=$(cat "$pdev/iommu_group/type" 2>/dev/null)
	# strict mode: DMA (DMA-FQ would be lazy invalidation; identity no translation)
	[ "$iommu_type" = DMA ] || fail "iommu group of $pdev is '$iommu_type', not a strict DMA domain"
	# ATS: the PCIe extended capability 0x0f, Enable in bit 15 of its control word
	ats=absent
	off=256
	while [ "$off" -ge 256 ]; do
		hdr=$(hexdump -s "$off" -n 4 -e '1/4 "%08x"' "$pdev/config" 2>/dev/null)
		[ -n "$hdr" ] && [ "$hdr" != 00000000 ] || break
		if [ $((0x$hdr & 0xffff)) -eq 15 ]; then
			ctl=$(hexdump -s $((off + 6)) -n 2 -e '1/2 "%04x"' "$pdev/config")
			ats=off
			[ $((0x$ctl & 0x8000)) -eq 0 ] || ats=on
			break
		fi
		off=$(((0x$hdr >> 20) & 0xffc))
	done
	[ "$ats" = on ] || fail "ATS is $ats on $pdev (ats=on, device-iotlb=on expected)"
	note "IOMMU: $(ls /sys/class/iommu | tr '\n' ' ')group $(basename "$(readlink -f "$pdev/iommu_group")") type $iommu_type, ATS $ats"
}

dmar_faults() {
	dmesg | grep -c 'DMAR: \[DMA \|DMAR: DRHD: handling fault\|PTE Read access is not set\|PTE Write access is not set'
}

probe_faults=0
if [ "${BLK_IOMMU:-0}" = 1 ]; then
	iommu_checks
	probe_faults=$(dmar_faults)
fi

# How the device interrupts: MSI-X vectors or a shared INTx line.
irq=intx
grep -q "$vdev-\(config\|req\|virtqueues\)" /proc/interrupts && irq=msix

note "$dev: $bytes bytes, $queues queue(s), $cpus cpu(s), irq $irq, features $features"

# 1 MiB units; the parts are whole MiB except the last one.
mib=$((1024 * 1024))
[ $((bytes % 4096)) -eq 0 ] || fail "$dev size $bytes is not a multiple of 4096"
parts=$((2 * cpus))
units=$(((bytes + mib - 1) / mib))
[ "$units" -ge "$parts" ] || parts=1
per=$((units / parts))

t0=$(cut -d' ' -f1 /proc/uptime)
head -c "$bytes" /dev/urandom >/tmp/pattern || fail "cannot make the pattern (tmpfs full?)"
want=$(sha256sum </tmp/pattern | cut -d' ' -f1)

# part P covers MiB [P*per, (P+1)*per), the last one up to the end: prints
# "offset length" in bytes
part_range() {
	_off=$(($1 * per * mib))
	if [ "$1" -eq $((parts - 1)) ]; then
		echo "$_off $((bytes - _off))"
	else
		echo "$_off $((per * mib))"
	fi
}

# write_part P: copy part P of /tmp/pattern to the disk
write_part() {
	# shellcheck disable=SC2046 # two numbers
	set -- "$1" $(part_range "$1")
	if [ $(($1 % 2)) -eq 0 ]; then
		$PIN dd if=/tmp/pattern of="$dev" bs=1M iflag=skip_bytes,count_bytes \
			oflag=seek_bytes,direct skip="$2" seek="$2" count="$3" conv=notrunc status=none
	else
		$PIN dd if=/tmp/pattern of="$dev" bs=4K iflag=skip_bytes,count_bytes \
			oflag=seek_bytes skip="$2" seek="$2" count="$3" conv=notrunc,fsync status=none
	fi
}

# read_part P: copy part P of the disk to /tmp/readback, bypassing the cache
read_part() {
	# shellcheck disable=SC2046
	set -- "$1" $(part_range "$1")
	$PIN dd if="$dev" of=/tmp/readback bs=256K iflag=skip_bytes,count_bytes,direct \
		oflag=seek_bytes skip="$2" seek="$2" count="$3" conv=notrunc status=none
}

# on_each_cpu FUNCTION: run FUNCTION P for every part, the parts of CPU C on
# CPU C in order, the CPUs in parallel; fails if any call failed
on_each_cpu() {
	_pids=
	_c=0
	while [ "$_c" -lt "$cpus" ]; do
		(
			PIN=
			[ "$cpus" -eq 1 ] || PIN="taskset -c $_c"
			_p=$_c
			while [ "$_p" -lt "$parts" ]; do
				"$1" "$_p" || exit 1
				_p=$((_p + cpus))
			done
		) &
		_pids="$_pids $!"
		_c=$((_c + 1))
	done
	_bad=0
	for _pid in $_pids; do
		wait "$_pid" || _bad=1
	done
	return $_bad
}

on_each_cpu write_part || fail "writing $dev failed"
sync
blockdev --flushbufs "$dev" || fail "blockdev --flushbufs $dev failed"
drop_caches
t1=$(cut -d' ' -f1 /proc/uptime)

: >/tmp/readback
on_each_cpu read_part || fail "reading $dev back failed"
got=$(sha256sum </tmp/readback | cut -d' ' -f1)
t2=$(cut -d' ' -f1 /proc/uptime)

data sha256="$want" bytes="$bytes" queues="$queues" cpus="$cpus" parts="$parts" \
	features="$features" irq="$irq" write_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
	read_s="$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')"

if [ "$got" != "$want" ]; then
	first=$(cmp /tmp/pattern /tmp/readback 2>&1 | head -n 1)
	fail "read-back of $dev differs from what was written: $first"
fi
if [ "${BLK_IOMMU:-0}" = 1 ]; then
	faults=$(($(dmar_faults) - probe_faults))
	data iommu_type="$iommu_type" ats="$ats" dmar_faults="$faults" probe_dmar_faults="$probe_faults"
	[ "$faults" -eq 0 ] || { dmesg | grep DMAR | tail -n 5; fail "$faults DMAR fault(s) in dmesg while the disk was used"; }
fi
# Per-CPU I/O counts: every queue should have seen requests.
for q in "$sys"/mq/*; do
	[ -d "$q" ] || continue
	note "hw queue ${q##*/}: cpus $(cat "$q/cpu_list" 2>/dev/null)"
done
note "wrote and read back $bytes bytes of $dev: sha256 $want"
