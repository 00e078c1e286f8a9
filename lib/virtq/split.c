/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, the device side (virtio 1.x "Split Virtqueues").
 *
 * The driver publishes chain heads in the avail ring and then avail->idx; we
 * read that index once per pop, bound it by the ring size, and bound every
 * head, next index and chain length where it is read. A chain is walked at
 * most num steps, so a loop (a -> b -> a) ends as "longer than the ring".
 *
 * An indirect descriptor must be the only descriptor of its chain (the head,
 * without NEXT), as every driver makes them and as QEMU requires; a table
 * entry may not be indirect again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "virtq/inflight.h"
#include "virtq/virtq.h"

static int walk(struct vhu_vq *vq, struct vhu_req *req, const struct vhu_desc_table *t,
		uint16_t idx, bool in_table, uint16_t *ndescs);

/* @d is the head of its chain and INDIRECT: walk the table it points to. */
static int walk_indirect(struct vhu_vq *vq, struct vhu_req *req, const struct vring_desc *d)
{
	struct vhu_desc_table table;
	uint16_t flags = le16toh(d->flags), ignored;
	int ret;

	if (!vq->indirect)
		return vhu_vq_break(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (flags & VRING_DESC_F_NEXT)
		return vhu_vq_break(vq, "descriptor with both NEXT and INDIRECT");
	ret = vhu_vq_map_table(vq, &table, le64toh(d->addr), le32toh(d->len));
	if (ret < 0)
		return ret;
	return walk(vq, req, &table, 0, true, &ignored);
}

/*
 * Append the chain that starts at entry @idx (< t->num) of @t to @req.
 * *@ndescs: the entries of @t it took.
 */
static int walk(struct vhu_vq *vq, struct vhu_req *req, const struct vhu_desc_table *t,
		uint16_t idx, bool in_table, uint16_t *ndescs)
{
	for (uint32_t n = 0;; n++) {
		struct vring_desc d;
		uint16_t flags;
		int ret;

		if (n == t->num)
			return vhu_vq_break(
				vq, "descriptor chain longer than its table of %" PRIu32, t->num);
		vhu_vq_read_desc(t, idx, &d); /* read once: the driver may rewrite the table */
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (in_table)
				return vhu_vq_break(vq, "indirect descriptor in an indirect table");
			if (n != 0)
				return vhu_vq_break(vq, "indirect descriptor inside a chain");
			*ndescs = 1;
			vq->last_indirect = true;
			return walk_indirect(vq, req, &d);
		}
		ret = vhu_vq_map_desc(vq, req, le64toh(d.addr), le32toh(d.len),
				      flags & VRING_DESC_F_WRITE);
		if (ret < 0)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT)) {
			*ndescs = (uint16_t)(n + 1); /* n < t->num <= VHU_VQ_MAX_SIZE */
			return 0;
		}
		idx = le16toh(d.next);
		if (idx >= t->num)
			return vhu_vq_break(vq, "next %u outside a table of %" PRIu32, idx, t->num);
	}
}

/* spec: "avail_event" sits after the used ring's num entries (mapped by set_addr) */
static uint16_t *avail_event(struct vhu_vq *vq)
{
	void *p = (uint8_t *)vq->used + offsetof(struct vring_used, ring) +
		  (size_t)vq->num * sizeof(struct vring_used_elem);

	return p; /* 4-aligned: the used ring is */
}

/* The chain at @head (< num) of the descriptor ring into @req. */
static int walk_head(struct vhu_vq *vq, struct vhu_req *req, uint16_t head)
{
	struct vhu_desc_table ring;
	int ret;

	vhu_req_clear(req);
	vq->last_indirect = false;
	vhu_vq_ring_table(&ring, vq->desc, vq->num);
	ret = walk(vq, req, &ring, head, false, &req->ndescs);
	if (ret == 0)
		req->id = head;
	return ret;
}

/*
 * Warm what the next pops will read while this one runs: the descriptors
 * of the next PREFETCH_DESCS entries already published, and, when the
 * driver uses indirect tables, the next entry's table (its descriptor was
 * warmed by earlier pops). Each is a miss on a line the driver's CPU
 * wrote; taken one request at a time they stall the device back to back.
 * Hints only: what is read here is not trusted, a bad index or address
 * just prefetches nothing, and the walk reads everything anew.
 */
#define PREFETCH_DESCS 8u /* how far ahead descriptors are warmed */

static void prefetch_desc(struct vhu_vq *vq, uint16_t k)
{
	uint16_t h = vhu_vq_load16(
		&vq->avail->ring[(uint16_t)(vq->last_avail_idx + k) & (uint16_t)(vq->num - 1)]);

	if (h < vq->num)
		__builtin_prefetch(&vq->desc[h]);
}

static void prefetch_ahead(struct vhu_vq *vq, bool fresh)
{
	uint16_t mask = (uint16_t)(vq->num - 1), h;

	/* a fresh look at avail->idx starts the window, each pop moves it one on */
	if (fresh)
		for (uint16_t k = 1; k <= PREFETCH_DESCS && k < vq->avail_ahead; k++)
			prefetch_desc(vq, k);
	else if (vq->avail_ahead > PREFETCH_DESCS)
		prefetch_desc(vq, PREFETCH_DESCS);
	/* tables: only while the driver uses them (reading the next descriptor stalls) */
	/* not under an IOMMU: the table's address is an IOVA, not a gpa */
	if (vq->avail_ahead > 1 && vq->indirect && vq->last_indirect && !vq->iommu) {
		h = vhu_vq_load16(&vq->avail->ring[(uint16_t)(vq->last_avail_idx + 1) & mask]);
		if (h < vq->num && (le16toh(__atomic_load_n(&vq->desc[h].flags, __ATOMIC_RELAXED)) &
				    VRING_DESC_F_INDIRECT)) {
			const void *t = vhu_mem_gpa_ptr(
				vq->mem,
				le64toh(__atomic_load_n(&vq->desc[h].addr, __ATOMIC_RELAXED)), 1);

			if (t)
				__builtin_prefetch(t);
		}
	}
}

int vhu_split_pop(struct vhu_vq *vq, struct vhu_req *req)
{
	uint16_t avail_idx, pending, head;
	bool fresh = false;
	int ret;

	/*
	 * avail->idx shares its cache line with the driver's stores: read it
	 * only when the entries seen at the last read are used up, so that a
	 * burst of pops costs one read of the line the driver keeps writing.
	 * Acquire: pairs with the driver's write barrier between filling the
	 * ring entries (and descriptors) and publishing avail->idx (virtio_wmb
	 * in virtqueue_add_split): what it wrote before is visible below.
	 */
	if (vq->avail_ahead == 0) {
		avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		pending = (uint16_t)(avail_idx - vq->last_avail_idx);
		if (pending > vq->num)
			return vhu_vq_break(vq, "avail idx %u is %u entries past %u, ring of %u",
					    avail_idx, pending, vq->last_avail_idx, vq->num);
		if (pending == 0)
			return 0;
		vq->avail_ahead = pending;
		fresh = true;
	}
	/* num is a power of two: masking the free-running index picks the slot */
	head = vhu_vq_load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num)
		return vhu_vq_break(vq, "head %u outside a ring of %u", head, vq->num);
	prefetch_ahead(vq, fresh);
	ret = walk_head(vq, req, head);
	if (ret < 0)
		return ret;
	if (vq->inflight_on) {
		ret = vhu_inflight_split_fetched(vq, head);
		if (ret < 0)
			return ret;
	}
	vq->last_avail_idx++;
	vq->avail_ahead--;
	/*
	 * Event idx: ask for a kick at the next entry, as QEMU and
	 * libvhost-user do on every pop, so a device that never calls
	 * vhu_vq_enable_notify() still hears of new buffers.
	 */
	if (vq->event_idx && !vq->notify_off && !vq->poll_quiet)
		vhu_vq_store16(avail_event(vq), vq->last_avail_idx);
	return 1;
}

int vhu_split_resubmit(struct vhu_vq *vq, struct vhu_req *req, uint16_t head)
{
	/* in flight, so the driver left its chain alone: walk it as when it was fetched */
	int ret = walk_head(vq, req, head);

	return ret < 0 ? ret : 1;
}

/* Write the next used element (not yet published: used->idx is the caller's). */
static void used_put(struct vhu_vq *vq, uint16_t id, uint32_t len)
{
	struct vring_used_elem *elem = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	if (__atomic_load_n(&elem->id, __ATOMIC_RELAXED) != htole32(id))
		vhu_vq_store32(&elem->id, id);
	if (__atomic_load_n(&elem->len, __ATOMIC_RELAXED) != htole32(len))
		vhu_vq_store32(&elem->len, len);
	vq->used_idx++;
}

int vhu_split_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len)
{
	struct vhu_inflight_split *r = vq->inflight;

	if (req->id >= vq->num)
		return -EINVAL; /* not a request of this ring */
	if (vq->inflight_on) {
		/* spec: "Inflight I/O tracking", split virtqueue, "When supplying used
		 * buffers to the driver", steps 1-3 for a batch of one */
		__atomic_store_n(&r->desc[req->id].next,
				 __atomic_load_n(&r->last_batch_head, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&r->last_batch_head, req->id, __ATOMIC_RELAXED);
		VHU_INFLIGHT_CRASH(vq, 1);
	}
	used_put(vq, req->id, len);
	/*
	 * Release: the element, and the data the device wrote into the buffers,
	 * are visible before the new idx. Pairs with the driver's read barrier
	 * after it reads used->idx (virtio_rmb in virtqueue_get_buf_ctx_split).
	 */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	if (vq->inflight_on) {
		/* steps 5-7: the batch reached the ring; it is no longer in flight */
		VHU_INFLIGHT_CRASH(vq, 2);
		__atomic_store_n(&r->desc[req->id].inflight, 0, __ATOMIC_RELAXED);
		VHU_INFLIGHT_CRASH(vq, 3);
		__atomic_store_n(&r->used_idx, vq->used_idx, __ATOMIC_RELAXED);
	}
	return 0;
}

int vhu_split_unpop(struct vhu_vq *vq, const struct vhu_req *req)
{
	(void)req; /* the entry is read again from the avail ring */
	vq->last_avail_idx--;
	vq->avail_ahead++;
	/* event idx: as if the pop had not moved avail_event either */
	if (vq->event_idx && !vq->notify_off && !vq->poll_quiet)
		vhu_vq_store16(avail_event(vq), vq->last_avail_idx);
	return 0;
}

int vhu_split_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			 unsigned int n)
{
	int ret = 0;

	if (vq->inflight_on) {
		/* the seed's steps are per request: a batch of one each */
		for (unsigned int i = 0; i < n; i++)
			if (vhu_split_push(vq, &reqs[i], lens[i]) < 0)
				ret = -EINVAL;
		return ret;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (reqs[i].id >= vq->num)
			ret = -EINVAL; /* not a request of this ring: skipped */
		else
			used_put(vq, reqs[i].id, lens[i]);
	}
	/* one release for the burst: as in vhu_split_push() */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	return ret;
}

bool vhu_split_need_notify(struct vhu_vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, used_event;
	bool valid = vq->signalled_used_valid;

	/*
	 * Full barrier: our used->idx store is visible before we read the
	 * driver's flags or used_event. Pairs with the driver's barrier between
	 * writing those and re-reading used->idx (virtio_mb in
	 * virtqueue_enable_cb_delayed_split / virtqueue_poll): one side always
	 * sees the other, so no completion is left without an interrupt.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (valid && old == new)
		return false; /* nothing pushed since the last notify */
	if (!vq->event_idx)
		return !(vhu_vq_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* spec: "used_event" sits after the avail ring's num entries (mapped by set_addr) */
	used_event = vhu_vq_load16(&vq->avail->ring[vq->num]);
	return vring_need_event(used_event, new, old);
}

bool vhu_split_has_avail(struct vhu_vq *vq)
{
	/* a peek: vhu_split_pop() reads the index again (acquire) before using it */
	return vhu_vq_load16(&vq->avail->idx) != vq->last_avail_idx;
}

bool vhu_split_enable_notify(struct vhu_vq *vq, bool enable)
{
	/* the worker polls: the device's wish is kept for when it stops (vhu_vq_poll_quiet) */
	if (vq->poll_quiet) {
		vq->notify_off = !enable;
		return enable && vhu_split_has_avail(vq);
	}
	/* already off since start: no store into the line the driver polls (used->idx's) */
	if (!enable && vq->notify_off)
		return false;
	vq->notify_off = !enable;
	if (vq->event_idx) {
		/* kick me when entry last_avail_idx is published; disabled, pop stops moving it */
		if (enable)
			vhu_vq_store16(avail_event(vq), vq->last_avail_idx);
	} else {
		vhu_vq_store16(&vq->used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	if (!enable)
		return false;
	/*
	 * Full barrier: our flag/avail_event store is visible before we re-read
	 * avail->idx. Pairs with the driver's barrier between publishing
	 * avail->idx and reading used->flags / avail_event (virtio_mb in
	 * virtqueue_kick_prepare_split): it kicks, or we see its entries here.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vhu_vq_load16(&vq->avail->idx) != vq->last_avail_idx;
}

bool vhu_split_poll_quiet(struct vhu_vq *vq, bool quiet)
{
	if (quiet) {
		/* event idx: avail_event simply stays behind, at most one more kick */
		if (!vq->poll_quiet && !vq->notify_off && !vq->event_idx)
			vhu_vq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
		vq->poll_quiet = true;
		return false;
	}
	vq->poll_quiet = false;
	/* the device wants none: the ring already says so */
	if (vq->notify_off)
		return false;
	return vhu_split_enable_notify(vq, true); /* store, full barrier, look again */
}
