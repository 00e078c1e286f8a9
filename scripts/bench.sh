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
	vhu/null) $pin_be "$blk" --socket-path="$tmp/s.sock" --null-size=$SIZE ;;
	vhu/tmpfs) $pin_be "$blk" --socket-path="$tmp/s.sock" --blk-file="$shm/disk.img" ;;
	qsd/null) $pin_be qemu-storage-daemon \
		--blockdev null-co,size=$SIZE,read-zeroes=on,node-name=n \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	qsd/tmpfs) $pin_be qemu-storage-daemon \
		--blockdev driver=file,node-name=n,filename="$shm/disk.img",cache.direct=off,aio=threads \
		--export type=vhost-user-blk,id=e,node-name=n,addr.type=unix,addr.path="$tmp/s.sock",writable=on ;;
	esac >"$tmp/$side.log" 2>&1 &
	peer=$!
	for _ in $(seq 100); do [ -S "$tmp/s.sock" ] && return 0; sleep 0.05; done
	echo "bench: $side did not start:" >&2
	cat "$tmp/$side.log" >&2
	exit 1
}

stop_backend() {
	kill "$peer" 2>/dev/null || true
	wait "$peer" 2>/dev/null || true
	peer=
}

results=$tmp/results.jsonl
for backing in null tmpfs; do
	for rw in randread randwrite; do
		for depth in 1 32; do
			for round in $(seq "$ROUNDS"); do
				for side in vhu qsd; do
					start_backend "$side" "$backing"
					cmd="vhu-bench blk --socket-path=SOCK --rw=$rw --bs=4096 --iodepth=$depth --time=$TIME --json"
					if r=$($pin_fe "$bench" blk --socket-path="$tmp/s.sock" --rw=$rw \
						--bs=4096 --iodepth=$depth --time="$TIME" --json); then
						echo "{\"side\": \"$side\", \"backing\": \"$backing\", \"round\": $round, \"cmd\": \"$cmd\", \"r\": $r}" >>"$results"
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

python3 - "$results" "$OUT" "$TIME" "$ROUNDS" <<'EOF'
import json, statistics, subprocess, sys, datetime, platform
rows = [json.loads(l) for l in open(sys.argv[1])]
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
lines.append("| backing | rw | iodepth | vhu-blk IOPS | qemu-storage-daemon IOPS | vhu / qsd | vhu p50 / p99 latency |")
lines.append("|---|---|---:|---:|---:|---:|---|")
keys = sorted({(r['backing'], r['r']['rw'], r['r']['iodepth']) for r in rows})
for b, rw, d in keys:
    sel = lambda s: [r['r']['iops'] for r in rows if r['side'] == s and r['backing'] == b and r['r']['rw'] == rw and r['r']['iodepth'] == d]
    v, vm = cell(sel('vhu')); q, qm = cell(sel('qsd'))
    lat = [r['r']['lat_us'] for r in rows if r['side'] == 'vhu' and r['backing'] == b and r['r']['rw'] == rw and r['r']['iodepth'] == d]
    latc = f"{statistics.median(l['p50'] for l in lat):.1f} / {statistics.median(l['p99'] for l in lat):.1f} µs" if lat else 'n/a'
    ratio = f"{vm / qm:.2f}×" if vm and qm else 'n/a'
    lines.append(f"| {b} | {rw} | {d} | {v} | {q} | {ratio} | {latc} |")
lines.append("\nCommand per run (SOCK = the back-end's socket): "
             f"`taskset -c 0 vhu-bench blk --socket-path=SOCK --rw=RW --bs=4096 --iodepth=D --time={secs} --json`.\n")
lines.append("Target (issue 4): vhu-blk ≥ 2× qemu-storage-daemon IOPS at iodepth 32.\n")
import os
extra = open(out).read().split('<!-- manual -->', 1) if os.path.exists(out) else []
if len(extra) == 2:
    lines.append('<!-- manual -->' + extra[1])
open(out, 'w').write('\n'.join(lines) + '\n')
print(f"bench: wrote {out}")
EOF
