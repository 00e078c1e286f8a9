/* SPDX-License-Identifier: MIT */
/*
 * lib/frontend against a back-end that answers wrong. A fake back-end on
 * the other end of a socketpair answers GET_FEATURES and acks what asks
 * for an ack, and answers GET_VRING_BASE (sent by vhu_frontend_stop) in
 * one wrong way per case: too short, too long, a reply to another
 * request, without the reply flag, with an fd. The front-end must fail
 * that call with -EPROTO, report the connection dead, and shut it down:
 * the fake back-end sees the end of the stream instead of waiting for more
 * requests from a front-end that is out of step with it. No fd is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "transport/transport.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

#define F_VERSION_1 (1ull << 32)

enum bad_reply {
	BAD_SHORT,	   /* 4 bytes instead of a vring state */
	BAD_LONG,	   /* 16 bytes instead of 8 */
	BAD_OTHER_REQUEST, /* a GET_FEATURES reply */
	BAD_NO_REPLY_FLAG, /* flags without VHU_FLAG_REPLY */
	BAD_FD,		   /* an eventfd on a reply that carries none */
};

struct fake {
	int sock;
	enum bad_reply bad;
	bool sent_bad;	    /* the wrong reply went out */
	bool saw_eof;	    /* after it, the stream ended (not a timeout) */
	unsigned int after; /* requests received after the wrong reply */
};

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_DEBUG };

static void reply(struct fake *f, const struct vhu_msg *req, uint32_t size, uint64_t value)
{
	struct vhu_msg m;

	vhu_msg_init(&m, req->hdr.request, VHU_FLAG_REPLY, size);
	m.payload.u64 = value;
	(void)vhu_msg_send(f->sock, &m);
}

static void send_bad(struct fake *f, const struct vhu_msg *req)
{
	struct vhu_msg m;
	int efd = -1;

	vhu_msg_init(&m, req->hdr.request, VHU_FLAG_REPLY, sizeof(struct vhost_vring_state));
	memset(&m.payload, 0, 64); /* BAD_LONG sends more than the state */
	m.payload.state = req->payload.state;
	switch (f->bad) {
	case BAD_SHORT:
		m.hdr.size = 4;
		break;
	case BAD_LONG:
		m.hdr.size = 16;
		break;
	case BAD_OTHER_REQUEST:
		m.hdr.request = VHU_REQ_GET_FEATURES;
		m.hdr.size = sizeof(uint64_t);
		break;
	case BAD_NO_REPLY_FLAG:
		m.hdr.flags = VHU_VERSION;
		break;
	case BAD_FD:
		efd = eventfd(0, EFD_CLOEXEC);
		m.fds[0] = efd;
		m.nfds = 1;
		break;
	}
	(void)vhu_msg_send(f->sock, &m);
	if (efd >= 0)
		close(efd);
	f->sent_bad = true;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	/* bounded: a front-end that keeps the connection open fails the test, not hangs it */
	assert_int_equal(vhu_sock_set_timeouts(f->sock, 3000), 0);
	for (;;) {
		struct vhu_msg m;
		int ret = vhu_msg_recv(f->sock, &m);

		if (ret == -ECONNRESET) {
			f->saw_eof = f->sent_bad;
			break;
		}
		if (ret < 0)
			break; /* a timeout: the front-end neither closed nor sent */
		vhu_msg_close_fds(&m);
		if (f->sent_bad) {
			f->after++;
			continue;
		}
		if (m.hdr.request == VHU_REQ_GET_FEATURES)
			reply(f, &m, sizeof(uint64_t), F_VERSION_1);
		else if (m.hdr.request == VHU_REQ_GET_VRING_BASE)
			send_bad(f, &m);
		else if (m.hdr.flags & VHU_FLAG_NEED_REPLY)
			reply(f, &m, sizeof(uint64_t), 0);
	}
	return NULL;
}

static void bad_reply(enum bad_reply bad)
{
	int fds = leak_count_fds(), sv[2];
	struct fake f = { .bad = bad };
	struct vhu_frontend *fe;
	struct vhu_frontend_config cfg = {
		.timeout_ms = 3000,
		.features = F_VERSION_1,
		.num_queues = 1,
		.queue_size = 64,
		.mem_size = 1u << 20,
		.log = &quiet_log,
	};
	pthread_t thread;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f.sock = sv[1];
	cfg.fd = sv[0];
	assert_int_equal(pthread_create(&thread, NULL, fake_main, &f), 0);
	assert_int_equal(vhu_frontend_connect(&cfg, &fe), 0);
	assert_int_equal(vhu_frontend_start(fe), 0);
	assert_true(vhu_frontend_alive(fe));
	assert_int_equal(vhu_frontend_stop(fe), -EPROTO);
	assert_false(vhu_frontend_alive(fe));
	pthread_join(thread, NULL);
	assert_true(f.sent_bad);
	assert_true(f.saw_eof); /* shut down at once, not left open */
	assert_int_equal(f.after, 0);
	vhu_frontend_destroy(fe);
	close(sv[1]);
	assert_int_equal(leak_count_fds(), fds);
}

static void reply_too_short(void **state)
{
	(void)state;
	bad_reply(BAD_SHORT);
}

static void reply_too_long(void **state)
{
	(void)state;
	bad_reply(BAD_LONG);
}

static void reply_to_another_request(void **state)
{
	(void)state;
	bad_reply(BAD_OTHER_REQUEST);
}

static void reply_without_reply_flag(void **state)
{
	(void)state;
	bad_reply(BAD_NO_REPLY_FLAG);
}

static void reply_with_an_fd(void **state)
{
	(void)state;
	bad_reply(BAD_FD);
}

/* ---- in-band notifications: a back-end channel that lies (issue 20) ---- */

struct chan_fake {
	int sock;
	int chan; /* the channel end SET_BACKEND_REQ_FD brought (atomic) */
};

static void *chan_fake_main(void *arg)
{
	struct chan_fake *f = arg;

	for (;;) {
		struct vhu_msg m, r;
		int ret = vhu_msg_recv(f->sock, &m);
		uint64_t pf = VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			      VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
			      VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS) |
			      VHU_BIT(VHU_PROTOCOL_F_HOST_NOTIFIER) |
			      VHU_BIT(VHU_PROTOCOL_F_BACKEND_SEND_FD);

		if (ret < 0)
			break;
		if (m.hdr.request == VHU_REQ_SET_BACKEND_REQ_FD && m.nfds == 1)
			__atomic_store_n(&f->chan, vhu_msg_take_fd(&m, 0), __ATOMIC_RELEASE);
		vhu_msg_close_fds(&m);
		vhu_msg_init(&r, m.hdr.request, VHU_FLAG_REPLY, sizeof(uint64_t));
		if (m.hdr.request == VHU_REQ_GET_FEATURES)
			r.payload.u64 = F_VERSION_1 | VHU_BIT(VHU_F_PROTOCOL_FEATURES);
		else if (m.hdr.request == VHU_REQ_GET_PROTOCOL_FEATURES)
			r.payload.u64 = pf;
		else if (m.hdr.request == VHU_REQ_GET_VRING_BASE)
			r.payload.state = (struct vhost_vring_state){ m.payload.state.index, 0 };
		else if (!(m.hdr.flags & VHU_FLAG_NEED_REPLY))
			continue;
		(void)vhu_msg_send(f->sock, &r);
	}
	return NULL;
}

/* Send @m on the channel with NEED_REPLY; the front-end's u64 answer. */
static uint64_t chan_ask(int chan, struct vhu_msg *m)
{
	struct vhu_msg reply;

	m->hdr.flags |= VHU_FLAG_NEED_REPLY;
	assert_int_equal(vhu_msg_send(chan, m), 0);
	assert_int_equal(vhu_msg_recv(chan, &reply), 0);
	assert_int_equal(reply.hdr.request, m->hdr.request);
	assert_int_equal(reply.hdr.size, sizeof(uint64_t));
	return reply.payload.u64;
}

/*
 * BACKEND_VRING_CALL / _ERR for a ring the front-end does not have, with a
 * reserved num, an fd or a short payload: each refused (a failure ack) and
 * nothing signalled; then good ones wake the ring's wait and mark it broken.
 */
static void inband_channel_lies(void **state)
{
	int fds = leak_count_fds(), sv[2], chan, efd;
	struct chan_fake f = { .chan = -1 };
	struct vhu_frontend_config cfg = {
		.timeout_ms = 3000,
		.features = F_VERSION_1,
		.protocol_features = ~0ull,
		.num_queues = 1,
		.queue_size = 64,
		.mem_size = 1u << 20,
		.log = &quiet_log,
		.inband_notifications = true,
	};
	struct vhu_frontend_queue *q;
	struct vhu_frontend *fe;
	pthread_t thread;
	struct vhu_msg m;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f.sock = sv[1];
	cfg.fd = sv[0];
	assert_int_equal(pthread_create(&thread, NULL, chan_fake_main, &f), 0);
	assert_int_equal(vhu_frontend_connect(&cfg, &fe), 0);
	assert_true(vhu_frontend_protocol_features(fe) &
		    VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS));
	assert_int_equal(vhu_frontend_start(fe), 0);
	chan = __atomic_load_n(&f.chan, __ATOMIC_ACQUIRE);
	assert_true(chan >= 0);
	assert_int_equal(vhu_sock_set_timeouts(chan, 3000), 0);
	q = vhu_frontend_queue(fe, 0);

	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	m.payload.state = (struct vhost_vring_state){ 1, 0 }; /* no ring 1 */
	assert_true(chan_ask(chan, &m) != 0);
	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_ERR, 0, sizeof(struct vhost_vring_state));
	m.payload.state = (struct vhost_vring_state){ 255, 0 };
	assert_true(chan_ask(chan, &m) != 0);
	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	m.payload.state = (struct vhost_vring_state){ 0, 1 }; /* reserved num */
	assert_true(chan_ask(chan, &m) != 0);
	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_CALL, 0, 4); /* short */
	assert_true(chan_ask(chan, &m) != 0);
	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	efd = eventfd(0, EFD_CLOEXEC);
	m.fds[0] = efd; /* the row carries none */
	m.nfds = 1;
	assert_true(chan_ask(chan, &m) != 0);
	close(efd);
	assert_int_equal(vhu_frontend_queue_wait(q, 0), 0); /* nothing was signalled */
	assert_false(vhu_frontend_queue_broken(q));

	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	assert_int_equal(chan_ask(chan, &m), 0);
	assert_int_equal(vhu_frontend_queue_wait(q, 1000), 1);
	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_ERR, 0, sizeof(struct vhost_vring_state));
	assert_int_equal(chan_ask(chan, &m), 0);
	assert_true(vhu_frontend_queue_broken(q));
	assert_true(vhu_frontend_alive(fe));

	assert_int_equal(vhu_frontend_stop(fe), 0);
	vhu_frontend_destroy(fe);
	pthread_join(thread, NULL);
	close(chan);
	close(sv[1]);
	assert_int_equal(leak_count_fds(), fds);
}

/* ---- host notifiers: pages that do not fit (issue 20) ---- */

/* A memfd of @size bytes, sealed against shrinking when @seal. */
static int page_fd(size_t size, bool seal)
{
	int fd = memfd_create("hostile-doorbell", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	return fd;
}

/* BACKEND_VRING_HOST_NOTIFIER_MSG for @u64 (index, NOFD), @size, @offset, with @nfds copies of @fd.
 */
static uint64_t notifier_ask(int chan, uint64_t u64, uint64_t size, uint64_t offset, int fd,
			     unsigned int nfds)
{
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG, 0, sizeof(struct vhu_vring_area));
	m.payload.area = (struct vhu_vring_area){ u64, size, offset };
	for (unsigned int i = 0; i < nfds; i++)
		m.fds[i] = fd;
	m.nfds = nfds;
	return chan_ask(chan, &m);
}

/* A front-end with the fake back-end's channel; host notifiers asked for when @want. */
static struct vhu_frontend *notifier_fe(struct chan_fake *f, int sv[2], pthread_t *thread,
					bool want, int *chan)
{
	struct vhu_frontend_config cfg = {
		.timeout_ms = 3000,
		.features = F_VERSION_1,
		.protocol_features = ~0ull,
		.num_queues = 1,
		.queue_size = 64,
		.mem_size = 1u << 20,
		.log = &quiet_log,
		.host_notifiers = want,
	};
	struct vhu_frontend *fe;

	*f = (struct chan_fake){ .chan = -1 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[1];
	cfg.fd = sv[0];
	assert_int_equal(pthread_create(thread, NULL, chan_fake_main, f), 0);
	assert_int_equal(vhu_frontend_connect(&cfg, &fe), 0);
	assert_int_equal(
		!!(vhu_frontend_protocol_features(fe) & VHU_BIT(VHU_PROTOCOL_F_HOST_NOTIFIER)),
		want);
	assert_int_equal(vhu_frontend_start(fe), 0);
	*chan = __atomic_load_n(&f->chan, __ATOMIC_ACQUIRE);
	assert_true(*chan >= 0);
	assert_int_equal(vhu_sock_set_timeouts(*chan, 3000), 0);
	return fe;
}

static void notifier_fe_end(struct vhu_frontend *fe, pthread_t thread, int chan, int sv[2])
{
	assert_true(vhu_frontend_alive(fe));
	assert_int_equal(vhu_frontend_stop(fe), 0);
	vhu_frontend_destroy(fe);
	pthread_join(thread, NULL);
	close(chan);
	close(sv[1]);
}

/*
 * A back-end's doorbell pages, each wrong once: a ring the front-end does
 * not have, stray bits in the index word, a size that is not one page, an
 * unaligned offset, an offset past the file, no fd, two fds, NOFD with an
 * fd, an eventfd, a file that may shrink (SIGBUS on the next kick): each
 * refused with a failure ack, nothing mapped, the connection kept. Then a
 * good page: the kick stores the ring's index into it; NOFD takes it back
 * (and NOFD again is no error, as in QEMU). Without the bits negotiated the
 * message is refused.
 */
static void notifier_channel_lies(void **state)
{
	int fds = leak_count_fds(), sv[2], chan, efd, ok, loose;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct vhu_frontend_queue *q;
	struct vhu_frontend *fe;
	struct chan_fake f;
	pthread_t thread;
	uint16_t *page;

	(void)state;
	fe = notifier_fe(&f, sv, &thread, false, &chan);
	ok = page_fd(pg, true);
	assert_true(notifier_ask(chan, 0, pg, 0, ok, 1) != 0); /* not negotiated */
	assert_false(vhu_frontend_queue_has_doorbell(vhu_frontend_queue(fe, 0)));
	notifier_fe_end(fe, thread, chan, sv);

	fe = notifier_fe(&f, sv, &thread, true, &chan);
	q = vhu_frontend_queue(fe, 0);
	loose = page_fd(pg, false);
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(notifier_ask(chan, 1, pg, 0, ok, 1) != 0);	   /* no ring 1 */
	assert_true(notifier_ask(chan, 0x200, pg, 0, ok, 1) != 0); /* stray bit */
	assert_true(notifier_ask(chan, 0, 2 * pg, 0, ok, 1) != 0); /* two pages */
	assert_true(notifier_ask(chan, 0, 8, 0, ok, 1) != 0);	   /* a word */
	assert_true(notifier_ask(chan, 0, pg, 8, ok, 1) != 0);	   /* unaligned */
	assert_true(notifier_ask(chan, 0, pg, pg, ok, 1) != 0);	   /* past the end */
	assert_true(notifier_ask(chan, 0, pg, 0, -1, 0) != 0);	   /* no fd */
	assert_true(notifier_ask(chan, 0, pg, 0, ok, 2) != 0);	   /* two fds */
	assert_true(notifier_ask(chan, 0x100, 0, 0, ok, 1) != 0);  /* NOFD with one */
	assert_true(notifier_ask(chan, 0, pg, 0, efd, 1) != 0);	   /* an eventfd */
	assert_true(notifier_ask(chan, 0, pg, 0, loose, 1) != 0);  /* may shrink */
	assert_false(vhu_frontend_queue_has_doorbell(q));
	assert_int_equal(notifier_ask(chan, 0x100, 0, 0, -1, 0), 0); /* nothing to remove */

	assert_int_equal(notifier_ask(chan, 0, pg, 0, ok, 1), 0);
	assert_true(vhu_frontend_queue_has_doorbell(q));
	page = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ok, 0);
	assert_true(page != MAP_FAILED);
	page[0] = 0xffff;
	assert_int_equal(
		vhu_frontend_queue_add(q, &(struct iovec){ vhu_frontend_alloc(fe, 64, 64), 64 }, 1,
				       NULL, 0, fe),
		0);
	assert_int_equal(vhu_frontend_queue_kick(q), 1);
	assert_int_equal(page[0], 0); /* ring 0's index, in the page */
	assert_int_equal(notifier_ask(chan, 0x100, 0, 0, -1, 0), 0);
	assert_false(vhu_frontend_queue_has_doorbell(q));
	munmap(page, pg);
	close(ok);
	close(loose);
	close(efd);
	notifier_fe_end(fe, thread, chan, sv);
	assert_int_equal(leak_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inband_channel_lies),
		cmocka_unit_test(notifier_channel_lies),
		cmocka_unit_test(reply_too_short),
		cmocka_unit_test(reply_too_long),
		cmocka_unit_test(reply_to_another_request),
		cmocka_unit_test(reply_without_reply_flag),
		cmocka_unit_test(reply_with_an_fd),
	};

	return cmocka_run_group_tests_name("frontend_hostile", tests, NULL, NULL);
}
