/* SPDX-License-Identifier: MIT */
/*
 * The front-end as the guest's IOMMU (spec: "IOMMU support"), when
 * VIRTIO_F_ACCESS_PLATFORM is negotiated.
 *
 * The back-end is given IOVAs (VHU_FE_IOVA_BASE + offset into the shared
 * memory) for the rings and every buffer, and nothing is mapped at first.
 * Each BACKEND_IOTLB_MSG MISS, received on the channel thread, is answered
 * with an IOTLB_MSG UPDATE of the page around it on the main socket (as
 * QEMU's vhost_device_iotlb_miss does). Requests on the main socket come
 * from the caller's thread and from the channel thread, so ch.lock
 * serialises each request with its reply.
 *
 * The window: with iotlb_window set, at most that many ranges are mapped;
 * a new one first invalidates the oldest, so a small window keeps the
 * back-end missing. vhu_frontend_iotlb_invalidate() may be called at any
 * time (invalidation storms in vhu-bench).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vhost_types.h>
#include <linux/virtio_config.h>

#include "common/util.h"
#include "frontend/internal.h"

#define IOTLB_PAGE_DEFAULT 4096u

/*
 * The request lock, for a front-end whose requests come from more than one
 * thread: the IOMMU role (the channel thread answers misses), in-band
 * notifications (VRING_KICK from each queue's driver thread), shared
 * objects (GET_SHARED_OBJECT from any front-end's channel thread).
 */
static int req_locks_init(struct vhu_frontend *fe)
{
	if (!(fe->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)) &&
	    !(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS)) &&
	    !(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_SHARED_OBJECT)))
		return 0;
	if (pthread_mutex_init(&fe->req_lock, NULL) || pthread_mutex_init(&fe->iotlb_lock, NULL))
		return -ENOMEM; /* glibc's never fail */
	fe->locks_init = true;
	fe->ch.lock = &fe->req_lock;
	return 0;
}

int vhu_fe_iommu_init(struct vhu_frontend *fe)
{
	uint64_t need = VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK);
	unsigned int page = fe->cfg.iotlb_page ? fe->cfg.iotlb_page : IOTLB_PAGE_DEFAULT;

	if (!(fe->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)))
		return req_locks_init(fe);
	if ((fe->protocol & need) != need) {
		vhu_err(&fe->log, "the IOMMU role needs BACKEND_REQ and REPLY_ACK negotiated");
		return -ENOTSUP;
	}
	if (!vhu_is_pow2(page)) {
		vhu_err(&fe->log, "iotlb_page %u is not a power of two", page);
		return -EINVAL;
	}
	fe->cfg.iotlb_page = page;
	if (fe->cfg.iotlb_window) {
		fe->win = calloc(fe->cfg.iotlb_window, sizeof(*fe->win));
		if (!fe->win)
			return -ENOMEM;
	}
	return req_locks_init(fe);
}

void vhu_fe_iommu_mem(struct vhu_frontend *fe)
{
	if (!(fe->features & VHU_BIT(VIRTIO_F_ACCESS_PLATFORM)))
		return;
	/*
	 * The channel thread (started before) serves misses from now on: what
	 * it reads of the memory is published by the lock it takes too.
	 */
	pthread_mutex_lock(&fe->iotlb_lock);
	fe->mem.dma_base = VHU_FE_IOVA_BASE;
	__atomic_store_n(&fe->iommu, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fe->iotlb_lock);
}

void vhu_fe_iommu_fini(struct vhu_frontend *fe)
{
	if (fe->locks_init) {
		pthread_mutex_destroy(&fe->iotlb_lock);
		pthread_mutex_destroy(&fe->req_lock);
		fe->locks_init = false;
	}
	fe->ch.lock = NULL;
	free(fe->win);
	fe->win = NULL;
}

static int send_iotlb(struct vhu_frontend *fe, uint8_t type, uint64_t iova, uint64_t size,
		      uint64_t uva, uint8_t perm)
{
	struct vhu_msg req;

	vhu_msg_init(&req, VHU_REQ_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	memset(&req.payload.iotlb, 0, sizeof(req.payload.iotlb));
	req.payload.iotlb.iova = iova;
	req.payload.iotlb.size = size;
	req.payload.iotlb.uaddr = uva;
	req.payload.iotlb.perm = perm;
	req.payload.iotlb.type = type;
	return vhu_fe_send_req(fe, &req);
}

static int invalidate_locked(struct vhu_frontend *fe, uint64_t iova, uint64_t size)
{
	uint64_t last = size ? iova + (size - 1) : UINT64_MAX;
	unsigned int k = 0, cap = fe->cfg.iotlb_window;
	int ret;

	if (last < iova)
		last = UINT64_MAX;
	ret = send_iotlb(fe, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0);
	fe->stats.invalidates++;
	/* the window forgets what the range touched, keeping the order of the rest */
	for (unsigned int i = 0; i < fe->win_n; i++) {
		struct vhu_fe_map m = fe->win[(fe->win_head + i) % cap];

		if (m.iova <= last && m.iova + (m.size - 1) >= iova)
			continue;
		fe->win[(fe->win_head + k++) % cap] = m;
	}
	fe->win_n = k;
	return ret;
}

/* Map [iova, iova + size) -> @p with @perm; the oldest mapping goes first when the window is full.
 */
static int map_locked(struct vhu_frontend *fe, uint64_t iova, uint64_t size, const void *p,
		      uint8_t perm)
{
	unsigned int cap = fe->cfg.iotlb_window;
	int ret;

	if (cap && fe->win_n == cap) {
		struct vhu_fe_map old = fe->win[fe->win_head];

		ret = invalidate_locked(fe, old.iova, old.size);
		if (ret < 0)
			return ret;
	}
	ret = send_iotlb(fe, VHOST_IOTLB_UPDATE, iova, size, vhu_fe_mem_uva(p), perm);
	fe->stats.updates++;
	if (ret == 0 && cap) {
		fe->win[(fe->win_head + fe->win_n) % cap] = (struct vhu_fe_map){ iova, size };
		fe->win_n++;
		/* the oldest is at win_head: a full window drops it first */
		if (fe->win_n > cap) {
			fe->win_head = (fe->win_head + 1) % cap;
			fe->win_n = cap;
		}
	}
	return ret;
}

static int miss(struct vhu_frontend *fe, uint64_t iova)
{
	uint64_t page = fe->cfg.iotlb_page, off, start, len;
	int ret;

	fe->stats.misses++;
	if (fe->iotlb_no_answer) {
		/* held, to be answered late; past the room, dropped (the queue times out) */
		if (fe->nheld < ARRAY_SIZE(fe->held))
			fe->held[fe->nheld++] = iova;
		fe->stats.unanswered++;
		return 0;
	}
	off = iova - VHU_FE_IOVA_BASE;
	if (iova < VHU_FE_IOVA_BASE || off >= fe->mem.size) {
		fe->stats.unanswered++;
		vhu_warn(&fe->log, "IOTLB miss at 0x%" PRIx64 ": not an IOVA of ours", iova);
		return -EFAULT;
	}
	start = off & ~(page - 1);
	len = VHU_MIN(page, fe->mem.size - start);
	ret = map_locked(fe, VHU_FE_IOVA_BASE + start, len, fe->mem.host + start, VHOST_ACCESS_RW);
	if (ret < 0)
		vhu_warn(&fe->log, "IOTLB miss at 0x%" PRIx64 ": UPDATE failed: %s", iova,
			 strerror(-ret));
	return ret;
}

int vhu_fe_iommu_msg(struct vhu_frontend *fe, const struct vhost_iotlb_msg *m)
{
	int ret = 0;

	if (!__atomic_load_n(&fe->iommu, __ATOMIC_ACQUIRE))
		return -ENOTSUP;
	pthread_mutex_lock(&fe->iotlb_lock);
	switch (m->type) {
	case VHOST_IOTLB_MISS:
		ret = miss(fe, m->iova);
		break;
	case VHOST_IOTLB_ACCESS_FAIL:
		fe->stats.access_fails++;
		vhu_warn(&fe->log, "IOTLB access failure at 0x%" PRIx64 " (perm 0x%x)",
			 (uint64_t)m->iova, m->perm);
		break;
	default:
		ret = -EINVAL;
	}
	pthread_mutex_unlock(&fe->iotlb_lock);
	return ret;
}

/* ---- public ------------------------------------------------------------------ */

bool vhu_frontend_iommu(const struct vhu_frontend *fe)
{
	return fe->iommu;
}

uint64_t vhu_frontend_iova(const struct vhu_frontend *fe, const void *p)
{
	uint64_t iova;

	return vhu_fe_mem_gpa(&fe->mem, p, 0, &iova) < 0 ? 0 : iova;
}

int vhu_frontend_iotlb_map(struct vhu_frontend *fe, const void *p, uint64_t size, uint8_t perm)
{
	uint64_t iova;
	int ret;

	if (!fe->iommu)
		return -EINVAL;
	if (vhu_fe_mem_gpa(&fe->mem, p, size, &iova) < 0)
		return -EFAULT;
	pthread_mutex_lock(&fe->iotlb_lock);
	ret = map_locked(fe, iova, size, p, perm);
	pthread_mutex_unlock(&fe->iotlb_lock);
	return ret;
}

int vhu_frontend_iotlb_invalidate(struct vhu_frontend *fe, uint64_t iova, uint64_t size)
{
	int ret;

	if (!fe->iommu)
		return -EINVAL;
	pthread_mutex_lock(&fe->iotlb_lock);
	ret = invalidate_locked(fe, iova, size);
	pthread_mutex_unlock(&fe->iotlb_lock);
	return ret;
}

void vhu_frontend_iotlb_answer(struct vhu_frontend *fe, bool answer)
{
	if (!fe->iommu)
		return;
	pthread_mutex_lock(&fe->iotlb_lock);
	fe->iotlb_no_answer = !answer;
	/* the misses held meanwhile get their UPDATE now: late, not lost */
	for (unsigned int i = 0; answer && i < fe->nheld; i++) {
		fe->stats.misses--; /* counted again by miss() */
		fe->stats.unanswered--;
		(void)miss(fe, fe->held[i]);
	}
	if (answer)
		fe->nheld = 0;
	pthread_mutex_unlock(&fe->iotlb_lock);
}

void vhu_frontend_iotlb_stats(struct vhu_frontend *fe, struct vhu_frontend_iotlb_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!fe->iommu)
		return;
	pthread_mutex_lock(&fe->iotlb_lock);
	*out = fe->stats;
	pthread_mutex_unlock(&fe->iotlb_lock);
}
