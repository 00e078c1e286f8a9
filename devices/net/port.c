/* SPDX-License-Identifier: MIT */
/*
 * A vhu-net port: the virtio-net device side of one vhost-user socket.
 * Queue 2k receives (the guest's RX), queue 2k + 1 transmits (its TX).
 *
 * TX: the queue's worker pops up to NET_BURST chains, checks and parses
 * them (net_pkt_prepare), forwards the burst (net_switch_forward), then
 * completes every chain and notifies once. After NET_BUDGET full bursts it
 * returns and asks its worker to call again (vhu_vq_run_again(): no system
 * call), so that a pause of the port's control thread, and the other
 * queues of its worker, are not held off by a guest that never stops
 * sending.
 *
 * RX (the guest's receive queues, shared with every forwarding thread):
 * rx.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "port.h"

struct net_txq {
	struct net_port *port;
	struct vhu_vq *vq;
	struct vhu_req *reqs; /* 2 * NET_BURST: tx_bursts */
	struct net_pkt pkts[NET_BURST];
	struct net_ctx ctx;
};

uint64_t net_port_features(void)
{
	static const unsigned int bits[] = {
		VIRTIO_NET_F_CSUM,
		VIRTIO_NET_F_GUEST_CSUM,
		VIRTIO_NET_F_MTU,
		VIRTIO_NET_F_MAC,
		VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6,
		VIRTIO_NET_F_GUEST_ECN,
		VIRTIO_NET_F_HOST_TSO4,
		VIRTIO_NET_F_HOST_TSO6,
		VIRTIO_NET_F_HOST_ECN,
		VIRTIO_NET_F_MRG_RXBUF,
		VIRTIO_NET_F_STATUS,
		VIRTIO_NET_F_MQ,
		VIRTIO_NET_F_GUEST_ANNOUNCE,
		VIRTIO_F_VERSION_1,
		VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_RING_F_INDIRECT_DESC,
		VIRTIO_F_RING_PACKED,
		/* every queue completes in the order it pops: TX after each
		 * burst, RX frame by frame under the queue's lock */
		VIRTIO_F_IN_ORDER,
	};
	uint64_t f = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= VHU_BIT(bits[i]);
	return f;
}

/* ---- ops on the control thread ---------------------------------------------------- */

static uint64_t port_get_features(void *dev)
{
	(void)dev;
	return net_port_features();
}

static int port_set_features(void *dev, uint64_t features)
{
	struct net_port *p = dev;

	/* release: a forwarding thread that sees them sees the rest of the setup */
	__atomic_store_n(&p->features, features, __ATOMIC_RELEASE);
	vhu_logf(p->log, VHU_LOG_INFO, "port %u: features %#llx", p->id,
		 (unsigned long long)features);
	return 0;
}

/* virtio spec "Device configuration layout" of the network device */
struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
	uint32_t speed;
	uint8_t duplex;
} __attribute__((packed));

static int port_get_config(void *dev, void *buf, uint32_t offset, uint32_t size)
{
	struct net_port *p = dev;
	struct net_config c;

	memcpy(c.mac, p->mac, sizeof(c.mac));
	c.status = htole16(VIRTIO_NET_S_LINK_UP);
	c.max_virtqueue_pairs = htole16(p->num_qp);
	c.mtu = htole16(__atomic_load_n(&p->mtu, __ATOMIC_RELAXED));
	c.speed = htole32(UINT32_MAX); /* unknown */
	c.duplex = 0xff;	       /* unknown */
	if (offset >= sizeof(c))
		return 0; /* beyond: reads as 0 */
	if (size > sizeof(c) - offset)
		size = (uint32_t)(sizeof(c) - offset);
	memcpy(buf, (const uint8_t *)&c + offset, size);
	return 0;
}

static void txq_free(struct net_txq *t)
{
	if (!t)
		return;
	free(t->reqs);
	net_ctx_fini(&t->ctx);
	free(t);
}

static int txq_create(struct net_port *p, unsigned int qp, struct net_txq **out)
{
	struct net_txq *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->port = p;
	t->reqs = vhu_reqs_new(2 * NET_BURST, NET_REQ_IOV); /* a burst and the next */
	if (!t->reqs || net_ctx_init(&t->ctx) < 0) {
		txq_free(t);
		return -ENOMEM;
	}
	t->ctx.in = &p->qin[qp]; /* the queue's worker is the one writer */
	*out = t;
	return 0;
}

static int port_queue_start(void *dev, struct vhu_vq *vq)
{
	struct net_port *p = dev;
	unsigned int idx = vhu_vq_index(vq), qp = idx / 2;
	int ret;

	if (qp >= p->num_qp)
		return -EINVAL;
	if (idx % 2 == 0) {
		if (!p->backlog[qp]) {
			/* no worker or forwarder uses it yet: the queue was never started */
			struct net_backlog *bl = calloc(1, sizeof(*bl));

			if (!bl || net_ctx_init(&bl->ctx) < 0) {
				free(bl);
				return -ENOMEM;
			}
			pthread_mutex_init(&bl->lock, NULL);
			/* forwarders that find the port busy read it (net_port_keep) */
			__atomic_store_n(&p->backlog[qp], bl, __ATOMIC_RELEASE);
		}
		ret = vhu_vq_share(vq);
		if (ret < 0)
			return ret;
		__atomic_store_n(&p->rxq[qp], vq, __ATOMIC_RELEASE);
		__atomic_fetch_or(&p->rx_running, 1u << qp, __ATOMIC_RELEASE);
		return 0;
	}
	if (!p->txq[qp]) {
		ret = txq_create(p, qp, &p->txq[qp]);
		if (ret < 0)
			return ret;
	}
	p->txq[qp]->vq = vq;
	return 0;
}

static void port_queue_stop(void *dev, struct vhu_vq *vq)
{
	struct net_port *p = dev;
	unsigned int idx = vhu_vq_index(vq);

	/* TX: every popped chain was completed before queue_kick returned */
	if (idx % 2 == 0)
		__atomic_fetch_and(&p->rx_running, ~(1u << (idx / 2)), __ATOMIC_RELEASE);
}

static void port_reset(void *dev)
{
	struct net_port *p = dev;

	fdb_flush_port(&p->sw->fdb, p->id); /* its stations are gone: flood until relearnt */
	/* frames kept for the guest that went (every queue is stopped and paused) */
	for (unsigned int i = 0; i < NET_QP_MAX; i++)
		net_backlog_flush(p->backlog[i]);
	__atomic_store_n(&p->features, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&p->mtu, p->sw->mtu, __ATOMIC_RELAXED);
}

static int port_set_mtu(void *dev, uint16_t mtu)
{
	struct net_port *p = dev;

	__atomic_store_n(&p->mtu, mtu, __ATOMIC_RELAXED);
	vhu_logf(p->log, VHU_LOG_INFO, "port %u %s: MTU %u (NET_SET_MTU)", p->id, p->name, mtu);
	return 0;
}

/* SEND_RARP: as if the guest had broadcast a RARP itself, after migrating here. */
static int port_send_rarp(void *dev, const uint8_t mac[6])
{
	struct net_port *p = dev;
	uint8_t buf[NET_HDR_SIZE + 60] = { 0 };
	struct iovec iov = { buf, NET_HDR_SIZE + net_rarp_build(buf + NET_HDR_SIZE, mac) };
	struct net_pkt *pkt = malloc(sizeof(*pkt));
	struct net_ctx ctx;
	int ret = -ENOMEM;

	/* control thread, not the data path: allocating here is fine */
	if (!pkt || net_ctx_init(&ctx) < 0)
		goto out;
	ret = net_pkt_prepare(p, pkt, NET_HDR_SIZE, &iov, 1, iov.iov_len) ? -EINVAL : 0;
	if (ret == 0)
		net_switch_forward(p->sw, p, pkt, 1, &ctx);
	net_ctx_fini(&ctx);
	vhu_logf(p->log, VHU_LOG_INFO,
		 "port %u %s: RARP for %02x:%02x:%02x:%02x:%02x:%02x broadcast (SEND_RARP)", p->id,
		 p->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
out:
	free(pkt);
	return ret;
}

/* ---- TX worker -------------------------------------------------------------------- */

/*
 * --record-busy: a burst that took longer than this was preempted on the
 * way (bursts take microseconds, time slices milliseconds); left out, so
 * that busy_ns / busy_chains is the switch's cost per frame, whatever the
 * senders' rate and whoever shares the CPU.
 */
#define NET_BUSY_BURST_MAX_NS 200000u

/*
 * Pop up to NET_BURST chains into @reqs; return how many, or -1 when none
 * and the ring broke or stopped. The frames were written on the sender's
 * CPU: each miss starts as soon as the chain is known.
 */
static int tx_pop(struct net_txq *t, struct vhu_req *reqs)
{
	unsigned int n = 0;
	int ret = 0;

	while (n < NET_BURST && (ret = vhu_vq_pop(t->vq, &reqs[n])) == 1) {
		if (reqs[n].out_num) {
			const uint8_t *b = reqs[n].iov[0].iov_base;

			__builtin_prefetch(b);
			if (reqs[n].iov[0].iov_len > 64)
				__builtin_prefetch(b + 64);
		}
		n++;
	}
	return n == 0 && ret < 0 ? -1 : (int)n;
}

/* Check and forward the @n chains popped into @reqs, complete them and notify once. */
static void tx_finish(struct net_txq *t, const struct vhu_req *reqs, unsigned int n)
{
	struct net_port *p = t->port;
	unsigned int hdr_size = hdr_size_of(port_features(p)), k = 0;

	for (unsigned int i = 0; i < n; i++) {
		const struct vhu_req *r = &reqs[i];

		if (r->fault) {
			/* behind an IOMMU, a buffer the device may not read: dropped */
			net_count_in(p, &t->ctx, NET_RX_DROP_FAULT, 1);
			continue;
		}
		/* writable buffers in a TX chain are ignored: only out_num counts */
		if (net_pkt_prepare(p, &t->pkts[k], hdr_size, r->iov, r->out_num, r->out_size) == 0)
			k++;
	}
	if (k)
		net_switch_forward(p->sw, p, t->pkts, k, &t->ctx);
	net_qadd(&t->ctx.in->chains, n);
	vhu_vq_push_burst(t->vq, reqs, NULL, n);
	vhu_vq_notify(t->vq);
}

/*
 * --record-busy: a call that took longer than this was preempted on the
 * way (bursts take microseconds, time slices milliseconds); left out, so
 * that busy_ns / busy_chains is the switch's cost per frame, whatever the
 * senders' rate and whoever shares the CPU.
 */
#define NET_BUSY_MAX_NS 200000u

/*
 * Bursts until one comes out short (the ring is drained) or *@bursts
 * reaches NET_BUDGET; return the size of the last, -1 when the ring broke
 * or stopped. A full burst's successor is popped before the burst is
 * forwarded, so that its frames' misses overlap that work rather than
 * stall the next burst's first frames; what is popped is always finished
 * before returning (queue_stop relies on it), and in pop order (IN_ORDER).
 */
static int tx_bursts(struct net_txq *t, unsigned int *bursts)
{
	struct vhu_req *cur = t->reqs, *next = t->reqs + NET_BURST, *tmp;
	uint64_t start = t->port->sw->record_busy ? net_now_ns() : 0, took, chains = 0;
	int n = tx_pop(t, cur), m, last = 0;

	while (n > 0) {
		bool more = n == (int)NET_BURST && ++*bursts < NET_BUDGET;

		m = more ? tx_pop(t, next) : 0;
		tx_finish(t, cur, (unsigned int)n);
		chains += (unsigned int)n;
		last = n;
		if (!more)
			break;
		tmp = cur;
		cur = next;
		next = tmp;
		n = m;
	}
	if (start && chains && (took = net_now_ns() - start) < NET_BUSY_MAX_NS) {
		net_count_in(t->port, &t->ctx, NET_BUSY_NS, took);
		net_count_in(t->port, &t->ctx, NET_BUSY_CHAINS, chains);
	}
	return n < 0 ? -1 : last;
}

static void tx_run(struct net_txq *t)
{
	unsigned int bursts = 0;
	int n;

	if (t->port->sw->poll) {
		/*
		 * --poll: the worker calls again at once, so no kicks are
		 * wanted and there is nothing to arm before returning (arming
		 * costs a full barrier and a look at the ring every round).
		 */
		vhu_vq_enable_notify(t->vq, false);
		(void)tx_bursts(t, &bursts);
		return;
	}
	do {
		vhu_vq_enable_notify(t->vq, false);
		do {
			n = tx_bursts(t, &bursts);
			if (n == (int)NET_BURST && bursts >= NET_BUDGET) {
				/* more is waiting: come back in the worker's next
				 * round, so that a pause of this queue gets its turn */
				(void)vhu_vq_run_again(t->vq);
				return;
			}
		} while (n == (int)NET_BURST);
		if (n < 0)
			return;
	} while (vhu_vq_enable_notify(t->vq, true));
}

static void port_queue_kick(void *dev, struct vhu_vq *vq)
{
	struct net_port *p = dev;
	unsigned int idx = vhu_vq_index(vq);

	if (idx % 2 == 0) {
		/* RX: the switch never waits for buffers; kicks would only wake us */
		vhu_vq_enable_notify(vq, false);
		/* but frames may wait for an IOTLB entry: an UPDATE woke us */
		net_rx_worker_drain(p, idx / 2, vq);
		return;
	}
	if (p->txq[idx / 2])
		tx_run(p->txq[idx / 2]);
}

/*
 * Migration state of a port (DEVICE_STATE): the addresses the switch learnt
 * on it and its counters, so the destination port forwards to the guest at
 * once, before it sends a frame or QEMU a RARP. Little-endian:
 *   "VHUNETS1", u32 version (1), u32 number of addresses, u32 number of
 *   counters, u32 0, then the counters (u64 each), then the addresses (u64
 *   each, the 48-bit MAC in the low bits).
 */
#define STATE_MAGIC "VHUNETS1"
#define STATE_HDR 24u
#define STATE_MAX_COUNTERS 64u

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static int port_state_save(void *dev, void **buf, size_t *len)
{
	struct net_port *p = dev;
	uint64_t *macs = calloc(FDB_SIZE, sizeof(*macs));
	unsigned int n;
	uint8_t *b;

	if (!macs)
		return -ENOMEM;
	n = fdb_port_macs(&p->sw->fdb, p->id, net_now(), macs, NULL, FDB_SIZE);
	*len = STATE_HDR + (size_t)(NET_COUNTER_MAX + n) * 8;
	b = malloc(*len);
	if (!b) {
		free(macs);
		return -ENOMEM;
	}
	memcpy(b, STATE_MAGIC, 8);
	put32(b + 8, 1);
	put32(b + 12, n);
	put32(b + 16, NET_COUNTER_MAX);
	put32(b + 20, 0);
	for (unsigned int i = 0; i < NET_COUNTER_MAX; i++)
		put64(b + STATE_HDR + i * 8, net_counter(p, (enum net_counter)i));
	for (unsigned int i = 0; i < n; i++)
		put64(b + STATE_HDR + (NET_COUNTER_MAX + i) * 8, macs[i]);
	free(macs);
	*buf = b;
	vhu_logf(p->log, VHU_LOG_INFO, "port %u %s: state saved: %u addresses", p->id, p->name, n);
	return 0;
}

static int port_state_load(void *dev, const void *buf, size_t len)
{
	struct net_port *p = dev;
	const uint8_t *b = buf;
	uint32_t n, nc;
	uint32_t now = net_now();

	if (len < STATE_HDR || memcmp(b, STATE_MAGIC, 8) || get32(b + 8) != 1) {
		vhu_logf(p->log, VHU_LOG_ERR, "port %u %s: device state is not a vhu-net port's",
			 p->id, p->name);
		return -EINVAL;
	}
	n = get32(b + 12);
	nc = get32(b + 16);
	if (n > FDB_SIZE || nc > STATE_MAX_COUNTERS || get32(b + 20) ||
	    len != STATE_HDR + ((size_t)n + nc) * 8) {
		vhu_logf(p->log, VHU_LOG_ERR,
			 "port %u %s: device state of %zu bytes does not hold %u addresses and %u "
			 "counters",
			 p->id, p->name, len, n, nc);
		return -EINVAL;
	}
	/* counters this version does not know are dropped; its own start where they were */
	for (unsigned int i = 0; i < nc && i < NET_COUNTER_MAX; i++)
		__atomic_fetch_add(&p->counters[i], get64(b + STATE_HDR + i * 8), __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t m = get64(b + STATE_HDR + ((size_t)nc + i) * 8);
		uint8_t mac[6];

		if (m >> 48)
			return -EINVAL;
		for (unsigned int k = 0; k < 6; k++)
			mac[k] = (uint8_t)(m >> (40 - 8 * k));
		fdb_learn(&p->sw->fdb, mac, p->vlan, p->id, now); /* multicast is never learnt */
	}
	vhu_logf(p->log, VHU_LOG_INFO, "port %u %s: state loaded: %u addresses now here", p->id,
		 p->name, n);
	return 0;
}

const struct vhu_device_ops net_port_ops = {
	.get_features = port_get_features,
	.set_features = port_set_features,
	.get_config = port_get_config,
	.queue_start = port_queue_start,
	.queue_stop = port_queue_stop,
	.queue_kick = port_queue_kick,
	.reset = port_reset,
	.net_set_mtu = port_set_mtu,
	.net_send_rarp = port_send_rarp,
	.state_save = port_state_save,
	.state_load = port_state_load,
};

void net_port_free_queues(struct net_port *p)
{
	for (unsigned int i = 0; i < NET_QP_MAX; i++) {
		txq_free(p->txq[i]);
		p->txq[i] = NULL;
		if (p->backlog[i]) {
			net_backlog_flush(p->backlog[i]);
			net_ctx_fini(&p->backlog[i]->ctx);
			pthread_mutex_destroy(&p->backlog[i]->lock);
			free(p->backlog[i]);
			p->backlog[i] = NULL;
		}
	}
}
