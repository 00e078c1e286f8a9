/* SPDX-License-Identifier: MIT */
/*
 * The driver's side of each ring (include/vhu/frontend.h, "queues"): add
 * chains, kick (an eventfd write, or VRING_KICK with in-band
 * notifications), collect completions, wait for a call, enable and
 * disable at run time. The ring layouts are rings.c's.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"
#include <vhu/frontend.h>

void vhu_frontend_queue_ring_mem(const struct vhu_frontend_queue *q, struct iovec areas[3])
{
	uint64_t desc, avail, used;

	vhu_fe_ring_sizes(q->ring.packed, q->fe->cfg.queue_size, &desc, &avail, &used);
	areas[0] = (struct iovec){ q->mem.desc, desc };
	areas[1] = (struct iovec){ q->mem.avail, avail };
	areas[2] = (struct iovec){ q->mem.used, used };
}

struct vhu_frontend_queue *vhu_frontend_queue(struct vhu_frontend *fe, unsigned int index)
{
	if (!fe->started || index >= fe->cfg.num_queues)
		return NULL;
	return &fe->queues[index];
}

bool vhu_frontend_queue_broken(struct vhu_frontend_queue *q)
{
	struct pollfd pfd = { .fd = q->err_fd, .events = POLLIN };

	/* the count stays until the ring is set up again: every caller sees it */
	return q->err_fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

int vhu_frontend_queue_enable(struct vhu_frontend_queue *q, bool enable)
{
	struct vhu_frontend *fe = q->fe;
	int ret;

	/* without PROTOCOL_FEATURES a started ring is always enabled (spec: "Ring states") */
	if (!(fe->offered & VHU_BIT(VHU_F_PROTOCOL_FEATURES)))
		return -ENOTSUP;
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	ret = vhu_fe_vring_state(fe, VHU_REQ_SET_VRING_ENABLE, q->index, enable);
	if (ret == 0)
		q->disabled = !enable;
	return ret;
}

static int iov_to_bufs(struct vhu_frontend_queue *q, const struct iovec *iov, unsigned int n,
		       bool writable, struct vhu_fe_buf *out)
{
	for (unsigned int k = 0; k < n; k++) {
		if (iov[k].iov_len > UINT32_MAX ||
		    vhu_fe_mem_gpa(&q->fe->mem, iov[k].iov_base, iov[k].iov_len, &out[k].gpa) < 0)
			return -EFAULT;
		out[k].len = (uint32_t)iov[k].iov_len;
		out[k].writable = writable;
	}
	return 0;
}

int vhu_frontend_queue_add(struct vhu_frontend_queue *q, const struct iovec *out, unsigned int nout,
			   const struct iovec *in, unsigned int nin, void *token)
{
	unsigned int max = vhu_fe_ring_max_chain(&q->ring);
	int ret;

	if (nout + nin == 0 || nout > max || nin > max - nout)
		return -EINVAL;
	ret = iov_to_bufs(q, out, nout, false, q->bufs);
	if (ret == 0)
		ret = iov_to_bufs(q, in, nin, true, q->bufs + nout);
	if (ret == 0)
		ret = vhu_fe_ring_add(&q->ring, q->bufs, nout + nin, token);
	return ret;
}

int vhu_frontend_queue_kick(struct vhu_frontend_queue *q)
{
	uint64_t one = 1;
	int ret;

	if (!vhu_fe_ring_kick_prepare(&q->ring))
		return 0;
	if (vhu_fe_notifier_kick(q))
		return 1; /* a store into the back-end's page, no system call */
	if ((q->fe->protocol & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS))) {
		/* spec: "VRING_KICK", acked: the back-end has seen it when we return */
		ret = vhu_frontend_alive(q->fe)
			      ? vhu_fe_vring_state(q->fe, VHU_REQ_VRING_KICK, q->index, 0)
			      : -ECONNRESET;
		return ret < 0 ? ret : 1;
	}
	if (write(q->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno; /* EAGAIN: the counter is full, so a kick is pending anyway */
	return 1;
}

int vhu_frontend_queue_get(struct vhu_frontend_queue *q, void **token, uint32_t *len)
{
	int ret = vhu_fe_ring_get(&q->ring, token, len);

	/* completions written before the back-end died are still good: they come first */
	if (ret == 0 && !vhu_frontend_alive(q->fe))
		return -ECONNRESET;
	if (ret == -EPROTO && !q->ring.broken)
		return ret;
	if (ret == -EPROTO)
		vhu_err(&q->fe->log, "queue %u: the back-end returned a buffer id not in flight",
			q->index);
	return ret;
}

unsigned int vhu_frontend_queue_num_free(const struct vhu_frontend_queue *q)
{
	return q->ring.packed && q->ring.free_ids == 0 ? 0 : q->ring.num_free;
}

int vhu_frontend_queue_wait(struct vhu_frontend_queue *q, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = q->call_fd, .events = POLLIN },
		{ .fd = q->fe->sock, .events = POLLRDHUP },
	};
	uint64_t count;
	int ret;

	/* interrupts on, then look again: a completion that came before is not waited for */
	if (vhu_fe_ring_enable_cb(&q->ring))
		return 1;
	if (!vhu_frontend_alive(q->fe))
		return -ECONNRESET; /* nothing will signal: the caller may reconnect */
	do
		ret = poll(pfd, 2, timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	/* a gone back-end first: the ring had nothing when we looked */
	if (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
		if (__atomic_exchange_n(&q->fe->alive, false, __ATOMIC_ACQ_REL))
			vhu_err(&q->fe->log, "the back-end closed the connection");
		return -ECONNRESET;
	}
	if (pfd[0].revents & POLLIN) {
		(void)!read(q->call_fd, &count, sizeof(count)); /* drain; EAGAIN is harmless */
		return 1;
	}
	return 0;
}
