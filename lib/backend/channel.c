/* SPDX-License-Identifier: MIT */
/*
 * The back-end channel (spec: "Back-end communication"): a socket the
 * front-end hands over with SET_BACKEND_REQ_FD, on which the back-end sends
 * its own requests: BACKEND_CONFIG_CHANGE_MSG, BACKEND_IOTLB_MSG (MISS,
 * ACCESS_FAIL) from the queues behind a virtual IOMMU (never acked), and
 * with INBAND_NOTIFICATIONS BACKEND_VRING_CALL and BACKEND_VRING_ERR from
 * the queue workers, for rings without a call / err fd (acked: spec "In-band
 * notifications" asks the sender to block until they are processed).
 *
 * Deadlock: QEMU serves this channel from the same loop that waits for our
 * replies on the main socket. So a message that waits for an ack is never
 * sent while a request is being handled on the control thread (it is
 * deferred until the reply went out), an IOTLB message waits for nothing, and an ack is waited for
 * at most VHU_BACKEND_CHAN_TIMEOUT_MS; a channel that misses it is closed, since a late ack would
 * answer the next message. Any thread may send; chan_lock serialises senders and the control
 * thread's changes of the fd.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/virtio_config.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

static void chan_flags(struct vhu_backend *be) VHU_REQUIRES(be->chan_lock)
{
	be->chan_reply_ack = vhu_be_has_protocol(be, VHU_PROTOCOL_F_REPLY_ACK);
	be->chan_config = vhu_be_has_protocol(be, VHU_PROTOCOL_F_CONFIG);
	be->chan_protocol = be->protocol_features;
}

int vhu_be_set_backend_req_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	int fd = vhu_msg_take_fd(msg, 0), ret;

	(void)reply;
	ret = vhu_sock_set_timeouts(fd, VHU_BACKEND_CHAN_TIMEOUT_MS); /* bounded */
	if (ret < 0) {
		vhu_close_fd(&fd);
		return vhu_be_fail(be, ret, "the back-end channel fd is not a socket: %s",
				   strerror(-ret));
	}
	vhu_lock_acquire(&be->chan_lock);
	vhu_close_fd(&be->chan_fd);
	be->chan_fd = fd;
	be->chan_acks_owed = 0;
	chan_flags(be);
	vhu_lock_release(&be->chan_lock);
	return 0;
}

void vhu_be_chan_update(struct vhu_backend *be)
{
	vhu_lock_acquire(&be->chan_lock);
	chan_flags(be);
	vhu_lock_release(&be->chan_lock);
}

void vhu_be_chan_close(struct vhu_backend *be)
{
	vhu_lock_acquire(&be->chan_lock);
	vhu_close_fd(&be->chan_fd);
	be->chan_reply_ack = false;
	be->chan_config = false;
	be->chan_acks_owed = 0;
	be->chan_protocol = 0;
	vhu_lock_release(&be->chan_lock);
}

static int chan_usable(const struct vhu_backend *be) VHU_REQUIRES(be->chan_lock)
{
	if (be->chan_fd < 0)
		return -ENOTCONN;
	if (!be->chan_config)
		return -ENOTSUP; /* the row's gate: CONFIG negotiated */
	return 0;
}

/* Receive one ack of @request. Return: 0, -EIO (non-zero ack) or a channel error. */
static int chan_ack_one(struct vhu_backend *be, uint32_t request) VHU_REQUIRES(be->chan_lock)
{
	struct vhu_msg reply;
	int ret = vhu_msg_recv(be->chan_fd, &reply);

	if (ret == -EAGAIN)
		return -ETIMEDOUT;
	if (ret < 0)
		return ret;
	ret = vhu_reply_check(VHU_DIR_TO_FRONTEND, request, true, &reply);
	vhu_msg_close_fds(&reply);
	if (ret < 0)
		return ret;
	return reply.payload.u64 ? -EIO : 0;
}

/*
 * Wait for the u64 ack of @request, after the acks a worker left owed
 * (vhu_be_chan_host_notifier(): they come first, in order). Return: 0,
 * -EIO (non-zero ack) or a channel error.
 */
static int chan_ack(struct vhu_backend *be, uint32_t request) VHU_REQUIRES(be->chan_lock)
{
	while (be->chan_acks_owed) {
		int ret = chan_ack_one(be, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG);

		if (ret < 0 && ret != -EIO)
			return ret;
		be->chan_acks_owed--;
	}
	return chan_ack_one(be, request);
}

static int chan_config_change(struct vhu_backend *be) VHU_REQUIRES(be->chan_lock)
{
	uint32_t request = VHU_BACKEND_REQ_CONFIG_CHANGE_MSG;
	bool need_reply = be->chan_reply_ack;
	struct vhu_msg msg;
	int ret = chan_usable(be);

	if (ret < 0)
		return ret;
	vhu_msg_init(&msg, request, need_reply ? VHU_FLAG_NEED_REPLY : 0, 0);
	ret = vhu_msg_send(be->chan_fd, &msg);
	if (ret == 0 && need_reply)
		ret = chan_ack(be, request);
	if (ret < 0 && ret != -EIO) {
		/* out of step (or gone): a late ack would answer the next message */
		vhu_warn(&be->log, "back-end channel closed: %s", strerror(-ret));
		vhu_close_fd(&be->chan_fd);
	}
	return ret;
}

void vhu_be_chan_flush(struct vhu_backend *be)
{
	int ret;

	if (!be->config_change_pending)
		return;
	be->config_change_pending = false;
	vhu_lock_acquire(&be->chan_lock);
	ret = chan_config_change(be);
	vhu_lock_release(&be->chan_lock);
	if (ret < 0)
		vhu_warn(&be->log, "%s: %s",
			 vhu_rule_name(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_CONFIG_CHANGE_MSG),
			 strerror(-ret));
}

VHU_API int vhu_backend_config_changed(struct vhu_backend *be)
{
	int ret;

	vhu_lock_acquire(&be->chan_lock);
	if (vhu_be_in_dispatch(be)) {
		/* an op on the control thread: the front-end waits for our reply */
		ret = chan_usable(be);
		if (ret == 0)
			be->config_change_pending = true;
	} else {
		ret = chan_config_change(be);
	}
	vhu_lock_release(&be->chan_lock);
	return ret;
}

int vhu_be_chan_iotlb(struct vhu_backend *be, uint8_t type, uint64_t iova, uint8_t perm)
{
	struct vhu_msg msg;
	int ret = 0;

	vhu_lock_acquire(&be->chan_lock);
	if (be->chan_fd < 0)
		ret = -ENOTCONN;
	else if (!(be->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)))
		ret = -ENOTSUP; /* the row's gate */
	if (ret == 0) {
		uint8_t buf[sizeof(msg.hdr) + sizeof(struct vhost_iotlb_msg)];
		ssize_t n;

		vhu_msg_init(&msg, VHU_BACKEND_REQ_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
		memset(&msg.payload.iotlb, 0, sizeof(msg.payload.iotlb));
		msg.payload.iotlb.iova = iova;
		msg.payload.iotlb.perm = perm;
		msg.payload.iotlb.type = type;
		memcpy(buf, &msg.hdr, sizeof(msg.hdr));
		memcpy(buf + sizeof(msg.hdr), &msg.payload.iotlb, sizeof(struct vhost_iotlb_msg));
		/*
		 * Never blocks: a worker stuck here could not be paused for the
		 * UPDATE the front-end is sending meanwhile (and which keeps it
		 * from reading this channel). A message this small goes out
		 * whole or not at all (-EAGAIN: the queue retries).
		 */
		n = send(be->chan_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		else if ((size_t)n != sizeof(buf))
			ret = -EPROTO; /* cannot happen (see above); the stream is out of step */
		if (ret == -EPROTO || ret == -EPIPE || ret == -ECONNRESET) {
			vhu_warn(&be->log, "back-end channel closed: %s", strerror(-ret));
			vhu_close_fd(&be->chan_fd);
		}
	}
	vhu_lock_release(&be->chan_lock);
	return ret;
}

static_assert(offsetof(struct vhu_queue, vq) == 0, "a queue starts with its vq");

/* Send BACKEND_VRING_CALL / _ERR for @index and wait for its ack (not while dispatching). */
static int chan_vring(struct vhu_backend *be, uint32_t request, unsigned int index)
	VHU_REQUIRES(be->chan_lock)
{
	/* on the control thread in a request the front-end may wait for us: no ack then */
	bool need_reply = be->chan_reply_ack && !vhu_be_in_dispatch(be);
	struct vhu_msg msg;
	int ret;

	if (be->chan_fd < 0)
		return -ENOTCONN;
	vhu_msg_init(&msg, request, need_reply ? VHU_FLAG_NEED_REPLY : 0,
		     sizeof(struct vhost_vring_state));
	msg.payload.state.index = index;
	msg.payload.state.num = 0; /* reserved */
	ret = vhu_msg_send(be->chan_fd, &msg);
	if (ret == 0 && need_reply)
		ret = chan_ack(be, request);
	if (ret < 0 && ret != -EIO) {
		vhu_warn(&be->log, "back-end channel closed: %s", strerror(-ret));
		vhu_close_fd(&be->chan_fd);
	}
	return ret;
}

void vhu_be_chan_vring(struct vhu_vq *vq, bool err)
{
	struct vhu_queue *q = (struct vhu_queue *)(void *)vq; /* its first member */
	struct vhu_backend *be = q->be;
	uint32_t request = err ? VHU_BACKEND_REQ_VRING_ERR : VHU_BACKEND_REQ_VRING_CALL;
	int ret;

	/* only where the front-end asked for them (NOFD); else no fd yet, or polling */
	if (!(err ? q->inband_err : q->inband_call))
		return;
	vhu_lock_acquire(&be->chan_lock);
	ret = chan_vring(be, request, vq->index);
	vhu_lock_release(&be->chan_lock);
	/* once: a channel that failed is closed, later calls see -ENOTCONN */
	if (ret < 0 && ret != -ENOTCONN)
		vhu_logf(&be->log, ret == -EIO ? VHU_LOG_DEBUG : VHU_LOG_WARN, "queue %u: %s: %s",
			 vq->index, vhu_rule_name(VHU_DIR_TO_FRONTEND, request), strerror(-ret));
}

/* How often a worker waiting for a host notifier's ack looks at its queue's flags. */
#define CHAN_LOOK_MS 2

/* Whether the control thread wants @q's worker (pause, stop). */
static bool queue_called(const struct vhu_queue *q)
{
	return __atomic_load_n(&q->worker.pause_req, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&q->worker.exit, __ATOMIC_ACQUIRE);
}

/*
 * The worker waits for the ack only while its control thread does not call
 * it: QEMU serves this channel from the loop that waits for our replies, so
 * when a request that pauses or stops @q comes meanwhile, neither side would
 * move. The ack is then left owed (the next wait reads it first), and the
 * page counts as not mapped. Return: 0, -EIO, -EINTR (left owed) or a
 * channel error.
 */
static int chan_ack_or_leave(struct vhu_backend *be, struct vhu_queue *q, uint32_t request)
	VHU_REQUIRES(be->chan_lock)
{
	for (unsigned int waited = 0; waited < VHU_BACKEND_CHAN_TIMEOUT_MS;
	     waited += CHAN_LOOK_MS) {
		struct pollfd p = { .fd = be->chan_fd, .events = POLLIN };
		int n = poll(&p, 1, CHAN_LOOK_MS);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			return chan_ack(be, request);
		if (queue_called(q)) {
			be->chan_acks_owed++;
			return -EINTR;
		}
	}
	return -ETIMEDOUT;
}

int vhu_be_chan_host_notifier(struct vhu_backend *be, struct vhu_queue *q, int fd, uint64_t size)
{
	uint32_t request = VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG;
	struct vhu_msg msg;
	int ret;

	vhu_lock_acquire(&be->chan_lock);
	if (be->chan_fd < 0 || !be->chan_reply_ack) {
		vhu_lock_release(&be->chan_lock);
		return -ENOTCONN; /* no channel, or no ack to know the page was mapped */
	}
	vhu_msg_init(&msg, request, VHU_FLAG_NEED_REPLY, sizeof(struct vhu_vring_area));
	msg.payload.area.u64 = q->vq.index | (fd < 0 ? VHU_VRING_NOFD_MASK : 0);
	msg.payload.area.size = fd < 0 ? 0 : size;
	msg.payload.area.offset = 0;
	if (fd >= 0) {
		msg.fds[0] = fd; /* sent, not closed: the queue keeps it */
		msg.nfds = 1;
	}
	ret = vhu_msg_send(be->chan_fd, &msg);
	if (ret == 0)
		ret = chan_ack_or_leave(be, q, request);
	if (ret < 0 && ret != -EIO && ret != -EINTR) {
		vhu_warn(&be->log, "back-end channel closed: %s", strerror(-ret));
		vhu_close_fd(&be->chan_fd);
		be->chan_acks_owed = 0;
	}
	vhu_lock_release(&be->chan_lock);
	return ret;
}
