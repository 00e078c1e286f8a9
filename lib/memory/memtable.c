/* SPDX-License-Identifier: MIT */
/*
 * The guest memory table: one mapping per region, sorted by gpa, looked up by
 * binary search behind a last-hit hint. See memtable.h for the contract.
 *
 * Every region is validated before anything is mapped: the front-end is
 * untrusted, and the CVE history of this code (DPDK CVE-2018-1059,
 * CVE-2020-10722) is unchecked sizes and offsets. Once a region is in the
 * table its ends are known not to wrap, so translations can compute
 * "bytes left in the region" without overflow checks of their own.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "memory/memtable.h"

/* mmap's offset is an off_t: a peer-supplied u64 must fit in it. */
static_assert(sizeof(off_t) == sizeof(int64_t), "64-bit off_t (meson sets _FILE_OFFSET_BITS)");

/* The largest st_blksize we align a mapping to: the biggest huge page. */
#define MAP_ALIGN_MAX (1ull << 30)

void vhu_mem_init(struct vhu_mem *mem, unsigned int max_regions)
{
	if (max_regions == 0 || max_regions > VHU_MAX_MEM_SLOTS)
		max_regions = VHU_MAX_MEM_SLOTS;
	mem->nregions = 0;
	mem->max_regions = max_regions;
	mem->last_hit = 0;
	mem->gen = 0;
}

/* true if @r holds the byte at @gpa; no end is computed, so nothing can wrap */
static bool region_has(const struct vhu_region *r, uint64_t gpa)
{
	return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* The index of the first region whose gpa is >= @gpa (nregions if none). */
static unsigned int lower_bound(const struct vhu_mem *mem, uint64_t gpa)
{
	unsigned int lo = 0, hi = mem->nregions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (mem->regions[mid].gpa < gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct vhu_region *region_find(struct vhu_mem *mem, uint64_t gpa)
{
	/* any thread may move the hint; it is only a guess, checked before use */
	unsigned int hint = __atomic_load_n(&mem->last_hit, __ATOMIC_RELAXED);
	unsigned int i;

	if (hint < mem->nregions && region_has(&mem->regions[hint], gpa))
		return &mem->regions[hint];
	/* regions do not overlap: only the one before the first gpa > @gpa may hold it */
	i = gpa == UINT64_MAX ? mem->nregions : lower_bound(mem, gpa + 1);
	if (i == 0 || !region_has(&mem->regions[i - 1], gpa))
		return NULL;
	__atomic_store_n(&mem->last_hit, i - 1, __ATOMIC_RELAXED);
	return &mem->regions[i - 1];
}

/* The first region holding all of [uva, uva + size); linear: ring setup only. */
static struct vhu_region *region_find_uva(struct vhu_mem *mem, uint64_t uva, uint64_t size)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		struct vhu_region *r = &mem->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size && size <= r->size - (uva - r->uva))
			return r;
	}
	return NULL;
}

/*
 * Sizes and wrap-around of @desc, room in @mem, and overlap with its
 * neighbours. On success *@pos is where the region goes to keep the order.
 */
static int region_check(const struct vhu_mem *mem, const struct vhu_mem_region *desc,
			unsigned int *pos)
{
	unsigned int i;

	if (desc->memory_size == 0 ||
	    vhu_range_overflows(desc->guest_phys_addr, desc->memory_size) ||
	    vhu_range_overflows(desc->userspace_addr, desc->memory_size) ||
	    vhu_range_overflows(desc->mmap_offset, desc->memory_size))
		return -EINVAL;
	if (mem->nregions >= mem->max_regions)
		return -ENOSPC;
	i = lower_bound(mem, desc->guest_phys_addr);
	/* the ends below cannot wrap: every range in the table was checked */
	if (i > 0 && mem->regions[i - 1].gpa + mem->regions[i - 1].size > desc->guest_phys_addr)
		return -EEXIST;
	if (i < mem->nregions && desc->guest_phys_addr + desc->memory_size > mem->regions[i].gpa)
		return -EEXIST;
	*pos = i;
	return 0;
}

/*
 * What the mapping's offset and length are aligned to. hugetlbfs reports its
 * page size in st_blksize, and munmap() of a hugetlb mapping fails unless the
 * length is a multiple of it; other files report a power of two that is at
 * worst a little more address space than needed.
 */
static uint64_t map_align(const struct stat *st)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t align = page > 0 ? (uint64_t)page : 4096;
	uint64_t blk = st->st_blksize > 0 ? (uint64_t)st->st_blksize : 0;

	if (vhu_is_pow2(blk) && blk > align && blk <= MAP_ALIGN_MAX)
		align = blk;
	return align;
}

/*
 * Map [mmap_offset, mmap_offset + size) of @fd, from the offset rounded down
 * to the alignment: mapping from 0 would waste address space on an offset
 * into a large file (QEMU splits one RAM block at the PCI hole).
 */
static int region_map(const struct vhu_mem_region *desc, int fd, struct vhu_region *r)
{
	uint64_t align, map_off, map_size, end = desc->mmap_offset + desc->memory_size;
	struct stat st;
	void *map;

	if (fstat(fd, &st) < 0)
		return -errno;
	/*
	 * A regular file (memfd, tmpfs, hugetlbfs) must back every byte now, or
	 * the first access past its end is a SIGBUS in our process. A front-end
	 * that shrinks the file later can still do that; only seals
	 * (F_SEAL_SHRINK) would prevent it. Devices have no meaningful st_size.
	 */
	if (S_ISREG(st.st_mode) && (st.st_size < 0 || (uint64_t)st.st_size < end))
		return -EINVAL;
	align = map_align(&st);
	map_off = desc->mmap_offset & ~(align - 1);
	/* end - map_off is < 2^64 - align + 1 only if rounding up does not wrap */
	if (__builtin_add_overflow(end - map_off, align - 1, &map_size))
		return -EINVAL;
	map_size &= ~(align - 1);
	if (map_off > (uint64_t)INT64_MAX || map_size > SIZE_MAX)
		return -EINVAL;
	map = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		   (off_t)map_off);
	if (map == MAP_FAILED)
		return -errno;
	r->gpa = desc->guest_phys_addr;
	r->size = desc->memory_size;
	r->uva = desc->userspace_addr;
	r->mmap_offset = desc->mmap_offset;
	r->map_base = map;
	r->map_size = (size_t)map_size;
	r->host = (uint8_t *)map + (desc->mmap_offset - map_off);
	return 0;
}

static void region_unmap(struct vhu_region *r)
{
	munmap(r->map_base, r->map_size);
	r->map_base = NULL;
	r->host = NULL;
}

int vhu_mem_add(struct vhu_mem *mem, const struct vhu_mem_region *desc, int fd)
{
	struct vhu_region r;
	unsigned int pos = 0;
	int ret;

	ret = region_check(mem, desc, &pos);
	if (ret < 0)
		goto out_close;
	ret = region_map(desc, fd, &r);
	if (ret < 0)
		goto out_close;
	memmove(&mem->regions[pos + 1], &mem->regions[pos],
		(mem->nregions - pos) * sizeof(mem->regions[0]));
	mem->regions[pos] = r;
	mem->nregions++;
out_close:
	vhu_close_fd(&fd); /* the mapping keeps the memory */
	return ret;
}

int vhu_mem_remove(struct vhu_mem *mem, const struct vhu_mem_region *desc)
{
	unsigned int i = lower_bound(mem, desc->guest_phys_addr);

	if (i == mem->nregions || mem->regions[i].gpa != desc->guest_phys_addr ||
	    mem->regions[i].size != desc->memory_size)
		return -ENOENT;
	region_unmap(&mem->regions[i]);
	memmove(&mem->regions[i], &mem->regions[i + 1],
		(mem->nregions - i - 1) * sizeof(mem->regions[0]));
	mem->nregions--;
	mem->gen++;
	return 0;
}

void vhu_mem_clear(struct vhu_mem *mem)
{
	for (unsigned int i = 0; i < mem->nregions; i++)
		region_unmap(&mem->regions[i]);
	mem->nregions = 0;
	mem->gen++;
	__atomic_store_n(&mem->last_hit, 0, __ATOMIC_RELAXED);
}

/* Counts and sizes of a SET_MEM_TABLE payload; reads nregions only if present. */
static int table_check(const struct vhu_mem_table *table, uint32_t size, unsigned int nfds)
{
	if (size < offsetof(struct vhu_mem_table, regions))
		return -EINVAL;
	if (table->nregions > VHU_MEM_TABLE_MAX_REGIONS || table->nregions != nfds)
		return -EINVAL;
	if (size != offsetof(struct vhu_mem_table, regions) +
			    (uint64_t)table->nregions * sizeof(table->regions[0]))
		return -EINVAL;
	return 0;
}

int vhu_mem_set_table(struct vhu_mem *mem, const struct vhu_mem_table *table, uint32_t size,
		      int *fds, unsigned int nfds)
{
	struct vhu_mem *next; /* ~30 KB: on the heap, never on a worker's stack */
	int ret;

	ret = table_check(table, size, nfds);
	if (ret < 0)
		goto out_close;
	next = malloc(sizeof(*next));
	if (!next) {
		ret = -ENOMEM;
		goto out_close;
	}
	/* sorted insertion checks each region against its new neighbours */
	vhu_mem_init(next, mem->max_regions);
	for (unsigned int i = 0; i < nfds && ret == 0; i++)
		ret = vhu_mem_add(next, &table->regions[i], vhu_fd_take(&fds[i]));
	if (ret < 0) {
		vhu_mem_clear(next);
		goto out_free;
	}
	vhu_mem_clear(mem);
	memcpy(mem->regions, next->regions, next->nregions * sizeof(next->regions[0]));
	mem->nregions = next->nregions;
out_free:
	free(next);
out_close:
	vhu_close_fds(fds, nfds); /* the ones not taken yet */
	return ret;
}

void *vhu_mem_gpa_ptr(struct vhu_mem *mem, uint64_t gpa, uint64_t size)
{
	const struct vhu_region *r = region_find(mem, gpa);

	/* r->size - offset >= 1: "bytes left" cannot wrap, and neither can the range */
	if (!r || size > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa); /* host is uint8_t *: byte arithmetic */
}

void *vhu_mem_uva_ptr(struct vhu_mem *mem, uint64_t uva, uint64_t size)
{
	const struct vhu_region *r = region_find_uva(mem, uva, size);

	if (!r)
		return NULL;
	return r->host + (uva - r->uva);
}

int vhu_mem_gpa_iov(struct vhu_mem *mem, uint64_t gpa, uint64_t size, struct iovec *iov,
		    unsigned int max_iov)
{
	unsigned int n = 0;

	if (vhu_range_overflows(gpa, size))
		return -EFAULT;
	/* each step ends at a region's end, so n <= nregions and fits an int */
	while (size > 0) {
		const struct vhu_region *r = region_find(mem, gpa);
		uint64_t off, len;

		if (!r)
			return -EFAULT;
		if (n == max_iov)
			return -ENOBUFS;
		off = gpa - r->gpa;
		len = VHU_MIN(size, r->size - off);
		iov[n].iov_base = r->host + off;
		iov[n].iov_len = (size_t)len; /* <= map_size, which fits a size_t */
		n++;
		gpa += len;
		size -= len;
	}
	return (int)n;
}

int vhu_mem_uva_to_gpa(struct vhu_mem *mem, uint64_t uva, uint64_t *gpa)
{
	const struct vhu_region *r = region_find_uva(mem, uva, 1);

	if (!r)
		return -EFAULT;
	*gpa = r->gpa + (uva - r->uva);
	return 0;
}

static bool region_has_host(const struct vhu_region *r, uintptr_t p)
{
	return p >= (uintptr_t)r->host && p - (uintptr_t)r->host < r->size;
}

int vhu_mem_host_to_gpa(struct vhu_mem *mem, const void *p, uint64_t *gpa, uint64_t *room)
{
	unsigned int hint = __atomic_load_n(&mem->last_hit, __ATOMIC_RELAXED);
	uintptr_t a = (uintptr_t)p;
	const struct vhu_region *r = NULL;

	if (hint < mem->nregions && region_has_host(&mem->regions[hint], a))
		r = &mem->regions[hint];
	for (unsigned int i = 0; !r && i < mem->nregions; i++)
		if (region_has_host(&mem->regions[i], a))
			r = &mem->regions[i];
	if (!r)
		return -EFAULT;
	*gpa = r->gpa + (a - (uintptr_t)r->host);
	*room = r->size - (a - (uintptr_t)r->host);
	return 0;
}
