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

#include <pthread.h>
#include <stdbool.h>

#include "blkdev.h"
#include <vhu/backend.h>

struct blk_slot {
	struct blk_vq *bq;
	uint64_t start_ns;   /* popped at (CLOCK_MONOTONIC), for the latency stats */
	struct vhu_req *req; /* in blk_vq.reqs, with BLK_SEG_MAX + 2 iovecs */
};

/*
 * Latency histogram: 4 buckets per power of two of nanoseconds, from
 * 2^BLK_LAT_SHIFT ns (everything faster is in bucket 0) to 2^31 ns
 * (everything slower is in the last bucket): within 19 % of the truth.
 */
#define BLK_LAT_SHIFT 7u
#define BLK_LAT_SUB 4u
#define BLK_LAT_BUCKETS ((31u - BLK_LAT_SHIFT) * BLK_LAT_SUB)

/*
 * What one queue did, over the program's life (kept across queue
 * restarts). Written by the queue's worker only, with relaxed atomic
 * stores; any thread may read it (blk_stats_sum) for export-stats.
 */
struct blk_stats {
	uint64_t read_ops, write_ops, other_ops, errors;
	uint64_t read_bytes, write_bytes;
	uint64_t lat[BLK_LAT_BUCKETS];
};

struct blk_vq {
	struct vhu_vq *vq;
	struct blk_queue *q;
	struct blk_slot *slots;
	struct vhu_req *reqs; /* one per slot (vhu_reqs_new) */
	unsigned int *free;   /* stack of free slot numbers */
	unsigned int nfree;
	unsigned int nslots;
	unsigned int completed; /* pushed since the last notify */
	/*
	 * Requests completed on this queue over the program's life (kept across
	 * queue restarts). Written by the queue's worker only; read once every
	 * worker is gone (main.c logs them at exit).
	 */
	uint64_t requests;
	struct blk_stats stats;
	bool full;   /* popping stopped for want of a slot; kicks are off */
	bool polled; /* blk_queue_pending just found completions: the eventfd is left unread */
};

/* One device: dev opened by the caller (blkdev_open), closed after the back-end. */
struct blk {
	struct blkdev *dev;
	pthread_mutex_t config_lock; /* config: the control thread vs a resize */
	struct virtio_blk_config config;
	struct blk_vq queues[BLK_QUEUES_MAX];
	bool poll; /* --poll: workers never sleep on the eventfd */
};

/* @blk for @dev (opened; the caller closes it after the back-end is gone). */
void blk_init(struct blk *blk, struct blkdev *dev, bool poll);

/* The disk's capacity changed (blkdev_resize): refresh config for GET_CONFIG. */
void blk_resized(struct blk *blk);

/* CLOCK_MONOTONIC in ns. */
uint64_t blk_now_ns(void);

/* Count one completed request (its worker only). */
void blk_stats_record(struct blk_stats *s, const struct vhu_req *req, uint8_t status,
		      uint32_t written_len, uint64_t start_ns);

/* Add up the stats of every queue into @sum (any thread). */
void blk_stats_sum(const struct blk *blk, struct blk_stats *sum);

/* The latency in ns below which @permille of the requests in @s completed (0: none). */
uint64_t blk_stats_percentile(const struct blk_stats *s, unsigned int permille);

extern const struct vhu_device_ops blk_ops;

#endif /* VHU_DEVICES_BLK_DEVICE_H */
