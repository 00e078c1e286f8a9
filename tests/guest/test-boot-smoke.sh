#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Boot the test guest with a trivial script and report how long it took;
# this also runs (and caches) the KVM/TCG probe.
#
#   test-boot-smoke.sh OUTDIR
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -eq 1 ] || fail "usage: $0 OUTDIR"
t0=$(date +%s.%N)
guest_build "$1"
t1=$(date +%s.%N)
guest_run --env SMOKE_CPUS=1 "$GUEST_SRC/smoke.sh"
note "accel: $(sed -n 's/^accel=//p' "$GUEST_ACCEL_CACHE" 2>/dev/null) ($(sed -n 's/^why=//p' "$GUEST_ACCEL_CACHE" 2>/dev/null | cut -c1-120))"
note "build/cache check $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s; boot: $GUEST_TIMING; guest uptime at the script: $(guest_get uptime)s"
