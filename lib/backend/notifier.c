/* SPDX-License-Identifier: MIT */
/*
 * Host notifiers, back-end side (spec: "Host notifiers",
 * BACKEND_VRING_HOST_NOTIFIER_MSG): a page per ring that the front-end maps
 * where the driver kicks, so that a kick is a store into memory we poll
 * rather than an eventfd write (QEMU: a ram_device region over the ring's
 * slot of the virtio-pci notify area, with page-per-vq=on).
 *
 * Only for busy-polled rings (VHU_BACKEND_F_POLL, a kick fd): their worker
 * reads the ring every round and never sleeps on the kick eventfd, so a
 * kick that lands in the page is never waited for, and nothing has to be
 * taken back (NOFD) before a sleep. An adaptive poller, which sleeps after
 * windows of microseconds, would need a round trip on the channel (the
 * front-end's main loop) before each sleep and after each wake-up: more
 * than the wake-up it saves, so it gets none.
 *
 * Who sends: the ring's worker, in its first busy round (want, set before
 * it started). Not the control thread: QEMU 7.2 sends GET_STATUS right after
 * the SET_VRING_ENABLE that starts the ring and does not serve this channel
 * while it waits for that reply, so an ack waited for there never comes
 * (measured: 5 s, then the channel closed). The worker waits while its
 * control thread does not call it (a pause or stop the front-end waits for
 * would deadlock the same way); when it is called, the ack is left owed to
 * the channel and the page is not used. A refused page (-EIO) is not asked
 * again on that connection. The memfd and the mapping are the worker's while
 * the queue is attached and the control thread's once it stopped: a ring that
 * stops (GET_VRING_BASE, disable, a memory change, reset, disconnect) has
 * its page unmapped and its memfd closed here. The front-end removes its own
 * mapping on GET_VRING_BASE (QEMU does); after a disable it may keep it
 * until the next page replaces it, and kicks stored there meanwhile are not
 * needed: a ring that starts again is read at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"

static bool notifier_usable(const struct vhu_backend *be, const struct vhu_queue *q)
{
	return (be->config.flags & VHU_BACKEND_F_POLL) && !q->hn.refused && q->vq.kick_fd >= 0 &&
	       vhu_be_has_protocol(be, VHU_PROTOCOL_F_HOST_NOTIFIER) &&
	       vhu_be_has_protocol(be, VHU_PROTOCOL_F_BACKEND_SEND_FD) &&
	       vhu_be_has_protocol(be, VHU_PROTOCOL_F_REPLY_ACK);
}

void vhu_be_notifier_want(struct vhu_backend *be, struct vhu_queue *q)
{
	q->hn.want = notifier_usable(be, q);
}

void vhu_be_notifier_drop(struct vhu_queue *q)
{
	uint16_t *page = q->hn.page;

	q->hn.want = false;
	__atomic_store_n(&q->hn.page, NULL, __ATOMIC_RELAXED); /* stats may read it */
	if (page)
		munmap(page, (size_t)sysconf(_SC_PAGESIZE));
	vhu_close_fd(&q->hn.fd);
}

/* A new doorbell page for @q (its fd), idle, mapped at *@out. Return: 0 or -errno. */
static int page_new(struct vhu_queue *q, size_t size, uint16_t **out)
{
	int fd = memfd_create("vhu-doorbell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	/* the front-end can neither shrink it under our mapping nor grow it */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	*(uint16_t *)p = VHU_DOORBELL_IDLE;
	q->hn.fd = fd;
	*out = p; /* published once acked */
	return 0;
}

void vhu_be_notifier_map(struct vhu_queue *q)
{
	struct vhu_backend *be = q->be;
	size_t size = (size_t)sysconf(_SC_PAGESIZE);
	unsigned int idx = q->vq.index;
	uint16_t *page = NULL;
	int ret;

	q->hn.want = false;
	ret = page_new(q, size, &page);
	if (ret < 0) {
		vhu_warn(&be->log, "ring %u: no doorbell page: %s", idx, strerror(-ret));
		return;
	}
	ret = vhu_be_chan_host_notifier(be, q, q->hn.fd, size);
	if (ret < 0) {
		munmap(page, size);
		vhu_close_fd(&q->hn.fd);
		if (ret == -EINTR) {
			q->hn.want = true; /* after the pause (a stop drops it) */
			return;
		}
		q->hn.refused = true;
		vhu_logf(&be->log, ret == -EIO ? VHU_LOG_INFO : VHU_LOG_WARN,
			 "ring %u: host notifier %s: kicks stay on the eventfd", idx,
			 ret == -EIO ? "refused by the front-end" : strerror(-ret));
		return;
	}
	vhu_debug(&be->log, "ring %u: host notifier mapped", idx);
	__atomic_store_n(&q->hn.page, page, __ATOMIC_RELAXED); /* read by stats only */
}

VHU_API int vhu_backend_queue_kicks(struct vhu_backend *be, unsigned int index,
				    struct vhu_kick_counts *out)
{
	const struct vhu_queue *q;

	if (!be || !out || index >= be->num_queues)
		return -EINVAL;
	q = &be->queues[index];
	out->eventfd = __atomic_load_n(&q->hn.kicks_eventfd, __ATOMIC_RELAXED);
	out->doorbell = __atomic_load_n(&q->hn.kicks_doorbell, __ATOMIC_RELAXED);
	out->mapped = __atomic_load_n(&q->hn.page, __ATOMIC_RELAXED) != NULL;
	return 0;
}
