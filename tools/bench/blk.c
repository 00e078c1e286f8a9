/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench blk: virtio-blk requests (16-byte header, data, 1-byte status)
 * kept at --iodepth in flight per queue, one thread per queue. Each thread
 * batches: it refills every completed slot, then kicks once. How it waits
 * for completions (--wait):
 * - spin (the default): it polls the used ring for 20 us before sleeping on
 *   the call eventfd, because a cross-CPU wake-up costs tens of
 *   microseconds on these machines;
 * - event: it sleeps on the call eventfd as soon as the used ring is empty,
 *   as an interrupt-driven guest driver does;
 * - poll: it busy-polls the used ring and never sleeps, interrupts left
 *   off (event idx: used_event stays behind), as a polling guest driver
 *   (DPDK's virtio PMD, SPDK's virtio-blk) does. Once a millisecond without
 *   a completion it looks at the connection (a zero-timeout wait), so a
 *   back-end that died is still noticed.
 *
 * With --reconnect a back-end that dies is waited for: every worker that
 * sees -ECONNRESET parks, the last one to park calls
 * vhu_frontend_reconnect() (retrying while the back-end restarts) and all
 * go on with their requests still in flight; a back-end with an inflight
 * region completes them. Verify keeps checking every block it reads back.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blk.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

#define SPIN_NS 20000u		    /* poll the used ring this long before sleeping */
#define STALL_NS 10000000000ull	    /* no completion this long with requests out: fail */
#define RECONNECT_NS 10000000000ull /* --reconnect: how long a back-end may take to return */

#define POLL_CHECK_NS 1000000u /* --wait=poll: look at the connection this often when idle */

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
	struct blk_shared *shared;
	struct vhu_frontend_queue *q;
	struct blk_io *ios;
	uint64_t nblocks, next_block, rng;
	uint64_t deadline_ns;
	bool verify_read;	/* verify: second phase */
	uint64_t pass;		/* verify: passes done (each writes its own pattern) */
	uint8_t *expect;	/* verify: the pattern a block should hold */
	uint64_t progress_ns;	/* the last completion (or reconnect) */
	uint64_t poll_check_ns; /* --wait=poll: the last look at the connection */
	struct bench_hist hist;
	uint64_t ops, bytes, errors, mismatches; /* ops: also read by the progress loop */
	uint64_t verified;			 /* verify: blocks read back and compared */
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The verify pattern: every 8-byte word names its block, position and pass,
 * so a block that still holds an earlier pass's data reads back wrong.
 */
static void pattern(uint8_t *buf, uint64_t bs, uint64_t block, uint64_t pass)
{
	for (uint64_t i = 0; i < bs / 8; i++) {
		uint64_t v = (block * 0x9e3779b97f4a7c15ull) ^ (i * 0xbf58476d1ce4e5b9ull) ^
			     (pass * 0x94d049bb133111ebull);

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

/* @now: the caller's clock reading for this batch (one per batch, as fio's gtod_reduce). */
static int submit(struct blk_worker *w, struct blk_io *io, uint64_t now)
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
			pattern(io->data, w->opts->bs, io->block, w->pass);
		out[nout++] = (struct iovec){ io->data, w->opts->bs };
	} else {
		in[nin++] = (struct iovec){ io->data, w->opts->bs };
	}
	*io->status = 0xff;
	in[nin++] = (struct iovec){ io->status, 1 };
	io->start_ns = now;
	return vhu_frontend_queue_add(w->q, out, nout, in, nin, io) < 0 ? -EIO : 1;
}

static void complete(struct blk_worker *w, struct blk_io *io, uint64_t now)
{
	if (w->shared->written) {
		blk_written(w->shared, io->status, 1);
		if (!io->write && *io->status == VIRTIO_BLK_S_OK)
			blk_written(w->shared, io->data, w->opts->bs);
	}
	bench_hist_add(&w->hist, now - io->start_ns);
	count_one(&w->ops);
	w->bytes += w->opts->bs;
	if (*io->status != VIRTIO_BLK_S_OK) {
		w->errors++;
		return;
	}
	if (w->opts->rw == RW_VERIFY && w->verify_read) {
		pattern(w->expect, w->opts->bs, io->block, w->pass);
		if (memcmp(w->expect, io->data, w->opts->bs))
			w->mismatches++;
		w->verified++;
	}
}

/*
 * Drain completions and refill their slots; returns how many completed.
 * One clock reading serves the whole batch (completion and resubmission
 * times, progress): a reading per request cost as much as the request's
 * ring work (callgrind: ~50 instructions each, five per request).
 */
static int reap(struct blk_worker *w, bool refill, unsigned int *inflight, uint64_t now)
{
	void *token;
	uint32_t len;
	int n = 0, ret;

	refill = refill && now < w->deadline_ns;
	while ((ret = vhu_frontend_queue_get(w->q, &token, &len)) == 1) {
		complete(w, token, now);
		(*inflight)--;
		n++;
		if (refill) {
			ret = submit(w, token, now);
			if (ret < 0)
				return ret;
			*inflight += (unsigned int)ret;
		}
	}
	if (n)
		w->progress_ns = now;
	return ret < 0 ? ret : n;
}

/* Try to reconnect for up to RECONNECT_NS. Called with s->lock held. */
static int reconnect_locked(struct blk_shared *s)
{
	uint64_t deadline = bench_now_ns() + RECONNECT_NS;
	int ret;

	for (;;) {
		ret = vhu_frontend_reconnect(s->fe);
		if (ret == 0 || ret == -EPROTO || ret == -ENOTSUP || ret == -EINVAL ||
		    ret == -ENOMEM || bench_now_ns() >= deadline)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
	if (ret < 0)
		fprintf(stderr, "vhu-bench: %s: no usable back-end came back: %s\n", s->path,
			strerror(-ret));
	return ret;
}

/*
 * The back-end died: park until every running worker has seen it, then the
 * last one reconnects for all (no worker touches a queue meanwhile, as
 * vhu_frontend_reconnect() asks). Return: 0 to go on, or the error.
 */
static int recover(struct blk_worker *w)
{
	struct blk_shared *s = w->shared;
	unsigned int gen;
	int ret;

	if (!s->enabled)
		return -ECONNRESET;
	pthread_mutex_lock(&s->lock);
	gen = s->gen;
	s->parked++;
	while (s->gen == gen && !s->error && s->parked < s->active)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->gen == gen && !s->error) {
		ret = reconnect_locked(s);
		if (ret < 0) {
			s->error = ret;
		} else {
			s->gen++;
			s->reconnects++;
		}
		pthread_cond_broadcast(&s->cond);
	}
	s->parked--;
	ret = s->error;
	pthread_mutex_unlock(&s->lock);
	w->progress_ns = bench_now_ns();
	/* refills made after the last kick (reap stopped at the error) are not published yet */
	if (ret == 0)
		vhu_frontend_queue_kick(w->q);
	return ret;
}

/*
 * The used ring was empty at @now: whether to look again at once rather than
 * wait on the call eventfd (--wait). w->progress_ns is the last completion.
 */
static bool keep_polling(struct blk_worker *w, uint64_t now)
{
	switch (w->opts->wait) {
	case WAIT_EVENT:
		return false;
	case WAIT_POLL:
		/* idle for a while: one zero-timeout wait notices a dead back-end */
		if (now - w->poll_check_ns < POLL_CHECK_NS || now - w->progress_ns < POLL_CHECK_NS)
			return true;
		w->poll_check_ns = now;
		return false;
	default:
		return now - w->progress_ns < SPIN_NS;
	}
}

/*
 * --think-us: spin for a random 0..think_us before publishing the next
 * requests, so they reach the back-end at every point of its poll window,
 * right as it decides to sleep too (the race a lost wake-up would lose).
 */
static void think(struct blk_worker *w)
{
	uint64_t until;

	if (!w->opts->think_us)
		return;
	until = bench_now_ns() + xorshift(&w->rng) % (w->opts->think_us * 1000ull + 1);
	while (bench_now_ns() < until)
		;
}

/* One pass: keep iodepth in flight until the deadline (or the pass ends). */
static int run_pass(struct blk_worker *w)
{
	unsigned int inflight = 0;
	uint64_t now = bench_now_ns();
	int ret;

	for (unsigned int i = 0; i < w->opts->iodepth; i++) {
		ret = submit(w, &w->ios[i], now);
		if (ret < 0)
			return ret;
		inflight += (unsigned int)ret;
	}
	vhu_frontend_queue_kick(w->q);
	w->progress_ns = bench_now_ns();
	while (inflight) {
		now = bench_now_ns();
		ret = reap(w, true, &inflight, now);
		if (ret == -ECONNRESET)
			ret = recover(w); /* the requests stay in flight */
		if (ret < 0)
			return ret;
		if (ret > 0) {
			think(w);
			vhu_frontend_queue_kick(w->q);
			continue;
		}
		if (keep_polling(w, now))
			continue;
		ret = vhu_frontend_queue_wait(w->q, w->opts->wait == WAIT_POLL ? 0 : 1000);
		if (ret == -ECONNRESET)
			ret = recover(w);
		if (ret < 0)
			return ret;
		if (ret == 0 && bench_now_ns() - w->progress_ns > STALL_NS) {
			fprintf(stderr,
				"vhu-bench: queue %u: %u requests stuck for 10 s (pass %" PRIu64
				", %s)\n",
				w->index, inflight, w->pass,
				w->verify_read ? "reading" : "writing");
			return -ETIMEDOUT; /* ten seconds without a completion: requests stuck */
		}
	}
	return 0;
}

/* Verify: write the pass's pattern over the worker's blocks, then read it back. */
static int verify_pass(struct blk_worker *w)
{
	int ret;

	w->verify_read = false;
	w->next_block = 0;
	ret = run_pass(w);
	if (ret)
		return ret;
	w->verify_read = true;
	w->next_block = 0;
	return run_pass(w);
}

static int worker_loop(struct blk_worker *w)
{
	uint64_t until = w->deadline_ns;
	int ret;

	if (w->opts->rw != RW_VERIFY)
		return run_pass(w);
	/* a pass must end whole: its deadline is the last pass's start */
	w->deadline_ns = UINT64_MAX;
	do {
		ret = verify_pass(w);
		if (ret == 0)
			w->pass++;
	} while (ret == 0 && w->opts->time_given && bench_now_ns() < until);
	return ret;
}

static int worker_run(struct bench_thread *t)
{
	struct blk_worker *w = (struct blk_worker *)t; /* t is its first member */
	struct blk_shared *s = w->shared;
	int ret = worker_loop(w);

	/* one fewer to wait for: parked workers may now be the whole set */
	pthread_mutex_lock(&s->lock);
	s->active--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static unsigned int ring_size(const struct blk_opts *o)
{
	unsigned int n = 64, iodepth = o->iodepth;

	if (o->queue_size)
		return o->queue_size;
	while (n < 3 * iodepth && n < 256)
		n *= 2;
	return n;
}

static int connect_blk(const struct bench_common *c, const struct blk_opts *o,
		       struct vhu_frontend **fe)
{
	struct vhu_frontend_config cfg = {
		.socket_path = c->socket_path,
		.server = o->server,
		.fd = -1,
		.features = VHU_BIT(VIRTIO_F_VERSION_1) |
			    (o->no_event_idx ? 0 : VHU_BIT(VIRTIO_RING_F_EVENT_IDX)) |
			    VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_BLK_F_FLUSH) |
			    VHU_BIT(VIRTIO_BLK_F_BLK_SIZE) | VHU_BIT(VIRTIO_BLK_F_SEG_MAX) |
			    (c->queues > 1 ? VHU_BIT(VIRTIO_BLK_F_MQ) : 0) |
			    (c->packed ? VHU_BIT(VIRTIO_F_RING_PACKED) : 0),
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			/* the region a restarted back-end resubmits from */
			(o->reconnect ? VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD) : 0) |
			(o->log_check || o->log_dirty || o->migrate_to
				 ? VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD)
				 : 0) |
			(o->inband ? VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
					     VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS)
				   : 0),
		.inband_notifications = o->inband,
		.num_queues = (uint16_t)c->queues,
		.queue_size = (uint16_t)ring_size(o),
		.mem_size = (uint64_t)c->queues * o->iodepth * (o->bs + 4096) + (16u << 20),
	};
	int ret;

	bench_iommu_config(&o->iommu, &cfg);
	ret = vhu_frontend_connect(&cfg, fe);

	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c->socket_path, strerror(-ret));
		return ret;
	}
	ret = bench_iommu_check(&o->iommu, *fe, c->socket_path);
	if (ret < 0)
		return ret;
	if (o->inband &&
	    !(vhu_frontend_protocol_features(*fe) & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS))) {
		fprintf(stderr,
			"vhu-bench: %s: the back-end does not offer in-band notifications\n",
			c->socket_path);
		return -ENOTSUP;
	}
	if (o->inband)
		fprintf(stderr, "vhu-bench: in-band notifications: no kick or call eventfds\n");
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
		   double secs, uint64_t features, uint64_t reconnects)
{
	struct bench_hist all = { 0 };
	uint64_t ops = 0, bytes = 0, errors = 0, mism = 0, verified = 0, passes = UINT64_MAX;

	for (unsigned int i = 0; i < c->queues; i++) {
		bench_hist_merge(&all, &ws[i].hist);
		ops += ws[i].ops;
		bytes += ws[i].bytes;
		errors += ws[i].errors;
		mism += ws[i].mismatches;
		verified += ws[i].verified;
		if (ws[i].pass < passes)
			passes = ws[i].pass;
	}
	if (c->json) {
		printf("{\"mode\": \"blk\", \"rw\": \"%s\", \"bs\": %" PRIu64 ", \"iodepth\": %u, "
		       "\"queues\": %u, \"queue_size\": %u, \"wait\": \"%s\", \"packed\": %s, "
		       "\"features\": \"0x%" PRIx64 "\", "
		       "\"seconds\": %.3f, \"ops\": %" PRIu64 ", \"iops\": %.0f, \"mbps\": %.1f, "
		       "\"lat_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f}, "
		       "\"errors\": %" PRIu64 ", \"mismatches\": %" PRIu64
		       ", \"verified\": %" PRIu64 ", \"passes\": %" PRIu64
		       ", \"reconnects\": %" PRIu64 "}\n",
		       rw_names[o->rw], o->bs, o->iodepth, c->queues, ring_size(o),
		       wait_names[o->wait], c->packed ? "true" : "false", features, secs, ops,
		       ops / secs, bytes / secs / 1e6, bench_hist_pct(&all, 50) / 1e3,
		       bench_hist_pct(&all, 99) / 1e3, bench_hist_pct(&all, 99.9) / 1e3, errors,
		       mism, verified, o->rw == RW_VERIFY ? passes : 0, reconnects);
		return;
	}
	printf("blk %s bs=%" PRIu64 " iodepth=%u queues=%u queue-size=%u wait=%s%s: %" PRIu64
	       " ops in %.2f s\n",
	       rw_names[o->rw], o->bs, o->iodepth, c->queues, ring_size(o), wait_names[o->wait],
	       c->packed ? " packed" : "", ops, secs);
	printf("  %.0f IOPS, %.1f MB/s, latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n",
	       ops / secs, bytes / secs / 1e6, bench_hist_pct(&all, 50) / 1e3,
	       bench_hist_pct(&all, 99) / 1e3, bench_hist_pct(&all, 99.9) / 1e3);
	if (o->rw == RW_VERIFY)
		printf("  %" PRIu64 " blocks read back and checked, %" PRIu64 " passes\n", verified,
		       passes);
	if (o->reconnect)
		printf("  %" PRIu64 " reconnects to a restarted back-end\n", reconnects);
	if (errors || mism)
		printf("  %" PRIu64 " requests failed, %" PRIu64 " blocks read back wrong\n",
		       errors, mism);
}

static void workers_free(struct blk_worker *ws, unsigned int n)
{
	for (unsigned int i = 0; ws && i < n; i++) {
		free(ws[i].ios);
		free(ws[i].expect);
		ws[i].ios = NULL;
		ws[i].expect = NULL;
	}
}

/* Connect, size the disk, carve the buffers, start the rings. */
static int bring_up(struct bench_common *c, struct blk_opts *o, struct blk_worker *ws,
		    struct blk_shared *s, struct vhu_frontend **fe)
{
	int ret = connect_blk(c, o, fe);

	if (ret == 0)
		ret = disk_size(*fe, o, c->socket_path);
	for (unsigned int i = 0; ret == 0 && i < c->queues; i++) {
		ws[i] = (struct blk_worker){ .index = i, .opts = o, .common = c, .shared = s };
		ws[i].t = (struct bench_thread){ .run = worker_run, .count = &ws[i].ops };
		ret = setup_worker(*fe, &ws[i]);
		if (ret < 0)
			fprintf(stderr, "vhu-bench: out of shared memory for the buffers\n");
	}
	if (ret == 0) {
		ret = vhu_frontend_start(*fe);
		if (ret < 0)
			fprintf(stderr, "vhu-bench: %s: starting the rings: %s\n", c->socket_path,
				strerror(-ret));
	}
	return ret;
}

/* Errors that another try cannot mend (the back-end is there and says no). */
static bool hopeless(int err)
{
	return err == -EPROTO || err == -ENOTSUP || err == -EINVAL || err == -ENOMEM ||
	       err == -ENOSPC;
}

/* bring_up(), again and again with --reconnect while the back-end is restarting. */
static int bring_up_retry(struct bench_common *c, struct blk_opts *o, struct blk_worker *ws,
			  struct blk_shared *s, struct vhu_frontend **fe)
{
	uint64_t deadline = bench_now_ns() + RECONNECT_NS;
	int ret;

	for (;;) {
		ret = bring_up(c, o, ws, s, fe);
		if (ret == 0 || !o->reconnect || hopeless(ret) || bench_now_ns() >= deadline)
			return ret;
		workers_free(ws, c->queues);
		vhu_frontend_destroy(*fe);
		*fe = NULL;
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
	}
}

/* The workers for @secs seconds (verify: whole passes until then). */
static int run_phase(struct bench_common *c, const struct blk_opts *o, struct blk_worker *ws,
		     struct blk_shared *s, struct bench_thread **threads, unsigned int secs,
		     double *elapsed)
{
	struct bench_common pc = *c;
	int ret;

	pc.time_s = secs;
	s->active = c->queues;
	for (unsigned int i = 0; i < c->queues; i++) {
		threads[i] = &ws[i].t;
		ws[i].q = vhu_frontend_queue(s->fe, i);
		ws[i].deadline_ns = bench_now_ns() + secs * 1000000000ull;
		if (o->rw == RW_VERIFY && !o->time_given)
			ws[i].deadline_ns = UINT64_MAX;
	}
	ret = bench_run_threads(&pc, threads, c->queues, "ops", elapsed);
	if (ret < 0)
		fprintf(stderr, "vhu-bench: %s: %s\n", c->socket_path, strerror(-ret));
	return ret;
}

int bench_blk_main(const struct bench_common *common, int argc, char **argv)
{
	struct bench_common c = *common;
	struct blk_shared s = { .path = common->socket_path };
	struct vhu_frontend *fe = NULL;
	struct bench_thread *threads[64]; /* --queues is at most 64 */
	struct blk_worker *ws = NULL;
	struct blk_opts o;
	double secs = 0;
	int ret, status = 1;

	ret = blk_parse(argc, argv, &c, &o);
	if (ret != 0)
		return ret < 0 ? 2 : 0; /* bad options, or --help */
	ws = calloc(c.queues, sizeof(*ws));
	if (!ws)
		return 1;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	s.path = c.socket_path;
	s.enabled = o.reconnect;
	if (bring_up_retry(&c, &o, ws, &s, &fe) < 0)
		goto out;
	s.fe = fe;
	if ((o.log_check || o.migrate_to) && blk_log_setup(&c, &s, fe) < 0)
		goto out;
	if (o.log_dirty && !o.log_check && !o.migrate_to) {
		ret = vhu_frontend_log_start(fe);
		if (ret < 0) {
			fprintf(stderr, "vhu-bench: %s: dirty logging: %s\n", c.socket_path,
				strerror(-ret));
			goto out;
		}
	}
	if (bench_iommu_start(&o.iommu, fe) < 0)
		goto out;
	ret = run_phase(&c, &o, ws, &s, threads, o.migrate_to ? (c.time_s + 1) / 2 : c.time_s,
			&secs);
	bench_iommu_stop(&o.iommu);
	if (ret < 0)
		goto out;
	if (o.log_check && blk_log_check(&c, &s, fe) < 0)
		status = 2;
	if (o.migrate_to) {
		double secs2 = 0;

		ret = vhu_frontend_migrate(fe, o.migrate_to);
		if (ret < 0) {
			fprintf(stderr, "vhu-bench: handing over to %s: %s\n", o.migrate_to,
				strerror(-ret));
			goto out;
		}
		for (unsigned int i = 0; i < c.queues; i++)
			ws[i].q = vhu_frontend_queue(fe, i);
		ret = run_phase(&c, &o, ws, &s, threads, c.time_s / 2 ? c.time_s / 2 : 1, &secs2);
		if (ret < 0)
			goto out;
		secs += secs2;
		if (!c.json)
			printf("  handed over to %s half-way\n", o.migrate_to);
	}
	report(&c, &o, ws, secs, vhu_frontend_features(fe), s.reconnects);
	bench_iommu_report(&c, &o.iommu);
	if (o.idle_s) {
		/* a connected driver that sends nothing: what the back-end costs idle */
		fflush(stdout);
		fprintf(stderr, "vhu-bench: idle for %u s\n", o.idle_s);
		sleep(o.idle_s);
	}
	if (status != 2)
		status = 0;
	for (unsigned int i = 0; i < c.queues; i++)
		if (ws[i].errors || ws[i].mismatches)
			status = 1;
	vhu_frontend_stop(fe);
out:
	workers_free(ws, c.queues);
	free(ws);
	free(s.written);
	if (fe)
		vhu_frontend_destroy(fe);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return status;
}
