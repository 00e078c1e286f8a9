#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vhu-blk's control socket (devices/common/control.h) end to end.

Usage: control_blk.py VHU-BLK VHU-CTL VHU-BENCH

One vhu-blk with a command-line export and a --config export, then:
- run time: exports added and removed while vhu-bench blk --rw=verify runs
  on another; each new export carries a verified pass itself; a removed
  export's socket is gone; export-stats counts what ran;
- resize: a fake front-end (BACKEND_REQ + REPLY_ACK + CONFIG) receives
  BACKEND_CONFIG_CHANGE_MSG and its GET_CONFIG shows the new capacity; while
  the resize waits for the ack, export-remove and a second export-resize on
  that export fail with EBUSY;
- hostile input, each followed by a check that export-list is unchanged and
  the daemon still answers: malformed JSON, junk lines, unknown methods,
  wrong and unknown params, bad envelopes, oversize requests, too many
  clients, a client that never finishes its request, a path that cannot be
  opened, conflicting concurrent calls (two adds on one socket path, two
  adds of one name, two removes of one export, a resize and a remove);
- the socket is 0600; vhu-ctl's exit status follows the reply.
"""
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl_client import Checks, Client, code  # noqa: E402

BLK, CTL, BENCH = sys.argv[1:4]
T = tempfile.mkdtemp(prefix='vhu-ctl-test.')
CSOCK = os.path.join(T, 'ctl')
TIMEOUT_MS = 1500
check = Checks()
client = Client(CSOCK)
connect, read_reply, raw, rpc = client.connect, client.read_reply, client.raw, client.rpc


def closed(s):
	"""The server closed @s (a reset: it closed with our bytes unread)."""
	try:
		return s.recv(1) == b''
	except ConnectionResetError:
		return True


def exports():
	return rpc('export-list')['result']


def img(name, size):
	p = os.path.join(T, name)
	with open(p, 'wb') as f:
		f.truncate(size)
	return p


def bench_verify(sock, extra=()):
	return subprocess.Popen([BENCH, 'blk', '--socket-path=' + sock, '--rw=verify',
				 '--size=4M', '--iodepth=8'] + list(extra),
				stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# ---- a fake front-end that serves the back-end channel ----------------------
VERSION, REPLY, NEED_REPLY = 1, 4, 8
GET_FEATURES, SET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 1, 2, 15, 16
SET_BACKEND_REQ_FD, GET_CONFIG, CONFIG_CHANGE_MSG = 21, 24, 2
HDR = struct.Struct('<III')


def recv_exact(s, n):
	b = b''
	while len(b) < n:
		c = s.recv(n - len(b))
		if not c:
			raise EOFError
		b += c
	return b


def vu_call(s, req, payload=b'', fds=()):
	msg = HDR.pack(req, VERSION, len(payload)) + payload
	if fds:
		socket.send_fds(s, [msg], list(fds))
	else:
		s.sendall(msg)


def vu_reply(s):
	req, flags, size = HDR.unpack(recv_exact(s, HDR.size))
	return req, recv_exact(s, size)


def fake_frontend(path):
	"""Negotiate REPLY_ACK, BACKEND_REQ and CONFIG; return (socket, channel)."""
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(10)
	s.connect(path)
	vu_call(s, GET_FEATURES)
	feats = struct.unpack('<Q', vu_reply(s)[1])[0]
	vu_call(s, SET_FEATURES, struct.pack('<Q', feats & ((1 << 30) | (1 << 32))))
	vu_call(s, GET_PROTOCOL_FEATURES)
	vu_reply(s)
	vu_call(s, SET_PROTOCOL_FEATURES, struct.pack('<Q', (1 << 3) | (1 << 5) | (1 << 9)))
	ours, theirs = socket.socketpair()
	vu_call(s, SET_BACKEND_REQ_FD, fds=[theirs.fileno()])
	theirs.close()
	vu_call(s, GET_FEATURES)	# a reply: everything before it was handled
	vu_reply(s)
	ours.settimeout(10)
	return s, ours


def capacity(s):
	vu_call(s, GET_CONFIG, struct.pack('<III', 0, 8, 0) + bytes(8))
	p = vu_reply(s)[1]
	return struct.unpack_from('<Q', p, 12)[0]


# ---- the daemon ---------------------------------------------------------------
a_img = img('a.img', 16 << 20)
cfg = os.path.join(T, 'exports.json')
with open(cfg, 'w') as f:
	json.dump({'exports': [{'name': 'cfg', 'socket-path': os.path.join(T, 'cfg.sock'),
				'null-size': 1 << 30, 'serial': 'from-config'}]}, f)
log = open(os.path.join(T, 'vhu-blk.log'), 'w')
daemon = subprocess.Popen([BLK, '--socket-path=' + os.path.join(T, 'a.sock'),
			   '--blk-file=' + a_img, '--config=' + cfg,
			   '--control-socket=' + CSOCK, '--control-timeout=%d' % TIMEOUT_MS],
			  stderr=log)
for _ in range(100):
	if os.path.exists(CSOCK):
		break
	time.sleep(0.05)
try:
	mode = stat.S_IMODE(os.stat(CSOCK).st_mode)
	check(mode == 0o600, 'control socket mode is 0600 (%o)' % mode)
	before = exports()
	check([e['name'] for e in before] == [os.path.join(T, 'a.sock'), 'cfg'],
	      'command-line and --config exports listed')
	check(before[1]['serial'] == 'from-config' and before[1]['size'] == 1 << 30,
	      '--config export has its serial and size')

	out = subprocess.run([CTL, '-s', CSOCK, 'export-list', 'name=cfg'],
			     capture_output=True, text=True)
	check(out.returncode == 0 and json.loads(out.stdout)[0]['name'] == 'cfg',
	      'vhu-ctl prints the result, exit 0')
	out = subprocess.run([CTL, '-s', CSOCK, 'export-remove', 'name=nope'],
			     capture_output=True, text=True)
	check(out.returncode == 1 and 'no export' in out.stderr, 'vhu-ctl: error reply, exit 1')

	# ---- run time: add and remove while another export runs ----
	a_run = bench_verify(os.path.join(T, 'a.sock'), ['--time=4'])
	for i in range(2):
		b_sock = os.path.join(T, 'b.sock')
		r = rpc('export-add', {'name': 'b', 'socket-path': b_sock,
				       'blk-file': img('b%d.img' % i, 8 << 20), 'num-queues': 2})
		check('result' in r and r['result'][0]['num-queues'] == 2,
		      'export-add b (round %d): %s' % (i, r.get('error')))
		b = bench_verify(b_sock, ['--queues=2'])
		out = b.communicate(timeout=60)[0]
		check(b.returncode == 0 and 'read back and checked' in out,
		      'added export carries verified I/O (round %d)' % i)
		st = rpc('export-stats', {'name': 'b'})['result'][0]
		check(st['write-ops'] >= 1024 and st['read-bytes'] == 4 << 20 and
		      st['latency-ns']['p99'] > 0, 'export-stats counts it: %s' % st)
		check(rpc('export-remove', {'name': 'b'}).get('result') is True,
		      'export-remove b (round %d)' % i)
		check(not os.path.exists(b_sock), 'removed export\'s socket is gone')
	out = a_run.communicate(timeout=60)[0]
	check(a_run.returncode == 0 and 'read back and checked' in out,
	      'the other export verified throughout: ' + out.strip().splitlines()[-1])

	# ---- resize: CONFIG_CHANGE_MSG, and conflicting calls ----
	fe, chan = fake_frontend(os.path.join(T, 'a.sock'))
	check(capacity(fe) == (16 << 20) >> 9, 'GET_CONFIG: the old capacity')
	result = {}
	t = threading.Thread(target=lambda: result.update(
		rpc('export-resize', {'name': os.path.join(T, 'a.sock'), 'size': 32 << 20})))
	t.start()
	req, flags, size = HDR.unpack(recv_exact(chan, HDR.size))
	check(req == CONFIG_CHANGE_MSG and flags & NEED_REPLY,
	      'the front-end receives BACKEND_CONFIG_CHANGE_MSG (need_reply)')
	r = rpc('export-remove', {'name': os.path.join(T, 'a.sock')})
	check(code(r) == -16, 'export-remove during a resize: EBUSY (%s)' % r.get('error'))
	r = rpc('export-resize', {'name': os.path.join(T, 'a.sock'), 'size': 8 << 20})
	check(code(r) == -16, 'a second export-resize: EBUSY')
	chan.sendall(HDR.pack(req, VERSION | REPLY, 8) + struct.pack('<Q', 0))
	t.join(10)
	check(result.get('result', {}).get('notified') is True, 'resize acked: %s' % result)
	check(capacity(fe) == (32 << 20) >> 9, 'GET_CONFIG: the new capacity')
	check(os.path.getsize(a_img) == 32 << 20, 'the image file grew')
	fe.close()
	chan.close()
	before = exports()

	# ---- hostile input: an error reply, nothing changed ----
	def unchanged(what):
		check(exports() == before, what + ': export-list unchanged')

	s = connect()
	r = raw(b'{"jsonrpc": "2.0", "id": 1, "method": }', s)
	check(code(r) == -32700, 'malformed JSON: parse error')
	r = raw(b'this is not json\n', s)
	check(code(r) == -32700, 'junk line: parse error')
	r = rpc('export-list', s=s, rid=7)
	check(r.get('id') == 7 and 'result' in r, 'the same connection goes on after errors')
	s.close()
	check(code(rpc('no-such-method')) == -32601, 'unknown method: -32601')
	check(code(rpc('export-resize', {'name': 'cfg', 'size': 'big'})) == -32602,
	      'wrong param type: -32602')
	check(code(rpc('export-resize', {'name': 'cfg', 'size': -5})) == -32602,
	      'negative size: -32602')
	check(code(rpc('export-remove', {'name': 'cfg', 'force': True})) == -32602,
	      'unknown param: -32602')
	check(code(rpc('export-remove')) == -32602, 'missing param: -32602')
	check(code(rpc('export-list', [1])) == -32602, 'params by position: -32602')
	check(code(raw(b'{"id": 1, "method": "export-list"}')) == -32600, 'no jsonrpc: -32600')
	check(code(raw(b'{"jsonrpc": "1.0", "id": 1, "method": "export-list"}')) == -32600,
	      'jsonrpc 1.0: -32600')
	check(code(raw(b'{"jsonrpc": "2.0", "id": 1, "method": 5}')) == -32600,
	      'method not a string: -32600')
	check(code(raw(b'{"jsonrpc": "2.0", "id": 1, "method": "x", "method": "y"}')) == -32700,
	      'duplicate member: parse error')
	check(code(raw(b'[]')) == -32600, 'empty batch: -32600')
	r = raw(b'[{"jsonrpc": "2.0", "id": 1, "method": "export-list"},'
		b'{"jsonrpc": "2.0", "method": "export-list"}]')
	check(isinstance(r, list) and len(r) == 1 and r[0]['id'] == 1,
	      'batch: one reply per request with an id')
	check(code(rpc('export-remove', {'name': 'cfg' * 100})) == -2, 'unknown export: ENOENT')
	r = rpc('export-add', {'name': 'x', 'socket-path': os.path.join(T, 'x.sock'),
			       'blk-file': os.path.join(T, 'missing.img')})
	check(code(r) == -2 and 'missing.img' in r['error']['message'],
	      'a path that cannot be opened: ENOENT, named')
	check(not os.path.exists(os.path.join(T, 'x.sock')), 'no socket left by the failed add')
	r = rpc('export-add', {'socket-path': os.path.join(T, 'y.sock'), 'null-size': 4096,
			       'blk-file': a_img})
	check(code(r) == -32602, 'blk-file and null-size together: -32602')
	r = rpc('export-resize', {'name': 'cfg', 'size': 1000})
	check(code(r) == -22, 'resize to a partial block: EINVAL')
	unchanged('hostile requests')

	s = connect()
	s.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "export-list", "params": {"name": "' +
		  b'x' * (70 << 10) + b'"}}')
	r = read_reply(s)
	check(code(r) == -32600 and 'too large' in r['error']['message'],
	      'oversize request: -32600')
	check(closed(s), 'oversize request: connection closed')
	s.close()

	# a nested document deeper than the parser's limit
	r = raw(b'{"jsonrpc": "2.0", "id": 1, "method": "export-list", "params": {"a": ' +
		b'[' * 100 + b']' * 100 + b'}}')
	check(code(r) == -32700, 'nesting over the limit: parse error')

	s = connect()
	start = time.monotonic()
	s.sendall(b'{"jsonrpc": "2.0", "id": 1, "met')
	r = read_reply(s)
	took = time.monotonic() - start
	check(code(r) == -32000 and took >= TIMEOUT_MS / 1000 * 0.9,
	      'slow client: an error after %.1f s' % took)
	check(closed(s), 'slow client: closed')
	s.close()

	idle = [connect() for _ in range(8)]
	for c in idle:	# each is being served before the next is opened
		rpc('export-list', s=c)
	r = read_reply(connect())
	check(code(r) == -32000 and 'too many' in r['error']['message'],
	      'the 9th client: -32000 too many clients')
	for c in idle:
		c.close()
	time.sleep(0.2)
	check('result' in rpc('export-list'), 'served again once clients left')

	# two concurrent adds on one socket path: exactly one wins
	res = []

	def add(n):
		res.append(rpc('export-add', {'name': 'dup%d' % n,
					      'socket-path': os.path.join(T, 'dup.sock'),
					      'null-size': 1 << 20}))
	ts = [threading.Thread(target=add, args=(n,)) for n in range(2)]
	for t in ts:
		t.start()
	for t in ts:
		t.join(10)
	check(sorted(code(r) or 0 for r in res) == [-17, 0],
	      'two adds on one socket path: one EEXIST (%s)' % [code(r) for r in res])
	won = [r['result'][0]['name'] for r in res if 'result' in r]
	rpc('export-remove', {'name': won[0]})
	unchanged('after the conflicting adds')

	def race(calls):
		"""Run the (method, params) @calls at once; their replies."""
		out = [None] * len(calls)

		def one(k):
			out[k] = rpc(*calls[k])
		ts = [threading.Thread(target=one, args=(k,)) for k in range(len(calls))]
		for t in ts:
			t.start()
		for t in ts:
			t.join(20)
		return out

	# two concurrent adds of one name (two socket paths): exactly one wins
	for rnd in range(3):
		res = race([('export-add', {'name': 'same', 'socket-path': os.path.join(T, 's%d.sock' % n),
					    'null-size': 1 << 20}) for n in range(2)])
		check(sorted(code(r) or 0 for r in res) == [-17, 0],
		      'two adds of one name: one EEXIST (%s)' % [code(r) for r in res])
		lost = [n for n in range(2) if code(res[n]) == -17]
		check(not os.path.exists(os.path.join(T, 's%d.sock' % lost[0])),
		      "the losing add left no socket")
		# two concurrent removes of it: exactly one succeeds, the other finds it
		# gone or being removed
		res = race([('export-remove', {'name': 'same'})] * 2)
		check(sorted(code(r) or 0 for r in res) in ([-16, 0], [-2, 0]),
		      'two removes of one export: one succeeds (%s)' % [code(r) for r in res])
		check(code(rpc('export-list', {'name': 'same'})) == -2, 'the export is gone')
	# a remove racing a resize of the same export: one EBUSY or both in turn
	r = rpc('export-add', {'name': 'rr', 'socket-path': os.path.join(T, 'rr.sock'),
			       'blk-file': img('rr.img', 1 << 20)})
	check('result' in r, 'export-add rr')
	res = race([('export-resize', {'name': 'rr', 'size': 2 << 20}),
		    ('export-remove', {'name': 'rr'})])
	codes = [code(r) or 0 for r in res]
	check(codes[1] in (0, -16) and codes[0] in (0, -16, -2),
	      'resize and remove at once: each succeeds or is refused (%s)' % codes)
	if codes[1] != 0:
		rpc('export-remove', {'name': 'rr'})
	unchanged('after the conflicting removes and resizes')
	check(daemon.poll() is None, 'vhu-blk still runs')
finally:
	daemon.terminate()
	rc = daemon.wait(10)
	log.close()
check(rc == 0, 'vhu-blk exits 0 on SIGTERM')
check(not os.path.exists(CSOCK), 'the control socket is removed at exit')
sys.exit(check.finish(os.path.join(T, 'vhu-blk.log'), T, 'control socket: all checks passed'))
