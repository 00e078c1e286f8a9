#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vhu-trace on inherited fds (--frontend-fd, --connect-fd, --listen-fd).

  trace_fds.py VHU_TRACE

1. Both ends inherited (socketpairs): a GET_FEATURES and its reply cross
   unchanged, the trace shows both decoded, and the tracer ends (exit 0) when
   the front-end closes, as --once.
2. An inherited listening socket with a connected back-end fd: a front-end
   that connects through it is relayed.
3. Bad fds (not open, below 3, two front-end sources) exit 2."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

GET_FEATURES = 1


def fail(why):
    print(f"trace_fds: FAIL: {why}")
    sys.exit(1)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def exchange(fe, be):
    """A GET_FEATURES from fe, answered by be: both cross unchanged."""
    req = struct.pack("<III", GET_FEATURES, 0x1, 0)
    fe.sendall(req)
    if recv_exact(be, 12) != req:
        fail("the request changed on the way")
    reply = struct.pack("<IIIQ", GET_FEATURES, 0x5, 8, 1 << 32 | 1 << 30)
    be.sendall(reply)
    if recv_exact(fe, 20) != reply:
        fail("the reply changed on the way")


def trace_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main():
    trace = sys.argv[1]
    d = tempfile.mkdtemp(prefix="vhu-tracefds-")
    out = f"{d}/trace.json"

    # 1: both ends inherited
    fe, fe_peer = socket.socketpair()
    be, be_peer = socket.socketpair()
    tr = subprocess.Popen([trace, f"--frontend-fd={fe_peer.fileno()}",
                           f"--connect-fd={be_peer.fileno()}", "--json", f"--output={out}"],
                          pass_fds=(fe_peer.fileno(), be_peer.fileno()))
    fe_peer.close()
    be_peer.close()
    exchange(fe, be)
    fe.close()
    try:
        rc = tr.wait(timeout=10)
    except subprocess.TimeoutExpired:
        tr.kill()
        fail("vhu-trace did not end with the inherited front-end")
    be.close()
    if rc != 0:
        fail(f"vhu-trace exited {rc}")
    lines = trace_lines(out)
    names = [(e["from"], e["msg"]["request"], e["msg"]["reply"]) for e in lines]
    if names != [("front-end", "VHOST_USER_GET_FEATURES", False),
                 ("back-end", "VHOST_USER_GET_FEATURES", True)]:
        fail(f"trace: {names}")
    if int(lines[1]["msg"]["fields"]["features"], 16) != 1 << 32 | 1 << 30:
        fail(f"reply decoded as {lines[1]['msg']['fields']}")

    # 2: an inherited listening socket, the back-end on an fd
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(f"{d}/l.sock")
    lsock.listen(1)
    be, be_peer = socket.socketpair()
    tr = subprocess.Popen([trace, f"--listen-fd={lsock.fileno()}",
                           f"--connect-fd={be_peer.fileno()}", "--json", f"--output={out}"],
                          pass_fds=(lsock.fileno(), be_peer.fileno()))
    be_peer.close()
    fe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fe.connect(f"{d}/l.sock")
    exchange(fe, be)
    fe.close()
    try:
        rc = tr.wait(timeout=10)
    except subprocess.TimeoutExpired:
        tr.kill()
        fail("vhu-trace did not end after the conversation on the inherited back-end")
    if rc != 0 or len(trace_lines(out)) != 2:
        fail(f"listen-fd: exit {rc}, {len(trace_lines(out))} lines")
    lsock.close()
    be.close()

    # 3: bad fds
    spare = os.open("/dev/null", os.O_RDONLY)
    for args in (["--frontend-fd=999", "--connect-fd=3"], ["--frontend-fd=1", "--connect=x"],
                 [f"--frontend-fd={spare}", f"--listen={d}/x.sock", "--connect=x"]):
        rc = subprocess.run([trace] + args, capture_output=True, pass_fds=(spare,)).returncode
        if rc != 2:
            fail(f"{args}: exit {rc}, not 2")
    os.close(spare)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)
    print("trace_fds: OK: inherited front-end, back-end and listening fds relay; bad fds refused")


if __name__ == "__main__":
    main()
