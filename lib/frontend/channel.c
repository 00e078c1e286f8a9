/* SPDX-License-Identifier: MIT */
/*
 * The back-end channel, front-end side (spec: "Back-end communication").
 *
 * Served by a small thread of our own, started when BACKEND_REQ was
 * negotiated: the back-end may send while the control thread waits for one
 * of its replies on the main socket (vhu's own back-end defers, QEMU-style
 * back-ends may not), so serving it from the control thread would need every
 * wait to poll both. BACKEND_CONFIG_CHANGE_MSG calls config_changed on that
 * thread, BACKEND_IOTLB_MSG goes to the IOMMU role (iommu.c),
 * BACKEND_VRING_HOST_NOTIFIER_MSG maps or removes a ring's doorbell page
 * (notifier.c; its fd comes with BACKEND_SEND_FD), and with
 * in-band notifications BACKEND_VRING_CALL / _ERR signal the ring's own
 * call / err eventfd, which vhu_frontend_queue_wait() and
 * vhu_frontend_queue_broken() look at as with fds; every other
 * request is refused, and answered (u64 1) whenever it
 * asks for an answer: never left waiting.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"
#include "transport/transport.h"

/* ---- the back-end channel -------------------------------------------------- */

/* Answer @msg when it asks: 0 success, 1 failure (spec: "REPLY_ACK"); @fd goes with a success. */
static void chan_reply(struct vhu_frontend *fe, const struct vhu_msg *msg,
		       const struct vhu_rule *rule, int result, int fd)
{
	bool need_reply = msg->hdr.flags & VHU_FLAG_NEED_REPLY;
	struct vhu_msg reply;

	if (need_reply || (rule && rule->reply == VHU_REPLY_ALWAYS)) {
		vhu_msg_init(&reply, msg->hdr.request, VHU_FLAG_REPLY, VHU_ACK_SIZE);
		reply.payload.u64 = result < 0 ? 1 : 0;
		if (result >= 0 && fd >= 0) {
			reply.fds[0] = fd; /* BACKEND_SHARED_OBJECT_LOOKUP's object */
			reply.nfds = 1;
		}
		(void)vhu_msg_send(fe->chan_fd, &reply);
	}
	vhu_close_fd(&fd);
}

/*
 * spec: "BACKEND_VRING_CALL", "BACKEND_VRING_ERR": a ring we set up with
 * NOFD (the row's gate is the feature; state.num is reserved, 0).
 */
static int chan_vring(struct vhu_frontend *fe, const struct vhu_msg *msg)
{
	const struct vhost_vring_state *st = &msg->payload.state;
	bool err = msg->hdr.request == VHU_BACKEND_REQ_VRING_ERR;
	struct vhu_frontend_queue *qs = __atomic_load_n(&fe->queues, __ATOMIC_ACQUIRE);
	int fd;

	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS)))
		return -ENOTSUP;
	if (st->index >= fe->cfg.num_queues || st->num != 0 || !qs)
		return -EINVAL;
	/* the eventfds live from the first start to destroy (the channel closes first) */
	fd = __atomic_load_n(err ? &qs[st->index].err_fd : &qs[st->index].call_fd,
			     __ATOMIC_ACQUIRE);
	if (fd < 0)
		return -EINVAL; /* not started yet */
	(void)eventfd_write(fd, 1);
	return 0;
}

static void chan_serve(struct vhu_frontend *fe, struct vhu_msg *msg)
{
	const struct vhu_rule *rule = NULL;
	int ret = vhu_msg_check(VHU_DIR_TO_FRONTEND, msg, &rule), fd = -1;
	uint32_t req = msg->hdr.request;

	if (ret == 0 && msg->hdr.request == VHU_BACKEND_REQ_CONFIG_CHANGE_MSG) {
		vhu_debug(&fe->log, "back-end: config changed");
		if (fe->cfg.config_changed)
			fe->cfg.config_changed(fe->cfg.opaque);
	} else if (ret == 0 && msg->hdr.request == VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG) {
		ret = vhu_fe_notifier_msg(fe, msg);
		if (ret < 0)
			vhu_warn(&fe->log, "back-end request %s refused: %s",
				 vhu_rule_name(VHU_DIR_TO_FRONTEND, msg->hdr.request),
				 strerror(-ret));
	} else if (ret == 0 && msg->hdr.request == VHU_BACKEND_REQ_IOTLB_MSG) {
		ret = vhu_fe_iommu_msg(fe, &msg->payload.iotlb);
	} else if (ret == 0 && (msg->hdr.request == VHU_BACKEND_REQ_VRING_CALL ||
				msg->hdr.request == VHU_BACKEND_REQ_VRING_ERR)) {
		ret = chan_vring(fe, msg);
		if (ret < 0)
			vhu_warn(&fe->log, "back-end request %s for ring %u refused: %s",
				 vhu_rule_name(VHU_DIR_TO_FRONTEND, msg->hdr.request),
				 msg->payload.state.index, strerror(-ret));
	} else if (ret == 0 && req >= VHU_BACKEND_REQ_SHARED_OBJECT_ADD &&
		   req <= VHU_BACKEND_REQ_SHMEM_UNMAP) {
		ret = vhu_fe_chan_shared(fe, msg, &fd); /* logs its own refusals in detail */
		if (ret < 0)
			vhu_warn(&fe->log, "back-end request %s refused: %s",
				 vhu_rule_name(VHU_DIR_TO_FRONTEND, req), strerror(-ret));
	} else {
		if (ret == 0)
			ret = -ENOTSUP;
		vhu_warn(&fe->log, "back-end request %s refused: %s",
			 vhu_rule_name(VHU_DIR_TO_FRONTEND, msg->hdr.request), strerror(-ret));
	}
	vhu_msg_close_fds(msg);
	chan_reply(fe, msg, rule, ret, fd);
}

static void *chan_thread(void *arg)
{
	struct vhu_frontend *fe = arg;

	for (;;) {
		struct vhu_msg msg;
		int ret = vhu_msg_recv(fe->chan_fd, &msg);

		if (ret == -EBADMSG) { /* whole, but with too many fds: fail just it */
			chan_reply(fe, &msg, NULL, ret, -1);
			continue;
		}
		if (ret < 0)
			break; /* closed (by vhu_frontend_destroy or the back-end), or out of step
				*/
		chan_serve(fe, &msg);
	}
	return NULL;
}

int vhu_fe_chan_open(struct vhu_frontend *fe)
{
	struct vhu_msg req;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	vhu_msg_init(&req, VHU_REQ_SET_BACKEND_REQ_FD, 0, 0);
	req.fds[0] = sv[1];
	req.nfds = 1;
	ret = vhu_fe_send_req(fe, &req);
	close(sv[1]); /* the back-end has its copy */
	if (ret < 0) {
		close(sv[0]);
		return ret;
	}
	fe->chan_fd = sv[0];
	ret = pthread_create(&fe->chan_thread, NULL, chan_thread, fe);
	if (ret)
		return -ret;
	fe->chan_running = true;
	return 0;
}

void vhu_fe_chan_close(struct vhu_frontend *fe)
{
	if (fe->chan_running) {
		shutdown(fe->chan_fd, SHUT_RDWR); /* wakes the thread's recv */
		pthread_join(fe->chan_thread, NULL);
		fe->chan_running = false;
	}
	vhu_close_fd(&fe->chan_fd);
}
