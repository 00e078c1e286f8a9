/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench blk: virtio-blk requests (16-byte header, data, 1-byte status)
 * kept at --iodepth in flight per queue, one thread per queue. Each thread
 * batches: it refills every completed slot, then kicks once; it polls the
 * used ring briefly before sleeping on the call eventfd, because a
 * cross-CPU wake-up costs tens of microseconds on these machines.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "bench.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

#define SECTOR 512u
#define SPIN_NS 20000u /* poll the used ring this long before sleeping */

enum rw { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_VERIFY };
static const char *const rw_names[] = { "randread", "randwrite", "read", "write", "verify" };

struct blk_opts {
	enum rw rw;
	uint64_t bs;
	unsigned int iodepth;
	uint64_t size; /* bytes of the disk used */
};

struct blk_io {
	struct virtio_blk_outhdr *hdr;
	uint8_t *data;
	uint8_t *status;
	uint64_t start_ns;
	uint64_t block;
	bool write;
};

struct blk_worker {
	struct bench_thread t; /* first: bench_run_threads() hands it back */
	unsigned int index;
	const struct blk_opts *opts;
	const struct bench_common *common;
	struct vhu_fe_queue *q;
	struct blk_io *ios;
	uint64_t nblocks, next_block, rng;
	uint64_t deadline_ns;
	bool verify_read; /* verify: second phase */
	uint8_t *expect;  /* verify: the pattern a block should hold */
	struct bench_hist hist;
	uint64_t ops, bytes, errors, mismatches; /* ops: also read by the progress loop */
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The verify pattern: every 8-byte word names its block and position. */
static void pattern(uint8_t *buf, uint64_t bs, uint64_t block)
{
	for (uint64_t i = 0; i < bs / 8; i++) {
		uint64_t v = (block * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull);

		memcpy(buf + i * 8, &v, 8);
	}
}

/* Which block the next request touches; false when a sequential pass is done. */
static bool next_block(struct blk_worker *w, uint64_t *block)
{
	unsigned int queues = w->common->queues;

	switch (w->opts->rw) {
	case RW_RANDREAD:
	case RW_RANDWRITE:
		*block = xorshift(&w->rng) % w->nblocks;
		return true;
	case RW_READ:
	case RW_WRITE:
		*block = (w->next_block * queues + w->index) % w->nblocks;
		w->next_block++;
		return true;
	default: /* verify: each worker owns blocks index, index + queues, ... once */
		*block = w->next_block * queues + w->index;
		if (*block >= w->nblocks)
			return false;
		w->next_block++;
		return true;
	}
}

static int submit(struct blk_worker *w, struct blk_io *io)
{
	enum rw rw = w->opts->rw;
	struct iovec out[2], in[2];
	unsigned int nout = 1, nin = 0;

	if (!next_block(w, &io->block))
		return 0;
	io->write = rw == RW_RANDWRITE || rw == RW_WRITE || (rw == RW_VERIFY && !w->verify_read);
	io->hdr->type = htole32(io->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	io->hdr->ioprio = 0;
	io->hdr->sector = htole64(io->block * (w->opts->bs / SECTOR));
	out[0] = (struct iovec){ io->hdr, sizeof(*io->hdr) };
	if (io->write) {
		if (rw == RW_VERIFY)
			pattern(io->data, w->opts->bs, io->block);
		out[nout++] = (struct iovec){ io->data, w->opts->bs };
	} else {
		in[nin++] = (struct iovec){ io->data, w->opts->bs };
	}
	*io->status = 0xff;
	in[nin++] = (struct iovec){ io->status, 1 };
	io->start_ns = bench_now_ns();
	return vhu_fe_queue_add(w->q, out, nout, in, nin, io) < 0 ? -EIO : 1;
}

static void complete(struct blk_worker *w, struct blk_io *io)
{
	uint64_t now = bench_now_ns();

	bench_hist_add(&w->hist, now - io->start_ns);
	__atomic_fetch_add(&w->ops, 1, __ATOMIC_RELAXED);
	w->bytes += w->opts->bs;
	if (*io->status != VIRTIO_BLK_S_OK) {
		w->errors++;
		return;
	}
	if (w->opts->rw == RW_VERIFY && w->verify_read) {
		pattern(w->expect, w->opts->bs, io->block);
		if (memcmp(w->expect, io->data, w->opts->bs))
			w->mismatches++;
	}
}

/* Drain completions and refill their slots; returns how many completed. */
static int reap(struct blk_worker *w, bool refill, unsigned int *inflight)
{
	void *token;
	uint32_t len;
	int n = 0, ret;

	while ((ret = vhu_fe_queue_get(w->q, &token, &len)) == 1) {
		complete(w, token);
		(*inflight)--;
		n++;
		if (refill && bench_now_ns() < w->deadline_ns) {
			ret = submit(w, token);
			if (ret < 0)
				return ret;
			*inflight += (unsigned int)ret;
		}
	}
	return ret < 0 ? ret : n;
}

/* One pass: keep iodepth in flight until the deadline (or the pass ends). */
static int run_pass(struct blk_worker *w)
{
	unsigned int inflight = 0;
	int ret;

	for (unsigned int i = 0; i < w->opts->iodepth; i++) {
		ret = submit(w, &w->ios[i]);
		if (ret < 0)
			return ret;
		inflight += (unsigned int)ret;
	}
	vhu_fe_queue_kick(w->q);
	while (inflight) {
		uint64_t spin_until = bench_now_ns() + SPIN_NS;
		bool refill = bench_now_ns() < w->deadline_ns;

		ret = reap(w, refill, &inflight);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			vhu_fe_queue_kick(w->q);
			continue;
		}
		if (bench_now_ns() < spin_until)
			continue;
		ret = vhu_fe_queue_wait(w->q, 1000);
		if (ret < 0)
			return ret;
		if (ret == 0 && bench_now_ns() > w->deadline_ns + 10000000000ull)
			return -ETIMEDOUT; /* ten seconds past the end with requests stuck */
	}
	return 0;
}

static int worker_run(struct bench_thread *t)
{
	struct blk_worker *w = (struct blk_worker *)t; /* t is its first member */
	int ret = run_pass(w);

	if (!ret && w->opts->rw == RW_VERIFY) {
		w->verify_read = true;
		w->next_block = 0;
		w->deadline_ns = UINT64_MAX;
		ret = run_pass(w);
	}
	return ret;
}

static int parse_blk(int argc, char **argv, struct bench_common *c, struct blk_opts *o)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "iodepth", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "time", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 'S' },
		{ "packed", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct blk_opts){ .rw = RW_RANDREAD, .bs = 4096, .iodepth = 32 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket_path = optarg;
			break;
		case 'r':
			o->rw = RW_VERIFY + 1;
			for (unsigned int i = 0; i <= RW_VERIFY; i++)
				if (!strcmp(optarg, rw_names[i]))
					o->rw = i;
			if (o->rw > RW_VERIFY)
				return fprintf(stderr, "vhu-bench: --rw=%s: unknown\n", optarg), -1;
			break;
		case 'b':
			if (bench_parse_size(optarg, &o->bs) || !o->bs || o->bs % SECTOR ||
			    o->bs > (1u << 20))
				return fprintf(stderr, "vhu-bench: --bs: multiple of 512, <= 1M\n"),
				       -1;
			break;
		case 'd':
			if (bench_parse_size(optarg, &v) || !v || v > 1024)
				return fprintf(stderr, "vhu-bench: --iodepth: 1..1024\n"), -1;
			o->iodepth = (unsigned int)v;
			break;
		case 'q':
			if (bench_parse_size(optarg, &v) || !v || v > 64)
				return fprintf(stderr, "vhu-bench: --queues: 1..64\n"), -1;
			c->queues = (unsigned int)v;
			break;
		case 't':
			if (bench_parse_size(optarg, &v) || !v || v > 86400)
				return fprintf(stderr, "vhu-bench: --time: seconds\n"), -1;
			c->time_s = (unsigned int)v;
			break;
		case 'S':
			if (bench_parse_size(optarg, &o->size) || o->size < o->bs)
				return fprintf(stderr, "vhu-bench: --size: bytes\n"), -1;
			break;
		case 'p':
			c->packed = true;
			break;
		case 'j':
			c->json = true;
			c->progress = false;
			break;
		default:
			return -1;
		}
	}
	if (!c->socket_path)
		return fprintf(stderr, "vhu-bench: --socket-path=PATH is required\n"), -1;
	return 0;
}

static unsigned int ring_size(unsigned int iodepth)
{
	unsigned int n = 64;

	while (n < 3 * iodepth && n < 256)
		n *= 2;
	return n;
}

static int connect_blk(const struct bench_common *c, const struct blk_opts *o,
		       struct vhu_frontend **fe)
{
	struct vhu_frontend_config cfg = {
		.socket_path = c->socket_path,
		.fd = -1,
		.features = VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_BLK_F_FLUSH) |
			    VHU_BIT(VIRTIO_BLK_F_BLK_SIZE) | VHU_BIT(VIRTIO_BLK_F_SEG_MAX) |
			    (c->queues > 1 ? VHU_BIT(VIRTIO_BLK_F_MQ) : 0) |
			    (c->packed ? VHU_BIT(VIRTIO_F_RING_PACKED) : 0),
		.protocol_features = VHU_BIT(VHU_PROTOCOL_F_MQ) |
				     VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
				     VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
				     VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
		.num_queues = (uint16_t)c->queues,
		.queue_size = (uint16_t)ring_size(o->iodepth),
		.mem_size = (uint64_t)c->queues * o->iodepth * (o->bs + 4096) + (16u << 20),
	};
	int ret = vhu_frontend_connect(&cfg, fe);

	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c->socket_path, strerror(-ret));
		return ret;
	}
	if (c->packed && !(vhu_frontend_features(*fe) & VHU_BIT(VIRTIO_F_RING_PACKED))) {
		fprintf(stderr, "vhu-bench: %s: the back-end does not offer packed rings\n",
			c->socket_path);
		return -ENOTSUP;
	}
	return 0;
}

/* Capacity from config space (or none without CONFIG): bytes the run may use. */
static int disk_size(struct vhu_frontend *fe, struct blk_opts *o, const char *path)
{
	uint64_t capacity;
	int ret = vhu_frontend_get_config(fe, 0, &capacity, sizeof(capacity));

	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: cannot read the capacity: %s\n", path,
			strerror(-ret));
		return ret;
	}
	capacity = le64toh(capacity) * SECTOR;
	if (!o->size)
		o->size = o->rw == RW_VERIFY ? 64ull << 20 : 1ull << 30;
	if (o->size > capacity)
		o->size = capacity;
	if (o->size < o->bs) {
		fprintf(stderr, "vhu-bench: %s: the disk is smaller than one block\n", path);
		return -ENOSPC;
	}
	return 0;
}

static int setup_worker(struct vhu_frontend *fe, struct blk_worker *w)
{
	w->ios = calloc(w->opts->iodepth, sizeof(*w->ios));
	w->expect = malloc(w->opts->bs);
	if (!w->ios || !w->expect)
		return -ENOMEM;
	for (unsigned int i = 0; i < w->opts->iodepth; i++) {
		struct blk_io *io = &w->ios[i];

		io->hdr = vhu_frontend_alloc(fe, sizeof(*io->hdr), 16);
		io->data = vhu_frontend_alloc(fe, w->opts->bs, 4096);
		io->status = vhu_frontend_alloc(fe, 1, 1);
		if (!io->hdr || !io->data || !io->status)
			return -ENOMEM;
		memset(io->data, 0x5a, w->opts->bs);
	}
	w->nblocks = w->opts->size / w->opts->bs;
	w->rng = 0x2545f4914f6cdd1dull * (w->index + 1);
	return 0;
}

static void report(const struct bench_common *c, const struct blk_opts *o, struct blk_worker *ws,
		   double secs, uint64_t features)
{
	struct bench_hist all = { 0 };
	uint64_t ops = 0, bytes = 0, errors = 0, mism = 0;

	for (unsigned int i = 0; i < c->queues; i++) {
		bench_hist_merge(&all, &ws[i].hist);
		ops += ws[i].ops;
		bytes += ws[i].bytes;
		errors += ws[i].errors;
		mism += ws[i].mismatches;
	}
	if (c->json) {
		printf("{\"mode\": \"blk\", \"rw\": \"%s\", \"bs\": %" PRIu64 ", \"iodepth\": %u, "
		       "\"queues\": %u, \"packed\": %s, \"features\": \"0x%" PRIx64 "\", "
		       "\"seconds\": %.3f, \"ops\": %" PRIu64 ", \"iops\": %.0f, \"mbps\": %.1f, "
		       "\"lat_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f}, "
		       "\"errors\": %" PRIu64 ", \"mismatches\": %" PRIu64 "}\n",
		       rw_names[o->rw], o->bs, o->iodepth, c->queues, c->packed ? "true" : "false",
		       features, secs, ops, ops / secs, bytes / secs / 1e6,
		       bench_hist_pct(&all, 50) / 1e3, bench_hist_pct(&all, 99) / 1e3,
		       bench_hist_pct(&all, 99.9) / 1e3, errors, mism);
		return;
	}
	printf("blk %s bs=%" PRIu64 " iodepth=%u queues=%u%s: %" PRIu64 " ops in %.2f s\n",
	       rw_names[o->rw], o->bs, o->iodepth, c->queues, c->packed ? " packed" : "", ops,
	       secs);
	printf("  %.0f IOPS, %.1f MB/s, latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n",
	       ops / secs, bytes / secs / 1e6, bench_hist_pct(&all, 50) / 1e3,
	       bench_hist_pct(&all, 99) / 1e3, bench_hist_pct(&all, 99.9) / 1e3);
	if (errors || mism)
		printf("  %" PRIu64 " requests failed, %" PRIu64 " blocks read back wrong\n",
		       errors, mism);
}

int bench_blk_main(const struct bench_common *common, int argc, char **argv)
{
	struct bench_common c = *common;
	struct vhu_frontend *fe = NULL;
	struct bench_thread *threads[64]; /* --queues is at most 64 */
	struct blk_worker *ws = NULL;
	struct blk_opts o;
	double secs = 0;
	int ret, status = 1;

	if (parse_blk(argc, argv, &c, &o) < 0)
		return 2;
	if (connect_blk(&c, &o, &fe) < 0 || disk_size(fe, &o, c.socket_path) < 0)
		goto out;
	ws = calloc(c.queues, sizeof(*ws));
	if (!ws)
		goto out;
	for (unsigned int i = 0; i < c.queues; i++) {
		ws[i] = (struct blk_worker){ .index = i, .opts = &o, .common = &c };
		ws[i].t = (struct bench_thread){ .run = worker_run, .count = &ws[i].ops };
		threads[i] = &ws[i].t;
		if (setup_worker(fe, &ws[i]) < 0) {
			fprintf(stderr, "vhu-bench: out of shared memory for the buffers\n");
			goto out;
		}
	}
	ret = vhu_frontend_start(fe);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: starting the rings: %s\n", c.socket_path,
			strerror(-ret));
		goto out;
	}
	for (unsigned int i = 0; i < c.queues; i++) {
		ws[i].q = vhu_frontend_queue(fe, i);
		ws[i].deadline_ns =
			o.rw == RW_VERIFY ? UINT64_MAX : bench_now_ns() + c.time_s * 1000000000ull;
	}
	ret = bench_run_threads(&c, threads, c.queues, "ops", &secs);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c.socket_path, strerror(-ret));
		goto out;
	}
	report(&c, &o, ws, secs, vhu_frontend_features(fe));
	status = 0;
	for (unsigned int i = 0; i < c.queues; i++)
		if (ws[i].errors || ws[i].mismatches)
			status = 1;
	vhu_frontend_stop(fe);
out:
	for (unsigned int i = 0; ws && i < c.queues; i++) {
		free(ws[i].ios);
		free(ws[i].expect);
	}
	free(ws);
	if (fe)
		vhu_frontend_destroy(fe);
	return status;
}
