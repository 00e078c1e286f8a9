#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Two QEMU guests on one vhu-net switch (net-pair.sh in each): they ping
# each other, and one fetches a random file from the other over HTTP; the
# sha256 both report must match. vhu-net must still run afterwards and
# print its counters when stopped.
#
#   test-net-pair.sh OUTDIR VHU-NET [options]
#
#   --queues N        queue pairs on both devices (mq=on); guests get N vCPUs;
#                     the client opens 16 more TCP connections, and vhu-net's
#                     own per-queue-pair counts must show frames delivered
#                     into every receive queue of both ports (which TX queue
#                     a guest sends on is the guest's choice: only reported)
#   --packed          packed=on on both devices; must be negotiated
#   --host-mtu N      host_mtu=N on both devices: QEMU sends NET_SET_MTU,
#                     which vhu-net must log, and the guests get that MTU
#   --client-opts O   more virtio-net-pci properties for the fetching guest,
#                     e.g. guest_csum=off,guest_tso4=off: the switch must
#                     then checksum and segment the server's TSO stream for it
#   --expect-log RE   vhu-net's log must match RE (grep -E) at the end
#   --ctl VHU-CTL     the client's port is not on vhu-net's command line:
#                     it is added with vhu-ctl port-add on --control-socket
#                     once vhu-net runs (issue 23), and port-list must then
#                     show it carried the transfer
#   --churn           with --ctl: while the guests ping and move the file,
#                     a third port is added and removed through vhu-ctl
#                     again and again (on three socket paths in turn, so
#                     slots are reused), until the client guest ends; at
#                     least 20 cycles must complete, each command must
#                     succeed, the transfer must be whole, and port-list
#                     must then show the two guests' ports only (issue 23)
#   --iommu           both devices behind intel-iommu (device-iotlb=on), on a
#                     pcie-root-port with iommu_platform=on,ats=on, guests
#                     booted with intel_iommu=on iommu.strict=1: 50 pings
#                     each with none lost, the file, and vhu-net's counters
#                     show frames that waited for an IOTLB entry and no drop
#   --peer            VHU-NET is a peer under comparison, not vhu-net (e.g.
#                     scripts/testpmd-switch.sh): the guests report lost
#                     pings, a file that did not move and DMAR faults instead
#                     of failing (first ping: 3 tries, fetch: 5 s), and
#                     nothing of vhu-net's log or exit status is checked
#   --kill N          once the guests have pinged, kill vhu-net with SIGKILL
#                     N times and start it again on the same sockets; QEMU
#                     reconnects (reconnect=1). After each restart a ping
#                     must be answered through the new vhu-net (the client's
#                     console, counted from the restart on, within 8 s)
#                     before the next kill, and the file must still move
#                     afterwards (issue 6: the link comes back)
#   --net-client      the roles turned (issue 20): both QEMUs listen
#                     (-chardev server=on,wait=off) and vhu-net connects to
#                     them, its first incarnation through --port-config
#                     PATH,client=1 on each port, later ones through
#                     --client; with --kill, each new vhu-net finds both
#                     QEMUs again by itself (back-off)
#
# Under TCG run-guest.sh gives virtio-net-pci vectors=0 (README.md).
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 2 ] || fail "usage: $0 OUTDIR VHU-NET [options]"
OUTDIR=$1 NET=$2
shift 2
QUEUES=1 PACKED=0 HOST_MTU='' CLIENT_OPTS='' EXPECT_LOG='' KILLS=0 IOMMU=0 PEER=0 CTL= NETCLIENT=0
CHURN=0
while [ $# -gt 0 ]; do
	case $1 in
	--queues) QUEUES=$2; shift ;;
	--packed) PACKED=1 ;;
	--host-mtu) HOST_MTU=$2; shift ;;
	--client-opts) CLIENT_OPTS=$2; shift ;;
	--expect-log) EXPECT_LOG=$2; shift ;;
	--kill) KILLS=$2; shift ;;
	--iommu) IOMMU=1 ;;
	--peer) PEER=1 ;;
	--ctl) CTL=$2; shift ;;
	--net-client) NETCLIENT=1 ;;
	--churn) CHURN=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
need_exe "$NET"
t0=$(date +%s.%N)
guest_build "$OUTDIR"

GEN=0 CUR=net
net_start() {
	[ "$GEN" = 0 ] || CUR=net$GEN
	GEN=$((GEN + 1))
	if [ "$NETCLIENT" = 1 ]; then
		# the sockets are QEMU's: nothing to wait for, vhu-net connects
		if [ "$GEN" = 1 ]; then
			start_peer "$CUR" "$T/$CUR.log" "$NET" --socket-path="$T/s.sock" \
				--socket-path="$T/c.sock" --queue-pairs="$QUEUES" \
				--port-config="$T/s.sock,client=1" --port-config="$T/c.sock,client=1"
		else
			start_peer "$CUR" "$T/$CUR.log" "$NET" --client --socket-path="$T/s.sock" \
				--socket-path="$T/c.sock" --queue-pairs="$QUEUES"
		fi
		return
	fi
	if [ -n "$CTL" ]; then
		start_peer "$CUR" "$T/$CUR.log" "$NET" --socket-path="$T/s.sock" \
			--queue-pairs="$QUEUES" --control-socket="$T/ctl"
		wait_socket "$T/ctl" "$CUR" 10
		"$CTL" -s "$T/ctl" port-add socket-path="$T/c.sock" >/dev/null ||
			fail "vhu-ctl port-add failed"
	else
		start_peer "$CUR" "$T/$CUR.log" "$NET" --socket-path="$T/s.sock" \
			--socket-path="$T/c.sock" --queue-pairs="$QUEUES"
	fi
	wait_socket "$T/s.sock" "$CUR" 10
	wait_socket "$T/c.sock" "$CUR" 10
}
net_start

opts=
[ "$QUEUES" -eq 1 ] || opts="$opts,queues=$QUEUES,mq=on"
[ "$PACKED" = 0 ] || opts="$opts,packed=on"
[ -z "$HOST_MTU" ] || opts="$opts,host_mtu=$HOST_MTU"
FLOWS=0
[ "$QUEUES" -eq 1 ] || FLOWS=16
OUTAGE=()
if [ "$IOMMU" = 1 ]; then
	opts="$opts,bus=rp1,iommu_platform=on,ats=on"
	OUTAGE=(--qemu-pre-arg -device --qemu-pre-arg intel-iommu,intremap=off,device-iotlb=on
		--qemu-pre-arg -device --qemu-pre-arg pcie-root-port,id=rp1,bus=pcie.0,chassis=1
		--append "intel_iommu=on iommu.strict=1" --env NET_IOMMU=1)
fi
if [ "$PEER" = 1 ]; then
	OUTAGE+=(--env NET_REPORT=1 --env NET_FIRST_PING_TRIES=3 --env NET_FETCH_S=5
		--env NET_DONE_S=10)
fi
if [ "$NETCLIENT" = 1 ]; then
	opts="$opts,server=on"
elif [ "$KILLS" -gt 0 ]; then
	opts="$opts,reconnect=1"
fi
if [ "$KILLS" -gt 0 ]; then
	OUTAGE+=(--env NET_OUTAGE_SECS=$((KILLS * 4 + 4)))
fi

# run_one ROLE SOCK MAC IP PEER EXTRA: one guest in the background
run_one() {
	local role=$1 sock=$2 mac=$3 ip=$4 peer=$5 extra=$6
	"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
		--data "$T/$role.data" --smp "$QUEUES" --timeout 150 --log "$T/$role.console" \
		--vhost-user-net "$sock$opts,mac=$mac$extra" \
		--env NET_ROLE="$role" --env NET_IP="$ip" --env NET_PEER="$peer" "${OUTAGE[@]}" \
		--env NET_FLOWS="$FLOWS" \
		"$GUEST_SRC/net-pair.sh" >"$T/$role.out" 2>&1
}
note "two guests: $QUEUES queue pair(s)${opts:+ ($opts)}${CLIENT_OPTS:+, client $CLIENT_OPTS}"
run_one server "$T/s.sock" 52:54:00:00:21:01 10.211.1.1 10.211.1.2 "" &
spid=$!
run_one client "$T/c.sock" 52:54:00:00:21:02 10.211.1.2 10.211.1.1 "${CLIENT_OPTS:+,$CLIENT_OPTS}" &
cpid=$!
# churn: a port added and removed while the guests' traffic flows
churn() {
	local i=0 x
	while pid_running "$cpid" && [ "$i" -lt 2000 ]; do
		x=$T/x$((i % 3)).sock
		"$CTL" -s "$T/ctl" port-add socket-path="$x" >/dev/null 2>>"$T/churn.err" ||
			{ echo "cycle $i: port-add $x failed" >>"$T/churn.err"; break; }
		"$CTL" -s "$T/ctl" port-remove name="$x" >/dev/null 2>>"$T/churn.err" ||
			{ echo "cycle $i: port-remove $x failed" >>"$T/churn.err"; break; }
		i=$((i + 1))
		sleep 0.05
	done
	echo "$i" >"$T/churn.count"
}
chpid=
if [ "$CHURN" = 1 ]; then
	[ -n "$CTL" ] || fail "--churn needs --ctl"
	: >"$T/churn.err"
	churn &
	chpid=$!
fi
if [ "$KILLS" -gt 0 ]; then
	# the client has pinged 10 of 10 and is in its outage window
	for ((i = 0; i < 1500; i++)); do
		grep -q 'outage window' "$T/client.console" 2>/dev/null && break
		pid_running "$cpid" || break
		sleep 0.1
	done
	# answered pings in the client's outage window so far
	pings() { tr -d '\r' <"$T/client.console" | grep -c '^VHU-OUTAGE-PING: ok'; }
	for ((k = 0; k < KILLS; k++)); do
		sleep 1
		pid_running "$cpid" || break
		kill -KILL "${PEER_PID[$CUR]}"
		wait "${PEER_PID[$CUR]}" 2>/dev/null
		PEER_PID[$CUR]=
		sleep 0.3
		before=$(pings)
		net_start
		# the link is back through this incarnation: a ping answered after
		# the restart (QEMU reconnects within about a second)
		for ((i = 0; i < 80; i++)); do
			[ "$(pings)" -gt "$before" ] && break
			pid_running "$cpid" || break
			sleep 0.1
		done
		[ "$(pings)" -gt "$before" ] ||
			fail "no ping answered within 8 s of restart $((k + 1)) of vhu-net"
		note "restart $((k + 1)): a ping answered after $((i / 10)).$((i % 10)) s"
	done
	note "killed vhu-net $k times"
	[ "$k" = "$KILLS" ] || fail "the client guest ended after $k of $KILLS kills"
fi
wait "$spid"
src=$?
wait "$cpid"
crc=$?
[ -z "$chpid" ] || wait "$chpid"
for role in server client; do
	echo "----- $role -----"
	cat "$T/$role.out"
done
[ "$src" = 77 ] && [ "$crc" = 77 ] && skip "$(sed -n 's/^SKIP: //p' "$T/server.out" | tail -n 1)"
[ "$src" = 0 ] || fail "the server guest failed (status $src)"
[ "$crc" = 0 ] || fail "the client guest failed (status $crc)"
peer_alive "$CUR" || fail "vhu-net died while the guests ran"
if [ -n "$CTL" ]; then
	# the port added at run time carried the transfer, by vhu-net's own counters
	"$CTL" -s "$T/ctl" port-list name="$T/c.sock" >"$T/port-list.json" ||
		fail "vhu-ctl port-list failed"
	"$PYTHON" - "$T/port-list.json" <<-'PY' || fail "port-list: $(cat "$T/port-list.json")"
	import json, sys
	c = json.load(open(sys.argv[1]))[0]['counters']
	# it fetched the 4 MiB file (TSO: few, large frames) and sent its requests
	assert c['rx_packets'] > 0 and c['tx_bytes'] >= 4 << 20, c
	print('port added at run time: rx_packets %d, tx_packets %d, tx_bytes %d' %
	      (c['rx_packets'], c['tx_packets'], c['tx_bytes']))
	PY
fi
if [ "$CHURN" = 1 ]; then
	[ ! -s "$T/churn.err" ] || fail "port churn: $(tail -n 3 "$T/churn.err")"
	cycles=$(cat "$T/churn.count" 2>/dev/null || echo 0)
	[ "$cycles" -ge 20 ] || fail "port churn: only $cycles add/remove cycles while the guests ran"
	"$CTL" -s "$T/ctl" port-list >"$T/ports-after.json" || fail "vhu-ctl port-list failed"
	"$PYTHON" - "$T/ports-after.json" "$T/s.sock" "$T/c.sock" <<-'PY' || fail "port-list after the churn: $(cat "$T/ports-after.json")"
	import json, sys
	names = sorted(p['name'] for p in json.load(open(sys.argv[1])))
	assert names == sorted(sys.argv[2:]), names
	PY
	note "port churn: $cycles add/remove cycles of a third port while the guests' traffic flowed"
fi

get() { sed -n "s/^$2=//p" "$T/$1.data" | tail -n 1; }
ssha=$(get server sha256) csha=$(get client sha256)
if [ -z "$ssha" ] || [ "$ssha" != "$csha" ]; then
	[ "$PEER" = 1 ] || fail "sha256: server $ssha, client $csha"
	note "the file did not move whole: sha256 server $ssha, client ${csha:-none}"
fi
features=$(get client features)
if [ "$PACKED" = 1 ]; then
	[ "$(feature_bit "$features" 34)" = 1 ] || fail "VIRTIO_F_RING_PACKED not negotiated ($features)"
fi
if [ "$QUEUES" -gt 1 ]; then
	[ "$(get client queues)" = "$QUEUES" ] || fail "the client has $(get client queues) rx queues"
fi
if [ -n "$HOST_MTU" ]; then
	[ "$(get client mtu)" = "$HOST_MTU" ] || fail "guest MTU $(get client mtu), host_mtu $HOST_MTU"
	grep -q "MTU $HOST_MTU (NET_SET_MTU)" "$T/$CUR.log" || fail "vhu-net did not log NET_SET_MTU $HOST_MTU"
fi
stop_peer "$CUR"
if [ "$PEER" = 1 ]; then
	grep -E "^  (RX|TX)-packets" "$T/$CUR.log" | tail -n 4 | sed 's/^ */peer port stats: /'
else
	[ "$PEER_RC" = 0 ] || fail "vhu-net exited with $PEER_RC"
fi
grep "port [01] " "$T/$CUR.log" | tail -n 4
if [ "$QUEUES" -gt 1 ]; then
	# frames into every receive queue, by the device's own counts
	for port in 0 1; do
		counts=$(sed -n "s/.*: queue pairs of port $port .* qp_tx_packets=\([0-9,]*\).*/\1/p" \
			"$T/$CUR.log" | tail -n 1)
		[ -n "$counts" ] || fail "vhu-net printed no per-queue-pair counts for port $port"
		IFS=, read -r -a c <<<"$counts"
		[ ${#c[@]} = "$QUEUES" ] || fail "port $port: ${#c[@]} queue pairs counted, $QUEUES wanted"
		for q in "${!c[@]}"; do
			[ "${c[$q]}" -gt 0 ] || fail "port $port: its RX queue of pair $q got no frame ($counts)"
		done
	done
fi
if [ "$KILLS" -gt 0 ]; then
	note "through $KILLS restarts: $(get client outage_ok) pings answered, $(get client outage_lost) lost"
	[ "$(get client outage_ok)" -ge 1 ] || fail "no ping got through between the restarts"
fi
if [ "$IOMMU" = 1 ]; then
	for role in server client; do
		[ "$(feature_bit "$(get $role features)" 33)" = 1 ] || fail "$role: ACCESS_PLATFORM not negotiated"
		note "$role: iommu $(get $role iommu_type), pings lost $(get $role ping_lost), DMAR faults $(get $role dmar_faults) (at probe: $(get $role probe_dmar_faults))"
	done
fi
if [ "$IOMMU" = 1 ] && [ "$PEER" = 0 ]; then
	counters=$(grep "port [01] " "$T/$CUR.log" | tail -n 2)
	grep -q "tx_iotlb_wait=[1-9]" <<<"$counters" ||
		fail "no frame waited for an IOTLB entry: the misses were not exercised"
	# (no_buffers and down count frames from before a guest's driver was up)
	if grep -Eq "tx_drop_busy=[1-9]|tx_drop_fault=[1-9]|rx_drop_fault=[1-9]" <<<"$counters"; then
		fail "vhu-net dropped frames behind the IOMMU: $counters"
	fi
fi
if [ -n "$EXPECT_LOG" ]; then
	grep -Eq "$EXPECT_LOG" "$T/$CUR.log" || fail "vhu-net's log does not match '$EXPECT_LOG'"
fi
# the client's HTTP fetch of the file: one TCP stream (MB = 10^6 bytes)
note "tcp: $(get client fetch_bytes) bytes in $(get client fetch_s)s: $(awk -v b="$(get client fetch_bytes)" \
	-v s="$(get client fetch_s)" 'BEGIN { printf "%.2f", (s > 0 ? b / s / 1e6 : 0) }') MB/s (guest clock)"
if [ "$PEER" = 1 ]; then
	note "peer run done (reported above, not judged); whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
	exit 0
fi
note "PASS: file of $(get server sha256 | cut -c1-12)... moved in $(get client fetch_s)s (guest clock); whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
