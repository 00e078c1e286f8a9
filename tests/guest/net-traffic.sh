# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script: send frames out of a virtio-net interface and count the ones
# that come back, for a back-end that reflects them (dpdk-testpmd in macswap
# mode, a vhost-user switch in loopback, ...). The guest pings a made-up
# neighbour with a static ARP entry; each echo request comes back with the
# MAC addresses swapped, addressed to the guest, and counts as received.
#
# Environment (run-guest.sh --env):
#   NET_COUNT   frames per size (default 32)
#   NET_SIZES   ICMP payload sizes (default "56 1400")
#   NET_MIN_RX  fail unless at least this many frames came back (default: all
#               that were sent)
wait_virtio_net
stats=/sys/class/net/$ifc/statistics
ip link set dev lo up
ip link set dev "$ifc" up || fail "ip link set $ifc up failed"
ip addr add 10.211.0.1/24 dev "$ifc" || fail "ip addr add failed"
arp -i "$ifc" -s 10.211.0.2 02:00:00:00:02:02 || fail "arp -s failed"
vdev=$(basename "$(readlink -f "/sys/class/net/$ifc/device")")
features=$(cat "/sys/bus/virtio/devices/$vdev/features" 2>/dev/null)
irq=intx
grep -q "$vdev-\(config\|input\|output\|virtqueues\)" /proc/interrupts && irq=msix
note "$ifc: $(cat "/sys/class/net/$ifc/address"), irq $irq, features $features"

count=${NET_COUNT:-32}
tx0=$(cat "$stats/tx_packets")
rx0=$(cat "$stats/rx_packets")
sent=0
t0=$(cut -d' ' -f1 /proc/uptime)
for size in ${NET_SIZES:-56 1400}; do
	ping -q -c "$count" -i 0.02 -W 1 -s "$size" 10.211.0.2 >/dev/null 2>&1
	sent=$((sent + count))
done
t1=$(cut -d' ' -f1 /proc/uptime)
sleep 1
tx=$(($(cat "$stats/tx_packets") - tx0))
rx=$(($(cat "$stats/rx_packets") - rx0))
data net_ifc="$ifc" net_tx="$tx" net_rx="$rx" net_sent="$sent" features="$features" irq="$irq" \
	net_ifup_uptime="$t0" net_ping_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
[ "$tx" -ge "$sent" ] || fail "$ifc sent $tx frames, expected $sent"
[ "$rx" -ge "${NET_MIN_RX:-$sent}" ] || fail "$ifc received $rx frames back, expected ${NET_MIN_RX:-$sent}"
note "$ifc: sent $tx frames, received $rx back"
