/* SPDX-License-Identifier: MIT */
#ifndef VHU_FUZZ_RING_H
#define VHU_FUZZ_RING_H

/*
 * The harness shared by fuzz_split.c, fuzz_packed.c, fuzz_inflight.c and
 * fuzz_iommu.c (each defines FUZZ_RING_PACKED to 0, 1 or -1 (chosen by
 * byte 0 bit 2), optionally FUZZ_RING_INFLIGHT or FUZZ_RING_IOMMU to 1, and
 * includes this once): the fuzzer's bytes
 * are the guest memory, so every descriptor, index, flag, event field and
 * buffer is attacker-controlled, and the device side runs a bounded script
 * of pops, pushes and notifications over it.
 *
 * Input (numbers little-endian, missing bytes read as 0):
 *   byte 0      features: bit 0 VIRTIO_RING_F_INDIRECT_DESC, bit 1 EVENT_IDX;
 *               with FUZZ_RING_IOMMU: bit 3 maps the whole memory at the
 *               start (read-write, IOVA = gpa; bit 5: the two regions
 *               swapped, region 1 at IOVA 0), bit 4 makes every other MISS
 *               report fail with -EAGAIN (the channel full: sent again);
 *               bit 6: each request has room for 4 iovecs (a device's own
 *               limit), not VHU_REQ_MAX_IOV
 *   byte 1      ring size: split 1 << (b % 7), packed b % 64 + 1 (1..64)
 *   bytes 2-5   the SET_VRING_BASE value (may be refused: the ring keeps 0)
 *   bytes 6-37  NOPS operation bytes, run in order (operands come from the
 *               bytes that follow an operation):
 *                 op & 7 = 0, 1  pop; touch the request's buffers (behind the
 *                                IOMMU: each must lie in an IOTLB entry that
 *                                allows the access, now); keep up to
 *                                NHELD requests, push the others at once
 *                          2     op < 0x80: push the oldest kept request, len
 *                                (op >> 3) * 37; else push every kept request
 *                                at once (vhu_vq_push_burst), len (op >> 3 & 15) * 37
 *                          3     notify
 *                          4     op & 16: give back the newest kept request
 *                                (vhu_vq_unpop) if it was the latest pop;
 *                                else enable_notify(op & 8)
 *                          5     poke: region 0 byte [next * 8 + (op >> 5)] = next
 *                                (the driver changing the ring between calls);
 *                                with FUZZ_RING_IOMMU and op & 8, an IOTLB
 *                                message instead, operands a, b, c, d: iova
 *                                a * 128 (d & 1: 2^64 - 128 - a * 128, near
 *                                the top; d & 2: + (d >> 2 & 31), unaligned), size
 *                                b * 64 (+ 1 if d & 0x80); op & 16:
 *                                INVALIDATE of it, else UPDATE to the uva of
 *                                gpa c * 64 with permission op >> 5 (0..7:
 *                                none, RO, WO, RW, and unknown bits)
 *                          6     stop, set_base(next u16 | next u16 << 16), start
 *                          7     set_addr(next * 8, next * 8, next * 8 as gpa offsets), start
 *   with FUZZ_RING_INFLIGHT: the next AREA bytes are the ring's inflight
 *               area (lib/virtq/inflight.h) as the front-end left it, read by
 *               every start (op 6, 7) and written by every pop and push;
 *               op 2's push then also stops after step (next & 7), as a kill
 *               there would, and op 6 starts the ring again from the area
 *   the rest    guest memory: region 0 (gpa 0, MEM0 bytes) then region 1
 *               (gpa MEM0, MEM1 bytes), zero-padded. The ring starts with
 *               its descriptors at gpa 0, the avail ring / driver event
 *               struct at gpa 1024 and the used ring / device event struct
 *               at gpa 1536.
 * At the end the queue is drained: pop and push until empty, at most
 * 2 * num + 8 times.
 *
 * With FUZZ_RING_IOMMU the queue negotiates ACCESS_PLATFORM: ring and
 * buffer addresses are IOVAs translated through a device IOTLB of at most
 * TLB_MAX entries that nothing is mapped in unless the header or the script
 * maps it; misses are reported to the harness and never answered but by the
 * script's own UPDATEs.
 *
 * The regions are exact-size heap buffers, so ASan reports any access past
 * either; every iovec is also checked to lie in one region, and its bytes
 * touched (readable: read, writable: written) at both ends.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <linux/vhost_types.h>

#include "memory/iotlb.h"
#include "virtq/inflight.h"
#include "virtq/virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_SIZE 6u
#define NOPS 32u
#define MEM0 8192u
#define MEM1 8192u
#define UVA0 0x100000ull
#define UVA1 0x900000ull
#define DESC_GPA 0u
#define AVAIL_GPA 1024u
#define USED_GPA 1536u
#define NHELD 4u
#ifndef FUZZ_RING_INFLIGHT
#define FUZZ_RING_INFLIGHT 0
#endif
#ifndef FUZZ_RING_IOMMU
#define FUZZ_RING_IOMMU 0
#endif
#define TLB_MAX 4u			       /* entries: a bound a script of 32 bytes reaches */
#define AREA_NUM 64u			       /* the largest ring the header can ask for */
#define AREA (FUZZ_RING_INFLIGHT ? 2112u : 0u) /* vhu_inflight_queue_bytes(64) */

struct fuzz {
	const uint8_t *ops;
	unsigned int nops, pos;
	uint8_t *host[2];
	uint8_t *area; /* FUZZ_RING_INFLIGHT */
	bool packed;
	struct vhu_vq vq;
	unsigned int held;
	unsigned int newest; /* held requests that are the latest pops, in a row */
};

/* Static: the table is ~30 KB and each request's iovecs ~16 KB; the fuzzer calls us millions of
 * times. */
static struct vhu_mem mem;
static struct vhu_req reqs[NHELD + 1];
static struct iovec req_iov[NHELD + 1][VHU_REQ_MAX_IOV];
static struct vhu_log quiet_log;
static int event_fd = -1;
static volatile uint8_t sink;
static struct vhu_iotlb tlb;	 /* FUZZ_RING_IOMMU */
static unsigned int tlb_reports; /* MISS and ACCESS_FAIL reports this input */
static bool tlb_channel_full;	 /* header byte 0 bit 4 */

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	(void)prefix;
	(void)text;
}

static uint8_t take(struct fuzz *f)
{
	return f->pos < f->nops ? f->ops[f->pos++] : 0;
}

static uint64_t gpa_to_uva(uint64_t gpa)
{
	return gpa < MEM0 ? UVA0 + gpa : UVA1 + (gpa - MEM0);
}

/* What the ring is given for @gpa: its uva, or behind the IOMMU the IOVA (= gpa). */
static uint64_t ring_addr(uint64_t gpa)
{
	return FUZZ_RING_IOMMU ? gpa : gpa_to_uva(gpa);
}

/* The queue's reports (BACKEND_IOTLB_MSG): only MISS and ACCESS_FAIL, never answered here. */
static int tlb_report(void *arg, uint8_t type, uint64_t iova, uint8_t perm)
{
	(void)arg;
	(void)iova;
	if ((type != VHOST_IOTLB_MISS && type != VHOST_IOTLB_ACCESS_FAIL) || !perm ||
	    (perm & ~(VHU_IOTLB_READ | VHU_IOTLB_WRITE)))
		abort();
	tlb_reports++;
	return tlb_channel_full && type == VHOST_IOTLB_MISS && tlb_reports % 2 ? -EAGAIN : 0;
}

/* op 5 with op & 8, behind the IOMMU: an UPDATE or an INVALIDATE from the script. */
static void op_iotlb(struct fuzz *f, uint8_t op)
{
	uint64_t a = take(f), b = take(f), c = take(f), d = take(f);
	uint64_t iova = d & 1 ? UINT64_MAX - 127 - a * 128 : a * 128, size = b * 64 + (d >> 7);
	int ret;

	if (d & 2)
		iova += (d >> 2) & 31;
	if (op & 16) {
		if (vhu_iotlb_invalidate(&tlb, iova, size) < 0)
			abort();
		return;
	}
	ret = vhu_iotlb_update(&tlb, &mem, iova, size, gpa_to_uva(c * 64), op >> 5);
	if (ret != 0 && ret != -EINVAL && ret != -EFAULT && ret != -ENOSPC)
		abort();
	if (ret == -EINVAL && size && (op >> 5) >= 1 && (op >> 5) <= 3 && iova + size - 1 >= iova)
		abort(); /* a well-formed update refused as malformed */
}

/* Guest memory as two regions over heap buffers: no mmap, no fd. */
static void mem_setup(struct fuzz *f)
{
	vhu_mem_init(&mem, 0);
	memset(mem.regions, 0, 2 * sizeof(mem.regions[0]));
	mem.regions[0].gpa = 0;
	mem.regions[0].size = MEM0;
	mem.regions[0].uva = UVA0;
	mem.regions[0].host = f->host[0];
	mem.regions[1].gpa = MEM0;
	mem.regions[1].size = MEM1;
	mem.regions[1].uva = UVA1;
	mem.regions[1].host = f->host[1];
	mem.nregions = 2;
}

/*
 * Behind the IOMMU: every byte of the iovec lies in an entry of the table as
 * it is now that allows @need (one iovec may span entries that are adjacent
 * both as IOVAs and in memory: the translation merges them).
 */
static bool tlb_covers(const struct iovec *iov, uint8_t need)
{
	uintptr_t at = (uintptr_t)iov->iov_base, end = at + iov->iov_len;

	while (at < end) {
		uintptr_t next = at;

		for (unsigned int i = 0; i < tlb.n && next == at; i++) {
			const struct vhu_iotlb_entry *e = &tlb.e[i];
			uintptr_t h = (uintptr_t)e->host;

			if (at >= h && at - h < e->size && (e->perm & need) == need)
				next = h + e->size;
		}
		if (next == at)
			return false;
		at = next;
	}
	return true;
}

static void check_iov(const struct fuzz *f, const struct iovec *iov, bool writable)
{
	const uint8_t *p = iov->iov_base;

	if (FUZZ_RING_IOMMU && !tlb_covers(iov, writable ? VHU_IOTLB_WRITE : VHU_IOTLB_READ))
		abort(); /* a buffer used without a translation that allows it */

	for (unsigned int i = 0; i < 2; i++) {
		uintptr_t start = (uintptr_t)f->host[i], at = (uintptr_t)p;
		size_t size = i ? MEM1 : MEM0;

		if (at >= start && iov->iov_len <= size && at - start <= size - iov->iov_len) {
			if (writable) {
				((uint8_t *)iov->iov_base)[0] = 0xaa;
				((uint8_t *)iov->iov_base)[iov->iov_len - 1] = 0x55;
			} else {
				sink = p[0];
				sink = p[iov->iov_len - 1];
			}
			return;
		}
	}
	abort(); /* an iovec outside guest memory */
}

static void check_req(const struct fuzz *f, const struct vhu_req *req)
{
	uint64_t out = 0, in = 0;
	uint32_t n = req->out_num + req->in_num;

	if (n > req->iov_max || req->id >= f->vq.num || req->ndescs == 0 || req->ndescs > f->vq.num)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		if (req->iov[i].iov_len == 0)
			abort(); /* zero-length buffers make no iovec */
		check_iov(f, &req->iov[i], i >= req->out_num);
		if (i < req->out_num)
			out += req->iov[i].iov_len;
		else
			in += req->iov[i].iov_len;
	}
	if (out != req->out_size || in != req->in_size)
		abort();
}

static void push_checked(struct fuzz *f, const struct vhu_req *req, uint32_t len)
{
	int ret = vhu_vq_push(&f->vq, req, len);

	if (ret != 0 && ret != -EINVAL && ret != -EIO && ret != -EAGAIN)
		abort();
	if (ret == -EINVAL && len <= req->in_size)
		abort();
}

/* Pop once; Return: 1 if a request was popped. */
static int pop_one(struct fuzz *f)
{
	struct vhu_req *req = &reqs[f->held < NHELD ? f->held : NHELD];
	int ret = vhu_vq_pop(&f->vq, req);

	if (ret == -EIO && !vhu_vq_broken(&f->vq))
		abort();
	if (ret != 1) {
		if (ret != 0 && ret != -EIO && ret != -EAGAIN)
			abort();
		return 0;
	}
	check_req(f, req);
	if (f->held < NHELD) {
		f->held++;
		f->newest++;
	} else {
		push_checked(f, req, (uint32_t)req->in_size);
		f->newest = 0;
	}
	return 1;
}

static void push_oldest(struct fuzz *f, uint32_t len)
{
	struct vhu_req first;

	if (f->held == 0)
		return;
	if (FUZZ_RING_INFLIGHT) {
		int ret;

		f->vq.crash_at = take(f) & 7; /* 0: no crash */
		ret = vhu_vq_push(&f->vq, &reqs[0], len);
		f->vq.crash_at = 0;
		if (ret == -ECANCELED) {
			/* killed mid-push: what the device held is gone, the area stays */
			f->held = f->newest = 0;
			return;
		}
		if (ret != 0 && ret != -EINVAL && ret != -EIO && ret != -EAGAIN)
			abort();
	} else {
		push_checked(f, &reqs[0], len);
	}
	/* rotate, so that each request keeps an iovec array of its own */
	first = reqs[0];
	memmove(&reqs[0], &reqs[1], (f->held - 1) * sizeof(reqs[0]));
	reqs[f->held - 1] = first;
	if (f->newest == f->held)
		f->newest--;
	f->held--;
}

static void unpop_newest(struct fuzz *f)
{
	int ret;

	if (f->newest == 0)
		return; /* only the latest pop may be given back */
	ret = vhu_vq_unpop(&f->vq, &reqs[f->held - 1]);
	if (ret == 0) {
		f->held--;
		f->newest--;
	} else if (ret != -EBUSY && ret != -EIO && ret != -EAGAIN) {
		abort();
	}
}

static void push_all(struct fuzz *f, uint32_t len)
{
	uint32_t lens[NHELD];
	int ret;

	for (unsigned int i = 0; i < f->held; i++)
		lens[i] = len;
	ret = vhu_vq_push_burst(&f->vq, reqs, lens, f->held);
	if (ret != 0 && ret != -EINVAL && ret != -EIO && ret != -EAGAIN)
		abort();
	f->held = f->newest = 0;
}

static void op_set_base(struct fuzz *f)
{
	uint32_t base = take(f);

	base |= (uint32_t)take(f) << 8;
	base |= (uint32_t)take(f) << 16;
	base |= (uint32_t)take(f) << 24;
	vhu_vq_stop(&f->vq);
	(void)vhu_vq_set_base(&f->vq, base);
	f->held = f->newest = 0; /* a restarted ring forgets what was in flight */
	(void)vhu_vq_start(&f->vq);
}

static void op_set_addr(struct fuzz *f)
{
	uint64_t desc = take(f) * 8u, avail = take(f) * 8u, used = take(f) * 8u;

	vhu_vq_stop(&f->vq);
	(void)vhu_vq_set_addr(&f->vq, ring_addr(desc), ring_addr(avail), ring_addr(used));
	f->held = f->newest = 0;
	(void)vhu_vq_start(&f->vq);
}

static void run_op(struct fuzz *f, uint8_t op)
{
	unsigned int off;

	switch (op & 7) {
	case 0:
	case 1:
		pop_one(f);
		break;
	case 2:
		if (op & 0x80)
			push_all(f, (uint32_t)(op >> 3 & 15) * 37u);
		else
			push_oldest(f, (uint32_t)(op >> 3) * 37u);
		break;
	case 3:
		(void)vhu_vq_notify(&f->vq);
		break;
	case 4:
		if (op & 16)
			unpop_newest(f);
		else
			(void)vhu_vq_enable_notify(&f->vq, op & 8);
		break;
	case 5:
		if (FUZZ_RING_IOMMU && (op & 8)) {
			op_iotlb(f, op);
			break;
		}
		off = take(f) * 8u + (op >> 5);
		f->host[0][off % MEM0] = take(f);
		break;
	case 6:
		op_set_base(f);
		break;
	default:
		op_set_addr(f);
		break;
	}
}

/* Behind the IOMMU: an empty table, or the whole memory mapped (header byte 0 bits 3, 5). */
static void tlb_setup(const uint8_t *hdr, uint64_t *features)
{
	const uint8_t rw = VHU_IOTLB_READ | VHU_IOTLB_WRITE;
	bool swap = hdr[0] & 32;

	*features |= 1ull << 33; /* VIRTIO_F_ACCESS_PLATFORM */
	vhu_iotlb_init(&tlb, TLB_MAX);
	tlb.report = tlb_report;
	tlb_reports = 0;
	tlb_channel_full = hdr[0] & 16;
	if ((hdr[0] & 8) && (vhu_iotlb_update(&tlb, &mem, swap ? MEM1 : 0, MEM0, UVA0, rw) ||
			     vhu_iotlb_update(&tlb, &mem, swap ? 0 : MEM0, MEM1, UVA1, rw)))
		abort();
}

static int queue_setup(struct fuzz *f, const uint8_t *hdr)
{
	bool packed = FUZZ_RING_PACKED < 0 ? hdr[0] & 4 : FUZZ_RING_PACKED;
	uint64_t features = packed ? 1ull << 34 : 0;
	uint32_t num = packed ? hdr[1] % 64u + 1 : 1u << (hdr[1] % 7);
	uint32_t base =
		hdr[2] | (uint32_t)hdr[3] << 8 | (uint32_t)hdr[4] << 16 | (uint32_t)hdr[5] << 24;

	if (hdr[0] & 1)
		features |= 1ull << 28;
	if (hdr[0] & 2)
		features |= 1ull << 29;
	for (unsigned int i = 0; i <= NHELD; i++)
		vhu_req_init(&reqs[i], req_iov[i], hdr[0] & 64 ? 4 : VHU_REQ_MAX_IOV);
	vhu_vq_init(&f->vq, 0, &mem, &quiet_log);
	if (FUZZ_RING_IOMMU)
		tlb_setup(hdr, &features);
	if (FUZZ_RING_IOMMU)
		vhu_vq_set_iotlb(&f->vq, &tlb);
	(void)vhu_vq_set_features(&f->vq, features);
	if (vhu_vq_set_num(&f->vq, num) < 0)
		abort();
	(void)vhu_vq_set_base(&f->vq, base);
	f->packed = packed;
	if (vhu_vq_set_addr(&f->vq, ring_addr(DESC_GPA), ring_addr(AVAIL_GPA),
			    ring_addr(USED_GPA)) < 0)
		abort(); /* fixed areas that always fit */
	if (FUZZ_RING_INFLIGHT)
		vhu_vq_set_inflight(&f->vq, f->area, AREA_NUM);
	/* a start fails only on an area that does not add up (the queue broke) */
	if (vhu_vq_start(&f->vq) < 0 && !(FUZZ_RING_INFLIGHT && vhu_vq_broken(&f->vq)))
		abort();
	f->vq.call_fd = event_fd;
	f->vq.err_fd = event_fd;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_SIZE] = { 0 };
	struct fuzz f = { 0 };
	size_t n;

	if (event_fd < 0) {
		event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		quiet_log.fn = quiet;
		quiet_log.level = VHU_LOG_ERR;
	}
	memcpy(hdr, data, size < HDR_SIZE ? size : HDR_SIZE);
	f.ops = size > HDR_SIZE ? data + HDR_SIZE : NULL;
	f.nops = size > HDR_SIZE ? (unsigned int)(size - HDR_SIZE < NOPS ? size - HDR_SIZE : NOPS)
				 : 0;
	f.host[0] = calloc(1, MEM0);
	f.host[1] = calloc(1, MEM1);
	f.area = AREA ? calloc(1, AREA) : NULL;
	if (!f.host[0] || !f.host[1] || (AREA && !f.area))
		abort();
#if FUZZ_RING_INFLIGHT
	if (size > HDR_SIZE + NOPS) {
		n = size - HDR_SIZE - NOPS < AREA ? size - HDR_SIZE - NOPS : AREA;
		memcpy(f.area, data + HDR_SIZE + NOPS, n);
		data += n;
		size -= n;
	}
#endif
	if (size > HDR_SIZE + NOPS) {
		data += HDR_SIZE + NOPS;
		size -= HDR_SIZE + NOPS;
		n = size < MEM0 ? size : MEM0;
		memcpy(f.host[0], data, n);
		if (size > MEM0)
			memcpy(f.host[1], data + MEM0, size - MEM0 < MEM1 ? size - MEM0 : MEM1);
	}
	mem_setup(&f);
	queue_setup(&f, hdr);
	while (f.pos < f.nops)
		run_op(&f, take(&f));
	for (unsigned int i = 0; i < 2u * f.vq.num + 8 && pop_one(&f); i++)
		push_oldest(&f, (uint32_t)i);
	(void)vhu_vq_notify(&f.vq);
	if (event_fd >= 0) {
		eventfd_t v;

		(void)eventfd_read(event_fd, &v);
	}
	/* the fds and the table are the harness's: only the resubmit list is the queue's */
	vhu_inflight_stop(&f.vq);
	if (FUZZ_RING_IOMMU)
		vhu_iotlb_fini(&tlb);
	free(f.area);
	free(f.host[0]);
	free(f.host[1]);
	return 0;
}

#endif /* VHU_FUZZ_RING_H */
