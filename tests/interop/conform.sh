#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-conform against real back-ends (issue 21).
#
#   conform.sh VHU-CONFORM vhu NAME EXE NA-IDS [ARGS...]
#       vhu-blk, vhu-net or vhu-rng started afresh for each check: every
#       check passes, except NA-IDS (comma-separated), which must be n/a
#   conform.sh VHU-CONFORM input VHU-INPUT   one vhu-input, described and fed
#       key events on its events socket, checked on its socket (--pid):
#       every check passes but the program's (they need --exec) and the
#       features it does not offer
#   conform.sh VHU-CONFORM qsd      qemu-storage-daemon, report only
#   conform.sh VHU-CONFORM virtiofsd  QEMU 7.2's C virtiofsd, report only
#   conform.sh VHU-CONFORM dpdk     dpdk-testpmd's net_vhost, report only
#   conform.sh VHU-CONFORM broken   conform_peer.py, right (every check
#       passes) and broken one category at a time (its checks fail)
#   conform.sh VHU-CONFORM fe-probe VHU-PROBE   front-end mode: vhu-probe
#       (lib/frontend's bare connection) breaks no rule
#   conform.sh VHU-CONFORM fe-bench VHU-BENCH  front-end mode: lib/frontend
#       through vhu-bench blk, as is and with SET_VRING_ADDR refused
#   conform.sh VHU-CONFORM fe-qemu  front-end mode: QEMU 7.2 realizing a
#       vhost-user-blk-pci (-S), as is and with GET_CONFIG refused; report only
#   conform.sh VHU-CONFORM fe-dpdk  front-end mode: DPDK virtio-user (testpmd),
#       as is and with SET_VRING_ADDR refused; report only
#   conform.sh VHU-CONFORM fe-broken  front-end mode: a front-end that breaks
#       each rule once (Python): each front-end check fails
#
# Report-only peers print their table; their failures are findings,
# explained in docs/CONFORMANCE.md, not test failures. What fails those
# tests is vhu-conform not completing its catalogue.

. "$(dirname "$0")/lib.sh"

CONFORM=$1
MODE=$2
shift 2
need_exe "$CONFORM"
CHECKS=41	# the catalogue's size: a check that silently drops out fails

# conform OUT ARGS...: run vhu-conform, its JSON to OUT; sets RC
conform() {
	local out=$1
	shift
	# shellcheck disable=SC2086 # CONFORM_ARGS: words (meson: --rss-limit under ASan)
	timeout -k 5 300 "$CONFORM" --json --peer-log="$T/peer.log" ${CONFORM_ARGS:-} "$@" \
		>"$out" 2>"$T/conform.err"
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

# fe_listen OUT NAME [ARGS...]: vhu-conform frontend on $T/fe.sock in the
# background (its JSON to OUT, its pid in CPID) once the socket is there
fe_listen() {
	local out=$1 name=$2
	shift 2
	rm -f "$T/fe.sock"
	"$CONFORM" frontend --listen="$T/fe.sock" --json --timeout=3 --name="$name" "$@" \
		>"$out" 2>"$T/conform.err" &
	CPID=$!
	for _ in $(seq 100); do [ -S "$T/fe.sock" ] && break; sleep 0.05; done
}

case $MODE in
vhu)
	name=$1 exe=$2 na=$3
	shift 3
	conform "$T/r.json" --name="$name" --exec="$exe --socket-path={socket} $*"
	judge "$T/r.json" pass --na="$na" --min=$CHECKS
	[ "$RC" = 0 ] || fail "vhu-conform exited $RC"
	;;
input)
	# the vhost-user socket is served once the events socket described a
	# device; a key goes down and up every 20 ms for the event queue check
	start_peer vhu-input "$T/input.log" "$1" --socket-path="$T/in.sock" --events-socket="$T/ev.sock"
	wait_socket "$T/ev.sock" vhu-input 10
	start_peer feeder "$T/feeder.log" "$PYTHON" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"name conform keyboard\nev 1 30\nev 17 0\nready\n")
assert s.recv(64) == b"ok\n"
while True:
    for v in (1, 0):
        s.sendall(b"1 30 %d\n0 0 0\n" % v)
        time.sleep(0.02)' "$T/ev.sock"
	wait_socket "$T/in.sock" vhu-input 10
	conform "$T/r.json" --name=vhu-input --type=input --socket-path="$T/in.sock" \
		--pid="${PEER_PID[vhu-input]}"
	judge "$T/r.json" pass --min=$CHECKS \
		--na=neg-inband-alone,bounds-log-base,bounds-inflight,prog-print-capabilities,prog-fd,prog-sigterm,prog-no-daemon
	grep -q 'events written into posted buffers' "$T/r.json" || fail "no event reached the event queue"
	[ "$RC" = 0 ] || fail "vhu-conform exited $RC"
	stop_peer feeder
	stop_device vhu-input
	;;
qsd)
	need_cmd qemu-storage-daemon qemu-img
	qemu-img create -q -f raw "$T/disk.raw" 16M || fail "qemu-img create failed"
	conform "$T/r.json" --name=qemu-storage-daemon --type=blk \
		--exec="qemu-storage-daemon --blockdev driver=file,node-name=f,filename=$T/disk.raw --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path={socket},writable=on"
	judge "$T/r.json" report --min=$CHECKS
	;;
virtiofsd)
	# QEMU 7.2's C virtiofsd (qemu-system-common): one front-end
	# connection a process, so a fresh one for each check, and checks that
	# need a second connection fail (report only, docs/CONFORMANCE.md)
	VFSD=/usr/lib/qemu/virtiofsd
	[ -x "$VFSD" ] || fail "$VFSD is missing (Debian qemu-system-common; scripts/deps.sh installs it)"
	mkdir -p "$T/shared"
	conform "$T/r.json" --name=virtiofsd --timeout=1 \
		--exec="$VFSD --socket-path={socket} -o source=$T/shared -o cache=none"
	judge "$T/r.json" report --min=$CHECKS
	grep -q 'one connection a process' "$T/r.json" || fail "virtiofsd's single connection not recognised"
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
		"device:dev-data-queue"
		"memory:resource-rss"
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
fe-probe)
	fe_listen "$T/r.json" vhu-probe
	timeout 20 "$1" --socket-path="$T/fe.sock" --type=blk >/dev/null || fail "vhu-probe failed"
	wait "$CPID"
	RC=$?
	cat "$T/conform.err"
	judge "$T/r.json" pass --na=fe-ring-order,fe-error-reaction
	[ "$RC" = 0 ] || fail "vhu-conform frontend exited $RC"
	;;
fe-bench)
	# lib/frontend (vhu-bench blk) sets up memory and rings: with nothing
	# refused it breaks no rule; with SET_VRING_ADDR refused it stops
	for nack in "" SET_VRING_ADDR; do
		fe_listen "$T/r$nack.json" "vhu-bench blk${nack:+ (--nack=$nack)}" ${nack:+--nack=$nack}
		timeout 20 "$1" blk --socket-path="$T/fe.sock" --time=1 >"$T/bench.log" 2>&1
		wait "$CPID"
		RC=$?
		cat "$T/conform.err"
		if [ -z "$nack" ]; then
			judge "$T/r.json" pass --na=fe-error-reaction
		else
			judge "$T/r$nack.json" pass --na=fe-ring-order
		fi
		[ "$RC" = 0 ] || fail "vhu-conform frontend exited $RC"
	done
	;;
fe-dpdk)
	need_cmd dpdk-testpmd
	cpus=$("$PYTHON" -c 'import os; c = sorted(os.sched_getaffinity(0)); print(c[0], c[-1])')
	read -r cpu0 cpu1 <<<"$cpus"
	for nack in "" SET_VRING_ADDR; do
		PREFIX=vhu-conform-fe-${T##*/}$nack
		on_cleanup "rm -rf -- '${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX' '/var/run/dpdk/$PREFIX'"
		fe_listen "$T/r$nack.json" "DPDK virtio-user${nack:+ (--nack=$nack)}" ${nack:+--nack=$nack}
		PEER_STDIN=hold start_peer testpmd "$T/testpmd$nack.log" dpdk-testpmd \
			--lcores="0@$cpu0,1@$cpu1" --no-pci --no-huge -m 256 \
			--no-shconf --no-telemetry --file-prefix="$PREFIX" \
			--vdev "net_virtio_user0,path=$T/fe.sock,queues=1,queue_size=256" \
			-- -i --total-num-mbufs=8192
		sleep 1
		echo start >&"${PEER_HOLD_FD[testpmd]}"
		wait "$CPID"
		RC=$?
		stop_peer testpmd
		release_stdin testpmd 2>/dev/null
		PEER_PID[testpmd]=
		[ "$RC" -le 1 ] || { cat "$T/conform.err"; fail "vhu-conform frontend exited $RC"; }
		judge "$T/r$nack.json" report --min=8
	done
	;;
fe-qemu)
	need_cmd qemu-system-x86_64
	for nack in "" GET_CONFIG; do
		fe_listen "$T/r$nack.json" "QEMU vhost-user-blk-pci${nack:+ (--nack=$nack)}" ${nack:+--nack=$nack}
		start_peer qemu "$T/qemu$nack.log" qemu-system-x86_64 -S -machine q35,accel=tcg -m 128 \
			-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
			-chardev socket,id=c0,path="$T/fe.sock" -device vhost-user-blk-pci,chardev=c0 \
			-display none -nodefaults -monitor none -serial none
		wait "$CPID"
		RC=$?
		stop_peer qemu
		PEER_PID[qemu]=
		[ "$RC" -le 1 ] || { cat "$T/conform.err"; fail "vhu-conform frontend exited $RC"; }
		judge "$T/r$nack.json" report --min=8
	done
	;;
fe-broken)
	fe_listen "$T/r.json" broken
	"$PYTHON" - "$T/fe.sock" <<'PY' || fail "the broken front-end failed"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def send(req, payload=b'', flags=1):
	s.sendall(struct.pack('<III', req, flags, len(payload)) + payload)
send(16, struct.pack('<Q', 1 << 3))		# SET_PROTOCOL_FEATURES first
send(1)						# GET_FEATURES
s.recv(20)
send(2, struct.pack('<Q', (1 << 32) | 1))	# SET_FEATURES with bit 0, not offered
send(8, struct.pack('<II', 0, 256))		# SET_VRING_NUM before SET_OWNER
send(3)						# SET_OWNER
send(35, struct.pack('<II', 0, 0))		# VRING_KICK: INBAND_NOTIFICATIONS never offered
send(16, struct.pack('<Q', 0))			# no REPLY_ACK from here on
send(10, struct.pack('<II', 0, 0), 1 | 8)	# need_reply without REPLY_ACK
send(12, struct.pack('<Q', 20 | 0x100))		# kick ring 20: no NUM/ADDR, beyond 8 queues
s.close()
PY
	wait "$CPID"
	RC=$?
	judge "$T/r.json" fail fe-protocol-order,fe-features-offered,fe-gated,fe-need-reply,fe-owner-first,fe-ring-order,fe-queue-index
	[ "$RC" = 1 ] || fail "vhu-conform frontend exited $RC, want 1"
	# and one that starts a ring whose SET_VRING_ADDR was refused
	fe_listen "$T/r2.json" ignores-errors --nack=SET_VRING_ADDR
	"$PYTHON" - "$T/fe.sock" <<'PY' || fail "the second broken front-end failed"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def send(req, payload=b'', flags=1):
	s.sendall(struct.pack('<III', req, flags, len(payload)) + payload)
def reply():
	h = s.recv(12)
	return s.recv(struct.unpack('<III', h)[2])
send(1); reply()
send(15); reply()
send(16, struct.pack('<Q', 1 << 3))		# REPLY_ACK
send(3, flags=9); reply()
send(2, struct.pack('<Q', (1 << 32) | (1 << 30)), 9); reply()
send(8, struct.pack('<II', 0, 256), 9); reply()
send(9, struct.pack('<IIQQQQ', 0, 0, 0x1000, 0x2000, 0x3000, 0), 9)
assert struct.unpack('<Q', reply())[0] != 0	# refused...
send(12, struct.pack('<Q', 0 | 0x100), 9); reply()	# ...and started anyway
s.close()
PY
	wait "$CPID"
	judge "$T/r2.json" fail fe-error-reaction
	;;
*)
	fail "unknown mode $MODE"
	;;
esac
note "ok"
