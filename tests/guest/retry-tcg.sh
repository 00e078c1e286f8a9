#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# retry-tcg.sh CMD ARGS...: run a migration test, and again (twice at most) only
# when the migration completed and then the destination *guest* died with no
# result at all (QEMU 7.2's multi-threaded TCG loses guest CPU writes across
# a migration now and then, with no vhost-user involved: docs/RELIABILITY.md,
# "Live migration"). A check that failed inside the guest (dmacheck, the
# page cache, the image, pings) printed a result line and is never retried,
# save one: dmacheck reading back the *next* generation of a chunk, which
# only its own lost store can explain (tests/guest/dmacheck.c, why()).
# Neither is a migration that did not complete. The last run's status is
# the test's. make soak counts these deaths instead of retrying them.
set -u
out=$(mktemp "${TMPDIR:-/tmp}/vhu-retry.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
# At most two more runs: a CI run saw the destination guest panic twice in a
# row (about 1 run in 10 dies so, for every back-end and the control alike).
for attempt in 1 2 3; do
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	if [ "$attempt" -lt 3 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] &&
		grep -q '^mig_status=completed' "$out" &&
		grep -Eq "QEMU exited with status 0 and no result line|cannot write to the destination's ttyS1|after the migration and printed nothing \(hung\)|a CPU write lost across the migration, not a device fault" "$out"; then
		echo "retry-tcg: the migration completed, then the destination guest died, hung, or lost its own CPU write;"
		echo "retry-tcg: a known QEMU 7.2 TCG failure (docs/RELIABILITY.md): running the test again"
		continue
	fi
	break
done
exit "$rc"
