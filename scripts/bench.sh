#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make bench: vhu-blk against qemu-storage-daemon, both driven by vhu-bench
# with the same load in the same run, alternating the two sides ROUNDS times
# (this machine is shared and noisy: medians and spreads, not single runs).
# Back-end pinned to CPU 1, vhu-bench to CPU 0. Writes docs/PERFORMANCE.md.
#
#   scripts/bench.sh                 full run (TIME=5 s per run, ROUNDS=3)
#   TIME=2 ROUNDS=1 scripts/bench.sh quick look
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
TIME=${TIME:-5}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$top/docs/PERFORMANCE.md}
bench=$build/tools/bench/vhu-bench
blk=$build/devices/vhu-blk
for exe in "$bench" "$blk"; do
	[ -x "$exe" ] || { echo "bench: $exe is missing; run 'make build' first" >&2; exit 1; }
done
command -v qemu-storage-daemon >/dev/null || { echo "bench: qemu-storage-daemon is missing" >&2; exit 1; }

tmp=$(mktemp -d /tmp/vhu-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/vhu-bench.XXXXXX)
peer=
cleanup() {
	[ -n "$peer" ] && kill "$peer" 2>/dev/null && wait "$peer" 2>/dev/null
	rm -rf "$tmp" "$shm"
}
trap cleanup EXIT
SIZE=$((1 << 30))
truncate -s "$SIZE" "$shm/disk.img"
ncpu=$(nproc)
pin_be="taskset -c $((ncpu > 1 ? 1 : 0))"
pin_fe="taskset -c 0"

# start_backend SIDE BACKING: vhu-blk or qsd on $tmp/s.sock
start_backend() {
	local side=$1 backing=$2
	rm -f "$tmp/s.sock"
	case $side/$backing in
	vhu/null) exec $pin_be "$blk" --socket-path="$tmp/s.sock" --null-size=$SIZE ;;
	vhu/tmpfs) exec $pin_be "$blk" --socket-path="$tmp/s.sock" --blk-file="$shm/disk.img" ;;
	qsd/null) exec $pin_be qemu-storage-daemon \
		--blockdev null-co,size=$SIZE,read-zeroes=on,node-name=n \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	qsd/tmpfs) exec $pin_be qemu-storage-daemon \
		--blockdev driver=file,node-name=n,filename="$shm/disk.img",cache.direct=off,aio=threads \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	esac >"$tmp/$side.log" 2>&1 &
	peer=$!
	for _ in $(seq 100); do [ -S "$tmp/s.sock" ] && return 0; sleep 0.05; done
	echo "bench: $side did not start:" >&2
	cat "$tmp/$side.log" >&2
	exit 1
}

# user + system CPU time of PID in clock ticks (perf counters are not
# available on these VMs: the back-end's CPU time per request stands in for
# cycles per request)
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

stop_backend() {
	kill "$peer" 2>/dev/null || true
	wait "$peer" 2>/dev/null || true
	peer=
}

results=$tmp/results.jsonl
for backing in ${BACKINGS-null tmpfs}; do
	for rw in randread randwrite; do
		for depth in 1 32; do
			for round in $(seq "$ROUNDS"); do
				for side in vhu qsd; do
					start_backend "$side" "$backing"
					cmd="vhu-bench blk --socket-path=SOCK --rw=$rw --bs=4096 --iodepth=$depth --time=$TIME --json"
					t0=$(cpu_ticks "$peer")
					if r=$($pin_fe "$bench" blk --socket-path="$tmp/s.sock" --rw=$rw \
						--bs=4096 --iodepth=$depth --time="$TIME" --json); then
						ticks=$(($(cpu_ticks "$peer") - t0))
						echo "{\"side\": \"$side\", \"backing\": \"$backing\", \"round\": $round, \"cmd\": \"$cmd\", \"cpu_ticks\": $ticks, \"r\": $r}" >>"$results"
						printf '%-5s %-6s %-9s depth %-2s round %s: %s IOPS\n' "$side" "$backing" "$rw" "$depth" "$round" \
							"$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["iops"]))' "$r")"
					else
						echo "bench: $side $backing $rw depth $depth failed" >&2
					fi
					stop_backend
				done
			done
		done
	done
done

# ---- packets: vhu-bench vs DPDK's virtio-user as generators ------------------
# Both send into the same receiver, dpdk-testpmd with a net_vhost port in
# rxonly (forwarding lcore on CPU 1). The generator runs on CPU 0. The rate
# is what the RECEIVER counted over TIME seconds (its stats are cleared once
# the generator runs), so both sides are measured by the same counter.
PKT_SIZES=${PKT_SIZES:-64 1518}
if command -v dpdk-testpmd >/dev/null; then
	dpdk_common=(--no-pci --no-huge -m 256 --no-shconf --no-telemetry)
	# testpmd VAR IN OUT NAME ARGS...: start testpmd (reading commands from the
	# fifo IN) from this shell, so that it can be waited for; its pid in VAR
	testpmd() {
		local var=$1 in=$2 out=$3 name=$4
		shift 4
		rm -f "$in"
		mkfifo "$in"
		dpdk-testpmd "${dpdk_common[@]}" --file-prefix="vhu-bench-$name-$$" "$@" <"$in" >"$out" 2>&1 &
		printf -v "$var" %s $!
	}
	for size in $PKT_SIZES; do
		for round in $(seq "$ROUNDS"); do
			for side in vhu dpdk; do
				rm -f "$tmp/n.sock"
				testpmd rx_pid "$tmp/rx.in" "$tmp/rx.log" rx --lcores=0@0,1@$((ncpu > 1 ? 1 : 0)) \
					--vdev "net_vhost0,iface=$tmp/n.sock" -- -i --total-num-mbufs=8192 --forward-mode=rxonly
				exec {rx_fd}>"$tmp/rx.in"
				echo start >&"$rx_fd"
				for _ in $(seq 100); do [ -S "$tmp/n.sock" ] && break; sleep 0.05; done
				if [ "$side" = vhu ]; then
					$pin_fe "$bench" net --socket-path="$tmp/n.sock" --mode=tx --pkt-size="$size" \
						--time=$((TIME + 3)) --json >"$tmp/gen.json" 2>"$tmp/gen.err" &
					gen_pid=$!
					gen_cmd="taskset -c 0 vhu-bench net --socket-path=SOCK --mode=tx --pkt-size=$size"
				else
					testpmd gen_pid "$tmp/gen.in" "$tmp/gen.log" gen --lcores=0@0,1@0 \
						--vdev "net_virtio_user0,path=$tmp/n.sock,queues=1" -- -i \
						--total-num-mbufs=8192 --forward-mode=txonly
					exec {gen_fd}>"$tmp/gen.in"
					echo "set txpkts $size" >&"$gen_fd"
					echo start >&"$gen_fd"
					gen_cmd="dpdk-testpmd --lcores=0@0,1@0 --vdev net_virtio_user0,path=SOCK -- -i --forward-mode=txonly; set txpkts $size"
				fi
				sleep 1.5
				echo "clear port stats all" >&"$rx_fd"
				sleep "$TIME"
				echo "show port stats all" >&"$rx_fd"
				echo quit >&"$rx_fd"
				exec {rx_fd}>&-
				wait "$rx_pid" 2>/dev/null || true
				if [ "$side" = dpdk ]; then
					echo quit >&"$gen_fd" 2>/dev/null || true
					exec {gen_fd}>&-
				fi
				kill "$gen_pid" 2>/dev/null || true
				wait "$gen_pid" 2>/dev/null || true
				rm -rf /var/run/dpdk/vhu-bench-*-$$
				pkts=$(awk '/NIC statistics for port 0/ { on = 1 } on && /RX-packets:/ { v = $2 } END { print v + 0 }' "$tmp/rx.log")
				pps=$((pkts / TIME))
				echo "{\"kind\": \"net\", \"side\": \"$side\", \"size\": $size, \"round\": $round, \"pps\": $pps, \"cmd\": \"$gen_cmd\"}" >>"$results"
				printf '%-5s net %4s B round %s: %s pps (receiver count)\n' "$side" "$size" "$round" "$pps"
			done
		done
	done
else
	echo "bench: dpdk-testpmd is missing: no packet comparison" >&2
fi

python3 - "$results" "$OUT" "$TIME" "$ROUNDS" <<'EOF'
import json, os, statistics, subprocess, sys, datetime, platform
allrows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in allrows if r.get('kind') != 'net']
net = [r for r in allrows if r.get('kind') == 'net']
out, secs, rounds = sys.argv[2], sys.argv[3], sys.argv[4]
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
def cell(v):
    if not v: return 'n/a', None
    m = statistics.median(v)
    return f"{m:,.0f} ({min(v):,.0f}–{max(v):,.0f})", m
lines = []
lines.append("# Performance\n")
lines.append(f"Written by `make bench` (scripts/bench.sh) on {datetime.date.today()}: "
             f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs ({cpu}), "
             f"kernel {platform.release()}. Each cell is the median IOPS of {rounds} runs of {secs} s "
             "(min–max in brackets); vhu and the peer alternate run by run under the same load.\n")
lines.append("## vhu-blk vs qemu-storage-daemon (4 KiB, 1 queue)\n")
lines.append("Both back-ends are driven by `vhu-bench blk` (vhu's userspace virtio driver, split ring, "
             "event idx); the back-end is pinned to CPU 1 and vhu-bench to CPU 0 (`taskset`). "
             "Backings: *null* = `vhu-blk --null-size=1G` vs qsd `--blockdev null-co,size=1G,read-zeroes=on`; "
             "*tmpfs* = the same 1 GiB file in /dev/shm for both (qsd: `driver=file,aio=threads`).\n")
hz = os.sysconf('SC_CLK_TCK')
def cpu_us(side, b, rw, d):
    v = [r['cpu_ticks'] / hz * 1e6 / r['r']['ops'] for r in rows if r['side'] == side and r['backing'] == b and r['r']['rw'] == rw and r['r']['iodepth'] == d and r['r']['ops'] and 'cpu_ticks' in r]
    return f"{statistics.median(v):.2f}" if v else 'n/a'
lines.append("| backing | rw | iodepth | vhu-blk IOPS | qemu-storage-daemon IOPS | vhu / qsd | vhu p50 / p99 latency | back-end CPU µs per request, vhu / qsd |")
lines.append("|---|---|---:|---:|---:|---:|---|---|")
keys = sorted({(r['backing'], r['r']['rw'], r['r']['iodepth']) for r in rows})
for b, rw, d in keys:
    sel = lambda s: [r['r']['iops'] for r in rows if r['side'] == s and r['backing'] == b and r['r']['rw'] == rw and r['r']['iodepth'] == d]
    v, vm = cell(sel('vhu')); q, qm = cell(sel('qsd'))
    lat = [r['r']['lat_us'] for r in rows if r['side'] == 'vhu' and r['backing'] == b and r['r']['rw'] == rw and r['r']['iodepth'] == d]
    latc = f"{statistics.median(l['p50'] for l in lat):.1f} / {statistics.median(l['p99'] for l in lat):.1f} µs" if lat else 'n/a'
    ratio = f"{vm / qm:.2f}×" if vm and qm else 'n/a'
    lines.append(f"| {b} | {rw} | {d} | {v} | {q} | {ratio} | {latc} | {cpu_us('vhu', b, rw, d)} / {cpu_us('qsd', b, rw, d)} |")
lines.append("\nBack-end CPU per request: the back-end process's user + system time (`/proc/PID/stat`) during the run over the requests completed, a stand-in for cycles per request because `perf stat` reports cycles and instructions as *not supported* on these VMs. A polling back-end spends its idle time spinning, so this is an upper bound.\n")
lines.append("\nCommand per run (SOCK = the back-end's socket): "
             f"`taskset -c 0 vhu-bench blk --socket-path=SOCK --rw=RW --bs=4096 --iodepth=D --time={secs} --json`.\n")
lines.append("Target (issue 4): vhu-blk ≥ 2× qemu-storage-daemon IOPS at iodepth 32.\n")
if net:
    lines.append("## vhu-bench vs DPDK virtio-user as packet generators\n")
    lines.append("Both generators send into the same receiver: `dpdk-testpmd --lcores=0@0,1@1 --vdev net_vhost0,iface=SOCK -- -i --forward-mode=rxonly`. "
                 "The generator runs on CPU 0, the receiver's forwarding lcore on CPU 1. The rate is the receiver's RX-packets over "
                 f"{secs} s after its counters were cleared with the generator running, so both sides are counted by the same DPDK counter.\n")
    lines.append("| frame bytes | vhu-bench pps | DPDK virtio-user pps | vhu / DPDK |")
    lines.append("|---:|---:|---:|---:|")
    for size in sorted({r['size'] for r in net}):
        v, vm = cell([r['pps'] for r in net if r['side'] == 'vhu' and r['size'] == size])
        d, dm = cell([r['pps'] for r in net if r['side'] == 'dpdk' and r['size'] == size])
        lines.append(f"| {size} | {v} | {d} | {vm / dm:.2f}× |" if vm and dm else f"| {size} | {v} | {d} | n/a |")
    cmds = sorted({r['cmd'] for r in net})
    lines.append("\nGenerators: " + '; '.join(f"`{c}`" for c in cmds) + ".\n")
    lines.append("Target (issue 4): vhu-bench ≥ 1.0× DPDK virtio-user's pps at 64 B.\n")
import os
extra = open(out).read().split('<!-- manual -->', 1) if os.path.exists(out) else []
if len(extra) == 2:
    lines.append('<!-- manual -->' + extra[1])
open(out, 'w').write('\n'.join(lines) + '\n')
print(f"bench: wrote {out}")
EOF
