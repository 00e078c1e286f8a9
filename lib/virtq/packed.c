/* SPDX-License-Identifier: MIT */
/*
 * Packed virtqueues, the device side (virtio 1.1 "Packed Virtqueues").
 *
 * One descriptor ring: the driver makes a slot available by setting its
 * AVAIL bit to the driver wrap counter and USED to the inverse; the device
 * uses it by setting both to the device wrap counter. We poll the slot at
 * last_avail_idx only. A chain is consecutive slots linked by NEXT (with
 * wrap), at most num of them; its buffer id (in the last descriptor, spec:
 * "Next Flag: Descriptor Chaining") must be < num, because devices use it as
 * an index (SPDK's unbounded-id bug).
 *
 * An indirect descriptor must be a chain of its own ("each list only contains
 * descriptors of a given type"); in its table only WRITE is meaningful, the
 * other flags are reserved and ignored, and the table's length alone bounds
 * the walk (spec: "Indirect Flag: Scatter-Gather Support").
 */
#include <errno.h>
#include <inttypes.h>

#include "virtq/inflight.h"
#include "virtq/virtq.h"

#define EVENT_FLAGS_MASK 0x3u

static bool desc_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VHU_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(flags & VHU_PACKED_DESC_F_USED) != wrap;
}

static int walk_indirect(struct vhu_vq *vq, struct vhu_req *req, const struct vring_packed_desc *d)
{
	struct vhu_desc_table table;
	int ret;

	if (!vq->indirect)
		return vhu_vq_break(vq, "indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	ret = vhu_vq_map_table(vq, &table, le64toh(d->addr), le32toh(d->len));
	for (uint32_t i = 0; ret == 0 && i < table.num; i++) {
		struct vring_packed_desc e;

		vhu_vq_read_desc(&table, i, &e);
		ret = vhu_vq_map_desc(vq, req, le64toh(e.addr), le32toh(e.len),
				      le16toh(e.flags) & VRING_DESC_F_WRITE);
	}
	return ret;
}

/*
 * Walk the chain at last_avail_idx, whose head was seen available. *@id is
 * its buffer id, *@ndescs the slots it takes.
 */
static int walk(struct vhu_vq *vq, struct vhu_req *req, uint16_t *id, uint16_t *ndescs)
{
	struct vhu_desc_table ring;
	uint16_t slot = vq->last_avail_idx;

	vhu_vq_ring_table(&ring, vq->pdesc, vq->num);
	for (uint32_t n = 0;; n++) {
		struct vring_packed_desc d;
		uint16_t flags;
		int ret;

		if (n == vq->num)
			return vhu_vq_break(vq, "descriptor chain longer than the ring of %u",
					    vq->num);
		vhu_vq_read_desc(&ring, slot, &d); /* read once */
		flags = le16toh(d.flags);
		*id = le16toh(d.id);
		*ndescs = (uint16_t)(n + 1); /* n < num <= VHU_VQ_MAX_SIZE */
		if (vq->inflight_on) {
			bool last = !(flags & VRING_DESC_F_NEXT) || (flags & VRING_DESC_F_INDIRECT);

			ret = vhu_inflight_packed_desc(vq, &d, n == 0, last);
			if (ret < 0)
				return ret;
		}
		if (flags & VRING_DESC_F_INDIRECT) {
			if (n != 0 || (flags & VRING_DESC_F_NEXT))
				return vhu_vq_break(vq, "indirect descriptor in a chain");
			return walk_indirect(vq, req, &d);
		}
		ret = vhu_vq_map_desc(vq, req, le64toh(d.addr), le32toh(d.len),
				      flags & VRING_DESC_F_WRITE);
		if (ret < 0 || !(flags & VRING_DESC_F_NEXT))
			return ret;
		slot = slot + 1 == vq->num ? 0 : slot + 1;
	}
}

/* The device event position of the next slot to become available. */
static uint16_t off_wrap(const struct vhu_vq *vq)
{
	return (uint16_t)(vq->last_avail_idx | (vq->avail_wrap << VRING_PACKED_EVENT_F_WRAP_CTR));
}

int vhu_packed_pop(struct vhu_vq *vq, struct vhu_req *req)
{
	uint16_t flags, id = 0, ndescs = 0;
	uint32_t next;
	int ret;

	flags = vhu_vq_load16(&vq->pdesc[vq->last_avail_idx].flags);
	if (!desc_avail(flags, vq->avail_wrap))
		return 0;
	/*
	 * Acquire: pairs with the driver's write barrier between writing the
	 * chain and the head's flags (virtio_wmb in virtqueue_add_packed): the
	 * rest of the head and every later descriptor of the chain are visible.
	 * Only this first read of the flags decides availability.
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (vq->iommu && vq->inflight_on) {
		/*
		 * The walk records each descriptor in the inflight region as it
		 * goes: translate the chain once without recording, so that a
		 * miss leaves no half-recorded chain behind.
		 */
		vq->inflight_on = false;
		vhu_req_clear(req);
		ret = walk(vq, req, &id, &ndescs);
		vq->inflight_on = true;
		if (ret < 0)
			return ret;
	}
	vhu_req_clear(req);
	ret = walk(vq, req, &id, &ndescs);
	if (ret == -EAGAIN && vq->iommu && vq->inflight_on)
		return vhu_vq_break(vq, "the chain changed between two reads of it");
	if (ret < 0)
		return ret;
	if (id >= vq->num)
		return vhu_vq_break(vq, "buffer id %u outside a ring of %u", id, vq->num);
	req->id = id;
	req->ndescs = ndescs;
	if (vq->inflight_on && (ret = vhu_inflight_packed_fetched(vq, req)) < 0)
		return ret;
	next = (uint32_t)vq->last_avail_idx + ndescs;
	if (next >= vq->num) {
		next -= vq->num;
		vq->avail_wrap = !vq->avail_wrap;
	}
	vq->last_avail_idx = (uint16_t)next;
	/* event idx: move a DESC event along, as split moves avail_event (split.c) */
	if (vq->event_idx && !vq->notify_off && !vq->poll_quiet)
		vhu_vq_store16(&vq->device_event->off_wrap, off_wrap(vq));
	return 1;
}

int vhu_packed_unpop(struct vhu_vq *vq, const struct vhu_req *req)
{
	uint16_t n = req->ndescs;

	if (n == 0 || n > vq->num)
		return -EINVAL; /* not a chain this ring handed out */
	if (vq->last_avail_idx >= n) {
		vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
	} else {
		vq->last_avail_idx = (uint16_t)(vq->last_avail_idx + vq->num - n);
		vq->avail_wrap = !vq->avail_wrap;
	}
	if (vq->event_idx && !vq->notify_off && !vq->poll_quiet)
		vhu_vq_store16(&vq->device_event->off_wrap, off_wrap(vq));
	return 0;
}

/*
 * spec: "Inflight I/O tracking", packed virtqueue, "When supplying used buffers to
 * the driver", steps 1-6 for a batch of one: free the entries, move used.
 */
static int packed_track_push(struct vhu_vq *vq, struct vhu_inflight_packed *r,
			     const struct vhu_req *req)
{
	uint16_t e = vq->inflight_entry[req->id], last; /* req->id < num: checked */
	uint32_t used;
	bool wrap = vq->used_wrap;

	if (e >= vq->num || req->ndescs > vq->inflight_in_use)
		return -EINVAL; /* not a request this ring has in flight */
	last = __atomic_load_n(&r->desc[e].last, __ATOMIC_RELAXED);
	if (last >= vq->num)
		return vhu_vq_break(vq, "inflight region: last entry %u outside %u", last, vq->num);
	__atomic_store_n(&r->desc[last].next, __atomic_load_n(&r->free_head, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&r->free_head, e, __ATOMIC_RELAXED);
	VHU_INFLIGHT_CRASH(vq, 1);
	used = (uint32_t)vq->used_idx + req->ndescs;
	if (used >= vq->num) {
		used -= vq->num;
		wrap = !wrap;
	}
	__atomic_store_n(&r->used_idx, (uint16_t)used, __ATOMIC_RELAXED);
	__atomic_store_n(&r->used_wrap_counter, wrap, __ATOMIC_RELAXED);
	VHU_INFLIGHT_CRASH(vq, 2);
	return 0;
}

/* The chain of area entries from @entry, as it was fetched (inflight.c). */
int vhu_packed_resubmit(struct vhu_vq *vq, struct vhu_req *req, uint16_t entry)
{
	struct vhu_inflight_packed *r = vq->inflight;
	uint16_t n = __atomic_load_n(&r->desc[entry].num, __ATOMIC_RELAXED), id = 0;
	uint16_t e = entry;
	int ret = 0;

	vhu_req_clear(req);
	for (uint16_t k = 0; ret == 0 && k < n; k++) {
		struct vhu_inflight_desc_packed *s;
		struct vring_packed_desc d;
		uint16_t flags;

		if (e >= vq->num)
			return vhu_vq_break(vq, "inflight region: entry %u outside %u", e, vq->num);
		s = &r->desc[e];
		d.addr = htole64(__atomic_load_n(&s->addr, __ATOMIC_RELAXED));
		d.len = htole32(__atomic_load_n(&s->len, __ATOMIC_RELAXED));
		flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
		d.flags = htole16(flags);
		id = __atomic_load_n(&s->id, __ATOMIC_RELAXED);
		if (flags & VRING_DESC_F_INDIRECT)
			ret = n == 1 ? walk_indirect(vq, req, &d)
				     : vhu_vq_break(vq, "inflight region: indirect in a chain");
		else
			ret = vhu_vq_map_desc(vq, req, le64toh(d.addr), le32toh(d.len),
					      flags & VRING_DESC_F_WRITE);
		e = __atomic_load_n(&s->next, __ATOMIC_RELAXED);
	}
	if (ret < 0)
		return ret;
	if (n == 0 || id >= vq->num)
		return vhu_vq_break(vq, "inflight region: chain of %u, buffer id %u", n, id);
	if (vq->inflight_entry[id] != VHU_INFLIGHT_NO_ENTRY)
		return vhu_vq_break(vq, "inflight region: buffer id %u in flight twice", id);
	vq->inflight_entry[id] = entry;
	req->id = id;
	req->ndescs = n;
	return 1;
}

int vhu_packed_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len)
{
	struct vring_packed_desc *d = &vq->pdesc[vq->used_idx];
	uint16_t flags = vq->used_wrap ? VHU_PACKED_DESC_F_AVAIL | VHU_PACKED_DESC_F_USED : 0;
	struct vhu_inflight_packed *r = vq->inflight;
	uint32_t next;

	if (req->id >= vq->num || req->ndescs == 0 || req->ndescs > vq->num)
		return -EINVAL; /* not a request of this ring */
	if (vq->inflight_on) {
		int ret = packed_track_push(vq, r, req);

		if (ret < 0)
			return ret;
	}
	/* spec: "Write Flag": in a used descriptor, WRITE says data was written */
	if (len)
		flags |= VRING_DESC_F_WRITE;
	vhu_vq_store16(&d->id, req->id);
	vhu_vq_store32(&d->len, len);
	/*
	 * Release: id, len and the buffer data are visible before the flags
	 * that hand the slot back. Pairs with the driver's read barrier after
	 * it sees the USED bit flip (virtio_rmb in virtqueue_get_buf_ctx_packed).
	 */
	__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
	next = (uint32_t)vq->used_idx + req->ndescs;
	if (next >= vq->num) {
		next -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->used_idx = (uint16_t)next;
	if (vq->inflight_on) {
		/* steps 8-9: the chain is complete; the new state is the committed one */
		VHU_INFLIGHT_CRASH(vq, 3);
		__atomic_store_n(&r->desc[vq->inflight_entry[req->id]].inflight, 0,
				 __ATOMIC_RELAXED);
		vq->inflight_entry[req->id] = VHU_INFLIGHT_NO_ENTRY;
		VHU_INFLIGHT_CRASH(vq, 4);
		__atomic_store_n(&r->old_free_head,
				 __atomic_load_n(&r->free_head, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&r->old_used_idx, vq->used_idx, __ATOMIC_RELAXED);
		__atomic_store_n(&r->old_used_wrap_counter, vq->used_wrap, __ATOMIC_RELAXED);
		vq->inflight_in_use -= req->ndescs;
	}
	return 0;
}

/*
 * A burst of used descriptors, each with its own length (receive buffers):
 * ids and lengths first, then the flags of all but the first, then the
 * first's (release): the driver, which looks at the ring from the first
 * slot on, sees the whole burst at once and reads each line once, rather
 * than catching it half written and coming back for every descriptor
 * (DPDK's vhost publishes a batch the same way). Returns -EINVAL, having
 * pushed nothing, if a request is not one of this ring's; the caller then
 * pushes one by one, where the bad one is skipped.
 */
int vhu_packed_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			  unsigned int n)
{
	uint16_t head_slot = vq->used_idx, head_flags = 0;
	uint32_t next = vq->used_idx;
	bool wrap = vq->used_wrap;

	for (unsigned int k = 0; k < n; k++)
		if (reqs[k].id >= vq->num || reqs[k].ndescs == 0 || reqs[k].ndescs > vq->num)
			return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		struct vring_packed_desc *d = &vq->pdesc[next];

		vhu_vq_store16(&d->id, reqs[k].id);
		vhu_vq_store32(&d->len, lens[k]);
		next += reqs[k].ndescs;
		if (next >= vq->num) {
			next -= vq->num;
			wrap = !wrap;
		}
	}
	/* release: every id, len and the buffers' data before any flags */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	next = vq->used_idx;
	wrap = vq->used_wrap;
	for (unsigned int k = 0; k < n; k++) {
		uint16_t flags = wrap ? VHU_PACKED_DESC_F_AVAIL | VHU_PACKED_DESC_F_USED : 0;

		/* spec: "Write Flag": in a used descriptor, WRITE says data was written */
		if (lens[k])
			flags |= VRING_DESC_F_WRITE;
		if (k == 0)
			head_flags = flags;
		else
			__atomic_store_n(&vq->pdesc[next].flags, htole16(flags), __ATOMIC_RELAXED);
		next += reqs[k].ndescs;
		if (next >= vq->num) {
			next -= vq->num;
			wrap = !wrap;
		}
	}
	/* release: the rest of the burst before the first that uncovers it */
	__atomic_store_n(&vq->pdesc[head_slot].flags, htole16(head_flags), __ATOMIC_RELEASE);
	vq->used_idx = (uint16_t)next;
	vq->used_wrap = wrap;
	return 0;
}

/*
 * A burst of chains the device only read (len 0 each), with IN_ORDER: the
 * spec lets the device write one used descriptor, with the buffer id of
 * the last, in the slot of the first, and skip the rest ("In-order use of
 * descriptors"); the driver frees every buffer up to that id (DPDK's
 * virtio_xmit_cleanup_inorder_packed). One descriptor written per burst
 * instead of one per chain, each a line the driver is writing nearby.
 * A request that is not one of this ring's ends the batch before it.
 */
int vhu_packed_push_in_order(struct vhu_vq *vq, const struct vhu_req *reqs, unsigned int n)
{
	struct vring_packed_desc *d = &vq->pdesc[vq->used_idx];
	uint16_t flags = vq->used_wrap ? VHU_PACKED_DESC_F_AVAIL | VHU_PACKED_DESC_F_USED : 0;
	uint32_t next = vq->used_idx;
	bool wrap = vq->used_wrap;
	unsigned int k = 0;

	for (; k < n; k++) {
		if (reqs[k].id >= vq->num || reqs[k].ndescs == 0 || reqs[k].ndescs > vq->num)
			break;
		next += reqs[k].ndescs;
		if (next >= vq->num) {
			next -= vq->num;
			wrap = !wrap;
		}
	}
	if (k == 0)
		return -EINVAL;
	vhu_vq_store16(&d->id, reqs[k - 1].id);
	vhu_vq_store32(&d->len, 0);
	/* release: as in vhu_packed_push() */
	__atomic_store_n(&d->flags, htole16(flags), __ATOMIC_RELEASE);
	vq->used_idx = (uint16_t)next;
	vq->used_wrap = wrap;
	if (k == n)
		return 0;
	/* the rest one by one: the bad one is skipped there, as without IN_ORDER */
	for (; k < n; k++)
		(void)vhu_packed_push(vq, &reqs[k], 0);
	return -EINVAL;
}

/*
 * A slot and its wrap counter as one position on a circle of 2 * num
 * (<= 65536) slots, so that distances between positions less than a lap
 * apart are unambiguous.
 */
static uint32_t lap_pos(uint16_t slot, bool wrap, uint16_t num)
{
	return wrap ? slot : (uint32_t)slot + num;
}

/* vring_need_event() on the circle: was event in [old, new)? */
static bool lap_need_event(uint32_t event, uint32_t new, uint32_t old, uint32_t lap)
{
	return (new + 2 * lap - event - 1) % lap < (new + lap - old) % lap;
}

bool vhu_packed_need_notify(struct vhu_vq *vq)
{
	uint32_t lap = 2u * vq->num, new = lap_pos(vq->used_idx, vq->used_wrap, vq->num);
	uint32_t old = vq->signalled_used, event;
	bool valid = vq->signalled_used_valid;
	uint16_t flags, off_wrap;

	/*
	 * Full barrier: our used flags are visible before we read the driver
	 * event struct. Pairs with the driver's barrier between writing it and
	 * re-checking the ring (virtio_mb in virtqueue_enable_cb_prepare_packed
	 * and virtqueue_enable_cb_delayed_packed).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = (uint16_t) new; /* new < 2 * num <= 65536 */
	vq->signalled_used_valid = true;
	if (valid && old == new)
		return false; /* nothing pushed since the last notify */
	flags = vhu_vq_load16(&vq->driver_event->flags) & EVENT_FLAGS_MASK;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	/* ENABLE, the reserved value, or DESC without event idx: notify */
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx || !valid)
		return true;
	off_wrap = vhu_vq_load16(&vq->driver_event->off_wrap);
	if ((off_wrap & VHU_PACKED_SLOT_MASK) >= vq->num)
		return true; /* a bogus event: notifying is always safe */
	event = lap_pos(off_wrap & VHU_PACKED_SLOT_MASK, off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR,
			vq->num);
	return lap_need_event(event, new, old, lap);
}

bool vhu_packed_has_avail(struct vhu_vq *vq)
{
	/* a peek: vhu_packed_pop() reads the flags again before using the slot */
	return desc_avail(vhu_vq_load16(&vq->pdesc[vq->last_avail_idx].flags), vq->avail_wrap);
}

bool vhu_packed_enable_notify(struct vhu_vq *vq, bool enable)
{
	struct vring_packed_desc_event *ev = vq->device_event;
	uint16_t flags;

	/* the worker polls: the device's wish is kept for when it stops (vhu_vq_poll_quiet) */
	if (vq->poll_quiet) {
		vq->notify_off = !enable;
		return enable && vhu_packed_has_avail(vq);
	}
	if (!enable && vq->notify_off)
		return false; /* already off since start: no store the driver would see */
	vq->notify_off = !enable;
	if (!enable) {
		vhu_vq_store16(&ev->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
		return false;
	}
	if (vq->event_idx) {
		/* kick me when the slot at last_avail_idx becomes available */
		vhu_vq_store16(&ev->off_wrap, off_wrap(vq));
		/* release: off_wrap before the flags that make the driver read it */
		__atomic_store_n(&ev->flags, htole16(VRING_PACKED_EVENT_FLAG_DESC),
				 __ATOMIC_RELEASE);
	} else {
		vhu_vq_store16(&ev->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	}
	/*
	 * Full barrier: the event struct is visible before we re-read the
	 * ring. Pairs with the driver's barrier between making
	 * descriptors available and reading the device event struct (virtio_mb
	 * in virtqueue_kick_prepare_packed): it kicks, or we see the slot here.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = vhu_vq_load16(&vq->pdesc[vq->last_avail_idx].flags);
	return desc_avail(flags, vq->avail_wrap);
}

bool vhu_packed_poll_quiet(struct vhu_vq *vq, bool quiet)
{
	if (quiet) {
		if (!vq->poll_quiet && !vq->notify_off)
			vhu_vq_store16(&vq->device_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
		vq->poll_quiet = true;
		return false;
	}
	vq->poll_quiet = false;
	if (vq->notify_off)
		return false;
	return vhu_packed_enable_notify(vq, true);
}
