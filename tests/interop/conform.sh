#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-conform against real back-ends (issue 21).
#
#   conform.sh VHU-CONFORM vhu NAME EXE NA-IDS [ARGS...]
#       vhu-blk, vhu-net or vhu-rng started afresh for each check: every
#       check passes, except NA-IDS (comma-separated), which must be n/a
#   conform.sh VHU-CONFORM qsd      qemu-storage-daemon, report only
#   conform.sh VHU-CONFORM dpdk     dpdk-testpmd's net_vhost, report only
#   conform.sh VHU-CONFORM broken   conform_peer.py, right (every check
#       passes) and broken one category at a time (its checks fail)
#
# Report-only peers print their table; their failures are findings,
# explained in docs/CONFORMANCE.md, not test failures. What fails those
# tests is vhu-conform not completing its catalogue.

. "$(dirname "$0")/lib.sh"

CONFORM=$1
MODE=$2
shift 2
need_exe "$CONFORM"
CHECKS=37	# the catalogue's size: a check that silently drops out fails

# conform OUT ARGS...: run vhu-conform, its JSON to OUT; sets RC
conform() {
	local out=$1
	shift
	timeout -k 5 300 "$CONFORM" --json --peer-log="$T/peer.log" "$@" >"$out" 2>"$T/conform.err"
	RC=$?
	if [ "$RC" -ge 2 ]; then
		cat "$T/conform.err"
		tail -n 40 "$T/peer.log" 2>/dev/null
		fail "vhu-conform $* exited $RC"
	fi
}

judge() {
	"$PYTHON" "$LIB_DIR/conform_check.py" "$@" || {
		echo "----- the started peers' output (last 60 lines) -----"
		tail -n 60 "$T/peer.log" 2>/dev/null
		fail "vhu-conform's verdicts are not the expected ones"
	}
}

case $MODE in
vhu)
	name=$1 exe=$2 na=$3
	shift 3
	conform "$T/r.json" --name="$name" --exec="$exe --socket-path={socket} $*"
	judge "$T/r.json" pass --na="$na" --min=$CHECKS
	[ "$RC" = 0 ] || fail "vhu-conform exited $RC"
	;;
qsd)
	need_cmd qemu-storage-daemon qemu-img
	qemu-img create -q -f raw "$T/disk.raw" 16M || fail "qemu-img create failed"
	conform "$T/r.json" --name=qemu-storage-daemon --type=blk \
		--exec="qemu-storage-daemon --blockdev driver=file,node-name=f,filename=$T/disk.raw --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path={socket},writable=on"
	judge "$T/r.json" report --min=$CHECKS
	;;
dpdk)
	need_cmd dpdk-testpmd
	# as probe_dpdk.sh: no hugepages, -i with stdin held so that it runs
	# (and takes "start": forwarding, its core busy-polls: the CPU checks
	# subtract what it used before). One process for all checks (a start
	# costs seconds): a check that kills it fails the ones after it.
	cpus=$("$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
	read -r cpu0 cpu1 <<<"$cpus"
	PREFIX=vhu-conform-${T##*/}
	on_cleanup "rm -rf -- '${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX' '/var/run/dpdk/$PREFIX'"
	PEER_STDIN=hold start_peer testpmd "$T/testpmd.log" dpdk-testpmd \
		--lcores="0@$cpu0,1@$cpu1" --no-pci --no-huge -m 256 \
		--no-shconf --no-telemetry --file-prefix="$PREFIX" \
		--vdev "net_vhost0,iface=$T/vhost.sock,queues=1" \
		-- -i --total-num-mbufs=8192
	wait_socket "$T/vhost.sock" testpmd 30
	# forwarding on: net_vhost takes TX frames only while testpmd polls it
	echo start >&"${PEER_HOLD_FD[testpmd]}"
	conform "$T/r.json" --name=dpdk-testpmd --type=net --socket-path="$T/vhost.sock" \
		--pid="${PEER_PID[testpmd]}"
	judge "$T/r.json" report --min=$CHECKS
	;;
broken)
	peer="$PYTHON -S $LIB_DIR/conform_peer.py"	# -S: no site, a faster start
	# fault: the checks it must fail (one category each)
	faults=(
		"gating:neg-gated-refused"
		"reply-ack:ack-success"
		"rings:ring-get-base"
		"bounds:bounds-queue-index"
		"content:content-desc-loop"
		"reconnect:reconnect-running"
		"program:prog-print-capabilities"
	)
	all=
	for f in "${faults[@]}"; do
		all+=${all:+,}${f#*:}
	done
	# the control: the same peer without a fault passes them all
	conform "$T/none.json" --name=conform_peer --only="$all" \
		--exec="$peer --socket-path={socket}"
	judge "$T/none.json" pass
	for f in "${faults[@]}"; do
		fault=${f%%:*} ids=${f#*:}
		conform "$T/$fault.json" --name="conform_peer --fault=$fault" --only="$ids" \
			--exec="$peer --fault=$fault --socket-path={socket}"
		judge "$T/$fault.json" fail "$ids"
	done
	;;
*)
	fail "unknown mode $MODE"
	;;
esac
note "ok"
