/* SPDX-License-Identifier: MIT */
/*
 * The dirty-page log: mapping the front-end's bitmap and marking pages in
 * it. See dirtylog.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "memory/dirtylog.h"

void vhu_dlog_init(struct vhu_dirty_log *l)
{
	l->bitmap = NULL;
	l->size = 0;
	l->map_base = NULL;
	l->map_size = 0;
	l->call_fd = -1;
}

/* A shared mapping of a file that shrinks faults: make sure it cannot. */
static int seal_shrink(int fd, char *why, size_t why_len)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals >= 0 && (seals & F_SEAL_SHRINK))
		return 0;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
		return 0;
	snprintf(why, why_len,
		 "the log fd cannot be sealed against shrinking (%s): a truncation would "
		 "fault the back-end; share it as a memfd with sealing allowed",
		 strerror(errno));
	return -EPERM;
}

int vhu_dlog_map(struct vhu_dirty_log *l, int fd, uint64_t size, uint64_t offset, char *why,
		 size_t why_len)
{
	struct stat st;
	uint64_t end;
	void *p;
	int ret;

	if (size == 0 || __builtin_add_overflow(size, offset, &end) || end > (uint64_t)INT64_MAX ||
	    end > SIZE_MAX) {
		snprintf(why, why_len, "log of %" PRIu64 " bytes at offset %" PRIu64 " is invalid",
			 size, offset);
		return -EINVAL;
	}
	/* seal first, then size it: a truncation in between is caught by fstat */
	ret = seal_shrink(fd, why, why_len);
	if (ret < 0)
		return ret;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "fstat of the log fd: %s", strerror(errno));
		return ret;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < end) {
		snprintf(why, why_len,
			 "log of %" PRIu64 " bytes at offset %" PRIu64
			 " does not fit its fd (%s of %jd bytes)",
			 size, offset, S_ISREG(st.st_mode) ? "a file" : "not a regular file",
			 (intmax_t)st.st_size);
		return -EINVAL;
	}
	/* map from 0: mmap wants a page-aligned offset, the front-end's need not be */
	p = mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		snprintf(why, why_len, "mmap of the log (%" PRIu64 " bytes): %s", end,
			 strerror(errno));
		return ret;
	}
	vhu_dlog_unmap(l);
	l->map_base = p;
	l->map_size = (size_t)end;
	l->bitmap = (uint8_t *)p + offset;
	l->size = size;
	return 0;
}

void vhu_dlog_unmap(struct vhu_dirty_log *l)
{
	if (l->map_base)
		munmap(l->map_base, l->map_size);
	l->map_base = NULL;
	l->map_size = 0;
	l->bitmap = NULL;
	l->size = 0;
}

void vhu_dlog_set_call_fd(struct vhu_dirty_log *l, int fd)
{
	if (l->call_fd >= 0)
		close(l->call_fd);
	l->call_fd = fd;
}

void vhu_dlog_clear(struct vhu_dirty_log *l)
{
	vhu_dlog_unmap(l);
	vhu_dlog_set_call_fd(l, -1);
}

int vhu_dlog_mark_gpa(const struct vhu_dirty_log *l, uint64_t gpa, uint64_t len,
		      unsigned int *newly)
{
	uint64_t first, last;

	if (len == 0)
		return 0;
	if (gpa + (len - 1) < gpa)
		return -EFAULT;
	first = gpa / VHU_LOG_PAGE;
	last = (gpa + (len - 1)) / VHU_LOG_PAGE;
	if (!l->bitmap || last / 8 >= l->size)
		return -ERANGE;
	for (uint64_t page = first; page <= last; page++) {
		uint8_t *byte = &l->bitmap[page / 8], bit = (uint8_t)(1u << (page % 8));

		/* a set bit is left alone: its line stays shared with the front-end */
		if (__atomic_load_n(byte, __ATOMIC_RELAXED) & bit)
			continue;
		if (!(__atomic_fetch_or(byte, bit, __ATOMIC_RELAXED) & bit) && newly)
			(*newly)++;
	}
	return 0;
}

int vhu_dlog_mark_host(const struct vhu_dirty_log *l, struct vhu_mem *mem, const void *p,
		       uint64_t len, unsigned int *newly)
{
	const uint8_t *b = p;

	while (len) {
		uint64_t gpa, room, n;
		int ret = vhu_mem_host_to_gpa(mem, b, &gpa, &room);

		if (ret < 0)
			return ret;
		n = len < room ? len : room;
		ret = vhu_dlog_mark_gpa(l, gpa, n, newly);
		if (ret < 0)
			return ret;
		b += n;
		len -= n;
	}
	return 0;
}

void vhu_dlog_kick(const struct vhu_dirty_log *l)
{
	if (l->call_fd >= 0)
		(void)eventfd_write(l->call_fd, 1);
}
