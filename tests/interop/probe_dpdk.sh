#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-probe against DPDK's net_vhost PMD (dpdk-testpmd as the back-end).
#
# Expectations come from DPDK's documented vdev options (doc/guides/nics/
# vhost.rst), not from a copy of an earlier output: testpmd is started once
# with the defaults and once per option, and the probe must see exactly the
# difference the option makes:
#   tso=1               adds VIRTIO_NET_F_HOST_TSO4 and _HOST_TSO6 (11, 12)
#   iommu-support=1     adds VIRTIO_F_IOMMU_PLATFORM (33)
#   postcopy-support=1  adds VHOST_USER_PROTOCOL_F_PAGEFAULT (8)
# and every probe must agree with an independent client (vu_peer.py query).
# Quirks of this DPDK (22.11) found while writing this: see README.md.

. "$(dirname "$0")/lib.sh"

probe_from_args "$@"
need_cmd dpdk-testpmd

# Two lcores are needed (main + one forwarding core). -i keeps testpmd from
# starting to forward, so no core busy-polls; with the stdin fifo held open
# it runs until we close it. Pin both lcores to CPUs we are allowed on
# (both on one CPU when only one is allowed).
cpus=$("$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
read -r cpu0 cpu1 <<<"$cpus"
PREFIX=vhu-interop-${T##*/vhu-}
if [ "$(id -u)" = 0 ]; then
	dpdk_rundir=/var/run/dpdk/$PREFIX
else
	dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX
fi
on_cleanup "rm -rf -- '$dpdk_rundir'"

# start_testpmd NAME VDEV-OPTIONS: run testpmd with a vhost port on $T/NAME.sock
start_testpmd() {
	local name=$1 opts=$2
	PEER_STDIN=hold start_peer "$name" "$T/$name.log" dpdk-testpmd \
		--lcores="0@$cpu0,1@$cpu1" --no-pci --no-huge -m 256 \
		--no-shconf --no-telemetry --file-prefix="$PREFIX" \
		--vdev "net_vhost0,iface=$T/$name.sock$opts" \
		-- -i --total-num-mbufs=8192
	wait_socket "$T/$name.sock" "$name" 20
}

# probe_testpmd NAME: probe $T/NAME.sock into $T/NAME.json and check it
probe_testpmd() {
	local name=$1
	run_probe "$T/$name.json" "$T/$name.err" --socket-path="$T/$name.sock" --json --type=net
	check_probe_ok "$T/$name.json" "$T/$name.err" net
	peer_alive "$name" || fail "testpmd ($name) died during the probe"
	"$PYTHON" "$LIB_DIR/vu_peer.py" query "$T/$name.sock" >"$T/$name.oracle" ||
		fail "vu_peer.py query of testpmd ($name) failed after the probe"
	"$PYTHON" "$LIB_DIR/check_probe.py" oracle "$T/$name.json" "$T/$name.oracle" ||
		{ cat "$T/$name.json"; fail "vhu-probe and an independent client disagree ($name)"; }
	note "$name: features $(json_get "$T/$name.json" features)" \
		"protocol $(json_get "$T/$name.json" protocol_features)" \
		"queue_num $(json_get "$T/$name.json" queue_num)"
}

# delta A B KEY: the bits set in B's KEY but not in A's, and those only in A's
delta() {
	"$PYTHON" - "$T/$1.json" "$T/$2.json" "$3" <<-'EOF'
	import json, sys
	a, b = (int(json.load(open(f))[sys.argv[3]] or '0x0', 16) for f in sys.argv[1:3])
	print(' '.join(str(i) for i in range(64) if (b & ~a) >> i & 1) + '/' +
	      ' '.join(str(i) for i in range(64) if (a & ~b) >> i & 1))
	EOF
}

# --- defaults: probe twice (testpmd keeps serving), same answer
start_testpmd base ""
probe_testpmd base
run_probe "$T/base2.json" "$T/base2.err" --socket-path="$T/base.sock" --json --type=net
check_probe_ok "$T/base2.json" "$T/base2.err" net
cmp -s "$T/base.json" "$T/base2.json" ||
	{ diff "$T/base.json" "$T/base2.json"; fail "two probes of the same testpmd differ"; }
names=$(json_get "$T/base.json" feature_names)
for n in VIRTIO_F_VERSION_1 VHOST_USER_F_PROTOCOL_FEATURES; do
	grep -q "\"$n\"" <<<"$names" || fail "$n missing in $names"
done
# net_vhost always offers MQ (protocol) and reports the library's maximum
# number of queues, whatever queues= says.
qn=$(json_get "$T/base.json" queue_num)
[ "$qn" != null ] && [ "$qn" -ge 2 ] || fail "queue_num is $qn"
stop_peer base

# --- one option at a time
check_variant() {
	local name=$1 opts=$2 key=$3 want=$4 got
	start_testpmd "$name" "$opts"
	probe_testpmd "$name"
	stop_peer "$name"
	got=$(delta base "$name" "$key")
	[ "$got" = "$want" ] ||
		fail "$opts: $key should change by +bits/-bits '$want', the probe saw '$got'"
}
check_variant tso ",tso=1" features "11 12/"
check_variant iommu ",iommu-support=1" features "33/"
check_variant postcopy ",postcopy-support=1" protocol_features "8/"

# queues=2: nothing changes on the wire (queue_num is the library maximum),
# but the probe must still agree with testpmd and cover the 2 queue pairs.
start_testpmd q2 ",queues=2"
probe_testpmd q2
qn=$(json_get "$T/q2.json" queue_num)
[ "$qn" != null ] && [ "$qn" -ge 2 ] || fail "queues=2: queue_num is $qn"

note ok
