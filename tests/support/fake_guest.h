/* SPDX-License-Identifier: MIT */
#ifndef VHU_TESTS_FAKE_GUEST_H
#define VHU_TESTS_FAKE_GUEST_H

/*
 * Concepts
 *
 * A fake guest for ring tests: memfd-backed memory of one or two regions,
 * shared with a device through a struct vhu_mem, plus the driver side of
 * split and packed rings built in that memory.
 *
 * Region i covers gpa [i MiB, (i + 1) MiB), so the two regions are
 * contiguous in gpa (a buffer may cross them) but not in uva (region i is at
 * FG_UVA_BASE + i * FG_UVA_STRIDE) nor in host memory (two memfds).
 * The driver writes through its own mapping of each memfd, the device reads
 * through the vhu_mem's: two mappings of the same pages, as with a real VM.
 *
 * The driver-side ring code is lib/frontend/rings.c's layout primitives
 * (the real front-end's driver): this file only chooses descriptors
 * (round-robin, never freed, so tests may write any chain, bad ones
 * included) and gpas. Values in guest memory are little-endian.
 */

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

#include "frontend/rings.h"
#include "memory/memtable.h"

#define FG_MAX_REGIONS 2u
#define FG_REGION_SIZE (1ull << 20)
#define FG_UVA_BASE 0x7f0000000000ull
#define FG_UVA_STRIDE (16ull << 30)

struct fake_guest {
	struct vhu_mem mem; /* the device's view */
	unsigned int nregions;
	uint8_t *host[FG_MAX_REGIONS]; /* the driver's mapping of region i */
	uint64_t next_gpa;	       /* bump allocator, from gpa 0 */
};

/**
 * fake_guest_init() - @nregions (1 or 2) zeroed regions of FG_REGION_SIZE.
 *
 * Return: 0, -EINVAL or the memfd/mmap errno.
 */
int fake_guest_init(struct fake_guest *fg, unsigned int nregions);
void fake_guest_fini(struct fake_guest *fg);

/* The driver's pointer to [gpa, gpa + size), which must lie in one region; or NULL. */
void *fake_guest_ptr(struct fake_guest *fg, uint64_t gpa, uint64_t size);

/* The front-end virtual address of @gpa (what SET_VRING_ADDR carries). */
uint64_t fake_guest_uva(const struct fake_guest *fg, uint64_t gpa);

/* Allocate @size zeroed bytes aligned to @align (a power of two); UINT64_MAX when full. */
uint64_t fake_guest_alloc(struct fake_guest *fg, uint64_t size, uint64_t align);

/* One buffer of a chain, as the driver describes it: struct vhu_fe_buf (gpa, len, writable). */
#define drv_buf vhu_fe_buf

/* ---- split ring, driver side ------------------------------------------- */

struct drv_split {
	struct fake_guest *fg;
	struct vhu_fe_split ring; /* num, desc/avail/used, avail_idx, used_idx */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t next_desc; /* descriptors are handed out round-robin */
};

/* Allocate and zero the three areas of a ring of @num (a power of two). Return: 0 or -ENOMEM. */
int drv_split_init(struct drv_split *r, struct fake_guest *fg, uint16_t num);

/* Resume at @idx, as after SET_VRING_BASE @idx: avail and used indices (in memory too). */
void drv_split_set_base(struct drv_split *r, uint16_t idx);

/* Write descriptor @i as is (any values: tests build bad chains with it). */
void drv_split_set_desc(struct drv_split *r, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next);

/* Put @head on the avail ring and publish it (avail->idx + 1). */
void drv_split_publish(struct drv_split *r, uint16_t head);

/* Publish @idx as avail->idx without adding entries (tests of bad indices). */
void drv_split_set_avail_idx(struct drv_split *r, uint16_t idx);

/* A chain of @n buffers in fresh descriptors, published. Return: the head, or -EINVAL. */
int drv_split_add(struct drv_split *r, const struct drv_buf *bufs, unsigned int n);

/* The same as one INDIRECT descriptor whose table (@n entries) is written at @table_gpa. */
int drv_split_add_indirect(struct drv_split *r, uint64_t table_gpa, const struct drv_buf *bufs,
			   unsigned int n);

/* Take the next used element. Return: 1 with *@id / *@len, or 0 if none. */
int drv_split_get_used(struct drv_split *r, uint32_t *id, uint32_t *len);

/* Suppression, driver side: used_event, the NO_INTERRUPT flag, and whether to kick. */
void drv_split_set_used_event(struct drv_split *r, uint16_t idx);
void drv_split_set_no_interrupt(struct drv_split *r, bool on);
uint16_t drv_split_avail_event(struct drv_split *r);
bool drv_split_kick_needed(struct drv_split *r, uint16_t old_avail_idx, bool event_idx);

/* ---- packed ring, driver side ------------------------------------------ */

struct drv_packed {
	struct fake_guest *fg;
	struct vhu_fe_packed ring; /* desc, event structs, indices, wrap counters */
	uint64_t desc_gpa, driver_event_gpa, device_event_gpa;
};

/* Allocate a ring of @num (1..32768). Return: 0 or -ENOMEM. */
int drv_packed_init(struct drv_packed *r, struct fake_guest *fg, uint16_t num);
void drv_packed_fini(struct drv_packed *r);

/*
 * Make @n descriptors available from the next slot, as given (addr, len, id,
 * flags without AVAIL/USED, which are set from the wrap counter); the head's
 * flags are written last. Records n slots for the last descriptor's id when
 * it is < num. Return: 0 or -EINVAL (n is 0 or more than num).
 */
int drv_packed_add_raw(struct drv_packed *r, const struct vring_packed_desc *descs, unsigned int n);

/* A chain of @n buffers with buffer id @id. Return: 0 or -EINVAL. */
int drv_packed_add(struct drv_packed *r, const struct drv_buf *bufs, unsigned int n, uint16_t id);

/* One INDIRECT descriptor with buffer id @id; its table is written at @table_gpa. */
int drv_packed_add_indirect(struct drv_packed *r, uint64_t table_gpa, const struct drv_buf *bufs,
			    unsigned int n, uint16_t id);

/* Take the next used descriptor. Return: 1 with *@id / *@len, or 0 if none. */
int drv_packed_get_used(struct drv_packed *r, uint16_t *id, uint32_t *len);

/* The driver event struct: flags (ENABLE, DISABLE, DESC) and the DESC position. */
void drv_packed_set_event(struct drv_packed *r, uint16_t flags, uint16_t slot, bool wrap);

#endif /* VHU_TESTS_FAKE_GUEST_H */
