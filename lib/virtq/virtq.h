/* SPDX-License-Identifier: MIT */
#ifndef VHU_VIRTQ_VIRTQ_H
#define VHU_VIRTQ_VIRTQ_H

/*
 * Concepts
 *
 * The device side of a virtqueue, split or packed, behind one interface
 * (include/vhu/virtq.h). The layouts are the kernel's (linux/virtio_ring.h:
 * struct vring_desc/avail/used, struct vring_packed_desc and its event
 * structs, vring_need_event()); the front-end's driver-side rings use the same
 * definitions.
 *
 * Life of a queue (driven by the back-end's control thread while the queue's
 * worker is paused):
 *   vhu_vq_init() once; then SET_VRING_NUM -> vq->num, SET_VRING_BASE ->
 *   vhu_vq_set_base(), SET_VRING_ADDR -> vhu_vq_set_addr() (translates the
 *   front-end addresses through the memory table; redone by
 *   vhu_vq_remap() whenever the table changes), kick/call/err fds;
 *   vhu_vq_start() when the ring may run; vhu_vq_stop() (GET_VRING_BASE)
 *   returns the state to hand back.
 *
 * Trust: the driver owns the ring memory and may change it at any time.
 * Every value read from it is read once (READ_ONCE-style copy) and checked
 * before use; indices are reduced modulo num only after they are checked
 * against the avail index (split) or the wrap counter (packed).
 *
 * Barriers: each one says what it pairs with in the driver (virtio spec
 * 2.7.13 / 2.8.21 "Driver/Device notification suppression").
 */

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "common/util.h"
#include "memory/dirtylog.h"
#include "memory/iotlb.h"
#include "memory/memtable.h"
#include <vhu/log.h>
#include <vhu/virtq.h>

struct vhu_vq {
	/* set on the control thread while paused */
	unsigned int index;
	uint16_t num;	/* ring size; split: power of two */
	bool packed;	/* VIRTIO_F_RING_PACKED negotiated */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool in_order;	/* VIRTIO_F_IN_ORDER negotiated */
	bool started;
	bool broken;
	bool notify_off; /* the device polls: vhu_vq_enable_notify(false) */
	/* the worker polls (vhu_vq_poll_quiet): the ring asks for no kicks,
	 * whatever notify_off (the device's wish, applied when it ends) says */
	bool poll_quiet;
	struct vhu_mem *mem;
	const struct vhu_log *log;
	/* dirty logging: the log while VHOST_F_LOG_ALL is on and one is mapped,
	 * else NULL; log_used: VHOST_VRING_F_LOG, log the ring's own writes */
	const struct vhu_dirty_log *dlog;
	bool log_used;
	uint64_t desc_uva, avail_uva, used_uva; /* as SET_VRING_ADDR gave them */
	bool addr_set;

	/* split layout (host pointers into guest memory) */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	/* packed layout */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event; /* the "avail" address */
	struct vring_packed_desc_event *device_event; /* the "used" address */

	/* device-side indices */
	uint16_t last_avail_idx; /* split: next avail entry; packed: next slot */
	uint16_t avail_ahead;	 /* split: entries past it seen at the last avail->idx read */
	bool last_indirect;	 /* split: the last chain popped was an indirect table */
	bool avail_wrap;	 /* packed: wrap counter of last_avail_idx */
	uint16_t used_idx;	 /* split: our used->idx; packed: next used slot */
	bool used_wrap;		 /* packed */
	/* used position at the last notify; packed: slot + (wrap ? 0 : num) */
	uint16_t signalled_used;
	bool signalled_used_valid;

	/* inflight tracking (inflight.c); set while stopped, NULL: none */
	void *inflight;		   /* this queue's area of the shared region */
	uint16_t inflight_cap;	   /* entries the area holds */
	bool inflight_on;	   /* tracking this run (set by vhu_inflight_start) */
	uint32_t inflight_in_use;  /* packed: area entries held by fetched chains */
	uint16_t inflight_head;	   /* packed: the area entry of the chain being fetched */
	uint16_t *inflight_entry;  /* packed: area entry of each buffer id, or NO_ENTRY */
	uint64_t inflight_counter; /* fetch order of the next head */
	uint16_t *resubmit;	   /* heads (split) / head entries (packed) to hand out again */
	uint32_t resubmit_n, resubmit_i;
	uint8_t crash_at; /* tests: a push stops after this step (inflight.h) */

	/*
	 * Device IOTLB (VIRTIO_F_ACCESS_PLATFORM negotiated: iommu). Ring and
	 * buffer addresses are IOVAs, translated through *iotlb (the back-end's,
	 * kept across resets) with a cache of this queue's. See "IOTLB" below.
	 */
	bool iommu;
	struct vhu_iotlb *iotlb;
	struct vhu_iotlb_cache tlb_cache;
	bool ring_ok;	    /* desc/avail/used (or packed) pointers are set */
	bool start_pending; /* started while the ring missed: start steps not done */
	uint64_t ring_gen;  /* iotlb gen the ring was translated under */
	bool tlb_miss;	    /* the last fetch missed; waits for the table to change */
	uint8_t tlb_miss_perm;
	uint64_t tlb_miss_iova;
	uint64_t tlb_miss_gen; /* iotlb gen at the miss */
	bool tlb_resend;       /* the MISS could not be sent: again, a little later */

	int kick_fd; /* -1: none (polling) */
	int call_fd; /* -1: none */
	int err_fd;  /* -1: none */
	/*
	 * In-band notifications (spec: "In-band notifications"): NULL, or how
	 * a call (@err false) or an error (@err true) is signalled when the
	 * ring has no call_fd / err_fd: the back-end sends BACKEND_VRING_CALL
	 * or BACKEND_VRING_ERR on its channel. Set by the control thread while
	 * the queue is not running.
	 */
	void (*inband)(struct vhu_vq *vq, bool err);
	void *priv;
};

/* A fresh stopped queue with no fds. */
void vhu_vq_init(struct vhu_vq *vq, unsigned int index, struct vhu_mem *mem,
		 const struct vhu_log *log);

/**
 * vhu_vq_set_features() - layout and suppression options from the features.
 *
 * Changing the layout with addresses set re-checks them (vhu_vq_remap()).
 *
 * Return: 0.
 */
int vhu_vq_set_features(struct vhu_vq *vq, uint64_t features);

/**
 * vhu_vq_set_num() - the ring size (SET_VRING_NUM).
 *
 * Set the features first: the layout decides the rule. On a running ring
 * the areas are checked again for the new size; a stopped ring is checked
 * when it starts, so addresses left from before a reset never break it.
 *
 * Return: 0, -EINVAL: 0, over VHU_VQ_MAX_SIZE, or (split) not a power of
 * two; or, running, -EFAULT when the addresses no longer hold the ring (the
 * queue breaks, see vhu_vq_remap()). Packed rings accept any size from 1 to
 * 32768.
 */
int vhu_vq_set_num(struct vhu_vq *vq, uint32_t num);

/**
 * vhu_vq_set_addr() - ring addresses (SET_VRING_ADDR), front-end virtual.
 *
 * Checks alignment (split: desc 16, avail 2, used 4; packed: desc 16, events 4)
 * and that each whole area (sized from vq->num, including the event-idx
 * fields) is mapped.
 *
 * Return: 0, -EINVAL (alignment, num not set) or -EFAULT (not mapped).
 */
int vhu_vq_set_addr(struct vhu_vq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva);

/*
 * Re-translate the ring addresses after a memory table change (also done by
 * set_num and set_features when the areas change). -EFAULT breaks the queue
 * and forgets the addresses; 0 when no addresses are set.
 */
int vhu_vq_remap(struct vhu_vq *vq);

/**
 * vhu_vq_set_base() - where the device resumes (SET_VRING_BASE).
 * @base: split: the next avail index; packed: bits 0-14 the next avail slot,
 *        bit 15 its wrap counter, and bits 16-30/31 the same for used
 *        (QEMU sends both halves). Split: @base must fit 16 bits; the used
 *        index is read from the used ring by vhu_vq_start(), as libvhost-user
 *        does.
 *
 * Return: 0 or -EINVAL (split: over 16 bits; packed: a slot >= num).
 */
int vhu_vq_set_base(struct vhu_vq *vq, uint32_t base);

/* The state GET_VRING_BASE returns, in the same encoding as set_base. */
uint32_t vhu_vq_get_base(const struct vhu_vq *vq);

/*
 * Start / stop processing. Start needs num and addresses and maps the ring
 * areas again (the table, size or layout may have changed while stopped).
 * Return 0, -EINVAL, or -EFAULT (unmapped: the queue breaks).
 */
int vhu_vq_start(struct vhu_vq *vq);
void vhu_vq_stop(struct vhu_vq *vq);

/*
 * IOTLB
 *
 * With iommu set, translations go through the IOTLB. A fetch (pop) that
 * meets an IOVA with no entry - in the ring areas, an indirect table or a
 * buffer - is a miss: the chain is left in the ring untouched, the miss is
 * reported (iotlb->report, BACKEND_IOTLB_MSG MISS), tlb_miss is set and pop
 * returns 0 as for an empty ring. Nothing is fetched again until the table
 * changes (tlb_miss_gen); the back-end's worker parks on it (worker.c) and
 * fetches the same chain again once an UPDATE came. A buffer whose entry
 * lacks the access the descriptor needs is reported (ACCESS_FAIL) and the
 * request is handed out with req->fault set and that buffer left out.
 *
 * Requests already fetched keep the translations they were fetched with,
 * and so does the ring for their completions: an INVALIDATE takes effect
 * for every fetch after it (the ring areas are translated again before the
 * next fetch whenever the table changed).
 */

/* Set the IOTLB a queue uses when iommu is negotiated (kept across vhu_vq_reset). */
void vhu_vq_set_iotlb(struct vhu_vq *vq, struct vhu_iotlb *iotlb);

/* The last fetch missed and the IOTLB has not changed since: the queue waits for an UPDATE. */
bool vhu_vq_tlb_waiting(const struct vhu_vq *vq);

/*
 * vhu_vq_poll_quiet() - the queue's worker starts (@quiet) or stops polling
 * the ring. While quiet the ring asks the driver for no kicks (split:
 * VRING_USED_F_NO_NOTIFY, or with event idx avail_event left where it was,
 * so at most one more kick comes; packed: DISABLE), whatever the device asks with
 * vhu_vq_enable_notify(), which then only records its wish and says whether buffers wait. Leaving
 * quiet applies the wish: kicks wanted are turned on in the ring, then the ring is looked at again
 * after a full barrier. Return: leaving quiet, whether buffers wait (the worker must not sleep);
 * entering, false.
 */
bool vhu_vq_poll_quiet(struct vhu_vq *vq, bool quiet);

/*
 * Dirty logging (memory/dirtylog.h), set while the queue is paused: @dlog
 * non-NULL logs every write the device makes through this queue, @log_used
 * its writes into the ring itself (VHOST_VRING_F_LOG). A failure to log
 * breaks the queue.
 */
void vhu_vq_set_dirty_log(struct vhu_vq *vq, const struct vhu_dirty_log *dlog, bool log_used);

/* Replace an fd (kick/call/err); the old one is closed; the new one is owned. */
void vhu_vq_set_fd(int *slot, int fd);

/* Close every fd and forget the ring; used on reset and disconnect. */
void vhu_vq_reset(struct vhu_vq *vq);

/* Break the queue: log @fmt once, signal err_fd, refuse further work. Returns -EIO. */
int vhu_vq_break(struct vhu_vq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Layout-specific halves (split.c, packed.c), called through virtq.c. */
int vhu_split_pop(struct vhu_vq *vq, struct vhu_req *req);
int vhu_split_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len);
int vhu_split_unpop(struct vhu_vq *vq, const struct vhu_req *req);
int vhu_packed_unpop(struct vhu_vq *vq, const struct vhu_req *req);
int vhu_split_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			 unsigned int n);
bool vhu_split_need_notify(struct vhu_vq *vq);
bool vhu_split_enable_notify(struct vhu_vq *vq, bool enable);
bool vhu_split_poll_quiet(struct vhu_vq *vq, bool quiet);
bool vhu_split_has_avail(struct vhu_vq *vq);
int vhu_packed_pop(struct vhu_vq *vq, struct vhu_req *req);
int vhu_packed_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len);
bool vhu_packed_need_notify(struct vhu_vq *vq);
int vhu_packed_push_in_order(struct vhu_vq *vq, const struct vhu_req *reqs, unsigned int n);
int vhu_packed_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			  unsigned int n);
bool vhu_packed_enable_notify(struct vhu_vq *vq, bool enable);
bool vhu_packed_poll_quiet(struct vhu_vq *vq, bool quiet);
bool vhu_packed_has_avail(struct vhu_vq *vq);
/* Build the request of an inflight head again (inflight.c): split head, packed area entry. */
int vhu_split_resubmit(struct vhu_vq *vq, struct vhu_req *req, uint16_t head);
int vhu_packed_resubmit(struct vhu_vq *vq, struct vhu_req *req, uint16_t entry);

/* ---- map.c: ring areas and buffers, through the memory table or the IOTLB ---- */

struct vhu_ring_ptrs {
	void *desc, *avail, *used;
};

/*
 * Translate and check the three ring areas for vq->num and the layout.
 * Return: 0, -EINVAL (misaligned, no size), -EFAULT (not mapped) or, with
 * iommu, -EAGAIN (a miss, reported) or -EACCES.
 */
int vhu_vq_ring_map(struct vhu_vq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
		    struct vhu_ring_ptrs *p);
/* Point the queue at the areas of @p, or at none (NULL). */
void vhu_vq_ring_set(struct vhu_vq *vq, const struct vhu_ring_ptrs *p);
/* Send the pending IOTLB MISS again (the channel had no room for it). */
void vhu_vq_tlb_send_miss(struct vhu_vq *vq);

/*
 * Shared by both layouts: append one descriptor's buffer to @req (a buffer
 * that crosses regions takes several iovecs). A readable buffer after a
 * writable one, an unmapped or wrapping range, or more than req->iov_max
 * iovecs breaks the queue. A zero-length buffer adds nothing, not even its
 * direction: it cannot put the iovecs out of order.
 * Return: 0, -EIO (broken) or, with iommu, -EAGAIN (a miss, recorded).
 */
int vhu_vq_map_desc_slow(struct vhu_vq *vq, struct vhu_req *req, uint64_t addr, uint32_t len,
			 bool writable);

/*
 * Behind an IOMMU, the inline case: the queue's cache slot for @iova's page
 * holds the whole range with @perm (the slot is valid for this table gen).
 */
static inline void *vhu_vq_tlb_hint(struct vhu_vq *vq, uint64_t iova, uint32_t len, uint8_t perm)
{
	const struct vhu_iotlb_entry *e =
		&vq->tlb_cache.e[(iova / VHU_IOTLB_PAGE) % VHU_IOTLB_CACHE_SIZE];

	if (vq->tlb_cache.gen != vq->iotlb->gen || iova < e->iova || iova - e->iova >= e->size ||
	    len > e->size - (iova - e->iova) || (e->perm & perm) != perm)
		return NULL;
	return e->host + (iova - e->iova);
}

static inline int vhu_vq_map_desc(struct vhu_vq *vq, struct vhu_req *req, uint64_t addr,
				  uint32_t len, bool writable)
{
	uint32_t used = req->out_num + req->in_num;
	void *p;

	/* the common case inline: a buffer in the last region looked up, in order */
	if (len && used < req->iov_max && (writable || !req->in_num) &&
	    (p = vhu_likely(!vq->iommu)
			 ? vhu_mem_gpa_hint(vq->mem, addr, len)
			 : vhu_vq_tlb_hint(vq, addr, len,
					   writable ? VHU_IOTLB_WRITE : VHU_IOTLB_READ)) != NULL) {
		req->iov[used].iov_base = p;
		req->iov[used].iov_len = len;
		if (writable) {
			req->in_num++;
			req->in_size += len;
		} else {
			req->out_num++;
			req->out_size += len;
		}
		return 0;
	}
	return vhu_vq_map_desc_slow(vq, req, addr, len, writable);
}

/*
 * Where a chain's descriptors are read from: the descriptor ring, or an
 * indirect table. A table may span regions (the driver only promises it is
 * contiguous in gpa), so it is up to VHU_VQ_TABLE_MAX_IOV host pieces.
 * Split and packed descriptors are both 16 bytes.
 */
#define VHU_VQ_TABLE_MAX_IOV 8u

struct vhu_desc_table {
	struct iovec iov[VHU_VQ_TABLE_MAX_IOV];
	unsigned int niov;
	uint32_t num; /* entries */
};

/* The ring itself as a table of @num entries at @ring. */
void vhu_vq_ring_table(struct vhu_desc_table *t, void *ring, uint16_t num);

/*
 * Map the indirect table [gpa, gpa + len): len must be a non-zero multiple of
 * 16, hold at most VHU_VQ_MAX_SIZE entries (spec: "Indirect Descriptors") and
 * be wholly mapped. Return: 0, -EIO (broken) or -EAGAIN (an IOTLB miss).
 */
int vhu_vq_map_table(struct vhu_vq *vq, struct vhu_desc_table *t, uint64_t gpa, uint32_t len);

/* Copy entry @i (< t->num) of @t into @desc, reading guest memory once. */
void vhu_vq_read_desc_pieces(const struct vhu_desc_table *t, uint32_t i, void *desc);

static inline void vhu_vq_read_desc(const struct vhu_desc_table *t, uint32_t i, void *desc)
{
	if (vhu_likely(t->niov == 1))
		memcpy(desc, (uint8_t *)t->iov[0].iov_base + (uint64_t)i * VHU_RING_DESC_SIZE,
		       VHU_RING_DESC_SIZE);
	else
		vhu_vq_read_desc_pieces(t, i, desc);
	/*
	 * Read once: after this the compiler must use the copy, not re-read a
	 * table the driver may be rewriting (a checked value stays checked).
	 */
	__asm__ volatile("" : : "r"(desc) : "memory");
}

/* An empty request, before a chain is walked into it. */
static inline void vhu_req_clear(struct vhu_req *req)
{
	req->out_num = 0;
	req->in_num = 0;
	req->out_size = 0;
	req->in_size = 0;
	req->fault = 0;
}

/*
 * Guest ring fields: naturally aligned little-endian values the driver may
 * change at any time. Each access is a single (relaxed atomic) load or
 * store, so it is read once and never torn; ordering comes from the explicit
 * fences at the call sites, each commented with what it pairs with.
 */
static inline uint16_t vhu_vq_load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void vhu_vq_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline void vhu_vq_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

#endif /* VHU_VIRTQ_VIRTQ_H */
