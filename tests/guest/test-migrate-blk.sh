#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live migration of a guest whose disk is served over vhost-user-blk (issue
# 16), between two local QEMUs, each with its own back-end instance on the
# same image. The guest (blk-migrate.sh) writes and verifies continuously,
# reading through its page cache, while the host migrates it; after the
# switch-over it checks its page cache, the disk, and I/O on the destination.
# Then the host checks the image's sha256 against the guest's.
#
#   test-migrate-blk.sh OUTDIR [options]
#
#   --backend-cmd 'CMD'   the back-end; @SOCK@, @IMG@ and @QUEUES@ are replaced
#                         (run through sh -c; it must listen on @SOCK@). Two
#                         are started: one for each QEMU
#   --backend qsd         qemu-storage-daemon (aio=io_uring, one per QEMU,
#                         image locking off: they share the image)
#   --backend qemu        the control without vhost-user: QEMU's own
#                         virtio-blk-pci on the image (-drive, cache=none)
#   --name NAME           the back-end's name in the result line (default:
#                         vhu for --backend-cmd, else qsd or qemu)
#   --queues N            request queues (num-queues); the guest gets N vCPUs
#   --packed              packed=on on the device; must be negotiated
#   --size MIB            image size (default 32)
#   --dmacheck PATH       the static guest program tests/guest/dmacheck.c
#                         (built by meson): it runs in the guest across the
#                         migration on the first 16 MiB and catches device
#                         writes missing from the dirty log
#   --postcopy SECS       postcopy: both QEMUs get postcopy-ram, the bandwidth
#                         drops to 48 MiB/s (MIG_BANDWIDTH), and the source
#                         switches to postcopy SECS seconds into the
#                         migration; the guest then runs on the destination
#                         while most of its RAM is still on the source, and
#                         dmacheck's deferred writes make the destination's
#                         back-end read pages that have not arrived. vhu-blk
#                         on the destination must log its userfaultfd
#                         registration
#   --report              a failed migration or guest is reported on the
#                         "mig-result:" line and exits 0 (scripts/soak.sh);
#                         harness errors still fail
#
# The guest boots with init_on_alloc=0 (see blk-migrate.sh). Environment:
# VHU_GUEST_TCG_THREAD=single|multi, MIG_BANDWIDTH, MIG_TIMEOUT (mig-lib.sh).
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 1 ] || fail "usage: $0 OUTDIR [options]"
OUTDIR=$1
shift
BACKEND="" BACKEND_CMD="" NAME="" QUEUES=1 PACKED=0 SIZE=32 REPORT=0 DMACHECK= POSTCOPY=
while [ $# -gt 0 ]; do
	case $1 in
	--backend-cmd) BACKEND=cmd BACKEND_CMD=$2; shift ;;
	--backend) BACKEND=$2; shift ;;
	--name) NAME=$2; shift ;;
	--queues) QUEUES=$2; shift ;;
	--packed) PACKED=1 ;;
	--size) SIZE=$2; shift ;;
	--dmacheck) DMACHECK=$2; shift ;;
	--postcopy) POSTCOPY=$2; shift ;;
	--report) REPORT=1 ;;
	*) fail "unknown option $1" ;;
	esac
	shift
done
case $BACKEND in cmd | qsd | qemu) ;; *) fail "--backend-cmd CMD, --backend qsd or --backend qemu" ;; esac
[ -n "$NAME" ] || { NAME=$BACKEND; [ "$BACKEND" != cmd ] || NAME=vhu; }
MIG_BACKEND=$NAME
[ "$BACKEND" != qsd ] || need_cmd qemu-storage-daemon
need_cmd sha256sum truncate

MIG_REPORT=$REPORT
MIG_POSTCOPY=$POSTCOPY
. "$GUEST_SRC/mig-lib.sh"

guest_build "$OUTDIR"
IMG=$T/disk.img
BYTES=$((SIZE * 1024 * 1024))
truncate -s "$BYTES" "$IMG" || fail "cannot create $IMG"

DEVOPTS=num-queues=$QUEUES
[ "$PACKED" = 0 ] || DEVOPTS="$DEVOPTS,packed=on"

# start_backend SIDE: the back-end for the src or dst QEMU
start_backend() {
	local side=$1 sock=$T/$1.sock cmd
	case $BACKEND in
	cmd)
		cmd=${BACKEND_CMD//@SOCK@/$sock}
		cmd=${cmd//@IMG@/$IMG}
		cmd=${cmd//@QUEUES@/$QUEUES}
		start_peer "be-$side" "$T/be-$side.log" sh -c "exec $cmd"
		;;
	qsd)
		start_peer "be-$side" "$T/be-$side.log" qemu-storage-daemon \
			--blockdev "driver=file,node-name=file0,filename=$IMG,aio=io_uring,locking=off" \
			--blockdev "driver=raw,node-name=disk0,file=file0" \
			--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$sock,writable=on,num-queues=$QUEUES"
		;;
	esac
	wait_socket "$sock" "be-$side" 10
}

if [ "$BACKEND" = qemu ]; then
	# one image, opened by both QEMUs; QEMU hands the lock over itself
	MIG_SRC_ARGS=(--qemu-arg -drive --qemu-arg "file=$IMG,format=raw,if=none,id=d0,cache=none,aio=threads"
		--qemu-arg -device --qemu-arg "virtio-blk-pci,drive=d0,$DEVOPTS")
	MIG_DST_ARGS=("${MIG_SRC_ARGS[@]}")
else
	start_backend src
	start_backend dst
	MIG_SRC_ARGS=(--vhost-user-blk "$T/src.sock,$DEVOPTS")
	MIG_DST_ARGS=(--vhost-user-blk "$T/dst.sock,$DEVOPTS")
fi

note "migrating a guest on $NAME: $DEVOPTS, ${SIZE} MiB image, smp $QUEUES${POSTCOPY:+, postcopy after ${POSTCOPY}s}"
FILES=()
if [ -n "$DMACHECK" ]; then
	[ -x "$DMACHECK" ] || fail "dmacheck '$DMACHECK' is not executable"
	FILES=(--file "dmacheck=$DMACHECK")
fi
mig_boot "${FILES[@]}" --smp "$QUEUES" --mem 256 --timeout 300 --append "init_on_alloc=0 pti=on" \
	--env BLK_QUEUES="$QUEUES" --env MIG_WAIT_SECS=200 "$GUEST_SRC/blk-migrate.sh"
mig_wait_ready 120
# let a few rounds run before the migration starts
sleep 1
mig_migrate
mig_signal
mig_finish 150
cat "$T/dst.out"

if [ "$BACKEND" != qemu ]; then
	peer_alive be-dst || fail "the destination back-end died"
	# vhu-blk says when its regions went to the userfaultfd (postcopy.c);
	# qsd says nothing
	if [ -n "$POSTCOPY" ] && [ "$BACKEND" = cmd ]; then
		grep -h 'postcopy' "$T/be-dst.log" | head -n 6
		grep -q 'postcopy: .*registered' "$T/be-dst.log" ||
			fail "the destination back-end never registered its memory with the userfaultfd"
	fi
	stop_peer be-dst
	stop_peer be-src
fi
want=$(mig_get sha256)
n=$(mig_get bytes)
features=$(mig_get features)
{ [ -n "$want" ] && [ "${n:-0}" -eq "$BYTES" ]; } || fail "the guest reported no sha256, or not $BYTES bytes (${n:-none})"
got=$(sha256sum <"$IMG" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "image sha256 $got differs from what the guest last wrote ($want)"
if [ "$PACKED" = 1 ]; then
	[ "$(feature_bit "$features" 34)" = 1 ] || fail "VIRTIO_F_RING_PACKED not negotiated (features $features)"
fi
[ "$QUEUES" -eq 1 ] || [ "$(feature_bit "$features" 12)" = 1 ] ||
	fail "VIRTIO_BLK_F_MQ not negotiated with $QUEUES queues"
rounds=$(mig_get rounds)
[ "$BACKEND" = qemu ] || grep -h 'dirty' "$T"/be-*.log | head -n 6
mig_result PASS "rounds=$rounds"
note "PASS: migrated${POSTCOPY:+ (postcopy, $MIG_PC_REQUESTS pages requested by the destination)} in ${MIG_TOTAL_MS} ms (downtime ${MIG_DOWNTIME_MS} ms) while $rounds rounds of writes and page-cache reads ran; page cache, disk and image match after the switch-over"
