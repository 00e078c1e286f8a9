/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk: a virtio-blk back-end on a raw file or block device.
 *
 * The request engine is blkdev.c (one io_uring per queue); this file is the
 * glue: options, the device ops, and the per-queue request slots.
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
 * sleeps, asking blk_queue_pending for completions without a system call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkdev.h"
#include "serve.h"
#include <vhu/backend.h>
#include <vhu/protocol.h>

#define BLK_QUEUE_SIZE_DEFAULT 256u

struct blk_slot {
	struct blk_vq *bq;
	struct vhu_req req;
};

struct blk_vq {
	struct vhu_vq *vq;
	struct blk_queue *q;
	struct blk_slot *slots;
	unsigned int *free; /* stack of free slot numbers */
	unsigned int nfree;
	unsigned int nslots;
	unsigned int completed; /* pushed since the last notify */
	bool full;		/* popping stopped for want of a slot; kicks are off */
};

struct blk {
	struct blkdev *dev;
	struct virtio_blk_config config;
	struct blk_vq queues[BLK_QUEUES_MAX];
	bool poll; /* --poll: workers never sleep on the eventfd */
};

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
	memcpy(buf, (const uint8_t *)&blk->config + offset, size);
	return 0;
}

static void slots_free(struct blk_vq *bq)
{
	free(bq->slots);
	free(bq->free);
	bq->slots = NULL;
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
	if (!bq->slots || !bq->free) {
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

	(void)status; /* already written into the request's status byte */
	vhu_vq_push(bq->vq, req, written_len);
	bq->free[bq->nfree++] = (unsigned int)(slot - bq->slots);
	bq->completed++;
}

/* Pop and submit until the ring is empty or every slot is busy; 0 or -EIO. */
static int submit_available(struct blk_vq *bq)
{
	while (bq->nfree) {
		struct blk_slot *slot = &bq->slots[bq->free[bq->nfree - 1]];
		int ret = vhu_vq_pop(bq->vq, &slot->req);

		if (ret <= 0)
			return ret == 0 ? 0 : -EIO;
		bq->nfree--;
		/* no I/O needed (the null disk, a bad request): done here, slot freed */
		ret = blk_queue_exec(bq->q, &slot->req, slot, blk_done);
		if (ret < 0) {
			/* cannot happen with a free slot; complete it as failed */
			vhu_vq_push(bq->vq, &slot->req, 0);
			bq->free[bq->nfree++] = (unsigned int)(slot - bq->slots);
			bq->completed++;
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
		notify_completed(bq);	      /* requests that could not be submitted */
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
	 * signalled. --poll never sleeps on it, so it is left alone then.
	 */
	if (!blk->poll && read(blk_queue_eventfd(bq->q), &v, sizeof(v)) < 0)
		v = 0;
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

	return bq->q && blk_queue_has_completions(bq->q);
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

static const struct vhu_device_ops blk_ops = {
	.get_features = blk_get_features,
	.get_config = blk_get_config,
	.queue_start = blk_queue_start,
	.queue_stop = blk_queue_stop,
	.queue_kick = blk_queue_kick,
	.queue_event = blk_queue_event,
	.queue_pending = blk_queue_pending,
};

struct blk_options {
	struct blkdev_options dev;
	const char *num_queues;
	const char *queue_size;
	const char *null_size;
	const char *poll_window;
	bool poll;
};

static int parse_numbers(const struct prog_info *info, struct blk_options *o, uint16_t *queue_size,
			 uint32_t *poll_window)
{
	uint64_t v;

	*poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	if (o->poll_window) {
		if (prog_parse_u64(o->poll_window, VHU_BACKEND_POLL_WINDOW_MAX_US, &v) < 0)
			return prog_error(info, "--poll-window: 0..%u microseconds",
					  VHU_BACKEND_POLL_WINDOW_MAX_US);
		*poll_window = (uint32_t)v;
	}

	if (o->num_queues) {
		if (prog_parse_u64(o->num_queues, BLK_QUEUES_MAX, &v) < 0 || !v)
			return prog_error(info, "--num-queues: 1..%u", BLK_QUEUES_MAX);
		o->dev.num_queues = (uint16_t)v;
	}
	*queue_size = BLK_QUEUE_SIZE_DEFAULT;
	if (o->queue_size) {
		if (prog_parse_u64(o->queue_size, VHU_VQ_MAX_SIZE, &v) < 0 || !v)
			return prog_error(info, "--queue-size: 1..%u", VHU_VQ_MAX_SIZE);
		*queue_size = (uint16_t)v;
	}
	if (o->null_size) {
		if (prog_parse_u64(o->null_size, UINT64_MAX, &v) < 0 || v < 512)
			return prog_error(info, "--null-size: bytes, at least 512");
		o->dev.null_backend = true;
		o->dev.null_size = v;
	}
	if (!o->dev.path && !o->dev.null_backend)
		return prog_error(info, "--blk-file=PATH (or --null-size=BYTES) is required");
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const features[] = { "read-only", "blk-file", NULL };
	static struct blk_options o;
	static struct blk blk;
	const struct prog_option options[] = {
		{ "blk-file", PROG_ARG_REQUIRED, "PATH", "raw image or block device to serve",
		  .str = &o.dev.path },
		{ "read-only", PROG_ARG_NONE, NULL, "refuse writes (VIRTIO_BLK_F_RO)",
		  .flag = &o.dev.read_only },
		{ "num-queues", PROG_ARG_REQUIRED, "N", "request queues (default 1)",
		  .str = &o.num_queues },
		{ "queue-size", PROG_ARG_REQUIRED, "N", "largest ring accepted (default 256)",
		  .str = &o.queue_size },
		{ "serial", PROG_ARG_REQUIRED, "ID", "serial number (GET_ID), up to 20 bytes",
		  .str = &o.dev.serial },
		{ "direct", PROG_ARG_NONE, NULL, "O_DIRECT: bypass the host page cache",
		  .flag = &o.dev.direct },
		{ "poll", PROG_ARG_NONE, NULL, "busy-poll the rings instead of sleeping",
		  .flag = &o.poll },
		{ "poll-window", PROG_ARG_REQUIRED, "US",
		  "spin this long for more work before sleeping (default 32, 0: off)",
		  .str = &o.poll_window },
		{ "null-size", PROG_ARG_REQUIRED, "BYTES",
		  "no file: reads return zeros, writes are dropped (benchmarks)",
		  .str = &o.null_size },
	};
	const struct prog_info info = {
		.name = "vhu-blk",
		.description = "virtio-blk vhost-user back-end on a raw file or block device",
		.type = "block",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
	};
	struct vhu_backend_config config;
	struct prog_args args;
	uint16_t queue_size = BLK_QUEUE_SIZE_DEFAULT;
	uint32_t poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	if (parse_numbers(&info, &o, &queue_size, &poll_window))
		return 1;
	ret = blkdev_open(&o.dev, &blk.dev);
	if (ret < 0)
		return prog_error(&info, "%s: %s", o.dev.path ? o.dev.path : "null disk",
				  strerror(-ret));
	blkdev_fill_config(blk.dev, &blk.config);
	blk.poll = o.poll;
	config = (struct vhu_backend_config){
		.name = args.socket_path ? args.socket_path : "fd",
		.num_queues = o.dev.num_queues ? o.dev.num_queues : 1,
		.max_queue_size = queue_size,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_STATUS) |
			VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) |
			/* crash-safe: what was in flight is resubmitted after a restart */
			VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD),
		.flags = o.poll ? VHU_BACKEND_F_POLL : 0,
		.ops = &blk_ops,
		.dev = &blk,
		.poll_window_us = poll_window,
	};
	ret = prog_serve(&info, &args, &config);
	blkdev_close(blk.dev);
	return ret;
}
