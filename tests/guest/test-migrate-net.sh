#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live migration of a guest on vhost-user-net (issue 16), between two local
# QEMUs whose devices are two ports of the same back-end (net-migrate.sh in
# the guest). What is counted is what a peer of the guest loses across the
# migration.
#
#   test-migrate-net.sh OUTDIR --backend vhu VHU-NET [options]
#       vhu-net with three ports: the source QEMU's, the destination's, and
#       a TAP uplink in a network namespace this test creates and deletes.
#       From the namespace the host pings the guest every 50 ms from before
#       the migration until a few seconds after it. QEMU has
#       guest_announce=off, so it sends SEND_RARP to the destination's port:
#       vhu-net must log the RARP for the guest's MAC on port 1, and the
#       pings must come back within MAX_LOST losses (the guest itself sends
#       nothing unprompted, so only the RARP moves its MAC to the new port)
#   test-migrate-net.sh OUTDIR --backend testpmd
#       the control: dpdk-testpmd with two net_vhost ports, each reflecting
#       its frames (macswap, loop topology); the guest pings a made-up
#       neighbour every 50 ms and counts the frames that did not come back
#
#   --max-lost N   fail when more than N pings/frames were lost (default 20,
#                  one second's worth)
#   --report       failures go on the "mig-result:" line, exit 0 (soak.sh)
#
# Environment: VHU_GUEST_TCG_THREAD, MIG_BANDWIDTH, MIG_TIMEOUT (mig-lib.sh),
# NET_AFTER_SECS (pinging after the switch-over, default 3).
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 1 ] || fail "usage: $0 OUTDIR --backend vhu VHU-NET | --backend testpmd [options]"
OUTDIR=$1
shift
BACKEND='' NET='' MAX_LOST=20 REPORT=0
while [ $# -gt 0 ]; do
	case $1 in
	--backend)
		BACKEND=$2
		shift
		if [ "$BACKEND" = vhu ]; then
			NET=${2:-}
			shift
		fi
		;;
	--max-lost) MAX_LOST=$2; shift ;;
	--report) REPORT=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
case $BACKEND in vhu) need_exe "$NET"; need_cmd ip busybox ;; testpmd) need_cmd dpdk-testpmd ;; *) fail "--backend vhu VHU-NET or --backend testpmd" ;; esac
MIG_BACKEND=$BACKEND
[ "$BACKEND" != testpmd ] || MIG_BACKEND=dpdk
MIG_REPORT=$REPORT
. "$GUEST_SRC/mig-lib.sh"
guest_build "$OUTDIR"
MAC=52:54:00:00:33:01
DEVOPTS=mac=$MAC,guest_announce=off
NET_IP=10.211.3.2 NET_PEER=10.211.3.1

if [ "$BACKEND" = vhu ]; then
	NS=vhu-mig-${T##*/vhu-}
	ip netns add "$NS" 2>"$T/netns.err" || skip "cannot create a network namespace: $(cat "$T/netns.err")"
	on_cleanup "ip netns delete '$NS'"
	ip netns exec "$NS" ip link set lo up || fail "netns $NS: lo up"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	start_peer be "$T/be.log" ip netns exec "$NS" "$NET" --socket-path="$T/src.sock" \
		--socket-path="$T/dst.sock" --tap=vhutap0 --queue-pairs=1
	# /proc/net/unix is per namespace: look from inside
	for s in src dst; do
		for ((i = 0; i < 100; i++)); do
			ip netns exec "$NS" awk -v p="$T/$s.sock" '$NF == p && $4 == "00010000" { f = 1 } END { exit !f }' \
				/proc/net/unix && break
			peer_alive be || fail "vhu-net exited before listening"
			sleep 0.1
		done
		[ "$i" -lt 100 ] || fail "vhu-net is not listening on $T/$s.sock after 10s"
	done
	ip netns exec "$NS" ip addr add "$NET_PEER/24" dev vhutap0 || fail "ip addr add on the TAP"
	MODE=answer
	# after the switch-over the guest waits only on its CPU and ttyS1: the
	# host counts the pings (mig-lib.sh, mig_finish)
	MIG_HANG_IS_CPU=1
else
	prefix=vhu-mig-${T##*/vhu-}
	on_cleanup "rm -rf '/var/run/dpdk/$prefix' '${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix' '/tmp/dpdk/$prefix'"
	start_peer be "$T/be.log" dpdk-testpmd --no-huge -m 1024 --no-pci --no-shconf --file-prefix "$prefix" \
		--vdev "net_vhost0,iface=$T/src.sock,queues=1" --vdev "net_vhost1,iface=$T/dst.sock,queues=1" -- \
		--forward-mode=macswap --port-topology=loop --auto-start --stats-period 5 --nb-cores=1 \
		--total-num-mbufs=4096
	wait_socket "$T/src.sock" be 20
	wait_socket "$T/dst.sock" be 20
	MODE=reflect
fi
MIG_SRC_ARGS=(--vhost-user-net "$T/src.sock,$DEVOPTS")
MIG_DST_ARGS=(--vhost-user-net "$T/dst.sock,$DEVOPTS")

note "migrating a guest on $BACKEND from port $T/src.sock to $T/dst.sock"
mig_boot --mem 256 --timeout 300 --append pti=on \
	--env NET_IP="$NET_IP" --env NET_PEER="$NET_PEER" --env NET_MODE="$MODE" \
	"$GUEST_SRC/net-migrate.sh"
mig_wait_ready 120
if [ "$MODE" = answer ]; then
	ip netns exec "$NS" busybox ping -i 0.05 "$NET_IP" >"$T/ping.out" 2>&1 &
	PING_PID=$!
	on_cleanup "kill $PING_PID 2>/dev/null"
fi
sleep 1
mig_migrate
mig_signal
sleep "${NET_AFTER_SECS:-3}"
if [ "$MODE" = answer ]; then
	kill -INT "$PING_PID"
	wait "$PING_PID"
fi
"$PYTHON" "$GUEST_SRC/qmp.py" send "$T/dst.ser" $'DONE\n' || fail "cannot write DONE to the destination's ttyS1"
mig_finish 60
cat "$T/dst.out"
peer_alive be || fail "the back-end died"
stop_peer be

if [ "$MODE" = answer ]; then
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$T/ping.out")
	got=$(sed -n 's/.* \([0-9]*\) \(packets \)\{0,1\}received.*/\1/p' "$T/ping.out")
	[ -n "$sent" ] && [ -n "$got" ] || { cat "$T/ping.out"; fail "no ping statistics"; }
	lost=$((sent - got))
	# the longest run of unanswered sequence numbers, in pings
	gap=$(sed -n "s/.*[ _]seq=\\([0-9]*\\).*/\\1/p" "$T/ping.out" |
		awk 'NR > 1 && $1 - prev - 1 > max { max = $1 - prev - 1 } { prev = $1 } END { print max + 0 }')
	what="host -> guest pings: $sent sent, $got answered, $lost lost (longest gap $gap)"
	grep -Eq "port 1 [^ ]*: RARP for $MAC broadcast" "$T/be.log" ||
		fail "vhu-net logged no RARP for $MAC on the destination's port (port 1): $what"
else
	sent=$(mig_get net_tx) got=$(mig_get net_rx)
	[ -n "$sent" ] && [ -n "$got" ] || fail "the guest reported no frame counts"
	# DPDK's vhost injects a RARP after the switch-over, and it comes
	# back too: more frames in than out is no loss
	lost=$((sent > got ? sent - got : 0))
	gap=
	what="guest frames: $sent sent, $got reflected back, $lost lost"
fi
note "$what"
[ "$got" -gt 0 ] || fail "nothing came back: $what"
[ "$lost" -le "$MAX_LOST" ] || fail "more than $MAX_LOST lost: $what"
mig_result PASS "lost=$lost sent=$sent gap=$gap"
note "PASS: migrated in ${MIG_TOTAL_MS} ms (downtime ${MIG_DOWNTIME_MS} ms); $what"
