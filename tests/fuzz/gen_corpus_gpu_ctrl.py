#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Seeds for fuzz_gpu_ctrl (tests/fuzz/fuzz_gpu_ctrl.c): byte 0, then
# commands: kind, 16-bit length, split, the virtio-gpu command's bytes.
#
#   gen_corpus_gpu_ctrl.py tests/fuzz/corpus/fuzz_gpu_ctrl
import os
import struct
import sys

FENCE = 1


def hdr(t, flags=0, fence=0):
    return struct.pack("<IIQIB3x", t, flags, fence, 0, 0)


def cmd(body, kind=6, split=7):
    return struct.pack("<BHB", kind, len(body), split) + body


def create(rid, fmt, w, h):
    return cmd(hdr(0x101) + struct.pack("<IIII", rid, fmt, w, h))


def attach(rid, entries):
    b = hdr(0x106) + struct.pack("<II", rid, len(entries))
    for gpa, length in entries:
        b += struct.pack("<QII", gpa, length, 0)
    return cmd(b)


def rect(x, y, w, h):
    return struct.pack("<IIII", x, y, w, h)


def transfer(rid, r, offset=0):
    return cmd(hdr(0x105) + rect(*r) + struct.pack("<QII", offset, rid, 0))


def scanout(sid, rid, r):
    return cmd(hdr(0x103) + rect(*r) + struct.pack("<II", sid, rid))


def flush(rid, r):
    return cmd(hdr(0x104, FENCE, 7) + rect(*r) + struct.pack("<II", rid, 0))


def simple(t, rid):
    return cmd(hdr(t) + struct.pack("<II", rid, 0))


def cursor(t, sid, x, y, rid, hx=1, hy=2):
    return cmd(hdr(t) + struct.pack("<IIII", sid, x, y, 0) + struct.pack("<IIII", rid, hx, hy, 0),
               kind=1)


SESSION = (create(1, 2, 32, 16) + attach(1, [(0, 2048)]) + transfer(1, (0, 0, 32, 16)) +
           scanout(0, 1, (0, 0, 32, 16)) + flush(1, (0, 0, 32, 16)) +
           transfer(1, (4, 4, 8, 8), 4 * 32 * 4 + 16) + flush(1, (4, 4, 8, 8)) +
           create(2, 1, 64, 64) + attach(2, [(4096, 8192), (12288, 4096)]) +
           transfer(2, (0, 0, 64, 64)) + cursor(0x300, 0, 10, 20, 2) + cursor(0x301, 0, 5, 5, 2) +
           cursor(0x301, 0, 5, 5, 0) + cmd(hdr(0x100)) + cmd(hdr(0x10a) + struct.pack("<II", 0, 0)) +
           simple(0x107, 1) + simple(0x102, 1) + simple(0x102, 2))

def ctx_hdr(t, ctx, flags=0, fence=0):
    return struct.pack("<IIQIB3x", t, flags, fence, ctx, 0)


def create_3d(rid, target, fmt, bind, w, h, depth=1):
    return cmd(hdr(0x204) + struct.pack("<12I", rid, target, fmt, bind, w, h, depth, 1, 0, 0, 0, 0))


def transfer_3d(t, ctx, rid, w, h, offset=0):
    return cmd(ctx_hdr(t, ctx) + struct.pack("<6IQ4I", 0, 0, 0, w, h, 1, offset, rid, 0, w * 4, 0))


def submit(ctx, dwords, size=None):
    body = struct.pack("<%dI" % len(dwords), *dwords)
    return cmd(ctx_hdr(0x207, ctx, FENCE, 9) + struct.pack("<II", len(body) if size is None else size, 0) + body)


def f32(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


# vhu-gpu-draw's scene (tools/gpu/virgl.c) on a 32x16 resource 1, tile 2
STREAM = [1 | 8 << 8 | 5 << 16, 10, 1, 2, 0, 0, 5 | 3 << 16, 1, 0, 10,
          7 | 8 << 16, 4, f32(0.2), f32(0.4), f32(0.6), f32(1.0), 0, 0, 0,
          47 | 12 << 16, 1, 0, 16, 8, 0, 8, 4, 1, 0xff9933, 0, 0, 0,
          17 | 13 << 16, 1, 0, 2, 2, 0, 2, 0, 0, 0, 0, 8, 8, 1]

VIRGL = (cmd(ctx_hdr(0x108, 0) + struct.pack("<II", 0, 0)) +
         cmd(struct.pack("<IIQIB3x", 0x109, 0, 0, 0, 0) + struct.pack("<II", 2, 2)) +
         cmd(ctx_hdr(0x200, 1) + struct.pack("<II", 4, 0) + b"fuzz" + bytes(60)) +
         create_3d(1, 2, 2, 2 | 8 | (1 << 18), 32, 16) + create_3d(2, 2, 2, 2 | 8, 8, 8) +
         attach(1, [(0, 2048)]) + attach(2, [(8192, 256)]) +
         cmd(ctx_hdr(0x202, 1) + struct.pack("<II", 1, 0)) +
         cmd(ctx_hdr(0x202, 1) + struct.pack("<II", 2, 0)) +
         transfer_3d(0x205, 1, 2, 8, 8) + submit(1, STREAM) +
         scanout(0, 1, (0, 0, 32, 16)) + flush(1, (0, 0, 32, 16)) +
         transfer_3d(0x206, 1, 1, 32, 16) + submit(1, [0xffff00ff] + list(range(40))) +
         create(3, 2, 64, 64) + attach(3, [(4096, 4096), (12288, 4096)]) +
         transfer(3, (0, 0, 64, 64)) + cursor(0x300, 0, 1, 2, 3) +
         cmd(ctx_hdr(0x203, 1) + struct.pack("<II", 2, 0)) + cmd(ctx_hdr(0x201, 1)) +
         simple(0x102, 1))

SEEDS = {
    "virgl": b"\x0f" + VIRGL,
    "session": b"\x07" + SESSION,
    "session_no_display": b"\x00" + SESSION,
    "hostile": b"\x02" + create(0, 2, 8, 8) + create(3, 999, 8, 8) + create(3, 2, 16385, 1) +
    create(4, 2, 4096, 4096) + attach(9, [(0, 16)]) + create(5, 2, 8, 8) +
    attach(5, [(1 << 50, 64)]) + attach(5, [(0xFFFFFFFFFFFFFFF0, 64)]) +
    transfer(5, (0xFFFFFFF0, 0, 32, 1)) + scanout(16, 5, (0, 0, 8, 8)) +
    scanout(0, 5, (4, 4, 8, 8)) + cmd(hdr(0x9999)) + cmd(hdr(0x101)[:8]),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
