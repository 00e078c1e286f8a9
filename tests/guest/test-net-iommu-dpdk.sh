#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Behind a virtual IOMMU, side by side with DPDK (issue 17): the same guest
# test (test-net-pair.sh --iommu: two QEMU guests behind intel-iommu with
# device-iotlb=on, iommu.strict=1, 50 pings each way, a 4 MiB file fetched
# over HTTP) first through vhu-net, then through dpdk-testpmd's net_vhost
# with iommu-support=1 (scripts/testpmd-switch.sh: two ports, io
# forwarding). vhu-net's run is judged as guest_vhu_net_pair_iommu always
# was: one lost ping, a wrong file, a DMAR fault or a dropped frame fails
# the test. DPDK's is the peer: its lost pings and throughput are reported,
# never failed on (first ping: 3 tries, fetch: 5 s at most). A missing
# dpdk-testpmd skips only DPDK's half.
#
#   test-net-iommu-dpdk.sh OUTDIR VHU-NET
#
# Prints one line per side:
#   side-by-side: vhu-net pings lost 0+0 of 50+50, tcp 0.91 MB/s, file moved
# (TCP: the client's HTTP fetch, bytes over seconds of guest clock; under
# TCG only indicative).
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 2 ] || fail "usage: $0 OUTDIR VHU-NET"
OUTDIR=$1 NET=$2
need_exe "$NET"
SWITCH=$GUEST_SRC/../../scripts/testpmd-switch.sh

# summary NAME OUT: the side's pings lost (server+client), TCP rate, file
summary() {
	local name=$1 out=$2 lost tcp file
	lost=$(sed -n 's/.*: \(server\|client\): iommu .*pings lost \([0-9]*\).*/\2/p' "$out" |
		paste -sd+)
	tcp=$(sed -n 's/.*: tcp: .*: \([0-9.]*\) MB\/s.*/\1/p' "$out" | tail -n 1)
	if grep -q "the file did not move whole" "$out"; then
		file="file not moved"
	elif grep -q ": tcp: " "$out"; then
		file="file moved (sha256 equal)"
	else
		file="no result"
	fi
	grep -q "never answered a ping" "$out" && lost="$lost (a guest never got a first answer)"
	note "side-by-side: $name pings lost ${lost:-?} of 50+50, tcp ${tcp:-?} MB/s, $file"
}

note "vhu-net behind intel-iommu (judged)"
"$GUEST_SRC/test-net-pair.sh" "$OUTDIR" "$NET" --iommu >"$T/vhu.out" 2>&1
vrc=$?
sed 's/^/  vhu-net | /' "$T/vhu.out"
[ "$vrc" = 77 ] && skip "$(sed -n 's/^SKIP: //p' "$T/vhu.out" | tail -n 1)"
summary vhu-net "$T/vhu.out"

if ! command -v dpdk-testpmd >/dev/null; then
	note "side-by-side: DPDK not run (dpdk-testpmd not installed)"
else
	note "dpdk-testpmd net_vhost iommu-support=1 (reported)"
	IOMMU=1 "$GUEST_SRC/test-net-pair.sh" "$OUTDIR" "$SWITCH" --iommu --peer >"$T/dpdk.out" 2>&1
	drc=$?
	sed 's/^/  dpdk | /' "$T/dpdk.out"
	summary "DPDK   " "$T/dpdk.out"
	[ "$drc" = 0 ] || note "side-by-side: DPDK's run ended with status $drc (reported)"
fi
[ "$vrc" = 0 ] || fail "vhu-net behind the IOMMU failed (status $vrc): see above"
note "PASS"
