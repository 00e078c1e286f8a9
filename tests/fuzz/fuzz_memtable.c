/* SPDX-License-Identifier: MIT */
/*
 * fuzz_memtable: any sequence of ADD_MEM_REG, REM_MEM_REG, SET_MEM_TABLE and
 * translations keeps the table consistent, translates exactly as a
 * brute-force reference over the table does, never hands out a pointer to
 * unmapped memory, and never leaks an fd or a mapping.
 *
 * Input: byte 0 sets max_regions (low 4 bits; 0 means VHU_MAX_MEM_SLOTS).
 * Then operations, each an opcode byte (low 3 bits) and its operands; the
 * input ends where the bytes do (missing bytes read as 0):
 *   0 add        fd, region
 *   1 remove     sel; if sel bit 7 and a region exists: region
 *                ((sel & 127) % n)'s gpa and size, else num gpa, num size
 *   2 set_table  ctl, ctl2 (bit 7: hdr.size is num instead of 8 + n * 32),
 *                then min(n, 8) x (fd, region); n = (ctl & 15) % 10, nfds = n
 *                unless ctl bit 4, then (ctl >> 5) + (ctl2 & 3)
 *   3 gpa_ptr    pick gpa, num size
 *   4 gpa_iov    pick gpa, num size, u8 max_iov (% (MAX_IOV + 1))
 *   5 uva        pick uva, num size: uva_ptr and uva_to_gpa
 *   6 clear
 *   7 hint       u16 stored as last_hit (any value is only a guess)
 * where fd = u8: a memfd of (b & 31) % 17 pages, one byte short if bit 7;
 * region = num gpa, num size, num uva, num mmap_offset; num = mode byte,
 * then by mode & 3: u16 * 256, u16, u64, or UINT64_MAX - u16; pick = sel
 * byte: if bit 7 and a region exists, region ((sel & 127) % n) + s16 * 16, else
 * num. Numbers are little-endian.
 *
 * Every pointer and iovec handed out gets one byte written at each end:
 * ASan does not track mmap()ed memory, so a bad pointer would fault here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "memory/memtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u
#define MAX_FD_PAGES 16u
#define MAX_IOV 9u
#define MEMFD_NAME "vhu-fuzzmem"
#define TABLE_HDR_SIZE offsetof(struct vhu_mem_table, regions)

/* -DFUZZ_TRACE prints each operation and its result: for writing seeds. */
#ifdef FUZZ_TRACE
#define trace(...) fprintf(stderr, __VA_ARGS__)
#else
#define trace(...) ((void)0)
#endif

struct input {
	const uint8_t *data;
	size_t size;
};

/* Static: each is ~30 KB, and the fuzzer calls us millions of times. */
static struct vhu_mem mem;
static struct vhu_region snapshot[VHU_MAX_MEM_SLOTS];

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
	unsigned int mode = (unsigned int)take(in, 1) & 3;

	switch (mode) {
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

/* An address near an existing region (bit 7 of sel), or any number. */
static uint64_t pick(struct input *in, bool uva)
{
	unsigned int sel = (unsigned int)take(in, 1);
	const struct vhu_region *r;

	if (!(sel & 0x80) || mem.nregions == 0)
		return num(in);
	r = &mem.regions[(sel & 0x7f) % mem.nregions];
	return (uva ? r->uva : r->gpa) + (uint64_t)((int64_t)(int16_t)take(in, 2) * 16);
}

static bool fd_is_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int make_fd(struct input *in)
{
	unsigned int b = (unsigned int)take(in, 1);
	uint64_t size = ((b & 31) % (MAX_FD_PAGES + 1)) * (uint64_t)PAGE;
	int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if ((b & 0x80) && size > 0)
		size--;
	if (ftruncate(fd, (off_t)size) < 0)
		abort();
	return fd;
}

static struct vhu_mem_region region(struct input *in)
{
	struct vhu_mem_region d;

	d.guest_phys_addr = num(in);
	d.memory_size = num(in);
	d.userspace_addr = num(in);
	d.mmap_offset = num(in);
	return d;
}

static void touch(uint8_t *p, uint64_t size)
{
	*(volatile uint8_t *)p = 0xa5;
	if (size > 1)
		*(volatile uint8_t *)(p + size - 1) = 0x5a;
}

/* Sorted, disjoint, within the limit, every host range inside its mapping. */
static void check_table(void)
{
	if (mem.nregions > mem.max_regions || mem.max_regions > VHU_MAX_MEM_SLOTS)
		abort();
	for (unsigned int i = 0; i < mem.nregions; i++) {
		const struct vhu_region *r = &mem.regions[i];
		const uint8_t *base = r->map_base;

		if (r->size == 0 || vhu_range_overflows(r->gpa, r->size) ||
		    vhu_range_overflows(r->uva, r->size))
			abort();
		if (r->host < base || r->size > r->map_size ||
		    (size_t)(r->host - base) > r->map_size - r->size)
			abort();
		if (i > 0 && mem.regions[i - 1].gpa + mem.regions[i - 1].size > r->gpa)
			abort();
	}
}

/* The reference: the region holding [addr, addr + max(size, 1)), by linear scan. */
static const struct vhu_region *ref_find(uint64_t addr, uint64_t size, bool uva)
{
	for (unsigned int i = 0; i < mem.nregions; i++) {
		const struct vhu_region *r = &mem.regions[i];
		uint64_t start = uva ? r->uva : r->gpa;

		if (addr >= start && addr - start < r->size && size <= r->size - (addr - start))
			return r;
	}
	return NULL;
}

static void op_add(struct input *in)
{
	int fd = make_fd(in);
	struct vhu_mem_region d = region(in);
	unsigned int before = mem.nregions;
	int ret = vhu_mem_add(&mem, &d, fd);

	trace("add gpa %#llx size %#llx uva %#llx offset %#llx -> %d\n",
	      (unsigned long long)d.guest_phys_addr, (unsigned long long)d.memory_size,
	      (unsigned long long)d.userspace_addr, (unsigned long long)d.mmap_offset, ret);
	if (!fd_is_closed(fd))
		abort();
	if (ret == 0 ? mem.nregions != before + 1 : mem.nregions != before)
		abort();
	if (ret == 0 && !vhu_mem_gpa_ptr(&mem, d.guest_phys_addr, d.memory_size))
		abort();
}

static void op_remove(struct input *in)
{
	unsigned int sel = (unsigned int)take(in, 1);
	unsigned int before = mem.nregions;
	struct vhu_mem_region d = { 0 };
	bool exists = false;
	int ret;

	if ((sel & 0x80) && mem.nregions > 0) {
		d.guest_phys_addr = mem.regions[(sel & 0x7f) % mem.nregions].gpa;
		d.memory_size = mem.regions[(sel & 0x7f) % mem.nregions].size;
	} else {
		d.guest_phys_addr = num(in);
		d.memory_size = num(in);
	}
	for (unsigned int i = 0; i < mem.nregions; i++)
		exists |= mem.regions[i].gpa == d.guest_phys_addr &&
			  mem.regions[i].size == d.memory_size;
	ret = vhu_mem_remove(&mem, &d);
	trace("remove gpa %#llx size %#llx -> %d\n", (unsigned long long)d.guest_phys_addr,
	      (unsigned long long)d.memory_size, ret);
	if (ret != (exists ? 0 : -ENOENT) || mem.nregions != before - (exists ? 1 : 0))
		abort();
}

static void op_set_table(struct input *in)
{
	unsigned int ctl = (unsigned int)take(in, 1), ctl2 = (unsigned int)take(in, 1);
	unsigned int n = (ctl & 15) % 10, nfds = n, before = mem.nregions;
	int fds[VHU_MEM_TABLE_MAX_REGIONS + 4], saved[VHU_MEM_TABLE_MAX_REGIONS + 4];
	struct vhu_mem_table t;
	uint32_t size = (uint32_t)(TABLE_HDR_SIZE + n * sizeof(t.regions[0]));
	int ret;

	if (ctl & 0x10)
		nfds = (ctl >> 5) + (ctl2 & 3);
	if (ctl2 & 0x80)
		size = (uint32_t)num(in);
	memset(&t, 0, sizeof(t));
	t.nregions = n;
	for (unsigned int i = 0; i < VHU_MEM_TABLE_MAX_REGIONS + 4; i++)
		fds[i] = -1;
	for (unsigned int i = 0; i < VHU_MIN(n, VHU_MEM_TABLE_MAX_REGIONS); i++) {
		fds[i] = make_fd(in);
		t.regions[i] = region(in);
	}
	for (unsigned int i = 0; i < nfds; i++) {
		if (fds[i] < 0)
			fds[i] = make_fd(in);
		saved[i] = fds[i];
	}
	memcpy(snapshot, mem.regions, before * sizeof(snapshot[0]));

	ret = vhu_mem_set_table(&mem, &t, size, fds, nfds);
	trace("set_table n %u nfds %u size %u -> %d (%u regions)\n", n, nfds, size, ret,
	      mem.nregions);
	for (unsigned int i = 0; i < VHU_MEM_TABLE_MAX_REGIONS + 4; i++) {
		if (i < nfds && (fds[i] != -1 || !fd_is_closed(saved[i])))
			abort();
		if (i >= nfds && fds[i] >= 0) {
			/* made for a region but not passed: still ours */
			if (fd_is_closed(fds[i]))
				abort();
			close(fds[i]);
		}
	}
	if (ret == 0 && mem.nregions != n)
		abort();
	if (ret != 0 &&
	    (mem.nregions != before || memcmp(snapshot, mem.regions, before * sizeof(snapshot[0]))))
		abort();
}

static void op_gpa_ptr(struct input *in)
{
	uint64_t gpa = pick(in, false), size = num(in);
	const struct vhu_region *r = ref_find(gpa, size, false);
	uint8_t *p = vhu_mem_gpa_ptr(&mem, gpa, size);

	trace("gpa_ptr %#llx size %#llx -> %p\n", (unsigned long long)gpa, (unsigned long long)size,
	      (void *)p);
	if (p != (r ? r->host + (gpa - r->gpa) : NULL))
		abort();
	if (p)
		touch(p, size);
}

/* What vhu_mem_gpa_iov() must return, by walking the reference. */
static int ref_iov(uint64_t gpa, uint64_t size, unsigned int max_iov, struct iovec *want)
{
	unsigned int n = 0;

	if (vhu_range_overflows(gpa, size))
		return -EFAULT;
	while (size > 0) {
		const struct vhu_region *r = ref_find(gpa, 0, false);
		uint64_t len;

		if (!r)
			return -EFAULT;
		if (n == max_iov)
			return -ENOBUFS;
		len = VHU_MIN(size, r->size - (gpa - r->gpa));
		want[n].iov_base = r->host + (gpa - r->gpa);
		want[n++].iov_len = (size_t)len;
		gpa += len;
		size -= len;
	}
	return (int)n;
}

static void op_gpa_iov(struct input *in)
{
	uint64_t gpa = pick(in, false), size = num(in);
	unsigned int max_iov = (unsigned int)take(in, 1) % (MAX_IOV + 1);
	struct iovec iov[MAX_IOV], want[MAX_IOV];
	int ret = vhu_mem_gpa_iov(&mem, gpa, size, iov, max_iov);

	trace("gpa_iov %#llx size %#llx max %u -> %d\n", (unsigned long long)gpa,
	      (unsigned long long)size, max_iov, ret);
	if (ret != ref_iov(gpa, size, max_iov, want))
		abort();
	for (int i = 0; i < ret; i++) {
		if (iov[i].iov_base != want[i].iov_base || iov[i].iov_len != want[i].iov_len ||
		    iov[i].iov_len == 0)
			abort();
		touch(iov[i].iov_base, iov[i].iov_len);
	}
	if (ret == 1 && vhu_mem_gpa_ptr(&mem, gpa, size) != iov[0].iov_base)
		abort();
}

static void op_uva(struct input *in)
{
	uint64_t uva = pick(in, true), size = num(in), gpa = 0;
	const struct vhu_region *r = ref_find(uva, size, true);
	uint8_t *p = vhu_mem_uva_ptr(&mem, uva, size);
	int ret;

	if (p != (r ? r->host + (uva - r->uva) : NULL))
		abort();
	if (p)
		touch(p, size);
	ret = vhu_mem_uva_to_gpa(&mem, uva, &gpa);
	trace("uva %#llx size %#llx -> %p; to_gpa %d %#llx\n", (unsigned long long)uva,
	      (unsigned long long)size, (void *)p, ret, (unsigned long long)gpa);
	r = ref_find(uva, 1, true);
	if (ret != (r ? 0 : -EFAULT))
		abort();
	/* the same byte by both names (gpa lookups find the only region holding it) */
	if (r && vhu_mem_gpa_ptr(&mem, gpa, 1) != vhu_mem_uva_ptr(&mem, uva, 1))
		abort();
}

/* Mappings of our memfds still present (none once the table is cleared). */
static unsigned int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned int n = 0;
	char line[512];

	if (!f)
		abort();
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:" MEMFD_NAME))
			n++;
	fclose(f);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long runs;
	struct input in = { data, size };

	vhu_mem_init(&mem, (unsigned int)take(&in, 1) & 15);
	while (in.size > 0) {
		switch (take(&in, 1) & 7) {
		case 0:
			op_add(&in);
			break;
		case 1:
			op_remove(&in);
			break;
		case 2:
			op_set_table(&in);
			break;
		case 3:
			op_gpa_ptr(&in);
			break;
		case 4:
			op_gpa_iov(&in);
			break;
		case 5:
			op_uva(&in);
			break;
		case 6:
			vhu_mem_clear(&mem);
			break;
		default:
			mem.last_hit = (unsigned int)take(&in, 2);
			break;
		}
		check_table();
	}
	vhu_mem_clear(&mem);
	/* reading maps costs more than an input: every input at first, then 1 in 64 */
	if ((runs++ < 4096 || runs % 64 == 0) && count_maps() != 0)
		abort();
	return 0;
}
