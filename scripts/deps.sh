#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install the Debian 12 packages vhu needs to build and test. Idempotent:
# when everything is present it only asks dpkg, and takes well under a second.
set -u

PKGS=(
	build-essential pkg-config meson ninja-build
	libcmocka-dev liburing-dev libpixman-1-dev libpng-dev
	libvirglrenderer-dev libegl-mesa0 libgl1-mesa-dri
	clang libclang-rt-14-dev clang-format
	python3 python3-pytest
	qemu-system-x86 qemu-utils qemu-block-extra qemu-system-common qemu-system-gui
	dpdk dpdk-dev openvswitch-switch-dpdk
	busybox-static linux-image-amd64
	gcovr iproute2 procps file cpio xz-utils valgrind
)

# One dpkg-query for all: packages it does not know are simply not listed.
declare -A ok=()
while read -r name status; do
	[[ $status == "install ok installed" ]] && ok[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null)
missing=()
for p in "${PKGS[@]}"; do
	[[ -n ${ok[$p]:-} ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all ${#PKGS[@]} packages present, nothing to do"
	exit 0
fi

SUDO=()
if (($(id -u) != 0)); then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		echo "deps: error: missing packages (${missing[*]}) and not root, no sudo" >&2
		exit 1
	fi
fi

# Passed through env, not export: sudo drops most of the environment.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
log=$(mktemp "${TMPDIR:-/tmp}/vhu-deps.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT

apt_update() {
	if ! "${APT[@]}" update -q >"$log" 2>&1; then
		cat "$log" >&2
		echo "deps: error: apt-get update failed" >&2
		exit 1
	fi
}

apt_install() {
	"${APT[@]}" install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1
}

# Refresh the package lists only when they are older than a day (or absent).
updated=0
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null) ]]; then
	apt_update
	updated=1
fi

apt_install
rc=$?
if ((rc != 0 && updated == 0)); then
	# Perhaps stale lists: the mirror no longer has the versions they name.
	apt_update
	updated=1
	apt_install
	rc=$?
fi
if ((rc != 0)); then
	cat "$log" >&2
	echo "deps: error: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi
echo "deps: installed ${#missing[@]} missing package(s): ${missing[*]}$( ((updated)) && echo ' (after apt-get update)')"
