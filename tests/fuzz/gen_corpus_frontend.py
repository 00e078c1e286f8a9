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
SEND_FD, HOST_NOTIFIER = 10, 11
SHARED_OBJECT, SHMEM = 18, 22  # SHMEM: QEMU master's bit (rust-vmm: 21)
ALL_OPS = 0xFF
AUTO, BODY, HDR, TORN, TWICE = 0, 1, 2, 3, 4
EVENTFD, MEMFD, CHAN, CHAN_FD, MAIN = 8, 16, 32, 64, 128
VHOST_PCI, VPCI_SHAPE = 4, 8  # the experimental opt-in: protocol bit 4, shape bit 3
OBJ_SHAPE = 16  # shape bit 4: a shared-object table
CHAN_MEMFD = 4  # channel record flags bit 2: its fd a memfd (BACKEND_SHMEM_MAP)

# back-end request ids
B_IOTLB, B_CONFIG_CHANGE, B_HOST_NOTIFIER, B_VRING_CALL, B_VRING_ERR = 1, 2, 3, 4, 5
B_OBJ_ADD, B_OBJ_REMOVE, B_OBJ_LOOKUP, B_SHMEM_MAP, B_SHMEM_UNMAP = 6, 7, 8, 9, 10


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


def chan_db(req, payload=b"", need_reply=False, pages=0):
    """A record that first sends a back-end request with pages sealed
    one-page memfds riding along (0, 1 or 2), then answers sensibly."""
    flags = (1 if need_reply else 0) | (16 if pages == 1 else 32 if pages == 2 else 0)
    return bytes([AUTO | CHAN, req, flags]) + struct.pack("<H", len(payload)) + payload


def chan(req, payload=b"", need_reply=False, fd=False, memfd=False):
    """A record that first sends a back-end request, then answers sensibly."""
    kind = AUTO | CHAN | (CHAN_FD if fd or memfd else 0)
    flags = (1 if need_reply else 0) | (CHAN_MEMFD if memfd else 0)
    return bytes([kind, req, flags]) + \
        struct.pack("<H", len(payload)) + payload


def mmap_msg(shmid, fd_offset, shm_offset, length, flags):
    """VhostUserMMap: u8 shmid, 7 bytes padding, fd_offset, shm_offset, len, flags."""
    return struct.pack("<B7xQQQQ", shmid, fd_offset, shm_offset, length, flags)


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
    # host notifiers (issue 20): a good page, then each field wrong once
    notifier = head(protocol=BASE_PROTO | pbits(SEND_FD, HOST_NOTIFIER), shape=32)

    def area(u64, size=4096, offset=0):
        return struct.pack("<QQQ", u64, size, offset)
    s["notifier"] = notifier + autos(30) + chan_db(B_HOST_NOTIFIER, area(0), True, pages=1) + \
        autos(20) + chan_db(B_HOST_NOTIFIER, area(0x100, 0), True) + autos(30)
    s["notifier_bad_index"] = notifier + autos(30) + \
        chan_db(B_HOST_NOTIFIER, area(9), True, pages=1) + autos(50)
    s["notifier_bad_size"] = notifier + autos(30) + \
        chan_db(B_HOST_NOTIFIER, area(0, 8192), True, pages=1) + autos(50)
    s["notifier_nofd_unmapped"] = notifier + autos(30) + \
        chan_db(B_HOST_NOTIFIER, area(0x100, 0), True) + autos(50)
    s["notifier_no_fd"] = notifier + autos(30) + chan_db(B_HOST_NOTIFIER, area(0), True) + autos(50)
    s["notifier_two_fds"] = notifier + autos(30) + \
        chan_db(B_HOST_NOTIFIER, area(0), True, pages=2) + autos(50)
    s["notifier_not_negotiated"] = head() + autos(30) + \
        chan_db(B_HOST_NOTIFIER, area(0), True, pages=1) + autos(50)
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
    # shared memory: GET_SHMEM_CONFIG (answer 7), then maps and unmaps on the channel
    shm = head(protocol=BASE_PROTO | pbits(SHMEM), ops=ALL_OPS)
    s["shmem_map"] = shm + autos(7) + \
        chan(B_SHMEM_MAP, mmap_msg(0, 0, 0, 4096, 1), True, memfd=True) + autos(60)
    s["shmem_map_unmap"] = shm + autos(7) + \
        chan(B_SHMEM_MAP, mmap_msg(0, 4096, 8192, 8192, 0), True, memfd=True) + autos(2) + \
        chan(B_SHMEM_UNMAP, mmap_msg(0, 0, 8192, 8192, 0), True) + autos(60)
    s["shmem_map_overflow"] = shm + autos(7) + \
        chan(B_SHMEM_MAP, mmap_msg(0, 0, (1 << 64) - 4096, 8192, 0), True, memfd=True) + \
        autos(60)
    s["shmem_map_short_file"] = shm + autos(7) + \
        chan(B_SHMEM_MAP, mmap_msg(2, 4096, 0, 4096 * 4, 0), True, memfd=True) + autos(60)
    s["shmem_map_eventfd"] = shm + autos(7) + \
        chan(B_SHMEM_MAP, mmap_msg(0, 0, 0, 4096, 0), True, fd=True) + autos(60)
    s["shmem_config_lies"] = shm + autos(5) + \
        body(struct.pack("<II", 3, 0) + struct.pack("<QQ", 4096, 8192)) + autos(60)
    s["shmem_config_unaligned"] = shm + autos(5) + \
        body(struct.pack("<IIQ", 1, 0, 4097)) + autos(60)
    # shared objects (shape bit 3: a table): add, look up (GET_SHARED_OBJECT), remove
    obj = head(protocol=BASE_PROTO | pbits(SHARED_OBJECT), shape=OBJ_SHAPE)
    uuid = bytes(range(16))
    s["objects"] = obj + autos(10) + chan(B_OBJ_ADD, uuid, True) + autos(1) + \
        chan(B_OBJ_ADD, uuid, True) + autos(1) + chan(B_OBJ_LOOKUP, uuid) + autos(3) + \
        chan(B_OBJ_REMOVE, uuid, True) + autos(1) + chan(B_OBJ_LOOKUP, uuid) + autos(60)
    s["objects_no_table"] = head(protocol=BASE_PROTO | pbits(SHARED_OBJECT)) + autos(10) + \
        chan(B_OBJ_ADD, uuid, True, fd=True) + autos(60)
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
