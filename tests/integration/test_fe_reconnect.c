/* SPDX-License-Identifier: MIT */
/*
 * vhu_frontend_reconnect end to end: lib/frontend drives lib/backend over a
 * unix socket, and the back-end "dies" (its thread stops and it is
 * destroyed, closing the socket as a SIGKILL would; the inflight region
 * lives on in the front-end's fd) and a new one is created on the same path.
 *
 * The first back-end may be a "hold" device: it takes every request but
 * completes only every other one (out of order), so half the batch is in
 * flight when it dies. The new back-end is the echo device; with the
 * inflight region it resubmits the held half, and every token completes
 * exactly once with the right bytes. Split and packed, direct and indirect,
 * two rings, no region, a back-end that comes back with less, no back-end,
 * reconnect before start, and no fd or mapping left behind.
 *
 * The client_* cases turn the roles round, as QEMU's `server=on` and OVS's
 * dpdkvhostuserclient ports do: the front-end listens (server mode) and
 * the back-end connects (vhu_backend_connect()), retrying with back-off
 * until the front-end is there and again after it goes; the back-off is
 * read from the back-end's log.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "rig.h"
#include "transport/transport.h"
#include <vhu/frontend.h>

#define BATCH 32u
#define CHUNK 256u
#define QSIZE 128u
#define PROTO_INFLIGHT (RIG_PROTOCOL | PF(INFLIGHT_SHMFD))
#define PROTO_NO_INFLIGHT (RIG_PROTOCOL & ~PF(INFLIGHT_SHMFD))

struct rc_rig {
	struct echo_dev dev;
	bool hold;	    /* the hold device instead of echo */
	bool client;	    /* back-end in client mode, front-end in server mode */
	uint32_t max_ms;    /* client: reconnect_max_ms */
	unsigned int taken; /* hold: requests popped (atomic) */
	uint64_t protocol;  /* what the next back-end offers */
	struct vhu_backend *be;
	pthread_t thread;
	bool running;
	char dir[64], path[128];
	struct vhu_frontend *fe;
	int fds, maps; /* before the test */
};

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_DEBUG };

/* Client mode's waits as the back-end logs them ("... in N ms"), in order. */
static struct {
	pthread_mutex_t lock;
	unsigned int n;
	unsigned int ms[256];
} waits = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void capture(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	const char *at = NULL, *p = text;
	unsigned int ms;

	quiet(opaque, level, prefix, text);
	while ((p = strstr(p, " in ")))
		at = p++;
	if (!at || sscanf(at, " in %u ms", &ms) != 1)
		return;
	pthread_mutex_lock(&waits.lock);
	if (waits.n < 256)
		waits.ms[waits.n++] = ms;
	pthread_mutex_unlock(&waits.lock);
}

static const struct vhu_log capture_log = { .fn = capture, .level = VHU_LOG_DEBUG };

static unsigned int waits_copy(unsigned int *out)
{
	unsigned int n;

	pthread_mutex_lock(&waits.lock);
	n = waits.n;
	memcpy(out, waits.ms, n * sizeof(*out));
	pthread_mutex_unlock(&waits.lock);
	return n;
}

static void waits_reset(void)
{
	pthread_mutex_lock(&waits.lock);
	waits.n = 0;
	pthread_mutex_unlock(&waits.lock);
}

/* ---- the hold device: echo every other request, keep the rest ------------ */

static struct rc_rig *the_rig; /* the hold kick finds its counters here */

static void hold_kick(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	struct vhu_req *req = d->req[vhu_vq_index(vq)];

	while (vhu_vq_pop(vq, req) == 1) {
		unsigned int n = __atomic_fetch_add(&the_rig->taken, 1, __ATOMIC_ACQ_REL);
		uint8_t *in = req->iov[req->out_num].iov_base;
		size_t len = 0;

		if (n % 2) /* kept: in flight until the back-end dies */
			continue;
		/* the test's requests: CHUNK readable bytes in pieces, one writable buffer */
		for (uint32_t k = 0; k < req->out_num; k++) {
			memcpy(in + len, req->iov[k].iov_base, req->iov[k].iov_len);
			len += req->iov[k].iov_len;
		}
		(void)vhu_vq_push(vq, req, (uint32_t)len);
	}
	(void)vhu_vq_notify(vq);
}

static struct vhu_device_ops hold_ops;

static void *run_thread(void *arg)
{
	struct rc_rig *r = arg;

	(void)vhu_backend_run(r->be);
	return NULL;
}

/* A new back-end on r->path (the old one's socket file is stale by then). */
static void backend_start(struct rc_rig *r)
{
	struct vhu_backend_config cfg = {
		.name = "echo",
		.num_queues = RIG_QUEUES,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.protocol_features = r->protocol,
		.ops = r->hold ? &hold_ops : &echo_ops,
		.dev = &r->dev,
		.log = r->client ? &capture_log : &quiet_log,
		.reconnect_max_ms = r->max_ms,
	};

	assert_int_equal(vhu_backend_create(&cfg, &r->be), 0);
	r->dev.be = r->be;
	if (r->client)
		assert_int_equal(vhu_backend_connect(r->be, r->path), 0);
	else
		assert_int_equal(vhu_backend_listen(r->be, r->path), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
	r->running = true;
}

/* The back-end goes away at once: its thread stops, its socket closes. */
static void backend_kill(struct rc_rig *r)
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
	struct rc_rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	hold_ops = echo_ops;
	hold_ops.queue_kick = hold_kick;
	the_rig = r;
	waits_reset();
	r->fds = leak_count_fds();
	r->maps = leak_count_memfd_maps("vhu-frontend");
	r->protocol = PROTO_INFLIGHT;
	pthread_mutex_init(&r->dev.lock, NULL);
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->dev.watch_fd[i] = -1;
		r->dev.req[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		assert_non_null(r->dev.req[i]);
	}
	snprintf(r->dir, sizeof(r->dir), "/tmp/vhu-fe-rc.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/sock", r->dir);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rc_rig *r = *state;

	vhu_frontend_destroy(r->fe);
	if (r->be)
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

static void connect_fe(struct rc_rig *r, uint64_t features, uint16_t nq, bool start)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.server = r->client,
		.fd = -1,
		.timeout_ms = 2000,
		.features = features,
		.protocol_features = ~0ull,
		.num_queues = nq,
		.queue_size = QSIZE,
		.mem_size = 1u << 20,
		.log = &quiet_log,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_int_equal(vhu_frontend_protocol_features(r->fe) & PF(INFLIGHT_SHMFD),
			 r->protocol & PF(INFLIGHT_SHMFD));
	if (start)
		assert_int_equal(vhu_frontend_start(r->fe), 0);
}

struct batch {
	struct vhu_frontend_queue *q;
	uint8_t *out, *in;
	unsigned int nout;
	bool seen[BATCH];
	unsigned int got;
};

/* BATCH echo requests of CHUNK bytes (in @nout pieces) on queue @qi, one kick. */
static void batch_submit(struct rc_rig *r, struct batch *b, unsigned int qi, unsigned int nout,
			 uint8_t seed)
{
	memset(b, 0, sizeof(*b));
	b->q = vhu_frontend_queue(r->fe, qi);
	b->out = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	b->in = vhu_frontend_alloc(r->fe, BATCH * CHUNK, 64);
	b->nout = nout;
	assert_non_null(b->q);
	assert_non_null(b->out);
	assert_non_null(b->in);
	for (unsigned int i = 0; i < BATCH * CHUNK; i++)
		b->out[i] = (uint8_t)(seed + i * 7);
	for (unsigned int i = 0; i < BATCH; i++) {
		struct iovec o[4], iv = { b->in + i * CHUNK, CHUNK };

		for (unsigned int k = 0; k < nout; k++)
			o[k] = (struct iovec){ b->out + i * CHUNK + k * (CHUNK / nout),
					       CHUNK / nout };
		assert_int_equal(
			vhu_frontend_queue_add(b->q, o, nout, &iv, 1, (void *)(uintptr_t)(i + 1)),
			0);
	}
	assert_true(vhu_frontend_queue_kick(b->q) >= 0);
}

/* Take completions until @want have come; each token once, with its bytes. */
static void batch_collect(struct batch *b, unsigned int want)
{
	while (b->got < want) {
		void *token;
		uint32_t len;
		int ret = vhu_frontend_queue_get(b->q, &token, &len);
		unsigned int i;

		assert_true(ret >= 0);
		if (ret == 0) {
			assert_int_equal(vhu_frontend_queue_wait(b->q, 5000), 1);
			continue;
		}
		i = (unsigned int)(uintptr_t)token - 1;
		assert_true(i < BATCH);
		assert_int_equal(len, CHUNK);
		assert_false(b->seen[i]);
		assert_memory_equal(b->in + i * CHUNK, b->out + i * CHUNK, CHUNK);
		b->seen[i] = true;
		b->got++;
	}
}

static void echo_round(struct rc_rig *r, unsigned int qi, unsigned int nout, uint8_t seed)
{
	struct batch b;

	batch_submit(r, &b, qi, nout, seed);
	batch_collect(&b, BATCH);
	assert_int_equal(vhu_frontend_queue_num_free(b.q), QSIZE);
}

/* The back-end dies: the queue calls say so at once, and a new one comes up. */
static void die_and_return(struct rc_rig *r, unsigned int nq, bool hold_next)
{
	void *token;
	uint32_t len;

	backend_kill(r);
	for (unsigned int i = 0; i < nq; i++) {
		struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, i);

		/* the first wait notices (POLLRDHUP), the rest know */
		assert_int_equal(vhu_frontend_queue_wait(q, 5000), -ECONNRESET);
		assert_int_equal(vhu_frontend_queue_get(q, &token, &len), -ECONNRESET);
	}
	assert_false(vhu_frontend_alive(r->fe));
	r->hold = hold_next;
	backend_start(r);
	assert_int_equal(vhu_frontend_reconnect(r->fe), 0);
	assert_true(vhu_frontend_alive(r->fe));
}

static void idle(void **state, uint64_t features, unsigned int nout)
{
	struct rc_rig *r = *state;

	backend_start(r);
	connect_fe(r, features, 2, true);
	for (uint8_t round = 0; round < 3; round++) {
		echo_round(r, 0, nout, round);
		echo_round(r, 1, nout, (uint8_t)(round + 100));
		die_and_return(r, 2, false);
	}
	echo_round(r, 0, nout, 50);
	echo_round(r, 1, nout, 51);
	assert_int_equal(vhu_frontend_stop(r->fe), 0);
}

static void split_idle(void **state)
{
	idle(state, F_VERSION_1 | F_EVENT_IDX, 1);
}

static void packed_idle(void **state)
{
	/* 3 rounds of 32 * 2 slots in a ring of 128: the wrap counters flip */
	idle(state, F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX, 2);
}

/*
 * Half a batch in flight when the back-end dies; the next one resubmits it
 * from the inflight region, and every request completes exactly once.
 */
static void in_flight(void **state, uint64_t features, unsigned int nout)
{
	struct rc_rig *r = *state;
	struct batch b;

	backend_start(r);
	connect_fe(r, features, 1, true);
	echo_round(r, 0, nout, 1); /* the rings are not at 0 any more */
	for (uint8_t round = 0; round < 3; round++) {
		__atomic_store_n(&r->taken, 0, __ATOMIC_RELEASE);
		backend_kill(r);
		r->hold = true;
		backend_start(r);
		assert_int_equal(vhu_frontend_reconnect(r->fe), 0);
		batch_submit(r, &b, 0, nout, (uint8_t)(round * 13));
		assert_true(echo_wait_count(&r->taken, BATCH, 5000));
		batch_collect(&b, BATCH / 2); /* the hold device's half */
		die_and_return(r, 1, false);
		batch_collect(&b, BATCH); /* the other half: resubmitted */
		assert_int_equal(vhu_frontend_queue_num_free(b.q), QSIZE);
		echo_round(r, 0, nout, (uint8_t)(round + 7));
	}
}

static void split_in_flight(void **state)
{
	in_flight(state, F_VERSION_1 | F_EVENT_IDX, 1);
}

static void split_indirect_in_flight(void **state)
{
	in_flight(state, F_VERSION_1 | F_INDIRECT, 2);
}

static void packed_in_flight(void **state)
{
	in_flight(state, F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX, 2);
}

static void packed_indirect_in_flight(void **state)
{
	in_flight(state, F_VERSION_1 | F_RING_PACKED | F_INDIRECT, 4);
}

/* A back-end without INFLIGHT_SHMFD: rings with nothing in flight still resume. */
static void no_region(void **state)
{
	struct rc_rig *r = *state;

	r->protocol = PROTO_NO_INFLIGHT;
	backend_start(r);
	connect_fe(r, F_VERSION_1 | F_EVENT_IDX, 1, true);
	echo_round(r, 0, 1, 3);
	die_and_return(r, 1, false);
	echo_round(r, 0, 1, 4);
}

/* The new back-end lacks a protocol feature the old one had: -EPROTO. */
static void comes_back_with_less(void **state)
{
	struct rc_rig *r = *state;

	backend_start(r);
	connect_fe(r, F_VERSION_1, 1, true);
	backend_kill(r);
	r->protocol = PROTO_NO_INFLIGHT;
	backend_start(r);
	assert_int_equal(vhu_frontend_reconnect(r->fe), -EPROTO);
	assert_false(vhu_frontend_alive(r->fe));
}

/* Nobody there: the call fails in time, and works once the back-end is back. */
static void nobody_then_back(void **state)
{
	struct rc_rig *r = *state;

	backend_start(r);
	connect_fe(r, F_VERSION_1, 1, true);
	echo_round(r, 0, 1, 5);
	backend_kill(r);
	unlink(r->path);
	assert_int_equal(vhu_frontend_reconnect(r->fe), -ENOENT);
	assert_false(vhu_frontend_alive(r->fe));
	assert_int_equal(vhu_frontend_queue_wait(vhu_frontend_queue(r->fe, 0), 5000), -ECONNRESET);
	backend_start(r);
	assert_int_equal(vhu_frontend_reconnect(r->fe), 0);
	echo_round(r, 0, 1, 6);
}

/* Before start only the negotiation is redone; start then works. */
static void before_start(void **state)
{
	struct rc_rig *r = *state;

	backend_start(r);
	connect_fe(r, F_VERSION_1, 1, false);
	backend_kill(r);
	backend_start(r);
	assert_int_equal(vhu_frontend_reconnect(r->fe), 0);
	assert_int_equal(vhu_frontend_start(r->fe), 0);
	echo_round(r, 0, 1, 7);
}

/* A front-end on an adopted fd has nowhere to connect again. */
static void adopted_fd(void **state)
{
	struct rc_rig *r = *state;
	struct vhu_frontend_config cfg = {
		.fd = -1,
		.features = F_VERSION_1,
		.log = &quiet_log,
	};

	backend_start(r);
	assert_int_equal(vhu_sock_connect(r->path, 2000, &cfg.fd), 0);
	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	assert_int_equal(vhu_frontend_reconnect(r->fe), -ENOTSUP);
}

/* ---- client mode: the back-end connects, the front-end listens ---------- */

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000l };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Front-end restarts, back-end kills: the in_flight and idle rounds with the roles turned. */
static void client_split_in_flight(void **state)
{
	struct rc_rig *r = *state;

	r->client = true;
	in_flight(state, F_VERSION_1 | F_EVENT_IDX, 1);
}

static void client_packed_in_flight(void **state)
{
	struct rc_rig *r = *state;

	r->client = true;
	in_flight(state, F_VERSION_1 | F_RING_PACKED | F_EVENT_IDX, 2);
}

static void client_split_idle(void **state)
{
	struct rc_rig *r = *state;

	r->client = true;
	idle(state, F_VERSION_1 | F_EVENT_IDX, 1);
}

/*
 * Nobody listens yet: the waits double from the shortest up to
 * reconnect_max_ms and stay there, so the attempts are few; the
 * front-end that then listens is found within one longest wait.
 */
static void client_backoff(void **state)
{
	struct rc_rig *r = *state;
	unsigned int ms[256], n, want = VHU_BACKEND_RECONNECT_MIN_MS;

	r->client = true;
	r->max_ms = 80;
	backend_start(r);
	sleep_ms(700);
	n = waits_copy(ms);
	/* 10 + 20 + 40 + 80 * k in 700 ms: 11 waits (4 on a loaded machine); without back-off, 70
	 */
	assert_in_range(n, 4, 12);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(ms[i], want);
		want = want * 2 > r->max_ms ? r->max_ms : want * 2;
	}
	connect_fe(r, F_VERSION_1, 1, true);
	echo_round(r, 0, 1, 9);
}

/*
 * The same back-end object outlives its front-ends: each one that goes
 * away (QEMU restarting) leaves it reconnecting, from the shortest wait
 * again, and the next one finds a device that starts from nothing.
 */
static void client_frontend_restarts(void **state)
{
	struct rc_rig *r = *state;
	unsigned int ms[256], n;

	r->client = true;
	r->max_ms = 80;
	backend_start(r);
	for (uint8_t round = 0; round < 3; round++) {
		connect_fe(r, round % 2 ? F_VERSION_1 | F_RING_PACKED : F_VERSION_1, 2, true);
		echo_round(r, 0, 1, round);
		echo_round(r, 1, 2, (uint8_t)(round + 40));
		waits_reset();
		vhu_frontend_destroy(r->fe);
		r->fe = NULL;
		sleep_ms(200);
		n = waits_copy(ms);
		assert_true(n >= 2);
		assert_int_equal(ms[0], VHU_BACKEND_RECONNECT_MIN_MS); /* it had served */
		assert_int_equal(ms[1], 2 * VHU_BACKEND_RECONNECT_MIN_MS);
	}
	connect_fe(r, F_VERSION_1, 1, true);
	echo_round(r, 0, 1, 77);
}

/* A front-end that accepts and hangs up at once gets ever longer waits, not a busy loop. */
static void client_hangups_back_off(void **state)
{
	struct rc_rig *r = *state;
	unsigned int ms[256], n;
	int lfd, cfd;

	r->client = true;
	r->max_ms = 40;
	assert_int_equal(vhu_sock_listen(r->path, &lfd), 0);
	backend_start(r);
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(vhu_sock_accept(lfd, &cfd), 0);
		close(cfd);
	}
	close(lfd);
	unlink(r->path);
	sleep_ms(50);
	n = waits_copy(ms);
	assert_true(n >= 5);
	assert_int_equal(ms[0], 10);
	assert_int_equal(ms[1], 20);
	assert_int_equal(ms[2], 40);
	assert_int_equal(ms[3], 40);
	assert_int_equal(ms[4], 40);
}

/* What vhu_backend_connect() and the config refuse. */
static void client_bad_calls(void **state)
{
	struct rc_rig *r = *state;
	struct vhu_backend_config cfg = {
		.name = "bad",
		.num_queues = 1,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.ops = &echo_ops,
		.dev = &r->dev,
		.log = &quiet_log,
	};
	struct vhu_backend *be;
	char longpath[200];

	cfg.reconnect_max_ms = VHU_BACKEND_RECONNECT_MIN_MS - 1;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
	cfg.reconnect_max_ms = VHU_BACKEND_RECONNECT_LIMIT_MS + 1;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
	cfg.reconnect_max_ms = 0;
	assert_int_equal(vhu_backend_create(&cfg, &be), 0);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(vhu_backend_connect(be, ""), -EINVAL);
	assert_int_equal(vhu_backend_connect(be, longpath), -ENAMETOOLONG);
	assert_int_equal(vhu_backend_fd(be), -1);
	assert_int_equal(vhu_backend_dispatch(be), -ENOTCONN);
	assert_int_equal(vhu_backend_connect(be, r->path), 0);
	assert_true(vhu_backend_fd(be) >= 0);
	/* not due yet: nothing happens */
	assert_int_equal(vhu_backend_dispatch(be), -EAGAIN);
	assert_int_equal(vhu_backend_connect(be, r->path), -EBUSY);
	assert_int_equal(vhu_backend_listen(be, r->path), -EBUSY);
	vhu_backend_destroy(be);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(split_idle),
		T(packed_idle),
		T(split_in_flight),
		T(split_indirect_in_flight),
		T(packed_in_flight),
		T(packed_indirect_in_flight),
		T(no_region),
		T(comes_back_with_less),
		T(nobody_then_back),
		T(before_start),
		T(adopted_fd),
		T(client_split_in_flight),
		T(client_packed_in_flight),
		T(client_split_idle),
		T(client_backoff),
		T(client_frontend_restarts),
		T(client_hangups_back_off),
		T(client_bad_calls),
	};

	return cmocka_run_group_tests_name("frontend_reconnect", tests, NULL, NULL);
}
