/* SPDX-License-Identifier: MIT */
/*
 * The vring requests (SET_VRING_*, GET_VRING_BASE) and the queue lifecycle.
 *
 * spec: "Ring states": a ring is started by SET_VRING_KICK (libvhost-user
 * and QEMU's own back-ends start it when the message arrives, not when the
 * first kick is read: the driver may have made buffers available before)
 * and stopped by GET_VRING_BASE; SET_VRING_ENABLE enables it, and without
 * VHOST_USER_F_PROTOCOL_FEATURES negotiated a started ring is enabled. The
 * device sees a ring (queue_start .. queue_stop, queue_kick in between) only
 * while it is started, enabled and set up.
 *
 * The dispatcher has checked the ring index against num_queues and paused
 * the ring's worker (the rows say so) before any of these handlers runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>

#include "backend/backend.h"
#include "common/util.h"

static bool queue_enabled(const struct vhu_backend *be, const struct vhu_queue *q)
{
	/* spec: "Ring states": without PROTOCOL_FEATURES the ring starts enabled */
	return !(be->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES)) || q->enabled;
}

static bool queue_ready(const struct vhu_backend *be, const struct vhu_queue *q)
{
	return q->kick_set && queue_enabled(be, q) && q->vq.num && q->vq.addr_set;
}

static int queue_start(struct vhu_backend *be, struct vhu_queue *q)
{
	const struct vhu_device_ops *ops = be->config.ops;
	unsigned int idx = q->vq.index;
	/* vhu_vq_start maps the ring again: the table may have changed meanwhile */
	int ret = vhu_vq_start(&q->vq);

	if (ret < 0)
		return vhu_be_fail(be, ret, "ring %u cannot start", idx);
	if (ops->queue_start) {
		ret = ops->queue_start(be->config.dev, &q->vq);
		if (ret < 0) {
			vhu_be_worker_unwatch(q);
			vhu_vq_stop(&q->vq);
			return vhu_be_fail(be, ret, "the device could not start ring %u", idx);
		}
	}
	vhu_be_notifier_want(be, q); /* before the worker: it sends the page */
	ret = vhu_be_worker_start(q);
	if (ret < 0) {
		q->hn.want = false;
		if (ops->queue_stop)
			ops->queue_stop(be->config.dev, &q->vq);
		vhu_be_worker_unwatch(q);
		vhu_vq_stop(&q->vq);
		return vhu_be_fail(be, ret, "no worker thread for ring %u", idx);
	}
	q->running = true;
	vhu_debug(&be->log, "ring %u running", idx);
	return 0;
}

void vhu_be_queue_stop(struct vhu_backend *be, struct vhu_queue *q)
{
	const struct vhu_device_ops *ops = be->config.ops;

	if (!q->running)
		return;
	vhu_be_worker_stop(q);
	/* the ring still runs here: the device may complete what it has in flight */
	if (ops->queue_stop)
		ops->queue_stop(be->config.dev, &q->vq);
	vhu_be_worker_unwatch(q); /* the next start begins without one */
	vhu_vq_stop(&q->vq);
	vhu_be_notifier_drop(q); /* no worker reads it any more */
	q->running = false;
	vhu_debug(&be->log, "ring %u stopped", q->vq.index);
}

int vhu_be_queue_update(struct vhu_backend *be, struct vhu_queue *q)
{
	bool ready = queue_ready(be, q);

	if (ready && !q->running)
		return queue_start(be, q);
	if (!ready && q->running)
		vhu_be_queue_stop(be, q);
	return 0;
}

void vhu_be_queues_stop_all(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++) {
		vhu_be_queue_stop(be, &be->queues[i]);
		be->queues[i].kick_set = false;
	}
}

/*
 * Memory is about to be unmapped (a changed SET_MEM_TABLE, REM_MEM_REG):
 * stop every running ring first. queue_stop lets the device finish what it
 * holds while its buffers are still mapped (vhu-blk's requests may be in the
 * kernel); vhu_be_queues_restart() starts them again, translated anew.
 */
void vhu_be_queues_drain(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_be_queue_stop(be, &be->queues[i]);
}

void vhu_be_queues_restart(struct vhu_backend *be)
{
	vhu_be_iotlb_remap(be); /* the memory changed under the IOTLB's entries too */
	for (unsigned int i = 0; i < be->num_queues; i++)
		(void)vhu_be_queue_update(be, &be->queues[i]); /* logs a ring that cannot */
}

/*
 * Only started rings are translated again now. A stopped ring's addresses
 * are the front-end's old ones, which it usually replaces before the next
 * start (queue_start translates them then): checking them now could break a
 * ring nobody uses.
 */
void vhu_be_queues_remap(struct vhu_backend *be)
{
	vhu_be_iotlb_remap(be);
	for (unsigned int i = 0; i < be->num_queues; i++) {
		struct vhu_queue *q = &be->queues[i];

		/* a ring that lost its memory broke and forgot its addresses: stop it */
		if (q->kick_set && vhu_vq_remap(&q->vq) < 0)
			(void)vhu_be_queue_update(be, q);
	}
}

/* spec: "Starting and stopping rings": size and base change only on a stopped ring. */
static int stopped_check(struct vhu_backend *be, const struct vhu_queue *q)
{
	if (q->kick_set)
		return vhu_be_fail(be, -EBUSY, "ring %u is started (no GET_VRING_BASE yet)",
				   q->vq.index);
	return 0;
}

int vhu_be_set_vring_num(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	uint32_t num = msg->payload.state.num;
	int ret = stopped_check(be, q);

	(void)reply;
	if (ret < 0)
		return ret;
	if (num > be->config.max_queue_size)
		return vhu_be_fail(be, -EINVAL, "ring size %" PRIu32 " over the device's %u", num,
				   be->config.max_queue_size);
	ret = vhu_vq_set_num(&q->vq, num);
	if (ret == -EINVAL)
		return vhu_be_fail(be, ret, "ring size %" PRIu32 " (%s)", num,
				   q->vq.packed ? "packed: 1..32768" : "split: a power of two");
	return ret;
}

/*
 * spec: "SET_VRING_ADDR": VHOST_VRING_F_LOG asks for the used ring's writes
 * to be logged at log_guest_addr. That is a guest-physical address (an IOVA
 * under a vIOMMU), which must hold the ring. The writes themselves are
 * logged at the gpa the ring really has (memory/dirtylog.h), which is what
 * QEMU reads back in both cases.
 */
static int log_flag_check(struct vhu_backend *be, const struct vhost_vring_addr *a)
{
	if (!(a->flags & (1u << VHOST_VRING_F_LOG)))
		return 0;
	if (!(vhu_be_offered_features(be) & VHU_BIT(VHU_F_LOG_ALL)))
		return vhu_be_fail(be, -EINVAL,
				   "ring %u: the log flag, but no dirty logging offered", a->index);
	if (!(be->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)) &&
	    !vhu_mem_gpa_ptr(&be->mem, a->log_guest_addr, 1))
		return vhu_be_fail(be, -EFAULT,
				   "ring %u: log_guest_addr 0x%" PRIx64 " is not in guest memory",
				   a->index, (uint64_t)a->log_guest_addr);
	return 0;
}

int vhu_be_set_vring_addr(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhost_vring_addr *a = &msg->payload.addr;
	struct vhu_queue *q = be->msg_queue; /* the dispatcher's decode */
	int ret;

	(void)reply;
	if (a->flags & ~(1u << VHOST_VRING_F_LOG))
		return vhu_be_fail(be, -EINVAL, "ring address flags 0x%x", a->flags);
	ret = log_flag_check(be, a);
	if (ret < 0)
		return ret;
	ret = vhu_vq_set_addr(&q->vq, a->desc_user_addr, a->avail_user_addr, a->used_user_addr);
	if (ret == -EFAULT)
		return vhu_be_fail(be, ret, "ring %u is not in guest memory", a->index);
	if (ret < 0)
		return vhu_be_fail(be, ret, "ring %u: misaligned addresses or no size yet",
				   a->index);
	q->log_flag = a->flags & (1u << VHOST_VRING_F_LOG);
	vhu_be_log_apply(be, q);
	return vhu_be_queue_update(be, q);
}

int vhu_be_set_vring_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	int ret = stopped_check(be, q);

	(void)reply;
	if (ret < 0)
		return ret;
	ret = vhu_vq_set_base(&q->vq, msg->payload.state.num);
	if (ret < 0)
		return vhu_be_fail(be, ret, "base 0x%x for ring %u of size %u",
				   msg->payload.state.num, q->vq.index, q->vq.num);
	return 0;
}

int vhu_be_get_vring_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;

	vhu_be_queue_stop(be, q);
	q->kick_set = false;
	/* a new start needs a new SET_VRING_KICK (libvhost-user and DPDK close it too) */
	vhu_vq_set_fd(&q->vq.kick_fd, -1);
	reply->payload.state.index = msg->payload.state.index;
	reply->payload.state.num = vhu_vq_get_base(&q->vq);
	reply->hdr.size = sizeof(struct vhost_vring_state);
	/*
	 * The ring is the front-end's again; whatever broke it is for the driver
	 * to sort out (a reset, then a new setup). The next start begins clean.
	 */
	q->vq.broken = false;
	return 0;
}

/* The fd of SET_VRING_KICK/CALL/ERR: -1 with NOFD (bit 8), else the one attached. */
static int ring_fd(struct vhu_backend *be, struct vhu_msg *msg, int *fd)
{
	uint64_t u = msg->payload.u64;
	bool nofd = u & VHU_VRING_NOFD_MASK;

	if (u & ~(VHU_VRING_IDX_MASK | VHU_VRING_NOFD_MASK))
		return vhu_be_fail(be, -EINVAL, "reserved bits in 0x%" PRIx64, u);
	if (nofd && msg->nfds)
		return vhu_be_fail(be, -EBADMSG, "an fd came with the NOFD flag");
	if (!nofd && !msg->nfds)
		return vhu_be_fail(be, -EBADMSG, "no fd and no NOFD flag");
	*fd = nofd ? -1 : vhu_msg_take_fd(msg, 0);
	return 0;
}

int vhu_be_set_vring_kick(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	int fd = -1, ret = ring_fd(be, msg, &fd);

	(void)reply;
	if (ret < 0)
		return ret;
	/*
	 * spec: "In-band notifications": no fd, and the front-end kicks with
	 * VRING_KICK, which writes this eventfd of ours: the worker sleeps as
	 * with a kick fd. Without the feature, no fd: the front-end will not
	 * kick, so the worker polls the ring.
	 */
	if (fd < 0 && vhu_be_has_protocol(be, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS)) {
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return vhu_be_fail(be, -errno, "in-band kick eventfd: %s", strerror(errno));
	}
	vhu_vq_set_fd(&q->vq.kick_fd, fd);
	q->kick_set = true;
	return vhu_be_queue_update(be, q);
}

/*
 * spec: "VRING_KICK": a buffer was added; state.num is reserved (0). The
 * ring's kick fd (the front-end's, or ours for an in-band kick) is
 * written, so its worker wakes as for an eventfd kick. A ring that is not
 * started has nothing to wake: the kick is refused.
 */
int vhu_be_vring_kick(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;

	(void)reply;
	if (msg->payload.state.num != 0)
		return vhu_be_fail(be, -EINVAL, "reserved num %" PRIu32 " (must be 0)",
				   msg->payload.state.num);
	if (!q->kick_set || q->vq.kick_fd < 0)
		return vhu_be_fail(be, -EINVAL, "ring %u is not started", q->vq.index);
	(void)eventfd_write(q->vq.kick_fd, 1); /* EAGAIN: a full counter, a kick is pending */
	return 0;
}

int vhu_be_set_vring_call(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	int fd = -1, ret = ring_fd(be, msg, &fd);

	(void)reply;
	if (ret < 0)
		return ret;
	vhu_vq_set_fd(&q->vq.call_fd, fd); /* -1: the driver polls, no interrupts */
	q->inband_call = fd < 0 && vhu_be_has_protocol(be, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS);
	return 0;
}

int vhu_be_set_vring_err(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	int fd = -1, ret = ring_fd(be, msg, &fd);

	(void)reply;
	if (ret < 0)
		return ret;
	vhu_vq_set_fd(&q->vq.err_fd, fd);
	q->inband_err = fd < 0 && vhu_be_has_protocol(be, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS);
	return 0;
}

int vhu_be_set_vring_enable(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_queue *q = be->msg_queue;
	uint32_t num = msg->payload.state.num;

	(void)reply;
	if (num > 1)
		return vhu_be_fail(be, -EINVAL, "enable %" PRIu32 " (0 or 1)", num);
	q->enabled = num;
	return vhu_be_queue_update(be, q);
}
