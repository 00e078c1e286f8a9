/* SPDX-License-Identifier: MIT */
/*
 * Shared objects and VIRTIO shared memory, back-end side (spec: protocol
 * features SHARED_OBJECT, bit 18, and SHMEM, bit 22 in QEMU master: rust-vmm
 * numbers SHMEM 21, see docs/protocol-coverage.md).
 *
 * Front-end requests: GET_SHARED_OBJECT (ops->shared_object_get exports an
 * object by UUID as an fd) and GET_SHMEM_CONFIG (the regions the device
 * declared in its config). Back-end requests, on the back-end channel and
 * answered by the front-end: BACKEND_SHARED_OBJECT_ADD / _REMOVE / _LOOKUP
 * and BACKEND_SHMEM_MAP / _UNMAP. They wait for the answer, so they are
 * refused on the control thread while it handles a request (the front-end
 * waits for that reply and does not serve the channel meanwhile: QEMU's
 * loop is one), the deadlock channel.c avoids for CONFIG_CHANGE_MSG by
 * deferring; a device has no use for a deferred LOOKUP.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

#define PAGE_SIZE 4096u

int vhu_be_shmem_config_check(const struct vhu_backend_config *c)
{
	bool want = c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_SHMEM);

	if (c->shmem_num > VHU_BACKEND_SHMEM_MAX_REGIONS || (c->shmem_num && !c->shmem_sizes))
		return -EINVAL;
	if (want != (c->shmem_num > 0))
		return -EINVAL; /* regions without the feature, or the feature without any */
	for (unsigned int i = 0; i < c->shmem_num; i++)
		if (c->shmem_sizes[i] % PAGE_SIZE)
			return -EINVAL;
	return 0;
}

void vhu_be_shmem_config_copy(struct vhu_backend *be)
{
	if (be->config.shmem_num)
		memcpy(be->shmem_sizes, be->config.shmem_sizes,
		       be->config.shmem_num * sizeof(be->shmem_sizes[0]));
	be->config.shmem_sizes = be->shmem_sizes;
}

/* spec: "GET_SHARED_OBJECT": u64 0 and the object's fd, or non-zero without one. */
int vhu_be_get_shared_object(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	int fd = -1, ret;

	if (!be->config.ops->shared_object_get)
		return vhu_be_fail(be, -ENOTSUP, "the device exports no shared objects");
	ret = be->config.ops->shared_object_get(be->config.dev, msg->payload.shared.uuid, &fd);
	if (ret == 0 && fd < 0)
		ret = -EBADF; /* the device's bug: no fd to send */
	if (ret < 0) {
		vhu_close_fd(&fd);
		return vhu_be_fail(be, ret, "shared object not exported: %s", strerror(-ret));
	}
	reply->fds[0] = fd; /* closed by dispatch once sent */
	reply->nfds = 1;
	return vhu_be_reply_u64(reply, 0);
}

/* spec: "GET_SHMEM_CONFIG": how many regions, and each one's size by shmid. */
int vhu_be_get_shmem_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_shmem_config *c = &reply->payload.shmem_config;

	(void)msg;
	memset(c, 0, sizeof(*c));
	for (unsigned int i = 0; i < be->config.shmem_num; i++) {
		c->memory_sizes[i] = be->shmem_sizes[i];
		c->nregions += be->shmem_sizes[i] != 0;
	}
	reply->hdr.size = sizeof(*c);
	return 0;
}

/* ---- back-end requests ------------------------------------------------------ */

/*
 * Send @msg on the channel and take its answer: the u64 verdict (acks with
 * REPLY_ACK, LOOKUP always) and, for LOOKUP, the fd into *@fd. The caller
 * holds no lock. Return: 0, or the error of the header comment.
 */
static int chan_call(struct vhu_backend *be, struct vhu_msg *msg, unsigned int gate, int *fd)
{
	const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_FRONTEND, msg->hdr.request);
	uint32_t request = msg->hdr.request;
	bool answer;
	struct vhu_msg reply;
	int ret = 0;

	if (vhu_be_in_dispatch(be)) {
		vhu_warn(&be->log, "%s from the control thread while it handles a request: refused",
			 vhu_rule_name(VHU_DIR_TO_FRONTEND, request));
		return -EDEADLK;
	}
	vhu_lock_acquire(&be->chan_lock);
	if (be->chan_fd < 0)
		ret = -ENOTCONN;
	else if (!(be->chan_protocol & VHU_BIT(gate)))
		ret = -ENOTSUP; /* the row's gate */
	if (ret < 0)
		goto out;
	answer = rule->reply == VHU_REPLY_ALWAYS || be->chan_reply_ack;
	if (answer && rule->reply != VHU_REPLY_ALWAYS)
		msg->hdr.flags |= VHU_FLAG_NEED_REPLY;
	ret = vhu_msg_send(be->chan_fd, msg);
	if (ret < 0 || !answer)
		goto out_closed;
	ret = vhu_msg_recv(be->chan_fd, &reply);
	if (ret == -EAGAIN)
		ret = -ETIMEDOUT;
	if (ret == 0) {
		ret = vhu_reply_check(VHU_DIR_TO_FRONTEND, request,
				      msg->hdr.flags & VHU_FLAG_NEED_REPLY, &reply);
		if (ret == 0 && reply.payload.u64 != 0)
			ret = -EIO;
		else if (ret == 0 && fd && reply.nfds == 1)
			*fd = vhu_msg_take_fd(&reply, 0);
		else if (ret == 0 && fd)
			ret = -EPROTO;	   /* success without the object */
		vhu_msg_close_fds(&reply); /* one a failure carried, or a stray one */
		if (ret == -EIO || ret == -EPROTO)
			goto out;
	}
out_closed:
	if (ret < 0) {
		/* out of step (or gone): a late answer would answer the next message */
		vhu_warn(&be->log, "back-end channel closed: %s", strerror(-ret));
		vhu_close_fd(&be->chan_fd);
	}
out:
	vhu_lock_release(&be->chan_lock);
	if (ret < 0)
		vhu_logf(&be->log, ret == -EIO ? VHU_LOG_DEBUG : VHU_LOG_WARN, "%s: %s",
			 vhu_rule_name(VHU_DIR_TO_FRONTEND, request), strerror(-ret));
	return ret;
}

static int object_request(struct vhu_backend *be, uint32_t request, const uint8_t uuid[16], int *fd)
{
	struct vhu_msg msg;

	if (!uuid)
		return -EINVAL;
	vhu_msg_init(&msg, request, 0, sizeof(struct vhu_shared_object));
	memcpy(msg.payload.shared.uuid, uuid, VHU_UUID_LEN);
	return chan_call(be, &msg, VHU_PROTOCOL_F_SHARED_OBJECT, fd);
}

VHU_API int vhu_backend_shared_object_add(struct vhu_backend *be, const uint8_t uuid[16])
{
	return object_request(be, VHU_BACKEND_REQ_SHARED_OBJECT_ADD, uuid, NULL);
}

VHU_API int vhu_backend_shared_object_remove(struct vhu_backend *be, const uint8_t uuid[16])
{
	return object_request(be, VHU_BACKEND_REQ_SHARED_OBJECT_REMOVE, uuid, NULL);
}

VHU_API int vhu_backend_shared_object_lookup(struct vhu_backend *be, const uint8_t uuid[16],
					     int *fd)
{
	if (!fd)
		return -EINVAL;
	*fd = -1;
	return object_request(be, VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP, uuid, fd);
}

/* The range is page aligned, non-empty and inside a declared region. */
static bool shmem_range_ok(const struct vhu_backend *be, uint8_t shmid, uint64_t shm_offset,
			   uint64_t len)
{
	uint64_t end;

	if (shmid >= be->config.shmem_num || len == 0 || (shm_offset | len) % PAGE_SIZE)
		return false;
	return !__builtin_add_overflow(shm_offset, len, &end) && end <= be->shmem_sizes[shmid];
}

VHU_API int vhu_backend_shmem_map(struct vhu_backend *be, uint8_t shmid, uint64_t shm_offset,
				  int fd, uint64_t fd_offset, uint64_t len, bool writable)
{
	struct vhu_msg msg;
	uint64_t end;

	if (fd < 0 || !shmem_range_ok(be, shmid, shm_offset, len) || fd_offset % PAGE_SIZE ||
	    __builtin_add_overflow(fd_offset, len, &end))
		return -EINVAL;
	vhu_msg_init(&msg, VHU_BACKEND_REQ_SHMEM_MAP, 0, sizeof(struct vhu_shmem_map));
	memset(&msg.payload.shmem_map, 0, sizeof(msg.payload.shmem_map));
	msg.payload.shmem_map.shmid = shmid;
	msg.payload.shmem_map.fd_offset = fd_offset;
	msg.payload.shmem_map.shm_offset = shm_offset;
	msg.payload.shmem_map.len = len;
	msg.payload.shmem_map.flags = writable ? VHU_SHMEM_MAP_RW : 0;
	msg.fds[0] = fd; /* sent, not given: the caller keeps it */
	msg.nfds = 1;
	return chan_call(be, &msg, VHU_PROTOCOL_F_SHMEM, NULL);
}

VHU_API int vhu_backend_shmem_unmap(struct vhu_backend *be, uint8_t shmid, uint64_t shm_offset,
				    uint64_t len)
{
	struct vhu_msg msg;

	if (!shmem_range_ok(be, shmid, shm_offset, len))
		return -EINVAL;
	vhu_msg_init(&msg, VHU_BACKEND_REQ_SHMEM_UNMAP, 0, sizeof(struct vhu_shmem_map));
	memset(&msg.payload.shmem_map, 0, sizeof(msg.payload.shmem_map));
	msg.payload.shmem_map.shmid = shmid;
	msg.payload.shmem_map.shm_offset = shm_offset;
	msg.payload.shmem_map.len = len;
	return chan_call(be, &msg, VHU_PROTOCOL_F_SHMEM, NULL);
}
