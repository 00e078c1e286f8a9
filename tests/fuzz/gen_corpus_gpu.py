#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Seeds for fuzz_gpu: byte 0 (bit 0: the display offers EDID), then what a
# vhost-user-gpu back-end sends on the socket (vhost-user-gpu.rst).
#
#   gen_corpus_gpu.py tests/fuzz/corpus/fuzz_gpu
import os
import struct
import sys


def msg(req, payload=b"", flags=0):
    return struct.pack("<III", req, flags, len(payload)) + payload


def u32s(*v):
    return struct.pack("<%dI" % len(v), *v)


SEEDS = {
    "handshake": b"\x01" + msg(1) + msg(2, struct.pack("<Q", 1)) + msg(3) + msg(11, u32s(0)),
    "scanout_update": b"\x00" + msg(7, u32s(0, 64, 48)) + msg(8, u32s(0, 1, 2, 2, 2) + bytes(16)),
    "update_garbage_flags": b"\x00" + msg(7, u32s(1, 8, 8)) + msg(8, u32s(1, 0, 0, 1, 1) + bytes(4), 0xfe5eea),
    "cursor": b"\x00" + msg(6, u32s(0, 5, 6, 1, 1) + bytes(16384)) + msg(4, u32s(0, 9, 9)) + msg(5, u32s(0, 0, 0)),
    "dmabuf": b"\x00" + msg(9, bytes(40)) + msg(10, u32s(0, 0, 0, 1, 1)) + msg(12, bytes(48)),
    "oversize": b"\x00" + struct.pack("<III", 8, 0, 0xFFFFFFF0),
    "disable": b"\x00" + msg(7, u32s(0, 64, 48)) + msg(7, u32s(0, 0, 0)) + msg(8, u32s(0, 0, 0, 1, 1) + bytes(4)),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
