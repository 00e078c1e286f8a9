/* SPDX-License-Identifier: MIT */
/* vhu-bench blk --log-check: the dirty log against the pages the device wrote (blk.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "blk.h"

/* --log-check: the device wrote [p, p + len): the truth the log is checked against. */
void blk_written(struct blk_shared *s, const void *p, uint64_t len)
{
	uint64_t first = (uint64_t)((const uint8_t *)p - s->mem_base) / 4096;
	uint64_t last = (uint64_t)((const uint8_t *)p + len - 1 - s->mem_base) / 4096;

	for (uint64_t page = first; page <= last && page / 8 < s->written_bytes; page++)
		__atomic_fetch_or(&s->written[page / 8], (uint8_t)(1u << (page % 8)),
				  __ATOMIC_RELAXED);
}

/* --log-check / --migrate-to: the back-end logs from now on. */
int blk_log_setup(const struct bench_common *c, struct blk_shared *s, struct vhu_frontend *fe)
{
	int ret = vhu_frontend_log_start(fe);

	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: dirty logging: %s\n", c->socket_path,
			strerror(-ret));
		return ret;
	}
	s->mem_base = vhu_frontend_mem_base(fe);
	s->written_bytes = (vhu_frontend_mem_size(fe) / 4096 + 7) / 8;
	s->written = calloc(1, s->written_bytes);
	return s->written ? 0 : -ENOMEM;
}

static bool page_in(const uint8_t *map, uint64_t page)
{
	return map[page / 8] & (1u << (page % 8));
}

static void mark_area(uint8_t *map, size_t bytes, const uint8_t *base, const struct iovec *a)
{
	uint64_t first = (uint64_t)((const uint8_t *)a->iov_base - base) / 4096;
	uint64_t last = (uint64_t)((const uint8_t *)a->iov_base + a->iov_len - 1 - base) / 4096;

	for (uint64_t p = first; p <= last && p / 8 < bytes; p++)
		map[p / 8] |= (uint8_t)(1u << (p % 8));
}

/*
 * Every page the device wrote a buffer into must be marked (missed: must be
 * 0); pages marked that hold neither such a buffer nor ring memory the
 * device writes were marked needlessly.
 */
int blk_log_check(const struct bench_common *c, struct blk_shared *s, struct vhu_frontend *fe)
{
	uint8_t *marked = calloc(1, s->written_bytes), *ring = calloc(1, s->written_bytes);
	uint64_t missed = 0, needless = 0, truth = 0;
	long n = -ENOMEM;

	if (marked && ring)
		n = vhu_frontend_log_read(fe, marked, s->written_bytes);
	for (unsigned int i = 0; n >= 0 && i < c->queues; i++) {
		struct iovec a[3];

		vhu_frontend_queue_ring_mem(vhu_frontend_queue(fe, i), a);
		mark_area(ring, s->written_bytes, s->mem_base, &a[0]);
		mark_area(ring, s->written_bytes, s->mem_base, &a[2]);
	}
	for (uint64_t p = 0; n >= 0 && p < s->written_bytes * 8; p++) {
		truth += page_in(s->written, p);
		missed += page_in(s->written, p) && !page_in(marked, p);
		needless += page_in(marked, p) && !page_in(s->written, p) && !page_in(ring, p);
	}
	free(marked);
	free(ring);
	if (n < 0) {
		fprintf(stderr, "vhu-bench: reading the dirty log: %s\n", strerror((int)-n));
		return (int)n;
	}
	if (c->json)
		printf("{\"log_check\": {\"written_pages\": %" PRIu64 ", \"marked_pages\": %ld, "
		       "\"missed\": %" PRIu64 ", \"needless\": %" PRIu64 "}}\n",
		       truth, n, missed, needless);
	else
		printf("dirty log: %" PRIu64 " pages written into, %ld marked, %" PRIu64
		       " missed, %" PRIu64 " marked needlessly\n",
		       truth, n, missed, needless);
	if (missed)
		fprintf(stderr,
			"vhu-bench: the back-end wrote %" PRIu64
			" pages it did not mark in the dirty log\n",
			missed);
	return missed ? -EIO : 0;
}
