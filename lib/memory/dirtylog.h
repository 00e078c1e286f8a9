/* SPDX-License-Identifier: MIT */
#ifndef VHU_MEMORY_DIRTYLOG_H
#define VHU_MEMORY_DIRTYLOG_H

/*
 * Concepts
 *
 * The dirty-page log of live migration (spec: "Migration", "Dirty page
 * logging"): a bitmap in memory the front-end shares (SET_LOG_BASE with
 * LOG_SHMFD), one bit per 4 KiB guest-physical page, bit (gpa / 4096) % 8 of
 * byte gpa / 4096 / 8. While VHOST_F_LOG_ALL is negotiated the device sets
 * the bit of every page it writes, after the write; the front-end reads and
 * clears the bitmap to know which pages to send again.
 *
 * The device side knows its writes as host pointers (the iovecs of a
 * request, the ring it keeps): vhu_dlog_mark_host() maps a pointer back to
 * guest-physical addresses through the memory table, region by region, so
 * logging is the same whatever translated the address in the first place
 * (gpa, or an IOVA through a device IOTLB).
 *
 * Concurrency: bits are set with atomic ORs (the front-end clears them
 * concurrently with atomic exchanges); a bit already set is not written
 * again, so a logging device does not bounce the log's cache lines. The
 * mapping itself (base, size) changes only while every queue is paused.
 *
 * Trust: the front-end sizes the log. A page past its end is never written:
 * the mark fails (-ERANGE) and the caller fails the queue.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory/memtable.h"

/* spec: "the log is a bitmap of 4 KiB pages" (VHOST_LOG_PAGE). */
#define VHU_LOG_PAGE 4096u

struct vhu_dirty_log {
	uint8_t *bitmap; /* NULL: no log mapped */
	uint64_t size;	 /* bytes of bitmap */
	void *map_base;	 /* what mmap returned (bitmap - offset) */
	size_t map_size;
	int call_fd; /* SET_LOG_FD eventfd: signalled when new bits are set; -1: none */
};

/* No log, no fd. */
void vhu_dlog_init(struct vhu_dirty_log *l);

/**
 * vhu_dlog_map() - map the log the front-end shared (SET_LOG_BASE).
 * @fd:     the log's fd; not consumed (the caller closes it)
 * @size:   bytes of bitmap (mmap_size)
 * @offset: where the bitmap starts in the fd (mmap_offset)
 * @why:    on failure, a message for the log (at least 128 bytes)
 *
 * The fd must be a file at least @offset + @size long that cannot shrink
 * under the mapping: a truncated shared mapping faults (SIGBUS) on the next
 * logged write. A memfd already sealed with F_SEAL_SHRINK (QEMU seals its
 * log) is taken as it is; otherwise the seal is added, and an fd that cannot
 * be sealed is refused. The old log, if any, is replaced only on success.
 *
 * Return: 0, -EINVAL (size 0, overflow, too short a file), -EPERM (cannot be
 * sealed), or the errno of fcntl/fstat/mmap.
 */
int vhu_dlog_map(struct vhu_dirty_log *l, int fd, uint64_t size, uint64_t offset, char *why,
		 size_t why_len);

/* Unmap the log (the call fd stays). */
void vhu_dlog_unmap(struct vhu_dirty_log *l);

/* Replace the call fd (owned from now on; -1: none). */
void vhu_dlog_set_call_fd(struct vhu_dirty_log *l, int fd);

/* Unmap and close everything (disconnect). */
void vhu_dlog_clear(struct vhu_dirty_log *l);

/**
 * vhu_dlog_mark_gpa() - mark the pages of [gpa, gpa + len) dirty.
 * @newly: incremented when a bit went from 0 to 1 (may be NULL)
 *
 * Return: 0 (also for len 0), -ERANGE when a page lies past the log's end
 * (nothing past it is written; pages before it may be marked), -EFAULT when
 * the range wraps.
 */
int vhu_dlog_mark_gpa(const struct vhu_dirty_log *l, uint64_t gpa, uint64_t len,
		      unsigned int *newly);

/**
 * vhu_dlog_mark_host() - the same for host memory inside the table's regions.
 *
 * Return: 0, -EFAULT when a byte is in no region, or -ERANGE as above.
 */
int vhu_dlog_mark_host(const struct vhu_dirty_log *l, struct vhu_mem *mem, const void *p,
		       uint64_t len, unsigned int *newly);

/* Tell the front-end new bits are set (SET_LOG_FD), if it gave an fd. */
void vhu_dlog_kick(const struct vhu_dirty_log *l);

#endif /* VHU_MEMORY_DIRTYLOG_H */
