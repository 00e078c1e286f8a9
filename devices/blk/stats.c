/* SPDX-License-Identifier: MIT */
/*
 * Per-queue request statistics of vhu-blk (device.h, struct blk_stats):
 * operations, bytes, errors and a log-linear latency histogram, read by
 * export-stats on the control socket while the workers run.
 */
#include <endian.h>
#include <string.h>
#include <time.h>

#include "device.h"

uint64_t blk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned int lat_bucket(uint64_t ns)
{
	unsigned int msb, b;

	if (ns < (1ull << BLK_LAT_SHIFT))
		return 0;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	if (msb >= 31u)
		return BLK_LAT_BUCKETS - 1;
	/* the two bits below the top one pick the sub-bucket */
	b = (msb - BLK_LAT_SHIFT) * BLK_LAT_SUB + (unsigned int)((ns >> (msb - 2)) & 3u);
	return b < BLK_LAT_BUCKETS ? b : BLK_LAT_BUCKETS - 1;
}

/* The upper edge of bucket @b, in ns. */
static uint64_t lat_edge(unsigned int b)
{
	unsigned int msb = b / BLK_LAT_SUB + BLK_LAT_SHIFT, sub = b % BLK_LAT_SUB;

	return (1ull << msb) + ((uint64_t)(sub + 1) << (msb - 2));
}

static void add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

void blk_stats_record(struct blk_stats *s, const struct vhu_req *req, uint8_t status,
		      uint32_t written_len, uint64_t start_ns)
{
	uint32_t type = UINT32_MAX;
	uint64_t now = blk_now_ns();

	/* the header's type, for the counters only: the driver may have changed it */
	if (req->out_num && req->iov[0].iov_len >= sizeof(uint32_t)) {
		memcpy(&type, req->iov[0].iov_base, sizeof(type));
		type = le32toh(type);
	}
	if (status != VIRTIO_BLK_S_OK) {
		add(&s->errors, 1);
	} else if (type == VIRTIO_BLK_T_IN) {
		add(&s->read_ops, 1);
		add(&s->read_bytes, written_len ? written_len - 1u : 0);
	} else if (type == VIRTIO_BLK_T_OUT) {
		add(&s->write_ops, 1);
		add(&s->write_bytes, req->out_size > 16 ? req->out_size - 16u : 0);
	} else {
		add(&s->other_ops, 1);
	}
	add(&s->lat[lat_bucket(now > start_ns ? now - start_ns : 0)], 1);
}

void blk_stats_sum(const struct blk *blk, struct blk_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned int q = 0; q < BLK_QUEUES_MAX; q++) {
		const struct blk_stats *s = &blk->queues[q].stats;

		sum->read_ops += __atomic_load_n(&s->read_ops, __ATOMIC_RELAXED);
		sum->write_ops += __atomic_load_n(&s->write_ops, __ATOMIC_RELAXED);
		sum->other_ops += __atomic_load_n(&s->other_ops, __ATOMIC_RELAXED);
		sum->errors += __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
		sum->read_bytes += __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED);
		sum->write_bytes += __atomic_load_n(&s->write_bytes, __ATOMIC_RELAXED);
		for (unsigned int b = 0; b < BLK_LAT_BUCKETS; b++)
			sum->lat[b] += __atomic_load_n(&s->lat[b], __ATOMIC_RELAXED);
	}
}

uint64_t blk_stats_percentile(const struct blk_stats *s, unsigned int permille)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned int b = 0; b < BLK_LAT_BUCKETS; b++)
		total += s->lat[b];
	if (!total)
		return 0;
	/* the smallest bucket edge with at least permille/1000 of the requests below */
	want = (total * permille + 999u) / 1000u;
	for (unsigned int b = 0; b < BLK_LAT_BUCKETS; b++) {
		seen += s->lat[b];
		if (seen >= want && seen)
			return lat_edge(b);
	}
	return lat_edge(BLK_LAT_BUCKETS - 1);
}
