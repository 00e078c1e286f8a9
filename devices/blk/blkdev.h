/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_BLKDEV_H
#define VHU_DEVICES_BLKDEV_H

/*
 * The virtio-blk request engine of vhu-blk, independent of vhost-user: it
 * takes a request as struct vhu_req (iovecs, readable first then writable),
 * parses the virtio-blk header, checks it against the disk and runs it on a
 * per-queue io_uring. It never touches memory outside the request's iovecs.
 *
 * Threading: a struct blkdev is read-only after blkdev_open() and may be
 * shared by every queue; a struct blk_queue belongs to one thread at a time
 * (the worker that owns the virtqueue).
 */

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include <vhu/virtq.h>

/* Sectors are always 512 bytes on the wire, whatever blk_size says. */
#define BLK_SECTOR_SHIFT 9u
#define BLK_SECTOR_SIZE (1u << BLK_SECTOR_SHIFT)
/* GET_ID answers at most this many bytes (VIRTIO_BLK_ID_BYTES). */
#define BLK_SERIAL_MAX 20u
/* Data segments per request (seg_max): the chain minus header and status. */
#define BLK_SEG_MAX (VHU_REQ_MAX_IOV - 2u)
/* Largest segment we advertise (size_max); not enforced, see blkdev.c. */
#define BLK_SIZE_MAX (1u << 20)
/* DISCARD / WRITE_ZEROES: segments per request and sectors per segment. */
#define BLK_DWZ_SEG_MAX 16u
#define BLK_DWZ_SECTORS_MAX (1u << 22)
#define BLK_QUEUES_MAX 64u
#define BLK_DEPTH_DEFAULT 128u
#define BLK_DEPTH_MAX 4096u

struct blkdev;
struct blk_queue;

struct blkdev_options {
	/* A regular file or a block device (--blk-file). Ignored with null. */
	const char *path;
	/*
	 * The "null" disk for benchmarks: nothing is opened, reads return
	 * zeros, writes, discards and flushes are dropped and succeed, after
	 * the same checks as on a file. blk_queue_exec() completes its
	 * requests at once; blk_queue_submit() still carries them through the
	 * io_uring (as a NOP).
	 */
	bool null_backend;
	uint64_t null_size; /* bytes, with null_backend; rounded down to 512 */
	bool read_only;
	bool direct;	     /* O_DIRECT; see the alignment note in blkdev.c */
	const char *serial;  /* up to 20 bytes; NULL or "" for none */
	uint16_t num_queues; /* 1..BLK_QUEUES_MAX; 0 means 1 */
	/*
	 * Testing: complete every request this many microseconds after its I/O
	 * finished (an io_uring timeout), as a slow disk would, so that crash
	 * tests find requests in flight. 0: none.
	 */
	uint32_t delay_us;
};

/**
 * blkdev_open() - open the disk and read its geometry.
 * @opts: the options; the strings are copied
 * @out:  the disk on success
 *
 * Return: 0, -EINVAL for bad options (serial longer than 20 bytes, 0-sized
 * null disk, too many queues, a path that is neither a regular file nor a
 * block device), or the negative errno of open/fstat/ioctl.
 */
int blkdev_open(const struct blkdev_options *opts, struct blkdev **out);

/** blkdev_close() - close the disk; its queues must be destroyed first. */
void blkdev_close(struct blkdev *dev);

/** blkdev_capacity() - the size in 512-byte sectors (any thread). */
uint64_t blkdev_capacity(const struct blkdev *dev);

/**
 * blkdev_resize() - change the size to @size bytes (a whole number of
 * logical blocks): a regular file is truncated or extended, the null disk
 * just changes. Queues may run meanwhile: requests checked after the
 * change see the new capacity.
 *
 * Return: 0, -EINVAL (not a whole number of blocks, or 0), -EROFS
 * (read-only), -ENOTSUP (a block device), -EFBIG, or ftruncate's errno.
 */
int blkdev_resize(struct blkdev *dev, uint64_t size);

/**
 * blkdev_features() - the virtio feature bits the device offers: the
 * VIRTIO_BLK_F_* it implements (RO when read-only) and the transport ones
 * (VERSION_1, INDIRECT_DESC, EVENT_IDX, RING_PACKED).
 */
uint64_t blkdev_features(const struct blkdev *dev);

/**
 * blkdev_fill_config() - the device's virtio_blk_config, in little endian
 * (the VERSION_1 layout GET_CONFIG returns). Fields for features not
 * offered are zero.
 */
void blkdev_fill_config(const struct blkdev *dev, struct virtio_blk_config *cfg);

/**
 * blk_queue_create() - an io context for one virtqueue.
 * @dev:   the disk
 * @depth: requests in flight at once, 1..BLK_DEPTH_MAX (0: default); the
 *         io_uring gets this many entries
 * @out:   the queue on success
 *
 * Each in-flight request keeps a scratch iovec array of VHU_REQ_MAX_IOV
 * entries, so a queue costs about depth * 16 KiB.
 *
 * Return: 0 or a negative errno (io_uring_queue_init, eventfd, ENOMEM).
 */
/* The request's status byte: its last writable byte; NULL if it has none. */
uint8_t *blk_status_byte(const struct vhu_req *req);

int blk_queue_create(struct blkdev *dev, unsigned int depth, struct blk_queue **out);

/**
 * blk_queue_destroy() - waits for the requests in flight and frees the
 * queue. Their done callbacks are NOT called and their status bytes are not
 * written: the caller is abandoning them (the ring is being stopped).
 */
void blk_queue_destroy(struct blk_queue *q);

/**
 * blk_queue_eventfd() - an eventfd (nonblocking) that is signalled when
 * completions are ready. Read it to clear it, then call blk_queue_reap().
 * What completes inside blk_queue_flush() (a page-cache hit) can be
 * reaped at once (blk_queue_has_completions()); it signals the eventfd all
 * the same. blk_queue_reap() reaps what completes inside its own submits.
 */
int blk_queue_eventfd(const struct blk_queue *q);

/** blkdev_direct() - whether @dev was opened O_DIRECT. */
bool blkdev_direct(const struct blkdev *dev);

/** blk_queue_inflight() - requests submitted and not reaped yet. */
unsigned int blk_queue_inflight(const struct blk_queue *q);

/**
 * blk_queue_submit() - parse and queue one request.
 * @q:   the queue
 * @req: the request; it (and the memory its iovecs point to) must stay
 *       valid until its done callback ran. req->iov is never modified.
 * @tag: handed back to the done callback
 *
 * Every accepted request completes through the done callback of a later
 * blk_queue_reap(), never synchronously, including the ones that fail
 * validation (they complete with their error status on the next reap).
 * The io_uring work is only handed to the kernel on blk_queue_flush() or
 * blk_queue_reap(), so a worker can batch a whole kick.
 *
 * Return: 0 if the request is accepted, -EBUSY if @depth requests are in
 * flight (reap, then submit it again).
 */
int blk_queue_submit(struct blk_queue *q, struct vhu_req *req, void *tag);

/** blk_queue_flush() - hand queued work to the kernel. Return: 0 or -errno. */
int blk_queue_flush(struct blk_queue *q);

/*
 * @status:      the VIRTIO_BLK_S_* already stored in the request's status
 *               byte (when it has one)
 * @written_len: bytes the device wrote into the writable buffers (data for
 *               IN / GET_ID plus the status byte); the len for vhu_vq_push()
 */
typedef void (*blk_queue_done_fn)(void *tag, struct vhu_req *req, uint8_t status,
				  uint32_t written_len);

/**
 * blk_queue_exec() - blk_queue_submit(), but a request that needs no I/O
 * completes at once: one that fails validation, GET_ID, and every request
 * of the null disk. Its status byte is written and @done is called (its slot
 * is free again by then) before this returns; the io_uring is not used.
 * The checks are blk_queue_submit()'s, shared. A request that needs I/O is
 * queued as by blk_queue_submit() and completes through blk_queue_reap().
 *
 * Return: 1 if it completed (@done ran), 0 if it was queued, -EBUSY if
 * @depth requests are in flight, -EINVAL for more iovecs than
 * VHU_REQ_MAX_IOV.
 */
int blk_queue_exec(struct blk_queue *q, struct vhu_req *req, void *tag, blk_queue_done_fn done);

/**
 * blk_queue_has_completions() - whether blk_queue_reap() would find
 * completions now; reads the completion queue from memory, no system call.
 */
bool blk_queue_has_completions(struct blk_queue *q);

/**
 * blk_queue_reap() - complete finished requests.
 * @q:    the queue
 * @wait: wait until at least this many requests complete (0: don't block;
 *        capped at the number in flight)
 * @done: called once per completed request
 *
 * Flushes queued work first. Writes each request's status byte, then calls
 * @done. A request with no writable byte at all completes with
 * written_len 0 and nothing is written anywhere.
 *
 * Return: the number of requests completed, or a negative errno.
 */
int blk_queue_reap(struct blk_queue *q, unsigned int wait, blk_queue_done_fn done);

#endif /* VHU_DEVICES_BLKDEV_H */
