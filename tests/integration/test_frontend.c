/* SPDX-License-Identifier: MIT */
/*
 * lib/frontend end to end: vhu_frontend drives lib/backend's echo device
 * (echo.c) over a real unix socket in a temporary directory; the back-end
 * runs vhu_backend_run on a thread. Split and packed, direct and indirect,
 * batches, two rings, config space, the back-end channel, a back-end that
 * goes away, and no fd or mapping left behind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "frontend/internal.h"
#include "rig.h"
#include <vhu/frontend.h>

#define BATCH 64u
#define CHUNK 256u

struct fe_rig {
	struct echo_dev dev;
	struct vhu_backend *be;
	pthread_t thread;
	bool running;
	char dir[64], path[128];
	struct vhu_frontend *fe;
	unsigned int config_changes; /* atomic: the callback's count */
	int fds, maps;		     /* before the test */
	uint64_t protocol;	     /* the back-end's protocol features (0: RIG_PROTOCOL) */
	struct fe_rig *dst;	     /* a second back-end (migration tests) */
	const struct vhu_log *log;   /* the back-end's (NULL: quiet_log) */
	uint32_t flags;		     /* the back-end's VHU_BACKEND_F_* */
};

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_DEBUG };

/* Which reset requests the back-end received (from its trace of each request). */
static unsigned int seen_reset_device, seen_reset_owner;

static void watch(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	if (strstr(text, "<- VHOST_USER_RESET_DEVICE "))
		__atomic_fetch_add(&seen_reset_device, 1, __ATOMIC_RELAXED);
	if (strstr(text, "<- VHOST_USER_RESET_OWNER "))
		__atomic_fetch_add(&seen_reset_owner, 1, __ATOMIC_RELAXED);
	if (level <= VHU_LOG_DEBUG)
		quiet(opaque, level, prefix, text);
}

static const struct vhu_log watch_log = { .fn = watch, .level = VHU_LOG_TRACE };

static void *run_thread(void *arg)
{
	struct fe_rig *r = arg;

	(void)vhu_backend_run(r->be);
	return NULL;
}

static void backend_start(struct fe_rig *r)
{
	struct vhu_backend_config cfg = {
		.name = "echo",
		.num_queues = RIG_QUEUES,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.protocol_features = r->protocol ? r->protocol : RIG_PROTOCOL,
		.ops = &echo_ops,
		.dev = &r->dev,
		.log = r->log ? r->log : &quiet_log,
		.flags = r->flags,
	};

	pthread_mutex_init(&r->dev.lock, NULL);
	for (unsigned int i = 0; i < VHU_MAX_CONFIG_SIZE; i++)
		r->dev.config[i] = (uint8_t)i;
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->dev.watch_fd[i] = -1;
		r->dev.req[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		assert_non_null(r->dev.req[i]);
	}
	assert_int_equal(vhu_backend_create(&cfg, &r->be), 0);
	r->dev.be = r->be;
	snprintf(r->dir, sizeof(r->dir), "/tmp/vhu-fe.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/sock", r->dir);
	assert_int_equal(vhu_backend_listen(r->be, r->path), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
	r->running = true;
}

/* The back-end goes away: its thread stops and its socket closes. */
static void backend_kill(struct fe_rig *r)
{
	if (r->running) {
		vhu_backend_stop(r->be);
		pthread_join(r->thread, NULL);
		r->running = false;
	}
	vhu_backend_destroy(r->be);
	r->be = NULL;
}

static int setup(void **state)
{
	struct fe_rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	backend_start(r);
	*state = r;
	return 0;
}

static void backend_free(struct fe_rig *r)
{
	backend_kill(r);
	for (unsigned int i = 0; i < RIG_QUEUES; i++)
		free(r->dev.req[i]);
	pthread_mutex_destroy(&r->dev.lock);
	unlink(r->path);
	rmdir(r->dir);
}

static int teardown(void **state)
{
	struct fe_rig *r = *state;

	vhu_frontend_destroy(r->fe);
	if (r->dst) {
		backend_free(r->dst);
		free(r->dst);
	}
	backend_kill(r);
	for (unsigned int i = 0; i < RIG_QUEUES; i++)
		free(r->dev.req[i]);
	pthread_mutex_destroy(&r->dev.lock);
	unlink(r->path);
	rmdir(r->dir);
	assert_int_equal(leak_count_fds(), r->fds);
	assert_int_equal(leak_count_memfd_maps("vhu-frontend"), r->maps);
	free(r);
	return 0;
}

static void config_changed(void *opaque)
{
	struct fe_rig *r = opaque;

	__atomic_fetch_add(&r->config_changes, 1, __ATOMIC_ACQ_REL);
}

static void connect_fe(struct fe_rig *r, uint64_t features, uint16_t nq)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = features,
		.protocol_features = ~0ull,
		.num_queues = nq,
		.queue_size = 128,
		.mem_size = 4u << 20,
		.log = &quiet_log,
		.config_changed = config_changed,
		.opaque = r,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_int_equal(vhu_frontend_features(r->fe), features & ECHO_FEATURES);
	assert_true(vhu_frontend_protocol_features(r->fe) & PF(REPLY_ACK));
	assert_int_equal(vhu_frontend_start(r->fe), 0);
}

/* Collect @n completions of queue @qi; each token is its index + 1. */
static void collect(struct fe_rig *r, struct vhu_frontend_queue *q, unsigned int n, uint32_t len,
		    bool *seen)
{
	(void)r;
	for (unsigned int got = 0; got < n;) {
		void *token;
		uint32_t l;
		int ret = vhu_frontend_queue_get(q, &token, &l);

		assert_true(ret >= 0);
		if (ret == 0) {
			assert_int_equal(vhu_frontend_queue_wait(q, 5000), 1);
			continue;
		}
		assert_int_equal(l, len);
		assert_false(seen[(uintptr_t)token - 1]);
		seen[(uintptr_t)token - 1] = true;
		got++;
	}
}

/*
 * BATCH echo requests on queue @qi, one kick: each sends CHUNK bytes in
 * @nout pieces and gets them back in one buffer.
 */
static void echo_batch(struct fe_rig *r, unsigned int qi, unsigned int nout, uint8_t seed)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, qi);
	uint8_t *out = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	uint8_t *in = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	bool seen[BATCH] = { false };

	assert_non_null(q);
	assert_non_null(out);
	assert_non_null(in);
	for (unsigned int i = 0; i < BATCH * CHUNK; i++)
		out[i] = (uint8_t)(seed + i * 7);
	for (unsigned int i = 0; i < BATCH; i++) {
		struct iovec o[4], iv = { in + i * CHUNK, CHUNK };

		for (unsigned int k = 0; k < nout; k++)
			o[k] = (struct iovec){ out + i * CHUNK + k * (CHUNK / nout), CHUNK / nout };
		assert_int_equal(
			vhu_frontend_queue_add(q, o, nout, &iv, 1, (void *)(uintptr_t)(i + 1)), 0);
	}
	assert_true(vhu_frontend_queue_kick(q) >= 0);
	collect(r, q, BATCH, CHUNK, seen);
	assert_memory_equal(out, in, BATCH * CHUNK);
	assert_int_equal(vhu_frontend_queue_num_free(q), 128);
}

static void split_direct(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 1);
	echo_batch(r, 0, 1, 1);
	echo_batch(r, 0, 1, 2); /* again: descriptors came back to the free list */
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

static void split_indirect(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_INDIRECT, 1);
	echo_batch(r, 0, 2, 3);
	echo_batch(r, 0, 4, 4);
}

static void packed_direct(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX, 1);
	for (uint8_t i = 0; i < 4; i++) /* laps of the ring: wrap counters flip */
		echo_batch(r, 0, 1, i);
}

static void packed_indirect(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_RING_PACKED | F_INDIRECT, 1);
	for (uint8_t i = 0; i < 3; i++)
		echo_batch(r, 0, 4, i);
}

static void multiqueue(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 2);
	echo_batch(r, 0, 1, 5);
	echo_batch(r, 1, 1, 6);
	assert_null(vhu_frontend_queue(r->fe, 2));
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

static void too_many_queues(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = F_VERSION_1,
		.protocol_features = ~0ull,
		.num_queues = RIG_QUEUES + 1,
		.log = &quiet_log,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), -ENOTSUP);
	r->fe = NULL;
}

static void config_read_write_change(void **state)
{
	struct fe_rig *r = *state;
	uint8_t buf[16], val[4] = { 9, 8, 7, 6 };

	connect_fe(r, F_VERSION_1, 1);
	assert_int_equal(vhu_frontend_get_config(r->fe, 4, buf, sizeof(buf)), 0);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 4 + i);
	__atomic_store_n(&r->dev.config_change_on_set, true, __ATOMIC_RELEASE);
	assert_int_equal(vhu_frontend_set_config(r->fe, 0, val, sizeof(val)), 0);
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, buf, 4), 0);
	assert_memory_equal(buf, val, 4);
	/* the back-end sends CONFIG_CHANGE_MSG on the channel; our thread serves it */
	assert_true(echo_wait_count(&r->config_changes, 1, 5000));
	assert_int_equal(__atomic_load_n(&r->dev.config_change_ret, __ATOMIC_ACQUIRE), 0);
}

static void backend_killed(void **state)
{
	struct fe_rig *r = *state;
	uint8_t buf[4];

	connect_fe(r, F_VERSION_1, 1);
	assert_true(vhu_frontend_alive(r->fe));
	backend_kill(r);
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, buf, sizeof(buf)), -ECONNRESET);
	assert_false(vhu_frontend_alive(r->fe));
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(vhu_frontend_queue_wait(vhu_frontend_queue(r->fe, 0), 1000), -ECONNRESET);
}

static void no_backend(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_config cfg = {
		.socket_path = "/tmp/vhu-fe-nobody-here/sock",
		.fd = -1,
		.timeout_ms = 100,
		.log = &quiet_log,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), -ENOENT);
	r->fe = NULL;
}

static void add_errors(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_queue *q;
	uint8_t stack[8];
	struct iovec bad = { stack, sizeof(stack) };

	connect_fe(r, F_VERSION_1, 1);
	q = vhu_frontend_queue(r->fe, 0);
	assert_int_equal(vhu_frontend_queue_add(q, &bad, 1, NULL, 0, NULL), -EFAULT);
	assert_int_equal(vhu_frontend_queue_add(q, NULL, 0, NULL, 0, NULL), -EINVAL);
	assert_int_equal(vhu_frontend_queue_kick(q), 0); /* nothing added */
}

/* ---- live migration ---------------------------------------------------------- */

#define MIG_PROTOCOL (RIG_PROTOCOL | PF(LOG_SHMFD) | PF(DEVICE_STATE))

/* Two back-ends that log and move their state: the source and a destination. */
static int setup_migration(void **state)
{
	struct fe_rig *r = calloc(1, sizeof(*r)), *d = calloc(1, sizeof(*d));

	assert_non_null(r);
	assert_non_null(d);
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	r->protocol = d->protocol = MIG_PROTOCOL;
	backend_start(r);
	backend_start(d);
	r->dst = d;
	*state = r;
	return 0;
}

static bool page_set(const uint8_t *map, const struct fe_rig *r, const void *p)
{
	uint64_t page =
		(uint64_t)((const uint8_t *)p - (uint8_t *)vhu_frontend_mem_base(r->fe)) / 4096;

	return map[page / 8] & (1u << (page % 8));
}

/*
 * The log marks what the device wrote, the device moves to the second
 * back-end with its state, and goes on there.
 */
static void migration(struct fe_rig *r, uint64_t features)
{
	size_t bytes;
	uint8_t *map;
	uint8_t *probe;
	unsigned int done;

	connect_fe(r, features, 1);
	bytes = (vhu_frontend_mem_size(r->fe) / 4096 + 7) / 8;
	map = calloc(1, bytes);
	assert_non_null(map);
	assert_int_equal(vhu_frontend_log_read(r->fe, map, bytes), -EINVAL); /* no log yet */
	assert_int_equal(vhu_frontend_log_start(r->fe), 0);
	assert_int_equal(vhu_frontend_log_start(r->fe), -EALREADY);
	/* one echo into a fresh page: that page must be marked */
	probe = vhu_frontend_alloc(r->fe, 4096, 4096);
	assert_non_null(probe);
	{
		struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, 0);
		uint8_t *out = vhu_frontend_alloc(r->fe, 64, 64);
		struct iovec o = { out, 64 }, i = { probe, 64 };
		bool seen[1] = { false };

		memset(out, 0x5a, 64);
		assert_int_equal(vhu_frontend_queue_add(q, &o, 1, &i, 1, (void *)1), 0);
		assert_true(vhu_frontend_queue_kick(q) >= 0);
		collect(r, q, 1, 64, seen);
		assert_true(vhu_frontend_log_read(r->fe, map, bytes) > 0);
		assert_true(page_set(map, r, probe));
		assert_false(page_set(map, r, out + 4096 * 16)); /* nothing written there */
	}
	/* a read takes the marks: the next one starts empty */
	memset(map, 0, bytes);
	assert_int_equal(vhu_frontend_log_read(r->fe, map, bytes), 0);
	echo_batch(r, 0, 2, 3);
	done = echo_count(&r->dev.completed);
	assert_int_equal(vhu_frontend_log_stop(r->fe), 0);
	assert_int_equal(vhu_frontend_log_read(r->fe, map, bytes), -EINVAL);
	assert_int_equal(vhu_frontend_log_start(r->fe), 0); /* on again for the switch-over */
	/* the switch-over: the state (the echo's count) moves with the rings */
	assert_int_equal(vhu_frontend_migrate(r->fe, r->dst->path), 0);
	assert_int_equal(r->dst->dev.loaded_size, 8);
	assert_int_equal(r->dst->dev.loaded_completed, done);
	echo_batch(r, 0, 1, 4);
	assert_true(echo_count(&r->dst->dev.completed) >= BATCH);
	assert_true(vhu_frontend_alive(r->fe));
	free(map);
}

static void migration_split(void **state)
{
	migration(*state, ECHO_FEATURES & ~F_RING_PACKED);
}

static void migration_packed(void **state)
{
	migration(*state, ECHO_FEATURES);
}

/* Without LOG_SHMFD there is no log to start; a migration needs a started front-end and a path. */
static void migration_refused(void **state)
{
	struct fe_rig *r = *state;

	connect_fe(r, ECHO_FEATURES & ~F_RING_PACKED, 1);
	assert_int_equal(vhu_frontend_log_start(r->fe), -ENOTSUP);
	assert_int_equal(vhu_frontend_migrate(r->fe, NULL), -EINVAL);
	/* to a path where nobody listens: the front-end is dead after, as documented */
	assert_true(vhu_frontend_migrate(r->fe, "/nonexistent/vhu.sock") < 0);
	assert_false(vhu_frontend_alive(r->fe));
}

/* The bare connection: exactly the requests asked, each reply checked. */
static void bare_conn(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_conn *c;
	uint64_t features, protocol, n;
	uint8_t buf[16];

	assert_int_equal(vhu_frontend_conn_open("/tmp/vhu-fe-nobody-here/sock", 100, &c), -ENOENT);
	assert_int_equal(vhu_frontend_conn_open(r->path, 2000, &c), 0);
	assert_int_equal(vhu_frontend_conn_get_u64(c, VHU_REQ_GET_FEATURES, &features), 0);
	assert_true(features & VHU_BIT(VHU_F_PROTOCOL_FEATURES));
	assert_null(vhu_frontend_conn_error(c));
	/* SET_FEATURES answers nothing: refused before it is sent */
	assert_int_equal(vhu_frontend_conn_get_u64(c, VHU_REQ_SET_FEATURES, &n), -EINVAL);
	assert_non_null(vhu_frontend_conn_error(c));
	assert_int_equal(vhu_frontend_conn_get_u64(c, VHU_REQ_GET_PROTOCOL_FEATURES, &protocol), 0);
	assert_true(protocol & VHU_BIT(VHU_PROTOCOL_F_CONFIG));
	assert_true(protocol & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK));
	protocol &= VHU_BIT(VHU_PROTOCOL_F_CONFIG) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
		    VHU_BIT(VHU_PROTOCOL_F_MQ);
	assert_int_equal(vhu_frontend_conn_set_u64(c, VHU_REQ_SET_PROTOCOL_FEATURES, protocol), 0);
	assert_int_equal(vhu_frontend_conn_get_u64(c, VHU_REQ_GET_QUEUE_NUM, &n), 0);
	assert_int_equal(n, RIG_QUEUES);
	assert_int_equal(vhu_frontend_conn_get_config(c, 4, sizeof(buf), buf), 0);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 4 + i);
	assert_int_equal(vhu_frontend_conn_get_config(c, 0, VHU_MAX_CONFIG_SIZE + 1, buf), -EINVAL);
	/* acked now (REPLY_ACK): a SET_FEATURES the back-end takes answers 0 */
	assert_int_equal(vhu_frontend_conn_set_u64(c, VHU_REQ_SET_FEATURES, F_VERSION_1), 0);
	backend_kill(r);
	assert_true(vhu_frontend_conn_get_u64(c, VHU_REQ_GET_FEATURES, &features) < 0);
	vhu_frontend_conn_close(c);
	vhu_frontend_conn_close(NULL);
}

/*
 * A device reset (a guest's virtio reset): RESET_DEVICE, or RESET_OWNER
 * from a back-end without it, once while started (stopped first) and once
 * while stopped; each time the device starts again from fresh rings.
 */
static void reset_then_start(struct fe_rig *r, uint64_t protocol, unsigned int *seen)
{
	unsigned int resets;

	backend_free(r); /* the setup's: a new one with @protocol */
	r->protocol = protocol;
	r->log = &watch_log;
	backend_start(r);
	__atomic_store_n(seen, 0, __ATOMIC_RELAXED);
	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 2);
	echo_batch(r, 0, 1, 1);
	resets = __atomic_load_n(&r->dev.resets, __ATOMIC_ACQUIRE);
	assert_int_equal(vhu_frontend_reset(r->fe), 0);
	assert_int_equal(__atomic_load_n(seen, __ATOMIC_RELAXED), 1);
	assert_int_equal(vhu_frontend_start(r->fe), 0);
	echo_batch(r, 0, 1, 2);
	echo_batch(r, 1, 1, 3);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
	assert_int_equal(vhu_frontend_reset(r->fe), 0);
	assert_int_equal(__atomic_load_n(seen, __ATOMIC_RELAXED), 2);
	/* RESET_DEVICE resets the device (ops->reset); RESET_OWNER only stops the rings */
	assert_int_equal(__atomic_load_n(&r->dev.resets, __ATOMIC_ACQUIRE) - resets,
			 seen == &seen_reset_device ? 2 : 0);
	assert_int_equal(vhu_frontend_start(r->fe), 0);
	echo_batch(r, 0, 1, 4);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
	/* no back-end: nothing to reset */
	backend_kill(r);
	assert_int_equal(vhu_frontend_reset(r->fe), -ECONNRESET);
}

static void reset_device(void **state)
{
	reset_then_start(*state, RIG_PROTOCOL, &seen_reset_device);
}

static void reset_owner(void **state)
{
	reset_then_start(*state, RIG_PROTOCOL & ~PF(RESET_DEVICE), &seen_reset_owner);
}

/*
 * Dynamic multiqueue: a disabled ring keeps the chains made available on
 * it while the other runs on; enabled again, it completes every one.
 */
static void ring_enable_at_run_time(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_queue *q;
	uint8_t *out, *in;
	bool seen[BATCH] = { false };
	void *token;
	uint32_t len;

	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 2);
	echo_batch(r, 1, 1, 1);
	q = vhu_frontend_queue(r->fe, 1);
	out = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	in = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	assert_non_null(out);
	assert_non_null(in);
	assert_int_equal(vhu_frontend_queue_enable(q, false), 0);
	for (unsigned int i = 0; i < BATCH; i++) {
		struct iovec o = { out + i * CHUNK, CHUNK }, iv = { in + i * CHUNK, CHUNK };

		memset(o.iov_base, (int)i, CHUNK);
		assert_int_equal(
			vhu_frontend_queue_add(q, &o, 1, &iv, 1, (void *)(uintptr_t)(i + 1)), 0);
	}
	assert_true(vhu_frontend_queue_kick(q) >= 0);
	echo_batch(r, 0, 1, 2); /* the other ring goes on meanwhile */
	/* (a wait could wake on the call of the earlier batch: look at the ring) */
	usleep(300000);
	assert_int_equal(vhu_frontend_queue_get(q, &token, &len), 0);
	assert_int_equal(vhu_frontend_queue_enable(q, true), 0);
	collect(r, q, BATCH, CHUNK, seen);
	assert_memory_equal(out, in, BATCH * CHUNK);
	echo_batch(r, 1, 1, 3);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

/*
 * SET_VRING_ERR: a driver that scribbles an avail index 1000 ahead (more
 * than the ring holds) breaks the ring; the back-end signals the ring's
 * error eventfd and the front-end reports it, for that ring only.
 */
static void ring_error_reported(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_queue *q;
	volatile uint16_t *avail_idx;
	uint64_t one = 1;
	int i;

	connect_fe(r, F_VERSION_1, 2);
	echo_batch(r, 0, 1, 1);
	q = vhu_frontend_queue(r->fe, 0);
	assert_false(vhu_frontend_queue_broken(q));
	avail_idx = (volatile uint16_t *)q->mem.avail + 1; /* split: flags, idx */
	*avail_idx = (uint16_t)(*avail_idx + 1000);
	assert_int_equal(write(q->kick_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	for (i = 0; i < 200 && !vhu_frontend_queue_broken(q); i++)
		usleep(10000);
	assert_true(vhu_frontend_queue_broken(q));
	assert_false(vhu_frontend_queue_broken(vhu_frontend_queue(r->fe, 1)));
	echo_batch(r, 1, 1, 2); /* the other ring is unharmed */
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
	/* a fresh start is a fresh ring */
	assert_int_equal(vhu_frontend_start(r->fe), 0);
	assert_false(vhu_frontend_queue_broken(vhu_frontend_queue(r->fe, 0)));
	echo_batch(r, 0, 1, 3);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

/* ---- in-band notifications (issue 20) ---- */

static int setup_inband(void **state)
{
	struct fe_rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	r->protocol = RIG_PROTOCOL | PF(INBAND_NOTIFICATIONS);
	backend_start(r);
	*state = r;
	return 0;
}

static void connect_inband(struct fe_rig *r, uint64_t features)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = features,
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = 128,
		.mem_size = 4u << 20,
		.log = &quiet_log,
		.inband_notifications = true,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_true(vhu_frontend_protocol_features(r->fe) & PF(INBAND_NOTIFICATIONS));
	assert_int_equal(vhu_frontend_start(r->fe), 0);
}

/*
 * No eventfd reaches the back-end: every kick is a VRING_KICK and every
 * interrupt a BACKEND_VRING_CALL (echo_batch waits for them), and a ring
 * that breaks says so with BACKEND_VRING_ERR. Off by default.
 */
static void inband(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_config plain = {
		.socket_path = r->path,
		.fd = -1,
		.features = F_VERSION_1,
		.protocol_features = ~0ull,
		.log = &quiet_log,
	};
	struct vhu_frontend_queue *q;
	uint64_t *desc;
	uint8_t *p;
	struct iovec o, i;
	int n;

	assert_int_equal(vhu_frontend_connect(&plain, &r->fe), 0);
	assert_false(vhu_frontend_protocol_features(r->fe) & PF(INBAND_NOTIFICATIONS));
	vhu_frontend_destroy(r->fe);
	r->fe = NULL;

	connect_inband(r, F_VERSION_1 | F_EVENT_IDX);
	for (uint8_t seed = 1; seed <= 4; seed++)
		echo_batch(r, seed & 1, 1, seed);
	assert_true(echo_count(&r->dev.kicks) >= 4);
	q = vhu_frontend_queue(r->fe, 0);
	assert_false(vhu_frontend_queue_broken(q));
	/* a chain the back-end cannot map: the ring breaks, BACKEND_VRING_ERR says so */
	p = vhu_frontend_alloc(r->fe, 128, 64);
	assert_non_null(p);
	o = (struct iovec){ p, 64 };
	i = (struct iovec){ p + 64, 64 };
	assert_int_equal(vhu_frontend_queue_add(q, &o, 1, &i, 1, p), 0);
	desc = (uint64_t *)q->mem.desc;
	for (unsigned int k = 0; k < 128; k++)
		desc[2 * k] = 0xdead00000000ull; /* addr of every descriptor */
	assert_int_equal(vhu_frontend_queue_kick(q), 1);
	for (n = 0; n < 200 && !vhu_frontend_queue_broken(q); n++)
		usleep(10000);
	assert_true(vhu_frontend_queue_broken(q));
	echo_batch(r, 1, 1, 9); /* the other ring is unharmed */
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
	vhu_frontend_destroy(r->fe);
	r->fe = NULL;

	connect_inband(r, F_VERSION_1 | F_RING_PACKED);
	echo_batch(r, 0, 1, 5);
	echo_batch(r, 1, 1, 6);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

/* ---- host notifiers (issue 20) ---- */

static int setup_notifier(void **state)
{
	struct fe_rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	r->protocol = RIG_PROTOCOL | PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD);
	r->flags = VHU_BACKEND_F_POLL;
	backend_start(r);
	*state = r;
	return 0;
}

/* Whether the back-end counts ring @qi's doorbell as mapped. */
static bool be_mapped(struct fe_rig *r, unsigned int qi)
{
	struct vhu_kick_counts k;

	assert_int_equal(vhu_backend_queue_kicks(r->be, qi, &k), 0);
	return k.mapped;
}

/*
 * Wait until ring @qi's doorbell is (@on) or is not mapped on both sides.
 * The worker maps it; the front-end maps it before it acks, the back-end
 * publishes it after the ack, so one side may see it a moment before the other.
 */
static void doorbell_wait(struct fe_rig *r, unsigned int qi, bool on)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, qi);
	int n;

	for (n = 0; n < 500 && (vhu_frontend_queue_has_doorbell(q) != on || be_mapped(r, qi) != on);
	     n++)
		usleep(10000);
	assert_int_equal(vhu_frontend_queue_has_doorbell(q), on);
	assert_int_equal(be_mapped(r, qi), on);
}

/*
 * A busy-polling back-end sends each ring a doorbell page; the front-end's
 * kicks then go there (counted by the back-end), not to the eventfd, and
 * the data still comes back. A stopped ring loses its page, a new start
 * brings a new one, and no page or memfd is left after destroy.
 */
static void host_notifier(void **state)
{
	struct fe_rig *r = *state;
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = F_VERSION_1 | F_EVENT_IDX,
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = 128,
		.mem_size = 4u << 20,
		.log = &quiet_log,
		.host_notifiers = true,
	};
	struct vhu_kick_counts before, after;
	struct vhu_frontend_queue *q0;
	int db_maps = leak_count_memfd_maps("vhu-doorbell");

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_true(vhu_frontend_protocol_features(r->fe) & PF(HOST_NOTIFIER));
	assert_true(vhu_frontend_protocol_features(r->fe) & PF(BACKEND_SEND_FD));
	for (unsigned int round = 0; round < 2; round++) {
		assert_int_equal(vhu_frontend_start(r->fe), 0);
		doorbell_wait(r, 0, true);
		doorbell_wait(r, 1, true);
		assert_int_equal(vhu_backend_queue_kicks(r->be, 0, &before), 0);
		assert_true(before.mapped);
		for (uint8_t seed = 1; seed <= 8; seed++)
			echo_batch(r, seed & 1, 1, seed);
		assert_int_equal(vhu_backend_queue_kicks(r->be, 0, &after), 0);
		assert_true(after.doorbell > before.doorbell);
		assert_int_equal(after.eventfd, before.eventfd); /* no kick took the eventfd */
		q0 = vhu_frontend_queue(r->fe, 0);
		assert_int_equal(vhu_frontend_stop(r->fe), 0);
		assert_false(vhu_frontend_queue_has_doorbell(q0)); /* dropped with the ring */
	}
	assert_int_equal(vhu_backend_queue_kicks(r->be, 1, &after), 0);
	assert_true(after.doorbell >= 2);
	assert_false(after.mapped);
	assert_int_equal(vhu_backend_queue_kicks(r->be, RIG_QUEUES, &after), -EINVAL);
	vhu_frontend_destroy(r->fe);
	r->fe = NULL;

	/* not asked for: negotiated off, kicks through the eventfd */
	cfg.host_notifiers = false;
	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_false(vhu_frontend_protocol_features(r->fe) &
		     (PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD)));
	assert_int_equal(vhu_frontend_start(r->fe), 0);
	echo_batch(r, 0, 1, 9);
	assert_false(vhu_frontend_queue_has_doorbell(vhu_frontend_queue(r->fe, 0)));
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
	vhu_frontend_destroy(r->fe);
	r->fe = NULL;
	backend_free(r);
	assert_int_equal(leak_count_memfd_maps("vhu-doorbell"), db_maps);
	backend_start(r); /* for teardown */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(split_direct),
		T(split_indirect),
		T(packed_direct),
		T(packed_indirect),
		T(multiqueue),
		T(too_many_queues),
		T(config_read_write_change),
		T(backend_killed),
		T(no_backend),
		T(add_errors),
		T(bare_conn),
		cmocka_unit_test_setup_teardown(migration_split, setup_migration, teardown),
		cmocka_unit_test_setup_teardown(migration_packed, setup_migration, teardown),
		T(migration_refused),
		T(reset_device),
		T(reset_owner),
		T(ring_enable_at_run_time),
		T(ring_error_reported),
		cmocka_unit_test_setup_teardown(inband, setup_inband, teardown),
		cmocka_unit_test_setup_teardown(host_notifier, setup_notifier, teardown),
	};

	return cmocka_run_group_tests_name("frontend", tests, NULL, NULL);
}
