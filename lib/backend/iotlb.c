/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_MSG (spec: "IOMMU support"): the front-end's UPDATE and INVALIDATE
 * of the device IOTLB (lib/memory/iotlb.h), and the queues' MISS and
 * ACCESS_FAIL reports, which go out on the back-end channel.
 *
 * The row does not pause the queues: this handler pauses all of them, and
 * only when the table really changes (an INVALIDATE of nothing mapped, or
 * an UPDATE that is already there, leaves the workers alone). A pause is
 * also what wakes a queue parked on a miss (worker.c).
 *
 * INVALIDATE: when the reply (the ack QEMU waits for) goes out, no queue
 * can use a translation of that range for a new fetch: every queue was
 * paused, the entries are gone, and a queue translates its ring again after
 * any change. Requests fetched before keep their buffers until they are
 * completed (virtq.h, "IOTLB").
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "backend/backend.h"
#include "common/util.h"

/*
 * A queue missed or was refused an access: tell the front-end (any thread,
 * never waits). A report that could not go out is retried by the queue.
 */
static int report(void *arg, uint8_t type, uint64_t iova, uint8_t perm)
{
	struct vhu_backend *be = arg;
	int ret = vhu_be_chan_iotlb(be, type, iova, perm);

	vhu_trace(&be->log, "-> BACKEND_IOTLB_MSG %s iova 0x%" PRIx64 " perm %u: %d",
		  type == VHOST_IOTLB_MISS ? "MISS" : "ACCESS_FAIL", iova, perm, ret);
	return ret;
}

void vhu_be_iotlb_init(struct vhu_backend *be)
{
	vhu_iotlb_init(&be->iotlb, 0);
	be->iotlb.report = report;
	be->iotlb.report_arg = be;
	be->iotlb_timeout_ms = VHU_BACKEND_IOTLB_TIMEOUT_MS;
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_vq_set_iotlb(&be->queues[i].vq, &be->iotlb);
}

void vhu_be_iotlb_remap(struct vhu_backend *be)
{
	vhu_iotlb_remap(&be->iotlb, &be->mem);
}

static int update(struct vhu_backend *be, const struct vhost_iotlb_msg *m)
{
	const struct vhu_iotlb_entry *e = vhu_iotlb_find(&be->iotlb, m->iova);
	int ret;

	/* the same entry again (two queues missed on one page): no pause */
	if (e && e->iova == m->iova && e->size == m->size && e->uva == m->uaddr &&
	    e->perm == m->perm)
		return 0;
	vhu_be_queues_pause_all(be);
	ret = vhu_iotlb_update(&be->iotlb, &be->mem, m->iova, m->size, m->uaddr, m->perm);
	vhu_be_queues_resume_all(be);
	switch (ret) {
	case 0:
		return 0;
	case -EINVAL:
		return vhu_be_fail(be, ret,
				   "UPDATE 0x%" PRIx64 "+0x%" PRIx64 " perm 0x%x: size 0, a range "
				   "that wraps, or a permission that is not RO, WO or RW",
				   (uint64_t)m->iova, (uint64_t)m->size, m->perm);
	case -EFAULT:
		return vhu_be_fail(be, ret,
				   "UPDATE 0x%" PRIx64 "+0x%" PRIx64 ": uaddr 0x%" PRIx64
				   " is not in one memory region",
				   (uint64_t)m->iova, (uint64_t)m->size, (uint64_t)m->uaddr);
	case -ENOSPC:
		return vhu_be_fail(be, ret, "UPDATE 0x%" PRIx64 ": the IOTLB is full (%u entries)",
				   (uint64_t)m->iova, be->iotlb.max);
	default:
		return vhu_be_fail(be, ret, "UPDATE 0x%" PRIx64 ": %s", (uint64_t)m->iova,
				   strerror(-ret));
	}
}

static int invalidate(struct vhu_backend *be, const struct vhost_iotlb_msg *m)
{
	if (!vhu_iotlb_touches(&be->iotlb, m->iova, m->size))
		return 0; /* never mapped (or gone already): nothing to wait for */
	vhu_be_queues_pause_all(be);
	(void)vhu_iotlb_invalidate(&be->iotlb, m->iova, m->size);
	vhu_be_queues_resume_all(be);
	return 0;
}

int vhu_be_iotlb_msg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhost_iotlb_msg *m = &msg->payload.iotlb;

	(void)reply;
	vhu_trace(&be->log,
		  "IOTLB type %u iova 0x%" PRIx64 " size 0x%" PRIx64 " uaddr 0x%" PRIx64 " perm %u",
		  m->type, (uint64_t)m->iova, (uint64_t)m->size, (uint64_t)m->uaddr, m->perm);
	/* the row's gate says offered; using the IOTLB needs it negotiated */
	if (!(be->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)))
		return vhu_be_fail(be, -EPERM, "VIRTIO_F_ACCESS_PLATFORM is not negotiated");
	switch (m->type) {
	case VHOST_IOTLB_UPDATE:
		return update(be, m);
	case VHOST_IOTLB_INVALIDATE:
		return invalidate(be, m);
	case VHOST_IOTLB_MISS:
	case VHOST_IOTLB_ACCESS_FAIL:
		return vhu_be_fail(be, -EINVAL, "type %u is sent by the back-end, not to it",
				   m->type);
	default:
		/* BATCH_BEGIN/END are vhost-kernel's (VHOST_BACKEND_F_IOTLB_BATCH) */
		return vhu_be_fail(be, -EINVAL, "unknown IOTLB message type %u", m->type);
	}
}
