/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: the data queue as a packed ring (VIRTIO_F_RING_PACKED):
 * well-formed requests across a wrap, and the hostile contents the split
 * ring checks send, in the packed layout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

#define SEC_PACKED "virtio 1.1 2.7: Packed Virtqueues"
#define REQUESTS 8u  /* well-formed requests: more descriptors than the ring has */
#define QUIET_MS 50u /* after a hostile chain, before the CPU is measured */
#define CPU_MS 100u  /* how long the peer's CPU use is measured per case */

static bool offered(struct ctx *cx)
{
	if (rig_queue(cx) < 0) {
		na(cx, "no data queue known for device type %s", cx->type ? cx->type : "(unknown)");
		return false;
	}
	if (!(cx->features & VHU_BIT(VIRTIO_F_RING_PACKED))) {
		na(cx, "VIRTIO_F_RING_PACKED not offered");
		return false;
	}
	return true;
}

static void packed_requests(struct ctx *cx)
{
	struct vhost_vring_state st;
	struct vhu_msg m;
	struct rig r;
	int ret = 0;

	if (!offered(cx) || rig_data(cx, &r, RIG_ENABLE | RIG_PACKED, 0) < 0)
		return;
	for (unsigned int i = 0; i < REQUESTS && ret == 0; i++) {
		uint16_t want = (uint16_t)(rig_used_idx(&r) + 1);
		int head = rig_post(&r, cx->type);

		rig_kick(&r);
		ret = rig_wait_used(&r, want, cx->timeout_ms);
		if (ret == 0 && !strcmp(cx->type, "blk") && rig_slot(&r, (unsigned int)head + 2)[0])
			ret = -EIO;
	}
	if (ret < 0) {
		fail(cx, "request %u of %u on a packed ring: %s", rig_used_idx(&r) + 1, REQUESTS,
		     ret == -EIO ? "status not VIRTIO_BLK_S_OK" : err_text(ret));
		return rig_close(&r);
	}
	/* vhost-user.rst, VHOST_USER_GET_VRING_BASE: bit 15 is the wrap counter */
	st = (struct vhost_vring_state){ .index = r.q };
	ret = conn_call(&r.c, VHU_REQ_GET_VRING_BASE, &st, sizeof(st), &m);
	if (ret < 0) {
		fail(cx, "GET_VRING_BASE: %s", err_text(ret));
	} else {
		unsigned int want = r.pk_next | (r.pk_wrap ? 0x8000u : 0);

		if (m.hdr.size != sizeof(st) || (m.payload.state.num & 0xffff) != want)
			fail(cx,
			     "GET_VRING_BASE answered 0x%x, want 0x%x (index %u, wrap counter %u)",
			     m.payload.state.num, want, r.pk_next, r.pk_wrap);
		else
			pass(cx,
			     "%u requests completed across the ring's wrap; GET_VRING_BASE 0x%x",
			     REQUESTS, m.payload.state.num);
	}
	rig_close(&r);
}

/* ---- hostile contents --------------------------------------------------- */

static uint16_t wflag(const struct ctx *cx)
{
	return cx->type && !strcmp(cx->type, "rng") ? VRING_DESC_F_WRITE : 0;
}

static void build_addr(struct ctx *cx, struct rig *r)
{
	struct rig_seg s[] = {
		{ 0xdead00000000ull, 512, wflag(cx) },	      /* not in memory */
		{ RIG_MEM_SIZE - 8, 4096, wflag(cx) },	      /* runs past the end */
		{ 0xfffffffffffff000ull, 0x2000, wflag(cx) }, /* wraps */
	};

	for (uint16_t i = 0; i < 3; i++)
		rig_packed_chain(r, &s[i], 1, i, false);
}

static void build_overrun(struct ctx *cx, struct rig *r)
{
	struct rig_seg s[RIG_QSIZE];

	for (unsigned int i = 0; i < RIG_QSIZE; i++)
		s[i] = (struct rig_seg){ RIG_BUF_OFF, 16, wflag(cx) };
	rig_packed_chain(r, s, RIG_QSIZE, 0, true); /* every slot, and NEXT on the last */
}

static void build_unavailable(struct ctx *cx, struct rig *r)
{
	struct rig_seg s = { RIG_BUF_OFF, 16, wflag(cx) };

	rig_packed_chain(r, &s, 1, 0, true); /* NEXT into a slot not made available */
}

static void build_id(struct ctx *cx, struct rig *r)
{
	struct rig_seg s = { RIG_BUF_OFF, 16, wflag(cx) };

	rig_packed_chain(r, &s, 1, 200, false);
	rig_packed_chain(r, &s, 1, 0xffff, false);
}

static void build_indirect(struct ctx *cx, struct rig *r)
{
	uint64_t tab = RIG_BUF_OFF + 0x8000;
	struct vring_packed_desc *t = (struct vring_packed_desc *)(void *)(r->mem + tab);
	struct rig_seg s[] = {
		{ tab, 0x100000, VRING_DESC_F_INDIRECT },      /* larger than the memory */
		{ tab, 17, VRING_DESC_F_INDIRECT },	       /* not whole entries */
		{ tab, 256 * 16, VRING_DESC_F_INDIRECT },      /* longer than the ring */
		{ tab + 256 * 16, 16, VRING_DESC_F_INDIRECT }, /* an indirect entry inside */
	};

	for (unsigned int i = 0; i < 256; i++)
		t[i] = (struct vring_packed_desc){ .addr = RIG_BUF_OFF,
						   .len = 16,
						   .flags = wflag(cx) };
	t[256] = (struct vring_packed_desc){ .addr = tab,
					     .len = 16,
					     .flags = VRING_DESC_F_INDIRECT };
	for (uint16_t i = 0; i < 4; i++)
		rig_packed_chain(r, &s[i], 1, i, false);
}

static const struct {
	const char *name;
	void (*build)(struct ctx *, struct rig *);
	unsigned int flags;
} cases[] = {
	{ "addr-range", build_addr, 0 },
	{ "chain-past-ring", build_overrun, 0 },
	{ "next-unavailable", build_unavailable, 0 },
	{ "id-range", build_id, 0 },
	{ "indirect", build_indirect, RIG_INDIRECT },
};

static void packed_content(struct ctx *cx)
{
	long hz = sysconf(_SC_CLK_TCK), t0, base;
	char seen[512] = "";
	size_t len = 0;
	struct rig r;
	uint64_t v;
	int ret;

	if (!offered(cx))
		return;
	t0 = peer_cputicks(cx);
	sleep_ms(CPU_MS);
	base = peer_cputicks(cx) - t0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long t1;

		if ((cases[i].flags & RIG_INDIRECT) &&
		    !(cx->features & VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC)))
			continue;
		if (rig_data(cx, &r, RIG_ENABLE | RIG_PACKED | cases[i].flags, 0) < 0)
			return;
		cases[i].build(cx, &r);
		rig_kick(&r);
		sleep_ms(QUIET_MS);
		t0 = peer_cputicks(cx);
		sleep_ms(CPU_MS);
		t1 = peer_cputicks(cx);
		if (t0 >= 0 && t1 >= 0 && (t1 - t0) - base > hz * (long)CPU_MS / 2000)
			fail(cx, "%s: the peer used %ld%% of a CPU after it, %ld%% before",
			     cases[i].name, (t1 - t0) * 100000 / (hz * (long)CPU_MS),
			     base * 100000 / (hz * (long)CPU_MS));
		ret = conn_get_u64(&r.c, VHU_REQ_GET_FEATURES, &v);
		if (ret < 0 && ret != -ECONNRESET && ret != -EPIPE)
			fail(cx, "%s: GET_FEATURES on the connection: %s", cases[i].name,
			     err_text(ret));
		len += (size_t)snprintf(seen + len, sizeof(seen) - len, "%s%s: used %u, %s",
					len ? "; " : "", cases[i].name, rig_used_idx(&r),
					ret < 0 ? "closed" : "goes on");
		rig_close(&r);
		if (len >= sizeof(seen))
			len = sizeof(seen) - 1;
		if (!peer_alive(cx))
			return fail(cx, "%s: the peer died", cases[i].name);
	}
	/* and the ring still works on the next connection */
	if (rig_data(cx, &r, RIG_ENABLE | RIG_PACKED, 0) < 0)
		return;
	rig_post(&r, cx->type);
	rig_kick(&r);
	ret = rig_wait_used(&r, 1, cx->timeout_ms);
	rig_close(&r);
	if (ret < 0)
		return fail(cx, "after the hostile chains, a well-formed request: %s",
			    err_text(ret));
	pass(cx, "%s; then a request completed", seen);
}

const struct check conform_checks_packed[] = {
	{ "packed-requests", "rings", SEC_PACKED "; vhost-user.rst: VHOST_USER_GET_VRING_BASE",
	  "well-formed requests complete on a packed ring across its wrap, and GET_VRING_BASE "
	  "returns the next index with the wrap counter in bit 15",
	  packed_requests, 0 },
	{ "packed-content", "ring-content", SEC_PACKED "; CVE-2018-1059, CVE-2022-2132 classes",
	  "on a packed ring, buffers outside the memory, a chain past the ring's size, a chain "
	  "running into descriptors not made available, buffer ids past the ring and bad "
	  "indirect tables do not hang or crash the back-end, and it serves the next connection",
	  packed_content, 0 },
	{ 0 },
};
