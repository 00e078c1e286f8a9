#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vhu-input's evdev source, inside a TCG guest (the host has no input
# devices): input-uinput.sh runs static builds of vhu-input and vhu-bench
# against a uinput device there. See input-uinput.sh for the checks.
#
#   test-input-uinput.sh OUTDIR VHU-INPUT-STATIC VHU-BENCH-STATIC UINPUT-FEED EVREAD
set -u -o pipefail
. "$(dirname "$0")/guest-lib.sh"

[ $# -eq 5 ] || fail "usage: $0 OUTDIR VHU-INPUT VHU-BENCH UINPUT-FEED EVREAD"
OUTDIR=$1
for f in "${@:2}"; do
	[ -x "$f" ] || skip "$f is not built"
done
guest_build "$OUTDIR"
cat >"$T/events" <<'EVENTS'
1 30 1
0 0 0
1 30 0
0 0 0
3 0 10
3 1 20
0 0 0
1 272 1
3 0 1000
0 0 0
1 272 0
3 1 0
0 0 0
1 48 1
1 48 0
0 0 0
EVENTS
# the files go in as a tar on a virtio-blk disk of QEMU's own (fw_cfg is slow)
mkdir "$T/files"
cp "$2" "$T/files/vhu-input" && cp "$3" "$T/files/vhu-bench" && cp "$4" "$T/files/uinput-feed" &&
	cp "$5" "$T/files/evread" && cp "$T/events" "$T/files/events" || fail "copying the files"
tar cf "$T/files.tar" -C "$T/files" . || fail "tar"
guest_run --qemu-arg -drive --qemu-arg "file=$T/files.tar,format=raw,if=virtio,readonly=on" \
	--timeout 200 "$GUEST_SRC/input-uinput.sh"
[ "$(guest_get uinput_events)" = 16 ] || fail "the guest checked $(guest_get uinput_events) events"
note "PASS: grab, no-grab, LED, SYN_DROPPED ($(guest_get uinput_drop_events) events) and a vanished device; $GUEST_TIMING"
