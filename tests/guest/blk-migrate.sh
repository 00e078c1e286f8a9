# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script (run by /init, helpers from initlib.sh): write and verify a
# virtio-blk disk continuously while the host live-migrates the guest, then
# check after the switch-over that what the device wrote into guest memory
# came along. Run by test-migrate-blk.sh on both QEMUs; the destination's
# console shows the end.
#
# The disk is cut in slots of MIG_SLOT_KB (1 MiB); each vCPU (taskset, so
# that each queue carries I/O) owns every ncpus-th slot and goes round them:
# a new pattern written to the slot with O_DIRECT (which drops the slot from
# the page cache), read back *through the page cache*, so that the device
# writes every page of it into guest RAM by DMA, and compared; then the next
# slot. What was read stays cached. The host writes "MIGRATED" to the
# guest's second serial port (ttyS1) once the destination runs; the loops
# end their round, and every slot is read again through the page cache,
# without dropping it: a page the back-end wrote during the migration
# without marking it in the dirty log arrived stale on the destination, and
# this read sees it. Then O_DIRECT reads (the disk itself), a round of
# O_DIRECT and buffered writes on the destination's back-end, drop caches,
# read back.
#
# Boot with init_on_alloc=0 (test-migrate-blk.sh does): Debian's kernel
# zeroes every page it allocates, a CPU write that QEMU tracks itself,
# which would make a freshly allocated page-cache page dirty again and hide
# a missing log entry for the DMA that follows.
#
#   VHU-GUEST-DATA: mig_ready=1                      (source: I/O is running)
#   VHU-GUEST-DATA: rounds=N sha256=<what the disk must hold> bytes=N
#                   queues=N features=<bits>          (destination)
#
# Environment (run-guest.sh --env):
#   MIG_WAIT_SECS   fail when no MIGRATED signal came within this (default 150)
#   MIG_SLOT_KB     slot size (default 1024)
#   BLK_QUEUES      fail unless the disk has this many blk-mq queues

dev=$(virtio_blk_disks | head -n 1)
n=0
while [ -z "$dev" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "no virtio-blk disk appeared within 10s"
	usleep 100000
	dev=$(virtio_blk_disks | head -n 1)
done
wait_path "$dev" 10
sys=/sys/block/${dev##*/}
bytes=$(($(cat "$sys/size") * 512))
cpus=$(nproc)
slot=$((${MIG_SLOT_KB:-1024} * 1024))
# dmacheck (when the host handed it over) owns the first 64 chunks of 256 KiB
DMACHECK_FW=/sys/firmware/qemu_fw_cfg/by_name/opt/vhu/file/dmacheck/raw
base=0
[ ! -r "$DMACHECK_FW" ] || base=$((64 * 256 * 1024))
nslots=$(((bytes - base) / slot))
pages=$((slot / 4096))
[ $((slot % 65536)) -eq 0 ] || fail "MIG_SLOT_KB must be a multiple of 64"
[ $((base + nslots * slot)) -eq "$bytes" ] || fail "$dev ($bytes bytes) is not a whole number of ${slot}-byte slots"
# each vCPU goes round MIG_SLOTS (4) slots of its own
ring=${MIG_SLOTS:-4}
[ "$nslots" -ge $((ring * cpus)) ] || fail "$dev ($bytes bytes) has too few slots for $cpus vCPUs"
queues=$(ls -d "$sys"/mq/* 2>/dev/null | wc -l)
want=${BLK_QUEUES:-}
[ -z "$want" ] || [ "$want" -le "$cpus" ] || want=$cpus
[ -z "$want" ] || [ "$queues" -eq "$want" ] || fail "$dev has $queues blk-mq queues, expected $want"
grep -q 'init_on_alloc=0' /proc/cmdline || note "warning: init_on_alloc is not 0: a missing dirty log may go unseen"

tlb_flusher
# The host's signal on ttyS1.
[ -c /dev/ttyS1 ] || fail "no /dev/ttyS1 (start QEMU with a second -serial)"
stty -F /dev/ttyS1 raw -echo 2>/dev/null
(
	while read -r line; do
		case $line in *MIGRATED*) : >/tmp/migrated && exit 0 ;; esac
	done </dev/ttyS1
) &
sigpid=$!

head -c "$slot" /dev/urandom >/tmp/base || fail "cannot make the random base"
# a command prefix that pins a loop's I/O to its vCPU (and so to its queue)
PIN=

# pattern ROT FILE: /tmp/base rotated by ROT pages (0: zeros, never written)
pattern() {
	if [ "$1" = 0 ]; then
		head -c "$slot" /dev/zero >"$2"
	else
		{ tail -c $((slot - $1 * 4096)) /tmp/base && head -c $(($1 * 4096)) /tmp/base; } >"$2"
	fi
}
# the rotation slot S holds now (0 until written)
rot_of() {
	# shellcheck disable=SC2046 # the first word of the record
	set -- $(cat "/tmp/rot.$1" 2>/dev/null || echo 0)
	echo "$1"
}
# write_direct S FILE: FILE to slot S with O_DIRECT, 64 KiB requests
write_direct() {
	$PIN dd if="$2" of="$dev" bs=64K oflag=seek_bytes,direct seek=$((base + $1 * slot)) \
		conv=notrunc,fsync status=none
}
# read_slot S cached|direct FILE
read_slot() {
	if [ "$2" = direct ]; then
		$PIN dd if="$dev" of="$3" bs=64K iflag=skip_bytes,count_bytes,direct \
			skip=$((base + $1 * slot)) count="$slot" status=none
	else
		$PIN dd if="$dev" of="$3" bs=64K iflag=skip_bytes,count_bytes \
			skip=$((base + $1 * slot)) count="$slot" status=none
	fi
}
# where FILE first differs from EXPECTED: "page N of M"
first_diff() {
	_b=$(cmp "$1" "$2" 2>/dev/null | sed -n 's/.* byte \([0-9]*\).*/\1/p')
	echo "page $(((${_b:-1} - 1) / 4096)) of $pages"
}

# churn C: rounds over vCPU C's slots until the signal
churn() {
	_r=0 _s=$1
	while [ ! -e /tmp/migrated ]; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ] ||
			{ echo "no MIGRATED signal within ${MIG_WAIT_SECS:-150}s" >"/tmp/err.$1"; return 1; }
		_r=$((_r + 1))
		# a rotation the slot does not hold yet
		_old=$(rot_of "$_s")
		_rot=$(((_old + $(head -c 2 /dev/urandom | od -An -tu2) % (pages - 2)) % (pages - 1) + 1))
		pattern "$_rot" "/tmp/pat.$1"
		write_direct "$_s" "/tmp/pat.$1" ||
			{ echo "slot $_s round $_r: O_DIRECT write failed" >"/tmp/err.$1"; return 1; }
		echo "$_rot $_r $1" >"/tmp/rot.$_s"
		read_slot "$_s" cached "/tmp/back.$1" ||
			{ echo "slot $_s round $_r: buffered read failed" >"/tmp/err.$1"; return 1; }
		cmp -s "/tmp/pat.$1" "/tmp/back.$1" ||
			{ echo "slot $_s round $_r: buffered read-back differs at $(first_diff "/tmp/pat.$1" "/tmp/back.$1")" >"/tmp/err.$1"; return 1; }
		echo "$_r" >"/tmp/rounds.$1"
		note "vCPU $1 round $_r: slot $_s at uptime $(cut -d' ' -f1 /proc/uptime)"
		_s=$((_s + cpus))
		[ "$_s" -lt $((cpus * ring)) ] || _s=$1
	done
	return 0
}

# dmacheck: O_DIRECT reads into buffers that only the device writes, each
# checked 20 ms later; the switch-over falls between a read and its check,
# and a device write missing from the dirty log shows there (the page cache
# cannot show it reliably: see README.md). It runs until it is stopped.
dmpid=
if [ "$base" != 0 ]; then
	cp "$DMACHECK_FW" /tmp/dmacheck && chmod +x /tmp/dmacheck || fail "cannot install dmacheck"
	DMPIN=
	[ "$cpus" -eq 1 ] || DMPIN="taskset -c 0"
	$DMPIN /tmp/dmacheck "$dev" 100000 256 >/tmp/dmacheck.out 2>&1 &
	dmpid=$!
	n=0
	until grep -q 'checking for' /tmp/dmacheck.out; do
		n=$((n + 1))
		[ "$n" -lt 600 ] && kill -0 "$dmpid" 2>/dev/null || fail "dmacheck did not start: $(cat /tmp/dmacheck.out)"
		usleep 100000
	done
	# a failure shows on the console at once: a migration that cannot finish
	# (postcopy) would keep it from the end of this script
	(
		while kill -0 "$dmpid" 2>/dev/null; do sleep 1; done
		! grep -q FAIL /tmp/dmacheck.out || note "$(grep -m1 FAIL /tmp/dmacheck.out)"
	) &
fi

deadline=$(($(cut -d. -f1 /proc/uptime) + ${MIG_WAIT_SECS:-150}))
pids=
c=0
while [ "$c" -lt "$cpus" ]; do
	(
		[ "$cpus" -eq 1 ] || PIN="taskset -c $c"
		churn "$c"
	) &
	pids="$pids $!"
	c=$((c + 1))
done
note "churning $nslots slots of $slot bytes on $dev ($queues queue(s), $cpus vCPU(s))"
data mig_ready=1
bad=0
for p in $pids; do
	wait "$p" || bad=1
done
kill "$sigpid" 2>/dev/null
rounds=0
c=0
while [ "$c" -lt "$cpus" ]; do
	[ ! -s "/tmp/err.$c" ] || fail "$(cat "/tmp/err.$c")"
	rounds=$((rounds + $(cat "/tmp/rounds.$c" 2>/dev/null || echo 0)))
	c=$((c + 1))
done
[ "$bad" = 0 ] || fail "a churn loop failed"
[ -e /tmp/migrated ] || fail "churn ended without the MIGRATED signal"
note "migrated after $rounds rounds (uptime $(cut -d' ' -f1 /proc/uptime))"
if [ -n "$dmpid" ]; then
	# a few more of its rounds on the destination, then stop it
	sleep 2
	kill -0 "$dmpid" 2>/dev/null || fail "dmacheck ended: $(grep -m1 FAIL /tmp/dmacheck.out || tail -n 1 /tmp/dmacheck.out)"
	kill "$dmpid"
	wait "$dmpid"
	! grep -q FAIL /tmp/dmacheck.out || fail "$(grep -m1 FAIL /tmp/dmacheck.out)"
	note "dmacheck ran across the switch-over without a lost device write: $(grep 'round' /tmp/dmacheck.out | tail -n 1)"
fi

# check cached|direct: every slot against what it must hold
check() {
	_s=0 _m=$1
	while [ "$_s" -lt "$nslots" ]; do
		# shellcheck disable=SC2046 # rotation, round, vCPU
		set -- $(cat "/tmp/rot.$_s" 2>/dev/null || echo 0 0 0) "$_m"
		pattern "$1" /tmp/exp
		read_slot "$_s" "$4" /tmp/got || fail "$4 read of slot $_s failed after the migration"
		if ! cmp -s /tmp/exp /tmp/got; then
			[ "$4" = cached ] &&
				fail "after the switch-over the page cache of slot $_s (written in round $2 of vCPU $3's $(cat "/tmp/rounds.$3") rounds) is stale at $(first_diff /tmp/exp /tmp/got): a device write missing from the dirty log?"
			fail "after the switch-over slot $_s of the disk differs at $(first_diff /tmp/exp /tmp/got)"
		fi
		_s=$((_s + 1))
	done
}
# 1. the page cache as the destination received it
check cached
note "page cache after the switch-over: all $nslots slots match"
# 2. the disk itself
check direct
note "disk after the switch-over: all $nslots slots match"
# 3. I/O on the destination: the first slot of each vCPU, O_DIRECT for
# vCPU 0's, buffered + fsync for the others
c=0
while [ "$c" -lt "$cpus" ]; do
	rot=$((pages / 2 + c))
	[ "$rot" != "$(rot_of "$c")" ] || rot=$((rot + cpus))
	pattern "$rot" /tmp/exp
	if [ "$c" = 0 ]; then
		write_direct 0 /tmp/exp || fail "O_DIRECT write on the destination failed"
	else
		dd if=/tmp/exp of="$dev" bs=4K oflag=seek_bytes seek=$((base + c * slot)) \
			conv=notrunc,fsync status=none || fail "buffered write on the destination failed"
	fi
	echo "$rot 0 $c" >"/tmp/rot.$c"
	c=$((c + 1))
done
drop_caches
check direct
errs=$(dmesg | grep -iE 'I/O error|blk_update_request|print_req_error|virtio_blk.*error' | head -n 3)
[ -z "$errs" ] || fail "block errors in dmesg: $errs"

# what the whole disk must hold: dmacheck's chunks as the disk has them
# (dmacheck checked every read), then the slots
: >/tmp/all
[ "$base" = 0 ] || dd if="$dev" of=/tmp/all bs=256K count=64 iflag=direct status=none ||
	fail "cannot read dmacheck's chunks"
s=0
while [ "$s" -lt "$nslots" ]; do
	pattern "$(rot_of "$s")" /tmp/exp
	cat /tmp/exp >>/tmp/all
	s=$((s + 1))
done
vdev=$(basename "$(readlink -f "$sys/device")")
data rounds="$rounds" bytes="$bytes" queues="$queues" \
	features="$(cat "/sys/bus/virtio/devices/$vdev/features")" sha256="$(sha256sum </tmp/all | cut -d' ' -f1)"
note "verified after the migration: page cache, disk, and a round on the destination"
