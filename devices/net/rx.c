/* SPDX-License-Identifier: MIT */
/*
 * Delivery into a vhu-net port's receive queues (the guest's RX).
 *
 * RX: shared (vhu_vq_share); other threads push into it
 * (net_port_deliver). The driver's kicks on RX are turned off: the switch
 * never waits for receive buffers, it drops the frame when there are none
 * (counted), so one guest that stops receiving holds up nobody.
 *
 * RX backlog: behind an IOMMU a receive buffer may have no IOTLB entry yet
 * (strict mode maps every buffer anew). That is not "no buffers": the
 * frame is copied into the queue's backlog (at most NET_BACKLOG frames) and
 * every later frame for that queue goes behind it, in order. The queue's
 * own worker, which the UPDATE wakes (every IOTLB change pauses the
 * queues), delivers the backlog from queue_kick; so does the next delivery.
 * Nothing is dropped for a miss unless the backlog is full (counted as no
 * buffers).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

/* ---- RX: copying a frame into a guest's receive buffers ----------------------------- */

/*
 * One delivery into one receive queue. Chains are held in ctx->rx, in ring
 * order: [0, next) taken by frames (rx_len says what each got), [next,
 * tail) popped ahead of the frames. Taking one chain per frame ahead lets
 * their first lines be requested (prefetch for writing) all at once, so
 * the misses on buffers the driver's CPU last touched overlap instead of
 * stalling frame after frame; what no frame takes is given back
 * (vhu_vq_unpop), and the taken chains are completed with one used index
 * update (vhu_vq_push_burst).
 */
struct rx_target {
	struct vhu_vq *vq;
	unsigned int hdr_size;
	bool mrg;
	unsigned int next, tail;
	struct net_port *port;
	struct net_backlog *bl; /* NULL: none yet (the queue never started) */
	bool draining;		/* delivering the backlog: a miss stops, never keeps */
};

/* Write @size bytes at byte @off of a chain's writable iovecs. */
static void chain_write(const struct vhu_req *r, uint64_t off, const void *src, size_t size)
{
	const uint8_t *s = src;

	for (uint32_t j = r->out_num; j < r->out_num + r->in_num && size; j++) {
		size_t n;

		if (off >= r->iov[j].iov_len) {
			off -= r->iov[j].iov_len;
			continue;
		}
		n = r->iov[j].iov_len - off;
		if (n > size)
			n = size;
		memcpy((uint8_t *)r->iov[j].iov_base + off, s, n);
		s += n;
		size -= n;
		off = 0;
	}
}

/* Fill one chain from @hb (the header, until @done reaches hdr_size) and @c. */
static uint32_t fill_chain(const struct vhu_req *r, const uint8_t *hb, unsigned int hdr_size,
			   struct net_cur *c, uint64_t *done, uint64_t total)
{
	uint32_t written = 0;

	for (uint32_t j = r->out_num; j < r->out_num + r->in_num && *done < total; j++) {
		uint8_t *d = r->iov[j].iov_base;
		size_t room = r->iov[j].iov_len, k;

		if (*done < hdr_size) {
			k = hdr_size - *done < room ? hdr_size - *done : room;
			memcpy(d, hb + *done, k);
			d += k;
			room -= k;
			*done += k;
			written += (uint32_t)k;
		}
		if (*done >= hdr_size && room) {
			k = net_cur_read(c, d, room);
			*done += k;
			written += (uint32_t)k;
			if (k < room && *done < total)
				return written; /* cannot happen: the source ended early */
		}
	}
	return written;
}

/* Complete the chains frames took; only with none held ahead (see rx_emit). */
static void rx_flush(struct rx_target *tg, struct net_ctx *ctx)
{
	if (tg->next)
		(void)vhu_vq_push_burst(tg->vq, ctx->rx, ctx->rx_len, tg->next);
	tg->next = tg->tail = 0;
}

/* The next chain for a frame: one taken ahead, else a new pop. */
static int rx_take(struct rx_target *tg, struct net_ctx *ctx, struct vhu_req **out)
{
	if (tg->next == tg->tail) {
		int ret;

		if (tg->tail == NET_RX_POOL)
			return -ENOBUFS;
		ret = vhu_vq_pop(tg->vq, &ctx->rx[tg->tail]);
		if (ret == 0 && vhu_vq_iotlb_waiting(tg->vq))
			return -EAGAIN; /* buffers there, not yet translated: not a drop */
		if (ret <= 0)
			return ret == 0 ? -ENOBUFS : ret;
		tg->tail++;
	}
	if (ctx->rx[tg->next].fault) {
		/* behind an IOMMU, a buffer the device may not write: complete it empty */
		ctx->rx_len[tg->next++] = 0;
		return -EACCES;
	}
	*out = &ctx->rx[tg->next++];
	return 0;
}

/*
 * Take receive chains until the frame fits (more than one only with
 * mergeable buffers) and copy. A frame that does not fit gives back what
 * it took with length 0: drivers drop a buffer shorter than a header
 * (Linux counts rx_length_errors) and repost it.
 */
static int rx_emit_one(void *arg, const struct net_hdr *oh, const struct net_src *src,
		       struct net_ctx *ctx)
{
	struct rx_target *tg = arg;
	uint64_t total = tg->hdr_size + (uint64_t)src->len, done = 0;
	uint8_t hb[NET_HDR_SIZE];
	struct net_cur c;
	unsigned int first, n = 0;
	int ret = 0;

	/*
	 * Room for the largest frame after what is held. Chains are popped
	 * only once those taken ahead are used up, so with any still ahead
	 * next < NET_BURST and the room is there; without, flush.
	 */
	if (NET_RX_POOL - tg->next < NET_RX_CHAINS_MAX && tg->next == tg->tail)
		rx_flush(tg, ctx);
	first = tg->next;
	if (src->pre_len == 0 && src->niov && src->off <= src->iov[0].iov_len &&
	    src->len <= src->iov[0].iov_len - src->off) {
		/* the usual case: one guest buffer in, and it fits the next chain's first */
		struct vhu_req *r;

		ret = rx_take(tg, ctx, &r);
		if (ret < 0)
			return ret;
		if (r->in_num && r->iov[r->out_num].iov_len >= total) {
			uint8_t *d = r->iov[r->out_num].iov_base;

			net_store_hdr(d, oh, tg->hdr_size);
			memcpy(d + tg->hdr_size, (const uint8_t *)src->iov[0].iov_base + src->off,
			       src->len);
			ctx->rx_len[first] = (uint32_t)total;
			return 0;
		}
		tg->next--; /* not that simple: the general way, from this chain */
	}
	net_hdr_write(oh, hb, tg->hdr_size);
	net_cur_init(&c, src);
	while (done < total) {
		struct vhu_req *r;
		uint64_t before = done;

		if (n == NET_RX_CHAINS_MAX || (n == 1 && !tg->mrg)) {
			ret = -ENOBUFS; /* buffers too small for this frame */
			break;
		}
		ret = rx_take(tg, ctx, &r);
		if (ret < 0)
			break;
		ctx->rx_len[first + n++] = fill_chain(r, hb, tg->hdr_size, &c, &done, total);
		if (done < tg->hdr_size || (done == before && r->in_size > 0)) {
			ret = -ENOBUFS; /* the header must be in the first buffer */
			break;
		}
	}
	if (ret == 0 && n > 1 && tg->hdr_size == NET_HDR_SIZE) {
		uint8_t nb[2] = { (uint8_t)n, (uint8_t)(n >> 8) };

		chain_write(&ctx->rx[first], 10, nb, sizeof(nb)); /* num_buffers, now known */
	}
	if (ret < 0)
		for (unsigned int i = first; i < first + n; i++)
			ctx->rx_len[i] = 0;
	return ret;
}

/* Keep a frame for later (RX backlog): 0, or -ENOBUFS when the backlog is full or no memory. */
static int rx_keep(struct rx_target *tg, const struct net_hdr *oh, const struct net_src *src)
{
	struct net_backlog *bl = tg->bl;
	struct net_kept *k;
	struct net_cur c;

	if (backlog_n(bl) == NET_BACKLOG)
		return -ENOBUFS;
	k = malloc(sizeof(*k) + src->len);
	if (!k)
		return -ENOBUFS;
	k->oh = *oh;
	net_cur_init(&c, src);
	k->len = (uint32_t)net_cur_read(&c, k->data, src->len);
	pthread_mutex_lock(&bl->lock);
	if (bl->n == NET_BACKLOG) {
		pthread_mutex_unlock(&bl->lock);
		free(k);
		return -ENOBUFS;
	}
	bl->f[(bl->head + bl->n) % NET_BACKLOG] = k;
	__atomic_store_n(&bl->n, bl->n + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&bl->lock);
	net_count(tg->port, NET_TX_IOTLB_WAIT, 1);
	return 0;
}

/*
 * Deliver one frame (net_pkt_emit's callback): behind the kept ones if the
 * queue has a backlog; kept itself if a receive buffer misses the IOTLB.
 */
static int rx_emit(void *arg, const struct net_hdr *oh, const struct net_src *src,
		   struct net_ctx *ctx)
{
	struct rx_target *tg = arg;
	unsigned int first;
	int ret;

	if (backlog_n(tg->bl) && !tg->draining)
		return rx_keep(tg, oh, src);
	/* as rx_emit_one() would flush first: then first is where this frame starts */
	if (NET_RX_POOL - tg->next < NET_RX_CHAINS_MAX && tg->next == tg->tail)
		rx_flush(tg, ctx);
	first = tg->next;
	ret = rx_emit_one(arg, oh, src, ctx);
	if (ret != -EAGAIN)
		return ret;
	tg->next = first; /* the chains it took are the next frame's */
	if (tg->draining || !tg->bl)
		return tg->draining ? -EAGAIN : -ENOBUFS;
	return rx_keep(tg, oh, src);
}

/* Deliver the kept frames, oldest first, until one misses again. Return: how many went. */
static unsigned int rx_drain(struct rx_target *tg, struct net_ctx *ctx)
{
	struct net_backlog *bl = tg->bl;
	unsigned int done = 0;

	tg->draining = true;
	while (backlog_n(bl)) {
		/* only one thread drains (the queue's lock); others only append */
		struct net_kept *k = bl->f[bl->head];
		struct iovec iov = { k->data, k->len };
		struct net_src src = { .iov = &iov, .niov = 1, .len = k->len };
		int ret = rx_emit(tg, &k->oh, &src, ctx);

		if (ret == -EAGAIN)
			break;
		if (ret < 0) /* counted as sent when kept: now it is a drop after all */
			net_count(tg->port,
				  ret == -EACCES ? NET_TX_DROP_FAULT : NET_TX_DROP_NO_BUFFERS, 1);
		free(k);
		pthread_mutex_lock(&bl->lock);
		bl->head = (bl->head + 1) % NET_BACKLOG;
		__atomic_store_n(&bl->n, bl->n - 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&bl->lock);
		done++;
	}
	tg->draining = false;
	return done;
}

void net_backlog_flush(struct net_backlog *bl)
{
	if (!bl)
		return;
	pthread_mutex_lock(&bl->lock);
	while (bl->n) {
		free(bl->f[bl->head]);
		bl->head = (bl->head + 1) % NET_BACKLOG;
		__atomic_store_n(&bl->n, bl->n - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&bl->lock);
}

/* Pop a chain per frame ahead (up to @n) and start fetching their first lines for writing. */
static void rx_take_ahead(struct rx_target *tg, struct net_ctx *ctx, unsigned int n)
{
	while (tg->tail < n && vhu_vq_pop(tg->vq, &ctx->rx[tg->tail]) == 1) {
		const struct vhu_req *r = &ctx->rx[tg->tail++];

		if (r->in_num) {
			const uint8_t *b = r->iov[r->out_num].iov_base;

			/* a header on a line of its own is mostly left alone (net_store_hdr) */
			if (((uintptr_t)b ^ (uintptr_t)(b + tg->hdr_size)) >> 6)
				__builtin_prefetch(b, 0);
			else
				__builtin_prefetch(b, 1);
			if (r->iov[r->out_num].iov_len > 64)
				__builtin_prefetch(b + 64, 1);
		}
	}
}

/* Give back the chains no frame took, newest first; complete the rest. */
static void rx_finish(struct rx_target *tg, struct net_ctx *ctx)
{
	while (tg->tail > tg->next && vhu_vq_unpop(tg->vq, &ctx->rx[tg->tail - 1]) == 0)
		tg->tail--;
	/* cannot be given back (not expected: vhu-net tracks no inflight): complete, empty */
	while (tg->next < tg->tail)
		ctx->rx_len[tg->next++] = 0;
	rx_flush(tg, ctx);
}

/*
 * What net_pkt_emit() and rx_emit() do with the usual frame, inline: no
 * offload to pass on or finish, one buffer in, and it fits the first
 * buffer of a chain taken ahead. Calls save registers, stores that queue
 * behind the misses on the receive buffers too. False: nothing done.
 */
static inline bool rx_plain(struct rx_target *tg, struct net_ctx *ctx, uint64_t features,
			    const struct net_pkt *pkt, struct net_tally *t)
{
	const struct net_src *src = &pkt->src;
	uint64_t total = tg->hdr_size + (uint64_t)src->len;
	struct net_hdr oh = pkt->hdr;
	const struct vhu_req *r;
	uint8_t *d;

	if (backlog_n(tg->bl) || oh.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
	    (oh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || src->pre_len || !src->niov ||
	    src->off > src->iov[0].iov_len || src->len > src->iov[0].iov_len - src->off ||
	    tg->next == tg->tail)
		return false;
	r = &ctx->rx[tg->next];
	if (!r->in_num || r->fault || r->iov[r->out_num].iov_len < total)
		return false;
	oh.num_buffers = 1;
	if (!(features & VHU_BIT(VIRTIO_NET_F_GUEST_CSUM)))
		oh.flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	d = r->iov[r->out_num].iov_base;
	net_store_hdr(d, &oh, tg->hdr_size);
	memcpy(d + tg->hdr_size, (const uint8_t *)src->iov[0].iov_base + src->off, src->len);
	ctx->rx_len[tg->next++] = (uint32_t)total;
	t->c[NET_TX_PACKETS]++;
	t->c[NET_TX_BYTES] += src->len;
	return true;
}

void net_port_deliver(struct net_port *p, unsigned int qp, struct net_pkt *pkts, const uint8_t *idx,
		      unsigned int n, struct net_ctx *ctx)
{
	uint64_t features = port_features(p);
	struct rx_target tg = {
		.vq = __atomic_load_n(&p->rxq[qp], __ATOMIC_ACQUIRE),
		.hdr_size = hdr_size_of(features),
		.mrg = features & VHU_BIT(VIRTIO_NET_F_MRG_RXBUF),
		.port = p,
	};
	struct net_tally t;
	unsigned int drained = 0;

	memset(&t, 0, sizeof(t));
	vhu_vq_lock(tg.vq);
	tg.bl = p->backlog[qp]; /* set while the queue starts, under its lock */
	if (backlog_n(tg.bl))
		drained = rx_drain(&tg, ctx);
	rx_take_ahead(&tg, ctx, n);
	for (unsigned int i = 0; i < n; i++)
		if (!rx_plain(&tg, ctx, features, &pkts[idx[i]], &t))
			net_pkt_emit(features, &pkts[idx[i]], ctx, rx_emit, &tg, &t);
	rx_finish(&tg, ctx);
	if (t.c[NET_TX_PACKETS] || t.c[NET_TX_DROP_NO_BUFFERS] || drained)
		vhu_vq_notify(tg.vq); /* once per burst; returned buffers too */
	/* the queue's lock makes this thread the counts' one writer */
	for (unsigned int c = 0; c < NET_COUNTER_MAX; c++)
		net_qadd(&p->qout[qp].c[c], t.c[c]);
	vhu_vq_unlock(tg.vq);
}

/* The RX queue's own worker (its lock held: shared queue): deliver the backlog. */
void net_rx_worker_drain(struct net_port *p, unsigned int qp, struct vhu_vq *vq)
{
	struct net_backlog *bl = p->backlog[qp];
	uint64_t features = port_features(p);
	struct rx_target tg = {
		.vq = vq,
		.hdr_size = hdr_size_of(features),
		.mrg = features & VHU_BIT(VIRTIO_NET_F_MRG_RXBUF),
		.port = p,
		.bl = bl,
	};
	unsigned int done;

	if (!backlog_n(bl))
		return;
	done = rx_drain(&tg, &bl->ctx);
	rx_finish(&tg, &bl->ctx);
	if (done)
		vhu_vq_notify(vq);
}

/* net_pkt_emit's callback while the port is busy: every frame into the backlog. */
static int keep_emit(void *arg, const struct net_hdr *oh, const struct net_src *src,
		     struct net_ctx *ctx)
{
	(void)ctx;
	return rx_keep(arg, oh, src);
}

bool net_port_keep(struct net_port *p, struct net_pkt *pkts, const uint8_t *idx, unsigned int n,
		   struct net_ctx *ctx)
{
	uint64_t features = port_features(p);
	struct rx_target tg = {
		.hdr_size = hdr_size_of(features),
		.mrg = features & VHU_BIT(VIRTIO_NET_F_MRG_RXBUF),
		.port = p,
		.bl = __atomic_load_n(&p->backlog[0], __ATOMIC_ACQUIRE),
	};
	struct net_tally t;

	if (!tg.bl || !(features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)))
		return false;
	memset(&t, 0, sizeof(t));
	for (unsigned int i = 0; i < n; i++)
		net_pkt_emit(features, &pkts[idx[i]], ctx, keep_emit, &tg, &t);
	net_tally_flush(p, &t);
	return true;
}

void net_port_drain(struct net_port *p)
{
	for (unsigned int qp = 0; qp < NET_QP_MAX; qp++) {
		struct vhu_vq *vq = __atomic_load_n(&p->rxq[qp], __ATOMIC_ACQUIRE);

		if (!vq || !backlog_n(p->backlog[qp]) ||
		    !(__atomic_load_n(&p->rx_running, __ATOMIC_ACQUIRE) & (1u << qp)))
			continue;
		vhu_vq_lock(vq);
		net_rx_worker_drain(p, qp, vq);
		vhu_vq_unlock(vq);
	}
}
