#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_backend into tests/fuzz/corpus/fuzz_backend/.

Each seed is one fuzz input: a sequence of front-end messages in the format
documented at the top of tests/fuzz/fuzz_backend.c (request byte, flag byte,
fd count and one spec byte per fd, u16 payload size, payload). The first
seed is a QEMU-like session (features, protocol features, owner, a memory
table of one memfd region holding a split ring with one request, vring
num/base/addr/kick/call/enable, a kick, config, status, get_vring_base); the
others are that session with one thing made hostile. Rerun after changing
the seeds:
    python3 tests/fuzz/gen_corpus_backend.py
It writes only the files listed here and leaves other files (entries merged
by scripts/fuzz.sh) alone.
"""
import os
import struct
import sys

# request ids (include/vhu/protocol.h)
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_LOG_BASE = 6
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, SET_BACKEND_REQ_FD = 18, 21
GET_CONFIG, SET_CONFIG, RESET_DEVICE = 24, 25, 34
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = 36, 37, 38, 39, 40
SET_LOG_FD, SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE = 7, 42, 43
GET_SHARED_OBJECT, GET_SHMEM_CONFIG = 41, 44
SHARED_OBJECT, SHMEM = 1 << 18, 1 << 22  # SHMEM: QEMU master's bit (rust-vmm: 21)
KICK, TORN = 0xFF, 0xFE

FEATURES = (1 << 32) | (1 << 30) | (1 << 28) | (1 << 29)
PROTOCOL = (1 << 0) | (1 << 3) | (1 << 5) | (1 << 9) | (1 << 13) | (1 << 15) | (1 << 16)
PAGE = 4096
UVA = 0x7F0000000000
NUM = 8
DESC, AVAIL, USED = 0x0, 0x400, 0x800


def memfd(pages, content=b"", sealed=False):
    """fd spec: a memfd of @pages pages whose first bytes are @content (padded to 16)."""
    content += bytes(-len(content) % 16)
    assert len(content) <= 255 * 16
    return bytes([((pages - 1) & 3) << 2 | (16 if sealed else 0), len(content) // 16]) + content


EVENTFD = bytes([1])
SOCKET = bytes([2])
DEVNULL = bytes([3 | 4])
EMPTY_MEMFD = bytes([3])


def msg(request, payload=b"", fds=(), need_reply=True, flags_xor=None, size=None):
    if request == KICK:
        return bytes([KICK])  # a harness action: one byte
    b1 = 1 if need_reply else 0
    out = bytes([request])
    if flags_xor is not None:
        out += bytes([b1 | 2, flags_xor])
    else:
        out += bytes([b1])
    out += bytes([len(fds)]) + b"".join(fds)
    out += struct.pack("<H", len(payload) if size is None else size)
    return out + payload


def u64(v):
    return struct.pack("<Q", v & (2**64 - 1))


def state(index, num):
    return struct.pack("<II", index, num)


def addr(index, desc, used, avail, flags=0, log=0):
    return struct.pack("<IIQQQQ", index, flags, desc, used, avail, log)


def log_area(size, offset=0):
    return struct.pack("<QQ", size, offset)


def transfer(direction, phase=0):
    return struct.pack("<II", direction, phase)


# live migration: LOG_SHMFD and DEVICE_STATE negotiated on top of PROTOCOL
MIG_PROTOCOL = PROTOCOL | (1 << 1) | (1 << 19)
LOG_ALL = 1 << 26


def migration(log_size=16, log_offset=0, log_fd=None, log_gpa=USED, tail=()):
    seq = negotiate(protocol=MIG_PROTOCOL)
    seq.append(table())
    seq += ring_setup(0)
    seq += [
        msg(KICK),
        msg(SET_LOG_BASE, log_area(log_size, log_offset),
            fds=[memfd(1, sealed=True) if log_fd is None else log_fd]),
        msg(SET_LOG_FD, fds=[EVENTFD]),
        msg(SET_FEATURES, u64(FEATURES | LOG_ALL)),
        msg(SET_VRING_ADDR, addr(0, UVA + DESC, UVA + USED, UVA + AVAIL, flags=1, log=log_gpa)),
        msg(KICK),
        msg(SET_FEATURES, u64(FEATURES)),
        msg(SET_FEATURES, u64(FEATURES | LOG_ALL)),
        msg(KICK),
        msg(GET_VRING_BASE, state(0, 0)),
        msg(SET_DEVICE_STATE_FD, transfer(0), fds=[SOCKET]),
        msg(CHECK_DEVICE_STATE),
        # LOAD from /dev/null: the state ends at once (a socket would be read
        # until the transfer times out)
        msg(SET_DEVICE_STATE_FD, transfer(1), fds=[DEVNULL]),
        msg(CHECK_DEVICE_STATE),
    ]
    return seq + list(tail)


def region(gpa, size, uva, offset=0):
    return struct.pack("<QQQQ", gpa, size, uva, offset)


def mem_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


def guest_ring():
    """Guest memory with a split ring of NUM: one request, 64 bytes out, 64 in."""
    mem = bytearray(0x900)
    # desc 0: out buffer at 0x1000, NEXT -> 1; desc 1: in buffer at 0x2000, WRITE
    struct.pack_into("<QIHH", mem, DESC + 0, 0x1000, 64, 1, 1)
    struct.pack_into("<QIHH", mem, DESC + 16, 0x2000, 64, 2, 0)
    # avail: flags 0, idx 1, ring[0] = 0
    struct.pack_into("<HHH", mem, AVAIL, 0, 1, 0)
    return bytes(mem)


def ring_setup(q, num=NUM, base=0, desc=DESC, used=USED, avail=AVAIL):
    return [
        msg(SET_VRING_NUM, state(q, num)),
        msg(SET_VRING_BASE, state(q, base)),
        msg(SET_VRING_ADDR, addr(q, UVA + desc, UVA + used, UVA + avail)),
        msg(SET_VRING_KICK, u64(q), fds=[EVENTFD]),
        msg(SET_VRING_CALL, u64(q), fds=[EVENTFD]),
        msg(SET_VRING_ERR, u64(q), fds=[EVENTFD]),
        msg(SET_VRING_ENABLE, state(q, 1)),
    ]


def negotiate(features=FEATURES, protocol=PROTOCOL):
    return [
        msg(GET_FEATURES, need_reply=False),
        msg(GET_PROTOCOL_FEATURES, need_reply=False),
        msg(SET_PROTOCOL_FEATURES, u64(protocol), need_reply=False),
        msg(GET_QUEUE_NUM),
        msg(GET_MAX_MEM_SLOTS),
        msg(SET_BACKEND_REQ_FD, fds=[SOCKET]),
        msg(SET_OWNER),
        msg(SET_FEATURES, u64(features)),
    ]


def table(pages=4, size=4 * PAGE, offset=0, gpa=0, uva=UVA, fds=None):
    if fds is None:
        fds = [memfd(pages, guest_ring())]
    return msg(SET_MEM_TABLE, mem_table([region(gpa, size, uva, offset)]), fds=fds)


def session(mem=None, rings=None, tail=None, features=FEATURES):
    seq = negotiate(features)
    seq.append(table() if mem is None else mem)
    seq += ring_setup(0) if rings is None else rings
    seq += [msg(KICK)] if tail is None else tail
    return seq


QEMU_TAIL = [
    msg(KICK),
    msg(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16)),
    msg(SET_STATUS, u64(0xF)),
    msg(GET_STATUS),
    msg(GET_VRING_BASE, state(0, 0)),
    msg(SET_VRING_BASE, state(0, 1)),
    msg(SET_VRING_KICK, u64(0), fds=[EVENTFD]),
    msg(KICK),
    msg(GET_VRING_BASE, state(0, 0)),
    msg(RESET_DEVICE),
]

SEEDS = {
    "qemu_session": session(tail=QEMU_TAIL),
    "two_queues": session(rings=ring_setup(0) + ring_setup(1, desc=0x1000, used=0x1800,
                                                          avail=0x1400)),
    "hotplug": session(tail=[
        msg(KICK),
        msg(ADD_MEM_REG, u64(0) + region(0x10000, PAGE, UVA + 0x10000), fds=[memfd(1)]),
        msg(REM_MEM_REG, u64(0) + region(0x10000, PAGE, UVA + 0x10000), fds=[memfd(1)]),
        table(),  # the same table again: kept
        msg(REM_MEM_REG, u64(0) + region(0, 4 * PAGE, UVA)),
        msg(KICK),
    ]),
    "packed": session(rings=ring_setup(0, num=4), features=FEATURES | (1 << 34)),
    # malformed variants
    "region_past_memfd_end": session(mem=table(pages=1, size=4 * PAGE)),
    "region_offset_overflow": session(mem=table(offset=2**64 - PAGE)),
    "region_uva_wraps": session(mem=table(uva=2**64 - PAGE)),
    "region_devnull": session(mem=table(fds=[DEVNULL])),
    "region_empty_memfd": session(mem=table(fds=[EMPTY_MEMFD])),
    "table_fd_count_mismatch": session(mem=msg(SET_MEM_TABLE,
                                               mem_table([region(0, 4 * PAGE, UVA)]),
                                               fds=[memfd(4, guest_ring()), memfd(1)])),
    "table_nine_regions": session(mem=msg(SET_MEM_TABLE,
                                          mem_table([region(i * PAGE, PAGE, UVA + i * PAGE)
                                                     for i in range(9)]),
                                          fds=[memfd(1)] * 9)),
    "ring_index_out_of_range": session(rings=[
        msg(SET_VRING_NUM, state(2, NUM)),
        msg(SET_VRING_NUM, state(0xFFFFFFFF, NUM)),
        msg(SET_VRING_KICK, u64(0x1FF), fds=[EVENTFD]),
        msg(GET_VRING_BASE, state(0x10000, 0)),
        msg(SET_VRING_ADDR, addr(256, UVA, UVA, UVA)),
    ] + ring_setup(0)),
    "ring_outside_memory": session(rings=ring_setup(0, desc=0x4000 - 8) +
                                   [msg(SET_VRING_ADDR, addr(0, UVA - 16, UVA, UVA))]),
    "ring_num_bad": session(rings=[msg(SET_VRING_NUM, state(0, 0)),
                                   msg(SET_VRING_NUM, state(0, 3)),
                                   msg(SET_VRING_NUM, state(0, 0x10000))] + ring_setup(0)),
    "bad_headers": negotiate() + [
        msg(GET_FEATURES, flags_xor=0x4),
        msg(GET_FEATURES, flags_xor=0x3),
        msg(GET_FEATURES, flags_xor=0xF0),
        msg(200, b"\0" * 8),
        msg(0),
        msg(SET_LOG_BASE, bytes(16), fds=[memfd(1)]),
        msg(SET_FEATURES, u64(FEATURES), size=7),
        msg(SET_VRING_KICK, u64(0), fds=[EVENTFD] * 9),
        msg(GET_CONFIG, struct.pack("<III", 250, 16, 0) + bytes(16)),
        msg(SET_CONFIG, struct.pack("<III", 0, 300, 0) + bytes(300)),
    ],
    "oversize_payload": negotiate() + [msg(SET_MEM_TABLE, size=5000)],
    # live migration: the dirty log and the device state, then hostile logs
    "migration": migration(),
    "log_too_small": migration(log_size=1),
    "log_past_fd": migration(log_size=2 * PAGE, log_offset=PAGE),
    "log_unsealable": migration(log_fd=memfd(1)),
    "log_not_a_file": migration(log_fd=EVENTFD),
    "log_gpa_outside": migration(log_gpa=2**40),
    "state_bad_direction": migration(tail=[
        msg(SET_DEVICE_STATE_FD, transfer(7, 3), fds=[SOCKET]),
        msg(CHECK_DEVICE_STATE),
        msg(SET_DEVICE_STATE_FD, transfer(1), fds=[DEVNULL]),
        msg(CHECK_DEVICE_STATE),
    ]),
    "torn_message": negotiate() + [table(), msg(TORN)],
    # shared objects and memory: the device exports UUIDs starting with 1
    "shared_objects": negotiate(protocol=PROTOCOL | SHARED_OBJECT | SHMEM) + [
        msg(GET_SHARED_OBJECT, bytes([1]) + bytes(15)),
        msg(GET_SHARED_OBJECT, bytes([2]) + bytes(15)),
        msg(GET_SHARED_OBJECT, bytes([1]) + bytes(14)),  # short
        msg(GET_SHARED_OBJECT, bytes([1]) + bytes(15), fds=[EVENTFD]),  # an fd too many
        msg(GET_SHMEM_CONFIG),
        msg(GET_SHMEM_CONFIG, u64(0)),  # a payload it has none of
    ],
    "shared_not_negotiated": negotiate() + [
        msg(GET_SHARED_OBJECT, bytes([1]) + bytes(15)),
        msg(GET_SHMEM_CONFIG),
    ],
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", "fuzz_backend")
    os.makedirs(out, exist_ok=True)
    for name, seq in SEEDS.items():
        data = b"".join(seq)
        if len(data) > 16384:
            sys.exit(f"{name}: {len(data)} bytes, over -max_len")
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
