/* SPDX-License-Identifier: MIT */
/*
 * Surviving a back-end restart, driver side: the inflight region (spec:
 * "Inflight I/O tracking") and vhu_frontend_reconnect().
 *
 * The region belongs to the back-end's format; the front-end only keeps it
 * alive. GET_INFLIGHT_FD hands us an fd once per start; we keep it (not
 * mapped: nothing here reads it) and give it back with SET_INFLIGHT_FD to
 * the back-end of this start and to every back-end that replaces it, so a
 * restarted back-end finds the chains its predecessor had taken and not
 * finished, and resubmits them.
 *
 * A reconnect follows QEMU's vhost-user-blk (vhost_user_blk_connect, then
 * vhost_user_blk_start): negotiate again, SET_INFLIGHT_FD with the kept
 * region (no new GET), then the rings as at start, each from where the ring
 * memory says the dead back-end stood (vhu_fe_ring_resume_base), and a kick
 * on each so the new back-end looks at what is available.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"
#include "transport/transport.h"

/* ---- the inflight region ------------------------------------------------------ */

void vhu_fe_inflight_drop(struct vhu_frontend *fe)
{
	vhu_close_fd(&fe->inflight_fd);
	memset(&fe->inflight, 0, sizeof(fe->inflight));
}

/* GET_INFLIGHT_FD: keep the region's fd, or none when the back-end has none. */
static int inflight_get(struct vhu_frontend *fe)
{
	struct vhu_msg req, reply;
	int ret;

	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	vhu_msg_init(&req, VHU_REQ_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight));
	req.payload.inflight.num_queues = fe->cfg.num_queues;
	req.payload.inflight.queue_size = fe->cfg.queue_size;
	ret = vhu_fe_request(&fe->ch, &req, &reply);
	if (ret == 0) /* an ack instead of the row's body */
		ret = -EPROTO;
	if (ret < 0)
		return vhu_fe_req_done(fe, VHU_REQ_GET_INFLIGHT_FD, ret);
	if (reply.payload.inflight.mmap_size == 0) {
		/* QEMU goes on without a region too (vhost_user_get_inflight_fd) */
		vhu_msg_close_fds(&reply);
		vhu_debug(&fe->log, "the back-end has no inflight region");
		return 0;
	}
	if (reply.nfds != 1) {
		vhu_msg_close_fds(&reply);
		vhu_fe_set_error(&fe->ch, "an inflight region of non-zero size without its fd");
		return vhu_fe_req_done(fe, VHU_REQ_GET_INFLIGHT_FD, -EPROTO);
	}
	fe->inflight_fd = vhu_msg_take_fd(&reply, 0);
	fe->inflight = reply.payload.inflight;
	/* QEMU sends its own counts back (vhost_user_set_inflight_fd): what we asked for */
	fe->inflight.num_queues = fe->cfg.num_queues;
	fe->inflight.queue_size = fe->cfg.queue_size;
	vhu_debug(&fe->log, "inflight region of %llu bytes at offset %llu",
		  (unsigned long long)fe->inflight.mmap_size,
		  (unsigned long long)fe->inflight.mmap_offset);
	return 0;
}

int vhu_fe_inflight_setup(struct vhu_frontend *fe, bool resume)
{
	struct vhu_msg req;
	int ret;

	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (!resume) {
		ret = inflight_get(fe);
		if (ret < 0)
			return ret;
	}
	if (fe->inflight_fd < 0)
		return 0;
	vhu_msg_init(&req, VHU_REQ_SET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight));
	req.payload.inflight = fe->inflight;
	req.fds[0] = fe->inflight_fd; /* still ours: sending does not close it */
	req.nfds = 1;
	return vhu_fe_send_req(fe, &req);
}

/* ---- reconnect ---------------------------------------------------------------- */

/* Drop what belongs to the dead connection; the driver's state stays. */
void vhu_fe_connection_close(struct vhu_frontend *fe)
{
	__atomic_store_n(&fe->alive, false, __ATOMIC_RELEASE);
	vhu_fe_shared_close(
		fe); /* before the socket goes: other threads use it through the table */
	vhu_fe_chan_close(fe);
	vhu_close_fd(&fe->sock);
	/* the old back-end's pages: the next one kicks through the eventfds */
	for (unsigned int i = 0; fe->queues && i < fe->cfg.num_queues; i++)
		vhu_fe_notifier_drop(&fe->queues[i]);
}

/* Wake each ring: the new back-end starts by looking at what is available. */
int vhu_fe_kick_all(struct vhu_frontend *fe)
{
	uint64_t one = 1;

	for (unsigned int i = 0; i < fe->cfg.num_queues; i++)
		if (write(fe->queues[i].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			return -errno; /* EAGAIN: the counter is full, a kick is pending */
	return 0;
}

int vhu_frontend_reconnect(struct vhu_frontend *fe)
{
	int ret;

	if (!fe->path)
		return -ENOTSUP; /* an adopted fd: nowhere to connect again */
	vhu_fe_connection_close(fe);
	ret = vhu_fe_sock_open(fe);
	if (ret == 0)
		ret = vhu_fe_negotiate(fe, true);
	if (ret == 0 && fe->started)
		ret = vhu_fe_device_setup(fe, true);
	if (ret == 0 && fe->started)
		ret = vhu_fe_kick_all(fe);
	if (ret < 0) {
		/* dead again (or a back-end we cannot use): a later call starts over */
		vhu_fe_connection_close(fe);
		return ret;
	}
	vhu_info(&fe->log, "reconnected to %s%s", fe->path,
		 !fe->started		? ""
		 : fe->inflight_fd >= 0 ? ", rings resumed with the inflight region"
					: ", rings resumed without an inflight region");
	return 0;
}
