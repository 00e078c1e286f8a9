/* SPDX-License-Identifier: MIT */
/*
 * The switching core of vhu-net: check a frame, learn, look up, fan a
 * burst out to its destinations. See net.h for the threads and the
 * busy handshake (a port marked busy, then a grace period) that keeps
 * forwarding threads from ever waiting on a control thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_net.h>

#include "net.h"
#include "offload.h"
#include <vhu/protocol.h>

const char *const net_counter_names[NET_COUNTER_MAX] = {
	[NET_RX_PACKETS] = "rx_packets",
	[NET_RX_BYTES] = "rx_bytes",
	[NET_TX_PACKETS] = "tx_packets",
	[NET_TX_BYTES] = "tx_bytes",
	[NET_RX_DROP_SHORT] = "rx_drop_short",
	[NET_RX_DROP_OVERSIZE] = "rx_drop_oversize",
	[NET_RX_DROP_BAD_HDR] = "rx_drop_bad_hdr",
	[NET_RX_FILTERED] = "rx_filtered",
	[NET_TX_DROP_NO_BUFFERS] = "tx_drop_no_buffers",
	[NET_TX_DROP_DOWN] = "tx_drop_down",
	[NET_TX_DROP_BUSY] = "tx_drop_busy",
	[NET_TX_CSUM_SW] = "tx_csum_sw",
	[NET_TX_SEGMENTED] = "tx_segmented",
	[NET_BUSY_NS] = "busy_ns",
	[NET_BUSY_CHAINS] = "busy_chains",
	[NET_RX_DROP_FAULT] = "rx_drop_fault",
	[NET_TX_DROP_FAULT] = "tx_drop_fault",
	[NET_TX_IOTLB_WAIT] = "tx_iotlb_wait",
	[NET_RX_DROP_VLAN] = "rx_drop_vlan",
	[NET_RX_DROP_SPOOFED] = "rx_drop_spoofed",
	[NET_RX_LEARN_LIMIT] = "rx_learn_limit",
	[NET_RX_LEARN_FULL] = "rx_learn_full",
};

/* ---- grace periods (net.h) ------------------------------------------------------ */

/*
 * Epoch-based: a forwarding thread publishes the global epoch in its
 * record when a burst starts (a full fence after, so its loads of
 * sw.ports[] come after it), and 0 when it ends. Whoever unpublishes a
 * port then bumps the epoch to E (fenced the same way): a thread whose
 * record shows 0 or >= E cannot hold the old pointer, since its loads come
 * after the unpublishing. Idle threads (0) never hold a grace period up.
 */
static uint64_t grace_epoch = 1; /* atomic */
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct net_reader *readers;

static void reader_register(struct net_reader *r)
{
	pthread_mutex_lock(&readers_lock);
	r->epoch = 0;
	r->next = readers;
	readers = r;
	r->registered = true;
	pthread_mutex_unlock(&readers_lock);
}

static void reader_unregister(struct net_reader *r)
{
	if (!r->registered)
		return;
	pthread_mutex_lock(&readers_lock);
	for (struct net_reader **pp = &readers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	r->registered = false;
	pthread_mutex_unlock(&readers_lock);
}

static void reader_enter(struct net_reader *r)
{
	/* the fence orders the store before the burst's loads: one locked
	 * instruction, where a seq_cst store would add an xchg before it */
	__atomic_store_n(&r->epoch, __atomic_load_n(&grace_epoch, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void reader_leave(struct net_reader *r)
{
	__atomic_store_n(&r->epoch, 0, __ATOMIC_RELEASE);
}

uint64_t net_grace_start(void)
{
	uint64_t e = __atomic_add_fetch(&grace_epoch, 1, __ATOMIC_SEQ_CST);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return e;
}

bool net_grace_passed(uint64_t epoch)
{
	bool passed = true;

	pthread_mutex_lock(&readers_lock);
	for (struct net_reader *r = readers; r && passed; r = r->next) {
		uint64_t e = __atomic_load_n(&r->epoch, __ATOMIC_ACQUIRE);

		passed = e == 0 || e >= epoch;
	}
	pthread_mutex_unlock(&readers_lock);
	return passed;
}

void net_grace_wait(uint64_t epoch)
{
	while (!net_grace_passed(epoch))
		sched_yield();
}

int net_ctx_init(struct net_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->rx = vhu_reqs_new(NET_RX_POOL, NET_REQ_IOV);
	ctx->wiov = calloc(NET_REQ_IOV + 2, sizeof(*ctx->wiov));
	if (!ctx->rx || !ctx->wiov) {
		net_ctx_fini(ctx);
		return -ENOMEM;
	}
	reader_register(&ctx->reader);
	return 0;
}

void net_ctx_fini(struct net_ctx *ctx)
{
	reader_unregister(&ctx->reader);
	free(ctx->rx);
	free(ctx->wiov);
	ctx->rx = NULL;
	ctx->wiov = NULL;
}

uint64_t net_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t net_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

/* ---- the handshake (net.h) ---------------------------------------------------- */

/*
 * Whether a burst may forward into @p (inside reader_enter()): no write,
 * so the port's lines stay shared by every forwarding thread. Either the
 * burst's epoch record, stored and fenced before this load, is seen by
 * quiesce's grace period, or this load sees its busy (stored before the
 * grace period's fenced epoch bump).
 */
static bool port_open(const struct net_port *p)
{
	return !__atomic_load_n(&p->busy, __ATOMIC_RELAXED);
}

void net_port_quiesce(struct net_port *p)
{
	__atomic_store_n(&p->busy, true, __ATOMIC_SEQ_CST);
	/* bursts that may have found it open end without waiting: this is short */
	net_grace_wait(net_grace_start());
}

uint64_t net_counter(const struct net_port *p, enum net_counter c)
{
	uint64_t v = __atomic_load_n(&p->counters[c], __ATOMIC_RELAXED);

	for (unsigned int q = 0; q < NET_QP_MAX; q++)
		v += __atomic_load_n(&p->qin[q].c[c], __ATOMIC_RELAXED) +
		     __atomic_load_n(&p->qout[q].c[c], __ATOMIC_RELAXED);
	return v;
}

uint64_t net_qp_chains(const struct net_port *p, unsigned int qp, bool out)
{
	return __atomic_load_n(out ? &p->qout[qp].c[NET_TX_PACKETS] : &p->qin[qp].chains,
			       __ATOMIC_RELAXED);
}

void net_port_unquiesce(struct net_port *p)
{
	__atomic_store_n(&p->busy, false, __ATOMIC_RELEASE);
}

/* ---- isolation (policy.h) -------------------------------------------------------- */

int net_switch_vlan_key(struct net_switch *sw, unsigned int vid)
{
	if (vid == 0)
		return 0;
	if (!sw->vlan_key[vid]) {
		if (sw->nvlans == 0)
			sw->nvlans = 1; /* key 0: the untagged domain */
		if (sw->nvlans == FDB_VLANS)
			return -ENOSPC;
		/* atomic: the mac-table method reads it from a control thread */
		__atomic_store_n(&sw->vlan_vid[sw->nvlans], (uint16_t)vid, __ATOMIC_RELAXED);
		sw->vlan_key[vid] = sw->nvlans++;
	}
	return sw->vlan_key[vid];
}

int net_port_set_policy(struct net_port *p, const struct net_policy *pol)
{
	int key = net_switch_vlan_key(p->sw, pol->vlan);

	if (key < 0)
		return key;
	p->pol = *pol;
	p->vlan = (uint16_t)key;
	memset(p->member, 0, sizeof(p->member));
	p->member[key / 64] |= 1ull << (key % 64);
	for (unsigned int vid = 1; pol->trunk && vid <= NET_VID_MAX; vid++) {
		if (!net_policy_trunks(pol, vid))
			continue;
		key = net_switch_vlan_key(p->sw, vid);
		if (key < 0)
			return key;
		p->member[key / 64] |= 1ull << (key % 64);
	}
	/* with VLANs in the switch a guest's own tag would hop VLANs: checked */
	p->filter = p->sw->vlans || pol->nmacs;
	return 0;
}

static bool is_tag(uint16_t ethertype)
{
	/* 802.1Q, 802.1ad, and the old pre-standard QinQ type */
	return ethertype == NET_ETHERTYPE_VLAN || ethertype == 0x88a8u || ethertype == 0x9100u;
}

/* A frame on @in breaks its port's rules: the counter to drop it under, or 0. */
static int ingress_check(const struct net_port *in, const struct net_frame *f)
{
	if (in->sw->vlans && is_tag((uint16_t)(f->head[12] << 8 | f->head[13])))
		return NET_RX_DROP_VLAN; /* a trunk's own tag was taken off before (tap.c) */
	if (!net_policy_allows(&in->pol, f->head + 6))
		return NET_RX_DROP_SPOOFED;
	return 0;
}

/* ---- ingress ---------------------------------------------------------------------- */

int net_pkt_prepare(struct net_port *in, struct net_pkt *pkt, unsigned int hdr_size,
		    const struct iovec *iov, unsigned int niov, uint64_t size)
{
	struct net_frame *f = &pkt->frame;
	uint8_t hb[NET_HDR_SIZE];
	int drop = 0;

	if (size < hdr_size + NET_FRAME_MIN) {
		drop = NET_RX_DROP_SHORT; /* too short for the header, or for Ethernet */
		goto out;
	}
	if (size - hdr_size > NET_FRAME_MAX) {
		drop = NET_RX_DROP_OVERSIZE;
		goto out;
	}
	f->len = (uint32_t)(size - hdr_size);
	f->head_len = f->len < NET_HEAD_MAX ? f->len : NET_HEAD_MAX;
	if (iov[0].iov_len >= hdr_size + f->head_len) {
		/* the usual layout: header and frame in one buffer */
		net_hdr_load(&pkt->hdr, iov[0].iov_base, hdr_size);
		net_copy_small(f->head, (const uint8_t *)iov[0].iov_base + hdr_size, f->head_len);
	} else {
		net_iov_read(iov, niov, 0, hb, hdr_size);
		net_iov_read(iov, niov, hdr_size, f->head, f->head_len);
		net_hdr_read(&pkt->hdr, hb, hdr_size);
	}
	/* only offloads look past the MACs (and spreading over queues, which
	 * parses when it hashes): a plain frame is switched unparsed */
	f->parsed = false;
	if (pkt->hdr.flags || pkt->hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		net_frame_parse(f);
	if (pkt->hdr.gso_type == 0 &&
	    f->len > (uint32_t)__atomic_load_n(&in->mtu, __ATOMIC_RELAXED) + NET_ETH_HLEN + 4u) {
		drop = NET_RX_DROP_OVERSIZE; /* a VLAN tag's 4 bytes are allowed */
		goto out;
	}
	if (net_hdr_check(&pkt->hdr, f) < 0) {
		drop = NET_RX_DROP_BAD_HDR;
		goto out;
	}
	if (in->filter && (drop = ingress_check(in, f)))
		goto out;
	pkt->src = (struct net_src){ .iov = iov, .niov = niov, .off = hdr_size, .len = f->len };
	pkt->dst = NET_DST_DROP;
	pkt->vlan = in->vlan;
out:
	if (drop)
		net_count(in, (enum net_counter)drop, 1);
	return drop;
}

/*
 * Learn the sources and pick each frame's destination; count what came in.
 * A burst is mostly one or a few flows: a source or destination the same as
 * the previous frame's is neither learnt nor looked up again.
 */
static void decide(struct net_switch *sw, struct net_port *in, struct net_pkt *pkts, unsigned int n,
		   struct net_ctx *ctx)
{
	uint32_t now = net_now();
	uint64_t bytes = 0, filtered = 0, unlearnt[2] = { 0, 0 };
	const uint8_t *last_src = NULL, *last_dst = NULL;
	int last_port = FDB_PORT_NONE;
	unsigned int last_vlan = 0;

	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *eth = pkts[i].frame.head;
		unsigned int vlan = pkts[i].vlan;
		int port;

		bytes += pkts[i].frame.len;
		if (!last_src || memcmp(last_src, eth + 6, 6) != 0 || vlan != last_vlan) {
			enum fdb_learnt l = fdb_learn(&sw->fdb, eth + 6, vlan, in->id, now);

			if (l >= FDB_LIMITED)
				unlearnt[l == FDB_FULL]++;
			last_src = eth + 6;
			last_vlan = vlan;
			last_dst = NULL; /* learning may have moved a station */
		}
		if (eth[0] & 1) {
			pkts[i].dst = NET_DST_FLOOD; /* broadcast, multicast */
			continue;
		}
		if (last_dst && memcmp(last_dst, eth, 6) == 0) {
			port = last_port;
		} else {
			port = fdb_lookup(&sw->fdb, eth, vlan, now);
			last_dst = eth;
			last_port = port;
		}
		if (port == FDB_PORT_NONE ||
		    (unsigned int)port >= __atomic_load_n(&sw->nports, __ATOMIC_ACQUIRE))
			pkts[i].dst = NET_DST_FLOOD;
		else if ((unsigned int)port == in->id) {
			pkts[i].dst = NET_DST_DROP; /* never back out of the port it came in */
			filtered++;
		} else
			pkts[i].dst = port;
	}
	net_count_in(in, ctx, NET_RX_PACKETS, n);
	net_count_in(in, ctx, NET_RX_BYTES, bytes);
	net_count_in(in, ctx, NET_RX_FILTERED, filtered);
	net_count_in(in, ctx, NET_RX_LEARN_LIMIT, unlearnt[0]);
	net_count_in(in, ctx, NET_RX_LEARN_FULL, unlearnt[1]);
}

/* The @k-th set bit of @mask (k < popcount). */
static unsigned int nth_bit(uint32_t mask, unsigned int k)
{
	while (k--)
		mask &= mask - 1;
	return (unsigned int)__builtin_ctz(mask);
}

/* Frames idx[0, n) to vhost-user port @p: spread over its running RX queues by flow. */
static void to_vhost(struct net_port *p, struct net_pkt *pkts, const uint8_t *idx, unsigned int n,
		     struct net_ctx *ctx)
{
	uint32_t running = __atomic_load_n(&p->rx_running, __ATOMIC_ACQUIRE);
	unsigned int nq = (unsigned int)__builtin_popcount(running);
	uint8_t qidx[NET_BURST], sub[NET_BURST];

	if (nq == 0) {
		net_count(p, NET_TX_DROP_DOWN, n);
		return;
	}
	if (nq == 1) {
		net_port_deliver(p, (unsigned int)__builtin_ctz(running), pkts, idx, n, ctx);
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		qidx[i] = (uint8_t)nth_bit(running, net_frame_hash(&pkts[idx[i]].frame) % nq);
	for (uint32_t m = running; m; m &= m - 1) {
		unsigned int q = (unsigned int)__builtin_ctz(m), k = 0;

		for (unsigned int i = 0; i < n; i++)
			if (qidx[i] == q)
				sub[k++] = idx[i];
		if (k)
			net_port_deliver(p, q, pkts, sub, k, ctx);
	}
}

/* Keep of idx[0, n) the frames whose VLAN goes out of @p; return how many. */
static unsigned int same_vlan(const struct net_port *p, const struct net_pkt *pkts, uint8_t *idx,
			      unsigned int n)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++)
		if (net_port_member(p, pkts[idx[i]].vlan))
			idx[k++] = idx[i];
	return k;
}

void net_switch_forward(struct net_switch *sw, struct net_port *in, struct net_pkt *pkts,
			unsigned int n, struct net_ctx *ctx)
{
	uint8_t idx[NET_BURST];

	reader_enter(&ctx->reader); /* from here other ports' pointers are held */
	decide(sw, in, pkts, n, ctx);
	unsigned int nports = __atomic_load_n(&sw->nports, __ATOMIC_ACQUIRE);

	for (unsigned int pi = 0; pi < nports; pi++) {
		/* port-add and port-remove change the slots while frames flow */
		struct net_port *p = __atomic_load_n(&sw->ports[pi], __ATOMIC_ACQUIRE);
		unsigned int k = 0;

		if (!p || p == in)
			continue;
		for (unsigned int i = 0; i < n; i++)
			if (pkts[i].dst == (int)p->id || pkts[i].dst == NET_DST_FLOOD)
				idx[k++] = (uint8_t)i;
		if (sw->vlans)
			k = same_vlan(p, pkts, idx, k);
		if (!k)
			continue;
		if (!port_open(p)) {
			/* behind an IOMMU its control thread is busy with IOTLB messages all the
			 * time */
			if (p->kind == NET_PORT_TAP || !net_port_keep(p, pkts, idx, k, ctx))
				net_count(p, NET_TX_DROP_BUSY, k);
			continue;
		}
		if (p->kind == NET_PORT_TAP)
			net_tap_deliver(p, pkts, idx, k, ctx);
		else
			to_vhost(p, pkts, idx, k, ctx);
	}
	reader_leave(&ctx->reader); /* a quiescent point: none held */
}

/* "PROG: queue pairs of port N NAME: qp_rx_packets=Q0,Q1,... qp_tx_packets=Q0,Q1,..." */
static void print_queue_pairs(const struct net_port *p, const char *prog)
{
	char line[1024];
	size_t len = 0;

	len += (size_t)snprintf(line, sizeof(line), "%s: queue pairs of port %u %s:", prog, p->id,
				p->name);
	for (unsigned int dir = 0; dir < 2; dir++) {
		const char *key = dir ? " qp_tx_packets=" : " qp_rx_packets=";

		for (unsigned int q = 0; q < p->num_qp && len < sizeof(line); q++) {
			unsigned long long v = net_qp_chains(p, q, dir);

			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%llu",
						q ? "," : key, v);
		}
	}
	fprintf(stderr, "%s\n", line);
}

void net_print_counters(const struct net_switch *sw, const char *prog)
{
	for (unsigned int i = 0; i < sw->nports; i++) {
		const struct net_port *p = sw->ports[i];
		char line[1024];
		int len;

		if (!p)
			continue; /* removed (port-remove) */
		len = snprintf(line, sizeof(line), "%s: port %u %s:", prog, p->id, p->name);

		for (unsigned int c = 0; c < NET_COUNTER_MAX && len > 0 && len < (int)sizeof(line);
		     c++)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %s=%llu",
					net_counter_names[c],
					(unsigned long long)net_counter(p, (enum net_counter)c));
		fprintf(stderr, "%s macs=%u\n", line, fdb_port_count(&sw->fdb, p->id, net_now()));
		if (p->kind == NET_PORT_VHOST && p->num_qp)
			print_queue_pairs(p, prog);
	}
	fflush(stderr);
}

/* ---- egress: offloads carried, or finished in software -------------------------------- */

static bool takes_gso(uint64_t features, uint8_t gso_type)
{
	uint64_t need = VHU_BIT(VIRTIO_NET_F_GUEST_CSUM);

	if ((gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4)
		need |= VHU_BIT(VIRTIO_NET_F_GUEST_TSO4);
	else
		need |= VHU_BIT(VIRTIO_NET_F_GUEST_TSO6);
	if (gso_type & VIRTIO_NET_HDR_GSO_ECN)
		need |= VHU_BIT(VIRTIO_NET_F_GUEST_ECN);
	return (features & need) == need;
}

static void emitted(struct net_tally *t, int ret, uint32_t len)
{
	if (ret == 0) {
		t->c[NET_TX_PACKETS]++;
		t->c[NET_TX_BYTES] += len;
	} else if (ret == -ENOBUFS) {
		t->c[NET_TX_DROP_NO_BUFFERS]++;
	} else if (ret == -EACCES) {
		t->c[NET_TX_DROP_FAULT]++;
	} else {
		t->c[NET_TX_DROP_DOWN]++;
	}
}

static void emit_segments(uint64_t features, const struct net_pkt *pkt, struct net_ctx *ctx,
			  net_emit_fn emit, void *arg, struct net_tally *t)
{
	bool partial = features & VHU_BIT(VIRTIO_NET_F_GUEST_CSUM);
	struct net_seg_iter it;
	struct net_src seg;
	struct net_hdr oh;

	t->c[NET_TX_SEGMENTED]++;
	net_seg_init(&it, &pkt->frame, &pkt->hdr, &pkt->src);
	while (net_seg_next(&it, partial, ctx->pre, &seg, &oh)) {
		int ret = emit(arg, &oh, &seg, ctx);

		emitted(t, ret, seg.len);
		if (ret < 0)
			return; /* the rest would be lost the same way */
	}
}

void net_pkt_emit(uint64_t features, const struct net_pkt *pkt, struct net_ctx *ctx,
		  net_emit_fn emit, void *arg, struct net_tally *t)
{
	const struct net_hdr *h = &pkt->hdr;
	struct net_hdr oh = *h;
	struct net_src src;

	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE && !takes_gso(features, h->gso_type)) {
		emit_segments(features, pkt, ctx, emit, arg, t);
		return;
	}
	oh.num_buffers = 1;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !(features & VHU_BIT(VIRTIO_NET_F_GUEST_CSUM))) {
		net_csum_complete(&pkt->frame, h, &pkt->src, ctx->pre, &src);
		memset(&oh, 0, sizeof(oh));
		oh.num_buffers = 1;
		t->c[NET_TX_CSUM_SW]++;
		emitted(t, emit(arg, &oh, &src, ctx), src.len);
		return;
	}
	if (!(features & VHU_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		oh.flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	emitted(t, emit(arg, &oh, &pkt->src, ctx), pkt->src.len);
}

void net_tally_flush(struct net_port *p, const struct net_tally *t)
{
	for (unsigned int c = 0; c < NET_COUNTER_MAX; c++)
		net_count(p, (enum net_counter)c, t->c[c]);
}
