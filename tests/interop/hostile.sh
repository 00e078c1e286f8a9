#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The hostile front-end suite (docs/SECURITY.md): hostile.py sends malformed
# headers and sizes, unknown requests, wrong fd counts, out-of-range queue
# indices, bad memory regions, bad GET_CONFIG/SET_VRING_NUM values and a
# looping ring to a running device program, and checks after each case that
# it is alive and answers a fresh connection, and at the end that it holds no
# more fds or memfd mappings than after the first clean connection.
#
#   hostile.sh blk|rng|input PROGRAM
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 blk|rng|input PROGRAM"
KIND=$1 PROG=$2
[ -x "$PROG" ] || fail "'$PROG' is not executable"
command -v "$PYTHON" >/dev/null 2>&1 || skip "python3 is missing ('$PYTHON')"
"$PYTHON" -c 'import os; os.memfd_create, os.eventfd' 2>/dev/null ||
	skip "python3 ('$PYTHON') has no os.memfd_create/os.eventfd (3.10 or later needed)"

case $KIND in
blk)
	truncate -s 1M "$T/disk.img" || fail "truncate"
	start_peer dev "$T/dev.log" "$PROG" --socket-path="$T/dev.sock" --blk-file="$T/disk.img" --num-queues=2
	;;
rng)
	start_peer dev "$T/dev.log" "$PROG" --socket-path="$T/dev.sock"
	;;
input)
	# the vhost-user socket is served once the events socket described a device
	start_peer dev "$T/dev.log" "$PROG" --socket-path="$T/dev.sock" --events-socket="$T/ev.sock"
	wait_socket "$T/ev.sock" dev 10
	"$PYTHON" - "$T/ev.sock" <<-'EOF' || fail "describing the device failed"
		import socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.connect(sys.argv[1])
		s.sendall(b"name hostile\nev EV_KEY KEY_A\nev EV_LED LED_NUML\nready\n")
		assert s.recv(64) == b"ok\n"
	EOF
	export HOSTILE_LOOP_QUEUE=1 # the status queue: buffers are read as they come
	;;
*)
	fail "unknown kind '$KIND'"
	;;
esac
wait_socket "$T/dev.sock" dev 10

timeout -k 2 100 "$PYTHON" "$LIB_DIR/hostile.py" "$T/dev.sock" "${PEER_PID[dev]}"
rc=$?
peer_alive dev || fail "$(basename "$PROG") is not running any more"
[ "$rc" -eq 0 ] || fail "hostile.py exited $rc"
stop_device dev
note "PASS"
