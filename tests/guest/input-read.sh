# SPDX-License-Identifier: MIT
# shellcheck shell=sh disable=SC2154
#
# Guest script: find the virtio-input device (virtio id 18) and its evdev
# node, report what /proc/bus/input/devices says about it, then run evread
# (the host sends the events when it sees input_ready) and, with INPUT_LED,
# set that LED through the node (the device's status queue).
#
# Environment (run-guest.sh --env):
#   INPUT_COUNT  events to read (required)
#   INPUT_LED    an LED code to set after reading (optional)
# Files (run-guest.sh --file): evread
n=0
while [ -z "$(virtio_devs 18)" ]; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "no virtio-input device appeared within 10s"
	usleep 100000
done
vdev=$(virtio_devs 18 | head -n 1)
n=0
while ! ls -d /sys/bus/virtio/devices/"$vdev"/input/input*/event* >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt 100 ] || fail "virtio-input device $vdev has no evdev node within 10s"
	usleep 100000
done
evpath=$(ls -d /sys/bus/virtio/devices/"$vdev"/input/input*/event* | head -n 1)
node=/dev/input/${evpath##*/}
wait_path "$node" 10
cp /sys/firmware/qemu_fw_cfg/by_name/opt/vhu/file/evread/raw /tmp/evread || fail "no evread"
chmod +x /tmp/evread
# the device's block of /proc/bus/input/devices, one KEY=VALUE per line
awk -v ev="${evpath##*/}" '/^I:/ { blk = "" } { blk = blk "\n" $0 }
	/^H:/ && index($0, ev " ") { found = 1 } /^$/ && found { print blk; exit }' \
	/proc/bus/input/devices >/tmp/dev.txt
[ -s /tmp/dev.txt ] || fail "$node is not in /proc/bus/input/devices"
id=$(sed -n 's/^I: //p' /tmp/dev.txt | tr ' ' ',')
name=$(sed -n 's/^N: Name="\(.*\)"$/\1/p' /tmp/dev.txt | tr ' ' '_')
uniq=$(sed -n 's/^U: Uniq=//p' /tmp/dev.txt | tr ' ' '_')
bits=$(sed -n 's/^B: \([A-Z]*\)=\(.*\)$/bits_\1=\2/p' /tmp/dev.txt | tr ' ' '_' | tr '\n' ' ')
# shellcheck disable=SC2086 # bits: several KEY=VALUE words on purpose
data input_node="$node" input_id="$id" input_name="$name" input_uniq="$uniq" $bits \
	features="$(cat "/sys/bus/virtio/devices/$vdev/features")"
/tmp/evread "$node" "${INPUT_COUNT:?}" 60 ${INPUT_LED:+"$INPUT_LED"} ||
	fail "evread did not read $INPUT_COUNT events"
note "read $INPUT_COUNT events from $node"
