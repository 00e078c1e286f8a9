#!/bin/bash
# SPDX-License-Identifier: MIT
#
# vhu-net's options that no other test used, each shown to take effect, with
# vhu-bench net (vhu's front-end) as the ports' drivers and vhu-net's own
# counters (SIGUSR1) as the judge:
#
#   --mtu=1000        the config space says 1000 (vhu-probe); a frame of
#                     1018 bytes (MTU + Ethernet header + VLAN tag) is taken
#                     in, one of 1019 dropped as rx_drop_oversize
#   --queue-size=N    a 256-entry ring (vhu-bench's) works at 256 and is
#                     refused at 128
#   --ageing=3        a MAC learnt on port 1 is forwarded to alone at once,
#                     and flooded again (port 2 offered the frames) once it
#                     was not seen for longer than 3 s
#   --poll            the TX worker of a started but idle TX queue spins
#                     (its CPU time over 1 s) where without --poll it sleeps;
#                     frames still arrive byte for byte (--verify)
#
#   net_options.sh VHU-NET VHU-BENCH
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || fail "usage: $0 VHU-NET VHU-BENCH"
NET=$1 BENCH=$2
need_exe "$NET" "$BENCH"
need_cmd timeout

# net NAME NPORTS ARGS...: vhu-net as peer NAME with ports $T/NAME.0.sock ...
declare -A NPORTS=()
net() {
	local name=$1 n=$2 p socks=()
	shift 2
	NPORTS[$name]=$n
	for ((p = 0; p < n; p++)); do
		socks+=(--socket-path="$T/$name.$p.sock")
	done
	start_peer "$name" "$T/$name.log" "$NET" "${socks[@]}" --queue-pairs=1 "$@"
	for ((p = 0; p < n; p++)); do
		wait_socket "$T/$name.$p.sock" "$name" 10
	done
}

# tx NAME PORT COUNT ARGS...: vhu-bench net sends COUNT frames into a port
tx() {
	local name=$1 port=$2 count=$3
	shift 3
	timeout -k 2 30 "$BENCH" net --socket-path="$T/$name.$port.sock" --mode=tx --count="$count" \
		--json "$@" >"$T/tx.json" 2>"$T/tx.err" ||
		fail "vhu-bench tx into $name port $port: $(cat "$T/tx.err")"
}

# snap NAME: have vhu-net print its counters (SIGUSR1) and wait until all
# of them are out (the last port's queue-pair line ends a round)
snap() {
	local name=$1 before i last="queue pairs of port $((${NPORTS[$1]} - 1)) "
	before=$(grep -c "$last" "$T/$name.log")
	kill -USR1 "${PEER_PID[$name]}"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c "$last" "$T/$name.log")" -gt "$before" ] && return
		sleep 0.1
	done
	fail "$name printed no counters on SIGUSR1"
}

# counter NAME PORT KEY: the last value vhu-net printed
counter() {
	sed -n "s/.*: port $2 .* $3=\([0-9]*\).*/\1/p" "$T/$1.log" | tail -n 1
}

# offered NAME PORT: frames the switch sent toward PORT, delivered or dropped
offered() {
	echo $(($(counter "$1" "$2" tx_packets) + $(counter "$1" "$2" tx_drop_no_buffers) +
		$(counter "$1" "$2" tx_drop_down) + $(counter "$1" "$2" tx_drop_busy)))
}

# ---- --mtu and --queue-size (at the ring's size) ------------------------------------
net mtu 1 --mtu=1000 --queue-size=256
PROBE=$(dirname "$BENCH")/../probe/vhu-probe
need_exe "$PROBE"
run_probe "$T/probe.json" "$T/probe.err" --socket-path="$T/mtu.0.sock" --type=net --json
[ "$PROBE_RC" = 0 ] || fail "vhu-probe: $(cat "$T/probe.err")"
[ "$(json_get "$T/probe.json" config.mtu)" = 1000 ] ||
	fail "--mtu=1000: the config space says mtu $(json_get "$T/probe.json" config.mtu)"
tx mtu 0 50 --pkt-size=1018
tx mtu 0 50 --pkt-size=1019
snap mtu
[ "$(counter mtu 0 rx_packets)" = 50 ] && [ "$(counter mtu 0 rx_drop_oversize)" = 50 ] ||
	fail "--mtu=1000: rx_packets $(counter mtu 0 rx_packets), rx_drop_oversize $(counter mtu 0 rx_drop_oversize) (50 and 50 wanted)"
note "--mtu=1000: config mtu 1000; 50 frames of 1018 bytes taken, 50 of 1019 dropped as oversize"
note "--queue-size=256: vhu-bench's 256-entry rings work"

# ---- --queue-size below the ring ------------------------------------------------------
net qs 1 --queue-size=128
timeout -k 2 30 "$BENCH" net --socket-path="$T/qs.0.sock" --mode=tx --count=10 >"$T/qs.out" 2>&1 &&
	fail "--queue-size=128: a 256-entry ring was accepted"
peer_alive qs || fail "--queue-size=128: vhu-net died refusing a 256-entry ring"
grep -q "256" "$T/qs.log" || fail "--queue-size=128: vhu-net did not log the refused size"
stop_device qs
note "--queue-size=128: a 256-entry ring is refused, vhu-net lives on"

# ---- --ageing ------------------------------------------------------------------------
# Port 1's driver stays connected throughout (a port that goes down has its
# MACs flushed, which would look like ageing): it sends 220 frames from B at
# once, then only receives, waiting for 220 frames.
A=02:00:00:00:00:01 B=02:00:00:00:00:02
net age 3 --ageing=3
timeout -k 2 40 "$BENCH" net --socket-path="$T/age.1.sock" --mode=txrx --count=220 \
	--src-mac=$B --dst-mac=$A --json >"$T/age1.json" 2>"$T/age1.err" &
b1=$!
# B learnt on port 1 (A unknown: flooded) once its 220 frames are in
for ((i = 0; i < 100; i++)); do
	snap age
	[ "$(counter age 1 rx_packets)" = 220 ] && break
	sleep 0.1
done
[ "$(counter age 1 rx_packets)" = 220 ] || fail "--ageing: port 1 sent $(counter age 1 rx_packets) of 220 frames"
tx age 0 100 --src-mac=$A --dst-mac=$B # B known: to port 1 alone
snap age
p2=$(offered age 2)
[ "$p2" = 220 ] || fail "--ageing=3: port 2 was offered $p2 frames, 220 wanted (B not learnt?)"
sleep 4.5
tx age 0 120 --src-mac=$A --dst-mac=$B # B not seen for 4.5 s: flooded again
snap age
[ "$(offered age 2)" = 340 ] ||
	fail "--ageing=3: port 2 was offered $(offered age 2) frames, 340 wanted: B was not forgotten after 4.5 s"
wait $b1 || fail "--ageing: port 1's vhu-bench: $(cat "$T/age1.err" "$T/age1.json")"
stop_device age
note "--ageing=3: a learnt MAC goes to its port alone, and is flooded again after 4.5 s of silence"

# ---- --poll ----------------------------------------------------------------------------
# ticks NAME: CPU time (1/100 s) over 1 s of port 1's TX worker (vhu-q1),
# its queue started by vhu-bench --mode=rx and idle
ticks() {
	local name=$1 pid=${PEER_PID[$1]} bp task= a b i
	# long enough for a loaded machine; stopped once measured
	timeout -k 2 30 "$BENCH" net --socket-path="$T/$name.1.sock" --mode=rx --time=20 \
		>"$T/$name.rx.out" 2>&1 &
	bp=$!
	for ((i = 0; i < 50; i++)); do
		sleep 0.1
		task=$(grep -lx 'vhu-q1' /proc/"$pid"/task/*/comm 2>/dev/null | head -n 1)
		[ -z "$task" ] || break
	done
	[ -n "$task" ] || fail "$name: no vhu-q1 worker thread"
	task=${task%/comm}
	sleep 0.3
	a=$(awk '{ print $14 + $15 }' "$task/stat" 2>/dev/null)
	# and how often it is runnable (R) rather than asleep: a polling worker
	# that yields to a busy machine's other tasks gets little CPU, but it
	# never sleeps
	RUNNABLE=0
	for ((i = 0; i < 20; i++)); do
		sleep 0.05
		[ "$(sed 's/.*) //' "$task/stat" 2>/dev/null | cut -d' ' -f1)" = R ] &&
			RUNNABLE=$((RUNNABLE + 1))
	done
	b=$(awk '{ print $14 + $15 }' "$task/stat" 2>/dev/null)
	[ -n "$a" ] && [ -n "$b" ] || fail "$name: the vhu-q1 worker went away during the run"
	kill $bp 2>/dev/null
	wait $bp
	TICKS=$((b - a))
}
net sleepy 2
ticks sleepy
t0=$TICKS r0=$RUNNABLE
stop_device sleepy
net poll 2 --poll
ticks poll
t1=$TICKS r1=$RUNNABLE
note "idle TX worker's CPU over 1 s: without --poll $((t0 * 10)) ms (runnable in $r0 of 20 looks), with --poll $((t1 * 10)) ms (runnable in $r1 of 20)"
[ "$t0" -le 5 ] || fail "without --poll an idle TX worker used $((t0 * 10)) ms of CPU in 1 s"
[ "$r0" -le 2 ] || fail "without --poll an idle TX worker was runnable in $r0 of 20 looks: it does not sleep"
# alone on a CPU it polls 1 s in 1 s; beside a build it yields, but stays runnable
[ "$t1" -ge 20 ] || [ "$r1" -ge 15 ] ||
	fail "--poll: the idle TX worker used only $((t1 * 10)) ms of CPU in 1 s and was runnable in $r1 of 20 looks: not polling"
# and frames still cross it intact
timeout -k 2 30 "$BENCH" net --socket-path="$T/poll.1.sock" --mode=rx --count=200 --verify \
	--json >"$T/prx.json" 2>"$T/prx.err" &
bp=$!
sleep 1
tx poll 0 200 --verify
wait $bp || fail "--poll: vhu-bench rx --verify: $(cat "$T/prx.err" "$T/prx.json")"
stop_device poll
note "--poll: 200 frames arrived byte for byte"

stop_device mtu
echo "PASS: vhu-net --mtu, --queue-size, --ageing and --poll take effect"
