#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tiny vhost-user peers for the interop tests, written from the spec and
independent of libvhu, so that they can judge vhu-probe.

  vu_peer.py query SOCK [--config-size N]
      Front-end side: ask a back-end GET_FEATURES, GET_PROTOCOL_FEATURES,
      GET_QUEUE_NUM, GET_MAX_MEM_SLOTS and GET_CONFIG (each only when the
      back-end offers what makes it valid) and print one JSON object.

  vu_peer.py serve MODE SOCK
      Back-end side: a fake back-end. 'ok-blk' and 'ok-net' answer like a
      well-behaved device with known values (see FAKE_* below); the other
      modes misbehave in one precise way (see MODES). Wait for the socket
      to listen (lib.sh wait_socket reads /proc/net/unix), not just for the
      file: the file appears at bind(), before listen().
"""
import json
import socket
import struct
import sys
import time

VERSION = 0x1
FLAG_REPLY = 0x4
FLAG_NEED_REPLY = 0x8

GET_FEATURES = 1
SET_FEATURES = 2
GET_VRING_BASE = 11
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
GET_QUEUE_NUM = 17
GET_CONFIG = 24
GET_INFLIGHT_FD = 31
GET_MAX_MEM_SLOTS = 36
GET_STATUS = 40

F_PROTOCOL_FEATURES = 30
PF_MQ = 0
PF_REPLY_ACK = 3
PF_CONFIG = 9
PF_CONFIGURE_MEM_SLOTS = 15

HDR = struct.Struct('<III')
CONFIG_HDR = struct.Struct('<III')	# offset, size, flags


def bit(n):
	return 1 << n


def recv_exact(s, n):
	buf = b''
	while len(buf) < n:
		chunk = s.recv(n - len(buf))
		if not chunk:
			raise EOFError('peer closed after %d of %d bytes' % (len(buf), n))
		buf += chunk
	return buf


def recv_msg(s):
	req, flags, size = HDR.unpack(recv_exact(s, HDR.size))
	return req, flags, recv_exact(s, size)


def send_msg(s, req, payload=b'', flags=VERSION):
	s.sendall(HDR.pack(req, flags, len(payload)) + payload)


# ---------------------------------------------------------------- query

def call(s, req, payload=b''):
	send_msg(s, req, payload)
	rreq, rflags, rpayload = recv_msg(s)
	if rreq != req:
		raise ValueError('reply to %d has request id %d' % (req, rreq))
	if rflags != (VERSION | FLAG_REPLY):
		raise ValueError('reply to %d has flags 0x%x' % (req, rflags))
	return rpayload


def call_u64(s, req):
	p = call(s, req)
	if len(p) != 8:
		raise ValueError('reply to %d has size %d, not 8' % (req, len(p)))
	return struct.unpack('<Q', p)[0]


def query(path, config_size, timeout=5):
	out = {'features': None, 'protocol_features': None, 'queue_num': None,
	       'max_mem_slots': None, 'config_raw': None}
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(timeout)
	s.connect(path)
	f = call_u64(s, GET_FEATURES)
	out['features'] = f
	if f & bit(F_PROTOCOL_FEATURES):
		pf = call_u64(s, GET_PROTOCOL_FEATURES)
		out['protocol_features'] = pf
		send_msg(s, SET_PROTOCOL_FEATURES, struct.pack('<Q', pf & (
			bit(PF_MQ) | bit(PF_CONFIG) | bit(PF_CONFIGURE_MEM_SLOTS))))
		if pf & bit(PF_MQ):
			out['queue_num'] = call_u64(s, GET_QUEUE_NUM)
		if pf & bit(PF_CONFIGURE_MEM_SLOTS):
			out['max_mem_slots'] = call_u64(s, GET_MAX_MEM_SLOTS)
		if pf & bit(PF_CONFIG) and config_size > 0:
			p = call(s, GET_CONFIG, CONFIG_HDR.pack(0, config_size, 0) +
				 bytes(config_size))
			# size 0 is the back-end's way to say it failed
			if len(p) == CONFIG_HDR.size + config_size:
				out['config_raw'] = p[CONFIG_HDR.size:].hex()
	s.close()
	return out


# ---------------------------------------------------------------- fake back-end

def blk_config():
	c = bytearray(60)
	struct.pack_into('<Q', c, 0, 0x123456789)	# capacity: above 32 bits
	struct.pack_into('<I', c, 8, 65536)		# size_max
	struct.pack_into('<I', c, 12, 126)		# seg_max
	struct.pack_into('<I', c, 20, 4096)		# blk_size
	struct.pack_into('<H', c, 34, 5)		# num_queues
	return bytes(c)


def net_config():
	c = bytearray(12)
	c[0:6] = bytes([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef])	# mac
	struct.pack_into('<H', c, 6, 1)			# status: LINK_UP
	struct.pack_into('<H', c, 8, 4)			# max_virtqueue_pairs
	struct.pack_into('<H', c, 10, 1400)		# mtu
	return bytes(c)


# Well-behaved fakes. Feature bit 49 is "reserved for future extensions" in
# virtio 1.2 and protocol bit 50 is unassigned: a probe must list them as
# "bit 49" / "bit 50".
FAKE_BLK = {
	'features': bit(1) | bit(2) | bit(5) | bit(6) | bit(12) | bit(28) | bit(30) |
		bit(32) | bit(49),
	'protocol_features': bit(PF_MQ) | bit(PF_REPLY_ACK) | bit(PF_CONFIG) |
		bit(PF_CONFIGURE_MEM_SLOTS) | bit(50),
	'queue_num': 5,
	'max_mem_slots': 16,
	'config': blk_config(),
}
FAKE_NET = {
	'features': bit(0) | bit(3) | bit(5) | bit(15) | bit(16) | bit(22) | bit(29) |
		bit(30) | bit(32) | bit(34) | bit(49),
	'protocol_features': bit(PF_MQ) | bit(PF_CONFIG) | bit(50),
	'queue_num': 8,
	'max_mem_slots': None,
	'config': net_config(),
}

MODES = {
	'ok-blk': 'a well-behaved blk back-end (FAKE_BLK)',
	'ok-net': 'a well-behaved net back-end (FAKE_NET)',
	'close': 'accepts and closes at once',
	'silent': 'accepts, reads everything, never answers',
	'noaccept': 'listens but never accepts',
	'nolisten': 'binds the socket but never listens (connect is refused)',
	'badid': 'answers GET_FEATURES with another request id',
	'size0': 'answers GET_FEATURES with a size 0 payload',
	'size16': 'answers GET_FEATURES with a 16-byte payload',
	'truncated': 'sends a GET_FEATURES reply header announcing 8 bytes, 4 bytes, then closes',
	'noreplyflag': 'answers GET_FEATURES without the reply flag (bit 2)',
	'badversion': 'answers GET_FEATURES with version 2 in the flags',
	'pf-badid': 'answers GET_FEATURES well, GET_PROTOCOL_FEATURES with another id',
}


def u64(v):
	return struct.pack('<Q', v)


def serve_ok(conn, dev):
	acked = False
	while True:
		try:
			req, flags, payload = recv_msg(conn)
		except EOFError:
			return
		print('request %d flags 0x%x size %d' % (req, flags, len(payload)), flush=True)
		reply = None
		if req == GET_FEATURES:
			reply = u64(dev['features'])
		elif req == GET_PROTOCOL_FEATURES:
			reply = u64(dev['protocol_features'])
		elif req == SET_PROTOCOL_FEATURES and len(payload) == 8:
			acked = bool(struct.unpack('<Q', payload)[0] & bit(PF_REPLY_ACK))
		elif req == GET_QUEUE_NUM:
			reply = u64(dev['queue_num'])
		elif req == GET_MAX_MEM_SLOTS and dev['max_mem_slots'] is not None:
			reply = u64(dev['max_mem_slots'])
		elif req == GET_CONFIG and len(payload) >= CONFIG_HDR.size:
			off, size, cflags = CONFIG_HDR.unpack_from(payload)
			data = (dev['config'] + bytes(max(0, off + size)))[off:off + size]
			reply = CONFIG_HDR.pack(off, size, cflags) + data
		elif req == GET_STATUS:
			reply = u64(0)
		elif req in (GET_VRING_BASE, GET_INFLIGHT_FD):
			return	# not something a probe asks; hang up
		if reply is None and acked and flags & FLAG_NEED_REPLY:
			reply = u64(0)
		if reply is not None:
			send_msg(conn, req, reply, VERSION | FLAG_REPLY)


def serve_bad(conn, mode):
	while True:
		try:
			req, flags, payload = recv_msg(conn)
		except EOFError:
			return
		if req == GET_FEATURES:
			f = bit(F_PROTOCOL_FEATURES) | bit(32)
			if mode == 'badid':
				send_msg(conn, GET_FEATURES + 1, u64(f), VERSION | FLAG_REPLY)
			elif mode == 'size0':
				send_msg(conn, req, b'', VERSION | FLAG_REPLY)
			elif mode == 'size16':
				send_msg(conn, req, u64(f) + u64(0), VERSION | FLAG_REPLY)
			elif mode == 'truncated':
				conn.sendall(HDR.pack(req, VERSION | FLAG_REPLY, 8) + u64(f)[:4])
				return
			elif mode == 'noreplyflag':
				send_msg(conn, req, u64(f), VERSION)
			elif mode == 'badversion':
				send_msg(conn, req, u64(f), 0x2 | FLAG_REPLY)
			else:
				send_msg(conn, req, u64(f), VERSION | FLAG_REPLY)
		elif req == GET_PROTOCOL_FEATURES and mode == 'pf-badid':
			send_msg(conn, GET_QUEUE_NUM, u64(bit(PF_MQ)), VERSION | FLAG_REPLY)
		elif req == GET_PROTOCOL_FEATURES:
			send_msg(conn, req, u64(0), VERSION | FLAG_REPLY)


def listen_at(path, listen=True):
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.bind(path)
	if listen:
		s.listen(1)
	return s


def serve(mode, path):
	if mode not in MODES:
		sys.exit('unknown mode %s; one of: %s' % (mode, ', '.join(MODES)))
	if mode == 'nolisten':
		listen_at(path, listen=False)
		while True:
			time.sleep(3600)
	s = listen_at(path)
	if mode == 'noaccept':
		while True:
			time.sleep(3600)
	while True:
		conn, _ = s.accept()
		print('%s: connection' % mode, flush=True)
		try:
			if mode == 'close':
				pass
			elif mode == 'silent':
				while conn.recv(4096):
					pass
			elif mode == 'ok-blk':
				serve_ok(conn, FAKE_BLK)
			elif mode == 'ok-net':
				serve_ok(conn, FAKE_NET)
			else:
				serve_bad(conn, mode)
		except OSError as e:
			print('%s: %s' % (mode, e), flush=True)
		conn.close()
		print('%s: closed' % mode, flush=True)


def fake_json(mode):
	"""What vhu-probe should report for a well-behaved fake."""
	dev = FAKE_BLK if mode == 'ok-blk' else FAKE_NET
	return {'features': dev['features'], 'protocol_features': dev['protocol_features'],
		'queue_num': dev['queue_num'], 'max_mem_slots': dev['max_mem_slots'],
		'config_raw': dev['config'].hex()}


def main(argv):
	if len(argv) >= 3 and argv[1] == 'query':
		size = 0
		if len(argv) == 5 and argv[3] == '--config-size':
			size = int(argv[4])
		print(json.dumps(query(argv[2], size)))
	elif len(argv) == 4 and argv[1] == 'serve':
		serve(argv[2], argv[3])
	elif len(argv) == 3 and argv[1] == 'expect':
		print(json.dumps(fake_json(argv[2])))
	else:
		sys.exit(__doc__)


if __name__ == '__main__':
	main(sys.argv)
