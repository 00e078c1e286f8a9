/* SPDX-License-Identifier: MIT */
#ifndef VHU_GPU_H
#define VHU_GPU_H

/*
 * Concepts
 *
 * The vhost-user-gpu socket (QEMU docs/interop/vhost-user-gpu.rst). A
 * front-end hands a GPU back-end one end of a socket pair with
 * VHOST_USER_GPU_SET_SOCKET (VHU_REQ_GPU_SET_SOCKET, request 33). On it the
 * roles turn around: the back-end sends requests (scanouts, updates, the
 * cursor) and the front-end, which plays the display, answers the few that
 * want an answer. The header is the main protocol's (request, flags, size);
 * flags carry only the reply bit (QEMU sends 0 on requests), and a payload
 * may be far larger than the main protocol's: an UPDATE carries the pixels
 * of its rectangle, a CURSOR_UPDATE a 64x64 image.
 *
 * Every request has a row in lib/wire (VHU_DIR_GPU): payload size bounds,
 * fds, reply rule, the GPU protocol feature that gates it. vhu_gpu_msg_recv()
 * applies the row before the payload is read, so a peer cannot make the
 * receiver allocate more than the row allows.
 *
 * The virtio-gpu structs (struct virtio_gpu_resp_display_info, struct
 * virtio_gpu_resp_edid) are the kernel UAPI's <linux/virtio_gpu.h>.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_gpu.h>

#include <vhu/protocol.h>
#include <vhu/version.h>

/* ---- requests (VhostUserGpuRequest), back-end -> front-end --------------- */

enum vhu_gpu_request {
	VHU_GPU_REQ_NONE = 0,
	VHU_GPU_REQ_GET_PROTOCOL_FEATURES = 1,
	VHU_GPU_REQ_SET_PROTOCOL_FEATURES = 2,
	VHU_GPU_REQ_GET_DISPLAY_INFO = 3,
	VHU_GPU_REQ_CURSOR_POS = 4,
	VHU_GPU_REQ_CURSOR_POS_HIDE = 5,
	VHU_GPU_REQ_CURSOR_UPDATE = 6,
	VHU_GPU_REQ_SCANOUT = 7,
	VHU_GPU_REQ_UPDATE = 8,
	VHU_GPU_REQ_DMABUF_SCANOUT = 9,
	VHU_GPU_REQ_DMABUF_UPDATE = 10,
	VHU_GPU_REQ_GET_EDID = 11,
	VHU_GPU_REQ_DMABUF_SCANOUT2 = 12,
	VHU_GPU_REQ_MAX
};

/* GPU protocol features (VHOST_USER_GPU_PROTOCOL_F_*). */
#define VHU_GPU_PROTOCOL_F_EDID 0
#define VHU_GPU_PROTOCOL_F_DMABUF2 1

/* The only flag the GPU socket defines: set on every reply. */
#define VHU_GPU_FLAG_REPLY 0x4u

/* ---- payloads (all packed in QEMU; these have no holes) ------------------ */

#define VHU_GPU_CURSOR_DIM 64u

struct vhu_gpu_cursor_pos {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
};
static_assert(sizeof(struct vhu_gpu_cursor_pos) == 12, "cursor pos");

struct vhu_gpu_cursor_update {
	struct vhu_gpu_cursor_pos pos;
	uint32_t hot_x;
	uint32_t hot_y;
	uint32_t data[VHU_GPU_CURSOR_DIM * VHU_GPU_CURSOR_DIM]; /* PIXMAN_a8r8g8b8 */
};
static_assert(sizeof(struct vhu_gpu_cursor_update) == 20 + 16384, "cursor update");

struct vhu_gpu_scanout {
	uint32_t scanout_id;
	uint32_t width; /* 0: the scanout is disabled */
	uint32_t height;
};
static_assert(sizeof(struct vhu_gpu_scanout) == 12, "scanout");

/* UPDATE: this header, then width * height * 4 bytes of PIXMAN_x8r8g8b8
 * (rows of width pixels, no padding). DMABUF_UPDATE: the header alone. */
struct vhu_gpu_update {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
};
static_assert(sizeof(struct vhu_gpu_update) == 20, "update");

struct vhu_gpu_dmabuf_scanout {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
	uint32_t fd_width;
	uint32_t fd_height;
	uint32_t fd_stride;
	uint32_t fd_flags;
	int32_t fd_drm_fourcc;
};
static_assert(sizeof(struct vhu_gpu_dmabuf_scanout) == 40, "dmabuf scanout");

struct vhu_gpu_dmabuf_scanout2 {
	struct vhu_gpu_dmabuf_scanout dmabuf_scanout;
	uint64_t modifier;
};
static_assert(sizeof(struct vhu_gpu_dmabuf_scanout2) == 48, "dmabuf scanout2");

struct vhu_gpu_edid_request {
	uint32_t scanout_id;
};
static_assert(sizeof(struct vhu_gpu_edid_request) == 4, "edid request");

static_assert(sizeof(struct virtio_gpu_resp_display_info) == 24 + 16 * 24, "display info");
static_assert(sizeof(struct virtio_gpu_resp_edid) == 32 + 1024, "edid response");

/* The largest rectangle one UPDATE may carry: 64 MiB of pixels. */
#define VHU_GPU_MAX_UPDATE_PIXELS (16u * 1024 * 1024)
/* The largest payload of any GPU socket message. */
#define VHU_GPU_MAX_PAYLOAD (sizeof(struct vhu_gpu_update) + 4u * VHU_GPU_MAX_UPDATE_PIXELS)

/* One GPU socket message as received: header, a payload of hdr.size bytes
 * (malloc'd, NULL when empty) and at most one fd (-1: none), owned by it. */
struct vhu_gpu_msg {
	struct vhu_msg_hdr hdr;
	uint8_t *payload;
	int fd;
};

/**
 * vhu_gpu_msg_send() - send one GPU socket message.
 * @sock:    the GPU socket
 * @request: VHU_GPU_REQ_*
 * @flags:   0 for a request, VHU_GPU_FLAG_REPLY for a reply
 * @head:    the first part of the payload (may be NULL when @head_size is 0)
 * @tail:    bytes that follow it (an UPDATE's pixels; may be NULL)
 * @fd:      an fd to pass along, or -1 (not closed: still the caller's)
 *
 * Handles short writes and EINTR; never raises SIGPIPE.
 *
 * Return: 0, -EMSGSIZE (payload over VHU_GPU_MAX_PAYLOAD; nothing sent) or a
 * negative errno (-EPIPE: the peer is gone; the socket is then unusable).
 */
VHU_API int vhu_gpu_msg_send(int sock, uint32_t request, uint32_t flags, const void *head,
			     size_t head_size, const void *tail, size_t tail_size, int fd);

/**
 * vhu_gpu_msg_recv() - receive one GPU socket message, checked against its row.
 * @sock:  the GPU socket
 * @reply: true: a reply is expected (REPLY flag set), false: a request
 * @msg:   filled; free it with vhu_gpu_msg_free()
 *
 * The header is checked (known id, the REPLY flag of a reply, payload size
 * within the row of the request, fd count) before the payload is allocated
 * and read; a request's flags are not looked at (see vhu_gpu_msg_fits()).
 *
 * Return: 0; -ECONNRESET (the peer closed); -ENOTSUP, -EPROTO, -EMSGSIZE or
 * -EBADMSG (the message does not fit its row: the stream cannot be trusted
 * any more and the socket should be closed; nothing is owned); -EAGAIN
 * (SO_RCVTIMEO expired) or another negative errno.
 */
VHU_API int vhu_gpu_msg_recv(int sock, bool reply, struct vhu_gpu_msg *msg);

/** vhu_gpu_msg_free() - free the payload and close the fd of @msg. */
VHU_API void vhu_gpu_msg_free(struct vhu_gpu_msg *msg);

/**
 * vhu_gpu_msg_fits() - does a GPU message header fit the row of its id?
 * @hdr:  the header
 * @nfds: fds that came with it
 *
 * A reply (REPLY flag) is checked against the reply half of the row; a
 * request's other flags are not looked at (QEMU's back-end sends UPDATE
 * with flags it never initialised, and QEMU's front-end ignores them).
 *
 * Return: 0, -ENOTSUP (unknown id), -EPROTO (flags), -EMSGSIZE (payload
 * size) or -EBADMSG (fd count).
 */
VHU_API int vhu_gpu_msg_fits(const struct vhu_msg_hdr *hdr, unsigned int nfds);

/** vhu_gpu_request_name() - "VHOST_USER_GPU_..." or "VHOST_USER_GPU_UNKNOWN". */
VHU_API const char *vhu_gpu_request_name(uint32_t request);

#endif /* VHU_GPU_H */
