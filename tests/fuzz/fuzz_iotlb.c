/* SPDX-License-Identifier: MIT */
/*
 * fuzz_iotlb: any sequence of IOTLB updates, invalidations, translations,
 * remaps and clears keeps the table sorted, disjoint, bounded and resolved
 * into mapped memory, translates exactly as a brute-force walk over the
 * entries does (with and without a queue's cache), and never hands out a
 * pointer outside the guest memory.
 *
 * Memory: one memfd region of REGION_PAGES pages, gpa REGION_GPA, front-end
 * address REGION_UVA.
 *
 * Input: byte 0 sets the table's bound ((b & 15) + 1 entries). Then
 * operations, an opcode byte (low 3 bits) and its operands; missing bytes
 * read as 0:
 *   0 update      num iova, num size, uva, u8 perm (sent as is: bad bits too)
 *   1 invalidate  num iova, num size
 *   2 translate   num iova, num size, u8 perm (& 3), u8 max_iov (% MAX_IOV + 1),
 *                 u8 cache (bit 0: through the cache)
 *   3 remap       (the memory did not change: every entry stays)
 *   4 clear
 *   5 find        num iova
 * num = mode byte, then by mode & 3: u16 * 256, u16, u64, or
 * UINT64_MAX - u16; uva = sel byte: bit 7: REGION_UVA + u16 * 16, else num.
 *
 * Every iovec handed out gets one byte written at each end: ASan does not
 * track mmap()ed memory, so a bad pointer would fault here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "memory/iotlb.h"
#include "memory/memtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u
#define REGION_PAGES 16u
#define REGION_SIZE (REGION_PAGES * PAGE)
#define REGION_GPA 0x100000ull
#define REGION_UVA 0x7f0000000000ull
#define MAX_IOV 6u

struct input {
	const uint8_t *data;
	size_t size;
};

static struct vhu_mem mem;
static struct vhu_iotlb tlb;
static struct vhu_iotlb_cache cache;
static uint8_t *base; /* the region's host address */

static uint64_t take(struct input *in, unsigned int nbytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < nbytes && in->size > 0; i++) {
		v |= (uint64_t)in->data[0] << (8 * i);
		in->data++;
		in->size--;
	}
	return v;
}

static uint64_t num(struct input *in)
{
	switch (take(in, 1) & 3) {
	case 0:
		return take(in, 2) * 256;
	case 1:
		return take(in, 2);
	case 2:
		return take(in, 8);
	default:
		return UINT64_MAX - take(in, 2);
	}
}

static uint64_t uva(struct input *in)
{
	uint8_t sel = (uint8_t)take(in, 1);

	return (sel & 0x80) ? REGION_UVA + take(in, 2) * 16 : num(in);
}

static void check_host(const uint8_t *p, uint64_t len)
{
	if (len == 0 || p < base || (uint64_t)(p - base) > REGION_SIZE ||
	    len > REGION_SIZE - (uint64_t)(p - base))
		abort();
	((volatile uint8_t *)p)[0] ^= 0;
	((volatile uint8_t *)p)[len - 1] ^= 0;
}

/* Sorted, disjoint, bounded, each entry resolved where its uva says. */
static void check_table(void)
{
	if (tlb.n > tlb.max)
		abort();
	for (unsigned int i = 0; i < tlb.n; i++) {
		const struct vhu_iotlb_entry *e = &tlb.e[i];

		if (e->size == 0 || e->iova + (e->size - 1) < e->iova || !e->perm ||
		    (e->perm & ~3u))
			abort();
		if (i && tlb.e[i - 1].iova + (tlb.e[i - 1].size - 1) >= e->iova)
			abort();
		if (e->uva < REGION_UVA || e->host != base + (e->uva - REGION_UVA))
			abort();
		check_host(e->host, e->size);
	}
}

/* The reference: a linear walk. Return: as vhu_iotlb_iov, total bytes in *@bytes. */
static int reference(uint64_t iova, uint64_t size, uint8_t perm, uint64_t *fault)
{
	while (size) {
		const struct vhu_iotlb_entry *e = NULL;
		uint64_t piece;

		for (unsigned int i = 0; i < tlb.n; i++)
			if (iova >= tlb.e[i].iova && iova - tlb.e[i].iova < tlb.e[i].size)
				e = &tlb.e[i];
		if (!e || (e->perm & perm) != perm) {
			*fault = iova;
			return e ? -EACCES : -EAGAIN;
		}
		piece = VHU_MIN(size, e->size - (iova - e->iova));
		size -= piece;
		iova += piece;
	}
	return 0;
}

static void op_translate(struct input *in)
{
	uint64_t iova = num(in), size = num(in), fault = 0, rfault = 0, total = 0;
	uint8_t perm = (uint8_t)take(in, 1) & 3;
	unsigned int max = (unsigned int)(take(in, 1) % (MAX_IOV + 1));
	bool cached = take(in, 1) & 1;
	struct iovec iov[MAX_IOV];
	int n, ref;

	if (size && iova + (size - 1) < iova) {
		if (vhu_iotlb_iov(&tlb, cached ? &cache : NULL, iova, size, perm, iov, max,
				  &fault) != -EFAULT)
			abort();
		return;
	}
	ref = reference(iova, size, perm, &rfault);
	n = vhu_iotlb_iov(&tlb, cached ? &cache : NULL, iova, size, perm, iov, max, &fault);
	if (n == -ENOBUFS)
		return; /* more pieces than max before the end (or the fault): fine */
	if (ref < 0) {
		if (n != ref || fault != rfault)
			abort();
		return;
	}
	if (n < 0 || (unsigned int)n > max)
		abort();
	for (int i = 0; i < n; i++) {
		check_host(iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	if (total != size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (!base) {
		struct vhu_mem_region r = {
			.guest_phys_addr = REGION_GPA,
			.memory_size = REGION_SIZE,
			.userspace_addr = REGION_UVA,
		};
		int fd = memfd_create("vhu-fuzziotlb", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, REGION_SIZE) < 0)
			abort();
		vhu_mem_init(&mem, 0);
		if (vhu_mem_add(&mem, &r, fd) < 0) /* consumes the fd */
			abort();
		base = vhu_mem_gpa_ptr(&mem, REGION_GPA, REGION_SIZE);
		if (!base)
			abort();
	}
	vhu_iotlb_init(&tlb, ((unsigned int)take(&in, 1) & 15) + 1);
	memset(&cache, 0, sizeof(cache));
	cache.gen = UINT64_MAX;
	while (in.size > 0) {
		switch (take(&in, 1) & 7) {
		case 0: {
			uint64_t iova = num(&in), sz = num(&in), u = uva(&in);
			uint8_t perm = (uint8_t)take(&in, 1);
			int ret = vhu_iotlb_update(&tlb, &mem, iova, sz, u, perm);

			if (ret == 0 && !vhu_iotlb_find(&tlb, iova))
				abort();
			if (ret != 0 && ret != -EINVAL && ret != -EFAULT && ret != -ENOSPC)
				abort();
			break;
		}
		case 1: {
			uint64_t iova = num(&in), sz = num(&in);
			bool touches = vhu_iotlb_touches(&tlb, iova, sz);
			int dropped = vhu_iotlb_invalidate(&tlb, iova, sz);

			if (touches != (dropped > 0) || vhu_iotlb_find(&tlb, iova))
				abort();
			break;
		}
		case 2:
			op_translate(&in);
			break;
		case 3: {
			unsigned int n = tlb.n;

			vhu_iotlb_remap(&tlb, &mem);
			if (tlb.n != n)
				abort();
			break;
		}
		case 4:
			vhu_iotlb_clear(&tlb);
			break;
		default:
			(void)vhu_iotlb_find(&tlb, num(&in));
			break;
		}
		check_table();
	}
	vhu_iotlb_fini(&tlb);
	return 0;
}
