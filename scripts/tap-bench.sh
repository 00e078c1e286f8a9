#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The host uplink's rate: DPDK virtio-user txonly (CPU 0) sends broadcast
# frames into a vhu-net port (CPU 1) that floods them to the switch's TAP,
# against the same generator into testpmd io-forwarding from a net_vhost
# port to DPDK's net_tap (CPU 1). Both TAPs live in a network namespace
# made here and deleted afterwards; nothing has an address, so the kernel
# counts each frame (rx_packets of the TAP) and drops it.
#
#   scripts/tap-bench.sh [ROUNDS]     SIZE (64) frame bytes, TIME (4) s counted
#
# Prints each round's TAP rate for both and the median vhu / DPDK.
set -euo pipefail

rounds=${1:-3}
SIZE=${SIZE:-64} TIME=${TIME:-4}
top=$(cd "$(dirname "$0")/.." && pwd)
vhu_net=${VHU_NET:-$top/${BUILD_DIR:-build}/devices/vhu-net}
[ "$(id -u)" = 0 ] || { echo "tap-bench: needs root (ip netns, TAP)" >&2; exit 1; }
command -v dpdk-testpmd >/dev/null || { echo "tap-bench: dpdk-testpmd is missing" >&2; exit 1; }
[ -x "$vhu_net" ] || { echo "tap-bench: $vhu_net is missing: make build" >&2; exit 1; }
ns=vhu-tapb-$$ tmp=$(mktemp -d /tmp/vhu-tapb.XXXXXX)
dpdk_common=(--no-pci --no-huge --no-shconf --no-telemetry)
cleanup() {
	pkill -f "file-prefix=vhu-tapb-[a-z]*-$$" 2>/dev/null || true
	if [ -n "${dut:-}" ]; then kill "$dut" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# one_run vhu|dpdk: print the TAP's received frames per second
one_run() {
	local sock=$tmp/$1.sock r0 r1
	ip netns add "$ns"
	if [ "$1" = vhu ]; then
		ip netns exec "$ns" taskset -c 1 "$vhu_net" --socket-path="$sock" --tap=vt0 --poll \
			--queue-pairs=1 >"$tmp/dut.log" 2>&1 &
	else
		mkfifo "$tmp/dut.in"
		ip netns exec "$ns" dpdk-testpmd "${dpdk_common[@]}" -m 512 --file-prefix="vhu-tapb-dut-$$" \
			--vdev "net_vhost0,iface=$sock" --vdev net_tap0,iface=vt0 --lcores=0@1,1@1 -- -i \
			--forward-mode=io --total-num-mbufs=16384 <"$tmp/dut.in" >"$tmp/dut.log" 2>&1 &
		exec {fd_dut}>"$tmp/dut.in"
		echo start >&"$fd_dut"
	fi
	dut=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && ip netns exec "$ns" test -e /sys/class/net/vt0 && break
		sleep 0.1
	done
	ip netns exec "$ns" ip link set vt0 up
	mkfifo "$tmp/gen.in"
	dpdk-testpmd "${dpdk_common[@]}" -m 256 --lcores=0@0,1@0 --file-prefix="vhu-tapb-gen-$$" \
		--vdev "net_virtio_user0,path=$sock,queues=1" -- -i --total-num-mbufs=8192 \
		--forward-mode=txonly --eth-peer=0,ff:ff:ff:ff:ff:ff <"$tmp/gen.in" >"$tmp/gen.log" 2>&1 &
	exec {fd_gen}>"$tmp/gen.in"
	echo "set txpkts $SIZE" >&"$fd_gen"
	echo start >&"$fd_gen"
	sleep 2
	r0=$(ip netns exec "$ns" cat /sys/class/net/vt0/statistics/rx_packets)
	sleep "$TIME"
	r1=$(ip netns exec "$ns" cat /sys/class/net/vt0/statistics/rx_packets)
	echo quit >&"$fd_gen"
	exec {fd_gen}>&-
	if [ "$1" = dpdk ]; then
		{ echo quit >&"$fd_dut"; } 2>/dev/null || true
		exec {fd_dut}>&-
	fi
	sleep 1
	pkill -f "file-prefix=vhu-tapb-[a-z]*-$$" 2>/dev/null || true
	kill "$dut" 2>/dev/null || true
	wait 2>/dev/null || true
	dut=
	ip netns del "$ns"
	rm -f "$tmp/dut.in" "$tmp/gen.in" "$sock"
	echo $(((r1 - r0) / TIME))
}

ratios=()
for round in $(seq "$rounds"); do
	v=$(one_run vhu) d=$(one_run dpdk)
	r=$(python3 -c "print(f'{$v / $d:.3f}' if $d else 'nan')")
	ratios+=("$r")
	echo "round $round, $SIZE B: vhu-net -> TAP $v pps, testpmd net_vhost -> net_tap $d pps, vhu / DPDK $r"
done
python3 -c "import statistics, sys; print('median vhu / DPDK', statistics.median(float(x) for x in sys.argv[1:]))" "${ratios[@]}"
