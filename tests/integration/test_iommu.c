/* SPDX-License-Identifier: MIT */
/*
 * The device IOTLB end to end: lib/frontend plays the guest's IOMMU
 * (VIRTIO_F_ACCESS_PLATFORM) and drives lib/backend's echo device over a
 * real socket. Nothing is mapped at first: every ring area and buffer is
 * missed on, the back-end reports it on its channel, parks the queue, and
 * fetches the same chain again once the UPDATE came. Checked: the data,
 * misses answered late (nothing lost, no spinning meanwhile), a small
 * mapping window, invalidation storms while requests run, a miss never
 * answered (that queue alone breaks, after the timeout), and a buffer
 * mapped without the access its descriptor needs (ACCESS_FAIL).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vhost_types.h>

#include "../support/leakcheck.h"
#include "backend/backend.h"
#include "rig.h"
#include <vhu/frontend.h>

#define BATCH 32u
#define CHUNK 512u
#define QSIZE 64u

struct io_rig {
	struct echo_dev dev;
	struct vhu_backend *be;
	pthread_t thread;
	char dir[64], path[128];
	struct vhu_frontend *fe;
	pthread_mutex_t log_lock;
	char log[8192]; /* the back-end's warnings and errors */
	int fds, maps;
};

static void capture(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	struct io_rig *r = opaque;
	size_t n;

	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
	if (level > VHU_LOG_WARN || !r)
		return;
	pthread_mutex_lock(&r->log_lock);
	n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%s\n", text);
	pthread_mutex_unlock(&r->log_lock);
}

static bool log_has(struct io_rig *r, const char *text)
{
	bool has;

	pthread_mutex_lock(&r->log_lock);
	has = strstr(r->log, text) != NULL;
	pthread_mutex_unlock(&r->log_lock);
	return has;
}

static void *run_thread(void *arg)
{
	struct io_rig *r = arg;

	(void)vhu_backend_run(r->be);
	return NULL;
}

static int setup(void **state)
{
	struct io_rig *r = calloc(1, sizeof(*r));
	struct vhu_log blog = { .fn = capture, .level = VHU_LOG_DEBUG, .opaque = r };
	struct vhu_backend_config cfg = {
		.name = "echo",
		.num_queues = RIG_QUEUES,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.protocol_features = RIG_PROTOCOL,
		.ops = &echo_ops,
		.log = &blog,
	};

	assert_non_null(r);
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	pthread_mutex_init(&r->log_lock, NULL);
	pthread_mutex_init(&r->dev.lock, NULL);
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->dev.watch_fd[i] = -1;
		r->dev.req[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		assert_non_null(r->dev.req[i]);
	}
	cfg.dev = &r->dev;
	assert_int_equal(vhu_backend_create(&cfg, &r->be), 0);
	r->dev.be = r->be;
	snprintf(r->dir, sizeof(r->dir), "/tmp/vhu-iommu.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/sock", r->dir);
	assert_int_equal(vhu_backend_listen(r->be, r->path), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct io_rig *r = *state;

	vhu_frontend_destroy(r->fe);
	vhu_backend_stop(r->be);
	pthread_join(r->thread, NULL);
	vhu_backend_destroy(r->be);
	for (unsigned int i = 0; i < RIG_QUEUES; i++)
		free(r->dev.req[i]);
	pthread_mutex_destroy(&r->dev.lock);
	pthread_mutex_destroy(&r->log_lock);
	unlink(r->path);
	rmdir(r->dir);
	assert_int_equal(leak_count_fds(), r->fds);
	assert_int_equal(leak_count_memfd_maps("vhu-frontend"), r->maps);
	free(r);
	return 0;
}

static void connect_fe(struct io_rig *r, uint64_t features, uint16_t nq, uint32_t window)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = features | F_ACCESS_PLATFORM,
		.protocol_features = ~0ull,
		.num_queues = nq,
		.queue_size = QSIZE,
		.mem_size = 4u << 20,
		.iotlb_window = window,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_true(vhu_frontend_features(r->fe) & F_ACCESS_PLATFORM);
	assert_true(vhu_frontend_iommu(r->fe));
	assert_int_equal(vhu_frontend_start(r->fe), 0);
}

/* Collect @n completions of @q within @timeout_ms; each token is its index + 1. */
static unsigned int collect(struct vhu_frontend_queue *q, unsigned int n, uint32_t len, bool *seen,
			    int timeout_ms)
{
	unsigned int got = 0;

	while (got < n) {
		void *token;
		uint32_t l;
		int ret = vhu_frontend_queue_get(q, &token, &l);

		assert_true(ret >= 0);
		if (ret == 0) {
			if (vhu_frontend_queue_wait(q, timeout_ms) != 1)
				break;
			continue;
		}
		assert_int_equal(l, len);
		assert_false(seen[(uintptr_t)token - 1]);
		seen[(uintptr_t)token - 1] = true;
		got++;
	}
	return got;
}

struct batch {
	uint8_t *out, *in;
};

static struct batch batch_alloc(struct io_rig *r)
{
	return (struct batch){
		.out = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64),
		.in = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64),
	};
}

/* Submit BATCH echo requests of CHUNK bytes (in @nout pieces) in @b on @qi and kick. */
static struct batch submit_in(struct io_rig *r, unsigned int qi, unsigned int nout, uint8_t seed,
			      struct batch b)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, qi);

	assert_non_null(q);
	assert_non_null(b.out);
	assert_non_null(b.in);
	for (unsigned int i = 0; i < BATCH * CHUNK; i++)
		b.out[i] = (uint8_t)(seed + i * 7);
	for (unsigned int i = 0; i < BATCH; i++) {
		struct iovec o[4], iv = { b.in + i * CHUNK, CHUNK };

		for (unsigned int k = 0; k < nout; k++)
			o[k] = (struct iovec){ b.out + i * CHUNK + k * (CHUNK / nout),
					       CHUNK / nout };
		assert_int_equal(
			vhu_frontend_queue_add(q, o, nout, &iv, 1, (void *)(uintptr_t)(i + 1)), 0);
	}
	assert_true(vhu_frontend_queue_kick(q) >= 0);
	return b;
}

/* The same in fresh buffers (never mapped: every page misses). */
static struct batch submit(struct io_rig *r, unsigned int qi, unsigned int nout, uint8_t seed)
{
	return submit_in(r, qi, nout, seed, batch_alloc(r));
}

static void echo_batch(struct io_rig *r, unsigned int qi, unsigned int nout, uint8_t seed)
{
	struct batch b = submit(r, qi, nout, seed);
	bool seen[BATCH] = { false };
	unsigned int got = collect(vhu_frontend_queue(r->fe, qi), BATCH, CHUNK, seen,
				   getenv("VHU_UNDER_VALGRIND") ? 30000 : 5000);

	assert_int_equal(got, BATCH);
	assert_memory_equal(b.out, b.in, BATCH * CHUNK);
}

static struct vhu_frontend_iotlb_stats stats(struct io_rig *r)
{
	struct vhu_frontend_iotlb_stats s;

	vhu_frontend_iotlb_stats(r->fe, &s);
	return s;
}

/* Nothing mapped at first: every page is missed on once, then the data is right. */
static void split_misses(void **state)
{
	struct io_rig *r = *state;
	struct vhu_frontend_iotlb_stats s;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 1, 0);
	echo_batch(r, 0, 1, 1);
	s = stats(r);
	assert_true(s.misses >= 3); /* the ring areas at least, and the buffers */
	assert_int_equal(s.updates, s.misses - s.unanswered);
	assert_int_equal(s.unanswered, 0);
	echo_batch(r, 0, 1, 2); /* new buffers: new misses; warm ring */
	assert_int_equal(stats(r).access_fails, 0);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

static void split_indirect(void **state)
{
	struct io_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_INDIRECT, 1, 0);
	echo_batch(r, 0, 4, 3);
	echo_batch(r, 0, 2, 4);
}

static void packed_misses(void **state)
{
	struct io_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX | F_INDIRECT, 1, 0);
	for (uint8_t i = 0; i < 4; i++)
		echo_batch(r, 0, i % 2 ? 4 : 1, i);
}

/* A window of a few entries: the front-end invalidates the oldest at each miss. */
static void small_window(void **state)
{
	struct io_rig *r = *state;
	struct vhu_frontend_iotlb_stats s;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 1, 8);
	for (uint8_t i = 0; i < 4; i++)
		echo_batch(r, 0, 1, (uint8_t)(10 + i));
	s = stats(r);
	assert_true(s.invalidates > 0);
	assert_true(s.misses > 8);
}

struct storm {
	struct io_rig *r;
	bool stop;
	unsigned int n;
};

static void *storm_thread(void *arg)
{
	struct storm *st = arg;
	/*
	 * Everything is invalidated faster than a miss is answered only if
	 * the storm outruns the round trip: under valgrind (20-50x slower) the
	 * storm slows down alike, or no request could ever get through.
	 */
	long ns = getenv("VHU_UNDER_VALGRIND") ? 10000000 : 200000;

	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		/* everything, at any time, while requests are in flight */
		assert_int_equal(vhu_frontend_iotlb_invalidate(st->r->fe, 0, 0), 0);
		__atomic_fetch_add(&st->n, 1, __ATOMIC_RELEASE);
		nanosleep(&(struct timespec){ .tv_nsec = ns }, NULL);
	}
	return NULL;
}

/* Invalidation storm on one queue while both run: every request still echoes right. */
static void invalidation_storm(void **state)
{
	struct io_rig *r = *state;
	struct storm st = { .r = r };
	pthread_t t;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX | F_INDIRECT, 2, 0);
	assert_int_equal(pthread_create(&t, NULL, storm_thread, &st), 0);
	/* at least 8 rounds, and on until the storm ran a few times (a loaded
	 * machine may not schedule it during the first rounds) */
	for (unsigned int i = 0;
	     i < 8 || (__atomic_load_n(&st.n, __ATOMIC_ACQUIRE) <= 4 && i < 2000); i++) {
		echo_batch(r, 0, 1, (uint8_t)(20 + i));
		echo_batch(r, 1, 2, (uint8_t)(40 + i));
	}
	__atomic_store_n(&st.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_true(st.n > 4);
	assert_false(log_has(r, "broken"));
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/*
 * A miss answered late: the queue parks (no completion, no CPU burnt), the
 * other queue goes on, and once the page is mapped every request completes.
 */
static void late_answer(void **state)
{
	struct io_rig *r = *state;
	bool seen[BATCH] = { false };
	struct batch b;
	uint64_t cpu;
	struct batch warm, w;
	bool seen1[BATCH] = { false };

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 2, 0);
	echo_batch(r, 0, 1, 50); /* warm rings */
	echo_batch(r, 1, 1, 49);
	warm = batch_alloc(r);
	assert_int_equal(vhu_frontend_iotlb_map(r->fe, warm.out, BATCH * CHUNK, VHOST_ACCESS_RW),
			 0);
	assert_int_equal(vhu_frontend_iotlb_map(r->fe, warm.in, BATCH * CHUNK, VHOST_ACCESS_RW), 0);
	vhu_frontend_iotlb_answer(r->fe, false);
	b = submit(r, 0, 1, 51); /* fresh buffers: misses nobody answers */
	cpu = cpu_ns();
	assert_int_equal(collect(vhu_frontend_queue(r->fe, 0), BATCH, CHUNK, seen, 400), 0);
	/* parked, not spinning: well under the 400 ms a spinning worker would burn */
	assert_true(cpu_ns() - cpu < 100000000u);
	assert_true(stats(r).unanswered >= 1);
	/* queue 1 goes on meanwhile, in buffers that are mapped */
	w = submit_in(r, 1, 1, 52, warm);
	assert_int_equal(collect(vhu_frontend_queue(r->fe, 1), BATCH, CHUNK, seen1, 5000), BATCH);
	assert_memory_equal(w.out, w.in, BATCH * CHUNK);
	assert_int_equal(collect(vhu_frontend_queue(r->fe, 0), BATCH, CHUNK, seen, 100), 0);
	/* the late answer: queue 0 fetches the same chains again, every one completes */
	vhu_frontend_iotlb_answer(r->fe, true);
	assert_int_equal(collect(vhu_frontend_queue(r->fe, 0), BATCH, CHUNK, seen, 5000), BATCH);
	assert_memory_equal(b.out, b.in, BATCH * CHUNK);
	assert_false(log_has(r, "broken"));
}

/* A miss never answered breaks that queue alone, after the timeout. */
static void miss_timeout(void **state)
{
	struct io_rig *r = *state;
	bool seen[BATCH] = { false };
	struct timespec t0, t1;
	int64_t ms;

	r->be->iotlb_timeout_ms = 300; /* the control thread reads it only when a queue parks */
	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 2, 0);
	echo_batch(r, 0, 1, 60);
	echo_batch(r, 1, 1, 61);
	vhu_frontend_iotlb_answer(r->fe, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)submit(r, 0, 1, 62);
	for (int i = 0; i < 500 && !log_has(r, "not answered in 300 ms"); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(log_has(r, "queue 0 broken: IOTLB miss at iova"));
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 250);
	assert_int_equal(collect(vhu_frontend_queue(r->fe, 0), BATCH, CHUNK, seen, 100), 0);
	/* queue 1 goes on, with its warm entries */
	memset(seen, 0, sizeof(seen));
	vhu_frontend_iotlb_answer(r->fe, true);
	{
		struct batch b = submit(r, 1, 1, 63);

		assert_int_equal(collect(vhu_frontend_queue(r->fe, 1), BATCH, CHUNK, seen, 5000),
				 BATCH);
		assert_memory_equal(b.out, b.in, BATCH * CHUNK);
	}
	assert_false(log_has(r, "queue 1 broken"));
}

/* A writable buffer mapped read-only: ACCESS_FAIL, the request completes empty. */
static void access_fail(void **state)
{
	struct io_rig *r = *state;
	struct vhu_frontend_queue *q;
	uint8_t *out, *in;
	void *token;
	uint32_t len;

	connect_fe(r, F_VERSION_1, 1, 0);
	echo_batch(r, 0, 1, 70);
	q = vhu_frontend_queue(r->fe, 0);
	out = vhu_frontend_alloc(r->fe, 4096, 4096);
	in = vhu_frontend_alloc(r->fe, 4096, 4096);
	assert_non_null(out);
	assert_non_null(in);
	memset(in, 0xee, 4096);
	assert_int_equal(vhu_frontend_iotlb_map(r->fe, in, 4096, VHOST_ACCESS_RO), 0);
	assert_int_equal(vhu_frontend_queue_add(q, &(struct iovec){ out, 64 }, 1,
						&(struct iovec){ in, 64 }, 1, (void *)1),
			 0);
	assert_true(vhu_frontend_queue_kick(q) >= 0);
	while (vhu_frontend_queue_get(q, &token, &len) == 0)
		assert_int_equal(vhu_frontend_queue_wait(q, 5000), 1);
	assert_int_equal(len, 0);
	assert_int_equal(in[0], 0xee); /* never written */
	for (int i = 0; i < 500 && stats(r).access_fails == 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	assert_int_equal(stats(r).access_fails, 1);
	echo_batch(r, 0, 1, 71); /* the queue is fine */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(split_misses), T(split_indirect),	T(packed_misses), T(small_window),
		T(late_answer),	 T(invalidation_storm), T(miss_timeout),  T(access_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
