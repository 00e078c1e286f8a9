/* SPDX-License-Identifier: MIT */
/*
 * The guest memory table over real memfds: bounds of every translation,
 * mmap_offset, rejection of bad regions and tables, slot limits, and a
 * brute-force reference for lookups after random inserts and removes.
 *
 * Every test runs in a fixture that counts /proc/self/fd and the lines of
 * /proc/self/maps that map this test's memfds (named "vhu-memtest") before
 * and after: no path may leak an fd or a mapping. Only our memfds are
 * counted because malloc and the sanitizers map and unmap memory of their
 * own at any time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "common/util.h"
#include "memory/memtable.h"

#define PAGE 4096u
#define MEMFD_NAME "vhu-memtest"
#define UVA_BASE 0x7f0000000000ull

struct fixture {
	int fds_before;
	int maps_before;
	struct vhu_mem *mem;
};

/* ---- helpers ------------------------------------------------------------ */

static int make_memfd(uint64_t size)
{
	int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static bool fd_is_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static struct vhu_mem_region desc(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t offset)
{
	struct vhu_mem_region d = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uva,
		.mmap_offset = offset,
	};

	return d;
}

/* vhu_mem_add() consumes its fd: give it a duplicate so the test keeps @fd. */
static int add(struct vhu_mem *mem, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t offset,
	       int fd)
{
	struct vhu_mem_region d = desc(gpa, size, uva, offset);
	int dup_fd = dup(fd);

	assert_true(dup_fd >= 0);
	return vhu_mem_add(mem, &d, dup_fd);
}

static uint8_t pread_byte(int fd, uint64_t offset)
{
	uint8_t b = 0;

	assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
	return b;
}

/* xorshift64*: deterministic, so a failure replays */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->mem = malloc(sizeof(*fx->mem));
	assert_non_null(fx->mem);
	vhu_mem_init(fx->mem, 0);
	fx->fds_before = leak_count_fds();
	fx->maps_before = leak_count_memfd_maps(MEMFD_NAME);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	vhu_mem_clear(fx->mem);
	assert_int_equal(fx->mem->nregions, 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before);
	assert_int_equal(leak_count_fds(), fx->fds_before);
	free(fx->mem);
	free(fx);
	return 0;
}

/* ---- add and translate -------------------------------------------------- */

static void add_translate_bounds(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	const uint64_t gpa = 0x100000, size = 16 * PAGE;
	int fd = make_memfd(size);
	struct iovec iov[2];
	uint8_t *p;

	assert_int_equal(add(mem, gpa, size, UVA_BASE, 0, fd), 0);
	assert_int_equal(mem->nregions, 1);

	p = vhu_mem_gpa_ptr(mem, gpa, 1);
	assert_non_null(p);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, gpa + size - 1, 1), p + size - 1);
	assert_null(vhu_mem_gpa_ptr(mem, gpa + size, 1));
	assert_null(vhu_mem_gpa_ptr(mem, gpa - 1, 1));
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, gpa, size), p);
	assert_null(vhu_mem_gpa_ptr(mem, gpa, size + 1));
	assert_null(vhu_mem_gpa_ptr(mem, gpa + 1, size));
	assert_null(vhu_mem_gpa_ptr(mem, gpa, UINT64_MAX));
	assert_null(vhu_mem_gpa_ptr(mem, UINT64_MAX, 1));
	/* size 0: the byte at gpa must be mapped */
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, gpa, 0), p);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, gpa + size - 1, 0), p + size - 1);
	assert_null(vhu_mem_gpa_ptr(mem, gpa + size, 0));
	assert_null(vhu_mem_gpa_ptr(mem, 0, 0));

	/* the pointers reach the fd's bytes */
	p[0] = 0xab;
	p[size - 1] = 0xcd;
	assert_int_equal(pread_byte(fd, 0), 0xab);
	assert_int_equal(pread_byte(fd, size - 1), 0xcd);

	assert_int_equal(vhu_mem_gpa_iov(mem, gpa, size, iov, 2), 1);
	assert_ptr_equal(iov[0].iov_base, p);
	assert_int_equal(iov[0].iov_len, size);
	assert_int_equal(vhu_mem_gpa_iov(mem, gpa + size - 1, 2, iov, 2), -EFAULT);
	close(fd);
}

static void iov_spans_two_regions(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	const uint64_t a = 0x10000, b = 0x20000, size = 0x10000;
	int fda = make_memfd(size), fdb = make_memfd(size);
	struct iovec iov[4];
	uint8_t *pa, *pb;

	assert_int_equal(add(mem, b, size, UVA_BASE + size, 0, fdb), 0);
	assert_int_equal(add(mem, a, size, UVA_BASE, 0, fda), 0);
	pa = vhu_mem_gpa_ptr(mem, a, size);
	pb = vhu_mem_gpa_ptr(mem, b, size);
	assert_non_null(pa);
	assert_non_null(pb);

	assert_int_equal(vhu_mem_gpa_iov(mem, b - 100, 300, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, pa + size - 100);
	assert_int_equal(iov[0].iov_len, 100);
	assert_ptr_equal(iov[1].iov_base, pb);
	assert_int_equal(iov[1].iov_len, 200);
	assert_null(vhu_mem_gpa_ptr(mem, b - 100, 300));

	/* both whole regions, a range of zero bytes, holes and wrap-around */
	assert_int_equal(vhu_mem_gpa_iov(mem, a, 2 * size, iov, 4), 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 2 * size);
	assert_int_equal(vhu_mem_gpa_iov(mem, a, 0, iov, 4), 0);
	assert_int_equal(vhu_mem_gpa_iov(mem, b + size - 10, 20, iov, 4), -EFAULT);
	assert_int_equal(vhu_mem_gpa_iov(mem, a - 1, 2, iov, 4), -EFAULT);
	assert_int_equal(vhu_mem_gpa_iov(mem, a, UINT64_MAX, iov, 4), -EFAULT);
	close(fda);
	close(fdb);
}

static void iov_enobufs(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	int fd = make_memfd(2 * PAGE);
	struct iovec iov[2];

	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, PAGE, PAGE, UVA_BASE + PAGE, PAGE, fd), 0);
	assert_int_equal(vhu_mem_gpa_iov(mem, PAGE - 1, 2, iov, 1), -ENOBUFS);
	assert_int_equal(vhu_mem_gpa_iov(mem, 0, 1, iov, 0), -ENOBUFS);
	assert_int_equal(vhu_mem_gpa_iov(mem, 0, 0, NULL, 0), 0);
	assert_int_equal(vhu_mem_gpa_iov(mem, 0, 1, iov, 1), 1);
	assert_int_equal(vhu_mem_gpa_iov(mem, PAGE - 1, 2, iov, 2), 2);
	close(fd);
}

static void mmap_offset_honoured(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	const uint64_t offset = PAGE + 100, big_offset = 5 * PAGE + 7;
	int fd = make_memfd(8 * PAGE);
	uint8_t v = 0x77;
	uint8_t *p, *q;

	assert_int_equal(add(mem, 0x1000, PAGE, UVA_BASE, offset, fd), 0);
	assert_int_equal(add(mem, 0x9000, 2 * PAGE, UVA_BASE + 0x8000, big_offset, fd), 0);
	p = vhu_mem_gpa_ptr(mem, 0x1000, PAGE);
	q = vhu_mem_gpa_ptr(mem, 0x9000, 2 * PAGE);
	assert_non_null(p);
	assert_non_null(q);

	p[0] = 0x5a;
	p[PAGE - 1] = 0x6b;
	assert_int_equal(pread_byte(fd, offset), 0x5a);
	assert_int_equal(pread_byte(fd, offset + PAGE - 1), 0x6b);
	assert_int_equal(pwrite(fd, &v, 1, (off_t)offset + 10), 1);
	assert_int_equal(p[10], 0x77);

	q[0] = 0x11;
	q[2 * PAGE - 1] = 0x22;
	assert_int_equal(pread_byte(fd, big_offset), 0x11);
	assert_int_equal(pread_byte(fd, big_offset + 2 * PAGE - 1), 0x22);
	close(fd);
}

/* ---- rejected regions --------------------------------------------------- */

static void overlap_rejected(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	int fd = make_memfd(0x30000);

	assert_int_equal(add(mem, 0x10000, 0x10000, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, 0x10000, 0x10000, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0xf000, 0x2000, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0x1f000, 0x2000, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0x12000, 0x1000, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0x10000, 1, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0x1ffff, 1, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(add(mem, 0, 0x30000, UVA_BASE, 0, fd), -EEXIST);
	assert_int_equal(mem->nregions, 1);
	/* touching on either side is not overlapping */
	assert_int_equal(add(mem, 0, 0x10000, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, 0x20000, 0x10000, UVA_BASE, 0, fd), 0);
	assert_int_equal(mem->nregions, 3);
	close(fd);
}

static void size_zero_rejected(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	int fd = make_memfd(PAGE);

	assert_int_equal(add(mem, 0x1000, 0, UVA_BASE, 0, fd), -EINVAL);
	assert_int_equal(mem->nregions, 0);
	close(fd);
}

static void overflow_rejected(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	int fd = make_memfd(2 * PAGE);
	struct iovec iov[2];
	uint8_t *p;

	assert_int_equal(add(mem, UINT64_MAX - PAGE + 1, PAGE, UVA_BASE, 0, fd), -EINVAL);
	assert_int_equal(add(mem, UINT64_MAX, 1, UVA_BASE, 0, fd), -EINVAL);
	assert_int_equal(add(mem, 0, PAGE, UINT64_MAX - 10, 0, fd), -EINVAL);
	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, UINT64_MAX - 10, fd), -EINVAL);
	assert_int_equal(add(mem, 0, UINT64_MAX, UVA_BASE, 1, fd), -EINVAL);
	/* offsets that do not wrap but no fd can back */
	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, 1ull << 63, fd), -EINVAL);
	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, UINT64_MAX - PAGE, fd), -EINVAL);
	assert_int_equal(mem->nregions, 0);

	/* the highest region allowed ends at 2^64 - 1 */
	assert_int_equal(add(mem, UINT64_MAX - PAGE, PAGE, UINT64_MAX - PAGE, 0, fd), 0);
	p = vhu_mem_gpa_ptr(mem, UINT64_MAX - PAGE, PAGE);
	assert_non_null(p);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, UINT64_MAX - 1, 1), p + PAGE - 1);
	assert_null(vhu_mem_gpa_ptr(mem, UINT64_MAX - 1, 2));
	assert_null(vhu_mem_gpa_ptr(mem, UINT64_MAX, 0));
	assert_null(vhu_mem_gpa_ptr(mem, UINT64_MAX - 1, UINT64_MAX));
	assert_ptr_equal(vhu_mem_uva_ptr(mem, UINT64_MAX - 1, 1), p + PAGE - 1);
	assert_null(vhu_mem_uva_ptr(mem, UINT64_MAX - 1, 2));
	assert_int_equal(vhu_mem_gpa_iov(mem, UINT64_MAX - 1, 1, iov, 2), 1);
	assert_int_equal(vhu_mem_gpa_iov(mem, UINT64_MAX - 1, 2, iov, 2), -EFAULT);
	close(fd);
}

static void fd_too_small(void **state)
{
	struct fixture *fx = *state;
	struct vhu_mem *mem = fx->mem;
	int fd = make_memfd(2 * PAGE);
	struct vhu_mem_region d = desc(0, PAGE, UVA_BASE, 0);
	int efd;

	assert_int_equal(add(mem, 0, 2 * PAGE, UVA_BASE, PAGE, fd), -EINVAL);
	assert_int_equal(add(mem, 0, 2 * PAGE + 1, UVA_BASE, 0, fd), -EINVAL);
	assert_int_equal(add(mem, 0, 1, UVA_BASE, 2 * PAGE, fd), -EINVAL);
	assert_int_equal(mem->nregions, 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before);
	/* exactly big enough, with an unaligned offset */
	assert_int_equal(add(mem, 0, PAGE + 2, UVA_BASE, PAGE - 1, fd), -EINVAL);
	assert_int_equal(add(mem, 0, PAGE + 1, UVA_BASE, PAGE - 1, fd), 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before + 1);

	/* an fd that cannot be mapped, and no fd at all */
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	d.guest_phys_addr = 0x100000;
	assert_true(vhu_mem_add(mem, &d, efd) < 0);
	assert_true(fd_is_closed(efd));
	assert_int_equal(vhu_mem_add(mem, &d, -1), -EBADF);
	assert_int_equal(mem->nregions, 1);
	close(fd);
}

/* ---- slots and removal -------------------------------------------------- */

static void max_slots(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	int fd = make_memfd((VHU_MAX_MEM_SLOTS + 1) * (uint64_t)PAGE);
	uint8_t *p;

	for (unsigned int i = 0; i < VHU_MAX_MEM_SLOTS; i++)
		assert_int_equal(add(mem, i * 2ull * PAGE, PAGE, UVA_BASE + i * 2ull * PAGE,
				     (uint64_t)i * PAGE, fd),
				 0);
	assert_int_equal(mem->nregions, VHU_MAX_MEM_SLOTS);
	assert_int_equal(add(mem, VHU_MAX_MEM_SLOTS * 2ull * PAGE, PAGE, UVA_BASE,
			     VHU_MAX_MEM_SLOTS * (uint64_t)PAGE, fd),
			 -ENOSPC);
	for (unsigned int i = 0; i < VHU_MAX_MEM_SLOTS; i++) {
		p = vhu_mem_gpa_ptr(mem, i * 2ull * PAGE + 7, 1);
		assert_non_null(p);
		*p = (uint8_t)i;
		assert_int_equal(pread_byte(fd, (uint64_t)i * PAGE + 7), (uint8_t)i);
		assert_null(vhu_mem_gpa_ptr(mem, (i * 2ull + 1) * PAGE, 1));
	}
	vhu_mem_clear(mem);

	/* a lowered limit, and the clamps of vhu_mem_init() */
	vhu_mem_init(mem, 2);
	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, PAGE, PAGE, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, 2 * PAGE, PAGE, UVA_BASE, 0, fd), -ENOSPC);
	vhu_mem_clear(mem);
	vhu_mem_init(mem, 100000);
	assert_int_equal(mem->max_regions, VHU_MAX_MEM_SLOTS);
	vhu_mem_init(mem, 0);
	assert_int_equal(mem->max_regions, VHU_MAX_MEM_SLOTS);
	close(fd);
}

static void remove_regions(void **state)
{
	struct fixture *fx = *state;
	struct vhu_mem *mem = fx->mem;
	int fd = make_memfd(3 * PAGE);
	struct vhu_mem_region d;

	assert_int_equal(add(mem, 0x10000, PAGE, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, 0x20000, PAGE, UVA_BASE + PAGE, PAGE, fd), 0);
	assert_int_equal(add(mem, 0x30000, PAGE, UVA_BASE + 2 * PAGE, 2 * PAGE, fd), 0);

	d = desc(0x20000, PAGE, 0, 0);
	assert_int_equal(vhu_mem_remove(mem, &d), 0);
	assert_int_equal(mem->nregions, 2);
	assert_null(vhu_mem_gpa_ptr(mem, 0x20000, 1));
	assert_non_null(vhu_mem_gpa_ptr(mem, 0x10000, PAGE));
	assert_non_null(vhu_mem_gpa_ptr(mem, 0x30000, PAGE));
	assert_int_equal(vhu_mem_remove(mem, &d), -ENOENT);

	d = desc(0x10000, PAGE - 1, 0, 0); /* wrong size */
	assert_int_equal(vhu_mem_remove(mem, &d), -ENOENT);
	d = desc(0x10001, PAGE - 1, 0, 0); /* inside, not the start */
	assert_int_equal(vhu_mem_remove(mem, &d), -ENOENT);
	d = desc(0x40000, PAGE, 0, 0); /* after the last */
	assert_int_equal(vhu_mem_remove(mem, &d), -ENOENT);
	assert_int_equal(mem->nregions, 2);

	d = desc(0x30000, PAGE, 0, 0);
	assert_int_equal(vhu_mem_remove(mem, &d), 0);
	d = desc(0x10000, PAGE, 0, 0);
	assert_int_equal(vhu_mem_remove(mem, &d), 0);
	assert_int_equal(mem->nregions, 0);
	assert_int_equal(vhu_mem_remove(mem, &d), -ENOENT);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before);
	close(fd);
}

static void clear_unmaps(void **state)
{
	struct fixture *fx = *state;
	struct vhu_mem *mem = fx->mem;
	int fd = make_memfd(PAGE);

	assert_int_equal(add(mem, 0, PAGE, UVA_BASE, 0, fd), 0);
	assert_int_equal(add(mem, 0x100000, PAGE, UVA_BASE, 0, fd), 0);
	assert_true(leak_count_memfd_maps(MEMFD_NAME) > fx->maps_before);
	vhu_mem_clear(mem);
	assert_int_equal(mem->nregions, 0);
	assert_null(vhu_mem_gpa_ptr(mem, 0, 1));
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before);
	vhu_mem_clear(mem);
	close(fd);
}

/* ---- SET_MEM_TABLE ------------------------------------------------------ */

/* Fills @fds with @n fresh memfds of @size bytes; returns the payload size. */
static uint32_t table_fds(int *fds, unsigned int n, uint64_t size)
{
	for (unsigned int i = 0; i < n; i++)
		fds[i] = make_memfd(size);
	return (uint32_t)(offsetof(struct vhu_mem_table, regions) +
			  n * sizeof(struct vhu_mem_region));
}

/* Calls set_table and checks that every fd it was given is closed and -1. */
static int set_table(struct vhu_mem *mem, const struct vhu_mem_table *t, uint32_t size, int *fds,
		     unsigned int nfds)
{
	int saved[VHU_MEM_TABLE_MAX_REGIONS + 2];
	int ret;

	assert_true(nfds <= ARRAY_SIZE(saved));
	for (unsigned int i = 0; i < nfds; i++)
		saved[i] = fds[i];
	ret = vhu_mem_set_table(mem, t, size, fds, nfds);
	for (unsigned int i = 0; i < nfds; i++) {
		assert_int_equal(fds[i], -1);
		assert_true(fd_is_closed(saved[i]));
	}
	return ret;
}

static void set_table_replaces(void **state)
{
	struct fixture *fx = *state;
	struct vhu_mem *mem = fx->mem;
	struct vhu_mem_table t = { .nregions = 2 };
	int fds[VHU_MEM_TABLE_MAX_REGIONS];
	uint32_t size;
	uint8_t *p;

	size = table_fds(fds, 2, PAGE);
	t.regions[0] = desc(0x20000, PAGE, UVA_BASE + PAGE, 0);
	t.regions[1] = desc(0x10000, PAGE, UVA_BASE, 0);
	assert_int_equal(set_table(mem, &t, size, fds, 2), 0);
	assert_int_equal(mem->nregions, 2);
	assert_int_equal(mem->regions[0].gpa, 0x10000);
	p = vhu_mem_gpa_ptr(mem, 0x10000, PAGE);
	assert_non_null(p);
	assert_non_null(vhu_mem_gpa_ptr(mem, 0x20000, PAGE));

	/* overlapping regions: the old table stays */
	size = table_fds(fds, 2, 2 * PAGE);
	t.regions[0] = desc(0x100000, 2 * PAGE, UVA_BASE, 0);
	t.regions[1] = desc(0x101000, PAGE, UVA_BASE, 0);
	assert_int_equal(set_table(mem, &t, size, fds, 2), -EEXIST);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, 0x10000, PAGE), p);
	assert_null(vhu_mem_gpa_ptr(mem, 0x100000, 1));

	/* the third region's fd is too small: the first two are unmapped again */
	t.nregions = 3;
	size = table_fds(fds, 3, PAGE);
	t.regions[0] = desc(0x100000, PAGE, UVA_BASE, 0);
	t.regions[1] = desc(0x200000, PAGE, UVA_BASE, 0);
	t.regions[2] = desc(0x300000, 2 * PAGE, UVA_BASE, 0);
	assert_int_equal(set_table(mem, &t, size, fds, 3), -EINVAL);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before + 2);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, 0x10000, PAGE), p);
	assert_int_equal(mem->nregions, 2);

	/* a good table replaces the old one wholly */
	size = table_fds(fds, 3, 2 * PAGE);
	assert_int_equal(set_table(mem, &t, size, fds, 3), 0);
	assert_int_equal(mem->nregions, 3);
	assert_null(vhu_mem_gpa_ptr(mem, 0x10000, 1));
	assert_null(vhu_mem_gpa_ptr(mem, 0x20000, 1));
	assert_non_null(vhu_mem_gpa_ptr(mem, 0x300000, 2 * PAGE));
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before + 3);

	/* no regions: an empty table */
	t.nregions = 0;
	assert_int_equal(set_table(mem, &t, table_fds(fds, 0, 0), NULL, 0), 0);
	assert_int_equal(mem->nregions, 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), fx->maps_before);
}

static void set_table_bad_counts(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	struct vhu_mem_table t = { .nregions = 1 };
	int fds[VHU_MEM_TABLE_MAX_REGIONS + 2];
	uint32_t size;
	uint8_t *p;

	size = table_fds(fds, 1, PAGE);
	t.regions[0] = desc(0x1000, PAGE, UVA_BASE, 0);
	assert_int_equal(set_table(mem, &t, size, fds, 1), 0);
	p = vhu_mem_gpa_ptr(mem, 0x1000, PAGE);
	assert_non_null(p);

	t.nregions = 2;
	t.regions[0] = desc(0x100000, PAGE, UVA_BASE, 0);
	t.regions[1] = desc(0x200000, PAGE, UVA_BASE, 0);
	size = table_fds(fds, 3, PAGE); /* nfds > nregions */
	assert_int_equal(set_table(mem, &t, size - 32, fds, 3), -EINVAL);
	size = table_fds(fds, 1, PAGE); /* nfds < nregions */
	assert_int_equal(set_table(mem, &t, size + 32, fds, 1), -EINVAL);
	size = table_fds(fds, 2, PAGE); /* payload one byte long */
	assert_int_equal(set_table(mem, &t, size + 1, fds, 2), -EINVAL);
	size = table_fds(fds, 2, PAGE); /* payload one region short */
	assert_int_equal(set_table(mem, &t, size - 32, fds, 2), -EINVAL);
	table_fds(fds, 2, PAGE); /* shorter than the header */
	assert_int_equal(set_table(mem, &t, 4, fds, 2), -EINVAL);
	t.nregions = VHU_MEM_TABLE_MAX_REGIONS + 1;
	size = table_fds(fds, VHU_MEM_TABLE_MAX_REGIONS + 1, PAGE);
	assert_int_equal(set_table(mem, &t, size, fds, VHU_MEM_TABLE_MAX_REGIONS + 1), -EINVAL);
	t.nregions = 1;
	table_fds(fds, VHU_MEM_TABLE_MAX_REGIONS + 2, PAGE);
	assert_int_equal(set_table(mem, &t, 40, fds, VHU_MEM_TABLE_MAX_REGIONS + 2), -EINVAL);

	/* a bad region: size 0 */
	t.regions[0] = desc(0x100000, 0, UVA_BASE, 0);
	size = table_fds(fds, 1, PAGE);
	assert_int_equal(set_table(mem, &t, size, fds, 1), -EINVAL);

	assert_int_equal(mem->nregions, 1);
	assert_ptr_equal(vhu_mem_gpa_ptr(mem, 0x1000, PAGE), p);
}

/* ---- uva ---------------------------------------------------------------- */

static void uva_translation(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	const uint64_t size = 0x10000, ga = 0x10000, gb = 0x40000;
	const uint64_t ua = UVA_BASE, ub = UVA_BASE + size; /* adjacent in uva only */
	int fd = make_memfd(2 * size);
	uint64_t gpa = 0x1234;
	uint8_t *pa, *pb;

	assert_int_equal(add(mem, ga, size, ua, 0, fd), 0);
	assert_int_equal(add(mem, gb, size, ub, size, fd), 0);
	pa = vhu_mem_gpa_ptr(mem, ga, size);
	pb = vhu_mem_gpa_ptr(mem, gb, size);

	assert_ptr_equal(vhu_mem_uva_ptr(mem, ua, size), pa);
	assert_ptr_equal(vhu_mem_uva_ptr(mem, ua + size - 1, 1), pa + size - 1);
	assert_ptr_equal(vhu_mem_uva_ptr(mem, ub, 1), pb);
	assert_ptr_equal(vhu_mem_uva_ptr(mem, ub + size - 1, 1), pb + size - 1);
	assert_ptr_equal(vhu_mem_uva_ptr(mem, ub, 0), pb);
	assert_null(vhu_mem_uva_ptr(mem, ub + size, 1));
	assert_null(vhu_mem_uva_ptr(mem, ub + size, 0));
	assert_null(vhu_mem_uva_ptr(mem, ua - 1, 1));
	assert_null(vhu_mem_uva_ptr(mem, ua + size - 1, 2)); /* two regions */
	assert_null(vhu_mem_uva_ptr(mem, ua, UINT64_MAX));

	assert_int_equal(vhu_mem_uva_to_gpa(mem, ua + 5, &gpa), 0);
	assert_int_equal(gpa, ga + 5);
	assert_int_equal(vhu_mem_uva_to_gpa(mem, ub + size - 1, &gpa), 0);
	assert_int_equal(gpa, gb + size - 1);
	gpa = 0x1234;
	assert_int_equal(vhu_mem_uva_to_gpa(mem, ub + size, &gpa), -EFAULT);
	assert_int_equal(vhu_mem_uva_to_gpa(mem, 0, &gpa), -EFAULT);
	assert_int_equal(gpa, 0x1234);
	close(fd);
}

/* ---- random order against a brute-force reference ----------------------- */

#define NREF 128u

struct ref {
	struct vhu_mem_region d[NREF];
	bool live[NREF];
};

/* The file offset of @gpa by linear scan, or UINT64_MAX if unmapped. */
static uint64_t ref_offset(const struct ref *ref, uint64_t gpa, uint64_t size)
{
	for (unsigned int i = 0; i < NREF; i++) {
		const struct vhu_mem_region *d = &ref->d[i];

		if (ref->live[i] && gpa >= d->guest_phys_addr &&
		    gpa - d->guest_phys_addr < d->memory_size &&
		    size <= d->memory_size - (gpa - d->guest_phys_addr))
			return d->mmap_offset + (gpa - d->guest_phys_addr);
	}
	return UINT64_MAX;
}

/* The byte every file offset holds: 251 is prime, so no page-sized shift repeats it. */
static uint8_t pattern(uint64_t offset)
{
	return (uint8_t)(offset % 251);
}

/* The pointer must exist exactly when the reference maps the range, and show its bytes. */
static void check_lookup(struct vhu_mem *mem, const struct ref *ref, uint64_t gpa, uint64_t size)
{
	uint64_t want = ref_offset(ref, gpa, size);
	const uint8_t *p = vhu_mem_gpa_ptr(mem, gpa, size);

	if (want == UINT64_MAX) {
		assert_null(p);
		return;
	}
	assert_non_null(p);
	assert_int_equal(p[0], pattern(want));
	assert_int_equal(p[size - 1], pattern(want + size - 1));
}

static void check_all(struct vhu_mem *mem, const struct ref *ref, uint64_t *seed, uint64_t span)
{
	for (unsigned int i = 1; i < mem->nregions; i++)
		assert_true(mem->regions[i - 1].gpa + mem->regions[i - 1].size <=
			    mem->regions[i].gpa);
	for (unsigned int i = 0; i < NREF; i++) {
		const struct vhu_mem_region *d = &ref->d[i];

		check_lookup(mem, ref, d->guest_phys_addr, 1);
		check_lookup(mem, ref, d->guest_phys_addr - 1, 1);
		check_lookup(mem, ref, d->guest_phys_addr + d->memory_size - 1, 1);
		check_lookup(mem, ref, d->guest_phys_addr + d->memory_size, 1);
		check_lookup(mem, ref, d->guest_phys_addr, d->memory_size);
	}
	for (unsigned int i = 0; i < 20000; i++) {
		if (i % 64 == 0) /* any hint, even a wild one, is only a guess */
			mem->last_hit = (unsigned int)rnd(seed);
		check_lookup(mem, ref, rnd(seed) % span, 1 + rnd(seed) % (2 * PAGE));
	}
}

static void random_order_lookups(void **state)
{
	struct vhu_mem *mem = ((struct fixture *)*state)->mem;
	uint64_t seed = 0x5eed1234abcdull, gpa = 0x10000, file_size = 0;
	unsigned int order[NREF];
	static struct ref ref;
	uint8_t *bytes;
	int fd;

	memset(&ref, 0, sizeof(ref));
	for (unsigned int i = 0; i < NREF; i++) {
		uint64_t size = (1 + rnd(&seed) % 4) * PAGE - (rnd(&seed) % 3) * 17;

		gpa += (rnd(&seed) % 3) * PAGE + rnd(&seed) % 5; /* may touch */
		ref.d[i] = desc(gpa, size, UVA_BASE + gpa, file_size + rnd(&seed) % 64);
		file_size += 5 * PAGE;
		gpa += size;
		order[i] = i;
	}
	fd = make_memfd(file_size);
	bytes = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(bytes != MAP_FAILED);
	for (uint64_t x = 0; x < file_size; x++)
		bytes[x] = pattern(x);
	munmap(bytes, file_size);

	for (unsigned int i = NREF - 1; i > 0; i--) {
		unsigned int j = (unsigned int)(rnd(&seed) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned int i = 0; i < NREF; i++) {
		assert_int_equal(vhu_mem_add(mem, &ref.d[order[i]], dup(fd)), 0);
		ref.live[order[i]] = true;
	}
	check_all(mem, &ref, &seed, gpa + PAGE);

	/* remove half in random order, then put some back */
	for (unsigned int i = 0; i < NREF / 2; i++) {
		assert_int_equal(vhu_mem_remove(mem, &ref.d[order[i]]), 0);
		ref.live[order[i]] = false;
	}
	check_all(mem, &ref, &seed, gpa + PAGE);
	for (unsigned int i = 0; i < NREF / 4; i++) {
		assert_int_equal(vhu_mem_add(mem, &ref.d[order[i]], dup(fd)), 0);
		ref.live[order[i]] = true;
	}
	check_all(mem, &ref, &seed, gpa + PAGE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(add_translate_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(iov_spans_two_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(iov_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(mmap_offset_honoured, setup, teardown),
		cmocka_unit_test_setup_teardown(overlap_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(size_zero_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(overflow_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(max_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(clear_unmaps, setup, teardown),
		cmocka_unit_test_setup_teardown(set_table_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(set_table_bad_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(uva_translation, setup, teardown),
		cmocka_unit_test_setup_teardown(random_order_lookups, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
