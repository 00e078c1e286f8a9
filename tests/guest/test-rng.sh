#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A guest reads /dev/hwrng from a vhost-user-rng device served by a back-end
# program (vhu-rng), and checks the bytes look random (rng-read.sh).
#
#   test-rng.sh OUTDIR RNG-PROGRAM [--packed]
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -ge 2 ] || fail "usage: $0 OUTDIR RNG-PROGRAM [--packed]"
OUTDIR=$1 PROG=$2
shift 2
OPTS=''
[ "${1:-}" = --packed ] && OPTS=,packed=on
[ -x "$PROG" ] || skip "$PROG is not built"
guest_build "$OUTDIR"
start_peer vhu-rng "$T/vhu-rng.log" "$PROG" --socket-path="$T/rng.sock"
wait_socket "$T/rng.sock" vhu-rng 10
guest_run --vhost-user-rng "$T/rng.sock$OPTS" --env RNG_BYTES=8192 "$GUEST_SRC/rng-read.sh"
[ "$(guest_get rng_bytes)" -ge 8192 ] || fail "the guest read $(guest_get rng_bytes) bytes"
note "PASS: $(guest_get rng_bytes) bytes from $(guest_get rng_device), $(guest_get rng_distinct) distinct values; $GUEST_TIMING"
