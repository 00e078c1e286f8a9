#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-probe against qemu-storage-daemon's vhost-user-blk export.
#
#   probe_qsd.sh VHU-PROBE              writable, num-queues=3
#   probe_qsd.sh VHU-PROBE --readonly   writable=off, num-queues=1
#
# What is checked comes from facts we set up or can measure, never from a
# copy of an earlier output: the capacity is the image size / 512 (an odd
# number of sectors on purpose), num_queues is what we asked for, the RO bit
# follows writable=, the probe agrees with an independent client
# (vu_peer.py query) on every value it reports, and qsd still serves after
# the probe (it disconnected cleanly).

. "$(dirname "$0")/lib.sh"

probe_from_args "$@"
need_cmd qemu-storage-daemon qemu-img

readonly_mode=0
[ "${2:-}" = --readonly ] && readonly_mode=1
if [ $readonly_mode = 1 ]; then
	writable=off queues=1
else
	writable=on queues=3
fi

IMG=$T/disk.raw
SOCK=$T/blk.sock
SECTORS=$((64 * 2048 + 7))	# 64 MiB + 7 sectors: not a round capacity

qemu-img create -q -f raw "$IMG" $((SECTORS * 512)) || fail "qemu-img create failed"
size=$(stat -c %s "$IMG")
[ $((size % 512)) -eq 0 ] || fail "image size $size is not a multiple of 512"
capacity=$((size / 512))

start_peer qsd "$T/qsd.log" qemu-storage-daemon \
	--blockdev "driver=file,node-name=f,filename=$IMG" \
	--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$SOCK,writable=$writable,num-queues=$queues"
wait_socket "$SOCK" qsd

# --- first run: self-consistent JSON
run_probe "$T/p1.json" "$T/p1.err" --socket-path="$SOCK" --json --type=blk
check_probe_ok "$T/p1.json" "$T/p1.err" blk
peer_alive qsd || fail "qemu-storage-daemon died during the probe"
note "probe: $(cat "$T/p1.json")"

# --- the same answers as an independent client
raw=$(json_get "$T/p1.json" config.raw)
cfg_size=60		# QEMU 7.2's virtio_blk_config; larger GET_CONFIG sizes fail there
if [ "$raw" != null ]; then
	cfg_size=$((${#raw} / 2))
	[ $cfg_size -le 60 ] || cfg_size=60
fi
"$PYTHON" "$LIB_DIR/vu_peer.py" query "$SOCK" --config-size $cfg_size >"$T/oracle.json" ||
	fail "vu_peer.py query failed (after the probe: did the probe leave qsd stuck?)"
note "oracle: $(cat "$T/oracle.json")"
"$PYTHON" "$LIB_DIR/check_probe.py" oracle "$T/p1.json" "$T/oracle.json" ||
	fail "vhu-probe and an independent client disagree"

# --- facts from the set-up
bits=$(json_get "$T/p1.json" feature_bits)
names=$(json_get "$T/p1.json" feature_names)
has_bit() { "$PYTHON" -c 'import json,sys; sys.exit(int(sys.argv[2]) not in json.loads(sys.argv[1]))' "$1" "$2"; }
has_name() { "$PYTHON" -c 'import json,sys; sys.exit(sys.argv[2] not in json.loads(sys.argv[1]))' "$1" "$2"; }

has_bit "$bits" 32 || fail "qsd's vhost-user-blk is a virtio 1.x device: VIRTIO_F_VERSION_1 missing in $bits"
has_bit "$bits" 30 || fail "qsd offers VHOST_USER_F_PROTOCOL_FEATURES (bit 30): missing in $bits"
if [ $readonly_mode = 1 ]; then
	has_bit "$bits" 5 || fail "writable=off: VIRTIO_BLK_F_RO (bit 5) missing in $bits"
	has_name "$names" VIRTIO_BLK_F_RO || fail "writable=off: VIRTIO_BLK_F_RO missing in $names"
else
	has_bit "$bits" 5 && fail "writable=on: VIRTIO_BLK_F_RO (bit 5) set in $bits"
fi

pbits=$(json_get "$T/p1.json" protocol_feature_bits)
if has_bit "$pbits" 9; then
	got=$(json_get "$T/p1.json" config.capacity)
	[ "$got" = "$capacity" ] || fail "config.capacity is $got, the image has $capacity sectors"
	if has_bit "$bits" 12; then	# VIRTIO_BLK_F_MQ: num_queues is valid
		got=$(json_get "$T/p1.json" config.num_queues)
		[ "$got" = "$queues" ] || fail "config.num_queues is $got, qsd runs num-queues=$queues"
	fi
else
	[ "$(json_get "$T/p1.json" config)" = null ] ||
		fail "no VHOST_USER_PROTOCOL_F_CONFIG, yet config is not null"
fi
qn=$(json_get "$T/p1.json" queue_num)
if has_bit "$pbits" 0; then
	[ "$qn" != null ] && [ "$qn" -ge "$queues" ] ||
		fail "queue_num is $qn, qsd runs num-queues=$queues"
else
	[ "$qn" = null ] || fail "no VHOST_USER_PROTOCOL_F_MQ, yet queue_num is $qn"
fi

# --- second run on the same socket: qsd still serves, same answer
run_probe "$T/p2.json" "$T/p2.err" --socket-path="$SOCK" --json --type=blk
check_probe_ok "$T/p2.json" "$T/p2.err" blk
cmp -s "$T/p1.json" "$T/p2.json" ||
	{ diff "$T/p1.json" "$T/p2.json"; fail "two probes of the same qsd differ"; }

# --- human output names the capacity
run_probe "$T/h.txt" "$T/h.err" --socket-path="$SOCK" --type=blk
if [ "$PROBE_RC" -ne 0 ]; then
	cat "$T/h.txt" "$T/h.err"
	fail "vhu-probe without --json exited with $PROBE_RC"
fi
if has_bit "$pbits" 9 && ! grep -qw -- "$capacity" "$T/h.txt"; then
	cat "$T/h.txt"
	fail "the human output does not mention the capacity $capacity"
fi

peer_alive qsd || fail "qemu-storage-daemon died"
note "ok (capacity $capacity, num-queues $queues, writable=$writable)"
