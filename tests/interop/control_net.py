#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vhu-net's ports managed at run time over the control socket that vhu-blk
shares (devices/common/control.h, devices/net/manage.c).

Usage: control_net.py VHU-NET VHU-CTL VHU-BENCH

vhu-net starts with ports p0 and p1. A port p2 added at run time receives
the frames vhu-bench sends into p0 with --verify (every byte, in order)
while p1 receives the same flood; mac-table shows p0's sender while it
sends; port-list counts what each port carried. p2 is removed while p0
sends to p1 at full rate: p1's receiver goes on, vhu-net lives, p2's
socket is gone and its slot is out of port-list. A port added after that
carries verified frames too. Bad calls get errors and change nothing.
"""
import json
import os
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_client import Checks, Client, code  # noqa: E402

NET, CTL, BENCH = sys.argv[1:4]
T = tempfile.mkdtemp(prefix='vhu-ctl-net.')
CSOCK = os.path.join(T, 'ctl')
N = 200
check = Checks()
rpc = Client(CSOCK).rpc


def sock(name):
	return os.path.join(T, name + '.sock')


def bench(name, *args):
	return subprocess.Popen([BENCH, 'net', '--socket-path=' + sock(name), '--json'] + list(args),
				stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def verified(proc):
	out, err = proc.communicate(timeout=60)
	try:
		r = json.loads(out)
	except ValueError:
		return False, err.strip()
	return (proc.returncode == 0 and r['rx_verified'] == N and r['rx_bad_payload'] == 0 and
		r['rx_out_of_order'] == 0), r


def names():
	return [p['name'] for p in rpc('port-list')['result']]


def verify_to(receivers):
	"""p0 sends N verified frames; each receiver must get all of them."""
	rx = [bench(r, '--mode=rx', '--count=%d' % N, '--verify', '--pkt-size=64')
	      for r in receivers]
	time.sleep(1)
	tx = bench('p0', '--mode=tx', '--count=%d' % N, '--verify', '--pkt-size=64')
	tx.communicate(timeout=60)
	return [verified(p) for p in rx]


log = open(os.path.join(T, 'vhu-net.log'), 'w')
daemon = subprocess.Popen([NET, '--socket-path=' + sock('p0'), '--socket-path=' + sock('p1'),
			   '--control-socket=' + CSOCK], stderr=log)
for _ in range(100):
	if os.path.exists(CSOCK):
		break
	time.sleep(0.05)
try:
	check(stat.S_IMODE(os.stat(CSOCK).st_mode) == 0o600, 'control socket is 0600')
	check(names() == [sock('p0'), sock('p1')], 'port-list: the command line\'s ports')

	r = rpc('port-add', {'socket-path': sock('p2')})
	check(r.get('result', {}).get('id') == 2, 'port-add p2: %s' % r.get('error'))
	res = verify_to(['p1', 'p2'])
	check(res[0][0], 'p1 received every frame, verified: %s' % (res[0][1],))
	check(res[1][0], 'p2 (added at run time) received every frame, verified')
	ports = {p['name']: p for p in rpc('port-list')['result']}
	check(ports[sock('p2')]['counters']['tx_packets'] == N and
	      ports[sock('p0')]['counters']['rx_packets'] == N,
	      'port-list counts: p0 took %d, p2 put out %d' % (
		      ports[sock('p0')]['counters']['rx_packets'],
		      ports[sock('p2')]['counters']['tx_packets']))

	# p0 sends at full rate to p1 while p2 (connected) is removed
	rx1 = bench('p1', '--mode=rx', '--time=4')
	rx2 = bench('p2', '--mode=rx', '--time=4')
	time.sleep(1)
	tx = bench('p0', '--mode=tx', '--time=3')
	for _ in range(100):	# until p0's sender is learnt (slow under sanitizers)
		macs = rpc('mac-table')['result']
		if macs:
			break
		time.sleep(0.05)
	check(len(macs) == 1 and macs[0]['name'] == sock('p0') and macs[0]['vlan'] == 0,
	      'mac-table: p0\'s sender, untagged, while it sends: %s' % macs)
	check(rpc('port-remove', {'name': sock('p2')}).get('result') is True,
	      'port-remove p2 while frames flow')
	tx.communicate(timeout=30)
	out1 = rx1.communicate(timeout=30)[0]
	rx2.kill()
	rx2.communicate()
	check(rx1.returncode == 0 and json.loads(out1)['rx_packets'] > 0,
	      'p1 kept receiving across the removal')
	check(daemon.poll() is None, 'vhu-net still runs')
	check(not os.path.exists(sock('p2')), 'p2\'s socket is gone')
	check(sock('p2') not in names(), 'p2 is out of port-list')
	check(rpc('mac-table')['result'] == [], 'mac-table: empty once p0\'s sender left')

	r = rpc('port-add', {'socket-path': sock('p3')})
	check('result' in r, 'port-add p3 after a removal')
	res = verify_to(['p3'])
	check(res[0][0], 'p3 received every frame, verified')

	before = rpc('port-list')['result']
	check(code(rpc('port-add', {'socket-path': sock('p1')})) == -17, 'port-add of a port: EEXIST')
	check(code(rpc('port-add', {'socket-path': os.path.join(T, 'no', 'dir.sock')})) == -2,
	      'port-add in a missing directory: ENOENT')
	check(code(rpc('port-add', {'socket-path': ''})) == -32602, 'empty socket-path: -32602')
	check(code(rpc('port-add', {'socket-path': 5})) == -32602, 'socket-path a number: -32602')
	check(code(rpc('port-add', {'path': 'x'})) == -32602, 'unknown param: -32602')
	check(code(rpc('port-remove', {'name': sock('p2')})) == -2, 'port-remove again: ENOENT')
	check(code(rpc('export-add')) == -32601, 'a vhu-blk method: -32601')
	after = rpc('port-list')['result']
	check([p['name'] for p in after] == [p['name'] for p in before],
	      'port-list unchanged by the bad calls')
finally:
	daemon.terminate()
	rc = daemon.wait(10)
	log.close()
check(rc == 0, 'vhu-net exits 0 on SIGTERM')

# mac-table names each entry's VLAN: two access ports of VLAN 10
CSOCK2 = os.path.join(T, 'ctl2')
log = open(os.path.join(T, 'vhu-net-vlan.log'), 'w')
daemon = subprocess.Popen([NET, '--socket-path=' + sock('v0'), '--socket-path=' + sock('v1'),
			   '--port-config=%s,vlan=10' % sock('v0'),
			   '--port-config=%s,vlan=10' % sock('v1'),
			   '--control-socket=' + CSOCK2], stderr=log)
for _ in range(100):
	if os.path.exists(CSOCK2):
		break
	time.sleep(0.05)
try:
	rpc = Client(CSOCK2).rpc
	rx = bench('v1', '--mode=rx', '--time=4')
	time.sleep(1)
	tx = bench('v0', '--mode=tx', '--time=2')
	for _ in range(100):
		macs = rpc('mac-table')['result']
		if macs:
			break
		time.sleep(0.05)
	check(len(macs) == 1 and macs[0]['name'] == sock('v0') and macs[0]['vlan'] == 10,
	      'mac-table: an access port\'s sender in VLAN 10: %s' % macs)
	tx.communicate(timeout=30)
	rx.kill()
	rx.communicate()
finally:
	daemon.terminate()
	rc = daemon.wait(10)
	log.close()
check(rc == 0, 'vhu-net (VLANs) exits 0 on SIGTERM')
sys.exit(check.finish(os.path.join(T, 'vhu-net.log'), T,
			 'vhu-net ports managed at run time: all checks passed'))
