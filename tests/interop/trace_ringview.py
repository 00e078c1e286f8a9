#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vhu-trace --ring-view against a front-end that lies and pulls the memory.

  trace_ringview.py VHU_TRACE

This script is both ends: a back-end that swallows what it is sent, and a
front-end that sets up two rings in a memfd, one of them outside the memory,
sends values out of range and a memory table that does not fit its row,
writes ring indices into the memory, and then shrinks the memfd to 0 under
the tracer's mapping. The ring view must show the indices written, report
the ring outside memory and the memory gone (a SIGBUS caught), ignore the
bad messages, and vhu-trace must still relay and exit 0 on SIGTERM."""
import json
import mmap
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

SET_FEATURES, SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_KICK = 2, 5, 8, 9, 12
MEM = 1 << 20
UVA = 0x7f0000000000


def fail(why):
    print(f"trace_ringview: FAIL: {why}")
    sys.exit(1)


def msg(req, payload=b"", fds=()):
    data = struct.pack("<III", req, 0x1, len(payload)) + payload
    return data, [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] if fds else []


def send(sock, req, payload=b"", fds=()):
    data, anc = msg(req, payload, fds)
    sock.sendmsg([data], anc)


def swallow(listener):
    while True:
        conn, _ = listener.accept()
        while conn.recv(65536):
            pass
        conn.close()


def ring_lines(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for text in f:
            if not text.endswith("\n"):
                break  # vhu-trace is still writing this line
            e = json.loads(text)
            if "ring" in e:
                out.append(e["ring"])
    return out


def wait_for(path, pred, what, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        got = [g for g in ring_lines(path) if pred(g)]
        if got:
            return got[-1]
        time.sleep(0.1)
    fail(f"no ring view line {what}; last lines: {ring_lines(path)[-4:]}")


def packed(tsock, out):
    """A second conversation, packed: the descriptors available and not used."""
    fe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fe.connect(tsock)
    mfd = os.memfd_create("guest2")
    os.ftruncate(mfd, MEM)
    mem = mmap.mmap(mfd, MEM)
    for i in range(3):  # driver wrap counter 1: AVAIL set, USED clear
        struct.pack_into("<H", mem, 16 * i + 14, 1 << 7)
    struct.pack_into("<H", mem, 16 * 3 + 14, 1 << 7 | 1 << 15)  # used
    send(fe, SET_FEATURES, struct.pack("<Q", 1 << 32 | 1 << 34))
    send(fe, SET_MEM_TABLE, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, MEM, UVA, 0) +
         b"\0" * 32 * 7, [mfd])
    send(fe, SET_VRING_NUM, struct.pack("<II", 0, 8))
    send(fe, SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, UVA, UVA + 0x2000, UVA + 0x1000, 0))
    send(fe, SET_VRING_KICK, struct.pack("<Q", 0x100))
    g = wait_for(out, lambda g: g["layout"] == "packed" and "descs_avail" in g, "for packed")
    if g["descs_avail"] != 3 or g["num"] != 8:
        fail(f"packed ring 0 shown wrong: {g}")
    fe.close()
    mem.close()
    os.close(mfd)


def main():
    trace = sys.argv[1]
    d = tempfile.mkdtemp(prefix="vhu-ringview-")
    bsock, tsock, out = f"{d}/b.sock", f"{d}/t.sock", f"{d}/trace.json"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(bsock)
    listener.listen(1)
    threading.Thread(target=swallow, args=(listener,), daemon=True).start()
    tr = subprocess.Popen([trace, f"--listen={tsock}", f"--connect={bsock}", "--json",
                           f"--output={out}", "--ring-view=0.1"])
    try:
        for _ in range(100):
            if os.path.exists(tsock):
                break
            time.sleep(0.05)
        fe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        fe.connect(tsock)
        mfd = os.memfd_create("guest")
        os.ftruncate(mfd, MEM)
        mem = mmap.mmap(mfd, MEM)
        send(fe, SET_FEATURES, struct.pack("<Q", 1 << 32))
        region = struct.pack("<QQQQ", 0, MEM, UVA, 0)
        send(fe, SET_MEM_TABLE, struct.pack("<II", 1, 0) + region + b"\0" * 32 * 7, [mfd])
        # a table that does not fit its row (9 regions): ignored, the old one stays
        send(fe, SET_MEM_TABLE, struct.pack("<II", 9, 0) + region * 9, [mfd])
        for q, base in ((0, UVA), (1, UVA + 2 * MEM)):  # ring 1 is outside the memory
            send(fe, SET_VRING_NUM, struct.pack("<II", q, 256))
            send(fe, SET_VRING_ADDR, struct.pack("<IIQQQQ", q, 0, base, base + 0x2000,
                                                 base + 0x1000, 0))
            send(fe, SET_VRING_KICK, struct.pack("<Q", q | 0x100))
        # out of range: a ring index past 255, a size past 32768
        send(fe, SET_VRING_NUM, struct.pack("<II", 300, 256))
        send(fe, SET_VRING_NUM, struct.pack("<II", 0, 65535))
        struct.pack_into("<H", mem, 0x1000 + 2, 7)  # avail->idx
        struct.pack_into("<H", mem, 0x2000 + 2, 3)  # used->idx
        g = wait_for(out, lambda g: g["queue"] == 0 and g.get("avail_idx") == 7, "with avail 7")
        if g["used_idx"] != 3 or g["outstanding"] != 4 or g["num"] != 256 or not g["running"]:
            fail(f"ring 0 shown wrong: {g}")
        g = wait_for(out, lambda g: g["queue"] == 1, "for ring 1")
        if "not in mapped memory" not in g.get("error", ""):
            fail(f"ring 1 (outside the memory) shown as {g}")
        if any(g["queue"] not in (0, 1) for g in ring_lines(out)):
            fail("a ring out of range was shown")
        struct.pack_into("<H", mem, 0x2000 + 2, 5)
        wait_for(out, lambda g: g["queue"] == 0 and g.get("used_idx") == 5 and
                 g.get("used_per_s", 0) > 0, "with used 5 and progress")
        mem.close()
        os.ftruncate(mfd, 0)  # the front-end pulls the memory: a read raises SIGBUS
        wait_for(out, lambda g: g["queue"] == 0 and "SIGBUS" in g.get("error", ""),
                 "with the memory gone")
        if tr.poll() is not None:
            fail(f"vhu-trace died: {tr.returncode}")
        send(fe, SET_FEATURES, struct.pack("<Q", 1 << 32))  # still relaying
        time.sleep(0.3)
        if tr.poll() is not None:
            fail(f"vhu-trace died after the memory went: {tr.returncode}")
        fe.close()
        packed(tsock, out)
    finally:
        if tr.poll() is None:
            tr.send_signal(signal.SIGTERM)
        rc = tr.wait(timeout=10)
        n = len(ring_lines(out)) if os.path.exists(out) else 0
        shutil.rmtree(d, ignore_errors=True)
    if rc != 0:
        fail(f"vhu-trace exited {rc}")
    print(f"trace_ringview: OK: {n} ring view lines")


if __name__ == "__main__":
    main()
