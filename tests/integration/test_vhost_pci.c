/* SPDX-License-Identifier: MIT */
/*
 * The EXPERIMENTAL vhost-pci opt-in (the unmerged spec revision that gives
 * protocol bit 4 to VHOST_PCI and lets the back-end send SET_FEATURES on
 * the main socket). vhu's front-end against vhu's back-end, both opted in:
 * the back-end narrows the features (from the test's thread, and from the
 * device's set_features op while the front-end waits for replies), the
 * front-end resets the device and sets it up again with them, and data
 * flows on the new rings. Then the hostile cases: a fake back-end on a
 * socketpair sends SET_FEATURES with bits the front-end did not set,
 * unknown bits, before the front-end's SET_FEATURES, with NEED_REPLY,
 * without bit 4 negotiated (either side without the opt-in), or many of
 * them instead of a reply: each is logged and ends the connection. And
 * the back-end's API refuses what the rules forbid, bit 4 is never
 * VHOST_PCI without the opt-in, and NET_SET_MTU is refused with it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "rig.h"
#include "transport/transport.h"
#include <vhu/frontend.h>

#define N 16u /* chains of 3: fit a ring of 64 without indirect */
#define CHUNK 128u
#define VPCI PF(VHOST_PCI)
#define F_ALL (F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | F_RING_PACKED)
#define F_NARROW (F_VERSION_1 | F_INDIRECT | F_PROTOCOL) /* split, no event idx */

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_DEBUG };

/* Front-end log lines with "vhost-pci" in them (the reason of a refusal). */
static char fe_said[256];

static void fe_logged(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	if (strstr(text, "vhost-pci:") && level <= VHU_LOG_ERR)
		snprintf(fe_said, sizeof(fe_said), "%s", text);
	quiet(opaque, level, prefix, text);
}

static const struct vhu_log fe_log = { .fn = fe_logged, .level = VHU_LOG_DEBUG };

struct vp_rig {
	struct echo_dev dev;
	struct vhu_backend *be;
	pthread_t thread;
	char dir[64], path[128];
	struct vhu_frontend *fe;
	uint64_t changed; /* features_changed's argument */
	unsigned int changes;
	int fds;
};

static void *run_thread(void *arg)
{
	struct vp_rig *r = arg;

	(void)vhu_backend_run(r->be);
	return NULL;
}

static void rig_up(struct vp_rig *r, bool vhost_pci)
{
	struct vhu_backend_config cfg = {
		.name = "echo",
		.num_queues = RIG_QUEUES,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.protocol_features = RIG_PROTOCOL,
		.ops = &echo_ops,
		.dev = &r->dev,
		.log = &quiet_log,
		.vhost_pci = vhost_pci,
	};

	r->fds = leak_count_fds();
	pthread_mutex_init(&r->dev.lock, NULL);
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->dev.watch_fd[i] = -1;
		r->dev.req[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		assert_non_null(r->dev.req[i]);
	}
	assert_int_equal(vhu_backend_create(&cfg, &r->be), 0);
	r->dev.be = r->be;
	snprintf(r->dir, sizeof(r->dir), "/tmp/vhu-vpci.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->path, sizeof(r->path), "%s/sock", r->dir);
	assert_int_equal(vhu_backend_listen(r->be, r->path), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void rig_down(struct vp_rig *r)
{
	vhu_frontend_destroy(r->fe);
	vhu_backend_stop(r->be);
	pthread_join(r->thread, NULL);
	vhu_backend_destroy(r->be);
	for (unsigned int i = 0; i < RIG_QUEUES; i++)
		free(r->dev.req[i]);
	pthread_mutex_destroy(&r->dev.lock);
	unlink(r->path);
	rmdir(r->dir);
	assert_int_equal(leak_count_fds(), r->fds);
}

static void changed(void *opaque, uint64_t features)
{
	struct vp_rig *r = opaque;

	r->changed = features;
	r->changes++;
}

static void fe_up(struct vp_rig *r, bool vhost_pci, bool start)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->path,
		.fd = -1,
		.features = F_ALL,
		.protocol_features = ~0ull,
		.queue_size = 64,
		.log = &fe_log,
		.vhost_pci = vhost_pci,
		.features_changed = changed,
		.opaque = r,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &r->fe), 0);
	if (start)
		assert_int_equal(vhu_frontend_start(r->fe), 0);
}

/* N echo requests on ring 0, one kick; each comes back whole. */
static void echo(struct vp_rig *r, uint8_t seed)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(r->fe, 0);
	uint8_t *out = vhu_frontend_alloc(r->fe, N * CHUNK, 64);
	uint8_t *in = vhu_frontend_alloc(r->fe, N * CHUNK, 64);
	unsigned int got = 0;

	assert_non_null(out);
	assert_non_null(in);
	for (unsigned int i = 0; i < N * CHUNK; i++)
		out[i] = (uint8_t)(seed + i * 3);
	for (unsigned int i = 0; i < N; i++) {
		struct iovec o[2] = { { out + i * CHUNK, CHUNK / 2 },
				      { out + i * CHUNK + CHUNK / 2, CHUNK / 2 } };
		struct iovec iv = { in + i * CHUNK, CHUNK };

		assert_int_equal(vhu_frontend_queue_add(q, o, 2, &iv, 1, (void *)(uintptr_t)1), 0);
	}
	assert_true(vhu_frontend_queue_kick(q) >= 0);
	while (got < N) {
		void *token;
		uint32_t len;
		int ret = vhu_frontend_queue_get(q, &token, &len);

		assert_true(ret >= 0);
		if (ret == 0) {
			assert_int_equal(vhu_frontend_queue_wait(q, 5000), 1);
			continue;
		}
		assert_int_equal(len, CHUNK);
		got++;
	}
	assert_memory_equal(out, in, N * CHUNK);
}

/* The back-end narrows from the test's thread; the front-end renegotiates. */
static void narrowed_from_thread(void **state)
{
	struct vp_rig r = { 0 };

	(void)state;
	rig_up(&r, true);
	fe_up(&r, true, true);
	assert_true(vhu_frontend_protocol_features(r.fe) & VPCI);
	assert_int_equal(vhu_frontend_features(r.fe), F_ALL);
	echo(&r, 1);					 /* packed, event idx */
	assert_int_equal(vhu_frontend_poll(r.fe, 0), 0); /* nothing yet */
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), 0);
	assert_int_equal(vhu_frontend_poll(r.fe, 5000), 1);
	assert_int_equal(r.changes, 1);
	assert_int_equal(r.changed, F_NARROW);
	assert_int_equal(vhu_frontend_features(r.fe), F_NARROW & ~F_PROTOCOL);
	/* the device was reset (RESET_DEVICE: ops->reset) and set with them */
	assert_int_equal(__atomic_load_n(&r.dev.resets, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(__atomic_load_n(&r.dev.acked_features, __ATOMIC_ACQUIRE),
			 F_NARROW & ~F_PROTOCOL);
	echo(&r, 2); /* now on split rings */
	/* the same again: nothing to renegotiate */
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), 0);
	assert_int_equal(vhu_frontend_poll(r.fe, 5000), 0);
	assert_int_equal(r.changes, 1);
	echo(&r, 3);
	assert_int_equal(vhu_frontend_stop(r.fe), 0);
	rig_down(&r);
}

/*
 * The device narrows from its set_features op: the message is queued until
 * the reply went out, and the front-end finds it while it waits for the
 * next reply of its start. Applied at the next poll; the renegotiation's
 * SET_FEATURES makes the op send the same bits again, which change nothing.
 */
static void narrowed_from_op(void **state)
{
	struct vp_rig r = { 0 };

	(void)state;
	rig_up(&r, true);
	/* split, no indirect */
	__atomic_store_n(&r.dev.narrow_to, F_VERSION_1 | F_EVENT_IDX | F_PROTOCOL,
			 __ATOMIC_RELEASE);
	fe_up(&r, true, true);
	assert_int_equal(__atomic_load_n(&r.dev.narrow_ret, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(vhu_frontend_poll(r.fe, 5000), 1);
	assert_int_equal(vhu_frontend_features(r.fe), F_VERSION_1 | F_EVENT_IDX);
	assert_int_equal(vhu_frontend_poll(r.fe, 200), 0); /* the op's second message */
	assert_int_equal(r.changes, 1);
	echo(&r, 4);
	assert_true(vhu_frontend_alive(r.fe));
	rig_down(&r);
}

/* The back-end's rules, and bit 4 without the opt-in on either side. */
static void backend_rules(void **state)
{
	struct vp_rig r = { 0 };
	struct vhu_backend *be;
	struct vhu_backend_config bad = { .name = "x",
					  .num_queues = 1,
					  .max_queue_size = 8,
					  .ops = &echo_ops,
					  .vhost_pci = true,
					  .protocol_features = PF(NET_MTU) };

	(void)state;
	/* one bit, two meanings */
	assert_int_equal(vhu_backend_create(&bad, &be), -EINVAL);

	/* a back-end without the opt-in never sends, and never offers bit 4 */
	rig_up(&r, false);
	fe_up(&r, true, true);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), -ENOTSUP);
	assert_false(vhu_frontend_protocol_features(r.fe) & VPCI);
	assert_int_equal(vhu_frontend_poll(r.fe, 0), -ENOTSUP);
	rig_down(&r);

	/* with it: a front-end without it does not take bit 4 */
	memset(&r, 0, sizeof(r));
	rig_up(&r, true);
	fe_up(&r, false, true);
	assert_false(vhu_frontend_protocol_features(r.fe) & VPCI);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), -ENOTSUP);
	vhu_frontend_destroy(r.fe);
	r.fe = NULL;

	/* both: nothing before the front-end's SET_FEATURES, then only a subset with bit 30 */
	fe_up(&r, true, false);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), -EAGAIN);
	assert_int_equal(vhu_frontend_start(r.fe), 0);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW | (1ull << 50)), -EINVAL);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW & ~F_PROTOCOL), -EINVAL);
	/* and none after a reset until the front-end sets features again */
	assert_int_equal(vhu_frontend_reset(r.fe), 0);
	assert_int_equal(vhu_backend_send_features(r.be, F_NARROW), -EAGAIN);
	rig_down(&r);
}

/* NET_SET_MTU reaches no device when bit 4 is VHOST_PCI. */
static void no_mtu_with_vhost_pci(void **state)
{
	struct vp_rig r = { 0 };
	struct vhu_frontend_conn *c;
	uint64_t proto;

	(void)state;
	rig_up(&r, true);
	assert_int_equal(vhu_frontend_conn_open(r.path, 5000, &c), 0);
	assert_int_equal(vhu_frontend_conn_get_u64(c, VHU_REQ_GET_PROTOCOL_FEATURES, &proto), 0);
	assert_true(proto & VPCI);
	assert_int_equal(
		vhu_frontend_conn_set_u64(c, VHU_REQ_SET_PROTOCOL_FEATURES, PF(REPLY_ACK) | VPCI),
		0);
	assert_int_equal(vhu_frontend_conn_set_u64(c, VHU_REQ_NET_SET_MTU, 1500), -EIO);
	vhu_frontend_conn_close(c);
	rig_down(&r);
}

/* ---- a fake back-end that sends what the test says ---------------------- */

enum inject_at {
	AT_SET_OWNER,	   /* before the reply to SET_OWNER: before any SET_FEATURES */
	AT_SET_FEATURES,   /* before the ack of the front-end's SET_FEATURES */
	AT_SET_VRING_ADDR, /* before the ack of a later request */
};

struct fake {
	int sock;
	uint64_t protocol; /* offered */
	enum inject_at at;
	struct vhu_msg inject; /* sent count times */
	pthread_t thread;
	unsigned int count;
	bool injected;
};

static void fake_send(struct fake *f, uint32_t request, uint32_t size, uint64_t value)
{
	struct vhu_msg m;

	vhu_msg_init(&m, request, VHU_FLAG_REPLY, size);
	m.payload.u64 = value;
	if (request == VHU_REQ_GET_VRING_BASE)
		m.payload.state.num = 0;
	(void)vhu_msg_send(f->sock, &m);
}

static bool inject_now(struct fake *f, uint32_t request)
{
	static const uint32_t at_req[] = { VHU_REQ_SET_OWNER, VHU_REQ_SET_FEATURES,
					   VHU_REQ_SET_VRING_ADDR };

	return !f->injected && request == at_req[f->at];
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct vhu_msg m;

	while (vhu_msg_recv(f->sock, &m) == 0 || errno == EBADMSG) {
		uint32_t req = m.hdr.request;

		vhu_msg_close_fds(&m);
		if (inject_now(f, req)) {
			f->injected = true;
			for (unsigned int i = 0; i < f->count; i++)
				(void)vhu_msg_send(f->sock, &f->inject);
		}
		if (req == VHU_REQ_GET_FEATURES)
			fake_send(f, req, 8, F_ALL | F_PROTOCOL);
		else if (req == VHU_REQ_GET_PROTOCOL_FEATURES)
			fake_send(f, req, 8, f->protocol);
		else if (req == VHU_REQ_GET_VRING_BASE)
			fake_send(f, req, sizeof(struct vhost_vring_state), 0);
		else if (m.hdr.flags & VHU_FLAG_NEED_REPLY)
			fake_send(f, req, 8, 0);
	}
	return NULL;
}

/*
 * Run the front-end (@vhost_pci) against the fake: connect and start.
 * Return: the first failure (the front-end is then destroyed), or 0.
 */
static int against_fake(struct fake *f, bool vhost_pci, struct vhu_frontend **fe)
{
	int sv[2];
	struct vhu_frontend_config cfg = {
		.features = F_VERSION_1 | F_EVENT_IDX,
		.protocol_features = ~0ull,
		.queue_size = 16,
		.timeout_ms = 2000,
		.log = &fe_log,
		.vhost_pci = vhost_pci,
	};
	int ret;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[1];
	cfg.fd = sv[0];
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	fe_said[0] = '\0';
	*fe = NULL;
	ret = vhu_frontend_connect(&cfg, fe);
	if (ret == 0) {
		ret = vhu_frontend_start(*fe);
		if (ret < 0)
			assert_false(vhu_frontend_alive(*fe));
	}
	if (ret < 0) {
		vhu_frontend_destroy(*fe);
		*fe = NULL;
	}
	return ret;
}

/* The front-end is gone: the fake sees the end. */
static void fake_end(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->sock);
}

static void fake_features(struct fake *f, uint32_t flags, uint64_t features)
{
	vhu_msg_init(&f->inject, VHU_REQ_SET_FEATURES, flags, sizeof(uint64_t));
	f->inject.payload.u64 = features;
	if (!f->count)
		f->count = 1;
}

#define FAKE_PROTO (PF(REPLY_ACK) | VPCI)

/* Refused: logged, the connection ends (-EPROTO). @why: what the log says. */
static void refused(struct fake *f, bool vhost_pci, const char *why)
{
	struct vhu_frontend *fe = NULL;
	int fds = leak_count_fds();

	assert_int_equal(against_fake(f, vhost_pci, &fe), -EPROTO);
	assert_null(fe);
	fake_end(f);
	if (why && !strstr(fe_said, why)) {
		fprintf(stderr, "logged: '%s', wanted '%s'\n", fe_said, why);
		fail();
	}
	assert_int_equal(leak_count_fds(), fds);
}

static void hostile(void **state)
{
	const uint64_t set = F_VERSION_1 | F_EVENT_IDX | F_PROTOCOL;
	struct fake f;

	(void)state;
	/* a bit the front-end did not set (packed was offered, not wanted) */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set | F_RING_PACKED);
	refused(&f, true, "bits the front-end did not set");
	/* an unknown bit */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set | (1ull << 50));
	refused(&f, true, "bits the front-end did not set");
	/* before the front-end's SET_FEATURES */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_OWNER };
	fake_features(&f, 0, set);
	refused(&f, true, "before the front-end's SET_FEATURES");
	/* without bit 30, with NEED_REPLY, with REPLY's neighbour: a payload that is not a u64 */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, F_VERSION_1);
	refused(&f, true, "lacks VHOST_USER_F_PROTOCOL_FEATURES");
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, VHU_FLAG_NEED_REPLY, set);
	refused(&f, true, "flags other than the version");
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set);
	f.inject.hdr.size = 4;
	refused(&f, true, "not a u64");
	/* another request of the back-end's on the main socket */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set);
	f.inject.hdr.request = VHU_REQ_SET_OWNER;
	f.inject.hdr.size = 0;
	refused(&f, true, "is not SET_FEATURES");
	/* many instead of the reply */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR, .count = 40 };
	fake_features(&f, 0, set);
	refused(&f, true, NULL);
	/* a back-end without the opt-in (bit 4 not offered): not a reply */
	f = (struct fake){ .protocol = PF(REPLY_ACK), .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set);
	refused(&f, true, NULL);
	/* a front-end without the opt-in (bit 4 offered, not taken): as today */
	f = (struct fake){ .protocol = FAKE_PROTO, .at = AT_SET_VRING_ADDR };
	fake_features(&f, 0, set);
	refused(&f, false, NULL);
}

/* Between a request and its reply, and twice: taken, the last one applied once. */
static void interleaved(void **state)
{
	struct fake f = { .protocol = FAKE_PROTO, .at = AT_SET_FEATURES, .count = 2 };
	struct vhu_frontend *fe = NULL;
	int fds = leak_count_fds();

	(void)state;
	fake_features(&f, 0, F_VERSION_1 | F_PROTOCOL);
	assert_int_equal(against_fake(&f, true, &fe), 0);
	assert_non_null(fe);
	assert_int_equal(vhu_frontend_features(fe), F_VERSION_1 | F_EVENT_IDX);
	assert_int_equal(vhu_frontend_poll(fe, 0), 1);
	assert_int_equal(vhu_frontend_features(fe), F_VERSION_1);
	assert_true(vhu_frontend_alive(fe));
	assert_int_equal(vhu_frontend_poll(fe, 0), 0);
	vhu_frontend_destroy(fe);
	fake_end(&f);
	assert_int_equal(leak_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(narrowed_from_thread),
		cmocka_unit_test(narrowed_from_op),
		cmocka_unit_test(backend_rules),
		cmocka_unit_test(no_mtu_with_vhost_pci),
		cmocka_unit_test(hostile),
		cmocka_unit_test(interleaved),
	};

	return cmocka_run_group_tests_name("vhost_pci", tests, NULL, NULL);
}
