/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_GUEST_MEM_H
#define VHU_FRONTEND_GUEST_MEM_H

/*
 * Concepts
 *
 * The front-end's "guest" memory: one memfd, mapped MAP_SHARED here and
 * handed to the back-end, which maps the same pages. It is announced as one
 * region whose gpa starts at VHU_FE_MEM_GPA and whose front-end virtual
 * address (uva) is our own pointer, so ring addresses (uva) and descriptor
 * addresses (gpa) are both plain offsets from the mapping. No hugepages:
 * memfd pages are ordinary shmem.
 *
 * Allocation is a bump allocator; nothing is freed before the memory is.
 */

#include <stdbool.h>
#include <stdint.h>

#include "frontend/requests.h"

#define VHU_FE_MEM_GPA 0x100000000ull /* 4 GiB: a gpa never equal to a uva or an offset */
/* Where the IOVAs start when the front-end plays the IOMMU: neither a gpa nor a uva. */
#define VHU_FE_IOVA_BASE 0xd00000000000ull

struct vhu_fe_mem {
	int fd;
	uint8_t *host;
	uint64_t size;
	uint64_t used;	   /* bump offset */
	uint64_t dma_base; /* what the device is given for offset 0: VHU_FE_MEM_GPA or
			    * VHU_FE_IOVA_BASE (the IOMMU role) */
};

/**
 * vhu_fe_mem_create() - a memfd of @size bytes (rounded up to pages), mapped.
 * Return: 0, -EINVAL (size 0) or the errno of memfd_create/ftruncate/mmap
 * (logged, with what to check).
 */
int vhu_fe_mem_create(struct vhu_fe_mem *m, uint64_t size, const struct vhu_log *log);
void vhu_fe_mem_destroy(struct vhu_fe_mem *m);

/* @size zeroed bytes aligned to @align (a power of two); NULL when full. */
void *vhu_fe_mem_alloc(struct vhu_fe_mem *m, uint64_t size, uint64_t align);

/*
 * The gpa of [p, p + len) (the IOVA when the front-end plays the IOMMU),
 * which must lie in the memory. Return: 0 or -EFAULT.
 * Inline: every buffer of every request goes through it.
 */
static inline int vhu_fe_mem_gpa(const struct vhu_fe_mem *m, const void *p, uint64_t len,
				 uint64_t *gpa)
{
	uintptr_t base = (uintptr_t)m->host, addr = (uintptr_t)p;

	if (!m->host || addr < base || addr - base > m->size || len > m->size - (addr - base))
		return -EFAULT;
	*gpa = m->dma_base + (addr - base);
	return 0;
}

/* The uva of @p (what SET_VRING_ADDR carries): our pointer value. */
static inline uint64_t vhu_fe_mem_uva(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/**
 * vhu_fe_mem_share() - announce the region: ADD_MEM_REG with @mem_slots,
 * else SET_MEM_TABLE.
 * Return: 0 or an error of vhu_fe_request().
 */
int vhu_fe_mem_share(const struct vhu_fe_mem *m, struct vhu_fe_chan *ch, bool mem_slots);

#endif /* VHU_FRONTEND_GUEST_MEM_H */
