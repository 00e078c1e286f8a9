#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The host's side of guest_vhu_input: a client of vhu-input's events socket.
#
#   input-client.py SOCK DESCRIPTION EVENTS GO OUT [WANT]
#
# Sends DESCRIPTION's lines (ending with "ready") and wants "ok"; then waits
# until the file GO exists (the guest is reading), sends EVENTS' lines, and
# collects what the socket says (status lines: the guest's LEDs) into OUT
# until a line equal to WANT came (or, without WANT, for 2 s), then asks
# "stats" and stops after its answer. Exit 0, or 1 with a reason on stderr.
import os
import socket
import sys
import time


def main():
	sock, desc, events, go, out = sys.argv[1:6]
	want = sys.argv[6] if len(sys.argv) > 6 else None
	s = socket.socket(socket.AF_UNIX)
	s.connect(sock)
	s.settimeout(5)
	f = s.makefile('rwb', buffering=0)
	with open(desc, 'rb') as d:
		s.sendall(d.read())
	line = f.readline().strip()
	if line != b'ok':
		sys.exit('input-client: the description was answered %r' % line)
	deadline = time.monotonic() + 200
	while not os.path.exists(go):
		if time.monotonic() > deadline:
			sys.exit('input-client: no go within 200 s')
		time.sleep(0.05)
	with open(events, 'rb') as e:
		s.sendall(e.read())
	got = []
	end = time.monotonic() + (60 if want else 2)
	while time.monotonic() < end:
		s.settimeout(max(0.1, end - time.monotonic()))
		try:
			line = f.readline()
		except socket.timeout:
			break
		if not line:
			break
		got.append(line.decode().strip())
		if want and got[-1] == want:
			break
	s.settimeout(5)
	s.sendall(b'stats\n')
	while True:
		line = f.readline().decode().strip()
		got.append(line)
		if not line or line.startswith('stats '):
			break
	with open(out, 'w') as o:
		o.write('\n'.join(got) + '\n')
	if want and want not in got:
		sys.exit('input-client: %r never came (got %r)' % (want, got))


main()
