#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make soak: every live-migration case N times, for vhu and for the peers
# from the same harness, and the failure rate, median downtime and median
# total migration time of each (from QMP's query-migrate). A run fails when
# the migration did not complete, the destination guest did not pass, or
# the image or the pings did not check out; why is kept for each run.
#
#   scripts/soak.sh            (make soak; N=10 by default)
#
# Environment:
#   N=10              runs per case and back-end
#   BUILD_DIR=build   where vhu-blk and vhu-net are built
#   CASES='...'       a subset of: blk blk-packed blk-2q net blk-postcopy
#                     client-blk client-net
#                     (blk-postcopy: postcopy 1 s into the migration, vhu
#                     and qemu only; qsd 7.2 panics on QEMU's postcopy
#                     ADD_MEM_REG. Not in the default set: CASES=blk-postcopy.
#                     client-blk, client-net: no migration; back-end client
#                     mode (issue 20), QEMU server=on,wait=off and vhu-blk
#                     --client SIGKILLed CLIENT_KILLS times (default 20)
#                     under a guest's write-and-verify churn, or vhu-net
#                     --client CLIENT_KILLS / 4 times under two pinging
#                     guests; vhu only. Their table goes between the
#                     soak-client markers)
#   BACKENDS='...'    a subset of: vhu qemu qsd dpdk
#                     (qemu: QEMU's own virtio-blk, no vhost-user, the
#                     control; qsd: qemu-storage-daemon aio=io_uring;
#                     dpdk: dpdk-testpmd net_vhost)
#   VHU_GUEST_TCG_THREAD=single|multi  passed to the guests (run-guest.sh)
#   SOAK_TABLE_ONLY=1 run nothing: the table from the results kept in
#                     $BUILD_DIR/soak/ by an earlier run
#   SOAK_WRITE=0      only print the table; by default it also replaces
#                     the section between the soak markers in
#                     docs/RELIABILITY.md (soak:begin/end for precopy,
#                     soak-postcopy:begin/end for blk-postcopy: a run
#                     writes only the sections of the cases it ran)
#
# Every run's result line goes to $BUILD_DIR/soak/results.txt (appended, with
# a timestamp), its whole output to $BUILD_DIR/soak/<case>-<backend>-<i>.log.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
N=${N:-10}
CASES=${CASES:-blk blk-packed blk-2q net client-blk client-net}
CLIENT_KILLS=${CLIENT_KILLS:-20}
BACKENDS=${BACKENDS:-vhu qemu qsd dpdk}
VM=$BUILD_DIR/tests/guest/vm
OUT=$BUILD_DIR/soak
G=$ROOT/tests/guest
VHU_BLK=$BUILD_DIR/devices/vhu-blk
VHU_NET=$BUILD_DIR/devices/vhu-net
DMACHECK=$BUILD_DIR/tests/guest/dmacheck
mkdir -p "$OUT"
[ -x "$DMACHECK" ] || { echo "soak: no $DMACHECK: build first (make build)" >&2; exit 1; }
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "soak: N must be a positive integer" >&2; exit 2; }

has() { [[ " $1 " == *" $2 "* ]]; }

# cmd CASE BACKEND: the test command for one run, or nothing when that back-end
# has no such case (qsd has no packed ring; net is vhu and dpdk only)
cmd() {
	local vb="$VHU_BLK --socket-path=@SOCK@ --blk-file=@IMG@ --num-queues=@QUEUES@"
	local opts="--dmacheck $DMACHECK"
	case $1 in
	blk) ;;
	blk-packed) opts="$opts --packed" ;;
	blk-2q) opts="$opts --queues 2" ;;
	blk-postcopy)
		opts="$opts --postcopy 1"
		[ "$2" != qsd ] || return 0
		;;
	client-blk)
		[ "$2" = vhu ] || return 0
		printf '%s --backend-cmd %q --client --kills %s --secs %s\n' \
			"$G/test-blk-kill.sh $VM" "$VHU_BLK --socket-path=@SOCK@ --blk-file=@IMG@ --delay-us=20000" \
			"$CLIENT_KILLS" $((CLIENT_KILLS * 2 + 10))
		return
		;;
	client-net)
		[ "$2" = vhu ] || return 0
		echo "$G/test-net-pair.sh $VM $VHU_NET --net-client --kill $(((CLIENT_KILLS + 3) / 4))"
		return
		;;
	net)
		case $2 in
		vhu) echo "$G/test-migrate-net.sh $VM --backend vhu $VHU_NET --report" ;;
		dpdk) echo "$G/test-migrate-net.sh $VM --backend testpmd --report" ;;
		esac
		return
		;;
	esac
	case $2 in
	vhu) printf '%s --backend-cmd %q %s --report\n' "$G/test-migrate-blk.sh $VM" "$vb" "$opts" ;;
	qemu) echo "$G/test-migrate-blk.sh $VM --backend qemu $opts --report" ;;
	qsd) [ "$1" = blk-packed ] || echo "$G/test-migrate-blk.sh $VM --backend qsd $opts --report" ;;
	esac
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# row CASE LINE: a table row, into the postcopy table, the client-mode one or the other
row() {
	case $1 in
	blk-postcopy) PC_ROWS+=("$2") ;;
	client-*) CL_ROWS+=("$2") ;;
	*) ROWS+=("$2") ;;
	esac
}

ROWS=() PC_ROWS=() CL_ROWS=()
STAMP=$(date -u +%Y-%m-%dT%H:%MZ)
echo "soak: N=$N cases: $CASES; back-ends: $BACKENDS; logs in $OUT"
for c in $CASES; do
	for b in $BACKENDS; do
		line=$(cmd "$c" "$b")
		[ -n "$line" ] || continue
		if [ "${SOAK_TABLE_ONLY:-0}" = 1 ]; then
			[ -s "$OUT/$c-$b.results" ] || continue
			N=$(wc -l <"$OUT/$c-$b.results")
		else
			: >"$OUT/$c-$b.results"
		fi
		for ((i = 1; i <= N && ${SOAK_TABLE_ONLY:-0} == 0; i++)); do
			log=$OUT/$c-$b-$i.log
			eval "$line" >"$log" 2>&1
			rc=$?
			res=$(grep '^mig-result:' "$log" | tail -n 1)
			# the client-mode cases pass or fail by their exit status
			[[ $c != client-* ]] || [ $rc != 0 ] ||
				res="mig-result: status=PASS $(grep -Eo 'killed (the back-end|vhu-net) [0-9]+ times' "$log" | tail -n 1)"
			case $rc in
			0) [ -n "$res" ] || res="mig-result: status=FAIL reason=\"no result line\"" ;;
			77) res="mig-result: status=SKIP reason=\"$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)\"" ;;
			*) res="mig-result: status=FAIL reason=\"harness error, status $rc: $(sed -n 's/^FAIL: //p' "$log" | tail -n 1)\"" ;;
			esac
			echo "$res" >>"$OUT/$c-$b.results"
			echo "$STAMP $c $b $i $res" >>"$OUT/results.txt"
			echo "soak: $c $b $i/$N: ${res#mig-result: }"
		done
		r=$OUT/$c-$b.results
		runs=$(grep -vc 'status=SKIP' "$r")
		failed=$(grep -c 'status=FAIL' "$r")
		if [ "$runs" -eq 0 ]; then
			row "$c" "| $c | $b | skipped: $(field reason <"$r" | head -n 1) | | | | |"
			continue
		fi
		# times of the migrations that completed
		down=$(grep 'mig_status=completed' "$r" | field downtime_ms | grep -E '^[0-9]+$' | median)
		total=$(grep 'mig_status=completed' "$r" | field total_ms | grep -E '^[0-9]+$' | median)
		lost=
		[ "$c" != net ] || lost=$(grep 'status=PASS' "$r" | field lost | grep -E '^[0-9]+$' | median)
		why=$(grep 'status=FAIL' "$r" | sed -n 's/.* reason="\([^"]*\)".*/\1/p' | cut -c1-70 |
			sort | uniq -c | sort -rn | head -n 2 | awk '{ n = $1; $1 = ""; printf "%s%d×%s", (NR > 1 ? "; " : ""), n, $0 }')
		if [[ $c == client-* ]]; then
			kills=$(grep 'status=PASS' "$r" | grep -Eo '[0-9]+ times' | awk '{ s += $1 } END { print s + 0 }')
			row "$c" "| $c | $b | $failed/$runs | $kills | ${why:-} |"
			continue
		fi
		extra=
		# postcopy: how many pages the destination asked for (median)
		[ "$c" != blk-postcopy ] || extra=$(grep 'status=PASS' "$r" | field postcopy_requests | grep -E '^[0-9]+$' | median)
		row "$c" "| $c | $b | $failed/$runs | $down | $total | ${lost:-${extra:--}} | ${why:-} |"
	done
done

# table LOST-HEADER ROW...: the table and its heading line
table() {
	local lost=$1
	shift
	echo "Soak of $STAMP at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') (failed: of how many runs), QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }') under TCG (tcg thread: ${VHU_GUEST_TCG_THREAD:-multi, the default}), $(nproc) CPUs, \`scripts/soak.sh\`."
	echo
	echo "| case | back-end | failed | median downtime (ms) | median total (ms) | $lost | why runs failed |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "$@"
}

DOC=$ROOT/docs/RELIABILITY.md
# write MARKER TABLE: replace the section between <!-- MARKER:begin/end -->
write() {
	if [ "${SOAK_WRITE:-1}" = 1 ] && grep -q "<!-- $1:begin -->" "$DOC"; then
		awk -v table="$2" -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" '
			$0 == b { print; print table; skip = 1; next }
			$0 == e { skip = 0 }
			!skip { print }' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
		echo "soak: table written to docs/RELIABILITY.md ($1)"
	fi
}

if [ "${#ROWS[@]}" -gt 0 ]; then
	TABLE=$(table "median lost (net)" "${ROWS[@]}")
	echo
	echo "$TABLE"
	write soak "$TABLE"
fi
if [ "${#CL_ROWS[@]}" -gt 0 ]; then
	TABLE=$(
		echo "Soak of $STAMP at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), back-end client mode, QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }') under TCG, $(nproc) CPUs, \`scripts/soak.sh\` (CLIENT_KILLS=$CLIENT_KILLS)."
		echo
		echo "| case | back-end | failed | SIGKILLs survived in all | why runs failed |"
		echo "|---|---|---|---|---|"
		printf '%s\n' "${CL_ROWS[@]}"
	)
	echo
	echo "$TABLE"
	write soak-client "$TABLE"
fi
if [ "${#PC_ROWS[@]}" -gt 0 ]; then
	TABLE=$(table "median pages requested (postcopy)" "${PC_ROWS[@]}")
	echo
	echo "$TABLE"
	write soak-postcopy "$TABLE"
fi
