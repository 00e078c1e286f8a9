# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script (run by /init, helpers from initlib.sh): write a fresh random
# pattern over a virtio-blk disk and read it back, round after round, for
# CHURN_SECS seconds, while the host kills and restarts the back-end under
# it. Every round must read back exactly what it wrote, no I/O may fail, and
# the kernel log must stay clean of block errors. Requests are in flight
# all the time: 4 writers and readers in parallel, O_DIRECT, 64 KiB.
# Prints for the host:
#
#   VHU-GUEST-DATA: rounds=<N> sha256=<hex of the last pattern> bytes=<N>
#
# Environment (run-guest.sh --env):
#   CHURN_SECS   how long to go on (default 30)

dev=$(virtio_blk_disks | head -n 1)
n=0
while [ -z "$dev" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "no virtio-blk disk appeared within 10s"
	usleep 100000
	dev=$(virtio_blk_disks | head -n 1)
done
wait_path "$dev" 10
bytes=$(($(cat "/sys/block/${dev##*/}/size") * 512))
[ "$bytes" -gt 0 ] || fail "$dev has size 0"
mib=$((1024 * 1024))
parts=4
per=$((bytes / parts))
[ $((per % mib)) -eq 0 ] || fail "$dev size $bytes is not 4 whole MiB parts"
secs=${CHURN_SECS:-30}
start=$(cut -d. -f1 /proc/uptime)
note "churn: $dev, $bytes bytes, ${secs}s"
data "churn_start=1"

# part P of /tmp/pat <-> the disk, in 64 KiB O_DIRECT requests
write_part() {
	dd if=/tmp/pat of="$dev" bs=64K iflag=skip_bytes,count_bytes oflag=seek_bytes,direct \
		skip=$(($1 * per)) seek=$(($1 * per)) count="$per" conv=notrunc,fsync status=none
}
read_part() {
	dd if="$dev" of=/tmp/back bs=64K iflag=skip_bytes,count_bytes,direct oflag=seek_bytes \
		skip=$(($1 * per)) seek=$(($1 * per)) count="$per" conv=notrunc status=none
}
all_parts() {
	_pids=
	_p=0
	while [ "$_p" -lt "$parts" ]; do
		"$1" "$_p" &
		_pids="$_pids $!"
		_p=$((_p + 1))
	done
	_bad=0
	for _pid in $_pids; do
		wait "$_pid" || _bad=1
	done
	return $_bad
}

head -c "$bytes" /dev/urandom >/tmp/base || fail "cannot make the random base"
rounds=0
while :; do
	now=$(cut -d. -f1 /proc/uptime)
	[ $((now - start)) -lt "$secs" ] || break
	rounds=$((rounds + 1))
	# a new pattern each round, cheaply (urandom is slow under TCG): the
	# random base rotated by a random number of 4 KiB pages
	rot=$(($(head -c 2 /dev/urandom | od -An -tu2) % (bytes / 4096) * 4096))
	{ tail -c $((bytes - rot)) /tmp/base && head -c "$rot" /tmp/base; } >/tmp/pat ||
		fail "cannot make the pattern"
	all_parts write_part || fail "round $rounds: a write failed"
	rm -f /tmp/back
	all_parts read_part || fail "round $rounds: a read failed"
	cmp -s /tmp/pat /tmp/back || fail "round $rounds: what was read back differs from what was written"
	note "round $rounds verified"
done
errs=$(dmesg | grep -iE 'I/O error|blk_update_request|print_req_error|virtio_blk.*error' | head -n 3)
[ -z "$errs" ] || fail "block errors in dmesg: $errs"
vdev=$(basename "$(readlink -f "/sys/block/${dev##*/}/device")")
data "rounds=$rounds features=$(cat "/sys/bus/virtio/devices/$vdev/features") sha256=$(sha256sum </tmp/pat | cut -d' ' -f1) bytes=$bytes"
