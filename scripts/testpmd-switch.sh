#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# dpdk-testpmd standing in for vhu-net in tests/guest/test-net-pair.sh (used
# by tests/guest/test-net-iommu-dpdk.sh): the same command line, --socket-path=A
# --socket-path=B [--queue-pairs=N], served by two net_vhost ports that
# io-forward to each other. With IOMMU=1 the ports get iommu-support=1.
set -eu
socks=()
for a in "$@"; do
	case $a in
	--socket-path=*) socks+=("${a#*=}") ;;
	esac
done
[ "${#socks[@]}" = 2 ] || { echo "testpmd-switch: two --socket-path needed" >&2; exit 2; }
opt=
[ "${IOMMU:-0}" = 1 ] && opt=,iommu-support=1
# --stats-period: runs without reading stdin (the test gives it none)
exec dpdk-testpmd --no-huge -m 1024 --no-pci --no-shconf --no-telemetry \
	--file-prefix "vhu-switch-$$" --lcores=0@0,1@0 \
	--vdev "net_vhost0,iface=${socks[0]}$opt" --vdev "net_vhost1,iface=${socks[1]}$opt" \
	-- --forward-mode=io --auto-start --total-num-mbufs=4096 --stats-period=5
