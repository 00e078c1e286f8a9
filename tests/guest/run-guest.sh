#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Boot one test guest in QEMU, run a script in it, report its result.
#
#   run-guest.sh [options] SCRIPT
#
# The guest (kernel + initramfs from build-guest.sh) runs SCRIPT (busybox sh,
# with /lib/vhu/initlib.sh's helpers) and powers off. Exit status: 0 when the
# guest printed "VHU-GUEST-RESULT: PASS", 77 (after "SKIP: reason") when it
# printed SKIP or something needed is missing, 1 otherwise (after the console
# log and QEMU's stderr), 2 on a usage error. QEMU is always killed on exit.
#
# Options:
#   --guest DIR            a directory made by build-guest.sh (kernel, initramfs.cpio)
#   --build OUTDIR         run build-guest.sh OUTDIR (cached) and use its result
#   --accel auto|kvm|tcg   default: $VHU_GUEST_ACCEL, else auto: probe KVM by
#                          booting the guest once, fall back to TCG; the answer
#                          is cached (see --accel-cache)
#   --accel-cache FILE     probe cache, default <guest dir>/../accel-probe; valid
#                          while the host's boot_id, QEMU binary and /dev/kvm
#                          are the same
#   --vhost-user-blk SOCK[,OPTS]   vhost-user-blk-pci on unix socket SOCK, with
#                          extra -device properties OPTS (num-queues=2,packed=on);
#                          a reconnect=N in OPTS (any device) goes to the chardev;
#                          server=on in OPTS (any device) makes QEMU listen on
#                          SOCK (server=on,wait=off: the back-end connects, as
#                          vhu-blk --client does) instead of connecting to it
#   --vhost-user-rng SOCK[,OPTS]   vhost-user-rng-pci
#   --vhost-user-net SOCK[,OPTS]   -netdev vhost-user + virtio-net-pci; a
#                          queues=N in OPTS goes to the netdev (add mq=on);
#                          vectors=0 is added under TCG (see README.md)
#   --vhost-user DEVICE SOCK[,OPTS]  any other vhost-user PCI device, e.g.
#                          vhost-user-input-pci
#   --env NAME=VALUE       set NAME in the script's environment (repeatable)
#   --smp N                vCPUs (default 1)
#   --mem SIZE             guest RAM, MiB (default 512); memfd, shared
#   --machine TYPE         q35 (default) or pc
#   --append ARGS          more kernel command line
#   --qemu-arg ARG         one more raw QEMU argument (repeatable), after the devices
#   --qemu-pre-arg ARG     the same, before the vhost-user devices (an intel-iommu
#                          and the root port they sit on must come first)
#   --timeout SECS         hard limit for the whole boot (default 120)
#   --tcg-thread single|multi  under TCG: -accel tcg,thread=... (default
#                          $VHU_GUEST_TCG_THREAD, else QEMU's: multi)
#   --qmp SOCK             a QMP server on unix socket SOCK (tests/guest/qmp.py)
#   --incoming URI         wait for a live migration on URI (-incoming); the
#                          console then shows the guest from the switch-over on
#   --serial2 SOCK|null    a second serial port (the guest's ttyS1) on a unix
#                          socket server at SOCK that the host can write to
#                          (the migration tests' "migrated" signal), or on null
#   --file NAME=PATH       hand the guest a file: it appears as
#                          /sys/firmware/qemu_fw_cfg/by_name/opt/vhu/file/NAME/raw
#   --migration-source     this QEMU's guest migrates away: QEMU ending with
#                          status 0 without a result line is a success
#   --log FILE             keep the guest console log in FILE
#   --qemu-out FILE        QEMU's own stdout and stderr go to FILE (default: a
#                          temporary file, printed on failure), so that they
#                          can be read while QEMU runs or after it was killed
#   --data FILE            write the guest's "VHU-GUEST-DATA:" KEY=VALUE pairs
#                          to FILE, one per line (shell-sourceable)
#   --debug                run the script with set -x, print the log on success too
#   -q, --quiet            only print on failure
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU=${QEMU:-qemu-system-x86_64}

say() { [ "$QUIET" = 1 ] || echo "run-guest: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
usage() { echo "run-guest: $*" >&2; sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

GUEST='' BUILD='' ACCEL=${VHU_GUEST_ACCEL:-auto} ACCEL_CACHE='' SMP=1 MEM=512 MACHINE=q35
APPEND='' TIMEOUT=120 QEMU_OUT='' LOG='' DATA='' DEBUG=0 QUIET=0 SCRIPT=''
TCG_THREAD=${VHU_GUEST_TCG_THREAD:-} MIG_SOURCE=0
ENVS=() EXTRA=() PRE=() VU=()

need_arg() { [ $# -ge 2 ] || usage "$1 needs an argument"; }
while [ $# -gt 0 ]; do
	case $1 in
	--guest) need_arg "$@"; GUEST=$2; shift ;;
	--build) need_arg "$@"; BUILD=$2; shift ;;
	--accel) need_arg "$@"; ACCEL=$2; shift ;;
	--accel-cache) need_arg "$@"; ACCEL_CACHE=$2; shift ;;
	--vhost-user-blk) need_arg "$@"; VU+=("vhost-user-blk-pci $2"); shift ;;
	--vhost-user-rng) need_arg "$@"; VU+=("vhost-user-rng-pci $2"); shift ;;
	--vhost-user-net) need_arg "$@"; VU+=("net $2"); shift ;;
	--vhost-user) [ $# -ge 3 ] || usage "--vhost-user needs DEVICE SOCK"; VU+=("$2 $3"); shift 2 ;;
	--env) need_arg "$@"; [[ $2 == [A-Za-z_]*=* ]] || usage "--env wants NAME=VALUE"; ENVS+=("$2"); shift ;;
	--smp) need_arg "$@"; SMP=$2; shift ;;
	--mem) need_arg "$@"; MEM=$2; shift ;;
	--machine) need_arg "$@"; MACHINE=$2; shift ;;
	--append) need_arg "$@"; APPEND="$APPEND $2"; shift ;;
	--qemu-arg) need_arg "$@"; EXTRA+=("$2"); shift ;;
	--qemu-pre-arg) need_arg "$@"; PRE+=("$2"); shift ;;
	--timeout) need_arg "$@"; TIMEOUT=$2; shift ;;
	--tcg-thread) need_arg "$@"; TCG_THREAD=$2; shift ;;
	--qmp) need_arg "$@"; EXTRA+=(-qmp "unix:$2,server=on,wait=off"); shift ;;
	--incoming) need_arg "$@"; EXTRA+=(-incoming "$2"); shift ;;
	--serial2)
		need_arg "$@"
		if [ "$2" = null ]; then
			EXTRA+=(-serial null)
		else
			EXTRA+=(-chardev "socket,id=ser1,path=$2,server=on,wait=off" -serial chardev:ser1)
		fi
		shift
		;;
	--file)
		need_arg "$@"
		[[ $2 == [A-Za-z0-9_.-]*=* ]] || usage "--file wants NAME=PATH"
		[ -r "${2#*=}" ] || usage "--file: cannot read ${2#*=}"
		EXTRA+=(-fw_cfg "name=opt/vhu/file/${2%%=*},file=${2#*=}")
		shift
		;;
	--migration-source) MIG_SOURCE=1 ;;
	--log) need_arg "$@"; LOG=$2; shift ;;
	--qemu-out) need_arg "$@"; QEMU_OUT=$2; shift ;;
	--data) need_arg "$@"; DATA=$2; shift ;;
	--debug) DEBUG=1 ;;
	-q | --quiet) QUIET=1 ;;
	-h | --help) usage "help" ;;
	-*) usage "unknown option $1" ;;
	*) [ -z "$SCRIPT" ] || usage "one SCRIPT only"; SCRIPT=$1 ;;
	esac
	shift
done
[ -n "$SCRIPT" ] || usage "no SCRIPT"
[ -r "$SCRIPT" ] || usage "cannot read script $SCRIPT"
[[ $SMP =~ ^[1-9][0-9]*$ && $MEM =~ ^[1-9][0-9]*$ && $TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
	usage "--smp, --mem and --timeout take positive integers"
case $ACCEL in auto | kvm | tcg) ;; *) usage "--accel: auto, kvm or tcg" ;; esac
case $TCG_THREAD in '' | single | multi) ;; *) usage "--tcg-thread: single or multi" ;; esac

command -v "$QEMU" >/dev/null || skip "$QEMU is not installed (qemu-system-x86)"
command -v timeout >/dev/null || skip "timeout (coreutils) is not installed"

if [ -n "$BUILD" ]; then
	GUEST=$("$HERE/build-guest.sh" "$BUILD")
	rc=$?
	[ $rc -eq 77 ] && { echo "$GUEST"; exit 77; }
	[ $rc -eq 0 ] || { echo "FAIL: build-guest.sh $BUILD failed ($rc)"; exit 1; }
fi
[ -n "$GUEST" ] || usage "--guest DIR or --build OUTDIR is required"
if [ ! -r "$GUEST/kernel" ] || [ ! -r "$GUEST/initramfs.cpio" ]; then
	echo "FAIL: $GUEST has no kernel or initramfs.cpio (run build-guest.sh)"
	exit 1
fi
ACCEL_CACHE=${ACCEL_CACHE:-$(dirname "$GUEST")/accel-probe}

# ---- process handling -----------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vhu-guest-XXXXXX") || exit 1
QEMU_OUT=${QEMU_OUT:-$WORK/qemu.out}
QPID=

# shellcheck disable=SC2317 # called from the trap
stop_qemu() {
	local i qemu_pid
	[ -n "$QPID" ] || return 0
	# $QPID is timeout(1); the pid file names QEMU itself.
	qemu_pid=$(cat "$WORK/qemu.pid" 2>/dev/null)
	kill -TERM "$QPID" ${qemu_pid:+"$qemu_pid"} 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		kill -0 "$QPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$QPID" ${qemu_pid:+"$qemu_pid"} 2>/dev/null
	wait "$QPID" 2>/dev/null
	QPID=
}

# shellcheck disable=SC2317
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_qemu
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# boot ACCEL SCRIPT LOG TIMEOUT [QEMU ARGS...]: boot the guest, wait for QEMU
# to exit; sets BOOT_RC (QEMU's or timeout's status) and BOOT_SECS.
boot() {
	local accel=$1 script=$2 log=$3 secs=$4 t0 cpu=max gtimeout
	shift 4
	gtimeout=$((secs > 30 ? secs - 10 : secs))
	rm -f "$WORK/qemu.pid"
	: >"$log"
	t0=$(now)
	timeout -k 5 "$secs" "$QEMU" \
		-nodefaults -no-user-config -display none -no-reboot \
		-machine "$MACHINE,memory-backend=mem" -accel "$accel" -cpu "$cpu" \
		-m "${MEM}M" -object "memory-backend-memfd,id=mem,size=${MEM}M,share=on" \
		-smp "$SMP" \
		-serial "file:$log" \
		-pidfile "$WORK/qemu.pid" \
		-kernel "$GUEST/kernel" -initrd "$GUEST/initramfs.cpio" \
		-append "console=ttyS0 quiet panic=-1 oops=panic vhu.timeout=$gtimeout vhu.debug=$DEBUG$APPEND" \
		-fw_cfg "name=opt/vhu/script,file=$script" \
		"$@" </dev/null >"$QEMU_OUT" 2>&1 &
	QPID=$!
	wait "$QPID" 2>/dev/null
	BOOT_RC=$?
	QPID=
	BOOT_SECS=$(elapsed "$t0")
}

result_line() {
	tr -d '\r' <"$1" | sed -n 's/.*VHU-GUEST-RESULT: //p' | tail -n 1
}

# ---- accelerator ----------------------------------------------------------

host_key() {
	local kvm=none
	[ -e /dev/kvm ] && kvm=$(stat -Lc '%t:%T:%a:%u:%g' /dev/kvm 2>/dev/null)
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then kvm="$kvm:rw"; fi
	echo "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" \
		"$(stat -Lc '%Y:%s' "$(command -v "$QEMU")")" "$kvm"
}

# Sets ACCEL from the cache, or from a probe boot under KVM.
probe_accel() {
	local key why
	key=$(host_key)
	# One probe at a time; a later caller reads the first one's answer.
	exec 8>>"$ACCEL_CACHE.lock"
	flock 8
	if [ -r "$ACCEL_CACHE" ] && [ "$(sed -n 's/^key=//p' "$ACCEL_CACHE")" = "$key" ]; then
		ACCEL=$(sed -n 's/^accel=//p' "$ACCEL_CACHE")
		exec 8>&-
		case $ACCEL in kvm | tcg) return ;; esac
		exec 8>>"$ACCEL_CACHE.lock"
		flock 8
	fi
	ACCEL=tcg why="no usable /dev/kvm"
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		echo 'note accel probe' >"$WORK/probe.sh"
		boot kvm "$WORK/probe.sh" "$WORK/probe.log" "${VHU_GUEST_PROBE_TIMEOUT:-15}"
		if [ "$(result_line "$WORK/probe.log")" = PASS ]; then
			ACCEL=kvm why="a KVM guest reached userspace in ${BOOT_SECS}s"
		else
			why="KVM guest failed: status $BOOT_RC after ${BOOT_SECS}s: $(head -c 160 "$QEMU_OUT" | tr '\n' ' ')"
		fi
	fi
	printf 'accel=%s\nkey=%s\nwhy=%s\n' "$ACCEL" "$key" "$why" >"$ACCEL_CACHE.tmp" &&
		mv -f "$ACCEL_CACHE.tmp" "$ACCEL_CACHE"
	exec 8>&-
	echo "run-guest: accel probe: $ACCEL ($why); cached in $ACCEL_CACHE"
}

[ "$ACCEL" != auto ] || probe_accel

# ---- devices --------------------------------------------------------------

DEV_ARGS=()
n=0
for vu in "${VU[@]}"; do
	dev=${vu%% *}
	spec=${vu#* }
	sock=${spec%%,*}
	opts=
	[ "$spec" = "$sock" ] || opts=,${spec#*,}
	# reconnect=N is the chardev's: QEMU connects again N s after the back-end died
	copts=
	if [[ $opts =~ ^(.*),reconnect=([0-9]+)(.*)$ ]]; then
		copts=,reconnect=${BASH_REMATCH[2]}
		opts=${BASH_REMATCH[1]}${BASH_REMATCH[3]}
	fi
	# server=on is the chardev's too: QEMU listens, the back-end connects
	# (and connects again after a restart); QEMU waits for it before the
	# guest runs
	if [[ $opts =~ ^(.*),server=on(.*)$ ]]; then
		copts=$copts,server=on,wait=off
		opts=${BASH_REMATCH[1]}${BASH_REMATCH[2]}
	else
		[ -S "$sock" ] || { echo "FAIL: $sock is not a unix socket (is the back-end running?)"; exit 1; }
	fi
	DEV_ARGS+=(-chardev "socket,id=vu$n,path=$sock$copts")
	if [ "$dev" = net ]; then
		# queues=N is the netdev's; the rest is virtio-net-pci's.
		nopts=
		if [[ $opts =~ ^(.*),queues=([0-9]+)(.*)$ ]]; then
			nopts=,queues=${BASH_REMATCH[2]}
			opts=${BASH_REMATCH[1]}${BASH_REMATCH[3]}
		fi
		# QEMU 7.2 under TCG dies of SIGSEGV with vhost-user-net and MSI-X.
		[ "$ACCEL" = tcg ] && [[ $opts != *vectors=* ]] && opts="$opts,vectors=0"
		DEV_ARGS+=(-netdev "vhost-user,id=net$n,chardev=vu$n$nopts"
			-device "virtio-net-pci,netdev=net$n$opts")
	else
		DEV_ARGS+=(-device "$dev,chardev=vu$n$opts")
	fi
	n=$((n + 1))
done

# ---- the run --------------------------------------------------------------

{
	for e in "${ENVS[@]}"; do
		v=${e#*=}
		printf "export %s='%s'\n" "${e%%=*}" "${v//\'/\'\\\'\'}"
	done
	cat "$SCRIPT"
} >"$WORK/script.sh"

CONSOLE=${LOG:-$WORK/console.log}
say "booting $(basename "$SCRIPT") (accel $ACCEL, machine $MACHINE, smp $SMP, ${MEM} MiB${VU:+, ${#VU[@]} vhost-user device(s)})"
ACCEL_ARG=$ACCEL
[ "$ACCEL" != tcg ] || [ -z "$TCG_THREAD" ] || ACCEL_ARG="tcg,thread=$TCG_THREAD"
# --qemu-pre-arg first: an intel-iommu or a root port must exist before the devices on it
boot "$ACCEL_ARG" "$WORK/script.sh" "$CONSOLE" "$TIMEOUT" "${PRE[@]}" "${DEV_ARGS[@]}" "${EXTRA[@]}"

if [ -n "$DATA" ]; then
	tr -d '\r' <"$CONSOLE" | grep -v '^+ ' | sed -n 's/.*VHU-GUEST-DATA: //p' | tr ' ' '\n' |
		grep -E '^[A-Za-z_][A-Za-z0-9_]*=' >"$DATA"
fi

RESULT=$(result_line "$CONSOLE")
READY=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^VHU-GUEST-READY: uptime=\([0-9.]*\).*/\1/p' | head -n 1)
TIMING="${BOOT_SECS}s wall, userspace ready at guest uptime ${READY:-?}s, accel $ACCEL"

show_log() {
	echo "----- guest console ($CONSOLE) -----"
	tr -d '\r' <"$CONSOLE"
	echo "----- QEMU output -----"
	cat "$QEMU_OUT"
	echo "----- end -----"
}

case $RESULT in
PASS)
	[ "$DEBUG" = 0 ] || show_log
	say "PASS ($TIMING)"
	exit 0
	;;
SKIP*)
	[ "$QUIET" = 1 ] || show_log
	skip "guest: ${RESULT#SKIP }"
	;;
'')
	# the guest moved to another QEMU, which prints its result
	if [ "$MIG_SOURCE" = 1 ] && [ "$BOOT_RC" -eq 0 ]; then
		[ "$DEBUG" = 0 ] || show_log
		say "migrated away ($TIMING)"
		exit 0
	fi
	;;
esac
show_log
if [ "$BOOT_RC" -eq 124 ] || [ "$BOOT_RC" -eq 137 ]; then
	echo "FAIL: guest did not finish within ${TIMEOUT}s ($TIMING)"
elif [ -n "$RESULT" ]; then
	echo "FAIL: guest: ${RESULT#FAIL } ($TIMING)"
elif [ "$BOOT_RC" -gt 128 ]; then
	echo "FAIL: QEMU died of signal $((BOOT_RC - 128)) before the guest finished ($TIMING)"
else
	echo "FAIL: QEMU exited with status $BOOT_RC and no result line ($TIMING)"
fi
exit 1
