# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script (run by /init, helpers from initlib.sh): a guest on a
# vhost-user-net device that the host live-migrates (test-migrate-net.sh).
# The host writes "MIGRATED" to ttyS1 once the destination runs, and "DONE"
# when it has finished counting.
#
#   NET_MODE=answer   (default) the host pings this guest from its side of
#                     the switch and counts the losses itself; the guest
#                     only waits until the host reaches it
#   NET_MODE=reflect  the back-end returns every frame (testpmd macswap):
#                     the guest pings a made-up neighbour (static ARP) every
#                     50 ms and counts the frames that did not come back
#
#   VHU-GUEST-DATA: mig_ready=1                      (source)
#   VHU-GUEST-DATA: net_tx=N net_rx=N features=...   (destination; reflect:
#                   frames sent and received between ready and DONE)
#
# Environment: NET_IP, NET_PEER (addresses, /24), NET_MODE, MIG_WAIT_SECS
# (default 150: fail without MIGRATED and DONE by then).
wait_virtio_net
ip link set dev lo up
ip link set dev "$ifc" up || fail "ip link set $ifc up failed"
ip addr add "$NET_IP/24" dev "$ifc" || fail "ip addr add failed"
vdev=$(basename "$(readlink -f "/sys/class/net/$ifc/device")")
features=$(cat "/sys/bus/virtio/devices/$vdev/features" 2>/dev/null)
mode=${NET_MODE:-answer}

tlb_flusher
[ -c /dev/ttyS1 ] || fail "no /dev/ttyS1 (start QEMU with a second -serial)"
stty -F /dev/ttyS1 raw -echo 2>/dev/null
(
	while read -r line; do
		case $line in
		*MIGRATED*) : >/tmp/migrated ;;
		*DONE*) : >/tmp/done && exit 0 ;;
		esac
	done </dev/ttyS1
) &

stat_of() { cat "/sys/class/net/$ifc/statistics/$1"; }
if [ "$mode" = reflect ]; then
	arp -s "$NET_PEER" 52:54:00:00:99:99 || fail "arp -s failed"
else
	n=0
	until ping -c 1 -W 1 "$NET_PEER" >/dev/null 2>&1; do
		n=$((n + 1))
		[ "$n" -lt 60 ] || fail "$NET_PEER never answered a ping"
	done
fi
tx0=$(stat_of tx_packets) rx0=$(stat_of rx_packets)
if [ "$mode" = reflect ]; then
	ping -i 0.05 -q "$NET_PEER" >/dev/null 2>&1 &
	pingpid=$!
fi
note "$ifc: $NET_IP, mode $mode, features $features"
data mig_ready=1
end=$(($(cut -d. -f1 /proc/uptime) + ${MIG_WAIT_SECS:-150}))
until [ -e /tmp/done ]; do
	[ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ] || fail "no DONE from the host within ${MIG_WAIT_SECS:-150}s"
	usleep 100000
done
[ -e /tmp/migrated ] || fail "DONE came without MIGRATED"
if [ "$mode" = reflect ]; then
	kill "$pingpid"
	# the last frames on their way back
	usleep 500000
fi
tx=$(($(stat_of tx_packets) - tx0)) rx=$(($(stat_of rx_packets) - rx0))
data net_tx="$tx" net_rx="$rx" features="$features"
note "migrated: $tx frames sent, $rx received since ready"
