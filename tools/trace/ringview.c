/* SPDX-License-Identifier: MIT */
/*
 * vhu-trace --ring-view (ringview.h). The front-end is untrusted here as
 * everywhere: a message that does not fit its row, or a value out of range,
 * changes nothing; a mapping that cannot be made is reported, not fatal;
 * and a memory file the front-end shrinks under the mapping (a read past
 * its end raises SIGBUS) ends that ring's view, not the tracer.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ringview.h"
#include <vhu/protocol.h>
#include <vhu/virtq.h>

#define RV_QUEUES 256u /* a ring index is 8 bits in SET_VRING_KICK/CALL */
#define RV_F_ACCESS_PLATFORM 33
#define RV_F_RING_PACKED 34
#define RV_DESC_F_AVAIL (1u << 7)
#define RV_DESC_F_USED (1u << 15)

struct rv_region {
	uint64_t gpa, size, uva;
	void *map; /* mmap of [0, offset + size) */
	size_t map_len;
	const uint8_t *host; /* map + offset: the region's first byte */
};

struct rv_queue {
	uint16_t num;
	bool addr_set, running;
	uint64_t desc, avail, used; /* front-end addresses from SET_VRING_ADDR */
	uint16_t last_used;	    /* split: used->idx at the last print */
	uint64_t last_ns;	    /* 0: no sample yet */
};

struct ringview {
	uint64_t features;
	unsigned int nregions;
	struct rv_region regions[VHU_MAX_MEM_SLOTS];
	struct rv_queue queues[RV_QUEUES];
};

struct ringview *ringview_new(void)
{
	return calloc(1, sizeof(struct ringview));
}

static void region_unmap(struct rv_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	*r = (struct rv_region){ 0 };
}

void ringview_reset(struct ringview *rv)
{
	for (unsigned int i = 0; i < rv->nregions; i++)
		region_unmap(&rv->regions[i]);
	memset(rv, 0, sizeof(*rv));
}

void ringview_free(struct ringview *rv)
{
	if (!rv)
		return;
	ringview_reset(rv);
	free(rv);
}

/* Map one region read-only; a region that cannot be mapped stays, unmapped. */
static void region_add(struct ringview *rv, const struct vhu_mem_region *m, int fd)
{
	struct rv_region *r;

	if (rv->nregions == VHU_MAX_MEM_SLOTS || m->memory_size == 0 ||
	    m->mmap_offset > SIZE_MAX - m->memory_size ||
	    m->userspace_addr > UINT64_MAX - m->memory_size)
		return;
	r = &rv->regions[rv->nregions++];
	r->gpa = m->guest_phys_addr;
	r->size = m->memory_size;
	r->uva = m->userspace_addr;
	r->map_len = (size_t)(m->mmap_offset + m->memory_size);
	r->map = mmap(NULL, r->map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED) {
		fprintf(stderr, "vhu-trace: ring view: a memory region cannot be mapped: %s\n",
			strerror(errno));
		r->map = NULL;
		return;
	}
	r->host = (const uint8_t *)r->map + m->mmap_offset;
}

static void region_remove(struct ringview *rv, const struct vhu_mem_region *m)
{
	for (unsigned int i = 0; i < rv->nregions; i++) {
		struct rv_region *r = &rv->regions[i];

		if (r->gpa == m->guest_phys_addr && r->size == m->memory_size) {
			region_unmap(r);
			*r = rv->regions[--rv->nregions];
			rv->regions[rv->nregions] = (struct rv_region){ 0 };
			return;
		}
	}
}

/* The host address of [@uva, @uva + @len) of the front-end's memory, or NULL. */
static const uint8_t *translate(const struct ringview *rv, uint64_t uva, uint64_t len)
{
	for (unsigned int i = 0; i < rv->nregions; i++) {
		const struct rv_region *r = &rv->regions[i];

		if (r->host && uva >= r->uva && uva - r->uva < r->size &&
		    len <= r->size - (uva - r->uva))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

static struct rv_queue *queue_of(struct ringview *rv, uint32_t index)
{
	return index < RV_QUEUES ? &rv->queues[index] : NULL;
}

void ringview_observe(struct ringview *rv, const struct vhu_msg *m)
{
	const union vhu_payload *p = &m->payload;
	struct rv_queue *q;

	if ((m->hdr.flags & VHU_FLAG_REPLY) || vhu_msg_fits(VHU_DIR_TO_BACKEND, m) < 0)
		return;
	switch (m->hdr.request) {
	case VHU_REQ_SET_FEATURES:
		rv->features = p->u64;
		break;
	case VHU_REQ_SET_MEM_TABLE:
		if (p->mem_table.nregions > VHU_MEM_TABLE_MAX_REGIONS ||
		    m->nfds != p->mem_table.nregions)
			break;
		for (unsigned int i = 0; i < rv->nregions; i++)
			region_unmap(&rv->regions[i]);
		rv->nregions = 0;
		for (unsigned int i = 0; i < m->nfds; i++)
			region_add(rv, &p->mem_table.regions[i], m->fds[i]);
		break;
	case VHU_REQ_ADD_MEM_REG:
		if (m->nfds == 1)
			region_add(rv, &p->mem_reg.region, m->fds[0]);
		break;
	case VHU_REQ_REM_MEM_REG:
		region_remove(rv, &p->mem_reg.region);
		break;
	case VHU_REQ_SET_VRING_NUM:
		if ((q = queue_of(rv, p->state.index)) && p->state.num <= VHU_VQ_MAX_SIZE)
			q->num = (uint16_t)p->state.num;
		break;
	case VHU_REQ_SET_VRING_ADDR:
		if ((q = queue_of(rv, p->addr.index))) {
			q->desc = p->addr.desc_user_addr;
			q->avail = p->addr.avail_user_addr;
			q->used = p->addr.used_user_addr;
			q->addr_set = true;
			q->last_ns = 0;
		}
		break;
	case VHU_REQ_SET_VRING_BASE:
		if ((q = queue_of(rv, p->state.index)))
			q->last_ns = 0;
		break;
	case VHU_REQ_SET_VRING_KICK:
		if ((q = queue_of(rv, (uint32_t)(p->u64 & 0xff))))
			q->running = true;
		break;
	case VHU_REQ_GET_VRING_BASE:
		if ((q = queue_of(rv, p->state.index)))
			q->running = false;
		break;
	case VHU_REQ_RESET_OWNER:
	case VHU_REQ_RESET_DEVICE:
		memset(rv->queues, 0, sizeof(rv->queues));
		break;
	default:
		break;
	}
}

/* ---- reading the rings ---- */

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v = __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);

	return le16toh(v);
}

struct sample {
	const char *error; /* NULL: the fields below hold */
	uint16_t avail_idx, used_idx;
	uint32_t outstanding; /* split: avail - used; packed: descriptors available, not used */
};

/* Read one ring; a SIGBUS on the way (the memory shrank) is an error, not a crash. */
static void sample_ring(const struct ringview *rv, const struct rv_queue *q, bool packed,
			struct sample *s)
{
	const uint8_t *volatile avail = NULL, *volatile used = NULL, *volatile desc = NULL;

	if (packed)
		desc = translate(rv, q->desc, (uint64_t)q->num * VHU_RING_DESC_SIZE);
	else {
		avail = translate(rv, q->avail, 4);
		used = translate(rv, q->used, 4);
	}
	if (!desc && (!avail || !used)) {
		s->error = "ring not in mapped memory";
		return;
	}
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		s->error = "memory gone (SIGBUS)";
		return;
	}
	bus_armed = 1;
	if (packed) {
		/* available, not yet used: the AVAIL and USED bits differ */
		for (uint32_t i = 0; i < q->num; i++) {
			uint16_t f = ld16(desc + (size_t)i * VHU_RING_DESC_SIZE + 14);

			s->outstanding += !(f & RV_DESC_F_AVAIL) != !(f & RV_DESC_F_USED);
		}
	} else {
		s->avail_idx = ld16(avail + 2);
		s->used_idx = ld16(used + 2);
		s->outstanding = (uint16_t)(s->avail_idx - s->used_idx);
	}
	bus_armed = 0;
}

void ringview_print(struct ringview *rv, FILE *out, bool json, double t, uint64_t now_ns)
{
	static bool handler;
	bool packed = rv->features & (1ull << RV_F_RING_PACKED);
	bool iommu = rv->features & (1ull << RV_F_ACCESS_PLATFORM);

	if (!handler) {
		struct sigaction sa = { .sa_handler = on_sigbus };

		sigaction(SIGBUS, &sa, NULL);
		handler = true;
	}
	for (unsigned int i = 0; i < RV_QUEUES; i++) {
		struct rv_queue *q = &rv->queues[i];
		struct sample s = { 0 };
		double rate = -1;

		if (!q->addr_set || q->num == 0)
			continue;
		if (iommu)
			s.error = "addresses are IOVAs (VIRTIO_F_ACCESS_PLATFORM): not shown";
		else
			sample_ring(rv, q, packed, &s);
		if (!s.error && !packed) {
			if (q->last_ns && now_ns > q->last_ns)
				rate = (double)(uint16_t)(s.used_idx - q->last_used) * 1e9 /
				       (double)(now_ns - q->last_ns);
			q->last_used = s.used_idx;
			q->last_ns = now_ns;
		}
		if (json) {
			fprintf(out,
				"{\"t\": %.6f, \"ring\": {\"queue\": %u, \"layout\": \"%s\", "
				"\"running\": %s, \"num\": %u",
				t, i, packed ? "packed" : "split", q->running ? "true" : "false",
				q->num);
			if (s.error)
				fprintf(out, ", \"error\": \"%s\"", s.error);
			else if (packed)
				fprintf(out, ", \"descs_avail\": %" PRIu32, s.outstanding);
			else
				fprintf(out,
					", \"avail_idx\": %u, \"used_idx\": %u, \"outstanding\": "
					"%" PRIu32,
					s.avail_idx, s.used_idx, s.outstanding);
			if (rate >= 0)
				fprintf(out, ", \"used_per_s\": %.1f", rate);
			fprintf(out, "}}\n");
		} else {
			fprintf(out, "%12.6f ring q%u %s %s num=%u", t, i,
				packed ? "packed" : "split", q->running ? "running" : "stopped",
				q->num);
			if (s.error)
				fprintf(out, " (%s)", s.error);
			else if (packed)
				fprintf(out, " descs-avail=%" PRIu32, s.outstanding);
			else
				fprintf(out, " avail=%u used=%u outstanding=%" PRIu32, s.avail_idx,
					s.used_idx, s.outstanding);
			if (rate >= 0)
				fprintf(out, " used/s=%.0f", rate);
			fprintf(out, "\n");
		}
	}
	fflush(out);
}
