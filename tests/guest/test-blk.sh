#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A guest writes a random pattern over a vhost-user-blk disk and reads it
# back (blk-pattern.sh); after the guest powered off and the back-end stopped,
# the image on the host must hold exactly what the guest wrote.
#
#   test-blk.sh OUTDIR [options]
#
#   OUTDIR                 where the guest is built and cached (build-guest.sh)
#   --backend qsd          qemu-storage-daemon's vhost-user-blk export (default)
#   --backend-cmd 'CMD'    any other back-end: CMD is run through sh -c after
#                          replacing @SOCK@, @IMG@ and @QUEUES@; it must listen
#                          on @SOCK@ and serve the raw image @IMG@
#   --queues N             request queues (device num-queues and back-end)
#   --smp N                guest vCPUs (default: same as --queues)
#   --packed               packed=on on the device; the packed ring must be
#                          negotiated unless --packed-optional
#   --packed-optional      do not check that it was
#   --no-event-idx         event_idx=off on the device; checked negotiated off
#   --size MIB             image size (default 16)
#   --iommu                the device behind a virtual IOMMU: intel-iommu with
#                          device-iotlb=on, the device on a pcie-root-port with
#                          iommu_platform=on,ats=on, the guest booted with
#                          intel_iommu=on iommu.strict=1; the guest checks the
#                          IOMMU is in the path (blk-pattern.sh BLK_IOMMU)
#   --per-queue-counts     the back-end is vhu-blk: with more than one queue,
#                          every queue the guest uses must have carried
#                          requests, by the counts vhu-blk logs at exit
#   --host-notifier        the back-end is vhu-blk --poll: page-per-vq=on on
#                          the device, and by the kick counts vhu-blk logs at
#                          exit the guest's kicks came through the doorbell
#                          pages (HOST_NOTIFIER): at least 40 of them, and
#                          at most 1 in 10 through the kick eventfds
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 1 ] || fail "usage: $0 OUTDIR [options]"
OUTDIR=$1
shift
BACKEND=qsd BACKEND_CMD='' QUEUES=1 SMP='' PACKED=0 PACKED_OPTIONAL=0 NO_EVIDX=0 SIZE=16 IOMMU=0
PER_QUEUE=0 HOST_NOTIFIER=0
while [ $# -gt 0 ]; do
	case $1 in
	--backend) BACKEND=$2; shift ;;
	--backend-cmd) BACKEND=cmd BACKEND_CMD=$2; shift ;;
	--queues) QUEUES=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--packed) PACKED=1 ;;
	--packed-optional) PACKED_OPTIONAL=1 ;;
	--no-event-idx) NO_EVIDX=1 ;;
	--size) SIZE=$2; shift ;;
	--iommu) IOMMU=1 ;;
	--per-queue-counts) PER_QUEUE=1 ;;
	--host-notifier) HOST_NOTIFIER=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
SMP=${SMP:-$QUEUES}
need_cmd sha256sum truncate

t0=$(date +%s.%N)
guest_build "$OUTDIR"

IMG=$T/disk.img
SOCK=$T/blk.sock
BYTES=$((SIZE * 1024 * 1024))
truncate -s "$BYTES" "$IMG" || fail "cannot create $IMG"

case $BACKEND in
qsd)
	start_qsd_blk qsd "$IMG" "$SOCK" "$QUEUES"
	;;
cmd)
	cmd=${BACKEND_CMD//@SOCK@/$SOCK}
	cmd=${cmd//@IMG@/$IMG}
	cmd=${cmd//@QUEUES@/$QUEUES}
	start_peer backend "$T/backend.log" sh -c "exec $cmd"
	wait_socket "$SOCK" backend 10
	;;
*) fail "unknown back-end '$BACKEND'" ;;
esac
PEER=$BACKEND
[ "$PEER" = cmd ] && PEER=backend

DEVOPTS=num-queues=$QUEUES
[ "$PACKED" = 0 ] || DEVOPTS="$DEVOPTS,packed=on"
[ "$NO_EVIDX" = 0 ] || DEVOPTS="$DEVOPTS,event_idx=off"
# QEMU maps a host notifier only where each ring's doorbell has a page of its own
[ "$HOST_NOTIFIER" = 0 ] || DEVOPTS="$DEVOPTS,page-per-vq=on"
IOMMU_ARGS=()
if [ "$IOMMU" = 1 ]; then
	# the root port is required: on pcie.0 virtio-pci is conventional PCI and ats=on is ignored
	DEVOPTS="$DEVOPTS,bus=rp1,iommu_platform=on,ats=on"
	IOMMU_ARGS=(--qemu-pre-arg -device --qemu-pre-arg intel-iommu,intremap=off,device-iotlb=on
		--qemu-pre-arg -device --qemu-pre-arg pcie-root-port,id=rp1,bus=pcie.0,chassis=1
		--append "intel_iommu=on iommu.strict=1" --env BLK_IOMMU=1)
fi

note "guest: smp $SMP, vhost-user-blk-pci $DEVOPTS, ${SIZE} MiB image, back-end $BACKEND"
guest_run --smp "$SMP" --timeout 120 \
	--vhost-user-blk "$SOCK,$DEVOPTS" "${IOMMU_ARGS[@]}" \
	--env BLK_QUEUES="$QUEUES" --env BLK_BYTES="$BYTES" \
	"$GUEST_SRC/blk-pattern.sh"

peer_alive "$PEER" || fail "the back-end died while the guest ran"
stop_device "$PEER"

want=$(guest_get sha256)
n=$(guest_get bytes)
features=$(guest_get features)
{ [ -n "$want" ] && [ -n "$n" ]; } || fail "the guest reported no sha256/bytes"
[ "$n" -eq "$BYTES" ] || fail "the guest wrote $n bytes, the image has $BYTES"
got=$(head -c "$n" "$IMG" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] ||
	fail "image sha256 $got differs from what the guest wrote ($want)"

# Negotiated features, as the guest driver sees them.
[ "$QUEUES" -eq 1 ] || [ "$(feature_bit "$features" 12)" = 1 ] ||
	fail "VIRTIO_BLK_F_MQ not negotiated with $QUEUES queues"
if [ "$PACKED" = 1 ] && [ "$PACKED_OPTIONAL" = 0 ]; then
	[ "$(feature_bit "$features" 34)" = 1 ] || fail "VIRTIO_F_RING_PACKED not negotiated (features $features)"
fi
if [ "$IOMMU" = 1 ]; then
	[ "$(feature_bit "$features" 33)" = 1 ] || fail "VIRTIO_F_ACCESS_PLATFORM not negotiated (features $features)"
	note "IOMMU in the path: iommu group type $(guest_get iommu_type), ATS $(guest_get ats), DMAR faults $(guest_get dmar_faults) (at probe: $(guest_get probe_dmar_faults))"
fi
if [ "$NO_EVIDX" = 1 ]; then
	[ "$(feature_bit "$features" 29)" = 0 ] || fail "VIRTIO_RING_F_EVENT_IDX negotiated despite event_idx=off"
fi

# Every queue the guest has carried I/O: the device's own counts (vhu-blk
# logs "requests per queue: 0=N 1=N ..." at exit), not the guest's word.
if [ "$PER_QUEUE" = 1 ] && [ "$QUEUES" -gt 1 ]; then
	counts=$(sed -n 's/^vhu-blk: requests per queue://p' "$T/backend.log" | tail -n 1)
	[ -n "$counts" ] || fail "vhu-blk logged no per-queue request counts at exit"
	gq=$(guest_get queues)
	[ "${gq:-0}" -ge 2 ] || fail "the guest has ${gq:-no} blk-mq queues, 2 or more wanted"
	used=0
	for kv in $counts; do
		q=${kv%%=*} n=${kv#*=}
		[ "$q" -lt "$gq" ] || continue
		[ "$n" -gt 0 ] || fail "queue $q carried no request (vhu-blk per queue:$counts; the guest has $gq queues)"
		used=$((used + 1))
	done
	[ "$used" -eq "$gq" ] || fail "vhu-blk counted $used queues, the guest has $gq (per queue:$counts)"
	note "vhu-blk requests per queue:$counts"
fi

# The kicks' path, by vhu-blk's own counts ("kicks per queue: 0=eventfd:N,doorbell:M ...").
if [ "$HOST_NOTIFIER" = 1 ]; then
	kicks=$(sed -n 's/^vhu-blk: kicks per queue://p' "$T/backend.log" | tail -n 1)
	[ -n "$kicks" ] || fail "vhu-blk logged no kick counts at exit"
	ev=0 db=0
	for kv in $kicks; do
		v=${kv#*=eventfd:}
		ev=$((ev + ${v%%,*}))
		db=$((db + ${kv##*doorbell:}))
	done
	note "vhu-blk kicks per queue:$kicks"
	[ "$db" -ge 40 ] || fail "only $db kicks came through the doorbell pages (eventfd: $ev)"
	[ $((ev * 10)) -le "$db" ] || fail "$ev kicks came through the eventfds, $db through the doorbells"
	grep -q "host notifier" "$T/backend.log" && fail "a host notifier was refused: $(grep "host notifier" "$T/backend.log")"
fi

note "PASS: image matches the guest's pattern (sha256 $want); features $features, irq $(guest_get irq), queues $(guest_get queues)"
note "guest write $(guest_get write_s)s, read $(guest_get read_s)s; boot+run: $GUEST_TIMING; whole test $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
