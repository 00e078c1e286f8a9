# SPDX-License-Identifier: MIT
# shellcheck shell=sh
#
# Helpers for guest test scripts (busybox ash). Installed in the initramfs as
# /lib/vhu/initlib.sh; /init sources it before the script, so a script just
# calls these functions.
#
#   fail REASON          record REASON, exit the script (result FAIL REASON)
#   skip REASON          the guest cannot run this test (result SKIP REASON)
#   note TEXT            progress line on the console
#   data KEY=VALUE...    a "VHU-GUEST-DATA: KEY=VALUE..." line for the host
#                        (run-guest.sh --data FILE collects them)
#   wait_path PATH [SECONDS]   wait until PATH exists (default 10 s) or fail
#   virtio_devs ID       names (virtioN) of the virtio devices with device ID
#                        ID (decimal: 1 net, 2 blk, 4 rng, 18 input)
#   virtio_blk_disks     /dev/vdX of every virtio-blk disk, in probe order
#   drop_caches          sync and drop the page cache
#   tlb_flusher          on every vCPU, a process that wakes every 2 ms: each
#                        wake-up switches address spaces there, which makes
#                        QEMU's TCG flush its TLB (see README.md, live
#                        migration: TCG loses CPU writes across a migration
#                        through TLB entries that outlive a dirty-bitmap sync)

fail() {
	echo "$*" >/run/vhu/reason
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "$*" >/run/vhu/skip
	echo "SKIP: $*"
	exit 0
}

note() {
	echo "guest: $*"
}

data() {
	echo "VHU-GUEST-DATA: $*"
}

wait_path() {
	_wp_n=$((${2:-10} * 10))
	while [ ! -e "$1" ]; do
		_wp_n=$((_wp_n - 1))
		[ "$_wp_n" -gt 0 ] || fail "$1 did not appear within ${2:-10}s"
		usleep 100000
	done
}

virtio_devs() {
	for _vd in /sys/bus/virtio/devices/*; do
		[ -r "$_vd/device" ] || continue
		[ $(($(cat "$_vd/device"))) -eq "$1" ] && basename "$_vd"
	done
	return 0
}

# ifc=the first virtio-net interface's name, waiting up to 10 s for it
wait_virtio_net() {
	_vn_n=0
	while :; do
		for _vd in $(virtio_devs 1); do
			for _i in /sys/bus/virtio/devices/"$_vd"/net/*; do
				[ -e "$_i" ] && ifc=${_i##*/} && return 0
			done
		done
		_vn_n=$((_vn_n + 1))
		[ "$_vn_n" -lt 100 ] || fail "no virtio-net interface appeared within 10s"
		usleep 100000
	done
}

virtio_blk_disks() {
	for _vd in $(virtio_devs 2); do
		for _b in /sys/bus/virtio/devices/"$_vd"/block/*; do
			[ -e "$_b" ] && echo "/dev/${_b##*/}"
		done
	done
	return 0
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

tlb_flusher() {
	_c=0
	while [ "$_c" -lt "$(nproc)" ]; do
		taskset -c "$_c" sh -c 'while :; do usleep 2000; done' >/dev/null 2>&1 &
		_c=$((_c + 1))
	done
}
