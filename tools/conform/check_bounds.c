/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: the bounds of every message (the published CVE classes of
 * docs/SECURITY.md, the cases of tests/interop/hostile.py). The peer
 * must refuse (a non-zero REPLY_ACK) or close, never accept, crash or leak.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform.h"
#include <vhu/names.h>

#define SEC_MSG "vhost-user.rst: Message specification"
#define MIB (1ull << 20)

/* A hostile session: one connection, reopened when the peer closes it. */
struct hs {
	struct ctx *cx;
	struct conn c;
	uint64_t pfeatures;
	unsigned int refused, closed, tried;
	bool dead; /* the peer died or cannot be reached: no more cases */
	char accepted[320];
	char lenient[320];
};

static int hs_open(struct hs *h)
{
	int ret;

	if (h->dead)
		return -ECONNREFUSED;
	ret = conn_negotiate(h->cx, &h->c,
			     VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VHU_F_PROTOCOL_FEATURES),
			     h->pfeatures);
	h->dead = ret < 0;
	return ret;
}

static void append(char *buf, size_t size, const char *what)
{
	size_t n = strlen(buf);

	if (n + 4 < size)
		snprintf(buf + n, size - n, "%s%s", n ? ", " : "", what);
}

/*
 * Send one hostile request. @strict: acking it 0 fails the check;
 * otherwise it is reported as lenient.
 */
static void hs_try(struct hs *h, const char *what, bool strict, uint32_t req, const void *p,
		   uint32_t size, const int *fds, unsigned int nfds)
{
	uint64_t v;
	int ret;

	if (h->c.fd < 0 && hs_open(h) < 0)
		return;
	h->tried++;
	if (!h->c.ack) {
		conn_send(&h->c, req, VHU_VERSION, p, size, fds, nfds);
		return;
	}
	ret = conn_ack(&h->c, req, p, size, fds, nfds, &v);
	if (ret == -ECONNRESET || ret == -EPIPE) {
		h->closed++;
		conn_close(&h->c);
		for (int i = 0; i < 10 && peer_alive(h->cx); i++)
			sleep_ms(5); /* a peer that aborts closes first */
		if (!peer_alive(h->cx)) {
			fail(h->cx, "the peer died after: %s", what);
			h->dead = true;
		}
		return;
	}
	if (ret < 0) {
		fail(h->cx, "%s: %s", what, err_text(ret));
		h->dead = true;
		conn_close(&h->c);
		return;
	}
	if (v)
		h->refused++;
	else
		append(strict ? h->accepted : h->lenient,
		       strict ? sizeof(h->accepted) : sizeof(h->lenient), what);
}

static void hs_end(struct hs *h)
{
	uint64_t v;
	int ret;

	if (h->c.fd >= 0) {
		ret = conn_get_u64(&h->c, VHU_REQ_GET_FEATURES, &v);
		if (ret < 0 && ret != -ECONNRESET && ret != -EPIPE)
			fail(h->cx, "GET_FEATURES after the cases: %s", err_text(ret));
		conn_close(&h->c);
	}
	if (h->accepted[0])
		fail(h->cx, "acked 0 (success): %s", h->accepted);
	if (!h->tried || h->dead)
		return;
	if (!(h->pfeatures & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)) ||
	    !offered_pf(h->cx, VHU_PROTOCOL_F_REPLY_ACK))
		pass(h->cx, "%u cases sent; no REPLY_ACK: only survival is checked", h->tried);
	else
		pass(h->cx, "%u cases: %u refused, %u closed the connection", h->tried, h->refused,
		     h->closed);
	if (h->lenient[0])
		note(h->cx, "accepted (not a spec violation): %s", h->lenient);
}

static void hs_init(struct hs *h, struct ctx *cx, uint64_t extra_pf)
{
	*h = (struct hs){ .cx = cx, .c = { .fd = -1 } };
	h->pfeatures = VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) | extra_pf;
}

/* ---- framing ------------------------------------------------------------ */

static void payload_size(struct ctx *cx)
{
	static const uint32_t sizes[] = { VHU_MAX_PAYLOAD + 1, 0x10000, 0xffffffffu };
	uint8_t buf[sizeof(struct vhu_msg_hdr) + 64] = { 0 };
	unsigned int closed = 0;
	struct conn c;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vhu_msg_hdr h = { .request = VHU_REQ_GET_FEATURES,
					 .flags = VHU_VERSION,
					 .size = sizes[i] };
		int ret = conn_open(cx, &c);

		if (ret < 0)
			return fail(cx, "connect: %s", strerror(-ret));
		memcpy(buf, &h, sizeof(h));
		conn_raw(&c, buf, sizeof(buf));
		closed += (unsigned int)conn_wait_closed(&c, 500);
		conn_close(&c);
		if (!peer_alive(cx))
			return fail(cx, "the peer died after a header with size %u", sizes[i]);
	}
	pass(cx, "sizes 4097, 65536, 2^32-1: %u of 3 closed at once%s", closed,
	     closed < 3 ? ", the others waited for the payload" : "");
}

static void torn(struct ctx *cx)
{
	struct {
		uint32_t req, size, have;
	} pieces[] = {
		{ VHU_REQ_GET_FEATURES, 0, 6 },
		{ VHU_REQ_SET_FEATURES, 8, 12 + 4 },
		{ VHU_REQ_SET_MEM_TABLE, 8 + 32, 12 + 4 },
		{ VHU_REQ_GET_CONFIG, VHU_MAX_PAYLOAD, 12 + 100 },
	};
	uint8_t buf[256] = { 0 };
	struct conn c;

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct vhu_msg_hdr h = { .request = pieces[i].req,
					 .flags = VHU_VERSION,
					 .size = pieces[i].size };
		int ret = conn_open(cx, &c);

		if (ret < 0)
			return fail(cx, "connect: %s", strerror(-ret));
		memcpy(buf, &h, sizeof(h));
		buf[12] = 1;
		conn_raw(&c, buf, pieces[i].have);
		conn_close(&c);
	}
	pass(cx, "4 torn messages, each followed by a close");
}

static void flags(struct ctx *cx)
{
	static const uint32_t bad[] = { 0x0,
					0x2,
					0x3,
					VHU_VERSION | 0x10,
					VHU_VERSION | 0x80000000u,
					VHU_VERSION | VHU_FLAG_REPLY };
	char out[256] = "";
	struct vhu_msg m;
	struct conn c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char one[32];
		int ret = conn_open(cx, &c);

		if (ret < 0)
			return fail(cx, "connect: %s", strerror(-ret));
		conn_send(&c, VHU_REQ_GET_PROTOCOL_FEATURES, bad[i], NULL, 0, NULL, 0);
		ret = conn_send(&c, VHU_REQ_GET_FEATURES, VHU_VERSION, NULL, 0, NULL, 0);
		/* skip an answer to the bad message, if any */
		while (ret == 0 && (ret = conn_recv(&c, &m)) == 0 &&
		       m.hdr.request != VHU_REQ_GET_FEATURES)
			;
		snprintf(one, sizeof(one), "0x%x:%s", bad[i], ret == 0 ? "goes on" : "dropped");
		append(out, sizeof(out), one);
		conn_close(&c);
		if (!peer_alive(cx))
			return fail(cx, "the peer died after flags 0x%x", bad[i]);
	}
	pass(cx, "%s", out);
}

/* ---- fds ---------------------------------------------------------------- */

static int settle_nfds(struct ctx *cx, int want)
{
	int n = peer_nfds(cx);

	for (int i = 0; i < 50 && n > want; i++) {
		sleep_ms(20);
		n = peer_nfds(cx);
	}
	return n;
}

static void fd_counts(struct ctx *cx)
{
	struct vhu_mem_table mt = { 0 };
	int m = memfd_create("vhu-conform", MFD_CLOEXEC), e = eventfd(0, EFD_CLOEXEC);
	int fds[9], nfds0 = -1, nfds1;
	uint64_t idx = 0;
	struct vhu_msg r;
	struct hs h;

	if (m < 0 || e < 0 || ftruncate(m, MIB) < 0) {
		fail(cx, "memfd/eventfd: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 9; i++)
		fds[i] = m;
	{ /* the baseline: after one clean connection */
		struct conn c;

		if (conn_default(cx, &c) < 0)
			goto out;
		conn_close(&c);
		nfds0 = settle_nfds(cx, 0);
	}
	hs_init(&h, cx, 0);
	if (hs_open(&h) < 0)
		goto out;
	/* fds on a request that takes none: it is answered or refused, the fds go */
	conn_send(&h.c, VHU_REQ_GET_FEATURES, VHU_VERSION, NULL, 0, fds, 2);
	conn_recv(&h.c, &r);
	hs_try(&h, "SET_VRING_KICK with 2 fds", true, VHU_REQ_SET_VRING_KICK, &idx, 8, fds, 2);
	for (unsigned int i = 0; i < 9; i++)
		mt.regions[i % 8] =
			(struct vhu_mem_region){ .guest_phys_addr = i * MIB,
						 .memory_size = MIB / 2,
						 .userspace_addr = 0x10000000 + i * MIB };
	mt.nregions = 2;
	hs_try(&h, "SET_MEM_TABLE 2 regions 1 fd", true, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 64, fds,
	       1);
	mt.nregions = 1;
	hs_try(&h, "SET_MEM_TABLE 1 region 2 fds", true, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 32, fds,
	       2);
	mt.nregions = 9;
	hs_try(&h, "SET_MEM_TABLE 9 regions", true, VHU_REQ_SET_MEM_TABLE, &mt, sizeof(mt), fds, 8);
	mt.nregions = 0xffffffffu;
	hs_try(&h, "SET_MEM_TABLE nregions 2^32-1", true, VHU_REQ_SET_MEM_TABLE, &mt, sizeof(mt),
	       fds, 8);
	hs_end(&h);
	if (nfds0 >= 0) {
		nfds1 = settle_nfds(cx, nfds0);
		if (nfds1 > nfds0)
			fail(cx, "the peer holds %d fds, %d before (CVE-2019-14818: fds leaked)",
			     nfds1, nfds0);
		else
			note(cx, "no fd leaked (%d open)", nfds1);
	}
out:
	if (m >= 0)
		close(m);
	if (e >= 0)
		close(e);
}

/* ---- indices and sizes -------------------------------------------------- */

static void queue_index(struct ctx *cx)
{
	/* vhost-user-net counts queue pairs in GET_QUEUE_NUM (QEMU, DPDK): 2 rings each */
	unsigned int pairs = cx->type && !strcmp(cx->type, "net") ? 2 : 1;
	unsigned int first = (cx->num_queues ? cx->num_queues : 1) * pairs;
	static const uint32_t big[] = { 256, 0x10000, 0xffffffffu };
	struct vhost_vring_addr a = { .used_user_addr = 0x1000, .avail_user_addr = 0x2000 };
	struct vhost_vring_state st;
	char what[64];
	struct hs h;

	if (first > 256)
		first = 256; /* a peer with 256 rings: only the indices past 255 */
	hs_init(&h, cx, 0);
	for (unsigned int idx = first; idx < 256; idx++) {
		static const uint32_t reqs[] = { VHU_REQ_SET_VRING_NUM, VHU_REQ_SET_VRING_BASE,
						 VHU_REQ_SET_VRING_ENABLE };
		uint64_t nofd = idx | VHU_VRING_NOFD_MASK;

		for (size_t k = 0; k < sizeof(reqs) / sizeof(reqs[0]); k++) {
			st = (struct vhost_vring_state){ .index = idx, .num = 16 };
			snprintf(what, sizeof(what), "%s index %u", vhu_request_name(reqs[k]) + 11,
				 idx);
			hs_try(&h, what, true, reqs[k], &st, sizeof(st), NULL, 0);
		}
		a.index = idx;
		snprintf(what, sizeof(what), "SET_VRING_ADDR index %u", idx);
		hs_try(&h, what, true, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		snprintf(what, sizeof(what), "SET_VRING_CALL index %u", idx);
		hs_try(&h, what, true, VHU_REQ_SET_VRING_CALL, &nofd, 8, NULL, 0);
		if (h.accepted[0] && strlen(h.accepted) > 200)
			break;
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		st = (struct vhost_vring_state){ .index = big[i], .num = 16 };
		snprintf(what, sizeof(what), "SET_VRING_NUM index 0x%x", big[i]);
		hs_try(&h, what, true, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	}
	hs_end(&h);
	if (first < 256)
		note(cx, "indices %u..255, 256, 2^16, 2^32-1", first);
	else
		note(cx, "indices 256, 2^16, 2^32-1 (the peer has 256 rings)");
}

static void vring_num(struct ctx *cx)
{
	static const uint32_t nums[] = { 0, 65536, 0xffffffffu };
	struct vhost_vring_state st = { .index = 0 };
	char what[48];
	struct hs h;

	hs_init(&h, cx, 0);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		st.num = nums[i];
		snprintf(what, sizeof(what), "SET_VRING_NUM %u", nums[i]);
		hs_try(&h, what, true, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	}
	st.num = 3;
	hs_try(&h, "SET_VRING_NUM 3 (split: not a power of 2)", false, VHU_REQ_SET_VRING_NUM, &st,
	       sizeof(st), NULL, 0);
	hs_end(&h);
}

static void mem_regions(struct ctx *cx)
{
	int a = memfd_create("vhu-conform", MFD_CLOEXEC);
	int small = memfd_create("vhu-conform-small", MFD_CLOEXEC);
	int e = eventfd(0, EFD_CLOEXEC), p[2] = { -1, -1 };
	const struct {
		const char *what;
		bool strict;
		struct vhu_mem_region r;
		int which; /* 0 memfd, 1 small memfd, 2 pipe, 3 eventfd */
	} cases[] = {
		{ "gpa wraps", true, { UINT64_MAX - 4095, 8192, 0x10000000, 0 }, 0 },
		{ "uva wraps", true, { 0, MIB, UINT64_MAX - 4095, 0 }, 0 },
		{ "offset wraps", true, { 0, 4096, 0x10000000, UINT64_MAX - 4095 }, 0 },
		{ "offset past off_t", true, { 0, 4096, 0x10000000, 1ull << 63 }, 0 },
		{ "size 0", false, { 0, 0, 0x10000000, 0 }, 0 },
		{ "size 2^64-1", true, { 0, UINT64_MAX, 0x10000000, 0 }, 0 },
		{ "fd smaller than the region", true, { 0, MIB, 0x10000000, 0 }, 1 },
		{ "offset past the fd's end", true, { 0, 4096, 0x10000000, MIB }, 0 },
		{ "a pipe", true, { 0, MIB, 0x10000000, 0 }, 2 },
		{ "an eventfd", true, { 0, MIB, 0x10000000, 0 }, 3 },
	};
	struct vhu_mem_table mt = { .nregions = 1 };
	struct hs h;

	if (a < 0 || small < 0 || e < 0 || pipe(p) < 0 || ftruncate(a, MIB) < 0 ||
	    ftruncate(small, 4096) < 0) {
		fail(cx, "memfd/pipe/eventfd: %s", strerror(errno));
		goto out;
	}
	hs_init(&h, cx, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fds[] = { a, small, p[0], e };

		mt.regions[0] = cases[i].r;
		hs_try(&h, cases[i].what, cases[i].strict, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 32,
		       &fds[cases[i].which], 1);
	}
	mt.nregions = 2;
	mt.regions[0] = (struct vhu_mem_region){ 0, MIB, 0x10000000, 0 };
	mt.regions[1] = (struct vhu_mem_region){ MIB / 2, MIB, 0x20000000, 0 };
	{
		int two[] = { a, a };

		hs_try(&h, "overlapping regions", false, VHU_REQ_SET_MEM_TABLE, &mt, 8 + 64, two,
		       2);
	}
	hs_end(&h);
out : {
	int all[] = { a, small, e, p[0], p[1] };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] >= 0)
			close(all[i]);
}
}

static void log_base(struct ctx *cx)
{
	int m = memfd_create("vhu-conform-log", MFD_CLOEXEC);
	const struct vhu_log_area cases[] = {
		{ UINT64_MAX - 4095, 8192 }, /* CVE-2020-10722: size + offset overflow */
		{ 4096, UINT64_MAX - 2047 },
		{ 0, 0 },
	};
	struct hs h;

	if (!offered_pf(cx, VHU_PROTOCOL_F_LOG_SHMFD)) {
		na(cx, "LOG_SHMFD not offered");
		goto out;
	}
	if (m < 0 || ftruncate(m, 4096) < 0) {
		fail(cx, "memfd: %s", strerror(errno));
		goto out;
	}
	hs_init(&h, cx, VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD));
	hs_try(&h, "size 2^64-4096 + offset 8192", true, VHU_REQ_SET_LOG_BASE, &cases[0], 16, &m,
	       1);
	hs_try(&h, "offset 2^64-2048", true, VHU_REQ_SET_LOG_BASE, &cases[1], 16, &m, 1);
	hs_try(&h, "size 0", false, VHU_REQ_SET_LOG_BASE, &cases[2], 16, &m, 1);
	hs_end(&h);
out:
	if (m >= 0)
		close(m);
}

static void inflight(struct ctx *cx)
{
	int m = memfd_create("vhu-conform-inflight", MFD_CLOEXEC), n0, n1;
	struct vhu_inflight in = { .mmap_size = 4096, .num_queues = 0xffff, .queue_size = 0xffff };
	struct hs h;

	if (!offered_pf(cx, VHU_PROTOCOL_F_INFLIGHT_SHMFD)) {
		na(cx, "INFLIGHT_SHMFD not offered");
		goto out;
	}
	if (m < 0 || ftruncate(m, 4096) < 0) {
		fail(cx, "memfd: %s", strerror(errno));
		goto out;
	}
	hs_init(&h, cx, VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD));
	/* CVE-2021-3839: num_queues beyond the device's */
	hs_try(&h, "SET_INFLIGHT_FD 65535 queues of 65535 in 4 KiB", true, VHU_REQ_SET_INFLIGHT_FD,
	       &in, sizeof(in), &m, 1);
	in = (struct vhu_inflight){ .mmap_size = 4096,
				    .mmap_offset = UINT64_MAX - 2047,
				    .num_queues = 1,
				    .queue_size = 16 };
	hs_try(&h, "SET_INFLIGHT_FD offset wraps", true, VHU_REQ_SET_INFLIGHT_FD, &in, sizeof(in),
	       &m, 1);
	hs_end(&h);
	/* CVE-2020-10726: repeated GET_INFLIGHT_FD must not pile up fds or maps */
	n0 = peer_nfds(cx);
	for (int i = 0; i < 20; i++) {
		struct vhu_msg r;

		if (h.c.fd < 0 && hs_open(&h) < 0)
			goto out;
		in = (struct vhu_inflight){ .num_queues = 1, .queue_size = 16 };
		if (conn_call(&h.c, VHU_REQ_GET_INFLIGHT_FD, &in, sizeof(in), &r) < 0)
			conn_close(&h.c);
	}
	conn_close(&h.c);
	n1 = settle_nfds(cx, n0);
	if (n0 >= 0 && n1 > n0)
		fail(cx, "20 GET_INFLIGHT_FD: the peer holds %d fds, %d before", n1, n0);
	else
		note(cx, "20 GET_INFLIGHT_FD: no fd piled up");
out:
	if (m >= 0)
		close(m);
}

static void config(struct ctx *cx)
{
	static const uint32_t cases[][3] = {
		{ 0xffffffffu, 16, 16 }, { 0xfffffff0u, 0x20, 0x20 },	   { 16, 0xfffffff0u, 16 },
		{ 0, 0xffffffffu, 256 }, { 0x80000000u, 0x80000000u, 16 },
	};
	struct vhu_config cfg;
	struct vhu_msg r;
	struct conn c;
	int ret;

	if (!offered_pf(cx, VHU_PROTOCOL_F_CONFIG))
		return na(cx, "CONFIG not offered");
	if (conn_default(cx, &c) < 0)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.offset = cases[i][0];
		cfg.size = cases[i][1];
		ret = conn_call(&c, VHU_REQ_GET_CONFIG, &cfg, VHU_CONFIG_HDR_SIZE + cases[i][2],
				&r);
		if (ret == -ECONNRESET || ret == -EPIPE) {
			conn_close(&c);
			if (conn_default(cx, &c) < 0)
				return;
			continue;
		}
		if (ret < 0) {
			fail(cx, "GET_CONFIG 0x%x+0x%x: %s", cases[i][0], cases[i][1],
			     err_text(ret));
			break;
		}
		if (r.hdr.size > sizeof(struct vhu_config) ||
		    (r.hdr.size >= VHU_CONFIG_HDR_SIZE && r.payload.config.size != 0)) {
			fail(cx,
			     "GET_CONFIG 0x%x+0x%x answered %u bytes, config size %u: not a "
			     "failure (size 0)",
			     cases[i][0], cases[i][1], r.hdr.size, r.payload.config.size);
			break;
		}
	}
	conn_close(&c);
	pass(cx, "5 out-of-range GET_CONFIG failed (size 0) or closed");
}

static void iotlb(struct ctx *cx)
{
	struct vhost_iotlb_msg m = { .iova = 0x1000,
				     .size = 0x1000,
				     .uaddr = 0x7f0000000000ull,
				     .perm = VHOST_ACCESS_RW,
				     .type = VHOST_IOTLB_UPDATE };
	struct hs h;

	hs_init(&h, cx, 0);
	hs_try(&h, "IOTLB_MSG without ACCESS_PLATFORM", true, VHU_REQ_IOTLB_MSG, &m, sizeof(m),
	       NULL, 0);
	hs_end(&h);
}

const struct check conform_checks_bounds[] = {
	{ "bounds-payload-size", "bounds", SEC_MSG,
	  "a header announcing more payload than any message has is not trusted", payload_size, 0 },
	{ "bounds-torn", "bounds", "vhost-user.rst: Communication",
	  "a front-end unable to send the full message closes the connection: the back-end "
	  "survives it",
	  torn, 0 },
	{ "bounds-flags", "bounds", SEC_MSG,
	  "flags: version 1 in bits 0-1, REPLY and NEED_REPLY; other values are not trusted", flags,
	  0 },
	{ "bounds-fd-count", "bounds",
	  "vhost-user.rst: Communication; CVE-2019-14818, CVE-2022-0669",
	  "fds are passed only with the messages that take them, one per region; extra fds are "
	  "not kept",
	  fd_counts, 0 },
	{ "bounds-queue-index", "bounds", "vhost-user.rst: Multiple queue support; CVE-2020-10723",
	  "ring requests for a queue beyond the back-end's are refused", queue_index, 0 },
	{ "bounds-vring-num", "bounds", "vhost-user.rst: VHOST_USER_SET_VRING_NUM; CVE-2019-14818",
	  "a ring size of 0 or beyond 32768 is refused", vring_num, 0 },
	{ "bounds-mem-regions", "bounds", "vhost-user.rst: Memory access; CVE-2018-1059",
	  "memory regions that wrap, exceed their fd or are not mappable are refused", mem_regions,
	  0 },
	{ "bounds-log-base", "bounds", "vhost-user.rst: Migration; CVE-2020-10722",
	  "a log whose size + offset overflows is refused", log_base, 0 },
	{ "bounds-inflight", "bounds",
	  "vhost-user.rst: Inflight I/O tracking; CVE-2021-3839, CVE-2020-10726",
	  "an inflight region for more queues than the device has, or that wraps, is refused; "
	  "repeated GET_INFLIGHT_FD leaks nothing",
	  inflight, 0 },
	{ "bounds-config", "bounds", "vhost-user.rst: VHOST_USER_GET_CONFIG",
	  "a config read outside the config space fails (a reply of size 0)", config, 0 },
	{ "bounds-iotlb", "bounds", "vhost-user.rst: IOMMU support",
	  "IOTLB_MSG is refused when VIRTIO_F_IOMMU_PLATFORM was not negotiated", iotlb, 0 },
	{ 0 },
};
