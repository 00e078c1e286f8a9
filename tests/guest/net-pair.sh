# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script: one of two guests on the same vhu-net switch. Both ping
# each other; the server serves a random file over HTTP (busybox httpd),
# the client fetches it; each reports the file's sha256 for the host to
# compare. The server waits until the client has asked for /done.
#
# Environment (run-guest.sh --env):
#   NET_ROLE    server or client
#   NET_IP      this guest's address (/24)
#   NET_PEER    the other guest's address
#   NET_FILE_KB size of the file (default 4096)
#   NET_FLOWS   client: fetch a small file over this many more TCP
#               connections (each its own port, so its own flow hash) before
#               /done: with several queue pairs the switch then spreads
#               frames over every receive queue (default 0)
#   NET_IOMMU   1: the device sits behind intel-iommu (strict): fail unless
#               VIRTIO_F_ACCESS_PLATFORM is negotiated and the device has a
#               strict DMA domain; after the first answer, 50 pings must all
#               come back; no DMAR fault from then on. Reports ping_lost=,
#               iommu_type=, dmar_faults=
#   NET_REPORT  1: the switch is a peer under comparison, not vhu-net: lost
#               pings, a file that does not move and DMAR faults are
#               reported, not failed on; the first ping is waited for
#               NET_FIRST_PING_TRIES tries (default 90), the fetch takes at
#               most NET_FETCH_S seconds (default: no bound) and the server
#               waits NET_DONE_S seconds (default 90) for the client's /done
# Reports fetch_s= and fetch_bytes= (the client's HTTP fetch of the file: a
# TCP transfer; bytes that arrived within the bound when it did not finish).
wait_virtio_net
ip link set dev lo up
ip link set dev "$ifc" up || fail "ip link set $ifc up failed"
ip addr add "$NET_IP/24" dev "$ifc" || fail "ip addr add failed"
vdev=$(basename "$(readlink -f "/sys/class/net/$ifc/device")")
features=$(cat "/sys/bus/virtio/devices/$vdev/features" 2>/dev/null)
queues=$(ls -d /sys/class/net/"$ifc"/queues/rx-* 2>/dev/null | wc -l)
mtu=$(cat "/sys/class/net/$ifc/mtu")
note "$ifc: $NET_IP, mtu $mtu, $queues rx queue(s), features $features"

dmar_faults() {
	dmesg | grep -c 'DMAR: \[DMA \|DMAR: DRHD: handling fault'
}
probe_faults=0
if [ "${NET_IOMMU:-0}" = 1 ]; then
	[ "$(echo "$features" | cut -c34)" = 1 ] ||
		fail "VIRTIO_F_ACCESS_PLATFORM (bit 33) not negotiated: features $features"
	pdev=$(readlink -f "/sys/bus/virtio/devices/$vdev/..")
	iommu_type=$(cat "$pdev/iommu_group/type" 2>/dev/null)
	[ "$iommu_type" = DMA ] || fail "iommu group of $pdev is '$iommu_type', not a strict DMA domain"
	probe_faults=$(dmar_faults)
	note "IOMMU: group $(basename "$(readlink -f "$pdev/iommu_group")") type $iommu_type"
fi

if [ "$NET_ROLE" = server ]; then
	mkdir -p /tmp/www
	dd if=/dev/urandom of=/tmp/www/file bs=1024 count="${NET_FILE_KB:-4096}" 2>/dev/null ||
		fail "dd failed"
	echo small >/tmp/www/small
	httpd -f -vv -p 8080 -h /tmp/www 2>/tmp/httpd.log &
fi

REPORT=${NET_REPORT:-0}
# check COND-STATUS MESSAGE: fail with MESSAGE, or with NET_REPORT=1 say it
check() {
	[ "$1" = 0 ] && return 0
	[ "$REPORT" = 1 ] || fail "$2"
	note "reported (not failed): $2"
}

# the other guest boots at its own pace: wait for it to answer
n=0
until ping -c 1 -W 1 "$NET_PEER" >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt "${NET_FIRST_PING_TRIES:-90}" ] && continue
	check 1 "$NET_PEER never answered a ping"
	data first_ping=never
	break
done
out=$(ping -c 10 -i 0.1 -W 2 "$NET_PEER" 2>&1)
echo "$out" | grep -q " 10 packets received"
check $? "ping $NET_PEER: $out" && note "ping $NET_PEER: 10 of 10"

# NET_OUTAGE_SECS (client): the host kills and restarts vhu-net meanwhile;
# keep pinging through it, then wait for the link to come back
if [ -n "${NET_OUTAGE_SECS:-}" ] && [ "$NET_ROLE" = client ]; then
	note "outage window: ${NET_OUTAGE_SECS}s"
	end=$(($(cut -d. -f1 /proc/uptime) + NET_OUTAGE_SECS))
	ok=0 lost=0
	# one console line per answered ping: the host counts them between its
	# restarts of vhu-net, so a ping answered before the first kill proves
	# nothing about the link coming back
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		if ping -c 1 -W 1 "$NET_PEER" >/dev/null 2>&1; then
			ok=$((ok + 1))
			echo "VHU-OUTAGE-PING: ok $ok"
			usleep 200000
		else
			lost=$((lost + 1))
		fi
	done
	n=0
	until ping -c 1 -W 1 "$NET_PEER" >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -lt 60 ] || fail "$NET_PEER unreachable for 60s after the outage window"
	done
	note "through the outage: $ok pings answered, $lost lost; link back"
	data outage_ok="$ok" outage_lost="$lost"
fi

if [ "${NET_IOMMU:-0}" = 1 ]; then
	# every buffer is a new IOVA in strict mode: each frame may meet a miss
	out=$(ping -c 50 -i 0.05 -W 2 "$NET_PEER" 2>&1)
	got=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	data ping_lost=$((50 - ${got:-0}))
	[ "${got:-0}" = 50 ]
	check $? "behind the IOMMU, $((50 - ${got:-0})) of 50 pings lost: $out" &&
		note "ping $NET_PEER behind the IOMMU: 50 of 50"
fi

if [ "$NET_ROLE" = server ]; then
	sha=$(sha256sum /tmp/www/file | cut -d' ' -f1)
	n=0
	until grep -q "url:/done" /tmp/httpd.log; do
		n=$((n + 1))
		[ "$n" -lt "$((${NET_DONE_S:-90} * 10))" ] && { usleep 100000; continue; }
		check 1 "the client never fetched /done"
		break
	done
else
	t0=$(cut -d' ' -f1 /proc/uptime)
	if [ -n "${NET_FETCH_S:-}" ]; then
		timeout "$NET_FETCH_S" wget -q -O /tmp/file "http://$NET_PEER:8080/file"
	else
		wget -q -O /tmp/file "http://$NET_PEER:8080/file"
	fi
	check $? "wget of the file failed"
	t1=$(cut -d' ' -f1 /proc/uptime)
	sha=$(sha256sum /tmp/file 2>/dev/null | cut -d' ' -f1)
	f=0
	while [ "$f" -lt "${NET_FLOWS:-0}" ]; do
		wget -q -O /dev/null "http://$NET_PEER:8080/small" || fail "wget of /small failed"
		f=$((f + 1))
	done
	timeout 5 wget -q -O /dev/null "http://$NET_PEER:8080/done" 2>/dev/null
	data fetch_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		fetch_bytes="$(wc -c </tmp/file 2>/dev/null || echo 0)"
fi
if [ "${NET_IOMMU:-0}" = 1 ]; then
	faults=$(($(dmar_faults) - probe_faults))
	data iommu_type="$iommu_type" dmar_faults="$faults" probe_dmar_faults="$probe_faults"
	[ "$faults" -eq 0 ] || dmesg | grep DMAR | tail -n 5
	check "$faults" "$faults DMAR fault(s) while the link was used"
fi
rx=$(cat "/sys/class/net/$ifc/statistics/rx_packets")
data sha256="$sha" \
	features="$features" queues="$queues" mtu="$mtu" rx_packets="$rx"
note "$NET_ROLE: sha256 $sha"
