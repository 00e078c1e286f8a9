#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""64 exports in one vhu-blk on a worker pool (issue 22), end to end.

Usage: blk_exports.py VHU-BLK VHU-CTL VHU-BENCH

One vhu-blk --workers=2 with 64 file-backed exports from --config, then:
- all 64 carry verified I/O at once (64 vhu-bench blk --rw=verify, one per
  export): every block written, read back and checked;
- the threads stay bounded while they do: 2 pool workers (vhu-w*), no
  thread per queue (vhu-q*), and the messages of all exports served by one
  event loop (vhu-c*): one thread while idle, never one per export;
- at run time, while 8 exports carry verify passes without pause, 4 idle
  exports are removed and 4 new ones added over the control socket; the new
  ones carry verified I/O (2 queues each), the removed ones' sockets are
  gone, and the 8 never stop verifying;
- after it all, the thread count is what it was at start: the loop is down
  to one thread again, whatever the exports that came and went.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_client import Checks, Client  # noqa: E402
from tasks import threads  # noqa: E402

BLK, CTL, BENCH = sys.argv[1:4]
N = 64
WORKERS = 2
T = tempfile.mkdtemp(prefix='vhu-exports-test.')
CSOCK = os.path.join(T, 'ctl')
check = Checks()
rpc = Client(CSOCK).rpc


def img(name, size=1 << 20):
	p = os.path.join(T, name)
	with open(p, 'wb') as f:
		f.truncate(size)
	return p


def sock(name):
	return os.path.join(T, name + '.sock')


def verify(name, extra=()):
	return subprocess.Popen([BENCH, 'blk', '--socket-path=' + sock(name), '--rw=verify',
				 '--size=64K', '--iodepth=4'] + list(extra),
				stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def verified(p, timeout=90):
	out = p.communicate(timeout=timeout)[0]
	return p.returncode == 0 and 'read back and checked' in out, out.strip()[-200:]


def census(names):
	return ', '.join('%s x%d' % (n, names.count(n)) for n in sorted(set(names)))


cfg = os.path.join(T, 'exports.json')
with open(cfg, 'w') as f:
	json.dump({'exports': [{'name': 'e%d' % i, 'socket-path': sock('e%d' % i),
				'blk-file': img('e%d.img' % i)} for i in range(N)]}, f)
log = open(os.path.join(T, 'vhu-blk.log'), 'w')
daemon = subprocess.Popen([BLK, '--config=' + cfg, '--control-socket=' + CSOCK,
			   '--workers=%d' % WORKERS], stderr=log)
for _ in range(200):
	if os.path.exists(CSOCK):
		break
	time.sleep(0.05)
try:
	start = threads(daemon.pid)
	# main, the control socket's accept thread, the loop's one idle thread,
	# the pool; + 1: the ASan runtime's background thread, which takes the
	# name of the thread that started it (a pool worker's, say). A control
	# thread per export would add 64, a thread per queue 64 more.
	bound = 2 + 1 + WORKERS + 1
	check(len(start) <= bound, 'threads at start: %d <= %d (%s)' % (len(start), bound,
									 census(start)))
	check(len([n for n in start if n.startswith('vhu-c')]) == 1,
	      "one loop thread serves the 64 exports' messages (%s)" % census(start))

	# ---- all 64 at once ----
	runs = [verify('e%d' % i) for i in range(N)]
	peak = start
	while any(p.poll() is None for p in runs):
		now = threads(daemon.pid)
		if len(now) > len(peak):
			peak = now
		time.sleep(0.05)
	bad = [(i, out) for i, (ok, out) in enumerate(verified(p) for p in runs) if not ok]
	check(not bad, '64 exports each carry verified I/O at once (%d failed: %s)' %
	      (len(bad), bad[:2]))
	check(len({n for n in peak if n.startswith('vhu-w')}) == WORKERS and
	      not any(n.startswith('vhu-q') for n in peak),
	      'I/O ran on the %d pool workers, no thread per queue' % WORKERS)
	# the loop adds a thread per export whose message is being handled at
	# once (64 drivers connect together): never more than one per export
	loaded = 2 + (N + 1) + WORKERS + 1
	check(len(peak) <= loaded, 'threads under load: at most %d <= %d (%s)' %
	      (len(peak), loaded, census(peak)))

	# ---- run time: 4 removed and 4 added while 8 keep verifying ----
	busy = [verify('e%d' % i, ['--time=4']) for i in range(8)]
	time.sleep(0.5)
	for i in range(N - 4, N):
		r = rpc('export-remove', {'name': 'e%d' % i})
		check(r.get('result') is True, 'export-remove e%d: %s' % (i, r.get('error')))
		check(not os.path.exists(sock('e%d' % i)), "e%d's socket is gone" % i)
	added = []
	for i in range(4):
		r = rpc('export-add', {'name': 'n%d' % i, 'socket-path': sock('n%d' % i),
				       'blk-file': img('n%d.img' % i), 'num-queues': 2})
		check('result' in r, 'export-add n%d: %s' % (i, r.get('error')))
		added.append(verify('n%d' % i, ['--queues=2']))
	for i, p in enumerate(added):
		ok, out = verified(p)
		check(ok, 'added export n%d carries verified I/O: %s' % (i, out))
	r = rpc('export-list')
	names = sorted(e['name'] for e in r['result'])
	check(len(names) == N and 'n3' in names and 'e63' not in names,
	      'export-list: 60 old and 4 new exports')
	for i, p in enumerate(busy):
		ok, out = verified(p)
		check(ok, 'e%d verified throughout the adds and removes: %s' % (i, out))
	for _ in range(60):  # spare loop threads end after a second idle
		end = threads(daemon.pid)
		if len([n for n in end if n.startswith('vhu-c')]) <= 1:
			break
		time.sleep(0.1)
	check(len(end) <= len(start) + 1 and len({n for n in end if n.startswith('vhu-w')}) == WORKERS,
	      'threads after: %d, as at start (%d, ASan may add 1): %s' % (len(end), len(start),
									     census(end)))
	check(daemon.poll() is None, 'vhu-blk still runs')
finally:
	daemon.terminate()
	rc = daemon.wait(20)
	log.close()
check(rc == 0, 'vhu-blk exits 0 on SIGTERM')
sys.exit(check.finish(os.path.join(T, 'vhu-blk.log'), T, 'exports: all checks passed'))
