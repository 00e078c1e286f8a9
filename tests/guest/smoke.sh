# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154,SC2012
#
# Guest script for guest_boot_smoke: the guest booted, /init loaded the
# modules and read this script from fw_cfg. Reports the guest's uptime.
for m in virtio_pci virtio_blk virtio_net virtio_rng qemu_fw_cfg; do
	grep -q "^$m " /proc/modules || grep -q "/${m}.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null ||
		fail "module $m is not loaded"
done
[ -n "${SMOKE_CPUS:-}" ] && { [ "$(nproc)" -eq "$SMOKE_CPUS" ] || fail "$(nproc) cpus, expected $SMOKE_CPUS"; }
data uptime="$(cut -d' ' -f1 /proc/uptime)" kernel="$(uname -r)" cpus="$(nproc)"
note "hello from $(uname -r)"
