#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Seeds for fuzz_vlan (tests/fuzz/fuzz_vlan.c says the input layout): a
# trunk TAP (port 0) and three guest ports on access VLANs, with untagged,
# 802.1Q, 802.1ad and 0x9100 frames, truncated tags, a tag at the very end,
# priority tags, VIDs 0/4094/4095, both virtio-net header sizes, chains cut
# into buffers, and offloaded TCP frames finished in software on the way
# to the trunk.
#
#   gen_corpus_vlan.py tests/fuzz/corpus/fuzz_vlan
import os
import struct
import sys

VLANS, TAP_OFFLOAD, GUEST_OFFLOAD, SPOOF_CHECK = 1, 2, 4, 8


def cfg(flags, native=0, trunks=(10, 20, 4094), access=(10, 20, 10)):
    """byte 0 flags; byte 1 native index and trunk bits; byte 2 access indexes."""
    b1 = [0, 10, 20, 30].index(native)
    for v in trunks:
        b1 |= 1 << (2 + [10, 20, 30, 4094].index(v))
    b2 = 0
    for i, v in enumerate(access):
        b2 |= [0, 10, 20, 4094].index(v) << (2 * i)
    return bytes([flags, b1, b2])


def mac(n):
    return bytes([2, 0, 0, 0, 0, n])


BCAST = b"\xff" * 6


def eth(dst, src, etype, payload=b"\x00" * 46):
    return dst + src + struct.pack(">H", etype) + payload


def tagged(dst, src, vid, etype=0x0800, payload=b"\x00" * 42, tpid=0x8100, pcp=0):
    return dst + src + struct.pack(">HH", tpid, pcp << 13 | vid) + struct.pack(">H", etype) + payload


def vhdr(size=12, flags=0, gso=0, hdr_len=0, gso_size=0, start=0, off=0):
    h = struct.pack("<BBHHHH", flags, gso, hdr_len, gso_size, start, off)
    return h + (b"\x01\x00" if size == 12 else b"")


def frame(data, hdr=None, ctl=0):
    data = (hdr if hdr is not None else vhdr()) + data
    return bytes([ctl]) + struct.pack("<H", len(data)) + data


def burst(port, *frames):
    return bytes([port, len(frames) - 1]) + b"".join(frames)


def tcp4(dst, src, payload_len, tag=None):
    payload = bytes(i & 0xff for i in range(payload_len))
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + payload_len, 1, 0x4000, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    tcp = struct.pack(">HHIIBBHHH", 1234, 80, 1, 0, 5 << 4, 0x18, 65535, 0, 0)
    if tag is None:
        return eth(dst, src, 0x0800, ip + tcp + payload)
    return tagged(dst, src, tag, 0x0800, ip + tcp + payload)


V = VLANS
SEEDS = {
    # a broadcast from VLAN 10 reaches port 3 untagged and the trunk tagged 10;
    # port 3 answers by unicast, learnt
    "access_flood_then_unicast": cfg(V) + burst(1, frame(eth(BCAST, mac(1), 0x0806)))
    + burst(3, frame(eth(mac(1), mac(3), 0x0800))),
    # the trunk carries VID 20 to port 2, untagged frames to its native VLAN 0
    "trunk_tagged_and_native": cfg(V) + burst(0, frame(tagged(BCAST, mac(9), 20)),
                                              frame(eth(BCAST, mac(9), 0x0800))),
    # VIDs the trunk does not carry, VID 0 (priority tag), 4095, a PCP set
    "trunk_foreign_vids": cfg(V) + burst(0, frame(tagged(BCAST, mac(9), 30)),
                                         frame(tagged(BCAST, mac(9), 0)),
                                         frame(tagged(BCAST, mac(9), 4095)),
                                         frame(tagged(BCAST, mac(9), 4094, pcp=5))),
    # tags a guest made itself: 802.1Q, QinQ 0x88a8 and 0x9100, all dropped
    "access_own_tags": cfg(V) + burst(1, frame(tagged(BCAST, mac(1), 20)),
                                      frame(tagged(BCAST, mac(1), 10, tpid=0x88a8)),
                                      frame(tagged(BCAST, mac(1), 10, tpid=0x9100))),
    # a second tag behind the trunk's (QinQ through the trunk)
    "trunk_double_tag": cfg(V) + burst(0, frame(tagged(BCAST, mac(9), 10, 0x8100,
                                                       struct.pack(">H", 20) + b"\x08\x00" + b"\x00" * 40)),
                                       frame(tagged(BCAST, mac(9), 10, 0x88a8))),
    # a tag cut short: frames of 14..17 bytes ending inside the tag, and one
    # of 18 whose tag is its very end
    "truncated_tags": cfg(V) + burst(0, *[frame((BCAST + mac(9) + b"\x81\x00\x00\x14\x08\x00")[:n])
                                          for n in (14, 15, 16, 17, 18)])
    + burst(2, *[frame((BCAST + mac(2) + b"\x81\x00\x00\x14")[:n]) for n in (14, 15, 16)]),
    # 10-byte headers, chains cut into up to three buffers
    "legacy_header_cut": cfg(V) + burst(1, frame(eth(BCAST, mac(1), 0x0800), vhdr(10), 0x35),
                                        frame(eth(mac(3), mac(1), 0x86dd), vhdr(10), 0xff),
                                        frame(eth(BCAST, mac(1), 0x0800), vhdr(12), 0x02)),
    # a checksum to finish and a GSO frame to segment on the way to a trunk
    # that takes no offloads, tagged after
    "offload_to_trunk": cfg(V) + burst(1, frame(tcp4(BCAST, mac(1), 200),
                                                vhdr(flags=1, start=34, off=16)),
                                       frame(tcp4(BCAST, mac(1), 3000),
                                             vhdr(flags=1, gso=1, hdr_len=54, gso_size=1000,
                                                  start=34, off=16))),
    # the same offloads coming in tagged from a trunk that takes them
    "offload_from_trunk": cfg(V | TAP_OFFLOAD) + burst(0, frame(tcp4(BCAST, mac(9), 300, tag=10),
                                                              vhdr(flags=1, start=38, off=16)),
                                                        frame(tcp4(BCAST, mac(9), 2000, tag=20),
                                                              vhdr(flags=1, gso=1, hdr_len=58,
                                                                   gso_size=700, start=38,
                                                                   off=16))),
    # a native VLAN 10 on the trunk: port 1's frames leave it untagged
    "native_vlan": cfg(V, native=10, trunks=(20, 30)) + burst(1, frame(eth(BCAST, mac(1), 0x0800)))
    + burst(0, frame(eth(BCAST, mac(9), 0x0800)), frame(tagged(BCAST, mac(9), 10))),
    # VLAN 4094 on an access port and the trunk
    "vid_4094": cfg(V, access=(4094, 0, 20)) + burst(1, frame(eth(BCAST, mac(1), 0x0800)))
    + burst(2, frame(eth(BCAST, mac(2), 0x0800))),
    # anti-spoofing on port 3 beside VLANs
    "spoofed_source": cfg(V | SPOOF_CHECK) + burst(3, frame(eth(BCAST, mac(3), 0x0800)),
                                                   frame(eth(BCAST, mac(7), 0x0800))),
    # no VLANs configured: tags pass as they are, everything is one domain
    "no_vlans": cfg(0) + burst(1, frame(tagged(BCAST, mac(1), 20)),
                               frame(tagged(BCAST, mac(1), 10, tpid=0x88a8)))
    + burst(0, frame(tagged(BCAST, mac(9), 30))),
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
