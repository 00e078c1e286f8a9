#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tenant isolation on vhu-net with three QEMU guests (net-iso.sh in each)
# and a TAP trunk, in one boot:
#   a  VLAN 10, mac= its own: held to that source address
#   b  VLAN 10: the MAC-table flooder
#   c  VLAN 20, also addressed in a's and b's subnet
#   the TAP carries VLANs 10 and 20 tagged into a network namespace the
#   test creates and deletes, where 10.212.10.254 and 10.212.20.254 and an
#   httpd (/phase, /file) stand for the host. This VM's kernel has no VLAN
#   devices (no 8021q, no bridge), so vlansplit (vlansplit.c) is the far
#   end of the trunk: it moves frames between the TAP, tagged, and a veth
#   pair per VLAN, untagged, whose other end holds the address; the
#   kernel's own stack answers.
# Proven: a and b reach each other and the host on VLAN 10, c reaches the
# host on VLAN 20 (tagged both ways through the trunk), and neither VLAN
# reaches the other; a's frames from a spoofed MAC are all lost and
# counted (rx_drop_spoofed) while its own flow; while b floods the MAC
# table from 10,000 and more random sources, a and c lose none of 50
# pings each and a's 2 MiB file arrives intact, and vhu-net's counters
# show b held to --port-max-macs (16 here) with a's and the TAP's
# entries still in the table.
#
#   test-net-iso.sh OUTDIR VHU-NET --macflood PATH --vlansplit PATH
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 6 ] && [ "$3" = --macflood ] && [ "$5" = --vlansplit ] ||
	fail "usage: $0 OUTDIR VHU-NET --macflood PATH --vlansplit PATH"
OUTDIR=$1 NET=$2 MACFLOOD=$4 VLANSPLIT=$6
need_exe "$NET"
need_exe "$MACFLOOD"
need_exe "$VLANSPLIT"
need_cmd ip busybox
t0=$(date +%s.%N)
guest_build "$OUTDIR"

netns_create vhu-iso

MAX=16
start_peer net "$T/net.log" ip netns exec "$NS" "$NET" --queue-pairs=1 \
	--socket-path="$T/a.sock" --socket-path="$T/b.sock" --socket-path="$T/c.sock" \
	--tap=vhutap0 --port-max-macs=$MAX \
	--port-config="$T/a.sock,vlan=10,mac=52:54:00:00:23:01" \
	--port-config="$T/b.sock,vlan=10" --port-config="$T/c.sock,vlan=20" \
	--port-config=vhutap0,trunks=10,trunks=20
wait_socket_ns "$T/c.sock" net
nsx() { ip netns exec "$NS" "$@"; }
for v in 10 20; do
	nsx ip link add v$v type veth peer name v$v.host || fail "veth for VLAN $v"
	nsx ip addr add 10.212.$v.254/24 dev v$v.host || fail "ip addr on v$v.host"
	nsx ip link set v$v up && nsx ip link set v$v.host up || fail "veth $v up"
done
start_peer vlansplit "$T/vlansplit.log" ip netns exec "$NS" "$VLANSPLIT" vhutap0 10=v10 20=v20

mkdir -p "$T/www"
head -c $((2 << 20)) /dev/urandom >"$T/www/file"
sha=$(sha256sum "$T/www/file" | cut -d' ' -f1)
echo wait >"$T/www/phase"
start_peer httpd "$T/httpd.log" ip netns exec "$NS" busybox httpd -f -p 8080 -h "$T/www"

# no_timer_check: three TCG guests booting at once on a loaded host can miss
# the kernel's IO-APIC timer check and panic ("IO-APIC + timer doesn't work")
run_one() {
	local role=$1 mac=$2 ips=$3 gw=$4
	"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
		--data "$T/$role.data" --timeout 260 --log "$T/$role.console" \
		--vhost-user-net "$T/$role.sock,mac=$mac" --file macflood="$MACFLOOD" \
		--append no_timer_check \
		--env ISO_ROLE="$role" --env ISO_IPS="$ips" --env ISO_GW="$gw" \
		--env ISO_A=10.212.10.1 --env ISO_B=10.212.10.2 --env ISO_C=10.212.10.3 \
		"$GUEST_SRC/net-iso.sh" >"$T/$role.out" 2>&1
}
note "three guests: a, b on VLAN 10, c on VLAN 20, a TAP trunk into netns $NS"
run_one a 52:54:00:00:23:01 10.212.10.1 10.212.10.254 &
apid=$!
run_one b 52:54:00:00:23:02 10.212.10.2 10.212.10.254 &
bpid=$!
run_one c 52:54:00:00:23:03 "10.212.10.3 10.212.20.3" 10.212.20.254 &
cpid=$!

declare -A GPID=([a]=$apid [b]=$bpid [c]=$cpid)
# said ROLE STEP: the guest's console says "VHU-ISO: STEP"
said() { { tr -d '\r' <"$T/$1.console"; } 2>/dev/null | grep -qx "VHU-ISO: $2"; }
# advance STEP PHASE ROLES...: once every ROLE said STEP, /phase becomes PHASE
advance() {
	local step=$1 phase=$2 r ok
	shift 2
	for ((i = 0; i < 1800; i++)); do
		ok=1 dead=0
		for r in "$@"; do
			said "$r" "$step" && continue
			ok=0
			pid_running "${GPID[$r]}" || dead=1
		done
		[ "$ok" = 1 ] || [ "$dead" = 1 ] && break
		sleep 0.1
	done
	[ "$ok" = 1 ] || return 1
	echo "$phase" >"$T/www/phase.new" && mv "$T/www/phase.new" "$T/www/phase"
	note "every guest said '$step': phase $phase after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
}
# the table while every guest is up (a port's entries go with its guest):
# vhu-net prints its counters on SIGUSR1
snapshot() {
	kill -USR1 "${PEER_PID[net]}"
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -c ': port 3 vhutap0: ' "$T/net.log")" -ge 1 ] && break
		sleep 0.1
	done
	sleep 0.2
	SNAP=$(grep -E ': port [0-3] ' "$T/net.log" | tail -n 4)
}
SNAP=
advance ready isolation a b c &&
	advance isolated flood a b c &&
	advance flooded check b && snapshot &&
	advance done finished a c ||
	echo abort >"$T/www/phase" # the guests still waiting give up at once
wait "$apid"
arc=$?
wait "$bpid"
brc=$?
wait "$cpid"
crc=$?
for role in a b c; do
	echo "----- $role -----"
	cat "$T/$role.out"
done
[ "$arc" = 77 ] && [ "$brc" = 77 ] && [ "$crc" = 77 ] && skip "$(sed -n 's/^SKIP: //p' "$T/a.out" | tail -n 1)"
[ "$arc" = 0 ] || fail "guest a failed (status $arc)"
[ "$brc" = 0 ] || fail "guest b failed (status $brc)"
[ "$crc" = 0 ] || fail "guest c failed (status $crc)"
peer_alive net || fail "vhu-net died while the guests ran"
get() { awk -v k="$2" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' "$T/$1.data"; }
[ "$(get a sha256)" = "$sha" ] || fail "a fetched sha256 $(get a sha256) during the flood, the host served $sha"
stop_peer net
[ "$PEER_RC" = 0 ] || fail "vhu-net exited with $PEER_RC"
stop_peer httpd
stop_peer vlansplit
lines=$(grep -E ": port [0-3] " "$T/net.log" | tail -n 4)
echo "$lines"
# val PORT KEY [TEXT]: a counter of the last dump, or of TEXT
val() { sed -n "s/.*: port $1 .* $2=\([0-9]*\).*/\1/p" <<<"${3:-$lines}" | tail -n 1; }
sent=$(get a spoof_sent)
[ "${sent:-0}" -ge 1 ] && [ "$(val 0 rx_drop_spoofed)" -ge "$sent" ] ||
	fail "port a counted $(val 0 rx_drop_spoofed) spoofed frames, the guest sent $sent"
[ "$(val 1 rx_learn_limit)" -ge $((10000 - MAX)) ] ||
	fail "port b: $(val 1 rx_learn_limit) sources not learnt of $(get b flood_sent) sent"
[ "$(val 1 rx_filtered)" -ge 10000 ] || fail "port b: only $(val 1 rx_filtered) flood frames seen"
# after 10,000 sources, every guest up: b at its limit, a's and the TAP's
# stations still in the table (taken by the flood, they would be gone)
echo "$SNAP"
[ "$(val 1 macs "$SNAP")" -le "$MAX" ] || fail "port b held $(val 1 macs "$SNAP") table entries, over its $MAX"
[ "$(val 0 macs "$SNAP")" -ge 1 ] || fail "port a lost its table entry to the flood"
[ "$(val 3 macs "$SNAP")" -ge 2 ] || fail "the TAP held $(val 3 macs "$SNAP") entries, its two VLAN hosts wanted"
[ "$(val 3 rx_drop_vlan)" = 0 ] || fail "the trunk dropped tagged frames"
note "PASS: VLANs apart, spoofed source dropped ($(val 0 rx_drop_spoofed)), b flooded $(get b flood_sent) sources and owned $(val 1 macs "$SNAP") (of its $MAX), a and c lost no ping, file intact; whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
