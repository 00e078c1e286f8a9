/* SPDX-License-Identifier: MIT */
#ifndef VHU_PROTOCOL_H
#define VHU_PROTOCOL_H

/*
 * The vhost-user wire format: request ids, header flags, feature bits and
 * payload structs, as in today's spec (QEMU docs/interop/vhost-user.rst).
 * Shared by both sides, the tools and the tracer. No code, only layout.
 *
 * All numbers travel in the host's native byte order. Where the kernel UAPI
 * already defines a payload (struct vhost_vring_state, struct vhost_vring_addr,
 * struct vhost_iotlb_msg, VHOST_F_LOG_ALL) we use it rather than redefine it.
 */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

/* ---- header ------------------------------------------------------------ */

#define VHU_VERSION 0x1u
#define VHU_FLAG_VERSION_MASK 0x3u
#define VHU_FLAG_REPLY (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)
/* Every other flag bit is reserved; rust-vmm rejects messages that set one. */
#define VHU_FLAG_RESERVED_MASK (~0xfu)

struct vhu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow the header */
};
static_assert(sizeof(struct vhu_msg_hdr) == 12, "header is 12 bytes");

/*
 * The largest payload we accept. The biggest standard payloads (memory table,
 * config space, crypto session) are well under it; rust-vmm uses the same.
 */
#define VHU_MAX_PAYLOAD 4096u
/* fds on one message: SET_MEM_TABLE carries one per region, at most 8. */
#define VHU_MAX_FDS 8u

/* ---- virtio feature bits that belong to vhost-user ---------------------- */

#define VHU_F_PROTOCOL_FEATURES 30    /* VHOST_USER_F_PROTOCOL_FEATURES */
#define VHU_F_LOG_ALL VHOST_F_LOG_ALL /* 26 */
static_assert(VHOST_F_LOG_ALL == 26, "VHOST_F_LOG_ALL is virtio bit 26");

/* ---- front-end -> back-end requests (VhostUserRequest) ------------------ */

enum vhu_request {
	VHU_REQ_NONE = 0,
	VHU_REQ_GET_FEATURES = 1,
	VHU_REQ_SET_FEATURES = 2,
	VHU_REQ_SET_OWNER = 3,
	VHU_REQ_RESET_OWNER = 4,
	VHU_REQ_SET_MEM_TABLE = 5,
	VHU_REQ_SET_LOG_BASE = 6,
	VHU_REQ_SET_LOG_FD = 7,
	VHU_REQ_SET_VRING_NUM = 8,
	VHU_REQ_SET_VRING_ADDR = 9,
	VHU_REQ_SET_VRING_BASE = 10,
	VHU_REQ_GET_VRING_BASE = 11,
	VHU_REQ_SET_VRING_KICK = 12,
	VHU_REQ_SET_VRING_CALL = 13,
	VHU_REQ_SET_VRING_ERR = 14,
	VHU_REQ_GET_PROTOCOL_FEATURES = 15,
	VHU_REQ_SET_PROTOCOL_FEATURES = 16,
	VHU_REQ_GET_QUEUE_NUM = 17,
	VHU_REQ_SET_VRING_ENABLE = 18,
	VHU_REQ_SEND_RARP = 19,
	VHU_REQ_NET_SET_MTU = 20,
	VHU_REQ_SET_BACKEND_REQ_FD = 21,
	VHU_REQ_IOTLB_MSG = 22,
	VHU_REQ_SET_VRING_ENDIAN = 23,
	VHU_REQ_GET_CONFIG = 24,
	VHU_REQ_SET_CONFIG = 25,
	VHU_REQ_CREATE_CRYPTO_SESSION = 26,
	VHU_REQ_CLOSE_CRYPTO_SESSION = 27,
	VHU_REQ_POSTCOPY_ADVISE = 28,
	VHU_REQ_POSTCOPY_LISTEN = 29,
	VHU_REQ_POSTCOPY_END = 30,
	VHU_REQ_GET_INFLIGHT_FD = 31,
	VHU_REQ_SET_INFLIGHT_FD = 32,
	VHU_REQ_GPU_SET_SOCKET = 33,
	VHU_REQ_RESET_DEVICE = 34,
	VHU_REQ_VRING_KICK = 35,
	VHU_REQ_GET_MAX_MEM_SLOTS = 36,
	VHU_REQ_ADD_MEM_REG = 37,
	VHU_REQ_REM_MEM_REG = 38,
	VHU_REQ_SET_STATUS = 39,
	VHU_REQ_GET_STATUS = 40,
	VHU_REQ_GET_SHARED_OBJECT = 41,
	VHU_REQ_SET_DEVICE_STATE_FD = 42,
	VHU_REQ_CHECK_DEVICE_STATE = 43,
	VHU_REQ_GET_SHMEM_CONFIG = 44,
	VHU_REQ_MAX
};

/* The spec's previous (master/slave) spelling. */
#define VHU_REQ_SET_SLAVE_REQ_FD VHU_REQ_SET_BACKEND_REQ_FD

/* ---- back-end -> front-end requests (VhostUserBackendRequest) ----------- */

enum vhu_backend_request {
	VHU_BACKEND_REQ_NONE = 0,
	VHU_BACKEND_REQ_IOTLB_MSG = 1,
	VHU_BACKEND_REQ_CONFIG_CHANGE_MSG = 2,
	VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG = 3,
	VHU_BACKEND_REQ_VRING_CALL = 4,
	VHU_BACKEND_REQ_VRING_ERR = 5,
	VHU_BACKEND_REQ_SHARED_OBJECT_ADD = 6,
	VHU_BACKEND_REQ_SHARED_OBJECT_REMOVE = 7,
	VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP = 8,
	VHU_BACKEND_REQ_SHMEM_MAP = 9,
	VHU_BACKEND_REQ_SHMEM_UNMAP = 10,
	VHU_BACKEND_REQ_MAX
};

/* The spec's previous (VHOST_USER_SLAVE_*) spelling. */
#define VHU_SLAVE_REQ_IOTLB_MSG VHU_BACKEND_REQ_IOTLB_MSG
#define VHU_SLAVE_REQ_CONFIG_CHANGE_MSG VHU_BACKEND_REQ_CONFIG_CHANGE_MSG
#define VHU_SLAVE_REQ_VRING_HOST_NOTIFIER_MSG VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG
#define VHU_SLAVE_REQ_VRING_CALL VHU_BACKEND_REQ_VRING_CALL
#define VHU_SLAVE_REQ_VRING_ERR VHU_BACKEND_REQ_VRING_ERR

/* ---- protocol feature bits (VHOST_USER_PROTOCOL_F_*) -------------------- */

enum vhu_protocol_feature {
	VHU_PROTOCOL_F_MQ = 0,
	VHU_PROTOCOL_F_LOG_SHMFD = 1,
	VHU_PROTOCOL_F_RARP = 2,
	VHU_PROTOCOL_F_REPLY_ACK = 3,
	VHU_PROTOCOL_F_NET_MTU = 4, /* upstream; the unmerged vhost-pci proposal also used 4 */
	VHU_PROTOCOL_F_BACKEND_REQ = 5,
	VHU_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHU_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHU_PROTOCOL_F_PAGEFAULT = 8,
	VHU_PROTOCOL_F_CONFIG = 9,
	VHU_PROTOCOL_F_BACKEND_SEND_FD = 10,
	VHU_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHU_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHU_PROTOCOL_F_RESET_DEVICE = 13,
	VHU_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHU_PROTOCOL_F_STATUS = 16,
	VHU_PROTOCOL_F_XEN_MMAP = 17,
	VHU_PROTOCOL_F_SHARED_OBJECT = 18,
	VHU_PROTOCOL_F_DEVICE_STATE = 19,
	VHU_PROTOCOL_F_GET_VRING_BASE_INFLIGHT = 20,
	VHU_PROTOCOL_F_GPA_ADDRESSES = 21,
	VHU_PROTOCOL_F_SHMEM = 22, /* QEMU master; rust-vmm uses 21 (see PROTOCOL.md) */
	VHU_PROTOCOL_F_GET_VRING_BASE_SKIP_DRAIN = 23,
	VHU_PROTOCOL_F_MAX
};

#define VHU_PROTOCOL_F_MTU VHU_PROTOCOL_F_NET_MTU /* the spec's #define spelling */
/*
 * Experimental, opt-in only (vhu_backend_config.vhost_pci,
 * vhu_frontend_config.vhost_pci): the unmerged vhost-pci revision of the
 * spec gives bit 4 to VHOST_PCI, which upstream and every peer read as
 * NET_MTU. Between two peers that both opted in, bit 4 means VHOST_PCI
 * and the back-end may send SET_FEATURES on the main socket.
 */
#define VHU_PROTOCOL_F_VHOST_PCI 4
#define VHU_PROTOCOL_F_SLAVE_REQ VHU_PROTOCOL_F_BACKEND_REQ
#define VHU_PROTOCOL_F_SLAVE_SEND_FD VHU_PROTOCOL_F_BACKEND_SEND_FD

#define VHU_BIT(n) (1ull << (n))

/* ---- payloads ----------------------------------------------------------- */

/* SET_VRING_KICK/CALL/ERR: ring index in bits 0-7, "no fd, poll" in bit 8. */
#define VHU_VRING_IDX_MASK 0xffull
#define VHU_VRING_NOFD_MASK 0x100ull

/* Vring state and address: the kernel's structs are the wire layout. */
static_assert(sizeof(struct vhost_vring_state) == 8, "vring state");
static_assert(offsetof(struct vhost_vring_state, num) == 4, "vring state num");
static_assert(sizeof(struct vhost_vring_addr) == 40, "vring addr");
static_assert(offsetof(struct vhost_vring_addr, desc_user_addr) == 8, "vring addr desc");
static_assert(offsetof(struct vhost_vring_addr, log_guest_addr) == 32, "vring addr log");
/* Packed rings: GET/SET_VRING_BASE carry the wrap counter in bit 15 of each index. */
#define VHU_VRING_BASE_WRAP (1u << 15)

/*
 * The ring layout, written once for the device side (lib/virtq) and the
 * driver side (lib/frontend); virtio 1.x, "Split Virtqueues" and "Packed
 * Virtqueues". A packed ring position (vring base, event off_wrap) is a
 * slot in bits 0-14 and a wrap counter in bit 15.
 */
#define VHU_RING_DESC_SIZE 16u /* a split or packed descriptor */
#define VHU_PACKED_DESC_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define VHU_PACKED_DESC_F_USED (1u << VRING_PACKED_DESC_F_USED)
#define VHU_PACKED_EVENT_WRAP (1u << VRING_PACKED_EVENT_F_WRAP_CTR)
#define VHU_PACKED_SLOT_MASK 0x7fffu
static_assert(sizeof(struct vring_desc) == VHU_RING_DESC_SIZE, "split descriptor");
static_assert(sizeof(struct vring_packed_desc) == VHU_RING_DESC_SIZE, "packed descriptor");
static_assert(VHU_PACKED_EVENT_WRAP == VHU_VRING_BASE_WRAP, "wrap bit");

/* One memory region: SET_MEM_TABLE entries, ADD_MEM_REG, REM_MEM_REG. */
struct vhu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};
static_assert(sizeof(struct vhu_mem_region) == 32, "memory region");

#define VHU_MEM_TABLE_MAX_REGIONS 8u /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VHU_MAX_MEM_SLOTS 509u	     /* what QEMU, libvhost-user and rust-vmm use */

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_mem_region regions[VHU_MEM_TABLE_MAX_REGIONS];
};
static_assert(offsetof(struct vhu_mem_table, regions) == 8, "memory table header");
static_assert(sizeof(struct vhu_mem_table) == 8 + 8 * 32, "memory table");

/* ADD_MEM_REG / REM_MEM_REG: VhostUserMemRegMsg. */
struct vhu_mem_reg {
	uint64_t padding;
	struct vhu_mem_region region;
};
static_assert(sizeof(struct vhu_mem_reg) == 40, "single memory region");

/* SET_LOG_BASE: VhostUserLog. */
struct vhu_log_area {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};
static_assert(sizeof(struct vhu_log_area) == 16, "log area");

/* IOTLB_MSG and BACKEND_IOTLB_MSG carry the kernel's struct vhost_iotlb_msg. */
static_assert(sizeof(struct vhost_iotlb_msg) == 32, "iotlb message");
static_assert(offsetof(struct vhost_iotlb_msg, perm) == 24, "iotlb perm");
static_assert(offsetof(struct vhost_iotlb_msg, type) == 25, "iotlb type");

/* GET_CONFIG / SET_CONFIG: VhostUserConfig, a 12-byte header then the bytes. */
#define VHU_CONFIG_HDR_SIZE 12u
#define VHU_MAX_CONFIG_SIZE 256u /* VHOST_USER_MAX_CONFIG_SIZE */
#define VHU_CONFIG_F_WRITABLE 0x1u
#define VHU_CONFIG_F_MIGRATION 0x2u

struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHU_MAX_CONFIG_SIZE];
};
static_assert(offsetof(struct vhu_config, region) == VHU_CONFIG_HDR_SIZE, "config header");
static_assert(sizeof(struct vhu_config) == 12 + 256, "config");

/* BACKEND_VRING_HOST_NOTIFIER_MSG: VhostUserVringArea. */
struct vhu_vring_area {
	uint64_t u64; /* ring index in bits 0-7, NOFD in bit 8 */
	uint64_t size;
	uint64_t offset;
};
static_assert(sizeof(struct vhu_vring_area) == 24, "vring area");

/* GET_INFLIGHT_FD / SET_INFLIGHT_FD: VhostUserInflight (4 bytes of tail padding). */
struct vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
static_assert(offsetof(struct vhu_inflight, num_queues) == 16, "inflight num_queues");
static_assert(offsetof(struct vhu_inflight, queue_size) == 18, "inflight queue_size");
static_assert(sizeof(struct vhu_inflight) == 24, "inflight");

/* GET_SHARED_OBJECT and BACKEND_SHARED_OBJECT_*: VhostUserShared, a UUID. */
#define VHU_UUID_LEN 16u
struct vhu_shared_object {
	uint8_t uuid[VHU_UUID_LEN];
};
static_assert(sizeof(struct vhu_shared_object) == 16, "shared object");

/* SET_DEVICE_STATE_FD: VhostUserTransferDeviceState. */
enum vhu_transfer_direction { VHU_TRANSFER_SAVE = 0, VHU_TRANSFER_LOAD = 1 };
enum vhu_transfer_phase { VHU_TRANSFER_PHASE_STOPPED = 0 };
struct vhu_device_state_transfer {
	uint32_t direction;
	uint32_t phase;
};
static_assert(sizeof(struct vhu_device_state_transfer) == 8, "device state transfer");
/* Its u64 reply: bits 0-7 an error code, bit 8 "no fd, use the socket". */
#define VHU_DEVICE_STATE_ERR_MASK 0xffull
#define VHU_DEVICE_STATE_NOFD (1ull << 8)

/*
 * GET_SHMEM_CONFIG reply: VhostUserShMemConfig (QEMU master's spec, "VIRTIO
 * Shared Memory Region configuration"): nregions, the number of non-zero
 * sizes, then 256 sizes indexed by shmid. Early drafts and rust-vmm sent 8
 * sizes; a reply with fewer entries reads the missing ones as 0.
 */
#define VHU_MAX_SHMEM_REGIONS 256u
struct vhu_shmem_config {
	uint32_t nregions;
	uint32_t padding;
	uint64_t memory_sizes[VHU_MAX_SHMEM_REGIONS];
};
static_assert(sizeof(struct vhu_shmem_config) == 8 + 256 * 8, "shmem config");

/*
 * BACKEND_SHMEM_MAP / BACKEND_SHMEM_UNMAP: VhostUserMMap. flags, as QEMU
 * master's spec ("MMAP request") and VHOST_USER_FLAG_MAP_RW: bit 0 set maps
 * the pages read-write, clear read-only; no other bit is defined.
 */
#define VHU_SHMEM_MAP_RW 0x1ull
struct vhu_shmem_map {
	uint8_t shmid;
	uint8_t padding[7];
	uint64_t fd_offset;
	uint64_t shm_offset;
	uint64_t len;
	uint64_t flags;
};
static_assert(sizeof(struct vhu_shmem_map) == 40, "shmem map");
static_assert(offsetof(struct vhu_shmem_map, fd_offset) == 8, "shmem map fd_offset");

/* Every payload; raw[] bounds what one message may carry. */
union vhu_payload {
	uint64_t u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhu_mem_table mem_table;
	struct vhu_mem_reg mem_reg;
	struct vhu_log_area log;
	struct vhost_iotlb_msg iotlb;
	struct vhu_config config;
	struct vhu_vring_area area;
	struct vhu_inflight inflight;
	struct vhu_shared_object shared;
	struct vhu_device_state_transfer transfer;
	struct vhu_shmem_config shmem_config;
	struct vhu_shmem_map shmem_map;
	uint8_t raw[VHU_MAX_PAYLOAD];
};
static_assert(sizeof(union vhu_payload) == VHU_MAX_PAYLOAD, "payload bound");

#endif /* VHU_PROTOCOL_H */
