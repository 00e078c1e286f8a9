# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script (run by /init, helpers from initlib.sh): write and verify a
# virtio-blk disk continuously while the host live-migrates the guest, then
# check after the switch-over that what the device wrote into guest memory
# came along. Run by test-migrate-blk.sh on both QEMUs; the destination's
# console shows the end.
#
# The disk is cut in one region per vCPU; each vCPU (taskset) loops over its
# region: a new pattern written with O_DIRECT (which drops the region from
# the page cache), then read back *through the page cache*, so the device
# writes every page of the region into guest RAM by DMA, and compared. The
# host writes "MIGRATED" to the guest's second serial port (ttyS1) once the
# destination runs. The loops end their round, and then each region is read
# again through the page cache without dropping it: a page the back-end
# wrote during the migration without marking it in the dirty log arrives
# stale on the destination, and this read sees it. Then O_DIRECT reads
# (the disk itself), a last round of O_DIRECT and buffered writes on the
# destination's back-end, drop caches, read back.
#
# Boot with init_on_alloc=0 (test-migrate-blk.sh does): Debian's kernel zeroes
# every page it allocates, a CPU write that QEMU tracks itself, which would
# make a freshly allocated page-cache page dirty again and hide a missing log
# entry for the DMA that follows.
#
#   VHU-GUEST-DATA: mig_ready=1                      (source: I/O is running)
#   VHU-GUEST-DATA: rounds_before=N rounds_after=N sha256=<final pattern>
#                   bytes=N queues=N features=<bits>  (destination)
#
# Environment (run-guest.sh --env):
#   MIG_WAIT_SECS   fail when no MIGRATED signal came within this (default 150)
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
mib=$((1024 * 1024))
per=$((bytes / cpus / mib * mib))
[ "$per" -ge "$mib" ] || fail "$dev ($bytes bytes) is too small for $cpus regions"
queues=$(ls -d "$sys"/mq/* 2>/dev/null | wc -l)
want=${BLK_QUEUES:-}
[ -z "$want" ] || [ "$want" -le "$cpus" ] || want=$cpus
[ -z "$want" ] || [ "$queues" -eq "$want" ] || fail "$dev has $queues blk-mq queues, expected $want"
grep -q 'init_on_alloc=0' /proc/cmdline || note "warning: init_on_alloc is not 0: a missing dirty log may go unseen"

# The host's signal on ttyS1.
[ -c /dev/ttyS1 ] || fail "no /dev/ttyS1 (start QEMU with a second -serial)"
stty -F /dev/ttyS1 raw -echo 2>/dev/null
(
	while read -r line; do
		case $line in *MIGRATED*) : >/tmp/migrated && exit 0 ;; esac
	done </dev/ttyS1
) &
sigpid=$!

pages=$((per / 4096))
# a command prefix that pins the region's I/O to its vCPU (and so to its queue)
PIN=
head -c "$per" /dev/urandom >/tmp/base || fail "cannot make the random base"

# pattern R ROT: /tmp/pat.R is /tmp/base rotated by ROT pages
pattern() {
	_rot=$(($2 * 4096))
	{ tail -c $((per - _rot)) /tmp/base && head -c "$_rot" /tmp/base; } >"/tmp/pat.$1.new" &&
		mv "/tmp/pat.$1.new" "/tmp/pat.$1"
}
# region R: O_DIRECT write of /tmp/pat.R, 64 KiB requests
write_direct() {
	$PIN dd if="/tmp/pat.$1" of="$dev" bs=64K oflag=seek_bytes,direct seek=$(($1 * per)) \
		conv=notrunc,fsync status=none
}
# region R through the page cache (buffered) or the disk (direct) to FILE
read_region() {
	if [ "$2" = direct ]; then
		$PIN dd if="$dev" of="$3" bs=64K iflag=skip_bytes,count_bytes,direct \
			skip=$(($1 * per)) count="$per" status=none
	else
		$PIN dd if="$dev" of="$3" bs=64K iflag=skip_bytes,count_bytes \
			skip=$(($1 * per)) count="$per" status=none
	fi
}
# where FILE first differs from /tmp/pat.R, in pages: "page N (of M)"
first_diff() {
	_b=$(cmp "/tmp/pat.$1" "$2" 2>/dev/null | sed -n 's/.* byte \([0-9]*\).*/\1/p')
	echo "byte ${_b:-?} (page $(((${_b:-1} - 1) / 4096)) of $pages) of region $1"
}

# churn R: rounds over region R until the signal; the round count in /tmp/rounds.R
churn() {
	_r=0 _rot=0
	while [ ! -e /tmp/migrated ]; do
		[ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ] ||
			{ echo "no MIGRATED signal within ${MIG_WAIT_SECS:-150}s" >"/tmp/err.$1"; return 1; }
		_r=$((_r + 1))
		# a different rotation every round
		_rot=$(((_rot + 1 + $(head -c 2 /dev/urandom | od -An -tu2) % (pages - 1)) % pages))
		pattern "$1" "$_rot" || { echo "region $1: cannot make a pattern" >"/tmp/err.$1"; return 1; }
		write_direct "$1" || { echo "region $1 round $_r: O_DIRECT write failed" >"/tmp/err.$1"; return 1; }
		read_region "$1" cached "/tmp/back.$1" ||
			{ echo "region $1 round $_r: buffered read failed" >"/tmp/err.$1"; return 1; }
		cmp -s "/tmp/pat.$1" "/tmp/back.$1" ||
			{ echo "round $_r: buffered read-back differs at $(first_diff "$1" "/tmp/back.$1")" >"/tmp/err.$1"; return 1; }
		echo "$_r" >"/tmp/rounds.$1"
	done
	return 0
}

# first contents, so that every region has a pattern before the host migrates
c=0
while [ "$c" -lt "$cpus" ]; do
	pattern "$c" 0 && write_direct "$c" || fail "first write of region $c failed"
	c=$((c + 1))
done
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
note "churning $cpus region(s) of $per bytes on $dev ($queues queue(s))"
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
	rounds="$rounds+$(cat "/tmp/rounds.$c" 2>/dev/null || echo 0)"
	c=$((c + 1))
done
[ "$bad" = 0 ] || fail "a churn loop failed"
[ -e /tmp/migrated ] || fail "churn ended without the MIGRATED signal"
note "migrated after $((rounds)) rounds ($rounds)"

# 1. the page cache as the destination received it
c=0
while [ "$c" -lt "$cpus" ]; do
	read_region "$c" cached "/tmp/back.$c" || fail "buffered read of region $c failed after the migration"
	cmp -s "/tmp/pat.$c" "/tmp/back.$c" ||
		fail "after the switch-over the page cache is stale at $(first_diff "$c" "/tmp/back.$c"): a device write not in the dirty log?"
	c=$((c + 1))
done
note "page cache after the switch-over: every region matches"
# 2. the disk itself
c=0
while [ "$c" -lt "$cpus" ]; do
	read_region "$c" direct "/tmp/back.$c" || fail "O_DIRECT read of region $c failed after the migration"
	cmp -s "/tmp/pat.$c" "/tmp/back.$c" ||
		fail "after the switch-over the disk differs at $(first_diff "$c" "/tmp/back.$c")"
	c=$((c + 1))
done
note "disk after the switch-over: every region matches"
# 3. I/O on the destination: region 0 O_DIRECT, the others buffered + fsync
after=0
c=0
while [ "$c" -lt "$cpus" ]; do
	pattern "$c" $((pages / 2 + c)) || fail "cannot make a pattern"
	if [ "$c" = 0 ]; then
		write_direct 0 || fail "O_DIRECT write on the destination failed"
	else
		dd if="/tmp/pat.$c" of="$dev" bs=4K oflag=seek_bytes seek=$((c * per)) \
			conv=notrunc,fsync status=none || fail "buffered write on the destination failed"
	fi
	after=$((after + 1))
	c=$((c + 1))
done
drop_caches
c=0
while [ "$c" -lt "$cpus" ]; do
	read_region "$c" direct "/tmp/back.$c" || fail "read on the destination failed"
	cmp -s "/tmp/pat.$c" "/tmp/back.$c" || fail "destination round: $(first_diff "$c" "/tmp/back.$c")"
	c=$((c + 1))
done
errs=$(dmesg | grep -iE 'I/O error|blk_update_request|print_req_error|virtio_blk.*error' | head -n 3)
[ -z "$errs" ] || fail "block errors in dmesg: $errs"

# what the whole disk must hold: the regions, then whatever lies past them
c=0
: >/tmp/all
while [ "$c" -lt "$cpus" ]; do
	cat "/tmp/pat.$c" >>/tmp/all
	c=$((c + 1))
done
tail=$((bytes - cpus * per))
[ "$tail" -eq 0 ] || dd if="$dev" bs=4K iflag=skip_bytes,direct skip=$((cpus * per)) status=none >>/tmp/all
vdev=$(basename "$(readlink -f "$sys/device")")
data rounds_before=$((rounds)) rounds_after="$after" bytes="$bytes" queues="$queues" \
	features="$(cat "/sys/bus/virtio/devices/$vdev/features")" sha256="$(sha256sum </tmp/all | cut -d' ' -f1)"
note "verified after the migration: page cache, disk, and a round on the destination"
