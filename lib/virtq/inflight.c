/* SPDX-License-Identifier: MIT */
/*
 * Inflight I/O tracking: the region's formats, the repair on every start and
 * the resubmit list (inflight.h has the concepts; the spec's "Inflight I/O
 * tracking" the algorithms).
 * split.c and packed.c call the fetch and complete hooks where they take
 * and complete chains.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "virtq/inflight.h"

/* Region fields: the front-end maps them too, so each is read once, whole. */
static inline uint8_t ld8(const uint8_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint16_t ld16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint64_t ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void st8(uint8_t *p, uint8_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void st16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void st64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Between two steps: the stores before are made before the stores after. */
#define STEP() __atomic_signal_fence(__ATOMIC_SEQ_CST)

uint64_t vhu_inflight_queue_bytes(uint16_t queue_size)
{
	uint64_t b = sizeof(struct vhu_inflight_packed) +
		     (uint64_t)queue_size * sizeof(struct vhu_inflight_desc_packed);

	return (b + VHU_INFLIGHT_ALIGN - 1) & ~(uint64_t)(VHU_INFLIGHT_ALIGN - 1);
}

void vhu_inflight_stop(struct vhu_vq *vq)
{
	free(vq->resubmit);
	vq->resubmit = NULL;
	free(vq->inflight_entry);
	vq->inflight_entry = NULL;
	vq->resubmit_n = vq->resubmit_i = 0;
	vq->inflight_on = false;
}

void vhu_vq_set_inflight(struct vhu_vq *vq, void *area, uint16_t capacity)
{
	vhu_inflight_stop(vq);
	vq->inflight = area;
	vq->inflight_cap = area ? capacity : 0;
}

/* ---- the resubmit list ---- */

struct pending {
	uint64_t counter;
	uint16_t idx;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* Sort @n pending heads by fetch order into vq->resubmit; the next counter follows the last. */
static int resubmit_set(struct vhu_vq *vq, struct pending *p, uint32_t n)
{
	vq->inflight_counter = 0;
	if (n == 0)
		return 0;
	qsort(p, n, sizeof(*p), pending_cmp);
	vq->resubmit = malloc(n * sizeof(*vq->resubmit));
	if (!vq->resubmit)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		vq->resubmit[i] = p[i].idx;
	vq->resubmit_n = n;
	vq->resubmit_i = 0;
	vq->inflight_counter = p[n - 1].counter + 1;
	vhu_info(vq->log,
		 "queue %u: %" PRIu32 " request(s) in flight before the restart, resubmitted",
		 vq->index, n);
	return 0;
}

/* ---- split ---- */

static void split_format(struct vhu_vq *vq, struct vhu_inflight_split *r)
{
	memset(r->desc, 0, (size_t)vq->num * sizeof(r->desc[0]));
	st64(&r->features, 0);
	st16(&r->desc_num, vq->num);
	st16(&r->last_batch_head, 0);
	st16(&r->used_idx, vq->used_idx);
	STEP();
	st16(&r->version, VHU_INFLIGHT_VERSION);
	vq->inflight_counter = 0;
}

static int split_start(struct vhu_vq *vq, struct pending *p)
{
	struct vhu_inflight_split *r = vq->inflight;
	uint16_t num = vq->num, used = vq->used_idx, ru, head;
	uint32_t n = 0;

	if (ld16(&r->version) != VHU_INFLIGHT_VERSION || ld16(&r->desc_num) != num) {
		if (ld16(&r->version) == VHU_INFLIGHT_VERSION)
			vhu_warn(vq->log,
				 "queue %u: inflight region was for a ring of %u, now %u: "
				 "starting it afresh",
				 vq->index, ld16(&r->desc_num), num);
		split_format(vq, r);
		return 0;
	}
	/* spec: reconnecting, 1: a push the crash cut short after it reached the ring */
	ru = ld16(&r->used_idx);
	if (ru != used) {
		uint16_t batch = (uint16_t)(used - ru);

		if (batch > num)
			return vhu_vq_break(vq,
					    "inflight region: used idx %u is %u past the region's",
					    used, batch);
		head = ld16(&r->last_batch_head);
		for (uint16_t k = 0; k < batch; k++) {
			if (head >= num)
				return vhu_vq_break(vq,
						    "inflight region: batch entry %u outside %u",
						    head, num);
			st8(&r->desc[head].inflight, 0);
			head = ld16(&r->desc[head].next);
		}
		STEP();
		st16(&r->used_idx, used);
	}
	/* 2: what is still in flight, in fetch order */
	for (uint16_t i = 0; i < num; i++)
		if (ld8(&r->desc[i].inflight))
			p[n++] = (struct pending){ ld64(&r->desc[i].counter), i };
	/* every fetched head is used or in flight: the avail ring was read this far */
	vq->last_avail_idx = (uint16_t)(used + n);
	return resubmit_set(vq, p, n);
}

int vhu_inflight_split_fetched(struct vhu_vq *vq, uint16_t head)
{
	struct vhu_inflight_split *r = vq->inflight;

	/* head < num: split.c checked it */
	if (ld8(&r->desc[head].inflight))
		return vhu_vq_break(vq, "head %u made available again while in flight", head);
	st64(&r->desc[head].counter, vq->inflight_counter++);
	STEP();
	st8(&r->desc[head].inflight, 1);
	return 0; /* the head is the request's id: push finds the entry by it */
}

/* ---- packed ---- */

static void packed_format(struct vhu_vq *vq, struct vhu_inflight_packed *r)
{
	memset(r->desc, 0, (size_t)vq->num * sizeof(r->desc[0]));
	for (uint16_t i = 0; i < vq->num; i++)
		st16(&r->desc[i].next, (uint16_t)(i + 1)); /* the last one: num, the end */
	st64(&r->features, 0);
	st16(&r->desc_num, vq->num);
	st16(&r->free_head, 0);
	st16(&r->old_free_head, 0);
	st16(&r->used_idx, vq->used_idx);
	st16(&r->old_used_idx, vq->used_idx);
	st8(&r->used_wrap_counter, vq->used_wrap);
	st8(&r->old_used_wrap_counter, vq->used_wrap);
	STEP();
	st16(&r->version, VHU_INFLIGHT_VERSION);
	vq->inflight_counter = 0;
	vq->inflight_in_use = 0;
}

static bool packed_any_inflight(const struct vhu_inflight_packed *r, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		if (ld8(&r->desc[i].inflight))
			return true;
	return false;
}

static int packed_start(struct vhu_vq *vq, struct pending *p)
{
	struct vhu_inflight_packed *r = vq->inflight;
	uint16_t num = vq->num, ui, oui, head;
	uint32_t n = 0, total = 0, avail;
	bool uw, ouw;

	if (ld16(&r->version) != VHU_INFLIGHT_VERSION || ld16(&r->desc_num) != num) {
		if (ld16(&r->version) == VHU_INFLIGHT_VERSION &&
		    packed_any_inflight(r, ld16(&r->desc_num) < num ? ld16(&r->desc_num) : num))
			vhu_warn(vq->log,
				 "queue %u: inflight region was for a ring of %u, now %u: "
				 "its requests cannot be recovered",
				 vq->index, ld16(&r->desc_num), num);
		packed_format(vq, r);
		return 0;
	}
	ui = ld16(&r->used_idx);
	oui = ld16(&r->old_used_idx);
	uw = ld8(&r->used_wrap_counter);
	ouw = ld8(&r->old_used_wrap_counter);
	if (ui >= num || oui >= num)
		return vhu_vq_break(vq, "inflight region: used slot %u/%u outside %u", ui, oui,
				    num);
	/*
	 * spec: reconnecting, 1: a push was cut short. If its used descriptor
	 * reached the ring (the slot no longer shows the driver's available
	 * flags of that lap), the push happened: commit it; else roll it back.
	 */
	if (ui != oui || uw != ouw) {
		uint16_t flags = vhu_vq_load16(&vq->pdesc[oui].flags) &
				 (VHU_PACKED_DESC_F_AVAIL | VHU_PACKED_DESC_F_USED);
		uint16_t avail_flags = ouw ? VHU_PACKED_DESC_F_AVAIL : VHU_PACKED_DESC_F_USED;

		if (flags != avail_flags) {
			st16(&r->old_free_head, ld16(&r->free_head));
			st16(&r->old_used_idx, ui);
			st8(&r->old_used_wrap_counter, uw);
		}
	}
	STEP();
	/* 2: roll back any update in progress */
	st16(&r->free_head, ld16(&r->old_free_head));
	st16(&r->used_idx, ld16(&r->old_used_idx));
	st8(&r->used_wrap_counter, ld8(&r->old_used_wrap_counter));
	STEP();
	/* 3: nothing on the free list is in flight (a fetch cut short) */
	head = ld16(&r->free_head);
	for (uint16_t k = 0; k < num && head < num; k++) {
		st8(&r->desc[head].inflight, 0);
		head = ld16(&r->desc[head].next);
	}
	/* 4: what is still in flight, in fetch order; it holds the ring slots after used */
	for (uint16_t i = 0; i < num; i++) {
		uint16_t cnt;

		if (!ld8(&r->desc[i].inflight))
			continue;
		cnt = ld16(&r->desc[i].num);
		total += cnt;
		if (cnt == 0 || total > num)
			return vhu_vq_break(vq,
					    "inflight region: %" PRIu32 "+ descriptors in flight "
					    "in a ring of %u",
					    total, num);
		p[n++] = (struct pending){ ld64(&r->desc[i].counter), i };
	}
	vq->used_idx = ld16(&r->used_idx);
	vq->used_wrap = ld8(&r->used_wrap_counter);
	if (vq->used_idx >= num)
		return vhu_vq_break(vq, "inflight region: used slot %u outside %u", vq->used_idx,
				    num);
	avail = vq->used_idx + total;
	vq->avail_wrap = vq->used_wrap;
	if (avail >= num) {
		avail -= num;
		vq->avail_wrap = !vq->avail_wrap;
	}
	vq->last_avail_idx = (uint16_t)avail;
	vq->inflight_in_use = total;
	return resubmit_set(vq, p, n);
}

int vhu_inflight_packed_desc(struct vhu_vq *vq, const struct vring_packed_desc *d, bool head,
			     bool last)
{
	struct vhu_inflight_packed *r = vq->inflight;
	uint16_t num = vq->num, ofh, fh = ld16(&r->free_head);
	struct vhu_inflight_desc_packed *e;

	/*
	 * The head entry is read from the region once per chain and kept: the
	 * front-end shares the region and may rewrite old_free_head meanwhile.
	 */
	ofh = head ? ld16(&r->old_free_head) : vq->inflight_head;
	if (ofh >= num || fh >= num)
		return vhu_vq_break(vq, "inflight region: free list at %u/%u outside %u", ofh, fh,
				    num);
	e = &r->desc[ofh];
	if (head) {
		vq->inflight_head = ofh;
		st16(&e->num, 0);
		st64(&e->counter, vq->inflight_counter);
		STEP();
		st8(&e->inflight, 1);
	}
	/* the driver can only have num descriptors out: more means it reused slots */
	if (vq->inflight_in_use + ld16(&e->num) >= num)
		return vhu_vq_break(vq, "more descriptors in flight than the ring of %u holds",
				    num);
	if (last)
		st16(&e->last, fh);
	st16(&e->num, (uint16_t)(ld16(&e->num) + 1));
	st64(&r->desc[fh].addr, le64toh(d->addr));
	st16(&r->desc[fh].id, le16toh(d->id));
	st16(&r->desc[fh].flags, le16toh(d->flags));
	__atomic_store_n(&r->desc[fh].len, le32toh(d->len), __ATOMIC_RELAXED);
	STEP();
	st16(&r->free_head, ld16(&r->desc[fh].next));
	return 0;
}

int vhu_inflight_packed_fetched(struct vhu_vq *vq, struct vhu_req *req)
{
	struct vhu_inflight_packed *r = vq->inflight;

	/* req->id < num: packed.c checked it */
	if (vq->inflight_entry[req->id] != VHU_INFLIGHT_NO_ENTRY)
		return vhu_vq_break(vq, "buffer id %u made available again while in flight",
				    req->id);
	vq->inflight_entry[req->id] = vq->inflight_head; /* checked by vhu_inflight_packed_desc */
	vq->inflight_counter++;
	vq->inflight_in_use += req->ndescs;
	STEP();
	/* spec step 7, once the chain is known good: it is now in flight */
	st16(&r->old_free_head, ld16(&r->free_head));
	return 0;
}

/* ---- both ---- */

int vhu_inflight_start(struct vhu_vq *vq)
{
	struct pending *p;
	int ret;

	vhu_inflight_stop(vq);
	if (!vq->inflight)
		return 0;
	if (vq->num > vq->inflight_cap) {
		vhu_warn(vq->log,
			 "queue %u: ring of %u is larger than the inflight region's %u: "
			 "not tracked",
			 vq->index, vq->num, vq->inflight_cap);
		return 0;
	}
	if (vq->packed) {
		/* the area entry of each buffer id in flight, for its push */
		vq->inflight_entry = malloc((size_t)vq->num * sizeof(*vq->inflight_entry));
		if (!vq->inflight_entry)
			return -ENOMEM;
		memset(vq->inflight_entry, 0xff, (size_t)vq->num * sizeof(*vq->inflight_entry));
	}
	p = malloc((size_t)vq->num * sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = vq->packed ? packed_start(vq, p) : split_start(vq, p);
	free(p);
	if (ret == 0)
		vq->inflight_on = true;
	return ret;
}

int vhu_inflight_resubmit(struct vhu_vq *vq, struct vhu_req *req)
{
	uint16_t idx;
	int ret;

	if (vq->resubmit_i >= vq->resubmit_n)
		return 0;
	idx = vq->resubmit[vq->resubmit_i];
	ret = vq->packed ? vhu_packed_resubmit(vq, req, idx) : vhu_split_resubmit(vq, req, idx);
	if (ret == -EAGAIN)
		return ret; /* an IOTLB miss: the same head again on the next fetch */
	if (++vq->resubmit_i == vq->resubmit_n) {
		free(vq->resubmit);
		vq->resubmit = NULL;
		vq->resubmit_n = vq->resubmit_i = 0;
	}
	return ret < 0 ? ret : 1;
}
