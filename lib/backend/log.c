/* SPDX-License-Identifier: MIT */
/*
 * Live migration's dirty-page log (spec: "Migration"): SET_LOG_BASE maps the
 * front-end's bitmap, SET_LOG_FD takes the eventfd signalled when bits are
 * set, VHOST_F_LOG_ALL (SET_FEATURES) turns logging on and off, and the
 * VHOST_VRING_F_LOG flag of SET_VRING_ADDR asks a ring to log its own
 * writes. vhu_be_log_apply() hands the result to the queues; it runs with
 * the queues it changes paused (SET_LOG_BASE's row pauses all, SET_FEATURES
 * pauses all itself, SET_VRING_ADDR's row pauses its own queue, which is the
 * only one it changes), so a worker never sees the log change under a push.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "backend/backend.h"
#include "common/util.h"

void vhu_be_log_apply(struct vhu_backend *be, struct vhu_queue *only)
{
	bool on = (be->features & VHU_BIT(VHU_F_LOG_ALL)) && be->dlog.bitmap;

	for (unsigned int i = 0; i < be->num_queues; i++) {
		struct vhu_queue *q = &be->queues[i];

		if (!only || q == only)
			vhu_vq_set_dirty_log(&q->vq, on ? &be->dlog : NULL, q->log_flag);
	}
}

/*
 * spec: "SET_LOG_BASE": with LOG_SHMFD the log is an fd (mmap_size,
 * mmap_offset) and the back-end answers once it is mapped. A later one
 * replaces it (QEMU resizes the log when memory is hot-added).
 */
int vhu_be_set_log_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_log_area *a = &msg->payload.log;
	char why[160];
	int ret;

	(void)reply;
	if (!vhu_be_has_protocol(be, VHU_PROTOCOL_F_LOG_SHMFD))
		return vhu_be_fail(
			be, -ENOTSUP,
			"a log in the front-end's memory (no LOG_SHMFD) is not supported");
	if (msg->nfds != 1 || msg->hdr.size != sizeof(*a))
		return vhu_be_fail(be, -EINVAL,
				   "a log needs its fd and a %zu-byte area (got %u fds, %u bytes)",
				   sizeof(*a), msg->nfds, msg->hdr.size);
	ret = vhu_dlog_map(&be->dlog, msg->fds[0], a->mmap_size, a->mmap_offset, why, sizeof(why));
	if (ret < 0)
		return vhu_be_fail(be, ret, "%s", why);
	vhu_info(&be->log,
		 "dirty log mapped: %" PRIu64 " bytes (guest memory up to %" PRIu64 " MiB)",
		 a->mmap_size, a->mmap_size * 8 * VHU_LOG_PAGE >> 20);
	vhu_be_log_apply(be, NULL);
	return 0; /* the dispatcher closes the fd: the mapping keeps the memory */
}

int vhu_be_set_log_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)reply;
	if (!vhu_be_has_protocol(be, VHU_PROTOCOL_F_LOG_SHMFD))
		return vhu_be_fail(be, -ENOTSUP, "LOG_SHMFD is not negotiated");
	vhu_dlog_set_call_fd(&be->dlog, vhu_msg_take_fd(msg, 0));
	return 0;
}

void vhu_be_log_clear(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		be->queues[i].log_flag = false;
	vhu_be_log_apply(be, NULL);
	vhu_dlog_clear(&be->dlog);
}
