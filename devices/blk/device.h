/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_BLK_DEVICE_H
#define VHU_DEVICES_BLK_DEVICE_H

/*
 * vhu-blk's device: the vhost-user ops over the blkdev.c request engine,
 * with per-queue request slots. main.c is the program around it; the
 * session fuzzer (tests/fuzz/fuzz_backend.c, fuzz_backend_blk) drives the
 * same ops. Fill struct blk with blk_init() and give &blk_ops, &blk to a
 * back-end.
 */

#include <stdbool.h>

#include "blkdev.h"
#include <vhu/backend.h>

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
	/*
	 * Requests completed on this queue over the program's life (kept across
	 * queue restarts). Written by the queue's worker only; read once every
	 * worker is gone (main.c logs them at exit).
	 */
	uint64_t requests;
	bool full;   /* popping stopped for want of a slot; kicks are off */
	bool polled; /* blk_queue_pending just found completions: the eventfd is left unread */
};

/* One device: dev opened by the caller (blkdev_open), closed after the back-end. */
struct blk {
	struct blkdev *dev;
	struct virtio_blk_config config;
	struct blk_vq queues[BLK_QUEUES_MAX];
	bool poll; /* --poll: workers never sleep on the eventfd */
};

/* @blk for @dev (opened; the caller closes it after the back-end is gone). */
void blk_init(struct blk *blk, struct blkdev *dev, bool poll);

extern const struct vhu_device_ops blk_ops;

#endif /* VHU_DEVICES_BLK_DEVICE_H */
