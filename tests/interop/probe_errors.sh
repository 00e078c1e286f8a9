#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-probe's failures: each case must end with exit status 1, nothing on
# stdout and exactly one line on stderr, quickly (--timeout=2, and the whole
# run under timeout(1)). The misbehaving peers are vu_peer.py serve MODE.

. "$(dirname "$0")/lib.sh"

probe_from_args "$@"
PROBE_TIMEOUT=10

# expect_error CASE SOCK [GREP-REGEX]: run the probe, check the failure shape;
# the one stderr line must match GREP-REGEX (grep -E, case-insensitive).
expect_error() {
	local case=$1 sock=$2 regex=${3:-} t0 t1 lines
	t0=$(date +%s%N)
	run_probe "$T/$case.out" "$T/$case.err" --socket-path="$sock" --json --type=blk --timeout=2
	t1=$(date +%s%N)
	lines=$(wc -l <"$T/$case.err")
	show() {
		echo "--- stdout ---"; cat "$T/$case.out"
		echo "--- stderr ---"; cat "$T/$case.err"
	}
	[ "$PROBE_RC" -eq 1 ] || { show; fail "$case: exit status $PROBE_RC, expected 1"; }
	[ ! -s "$T/$case.out" ] || { show; fail "$case: stdout is not empty"; }
	[ "$lines" -eq 1 ] && [ -n "$(tr -d '[:space:]' <"$T/$case.err")" ] ||
		{ show; fail "$case: stderr has $lines lines, expected one error line"; }
	if [ -n "$regex" ] && ! grep -Eiq -- "$regex" "$T/$case.err"; then
		show
		fail "$case: the error line does not match /$regex/"
	fi
	[ $(((t1 - t0) / 1000000)) -le 6000 ] ||
		fail "$case: took $(((t1 - t0) / 1000000)) ms with --timeout=2"
	note "$case: ok ($(((t1 - t0) / 1000000)) ms): $(cat "$T/$case.err")"
}

# fake_case MODE [GREP-REGEX]: a fake back-end in MODE, probed once
fake_case() {
	local mode=$1 sock=$T/$1.sock
	start_peer "$mode" "$T/$mode.log" "$PYTHON" "$LIB_DIR/vu_peer.py" serve "$mode" "$sock"
	if [ "$mode" = nolisten ]; then
		# bound, never listening: wait for the file only
		local i
		for ((i = 0; i < 100; i++)); do
			[ -S "$sock" ] && break
			sleep 0.1
		done
		[ -S "$sock" ] || fail "vu_peer.py serve nolisten made no socket"
	else
		wait_socket "$sock" "$mode"
	fi
	expect_error "$mode" "$sock" "${2:-}"
	stop_peer "$mode"
}

# no socket at all: the message names the path
expect_error nosocket "$T/no-such.sock" "$T/no-such.sock"

# a regular file where the socket should be
: >"$T/plain-file"
expect_error plainfile "$T/plain-file"

# a socket file nobody listens on any more (its owner closed it)
"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock" ||
	fail "cannot make a stale socket"
expect_error stale "$T/stale.sock"

# bound but not listening: connect() is refused
fake_case nolisten
# hung up at once: the message says so
fake_case close 'clos|hung|hang|reset|eof|disconnect|broken|end of file'
# never answers / never accepts: --timeout=2 ends it
fake_case silent 'time|timeout'
fake_case noaccept 'time|timeout'
# replies that do not fit their row
fake_case badid
fake_case size0
fake_case size16
fake_case truncated
fake_case noreplyflag
fake_case badversion
fake_case pf-badid

note ok
