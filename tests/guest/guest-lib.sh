# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # GUEST_* are for the tests that source this
#
# Host-side helpers for the guest tests; source it first thing in a test:
#
#   . "$(dirname "$0")/guest-lib.sh"
#
# It sources tests/interop/lib.sh (peers, $T, skip, fail, note, need_cmd,
# start_peer, wait_socket, stop_peer; see there) and adds:
#
#   guest_build OUTDIR      build or reuse the guest under OUTDIR, or under
#                           $VHU_GUEST_CACHE when set (skip when there is no
#                           kernel/busybox); sets GUEST (the guest directory)
#                           and GUEST_ACCEL_CACHE
#   guest_run ARGS... SCRIPT  run-guest.sh --guest $GUEST ARGS... SCRIPT; skip
#                           when it skips, fail when it fails; sets GUEST_DATA
#                           (a file with the guest's KEY=VALUE data) and
#                           GUEST_TIMING (the run's timing line)
#   guest_get KEY           a value from GUEST_DATA ("" if absent)
#   feature_bit BITS N      bit N of a virtio feature string ("0"/"1")
#   start_qsd_blk NAME IMG SOCK QUEUES   qemu-storage-daemon exporting the raw
#                           image IMG over vhost-user-blk on SOCK, writable,
#                           QUEUES queues; waits until it listens
#   netns_create PREFIX     a network namespace PREFIX-<test id> (in NS), lo
#                           up, deleted at exit; skip without permission or
#                           without /dev/net/tun
#   wait_socket_ns SOCK NAME   wait (10 s) until peer NAME listens on SOCK
#                           inside $NS (/proc/net/unix is per namespace, so
#                           lib.sh's wait_socket cannot look)

GUEST_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../interop/lib.sh
. "$GUEST_SRC/../interop/lib.sh"

GUEST=
GUEST_ACCEL_CACHE=
GUEST_DATA=
GUEST_TIMING=

guest_build() {
	# VHU_GUEST_CACHE: one cache for several build dirs (build, build-asan).
	local out=${VHU_GUEST_CACHE:-$1} rc
	need_cmd qemu-system-x86_64 timeout flock
	GUEST=$("$GUEST_SRC/build-guest.sh" "$out")
	rc=$?
	if [ "$rc" -eq 77 ]; then
		skip "${GUEST#SKIP: }"
	fi
	[ "$rc" -eq 0 ] || fail "build-guest.sh $out failed (status $rc)"
	GUEST_ACCEL_CACHE=$out/accel-probe
}

guest_run() {
	local rc out
	[ -n "$GUEST" ] || fail "guest_run before guest_build"
	GUEST_DATA=$T/guest-data.$RANDOM
	out=$T/run-guest.out
	"$GUEST_SRC/run-guest.sh" --guest "$GUEST" --accel-cache "$GUEST_ACCEL_CACHE" \
		--data "$GUEST_DATA" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	GUEST_TIMING=$(sed -n 's/^run-guest: PASS (\(.*\))$/\1/p' "$out")
	case $rc in
	0) ;;
	77) skip "$(sed -n 's/^SKIP: //p' "$out" | tail -n 1)" ;;
	*) fail "the guest failed (run-guest.sh status $rc)" ;;
	esac
}

# The guest's lines are untrusted data: a value is printed, never evaluated,
# and the key is matched as a plain string.
guest_get() {
	[ -r "$GUEST_DATA" ] || return 0
	awk -v k="$1" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' \
		"$GUEST_DATA"
}

feature_bit() {
	echo "${1:$2:1}"
}

start_qsd_blk() {
	local name=$1 img=$2 sock=$3 queues=$4
	need_cmd qemu-storage-daemon
	start_peer "$name" "$T/$name.log" qemu-storage-daemon \
		--blockdev "driver=file,node-name=file0,filename=$img" \
		--blockdev "driver=raw,node-name=disk0,file=file0" \
		--export "type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$sock,writable=on,num-queues=$queues"
	wait_socket "$sock" "$name" 10
}

netns_create() {
	NS=$1-${T##*/vhu-}
	ip netns add "$NS" 2>"$T/netns.err" ||
		skip "cannot create a network namespace: $(cat "$T/netns.err")"
	on_cleanup "ip netns delete '$NS'"
	ip netns exec "$NS" ip link set lo up || fail "netns $NS: lo up"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
}

wait_socket_ns() {
	local i
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$NS" awk -v p="$1" '$NF == p && $4 == "00010000" { f = 1 } END { exit !f }' \
			/proc/net/unix && return 0
		peer_alive "$2" || fail "$2 exited before listening"
		sleep 0.1
	done
	fail "$2 is not listening on $1 after 10s"
}
