/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request engine: parse a request's iovecs, check it against the
 * disk, run it on the queue's io_uring, write the status byte.
 *
 * Request layout (virtio 1.2, 5.2.6): a 16-byte struct virtio_blk_outhdr at
 * the start of the readable bytes, the data, and a 1-byte status at the very
 * last writable byte. Header and status may sit anywhere in the iovecs (the
 * header split across buffers, the status at the tail of a data buffer), so
 * the header is copied out and the data is described by a per-request
 * scratch iovec array: req->iov is never modified.
 *
 * Choices, so the callers know what to expect:
 * - Through blk_queue_submit(), every request completes through a CQE, even
 *   one that fails validation (a NOP carries it), so completions have one
 *   path and always signal the eventfd; nothing completes synchronously.
 *   blk_queue_exec() runs the same validation (slot_start) but completes a
 *   request that needs no I/O (failed checks, GET_ID, everything on the
 *   null disk), and a read or write of up to 64 KiB of a file in memory
 *   (tmpfs, memfd: mem_backed), before it returns, without the io_uring.
 *   Mixing the two in one burst was worse: io-wq's threads, on the
 *   worker's CPU, waited behind it (p99 1.5 ms at iodepth 32).
 * - A short read or write (the kernel may return less than asked) is
 *   resubmitted for the remainder; a return of 0 bytes is an IOERR.
 * - O_DIRECT: the guest's buffers and lengths must be aligned to the
 *   device's logical block size; a misaligned request fails with IOERR
 *   (the kernel says EINVAL). Linux guests align to blk_size.
 * - size_max is advertised for the guest's benefit and not enforced; the
 *   whole data length is bounded by BLK_SEG_MAX * BLK_SIZE_MAX.
 * - DISCARD / WRITE_ZEROES segments run one after the other on the ring.
 *   More segments than advertised is UNSUPP (as QEMU does); a segment past
 *   the end, over the sector limit or overflowing is IOERR; an unknown flag,
 *   or UNMAP on a DISCARD, is UNSUPP (virtio 1.2, 5.2.6.2).
 * - A read-only disk offers neither DISCARD nor WRITE_ZEROES and fails OUT,
 *   DISCARD and WRITE_ZEROES with IOERR.
 */

#include "blkdev.h"
#include "disk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLK_HDR_SIZE 16u
#define BLK_DATA_MAX ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)

_Static_assert(sizeof(struct virtio_blk_outhdr) == BLK_HDR_SIZE, "outhdr is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "dwz segment is 16 bytes");

enum slot_op {
	OP_NOP, /* no I/O: the status is already known */
	OP_RW,
	OP_FLUSH,
	OP_DWZ,
};

struct blk_slot {
	struct vhu_req *req;
	void *tag;
	struct blk_slot *next_free;
	uint8_t *status_ptr; /* the last writable byte; NULL if none */
	uint8_t status;
	uint8_t op; /* enum slot_op */
	bool is_write;
	uint32_t written; /* data bytes written into the writable buffers */
	bool delayed;	  /* delay_us: the I/O is done, its timeout runs */
	struct __kernel_timespec delay_ts;
	/* OP_RW: what is left to do, as a window of iov */
	uint64_t offset;
	uint64_t remaining;
	uint32_t iov_idx;
	uint32_t iov_num;
	/* OP_DWZ */
	int falloc_mode;
	uint32_t seg_idx;
	uint32_t seg_num;
	struct virtio_blk_discard_write_zeroes segs[BLK_DWZ_SEG_MAX];
	struct iovec *iov; /* VHU_REQ_MAX_IOV entries */
};

struct blk_queue {
	struct blkdev *dev;
	struct io_uring ring;
	int efd;
	unsigned int depth;
	unsigned int inflight;
	bool fixed_fd; /* the disk's fd is registered with the ring (index 0) */
	struct blk_slot *free;
	struct blk_slot *slots;
	struct iovec *iov_pool;
};

/* ---- iovec helpers: every access stays inside the iovecs ---- */

/* Copy up to @size bytes from the start of iov[0, num) into @dst. */
static size_t iov_to_buf(const struct iovec *iov, uint32_t num, uint64_t skip, void *dst,
			 size_t size)
{
	size_t done = 0;

	for (uint32_t i = 0; i < num && done < size; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= (size_t)skip;
		if (len > size - done)
			len = size - done;
		memcpy((char *)dst + done, (const char *)iov[i].iov_base + skip, len);
		done += len;
		skip = 0;
	}
	return done;
}

/* Describe bytes [skip, skip + size) of iov[0, num) in @dst; return entries. */
static uint32_t iov_slice(struct iovec *dst, const struct iovec *iov, uint32_t num, uint64_t skip,
			  uint64_t size)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < num && size > 0; i++) {
		uint64_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= skip;
		if (len > size)
			len = size;
		dst[n].iov_base = (char *)iov[i].iov_base + skip;
		dst[n].iov_len = (size_t)len;
		n++;
		size -= len;
		skip = 0;
	}
	return n;
}

static int iov_total(const struct iovec *iov, uint32_t num, uint64_t *size)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < num; i++)
		if (__builtin_add_overflow(total, (uint64_t)iov[i].iov_len, &total))
			return -EOVERFLOW;
	*size = total;
	return 0;
}

uint8_t *blk_status_byte(const struct vhu_req *req)
{
	for (uint32_t i = req->in_num; i > 0; i--) {
		const struct iovec *v = &req->iov[req->out_num + i - 1];

		if (v->iov_len > 0)
			return (uint8_t *)v->iov_base + v->iov_len - 1;
	}
	return NULL;
}

/* ---- request preparation ---- */

static struct io_uring_sqe *get_sqe(struct blk_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe && io_uring_submit(&q->ring) >= 0)
		sqe = io_uring_get_sqe(&q->ring);
	return sqe;
}

static bool range_ok(const struct blkdev *dev, uint64_t sector, uint64_t num_sectors)
{
	uint64_t capacity = blkdev_capacity(dev); /* a resize may change it */

	return sector <= capacity && num_sectors <= capacity - sector;
}

/* Queue the next piece of an OP_RW, OP_FLUSH or OP_DWZ slot. */
static int queue_io(struct blk_queue *q, struct blk_slot *s)
{
	struct io_uring_sqe *sqe = get_sqe(q);
	const struct virtio_blk_discard_write_zeroes *seg;
	int fd = q->fixed_fd ? 0 : q->dev->fd; /* the registered file's index, or the fd */

	if (!sqe)
		return -EBUSY;
	switch (s->op) {
	case OP_RW:
		if (s->is_write)
			io_uring_prep_writev(sqe, fd, &s->iov[s->iov_idx], s->iov_num, s->offset);
		else
			io_uring_prep_readv(sqe, fd, &s->iov[s->iov_idx], s->iov_num, s->offset);
		break;
	case OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case OP_DWZ:
		seg = &s->segs[s->seg_idx];
		io_uring_prep_fallocate(
			sqe, fd, s->falloc_mode, (off_t)(le64toh(seg->sector) << BLK_SECTOR_SHIFT),
			(off_t)((uint64_t)le32toh(seg->num_sectors) << BLK_SECTOR_SHIFT));
		break;
	default:
		io_uring_prep_nop(sqe);
		break;
	}
	if (q->fixed_fd && s->op != OP_NOP)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, s);
	return 0;
}

static uint8_t prep_rw(struct blk_queue *q, struct blk_slot *s, const struct virtio_blk_outhdr *hdr,
		       uint64_t out_size, uint64_t in_size)
{
	const struct vhu_req *req = s->req;
	uint64_t sector = le64toh(hdr->sector);
	uint64_t size;

	if (s->is_write) {
		if (q->dev->read_only)
			return VIRTIO_BLK_S_IOERR;
		size = out_size - BLK_HDR_SIZE;
		s->iov_num = iov_slice(s->iov, req->iov, req->out_num, BLK_HDR_SIZE, size);
	} else {
		size = in_size - 1;
		s->iov_num = iov_slice(s->iov, &req->iov[req->out_num], req->in_num, 0, size);
	}
	if (size % BLK_SECTOR_SIZE != 0 || size > BLK_DATA_MAX ||
	    !range_ok(q->dev, sector, size >> BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	if (size == 0)
		return VIRTIO_BLK_S_OK;
	if (q->dev->null_backend) {
		/* The null disk: reads see zeros, writes vanish. */
		for (uint32_t i = 0; !s->is_write && i < s->iov_num; i++)
			memset(s->iov[i].iov_base, 0, s->iov[i].iov_len);
		if (!s->is_write)
			s->written = (uint32_t)size;
		return VIRTIO_BLK_S_OK;
	}
	s->op = OP_RW;
	s->offset = sector << BLK_SECTOR_SHIFT;
	s->remaining = size;
	s->iov_idx = 0;
	return VIRTIO_BLK_S_OK;
}

static uint8_t prep_dwz(struct blk_queue *q, struct blk_slot *s, uint32_t type, uint64_t out_size)
{
	const struct vhu_req *req = s->req;
	uint64_t size = out_size - BLK_HDR_SIZE;
	uint32_t allowed = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	if (q->dev->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (size == 0 || size % sizeof(s->segs[0]) != 0)
		return VIRTIO_BLK_S_IOERR;
	if (size / sizeof(s->segs[0]) > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_UNSUPP;
	s->seg_num = (uint32_t)(size / sizeof(s->segs[0]));
	iov_to_buf(req->iov, req->out_num, BLK_HDR_SIZE, s->segs, (size_t)size);
	if (type == VIRTIO_BLK_T_DISCARD)
		allowed = 0; /* UNMAP is meaningless for DISCARD: UNSUPP */
	for (uint32_t i = 0; i < s->seg_num; i++) {
		uint32_t num_sectors = le32toh(s->segs[i].num_sectors);

		if (le32toh(s->segs[i].flags) & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (num_sectors > BLK_DWZ_SECTORS_MAX ||
		    !range_ok(q->dev, le64toh(s->segs[i].sector), num_sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	if (q->dev->null_backend)
		return VIRTIO_BLK_S_OK;
	s->op = OP_DWZ;
	s->seg_idx = 0;
	/* WRITE_ZEROES never unmaps on its own; ZERO_RANGE may, which is allowed. */
	s->falloc_mode = type == VIRTIO_BLK_T_DISCARD ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
						      : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return VIRTIO_BLK_S_OK;
}

/* Parse the request: either set s->op to some I/O, or leave OP_NOP with a status. */
static uint8_t prepare(struct blk_queue *q, struct blk_slot *s)
{
	const struct vhu_req *req = s->req;
	struct virtio_blk_outhdr hdr;
	uint64_t out_size, in_size;
	uint32_t type;
	size_t n;

	/* behind an IOMMU, a buffer the device may not access: the request fails */
	if (req->fault)
		return VIRTIO_BLK_S_IOERR;
	if (iov_total(req->iov, req->out_num, &out_size) < 0 ||
	    iov_total(&req->iov[req->out_num], req->in_num, &in_size) < 0 ||
	    out_size < BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	/* Copied once: the driver may change guest memory under us. */
	if (iov_to_buf(req->iov, req->out_num, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	type = le32toh(hdr.type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		s->is_write = type == VIRTIO_BLK_T_OUT;
		return prep_rw(q, s, &hdr, out_size, in_size);
	case VIRTIO_BLK_T_FLUSH:
		if (!q->dev->null_backend)
			s->op = OP_FLUSH;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		n = iov_slice(s->iov, &req->iov[req->out_num], req->in_num, 0, in_size - 1);
		for (uint32_t i = 0, off = 0; i < n && off < BLK_SERIAL_MAX; i++) {
			size_t len = s->iov[i].iov_len;

			if (len > BLK_SERIAL_MAX - off)
				len = BLK_SERIAL_MAX - off;
			memcpy(s->iov[i].iov_base, q->dev->serial + off, len);
			off += (uint32_t)len;
			s->written = off;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return prep_dwz(q, s, type, out_size);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/*
 * Take a slot for @req and validate it (prepare): the slot's op is then the
 * I/O to do, or OP_NOP with the final status (no I/O needed: a failed check,
 * GET_ID, the null disk). Both submit paths share this.
 */
static int slot_start(struct blk_queue *q, struct vhu_req *req, void *tag, struct blk_slot **out)
{
	struct blk_slot *s = q->free;

	if (req->out_num > VHU_REQ_MAX_IOV || req->in_num > VHU_REQ_MAX_IOV - req->out_num)
		return -EINVAL;
	if (!s)
		return -EBUSY;
	q->free = s->next_free;
	q->inflight++;
	s->req = req;
	s->tag = tag;
	s->op = OP_NOP;
	s->written = 0;
	s->delayed = false;
	s->status_ptr = blk_status_byte(req);
	s->status = s->status_ptr ? prepare(q, s) : VIRTIO_BLK_S_IOERR;
	if (s->status != VIRTIO_BLK_S_OK)
		s->op = OP_NOP;
	*out = s;
	return 0;
}

static void slot_finish(struct blk_queue *q, struct blk_slot *s, blk_queue_done_fn done);

int blk_queue_submit(struct blk_queue *q, struct vhu_req *req, void *tag)
{
	struct blk_slot *s;
	int ret = slot_start(q, req, tag, &s);

	if (ret < 0)
		return ret;
	if (queue_io(q, s) < 0 && s->op != OP_NOP) {
		/* Cannot happen (one SQE per slot), but fail the request, not the queue. */
		s->op = OP_NOP;
		s->status = VIRTIO_BLK_S_IOERR;
		if (queue_io(q, s) < 0)
			return -EBUSY;
	}
	return 0;
}

/* Larger reads and writes of a file in memory still go to the io_uring (io-wq's threads). */
#define BLK_INLINE_MAX (64u * 1024u)

/* Advance an OP_RW window past @n bytes done. */
static void rw_advance(struct blk_slot *s, uint64_t n)
{
	s->offset += n;
	s->remaining -= n;
	while (n > 0 && s->iov_num > 0) {
		struct iovec *v = &s->iov[s->iov_idx];

		if (n < v->iov_len) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
			return;
		}
		n -= v->iov_len;
		s->iov_idx++;
		s->iov_num--;
	}
}

/* OP_RW on a file in memory, here and now; the status says how it went. */
static void rw_inline(struct blk_queue *q, struct blk_slot *s)
{
	while (s->remaining > 0) {
		ssize_t n = s->is_write ? pwritev(q->dev->fd, &s->iov[s->iov_idx], (int)s->iov_num,
						  (off_t)s->offset)
					: preadv(q->dev->fd, &s->iov[s->iov_idx], (int)s->iov_num,
						 (off_t)s->offset);

		if (n < 0 && errno == EINTR)
			continue;
		/* as slot_cqe_io(): an error, 0 bytes or more than asked is IOERR */
		if (n <= 0 || (uint64_t)n > s->remaining) {
			s->status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (!s->is_write)
			s->written += (uint32_t)n;
		rw_advance(s, (uint64_t)n);
	}
	s->op = OP_NOP;
}

int blk_queue_exec(struct blk_queue *q, struct vhu_req *req, void *tag, blk_queue_done_fn done)
{
	struct blk_slot *s;
	int ret = slot_start(q, req, tag, &s);

	if (ret < 0)
		return ret;
	if (s->op == OP_RW && q->dev->mem_backed && s->remaining <= BLK_INLINE_MAX &&
	    !q->dev->delay_us)
		rw_inline(q, s);
	if (s->op == OP_NOP && !q->dev->delay_us) {
		slot_finish(q, s, done); /* status byte, then @done: no io_uring */
		return 1;
	}
	if (queue_io(q, s) < 0) {
		/* Cannot happen (one SQE per slot): fail the request, at once. */
		s->op = OP_NOP;
		s->status = VIRTIO_BLK_S_IOERR;
		slot_finish(q, s, done);
		return 1;
	}
	return 0;
}

int blk_queue_flush(struct blk_queue *q)
{
	int ret = io_uring_submit(&q->ring);

	return ret < 0 ? ret : 0;
}

/* ---- completion ---- */

/* Account one CQE of the slot's I/O; return true when the I/O is finished. */
static bool slot_cqe_io(struct blk_queue *q, struct blk_slot *s, int res)
{
	if (s->op == OP_NOP)
		return true;
	if (res < 0) {
		s->status = res == -ENOTSUP && s->op == OP_DWZ ? VIRTIO_BLK_S_UNSUPP
							       : VIRTIO_BLK_S_IOERR;
		return true;
	}
	if (s->op == OP_RW) {
		if (res == 0 || (uint64_t)res > s->remaining) {
			s->status = VIRTIO_BLK_S_IOERR;
			return true;
		}
		if (!s->is_write)
			s->written += (uint32_t)res;
		rw_advance(s, (uint64_t)res);
		if (s->remaining == 0)
			return true;
	} else if (s->op == OP_DWZ) {
		if (++s->seg_idx == s->seg_num)
			return true;
	} else {
		return true;
	}
	if (queue_io(q, s) < 0) {
		s->status = VIRTIO_BLK_S_IOERR;
		return true;
	}
	return false;
}

/* Account one CQE; return true when the request is finished (after its delay). */
static bool slot_cqe(struct blk_queue *q, struct blk_slot *s, int res)
{
	struct io_uring_sqe *sqe;

	if (s->delayed)
		return true; /* the timeout fired (-ETIME) */
	if (!slot_cqe_io(q, s, res))
		return false;
	if (!q->dev->delay_us)
		return true;
	sqe = get_sqe(q);
	if (!sqe)
		return true; /* no room for the delay: complete now */
	s->delay_ts.tv_sec = q->dev->delay_us / 1000000u;
	s->delay_ts.tv_nsec = (long long)(q->dev->delay_us % 1000000u) * 1000;
	io_uring_prep_timeout(sqe, &s->delay_ts, 0, 0);
	io_uring_sqe_set_data(sqe, s);
	s->delayed = true;
	return false;
}

static void slot_finish(struct blk_queue *q, struct blk_slot *s, blk_queue_done_fn done)
{
	struct vhu_req *req = s->req;
	void *tag = s->tag;
	uint8_t status = s->status;
	uint32_t written_len = 0;

	/* No callback (teardown): the request is abandoned, leave its memory alone. */
	if (s->status_ptr && done) {
		*s->status_ptr = status;
		written_len = (status == VIRTIO_BLK_S_OK ? s->written : 0) + 1;
	}
	/* Free the slot first: @done may submit again. */
	s->req = NULL;
	s->next_free = q->free;
	q->free = s;
	q->inflight--;
	if (done)
		done(tag, req, status, written_len);
}

int blk_queue_reap(struct blk_queue *q, unsigned int wait, blk_queue_done_fn done)
{
	unsigned int completed = 0;
	struct io_uring_cqe *cqe;
	int ret;

	for (;;) {
		ret = io_uring_submit(&q->ring);
		if (ret < 0)
			return ret;
		while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
			struct blk_slot *s = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			io_uring_cqe_seen(&q->ring, cqe);
			if (slot_cqe(q, s, res)) {
				slot_finish(q, s, done);
				completed++;
			}
		}
		/* resubmissions and delay timeouts just queued: out before we return */
		ret = io_uring_submit(&q->ring);
		if (ret < 0)
			return ret;
		/* what completed inside that submit: reaped now, no wake-up needed */
		if (io_uring_cq_ready(&q->ring) > 0)
			continue;
		if (completed >= wait || q->inflight == 0)
			break;
		/* Resubmissions (short I/O, next segment) were queued above. */
		ret = io_uring_submit_and_wait(&q->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
	}
	return (int)completed;
}

/* ---- queue lifecycle ---- */

int blk_queue_create(struct blkdev *dev, unsigned int depth, struct blk_queue **out)
{
	struct blk_queue *q;
	int ret;

	if (depth == 0)
		depth = BLK_DEPTH_DEFAULT;
	if (depth > BLK_DEPTH_MAX)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->dev = dev;
	q->depth = depth;
	q->efd = -1;
	q->slots = calloc(depth, sizeof(*q->slots));
	q->iov_pool = calloc((size_t)depth * VHU_REQ_MAX_IOV, sizeof(*q->iov_pool));
	if (!q->slots || !q->iov_pool) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (unsigned int i = 0; i < depth; i++) {
		q->slots[i].iov = &q->iov_pool[(size_t)i * VHU_REQ_MAX_IOV];
		q->slots[i].next_free = i + 1 < depth ? &q->slots[i + 1] : NULL;
	}
	q->free = &q->slots[0];
	ret = io_uring_queue_init(depth, &q->ring, 0);
	if (ret < 0)
		goto err_free;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0) {
		ret = -errno;
		goto err_ring;
	}
	/*
	 * Every completion signals it, also one that completes inside the
	 * submit (a page-cache hit), which the caller reaps at once: the count
	 * left costs one empty round when the worker next sleeps. Not
	 * register_eventfd_async: it signals only for io-wq completions, and
	 * O_DIRECT ones come from task work, so the worker would sleep through
	 * them.
	 */
	ret = io_uring_register_eventfd(&q->ring, q->efd);
	if (ret < 0)
		goto err_efd;
	/*
	 * A registered file: no file reference taken and dropped per request
	 * (an atomic on a line every queue's thread shares, since the process's
	 * file table is shared). Without it (an old kernel) the plain fd works.
	 */
	q->fixed_fd = dev->fd >= 0 && io_uring_register_files(&q->ring, &dev->fd, 1) == 0;
	*out = q;
	return 0;
err_efd:
	close(q->efd);
err_ring:
	io_uring_queue_exit(&q->ring);
err_free:
	free(q->iov_pool);
	free(q->slots);
	free(q);
	return ret;
}

void blk_queue_destroy(struct blk_queue *q)
{
	if (!q)
		return;
	/* The kernel may still write into guest buffers: wait it out. */
	while (q->inflight > 0) {
		int ret = blk_queue_reap(q, q->inflight, NULL);

		if (ret < 0 && ret != -EINTR)
			break;
	}
	io_uring_queue_exit(&q->ring);
	close(q->efd);
	free(q->iov_pool);
	free(q->slots);
	free(q);
}

int blk_queue_eventfd(const struct blk_queue *q)
{
	return q->efd;
}

unsigned int blk_queue_inflight(const struct blk_queue *q)
{
	return q->inflight;
}

bool blk_queue_has_completions(struct blk_queue *q)
{
	/* the CQ tail, read from memory the kernel shares: no system call */
	return q->inflight > 0 && io_uring_cq_ready(&q->ring) > 0;
}
