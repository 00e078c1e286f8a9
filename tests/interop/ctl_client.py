# SPDX-License-Identifier: MIT
"""A JSON-RPC 2.0 client for the control socket (devices/common/control.h)
and the check() bookkeeping that control_blk.py and control_net.py share."""
import json
import socket
import subprocess


class Checks:
	"""ok/FAIL lines; fails counts the failures."""

	def __init__(self):
		self.fails = 0

	def __call__(self, cond, what):
		print(('ok: ' if cond else 'FAIL: ') + what, flush=True)
		if not cond:
			self.fails += 1

	def finish(self, log_path, tmp, success):
		"""Print the daemon's log on failure, else remove @tmp; the exit status."""
		if self.fails:
			print(open(log_path).read())
			print('%d failure(s)' % self.fails)
			return 1
		subprocess.run(['rm', '-rf', tmp])
		print(success)
		return 0


class Client:
	def __init__(self, path):
		self.path = path

	def connect(self):
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.settimeout(20)
		s.connect(self.path)
		return s

	@staticmethod
	def read_reply(s):
		"""One reply line, parsed; None if the server closed first."""
		buf = b''
		while not buf.endswith(b'\n'):
			chunk = s.recv(65536)
			if not chunk:
				return None
			buf += chunk
		return json.loads(buf)

	def raw(self, data, s=None):
		own = s is None
		s = s or self.connect()
		s.sendall(data)
		r = self.read_reply(s)
		if own:
			s.close()
		return r

	def rpc(self, method, params=None, s=None, rid=1):
		"""A request as SPDK's rpc.py sends it: one object, no newline."""
		req = {'jsonrpc': '2.0', 'id': rid, 'method': method}
		if params is not None:
			req['params'] = params
		return self.raw(json.dumps(req).encode(), s)


def code(r):
	"""The error code of reply @r, or None."""
	return r.get('error', {}).get('code') if r else None
