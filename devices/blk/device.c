/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk's device ops (device.h): the glue between lib/backend's queues and
 * the request engine (blkdev.c, one io_uring per queue).
 *
 * Requests from many kicks are in flight at once. queue_kick pops what the
 * driver made available into free slots, submits it as one io_uring batch
 * and returns; the worker also watches the io_uring's eventfd
 * (vhu_vq_watch_fd), and queue_event pushes what completed without waiting,
 * notifies once per reaped batch and submits more if slots were freed.
 * Driver kicks are off while a batch is popped (the virtio pattern: disable,
 * drain, re-enable, re-check); they stay off while every slot is busy, since
 * the next completion looks at the ring anyway. queue_stop completes what is
 * still in flight before the ring is handed back.
 *
 * A request that needs no I/O (every request of --null-size, GET_ID, one
 * that fails its checks) completes inside queue_kick (blk_queue_exec): no
 * io_uring round trip, one notify per batch. Between requests the worker
 * spins for --poll-window microseconds (the library's poll window) before it
 * sleeps, asking blk_queue_pending for completions without a system call;
 * with I/O in flight (blk_queue_inflight_op) it waits for the completion up
 * to --poll-inflight microseconds, a window that adapts on its own: a disk
 * that answers within it is polled (a wake-up costs tens of microseconds on
 * a VM), a slower one is slept on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"

void blk_init(struct blk *blk, struct blkdev *dev, bool poll)
{
	memset(blk, 0, sizeof(*blk));
	blk->dev = dev;
	pthread_mutex_init(&blk->config_lock, NULL);
	blkdev_fill_config(dev, &blk->config);
	blk->poll = poll;
}

static uint64_t blk_get_features(void *opaque)
{
	struct blk *blk = opaque;

	return blkdev_features(blk->dev);
}

static int blk_get_config(void *opaque, void *buf, uint32_t offset, uint32_t size)
{
	struct blk *blk = opaque;

	if (offset > sizeof(blk->config) || size > sizeof(blk->config) - offset)
		return -EINVAL;
	pthread_mutex_lock(&blk->config_lock);
	memcpy(buf, (const uint8_t *)&blk->config + offset, size);
	pthread_mutex_unlock(&blk->config_lock);
	return 0;
}

void blk_resized(struct blk *blk)
{
	pthread_mutex_lock(&blk->config_lock);
	blkdev_fill_config(blk->dev, &blk->config);
	pthread_mutex_unlock(&blk->config_lock);
}

static void slots_free(struct blk_vq *bq)
{
	free(bq->slots);
	free(bq->reqs);
	free(bq->free);
	bq->slots = NULL;
	bq->reqs = NULL;
	bq->free = NULL;
	bq->nslots = bq->nfree = 0;
}

static int blk_queue_start(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];
	unsigned int depth = vhu_vq_size(vq);
	int ret;

	if (depth > BLK_DEPTH_MAX)
		depth = BLK_DEPTH_MAX;
	bq->slots = calloc(depth, sizeof(*bq->slots));
	bq->free = calloc(depth, sizeof(*bq->free));
	/* a chain is a header, at most seg_max data buffers and the status */
	bq->reqs = vhu_reqs_new(depth, BLK_SEG_MAX + 2);
	if (!bq->slots || !bq->free || !bq->reqs) {
		slots_free(bq);
		return -ENOMEM;
	}
	ret = blk_queue_create(blk->dev, depth, &bq->q);
	if (ret < 0) {
		slots_free(bq);
		return ret;
	}
	for (unsigned int i = 0; i < depth; i++) {
		bq->slots[i].bq = bq;
		bq->slots[i].req = &bq->reqs[i];
		bq->free[i] = depth - 1 - i;
	}
	bq->nslots = bq->nfree = depth;
	bq->completed = 0;
	bq->full = false;
	bq->vq = vq;
	/* completions wake the worker too (queue_event) */
	ret = vhu_vq_watch_fd(vq, blk_queue_eventfd(bq->q));
	if (ret < 0) {
		blk_queue_destroy(bq->q);
		bq->q = NULL;
		slots_free(bq);
		bq->vq = NULL;
	}
	return ret;
}

static void blk_done(void *tag, struct vhu_req *req, uint8_t status, uint32_t written_len)
{
	struct blk_slot *slot = tag;
	struct blk_vq *bq = slot->bq;

	blk_stats_record(&bq->stats, req, status, written_len, slot->start_ns);
	/* the status byte is the last writable one, which written_len need not reach */
	if (written_len)
		(void)vhu_vq_log_write(bq->vq, blk_status_byte(req), 1);
	vhu_vq_push(bq->vq, req, written_len);
	bq->free[bq->nfree++] = (unsigned int)(slot - bq->slots);
	bq->completed++;
	bq->requests++;
}

/* Pop and submit until the ring is empty or every slot is busy; 0 or -EIO. */
static int submit_available(struct blk_vq *bq)
{
	while (bq->nfree) {
		struct blk_slot *slot = &bq->slots[bq->free[bq->nfree - 1]];
		int ret = vhu_vq_pop(bq->vq, slot->req);

		if (ret <= 0)
			return ret == 0 ? 0 : -EIO;
		slot->start_ns = blk_now_ns();
		bq->nfree--;
		/* no I/O needed (the null disk, a bad request): done here, slot freed */
		ret = blk_queue_exec(bq->q, slot->req, slot, blk_done);
		if (ret < 0) {
			/* cannot happen with a free slot; complete it as failed */
			vhu_vq_push(bq->vq, slot->req, 0);
			bq->free[bq->nfree++] = (unsigned int)(slot - bq->slots);
			bq->completed++;
			bq->requests++;
		}
	}
	return 0;
}

/* Interrupt the driver for what was pushed since the last notify. */
static void notify_completed(struct blk_vq *bq)
{
	if (bq->completed) {
		vhu_vq_notify(bq->vq);
		bq->completed = 0;
	}
}

/*
 * Pop what the driver made available and submit it, one io_uring_submit per
 * batch; return without waiting. Kicks are off while popping and turned on
 * again (then the ring looked at once more) only if a slot is free: with
 * none, a kick could not be served and the next completion pumps anyway.
 */
static void pump(struct blk_vq *bq)
{
	struct vhu_vq *vq = bq->vq;
	int ret;

	do {
		vhu_vq_enable_notify(vq, false);
		ret = submit_available(bq);
		(void)blk_queue_flush(bq->q); /* errors surface as failed CQEs or on reap */
		/* a page-cache hit completes inside the submit: push it with this batch */
		if (blk_queue_has_completions(bq->q))
			(void)blk_queue_reap(bq->q, 0, blk_done);
		notify_completed(bq); /* one interrupt for the batch */
		bq->full = bq->nfree == 0;
		if (ret < 0 || bq->full || vhu_vq_broken(vq))
			return;
	} while (vhu_vq_enable_notify(vq, true));
}

static void blk_queue_kick(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];

	if (bq->q)
		pump(bq);
}

/* The io_uring's eventfd is readable (or, with polling, maybe not): reap without waiting. */
static void blk_queue_event(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];
	uint64_t v;

	if (!bq->q)
		return;
	/*
	 * Clear the eventfd before reaping: a completion that lands after the
	 * reap signals it again. Nonblocking; EAGAIN just means nothing was
	 * signalled. --poll never sleeps on it, so it is left alone then, and
	 * so it is when the worker's poll window found the completions
	 * (blk_queue_pending said so just before): a system call per batch
	 * saved, and the count left in it costs one empty round when the
	 * worker next sleeps.
	 */
	if (!blk->poll && !bq->polled && read(blk_queue_eventfd(bq->q), &v, sizeof(v)) < 0)
		v = 0;
	bq->polled = false;
	if (blk_queue_inflight(bq->q) == 0 || blk_queue_reap(bq->q, 0, blk_done) <= 0)
		return;
	notify_completed(bq);
	/* kicks were off while every slot was busy: requests may be waiting */
	if (bq->full)
		pump(bq);
}

/* The poll window asks: completions to reap? From memory, no system call. */
static bool blk_queue_pending(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];

	bq->polled = bq->q && blk_queue_has_completions(bq->q);
	return bq->polled;
}

/*
 * The poll window asks: I/O in flight, so a completion will come? Only
 * O_DIRECT I/O, which the disk completes by itself. Buffered I/O that does
 * not complete inside the submit (a page-cache miss) runs on the
 * io_uring's io-wq threads, which share this thread's CPUs: spinning for
 * it would keep them off the CPU.
 */
static bool blk_queue_inflight_op(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];

	return bq->q && blkdev_direct(blk->dev) && blk_queue_inflight(bq->q) > 0;
}

static void blk_queue_stop(void *opaque, struct vhu_vq *vq)
{
	struct blk *blk = opaque;
	struct blk_vq *bq = &blk->queues[vhu_vq_index(vq)];

	/*
	 * The ring still runs until this returns: complete what is in flight so
	 * that GET_VRING_BASE hands back a ring with nothing outstanding. Should
	 * reaping fail, blk_queue_destroy() still waits the kernel out.
	 */
	while (bq->q && blk_queue_inflight(bq->q) > 0) {
		int ret = blk_queue_reap(bq->q, blk_queue_inflight(bq->q), blk_done);

		if (ret < 0 && ret != -EINTR)
			break;
	}
	if (bq->q)
		notify_completed(bq);
	blk_queue_destroy(bq->q);
	bq->q = NULL;
	slots_free(bq);
	bq->vq = NULL;
}

const struct vhu_device_ops blk_ops = {
	.get_features = blk_get_features,
	.get_config = blk_get_config,
	.queue_start = blk_queue_start,
	.queue_stop = blk_queue_stop,
	.queue_kick = blk_queue_kick,
	.queue_event = blk_queue_event,
	.queue_pending = blk_queue_pending,
	.queue_inflight = blk_queue_inflight_op,
};
