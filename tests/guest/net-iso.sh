# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script: one of three tenants on a vhu-net switch with VLANs, for
# test-net-iso.sh. The host runs an httpd in its namespace, reached through
# the switch's TAP trunk at ISO_GW, which serves /phase (what the host
# wants done next) and /file; each guest polls /phase and reports on its
# console ("VHU-ISO: STEP"), which the host watches.
#
# Environment (run-guest.sh --env):
#   ISO_ROLE   a: VLAN 10 and held to its MAC (mac=): pings b (same VLAN)
#              and c (another VLAN: must fail), sends from a spoofed MAC
#              (every ping lost) and again from its own (none lost); while
#              b floods, 50 pings to ISO_GW, none lost, and fetches /file
#              b: VLAN 10: its ping to c must fail; then floods the MAC
#              table from 10,000 random sources (macflood, handed over as
#              a file) and goes on flooding until the phase is "finished"
#              c: VLAN 20 but with an address in a's and b's subnet too: its
#              pings to them must fail; while b floods, 50 pings to ISO_GW
#   ISO_IPS    this guest's addresses (/24), space-separated
#   ISO_GW     the host side in this guest's VLAN
#   ISO_A, ISO_B, ISO_C   the other guests' addresses in 10.212.10.0/24
wait_virtio_net
ip link set dev lo up
ip link set dev "$ifc" up || fail "ip link set $ifc up failed"
for a in $ISO_IPS; do
	ip addr add "$a/24" dev "$ifc" || fail "ip addr add $a failed"
done
mac=$(cat "/sys/class/net/$ifc/address")
if [ "$ISO_ROLE" = b ]; then
	# fw_cfg is read a byte at a time under TCG: tens of seconds for a
	# static binary, so the copy starts now and overlaps the rest
	cp /sys/firmware/qemu_fw_cfg/by_name/opt/vhu/file/macflood/raw /tmp/macflood &
	cppid=$!
fi

# pings PEER COUNT: how many of COUNT pings PEER answered
pings() {
	ping -c "$2" -i 0.1 -W 1 "$1" 2>&1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p'
}

# (this busybox's wget crashes with -T: none; the host answers pings by now)
phase() {
	rm -f /tmp/phase
	wget -q -O /tmp/phase "http://$ISO_GW:8080/phase" 2>/dev/null
	cat /tmp/phase 2>/dev/null
}

# wait_phase NAME: until the host's /phase says NAME (at most 150 s)
wait_phase() {
	_n=0
	until [ "$(phase)" = "$1" ]; do
		[ "$(cat /tmp/phase 2>/dev/null)" != abort ] || fail "the host gave up (another guest failed)"
		_n=$((_n + 1))
		[ "$_n" -lt 500 ] || fail "the host never moved to phase $1"
		usleep 300000
	done
}

n=0
until ping -c 1 -W 1 "$ISO_GW" >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt 90 ] || fail "$ISO_GW (the host, through the trunk) never answered"
done
echo "VHU-ISO: ready"
wait_phase isolation

case $ISO_ROLE in
a)
	got=$(pings "$ISO_B" 10)
	[ "$got" = 10 ] || fail "same VLAN: $got of 10 pings to $ISO_B answered"
	got=$(pings "$ISO_C" 3)
	[ "$got" = 0 ] || fail "another VLAN: $got of 3 pings to $ISO_C answered"
	note "VLAN 10: $ISO_B answers, $ISO_C (VLAN 20) does not"
	ip link set dev "$ifc" address 02:66:66:00:00:01 || fail "cannot change the MAC"
	spoofed=$(pings "$ISO_GW" 5)
	# The echo requests wait in the kernel for an ARP reply that never
	# comes (the switch drops the ARP requests), and the interface's
	# tx_packets also counts ARP replies to b or the host that go out with
	# the real MAC around the change. arping's requests go out at once,
	# from the MAC the interface has: the host checks that the switch
	# counted at least as many spoofed frames as arping sent.
	arp=$(arping -c 3 -w 4 -I "$ifc" "$ISO_GW" 2>&1)
	ip link set dev "$ifc" address "$mac" || fail "cannot restore the MAC"
	data spoof_sent="$(echo "$arp" | sed -n 's/^Sent \([0-9]*\) probe.*/\1/p')"
	answered=$(echo "$arp" | sed -n 's/^Received \([0-9]*\) resp.*/\1/p')
	[ "$answered" = 0 ] || fail "from a spoofed MAC, ARP: $arp"
	[ "$spoofed" = 0 ] || fail "from a spoofed MAC, $spoofed of 5 pings answered"
	ping -c 1 -W 2 "$ISO_GW" >/dev/null 2>&1
	got=$(pings "$ISO_GW" 5)
	[ "$got" = 5 ] || fail "from its own MAC again, $got of 5 pings answered"
	note "spoofed MAC: 5 of 5 pings lost; own MAC: 5 of 5 answered"
	;;
b)
	got=$(pings "$ISO_C" 3)
	[ "$got" = 0 ] || fail "another VLAN: $got of 3 pings to $ISO_C answered"
	;;
c)
	for p in "$ISO_A" "$ISO_B"; do
		got=$(pings "$p" 3)
		[ "$got" = 0 ] || fail "another VLAN: $got of 3 pings to $p answered"
	done
	note "VLAN 20: $ISO_A and $ISO_B (VLAN 10) do not answer"
	;;
esac
echo "VHU-ISO: isolated"

if [ "$ISO_ROLE" = b ]; then
	wait "$cppid" && chmod +x /tmp/macflood || fail "cannot install macflood"
	wait_phase flood
	# to its own MAC: the switch filters them (nothing for the others'
	# rings to take), so what is under attack is the MAC table alone
	/tmp/macflood "$ifc" 10000 "$mac" 1 || fail "macflood failed"
	echo "VHU-ISO: flooded"
	seed=2 sent=10000
	while p=$(phase); [ "$p" != finished ] && [ "$p" != abort ] && [ "$seed" -lt 200 ]; do
		/tmp/macflood "$ifc" 2000 "$mac" "$seed" >/dev/null || fail "macflood failed"
		seed=$((seed + 1)) sent=$((sent + 2000))
	done
	data flood_sent="$sent"
	note "sent from $sent random sources"
	exit 0
fi

wait_phase check
got=$(pings "$ISO_GW" 50)
data flood_pings="$got"
[ "$got" = 50 ] || fail "during the flood, $got of 50 pings to $ISO_GW answered"
note "during the flood: 50 of 50 pings answered"
if [ "$ISO_ROLE" = a ]; then
	wget -q -O /tmp/file "http://$ISO_GW:8080/file" || fail "wget of the file failed"
	data sha256="$(sha256sum /tmp/file | cut -d' ' -f1)"
fi
echo "VHU-ISO: done"
