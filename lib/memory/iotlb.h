/* SPDX-License-Identifier: MIT */
#ifndef VHU_MEMORY_IOTLB_H
#define VHU_MEMORY_IOTLB_H

/*
 * Concepts
 *
 * The device IOTLB (spec: "IOMMU support"). With VIRTIO_F_ACCESS_PLATFORM
 * negotiated every address the device is given (descriptor buffers,
 * indirect tables, and the ring addresses of SET_VRING_ADDR) is an IOVA. The
 * front-end plays the IOMMU: IOTLB_MSG UPDATE maps [iova, iova + size) to
 * the front-end virtual range [uva, uva + size) with a permission (read,
 * write or both), INVALIDATE forgets a range. A fourth address space joins
 * the three of memtable.h:
 *   iova - I/O virtual: what the driver put in the ring under an IOMMU.
 *
 * Entries never overlap: an UPDATE that overlaps others replaces them
 * (newest wins, as a remap in the IOMMU would), and an INVALIDATE drops
 * every entry it touches, whole (a partly invalidated entry is never used
 * again). They are kept sorted by iova and found by binary search; each
 * entry's host pointer is resolved through the memory table when it is
 * added and again whenever the table changes (vhu_iotlb_remap), so a lookup
 * never walks the regions. An entry must lie in one memory region, as QEMU
 * makes them. The table holds at most max entries (VHU_IOTLB_MAX_ENTRIES by
 * default): an UPDATE past that fails with -ENOSPC and a logged reason.
 *
 * Each queue keeps a small cache of the entries it used last
 * (struct vhu_iotlb_cache). The table and the caches change only while the
 * queues that read them are paused (the back-end pauses them around every
 * IOTLB_MSG that changes the table), so lookups take no lock; gen counts the
 * changes, and a cache filled under an older gen is empty.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "memory/memtable.h"

/* Default bound on the entries of one device's IOTLB. */
#define VHU_IOTLB_MAX_ENTRIES 16384u
/* Slots in a queue's cache: direct-mapped by the IOVA's 4 KiB page number. */
#define VHU_IOTLB_CACHE_SIZE 32u

/* Pages with a MISS sent and not answered yet (vhu_iotlb_miss_begin). */
#define VHU_IOTLB_PENDING 64u
#define VHU_IOTLB_PAGE 4096u

/* Permissions, as in struct vhost_iotlb_msg (VHOST_ACCESS_*). */
#define VHU_IOTLB_READ 0x1u
#define VHU_IOTLB_WRITE 0x2u

struct vhu_iotlb_entry {
	uint64_t iova;
	uint64_t size; /* > 0; iova + size - 1 and uva + size - 1 never wrap */
	uint64_t uva;
	uint8_t *host; /* our pointer to iova */
	uint8_t perm;  /* VHU_IOTLB_READ | VHU_IOTLB_WRITE */
};

struct vhu_iotlb_cache {
	struct vhu_iotlb_entry e[VHU_IOTLB_CACHE_SIZE]; /* size 0: empty slot */
	uint64_t gen; /* of the table when filled; != table gen: empty */
};

/*
 * How a queue tells the front-end of a miss or a refused access
 * (BACKEND_IOTLB_MSG MISS / ACCESS_FAIL): @type is VHOST_IOTLB_MISS or
 * VHOST_IOTLB_ACCESS_FAIL. Called on the thread that fetches; must not wait
 * for the front-end. Return: 0, or < 0 when it could not be sent now (the
 * queue sends a MISS again a little later).
 */
typedef int (*vhu_iotlb_report_fn)(void *arg, uint8_t type, uint64_t iova, uint8_t perm);

struct vhu_iotlb {
	vhu_iotlb_report_fn report; /* NULL: nobody to tell */
	void *report_arg;
	struct vhu_iotlb_entry *e; /* sorted by iova, disjoint */
	unsigned int n, cap;
	unsigned int max;   /* bound on n */
	uint64_t gen;	    /* changes with every update, invalidate, remap, clear */
	uint64_t inval_gen; /* changes whenever an entry goes (invalidate, replace, remap, clear) */
	/*
	 * Misses asked and not answered, one per page, shared by the queues:
	 * any thread that fetches adds (under pend_lock); an UPDATE or an
	 * INVALIDATE of the page removes it. A second MISS for a page already
	 * asked would be answered after the first answer was used and the
	 * mapping gone again, and QEMU reports that to the guest as a DMA fault.
	 */
	pthread_mutex_t pend_lock;
	uint64_t pend[VHU_IOTLB_PENDING];
	unsigned int npend;
};

/* An empty table of at most @max entries (0: VHU_IOTLB_MAX_ENTRIES). */
void vhu_iotlb_init(struct vhu_iotlb *t, unsigned int max);
/* Free the table (it is empty afterwards and may be used again). */
void vhu_iotlb_fini(struct vhu_iotlb *t);
/* Forget every entry. */
void vhu_iotlb_clear(struct vhu_iotlb *t);

/**
 * vhu_iotlb_update() - map [iova, iova + size) to [uva, uva + size).
 * @perm: VHU_IOTLB_READ and/or VHU_IOTLB_WRITE, nothing else
 *
 * Entries the range overlaps are replaced.
 *
 * Return: 0; -EINVAL (size 0, a wrapping range, a permission of 0 or with
 * unknown bits); -EFAULT (the uva range is not wholly in one memory region);
 * -ENOSPC (the table is full: nothing changed); -ENOMEM.
 */
int vhu_iotlb_update(struct vhu_iotlb *t, struct vhu_mem *mem, uint64_t iova, uint64_t size,
		     uint64_t uva, uint8_t perm);

/**
 * vhu_iotlb_invalidate() - drop every entry that [iova, iova + size) touches.
 *
 * A size of 0 or a range that wraps means "to the end of the space": QEMU
 * invalidates the whole space as iova 0, size addr_mask + 1, which wraps to 0.
 *
 * Return: the number of entries dropped (>= 0).
 */
int vhu_iotlb_invalidate(struct vhu_iotlb *t, uint64_t iova, uint64_t size);

/* Whether vhu_iotlb_invalidate(@iova, @size) would drop anything. O(log n). */
bool vhu_iotlb_touches(const struct vhu_iotlb *t, uint64_t iova, uint64_t size);

/**
 * vhu_iotlb_miss_begin() - whether to send a MISS for @iova now.
 *
 * Return: true, and the page is pending, unless a MISS for its page is
 * pending already (false: its answer will do). With no room left the MISS
 * is sent anyway.
 */
bool vhu_iotlb_miss_begin(struct vhu_iotlb *t, uint64_t iova);
/* The MISS for @iova could not be sent: its page is not pending after all. */
void vhu_iotlb_miss_cancel(struct vhu_iotlb *t, uint64_t iova);

/* The memory table changed: resolve every entry again, drop those that no longer resolve. */
void vhu_iotlb_remap(struct vhu_iotlb *t, struct vhu_mem *mem);

/* The entry that holds @iova, NULL if none. O(log n). */
const struct vhu_iotlb_entry *vhu_iotlb_find(const struct vhu_iotlb *t, uint64_t iova);

/**
 * vhu_iotlb_iov() - [iova, iova + size) as host iovecs, with @perm checked.
 * @cache:   the caller's cache (may be NULL)
 * @perm:    what the access needs (VHU_IOTLB_READ and/or VHU_IOTLB_WRITE)
 * @fault:   on -EAGAIN or -EACCES, the first iova that missed or lacked @perm
 *
 * Pieces in different entries that are contiguous in host memory are
 * merged. A zero-length range yields no iovec.
 *
 * Return: the number of iovecs (>= 0); -EAGAIN (a byte has no entry: a
 * miss); -EACCES (an entry lacks @perm); -EFAULT (the range wraps);
 * -ENOBUFS (more than @max_iov pieces).
 */
int vhu_iotlb_iov(const struct vhu_iotlb *t, struct vhu_iotlb_cache *cache, uint64_t iova,
		  uint64_t size, uint8_t perm, struct iovec *iov, unsigned int max_iov,
		  uint64_t *fault);

#endif /* VHU_MEMORY_IOTLB_H */
