/* SPDX-License-Identifier: MIT */
#ifndef VHU_VIRTQ_H
#define VHU_VIRTQ_H

/*
 * What a device uses on a queue. A request is a descriptor chain the driver
 * made available, presented as iovecs that point straight into guest memory:
 * first the device-readable buffers (the driver's "out"), then the
 * device-writable ones ("in"). Nothing is copied.
 *
 * One thread at a time owns a queue: the worker that the back-end runs its
 * queue_kick op on. pop, push and notify are called only from there.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhu/version.h>

struct vhu_vq;

/* Largest ring a front-end may ask for (split and packed). */
#define VHU_VQ_MAX_SIZE 32768u
/*
 * Most iovecs one request may have. A device gives each request its own
 * iovec array (req->iov, req->iov_max entries, at most this many) and sizes
 * it for the chains it accepts: vhu-blk for the seg_max it advertises,
 * vhu-rng for a few buffers. A chain needing more breaks the queue.
 */
#define VHU_REQ_MAX_IOV 1024u

/*
 * req->fault: a buffer of the chain could not be given to the device. Only
 * with VIRTIO_F_ACCESS_PLATFORM: the IOMMU's entry for it does not allow the
 * access (a device-writable buffer mapped read-only, say). The buffer is
 * left out of the iovecs; the device fails the request (vhu-blk: IOERR) or
 * drops it (vhu-net), and completes it.
 */
#define VHU_REQ_FAULT_ACCESS 1u

struct vhu_req {
	/* the device's: set before vhu_vq_pop() (vhu_req_init), kept by the library */
	struct iovec *iov; /* room for iov_max iovecs */
	uint32_t iov_max;  /* 1..VHU_REQ_MAX_IOV */
	/* filled by vhu_vq_pop() */
	uint16_t id;	   /* split: head descriptor index; packed: buffer id */
	uint16_t ndescs;   /* ring slots the chain took (packed: to skip on push) */
	uint32_t out_num;  /* iov[0, out_num): the device reads these */
	uint32_t in_num;   /* iov[out_num, out_num + in_num): the device writes these */
	uint32_t fault;	   /* VHU_REQ_FAULT_*: 0, or why a buffer was left out */
	uint64_t out_size; /* bytes readable */
	uint64_t in_size;  /* bytes writable */
};

/**
 * vhu_req_init() - give a request its iovec array before its first pop.
 * @iov:     @iov_max iovecs the device owns (for as long as the request lives)
 * @iov_max: 1..VHU_REQ_MAX_IOV; more is used as VHU_REQ_MAX_IOV
 *
 * A request (and its array) can be popped into again once it was pushed.
 */
static inline void vhu_req_init(struct vhu_req *req, struct iovec *iov, uint32_t iov_max)
{
	*req = (struct vhu_req){ .iov = iov,
				 .iov_max = iov_max > VHU_REQ_MAX_IOV ? VHU_REQ_MAX_IOV : iov_max };
}

/**
 * vhu_reqs_new() - @n requests, each with its own array of @iov_max iovecs.
 *
 * One allocation; the iovecs are only touched when a pop fills them.
 * Free it with free().
 *
 * Return: the array, or NULL (errno ENOMEM, or EINVAL for @n or @iov_max 0).
 */
VHU_API struct vhu_req *vhu_reqs_new(unsigned int n, uint32_t iov_max);

/**
 * vhu_vq_pop() - take the next available request.
 * @vq:  the queue
 * @req: filled on success; untouched when nothing is available
 *
 * Every index, length and address read from the ring is checked where it is
 * read, and each descriptor is read once. A chain that loops, is longer than
 * the ring, points outside guest memory, nests indirect tables or has a
 * readable buffer after a writable one breaks the queue: it stops, the reason
 * is logged once, the error fd is signalled, and every later call fails.
 *
 * @req's iovecs go into req->iov; a chain that needs more than req->iov_max
 * breaks the queue.
 *
 * Return: 1 with @req filled, 0 when nothing is available, -EIO when the
 * queue is broken (now or before), -EAGAIN when the queue is not running,
 * -EINVAL (nothing taken) when @req has no iovec array (vhu_req_init).
 */
VHU_API int vhu_vq_pop(struct vhu_vq *vq, struct vhu_req *req);

/**
 * vhu_vq_iotlb_waiting() - whether the last vhu_vq_pop() stopped at an IOTLB miss.
 *
 * Only with VIRTIO_F_ACCESS_PLATFORM: pop returned 0 although the driver
 * has made a chain available, because an address in it (or in the ring) has
 * no IOTLB entry yet. The front-end was asked for one; pops return 0 until it
 * comes. The queue's own worker waits for it by itself; a device that pops
 * from other threads (vhu_vq_share) can tell "empty" from "not yet" here,
 * and keep what it wanted to deliver instead of dropping it.
 */
VHU_API bool vhu_vq_iotlb_waiting(const struct vhu_vq *vq);

/**
 * vhu_vq_push() - complete a request (put it on the used ring).
 * @vq:  the queue
 * @req: a request vhu_vq_pop() returned on this queue
 * @len: bytes the device wrote into the request's writable buffers
 *
 * Does not notify; call vhu_vq_notify() once per batch.
 *
 * Return: 0, -EINVAL if @len exceeds req->in_size (it is clamped and the
 * request still completes) or @req is not a request of this ring, -EIO if
 * the queue is broken, -EAGAIN if it is not running (stopped since the pop:
 * the ring belongs to the front-end again).
 */
VHU_API int vhu_vq_push(struct vhu_vq *vq, const struct vhu_req *req, uint32_t len);

/**
 * vhu_vq_unpop() - give back the request vhu_vq_pop() returned last.
 * @req: that request, not pushed
 *
 * The next pop reads the same chain from the ring again (as the driver
 * left it then). Call it for the newest request only; several in a row
 * give back the newest first. A device that takes buffers ahead (to
 * prefetch them) returns what it did not use this way.
 *
 * Return: 0; -EBUSY with inflight tracking on (push the request instead);
 * -EINVAL if @req cannot be one of this packed ring's; -EIO, -EAGAIN as
 * vhu_vq_push().
 */
VHU_API int vhu_vq_unpop(struct vhu_vq *vq, const struct vhu_req *req);

#define VHU_VQ_PUSH_BURST_MAX 256u

/**
 * vhu_vq_push_burst() - complete @n requests at once, in this order.
 * @reqs: @n requests vhu_vq_pop() returned on this queue (an array)
 * @lens: bytes written into each, or NULL for 0 each
 *
 * As @n calls of vhu_vq_push(), but a split ring publishes used->idx once
 * for all of them, so a driver polling the used ring sees the burst at once
 * and its cache line moves once. A packed ring with VIRTIO_F_IN_ORDER
 * negotiated and @lens NULL gets one used descriptor for the burst (the
 * last buffer's id, in the first's slot, as the spec allows): @reqs must
 * then be the oldest chains popped and not yet pushed, in pop order, which
 * is what a device offering IN_ORDER promises anyway. Does not notify.
 *
 * Return: 0; -EINVAL if a length was clamped or a request was not one of
 * this ring (that one is skipped, the others complete); -E2BIG if @n is
 * over VHU_VQ_PUSH_BURST_MAX (nothing done); -EIO, -EAGAIN as vhu_vq_push().
 */
VHU_API int vhu_vq_push_burst(struct vhu_vq *vq, const struct vhu_req *reqs, const uint32_t *lens,
			      unsigned int n);

/**
 * vhu_vq_notify() - interrupt the driver if it asked to be (event idx or
 * flags), for everything pushed since the last notify.
 *
 * Return: 1 if the call fd was signalled, 0 if the driver did not want it
 * (or there is no call fd, or the queue is broken or not running).
 */
VHU_API int vhu_vq_notify(struct vhu_vq *vq);

/**
 * vhu_vq_enable_notify() - ask the driver to kick (or not) on new buffers.
 * @enable: false while the device polls, true before it sleeps
 *
 * Notifications start enabled; a device that never calls this still hears
 * of every new buffer (with event idx, each pop asks for a kick at the next
 * entry, as QEMU does). After a false, kicks may still come, only fewer.
 *
 * Return: with @enable, true if buffers became available meanwhile (the
 * caller should poll again instead of sleeping); false otherwise.
 */
VHU_API bool vhu_vq_enable_notify(struct vhu_vq *vq, bool enable);

/**
 * vhu_vq_has_avail() - whether the driver made a buffer available that
 * vhu_vq_pop() has not taken yet, without taking it. Cheap (one load from
 * the ring: split avail->idx, packed the flags of the next slot), for
 * polling loops; nothing is checked beyond that, so vhu_vq_pop() may still
 * find the chain bad.
 *
 * Return: false as well when the queue is broken or not running.
 */
VHU_API bool vhu_vq_has_avail(struct vhu_vq *vq);

/**
 * vhu_vq_log_write() - tell live migration about a write into guest memory
 * that vhu_vq_push()'s @len does not cover.
 * @p:   host address inside a request's buffers (or anywhere in guest memory)
 * @len: bytes written
 *
 * While the front-end logs dirty pages (VHOST_F_LOG_ALL), vhu_vq_push()
 * marks the first @len bytes of the request's writable buffers; a device
 * that writes elsewhere (virtio-blk's status byte at the very end of a
 * longer buffer) marks that write with this call, before the push. Costs a
 * branch when nothing is logged. Call it from the queue's thread.
 *
 * Return: 0, or -EIO when the page is outside the log (the queue breaks).
 */
VHU_API int vhu_vq_log_write(struct vhu_vq *vq, const void *p, size_t len);

/**
 * vhu_vq_gpa_iov() - guest memory the device's own requests name (virtio-gpu
 * backing pages), as iovecs, split where regions end.
 * @vq:      a queue of the device; call from its thread (memory table
 *           changes pause it, so the pointers hold until the next pause)
 * @gpa:     the guest-physical address
 * @size:    bytes
 * @iov:     where to write
 * @max_iov: room in @iov
 *
 * Return: iovecs written (>= 0), -EFAULT (a byte is unmapped, or the range
 * wraps), -ENOBUFS (@max_iov too small), -ENOTSUP (behind a virtual
 * IOMMU, where addresses are IOVAs).
 */
VHU_API int vhu_vq_gpa_iov(struct vhu_vq *vq, uint64_t gpa, uint64_t size, struct iovec *iov,
			   unsigned int max_iov);

/**
 * vhu_vq_mem_gen() - the generation of the guest memory table: it changes
 * whenever a region is unmapped (SET_MEM_TABLE, REM_MEM_REG, a reset), so
 * a device that keeps pointers from vhu_vq_gpa_iov() across requests (a
 * renderer holding a resource's backing) translates them again when it
 * differs from the one they were taken under.
 * @vq: a queue of the device; call from its thread
 *
 * Return: the generation.
 */
VHU_API uint64_t vhu_vq_mem_gen(const struct vhu_vq *vq);

/** vhu_vq_index() - the queue's index in its device. */
VHU_API unsigned int vhu_vq_index(const struct vhu_vq *vq);

/** vhu_vq_size() - the ring size the driver set. */
VHU_API unsigned int vhu_vq_size(const struct vhu_vq *vq);

/** vhu_vq_broken() - true once the queue broke (see vhu_vq_pop()). */
VHU_API bool vhu_vq_broken(const struct vhu_vq *vq);

/** vhu_vq_set_priv() / vhu_vq_priv() - a per-queue pointer for the device. */
VHU_API void vhu_vq_set_priv(struct vhu_vq *vq, void *priv);
VHU_API void *vhu_vq_priv(const struct vhu_vq *vq);

#endif /* VHU_VIRTQ_H */
