/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frontend: lib/frontend against a back-end whose every answer comes
 * from the fuzzer. A thread plays the back-end on a socketpair: it reads
 * each request the front-end sends and, whenever the front-end waits for an
 * answer (the row's reply rule, or NEED_REPLY), answers it as the input
 * says: a sensible reply, a payload of the fuzzer's, a header of the
 * fuzzer's, the reply twice, a torn message, with or without fds. Before an
 * answer it may send a request of the fuzzer's on the back-end channel
 * (BACKEND_*: config change, IOTLB miss, in-band calls, unknown ids, fds).
 * The main thread drives the public API: connect, start, add and kick a
 * request, wait, config space, dirty log, enable, RARP, stop, reset.
 *
 * Input (numbers little-endian, missing bytes read as 0):
 *   bytes 0-7    the features GET_FEATURES offers when answered sensibly
 *   bytes 8-15   the protocol features GET_PROTOCOL_FEATURES offers
 *   byte 16      which API calls run after connect (bit per call, below)
 *   byte 17      bit 0: two queues; bit 1: 16 entries (else 8); bit 2:
 *                in-band notifications wanted; bit 3: the vhost-pci
 *                opt-in (vhu_frontend_poll() after start and at the end);
 *                bit 5: host notifiers wanted
 *                bit 4: a shared-object table (SHARED_OBJECT wanted)
 *   then one record per answer the front-end waits for:
 *     byte k     k & 7: 0 sensible (AUTO), 1 BODY (u16 size, bytes),
 *                2 HDR (u32 request, u32 flags, then as BODY), 3 TORN (u8
 *                n, n bytes, then the back-end leaves), 4 TWICE (the
 *                sensible answer twice); others as 0
 *                k & 8: an eventfd rides along; k & 16: a one-page memfd
 *                k & 32: first a back-end request on the channel: u8 id,
 *                u8 flags (bit 0 NEED_REPLY, bit 1 no version, bit 4 a
 *                one-page memfd sealed against shrinking rides along, bit 5
 *                two of them), u16 size,
 *                bytes; k & 64: with an eventfd, or with flags bit 2 a
 *                four-page memfd (BACKEND_SHMEM_MAP)
 *                k & 128: first a message on the main socket (vhost-pci's
 *                SET_FEATURES): u32 request, u32 flags, u16 size, bytes
 *   When the input runs out the back-end leaves (closes its end).
 *
 * Oracles: sanitizers; no hang (libFuzzer's -timeout); every fd the input
 * made is closed at the end (the process holds as many as before).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhu/frontend.h>
#include <vhu/protocol.h>
#include <vhu/wire.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_BYTES 18u
#define MAX_ANSWERS 64u

enum { AUTO, BODY, HDR, TORN, TWICE };

enum {
	OP_START = 1 << 0,
	OP_REQUEST = 1 << 1,
	OP_CONFIG = 1 << 2,
	OP_LOG = 1 << 3,
	OP_ENABLE = 1 << 4,
	OP_RARP = 1 << 5,
	OP_STOP = 1 << 6,
	OP_RESET = 1 << 7,
};

struct input {
	const uint8_t *data;
	size_t size, pos;
};

struct fake {
	int sock, chan;
	struct input in;
	uint64_t features, protocol;
	unsigned int answers;
};

static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		if (in->pos < in->size)
			v |= (uint64_t)in->data[in->pos++] << (8 * i);
	return v;
}

static void take_bytes(struct input *in, void *buf, size_t n)
{
	size_t have = in->size - in->pos < n ? in->size - in->pos : n;

	memset(buf, 0, n);
	memcpy(buf, in->data + in->pos, have);
	in->pos += have;
}

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_FUZZ_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_ERR };

static void add_fds(struct vhu_msg *m, unsigned int k, bool memfd_too)
{
	if (k & 8) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd >= 0)
			m->fds[m->nfds++] = fd;
	}
	if (memfd_too && (k & 16)) {
		int fd = memfd_create("fuzz_frontend", MFD_CLOEXEC);

		if (fd >= 0 && ftruncate(fd, 4 * 4096) == 0)
			m->fds[m->nfds++] = fd;
		else if (fd >= 0)
			close(fd);
	}
}

static void send_close(int sock, struct vhu_msg *m)
{
	if (sock >= 0)
		(void)vhu_msg_send(sock, m);
	vhu_msg_close_fds(m);
}

/* What a well-behaved back-end answers to @req. */
static void auto_answer(struct fake *f, const struct vhu_msg *req, struct vhu_msg *m)
{
	const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_BACKEND, req->hdr.request);
	uint32_t size = VHU_ACK_SIZE;

	if (rule && rule->reply == VHU_REPLY_ALWAYS)
		size = rule->reply_min_size;
	vhu_msg_init(m, req->hdr.request, VHU_FLAG_REPLY | VHU_VERSION, size);
	switch (req->hdr.request) {
	case VHU_REQ_GET_FEATURES:
		m->payload.u64 = f->features;
		break;
	case VHU_REQ_GET_PROTOCOL_FEATURES:
		m->payload.u64 = f->protocol;
		break;
	case VHU_REQ_GET_QUEUE_NUM:
		m->payload.u64 = 2;
		break;
	case VHU_REQ_GET_MAX_MEM_SLOTS:
		m->payload.u64 = 8;
		break;
	case VHU_REQ_GET_VRING_BASE:
		m->payload.state = req->payload.state;
		break;
	case VHU_REQ_GET_CONFIG:
		m->hdr.size = req->hdr.size;
		m->payload.config.offset = req->payload.config.offset;
		m->payload.config.size = req->payload.config.size;
		break;
	case VHU_REQ_GET_SHMEM_CONFIG: /* regions 0 and 2 */
		m->hdr.size = sizeof(struct vhu_shmem_config);
		memset(&m->payload.shmem_config, 0, sizeof(m->payload.shmem_config));
		m->payload.shmem_config.nregions = 2;
		m->payload.shmem_config.memory_sizes[0] = 64 << 10;
		m->payload.shmem_config.memory_sizes[2] = 4096;
		break;
	case VHU_REQ_GET_SHARED_OBJECT: /* the object: a memfd */
		m->fds[0] = memfd_create("fuzz_frontend", MFD_CLOEXEC);
		m->nfds = m->fds[0] >= 0;
		break;
	default:
		break;
	}
}

static void chan_send(struct fake *f, unsigned int k)
{
	struct vhu_msg m;
	uint32_t id = (uint32_t)take(&f->in, 1), flags = (uint32_t)take(&f->in, 1);
	uint32_t size = (uint32_t)take(&f->in, 2) % (VHU_MAX_PAYLOAD + 1);

	vhu_msg_init(&m, id, (flags & 2) ? 0 : VHU_VERSION, size);
	if (flags & 1)
		m.hdr.flags |= VHU_FLAG_NEED_REPLY;
	take_bytes(&f->in, &m.payload, size);
	if ((k & 64) && (flags & 4))
		add_fds(&m, 16, true); /* a memfd to map */
	else if (k & 64)
		add_fds(&m, 8, false);
	for (unsigned int i = 0; i < ((flags & 32) ? 2u : (flags & 16) ? 1u : 0u); i++) {
		/* a doorbell page as a back-end makes it (lib/backend/notifier.c) */
		int fd = memfd_create("fuzz_doorbell", MFD_CLOEXEC | MFD_ALLOW_SEALING);

		if (fd >= 0 && ftruncate(fd, 4096) == 0 &&
		    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0)
			m.fds[m.nfds++] = fd;
		else if (fd >= 0)
			close(fd);
	}
	send_close(f->chan, &m);
}

/* Answer one request. Return: false when the back-end leaves. */
static bool answer(struct fake *f, const struct vhu_msg *req)
{
	struct vhu_msg m;
	unsigned int k;

	if (f->in.pos >= f->in.size || ++f->answers > MAX_ANSWERS)
		return false;
	k = (unsigned int)take(&f->in, 1);
	if (k & 32)
		chan_send(f, k);
	if (k & 128) {
		vhu_msg_init(&m, (uint32_t)take(&f->in, 4), 0, 0);
		m.hdr.flags = (uint32_t)take(&f->in, 4);
		m.hdr.size = (uint32_t)take(&f->in, 2) % (VHU_MAX_PAYLOAD + 1);
		take_bytes(&f->in, &m.payload, m.hdr.size);
		send_close(f->sock, &m);
	}
	switch (k & 7) {
	case BODY:
	case HDR:
		vhu_msg_init(&m, req->hdr.request, VHU_FLAG_REPLY | VHU_VERSION, 0);
		if ((k & 7) == HDR) {
			m.hdr.request = (uint32_t)take(&f->in, 4);
			m.hdr.flags = (uint32_t)take(&f->in, 4);
		}
		m.hdr.size = (uint32_t)take(&f->in, 2) % (VHU_MAX_PAYLOAD + 1);
		take_bytes(&f->in, &m.payload, m.hdr.size);
		break;
	case TORN: {
		uint8_t buf[256];
		size_t n = (size_t)take(&f->in, 1);

		take_bytes(&f->in, buf, n);
		(void)!send(f->sock, buf, n, MSG_NOSIGNAL);
		return false;
	}
	case TWICE:
		auto_answer(f, req, &m);
		send_close(f->sock, &m);
		auto_answer(f, req, &m);
		break;
	default:
		auto_answer(f, req, &m);
		break;
	}
	add_fds(&m, k, true);
	send_close(f->sock, &m);
	return true;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct vhu_msg m;
		const struct vhu_rule *rule;
		int ret = vhu_msg_recv(f->sock, &m);
		bool due;

		if (ret < 0 && ret != -EBADMSG)
			break;
		rule = vhu_rule_find(VHU_DIR_TO_BACKEND, m.hdr.request);
		/* with LOG_SHMFD (the log's fd) SET_LOG_BASE is always answered */
		due = (m.hdr.flags & VHU_FLAG_NEED_REPLY) ||
		      (rule && rule->reply == VHU_REPLY_ALWAYS) ||
		      (m.hdr.request == VHU_REQ_SET_LOG_BASE && m.nfds == 1);
		if (m.hdr.request == VHU_REQ_SET_BACKEND_REQ_FD && m.nfds == 1 && f->chan < 0)
			f->chan = vhu_msg_take_fd(&m, 0);
		vhu_msg_close_fds(&m);
		if (due && !answer(f, &m))
			break;
	}
	/* the back-end leaves: both ends see it */
	(void)shutdown(f->sock, SHUT_RDWR);
	if (f->chan >= 0)
		(void)shutdown(f->chan, SHUT_RDWR);
	return NULL;
}

static void drive(struct vhu_frontend *fe, unsigned int ops)
{
	struct vhu_frontend_queue *q;
	uint8_t buf[16], mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
	uint8_t bitmap[64];

	if ((ops & OP_START) && vhu_frontend_start(fe) < 0)
		return;
	(void)vhu_frontend_poll(fe, 0); /* -ENOTSUP without vhost-pci */
	q = vhu_frontend_queue(fe, 0);
	if ((ops & OP_REQUEST) && q) {
		uint8_t *p = vhu_frontend_alloc(fe, 64, 16);
		struct iovec out = { p, 16 }, in = { p ? p + 16 : NULL, 16 };
		void *token;
		uint32_t len;

		if (p && vhu_frontend_queue_add(q, &out, 1, &in, 1, p) == 0)
			(void)vhu_frontend_queue_kick(q);
		(void)vhu_frontend_queue_wait(q, 0);
		while (vhu_frontend_queue_get(q, &token, &len) > 0)
			;
		(void)vhu_frontend_queue_broken(q);
	}
	if (ops & OP_CONFIG) {
		int fd;

		(void)vhu_frontend_get_config(fe, 0, buf, sizeof(buf));
		(void)vhu_frontend_set_config(fe, 4, buf, 4);
		/* and the shared objects and memory (what the channel mapped) */
		if (vhu_frontend_shared_object_get(fe, buf, &fd) == 0)
			close(fd);
		(void)vhu_frontend_shmem_read(fe, 0, 0, buf, sizeof(buf));
	}
	if ((ops & OP_LOG) && vhu_frontend_log_start(fe) == 0) {
		(void)vhu_frontend_log_read(fe, bitmap, sizeof(bitmap));
		(void)vhu_frontend_log_stop(fe);
	}
	if ((ops & OP_ENABLE) && q) {
		(void)vhu_frontend_queue_enable(q, false);
		(void)vhu_frontend_queue_enable(q, true);
	}
	if (ops & OP_RARP)
		(void)vhu_frontend_send_rarp(fe, mac);
	if (ops & OP_STOP)
		(void)vhu_frontend_stop(fe);
	if (ops & OP_RESET)
		(void)vhu_frontend_reset(fe);
	(void)vhu_frontend_poll(fe, 0);
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_frontend_config cfg = {
		.features = ~(1ull << VHU_F_PROTOCOL_FEATURES),
		.protocol_features = ~0ull,
		.timeout_ms = 2000,
		.mem_size = 64 << 10,
		.log = &quiet_log,
	};
	struct fake f = { .chan = -1, .in = { data, size, 0 } };
	struct vhu_frontend *fe = NULL;
	unsigned int before = count_fds(), ops, shape;
	pthread_t thread;
	int sv[2];

	f.features = take(&f.in, 8);
	f.protocol = take(&f.in, 8);
	ops = (unsigned int)take(&f.in, 1);
	shape = (unsigned int)take(&f.in, 1);
	cfg.num_queues = (shape & 1) ? 2 : 1;
	cfg.queue_size = (shape & 2) ? 16 : 8;
	if (!(shape & 4))
		cfg.protocol_features &= ~VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS);
	cfg.host_notifiers = shape & 32;
	cfg.vhost_pci = shape & 8;
	if ((shape & 16) && vhu_frontend_objects_create(&cfg.objects) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f.sock = sv[1];
	cfg.fd = sv[0];
	if (pthread_create(&thread, NULL, fake_main, &f))
		abort();
	if (vhu_frontend_connect(&cfg, &fe) == 0)
		drive(fe, ops);
	vhu_frontend_destroy(fe); /* closes its socket: the fake sees the end */
	pthread_join(thread, NULL);
	vhu_frontend_objects_destroy(cfg.objects);
	close(f.sock);
	if (f.chan >= 0)
		close(f.chan);
	if (count_fds() != before) {
		fprintf(stderr, "fuzz_frontend: %u fds before the input, %u after\n", before,
			count_fds());
		abort();
	}
	return 0;
}
