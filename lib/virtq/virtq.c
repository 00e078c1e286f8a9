/* SPDX-License-Identifier: MIT */
/*
 * The layout-independent half of a virtqueue: setup from the control thread
 * (size, base, fds; the ring addresses in map.c), dirty logging, breaking a
 * queue, and the public entry points, which dispatch to split.c or
 * packed.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <linux/vhost_types.h>

#include "common/util.h"
#include "virtq/inflight.h"
#include "virtq/virtq.h"

#define FEATURE_INDIRECT_DESC 28   /* VIRTIO_RING_F_INDIRECT_DESC */
#define FEATURE_EVENT_IDX 29	   /* VIRTIO_RING_F_EVENT_IDX */
#define FEATURE_RING_PACKED 34	   /* VIRTIO_F_RING_PACKED */
#define FEATURE_IN_ORDER 35	   /* VIRTIO_F_IN_ORDER */
#define FEATURE_ACCESS_PLATFORM 33 /* VIRTIO_F_ACCESS_PLATFORM */

/* packed base encoding (QEMU's): a 15-bit slot and its wrap counter in bit 15 */

void vhu_vq_init(struct vhu_vq *vq, unsigned int index, struct vhu_mem *mem,
		 const struct vhu_log *log)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->mem = mem;
	vq->log = log;
	/* spec: "Driver and Device Ring Wrap Counters" start at 1 */
	vq->avail_wrap = true;
	vq->used_wrap = true;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

void vhu_vq_set_iotlb(struct vhu_vq *vq, struct vhu_iotlb *iotlb)
{
	vq->iotlb = iotlb;
}

int vhu_vq_set_features(struct vhu_vq *vq, uint64_t features)
{
	bool packed = features & (1ull << FEATURE_RING_PACKED);
	bool iommu = vq->iotlb && (features & (1ull << FEATURE_ACCESS_PLATFORM));
	bool relayout = vq->started && (packed != vq->packed || iommu != vq->iommu);

	vq->packed = packed;
	vq->iommu = iommu;
	vq->tlb_miss = false;
	vq->event_idx = features & (1ull << FEATURE_EVENT_IDX);
	vq->indirect = features & (1ull << FEATURE_INDIRECT_DESC);
	vq->in_order = features & (1ull << FEATURE_IN_ORDER);
	/* a running ring's addresses now hold another layout: check them again */
	if (relayout)
		(void)vhu_vq_remap(vq);
	return 0;
}

int vhu_vq_set_num(struct vhu_vq *vq, uint32_t num)
{
	if (num == 0 || num > VHU_VQ_MAX_SIZE)
		return -EINVAL;
	if (!vq->packed && !vhu_is_pow2(num))
		return -EINVAL;
	vq->num = (uint16_t)num; /* VHU_VQ_MAX_SIZE fits 16 bits */
	/*
	 * The areas grow with num: a running ring must still be wholly mapped.
	 * A stopped ring is checked when it starts (the back-end remaps then),
	 * so stale addresses from before a reset never break it.
	 */
	if (vq->started)
		return vhu_vq_remap(vq);
	return 0;
}

int vhu_vq_set_base(struct vhu_vq *vq, uint32_t base)
{
	uint16_t avail = base & 0xffff, used = base >> 16;

	if (!vq->packed) {
		if (base > UINT16_MAX)
			return -EINVAL;
		vq->last_avail_idx = avail;
		vq->used_idx = avail; /* replaced from the used ring on start */
		return 0;
	}
	/*
	 * DPDK's virtio-user (22.11) sends the avail half only (0x8000 for a
	 * new ring), as the spec had it before the used half was added; its
	 * own vhost library, like QEMU's libvhost-user then, starts used at
	 * avail. Do the same when the used half is absent. (A used half of 0,
	 * slot 0 and wrap 0, is also a real position; a ring handed over with
	 * nothing in flight has used == avail anyway, and with an inflight
	 * region the region decides.)
	 */
	if (used == 0)
		used = avail;
	if ((avail & VHU_PACKED_SLOT_MASK) >= vq->num || (used & VHU_PACKED_SLOT_MASK) >= vq->num)
		return -EINVAL;
	vq->last_avail_idx = avail & VHU_PACKED_SLOT_MASK;
	vq->avail_wrap = avail & VHU_VRING_BASE_WRAP;
	vq->used_idx = used & VHU_PACKED_SLOT_MASK;
	vq->used_wrap = used & VHU_VRING_BASE_WRAP;
	return 0;
}

uint32_t vhu_vq_get_base(const struct vhu_vq *vq)
{
	uint32_t avail, used;

	if (!vq->packed)
		return vq->last_avail_idx;
	avail = vq->last_avail_idx | (vq->avail_wrap ? VHU_VRING_BASE_WRAP : 0);
	used = vq->used_idx | (vq->used_wrap ? VHU_VRING_BASE_WRAP : 0);
	return avail | used << 16;
}

/* What a start does with the ring (deferred under an IOMMU until the ring translates). */
static int ring_ready(struct vhu_vq *vq)
{
	int ret;

	/*
	 * Split: resume writing where the used ring says we stopped, as
	 * libvhost-user does; the index only picks the next used slot, so a
	 * driver that lies here only confuses itself.
	 */
	if (!vq->packed)
		vq->used_idx = vhu_vq_load16(&vq->used->idx);
	/* with an inflight region, it says where the ring stands (inflight.h) */
	ret = vhu_inflight_start(vq);
	if (ret < 0)
		return ret;
	vq->signalled_used_valid = false;
	vq->avail_ahead = 0; /* the next pop reads avail->idx */
	/*
	 * Notifications start enabled, in the ring too: a ring resumed from a
	 * device that had them off (before a crash, a reconnect) would get no
	 * kick from a driver that sees the old flag.
	 */
	vq->notify_off = false;
	vq->poll_quiet = false;
	(void)(vq->packed ? vhu_packed_enable_notify(vq, true) : vhu_split_enable_notify(vq, true));
	return 0;
}

int vhu_vq_start(struct vhu_vq *vq)
{
	int ret;

	if (vq->num == 0 || !vq->addr_set)
		return -EINVAL;
	/* size, layout or memory may have changed while stopped: map it now */
	ret = vhu_vq_remap(vq);
	if (ret < 0)
		return ret;
	vq->start_pending = !vq->ring_ok; /* an IOTLB miss: the first fetch finishes the start */
	if (!vq->start_pending) {
		ret = ring_ready(vq);
		if (ret < 0)
			return ret;
	}
	vq->started = true;
	return 0;
}

/*
 * Before a fetch under an IOMMU: not while the last miss waits for the
 * table to change, and with the ring areas translated under the table as it
 * is now (an INVALIDATE may have taken them). Return: 0, -EAGAIN (a miss:
 * nothing to fetch now) or -EIO (broken).
 */
static int fetch_ready(struct vhu_vq *vq)
{
	struct vhu_ring_ptrs p;
	int ret;

	if (!vq->iommu)
		return 0;
	if (vq->tlb_miss && vq->tlb_miss_gen == vq->iotlb->gen) {
		if (vq->tlb_resend)
			vhu_vq_tlb_send_miss(vq); /* the channel was full */
		return -EAGAIN;
	}
	vq->tlb_miss = false;
	if (vq->ring_ok && !vq->start_pending && vq->ring_gen == vq->iotlb->gen)
		return 0;
	ret = vhu_vq_ring_map(vq, vq->desc_uva, vq->avail_uva, vq->used_uva, &p);
	if (ret == -EAGAIN)
		return ret; /* the old pointers stay for completions of what is in flight */
	if (ret < 0)
		return vhu_vq_break(vq, "ring addresses do not translate (%s)", strerror(-ret));
	vhu_vq_ring_set(vq, &p);
	if (vq->start_pending) {
		vq->start_pending = false;
		ret = ring_ready(vq);
		if (ret < 0)
			return vhu_vq_break(vq, "ring cannot start (%s)", strerror(-ret));
	}
	return 0;
}

bool vhu_vq_tlb_waiting(const struct vhu_vq *vq)
{
	return vq->iommu && vq->tlb_miss && vq->tlb_miss_gen == vq->iotlb->gen && !vq->broken;
}

VHU_API bool vhu_vq_iotlb_waiting(const struct vhu_vq *vq)
{
	return vhu_vq_tlb_waiting(vq);
}

/* ---- dirty logging ---------------------------------------------------------- */

static int log_fail(struct vhu_vq *vq, int err, const void *p, uint64_t len)
{
	uint64_t gpa = 0, room;

	(void)vhu_mem_host_to_gpa(vq->mem, p, &gpa, &room);
	if (err == -ERANGE)
		return vhu_vq_break(vq,
				    "dirty log: a write at gpa 0x%" PRIx64 " (+%" PRIu64
				    ") lies past the log's %" PRIu64 " bytes",
				    gpa, len, vq->dlog->size);
	return vhu_vq_break(vq, "dirty log: a write of %" PRIu64 " bytes outside guest memory",
			    len);
}

static int log_host(struct vhu_vq *vq, const void *p, uint64_t len, unsigned int *newly)
{
	int ret = vhu_dlog_mark_host(vq->dlog, vq->mem, p, len, newly);

	return ret < 0 ? log_fail(vq, ret, p, len) : 0;
}

/* The first @len bytes of @req's writable buffers: what the device wrote. */
static int log_req(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len, unsigned int *newly)
{
	for (uint32_t i = req->out_num; len && i < req->out_num + req->in_num; i++) {
		uint64_t n = req->iov[i].iov_len < len ? req->iov[i].iov_len : len;
		int ret = log_host(vq, req->iov[i].iov_base, n, newly);

		if (ret < 0)
			return ret;
		len -= (uint32_t)n;
	}
	return 0;
}

/* Entries [from, from + n) of a ring of vq->num entries of @esize at @base, wrapping. */
static int log_entries(struct vhu_vq *vq, void *base, size_t esize, uint16_t from, uint32_t n,
		       unsigned int *newly)
{
	uint32_t first = n < (uint32_t)vq->num - from ? n : (uint32_t)vq->num - from;
	int ret = log_host(vq, (uint8_t *)base + (size_t)from * esize, (uint64_t)first * esize,
			   newly);

	if (ret == 0 && n > first)
		ret = log_host(vq, base, (uint64_t)(n - first) * esize, newly);
	return ret;
}

/*
 * What a push wrote into the ring, from the used position @old (split: the
 * free-running used index; packed: the slot) to the current one: split, the
 * used elements and used->idx; packed, the descriptor slots.
 */
static int log_used(struct vhu_vq *vq, uint16_t old, unsigned int *newly)
{
	uint32_t n;
	int ret;

	if (!vq->log_used)
		return 0;
	if (!vq->packed) {
		n = (uint16_t)(vq->used_idx - old);
		ret = log_entries(vq, vq->used->ring, sizeof(struct vring_used_elem),
				  (uint16_t)(old & (vq->num - 1)), n, newly);
		return ret < 0 ? ret : log_host(vq, &vq->used->idx, sizeof(vq->used->idx), newly);
	}
	n = vq->used_idx >= old ? (uint32_t)vq->used_idx - old
				: (uint32_t)vq->num - old + vq->used_idx;
	return log_entries(vq, vq->pdesc, sizeof(struct vring_packed_desc), old, n, newly);
}

/* Everything of the ring the device writes (at stop: QEMU syncs the log after GET_VRING_BASE). */
static void log_ring_all(struct vhu_vq *vq)
{
	unsigned int newly = 0;

	if (!vq->dlog || !vq->log_used || vq->broken)
		return;
	if (!vq->packed)
		(void)log_host(vq, vq->used,
			       offsetof(struct vring_used, ring) +
				       (uint64_t)vq->num * sizeof(struct vring_used_elem) +
				       sizeof(uint16_t),
			       &newly);
	else if (log_host(vq, vq->pdesc, (uint64_t)vq->num * sizeof(struct vring_packed_desc),
			  &newly) == 0)
		(void)log_host(vq, vq->device_event, sizeof(*vq->device_event), &newly);
	if (newly)
		vhu_dlog_kick(vq->dlog);
}

void vhu_vq_set_dirty_log(struct vhu_vq *vq, const struct vhu_dirty_log *dlog, bool log_used)
{
	vq->dlog = dlog;
	vq->log_used = log_used;
}

void vhu_vq_stop(struct vhu_vq *vq)
{
	if (vq->started)
		log_ring_all(vq);
	vq->started = false;
	vhu_inflight_stop(vq);
}

void vhu_vq_set_fd(int *slot, int fd)
{
	vhu_close_fd(slot);
	*slot = fd;
}

void vhu_vq_reset(struct vhu_vq *vq)
{
	void *priv = vq->priv;				    /* the device's: it outlives the ring */
	struct vhu_iotlb *iotlb = vq->iotlb;		    /* the back-end's, as mem */
	void (*inband)(struct vhu_vq *, bool) = vq->inband; /* negotiated, not the ring's */

	vhu_close_fd(&vq->kick_fd);
	vhu_close_fd(&vq->call_fd);
	vhu_close_fd(&vq->err_fd);
	vhu_inflight_stop(vq); /* the region is the back-end's, and forgotten with the ring */
	/* a device reset renegotiates the features and forgets the ring */
	vhu_vq_init(vq, vq->index, vq->mem, vq->log);
	vq->priv = priv;
	vq->iotlb = iotlb;
	vq->inband = inband;
}

int vhu_vq_break(struct vhu_vq *vq, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (vq->broken)
		return -EIO;
	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vhu_logf(vq->log, VHU_LOG_ERR, "queue %u broken: %s", vq->index, reason);
	if (vq->err_fd >= 0)
		(void)eventfd_write(vq->err_fd, 1); /* a full counter still wakes the reader */
	else if (vq->inband)
		vq->inband(vq, true);
	return -EIO;
}

/* ---- public API ----------------------------------------------------------- */

static int vq_usable(const struct vhu_vq *vq)
{
	if (vq->broken)
		return -EIO;
	if (!vq->started)
		return -EAGAIN;
	return 0;
}

VHU_API struct vhu_req *vhu_reqs_new(unsigned int n, uint32_t iov_max)
{
	struct vhu_req *reqs;
	struct iovec *iov;
	size_t each;

	if (n == 0 || iov_max == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (iov_max > VHU_REQ_MAX_IOV)
		iov_max = VHU_REQ_MAX_IOV;
	each = sizeof(*reqs) + (size_t)iov_max * sizeof(*iov);
	if (n > SIZE_MAX / each) {
		errno = ENOMEM;
		return NULL;
	}
	reqs = calloc(n, each);
	if (!reqs)
		return NULL;
	iov = (struct iovec *)(reqs + n);
	for (unsigned int i = 0; i < n; i++)
		vhu_req_init(&reqs[i], &iov[(size_t)i * iov_max], iov_max);
	return reqs;
}

VHU_API int vhu_vq_pop(struct vhu_vq *vq, struct vhu_req *req)
{
	int ret = vq_usable(vq);

	if (ret < 0)
		return ret;
	if (!req->iov || req->iov_max == 0 || req->iov_max > VHU_REQ_MAX_IOV) {
		vhu_err(vq->log, "queue %u: pop into a request without iovecs (vhu_req_init)",
			vq->index);
		return -EINVAL;
	}
	ret = fetch_ready(vq);
	if (ret < 0)
		return ret == -EAGAIN ? 0 : ret;
	/* what was in flight before a restart goes first, in the order it was fetched */
	if (vq->resubmit_i < vq->resubmit_n)
		ret = vhu_inflight_resubmit(vq, req);
	else
		ret = vq->packed ? vhu_packed_pop(vq, req) : vhu_split_pop(vq, req);
	/* an IOTLB miss: the chain stays in the ring for the next fetch */
	return ret == -EAGAIN ? 0 : ret;
}

/* A completion needs the ring: under an IOMMU it may have lost it (vhu_vq_remap). */
static int push_ready(struct vhu_vq *vq)
{
	if (vq->ring_ok && !vq->start_pending)
		return 0;
	return vhu_vq_break(vq, "completion while the ring is not translated");
}

/*
 * A push while migrating: the data's pages are marked after the device wrote
 * them and before the used index publishes them; the ring's own writes right
 * after they are made (the front-end reads the log only once the ring stops).
 */
static int push_logged(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len, int clamped)
{
	uint16_t old = vq->used_idx;
	unsigned int newly = 0;
	int ret = log_req(vq, req, len, &newly);

	if (ret == 0)
		ret = vq->packed ? vhu_packed_push(vq, req, len) : vhu_split_push(vq, req, len);
	if (ret == 0)
		ret = log_used(vq, old, &newly);
	if (newly)
		vhu_dlog_kick(vq->dlog);
	return ret < 0 ? ret : clamped;
}

VHU_API int vhu_vq_log_write(struct vhu_vq *vq, const void *p, size_t len)
{
	unsigned int newly = 0;
	int ret;

	if (vhu_likely(vq->dlog == NULL))
		return 0;
	ret = log_host(vq, p, len, &newly);
	if (newly)
		vhu_dlog_kick(vq->dlog);
	return ret;
}

VHU_API int vhu_vq_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len)
{
	int ret = vq_usable(vq), clamped = 0;

	if (ret < 0)
		return ret;
	if (push_ready(vq) < 0)
		return -EIO;
	if (len > req->in_size) {
		len = (uint32_t)req->in_size; /* len > in_size, so in_size fits */
		clamped = -EINVAL;
	}
	if (vhu_unlikely(vq->dlog != NULL))
		return push_logged(vq, req, len, clamped);
	ret = vq->packed ? vhu_packed_push(vq, req, len) : vhu_split_push(vq, req, len);
	return ret < 0 ? ret : clamped;
}

VHU_API int vhu_vq_unpop(struct vhu_vq *vq, const struct vhu_req *req)
{
	int ret = vq_usable(vq);

	if (ret < 0)
		return ret;
	if (vq->inflight_on)
		return -EBUSY; /* the region recorded the fetch: complete it instead */
	if (push_ready(vq) < 0)
		return -EIO;
	return vq->packed ? vhu_packed_unpop(vq, req) : vhu_split_unpop(vq, req);
}

VHU_API int vhu_vq_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			      unsigned int n)
{
	uint32_t l[VHU_VQ_PUSH_BURST_MAX];
	int ret = vq_usable(vq), err = 0;
	bool logged = false;
	uint16_t old = 0;

	if (ret < 0)
		return ret;
	if (n > VHU_VQ_PUSH_BURST_MAX)
		return -E2BIG;
	if (push_ready(vq) < 0)
		return -EIO;
	for (unsigned int i = 0; i < n; i++) {
		l[i] = lens ? lens[i] : 0;
		if (l[i] > reqs[i].in_size) {
			l[i] = (uint32_t)reqs[i].in_size;
			err = -EINVAL;
		}
	}
	if (vhu_unlikely(vq->dlog != NULL)) {
		unsigned int newly = 0;

		for (unsigned int i = 0; i < n; i++)
			if (reqs[i].id < vq->num && log_req(vq, &reqs[i], l[i], &newly) < 0)
				return -EIO;
		old = vq->used_idx;
		logged = true;
		if (newly)
			vhu_dlog_kick(vq->dlog);
	}
	if (!vq->packed)
		ret = vhu_split_push_burst(vq, reqs, l, n);
	else if (lens == NULL && n > 1 && vq->in_order && !vq->inflight_on)
		ret = vhu_packed_push_in_order(vq, reqs, n);
	else if (n > 1 && !vq->inflight_on && vhu_packed_push_burst(vq, reqs, l, n) == 0)
		ret = 0;
	else
		for (unsigned int i = 0; i < n; i++)
			if (vhu_packed_push(vq, &reqs[i], l[i]) < 0)
				ret = -EINVAL;
	if (logged) {
		unsigned int newly = 0;

		if (log_used(vq, old, &newly) < 0)
			return -EIO;
		if (newly)
			vhu_dlog_kick(vq->dlog);
	}
	return ret < 0 ? ret : err;
}

VHU_API int vhu_vq_notify(struct vhu_vq *vq)
{
	bool need;

	if (vq_usable(vq) < 0 || !vq->ring_ok || vq->start_pending)
		return 0;
	need = vq->packed ? vhu_packed_need_notify(vq) : vhu_split_need_notify(vq);
	if (need && vq->call_fd < 0 && vq->inband) {
		vq->inband(vq, false);
		return 1;
	}
	if (!need || vq->call_fd < 0)
		return 0;
	/* EAGAIN only when the counter is full: the driver is already woken */
	(void)eventfd_write(vq->call_fd, 1);
	return 1;
}

VHU_API bool vhu_vq_enable_notify(struct vhu_vq *vq, bool enable)
{
	bool avail;

	if (vq_usable(vq) < 0 || fetch_ready(vq) < 0)
		return false;
	avail = vq->packed ? vhu_packed_enable_notify(vq, enable)
			   : vhu_split_enable_notify(vq, enable);

	return avail || (enable && vq->resubmit_i < vq->resubmit_n);
}

bool vhu_vq_poll_quiet(struct vhu_vq *vq, bool quiet)
{
	bool avail;

	if (vq_usable(vq) < 0 || fetch_ready(vq) < 0) {
		if (!quiet)
			vq->poll_quiet = false; /* never left on: vhu_vq_start() resets it anyway */
		return false;
	}
	avail = vq->packed ? vhu_packed_poll_quiet(vq, quiet) : vhu_split_poll_quiet(vq, quiet);
	return avail || (!quiet && vq->resubmit_i < vq->resubmit_n);
}

VHU_API bool vhu_vq_has_avail(struct vhu_vq *vq)
{
	if (vq_usable(vq) < 0 || fetch_ready(vq) < 0)
		return false;
	if (vq->resubmit_i < vq->resubmit_n)
		return true;
	return vq->packed ? vhu_packed_has_avail(vq) : vhu_split_has_avail(vq);
}

VHU_API int vhu_vq_gpa_iov(struct vhu_vq *vq, uint64_t gpa, uint64_t size, struct iovec *iov,
			   unsigned int max_iov)
{
	if (vq->iommu)
		return -ENOTSUP;
	return vhu_mem_gpa_iov(vq->mem, gpa, size, iov, max_iov);
}

VHU_API uint64_t vhu_vq_mem_gen(const struct vhu_vq *vq)
{
	return vq->mem->gen;
}

VHU_API unsigned int vhu_vq_index(const struct vhu_vq *vq)
{
	return vq->index;
}

VHU_API unsigned int vhu_vq_size(const struct vhu_vq *vq)
{
	return vq->num;
}

VHU_API bool vhu_vq_broken(const struct vhu_vq *vq)
{
	return vq->broken;
}

VHU_API void vhu_vq_set_priv(struct vhu_vq *vq, void *priv)
{
	vq->priv = priv;
}

VHU_API void *vhu_vq_priv(const struct vhu_vq *vq)
{
	return vq->priv;
}
