/* SPDX-License-Identifier: MIT */
#ifndef VHU_MEMORY_MEMTABLE_H
#define VHU_MEMORY_MEMTABLE_H

/*
 * Concepts
 *
 * The guest memory table: the regions the front-end shared (SET_MEM_TABLE,
 * or one at a time with ADD_MEM_REG / REM_MEM_REG), each mapped once into
 * this process. Three address spaces meet here:
 *   gpa  - guest-physical: descriptor addresses in the rings;
 *   uva  - the front-end's virtual address of the same byte (userspace_addr):
 *          SET_VRING_ADDR ring addresses and the log are given in it;
 *   host - our pointer to that byte.
 * A region maps [gpa, gpa + size) <-> [uva, uva + size) <-> host. The fd's
 * byte at mmap_offset is the region's first byte.
 *
 * Regions never overlap in gpa, are kept sorted by gpa, and are looked up by
 * binary search with a last-hit shortcut. Every translation is bounds-checked
 * with overflow-safe arithmetic and never returns a pointer for a range that
 * is not wholly mapped.
 *
 * Concurrency: the table is changed only while the queues that read it are
 * paused (the dispatcher's job), so lookups take no lock; the last-hit hint
 * is a relaxed atomic that any thread may update.
 *
 * Lifetime: a pointer or iovec is valid until its region is removed, the
 * table is cleared, or a SET_MEM_TABLE succeeds (which remaps every region,
 * even unchanged ones): callers translate ring addresses again after those.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhu/protocol.h>

/*
 * One mapped region. The mapping starts at mmap_offset rounded down to the
 * mapping alignment (the page size; hugetlbfs: its huge page size) and its
 * length is rounded up alike, so host = map_base + (mmap_offset - that floor).
 */
struct vhu_region {
	uint64_t gpa;
	uint64_t size; /* bytes; > 0; gpa + size, uva + size never wrap */
	uint64_t uva;
	uint64_t mmap_offset;
	uint8_t *host;	 /* host address of gpa */
	void *map_base;	 /* what mmap returned */
	size_t map_size; /* what mmap and munmap were given */
};

struct vhu_mem {
	unsigned int nregions;
	unsigned int max_regions; /* VHU_MAX_MEM_SLOTS unless lowered */
	unsigned int last_hit;	  /* hint; accessed with relaxed atomics */
	uint64_t gen;		  /* +1 whenever a region is unmapped (vhu_vq_mem_gen) */
	struct vhu_region regions[VHU_MAX_MEM_SLOTS];
};

/**
 * vhu_mem_init() - an empty table that accepts up to @max_regions.
 * @max_regions: 1..VHU_MAX_MEM_SLOTS; 0 or more than VHU_MAX_MEM_SLOTS means
 *               VHU_MAX_MEM_SLOTS
 */
void vhu_mem_init(struct vhu_mem *mem, unsigned int max_regions);

/**
 * vhu_mem_add() - map one region (ADD_MEM_REG).
 * @mem:  the table
 * @desc: the region as the front-end described it
 * @fd:   the region's fd; always consumed (closed: the mapping keeps the memory)
 *
 * Rejects: size 0; gpa, uva or mmap_offset + size overflowing 2^64; a gpa
 * range overlapping an existing region; a full table; a range the fd cannot
 * back (fstat size < mmap_offset + size for regular files: memfd, tmpfs and
 * hugetlbfs; other fds, e.g. devices, have no meaningful size and are not
 * checked). A region may end at 2^64 - 1 at most. Nothing is mapped on error.
 *
 * Return: 0, -EINVAL, -EEXIST (overlap), -ENOSPC (full), or the fstat or
 * mmap errno (-EBADF, -ENODEV for an fd that cannot be mapped, -EACCES ...).
 */
int vhu_mem_add(struct vhu_mem *mem, const struct vhu_mem_region *desc, int fd);

/**
 * vhu_mem_remove() - unmap the region with this gpa and size (REM_MEM_REG).
 *
 * Return: 0 or -ENOENT when no region has exactly that gpa and size.
 */
int vhu_mem_remove(struct vhu_mem *mem, const struct vhu_mem_region *desc);

/**
 * vhu_mem_set_table() - replace the whole table (SET_MEM_TABLE).
 * @mem:   the table
 * @table: the message payload, already size-checked against its row
 * @size:  the payload's hdr.size; must be 8 + nregions * 32
 * @fds:   one fd per region, in order; all consumed on every path (closed or
 *         kept by a mapping), and each entry is set to -1
 * @nfds:  must equal table->nregions
 *
 * All or nothing: the new table is built aside and swapped in only when every
 * region is mapped; on error the old table is still in place and nothing of
 * the new one stays mapped. nregions == 0 (size 8) empties the table.
 *
 * Return: 0, -EINVAL (counts or sizes disagree, bad region), -EEXIST
 * (regions overlap) or an error of vhu_mem_add().
 */
int vhu_mem_set_table(struct vhu_mem *mem, const struct vhu_mem_table *table, uint32_t size,
		      int *fds, unsigned int nfds);

/** vhu_mem_clear() - unmap every region. */
void vhu_mem_clear(struct vhu_mem *mem);

/**
 * vhu_mem_gpa_ptr() - pointer to [gpa, gpa + size), which must lie in one region.
 *
 * @size 0 is treated as the byte at @gpa: the pointer is returned only if
 * @gpa itself is mapped, so the result is never outside a region (a range
 * that ends exactly at a region's end, and starts there, gets NULL).
 *
 * Return: the pointer, or NULL if any byte is unmapped or the range wraps.
 */
void *vhu_mem_gpa_ptr(struct vhu_mem *mem, uint64_t gpa, uint64_t size);

/**
 * vhu_mem_uva_ptr() - the same for a front-end virtual address (ring addresses).
 *
 * uva ranges of regions are not required to be disjoint (only gpa ranges
 * are); the first region holding the whole range is used. Linear in the
 * number of regions: for ring setup, not the data path. @size 0 as above.
 *
 * Return: the pointer, or NULL if any byte is unmapped or the range wraps.
 */
void *vhu_mem_uva_ptr(struct vhu_mem *mem, uint64_t uva, uint64_t size);

/**
 * vhu_mem_gpa_hint() - the host address of [gpa, gpa + size) if it lies in
 * the region the last lookup found, else NULL (then ask vhu_mem_gpa_iov()).
 * The data path's fast case: buffers mostly sit in the region of the
 * previous one. @size > 0.
 */
static inline void *vhu_mem_gpa_hint(struct vhu_mem *mem, uint64_t gpa, uint64_t size)
{
	unsigned int h = __atomic_load_n(&mem->last_hit, __ATOMIC_RELAXED);
	const struct vhu_region *r;

	if (h >= mem->nregions)
		return NULL;
	r = &mem->regions[h];
	/* r->size - offset >= 1 once the first test passes: no wrap */
	if (gpa < r->gpa || gpa - r->gpa >= r->size || size > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

/**
 * vhu_mem_gpa_iov() - [gpa, gpa + size) as iovecs, split where regions end.
 * @iov:     where to append
 * @max_iov: room in @iov
 *
 * A zero-length range yields no iovec. Pieces are not merged even when two
 * regions are contiguous in host memory. On error @iov holds garbage.
 *
 * Return: the number of iovecs written (>= 0), -EFAULT if any byte is
 * unmapped or the range wraps, -ENOBUFS if @max_iov is too small.
 */
int vhu_mem_gpa_iov(struct vhu_mem *mem, uint64_t gpa, uint64_t size, struct iovec *iov,
		    unsigned int max_iov);

/**
 * vhu_mem_uva_to_gpa() - the gpa of a front-end virtual address.
 *
 * Uses the same region as vhu_mem_uva_ptr(@uva, 1).
 *
 * Return: 0, or -EFAULT if @uva is unmapped (*@gpa untouched).
 */
int vhu_mem_uva_to_gpa(struct vhu_mem *mem, uint64_t uva, uint64_t *gpa);

/**
 * vhu_mem_host_to_gpa() - the gpa of a host pointer into a region (the
 * reverse of the lookups above, for dirty logging).
 * @room: set to the bytes from @p to the end of its region
 *
 * Tries the last-hit region first, then every region (linear).
 *
 * Return: 0, or -EFAULT if @p is in no region (*@gpa, *@room untouched).
 */
int vhu_mem_host_to_gpa(struct vhu_mem *mem, const void *p, uint64_t *gpa, uint64_t *room);

#endif /* VHU_MEMORY_MEMTABLE_H */
