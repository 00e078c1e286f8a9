#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the test guest: an uncompressed kernel (vmlinux, extracted from the
# distribution's bzImage) and a busybox initramfs with the virtio modules and
# tests/guest/init as /init.
#
#   build-guest.sh OUTDIR
#
# Writes OUTDIR/<kernel-version>/{kernel,initramfs.cpio,kver} and prints that
# directory on stdout (progress goes to stderr). Cached: the kernel is
# extracted only when missing, the initramfs is rebuilt only when missing or
# older than one of its inputs (init, initlib.sh, this script, busybox).
# Concurrent callers serialise on OUTDIR/.lock.
#
# Environment:
#   VHU_GUEST_KERNEL   path of a bzImage to use (default: the newest
#                      /boot/vmlinuz-* that has /lib/modules/<version>/)
#   VHU_GUEST_MODDIR   modules directory (default /lib/modules/<version>)
#
# Exit status: 0 built (or cached), 77 with "SKIP: reason" on stdout when a
# needed input is missing (no kernel, no busybox-static, no file(1)), 1 on error.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "build-guest: $*" >&2; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$1

# Modules the guest loads, by name; their dependencies are added from
# modules.dep. A module that is built in (=y) or absent is skipped.
GUEST_MODULES=(
	qemu_fw_cfg
	virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	virtio_blk virtio-rng virtio_net virtio_console virtio_input evdev uinput
)

# ---- pick the kernel ------------------------------------------------------

pick_kernel() {
	local k v best=
	if [ -n "${VHU_GUEST_KERNEL:-}" ]; then
		echo "$VHU_GUEST_KERNEL"
		return
	fi
	# Newest version first; the first one with a modules tree wins.
	for k in $(printf '%s\n' /boot/vmlinuz-* | sort -rV); do
		v=${k#/boot/vmlinuz-}
		if [ -f "/lib/modules/$v/modules.dep" ] && [ -r "$k" ]; then
			best=$k
			break
		fi
	done
	echo "$best"
}

BZIMAGE=$(pick_kernel)
[ -n "$BZIMAGE" ] || skip "no readable /boot/vmlinuz-* with a /lib/modules tree (install linux-image-amd64)"
[ -r "$BZIMAGE" ] || skip "kernel '$BZIMAGE' is not readable"
KVER=${BZIMAGE##*/vmlinuz-}
[ "$KVER" != "$BZIMAGE" ] || KVER=$(basename "$BZIMAGE")
MODDIR=${VHU_GUEST_MODDIR:-/lib/modules/$KVER}
[ -f "$MODDIR/modules.dep" ] || skip "no $MODDIR/modules.dep for kernel $KVER"

BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
	# Must be static: the initramfs has no libc.
	if [ -x "$b" ] && [[ $(LC_ALL=C file -L "$b" 2>/dev/null) != *"dynamically linked"* ]]; then
		BUSYBOX=$b
		break
	fi
done
[ -n "$BUSYBOX" ] || skip "no static busybox (install busybox-static)"
# GNU cpio, else busybox's (both write newc with -R 0:0).
CPIO=(cpio --quiet)
command -v cpio >/dev/null || CPIO=("$BUSYBOX" cpio)
command -v file >/dev/null || skip "file is not installed"

DIR=$OUT/$KVER
mkdir -p "$DIR" || die "cannot create $DIR"
exec 9>"$OUT/.lock"
flock 9 || die "cannot lock $OUT/.lock"

# ---- kernel: bzImage -> vmlinux -------------------------------------------

# Read an unsigned little-endian integer of $3 bytes at offset $2 of file $1.
le() {
	od -An -tu"$3" -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# Print the decompressor for the payload that starts with these magic bytes.
decompressor_for() {
	case $1 in
	# Not busybox unxz: the kernel's stream has the x86 BCJ filter, which
	# busybox's decoder rejects ("corrupted data").
	fd377a585a00*) command -v xz >/dev/null && echo "xz -dc" ;;
	28b52ffd*) command -v zstd >/dev/null && echo "zstd -dcq" ;;
	1f8b08* | 1f8b09*) command -v gzip >/dev/null && echo "gzip -dc" || echo "$BUSYBOX gunzip -c" ;;
	5d0000*) command -v xz >/dev/null && echo "xz -dc --format=lzma" || echo "$BUSYBOX unlzma -c" ;;
	425a68*) command -v bzip2 >/dev/null && echo "bzip2 -dc" || echo "$BUSYBOX bunzip2 -c" ;;
	esac
}

# Is $1 an x86-64 ELF with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, type
# 18)? QEMU boots an ELF kernel given to -kernel only through that note.
has_pvh_note() {
	local notes
	case $(LC_ALL=C file -b "$1") in
	"ELF 64-bit LSB executable, x86-64"*) ;;
	*) return 1 ;;
	esac
	command -v readelf >/dev/null || return 0 # cannot tell; run-guest.sh will
	notes=$(LC_ALL=C readelf -n "$1" 2>/dev/null)
	[[ $notes =~ Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+Unknown\ note\ type:\ \(0x00000012\) ]]
}

# Extract the uncompressed kernel, like the kernel's scripts/extract-vmlinux,
# but without scanning for magic: the boot protocol header (>= 2.08) gives the
# payload's exact place (setup_sects at 0x1f1, payload_offset at 0x248,
# payload_length at 0x24c). The payload is the compressed stream followed by
# the 4-byte little-endian uncompressed size, which we check.
extract_vmlinux() {
	local img=$1 dst=$2 sects proto poff plen start magic dec want got
	[ "$(od -An -c -j $((0x202)) -N4 "$img" | tr -d ' ')" = "HdrS" ] ||
		{ say "$img: no bzImage header"; return 1; }
	proto=$(le "$img" $((0x206)) 2)
	[ "$proto" -ge $((0x208)) ] || { say "$img: boot protocol $proto < 2.08"; return 1; }
	sects=$(le "$img" $((0x1f1)) 1)
	[ "$sects" -ne 0 ] || sects=4
	poff=$(le "$img" $((0x248)) 4)
	plen=$(le "$img" $((0x24c)) 4)
	start=$(((sects + 1) * 512 + poff))
	magic=$(od -An -tx1 -j "$start" -N6 "$img" | tr -d ' \n')
	dec=$(decompressor_for "$magic")
	[ -n "$dec" ] ||
		{ say "$img: no decompressor for its payload (magic $magic; xz-utils or zstd missing?)"; return 1; }
	want=$(le "$img" $((start + plen - 4)) 4)
	say "extracting vmlinux from $img (payload $plen bytes at $start, magic $magic, '$dec')"
	# shellcheck disable=SC2086
	dd if="$img" bs=64K iflag=skip_bytes,count_bytes skip="$start" count=$((plen - 4)) status=none |
		$dec >"$dst.tmp" ||
		{ say "decompression failed"; rm -f "$dst.tmp"; return 1; }
	got=$(stat -c %s "$dst.tmp")
	[ "$got" = "$want" ] ||
		{ say "vmlinux is $got bytes, header says $want"; rm -f "$dst.tmp"; return 1; }
	has_pvh_note "$dst.tmp" ||
		{ say "vmlinux has no PVH entry note (CONFIG_PVH=n?)"; rm -f "$dst.tmp"; return 1; }
	mv -f "$dst.tmp" "$dst"
}

# A fallback to the bzImage is not cached: extraction is retried next time.
if [ ! -s "$DIR/vmlinux" ]; then
	if extract_vmlinux "$BZIMAGE" "$DIR/vmlinux"; then
		ln -sfn vmlinux "$DIR/kernel"
	else
		# Still bootable, only slower (the decompressor runs under TCG).
		say "falling back to booting the compressed $BZIMAGE"
		ln -sfn "$BZIMAGE" "$DIR/kernel"
	fi
fi

# ---- initramfs ------------------------------------------------------------

INITRD=$DIR/initramfs.cpio
INPUTS=("$HERE/init" "$HERE/initlib.sh" "${BASH_SOURCE[0]}" "$BUSYBOX")

fresh() {
	local f
	[ -s "$INITRD" ] || return 1
	for f in "${INPUTS[@]}"; do
		[ "$f" -ot "$INITRD" ] || return 1
	done
}

# Resolve GUEST_MODULES against modules.dep: print the relative .ko paths in
# load order (dependencies first, each once).
module_order() {
	awk -v want="${GUEST_MODULES[*]}" '
	function norm(s) { gsub(/-/, "_", s); return s }
	function modname(path,   n) {
		n = path; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n)
		return norm(n)
	}
	function visit(p,   i, n, d) {
		if (p in seen) return
		seen[p] = 1
		n = split(deps[p], d, " ")
		for (i = 1; i <= n; i++) visit(d[i])
		print p
	}
	{
		p = $1; sub(/:$/, "", p)
		deps[p] = ""
		for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i
		byname[modname(p)] = p
	}
	END {
		n = split(want, w, " ")
		for (i = 1; i <= n; i++) {
			m = norm(w[i])
			if (m in byname) visit(byname[m])
			else print "# " w[i] > "/dev/stderr"
		}
	}' "$MODDIR/modules.dep"
}

build_initramfs() {
	local root mods m applet
	root=$(mktemp -d "$DIR/root.XXXXXX") || die "mktemp"
	# shellcheck disable=SC2064
	trap "rm -rf '$root'" EXIT
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/vhu,lib/modules}
	cp "$BUSYBOX" "$root/bin/busybox"
	for applet in $("$BUSYBOX" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
	cp "$HERE/init" "$root/init"
	chmod 755 "$root/init"
	cp "$HERE/initlib.sh" "$root/lib/vhu/initlib.sh"

	mods=$(module_order 2>"$root/etc/vhu-modules-missing") || die "module resolution failed"
	: >"$root/etc/vhu-modules"
	for m in $mods; do
		case $m in
		*.ko) cp "$MODDIR/$m" "$root/lib/modules/" ;;
		*.ko.xz) xz -dc "$MODDIR/$m" >"$root/lib/modules/$(basename "$m" .xz)" ;;
		*.ko.zst) zstd -dcq "$MODDIR/$m" >"$root/lib/modules/$(basename "$m" .zst)" ;;
		*.ko.gz) gzip -dc "$MODDIR/$m" >"$root/lib/modules/$(basename "$m" .gz)" ;;
		*) die "unknown module file $m" ;;
		esac || die "cannot copy module $m"
		m=$(basename "$m")
		echo "${m%%.ko*}.ko" >>"$root/etc/vhu-modules"
	done
	# A wanted module missing from modules.dep may be built in: fine if so.
	sed -n 's/^# //p' "$root/etc/vhu-modules-missing" | while read -r m; do
		if grep -Eq "/${m//[-_]/[-_]}\.ko" "$MODDIR/modules.builtin" 2>/dev/null; then
			echo "$m (built in)"
		else
			say "warning: module $m is neither a module nor built in"
			echo "$m (absent)"
		fi
	done >"$root/etc/vhu-modules-builtin"
	rm -f "$root/etc/vhu-modules-missing"
	echo "$KVER" >"$root/etc/vhu-kver"

	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		"${CPIO[@]}" -o -H newc -R 0:0 >"$INITRD.tmp") || die "cpio failed"
	mv -f "$INITRD.tmp" "$INITRD"
	cat "$root/etc/vhu-modules" "$root/etc/vhu-modules-builtin" >"$DIR/modules.txt"
	rm -rf "$root"
	trap - EXIT
	say "initramfs $INITRD: $(stat -c %s "$INITRD") bytes, modules: $(tr '\n' ' ' <"$DIR/modules.txt")"
}

if ! fresh; then
	say "building initramfs for $KVER"
	build_initramfs
fi
echo "$KVER" >"$DIR/kver"
echo "$DIR"
