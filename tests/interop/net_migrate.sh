#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A vhu-net port's device state (its learnt addresses and counters) moves
# with a guest that migrates to another port (net_migrate_check.c), and the
# switch exits cleanly after.
#
#   net_migrate.sh NET_MIGRATE_CHECK VHU_NET
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 NET_MIGRATE_CHECK VHU_NET"
CHECK=$1 NET=$2
[ -x "$CHECK" ] || fail "'$CHECK' is not executable"
[ -x "$NET" ] || fail "vhu-net '$NET' is not executable"

start_peer vhu-net "$T/net.log" "$NET" --socket-path="$T/a.sock" --socket-path="$T/b.sock" \
	--socket-path="$T/c.sock" --queue-pairs=1
for s in a b c; do wait_socket "$T/$s.sock" vhu-net; done
timeout 60 "$CHECK" "$T/a.sock" "$T/b.sock" "$T/c.sock" >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
[ $rc -eq 0 ] || fail "net_migrate_check exited with $rc"
grep -q "state loaded: 1 addresses" "$T/net.log" || fail "vhu-net did not log the loaded state"
kill -TERM "${PEER_PID[vhu-net]}"
peer_wait_exit vhu-net 10 || fail "vhu-net did not exit on SIGTERM"
[ "$PEER_RC" = 0 ] || fail "vhu-net exited with $PEER_RC"
note "pass"
exit 0
