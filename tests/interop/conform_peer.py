#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small vhost-user rng back-end, right or broken on purpose, for vhu-conform.

  conform_peer.py [--fault=FAULT] (--socket-path=PATH | --fd=N | --print-capabilities)

Written from the spec (docs/interop/vhost-user.rst), independent of libvhu:
one process, one connection at a time, one virtio-rng queue of a split ring
whose device-writable buffers it fills with random bytes. With no fault it
follows every rule vhu-conform checks, so a failure there is the checker's;
each FAULT breaks the rules of one category of checks, so that each category
is shown to be able to fail:

  gating     acks 0 (success) to every request, gated or unknown
  reply-ack  never answers NEED_REPLY
  rings      processes rings that are disabled, and after GET_VRING_BASE
  bounds     trusts the queue index of every ring request (dies on one out
             of range)
  content    follows descriptor chains without a bound (spins on a loop)
  reconnect  stops accepting once a front-end that shared memory left
  program    --print-capabilities prints no JSON; SIGTERM is ignored
  device     completes rng buffers without writing into them
  memory     keeps 256 KiB for every connection, forever (a leak)
"""
import mmap
import os
import select
import signal
import socket
import struct
import sys

HDR = struct.Struct('<III')
VERSION, REPLY, NEED_REPLY = 0x1, 0x4, 0x8
F_VERSION_1, F_PROTOCOL_FEATURES = 32, 30
PF_MQ, PF_REPLY_ACK = 0, 3
FEATURES = (1 << F_VERSION_1) | (1 << F_PROTOCOL_FEATURES)
PFEATURES = (1 << PF_MQ) | (1 << PF_REPLY_ACK)
(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, SET_LOG_BASE,
 SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE,
 SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES,
 SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE) = range(1, 19)
STATE = struct.Struct('<II')
ADDR = struct.Struct('<IIQQQQ')
REGION = struct.Struct('<QQQQ')
DESC = struct.Struct('<QIHH')
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
MAX_PAYLOAD = 4096


class Vq:
	def __init__(self):
		self.num = 0
		self.desc = self.avail = self.used = None
		self.last = 0
		self.kick = self.call = self.err = None
		self.enabled = False
		self.started = False

	def close_fds(self):
		for fd in (self.kick, self.call, self.err):
			if fd is not None:
				os.close(fd)
		self.kick = self.call = self.err = None


class Peer:
	def __init__(self, fault):
		self.fault = fault
		self.reset()

	def reset(self):
		self.features = 0
		self.pfeatures = 0
		self.regions = []	# (gpa, size, uva, mmap)
		self.vqs = [Vq()]

	def close(self):
		for vq in self.vqs:
			vq.close_fds()
		for r in self.regions:
			r[3].close()
		self.reset()

	# ------------------------------------------------------------ memory
	def find(self, addr, size, uva):
		for gpa, rsize, ruva, m in self.regions:
			base = ruva if uva else gpa
			if base <= addr and size <= rsize and addr - base <= rsize - size:
				return m, addr - base
		raise ValueError('address 0x%x+%d not in memory' % (addr, size))

	def read(self, gpa, size):
		m, off = self.find(gpa, size, False)
		return m[off:off + size]

	def write(self, gpa, data):
		m, off = self.find(gpa, len(data), False)
		m[off:off + len(data)] = data

	# ------------------------------------------------------------ rings
	def chain(self, vq, head):
		"""The buffers of one chain: [(gpa, len, writable)]."""
		out, i, n = [], head, 0
		while True:
			if i >= vq.num:
				raise ValueError('descriptor %d beyond the ring' % i)
			m, off = vq.desc
			addr, ln, flags, nxt = DESC.unpack_from(m, off + 16 * i)
			if flags & F_INDIRECT:
				raise ValueError('indirect descriptors not offered')
			out.append((addr, ln, bool(flags & F_WRITE)))
			n += 1
			if self.fault != 'content' and n > vq.num:
				raise ValueError('a chain longer than the ring')
			if not flags & F_NEXT:
				return out
			i = nxt

	def process(self, vq):
		if not vq.started or vq.desc is None:
			return
		if not vq.enabled and self.fault != 'rings':
			return
		am, aoff = vq.avail
		um, uoff = vq.used
		avail_idx = struct.unpack_from('<H', am, aoff + 2)[0]
		if (avail_idx - vq.last) & 0xffff > vq.num:
			raise ValueError('avail idx %d too far ahead of %d' % (avail_idx, vq.last))
		while vq.last != avail_idx:
			head = struct.unpack_from('<H', am, aoff + 4 + 2 * (vq.last % vq.num))[0]
			if head >= vq.num:
				raise ValueError('head %d beyond the ring' % head)
			written = 0
			for addr, ln, w in self.chain(vq, head):
				data = os.urandom(ln) if w else None
				if w and self.fault != 'device':
					self.write(addr, data)
					written += ln
				else:
					self.read(addr, ln)
			uidx = struct.unpack_from('<H', um, uoff + 2)[0]
			struct.pack_into('<II', um, uoff + 4 + 8 * (uidx % vq.num), head, written)
			struct.pack_into('<H', um, uoff + 2, (uidx + 1) & 0xffff)
			vq.last = (vq.last + 1) & 0xffff
		if vq.call is not None:
			os.eventfd_write(vq.call, 1)

	def kicked(self, vq):
		try:
			os.eventfd_read(vq.kick)
		except BlockingIOError:
			pass
		vq.started = True
		try:
			self.process(vq)
		except ValueError as e:
			print('conform_peer: queue broken: %s' % e, file=sys.stderr, flush=True)
			if vq.err is not None:
				os.eventfd_write(vq.err, 1)
			vq.desc = None

	# ------------------------------------------------------------ messages
	def vq_at(self, idx):
		if self.fault == 'bounds':
			return self.vqs[idx]	# IndexError: the process dies
		if idx >= len(self.vqs):
			raise ValueError('queue %d out of range' % idx)
		return self.vqs[idx]

	def handle(self, req, flags, p, fds):
		"""Return (reply payload or None, success)."""
		u64 = struct.unpack_from('<Q', p)[0] if len(p) >= 8 else 0
		if req == GET_FEATURES:
			return struct.pack('<Q', FEATURES), True
		if req == GET_PROTOCOL_FEATURES:
			return struct.pack('<Q', PFEATURES), True
		if req == GET_QUEUE_NUM and self.pfeatures & (1 << PF_MQ):
			return struct.pack('<Q', len(self.vqs)), True
		if req == SET_PROTOCOL_FEATURES:
			self.pfeatures = u64 & PFEATURES
			return None, True
		if req == SET_OWNER:
			return None, True
		if req == SET_FEATURES:
			if u64 & ~FEATURES:
				return None, False
			self.features = u64
			if not u64 & (1 << F_PROTOCOL_FEATURES):
				for vq in self.vqs:
					vq.enabled = True
			return None, True
		if req == SET_MEM_TABLE:
			n = struct.unpack_from('<I', p)[0]
			if n != len(fds) or n > 8 or len(p) != 8 + 32 * n:
				return None, False
			regions = []
			for i in range(n):
				gpa, size, uva, off = REGION.unpack_from(p, 8 + 32 * i)
				if not size or size > 1 << 40 or gpa + size > 1 << 64 or uva + size > 1 << 64:
					return None, False
				try:
					if os.fstat(fds[i]).st_size < off + size:
						return None, False
					regions.append((gpa, size, uva, mmap.mmap(fds[i], size, offset=off)))
				except (OSError, ValueError, OverflowError):
					return None, False
			for r in self.regions:
				r[3].close()
			self.regions = regions
			return None, True
		if req in (SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE, GET_VRING_BASE):
			idx, num = STATE.unpack_from(p)
			vq = self.vq_at(idx)
			if req == SET_VRING_NUM:
				if not num or num > 32768 or num & (num - 1):
					return None, False
				vq.num = num
			elif req == SET_VRING_BASE:
				vq.last = num & 0xffff
			elif req == SET_VRING_ENABLE:
				if not self.features & (1 << F_PROTOCOL_FEATURES) or num > 1:
					return None, False
				vq.enabled = bool(num)
				if vq.enabled and vq.kick is not None:
					self.process(vq)
			else:
				if self.fault == 'rings':
					return STATE.pack(idx, 0), True
				vq.started = False
				if vq.kick is not None:	# as QEMU's libvhost-user and DPDK do
					os.close(vq.kick)
					vq.kick = None
				return STATE.pack(idx, vq.last), True
			return None, True
		if req == SET_VRING_ADDR:
			idx, _, desc, used, avail, _ = ADDR.unpack_from(p)
			vq = self.vq_at(idx)
			if not vq.num:
				return None, False
			vq.desc = self.find(desc, 16 * vq.num, True)
			vq.avail = self.find(avail, 6 + 2 * vq.num, True)
			vq.used = self.find(used, 6 + 8 * vq.num, True)
			return None, True
		if req in (SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR):
			vq = self.vq_at(u64 & 0xff)
			if u64 & ~0x1ff or len(fds) != (0 if u64 & 0x100 else 1):
				return None, False
			fd = fds.pop() if fds else None
			attr = {SET_VRING_KICK: 'kick', SET_VRING_CALL: 'call', SET_VRING_ERR: 'err'}[req]
			if getattr(vq, attr) is not None:
				os.close(getattr(vq, attr))
			setattr(vq, attr, fd)
			return None, True
		return None, False

	def serve(self, conn):
		"""Messages until the front-end leaves; kicks in between."""
		while True:
			rl = [conn] + [vq.kick for vq in self.vqs if vq.kick is not None]
			r, _, _ = select.select(rl, [], [])
			for vq in self.vqs:
				if vq.kick in r:
					self.kicked(vq)
			if conn not in r:
				continue
			try:
				hdr, fds, _, _ = socket.recv_fds(conn, HDR.size, 8)
			except OSError:
				return
			fds = list(fds)
			if len(hdr) < HDR.size:
				return
			req, flags, size = HDR.unpack(hdr)
			if size > MAX_PAYLOAD:
				return
			p = b''
			while len(p) < size:
				more = conn.recv(size - len(p))
				if not more:
					return
				p += more
			try:
				reply, ok = self.handle(req, flags, p, fds)
			except (ValueError, struct.error) as e:
				print('conform_peer: request %d: %s' % (req, e), file=sys.stderr, flush=True)
				reply, ok = None, False
			for fd in fds:
				os.close(fd)
			if self.fault == 'gating':
				ok = True
			if reply is None and flags & NEED_REPLY and self.pfeatures & (1 << PF_REPLY_ACK):
				if self.fault == 'reply-ack':
					continue
				reply = struct.pack('<Q', 0 if ok else 1)
			if reply is not None:
				conn.sendall(HDR.pack(req, VERSION | REPLY, len(reply)) + reply)


def main(argv):
	fault, path, fd = 'none', None, None
	for a in argv[1:]:
		if a.startswith('--fault='):
			fault = a.split('=', 1)[1]
		elif a.startswith('--socket-path='):
			path = a.split('=', 1)[1]
		elif a.startswith('--fd='):
			fd = int(a.split('=', 1)[1])
		elif a == '--print-capabilities':
			print('type: rng' if fault == 'program' else '{"type": "rng", "features": []}')
			return 0
		else:
			print(__doc__, file=sys.stderr)
			return 2
	if fault == 'program':
		signal.signal(signal.SIGTERM, signal.SIG_IGN)
	else:
		signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
	peer = Peer(fault)
	if fd is not None:
		peer.serve(socket.socket(fileno=fd))
		return 0
	if path is None:
		print(__doc__, file=sys.stderr)
		return 2
	ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	ls.bind(path)
	ls.listen(1)
	leaked = []
	while True:
		conn, _ = ls.accept()
		if fault == 'memory':
			leaked.append(bytearray(os.urandom(256 * 1024)))
		peer.serve(conn)
		conn.close()
		had_memory = bool(peer.regions)
		peer.close()
		if fault == 'reconnect' and had_memory:
			ls.close()
			signal.pause()


if __name__ == '__main__':
	sys.exit(main(sys.argv))
