#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A guest pings a made-up neighbour through a vhost-user-net back-end that
# reflects every frame with the MAC addresses swapped (net-traffic.sh); every
# frame sent must come back.
#
#   test-net.sh OUTDIR [options]
#
#   OUTDIR                 where the guest is built and cached (build-guest.sh)
#   --backend testpmd      dpdk-testpmd, net_vhost vdev, macswap (default)
#   --backend-cmd 'CMD'    any other reflecting back-end: CMD is run through
#                          sh -c after replacing @SOCK@ and @QUEUES@; it must
#                          listen on @SOCK@
#   --queues N             queue pairs (default 1)
#   --smp N                guest vCPUs (default: same as --queues)
#   --packed               packed=on on the device; must be negotiated
#
# Under TCG run-guest.sh gives the virtio-net-pci vectors=0: QEMU 7.2 dies of
# SIGSEGV with vhost-user-net and MSI-X under TCG (README.md).
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 1 ] || fail "usage: $0 OUTDIR [options]"
OUTDIR=$1
shift
BACKEND=testpmd BACKEND_CMD='' QUEUES=1 SMP='' PACKED=0
while [ $# -gt 0 ]; do
	case $1 in
	--backend) BACKEND=$2; shift ;;
	--backend-cmd) BACKEND=cmd BACKEND_CMD=$2; shift ;;
	--queues) QUEUES=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--packed) PACKED=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
SMP=${SMP:-$QUEUES}

t0=$(date +%s.%N)
guest_build "$OUTDIR"
SOCK=$T/net.sock

case $BACKEND in
testpmd)
	need_cmd dpdk-testpmd
	prefix=vhu-guest-${T##*/}
	# DPDK's runtime directory (see rte_eal_get_runtime_dir), even with
	# --no-shconf.
	on_cleanup "rm -rf '/var/run/dpdk/$prefix' '${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix' '/tmp/dpdk/$prefix'"
	# No hugepages: --no-huge with a small mbuf pool; --in-memory leaves no
	# runtime files behind. The stats loop keeps it running without a tty.
	start_peer testpmd "$T/testpmd.log" dpdk-testpmd --no-huge -m 1024 --no-pci --no-shconf --file-prefix "$prefix" \
		--vdev "net_vhost0,iface=$SOCK,queues=$QUEUES" -- \
		--forward-mode=macswap --auto-start --stats-period 5 --nb-cores=1 \
		--total-num-mbufs=2048 --rxq="$QUEUES" --txq="$QUEUES"
	PEER=testpmd
	;;
cmd)
	cmd=${BACKEND_CMD//@SOCK@/$SOCK}
	cmd=${cmd//@QUEUES@/$QUEUES}
	start_peer backend "$T/backend.log" sh -c "exec $cmd"
	PEER=backend
	;;
*) fail "unknown back-end '$BACKEND'" ;;
esac
wait_socket "$SOCK" "$PEER" 20

DEVOPTS=
[ "$QUEUES" -eq 1 ] || DEVOPTS=",queues=$QUEUES,mq=on"
[ "$PACKED" = 0 ] || DEVOPTS="$DEVOPTS,packed=on"

note "guest: smp $SMP, vhost-user-net, $QUEUES queue pair(s)${DEVOPTS:+ ($DEVOPTS)}, back-end $BACKEND"
guest_run --smp "$SMP" --timeout 120 --vhost-user-net "$SOCK$DEVOPTS" "$GUEST_SRC/net-traffic.sh"

peer_alive "$PEER" || fail "the back-end died while the guest ran"
features=$(guest_get features)
if [ "$PACKED" = 1 ]; then
	[ "$(feature_bit "$features" 34)" = 1 ] || fail "VIRTIO_F_RING_PACKED not negotiated (features $features)"
fi
note "PASS: sent $(guest_get net_tx), received $(guest_get net_rx) frames; features $features, irq $(guest_get irq)"
note "boot+run: $GUEST_TIMING; whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
