#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_wire into tests/fuzz/corpus/fuzz_wire/.

Each seed is one fuzz input: a control byte, then a vhost-user message
(12-byte header + payload). The control byte is (nfds << 1) | direction:
direction 0 is front-end -> back-end (VHOST_USER_*), 1 is back-end ->
front-end (VHOST_USER_BACKEND_*); nfds is how many fds the harness makes
(it takes the value modulo VHU_MAX_FDS + 3).

Numbers are little-endian, the byte order of every host we build on (the
protocol itself is host-endian). Rerun after changing the seeds:
    python3 tests/fuzz/gen_corpus.py
It writes only the files listed here and leaves other files (entries merged
by scripts/fuzz.sh) alone.
"""
import os
import struct
import sys

VERSION = 0x1
REPLY = 1 << 2
NEED_REPLY = 1 << 3

TO_BACKEND, TO_FRONTEND = 0, 1


def seed(direction, nfds, request, payload=b"", flags=VERSION, size=None):
    """Control byte + header + payload; size overrides hdr.size (malformed seeds)."""
    if size is None:
        size = len(payload)
    return bytes([(nfds << 1) | direction]) + struct.pack("<III", request, flags, size) + payload


def u64(v):
    return struct.pack("<Q", v)


def vring_state(index, num):
    return struct.pack("<II", index, num)


def region(gpa, size, uva, offset):
    return struct.pack("<QQQQ", gpa, size, uva, offset)


def mem_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


def config(offset, size, flags, data=b""):
    return struct.pack("<III", offset, size, flags) + data


def iotlb(iova, size, uaddr, perm, typ):
    return struct.pack("<QQQBB6x", iova, size, uaddr, perm, typ)


def inflight(mmap_size, mmap_offset, num_queues, queue_size):
    return struct.pack("<QQHH4x", mmap_size, mmap_offset, num_queues, queue_size)


NOFD = 0x100
REGION0 = region(0x0, 0x40000000, 0x7F0000000000, 0)
REGION1 = region(0x100000000, 0x40000000, 0x7F0040000000, 0x40000000)

SEEDS = {
    # front-end -> back-end, well formed
    "get_features": seed(TO_BACKEND, 0, 1),
    "set_features": seed(TO_BACKEND, 0, 2, u64((1 << 32) | (1 << 30) | (1 << 28))),
    "set_owner": seed(TO_BACKEND, 0, 3),
    "set_mem_table_2_regions": seed(TO_BACKEND, 2, 5, mem_table([REGION0, REGION1]),
                                    flags=VERSION | NEED_REPLY),
    "set_log_base": seed(TO_BACKEND, 1, 6, struct.pack("<QQ", 0x8000, 0)),
    "set_vring_num": seed(TO_BACKEND, 0, 8, vring_state(0, 256)),
    "set_vring_addr": seed(TO_BACKEND, 0, 9,
                           struct.pack("<IIQQQQ", 1, 0, 0x7F0000001000, 0x7F0000002000,
                                       0x7F0000003000, 0)),
    "get_vring_base": seed(TO_BACKEND, 0, 11, vring_state(1, 0)),
    "set_vring_kick": seed(TO_BACKEND, 1, 12, u64(0)),
    "set_vring_call_nofd": seed(TO_BACKEND, 0, 13, u64(1 | NOFD)),
    "get_protocol_features": seed(TO_BACKEND, 0, 15),
    "set_vring_enable": seed(TO_BACKEND, 0, 18, vring_state(0, 1)),
    "set_backend_req_fd": seed(TO_BACKEND, 1, 21, flags=VERSION | NEED_REPLY),
    "iotlb_msg": seed(TO_BACKEND, 0, 22, iotlb(0x1000, 0x1000, 0x7F0000001000, 3, 2),
                      flags=VERSION | NEED_REPLY),
    "get_config": seed(TO_BACKEND, 0, 24, config(0, 60, 0, bytes(60))),
    "set_inflight_fd": seed(TO_BACKEND, 1, 32, inflight(0x2000, 0, 2, 256)),
    "add_mem_reg": seed(TO_BACKEND, 1, 37, u64(0) + REGION1),
    "set_device_state_fd": seed(TO_BACKEND, 1, 42, struct.pack("<II", 0, 0)),
    # back-end -> front-end, well formed
    "backend_iotlb_miss": seed(TO_FRONTEND, 0, 1, iotlb(0x2000, 0, 0, 1, 1)),
    "backend_config_change": seed(TO_FRONTEND, 0, 2, flags=VERSION | NEED_REPLY),
    "backend_host_notifier": seed(TO_FRONTEND, 1, 3, struct.pack("<QQQ", 2, 0x1000, 0)),
    "backend_shmem_map": seed(TO_FRONTEND, 1, 9,
                              struct.pack("<B7xQQQQ", 0, 0, 0x10000, 0x1000, 1)),
    "backend_shmem_unmap": seed(TO_FRONTEND, 0, 10,
                                struct.pack("<B7xQQQQ", 0, 0, 0x10000, 0x1000, 0),
                                flags=VERSION | NEED_REPLY),
    "backend_shared_object_add": seed(TO_FRONTEND, 0, 6, bytes(range(16)),
                                      flags=VERSION | NEED_REPLY),
    "backend_shared_object_remove": seed(TO_FRONTEND, 0, 7, bytes(range(16))),
    "backend_shared_object_lookup": seed(TO_FRONTEND, 0, 8, bytes(range(16))),
    "get_shared_object": seed(TO_BACKEND, 0, 41, bytes(range(16))),
    "get_shmem_config": seed(TO_BACKEND, 0, 44),
    # malformed
    "bad_truncated_header": seed(TO_BACKEND, 1, 1)[:9],
    "bad_size_mismatch": seed(TO_BACKEND, 0, 2, u64(1), size=16),
    "bad_version_0": seed(TO_BACKEND, 0, 1, flags=0),
    "bad_reply_and_reserved_flags": seed(TO_BACKEND, 0, 1, flags=VERSION | REPLY | (1 << 31)),
    "bad_unknown_request": seed(TO_BACKEND, 2, 0xFFFF, u64(0)),
    "bad_too_many_fds": seed(TO_BACKEND, 10, 5, mem_table([REGION0])),
    "bad_huge_size": seed(TO_BACKEND, 0, 26, size=0xFFFFFFFF),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", "fuzz_wire")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"gen_corpus: wrote {len(SEEDS)} seeds to {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
