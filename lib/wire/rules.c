/* SPDX-License-Identifier: MIT */
/*
 * One row per request, both directions. Sizes and fd counts are data, not
 * code: vhu_msg_check() applies the row before any handler runs, and
 * vhu_reply_check() applies the reply half of the row to what comes back.
 *
 * Sources: QEMU docs/interop/vhost-user.rst ("Front-end message types",
 * "Back-end message types"), and what QEMU, DPDK and rust-vmm really send
 * where the text is loose (noted per row).
 */
#include <stddef.h>

#include "common/util.h"
#include "wire/wire.h"
#include <vhu/gpu.h>

#define EXACT(type) .min_size = sizeof(type), .max_size = sizeof(type)
#define REPLY_EXACT(type) .reply_min_size = sizeof(type), .reply_max_size = sizeof(type)
#define ALWAYS(type) .reply = VHU_REPLY_ALWAYS, REPLY_EXACT(type)
#define PF(bit) .gate_protocol = VHU_BIT(VHU_PROTOCOL_F_##bit)
#define VF(bit) .gate_features = VHU_BIT(bit)
#define FD(n) .min_fds = (n), .max_fds = (n)
#define FD_OPT .min_fds = 0, .max_fds = 1
#define PAUSES .pauses_queues = true
#define CONFIG_SIZES .min_size = VHU_CONFIG_HDR_SIZE, .max_size = sizeof(struct vhu_config)

#define ROW(req, ...) [VHU_REQ_##req] = { .name = "VHOST_USER_" #req, __VA_ARGS__ }
#define BROW(req, ...) [VHU_BACKEND_REQ_##req] = { .name = "VHOST_USER_BACKEND_" #req, __VA_ARGS__ }

/* Front-end -> back-end requests. A message that does not fit its row is rejected. */
static const struct vhu_rule frontend_rules[VHU_REQ_MAX] = {
	ROW(GET_FEATURES, ALWAYS(uint64_t)),
	ROW(SET_FEATURES, EXACT(uint64_t)),
	ROW(SET_OWNER),
	/* deprecated; treated as "stop every ring" */
	ROW(RESET_OWNER, PAUSES),
	/* header + nregions entries; nregions == nfds is the handler's check.
	 * Under postcopy the reply echoes the table with the back-end's addresses. */
	ROW(SET_MEM_TABLE, .min_size = offsetof(struct vhu_mem_table, regions),
	    .max_size = sizeof(struct vhu_mem_table), .max_fds = VHU_MEM_TABLE_MAX_REGIONS,
	    .reply = VHU_REPLY_CONDITIONAL,
	    .reply_min_size = offsetof(struct vhu_mem_table, regions),
	    .reply_max_size = sizeof(struct vhu_mem_table), PAUSES),
	/* struct vhu_log_area + the log fd with LOG_SHMFD; a bare u64 without it.
	 * With LOG_SHMFD the back-end answers: libvhost-user with a u64 0, DPDK
	 * with an empty payload (its comment: QEMU expects none). */
	ROW(SET_LOG_BASE, .min_size = sizeof(uint64_t), .max_size = sizeof(struct vhu_log_area),
	    FD_OPT, .reply = VHU_REPLY_CONDITIONAL, .reply_min_size = 0,
	    .reply_max_size = sizeof(uint64_t), PAUSES),
	/* an eventfd to signal log changes; DPDK and libvhost-user insist on one */
	ROW(SET_LOG_FD, .max_size = sizeof(uint64_t), FD(1)),
	ROW(SET_VRING_NUM, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE, PAUSES),
	ROW(SET_VRING_ADDR, EXACT(struct vhost_vring_addr), .queue = VHU_QUEUE_IN_ADDR, PAUSES),
	ROW(SET_VRING_BASE, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE, PAUSES),
	ROW(GET_VRING_BASE, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	    ALWAYS(struct vhost_vring_state), PAUSES),
	/* u64: index in bits 0-7, NOFD in bit 8; the fd is absent iff NOFD */
	ROW(SET_VRING_KICK, EXACT(uint64_t), FD_OPT, .queue = VHU_QUEUE_IN_U64, PAUSES),
	ROW(SET_VRING_CALL, EXACT(uint64_t), FD_OPT, .queue = VHU_QUEUE_IN_U64, PAUSES),
	ROW(SET_VRING_ERR, EXACT(uint64_t), FD_OPT, .queue = VHU_QUEUE_IN_U64, PAUSES),
	/* legal before SET_FEATURES once the back-end offered bit 30 */
	ROW(GET_PROTOCOL_FEATURES, ALWAYS(uint64_t), VF(VHU_F_PROTOCOL_FEATURES)),
	ROW(SET_PROTOCOL_FEATURES, EXACT(uint64_t), VF(VHU_F_PROTOCOL_FEATURES)),
	ROW(GET_QUEUE_NUM, ALWAYS(uint64_t), PF(MQ)),
	ROW(SET_VRING_ENABLE, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	    VF(VHU_F_PROTOCOL_FEATURES), PAUSES),
	/* the guest's MAC in the first 6 bytes of the u64 */
	ROW(SEND_RARP, EXACT(uint64_t), PF(RARP)),
	ROW(NET_SET_MTU, EXACT(uint64_t), PF(NET_MTU)),
	ROW(SET_BACKEND_REQ_FD, FD(1), PF(BACKEND_REQ)),
	/* QEMU always sets NEED_REPLY on it and waits for the u64 */
	ROW(IOTLB_MSG, EXACT(struct vhost_iotlb_msg), VF(VIRTIO_F_ACCESS_PLATFORM)),
	ROW(SET_VRING_ENDIAN, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	    PF(CROSS_ENDIAN)),
	/* a size-0 reply config (hdr.size == 12, config.size == 0) reports failure */
	ROW(GET_CONFIG, CONFIG_SIZES, .reply = VHU_REPLY_ALWAYS,
	    .reply_min_size = VHU_CONFIG_HDR_SIZE, .reply_max_size = sizeof(struct vhu_config),
	    PF(CONFIG)),
	ROW(SET_CONFIG, CONFIG_SIZES, PF(CONFIG)),
	/* the session struct depends on the cipher: opaque, bounded by the payload */
	ROW(CREATE_CRYPTO_SESSION, .min_size = sizeof(uint64_t), .max_size = VHU_MAX_PAYLOAD,
	    .reply = VHU_REPLY_ALWAYS, .reply_min_size = sizeof(uint64_t),
	    .reply_max_size = VHU_MAX_PAYLOAD, PF(CRYPTO_SESSION)),
	ROW(CLOSE_CRYPTO_SESSION, EXACT(uint64_t), PF(CRYPTO_SESSION)),
	/* the reply carries the userfaultfd and no payload */
	ROW(POSTCOPY_ADVISE, .reply = VHU_REPLY_ALWAYS, .reply_max_fds = 1, PF(PAGEFAULT)),
	ROW(POSTCOPY_LISTEN, PF(PAGEFAULT)),
	/* QEMU sets NEED_REPLY on it */
	ROW(POSTCOPY_END, PF(PAGEFAULT)),
	ROW(GET_INFLIGHT_FD, EXACT(struct vhu_inflight), ALWAYS(struct vhu_inflight),
	    .reply_max_fds = 1, PF(INFLIGHT_SHMFD)),
	ROW(SET_INFLIGHT_FD, EXACT(struct vhu_inflight), FD(1), PF(INFLIGHT_SHMFD), PAUSES),
	/* vhost-user-gpu only; the channel's own protocol is in vhost-user-gpu.rst */
	ROW(GPU_SET_SOCKET, FD(1)),
	ROW(RESET_DEVICE, PF(RESET_DEVICE), PAUSES),
	ROW(VRING_KICK, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	    PF(INBAND_NOTIFICATIONS)),
	ROW(GET_MAX_MEM_SLOTS, ALWAYS(uint64_t), PF(CONFIGURE_MEM_SLOTS)),
	/* under postcopy the reply echoes the region with the back-end's address */
	ROW(ADD_MEM_REG, EXACT(struct vhu_mem_reg), FD(1), .reply = VHU_REPLY_CONDITIONAL,
	    REPLY_EXACT(struct vhu_mem_reg), PF(CONFIGURE_MEM_SLOTS), PAUSES),
	/* the spec lets a back-end accept (and close) an fd here: QEMU sent one once */
	ROW(REM_MEM_REG, EXACT(struct vhu_mem_reg), FD_OPT, PF(CONFIGURE_MEM_SLOTS), PAUSES),
	ROW(SET_STATUS, EXACT(uint64_t), PF(STATUS)),
	ROW(GET_STATUS, ALWAYS(uint64_t), PF(STATUS)),
	ROW(GET_SHARED_OBJECT, EXACT(struct vhu_shared_object), ALWAYS(uint64_t),
	    .reply_max_fds = 1, PF(SHARED_OBJECT)),
	ROW(SET_DEVICE_STATE_FD, EXACT(struct vhu_device_state_transfer), FD(1), ALWAYS(uint64_t),
	    .reply_max_fds = 1, PF(DEVICE_STATE)),
	ROW(CHECK_DEVICE_STATE, ALWAYS(uint64_t), PF(DEVICE_STATE)),
	/* nregions, padding, then the sizes: drafts used 8 and 256 entries */
	ROW(GET_SHMEM_CONFIG, .reply = VHU_REPLY_ALWAYS,
	    .reply_min_size = offsetof(struct vhu_shmem_config, memory_sizes),
	    .reply_max_size = sizeof(struct vhu_shmem_config), PF(SHMEM)),
};

/*
 * Back-end -> front-end requests, on the SET_BACKEND_REQ_FD channel (which
 * itself needs BACKEND_REQ). Each is acked when REPLY_ACK + NEED_REPLY.
 */
static const struct vhu_rule backend_rules[VHU_BACKEND_REQ_MAX] = {
	BROW(IOTLB_MSG, EXACT(struct vhost_iotlb_msg), VF(VIRTIO_F_ACCESS_PLATFORM)),
	BROW(CONFIG_CHANGE_MSG, PF(CONFIG)),
	BROW(VRING_HOST_NOTIFIER_MSG, EXACT(struct vhu_vring_area), FD_OPT,
	     .queue = VHU_QUEUE_IN_AREA, PF(HOST_NOTIFIER)),
	BROW(VRING_CALL, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	     PF(INBAND_NOTIFICATIONS)),
	BROW(VRING_ERR, EXACT(struct vhost_vring_state), .queue = VHU_QUEUE_IN_STATE,
	     PF(INBAND_NOTIFICATIONS)),
	BROW(SHARED_OBJECT_ADD, EXACT(struct vhu_shared_object), PF(SHARED_OBJECT)),
	BROW(SHARED_OBJECT_REMOVE, EXACT(struct vhu_shared_object), PF(SHARED_OBJECT)),
	BROW(SHARED_OBJECT_LOOKUP, EXACT(struct vhu_shared_object), ALWAYS(uint64_t),
	     .reply_max_fds = 1, PF(SHARED_OBJECT)),
	BROW(SHMEM_MAP, EXACT(struct vhu_shmem_map), FD(1), PF(SHMEM)),
	BROW(SHMEM_UNMAP, EXACT(struct vhu_shmem_map), PF(SHMEM)),
};

#define GROW(req, ...) [VHU_GPU_REQ_##req] = { .name = "VHOST_USER_GPU_" #req, __VA_ARGS__ }
#define GPF(bit) .gate_protocol = VHU_BIT(VHU_GPU_PROTOCOL_F_##bit)

/*
 * The vhost-user-gpu socket (vhost-user-gpu.rst, "Message types"): the
 * back-end asks, the front-end (the display) answers. Gates name GPU
 * protocol features, negotiated on this socket, not the main ones.
 */
static const struct vhu_rule gpu_rules[VHU_GPU_REQ_MAX] = {
	GROW(GET_PROTOCOL_FEATURES, ALWAYS(uint64_t)),
	GROW(SET_PROTOCOL_FEATURES, EXACT(uint64_t)),
	GROW(GET_DISPLAY_INFO, ALWAYS(struct virtio_gpu_resp_display_info)),
	GROW(CURSOR_POS, EXACT(struct vhu_gpu_cursor_pos)),
	GROW(CURSOR_POS_HIDE, EXACT(struct vhu_gpu_cursor_pos)),
	GROW(CURSOR_UPDATE, EXACT(struct vhu_gpu_cursor_update)),
	GROW(SCANOUT, EXACT(struct vhu_gpu_scanout)),
	/* the header, then the rectangle's pixels; width * height * 4 == the
	 * rest is the receiver's check */
	GROW(UPDATE, .min_size = sizeof(struct vhu_gpu_update),
	     .max_size = (uint32_t)VHU_GPU_MAX_PAYLOAD),
	/* the dmabuf fd, absent when the scanout is disabled */
	GROW(DMABUF_SCANOUT, EXACT(struct vhu_gpu_dmabuf_scanout), FD_OPT),
	/* answered with an empty reply once the display has used the buffer */
	GROW(DMABUF_UPDATE, EXACT(struct vhu_gpu_update), .reply = VHU_REPLY_ALWAYS),
	GROW(GET_EDID, EXACT(struct vhu_gpu_edid_request), ALWAYS(struct virtio_gpu_resp_edid),
	     GPF(EDID)),
	GROW(DMABUF_SCANOUT2, EXACT(struct vhu_gpu_dmabuf_scanout2), FD_OPT, GPF(DMABUF2)),
};

static_assert(ARRAY_SIZE(gpu_rules) == VHU_GPU_REQ_MAX, "a row per GPU request");
static_assert(VHU_GPU_MAX_PAYLOAD <= UINT32_MAX, "an UPDATE's size fits hdr.size");
static_assert(ARRAY_SIZE(frontend_rules) == VHU_REQ_MAX, "a row per front-end request");
static_assert(ARRAY_SIZE(backend_rules) == VHU_BACKEND_REQ_MAX, "a row per back-end request");
static_assert(VHU_MEM_TABLE_MAX_REGIONS <= VHU_MAX_FDS, "a table's fds fit one message");
static_assert(sizeof(struct vhu_config) <= VHU_MAX_PAYLOAD, "config fits a payload");

const struct vhu_rule *vhu_rule_find(enum vhu_dir dir, uint32_t request)
{
	const struct vhu_rule *rule;

	if (dir == VHU_DIR_TO_BACKEND) {
		if (request >= ARRAY_SIZE(frontend_rules))
			return NULL;
		rule = &frontend_rules[request];
	} else if (dir == VHU_DIR_GPU) {
		if (request >= ARRAY_SIZE(gpu_rules))
			return NULL;
		rule = &gpu_rules[request];
	} else {
		if (request >= ARRAY_SIZE(backend_rules))
			return NULL;
		rule = &backend_rules[request];
	}
	return rule->name ? rule : NULL;
}

uint32_t vhu_rule_count(enum vhu_dir dir)
{
	if (dir == VHU_DIR_GPU)
		return VHU_GPU_REQ_MAX;
	return dir == VHU_DIR_TO_BACKEND ? VHU_REQ_MAX : VHU_BACKEND_REQ_MAX;
}

const char *vhu_rule_name(enum vhu_dir dir, uint32_t request)
{
	const struct vhu_rule *rule = vhu_rule_find(dir, request);

	if (rule)
		return rule->name;
	if (dir == VHU_DIR_GPU)
		return "VHOST_USER_GPU_UNKNOWN";
	return dir == VHU_DIR_TO_BACKEND ? "VHOST_USER_UNKNOWN" : "VHOST_USER_BACKEND_UNKNOWN";
}
