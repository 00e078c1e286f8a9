#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_memtable into tests/fuzz/corpus/fuzz_memtable/.

Each seed is one fuzz input, in the format documented at the top of
tests/fuzz/fuzz_memtable.c: a byte for max_regions (0: VHU_MAX_MEM_SLOTS),
then operations, each an opcode byte and its operands. Numbers are
little-endian. Rerun after changing the seeds:
    python3 tests/fuzz/gen_corpus_memtable.py
It writes only the files listed here and leaves other files (entries merged
by scripts/fuzz.sh) alone.
"""
import os
import struct
import sys

PAGE = 4096
U64_MAX = (1 << 64) - 1
ADD, REMOVE, SET_TABLE, GPA_PTR, GPA_IOV, UVA, CLEAR, HINT = range(8)


def num(v):
    """The shortest encoding of v in the harness's 'num' format."""
    if v % 256 == 0 and v // 256 <= 0xFFFF:
        return struct.pack("<BH", 0, v // 256)
    if v <= 0xFFFF:
        return struct.pack("<BH", 1, v)
    if U64_MAX - v <= 0xFFFF:
        return struct.pack("<BH", 3, U64_MAX - v)
    return struct.pack("<BQ", 2, v)


def fd(pages, short=False):
    """A memfd of @pages pages (one byte less if short)."""
    return bytes([pages | (0x80 if short else 0)])


def region(gpa, size, uva, offset):
    return num(gpa) + num(size) + num(uva) + num(offset)


def add(pages, gpa, size, uva, offset=0, short=False):
    return bytes([ADD]) + fd(pages, short) + region(gpa, size, uva, offset)


def near(index, delta16=0):
    """'pick' an address near region @index: (index | 0x80), then delta / 16 as s16."""
    return bytes([0x80 | index]) + struct.pack("<h", delta16)


def anywhere(v):
    return bytes([0]) + num(v)


def gpa_ptr(where, size):
    return bytes([GPA_PTR]) + where + num(size)


def gpa_iov(where, size, max_iov):
    return bytes([GPA_IOV]) + where + num(size) + bytes([max_iov])


def uva(where, size):
    return bytes([UVA]) + where + num(size)


def remove_index(index):
    return bytes([REMOVE, 0x80 | index])


def remove_any(gpa, size):
    return bytes([REMOVE, 0]) + num(gpa) + num(size)


def set_table(regions, nfds=None, size=None):
    """regions: (pages, gpa, size, uva, offset); nfds / size override the counts."""
    ctl = len(regions)
    ctl2 = 0
    if nfds is not None:
        extra = max(0, nfds - 7)
        ctl |= 0x10 | ((nfds - extra) << 5)
        ctl2 |= extra
    if size is not None:
        ctl2 |= 0x80
    out = bytes([SET_TABLE, ctl, ctl2])
    if size is not None:
        out += num(size)
    # the harness reads min(n, 8) regions, then one fd byte per further fd
    for pages, gpa, rsize, ruva, offset in regions[:8]:
        out += fd(pages) + region(gpa, rsize, ruva, offset)
    for _ in range(max(0, (len(regions) if nfds is None else nfds) - min(len(regions), 8))):
        out += fd(1)
    return out


UVA_BASE = 0x7F0000000000

SEEDS = {
    "add_translate": bytes([0])
    + add(4, 0x10000, 4 * PAGE, UVA_BASE)
    + gpa_ptr(near(0), 1)
    + gpa_ptr(near(0, 4 * PAGE // 16 - 1), 16)
    + gpa_ptr(near(0, 4 * PAGE // 16), 1)
    + gpa_ptr(near(0), 0)
    + gpa_iov(near(0), 4 * PAGE, 1),
    "two_regions_iov": bytes([0])
    + add(4, 0x10000, 4 * PAGE, UVA_BASE)
    + add(2, 0x14000, 2 * PAGE, UVA_BASE + 0x100000)
    + gpa_iov(anywhere(0x13F00), 0x200, 2)
    + gpa_iov(anywhere(0x13F00), 0x200, 1)
    + gpa_iov(anywhere(0x13F00), 0x3000, 9)
    + gpa_ptr(anywhere(0x13F00), 0x200),
    "mmap_offset": bytes([0])
    + add(3, 0x20000, PAGE, UVA_BASE, PAGE + 100)
    + add(16, 0x40000, 8 * PAGE, UVA_BASE + 0x10000, 7 * PAGE + 3)
    + gpa_ptr(near(0, PAGE // 16 - 1), 16)
    + gpa_ptr(near(1), 8 * PAGE),
    "overlap_and_full": bytes([3])
    + add(1, 0x1000, PAGE, UVA_BASE)
    + add(1, 0x1800, PAGE, UVA_BASE)
    + add(1, 0x2000, PAGE, UVA_BASE + PAGE)
    + add(1, 0x0, PAGE, UVA_BASE + 2 * PAGE)
    + add(1, 0x10000, PAGE, UVA_BASE + 3 * PAGE)
    + add(1, 0x0, 0, UVA_BASE),
    "overflow": bytes([0])
    + add(1, U64_MAX - PAGE + 1, PAGE, UVA_BASE)
    + add(1, 0x1000, PAGE, U64_MAX - 10)
    + add(1, 0x1000, PAGE, UVA_BASE, U64_MAX - 10)
    + add(1, U64_MAX - PAGE, PAGE, U64_MAX - PAGE)
    + gpa_ptr(anywhere(U64_MAX - 1), 1)
    + gpa_iov(anywhere(U64_MAX - 1), 2, 2)
    + add(2, 0x1000, 2 * PAGE, UVA_BASE, 0, short=True),
    "remove": bytes([0])
    + add(1, 0x1000, PAGE, UVA_BASE)
    + add(1, 0x3000, PAGE, UVA_BASE + PAGE)
    + add(1, 0x5000, PAGE, UVA_BASE + 2 * PAGE)
    + remove_index(1)
    + remove_any(0x1000, PAGE - 1)
    + remove_any(0x9000, PAGE)
    + gpa_ptr(anywhere(0x3000), 1)
    + remove_index(0)
    + bytes([CLEAR]),
    "set_table": bytes([0])
    + add(1, 0x1000, PAGE, UVA_BASE)
    + set_table([(4, 0x0, 4 * PAGE, UVA_BASE, 0),
                 (8, 0x100000, 8 * PAGE, UVA_BASE + 0x100000, 0),
                 (3, 0x4000, PAGE, UVA_BASE + 0x4000, PAGE + 5)])
    + gpa_iov(anywhere(0x3000), 0x2000, 2)
    + set_table([(2, 0x0, 2 * PAGE, UVA_BASE, 0), (2, 0x1000, PAGE, UVA_BASE, 0)])
    + set_table([(1, 0x0, PAGE, UVA_BASE, 0)], nfds=2)
    + set_table([(1, 0x0, PAGE, UVA_BASE, 0)], size=41)
    + set_table([(1, 0x1000 * i, PAGE, UVA_BASE, 0) for i in range(9)])
    + gpa_ptr(anywhere(0x100000), 8 * PAGE)
    + set_table([]),
    "uva": bytes([0])
    + add(4, 0x10000, 4 * PAGE, UVA_BASE)
    + add(4, 0x80000, 4 * PAGE, UVA_BASE + 4 * PAGE)
    + uva(near(0), 1)
    + uva(near(1, 4 * PAGE // 16 - 1), 16)
    + uva(anywhere(UVA_BASE + 4 * PAGE - 1), 2)
    + uva(anywhere(UVA_BASE + 8 * PAGE), 1)
    + bytes([HINT, 0xFF, 0xFF])
    + gpa_ptr(near(1), 1),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", "fuzz_memtable")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"gen_corpus_memtable: wrote {len(SEEDS)} seeds to {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
