#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-bench net's IOMMU mode against vhu-net (issue 17): both ports' drivers
# play the guest's IOMMU with a window of 16 IOTLB entries and invalidate
# the whole IOTLB every millisecond while vhu-bench net --verify sends into
# port 0 and receives from port 1, split and packed. Every frame that
# arrives must be byte for byte what was sent, in order (frames vhu-net
# dropped for want of RX buffers leave gaps: allowed); both drivers must
# have answered misses and sent storms of invalidations; vhu-net must count
# no frame dropped for an IOTLB fault and exit 0 on SIGTERM.
#
#   bench_net_iommu.sh VHU-NET VHU-BENCH
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU-NET VHU-BENCH"
NET=$1 BENCH=$2
need_exe "$NET" "$BENCH"
need_cmd timeout
IOMMU=(--iommu --iotlb-window=16 --invalidate-us=1000 --verify --pkt-size=300 --json)

for ring in split packed; do
	packed=()
	[ "$ring" = packed ] && packed=(--packed)
	start_peer net "$T/net.$ring.log" "$NET" --socket-path="$T/a.sock" --socket-path="$T/b.sock" \
		--queue-pairs=1
	wait_socket "$T/a.sock" net 10
	wait_socket "$T/b.sock" net 10
	timeout -k 2 60 "$BENCH" net --socket-path="$T/b.sock" --mode=rx --time=4 "${packed[@]}" \
		"${IOMMU[@]}" >"$T/rx.json" 2>"$T/rx.err" &
	rx=$!
	sleep 0.5
	timeout -k 2 60 "$BENCH" net --socket-path="$T/a.sock" --mode=tx --time=3 "${packed[@]}" \
		"${IOMMU[@]}" >"$T/tx.json" 2>"$T/tx.err"
	trc=$?
	wait "$rx"
	rrc=$?
	cat "$T/tx.json" "$T/rx.json"
	[ "$trc" = 0 ] || fail "$ring: vhu-bench tx exited $trc: $(cat "$T/tx.err")"
	[ "$rrc" = 0 ] || fail "$ring: vhu-bench rx --verify exited $rrc: $(cat "$T/rx.err")"
	stop_device net
	counters=$(grep "port [01] " "$T/net.$ring.log" | tail -n 4)
	echo "$counters"
	"$PYTHON" - "$T/tx.json" "$T/rx.json" "$ring" <<'PY' || fail "$ring: see above"
import json, sys
tx, rx = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
ring, (r, ri), (t, ti) = sys.argv[3], rx, tx
bad = []
if r['rx_verified'] < 10:
    bad.append(f"only {r['rx_verified']} frames verified")
if r['rx_bad_payload'] or r['rx_out_of_order']:
    bad.append(f"{r['rx_bad_payload']} wrong, {r['rx_out_of_order']} out of order")
for side, i in (('tx', ti['iotlb']), ('rx', ri['iotlb'])):
    if i['misses'] < 10 or i['storm_invalidates'] < 10:
        bad.append(f"{side}: {i['misses']} misses, {i['storm_invalidates']} storms")
    if i['access_fails']:
        bad.append(f"{side}: {i['access_fails']} access failures")
print(f"{ring}: {r['rx_verified']} frames verified of {t['tx_packets']} sent; misses tx "
      f"{ti['iotlb']['misses']} rx {ri['iotlb']['misses']}, storms tx "
      f"{ti['iotlb']['storm_invalidates']} rx {ri['iotlb']['storm_invalidates']}")
if bad:
    print(f"FAIL: {ring}: " + "; ".join(bad))
    sys.exit(1)
PY
	if grep -Eq "tx_drop_fault=[1-9]|rx_drop_fault=[1-9]|tx_drop_busy=[1-9]" <<<"$counters"; then
		fail "$ring: vhu-net dropped frames for IOTLB faults: $counters"
	fi
	grep -q "tx_iotlb_wait=[1-9]" <<<"$counters" ||
		fail "$ring: no frame waited for an IOTLB entry in vhu-net"
done
note "PASS"
