/* SPDX-License-Identifier: MIT */
/*
 * lib/memory/iotlb.c: updates (the hostile ones refused), overlap
 * replacement, invalidation (partial, of nothing, of everything), the bound,
 * translation with permissions and merging, the queue cache and its
 * generation, and a remap after the memory changed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "memory/iotlb.h"
#include "memory/memtable.h"

#define PAGE 4096u
#define PAGES 8u
#define GPA 0x100000ull
#define UVA 0x7f0000000000ull
#define R VHU_IOTLB_READ
#define W VHU_IOTLB_WRITE
#define RW (R | W)

struct fix {
	struct vhu_mem mem;
	struct vhu_iotlb t;
	uint8_t *host;
};

static int setup(void **state)
{
	static struct fix f;
	struct vhu_mem_region r = { GPA, PAGES * PAGE, UVA, 0 };
	int fd = memfd_create("vhu-test-iotlb", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, PAGES * PAGE), 0);
	vhu_mem_init(&f.mem, 0);
	assert_int_equal(vhu_mem_add(&f.mem, &r, fd), 0);
	f.host = vhu_mem_gpa_ptr(&f.mem, GPA, PAGES * PAGE);
	assert_non_null(f.host);
	vhu_iotlb_init(&f.t, 4);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	vhu_iotlb_fini(&f->t);
	vhu_mem_clear(&f->mem);
	return 0;
}

static void hostile_updates(void **state)
{
	struct fix *f = *state;

	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, 0, UVA, RW), -EINVAL);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, UINT64_MAX - 10, 0x100, UVA, RW),
			 -EINVAL); /* wraps */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, 0x100, UINT64_MAX - 10, RW),
			 -EINVAL); /* uva wraps */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, 0x100, UVA, 0), -EINVAL);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, 0x100, UVA, 4), -EINVAL);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, 0x100, UVA + PAGES * PAGE, RW),
			 -EFAULT); /* not in guest memory */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x1000, PAGES * PAGE + 1, UVA, RW),
			 -EFAULT); /* runs past the region */
	assert_int_equal(f->t.n, 0);
	/* an entry that ends at the top of the space is fine */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, UINT64_MAX - 0xfff, 0x1000, UVA, R), 0);
	assert_non_null(vhu_iotlb_find(&f->t, UINT64_MAX));
}

static void translate_perm_merge(void **state)
{
	struct fix *f = *state;
	struct iovec iov[4];
	uint64_t fault = 0;

	/* two IOVA pages mapped to adjacent memory: one iovec */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA, RW), 0);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x11000, PAGE, UVA + PAGE, R), 0);
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x10800, PAGE, R, iov, 4, &fault), 1);
	assert_ptr_equal(iov[0].iov_base, f->host + 0x800);
	assert_int_equal(iov[0].iov_len, PAGE);
	/* the second is read-only */
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x10800, PAGE, W, iov, 4, &fault), -EACCES);
	assert_int_equal(fault, 0x11000);
	/* past it: a miss at the first byte with no entry */
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x11f00, 0x200, R, iov, 4, &fault), -EAGAIN);
	assert_int_equal(fault, 0x12000);
	/* not adjacent in memory: two pieces, and -ENOBUFS with room for one */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x12000, PAGE, UVA + 5 * PAGE, RW), 0);
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x11000, 2 * PAGE, R, iov, 4, &fault), 2);
	assert_ptr_equal(iov[1].iov_base, f->host + 5 * PAGE);
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x11000, 2 * PAGE, R, iov, 1, &fault),
			 -ENOBUFS);
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, UINT64_MAX, 2, R, iov, 4, &fault), -EFAULT);
	assert_int_equal(vhu_iotlb_iov(&f->t, NULL, 0x10000, 0, R, iov, 4, &fault), 0);
}

static void overlap_and_invalidate(void **state)
{
	struct fix *f = *state;
	uint64_t inval = f->t.inval_gen;

	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, 2 * PAGE, UVA, RW), 0);
	/* the same again: nothing changes, no invalidation */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, 2 * PAGE, UVA, RW), 0);
	assert_int_equal(f->t.n, 1);
	assert_int_equal(f->t.inval_gen, inval);
	/* an overlap replaces what it touches: newest wins */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x11000, PAGE, UVA + 4 * PAGE, R), 0);
	assert_int_equal(f->t.n, 1);
	assert_null(vhu_iotlb_find(&f->t, 0x10000));
	assert_ptr_equal(vhu_iotlb_find(&f->t, 0x11000)->host, f->host + 4 * PAGE);
	assert_true(f->t.inval_gen != inval);
	/* invalidating what was never mapped changes nothing */
	assert_false(vhu_iotlb_touches(&f->t, 0x50000, PAGE));
	assert_int_equal(vhu_iotlb_invalidate(&f->t, 0x50000, PAGE), 0);
	/* a partial invalidate drops the whole entry */
	assert_true(vhu_iotlb_touches(&f->t, 0x11800, 1));
	assert_int_equal(vhu_iotlb_invalidate(&f->t, 0x11800, 1), 1);
	assert_int_equal(f->t.n, 0);
	/* size 0 (and a wrap): from iova to the end of the space */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA, R), 0);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x90000, PAGE, UVA, R), 0);
	assert_int_equal(vhu_iotlb_invalidate(&f->t, 0x20000, 0), 1);
	assert_non_null(vhu_iotlb_find(&f->t, 0x10000));
	assert_int_equal(vhu_iotlb_invalidate(&f->t, 0, UINT64_MAX), 1);
	assert_int_equal(f->t.n, 0);
}

static void bounded(void **state)
{
	struct fix *f = *state;

	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(
			vhu_iotlb_update(&f->t, &f->mem, 0x10000 + i * PAGE, PAGE, UVA, RW), 0);
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x80000, PAGE, UVA, RW), -ENOSPC);
	assert_int_equal(f->t.n, 4);
	/* replacing one is not growing */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA + PAGE, R), 0);
	assert_int_equal(f->t.n, 4);
	/* lookups: O(log n) binary search, each found */
	for (unsigned int i = 0; i < 4; i++)
		assert_non_null(vhu_iotlb_find(&f->t, 0x10000 + i * PAGE + 17));
	assert_null(vhu_iotlb_find(&f->t, 0x10000 + 4 * PAGE));
	assert_null(vhu_iotlb_find(&f->t, 0xffff));
}

static void cache_generation(void **state)
{
	struct fix *f = *state;
	struct vhu_iotlb_cache c;
	struct iovec iov[2];
	uint64_t fault;

	memset(&c, 0, sizeof(c));
	c.gen = UINT64_MAX;
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA, RW), 0);
	assert_int_equal(vhu_iotlb_iov(&f->t, &c, 0x10010, 16, R, iov, 2, &fault), 1);
	assert_int_equal(c.gen, f->t.gen);
	assert_int_equal(vhu_iotlb_iov(&f->t, &c, 0x10020, 16, R, iov, 2, &fault), 1); /* a hit */
	/* once invalidated, the cached copy is never used */
	assert_int_equal(vhu_iotlb_invalidate(&f->t, 0x10000, PAGE), 1);
	assert_int_equal(vhu_iotlb_iov(&f->t, &c, 0x10010, 16, R, iov, 2, &fault), -EAGAIN);
	/* remapped elsewhere: the new pointer */
	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA + 3 * PAGE, RW), 0);
	assert_int_equal(vhu_iotlb_iov(&f->t, &c, 0x10010, 16, R, iov, 2, &fault), 1);
	assert_ptr_equal(iov[0].iov_base, f->host + 3 * PAGE + 0x10);
}

static void remap_after_memory_change(void **state)
{
	struct fix *f = *state;
	struct vhu_mem_region r = { GPA, PAGES * PAGE, UVA, 0 };

	assert_int_equal(vhu_iotlb_update(&f->t, &f->mem, 0x10000, PAGE, UVA, RW), 0);
	vhu_iotlb_remap(&f->t, &f->mem);
	assert_int_equal(f->t.n, 1);
	/* the region goes: so does every entry into it */
	assert_int_equal(vhu_mem_remove(&f->mem, &r), 0);
	vhu_iotlb_remap(&f->t, &f->mem);
	assert_int_equal(f->t.n, 0);
	vhu_iotlb_clear(&f->t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(hostile_updates), T(translate_perm_merge), T(overlap_and_invalidate),
		T(bounded),	    T(cache_generation),     T(remap_after_memory_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
