#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The tables of docs/CONFORMANCE.md: vhu-conform --markdown against vhu-blk,
# vhu-net, vhu-rng, qemu-storage-daemon and dpdk-testpmd's net_vhost, each
# preceded by the command that made it.
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
if command -v qemu-storage-daemon >/dev/null && command -v qemu-img >/dev/null; then
	qemu-img create -q -f raw "$tmp/disk.raw" 16M
	table qemu-storage-daemon --type=blk --exec='qemu-storage-daemon --blockdev driver=file,node-name=f,filename=disk.raw --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path={socket},writable=on'
else
	printf '### qemu-storage-daemon\n\nnot installed here\n\n'
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
