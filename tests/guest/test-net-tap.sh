#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A guest reaches the host through vhu-net's TAP uplink. Everything on the
# host side lives in a network namespace this test creates and deletes
# (trap on exit): vhu-net with --tap (it creates the TAP there), the TAP's
# address 10.211.2.1/24 and a busybox httpd serving a random file. The
# guest (net-pair.sh as the client) pings 10.211.2.1 and fetches the
# file; its sha256 must be the host's. QEMU itself needs no network: the
# vhost-user socket is a file.
#
#   test-net-tap.sh OUTDIR VHU-NET [--tap-offload on|off]
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 2 ] || fail "usage: $0 OUTDIR VHU-NET [--tap-offload on|off]"
OUTDIR=$1 NET=$2
shift 2
OFFLOAD=on
[ "${1:-}" = --tap-offload ] && OFFLOAD=$2
need_exe "$NET"
need_cmd ip busybox
t0=$(date +%s.%N)
guest_build "$OUTDIR"

netns_create vhu-tap

start_peer net "$T/net.log" ip netns exec "$NS" "$NET" --socket-path="$T/s.sock" \
	--tap=vhutap0 --tap-offload="$OFFLOAD"
wait_socket_ns "$T/s.sock" net
ip netns exec "$NS" ip link show vhutap0 >/dev/null 2>&1 || fail "vhu-net made no TAP vhutap0"
ip netns exec "$NS" ip addr add 10.211.2.1/24 dev vhutap0 || fail "ip addr add on the TAP"

mkdir -p "$T/www"
head -c $((2 << 20)) /dev/urandom >"$T/www/file"
sha=$(sha256sum "$T/www/file" | cut -d' ' -f1)
start_peer httpd "$T/httpd.log" ip netns exec "$NS" busybox httpd -f -vv -p 10.211.2.1:8080 -h "$T/www"

note "guest -> vhu-net -> TAP (offloads $OFFLOAD) in netns $NS"
guest_run --timeout 120 --vhost-user-net "$T/s.sock,mac=52:54:00:00:22:01" \
	--env NET_ROLE=client --env NET_IP=10.211.2.2 --env NET_PEER=10.211.2.1 \
	"$GUEST_SRC/net-pair.sh"
got=$(guest_get sha256)
[ "$got" = "$sha" ] || fail "the guest fetched sha256 $got, the host served $sha"
peer_alive net || fail "vhu-net died"
stop_peer net
[ "$PEER_RC" = 0 ] || fail "vhu-net exited with $PEER_RC"
grep "port [01] " "$T/net.log" | tail -n 2
grep -q "port 1 vhutap0: rx_packets=[1-9]" "$T/net.log" || fail "no frames counted from the TAP"
note "PASS: 2 MiB from the host through the TAP, sha256 matches; whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
