/* SPDX-License-Identifier: MIT */
/*
 * Driver-side split and packed rings (see rings.h). The order of writes and
 * barriers follows the Linux virtio_ring driver, so the device engines of
 * lib/virtq meet what a real guest does; each barrier names its partner
 * there.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/rings.h"

/* ---- split layout ------------------------------------------------------- */

void vhu_fe_split_init(struct vhu_fe_split *r, uint16_t num, void *desc, void *avail, void *used)
{
	memset(r, 0, sizeof(*r));
	r->num = num;
	r->desc = desc;
	r->avail = avail;
	r->used = used;
}

void vhu_fe_split_set_base(struct vhu_fe_split *r, uint16_t idx)
{
	r->avail_idx = idx;
	r->used_idx = idx;
	r->used_seen = idx;
	r->avail->idx = htole16(idx);
	r->used->idx = htole16(idx);
}

/*
 * Write @size bytes at @dst unless they are there already. A driver that
 * resubmits the same buffers (a generator's frames, a refilled receive
 * ring, a request slot's header and status) rewrites the same descriptors
 * and avail entries lap after lap, and a store, even of the value a line
 * holds, takes the line away from the device's cache: the device then
 * misses on every descriptor line it reads. Comparing first costs a load
 * from a line we share; the device only reads these, so what we read is
 * what we last wrote.
 */
static inline void store_if_changed(void *dst, const void *src, size_t size)
{
	if (memcmp(dst, src, size) != 0)
		memcpy(dst, src, size);
}

void vhu_fe_split_set_desc(struct vhu_fe_split *r, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &r->desc[i & (r->num - 1)];
	struct vring_desc v = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	store_if_changed(d, &v, sizeof(v));
}

uint16_t vhu_fe_split_flags(const struct vhu_fe_buf *b, bool more)
{
	return (uint16_t)((b->writable ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0));
}

void vhu_fe_split_fill_table(struct vring_desc *table, const struct vhu_fe_buf *bufs,
			     unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		struct vring_desc v = {
			.addr = htole64(bufs[k].gpa),
			.len = htole32(bufs[k].len),
			.flags = htole16(vhu_fe_split_flags(&bufs[k], k + 1 < n)),
			.next = htole16((uint16_t)(k + 1)),
		};

		store_if_changed(&table[k], &v, sizeof(v));
	}
}

void vhu_fe_split_put(struct vhu_fe_split *r, uint16_t head)
{
	uint16_t v = htole16(head);

	store_if_changed(&r->avail->ring[r->avail_idx & (r->num - 1)], &v, sizeof(v));
	r->avail_idx++;
}

void vhu_fe_split_set_avail_idx(struct vhu_fe_split *r, uint16_t idx)
{
	r->avail_idx = idx;
	/*
	 * Release: descriptors and avail entries are visible before the new
	 * idx. Pairs with the device's acquire load of avail->idx (vhu_split_pop).
	 */
	__atomic_store_n(&r->avail->idx, htole16(idx), __ATOMIC_RELEASE);
}

void vhu_fe_split_publish(struct vhu_fe_split *r)
{
	vhu_fe_split_set_avail_idx(r, r->avail_idx);
}

int vhu_fe_split_get_used(struct vhu_fe_split *r, uint32_t *id, uint32_t *len)
{
	const struct vring_used_elem *e;

	/*
	 * used->idx is the line the device keeps writing: read it again only
	 * once the entries seen at the last read are taken. Acquire: pairs with
	 * the device's release store of used->idx (vhu_split_push).
	 */
	if (r->used_seen == r->used_idx) {
		uint16_t idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));

		if (idx == r->used_idx)
			return 0;
		if ((uint16_t)(idx - r->used_idx) > r->num)
			return -EPROTO;
		r->used_seen = idx;
	}
	e = &r->used->ring[r->used_idx & (r->num - 1)];
	*id = le32toh(__atomic_load_n(&e->id, __ATOMIC_RELAXED));
	*len = le32toh(__atomic_load_n(&e->len, __ATOMIC_RELAXED));
	r->used_idx++;
	return 1;
}

bool vhu_fe_split_has_used(const struct vhu_fe_split *r)
{
	/* acquire: pairs with the device's release store of used->idx (vhu_split_push) */
	return le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE)) != r->used_idx;
}

void vhu_fe_split_set_used_event(struct vhu_fe_split *r, uint16_t idx)
{
	__atomic_store_n(&r->avail->ring[r->num], htole16(idx), __ATOMIC_RELAXED);
	/*
	 * Full barrier: used_event is visible before we re-read used->idx.
	 * Pairs with the device's full barrier in vhu_split_need_notify.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vhu_fe_split_set_no_interrupt(struct vhu_fe_split *r, bool on)
{
	__atomic_store_n(&r->avail->flags, htole16(on ? VRING_AVAIL_F_NO_INTERRUPT : 0),
			 __ATOMIC_RELAXED);
	/* pairs with the device's full barrier in vhu_split_need_notify */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t vhu_fe_split_avail_event(const struct vhu_fe_split *r)
{
	/* spec: "avail_event" sits after the used ring's num entries */
	const uint16_t *p = (const uint16_t *)&r->used->ring[r->num];

	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

bool vhu_fe_split_kick_needed(struct vhu_fe_split *r, uint16_t old_avail_idx, bool event_idx)
{
	/*
	 * Full barrier: the published avail->idx is visible before we read
	 * used->flags / avail_event. Pairs with the device's full barrier in
	 * vhu_split_enable_notify: it sees our entries, or we see its request.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx)
		return vring_need_event(vhu_fe_split_avail_event(r), r->avail_idx, old_avail_idx);
	return !(le16toh(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED)) &
		 VRING_USED_F_NO_NOTIFY);
}

/* ---- packed layout ------------------------------------------------------ */

int vhu_fe_packed_init(struct vhu_fe_packed *r, uint16_t num, void *desc, void *driver_event,
		       void *device_event)
{
	memset(r, 0, sizeof(*r));
	r->num = num;
	r->desc = desc;
	r->driver_event = driver_event;
	r->device_event = device_event;
	r->avail_wrap = true; /* spec: wrap counters start at 1 */
	r->used_wrap = true;
	r->id_ndescs = calloc(num ? num : 1, sizeof(*r->id_ndescs));
	return r->id_ndescs ? 0 : -ENOMEM;
}

void vhu_fe_packed_fini(struct vhu_fe_packed *r)
{
	free(r->id_ndescs);
	r->id_ndescs = NULL;
}

void vhu_fe_packed_fill(struct vring_packed_desc *d, const struct vhu_fe_buf *b, uint16_t flags,
			uint16_t id)
{
	d->addr = htole64(b->gpa);
	d->len = htole32(b->len);
	d->id = htole16(id);
	d->flags = htole16((uint16_t)(flags | (b->writable ? VRING_DESC_F_WRITE : 0)));
}

int vhu_fe_packed_put(struct vhu_fe_packed *r, const struct vring_packed_desc *descs,
		      unsigned int n)
{
	uint16_t avail_bits = r->avail_wrap ? VHU_PACKED_DESC_F_AVAIL : VHU_PACKED_DESC_F_USED,
		 head_flags = 0, id;
	uint16_t head = r->avail_idx;

	if (n == 0 || n > r->num)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		struct vring_packed_desc *d = &r->desc[r->avail_idx];
		uint16_t flags = (uint16_t)(le16toh(descs[k].flags) &
					    ~(VHU_PACKED_DESC_F_AVAIL | VHU_PACKED_DESC_F_USED));

		flags |= avail_bits;
		d->addr = descs[k].addr;
		d->len = descs[k].len;
		d->id = descs[k].id;
		if (k == 0)
			head_flags = flags;
		else
			d->flags = htole16(flags);
		if (++r->avail_idx == r->num) {
			r->avail_idx = 0;
			r->avail_wrap = !r->avail_wrap;
			avail_bits =
				r->avail_wrap ? VHU_PACKED_DESC_F_AVAIL : VHU_PACKED_DESC_F_USED;
		}
	}
	id = le16toh(descs[n - 1].id);
	if (id < r->num)
		r->id_ndescs[id] = (uint16_t)n;
	/*
	 * Release: the chain is visible before its head turns available. Pairs
	 * with the device's acquire fence after it sees the head (vhu_packed_pop).
	 */
	__atomic_store_n(&r->desc[head].flags, htole16(head_flags), __ATOMIC_RELEASE);
	return 0;
}

static bool slot_used(uint16_t flags, bool wrap)
{
	/* used: AVAIL and USED both equal the wrap counter */
	return !!(flags & VHU_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(flags & VHU_PACKED_DESC_F_USED) == wrap;
}

bool vhu_fe_packed_has_used(const struct vhu_fe_packed *r)
{
	/* acquire: pairs with the device's release store of the flags (vhu_packed_push) */
	uint16_t flags = le16toh(__atomic_load_n(&r->desc[r->used_idx].flags, __ATOMIC_ACQUIRE));

	return slot_used(flags, r->used_wrap);
}

int vhu_fe_packed_get_used(struct vhu_fe_packed *r, uint16_t *id, uint32_t *len)
{
	struct vring_packed_desc *d = &r->desc[r->used_idx];
	uint32_t next;

	if (!vhu_fe_packed_has_used(r))
		return 0;
	*id = le16toh(__atomic_load_n(&d->id, __ATOMIC_RELAXED));
	*len = le32toh(__atomic_load_n(&d->len, __ATOMIC_RELAXED));
	next = r->used_idx + (uint32_t)(*id < r->num && r->id_ndescs[*id] ? r->id_ndescs[*id] : 1);
	if (next >= r->num) {
		next -= r->num;
		r->used_wrap = !r->used_wrap;
	}
	r->used_idx = (uint16_t)next;
	return 1;
}

void vhu_fe_packed_set_event(struct vhu_fe_packed *r, uint16_t flags, uint16_t slot, bool wrap)
{
	__atomic_store_n(&r->driver_event->off_wrap,
			 htole16((uint16_t)(slot | (wrap ? VHU_PACKED_EVENT_WRAP : 0))),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&r->driver_event->flags, htole16(flags), __ATOMIC_RELAXED);
	/*
	 * Full barrier: the event struct is visible before we re-check the
	 * ring. Pairs with the device's full barrier in vhu_packed_need_notify.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vhu_fe_packed_kick_needed(struct vhu_fe_packed *r, uint16_t nadded)
{
	uint16_t flags, off_wrap, event, new = r->avail_idx, old = (uint16_t)(new - nadded);

	/*
	 * Full barrier: the chains we made available are visible before we read
	 * the device event struct. Pairs with the device's full barrier in
	 * vhu_packed_enable_notify: it sees them, or we see its request.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = le16toh(__atomic_load_n(&r->device_event->flags, __ATOMIC_RELAXED)) & 0x3u;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC)
		return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	off_wrap = le16toh(__atomic_load_n(&r->device_event->off_wrap, __ATOMIC_RELAXED));
	event = off_wrap & VHU_PACKED_SLOT_MASK;
	/* as virtqueue_kick_prepare_packed: positions of another lap are num apart */
	if (!!(off_wrap & VHU_PACKED_EVENT_WRAP) != r->avail_wrap)
		event = (uint16_t)(event - r->num);
	return vring_need_event(event, new, old);
}

/* ---- the driver --------------------------------------------------------- */

void vhu_fe_ring_sizes(bool packed, uint16_t num, uint64_t *desc, uint64_t *avail, uint64_t *used)
{
	*desc = VHU_FE_SPLIT_DESC_SIZE(num); /* packed descriptors are 16 bytes too */
	*avail = packed ? VHU_FE_PACKED_EVENT_SIZE : VHU_FE_SPLIT_AVAIL_SIZE(num);
	*used = packed ? VHU_FE_PACKED_EVENT_SIZE : VHU_FE_SPLIT_USED_SIZE(num);
}

static int ring_alloc(struct vhu_fe_ring *q, uint16_t num)
{
	q->tokens = calloc(num, sizeof(*q->tokens));
	q->inflight = calloc(num, sizeof(*q->inflight));
	q->next = calloc(num, sizeof(*q->next));
	q->ndescs = calloc(num, sizeof(*q->ndescs));
	q->scratch = calloc(num, sizeof(*q->scratch));
	if (!q->tokens || !q->inflight || !q->next || !q->ndescs || !q->scratch)
		return -ENOMEM;
	for (uint16_t i = 0; i < num; i++)
		q->next[i] = (uint16_t)(i + 1);
	return 0;
}

int vhu_fe_ring_init(struct vhu_fe_ring *q, bool packed, bool event_idx, uint16_t num,
		     const struct vhu_fe_ring_mem *mem)
{
	int ret;

	memset(q, 0, sizeof(*q));
	if (num == 0 || (!packed && (num & (num - 1))))
		return -EINVAL;
	q->packed = packed;
	q->event_idx = event_idx;
	q->indirect = mem->tables != NULL;
	q->num = num;
	q->mem = *mem;
	q->num_free = num;
	q->free_ids = num;
	ret = ring_alloc(q, num);
	if (ret == 0 && packed)
		ret = vhu_fe_packed_init(&q->pk, num, mem->desc, mem->avail, mem->used);
	if (!packed)
		vhu_fe_split_init(&q->split, num, mem->desc, mem->avail, mem->used);
	if (ret < 0)
		vhu_fe_ring_fini(q);
	return ret;
}

void vhu_fe_ring_fini(struct vhu_fe_ring *q)
{
	vhu_fe_packed_fini(&q->pk);
	free(q->tokens);
	free(q->inflight);
	free(q->next);
	free(q->ndescs);
	free(q->scratch);
	q->scratch = NULL;
	q->tokens = NULL;
	q->inflight = NULL;
	q->next = NULL;
	q->ndescs = NULL;
}

uint32_t vhu_fe_ring_base(const struct vhu_fe_ring *q)
{
	/* packed, as QEMU sends it: avail slot 0 and used slot 0, both wrap counters 1 */
	return q->packed ? (VHU_VRING_BASE_WRAP | VHU_VRING_BASE_WRAP << 16) : 0;
}

uint32_t vhu_fe_ring_resume_base(const struct vhu_fe_ring *q)
{
	const struct vhu_fe_packed *r = &q->pk;
	uint32_t slot = r->used_idx, base;
	bool wrap = r->used_wrap;

	if (!q->packed) /* acquire: pairs with the device's release store (vhu_split_push) */
		return le16toh(__atomic_load_n(&q->split.used->idx, __ATOMIC_ACQUIRE));
	/* each used descriptor not yet taken stands for a chain still marked in flight */
	for (unsigned int n = 0; n < r->num; n++) {
		uint16_t flags = le16toh(__atomic_load_n(&r->desc[slot].flags, __ATOMIC_ACQUIRE));
		uint16_t id = le16toh(__atomic_load_n(&r->desc[slot].id, __ATOMIC_RELAXED));

		if (!slot_used(flags, wrap) || id >= r->num || !q->inflight[id])
			break;
		slot += r->id_ndescs[id] ? r->id_ndescs[id] : 1u;
		if (slot >= r->num) {
			slot -= r->num;
			wrap = !wrap;
		}
	}
	base = slot | (wrap ? VHU_VRING_BASE_WRAP : 0u);
	return base | base << 16;
}

unsigned int vhu_fe_ring_max_chain(const struct vhu_fe_ring *q)
{
	if (q->indirect && q->num < VHU_FE_INDIRECT_MAX)
		return VHU_FE_INDIRECT_MAX;
	return q->num;
}

/* Address of the indirect table of head/id @i. */
static struct vhu_fe_buf table_buf(const struct vhu_fe_ring *q, uint16_t i, unsigned int n,
				   void **host)
{
	uint64_t off = (uint64_t)i * VHU_FE_INDIRECT_MAX * 16u;
	struct vhu_fe_buf b = { .gpa = q->mem.tables_gpa + off, .len = 16u * n };

	*host = (uint8_t *)q->mem.tables + off;
	return b;
}

static void split_add(struct vhu_fe_ring *q, const struct vhu_fe_buf *bufs, unsigned int n,
		      bool indirect)
{
	uint16_t head = q->free_head, i = head, used = indirect ? 1 : (uint16_t)n;

	if (indirect) {
		void *table;
		struct vhu_fe_buf t = table_buf(q, head, n, &table);

		vhu_fe_split_fill_table(table, bufs, n);
		vhu_fe_split_set_desc(&q->split, head, t.gpa, t.len, VRING_DESC_F_INDIRECT, 0);
		i = q->next[head];
	} else {
		/* the chain follows our private free list, which links it for the free */
		for (unsigned int k = 0; k < n; k++) {
			bool more = k + 1 < n;

			vhu_fe_split_set_desc(&q->split, i, bufs[k].gpa, bufs[k].len,
					      vhu_fe_split_flags(&bufs[k], more),
					      more ? q->next[i] : 0);
			i = q->next[i];
		}
	}
	q->free_head = i;
	q->num_free = (uint16_t)(q->num_free - used);
	q->ndescs[head] = used;
	q->inflight[head] = true;
	vhu_fe_split_put(&q->split, head);
}

static void packed_add(struct vhu_fe_ring *q, const struct vhu_fe_buf *bufs, unsigned int n,
		       bool indirect, uint16_t id)
{
	uint16_t used = indirect ? 1 : (uint16_t)n;

	if (indirect) {
		struct vring_packed_desc d;
		void *table;
		struct vhu_fe_buf t = table_buf(q, id, n, &table);

		for (unsigned int k = 0; k < n; k++)
			vhu_fe_packed_fill((struct vring_packed_desc *)table + k, &bufs[k], 0, 0);
		vhu_fe_packed_fill(&d, &t, VRING_DESC_F_INDIRECT, id);
		(void)vhu_fe_packed_put(&q->pk, &d, 1);
	} else {
		for (unsigned int k = 0; k < n; k++)
			vhu_fe_packed_fill(&q->scratch[k], &bufs[k],
					   k + 1 < n ? VRING_DESC_F_NEXT : 0, id);
		(void)vhu_fe_packed_put(&q->pk, q->scratch, n);
	}
	q->num_free = (uint16_t)(q->num_free - used);
	q->nadded = (uint16_t)(q->nadded + used);
}

int vhu_fe_ring_add(struct vhu_fe_ring *q, const struct vhu_fe_buf *bufs, unsigned int n,
		    void *token)
{
	bool indirect = q->indirect && n > 1 && n <= VHU_FE_INDIRECT_MAX;
	unsigned int need = indirect ? 1 : n;
	uint16_t id;

	if (q->broken)
		return -EIO;
	if (n == 0 || need > q->num)
		return -EINVAL;
	if (need > q->num_free || (q->packed && q->free_ids == 0))
		return -ENOSPC;
	if (!q->packed) {
		id = q->free_head;
		split_add(q, bufs, n, indirect);
		q->nadded++;
	} else {
		id = q->free_head;
		q->free_head = q->next[id];
		q->free_ids--;
		q->inflight[id] = true;
		packed_add(q, bufs, n, indirect, id);
	}
	q->tokens[id] = token;
	return 0;
}

bool vhu_fe_ring_kick_prepare(struct vhu_fe_ring *q)
{
	uint16_t nadded = q->nadded;
	bool kick;

	if (nadded == 0)
		return false;
	q->nadded = 0;
	if (q->packed)
		return vhu_fe_packed_kick_needed(&q->pk, nadded);
	/* one release store publishes the whole batch */
	vhu_fe_split_publish(&q->split);
	kick = vhu_fe_split_kick_needed(&q->split, q->kicked_avail_idx, q->event_idx);
	q->kicked_avail_idx = q->split.avail_idx;
	return kick;
}

static int ring_bad_id(struct vhu_fe_ring *q)
{
	q->broken = true;
	return -EPROTO;
}

static void split_free(struct vhu_fe_ring *q, uint16_t head)
{
	uint16_t last = head;

	for (uint16_t k = 1; k < q->ndescs[head]; k++)
		last = q->next[last];
	q->next[last] = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + q->ndescs[head]);
}

int vhu_fe_ring_get(struct vhu_fe_ring *q, void **token, uint32_t *len)
{
	uint32_t id;
	int ret;

	if (q->broken)
		return -EPROTO;
	if (q->packed) {
		uint16_t pid;

		ret = vhu_fe_packed_get_used(&q->pk, &pid, len);
		id = pid;
	} else {
		ret = vhu_fe_split_get_used(&q->split, &id, len);
	}
	if (ret < 0)
		return ring_bad_id(q);
	if (ret == 0)
		return 0;
	/* an id we did not hand out, or already got back: the device is confused */
	if (id >= q->num || !q->inflight[id])
		return ring_bad_id(q);
	q->inflight[id] = false;
	*token = q->tokens[id];
	if (q->packed) {
		q->num_free = (uint16_t)(q->num_free + q->pk.id_ndescs[id]);
		q->next[id] = q->free_head;
		q->free_head = (uint16_t)id;
		q->free_ids++;
	} else {
		split_free(q, (uint16_t)id);
	}
	return 1;
}

bool vhu_fe_ring_enable_cb(struct vhu_fe_ring *q)
{
	/* each setter ends with the full barrier that makes the re-check below safe */
	if (q->packed) {
		if (q->event_idx)
			vhu_fe_packed_set_event(&q->pk, VRING_PACKED_EVENT_FLAG_DESC,
						q->pk.used_idx, q->pk.used_wrap);
		else
			vhu_fe_packed_set_event(&q->pk, VRING_PACKED_EVENT_FLAG_ENABLE, 0, false);
		return vhu_fe_packed_has_used(&q->pk);
	}
	if (q->event_idx)
		vhu_fe_split_set_used_event(&q->split, q->split.used_idx);
	else
		vhu_fe_split_set_no_interrupt(&q->split, false);
	return vhu_fe_split_has_used(&q->split);
}

void vhu_fe_ring_disable_cb(struct vhu_fe_ring *q)
{
	if (q->packed)
		vhu_fe_packed_set_event(&q->pk, VRING_PACKED_EVENT_FLAG_DISABLE, 0, false);
	else if (!q->event_idx)
		vhu_fe_split_set_no_interrupt(&q->split, true);
	/* with event idx, used_event simply stays behind: at most one more interrupt */
}
