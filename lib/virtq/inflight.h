/* SPDX-License-Identifier: MIT */
#ifndef VHU_VIRTQ_INFLIGHT_H
#define VHU_VIRTQ_INFLIGHT_H

/*
 * Concepts
 *
 * Inflight I/O tracking (spec: "Inflight I/O tracking"): a shared
 * region, kept by the front-end across back-end restarts, in which the
 * device records every request it took from a ring and has not completed,
 * so that a restarted back-end completes them instead of losing them. The
 * region is one area per queue, each VHU_INFLIGHT_ALIGN aligned, laid out as
 * the seed gives it (QueueRegionSplit / DescStateSplit, QueueRegionPacked /
 * DescStatePacked). Each queue area is sized for the packed layout, the
 * larger one: GET_INFLIGHT_FD may come before the ring layout is negotiated
 * (QEMU sends it before SET_FEATURES), so the layout is decided when the
 * ring starts.
 *
 * version 0 is a region nobody wrote yet: the first start formats it from
 * the ring's state (SET_VRING_BASE, the used ring). Afterwards the region is
 * what the device trusts on every start: it repairs a push that a crash cut
 * short (split: the "last batch"; packed: roll forward or back), recomputes
 * where the ring stands (next avail = used + what is in flight), and lists
 * the requests in flight in the order they were fetched (counter), which
 * vhu_vq_pop() hands out again before anything new.
 *
 * Every push here is a batch of one, done in the seed's order with a
 * compiler barrier between steps (a process killed between two stores has
 * made exactly the earlier ones; the memory outlives it). vq->crash_at lets
 * the unit tests stop a push after any step, as a SIGKILL would.
 *
 * Trust: the front-end maps the region too and may scribble on it. Every
 * index read from it is bounded before use; a region that does not add up
 * breaks the queue (its own requests are the driver's to lose).
 */

#include <stdint.h>

#include "virtq/virtq.h"

#define VHU_INFLIGHT_VERSION 1u
#define VHU_INFLIGHT_ALIGN 64u

struct vhu_inflight_desc_split {
	uint8_t inflight; /* heads only */
	uint8_t padding[5];
	uint16_t next;	  /* the last batch of used heads */
	uint64_t counter; /* fetch order; heads only */
};

struct vhu_inflight_split {
	uint64_t features; /* 0 */
	uint16_t version;  /* VHU_INFLIGHT_VERSION; 0: never written */
	uint16_t desc_num; /* ring size it was formatted for */
	uint16_t last_batch_head;
	uint16_t used_idx; /* used->idx after the last complete push */
	struct vhu_inflight_desc_split desc[];
};

struct vhu_inflight_desc_packed {
	uint8_t inflight; /* heads only */
	uint8_t padding;
	uint16_t next;	  /* free list */
	uint16_t last;	  /* heads: the chain's last entry */
	uint16_t num;	  /* heads: the chain's descriptors (ring slots) */
	uint64_t counter; /* heads: fetch order */
	uint16_t id;	  /* the ring descriptor, as fetched */
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

struct vhu_inflight_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vhu_inflight_desc_packed desc[];
};

_Static_assert(sizeof(struct vhu_inflight_desc_split) == 16,
	       "spec \"Inflight I/O tracking\": DescStateSplit");
_Static_assert(sizeof(struct vhu_inflight_split) == 16,
	       "spec \"Inflight I/O tracking\": QueueRegionSplit");
_Static_assert(sizeof(struct vhu_inflight_desc_packed) == 32,
	       "spec \"Inflight I/O tracking\": DescStatePacked");
_Static_assert(sizeof(struct vhu_inflight_packed) == 32,
	       "spec \"Inflight I/O tracking\": QueueRegionPacked");

/* Bytes one queue's area takes for rings of up to @queue_size entries (either layout). */
uint64_t vhu_inflight_queue_bytes(uint16_t queue_size);

/*
 * Attach one queue's area (@capacity entries), or NULL to stop tracking.
 * Control thread, on a stopped ring. The area must stay mapped while attached.
 */
void vhu_vq_set_inflight(struct vhu_vq *vq, void *area, uint16_t capacity);

/*
 * On start (vhu_vq_start, the ring mapped and the used index read): format
 * or repair the area, set the ring's indices from it and list what is to be
 * resubmitted. A ring larger than the area runs untracked (logged).
 * Return: 0, -ENOMEM, or -EIO (the area does not add up: the queue broke).
 */
int vhu_inflight_start(struct vhu_vq *vq);
/* On stop and reset: forget the resubmit list. */
void vhu_inflight_stop(struct vhu_vq *vq);

/* The next request to resubmit into @req. Return: 1, 0 (none left) or -EIO. */
int vhu_inflight_resubmit(struct vhu_vq *vq, struct vhu_req *req);

/* split.c's hooks: a head was fetched / is being completed. Return: 0 or -EIO. */
int vhu_inflight_split_fetched(struct vhu_vq *vq, uint16_t head);

/*
 * packed.c's hooks: each ring descriptor of a chain as it is read, then the
 * end (0, or -EIO: the buffer id is in flight already). Push finds a
 * request's area entry by its buffer id in vq->inflight_entry.
 */
#define VHU_INFLIGHT_NO_ENTRY 0xffffu
int vhu_inflight_packed_desc(struct vhu_vq *vq, const struct vring_packed_desc *d, bool head,
			     bool last);
int vhu_inflight_packed_fetched(struct vhu_vq *vq, struct vhu_req *req);

/*
 * Test-only crash points: a push stops after step vq->crash_at (1..) and
 * returns -ECANCELED, leaving the region as a SIGKILL there would. Only the
 * tests' copy of the ring code has them (VHU_TEST_HOOKS, lib/meson.build);
 * in libvhu.so they compile to nothing.
 */
#ifndef VHU_TEST_HOOKS
#define VHU_INFLIGHT_CRASH(vq, step) ((void)(vq))
#else
#define VHU_INFLIGHT_CRASH(vq, step)                               \
	do {                                                       \
		__atomic_signal_fence(__ATOMIC_SEQ_CST);           \
		if (__builtin_expect((vq)->crash_at == (step), 0)) \
			return -ECANCELED;                         \
	} while (0)
#endif

#endif /* VHU_VIRTQ_INFLIGHT_H */
