#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of fuzz_split, fuzz_packed and fuzz_iommu into
tests/fuzz/corpus/fuzz_split/, fuzz_packed/ and fuzz_iommu/.

Each seed is one fuzz input in the format of tests/fuzz/fuzz_ring.h:
6 header bytes (features, ring size, SET_VRING_BASE value), 32 operation
bytes, then the guest memory image (region 0 at gpa 0, region 1 at gpa
8192). The ring sits at fixed places: descriptors at gpa 0, the avail ring
(split) or driver event struct (packed) at 1024, the used ring or device
event struct at 1536. Buffers go at 4096 and up; 8176 crosses into region 1.

Numbers are little-endian, as virtio 1.x rings are. Rerun after changing
the seeds:
    python3 tests/fuzz/gen_corpus_rings.py
It writes only the files listed here and leaves other files (entries merged
by scripts/fuzz.sh) alone.
"""
import os
import struct
import sys

F_INDIRECT, F_EVENT_IDX = 1, 2
DESC, AVAIL, USED = 0, 1024, 1536
BUF = 4096
CROSS = 8192 - 16  # a buffer here runs into region 1
NOPS = 32

NEXT, WRITE, INDIRECT = 1, 2, 4
P_AVAIL, P_USED = 1 << 7, 1 << 15
EV_ENABLE, EV_DISABLE, EV_DESC = 0, 1, 2

# operations (see fuzz_ring.h)
POP, NOTIFY = 0, 3


def PUSH(len_units=1):
    """push the oldest request, len = len_units * 37"""
    return 2 | (len_units << 3)


def ENABLE(on):
    return 4 | (8 if on else 0)


def POKE(offset, value):
    return [5 | ((offset % 8) << 5), offset // 8, value]


def SET_BASE(base):
    return [6] + list(struct.pack("<I", base))


def SET_ADDR(desc, avail, used):
    return [7, desc // 8, avail // 8, used // 8]


class Mem:
    def __init__(self):
        self.b = bytearray(8192 + 256)

    def put(self, gpa, data):
        self.b[gpa:gpa + len(data)] = data

    def image(self):
        return bytes(self.b).rstrip(b"\0") or b"\0"


def seed(features, size_byte, base, ops, mem):
    ops = bytes(ops)
    assert len(ops) <= NOPS, len(ops)
    hdr = bytes([features, size_byte]) + struct.pack("<I", base)
    return hdr + ops + bytes(NOPS - len(ops)) + mem.image()


# ---- split -----------------------------------------------------------------

def split_desc(mem, i, addr, length, flags=0, nxt=0, table=DESC):
    mem.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))


def split_avail(mem, num, heads, start=0, used_event=0, flags=0):
    idx = (start + len(heads)) & 0xFFFF
    mem.put(AVAIL, struct.pack("<HH", flags, idx))
    for k, h in enumerate(heads):
        mem.put(AVAIL + 4 + 2 * ((start + k) % num), struct.pack("<H", h))
    mem.put(AVAIL + 4 + 2 * num, struct.pack("<H", used_event))


def split_used_idx(mem, idx):
    mem.put(USED + 2, struct.pack("<H", idx))


def split_seeds():
    out = {}
    log2 = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5, 64: 6}

    m = Mem()
    split_desc(m, 0, BUF, 64)
    split_avail(m, 8, [0])
    out["one_desc"] = seed(0, log2[8], 0, [POP, PUSH(0), NOTIFY], m)

    m = Mem()
    split_desc(m, 0, BUF, 16, NEXT, 1)
    split_desc(m, 1, BUF + 64, 32, NEXT, 2)
    split_desc(m, 2, BUF + 256, 128, WRITE, 0)
    split_desc(m, 3, BUF + 512, 8, WRITE)
    split_avail(m, 8, [0, 3])
    out["chain_out_in"] = seed(0, log2[8], 0,
                               [POP, POP, PUSH(2), PUSH(9), NOTIFY, ENABLE(True)], m)

    m = Mem()
    table = 2048
    split_desc(m, 0, BUF, 10, NEXT, 1, table)
    split_desc(m, 1, BUF + 64, 20, NEXT | WRITE, 2, table)
    split_desc(m, 2, BUF + 128, 30, WRITE, 0, table)
    split_desc(m, 5, table, 48, INDIRECT)
    split_avail(m, 8, [5])
    out["indirect"] = seed(F_INDIRECT, log2[8], 0, [POP, PUSH(1), NOTIFY], m)

    m = Mem()
    split_desc(m, 0, CROSS, 64, WRITE)
    split_avail(m, 4, [0])
    out["cross_regions"] = seed(0, log2[4], 0, [POP, PUSH(1), NOTIFY], m)

    m = Mem()
    for i in range(4):
        split_desc(m, i, BUF + 64 * i, 64, WRITE)
    split_avail(m, 16, [0, 1, 2, 3], used_event=2)
    out["event_idx"] = seed(F_EVENT_IDX, log2[16], 0,
                            [POP, PUSH(1), NOTIFY, POP, PUSH(1), NOTIFY, POP, POP,
                             PUSH(1), PUSH(1), NOTIFY, ENABLE(False), ENABLE(True)], m)

    m = Mem()
    split_desc(m, 0, BUF, 8)
    split_desc(m, 1, BUF + 8, 8, WRITE)
    split_avail(m, 8, [0, 1, 0], start=65534)
    split_used_idx(m, 65534)
    out["wrap_65535"] = seed(0, log2[8], 65534, [POP, PUSH(0), POP, PUSH(0), POP,
                                                 PUSH(0), NOTIFY], m)

    m = Mem()
    split_desc(m, 0, BUF, 8, NEXT, 1)
    split_desc(m, 1, BUF, 8, NEXT, 0)
    split_avail(m, 8, [0])
    out["bad_loop"] = seed(0, log2[8], 0, [POP, POP], m)

    m = Mem()
    split_desc(m, 0, BUF, 8, NEXT, 1)
    split_desc(m, 1, BUF + 8, 8, WRITE)
    split_avail(m, 8, [0])
    out["reconfigure"] = seed(F_INDIRECT | F_EVENT_IDX, log2[8], 0,
                              [POP, PUSH(0)] + SET_BASE(0) + [POP] +
                              SET_ADDR(DESC, AVAIL, USED) + [POP] +
                              POKE(AVAIL + 2, 2) + [POP, NOTIFY], m)
    return out


# ---- packed ----------------------------------------------------------------

def packed_desc(mem, slot, addr, length, buf_id, flags, wrap=True):
    flags |= P_AVAIL if wrap else P_USED
    mem.put(DESC + 16 * slot, struct.pack("<QIHH", addr, length, buf_id, flags))


def packed_event(mem, gpa, flags, slot=0, wrap=True):
    mem.put(gpa, struct.pack("<HH", slot | (0x8000 if wrap else 0), flags))


def qemu_base(avail, avail_wrap, used, used_wrap):
    return (avail | avail_wrap << 15) | (used | used_wrap << 15) << 16


FRESH = qemu_base(0, 1, 0, 1)


def packed_seeds():
    out = {}

    m = Mem()
    packed_desc(m, 0, BUF, 64, 0, 0)
    out["one_desc"] = seed(0, 7, FRESH, [POP, PUSH(0), NOTIFY], m)

    m = Mem()
    packed_desc(m, 0, BUF, 16, 2, NEXT)
    packed_desc(m, 1, BUF + 64, 32, 2, NEXT | WRITE)
    packed_desc(m, 2, BUF + 256, 128, 2, WRITE)
    packed_desc(m, 3, BUF + 512, 8, 1, WRITE)
    out["chain_out_in"] = seed(0, 7, FRESH, [POP, POP, PUSH(2), PUSH(9), NOTIFY,
                                             ENABLE(True)], m)

    m = Mem()
    table = 2048
    m.put(table, struct.pack("<QIHH", BUF, 10, 0, 0))
    m.put(table + 16, struct.pack("<QIHH", BUF + 64, 20, 0, WRITE))
    m.put(table + 32, struct.pack("<QIHH", BUF + 128, 30, 0, WRITE))
    packed_desc(m, 0, table, 48, 3, INDIRECT)
    out["indirect"] = seed(F_INDIRECT, 7, FRESH, [POP, PUSH(1), NOTIFY], m)

    m = Mem()
    packed_desc(m, 0, CROSS, 64, 0, WRITE)
    out["cross_regions"] = seed(0, 3, FRESH, [POP, PUSH(1), NOTIFY], m)

    # ring of 4 resumed at slot 3: a chain of 2 wraps to slot 0 (wrap 0)
    m = Mem()
    packed_desc(m, 3, BUF, 8, 1, NEXT)
    packed_desc(m, 0, BUF + 8, 8, 1, WRITE, wrap=False)
    packed_desc(m, 1, BUF + 16, 8, 2, WRITE, wrap=False)
    out["wrap"] = seed(0, 3, qemu_base(3, 1, 3, 1),
                       [POP, PUSH(0), POP, PUSH(0), NOTIFY, ENABLE(True)], m)

    m = Mem()
    for i in range(4):
        packed_desc(m, i, BUF + 64 * i, 64, i, WRITE)
    packed_event(m, AVAIL, EV_DESC, 2, True)
    out["event_desc"] = seed(F_EVENT_IDX, 15, FRESH,
                             [POP, PUSH(1), NOTIFY, POP, PUSH(1), NOTIFY, POP, POP,
                              PUSH(1), PUSH(1), NOTIFY, ENABLE(False), ENABLE(True)], m)

    m = Mem()
    for i in range(4):
        packed_desc(m, i, BUF, 8, 0, NEXT)
    out["bad_long_chain"] = seed(0, 3, FRESH, [POP, POP], m)

    m = Mem()
    packed_desc(m, 0, BUF, 8, 200, 0)
    out["bad_id"] = seed(0, 7, FRESH, [POP], m)

    m = Mem()
    packed_desc(m, 0, BUF, 8, 0, NEXT)
    packed_desc(m, 1, BUF + 8, 8, 0, WRITE)
    out["reconfigure"] = seed(F_INDIRECT | F_EVENT_IDX, 7, FRESH,
                              [POP, PUSH(0)] + SET_BASE(FRESH) + [POP] +
                              SET_ADDR(DESC, AVAIL, USED) + [POP] +
                              POKE(DESC + 14, 0x80) + [POP, NOTIFY], m)
    return out


# ---- behind the IOMMU (fuzz_iommu) -------------------------------------------
MAP_ALL, CHANNEL_FULL, SWAP = 8, 16, 32  # header byte 0, fuzz_ring.h
RO, WO, RW = 1, 2, 3


def UPDATE(iova, size, gpa, perm, flags=0):
    """IOTLB UPDATE (fuzz_ring.h op 5 | 8): iova in 128-byte units, size and
    gpa in 64-byte units"""
    return [5 | 8 | (perm << 5), iova // 128, size // 64, gpa // 64, flags]


def INVALIDATE(iova, size, flags=0):
    return [5 | 8 | 16, iova // 128, size // 64, 0, flags]


def iommu_seeds():
    """Every split and packed seed with the memory mapped (IOVA = gpa), and
    scripts that map, invalidate and fault while the ring runs."""
    out = {}
    for name, data in split_seeds().items():
        out["split_" + name] = bytes([data[0] | MAP_ALL]) + data[1:]
    for name, data in packed_seeds().items():
        out["packed_" + name] = bytes([data[0] | MAP_ALL | 4]) + data[1:]
    log2_8 = 3

    # nothing mapped: the pop misses; the script maps the ring and the
    # buffer (a MISS answered late), then the request goes through
    m = Mem()
    split_desc(m, 0, BUF, 64)
    split_avail(m, 8, [0])
    out["miss_then_update"] = seed(0, log2_8, 0,
                                   [POP] + UPDATE(0, 2048, 0, RW) + UPDATE(BUF, 64, BUF, RO)
                                   + [POP, PUSH(0), NOTIFY], m)
    # the channel full: the MISS is sent again on the next fetch
    out["miss_channel_full"] = seed(CHANNEL_FULL, log2_8, 0,
                                    [POP, POP] + UPDATE(0, 4096, 0, RW) + [POP, POP]
                                    + UPDATE(BUF, 64, BUF, RW) + [POP, PUSH(0)], m)
    # mapped, then everything invalidated mid-run (size 0: to the end of
    # the space), the next pop misses, a remap lets it go on
    m = Mem()
    for i in range(4):
        split_desc(m, i, BUF + 64 * i, 64, WRITE)
    split_avail(m, 8, [0, 1, 2, 3])
    out["invalidate_midrun"] = seed(MAP_ALL, log2_8, 0,
                                    [POP] + INVALIDATE(0, 0) + [POP, PUSH(1)]
                                    + UPDATE(0, 8192, 0, RW) + [POP, POP, PUSH(1), PUSH(1), NOTIFY], m)
    # a device-writable buffer mapped read-only: ACCESS_FAIL, handed out with it left out
    out["readonly_write_buf"] = seed(0, log2_8, 0,
                                     UPDATE(0, 2048, 0, RW) + UPDATE(BUF, 256, BUF, RO)
                                     + [POP, PUSH(0), POP, PUSH(0)], m)
    # a read-only page: a driver-readable buffer in it goes (and fills the
    # queue's cache), a device-writable one in the same page must still fault
    m = Mem()
    split_desc(m, 0, BUF, 64)
    split_desc(m, 1, BUF + 128, 64, WRITE)
    split_avail(m, 8, [0, 1])
    out["ro_page_read_then_write"] = seed(0, log2_8, 0,
                                          UPDATE(0, 2048, 0, RW) + UPDATE(BUF, 4096, BUF, RO)
                                          + [POP, POP, PUSH(0), PUSH(0), NOTIFY], m)
    # hostile updates: size 0, wrapping (near 2^64), unknown permission
    # bits, no permission, memory that crosses regions; then the table's
    # bound (4) reached
    out["hostile_updates"] = seed(MAP_ALL, log2_8, 0,
                                  UPDATE(BUF, 0, BUF, RW) + UPDATE(0, 256, 0, RW, 1)
                                  + UPDATE(BUF, 64, BUF, 4) + UPDATE(BUF, 64, BUF, 0)
                                  + UPDATE(BUF, 1024, 8000, RW) + [POP, PUSH(0)], m)
    out["table_bound"] = seed(MAP_ALL, log2_8, 0,
                              UPDATE(20480, 64, BUF, RW) + UPDATE(20608, 64, BUF, RO)
                              + UPDATE(20736, 64, BUF, WO) + INVALIDATE(24576, 64)
                              + INVALIDATE(0, 64, 1) + [POP, PUSH(1)], m)
    # the regions swapped: IOVA 0 is region 1, so the ring lives where gpa says it does not
    out["swapped_regions"] = seed(MAP_ALL | SWAP, log2_8, 0, [POP, PUSH(0), NOTIFY], m)
    return out


def write(target, seeds):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds in {d}", file=sys.stderr)


if __name__ == "__main__":
    write("fuzz_split", split_seeds())
    write("fuzz_packed", packed_seeds())
    write("fuzz_iommu", iommu_seeds())
