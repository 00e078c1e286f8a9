#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A back-end behind vhu-trace, as one command for the tests' --backend-cmd:
#
#   trace_pair.sh TRACE CHECK OUT LISTEN [CHECK_ARGS...] -- BACKEND_CMD...
#
# runs BACKEND_CMD (which must listen on LISTEN.real) and `vhu-trace
# --listen=LISTEN --connect=LISTEN.real --json --output=OUT`. On SIGTERM
# (the harness's stop) it stops both and then checks the trace with
# `CHECK OUT CHECK_ARGS...` (check_trace.py); --ring-view among CHECK_ARGS
# also runs vhu-trace with --ring-view=0.5. Exit 0 only when the back-end
# and vhu-trace both exited 0 and the trace checks out: so a test that
# passes through the tracer also proves what the tracer showed.
set -u

trace=$1 check=$2 out=$3 listen=$4
shift 4
check_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	check_args+=("$1")
	shift
done
shift

"$@" &
be=$!
for _ in $(seq 100); do
	[ -S "$listen.real" ] && break
	sleep 0.1
done
extra=()
for a in "${check_args[@]}"; do
	[ "$a" = --ring-view ] && extra+=(--ring-view=0.5)
done
"$trace" --listen="$listen" --connect="$listen.real" --json --output="$out" "${extra[@]}" &
tr=$!

stopping=0
trap 'stopping=1' TERM INT
while [ "$stopping" = 0 ] && kill -0 "$be" 2>/dev/null && kill -0 "$tr" 2>/dev/null; do
	sleep 0.2
done
kill -TERM "$tr" "$be" 2>/dev/null
wait "$tr"
tr_rc=$?
wait "$be"
be_rc=$?
echo "trace_pair: vhu-trace exited $tr_rc, the back-end $be_rc"
[ "$stopping" = 1 ] || { echo "trace_pair: FAIL: a process ended before the test stopped it"; exit 1; }
[ "$tr_rc" = 0 ] && [ "$be_rc" = 0 ] || exit 1
python3 "$check" "$out" "${check_args[@]}"
