#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-probe against virtiofsd (QEMU 7.2's C virtiofsd, /usr/lib/qemu/virtiofsd).
#
# This virtiofsd serves exactly one front-end connection and exits when it
# ends, so each probe gets a fresh virtiofsd, and that exit (status 0) is
# the sign the probe hung up cleanly. Facts checked: virtio-fs is a virtio
# 1.x-only device (VIRTIO_F_VERSION_1); virtiofsd is built on libvhost-user,
# which always offers VHOST_USER_F_PROTOCOL_FEATURES and the MQ protocol
# feature; a virtio-fs device has the hiprio queue plus at least one request
# queue (queue_num >= 2); virtiofsd has no config space (no CONFIG protocol
# feature, so config must be null); and an independent client agrees.

. "$(dirname "$0")/lib.sh"

probe_from_args "$@"
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
need_exe "$VIRTIOFSD"

SHARE=$T/share
mkdir "$SHARE" && echo hello >"$SHARE/file" || fail "cannot make $SHARE"

# start_fsd NAME: virtiofsd on $T/NAME.sock. sandbox=chroot is the mode meant
# for containers; namespace (the default) needs unshare(2) rights.
SANDBOX=
start_fsd() {
	local name=$1 sb
	for sb in ${SANDBOX:-chroot namespace}; do
		rm -f "$T/$name.sock"
		start_peer "$name" "$T/$name.log" "$VIRTIOFSD" --socket-path="$T/$name.sock" \
			-o source="$SHARE" -o sandbox="$sb" -o log_level=debug
		local i
		for ((i = 0; i < 100; i++)); do
			if socket_listening "$T/$name.sock"; then
				SANDBOX=$sb
				return 0
			fi
			peer_alive "$name" || break
			sleep 0.1
		done
		peer_alive "$name" || {
			note "virtiofsd -o sandbox=$sb did not start: $(tail -n 1 "$T/$name.log")"
			cp "$T/$name.log" "$T/$name-$sb.failed"
			stop_peer "$name"
			continue
		}
		fail "virtiofsd ($name) runs but does not listen on $T/$name.sock after 10 s"
	done
	skip "virtiofsd starts with neither sandbox=chroot nor sandbox=namespace here:" \
		"$(tail -q -n 1 "$T/$name"-*.failed | tr '\n' ' ')"
}

# the peer must exit by itself, with status 0, once the probe has hung up
expect_clean_exit() {
	local name=$1
	peer_wait_exit "$name" 5 || fail "virtiofsd ($name) still runs 5 s after the probe exited"
	[ "$PEER_RC" = 0 ] || fail "virtiofsd ($name) exited with $PEER_RC after the probe"
}

start_fsd fs1
note "virtiofsd runs with -o sandbox=$SANDBOX"
run_probe "$T/p1.json" "$T/p1.err" --socket-path="$T/fs1.sock" --json --type=fs
check_probe_ok "$T/p1.json" "$T/p1.err" fs
expect_clean_exit fs1
note "probe: $(cat "$T/p1.json")"

bits=$(json_get "$T/p1.json" feature_bits)
pbits=$(json_get "$T/p1.json" protocol_feature_bits)
has_bit() { "$PYTHON" -c 'import json,sys; sys.exit(int(sys.argv[2]) not in json.loads(sys.argv[1]))' "$1" "$2"; }
has_bit "$bits" 32 || fail "VIRTIO_F_VERSION_1 (bit 32) missing in $bits"
has_bit "$bits" 30 || fail "VHOST_USER_F_PROTOCOL_FEATURES (bit 30) missing in $bits"
has_bit "$pbits" 0 || fail "VHOST_USER_PROTOCOL_F_MQ (bit 0) missing in $pbits"
grep -q '"VHOST_USER_PROTOCOL_F_MQ"' <<<"$(json_get "$T/p1.json" protocol_feature_names)" ||
	fail "VHOST_USER_PROTOCOL_F_MQ missing in the protocol feature names"
qn=$(json_get "$T/p1.json" queue_num)
[ "$qn" != null ] && [ "$qn" -ge 2 ] || fail "queue_num is $qn; virtio-fs has hiprio + >= 1 request queue"
if ! has_bit "$pbits" 9; then
	[ "$(json_get "$T/p1.json" config)" = null ] || fail "no CONFIG protocol feature, yet config is not null"
fi

# an independent client on a fresh virtiofsd sees the same
start_fsd fs2
"$PYTHON" "$LIB_DIR/vu_peer.py" query "$T/fs2.sock" >"$T/oracle.json" || fail "vu_peer.py query failed"
expect_clean_exit fs2
"$PYTHON" "$LIB_DIR/check_probe.py" oracle "$T/p1.json" "$T/oracle.json" ||
	fail "vhu-probe and an independent client disagree"

# a second probe on a fresh virtiofsd gives the same answer (but the path)
start_fsd fs3
run_probe "$T/p3.json" "$T/p3.err" --socket-path="$T/fs3.sock" --json --type=fs
check_probe_ok "$T/p3.json" "$T/p3.err" fs
expect_clean_exit fs3
"$PYTHON" - "$T/p1.json" "$T/p3.json" <<'EOF' || fail "two probes of virtiofsd differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
a.pop('socket'); b.pop('socket')
if a != b:
	print('first: ', a)
	print('second:', b)
	sys.exit(1)
EOF

note "ok (sandbox=$SANDBOX)"
