# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script: vhu-input on a uinput device inside the guest, with
# vhu-bench input as the virtio-input driver (issue 19: the host has no
# input devices, this guest's kernel has uinput). Static builds of both,
# of uinput-feed (the device) and of evread (a second reader) come as
# files. Checks:
#  1. every injected event reaches the driver in order, exactly (LED state
#     changes the kernel reports left out); the grab holds (a second reader
#     of the node sees nothing); an LED the driver sends on the status queue
#     reaches the uinput device;
#  2. with --no-grab the second reader sees every event too;
#  3. SYN_DROPPED (vhu-input stopped while KEY_A is pressed and 300 frames
#     follow, far more than the kernel keeps for it): vhu-input
#     resynchronises (its log says so) and the driver ends up with the
#     device's state (KEY_A down, ABS_X at 300);
#  4. the device destroyed: vhu-input says so and exits 1.
wait_path /dev/uinput 10
# the files come as a tar on a plain virtio-blk disk: fw_cfg moves a byte
# per exit under TCG (3 MB took 96 s), the disk takes a second
wait_path /dev/vda 20
tar xf /dev/vda -C /tmp || fail "no tar of files on /dev/vda"
for f in vhu-input vhu-bench uinput-feed evread events; do
	[ -s "/tmp/$f" ] || fail "no file $f in the tar"
done
count=$(wc -l </tmp/events)
note "files copied at uptime $(cut -d' ' -f1 /proc/uptime)"

# wait_for FILE PATTERN SECONDS
wait_for() {
	_n=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		_n=$((_n + 1))
		[ "$_n" -lt $(($3 * 20)) ] || fail "'$2' not in $1 within $3 s: $(tail -n 5 "$1" 2>/dev/null)"
		usleep 50000
	done
}

mkfifo /tmp/cmd
/tmp/uinput-feed </tmp/cmd >/tmp/feed.out 2>&1 &
feed=$!
exec 3>/tmp/cmd
wait_for /tmp/feed.out '^node ' 10
node=$(sed -n 's/^node //p' /tmp/feed.out)
note "uinput device at $node"

# run_driver NAME [VHU-INPUT OPTIONS]: vhu-input on the node, vhu-bench input
# reading events ($bench_opts), evread as a second reader, the
# events injected once the driver is ready; the driver's events must be
# $want's (after $filter)
run_driver() {
	name=$1
	shift
	rm -f /tmp/in.sock
	/tmp/vhu-input --socket-path=/tmp/in.sock --evdev-path="$node" "$@" >"/tmp/in-$name.log" 2>&1 &
	inpid=$!
	wait_path /tmp/in.sock 10
	/tmp/evread "$node" "$count" 4 >"/tmp/second-$name.out" 2>&1 &
	second=$!
	# shellcheck disable=SC2086 # bench_opts: several options
	/tmp/vhu-bench input --socket-path=/tmp/in.sock $bench_opts \
		>"/tmp/bench-$name.out" 2>"/tmp/bench-$name.err" &
	bench=$!
	wait_for "/tmp/bench-$name.out" '^ready$' 20
	wait_for /tmp/second-"$name".out input_ready=1 20
	echo "emit /tmp/events" >&3
	wait "$bench" || fail "$name: vhu-bench input: $(cat "/tmp/bench-$name.err")"
	sed '1,/^ready$/d' "/tmp/bench-$name.out" | $filter >"/tmp/got-$name"
	cmp -s "/tmp/got-$name" "$want" ||
		fail "$name: the driver got $(tr '\n' , <"/tmp/got-$name"), not $(tr '\n' , <"$want")"
	wait "$second"
	seen=$(sed -n 's/.*input_got=//p' "/tmp/second-$name.out")
	kill "$inpid"
	wait "$inpid" || fail "$name: vhu-input exited $? on SIGTERM: $(cat "/tmp/in-$name.log")"
}

# The LED the driver sets is reported back by the kernel as an event, at
# a moment of its own among the injected ones (the driver sends it while
# they are injected); ungrabbed, the console's keyboard handler sees the
# device too and sets its LEDs whenever it likes. So LED events (and the
# frames they leave empty) are left out of the comparison, and the driver
# reads for 4 s.
no_leds() {
	awk '$1 == 17 { next } $0 == "0 0 0" && (prev == "0 0 0" || prev == "") { next }
		{ print; prev = $0 }'
}
want=/tmp/events filter=no_leds
bench_opts="--time=4 --status=17,1,1"
run_driver grab
[ "$seen" = 0 ] || fail "grabbed, yet a second reader saw $seen events"
grep -q '^17 1 1$' /tmp/bench-grab.out || fail "the kernel never reported the LED the driver set"
grep -q '^name vhu uinput tablet$' /tmp/bench-grab.out || fail "config name: $(head -n 3 /tmp/bench-grab.out)"
grep -q '^ids 6 7531 260 3$' /tmp/bench-grab.out || fail "config ids: $(grep ids /tmp/bench-grab.out)"
grep -q '^abs 0 0 1000 0 0 7$' /tmp/bench-grab.out || fail "config ABS_X: $(grep abs /tmp/bench-grab.out)"
grep -q '^ev 17 0 1$' /tmp/bench-grab.out || fail "config LEDs: $(grep 'ev 17' /tmp/bench-grab.out)"
echo "leds 2" >&3
wait_for /tmp/feed.out '^done leds' 10
grep -q '^led 1 1$' /tmp/feed.out || fail "the Caps Lock LED never reached the device: $(cat /tmp/feed.out)"
note "grab: $count events in order, the second reader saw none, LED 1 reached the device"

bench_opts="--time=4"
run_driver nograb --no-grab
[ "$seen" = "$count" ] || fail "--no-grab, yet a second reader saw $seen of $count events"
note "no-grab: the second reader saw all $count events too"

# SYN_DROPPED: vhu-input stopped while the kernel's buffer for it overflows
rm -f /tmp/in.sock
/tmp/vhu-input --socket-path=/tmp/in.sock --evdev-path="$node" >/tmp/in-drop.log 2>&1 &
inpid=$!
wait_path /tmp/in.sock 10
/tmp/vhu-bench input --socket-path=/tmp/in.sock --time=4 >/tmp/bench-drop.out 2>&1 &
bench=$!
wait_for /tmp/bench-drop.out '^ready$' 20
kill -STOP "$inpid"
echo "flood 300" >&3
wait_for /tmp/feed.out '^done flood' 20
kill -CONT "$inpid"
wait "$bench"
grep -q 'SYN_DROPPED: resynchronised' /tmp/in-drop.log ||
	fail "no resynchronisation after SYN_DROPPED: $(cat /tmp/in-drop.log)"
grep -q '^1 30 1$' /tmp/bench-drop.out || fail "KEY_A's press was lost across SYN_DROPPED"
last_x=$(grep '^3 0 ' /tmp/bench-drop.out | tail -n 1)
[ "$last_x" = "3 0 300" ] || fail "ABS_X ended at '$last_x', not 300"
drop_n=$(sed '1,/^ready$/d' /tmp/bench-drop.out | wc -l)
note "SYN_DROPPED: resynchronised, the driver got $drop_n events ending with the device's state"

# the device goes away
echo destroy >&3
wait "$feed"
wait "$inpid"
rc=$?
[ "$rc" = 1 ] || fail "vhu-input exited $rc when its device went away: $(cat /tmp/in-drop.log)"
grep -q 'went away' /tmp/in-drop.log || fail "vhu-input did not say the device went away"
data uinput_events="$count" uinput_drop_events="$drop_n"
note "device destroyed: vhu-input exited 1"
