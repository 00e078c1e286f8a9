#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-probe against scripted, well-behaved back-ends whose every answer we
# chose (vu_peer.py serve ok-blk / ok-net): the control case for
# probe_errors (the fake peers speak the protocol right), and the only peer
# here with a net config space (DPDK's net_vhost has no CONFIG protocol
# feature). Values picked to catch decoding slips: a capacity above 32 bits,
# feature bit 49 and protocol bit 50 that have no name, a MAC with high bytes.

. "$(dirname "$0")/lib.sh"

probe_from_args "$@"

# expect FILE KEY VALUE
expect() {
	local got
	got=$(json_get "$1" "$2")
	[ "$got" = "$3" ] || { cat "$1"; fail "$2 is '$got', the fake peer says '$3'"; }
}

contains() {	# FILE KEY STRING: the JSON list KEY holds STRING
	"$PYTHON" -c 'import json,sys; sys.exit(sys.argv[3] not in json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$@" || { cat "$1"; fail "$2 does not list \"$3\""; }
}

for mode in ok-blk ok-net; do
	type=${mode#ok-}
	sock=$T/$mode.sock
	start_peer "$mode" "$T/$mode.log" "$PYTHON" "$LIB_DIR/vu_peer.py" serve "$mode" "$sock"
	wait_socket "$sock" "$mode"
	run_probe "$T/$mode.json" "$T/$mode.err" --socket-path="$sock" --json --type="$type"
	check_probe_ok "$T/$mode.json" "$T/$mode.err" "$type"
	note "$mode: $(cat "$T/$mode.json")"
	"$PYTHON" "$LIB_DIR/vu_peer.py" expect "$mode" >"$T/$mode.expect"
	"$PYTHON" "$LIB_DIR/check_probe.py" oracle "$T/$mode.json" "$T/$mode.expect" ||
		fail "$mode: vhu-probe does not report what the fake peer answers"
	expect "$T/$mode.json" socket "$sock"
	expect "$T/$mode.json" device_type "$type"
	contains "$T/$mode.json" feature_names "bit 49"
	contains "$T/$mode.json" protocol_feature_names "bit 50"
	contains "$T/$mode.json" feature_names VIRTIO_F_VERSION_1
	contains "$T/$mode.json" protocol_feature_names VHOST_USER_PROTOCOL_F_CONFIG
	peer_alive "$mode" || fail "$mode: the fake peer died"
	# "Changes nothing on the back-end": only GET_* requests, plus
	# SET_PROTOCOL_FEATURES (16), which GET_QUEUE_NUM and GET_CONFIG need.
	# GET_FEATURES 1, GET_PROTOCOL_FEATURES 15, GET_QUEUE_NUM 17,
	# GET_CONFIG 24, GET_MAX_MEM_SLOTS 36, GET_STATUS 40
	others=$(awk '$1 == "request" && $2 !~ /^(1|15|16|17|24|36|40)$/ { print $2 }' "$T/$mode.log")
	[ -z "$others" ] || fail "$mode: the probe sent requests other than GET_*: ${others//$'\n'/ }"
done

expect "$T/ok-blk.json" config.capacity 4886718345
expect "$T/ok-blk.json" config.num_queues 5
expect "$T/ok-blk.json" config.blk_size 4096
expect "$T/ok-blk.json" config.seg_max 126
expect "$T/ok-blk.json" config.size_max 65536
expect "$T/ok-blk.json" queue_num 5
expect "$T/ok-blk.json" max_mem_slots 16
contains "$T/ok-blk.json" feature_names VIRTIO_BLK_F_RO

mac=$(json_get "$T/ok-net.json" config.mac)
[ "${mac,,}" = 52:54:00:ab:cd:ef ] || fail "config.mac is '$mac', the fake peer says 52:54:00:ab:cd:ef"
expect "$T/ok-net.json" config.status 1
expect "$T/ok-net.json" config.max_virtqueue_pairs 4
expect "$T/ok-net.json" config.mtu 1400
expect "$T/ok-net.json" queue_num 8
expect "$T/ok-net.json" max_mem_slots null
contains "$T/ok-net.json" feature_names VIRTIO_NET_F_MRG_RXBUF
contains "$T/ok-net.json" feature_names VIRTIO_F_RING_PACKED

note ok
