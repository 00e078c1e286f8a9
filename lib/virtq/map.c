/* SPDX-License-Identifier: MIT */
/*
 * Where a virtqueue's guest addresses point in this process: its three
 * ring areas (checked for size and alignment) and the buffers its
 * descriptors name, through the memory table or, behind a virtual IOMMU,
 * the device IOTLB (a miss is reported to the front-end and the fetch
 * waits; see virtq.h, "IOTLB").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <linux/vhost_types.h>

#include "common/util.h"
#include "virtq/virtq.h"

/* Tell the front-end (BACKEND_IOTLB_MSG); the back-end's callback never waits. */
static int tlb_report(struct vhu_vq *vq, uint8_t type, uint64_t iova, uint8_t perm)
{
	if (!vq->iotlb->report)
		return -ENOTCONN;
	return vq->iotlb->report(vq->iotlb->report_arg, type, iova, perm);
}

/*
 * Send the MISS of tlb_miss_iova, unless one for its page is pending (any
 * queue's): its answer wakes this queue too. One the channel had no room
 * for is tried again later.
 */
void vhu_vq_tlb_send_miss(struct vhu_vq *vq)
{
	vq->tlb_resend = false;
	if (!vhu_iotlb_miss_begin(vq->iotlb, vq->tlb_miss_iova))
		return;
	if (tlb_report(vq, VHOST_IOTLB_MISS, vq->tlb_miss_iova, vq->tlb_miss_perm) == -EAGAIN) {
		vhu_iotlb_miss_cancel(vq->iotlb, vq->tlb_miss_iova);
		vq->tlb_resend = true;
	}
}

/* A translation missed: remember it (fetches wait for the table to change) and report it. */
static int tlb_missed(struct vhu_vq *vq, uint64_t iova, uint8_t perm)
{
	vq->tlb_miss = true;
	vq->tlb_miss_iova = iova;
	vq->tlb_miss_perm = perm;
	vq->tlb_miss_gen = vq->iotlb->gen;
	vhu_vq_tlb_send_miss(vq);
	return -EAGAIN;
}

/* One ring area through the IOTLB: it must be one host-contiguous piece. */
static int tlb_area(struct vhu_vq *vq, uint64_t iova, uint64_t size, uint8_t perm, void **out)
{
	struct iovec iov;
	uint64_t fault = 0;
	int n = vhu_iotlb_iov(vq->iotlb, &vq->tlb_cache, iova, size, perm, &iov, 1, &fault);

	if (n == -EAGAIN)
		return tlb_missed(vq, fault, perm);
	if (n == -EACCES) {
		(void)tlb_report(vq, VHOST_IOTLB_ACCESS_FAIL, fault, perm);
		return -EACCES;
	}
	if (n != 1)
		return -EFAULT; /* wraps, or pieces apart in host memory */
	*out = iov.iov_base;
	return 0;
}

/*
 * One ring area: aligned (as the front-end gave it and as we map it) and
 * wholly mapped; with iommu, @uva is an IOVA and @perm what the device
 * does there.
 */
static int map_area(struct vhu_vq *vq, uint64_t uva, uint64_t size, uint64_t align, uint8_t perm,
		    void **out)
{
	void *p = NULL;

	if (uva & (align - 1))
		return -EINVAL;
	if (vq->iommu) {
		int ret = tlb_area(vq, uva, size, perm, &p);

		if (ret < 0)
			return ret;
	} else {
		p = vhu_mem_uva_ptr(vq->mem, uva, size);
	}
	if (!p)
		return -EFAULT;
	/* a region whose uva and mmap offset disagree in their low bits */
	if ((uintptr_t)p & (align - 1))
		return -EINVAL;
	*out = p;
	return 0;
}

/*
 * Translate and check the three areas for vq->num and the layout. Sizes
 * include the event-idx fields whether or not they were negotiated, as the
 * spec's layout (and every driver) reserves them.
 */
int vhu_vq_ring_map(struct vhu_vq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
		    struct vhu_ring_ptrs *p)
{
	const uint8_t r = VHU_IOTLB_READ, rw = VHU_IOTLB_READ | VHU_IOTLB_WRITE;
	uint64_t num = vq->num;
	int ret;

	if (num == 0)
		return -EINVAL;
	if (vq->packed) {
		/* the device writes used descriptors into the ring and its event struct */
		ret = map_area(vq, desc_uva, num * sizeof(struct vring_packed_desc), 16, rw,
			       &p->desc);
		if (ret == 0)
			ret = map_area(vq, avail_uva, sizeof(struct vring_packed_desc_event), 4, r,
				       &p->avail);
		if (ret == 0)
			ret = map_area(vq, used_uva, sizeof(struct vring_packed_desc_event), 4, rw,
				       &p->used);
		return ret;
	}
	/* spec: "Virtqueue Alignment": desc 16, avail 2, used 4 */
	ret = map_area(vq, desc_uva, num * sizeof(struct vring_desc), 16, r, &p->desc);
	if (ret == 0)
		ret = map_area(vq, avail_uva, sizeof(struct vring_avail) + 2 * num + 2, 2, r,
			       &p->avail);
	if (ret == 0)
		ret = map_area(vq, used_uva,
			       sizeof(struct vring_used) + num * sizeof(struct vring_used_elem) + 2,
			       4, rw, &p->used);
	return ret;
}

void vhu_vq_ring_set(struct vhu_vq *vq, const struct vhu_ring_ptrs *p)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->pdesc = NULL;
	vq->driver_event = NULL;
	vq->device_event = NULL;
	vq->ring_ok = p != NULL;
	if (!p)
		return;
	if (vq->iommu)
		vq->ring_gen = vq->iotlb->gen;
	if (vq->packed) {
		vq->pdesc = p->desc;
		vq->driver_event = p->avail;
		vq->device_event = p->used;
	} else {
		vq->desc = p->desc;
		vq->avail = p->avail;
		vq->used = p->used;
	}
}

int vhu_vq_set_addr(struct vhu_vq *vq, uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva)
{
	struct vhu_ring_ptrs p;
	int ret;

	ret = vhu_vq_ring_map(vq, desc_uva, avail_uva, used_uva, &p);
	if (ret < 0 && !(ret == -EAGAIN && vq->iommu))
		return ret; /* the previous addresses, if any, stay */
	vq->desc_uva = desc_uva;
	vq->avail_uva = avail_uva;
	vq->used_uva = used_uva;
	vq->addr_set = true;
	/* IOVAs with no entry yet (QEMU sends them first): translated before the first fetch */
	vhu_vq_ring_set(vq, ret == 0 ? &p : NULL);
	return 0;
}

int vhu_vq_remap(struct vhu_vq *vq)
{
	struct vhu_ring_ptrs p;
	int ret;

	if (!vq->addr_set)
		return 0;
	ret = vhu_vq_ring_map(vq, vq->desc_uva, vq->avail_uva, vq->used_uva, &p);
	if (ret == -EAGAIN && vq->iommu) {
		vhu_vq_ring_set(vq, NULL); /* translated again before the next fetch */
		return 0;
	}
	if (ret < 0) {
		vhu_vq_ring_set(vq, NULL);
		vq->addr_set = false;
		vhu_vq_break(vq, "ring addresses no longer mapped (%s)", strerror(-ret));
		return -EFAULT;
	}
	vhu_vq_ring_set(vq, &p);
	return 0;
}

/* ---- descriptors, shared by both layouts -------------------------------- */

int vhu_vq_map_desc_slow(struct vhu_vq *vq, struct vhu_req *req, uint64_t addr, uint32_t len,
			 bool writable)
{
	uint32_t used = req->out_num + req->in_num;
	int n;

	if (len == 0)
		return 0;
	if (!writable && req->in_num)
		return vhu_vq_break(vq, "readable buffer after a writable one");
	if (vq->iommu) {
		uint8_t perm = writable ? VHU_IOTLB_WRITE : VHU_IOTLB_READ;
		uint64_t fault = 0;

		n = vhu_iotlb_iov(vq->iotlb, &vq->tlb_cache, addr, len, perm, &req->iov[used],
				  req->iov_max - used, &fault);
		if (n == -EAGAIN)
			return tlb_missed(vq, fault, perm);
		if (n == -EACCES) {
			/* the request goes to the device without this buffer, marked */
			(void)tlb_report(vq, VHOST_IOTLB_ACCESS_FAIL, fault, perm);
			req->fault = VHU_REQ_FAULT_ACCESS;
			return 0;
		}
	} else {
		n = vhu_mem_gpa_iov(vq->mem, addr, len, &req->iov[used], req->iov_max - used);
	}
	if (n == -ENOBUFS)
		return vhu_vq_break(vq, "request needs more than the device's %" PRIu32 " iovecs",
				    req->iov_max);
	if (n < 0)
		return vhu_vq_break(vq, "buffer 0x%" PRIx64 "+%" PRIu32 " not in guest memory",
				    addr, len);
	if (writable) {
		req->in_num += (uint32_t)n;
		req->in_size += len;
	} else {
		req->out_num += (uint32_t)n;
		req->out_size += len;
	}
	return 0;
}

void vhu_vq_ring_table(struct vhu_desc_table *t, void *ring, uint16_t num)
{
	t->iov[0].iov_base = ring;
	t->iov[0].iov_len = (size_t)num * VHU_RING_DESC_SIZE;
	t->niov = 1;
	t->num = num;
}

int vhu_vq_map_table(struct vhu_vq *vq, struct vhu_desc_table *t, uint64_t gpa, uint32_t len)
{
	int n;

	if (len == 0 || len % VHU_RING_DESC_SIZE)
		return vhu_vq_break(vq, "indirect table of %" PRIu32 " bytes", len);
	if (len / VHU_RING_DESC_SIZE > VHU_VQ_MAX_SIZE)
		return vhu_vq_break(vq, "indirect table of %" PRIu32 " entries",
				    len / VHU_RING_DESC_SIZE);
	if (vq->iommu) {
		uint64_t fault = 0;

		n = vhu_iotlb_iov(vq->iotlb, &vq->tlb_cache, gpa, len, VHU_IOTLB_READ, t->iov,
				  VHU_VQ_TABLE_MAX_IOV, &fault);
		if (n == -EAGAIN)
			return tlb_missed(vq, fault, VHU_IOTLB_READ);
		if (n == -EACCES) {
			(void)tlb_report(vq, VHOST_IOTLB_ACCESS_FAIL, fault, VHU_IOTLB_READ);
			return vhu_vq_break(vq, "indirect table 0x%" PRIx64 " may not be read",
					    gpa);
		}
	} else {
		n = vhu_mem_gpa_iov(vq->mem, gpa, len, t->iov, VHU_VQ_TABLE_MAX_IOV);
	}
	if (n == -ENOBUFS)
		return vhu_vq_break(vq, "indirect table spans more than %u regions",
				    VHU_VQ_TABLE_MAX_IOV);
	if (n < 0)
		return vhu_vq_break(vq,
				    "indirect table 0x%" PRIx64 "+%" PRIu32 " not in guest memory",
				    gpa, len);
	t->niov = (unsigned int)n;
	t->num = len / VHU_RING_DESC_SIZE;
	return 0;
}

void vhu_vq_read_desc_pieces(const struct vhu_desc_table *t, uint32_t i, void *desc)
{
	uint64_t off = (uint64_t)i * VHU_RING_DESC_SIZE;
	uint8_t *dst = desc;
	size_t left = VHU_RING_DESC_SIZE;

	/* i < t->num, so the 16 bytes are within the pieces */
	for (unsigned int k = 0; k < t->niov && left; k++) {
		size_t piece = t->iov[k].iov_len, n;

		if (off >= piece) {
			off -= piece;
			continue;
		}
		n = VHU_MIN(left, piece - (size_t)off);
		memcpy(dst, (uint8_t *)t->iov[k].iov_base + off, n);
		dst += n;
		left -= n;
		off = 0;
	}
}
