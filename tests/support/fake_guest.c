/* SPDX-License-Identifier: MIT */
/*
 * The fake guest: memfd memory and the driver side of split and packed
 * rings (see fake_guest.h). The ring code is lib/frontend/rings.c's, which
 * follows the Linux virtio_ring driver's order of writes and barriers, so
 * the device-side engine is tested against what a real guest does.
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

/* ---- split: lib/frontend/rings.c's layout, descriptors chosen here ---- */

int drv_split_init(struct drv_split *r, struct fake_guest *fg, uint16_t num)
{
	memset(r, 0, sizeof(*r));
	r->fg = fg;
	r->desc_gpa = fake_guest_alloc(fg, VHU_FE_SPLIT_DESC_SIZE(num), 16);
	r->avail_gpa = fake_guest_alloc(fg, VHU_FE_SPLIT_AVAIL_SIZE(num), 2);
	r->used_gpa = fake_guest_alloc(fg, VHU_FE_SPLIT_USED_SIZE(num), 4);
	if (r->desc_gpa == UINT64_MAX || r->avail_gpa == UINT64_MAX || r->used_gpa == UINT64_MAX)
		return -ENOMEM;
	vhu_fe_split_init(&r->ring, num, fake_guest_ptr(fg, r->desc_gpa, 16ull * num),
			  fake_guest_ptr(fg, r->avail_gpa, 6 + 2ull * num),
			  fake_guest_ptr(fg, r->used_gpa, 6 + 8ull * num));
	return 0;
}

void drv_split_set_base(struct drv_split *r, uint16_t idx)
{
	vhu_fe_split_set_base(&r->ring, idx);
}

void drv_split_set_desc(struct drv_split *r, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	vhu_fe_split_set_desc(&r->ring, i, addr, len, flags, next);
}

void drv_split_set_avail_idx(struct drv_split *r, uint16_t idx)
{
	vhu_fe_split_set_avail_idx(&r->ring, idx);
}

void drv_split_publish(struct drv_split *r, uint16_t head)
{
	vhu_fe_split_put(&r->ring, head);
	vhu_fe_split_publish(&r->ring);
}

int drv_split_add(struct drv_split *r, const struct drv_buf *bufs, unsigned int n)
{
	uint16_t num = r->ring.num, head = r->next_desc % num;

	if (n == 0 || n > num)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((head + k) % num);

		vhu_fe_split_set_desc(&r->ring, i, bufs[k].gpa, bufs[k].len,
				      vhu_fe_split_flags(&bufs[k], k + 1 < n),
				      (uint16_t)((i + 1) % num));
	}
	r->next_desc = (uint16_t)((head + n) % num);
	drv_split_publish(r, head);
	return head;
}

int drv_split_add_indirect(struct drv_split *r, uint64_t table_gpa, const struct drv_buf *bufs,
			   unsigned int n)
{
	struct vring_desc *table = fake_guest_ptr(r->fg, table_gpa, 16ull * n);
	uint16_t head = r->next_desc % r->ring.num;

	if (!table || n == 0)
		return -EINVAL;
	vhu_fe_split_fill_table(table, bufs, n);
	vhu_fe_split_set_desc(&r->ring, head, table_gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
	r->next_desc = (uint16_t)((head + 1) % r->ring.num);
	drv_split_publish(r, head);
	return head;
}

int drv_split_get_used(struct drv_split *r, uint32_t *id, uint32_t *len)
{
	return vhu_fe_split_get_used(&r->ring, id, len);
}

void drv_split_set_used_event(struct drv_split *r, uint16_t idx)
{
	vhu_fe_split_set_used_event(&r->ring, idx);
}

void drv_split_set_no_interrupt(struct drv_split *r, bool on)
{
	vhu_fe_split_set_no_interrupt(&r->ring, on);
}

uint16_t drv_split_avail_event(struct drv_split *r)
{
	return vhu_fe_split_avail_event(&r->ring);
}

bool drv_split_kick_needed(struct drv_split *r, uint16_t old_avail_idx, bool event_idx)
{
	return vhu_fe_split_kick_needed(&r->ring, old_avail_idx, event_idx);
}

/* ---- packed: lib/frontend/rings.c's layout, buffer ids chosen by tests ---- */

int drv_packed_init(struct drv_packed *r, struct fake_guest *fg, uint16_t num)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->fg = fg;
	r->desc_gpa = fake_guest_alloc(fg, 16ull * num, 16);
	r->driver_event_gpa = fake_guest_alloc(fg, VHU_FE_PACKED_EVENT_SIZE, 4);
	r->device_event_gpa = fake_guest_alloc(fg, VHU_FE_PACKED_EVENT_SIZE, 4);
	if (r->desc_gpa == UINT64_MAX || r->driver_event_gpa == UINT64_MAX ||
	    r->device_event_gpa == UINT64_MAX)
		return -ENOMEM;
	ret = vhu_fe_packed_init(&r->ring, num, fake_guest_ptr(fg, r->desc_gpa, 16ull * num),
				 fake_guest_ptr(fg, r->driver_event_gpa, 4),
				 fake_guest_ptr(fg, r->device_event_gpa, 4));
	if (ret < 0)
		drv_packed_fini(r);
	return ret;
}

void drv_packed_fini(struct drv_packed *r)
{
	vhu_fe_packed_fini(&r->ring);
}

int drv_packed_add_raw(struct drv_packed *r, const struct vring_packed_desc *descs, unsigned int n)
{
	return vhu_fe_packed_put(&r->ring, descs, n);
}

int drv_packed_add(struct drv_packed *r, const struct drv_buf *bufs, unsigned int n, uint16_t id)
{
	struct vring_packed_desc *descs;
	int ret;

	if (n == 0 || n > r->ring.num)
		return -EINVAL;
	descs = calloc(n, sizeof(*descs));
	if (!descs)
		return -ENOMEM;
	for (unsigned int k = 0; k < n; k++)
		vhu_fe_packed_fill(&descs[k], &bufs[k], k + 1 < n ? VRING_DESC_F_NEXT : 0, id);
	ret = vhu_fe_packed_put(&r->ring, descs, n);
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
		vhu_fe_packed_fill(&table[k], &bufs[k], 0, 0);
	vhu_fe_packed_fill(&d, &t, VRING_DESC_F_INDIRECT, id);
	return vhu_fe_packed_put(&r->ring, &d, 1);
}

int drv_packed_get_used(struct drv_packed *r, uint16_t *id, uint32_t *len)
{
	return vhu_fe_packed_get_used(&r->ring, id, len);
}

void drv_packed_set_event(struct drv_packed *r, uint16_t flags, uint16_t slot, bool wrap)
{
	vhu_fe_packed_set_event(&r->ring, flags, slot, wrap);
}
