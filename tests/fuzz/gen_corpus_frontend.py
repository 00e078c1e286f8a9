#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of fuzz_frontend into tests/fuzz/corpus/fuzz_frontend/.

Each seed is one fuzz input in the format documented at the top of
tests/fuzz/fuzz_frontend.c: the offered features, the offered protocol
features, the API calls to make, the queue shape, then one record per
answer the front-end waits for. The first seeds are well-behaved
back-ends (every answer sensible) of several shapes; the others make one
answer or one channel request hostile. Rerun after changing the seeds:
    python3 tests/fuzz/gen_corpus_frontend.py
"""
import os
import struct
import sys

VERSION_1, PROTOCOL, EVENT_IDX, INDIRECT, PACKED, ACCESS_PLATFORM = (
    1 << 32, 1 << 30, 1 << 29, 1 << 28, 1 << 34, 1 << 33)
LOG_ALL = 1 << 26
MQ, LOG_SHMFD, RARP, REPLY_ACK, BACKEND_REQ, CONFIG = 0, 1, 2, 3, 5, 9
INFLIGHT, RESET_DEVICE, INBAND, MEM_SLOTS, STATUS = 12, 13, 14, 15, 16
ALL_OPS = 0xFF
AUTO, BODY, HDR, TORN, TWICE = 0, 1, 2, 3, 4
EVENTFD, MEMFD, CHAN, CHAN_FD, MAIN = 8, 16, 32, 64, 128
VHOST_PCI, VPCI_SHAPE = 4, 8  # the experimental opt-in: protocol bit 4, shape bit 3

# back-end request ids
B_IOTLB, B_CONFIG_CHANGE, B_HOST_NOTIFIER, B_VRING_CALL, B_VRING_ERR = 1, 2, 3, 4, 5


def pbits(*bits):
    v = 0
    for b in bits:
        v |= 1 << b
    return v


BASE_PROTO = pbits(MQ, REPLY_ACK, BACKEND_REQ, CONFIG, STATUS, RESET_DEVICE, MEM_SLOTS,
                   LOG_SHMFD, RARP, INFLIGHT)
BASE_FEAT = VERSION_1 | PROTOCOL | EVENT_IDX | INDIRECT | LOG_ALL


def head(features=BASE_FEAT, protocol=BASE_PROTO, ops=ALL_OPS, shape=0):
    return struct.pack("<QQBB", features, protocol, ops, shape)


def chan(req, payload=b"", need_reply=False, fd=False):
    """A record that first sends a back-end request, then answers sensibly."""
    return bytes([AUTO | CHAN | (CHAN_FD if fd else 0), req, 1 if need_reply else 0]) + \
        struct.pack("<H", len(payload)) + payload


def body(payload, extra=0):
    return bytes([BODY | extra]) + struct.pack("<H", len(payload)) + payload


def main_msg(req, flags, payload=b""):
    """A record that first sends a message on the main socket, then answers sensibly."""
    return bytes([AUTO | MAIN]) + struct.pack("<IIH", req, flags, len(payload)) + payload


def autos(n):
    return bytes([AUTO]) * n


def seeds():
    s = {}
    s["good_split"] = head() + autos(80)
    s["good_packed_2q"] = head(BASE_FEAT | PACKED, shape=3) + autos(100)
    s["good_no_protocol"] = head(VERSION_1, 0) + autos(40)
    s["good_no_acks"] = head(protocol=pbits(MQ, CONFIG, BACKEND_REQ)) + autos(40)
    s["config_change"] = head() + autos(6) + chan(B_CONFIG_CHANGE, need_reply=True) + autos(60)
    s["chan_unknown_fd"] = head() + autos(6) + chan(77, b"\x01" * 8, True, True) + autos(60)
    s["chan_notifier"] = head() + autos(6) + chan(B_HOST_NOTIFIER, bytes(24), True, True) + \
        autos(60)
    s["features_short"] = head() + body(b"\x01\x02\x03")
    s["features_fd"] = head() + bytes([AUTO | EVENTFD]) + autos(60)
    s["inflight_memfd"] = head() + autos(20) + body(struct.pack("<QQHH", 4096, 0, 1, 8),
                                                     MEMFD) + autos(60)
    s["wrong_id"] = head() + autos(3) + bytes([HDR]) + struct.pack("<IIH", 1, 5, 8) + \
        bytes(8) + autos(40)
    s["torn"] = head() + autos(10) + bytes([TORN, 6]) + b"\x0b\0\0\0\x05\0"
    s["twice"] = head() + autos(4) + bytes([TWICE]) + autos(60)
    s["vring_base_huge"] = head(ops=0x41) + autos(30) + body(struct.pack("<II", 0, 0xFFFF)) + \
        autos(10)
    # the IOMMU role: a miss on the channel, answered with IOTLB updates
    miss = struct.pack("<QQQBB6x", 0x10000, 0, 0, 1, 1)
    s["iotlb_miss"] = head(BASE_FEAT | ACCESS_PLATFORM) + autos(20) + \
        chan(B_IOTLB, miss, need_reply=True) + autos(80)
    # in-band notifications: the front-end wants them (shape bit 2), the back-end offers
    inband = head(protocol=BASE_PROTO | pbits(INBAND), shape=4)
    call = struct.pack("<II", 0, 0)
    s["inband"] = inband + autos(80)
    s["inband_call"] = inband + autos(30) + chan(B_VRING_CALL, call, True) + autos(50)
    s["inband_call_bad_index"] = inband + autos(30) + \
        chan(B_VRING_CALL, struct.pack("<II", 9, 0), True) + autos(50)
    s["inband_err"] = inband + autos(30) + chan(B_VRING_ERR, call) + autos(50)
    # vhost-pci (opt-in): the back-end's SET_FEATURES on the main socket
    vpci = head(BASE_FEAT | PACKED, BASE_PROTO | pbits(VHOST_PCI), shape=VPCI_SHAPE)
    narrow = VERSION_1 | PROTOCOL | EVENT_IDX
    s["vpci_narrow"] = vpci + autos(8) + main_msg(2, 1, struct.pack("<Q", narrow)) + autos(120)
    s["vpci_superset"] = vpci + autos(8) + main_msg(2, 1, struct.pack("<Q", (1 << 64) - 1)) + autos(60)
    s["vpci_early"] = vpci + autos(2) + main_msg(2, 1, struct.pack("<Q", narrow)) + autos(60)
    s["vpci_need_reply"] = vpci + autos(8) + main_msg(2, 9, struct.pack("<Q", narrow)) + \
        autos(60)
    s["vpci_other_request"] = vpci + autos(8) + main_msg(3, 1) + autos(60)
    s["vpci_not_opted_in"] = head(protocol=BASE_PROTO | pbits(VHOST_PCI)) + autos(8) + \
        main_msg(2, 1, struct.pack("<Q", narrow)) + autos(60)
    return s


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_frontend")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
