/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: ring states, hostile ring contents and reconnection, on the
 * device's data queue (struct rig).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

#define SEC_STATES "vhost-user.rst: Ring states"
#define SEC_COMM "vhost-user.rst: Communication"
#define QUIET_MS 150 /* how long a ring that must not move is watched */
#define CPU_MS 250   /* how long the peer's CPU use is measured */

static bool is_type(const struct ctx *cx, const char *type)
{
	return cx->type && !strcmp(cx->type, type);
}

static int set_enable(struct rig *r, unsigned int on)
{
	struct vhost_vring_state st = { .index = r->q, .num = on };

	return conn_set(&r->c, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
}

/* Post one request, kick, and wait for its completion. */
static int complete_one(struct ctx *cx, struct rig *r)
{
	uint16_t want = (uint16_t)(rig_used_idx(r) + 1);

	if (rig_post(r, cx->type) < 0)
		return -ENOTSUP;
	rig_kick(r);
	return rig_wait_used(r, want, cx->timeout_ms);
}

/*
 * A request posted and kicked on a disabled ring whose used idx stands at
 * @used: it must stand still for QUIET_MS, then complete once the ring is
 * enabled. Closes @r; @what names the disabled state in the verdict.
 */
static void still_then_enabled(struct ctx *cx, struct rig *r, uint16_t used, const char *what)
{
	int ret;

	rig_post(r, cx->type);
	rig_kick(r);
	sleep_ms(QUIET_MS);
	/* with nothing completed before, any byte written counts too */
	if (rig_used_idx(r) != used || (!used && rig_written(r))) {
		fail(cx, "queue %u processed a request %s (used idx %u%s)", r->q, what,
		     rig_used_idx(r), !used && rig_written(r) ? ", buffer written" : "");
		return rig_close(r);
	}
	ret = set_enable(r, 1);
	if (ret == 0) {
		rig_kick(r);
		ret = rig_wait_used(r, (uint16_t)(used + 1), cx->timeout_ms);
	}
	if (ret < 0)
		fail(cx, "after SET_VRING_ENABLE 1 and a kick: %s", err_text(ret));
	else
		pass(cx, "stood still for %u ms %s, processed once enabled", QUIET_MS, what);
	rig_close(r);
}

/* Disabled rings can be watched: not net, and SET_VRING_ENABLE exists. */
static bool disabled_observable(struct ctx *cx)
{
	if (is_type(cx, "net")) {
		na(cx, "a disabled net queue may consume TX frames: nothing to observe");
		return false;
	}
	if (!(cx->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		na(cx, "VHOST_USER_F_PROTOCOL_FEATURES not offered");
		return false;
	}
	return true;
}

static void start_disabled(struct ctx *cx)
{
	struct rig r;

	if (!disabled_observable(cx) || rig_data(cx, &r, 0, 0) < 0)
		return;
	still_then_enabled(cx, &r, 0, "before SET_VRING_ENABLE");
}

static void enable_without_pf(struct ctx *cx)
{
	struct rig r;
	int ret;

	if (rig_data(cx, &r, RIG_NO_PF, 0) < 0)
		return;
	ret = complete_one(cx, &r);
	if (ret < 0)
		fail(cx, "queue %u with SET_FEATURES without bit 30, no SET_VRING_ENABLE: %s", r.q,
		     ret == -ETIMEDOUT ? "the request was not processed" : err_text(ret));
	else
		pass(cx, "queue %u processed without SET_VRING_ENABLE", r.q);
	rig_close(&r);
}

static void get_base_stops(struct ctx *cx)
{
	struct vhost_vring_state st;
	struct vhu_msg m;
	struct rig r;
	int ret = 0;

	if (rig_data(cx, &r, RIG_ENABLE, 5) < 0)
		return;
	for (int i = 0; i < 3 && ret == 0; i++)
		ret = complete_one(cx, &r);
	if (ret < 0) {
		fail(cx, "3 requests from base 5: %s", err_text(ret));
		return rig_close(&r);
	}
	st = (struct vhost_vring_state){ .index = r.q };
	ret = conn_call(&r.c, VHU_REQ_GET_VRING_BASE, &st, sizeof(st), &m);
	if (ret < 0) {
		fail(cx, "GET_VRING_BASE: %s", err_text(ret));
		return rig_close(&r);
	}
	if (m.hdr.size != sizeof(st) || m.payload.state.index != r.q || m.payload.state.num != 8)
		fail(cx, "GET_VRING_BASE answered index %u num %u (%u bytes), want index %u num 8",
		     m.payload.state.index, m.payload.state.num, m.hdr.size, r.q);
	/* stopped: not processed at all, kick or no kick (polling included) */
	rig_post(&r, cx->type);
	sleep_ms(QUIET_MS);
	if (rig_used_idx(&r) != 8)
		fail(cx, "the ring still ran after GET_VRING_BASE (used idx %u)", rig_used_idx(&r));
	pass(cx, "base 5 + 3 requests = 8; a request posted after it not processed in %u ms",
	     QUIET_MS);
	/* a kick on the old eventfd: QEMU sends SET_VRING_KICK again to restart */
	rig_kick(&r);
	sleep_ms(QUIET_MS);
	note(cx, "a kick on the old kick eventfd then %s",
	     rig_used_idx(&r) == 8 ? "was ignored" : "restarted the ring");
	rig_close(&r);
}

static void disable(struct ctx *cx)
{
	struct rig r;
	int ret;

	if (!disabled_observable(cx) || rig_data(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	ret = complete_one(cx, &r);
	if (ret == 0)
		ret = set_enable(&r, 0);
	if (ret < 0) {
		fail(cx, "a request, then SET_VRING_ENABLE 0: %s", err_text(ret));
		return rig_close(&r);
	}
	still_then_enabled(cx, &r, 1, "after SET_VRING_ENABLE 0");
}

/* ---- hostile ring contents ---------------------------------------------- */

static uint16_t wflag(const struct ctx *cx)
{
	return is_type(cx, "rng") ? VRING_DESC_F_WRITE : 0;
}

static void build_loop(struct ctx *cx, struct rig *r)
{
	rig_desc(r, 0, RIG_BUF_OFF, 16, (uint16_t)(wflag(cx) | VRING_DESC_F_NEXT), 0);
	rig_publish(r, 0);
	/* and a two-descriptor loop */
	rig_desc(r, 1, RIG_BUF_OFF, 16, (uint16_t)(wflag(cx) | VRING_DESC_F_NEXT), 2);
	rig_desc(r, 2, RIG_BUF_OFF, 16, (uint16_t)(wflag(cx) | VRING_DESC_F_NEXT), 1);
	rig_publish(r, 1);
}

static void build_addr(struct ctx *cx, struct rig *r)
{
	rig_desc(r, 0, 0xdead00000000ull, 512, wflag(cx), 0);	     /* not in memory */
	rig_desc(r, 1, RIG_MEM_SIZE - 8, 4096, wflag(cx), 0);	     /* runs past the end */
	rig_desc(r, 2, 0xfffffffffffff000ull, 0x2000, wflag(cx), 0); /* wraps */
	for (uint16_t i = 0; i < 3; i++)
		rig_publish(r, i);
}

static void build_next(struct ctx *cx, struct rig *r)
{
	rig_desc(r, 0, RIG_BUF_OFF, 16, (uint16_t)(wflag(cx) | VRING_DESC_F_NEXT), 200);
	rig_publish(r, 0);
}

static void build_head(struct ctx *cx, struct rig *r)
{
	(void)cx;
	rig_publish(r, 200);
	rig_publish(r, 0xffff);
}

static void build_overrun(struct ctx *cx, struct rig *r)
{
	rig_post(r, cx->type);
	r->avail = (uint16_t)(r->avail + 1000);
	rig_publish(r, 0); /* avail idx 1002 ahead of a ring of 16 */
}

static void build_indirect(struct ctx *cx, struct rig *r)
{
	uint64_t tab = RIG_BUF_OFF + 0x8000;
	struct vring_desc *t = (struct vring_desc *)(void *)(r->mem + tab);

	/* a table larger than the memory, one not a whole number of entries */
	rig_desc(r, 0, tab, 0x100000, VRING_DESC_F_INDIRECT, 0);
	rig_desc(r, 1, tab, 17, VRING_DESC_F_INDIRECT, 0);
	/* a table whose entries loop, and one longer than the ring (256 > 16) */
	for (unsigned int i = 0; i < 256; i++)
		t[i] = (struct vring_desc){ .addr = RIG_BUF_OFF,
					    .len = 16,
					    .flags = (uint16_t)(wflag(cx) | VRING_DESC_F_NEXT),
					    .next = (uint16_t)((i + 1) % 256) };
	rig_desc(r, 2, tab, 256 * 16, VRING_DESC_F_INDIRECT, 0);
	/* and an indirect entry inside the table (nested) */
	t[256] = (struct vring_desc){ .addr = tab, .len = 16, .flags = VRING_DESC_F_INDIRECT };
	rig_desc(r, 3, tab + 256 * 16, 16, VRING_DESC_F_INDIRECT, 0);
	for (uint16_t i = 0; i < 4; i++)
		rig_publish(r, i);
}

static void hostile_ring(struct ctx *cx, void (*build)(struct ctx *, struct rig *),
			 unsigned int flags)
{
	long t0, t1, base, hz = sysconf(_SC_CLK_TCK);
	uint64_t v, errs = 0;
	struct rig r;
	int ret;

	if (rig_data(cx, &r, RIG_ENABLE | flags, 0) < 0)
		return;
	if ((flags & RIG_INDIRECT) && !(r.c.features & VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC))) {
		na(cx, "VIRTIO_RING_F_INDIRECT_DESC not offered");
		return rig_close(&r);
	}
	/* the peer's own CPU use first: a busy-polling peer (testpmd) is not spinning on us */
	t0 = peer_cputicks(cx);
	sleep_ms(CPU_MS);
	base = peer_cputicks(cx) - t0;
	build(cx, &r);
	rig_kick(&r);
	sleep_ms(QUIET_MS);
	t0 = peer_cputicks(cx);
	sleep_ms(CPU_MS);
	t1 = peer_cputicks(cx);
	if (t0 >= 0 && t1 >= 0 && (t1 - t0) - base > hz * CPU_MS / 2000)
		fail(cx, "the peer used %ld%% of a CPU after the hostile chain, %ld%% before",
		     (t1 - t0) * 100000 / (hz * CPU_MS), base * 100000 / (hz * CPU_MS));
	if (read(r.err, &errs, sizeof(errs)) < 0)
		errs = 0;
	ret = conn_get_u64(&r.c, VHU_REQ_GET_FEATURES, &v);
	if (ret < 0 && ret != -ECONNRESET && ret != -EPIPE)
		fail(cx, "GET_FEATURES on the connection: %s", err_text(ret));
	pass(cx, "used idx %u, err eventfd %s, connection %s", rig_used_idx(&r),
	     errs ? "signalled" : "quiet", ret < 0 ? "closed" : "goes on");
	rig_close(&r);
}

static void desc_loop(struct ctx *cx)
{
	hostile_ring(cx, build_loop, 0);
}

static void addr_range(struct ctx *cx)
{
	hostile_ring(cx, build_addr, 0);
}

static void next_range(struct ctx *cx)
{
	hostile_ring(cx, build_next, 0);
}

static void head_range(struct ctx *cx)
{
	hostile_ring(cx, build_head, 0);
}

static void avail_overrun(struct ctx *cx)
{
	hostile_ring(cx, build_overrun, 0);
}

static void indirect(struct ctx *cx)
{
	hostile_ring(cx, build_indirect, RIG_INDIRECT);
}

/* ---- reconnection ------------------------------------------------------- */

static void reconnect_mid_setup(struct ctx *cx)
{
	struct vhu_msg_hdr h = { .request = VHU_REQ_SET_VRING_KICK,
				 .flags = VHU_VERSION,
				 .size = 8 };
	struct conn c;
	struct rig r;
	uint64_t v;
	int ret;

	if (rig_queue(cx) < 0) {
		/* the control plane alone: negotiate, tear a message, negotiate again */
		if (conn_default(cx, &c) < 0)
			return;
		conn_raw(&c, &h, sizeof(h));
		conn_close(&c);
		if (conn_default(cx, &c) < 0)
			return;
		ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &v);
		conn_close(&c);
		if (ret < 0)
			return fail(cx, "after reconnecting: %s", err_text(ret));
		return pass(cx, "negotiated again (device type unknown: no ring checked)");
	}
	if (rig_setup(cx, &r, RIG_NO_KICKFD, 0) < 0)
		return;
	conn_raw(&r.c, &h, sizeof(h)); /* the header of SET_VRING_KICK, then gone */
	rig_close(&r);
	if (rig_setup(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	ret = complete_one(cx, &r);
	if (ret < 0)
		fail(cx, "a request after reconnecting: %s", err_text(ret));
	else
		pass(cx,
		     "left mid-setup inside a message; the next connection's request completed");
	rig_close(&r);
}

static void reconnect_running(struct ctx *cx)
{
	struct rig r;
	int ret;

	if (rig_data(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	ret = complete_one(cx, &r);
	if (ret < 0) {
		fail(cx, "first connection: %s", err_text(ret));
		return rig_close(&r);
	}
	rig_post(&r, cx->type); /* published, not kicked: left behind */
	rig_close(&r);
	if (rig_setup(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	ret = complete_one(cx, &r);
	if (ret < 0)
		fail(cx, "a request on the second connection: %s", err_text(ret));
	else
		pass(cx, "a running ring left, the next connection's request completed");
	rig_close(&r);
}

const struct check conform_checks_ring[] = {
	{ "ring-start-disabled", "rings", SEC_STATES,
	  "each ring is initialized in a stopped and disabled state; started and disabled, the "
	  "back-end must process the ring without causing any side effects",
	  start_disabled, 0 },
	{ "ring-enable-no-pf", "rings", SEC_STATES,
	  "upon SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES, the back-end must enable "
	  "all rings immediately",
	  enable_without_pf, 0 },
	{ "ring-get-base", "rings", SEC_STATES ", VHOST_USER_GET_VRING_BASE",
	  "GET_VRING_BASE stops the ring and returns the next index to process", get_base_stops,
	  0 },
	{ "ring-disable", "rings", SEC_STATES,
	  "rings can be disabled and enabled by SET_VRING_ENABLE", disable, 0 },
	{ "content-desc-loop", "ring-content", "virtio 1.1 2.6.5.3.1; DPDK ctrl queue fix (2026)",
	  "a descriptor chain that loops must not hang or crash the back-end (nor spin a CPU)",
	  desc_loop, 0 },
	{ "content-addr-range", "ring-content", "vhost-user.rst: Memory access; CVE-2018-1059",
	  "buffer addresses outside the memory table, running past a region's end or wrapping "
	  "are not accessed: the back-end survives them",
	  addr_range, 0 },
	{ "content-next-range", "ring-content", "virtio 1.1 2.6.5; CVE-2022-2132 class",
	  "a next index beyond the ring is not followed: the back-end survives it", next_range, 0 },
	{ "content-head-range", "ring-content", "virtio 1.1 2.6.6; SPDK#3860 class",
	  "an avail head beyond the ring is not used: the back-end survives it", head_range, 0 },
	{ "content-avail-overrun", "ring-content", "virtio 1.1 2.6.6",
	  "an avail idx more than the ring size ahead does not hang or crash the back-end",
	  avail_overrun, 0 },
	{ "content-indirect", "ring-content", "virtio 1.1 2.6.5.3; libvhost-user 2024 fix",
	  "indirect tables larger than memory, not a whole number of entries, looping, longer "
	  "than the ring or nested do not hang or crash the back-end",
	  indirect, 0 },
	{ "reconnect-mid-setup", "reconnect", SEC_COMM,
	  "the front-end may close at any point; an optional reconnection starts afresh",
	  reconnect_mid_setup, 0 },
	{ "reconnect-running", "reconnect", SEC_COMM,
	  "a front-end that leaves a running ring can connect again and run it", reconnect_running,
	  0 },
	{ 0 },
};
