#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Open vSwitch with DPDK (Debian openvswitch-switch-dpdk 3.1), private to a
# directory, as the switch vhu-net is compared with (make bench, issue 23):
#
#   ovs-switch.sh start DIR [PORT...]  ovsdb-server and ovs-vswitchd-dpdk in DIR
#                                      (DPDK lcore on CPU 0, one PMD on CPU 1, no
#                                      hugepages), bridge br0 (netdev datapath,
#                                      NORMAL action: MAC learning) with one
#                                      dpdkvhostuser port per PORT (default: a b);
#                                      their sockets are DIR/PORT
#   ovs-switch.sh clear DIR            zero the PMD statistics
#   ovs-switch.sh cycles DIR           the PMD's processing cycles per packet
#   ovs-switch.sh stop DIR             stop both daemons
#
# Both daemons run in a network namespace of their own (vhu-ovs-PID, deleted
# by stop): the netdev datapath makes tap devices (ovs-netdev, br0) and those
# stay out of the host's. Nothing else outside DIR is touched (no system
# service, no kernel module). The settings are the ones that work without
# hugepages (`--no-huge -m 2048 --legacy-mem`: without --legacy-mem OVS adds
# --in-memory and EAL fails).
set -euo pipefail

cmd=${1:?usage: ovs-switch.sh start|clear|cycles|stop DIR [PORT...]}
dir=${2:?usage: ovs-switch.sh start|clear|cycles|stop DIR [PORT...]}
shift 2
vswitchd=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
export OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir
vsctl() { timeout 30 ovs-vsctl --db="unix:$dir/db.sock" "$@"; }
appctl() { timeout 30 ovs-appctl -t "$(ls "$dir"/ovs-vswitchd*.ctl)" "$@"; }

case $cmd in
start)
	[ -x "$vswitchd" ] || { echo "ovs-switch: $vswitchd missing (Debian openvswitch-switch-dpdk)" >&2; exit 1; }
	mkdir -p "$dir"
	rm -f "$dir/conf.db"
	ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
	ns=vhu-ovs-$$
	ip netns add "$ns"
	echo "$ns" >"$dir/netns"
	echo "ovs-$$" >"$dir/prefix"
	ip netns exec "$ns" ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb.pid" \
		--detach --log-file="$dir/ovsdb.log" >/dev/null 2>&1
	vsctl --no-wait init
	vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
		other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 \
		"other_config:dpdk-extra=--no-huge -m 2048 --no-pci --legacy-mem --file-prefix=ovs-$$" \
		other_config:vhost-sock-dir=.
	ip netns exec "$ns" "$vswitchd" "unix:$dir/db.sock" --pidfile="$dir/vswitchd.pid" --detach \
		--log-file="$dir/vswitchd.log" >/dev/null 2>&1
	vsctl add-br br0 -- set bridge br0 datapath_type=netdev
	[ $# -gt 0 ] || set -- a b
	for p in "$@"; do
		vsctl add-port br0 "$p" -- set Interface "$p" type=dpdkvhostuser
	done
	for p in "$@"; do
		for _ in $(seq 100); do [ -S "$dir/$p" ] && break; sleep 0.1; done
		[ -S "$dir/$p" ] || { echo "ovs-switch: no socket $dir/$p" >&2; tail -20 "$dir/vswitchd.log" >&2; exit 1; }
	done
	;;
clear)
	appctl dpif-netdev/pmd-stats-clear >/dev/null
	;;
cycles)
	# "avg processing cycles per packet: 274.51 (...)" of the PMD thread
	appctl dpif-netdev/pmd-stats-show |
		awk '/pmd thread/ { p = 1 } p && /avg processing cycles per packet/ { print $6; exit }'
	;;
stop)
	for f in vswitchd ovsdb; do
		if [ -f "$dir/$f.pid" ]; then
			pid=$(cat "$dir/$f.pid")
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	[ -f "$dir/prefix" ] && rm -rf "/var/run/dpdk/$(cat "$dir/prefix")"
	[ -f "$dir/netns" ] && ip netns del "$(cat "$dir/netns")" 2>/dev/null
	true
	;;
*)
	echo "ovs-switch: unknown command $cmd" >&2
	exit 2
	;;
esac
