/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_RINGS_H
#define VHU_FRONTEND_RINGS_H

/*
 * Concepts
 *
 * The driver side of split and packed virtqueues, in two levels:
 *
 * - Layout primitives (struct vhu_fe_split, struct vhu_fe_packed): write a
 *   descriptor, put a head on the avail ring, publish the avail index, read
 *   a used entry, the suppression fields, whether a kick is needed. They use
 *   the kernel's ring structs and vring_need_event() (linux/virtio_ring.h),
 *   the same definitions lib/virtq reads on the device side, and every
 *   barrier names its partner there. tests/support/fake_guest.c drives these
 *   directly (with descriptor choices of its own, bad ones included) so the
 *   device engines are tested against this very code.
 *
 * - The driver (struct vhu_fe_ring): free-descriptor tracking (split) or
 *   free buffer ids (packed), direct or indirect chains, tokens, batched
 *   publish and kick, used-id validation, interrupt re-enable.
 *
 * Addresses in descriptors are guest-physical (gpa); the ring areas are
 * host pointers the caller allocated in shared memory (zeroed). Values in
 * ring memory are little-endian.
 */

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include <vhu/protocol.h>

/* One buffer of a chain, as the driver describes it. */
struct vhu_fe_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Bytes of each area (spec: "Split Virtqueues", with the event-idx fields). */
#define VHU_FE_SPLIT_DESC_SIZE(num) ((uint64_t)VHU_RING_DESC_SIZE * (num))
#define VHU_FE_SPLIT_AVAIL_SIZE(num) (6ull + 2ull * (num))
#define VHU_FE_SPLIT_USED_SIZE(num) (6ull + 8ull * (num))
#define VHU_FE_PACKED_EVENT_SIZE 4ull

/* Entries of the indirect table each chain may use (one table per head/id). */
#define VHU_FE_INDIRECT_MAX 64u

/* ---- split layout ------------------------------------------------------- */

struct vhu_fe_split {
	uint16_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx; /* next avail index (ours; published by vhu_fe_split_publish) */
	uint16_t used_idx;  /* next used entry to read */
	uint16_t used_seen; /* used->idx as last read: entries before it are ready */
};

void vhu_fe_split_init(struct vhu_fe_split *r, uint16_t num, void *desc, void *avail, void *used);
/* Resume at @idx, as after SET_VRING_BASE @idx: both indices, in memory too. */
void vhu_fe_split_set_base(struct vhu_fe_split *r, uint16_t idx);
/* Write descriptor @i (mod num) as given. */
void vhu_fe_split_set_desc(struct vhu_fe_split *r, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next);
/* Fill @table[0..n) with the chain @bufs (next = k + 1), for an indirect descriptor. */
void vhu_fe_split_fill_table(struct vring_desc *table, const struct vhu_fe_buf *bufs,
			     unsigned int n);
/* Flags of a chain's descriptor for @b (WRITE) and whether one follows (NEXT). */
uint16_t vhu_fe_split_flags(const struct vhu_fe_buf *b, bool more);
/* Put @head on the avail ring at avail_idx and advance it (not yet published). */
void vhu_fe_split_put(struct vhu_fe_split *r, uint16_t head);
/* Publish avail_idx to the device. */
void vhu_fe_split_publish(struct vhu_fe_split *r);
/* Publish @idx as avail->idx as is (tests of bad indices). */
void vhu_fe_split_set_avail_idx(struct vhu_fe_split *r, uint16_t idx);
/*
 * Take the next used element. Return: 1 with *@id / *@len, 0 if none, or
 * -EPROTO if the device moved used->idx more than num ahead of us.
 */
int vhu_fe_split_get_used(struct vhu_fe_split *r, uint32_t *id, uint32_t *len);
/* Driver-side suppression: used_event, the NO_INTERRUPT flag; what the device asks. */
void vhu_fe_split_set_used_event(struct vhu_fe_split *r, uint16_t idx);
void vhu_fe_split_set_no_interrupt(struct vhu_fe_split *r, bool on);
uint16_t vhu_fe_split_avail_event(const struct vhu_fe_split *r);
/* After publishing: does the device want a kick for [old_avail_idx, avail_idx)? */
bool vhu_fe_split_kick_needed(struct vhu_fe_split *r, uint16_t old_avail_idx, bool event_idx);
/* true if the device has used entries we have not read. */
bool vhu_fe_split_has_used(const struct vhu_fe_split *r);

/* ---- packed layout ------------------------------------------------------ */

struct vhu_fe_packed {
	uint16_t num;
	struct vring_packed_desc *desc;
	struct vring_packed_desc_event *driver_event; /* written by us */
	struct vring_packed_desc_event *device_event; /* written by the device */
	uint16_t avail_idx;			      /* next slot to make available */
	bool avail_wrap;
	uint16_t used_idx; /* next slot the device writes used */
	bool used_wrap;
	uint16_t *id_ndescs; /* [num]: slots each buffer id took */
};

/* Return: 0 or -ENOMEM (the id table). */
int vhu_fe_packed_init(struct vhu_fe_packed *r, uint16_t num, void *desc, void *driver_event,
		       void *device_event);
void vhu_fe_packed_fini(struct vhu_fe_packed *r);
/* Fill @d for @b with @flags (NEXT, INDIRECT ...; WRITE from @b) and buffer id @id. */
void vhu_fe_packed_fill(struct vring_packed_desc *d, const struct vhu_fe_buf *b, uint16_t flags,
			uint16_t id);
/*
 * Make @n descriptors available from the next slot, as given (AVAIL/USED set
 * from the wrap counter); the head's flags are written last, which
 * publishes the chain. Records n slots for the last descriptor's id when it
 * is < num. Return: 0 or -EINVAL (n is 0 or more than num).
 */
int vhu_fe_packed_put(struct vhu_fe_packed *r, const struct vring_packed_desc *descs,
		      unsigned int n);
/* Take the next used descriptor. Return: 1 with *@id / *@len, or 0 if none. */
int vhu_fe_packed_get_used(struct vhu_fe_packed *r, uint16_t *id, uint32_t *len);
/* The driver event struct: flags (ENABLE, DISABLE, DESC) and the DESC position. */
void vhu_fe_packed_set_event(struct vhu_fe_packed *r, uint16_t flags, uint16_t slot, bool wrap);
/* After making @nadded slots available since the last kick: does the device want one? */
bool vhu_fe_packed_kick_needed(struct vhu_fe_packed *r, uint16_t nadded);
/* true if the slot at used_idx is used. */
bool vhu_fe_packed_has_used(const struct vhu_fe_packed *r);

/* ---- the driver --------------------------------------------------------- */

/* Where a ring lives: host pointers in shared memory, and the gpa of each. */
struct vhu_fe_ring_mem {
	void *desc, *avail, *used; /* packed: avail = driver event, used = device event */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	void *tables; /* num * VHU_FE_INDIRECT_MAX descriptors, or NULL: no indirect */
	uint64_t tables_gpa;
};

struct vhu_fe_ring {
	bool packed, event_idx, indirect, broken;
	uint16_t num;
	struct vhu_fe_split split;
	struct vhu_fe_packed pk;
	struct vhu_fe_ring_mem mem;
	void **tokens;	  /* [num] by head (split) or buffer id (packed) */
	bool *inflight;	  /* [num] the same: handed to the device, not yet back */
	uint16_t *next;	  /* [num] split: free descriptor links; packed: free id links */
	uint16_t *ndescs; /* [num] split: descriptors a head's chain took */
	struct vring_packed_desc *scratch; /* [num] packed: a chain before it is put */
	uint16_t free_head;
	uint16_t num_free; /* split: descriptors; packed: slots */
	uint16_t free_ids; /* packed: ids free */
	uint16_t nadded;   /* made available since the last kick */
	uint16_t kicked_avail_idx;
};

/* Sizes of the areas vhu_fe_ring_init() needs, to allocate them. */
void vhu_fe_ring_sizes(bool packed, uint16_t num, uint64_t *desc, uint64_t *avail, uint64_t *used);

/**
 * vhu_fe_ring_init() - a driver ring of @num in @mem (zeroed).
 * Return: 0, -EINVAL (split: num not a power of two; 0) or -ENOMEM.
 */
int vhu_fe_ring_init(struct vhu_fe_ring *q, bool packed, bool event_idx, uint16_t num,
		     const struct vhu_fe_ring_mem *mem);
void vhu_fe_ring_fini(struct vhu_fe_ring *q);

/* The value of SET_VRING_BASE for a fresh ring (packed: both wrap counters 1). */
uint32_t vhu_fe_ring_base(const struct vhu_fe_ring *q);
/*
 * The value of SET_VRING_BASE to resume the ring with a new back-end after
 * the old one died (GET_VRING_BASE could not be asked). Split: used->idx as
 * the ring holds it (QEMU's virtio_queue_restore_last_avail_idx). Packed:
 * the slot and wrap counter where the device writes its next used
 * descriptor, found by walking the used descriptors we have not taken yet,
 * for both halves in QEMU's encoding. A back-end with an inflight region
 * replaces either with what the region says.
 */
uint32_t vhu_fe_ring_resume_base(const struct vhu_fe_ring *q);

/**
 * vhu_fe_ring_add() - make a chain available (split: not yet published).
 * Return: 0, -ENOSPC (not enough free descriptors), -EINVAL (n is 0 or the
 * chain can never fit) or -EIO (the ring is broken).
 */
int vhu_fe_ring_add(struct vhu_fe_ring *q, const struct vhu_fe_buf *bufs, unsigned int n,
		    void *token);
/* Publish and decide on a kick. Return: true if the device wants one. */
bool vhu_fe_ring_kick_prepare(struct vhu_fe_ring *q);
/* Return: 1 with a completion, 0 if none, -EPROTO (bad id: the ring breaks). */
int vhu_fe_ring_get(struct vhu_fe_ring *q, void **token, uint32_t *len);
/* Ask for an interrupt at the next completion. Return: true if one is already there. */
bool vhu_fe_ring_enable_cb(struct vhu_fe_ring *q);
/* Ask for no interrupts (polling). */
void vhu_fe_ring_disable_cb(struct vhu_fe_ring *q);
/* Longest chain vhu_fe_ring_add() takes. */
unsigned int vhu_fe_ring_max_chain(const struct vhu_fe_ring *q);

#endif /* VHU_FRONTEND_RINGS_H */
