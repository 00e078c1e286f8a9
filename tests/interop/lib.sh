# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # PEER_RC, PROBE_RC... are read by the tests
#
# Shared helpers for the interop tests: source it first thing in a test.
#
#   . "$(dirname "$0")/lib.sh"
#
# On source it makes a private directory $T (mktemp -d) and installs a trap
# that, on EXIT, INT and TERM, always stops every peer the test started
# (SIGTERM to the peer and its descendants, up to 3 s, then SIGKILL), runs
# the hooks registered with on_cleanup and removes $T.
#
#   skip REASON               print "SKIP: REASON", exit 77 (meson's skip code)
#   fail REASON               print "FAIL: REASON", dump every peer log, exit 1
#   note TEXT                 progress line on stdout
#   need_cmd NAME...          skip unless each NAME is on $PATH
#   need_exe PATH...          skip unless each PATH is an executable file
#   start_peer NAME LOG CMD...  run CMD in the background, stdout+stderr to LOG,
#                             stdin from $PEER_STDIN (default /dev/null); with
#                             PEER_STDIN=hold, stdin is a fifo the test keeps
#                             open until stop/cleanup, so a peer that quits on
#                             EOF (dpdk-testpmd -i) runs until then, and quits
#                             by itself if the test shell dies
#   wait_socket PATH NAME [SECONDS]  wait until PATH is a listening unix socket;
#                             fail (with NAME's log) if NAME dies or time runs out
#   peer_alive NAME           true while NAME runs
#   peer_wait_exit NAME SECONDS  wait for NAME to exit by itself; sets PEER_RC
#   stop_peer NAME            SIGTERM/SIGKILL NAME now; sets PEER_RC
#   stop_device NAME          stop_peer NAME, and fail unless it exited 0: for
#                             the programs under test, whose exit status
#                             carries a crash or a sanitizer report at exit
#   on_cleanup CMD...         run CMD (a string, eval'd) at cleanup
#   run_probe OUT ERR ARGS... run "$PROBE ARGS" under timeout(1) ($PROBE_TIMEOUT,
#                             default 20 s); stdout to OUT, stderr to ERR;
#                             sets PROBE_RC
#   json_get FILE KEY.PATH    one value from a JSON file (check_probe.py get)
#
# Environment: PROBE_TIMEOUT, PYTHON (python3 to use; meson sets it),
# TMPDIR (where $T is made).
#
# Nothing here is specific to vhu-probe except run_probe: a test that drives
# QEMU guests can use the same peer handling.

set -u -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)

declare -A PEER_PID=()
declare -A PEER_LOG=()
declare -A PEER_HOLD_FD=()
PEER_ORDER=()
CLEANUP_HOOKS=()
PEER_RC=
PROBE_RC=
T=

note() {
	printf '%s: %s\n' "$TEST_NAME" "$*"
}

dump_logs() {
	local name
	for name in "${PEER_ORDER[@]}"; do
		echo "----- log of peer '$name' (${PEER_LOG[$name]}), last 60 lines -----"
		tail -n 60 "${PEER_LOG[$name]}" 2>/dev/null || echo "(no log)"
	done
	[ ${#PEER_ORDER[@]} -eq 0 ] || echo "----- end of peer logs -----"
}

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*"
	dump_logs
	exit 1
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "'$c' is not installed (not on PATH)"
	done
}

need_exe() {
	local f
	for f in "$@"; do
		[ -f "$f" ] && [ -x "$f" ] ||
			skip "'$f' is not installed (no such executable)"
	done
}

on_cleanup() {
	CLEANUP_HOOKS+=("$*")
}

# True while pid $1 runs. kill -0 is not enough: a peer that exited stays a
# zombie (and kill -0 succeeds) until we wait for it.
pid_running() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 0
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# All descendants of pid $1, children first listed after their parent.
descendants() {
	local child
	for child in $(pgrep -P "$1" 2>/dev/null); do
		echo "$child"
		descendants "$child"
	done
}

# Kill one peer and everything it forked; set PEER_RC to its exit status
# (128 + signal when we had to kill it).
kill_tree() {
	local name=$1 pid=${PEER_PID[$1]} pids i
	PEER_RC=
	[ -n "$pid" ] || return 0
	pids="$pid $(descendants "$pid")"
	release_stdin "$name"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		pid_running "$pid" || break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	wait "$pid" 2>/dev/null
	PEER_RC=$?
	PEER_PID[$name]=
}

cleanup() {
	local rc=$? name hook
	trap - EXIT INT TERM
	for name in "${PEER_ORDER[@]}"; do
		kill_tree "$name"
	done
	for hook in "${CLEANUP_HOOKS[@]}"; do
		eval "$hook" || true
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		rm -rf -- "$T"
	fi
	exit "$rc"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A unix socket path must fit in 108 bytes: keep $T short.
T=$(mktemp -d "${TMPDIR:-/tmp}/vhu-XXXXXX")
if [ ${#T} -gt 60 ]; then
	rmdir "$T"
	T=$(mktemp -d /tmp/vhu-XXXXXX)
fi
[ -d "$T" ] || fail "mktemp -d failed"

# Close the write end of a held stdin fifo: the peer reads EOF.
release_stdin() {
	local fd=${PEER_HOLD_FD[$1]:-}
	if [ -n "$fd" ]; then
		exec {fd}>&-
		PEER_HOLD_FD[$1]=
	fi
}

start_peer() {
	local name=$1 log=$2 input=${PEER_STDIN:-/dev/null} fd
	shift 2
	[ -z "${PEER_PID[$name]:-}" ] || fail "peer '$name' is already running"
	if [ "$input" = hold ]; then
		input=$T/$name.stdin
		rm -f "$input"
		mkfifo "$input" || fail "mkfifo $input"
	fi
	# The subshell execs the peer, so $! is the peer. It drops the write
	# ends held for other peers, so that they still see EOF when released.
	(
		for fd in "${PEER_HOLD_FD[@]}"; do
			[ -z "$fd" ] || exec {fd}>&-
		done
		exec "$@"
	) <"$input" >"$log" 2>&1 &
	PEER_PID[$name]=$!
	PEER_LOG[$name]=$log
	if [ "${PEER_STDIN:-}" = hold ]; then
		# After the fork, so that the peer does not inherit the write end;
		# the peer's open() of the fifo waits for this one.
		exec {fd}<>"$input"
		PEER_HOLD_FD[$name]=$fd
	fi
	local n
	for n in "${PEER_ORDER[@]}"; do
		[ "$n" = "$name" ] && return 0
	done
	PEER_ORDER+=("$name")
}

peer_alive() {
	local pid=${PEER_PID[$1]:-}
	[ -n "$pid" ] && pid_running "$pid"
}

# /proc/net/unix flag 00010000 is __SO_ACCEPTCON: the socket listens. A
# socket file alone is not enough: peers bind before they listen.
socket_listening() {
	if [ -r /proc/net/unix ]; then
		awk -v p="$1" '$NF == p && $4 == "00010000" { found = 1 } END { exit !found }' \
			/proc/net/unix
	else
		[ -S "$1" ]
	fi
}

# peer_wait_until NAME SECS WHAT CMD...: until CMD succeeds (every 0.1 s);
# fail if peer NAME exits first, or after SECS, naming WHAT it waited for
peer_wait_until() {
	local name=$1 secs=$2 what=$3 i
	shift 3
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		if ! peer_alive "$name"; then
			wait "${PEER_PID[$name]}" 2>/dev/null
			fail "peer '$name' exited (status $?) before $what"
		fi
		sleep 0.1
	done
	fail "no $what after ${secs}s (peer '$name' still running)"
}

wait_socket() {
	peer_wait_until "$2" "${3:-10}" "listening on $1" socket_listening "$1"
}

# wait_log FILE PATTERN NAME [SECS]: until FILE (peer NAME's log) has a line
# matching the grep -E PATTERN (20 s at most)
wait_log() {
	peer_wait_until "$3" "${4:-20}" "'$2' in $1" grep -Eq -- "$2" "$1"
}

peer_wait_exit() {
	local name=$1 secs=$2 i pid=${PEER_PID[$1]}
	PEER_RC=
	for ((i = 0; i < secs * 10; i++)); do
		if ! pid_running "$pid"; then
			wait "$pid" 2>/dev/null
			PEER_RC=$?
			PEER_PID[$name]=
			return 0
		fi
		sleep 0.1
	done
	return 1
}

stop_peer() {
	kill_tree "$1"
}

stop_device() {
	kill_tree "$1"
	[ "$PEER_RC" = 0 ] ||
		fail "$1 exited with status $PEER_RC when stopped with SIGTERM (a crash, a hang, or a sanitizer report at exit: see its log)"
}

PROBE=${PROBE:-}
# meson passes the python that runs meson: a pyenv shim on PATH costs
# 0.25 s a call.
PYTHON=${PYTHON:-python3}

run_probe() {
	local out=$1 err=$2
	shift 2
	[ -n "$PROBE" ] || fail "run_probe: \$PROBE is not set"
	timeout -k 2 "${PROBE_TIMEOUT:-20}" "$PROBE" "$@" >"$out" 2>"$err"
	PROBE_RC=$?
	if [ "$PROBE_RC" -eq 124 ] || [ "$PROBE_RC" -eq 137 ]; then
		echo "--- stderr of the probe ---"
		cat "$err"
		fail "vhu-probe $* did not exit within ${PROBE_TIMEOUT:-20}s"
	fi
}

json_get() {
	"$PYTHON" "$LIB_DIR/check_probe.py" get "$1" "$2" || fail "json_get $2 in $1"
}

# Common start of a probe test: $1 is the vhu-probe binary (from meson).
probe_from_args() {
	[ $# -ge 1 ] || fail "usage: $0 PATH-TO-vhu-probe"
	PROBE=$1
	[ -x "$PROBE" ] || fail "vhu-probe '$PROBE' is not executable"
	need_cmd timeout
	"$PYTHON" -c 'import json' 2>/dev/null || skip "no python3 with json ('$PYTHON')"
}

# Assert that a probe run succeeded and printed one consistent JSON object.
check_probe_ok() {
	local out=$1 err=$2 type=$3
	if [ "$PROBE_RC" -ne 0 ]; then
		echo "--- stdout ---"; cat "$out"; echo "--- stderr ---"; cat "$err"
		fail "vhu-probe exited with $PROBE_RC"
	fi
	"$PYTHON" "$LIB_DIR/check_probe.py" consistent "$out" --type "$type" ||
		{ echo "--- probe output ---"; cat "$out"; fail "inconsistent probe output"; }
}
