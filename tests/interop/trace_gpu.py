#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vhu-trace on a hostile vhost-user-gpu socket (issue 21).

  trace_gpu.py VHU_TRACE

Both ends are scripted on socketpairs (--frontend-fd, --connect-fd). The
front-end hands over a GPU socket with VHOST_USER_GPU_SET_SOCKET; the
back-end receives the tracer's substitute and, on it:

1. an UPDATE of 16 MiB whose pixels the display reads while it is still
   being sent: it arrives byte for byte, and a GET_FEATURES on the main
   socket is relayed while the UPDATE is half way (the tracer does not
   stall on a stream);
2. a header naming an unknown id and a payload that fits no row: relayed
   unchanged, decoded as not fitting;
3. a SCANOUT carrying 12 fds: relayed with the first 8, the rest closed;
4. a reply from the display with a latency;
5. the back-end closes the GPU socket in the middle of a message: the
   display sees it closed, and the main socket goes on.

The trace (JSON) must show each, decoded; vhu-trace exits 0."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

GET_FEATURES, GPU_SET_SOCKET = 1, 33
GPU_GET_DISPLAY_INFO, GPU_SCANOUT, GPU_UPDATE = 3, 7, 8


def fail(why):
    print(f"trace_gpu: FAIL: {why}")
    sys.exit(1)


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(min(n - len(data), 1 << 20))
        except socket.timeout:
            fail(f"nothing more after {len(data)} of {n} bytes in 20 s (the tracer stalled)")
        if not chunk:
            fail(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def recv_fds(sock, n, maxfds):
    msg, anc, _, _ = sock.recvmsg(n, socket.CMSG_SPACE(maxfds * 4))
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(data) // 4}i", data[:len(data) // 4 * 4]))
    return msg + recv_exact(sock, n - len(msg)), fds


def exchange(fe, be):
    req = struct.pack("<III", GET_FEATURES, 0x1, 0)
    fe.sendall(req)
    if recv_exact(be, 12) != req:
        fail("GET_FEATURES changed on the way")
    reply = struct.pack("<IIIQ", GET_FEATURES, 0x5, 8, 1 << 32)
    be.sendall(reply)
    if recv_exact(fe, 20) != reply:
        fail("the GET_FEATURES reply changed on the way")


def main():
    trace = sys.argv[1]
    d = tempfile.mkdtemp(prefix="vhu-tracegpu-")
    out = f"{d}/trace.json"
    fe, fe_peer = socket.socketpair()
    be, be_peer = socket.socketpair()
    tr = subprocess.Popen([trace, f"--frontend-fd={fe_peer.fileno()}",
                           f"--connect-fd={be_peer.fileno()}", "--json", f"--output={out}"],
                          pass_fds=(fe_peer.fileno(), be_peer.fileno()), stderr=subprocess.PIPE)
    fe_peer.close()
    be_peer.close()
    for s in (fe, be):
        s.settimeout(20)

    # the GPU socket: the display keeps gpu_fe, the back-end gets the tracer's end
    disp, gpu_fe = socket.socketpair()
    fe.sendmsg([struct.pack("<III", GPU_SET_SOCKET, 0x1, 0)],
               [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", gpu_fe.fileno()))])
    gpu_fe.close()
    hdr, fds = recv_fds(be, 12, 4)
    if struct.unpack("<III", hdr) != (GPU_SET_SOCKET, 0x1, 0) or len(fds) != 1:
        fail(f"SET_SOCKET arrived as {hdr!r} with {len(fds)} fds")
    gpu = socket.socket(fileno=fds[0])
    for s in (disp, gpu):
        s.settimeout(20)

    # 1: 16 MiB of pixels, read by the display while they are sent
    w = h = 2048
    pixels = os.urandom(w * h * 4)
    update = struct.pack("<III5I", GPU_UPDATE, 0, 20 + len(pixels), 0, 0, 0, w, h) + pixels
    got = {}

    def display():
        got["update"] = recv_exact(disp, len(update))

    t = threading.Thread(target=display)
    t.start()
    half = len(update) // 2
    gpu.sendall(update[:half])
    exchange(fe, be)  # the main socket is relayed mid-stream
    gpu.sendall(update[half:])
    t.join(30)
    if got.get("update") != update:
        fail("the UPDATE did not arrive byte for byte")

    # 2: an unknown id with a payload no row has
    odd = struct.pack("<III", 99, 0, 100) + bytes(range(100))
    gpu.sendall(odd)
    if recv_exact(disp, len(odd)) != odd:
        fail("the unknown message changed on the way")

    # 3: a SCANOUT with 12 fds: 8 go on, the rest are closed
    extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(12)]
    gpu.sendmsg([struct.pack("<III3I", GPU_SCANOUT, 0, 12, 0, 640, 480)],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("12i", *extra))])
    for fd in extra:
        os.close(fd)
    msg, fds = recv_fds(disp, 24, 16)
    for fd in fds:
        os.close(fd)
    if struct.unpack("<III3I", msg) != (GPU_SCANOUT, 0, 12, 0, 640, 480) or len(fds) != 8:
        fail(f"SCANOUT arrived as {msg!r} with {len(fds)} fds, not 8")

    # 4: GET_DISPLAY_INFO and the display's reply
    gpu.sendall(struct.pack("<III", GPU_GET_DISPLAY_INFO, 0, 0))
    recv_exact(disp, 12)
    info = bytearray(408)
    struct.pack_into("<I", info, 0, 0x1101)
    struct.pack_into("<6I", info, 24, 0, 0, 800, 600, 1, 0)
    reply = struct.pack("<III", GPU_GET_DISPLAY_INFO, 0x4, 408) + bytes(info)
    disp.sendall(reply)
    if recv_exact(gpu, len(reply)) != reply:
        fail("the display's reply changed on the way")

    # 5: torn off in the middle of an UPDATE: the display sees the close
    gpu.sendall(struct.pack("<III5I", GPU_UPDATE, 0, 20 + 4096, 0, 0, 0, 32, 32) + b"x" * 100)
    gpu.close()
    rest = b""
    while True:
        chunk = disp.recv(65536)
        if not chunk:
            break
        rest += chunk
    if len(rest) > 132:
        fail(f"{len(rest)} bytes of a torn message reached the display")
    exchange(fe, be)  # the main socket goes on
    fe.close()
    try:
        rc = tr.wait(timeout=10)
    except subprocess.TimeoutExpired:
        tr.kill()
        fail("vhu-trace did not end with the front-end")
    err = tr.stderr.read().decode()
    if rc != 0:
        fail(f"vhu-trace exited {rc}: {err}")
    if "more than 8 fds" not in err or "GPU socket: closed" not in err:
        fail(f"vhu-trace did not report the extra fds and the close: {err}")
    lines = [json.loads(line) for line in open(out, encoding="utf-8")]
    gpu_lines = [e for e in lines if e["channel"] == "gpu"]
    seen = [(e["from"], e["msg"]["request"], e["msg"]["size"], e["msg"]["nfds"], e["msg"]["fits"])
            for e in gpu_lines]
    want = [("back-end", "VHOST_USER_GPU_UPDATE", 20 + len(pixels), 0, True),
            ("back-end", "VHOST_USER_GPU_UNKNOWN", 100, 0, False),
            ("back-end", "VHOST_USER_GPU_SCANOUT", 12, 8, False),
            ("back-end", "VHOST_USER_GPU_GET_DISPLAY_INFO", 0, 0, True),
            ("front-end", "VHOST_USER_GPU_GET_DISPLAY_INFO", 408, 0, True)]
    if seen != want:
        fail(f"GPU lines {seen}, want {want}")
    up = gpu_lines[0]["msg"]["fields"]
    if (up["width"], up["height"], up["pixels_fit"]) != (w, h, True):
        fail(f"UPDATE decoded as {up}")
    if "latency_us" not in gpu_lines[4]:
        fail("the display's reply has no latency")
    shown = gpu_lines[4]["msg"]["fields"]["scanouts"]
    if [(s["width"], s["height"]) for s in shown] != [(800, 600)]:
        fail(f"display info decoded as {shown}")
    main_lines = [e["msg"]["request"] for e in lines if e["channel"] == "main"]
    if main_lines.count("VHOST_USER_GET_FEATURES") != 4:
        fail(f"main socket: {main_lines}")
    disp.close()
    be.close()
    os.unlink(out)
    os.rmdir(d)
    print("trace_gpu: OK: 16 MiB streamed with the main socket served mid-way, an unknown "
          "message relayed, extra fds closed, a reply timed, a torn message closed")


if __name__ == "__main__":
    main()
