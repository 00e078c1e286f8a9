#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Side by side (issue 17): the same guest test, two QEMU guests behind
# intel-iommu (device-iotlb, strict invalidation) pinging each other 50
# times and moving a 4 MiB file (tests/guest/test-net-pair.sh --iommu), once
# through vhu-net and once through DPDK's vhost (dpdk-testpmd, two net_vhost
# ports with iommu-support=1, io-forwarding between them:
# scripts/testpmd-switch.sh). Prints, for each, the pings lost and whether
# (and how fast) the file moved.
#
#   scripts/iommu-dpdk.sh [BUILD_DIR]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
vm=$build/tests/guest/vm
for side in vhu dpdk; do
	if [ "$side" = vhu ]; then
		net=$build/devices/vhu-net
	else
		net=$top/scripts/testpmd-switch.sh
	fi
	out=$(IOMMU=1 "$top/tests/guest/test-net-pair.sh" "$vm" "$net" --iommu 2>&1)
	rc=$?
	# the guests' verdicts: "pings lost N" (PASS), "ping_lost=N" or "never answered" (FAIL)
	lost=$(sed -n -e 's/.*\(server\|client\): iommu .*pings lost \([0-9]*\).*/\1 \2/p' \
		-e 's/.*VHU-GUEST-DATA: ping_lost=\([0-9]*\).*/\1 of 50/p' \
		-e 's/.*FAIL: \([0-9.]* never answered a ping\).*/\1/p' <<<"$out" | sort -u | tr '\n' ';')
	moved=$(sed -n 's/.*PASS: file of .* moved in \([0-9.]*s\).*/\1/p' <<<"$out")
	printf 'iommu-dpdk: %-4s test %s; pings lost: %s file: %s\n' "$side" \
		"$([ $rc = 0 ] && echo PASS || echo "FAIL ($rc)")" "${lost:-?}" "${moved:-not moved}"
	[ "$side" = dpdk ] && grep -E "^  (RX|TX)-packets" <<<"$out" | tail -n 4 | sed 's/^/    testpmd:/'
done
