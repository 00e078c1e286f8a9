#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-rng migrates (rng_migrate_check.c, lib/frontend as the guest): two
# vhu-rng processes, the device handed from the first to the second with a
# round of requests posted; the source logged the pages it filled, and both
# exit cleanly after.
#
#   rng_migrate.sh RNG_MIGRATE_CHECK VHU_RNG [--packed]
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || fail "usage: $0 RNG_MIGRATE_CHECK VHU_RNG [--packed]"
CHECK=$1 RNG=$2
shift 2
[ -x "$CHECK" ] || fail "'$CHECK' is not executable"
need_exe "$RNG"

for side in src dst; do
	start_peer "rng-$side" "$T/$side.log" "$RNG" --socket-path="$T/$side.sock"
	wait_socket "$T/$side.sock" "rng-$side"
done
timeout 60 "$CHECK" "$T/src.sock" "$T/dst.sock" "$@" >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
[ $rc -eq 0 ] || fail "rng_migrate_check exited with $rc"
grep -q 'dirty logging on' "$T/src.log" || fail "the source vhu-rng did not log that it logs"
stop_device rng-dst
stop_device rng-src
note "pass"
exit 0
