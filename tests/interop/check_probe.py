#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Judge one `vhu-probe --json` output.

  check_probe.py consistent FILE [--type blk|net|fs]
      The object is self-consistent: "features" equals the sum of
      "feature_bits", one name per bit in the same order, spec names for the
      well-known bits, "bit N" for the others; the same for the protocol
      features; the fields that need a protocol feature are null without it;
      the decoded config fields equal what "config.raw" holds.
  check_probe.py oracle FILE ORACLE
      The probe saw what vu_peer.py saw (vu_peer.py query / expect output).
  check_probe.py get FILE KEY[.KEY...]
      Print one value: strings as they are, null as "null" (also for a key
      under a null), others as JSON. Exit 2 if a key is missing.

Exit 0 when the check holds, 1 with one "FAIL: ..." line per problem.
The name tables below come from the virtio 1.2 spec and the vhost-user spec
(and Linux's uapi headers for the aliases), not from libvhu.
"""
import json
import struct
import sys

# Device-independent bits (virtio spec "Reserved Feature Bits" + vhost).
COMMON = {
	24: {'VIRTIO_F_NOTIFY_ON_EMPTY'},
	26: {'VHOST_F_LOG_ALL'},
	27: {'VIRTIO_F_ANY_LAYOUT'},
	28: {'VIRTIO_RING_F_INDIRECT_DESC', 'VIRTIO_F_INDIRECT_DESC'},
	29: {'VIRTIO_RING_F_EVENT_IDX', 'VIRTIO_F_EVENT_IDX'},
	30: {'VHOST_USER_F_PROTOCOL_FEATURES'},
	32: {'VIRTIO_F_VERSION_1'},
	33: {'VIRTIO_F_ACCESS_PLATFORM', 'VIRTIO_F_IOMMU_PLATFORM'},
	34: {'VIRTIO_F_RING_PACKED'},
	35: {'VIRTIO_F_IN_ORDER'},
	36: {'VIRTIO_F_ORDER_PLATFORM'},
	37: {'VIRTIO_F_SR_IOV'},
	38: {'VIRTIO_F_NOTIFICATION_DATA'},
	40: {'VIRTIO_F_RING_RESET'},
}

BLK = {
	1: 'VIRTIO_BLK_F_SIZE_MAX', 2: 'VIRTIO_BLK_F_SEG_MAX', 4: 'VIRTIO_BLK_F_GEOMETRY',
	5: 'VIRTIO_BLK_F_RO', 6: 'VIRTIO_BLK_F_BLK_SIZE', 9: 'VIRTIO_BLK_F_FLUSH',
	10: 'VIRTIO_BLK_F_TOPOLOGY', 11: 'VIRTIO_BLK_F_CONFIG_WCE', 12: 'VIRTIO_BLK_F_MQ',
	13: 'VIRTIO_BLK_F_DISCARD', 14: 'VIRTIO_BLK_F_WRITE_ZEROES',
}

NET = {
	0: 'VIRTIO_NET_F_CSUM', 1: 'VIRTIO_NET_F_GUEST_CSUM',
	2: 'VIRTIO_NET_F_CTRL_GUEST_OFFLOADS', 3: 'VIRTIO_NET_F_MTU', 5: 'VIRTIO_NET_F_MAC',
	6: 'VIRTIO_NET_F_GSO', 7: 'VIRTIO_NET_F_GUEST_TSO4', 8: 'VIRTIO_NET_F_GUEST_TSO6',
	9: 'VIRTIO_NET_F_GUEST_ECN', 10: 'VIRTIO_NET_F_GUEST_UFO', 11: 'VIRTIO_NET_F_HOST_TSO4',
	12: 'VIRTIO_NET_F_HOST_TSO6', 13: 'VIRTIO_NET_F_HOST_ECN', 14: 'VIRTIO_NET_F_HOST_UFO',
	15: 'VIRTIO_NET_F_MRG_RXBUF', 16: 'VIRTIO_NET_F_STATUS', 17: 'VIRTIO_NET_F_CTRL_VQ',
	18: 'VIRTIO_NET_F_CTRL_RX', 19: 'VIRTIO_NET_F_CTRL_VLAN',
	20: 'VIRTIO_NET_F_CTRL_RX_EXTRA', 21: 'VIRTIO_NET_F_GUEST_ANNOUNCE',
	22: 'VIRTIO_NET_F_MQ', 23: 'VIRTIO_NET_F_CTRL_MAC_ADDR',
}

FS = {0: 'VIRTIO_FS_F_NOTIFICATION'}

DEVICE = {'blk': BLK, 'net': NET, 'fs': FS}

PROTOCOL = {
	0: {'VHOST_USER_PROTOCOL_F_MQ'},
	1: {'VHOST_USER_PROTOCOL_F_LOG_SHMFD'},
	2: {'VHOST_USER_PROTOCOL_F_RARP'},
	3: {'VHOST_USER_PROTOCOL_F_REPLY_ACK'},
	4: {'VHOST_USER_PROTOCOL_F_NET_MTU'},
	5: {'VHOST_USER_PROTOCOL_F_BACKEND_REQ', 'VHOST_USER_PROTOCOL_F_SLAVE_REQ'},
	6: {'VHOST_USER_PROTOCOL_F_CROSS_ENDIAN'},
	7: {'VHOST_USER_PROTOCOL_F_CRYPTO_SESSION'},
	8: {'VHOST_USER_PROTOCOL_F_PAGEFAULT'},
	9: {'VHOST_USER_PROTOCOL_F_CONFIG'},
	10: {'VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD', 'VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD'},
	11: {'VHOST_USER_PROTOCOL_F_HOST_NOTIFIER'},
	12: {'VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD'},
	13: {'VHOST_USER_PROTOCOL_F_RESET_DEVICE'},
	14: {'VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS'},
	15: {'VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS'},
	16: {'VHOST_USER_PROTOCOL_F_STATUS'},
	17: {'VHOST_USER_PROTOCOL_F_XEN_MMAP'},
	18: {'VHOST_USER_PROTOCOL_F_SHARED_OBJECT'},
	19: {'VHOST_USER_PROTOCOL_F_DEVICE_STATE'},
}

# Config layouts: field -> (offset, struct format). virtio 1.2, 5.2.4 / 5.1.4.
BLK_CONFIG = {
	'capacity': (0, '<Q'), 'size_max': (8, '<I'), 'seg_max': (12, '<I'),
	'cylinders': (16, '<H'), 'heads': (18, '<B'), 'sectors': (19, '<B'),
	'blk_size': (20, '<I'), 'physical_block_exp': (24, '<B'),
	'alignment_offset': (25, '<B'), 'min_io_size': (26, '<H'), 'opt_io_size': (28, '<I'),
	'writeback': (32, '<B'), 'num_queues': (34, '<H'),
	'max_discard_sectors': (36, '<I'), 'max_discard_seg': (40, '<I'),
	'discard_sector_alignment': (44, '<I'), 'max_write_zeroes_sectors': (48, '<I'),
	'max_write_zeroes_seg': (52, '<I'), 'write_zeroes_may_unmap': (56, '<B'),
}
NET_CONFIG = {
	'status': (6, '<H'), 'max_virtqueue_pairs': (8, '<H'), 'mtu': (10, '<H'),
}

problems = []


def bad(msg):
	problems.append(msg)


def parse_hex(obj, key):
	v = obj.get(key)
	if v is None:
		return None
	if not isinstance(v, str) or not v.startswith('0x'):
		bad('%s is %r, not a "0x..." string' % (key, v))
		return None
	try:
		n = int(v, 16)
	except ValueError:
		bad('%s is %r, not hex' % (key, v))
		return None
	if n >> 64:
		bad('%s=%s does not fit in a u64' % (key, v))
	return n


def check_bits(obj, what, table):
	value = parse_hex(obj, what)
	bits = obj.get(what.replace('features', 'feature_bits'))
	names = obj.get(what.replace('features', 'feature_names'))
	if value is None:
		if bits or names:
			bad('%s is null but its bits/names are %r / %r' % (what, bits, names))
		return value
	want = [i for i in range(64) if value >> i & 1]
	if bits != want:
		bad('%s=%s: bits should be %s, probe says %s' % (what, hex(value), want, bits))
	if not isinstance(names, list) or len(names) != len(want):
		bad('%s=%s: one name per set bit (%d), probe gives %r' % (what, hex(value),
		    len(want), names))
		return value
	if len(set(names)) != len(names):
		bad('%s: duplicate names %r' % (what, names))
	all_known = {n: b for b, ns in table.items() for n in ns}
	for b, name in zip(want, names):
		if b in table:
			if name not in table[b]:
				bad('%s bit %d: expected %s, probe says %r' % (what, b,
				    ' or '.join(sorted(table[b])), name))
		elif name in all_known:
			bad('%s bit %d named %r, which is bit %d' % (what, b, name, all_known[name]))
		elif name != 'bit %d' % b and not name.startswith(('VIRTIO_', 'VHOST_')):
			bad('%s bit %d: unknown bits are "bit %d", probe says %r' % (what, b, b, name))
	return value


def check_config(obj, dtype):
	cfg = obj.get('config')
	if cfg is None:
		return
	if not isinstance(cfg, dict) or not isinstance(cfg.get('raw'), str):
		bad('config is %r, not an object with a "raw" hex string' % (cfg,))
		return
	try:
		raw = bytes.fromhex(cfg['raw'])
	except ValueError:
		bad('config.raw %r is not hex' % cfg['raw'])
		return
	layout = {'blk': BLK_CONFIG, 'net': NET_CONFIG}.get(dtype, {})
	for field, (off, fmt) in layout.items():
		if field not in cfg:
			continue
		size = struct.calcsize(fmt)
		if off + size > len(raw):
			bad('config.%s=%r but raw has only %d bytes' % (field, cfg[field], len(raw)))
			continue
		want = struct.unpack_from(fmt, raw, off)[0]
		if cfg[field] != want:
			bad('config.%s=%r but raw holds %d at offset %d' % (field, cfg[field], want, off))
	if dtype == 'net' and 'mac' in cfg and len(raw) >= 6:
		want = ':'.join('%02x' % b for b in raw[0:6])
		if not isinstance(cfg['mac'], str) or cfg['mac'].lower() != want:
			bad('config.mac=%r but raw holds %s' % (cfg['mac'], want))


def consistent(obj, dtype):
	if obj.get('status') != 'ok':
		bad('status is %r' % obj.get('status'))
	for key in ('socket', 'device_type', 'features', 'feature_bits', 'feature_names',
		    'protocol_features', 'protocol_feature_bits', 'protocol_feature_names',
		    'queue_num', 'max_mem_slots', 'config'):
		if key not in obj:
			bad('key %r missing' % key)
	if dtype and obj.get('device_type') != dtype:
		bad('device_type is %r, not %r' % (obj.get('device_type'), dtype))
	table = dict(COMMON)
	for b, n in DEVICE.get(dtype, {}).items():
		table[b] = {n}
	f = check_bits(obj, 'features', table)
	if f is None:
		bad('features is null')
		return
	pf = check_bits(obj, 'protocol_features', PROTOCOL)
	if not f >> 30 & 1 and pf is not None:
		bad('protocol_features=%s although VHOST_USER_F_PROTOCOL_FEATURES is not offered'
		    % hex(pf))
	pf = pf or 0
	needs = (('queue_num', 0, 'MQ'), ('max_mem_slots', 15, 'CONFIGURE_MEM_SLOTS'),
		 ('config', 9, 'CONFIG'))
	for key, pbit, pname in needs:
		if not pf >> pbit & 1 and obj.get(key) is not None:
			bad('%s=%r although protocol feature %s is not offered' % (key, obj.get(key),
			    pname))
	for key in ('queue_num', 'max_mem_slots'):
		v = obj.get(key)
		if v is not None and (not isinstance(v, int) or v < 0):
			bad('%s=%r is not a count' % (key, v))
	check_config(obj, dtype)


def oracle(obj, ref):
	for key in ('features', 'protocol_features'):
		got = obj.get(key)
		got = int(got, 16) if isinstance(got, str) else got
		if got != ref[key]:
			bad('%s: probe says %s, the peer answers %s' % (key, obj.get(key),
			    None if ref[key] is None else hex(ref[key])))
	for key in ('queue_num', 'max_mem_slots'):
		if obj.get(key) != ref[key]:
			bad('%s: probe says %r, the peer answers %r' % (key, obj.get(key), ref[key]))
	raw = (obj.get('config') or {}).get('raw')
	if ref.get('config_raw') is not None and raw is None:
		bad('config: probe says null, the peer answers %s' % ref['config_raw'])
	elif raw is not None and ref.get('config_raw') is not None:
		n = min(len(raw), len(ref['config_raw']))
		if raw[:n].lower() != ref['config_raw'][:n]:
			bad('config.raw: probe says %s, the peer answers %s' % (raw, ref['config_raw']))


def get(obj, path):
	for key in path.split('.'):
		if obj is None:
			break	# config.raw of a null config is null
		if not isinstance(obj, dict) or key not in obj:
			sys.stderr.write('no %s in the JSON\n' % path)
			sys.exit(2)
		obj = obj[key]
	if obj is None:
		print('null')
	elif isinstance(obj, str):
		print(obj)
	else:
		print(json.dumps(obj))


def load(path):
	with open(path) as f:
		text = f.read()
	try:
		return json.loads(text)
	except ValueError as e:
		print('FAIL: %s is not one JSON object (%s): %r' % (path, e, text[:200]))
		sys.exit(1)


def main(argv):
	if len(argv) >= 3 and argv[1] == 'consistent':
		dtype = argv[4] if len(argv) == 5 and argv[3] == '--type' else None
		consistent(load(argv[2]), dtype)
	elif len(argv) == 4 and argv[1] == 'oracle':
		oracle(load(argv[2]), load(argv[3]))
	elif len(argv) == 4 and argv[1] == 'get':
		get(load(argv[2]), argv[3])
		return
	else:
		sys.exit(__doc__)
	for p in problems:
		print('FAIL: ' + p)
	sys.exit(1 if problems else 0)


if __name__ == '__main__':
	main(sys.argv)
