#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The tables of docs/CONFORMANCE.md: vhu-conform --markdown against vhu-blk,
# vhu-net, vhu-rng, vhu-gpu, vhu-input, qemu-storage-daemon and
# dpdk-testpmd's net_vhost, then
# vhu-conform frontend --markdown against vhu-bench (lib/frontend), QEMU
# realizing a vhost-user-blk-pci and DPDK virtio-user, each preceded by the
# commands that made it.
#
#   scripts/conformance.sh [BUILD-DIR] > tables.md     (default BUILD-DIR: build)
#
# A peer that is not installed is left out with a line saying so.
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd) || exit 2
conform=$build/tools/conform/vhu-conform
[ -x "$conform" ] || { echo "no $conform: build first" >&2; exit 2; }
tmp=$(mktemp -d)
tp_pid=
cleanup() {
	[ -z "$tp_pid" ] || { kill "$tp_pid" 2>/dev/null; wait "$tp_pid" 2>/dev/null; }
	rm -rf "$tmp" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/vhu-conformance"
}
trap cleanup EXIT

# table NAME ARGS...: the command (as a user would type it), then the table
table() {
	local name=$1
	shift
	local a
	printf '### %s\n\n```\nvhu-conform' "$name"
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9=./_,:-]*) printf " %s='%s'" "${a%%=*}" "${a#*=}" ;;
		*) printf ' %s' "$a" ;;
		esac
	done | sed "s|$tmp/||g"
	printf '\n```\n\n'
	(cd "$tmp" && PATH=$build/devices:$PATH "$conform" --markdown "$@" 2>/dev/null)
	echo
}

table vhu-blk --exec='vhu-blk --socket-path={socket} --null-size=16777216'
table vhu-net --exec='vhu-net --socket-path={socket}'
table vhu-rng --exec='vhu-rng --socket-path={socket}'
table vhu-gpu --exec='vhu-gpu --socket-path={socket}'
# vhu-input serves its vhost-user socket once its events socket described a
# device: one process, described and fed a key press every 20 ms
PATH=$build/devices:$PATH vhu-input --socket-path="$tmp/in.sock" --events-socket="$tmp/ev.sock" \
	>"$tmp/input.log" 2>&1 &
in_pid=$!
for _ in $(seq 100); do [ -S "$tmp/ev.sock" ] && break; sleep 0.05; done
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"name conform keyboard\nev 1 30\nev 17 0\nready\n")
s.recv(64)
while True:
    for v in (1, 0):
        s.sendall(b"1 30 %d\n0 0 0\n" % v)
        time.sleep(0.02)' "$tmp/ev.sock" &
feed_pid=$!
for _ in $(seq 100); do [ -S "$tmp/in.sock" ] && break; sleep 0.05; done
printf '(vhu-input started by hand: `vhu-input --socket-path=in.sock --events-socket=ev.sock`, described as a keyboard with KEY_A and fed a press and a release every 20 ms on ev.sock)\n\n'
table vhu-input --type=input --socket-path="$tmp/in.sock" --pid="$in_pid" --name=vhu-input
kill "$feed_pid" "$in_pid" 2>/dev/null
wait "$feed_pid" "$in_pid" 2>/dev/null
if command -v qemu-storage-daemon >/dev/null && command -v qemu-img >/dev/null; then
	qemu-img create -q -f raw "$tmp/disk.raw" 16M
	table qemu-storage-daemon --type=blk --exec='qemu-storage-daemon --blockdev driver=file,node-name=f,filename=disk.raw --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path={socket},writable=on'
else
	printf '### qemu-storage-daemon\n\nnot installed here\n\n'
fi
if [ -x /usr/lib/qemu/virtiofsd ]; then
	mkdir -p "$tmp/shared"
	table virtiofsd --timeout=1 --exec="/usr/lib/qemu/virtiofsd --socket-path={socket} -o source=$tmp/shared -o cache=none"
else
	printf '### virtiofsd\n\nnot installed here\n\n'
fi
if command -v dpdk-testpmd >/dev/null; then
	mkfifo "$tmp/stdin"
	dpdk-testpmd --lcores=0@0,1@1 --no-pci --no-huge -m 256 --no-shconf --no-telemetry \
		--file-prefix=vhu-conformance --vdev "net_vhost0,iface=$tmp/vhost.sock,queues=1" \
		-- -i --total-num-mbufs=8192 <"$tmp/stdin" >"$tmp/testpmd.log" 2>&1 &
	tp_pid=$!
	exec 3>"$tmp/stdin"
	for _ in $(seq 100); do [ -S "$tmp/vhost.sock" ] && break; sleep 0.2; done
	echo start >&3
	sleep 1
	printf '(dpdk-testpmd started by hand: `dpdk-testpmd --no-pci --no-huge -m 256 --vdev net_vhost0,iface=vhost.sock,queues=1 -- -i`, then `start`)\n\n'
	table dpdk-testpmd --type=net --socket-path="$tmp/vhost.sock" --pid="$tp_pid" --name=dpdk-testpmd
	exec 3>&-
else
	printf '### dpdk-testpmd\n\nnot installed here\n\n'
fi

# fe_table NAME NACK SHOWN FRONT-END-CMD...: vhu-conform frontend on
# $tmp/fe.sock; SHOWN is the front-end's command as the table shows it
fe_table() {
	local name=$1 nack=$2 shown=$3 pid
	shift 3
	rm -f "$tmp/fe.sock"
	printf '### %s\n\n```\nvhu-conform frontend --listen=fe.sock%s &\n%s\n```\n\n' "$name" \
		"${nack:+ --nack=$nack}" "$shown"
	"$conform" frontend --listen="$tmp/fe.sock" --markdown --name="$name" ${nack:+--nack=$nack} &
	pid=$!
	for _ in $(seq 100); do [ -S "$tmp/fe.sock" ] && break; sleep 0.05; done
	"$@" >"$tmp/fe-peer.log" 2>&1 </dev/null &
	local fpid=$!
	wait "$pid"
	kill "$fpid" 2>/dev/null
	wait "$fpid" 2>/dev/null
	echo
}

echo '## Front-end mode'
echo
fe_table "vhu-bench blk (lib/frontend)" "" "vhu-bench blk --socket-path=fe.sock --time=1" timeout 20 "$build/tools/bench/vhu-bench" blk \
	--socket-path="$tmp/fe.sock" --time=1
fe_table "vhu-bench blk (lib/frontend), SET_VRING_ADDR refused" SET_VRING_ADDR \
	"vhu-bench blk --socket-path=fe.sock --time=1" timeout 20 \
	"$build/tools/bench/vhu-bench" blk --socket-path="$tmp/fe.sock" --time=1
if command -v qemu-system-x86_64 >/dev/null; then
	for nack in "" GET_CONFIG; do
		fe_table "QEMU vhost-user-blk-pci${nack:+, $nack refused}" "$nack" \
			"qemu-system-x86_64 -S -machine q35,accel=tcg -m 128 -object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem -chardev socket,id=c0,path=fe.sock -device vhost-user-blk-pci,chardev=c0 -display none -nodefaults -monitor none -serial none" \
			timeout 20 qemu-system-x86_64 -S -machine q35,accel=tcg -m 128 \
			-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
			-chardev socket,id=c0,path="$tmp/fe.sock" -device vhost-user-blk-pci,chardev=c0 \
			-display none -nodefaults -monitor none -serial none
	done
fi
if command -v dpdk-testpmd >/dev/null; then
	# -i with a stdin that stays open for the 20 s
	tp="dpdk-testpmd --lcores=0@0,1@1 --no-pci --no-huge -m 256 --no-shconf --no-telemetry"
	tp+=" --file-prefix=vhu-conformance-fe --vdev net_virtio_user0,path=fe.sock,queues=1,queue_size=256 -- -i"
	fe_table "DPDK virtio-user (testpmd)" "" "$tp" \
		timeout 20 bash -c "cd '$tmp' && sleep 20 | $tp"
fi
