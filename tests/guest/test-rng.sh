#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A guest reads /dev/hwrng from a vhost-user-rng device served by a back-end
# program (vhu-rng), and checks the bytes look random (rng-read.sh: a
# chi-square test over byte values, and two reads differ).
#
#   test-rng.sh OUTDIR RNG-PROGRAM [--packed]
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 2 ] || fail "usage: $0 OUTDIR RNG-PROGRAM [--packed]"
OUTDIR=$1 PROG=$2
shift 2
OPTS='' PACKED=0
[ "${1:-}" = --packed ] && OPTS=,packed=on PACKED=1
[ -x "$PROG" ] || skip "$PROG is not built"
guest_build "$OUTDIR"
start_peer vhu-rng "$T/vhu-rng.log" "$PROG" --socket-path="$T/rng.sock"
wait_socket "$T/rng.sock" vhu-rng 10
guest_run --vhost-user-rng "$T/rng.sock$OPTS" --env RNG_BYTES=8192 "$GUEST_SRC/rng-read.sh"
stop_device vhu-rng
[ "$(guest_get rng_bytes)" -ge 8192 ] || fail "the guest read $(guest_get rng_bytes) bytes"
[ -n "$(guest_get rng_chi2_b)" ] || fail "the guest reported no chi-square figure"
features=$(guest_get features)
[ "$PACKED" = 0 ] || [ "$(feature_bit "$features" 34)" = 1 ] ||
	fail "VIRTIO_F_RING_PACKED not negotiated (features ${features:-?})"
note "PASS: 2 x $(guest_get rng_bytes) bytes from $(guest_get rng_device), chi-square $(guest_get rng_chi2_a) and $(guest_get rng_chi2_b); $GUEST_TIMING"
