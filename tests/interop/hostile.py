#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A hostile vhost-user front-end against a running device program.

  hostile.py SOCK PID

Connection by connection it sends malformed or abusive input (docs/SECURITY.md,
"Threat model") to the back-end listening on SOCK, whose process is PID.
After each case: PID is still alive, a fresh connection gets a correct
GET_FEATURES reply within 2 s. After all cases: PID holds no more fds, no
more memfd mappings and no more threads than after the first clean
connection. The cases run HOSTILE_PASSES times (default 5); from the end of
the third pass to the end of the last, the process's anonymous memory
(RssAnon) may grow by at most 128 KiB: a leak per request, repeated over the
thousands of requests of a pass, would not fit. (The first passes warm
up: vhu-blk's RssAnon grows by ~250 KiB over them, as more queues and io_uring
slots get touched, then stays flat over 8 passes.) One line per case; exit 0
only if every case passed.

Message packing comes from vu_peer.py (written from the spec, independent of
libvhu).
"""
import errno
import mmap
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vu_peer import (HDR, VERSION, FLAG_REPLY, FLAG_NEED_REPLY, GET_FEATURES,  # noqa: E402
		     SET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
		     GET_QUEUE_NUM, GET_CONFIG, GET_VRING_BASE, F_PROTOCOL_FEATURES,
		     PF_MQ, PF_REPLY_ACK, PF_CONFIG, CONFIG_HDR, bit, recv_exact, u64)
from tasks import threads  # noqa: E402

SET_OWNER = 3
SET_MEM_TABLE = 5
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
SET_VRING_KICK = 12
SET_VRING_CALL = 13
SET_VRING_ERR = 14
SET_VRING_ENABLE = 18
SET_VRING_ENDIAN = 23
VRING_KICK = 35
ADD_MEM_REG = 37
IOTLB_MSG = 22
F_ACCESS_PLATFORM = 33
IOTLB_UPDATE, IOTLB_INVALIDATE, IOTLB_MISS = 2, 3, 1
PF_INBAND_NOTIFICATIONS = 14
PF_CONFIGURE_MEM_SLOTS = 15
F_VERSION_1 = 32
NOFD = 0x100
MAX_PAYLOAD = 4096
TIMEOUT = 2.0

STATE = struct.Struct('<II')		# index, num
ADDR = struct.Struct('<IIQQQQ')		# index, flags, desc, used, avail, log
REGION = struct.Struct('<QQQQ')		# gpa, size, uva, mmap_offset
DESC = struct.Struct('<QIHH')		# addr, len, flags, next
IOTLB = struct.Struct('<QQQBB6x')	# iova, size, uaddr, perm, type (struct vhost_iotlb_msg)
VRING_DESC_F_NEXT = 1


class Closed(Exception):
	pass


def hdr(req, flags, size):
	return HDR.pack(req & 0xffffffff, flags & 0xffffffff, size & 0xffffffff)


class Conn:
	def __init__(self, path):
		self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.s.settimeout(TIMEOUT)
		self.s.connect(path)

	def close(self):
		self.s.close()

	def raw(self, data, fds=()):
		try:
			if fds:
				socket.send_fds(self.s, [data], list(fds))
			else:
				self.s.sendall(data)
		except (BrokenPipeError, ConnectionResetError) as e:
			raise Closed(str(e))

	def send(self, req, payload=b'', flags=VERSION, fds=()):
		self.raw(hdr(req, flags, len(payload)) + payload, fds)

	def recv(self):
		try:
			req, flags, size = HDR.unpack(recv_exact(self.s, HDR.size))
			return req, flags, recv_exact(self.s, size)
		except (EOFError, ConnectionResetError) as e:
			raise Closed(str(e))

	def reply(self, req):
		"""The next reply, which must be to req."""
		rreq, rflags, p = self.recv()
		if rreq != req or rflags != (VERSION | FLAG_REPLY):
			raise ValueError('reply to %d: request %d flags 0x%x' % (req, rreq, rflags))
		return p

	def call(self, req, payload=b'', fds=()):
		self.send(req, payload, fds=fds)
		return self.reply(req)

	def ack(self, req, payload=b'', fds=()):
		"""Send req with NEED_REPLY; return the REPLY_ACK value."""
		self.send(req, payload, VERSION | FLAG_NEED_REPLY, fds)
		p = self.reply(req)
		if len(p) != 8:
			raise ValueError('ack to %d has size %d' % (req, len(p)))
		return struct.unpack('<Q', p)[0]

	def features(self):
		p = self.call(GET_FEATURES)
		if len(p) != 8:
			raise ValueError('GET_FEATURES reply has size %d' % len(p))
		return struct.unpack('<Q', p)[0]

	def features_after_noise(self):
		"""GET_FEATURES, skipping replies to anything else sent before."""
		self.send(GET_FEATURES)
		deadline = time.monotonic() + TIMEOUT
		while time.monotonic() < deadline:
			rreq, rflags, p = self.recv()
			if rreq == GET_FEATURES and rflags == (VERSION | FLAG_REPLY) and len(p) == 8:
				return struct.unpack('<Q', p)[0]
		raise ValueError('no GET_FEATURES reply')

	def expect_closed(self):
		"""The back-end must end this connection (EOF within TIMEOUT)."""
		try:
			while True:
				if not self.s.recv(4096):
					return
		except ConnectionResetError:
			return
		except socket.timeout:
			raise ValueError('the connection was not dropped')


class Hostile:
	def __init__(self, path, pid):
		self.path = path
		self.pid = pid
		self.failed = 0
		self.features = None
		self.pfeatures = 0
		self.num_queues = 1

	# ------------------------------------------------------------ helpers
	def alive(self):
		try:
			os.kill(self.pid, 0)
			with open('/proc/%d/stat' % self.pid) as f:
				return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
		except (OSError, IndexError):
			return False

	def nfds(self):
		return len(os.listdir('/proc/%d/fd' % self.pid))

	def nmemfd(self):
		with open('/proc/%d/maps' % self.pid) as f:
			return sum(1 for line in f if 'memfd:' in line)

	def nthreads(self):
		return len(threads(self.pid))

	def rss_anon_kib(self):
		with open('/proc/%d/status' % self.pid) as f:
			for line in f:
				if line.startswith('RssAnon:'):
					return int(line.split()[1])
		return 0

	def cputime(self):
		with open('/proc/%d/stat' % self.pid) as f:
			v = f.read().rsplit(')', 1)[1].split()
		return (int(v[11]) + int(v[12])) / os.sysconf('SC_CLK_TCK')

	def fresh(self):
		c = Conn(self.path)
		try:
			f = c.features()
		finally:
			c.close()
		if self.features is not None and f != self.features:
			raise ValueError('GET_FEATURES changed: 0x%x, was 0x%x' % (f, self.features))
		return f

	def negotiated(self, ack=True):
		"""A connection with features and protocol features set (REPLY_ACK on)."""
		c = Conn(self.path)
		f = c.features()
		c.send(SET_OWNER)
		want = self.features & (bit(F_VERSION_1) | bit(F_PROTOCOL_FEATURES))
		c.send(SET_FEATURES, u64(want))
		if self.features & bit(F_PROTOCOL_FEATURES):
			# not INBAND_NOTIFICATIONS: without BACKEND_REQ (no channel here)
			# the spec has the back-end close the connection
			pf = self.pfeatures & (bit(PF_MQ) | bit(PF_CONFIG) | bit(PF_CONFIGURE_MEM_SLOTS) |
					       (bit(PF_REPLY_ACK) if ack else 0))
			c.send(SET_PROTOCOL_FEATURES, u64(pf))
		c.features()	# a barrier: everything above was handled
		return c, f

	def has_ack(self):
		return bool(self.pfeatures & bit(PF_REPLY_ACK))

	def check_nack(self, what, v):
		if self.has_ack() and v == 0:
			raise ValueError('%s: REPLY_ACK 0 (success)' % what)

	def run(self, name, fn):
		detail = ''
		ok = True
		try:
			detail = fn() or ''
		except Exception as e:	# noqa: BLE001: any exception fails the case
			ok = False
			detail = '%s: %s' % (type(e).__name__, e)
		if ok and not self.alive():
			ok, detail = False, 'the program died'
		if ok:
			try:
				self.fresh()
			except Exception as e:	# noqa: BLE001
				ok = False
				detail = 'no fresh GET_FEATURES reply: %s: %s' % (type(e).__name__, e)
		if not ok:
			self.failed += 1
		print('%s %s%s' % ('ok  ' if ok else 'FAIL', name, (' (' + detail + ')') if detail else ''),
		      flush=True)

	def settle(self, cond, secs=3.0):
		deadline = time.monotonic() + secs
		while time.monotonic() < deadline:
			if cond():
				return True
			time.sleep(0.05)
		return cond()

	# ------------------------------------------------------------ cases
	def case_headers(self):
		out = []
		for flags in (0x0, 0x2, 0x3, VERSION | 0x10, VERSION | 0x80000000,
			      VERSION | FLAG_REPLY, VERSION | 0xfffffff0):
			c = Conn(self.path)
			try:
				c.send(GET_PROTOCOL_FEATURES, b'', flags)
				try:
					c.features_after_noise()
					out.append('0x%x:goes on' % flags)
				except Closed:
					out.append('0x%x:dropped' % flags)
			finally:
				c.close()
			if not self.alive():
				raise ValueError('died after flags 0x%x' % flags)
		return ' '.join(out)

	def case_oversize(self):
		for size in (MAX_PAYLOAD + 1, 0x10000, 0xffffffff):
			c = Conn(self.path)
			try:
				c.raw(hdr(GET_FEATURES, VERSION, size) + bytes(64))
				c.expect_closed()
			finally:
				c.close()
			self.fresh()
		return 'sizes 4097, 65536, 2^32-1 dropped'

	def case_truncated(self):
		pieces = [hdr(GET_FEATURES, VERSION, 0)[:6],
			  hdr(SET_FEATURES, VERSION, 8) + b'\0' * 4,
			  hdr(SET_MEM_TABLE, VERSION, 8 + REGION.size) + b'\1\0\0\0',
			  hdr(GET_CONFIG, VERSION, MAX_PAYLOAD) + bytes(100)]
		for i, p in enumerate(pieces):
			c = Conn(self.path)
			fds = []
			if i == 2:
				fds = [os.memfd_create('hostile', 0)]
				os.ftruncate(fds[0], 1 << 20)
			c.raw(p, fds)
			for fd in fds:
				os.close(fd)
			c.close()
			self.fresh()
		return '%d torn messages' % len(pieces)

	def case_unknown(self):
		c, _ = self.negotiated()
		try:
			acks = []
			for req in (0, 45, 1000, 0xffffffff):
				v = c.ack(req)
				self.check_nack('request %d' % req, v)
				acks.append('%d->%d' % (req, v))
			c.features()
		finally:
			c.close()
		return ' '.join(acks)

	def case_fd_counts(self):
		out = []
		c, _ = self.negotiated()
		try:
			e = os.eventfd(0)
			m = os.memfd_create('hostile', 0)
			os.ftruncate(m, 1 << 20)
			try:
				# fds on GET_FEATURES: answered (failure: features 0) or not, but the
				# fd must not stay
				c.send(GET_FEATURES, b'', fds=[e, e])
				p = c.reply(GET_FEATURES)
				out.append('features+2fds->%s' % p.hex())
				v = c.ack(SET_VRING_KICK, u64(0), fds=[e, e])
				self.check_nack('SET_VRING_KICK with 2 fds', v)
				out.append('kick2fds->%d' % v)
				v = c.ack(SET_VRING_CALL, u64(0 | NOFD), fds=[e])
				out.append('call NOFD+fd->%d' % v)
				# SET_MEM_TABLE: 2 regions, 1 fd
				regs = (REGION.pack(0, 1 << 19, 0x10000000, 0) +
					REGION.pack(1 << 20, 1 << 19, 0x20000000, 0))
				v = c.ack(SET_MEM_TABLE, STATE.pack(2, 0) + regs, fds=[m])
				self.check_nack('SET_MEM_TABLE 2 regions 1 fd', v)
				out.append('mem 2r/1fd->%d' % v)
				# 1 region, 2 fds
				v = c.ack(SET_MEM_TABLE, STATE.pack(1, 0) + regs[:REGION.size], fds=[m, m])
				self.check_nack('SET_MEM_TABLE 1 region 2 fds', v)
				out.append('mem 1r/2fd->%d' % v)
				# 9 regions with 8 fds, then with 9 fds (over the control buffer)
				regs9 = b''.join(REGION.pack(i << 20, 4096, 0x10000000 + (i << 20), 0)
						 for i in range(9))
				v = c.ack(SET_MEM_TABLE, STATE.pack(9, 0) + regs9, fds=[m] * 8)
				self.check_nack('SET_MEM_TABLE 9 regions 8 fds', v)
				out.append('mem 9r/8fd->%d' % v)
				v = c.ack(SET_MEM_TABLE, STATE.pack(9, 0) + regs9, fds=[m] * 9)
				self.check_nack('SET_MEM_TABLE 9 regions 9 fds', v)
				out.append('mem 9r/9fd->%d' % v)
				# 0 regions with an fd
				v = c.ack(SET_MEM_TABLE, STATE.pack(0, 0), fds=[m])
				out.append('mem 0r/1fd->%d' % v)
				c.features()
			finally:
				os.close(e)
				os.close(m)
		finally:
			c.close()
		return ' '.join(out)

	def case_queue_index(self):
		c, _ = self.negotiated()
		n = 0
		try:
			e = os.eventfd(0)
			try:
				for idx in range(self.num_queues, 256):
					for req in (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE,
						    SET_VRING_ENDIAN, VRING_KICK):
						v = c.ack(req, STATE.pack(idx, 1 if req != SET_VRING_NUM else 64))
						self.check_nack('request %d index %d' % (req, idx), v)
						n += 1
					v = c.ack(SET_VRING_ADDR, ADDR.pack(idx, 0, 0, 0x1000, 0x2000, 0))
					self.check_nack('SET_VRING_ADDR index %d' % idx, v)
					for req in (SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR):
						v = c.ack(req, u64(idx), fds=[e])
						self.check_nack('request %d index %d (fd)' % (req, idx), v)
						v = c.ack(req, u64(idx | NOFD))
						self.check_nack('request %d index %d (NOFD)' % (req, idx), v)
						n += 2
					# GET_VRING_BASE answers always: a never-used ring (num 0)
					p = c.call(GET_VRING_BASE, STATE.pack(idx, 0))
					if len(p) != 8 or STATE.unpack(p)[1] != 0:
						raise ValueError('GET_VRING_BASE %d answered %s' % (idx, p.hex()))
					n += 2
				# the index is a full u32 in the state rows
				for idx in (256, 0x10000, 0xffffffff):
					v = c.ack(SET_VRING_NUM, STATE.pack(idx, 64))
					self.check_nack('SET_VRING_NUM index 0x%x' % idx, v)
					n += 1
				c.features()
			finally:
				os.close(e)
		finally:
			c.close()
		return '%d requests, indices %d..255 and 256, 2^16, 2^32-1' % (n, self.num_queues)

	def mem_case(self, c, regions, fds, what):
		payload = STATE.pack(len(regions), 0) + b''.join(REGION.pack(*r) for r in regions)
		v = c.ack(SET_MEM_TABLE, payload, fds=fds)
		self.check_nack(what, v)
		return v

	def case_regions(self):
		c, _ = self.negotiated()
		M = 1 << 20
		out = []
		fds = []
		try:
			for _ in range(2):
				m = os.memfd_create('hostile', 0)
				os.ftruncate(m, M)
				fds.append(m)
			small = os.memfd_create('hostile-small', 0)
			os.ftruncate(small, 4096)
			fds.append(small)
			r, w = os.pipe()
			fds += [r, w]
			e = os.eventfd(0)
			fds.append(e)
			a, b = fds[0], fds[1]
			tests = [
				('overlap', [(0, M, 0x10000000, 0), (M // 2, M, 0x20000000, 0)], [a, b]),
				('same gpa', [(0, M, 0x10000000, 0), (0, M, 0x20000000, 0)], [a, b]),
				('gpa wraps', [(2**64 - 4096, 2 * 4096, 0x10000000, 0)], [a]),
				('uva wraps', [(0, M, 2**64 - 4096, 0)], [a]),
				('offset wraps', [(0, 4096, 0x10000000, 2**64 - 4096)], [a]),
				('offset past off_t', [(0, 4096, 0x10000000, 2**63)], [a]),
				('size 0', [(0, 0, 0x10000000, 0)], [a]),
				('size 2^64-1', [(0, 2**64 - 1, 0x10000000, 0)], [a]),
				('fd too small', [(0, M, 0x10000000, 0)], [small]),
				('offset past fd end', [(0, 4096, 0x10000000, M)], [a]),
				('pipe', [(0, M, 0x10000000, 0)], [r]),
				('eventfd', [(0, M, 0x10000000, 0)], [e]),
			]
			for what, regions, rfds in tests:
				v = self.mem_case(c, regions, rfds, what)
				out.append('%s->%d' % (what, v))
			if self.pfeatures & bit(PF_CONFIGURE_MEM_SLOTS):
				for what, reg, fd in (('add: fd too small', (0, M, 0x10000000, 0), small),
						      ('add: pipe', (0, M, 0x10000000, 0), r),
						      ('add: gpa wraps', (2**64 - 4096, 8192, 0x10000000, 0), a)):
					v = c.ack(ADD_MEM_REG, u64(0) + REGION.pack(*reg), fds=[fd])
					self.check_nack(what, v)
					out.append('%s->%d' % (what, v))
			c.features()
		finally:
			for fd in fds:
				os.close(fd)
			c.close()
		return ' '.join(out)

	def case_config(self):
		c, _ = self.negotiated()
		out = []
		try:
			for off, size, plen in ((0xffffffff, 16, 16), (0xfffffff0, 0x20, 0x20),
						(16, 0xfffffff0, 16), (0, 0xffffffff, 256),
						(0x80000000, 0x80000000, 16)):
				p = c.call(GET_CONFIG, CONFIG_HDR.pack(off, size, 0) + bytes(plen))
				if len(p) < CONFIG_HDR.size:
					raise ValueError('GET_CONFIG reply of %d bytes' % len(p))
				roff, rsize, _ = CONFIG_HDR.unpack_from(p)
				if rsize != 0 or len(p) != CONFIG_HDR.size:
					raise ValueError('GET_CONFIG 0x%x+0x%x answered size %d (%d bytes)' %
							 (off, size, rsize, len(p)))
				out.append('0x%x+0x%x' % (off, size))
			c.features()
		finally:
			c.close()
		return 'failed (size 0): ' + ' '.join(out)

	def case_vring_num(self):
		c, _ = self.negotiated()
		out = []
		try:
			for num in (0, 3, 65536, 0xffffffff):
				v = c.ack(SET_VRING_NUM, STATE.pack(0, num))
				self.check_nack('SET_VRING_NUM %d' % num, v)
				out.append('%d->%d' % (num, v))
			c.features()
		finally:
			c.close()
		return ' '.join(out)

	def case_iotlb(self):
		"""Issue 17: IOTLB_MSG without ACCESS_PLATFORM, then hostile ones with it."""
		c, f = self.negotiated()
		out = []
		try:
			v = c.ack(IOTLB_MSG, IOTLB.pack(0x1000, 0x1000, 0x7f0000000000, 3, IOTLB_UPDATE))
			self.check_nack('IOTLB_MSG without ACCESS_PLATFORM', v)
			out.append('no-feature->%d' % v)
			if not f & bit(F_ACCESS_PLATFORM):
				raise ValueError('ACCESS_PLATFORM (bit 33) not offered: features 0x%x' % f)
			c.send(SET_FEATURES, u64(f & (bit(F_VERSION_1) | bit(F_PROTOCOL_FEATURES) |
						      bit(F_ACCESS_PLATFORM))))
			for what, m in (('size 0', (0x1000, 0, 0x7f0000000000, 3, IOTLB_UPDATE)),
					('wrap', (2**64 - 0x100, 0x1000, 0x7f0000000000, 3, IOTLB_UPDATE)),
					('perm 0x84', (0x1000, 0x1000, 0x7f0000000000, 0x84, IOTLB_UPDATE)),
					('no memory', (0x1000, 0x1000, 0x7f0000000000, 3, IOTLB_UPDATE)),
					('MISS', (0x1000, 0x1000, 0, 1, IOTLB_MISS)),
					('type 99', (0x1000, 0x1000, 0, 1, 99))):
				v = c.ack(IOTLB_MSG, IOTLB.pack(*m))
				self.check_nack('IOTLB_MSG %s' % what, v)
				out.append('%s->%d' % (what.replace(' ', '-'), v))
			for what, m in (('invalidate nothing', (0x5000, 0x1000)), ('invalidate all', (0, 0))):
				v = c.ack(IOTLB_MSG, IOTLB.pack(m[0], m[1], 0, 0, IOTLB_INVALIDATE))
				if self.has_ack() and v != 0:
					raise ValueError('IOTLB_MSG %s: ack %d, expected 0' % (what, v))
			c.features()
		finally:
			c.close()
		return ' '.join(out)

	def case_loop_ring(self):
		"""A split ring whose desc[0] points to itself: only that queue breaks.
		$HOSTILE_LOOP_QUEUE names the queue (0): one the device reads buffers
		from as soon as they come (vhu-input fills queue 0 only with events)."""
		c, _ = self.negotiated()
		q = int(os.environ.get('HOSTILE_LOOP_QUEUE', '0'))
		M = 1 << 20
		QN = 8
		UVA = 0x7f0000000000
		m = os.memfd_create('hostile-ring', 0)
		os.ftruncate(m, M)
		mem = mmap.mmap(m, M)
		kick, call, err = os.eventfd(0), os.eventfd(0), os.eventfd(0)
		try:
			v = c.ack(SET_MEM_TABLE, STATE.pack(1, 0) + REGION.pack(0, M, UVA, 0), fds=[m])
			if v != 0 and self.has_ack():
				raise ValueError('a valid SET_MEM_TABLE failed: %d' % v)
			# the leak check can see a mapping: this one must show
			mapped = self.nmemfd()
			if mapped == 0:
				raise ValueError('no memfd mapping in /proc/PID/maps after SET_MEM_TABLE')
			DESC_A, AVAIL_A, USED_A = 0x0, 0x1000, 0x2000
			DESC.pack_into(mem, DESC_A, 0x10000, 512, VRING_DESC_F_NEXT, 0)
			struct.pack_into('<HHH', mem, AVAIL_A, 0, 1, 0)	# flags, idx 1, ring[0] = 0
			for req, payload, fds in (
					(SET_VRING_NUM, STATE.pack(q, QN), ()),
					(SET_VRING_ADDR, ADDR.pack(q, 0, UVA + DESC_A, UVA + USED_A,
								   UVA + AVAIL_A, 0), ()),
					(SET_VRING_BASE, STATE.pack(q, 0), ()),
					(SET_VRING_CALL, u64(q), (call,)),
					(SET_VRING_ERR, u64(q), (err,)),
					(SET_VRING_KICK, u64(q), (kick,)),
					(SET_VRING_ENABLE, STATE.pack(q, 1), ())):
				v = c.ack(req, payload, fds=fds)
				if v != 0 and self.has_ack():
					raise ValueError('ring setup: request %d failed: %d' % (req, v))
			os.eventfd_write(kick, 1)
			r, _, _ = select.select([err], [], [], TIMEOUT)
			signalled = bool(r)
			# the back-end does not spin on the broken queue
			time.sleep(0.3)
			t0 = self.cputime()
			time.sleep(1.0)
			busy = self.cputime() - t0
			if busy > 0.5:
				raise ValueError('the program used %.2f s of CPU in 1 s after the loop' % busy)
			# the connection goes on
			f = c.features()
			if f != self.features:
				raise ValueError('GET_FEATURES on the connection: 0x%x' % f)
			os.eventfd_write(kick, 1)	# a kick on a broken queue is ignored
			c.features()
			used_idx = struct.unpack_from('<H', mem, USED_A + 2)[0]
			if used_idx != 0:
				raise ValueError('used idx moved to %d' % used_idx)
			if not signalled:
				raise ValueError('the err eventfd was not signalled')
			p = c.call(GET_VRING_BASE, STATE.pack(q, 0))
			c.features()
		finally:
			c.close()
			mem.close()
			for fd in (m, kick, call, err):
				os.close(fd)
		return ('%d memfd mapping(s) while set up, err eventfd signalled, cpu %.2f s/s, '
			'connection goes on, GET_VRING_BASE %s' % (mapped, busy, p.hex()))

	# ------------------------------------------------------------ main
	def main(self):
		c = Conn(self.path)
		self.features = c.features()
		if self.features & bit(F_PROTOCOL_FEATURES):
			self.pfeatures = struct.unpack('<Q', c.call(GET_PROTOCOL_FEATURES))[0]
			c.send(SET_PROTOCOL_FEATURES, u64(self.pfeatures & bit(PF_MQ)))
			if self.pfeatures & bit(PF_MQ):
				self.num_queues = struct.unpack('<Q', c.call(GET_QUEUE_NUM))[0]
		c.close()
		self.fresh()
		# the baseline: after a clean connection closed, once the count is stable
		time.sleep(0.3)
		fds0, memfd0 = self.nfds(), self.nmemfd()
		print('baseline: features 0x%x protocol 0x%x queues %d, %d fds, %d memfd mappings' %
		      (self.features, self.pfeatures, self.num_queues, fds0, memfd0), flush=True)
		if not self.has_ack():
			print('note: no REPLY_ACK: failures cannot be checked one by one', flush=True)

		threads0 = self.nthreads()
		only = os.environ.get('HOSTILE_ONLY', '').split()
		skip = os.environ.get('HOSTILE_SKIP', '').split()
		passes = int(os.environ.get('HOSTILE_PASSES', '5'))
		rss = []
		for n in range(passes):
			print('pass %d of %d' % (n + 1, passes), flush=True)
			for name in ('headers', 'oversize', 'truncated', 'unknown', 'fd_counts',
				     'queue_index', 'regions', 'config', 'vring_num', 'loop_ring', 'iotlb'):
				if (only and name not in only) or name in skip:
					if n == 0:
						print('skip %s' % name, flush=True)
					continue
				self.run(name, getattr(self, 'case_' + name))
				if not self.alive():
					break
			if not self.alive():
				break
			self.settle(lambda: self.nthreads() <= threads0)
			rss.append(self.rss_anon_kib())

		if self.alive():
			ok = self.settle(lambda: self.nfds() <= fds0 and self.nmemfd() <= memfd0 and
					 self.nthreads() <= threads0)
			fds1, memfd1, threads1 = self.nfds(), self.nmemfd(), self.nthreads()
			print('%s leaks: %d fds (baseline %d), %d memfd mappings (baseline %d), '
			      '%d threads (baseline %d)' %
			      ('ok  ' if ok else 'FAIL', fds1, fds0, memfd1, memfd0, threads1, threads0),
			      flush=True)
			if not ok:
				self.failed += 1
				os.system('ls -l /proc/%d/fd; grep memfd: /proc/%d/maps; ls /proc/%d/task' %
					  (self.pid, self.pid, self.pid))
			if 'ASAN_OPTIONS' in os.environ:
				# ASan's quarantine keeps freed memory for a while: RSS grows
				# without a leak. LeakSanitizer checks leaks in that build.
				print('skip memory growth check under ASan (LeakSanitizer covers leaks)',
				      flush=True)
			elif len(rss) >= 4:
				grew = rss[-1] - rss[2]
				ok = grew <= 128
				print('%s memory: RssAnon %s KiB after each pass (%+d KiB from the third '
				      'to the last)' % ('ok  ' if ok else 'FAIL', ' '.join(map(str, rss)),
							 grew), flush=True)
				if not ok:
					self.failed += 1
		print('%s: %d case(s) failed' % ('FAIL' if self.failed else 'PASS', self.failed))
		return 1 if self.failed else 0


if __name__ == '__main__':
	if len(sys.argv) != 3:
		sys.exit(__doc__)
	sys.exit(Hostile(sys.argv[1], int(sys.argv[2])).main())
