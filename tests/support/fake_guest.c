/* SPDX-License-Identifier: MIT */
/*
 * The fake guest: memfd memory and the driver side of split and packed
 * rings (see fake_guest.h). The driver code follows the Linux virtio_ring
 * driver's order of writes and barriers, so the device-side engine is tested
 * against what a real guest does.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_guest.h"

#define MEMFD_NAME "vhu-fakeguest"
#define F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VRING_PACKED_DESC_F_USED)

/* ---- memory -------------------------------------------------------------- */

static int region_create(struct fake_guest *fg, unsigned int i)
{
	struct vhu_mem_region desc = {
		.guest_phys_addr = i * FG_REGION_SIZE,
		.memory_size = FG_REGION_SIZE,
		.userspace_addr = FG_UVA_BASE + i * FG_UVA_STRIDE,
		.mmap_offset = 0,
	};
	int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC), ret;
	void *host;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)FG_REGION_SIZE) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	host = mmap(NULL, FG_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (host == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = vhu_mem_add(&fg->mem, &desc, fd); /* consumes fd */
	if (ret < 0) {
		munmap(host, FG_REGION_SIZE);
		return ret;
	}
	fg->host[i] = host;
	return 0;
}

int fake_guest_init(struct fake_guest *fg, unsigned int nregions)
{
	int ret = 0;

	if (nregions == 0 || nregions > FG_MAX_REGIONS)
		return -EINVAL;
	memset(fg->host, 0, sizeof(fg->host));
	vhu_mem_init(&fg->mem, 0);
	fg->nregions = 0;
	fg->next_gpa = 0;
	for (unsigned int i = 0; i < nregions && ret == 0; i++) {
		ret = region_create(fg, i);
		if (ret == 0)
			fg->nregions++;
	}
	if (ret < 0)
		fake_guest_fini(fg);
	return ret;
}

void fake_guest_fini(struct fake_guest *fg)
{
	vhu_mem_clear(&fg->mem);
	for (unsigned int i = 0; i < FG_MAX_REGIONS; i++) {
		if (fg->host[i])
			munmap(fg->host[i], FG_REGION_SIZE);
		fg->host[i] = NULL;
	}
	fg->nregions = 0;
}

void *fake_guest_ptr(struct fake_guest *fg, uint64_t gpa, uint64_t size)
{
	uint64_t i = gpa / FG_REGION_SIZE, off = gpa % FG_REGION_SIZE;

	if (i >= fg->nregions || size > FG_REGION_SIZE - off)
		return NULL;
	return fg->host[i] + off;
}

uint64_t fake_guest_uva(const struct fake_guest *fg, uint64_t gpa)
{
	(void)fg;
	return FG_UVA_BASE + (gpa / FG_REGION_SIZE) * FG_UVA_STRIDE + gpa % FG_REGION_SIZE;
}

uint64_t fake_guest_alloc(struct fake_guest *fg, uint64_t size, uint64_t align)
{
	uint64_t gpa = (fg->next_gpa + align - 1) & ~(align - 1);
	uint8_t *p;

	/* an allocation never crosses a region: rings must be in one */
	if (gpa / FG_REGION_SIZE != (gpa + size - 1) / FG_REGION_SIZE)
		gpa = (gpa / FG_REGION_SIZE + 1) * FG_REGION_SIZE;
	p = fake_guest_ptr(fg, gpa, size);
	if (!p || size == 0)
		return UINT64_MAX;
	memset(p, 0, size);
	fg->next_gpa = gpa + size;
	return gpa;
}

/* ---- split ------------------------------------------------------------- */

int drv_split_init(struct drv_split *r, struct fake_guest *fg, uint16_t num)
{
	memset(r, 0, sizeof(*r));
	r->fg = fg;
	r->num = num;
	/* sizes as the spec's "Split Virtqueues" table, with the event fields */
	r->desc_gpa = fake_guest_alloc(fg, 16ull * num, 16);
	r->avail_gpa = fake_guest_alloc(fg, 6 + 2ull * num, 2);
	r->used_gpa = fake_guest_alloc(fg, 6 + 8ull * num, 4);
	if (r->desc_gpa == UINT64_MAX || r->avail_gpa == UINT64_MAX || r->used_gpa == UINT64_MAX)
		return -ENOMEM;
	r->desc = fake_guest_ptr(fg, r->desc_gpa, 16ull * num);
	r->avail = fake_guest_ptr(fg, r->avail_gpa, 6 + 2ull * num);
	r->used = fake_guest_ptr(fg, r->used_gpa, 6 + 8ull * num);
	return 0;
}

void drv_split_set_base(struct drv_split *r, uint16_t idx)
{
	r->avail_idx = idx;
	r->used_idx = idx;
	r->avail->idx = htole16(idx);
	r->used->idx = htole16(idx);
}

void drv_split_set_desc(struct drv_split *r, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &r->desc[i % r->num];

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

void drv_split_set_avail_idx(struct drv_split *r, uint16_t idx)
{
	r->avail_idx = idx;
	/* release: pairs with the device's acquire load of avail->idx (vhu_split_pop) */
	__atomic_store_n(&r->avail->idx, htole16(idx), __ATOMIC_RELEASE);
}

void drv_split_publish(struct drv_split *r, uint16_t head)
{
	r->avail->ring[r->avail_idx % r->num] = htole16(head);
	drv_split_set_avail_idx(r, (uint16_t)(r->avail_idx + 1));
}

static uint16_t split_desc_flags(const struct drv_buf *b, bool more)
{
	return (uint16_t)((b->writable ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0));
}

int drv_split_add(struct drv_split *r, const struct drv_buf *bufs, unsigned int n)
{
	uint16_t head = r->next_desc % r->num;

	if (n == 0 || n > r->num)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((head + k) % r->num);

		drv_split_set_desc(r, i, bufs[k].gpa, bufs[k].len,
				   split_desc_flags(&bufs[k], k + 1 < n),
				   (uint16_t)((i + 1) % r->num));
	}
	r->next_desc = (uint16_t)((head + n) % r->num);
	drv_split_publish(r, head);
	return head;
}

int drv_split_add_indirect(struct drv_split *r, uint64_t table_gpa, const struct drv_buf *bufs,
			   unsigned int n)
{
	struct vring_desc *table = fake_guest_ptr(r->fg, table_gpa, 16ull * n);
	uint16_t head = r->next_desc % r->num;

	if (!table || n == 0)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		table[k].addr = htole64(bufs[k].gpa);
		table[k].len = htole32(bufs[k].len);
		table[k].flags = htole16(split_desc_flags(&bufs[k], k + 1 < n));
		table[k].next = htole16((uint16_t)(k + 1));
	}
	drv_split_set_desc(r, head, table_gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
	r->next_desc = (uint16_t)((head + 1) % r->num);
	drv_split_publish(r, head);
	return head;
}

int drv_split_get_used(struct drv_split *r, uint32_t *id, uint32_t *len)
{
	/* acquire: pairs with the device's release store of used->idx (vhu_split_push) */
	uint16_t idx = le16toh(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE));
	const struct vring_used_elem *e;

	if (idx == r->used_idx)
		return 0;
	e = &r->used->ring[r->used_idx % r->num];
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	r->used_idx++;
	return 1;
}

void drv_split_set_used_event(struct drv_split *r, uint16_t idx)
{
	r->avail->ring[r->num] = htole16(idx);
	/* pairs with the device's full barrier in vhu_split_need_notify */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void drv_split_set_no_interrupt(struct drv_split *r, bool on)
{
	r->avail->flags = htole16(on ? VRING_AVAIL_F_NO_INTERRUPT : 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint16_t drv_split_avail_event(struct drv_split *r)
{
	void *p = (uint8_t *)r->used + offsetof(struct vring_used, ring) +
		  (size_t)r->num * sizeof(struct vring_used_elem);

	return le16toh(__atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED));
}

bool drv_split_kick_needed(struct drv_split *r, uint16_t old_avail_idx, bool event_idx)
{
	/* pairs with the device's full barrier in vhu_split_enable_notify */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (event_idx)
		return vring_need_event(drv_split_avail_event(r), r->avail_idx, old_avail_idx);
	return !(le16toh(r->used->flags) & VRING_USED_F_NO_NOTIFY);
}

/* ---- packed ------------------------------------------------------------ */

int drv_packed_init(struct drv_packed *r, struct fake_guest *fg, uint16_t num)
{
	memset(r, 0, sizeof(*r));
	r->fg = fg;
	r->num = num;
	r->avail_wrap = true; /* spec: wrap counters start at 1 */
	r->used_wrap = true;
	r->desc_gpa = fake_guest_alloc(fg, 16ull * num, 16);
	r->driver_event_gpa = fake_guest_alloc(fg, 4, 4);
	r->device_event_gpa = fake_guest_alloc(fg, 4, 4);
	r->id_ndescs = calloc(num ? num : 1, sizeof(*r->id_ndescs));
	if (r->desc_gpa == UINT64_MAX || r->driver_event_gpa == UINT64_MAX ||
	    r->device_event_gpa == UINT64_MAX || !r->id_ndescs) {
		drv_packed_fini(r);
		return -ENOMEM;
	}
	r->desc = fake_guest_ptr(fg, r->desc_gpa, 16ull * num);
	r->driver_event = fake_guest_ptr(fg, r->driver_event_gpa, 4);
	r->device_event = fake_guest_ptr(fg, r->device_event_gpa, 4);
	return 0;
}

void drv_packed_fini(struct drv_packed *r)
{
	free(r->id_ndescs);
	r->id_ndescs = NULL;
}

int drv_packed_add_raw(struct drv_packed *r, const struct vring_packed_desc *descs, unsigned int n)
{
	uint16_t avail_bits = r->avail_wrap ? F_AVAIL : F_USED, head_flags = 0, id;
	uint16_t head = r->avail_idx;

	if (n == 0 || n > r->num)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		struct vring_packed_desc *d = &r->desc[r->avail_idx];
		uint16_t flags = (uint16_t)(le16toh(descs[k].flags) & ~(F_AVAIL | F_USED));

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
			avail_bits = r->avail_wrap ? F_AVAIL : F_USED;
		}
	}
	id = le16toh(descs[n - 1].id);
	if (id < r->num)
		r->id_ndescs[id] = (uint16_t)n;
	/* release: pairs with the device's acquire fence after it sees the head available */
	__atomic_store_n(&r->desc[head].flags, htole16(head_flags), __ATOMIC_RELEASE);
	return 0;
}

static void packed_desc(struct vring_packed_desc *d, const struct drv_buf *b, uint16_t flags,
			uint16_t id)
{
	d->addr = htole64(b->gpa);
	d->len = htole32(b->len);
	d->id = htole16(id);
	d->flags = htole16((uint16_t)(flags | (b->writable ? VRING_DESC_F_WRITE : 0)));
}

int drv_packed_add(struct drv_packed *r, const struct drv_buf *bufs, unsigned int n, uint16_t id)
{
	struct vring_packed_desc *descs;
	int ret;

	if (n == 0 || n > r->num)
		return -EINVAL;
	descs = calloc(n, sizeof(*descs));
	if (!descs)
		return -ENOMEM;
	for (unsigned int k = 0; k < n; k++)
		packed_desc(&descs[k], &bufs[k], k + 1 < n ? VRING_DESC_F_NEXT : 0, id);
	ret = drv_packed_add_raw(r, descs, n);
	free(descs);
	return ret;
}

int drv_packed_add_indirect(struct drv_packed *r, uint64_t table_gpa, const struct drv_buf *bufs,
			    unsigned int n, uint16_t id)
{
	struct vring_packed_desc *table = fake_guest_ptr(r->fg, table_gpa, 16ull * n), d;
	struct drv_buf t = { .gpa = table_gpa, .len = 16u * n };

	if (!table || n == 0)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++)
		packed_desc(&table[k], &bufs[k], 0, 0);
	packed_desc(&d, &t, VRING_DESC_F_INDIRECT, id);
	return drv_packed_add_raw(r, &d, 1);
}

int drv_packed_get_used(struct drv_packed *r, uint16_t *id, uint32_t *len)
{
	struct vring_packed_desc *d = &r->desc[r->used_idx];
	uint16_t flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));
	uint32_t next;

	/* used: AVAIL and USED both equal the wrap counter; acquire pairs with vhu_packed_push */
	if (!!(flags & F_AVAIL) != r->used_wrap || !!(flags & F_USED) != r->used_wrap)
		return 0;
	*id = le16toh(d->id);
	*len = le32toh(d->len);
	next = r->used_idx + (uint32_t)(*id < r->num && r->id_ndescs[*id] ? r->id_ndescs[*id] : 1);
	if (next >= r->num) {
		next -= r->num;
		r->used_wrap = !r->used_wrap;
	}
	r->used_idx = (uint16_t)next;
	return 1;
}

void drv_packed_set_event(struct drv_packed *r, uint16_t flags, uint16_t slot, bool wrap)
{
	r->driver_event->off_wrap =
		htole16((uint16_t)(slot | (wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0)));
	r->driver_event->flags = htole16(flags);
	/* pairs with the device's full barrier in vhu_packed_need_notify */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
