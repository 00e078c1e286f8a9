# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # MIG_* are for the tests that source this
#
# Live migration between two local QEMUs, for the migration tests. Source it
# after guest-lib.sh (and after guest_build):
#
#   mig_boot ARGS... SCRIPT   start the source QEMU (run-guest.sh ARGS SCRIPT,
#                           with a QMP socket and a second serial port) and the
#                           destination (the same command line, its own
#                           ARGS from MIG_DST_ARGS in place of MIG_SRC_ARGS,
#                           plus -incoming); both in the background
#   mig_wait_ready [SECS]   until the source guest printed "mig_ready=1"
#   mig_migrate             migrate (tests/guest/qmp.py migrate); sets
#                           MIG_STATUS, MIG_TOTAL_MS, MIG_DOWNTIME_MS, ...
#                           and fails unless it completed with the source in
#                           postmigrate and the destination running
#   mig_signal              write "MIGRATED" to the destination guest's ttyS1
#   mig_finish              wait for the destination guest's result (fail
#                           unless PASS), then quit the source QEMU
#   mig_result STATUS [KEY=VALUE...]  the one "mig-result:" line scripts/soak.sh
#                           reads: status, back-end, times, and more
#
# MIG_SRC_ARGS / MIG_DST_ARGS: arrays of run-guest.sh arguments that differ
# between the two sides (the vhost-user socket). Every failure after
# sourcing prints a "mig-result: status=FAIL" line first; with MIG_REPORT=1
# (--report) it then exits 0: for scripts/soak.sh a failure is data.
#
# Environment: VHU_GUEST_TCG_THREAD (single|multi, see run-guest.sh),
# MIG_BANDWIDTH (bytes/s, default 1 GiB/s; 48 MiB/s with MIG_POSTCOPY),
# MIG_TIMEOUT (s, default 120), MIG_KEEP_DIR (copy both consoles and every
# log there at the end), MIG_POSTCOPY=SECS (postcopy: postcopy-ram on both
# QEMUs, and migrate-start-postcopy SECS seconds into the migration, while
# the low bandwidth keeps most of the guest's RAM on the source; the
# migration fails unless it switched to postcopy), MIG_PC_BANDWIDTH
# (bytes/s, default 16 MiB/s: max-postcopy-bandwidth, so that pages the
# destination did not ask for stay away for seconds after the switch-over).

MIG_SRC_ARGS=()
MIG_DST_ARGS=()
MIG_BACKEND=${MIG_BACKEND:-?}
MIG_STATUS='' MIG_TOTAL_MS='' MIG_DOWNTIME_MS='' MIG_SETUP_MS='' MIG_ERROR=''
MIG_POSTCOPY=${MIG_POSTCOPY:-} MIG_PC_REQUESTS=''
MIG_SRC_PID='' MIG_DST_PID=''
MIG_RESULT_DONE=0
MIG_REPORT=${MIG_REPORT:-0}
MIG_T0=$(date +%s.%N)
[ -z "${MIG_KEEP_DIR:-}" ] ||
	on_cleanup "mkdir -p '$MIG_KEEP_DIR' && cp -f '$T'/*.console '$T'/*.log '$T'/*.out '$T'/*.qemu '$MIG_KEEP_DIR'/ 2>/dev/null"

mig_result() {
	local status=$1
	shift
	[ "$MIG_RESULT_DONE" = 0 ] || return 0
	MIG_RESULT_DONE=1
	echo "mig-result: status=$status backend=$MIG_BACKEND mig_status=${MIG_STATUS:-none}" \
		"total_ms=${MIG_TOTAL_MS:-} downtime_ms=${MIG_DOWNTIME_MS:-} setup_ms=${MIG_SETUP_MS:-}" \
		"tcg_thread=${VHU_GUEST_TCG_THREAD:-default}" ${MIG_POSTCOPY:+"postcopy_requests=${MIG_PC_REQUESTS:-}"} \
		"wall_s=$(awk -v a="$MIG_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" "$@"
}

# lib.sh's fail, with the result line first; the QEMUs' outputs on failure
eval "lib_$(declare -f fail)"
fail() {
	local f
	for f in "$T/src.out" "$T/dst.out"; do
		[ -s "$f" ] || continue
		echo "----- $(basename "$f" .out) QEMU (run-guest.sh) -----"
		cat "$f"
	done
	# QEMU's own complaints, also from a QEMU that still runs
	for f in "$T/src.qemu" "$T/dst.qemu"; do
		[ -s "$f" ] || continue
		echo "----- $(basename "$f" .qemu) QEMU's output so far (last 20 lines) -----"
		tail -n 20 "$f"
	done
	# a guest that still runs has shown nothing yet: its console so far
	for f in "$T/src.console" "$T/dst.console"; do
		[ -s "$f" ] && ! grep -q 'guest console ('"$f" "${f%.console}.out" 2>/dev/null || continue
		echo "----- $(basename "$f") so far (last 40 lines) -----"
		tr -d '\r' <"$f" | tail -n 40
	done
	mig_result FAIL "reason=\"$*\""
	if [ "$MIG_REPORT" = 1 ]; then
		echo "FAIL (reported): $*"
		dump_logs
		exit 0
	fi
	lib_fail "$@"
}

mig_boot() {
	local n=$(($# - 1)) script=${*: -1} common
	common=("${@:1:n}")
	[ -n "$GUEST" ] || lib_fail "mig_boot before guest_build"
	need_cmd "$PYTHON"
	# the destination first: it must be listening before the source exists
	"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
		--log "$T/dst.console" --qemu-out "$T/dst.qemu" --data "$T/dst.data" --qmp "$T/dst.qmp" --serial2 "$T/dst.ser" \
		--incoming "unix:$T/mig.sock" "${common[@]}" "${MIG_DST_ARGS[@]}" "$script" \
		>"$T/dst.out" 2>&1 &
	MIG_DST_PID=$!
	on_cleanup "kill $MIG_DST_PID 2>/dev/null; wait $MIG_DST_PID 2>/dev/null"
	"$PYTHON" "$GUEST_SRC/qmp.py" wait "$T/dst.qmp" 30 ||
		{ mig_dst_skip; fail "the destination QEMU never answered QMP"; }
	"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
		--log "$T/src.console" --qemu-out "$T/src.qemu" --data "$T/src.data" --qmp "$T/src.qmp" --serial2 "$T/src.ser" \
		--migration-source "${common[@]}" "${MIG_SRC_ARGS[@]}" "$script" \
		>"$T/src.out" 2>&1 &
	MIG_SRC_PID=$!
	on_cleanup "kill $MIG_SRC_PID 2>/dev/null; wait $MIG_SRC_PID 2>/dev/null"
}

# run-guest.sh of the destination ended already: a skip stays a skip
mig_dst_skip() {
	local rc
	pid_running "$MIG_DST_PID" && return 0
	wait "$MIG_DST_PID"
	rc=$?
	[ "$rc" -ne 77 ] || skip "$(sed -n 's/^SKIP: //p' "$T/dst.out" | tail -n 1)"
}

mig_wait_ready() {
	local i secs=${1:-120} rc
	for ((i = 0; i < secs * 10; i++)); do
		grep -q 'VHU-GUEST-DATA: .*mig_ready=1' "$T/src.console" 2>/dev/null && return 0
		if ! pid_running "$MIG_SRC_PID"; then
			wait "$MIG_SRC_PID"
			rc=$?
			[ "$rc" -ne 77 ] || skip "$(sed -n 's/^SKIP: //p' "$T/src.out" | tail -n 1)"
			fail "the source guest ended (run-guest.sh status $rc) before it was ready to migrate"
		fi
		sleep 0.1
	done
	fail "the source guest was not ready to migrate within ${secs}s"
}

mig_migrate() {
	local rc bw=${MIG_BANDWIDTH:-1073741824} pc=()
	if [ -n "$MIG_POSTCOPY" ]; then
		pc=(--postcopy "$MIG_POSTCOPY" --postcopy-bandwidth "${MIG_PC_BANDWIDTH:-$((16 * 1024 * 1024))}")
		bw=${MIG_BANDWIDTH:-$((48 * 1024 * 1024))}
	fi
	"$PYTHON" "$GUEST_SRC/qmp.py" migrate "$T/src.qmp" "$T/dst.qmp" "unix:$T/mig.sock" \
		--bandwidth "$bw" --timeout "${MIG_TIMEOUT:-120}" "${pc[@]}" \
		>"$T/mig.out" 2>"$T/mig.err"
	rc=$?
	cat "$T/mig.out" "$T/mig.err"
	MIG_STATUS=$(sed -n 's/^mig_status=//p' "$T/mig.out")
	MIG_TOTAL_MS=$(sed -n 's/^mig_total_ms=//p' "$T/mig.out")
	MIG_DOWNTIME_MS=$(sed -n 's/^mig_downtime_ms=//p' "$T/mig.out")
	MIG_SETUP_MS=$(sed -n 's/^mig_setup_ms=//p' "$T/mig.out")
	MIG_ERROR=$(sed -n 's/^mig_error=//p' "$T/mig.out")
	MIG_PC_REQUESTS=$(sed -n 's/^mig_postcopy_requests=//p' "$T/mig.out")
	if [ "$rc" -ne 0 ]; then
		# the destination QEMU's last complaint (a postcopy that stalls says why there)
		MIG_ERROR=${MIG_ERROR:-$(grep -v '^qemu-system[^:]*: terminating on signal' "$T/dst.qemu" 2>/dev/null | head -n 1 | tr -d '"')}
		# QEMU could not place a page that arrived: something else had
		# filled it first on the destination
		case $MIG_ERROR in *postcopy_place_page:\ File\ exists*)
			MIG_ERROR="$MIG_ERROR (a page was there before it arrived: did the destination's back-end touch it without its userfaultfd?)" ;;
		esac
		fail "migration: status ${MIG_STATUS:-?}, source $(sed -n 's/^mig_src_state=//p' "$T/mig.out"), destination $(sed -n 's/^mig_dst_state=//p' "$T/mig.out")${MIG_ERROR:+: $MIG_ERROR}"
	fi
	if [ -n "$MIG_POSTCOPY" ]; then
		[ "$(sed -n 's/^mig_postcopy=//p' "$T/mig.out")" = 1 ] ||
			fail "the migration never switched to postcopy (precopy finished first?)"
		note "postcopy after $(sed -n 's/^mig_postcopy_after_ms=//p' "$T/mig.out") ms; the destination asked the source for $MIG_PC_REQUESTS pages"
	fi
	note "migrated: total ${MIG_TOTAL_MS} ms, downtime ${MIG_DOWNTIME_MS} ms, setup ${MIG_SETUP_MS} ms, $(sed -n 's/^mig_dirty_sync=//p' "$T/mig.out") dirty syncs"
}

mig_signal() {
	"$PYTHON" "$GUEST_SRC/qmp.py" send "$T/dst.ser" $'MIGRATED\n' ||
		fail "cannot write to the destination's ttyS1 ($T/dst.ser)"
}

# mig_finish [SECS]: the destination guest's result
mig_finish() {
	local secs=${1:-150} i rc
	for ((i = 0; i < secs * 10; i++)); do
		pid_running "$MIG_DST_PID" || break
		sleep 0.1
	done
	if pid_running "$MIG_DST_PID"; then
		# where the guest's CPU is, for the log
		echo "----- dst QEMU: query-status, info registers (RIP) -----"
		timeout 10 "$PYTHON" "$GUEST_SRC/qmp.py" cmd "$T/dst.qmp" query-status 2>&1 | head -n 3
		timeout 10 "$PYTHON" "$GUEST_SRC/qmp.py" cmd "$T/dst.qmp" human-monitor-command \
			'{"command-line": "info registers"}' 2>&1 | grep -o 'RIP=[0-9a-f]*' | head -n 1
		# A guest whose script waits only on its CPU and ttyS1 (MIG_HANG_IS_CPU=1,
		# set by the test) and printed nothing at all after the switch-over hung
		# in QEMU 7.2's TCG, like the deaths retry-tcg.sh retries
		if [ "${MIG_HANG_IS_CPU:-0}" = 1 ] && [ ! -s "$T/dst.console" ]; then
			fail "the destination guest did not finish within ${secs}s after the migration and printed nothing (hung)"
		fi
		fail "the destination guest did not finish within ${secs}s after the migration"
	fi
	wait "$MIG_DST_PID"
	rc=$?
	MIG_DST_PID=
	# the source QEMU sits in postmigrate until told to go
	"$PYTHON" "$GUEST_SRC/qmp.py" cmd "$T/src.qmp" quit >/dev/null 2>&1
	for ((i = 0; i < 100; i++)); do
		pid_running "$MIG_SRC_PID" || break
		sleep 0.1
	done
	[ "$rc" -eq 0 ] || fail "the destination guest failed: $(sed -n 's/^FAIL: //p' "$T/dst.out" | tail -n 1)"
	wait "$MIG_SRC_PID" || {
		cat "$T/src.out"
		fail "the source QEMU did not end cleanly after quit"
	}
	MIG_SRC_PID=
}

# mig_get KEY: a value the destination guest reported
mig_get() {
	[ -r "$T/dst.data" ] || return 0
	sed -n "s/^$1=//p" "$T/dst.data" | tail -n 1
}
