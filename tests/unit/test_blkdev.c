/* SPDX-License-Identifier: MIT */
/*
 * devices/blk/blkdev.c: requests built by hand over local buffers, run
 * against a temporary file (and the null disk) through a real io_uring.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk/blkdev.h"

#define DISK_SIZE (1024u * 1024u) /* 2048 sectors */
#define DISK_SECTORS (DISK_SIZE / 512u)

struct rig {
	char path[64];
	int fd; /* our own view of the file */
	struct blkdev *dev;
	struct blk_queue *q;
};

struct done_rec {
	int calls;
	uint8_t status;
	uint32_t len;
	struct vhu_req *req;
};

static void on_done(void *tag, struct vhu_req *req, uint8_t status, uint32_t written_len)
{
	struct done_rec *rec = tag;

	rec->calls++;
	rec->status = status;
	rec->len = written_len;
	rec->req = req;
}

static struct vhu_req *req_new(void)
{
	struct vhu_req *req = vhu_reqs_new(1, VHU_REQ_MAX_IOV);

	assert_non_null(req);
	return req;
}

/* Empty @req again, keeping its iovec array. */
static void req_reset(struct vhu_req *req)
{
	vhu_req_init(req, req->iov, req->iov_max);
}

/* Readable iovecs must all be added before the writable ones. */
static void req_add(struct vhu_req *req, void *base, size_t len, bool writable)
{
	uint32_t i = req->out_num + req->in_num;

	assert_true(i < VHU_REQ_MAX_IOV);
	if (!writable)
		assert_int_equal(req->in_num, 0);
	req->iov[i].iov_base = base;
	req->iov[i].iov_len = len;
	if (writable) {
		req->in_num++;
		req->in_size += len;
	} else {
		req->out_num++;
		req->out_size += len;
	}
}

static struct virtio_blk_outhdr hdr_make(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { 0 };

	h.type = htole32(type);
	h.sector = htole64(sector);
	return h;
}

/* Submit one request and reap it; returns what the done callback saw. */
static struct done_rec run(struct blk_queue *q, struct vhu_req *req)
{
	struct done_rec rec = { 0 };

	assert_int_equal(blk_queue_submit(q, req, &rec), 0);
	assert_int_equal(blk_queue_reap(q, 1, on_done), 1);
	assert_int_equal(rec.calls, 1);
	assert_ptr_equal(rec.req, req);
	assert_int_equal(blk_queue_inflight(q), 0);
	return rec;
}

static int rig_open_in(void **state, bool read_only, const char *dir)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct blkdev_options opts = { 0 };
	static uint8_t fill[DISK_SIZE];

	assert_non_null(r);
	snprintf(r->path, sizeof(r->path), "%s/vhu-blkdev-XXXXXX", dir);
	r->fd = mkstemp(r->path);
	assert_true(r->fd >= 0);
	/* A fully allocated disk, so holes are visible. */
	memset(fill, 0x5a, sizeof(fill));
	assert_int_equal(pwrite(r->fd, fill, sizeof(fill), 0), (ssize_t)sizeof(fill));
	opts.path = r->path;
	opts.read_only = read_only;
	opts.serial = "vhu-serial-1";
	opts.num_queues = 4;
	assert_int_equal(blkdev_open(&opts, &r->dev), 0);
	assert_int_equal(blk_queue_create(r->dev, 8, &r->q), 0);
	*state = r;
	return 0;
}

static int rig_open(void **state, bool read_only)
{
	return rig_open_in(state, read_only, "/tmp");
}

static int setup_rw(void **state)
{
	return rig_open(state, false);
}

/* a file in memory (tmpfs): small reads and writes are done inline */
static int setup_shm(void **state)
{
	return rig_open_in(state, false, "/dev/shm");
}

static int setup_ro(void **state)
{
	return rig_open(state, true);
}

static int teardown(void **state)
{
	struct rig *r = *state;

	blk_queue_destroy(r->q);
	blkdev_close(r->dev);
	close(r->fd);
	unlink(r->path);
	free(r);
	return 0;
}

static void file_read(struct rig *r, void *buf, size_t len, uint64_t off)
{
	assert_int_equal(pread(r->fd, buf, len, (off_t)off), (ssize_t)len);
}

/* ---- read / write ---- */

static void test_write_read_split(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, 8);
	static uint8_t pat[4096], back[4096 + 1], disk[4096];
	uint8_t status = 0xff;
	struct vhu_req *w = req_new(), *rd = req_new();
	struct done_rec rec;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	/* Write: header alone, the data split at odd places, status alone. */
	req_add(w, &h, sizeof(h), false);
	req_add(w, pat, 1000, false);
	req_add(w, pat + 1000, 0, false); /* empty buffers are skipped */
	req_add(w, pat + 1000, 2000, false);
	req_add(w, pat + 3000, 1096, false);
	req_add(w, &status, 1, true);
	rec = run(r->q, w);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, 1); /* only the status byte */
	file_read(r, disk, sizeof(disk), 8 * 512);
	assert_memory_equal(disk, pat, sizeof(pat));

	/* Read back: two buffers, the status is the tail of the last one. */
	h = hdr_make(VIRTIO_BLK_T_IN, 8);
	memset(back, 0xee, sizeof(back));
	req_add(rd, &h, sizeof(h), false);
	req_add(rd, back, 512, true);
	req_add(rd, back + 512, sizeof(back) - 512, true);
	rec = run(r->q, rd);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, 4096 + 1);
	assert_memory_equal(back, pat, sizeof(pat));
	assert_int_equal(back[4096], VIRTIO_BLK_S_OK);
	free(w);
	free(rd);
}

static void test_header_split(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, 3);
	uint8_t buf0[5], buf1[11 + 512], disk[512];
	uint8_t status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	/* 5 header bytes, then 11 header bytes followed by the data. */
	memcpy(buf0, &h, 5);
	memcpy(buf1, (uint8_t *)&h + 5, 11);
	memset(buf1 + 11, 0xc3, 512);
	req_add(req, buf0, sizeof(buf0), false);
	req_add(req, buf1, sizeof(buf1), false);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	file_read(r, disk, sizeof(disk), 3 * 512);
	assert_memory_equal(disk, buf1 + 11, 512);
	free(req);
}

static void test_status_tail_of_data(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_IN, 0);
	uint8_t buf[512 + 1];
	struct vhu_req *req = req_new();
	struct done_rec rec;

	memset(buf, 0, sizeof(buf));
	req_add(req, &h, sizeof(h), false);
	req_add(req, buf, sizeof(buf), true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, 513);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(buf[i], 0x5a);
	assert_int_equal(buf[512], VIRTIO_BLK_S_OK);
	free(req);
}

/* ---- validation ---- */

static void test_past_end(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, DISK_SECTORS - 1);
	static uint8_t data[1024], disk[512];
	uint8_t status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	memset(data, 0x11, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), false);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(rec.len, 1);
	file_read(r, disk, sizeof(disk), DISK_SIZE - 512);
	for (size_t i = 0; i < sizeof(disk); i++)
		assert_int_equal(disk[i], 0x5a);
	assert_int_equal(lseek(r->fd, 0, SEEK_END), DISK_SIZE);

	/* The last sector itself is fine; one past it is not. */
	h = hdr_make(VIRTIO_BLK_T_IN, DISK_SECTORS - 1);
	req_reset(req);
	req_add(req, &h, sizeof(h), false);
	req_add(req, disk, sizeof(disk), true);
	req_add(req, &status, 1, true);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_OK);
	h = hdr_make(VIRTIO_BLK_T_IN, DISK_SECTORS);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);
	free(req);
}

static void test_sector_overflow(void **state)
{
	struct rig *r = *state;
	/* sector * 512 wraps to a small offset if anyone computes it first */
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, (UINT64_MAX >> 9) + 1);
	uint8_t data[512], status = 0xff, disk[512];
	struct vhu_req *req = req_new();

	memset(data, 0x22, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), false);
	req_add(req, &status, 1, true);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);
	h = hdr_make(VIRTIO_BLK_T_OUT, UINT64_MAX);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);
	file_read(r, disk, sizeof(disk), 0);
	for (size_t i = 0; i < sizeof(disk); i++)
		assert_int_equal(disk[i], 0x5a);
	free(req);
}

static void test_bad_lengths(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, 0);
	uint8_t data[700], status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	/* 700 bytes: not a whole number of sectors */
	memset(data, 0x33, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), false);
	req_add(req, &status, 1, true);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);

	/* A 15-byte header */
	req_reset(req);
	req_add(req, &h, 15, false);
	req_add(req, &status, 1, true);
	status = 0xff;
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(rec.len, 1);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);

	/* Too many iovecs for a vhu_req is the caller's bug: -EINVAL. */
	req->out_num = VHU_REQ_MAX_IOV;
	req->in_num = 1;
	assert_int_equal(blk_queue_submit(r->q, req, NULL), -EINVAL);
	free(req);
}

static void test_no_status_byte(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_IN, 0), copy;
	uint8_t empty[4] = { 1, 2, 3, 4 };
	struct vhu_req *req = req_new();
	struct done_rec rec;

	copy = h;
	req_add(req, &h, sizeof(h), false);
	req_add(req, empty, 0, true); /* a writable buffer of 0 bytes */
	rec = run(r->q, req);
	assert_int_equal(rec.len, 0);
	assert_int_equal(rec.status, VIRTIO_BLK_S_IOERR);
	assert_memory_equal(&h, &copy, sizeof(h));
	assert_int_equal(empty[0], 1);

	req_reset(req);
	req_add(req, &h, sizeof(h), false);
	rec = run(r->q, req);
	assert_int_equal(rec.len, 0);
	assert_memory_equal(&h, &copy, sizeof(h));
	free(req);
}

static void test_unknown_type(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(99, 0);
	uint8_t status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	req_add(req, &h, sizeof(h), false);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(rec.len, 1);
	free(req);
}

/* ---- other commands ---- */

static void test_get_id(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_GET_ID, 0);
	uint8_t id[BLK_SERIAL_MAX + 1], small[5], status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;
	char want[BLK_SERIAL_MAX] = "vhu-serial-1";

	memset(id, 0xee, sizeof(id));
	req_add(req, &h, sizeof(h), false);
	req_add(req, id, sizeof(id), true); /* 20 bytes of id + status */
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, BLK_SERIAL_MAX + 1);
	assert_memory_equal(id, want, BLK_SERIAL_MAX);
	assert_int_equal(id[BLK_SERIAL_MAX], VIRTIO_BLK_S_OK);

	/* A short buffer gets a truncated id, split over two buffers. */
	req_reset(req);
	req_add(req, &h, sizeof(h), false);
	req_add(req, small, 2, true);
	req_add(req, small + 2, 3, true);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, 6);
	assert_memory_equal(small, "vhu-s", 5);
	free(req);
}

static void test_flush(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_FLUSH, 0);
	uint8_t status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	req_add(req, &h, sizeof(h), false);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, 1);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	free(req);
}

static struct done_rec run_dwz(struct rig *r, uint32_t type,
			       const struct virtio_blk_discard_write_zeroes *segs, size_t num)
{
	struct virtio_blk_outhdr h = hdr_make(type, 0);
	uint8_t status = 0xff;
	struct vhu_req *req = req_new();
	struct done_rec rec;

	req_add(req, &h, sizeof(h), false);
	if (num)
		req_add(req, (void *)(uintptr_t)segs, num * sizeof(*segs), false);
	req_add(req, &status, 1, true);
	rec = run(r->q, req);
	assert_int_equal(status, rec.status);
	free(req);
	return rec;
}

static struct virtio_blk_discard_write_zeroes seg_make(uint64_t sector, uint32_t num,
						       uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s;

	s.sector = htole64(sector);
	s.num_sectors = htole32(num);
	s.flags = htole32(flags);
	return s;
}

static void assert_range(struct rig *r, uint64_t off, size_t len, uint8_t val)
{
	static uint8_t buf[65536];

	assert_true(len <= sizeof(buf));
	file_read(r, buf, len, off);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], val);
}

static void test_discard(void **state)
{
	struct rig *r = *state;
	/* two segments, in 4 KiB blocks so any filesystem can punch them */
	struct virtio_blk_discard_write_zeroes segs[2] = { seg_make(8, 8, 0), seg_make(64, 16, 0) };
	off_t hole;

	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_DISCARD, segs, 2).status, VIRTIO_BLK_S_OK);
	assert_range(r, 0, 4096, 0x5a);
	assert_range(r, 4096, 4096, 0);
	assert_range(r, 8192, 32768 - 8192, 0x5a);
	assert_range(r, 32768, 8192, 0);
	assert_range(r, 40960, 4096, 0x5a);
	hole = lseek(r->fd, 0, SEEK_HOLE);
	assert_int_equal(hole, 4096);
	assert_int_equal(lseek(r->fd, 0, SEEK_END), DISK_SIZE); /* KEEP_SIZE */
}

static void test_write_zeroes(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_discard_write_zeroes seg = seg_make(3, 5, 0);
	struct virtio_blk_discard_write_zeroes unmap =
		seg_make(100, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);

	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1).status, VIRTIO_BLK_S_OK);
	assert_range(r, 0, 3 * 512, 0x5a);
	assert_range(r, 3 * 512, 5 * 512, 0);
	assert_range(r, 8 * 512, 512, 0x5a);
	/* UNMAP is allowed on WRITE_ZEROES (a hint) ... */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, &unmap, 1).status, VIRTIO_BLK_S_OK);
	assert_range(r, 100 * 512, 512, 0);
	/* ... but not on DISCARD */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_DISCARD, &unmap, 1).status, VIRTIO_BLK_S_UNSUPP);
	unmap.flags = htole32(0x80);
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, &unmap, 1).status,
			 VIRTIO_BLK_S_UNSUPP);
}

static void test_dwz_bounds(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_discard_write_zeroes segs[BLK_DWZ_SEG_MAX + 1];
	struct virtio_blk_discard_write_zeroes bad[2] = { seg_make(0, 8, 0),
							  seg_make(UINT64_MAX - 1, 4, 0) };
	struct done_rec rec;

	for (size_t i = 0; i < BLK_DWZ_SEG_MAX + 1; i++)
		segs[i] = seg_make(i * 8, 8, 0);
	rec = run_dwz(r, VIRTIO_BLK_T_DISCARD, segs, BLK_DWZ_SEG_MAX + 1);
	assert_int_equal(rec.status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(rec.len, 1);
	assert_range(r, 0, 65536, 0x5a); /* nothing ran */
	/* no segment at all */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, segs, 0).status, VIRTIO_BLK_S_IOERR);
	/* a bad second segment fails the whole request before any I/O */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, bad, 2).status, VIRTIO_BLK_S_IOERR);
	assert_range(r, 0, 4096, 0x5a);
	bad[1] = seg_make(DISK_SECTORS - 1, 2, 0); /* past the end */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_DISCARD, bad, 2).status, VIRTIO_BLK_S_IOERR);
	bad[1] = seg_make(0, BLK_DWZ_SECTORS_MAX + 1, 0); /* over the limit */
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_DISCARD, bad, 2).status, VIRTIO_BLK_S_IOERR);
	assert_range(r, 0, 4096, 0x5a);
	/* a segment list that is not a whole number of segments */
	{
		struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_DISCARD, 0);
		uint8_t status = 0xff;
		struct vhu_req *req = req_new();

		req_add(req, &h, sizeof(h), false);
		req_add(req, segs, 20, false);
		req_add(req, &status, 1, true);
		assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);
		free(req);
	}
}

static void test_read_only(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, 0);
	struct virtio_blk_discard_write_zeroes seg = seg_make(0, 8, 0);
	uint8_t data[512], status = 0xff;
	struct vhu_req *req = req_new();
	uint64_t f = blkdev_features(r->dev);
	struct virtio_blk_config cfg;

	assert_true(f & (1ull << VIRTIO_BLK_F_RO));
	assert_false(f & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_false(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	blkdev_fill_config(r->dev, &cfg);
	assert_int_equal(le32toh(cfg.max_discard_seg), 0);

	memset(data, 0x44, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), false);
	req_add(req, &status, 1, true);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_DISCARD, &seg, 1).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(run_dwz(r, VIRTIO_BLK_T_WRITE_ZEROES, &seg, 1).status, VIRTIO_BLK_S_IOERR);
	assert_range(r, 0, 4096, 0x5a);
	/* reads and flushes still work */
	req_reset(req);
	h = hdr_make(VIRTIO_BLK_T_IN, 0);
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), true);
	req_add(req, &status, 1, true);
	assert_int_equal(run(r->q, req).status, VIRTIO_BLK_S_OK);
	assert_int_equal(data[0], 0x5a);
	free(req);
}

/* ---- queue behaviour ---- */

static void test_short_read(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_IN, 0);
	static uint8_t data[4096 + 1];
	struct vhu_req *req = req_new();
	struct done_rec rec;

	/* Shrink the file behind the disk's back: the read comes up short. */
	assert_int_equal(ftruncate(r->fd, 1024), 0);
	memset(data, 0xee, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, 1000, true);
	req_add(req, data + 1000, sizeof(data) - 1000, true);
	rec = run(r->q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(rec.len, 1);
	/* the part that existed was read (through the resubmission) */
	assert_int_equal(data[0], 0x5a);
	assert_int_equal(data[1023], 0x5a);
	assert_int_equal(data[1024], 0xee);
	free(req);
}

static void test_busy_and_eventfd(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_FLUSH, 0);
	uint8_t status[9];
	struct vhu_req *reqs[9];
	struct done_rec recs[9] = { 0 };
	struct pollfd pfd = { .fd = blk_queue_eventfd(r->q), .events = POLLIN };
	uint64_t cnt;
	int got = 0;

	for (int i = 0; i < 9; i++) {
		reqs[i] = req_new();
		req_add(reqs[i], &h, sizeof(h), false);
		req_add(reqs[i], &status[i], 1, true);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(blk_queue_submit(r->q, reqs[i], &recs[i]), 0);
	assert_int_equal(blk_queue_submit(r->q, reqs[8], &recs[8]), -EBUSY);
	assert_int_equal(blk_queue_inflight(r->q), 8);
	assert_int_equal(blk_queue_flush(r->q), 0);
	while (got < 8) {
		/* a completion inside the submit is there at once: no wait for it */
		if (!blk_queue_has_completions(r->q)) {
			assert_int_equal(poll(&pfd, 1, 5000), 1);
			assert_int_equal(read(pfd.fd, &cnt, sizeof(cnt)), (ssize_t)sizeof(cnt));
		}
		got += blk_queue_reap(r->q, 0, on_done);
	}
	assert_int_equal(got, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_int_equal(recs[i].status, VIRTIO_BLK_S_OK);
	}
	assert_int_equal(blk_queue_submit(r->q, reqs[8], &recs[8]), 0);
	assert_int_equal(blk_queue_reap(r->q, 1, on_done), 1);
	/* nothing in flight: a blocking reap returns at once */
	assert_int_equal(blk_queue_reap(r->q, 4, on_done), 0);
	for (int i = 0; i < 9; i++)
		free(reqs[i]);
}

static void test_config(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_config cfg;
	uint64_t f = blkdev_features(r->dev);

	assert_int_equal(blkdev_capacity(r->dev), DISK_SECTORS);
	blkdev_fill_config(r->dev, &cfg);
	assert_int_equal(le64toh(cfg.capacity), DISK_SECTORS);
	assert_int_equal(le32toh(cfg.blk_size), 512);
	assert_int_equal(le32toh(cfg.seg_max), BLK_SEG_MAX);
	assert_int_equal(le32toh(cfg.size_max), BLK_SIZE_MAX);
	assert_int_equal(le16toh(cfg.num_queues), 4);
	assert_int_equal(le32toh(cfg.max_discard_seg), BLK_DWZ_SEG_MAX);
	assert_int_equal(le32toh(cfg.max_write_zeroes_sectors), BLK_DWZ_SECTORS_MAX);
	assert_int_equal(cfg.wce, 1);
	assert_true(f & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_true(f & (1ull << VIRTIO_BLK_F_MQ));
	assert_true(f & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_true(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(f & (1ull << VIRTIO_BLK_F_RO));
	assert_true(f & (1ull << 32)); /* VIRTIO_F_VERSION_1 */
	assert_true(f & (1ull << 34)); /* VIRTIO_F_RING_PACKED */
}

static void test_open_errors(void **state)
{
	struct blkdev_options opts = { 0 };
	struct blkdev *dev = NULL;

	(void)state;
	opts.path = "/nonexistent/vhu-disk";
	assert_int_equal(blkdev_open(&opts, &dev), -ENOENT);
	opts.path = "/tmp";
	assert_int_equal(blkdev_open(&opts, &dev), -EISDIR); /* O_RDWR on a directory */
	opts.read_only = true;
	assert_int_equal(blkdev_open(&opts, &dev), -EINVAL); /* not a file or disk */
	opts.path = NULL;
	assert_int_equal(blkdev_open(&opts, &dev), -EINVAL);
	opts.null_backend = true;
	opts.null_size = 100; /* less than one sector */
	assert_int_equal(blkdev_open(&opts, &dev), -EINVAL);
	opts.null_size = 1u << 20;
	opts.serial = "123456789012345678901"; /* 21 bytes */
	assert_int_equal(blkdev_open(&opts, &dev), -EINVAL);
	opts.serial = "12345678901234567890";
	opts.num_queues = BLK_QUEUES_MAX + 1;
	assert_int_equal(blkdev_open(&opts, &dev), -EINVAL);
	opts.num_queues = 1;
	assert_int_equal(blkdev_open(&opts, &dev), 0);
	blkdev_close(dev);
}

/* ---- the null disk ---- */

static void test_null_backend(void **state)
{
	struct blkdev_options opts = { .null_backend = true, .null_size = 1u << 30 };
	struct blkdev *dev;
	struct blk_queue *q;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_OUT, 1000);
	uint8_t data[1024 + 1];
	struct vhu_req *req = req_new();
	struct done_rec rec;

	(void)state;
	assert_int_equal(blkdev_open(&opts, &dev), 0);
	assert_int_equal(blk_queue_create(dev, 0, &q), 0);
	assert_int_equal(blkdev_capacity(dev), (1u << 30) / 512);

	memset(data, 0xab, sizeof(data));
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, 1024, false);
	req_add(req, data + 1024, 1, true);
	assert_int_equal(run(q, req).status, VIRTIO_BLK_S_OK);

	req_reset(req);
	h = hdr_make(VIRTIO_BLK_T_IN, 1000);
	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), true);
	rec = run(q, req);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, sizeof(data));
	for (size_t i = 0; i < 1024; i++)
		assert_int_equal(data[i], 0);

	h = hdr_make(VIRTIO_BLK_T_IN, (1u << 30) / 512); /* still bounds checked */
	assert_int_equal(run(q, req).status, VIRTIO_BLK_S_IOERR);
	h = hdr_make(VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(run(q, req).status, VIRTIO_BLK_S_OK);

	blk_queue_destroy(q);
	blkdev_close(dev);
	free(req);
}

/* blk_queue_exec() on a request that needs no I/O: done before it returns. */
static struct done_rec run_inline(struct blk_queue *q, struct vhu_req *req)
{
	struct done_rec rec = { 0 };
	struct pollfd pfd = { .fd = blk_queue_eventfd(q), .events = POLLIN };
	uint64_t cnt;
	ssize_t n = read(pfd.fd, &cnt, sizeof(cnt)); /* clear what earlier requests signalled */

	(void)n;
	assert_int_equal(blk_queue_exec(q, req, &rec, on_done), 1);
	assert_int_equal(rec.calls, 1);
	assert_ptr_equal(rec.req, req);
	assert_int_equal(blk_queue_inflight(q), 0);
	/* the io_uring was not involved */
	assert_false(blk_queue_has_completions(q));
	assert_int_equal(blk_queue_flush(q), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	return rec;
}

/* One request of each kind on the null disk, through both paths: same checks, same results. */
struct null_case {
	uint32_t type;
	uint64_t sector;
	uint32_t hdr_len;  /* bytes of header given (a short one is IOERR) */
	uint32_t out_data; /* readable bytes after the header */
	uint32_t in_data;  /* writable bytes before the status byte */
	bool status;	   /* a status byte at all */
	uint8_t expect;
	uint32_t expect_len;
};

static void null_case_run(struct blk_queue *q, const struct null_case *c, bool exec)
{
	static uint8_t out[4096], in[4096 + 1];
	struct virtio_blk_outhdr h = hdr_make(c->type, c->sector);
	struct vhu_req *req = req_new();
	struct done_rec rec;

	memset(out, 0, sizeof(out));
	memset(in, 0xab, sizeof(in));
	req_add(req, &h, c->hdr_len, false);
	if (c->out_data)
		req_add(req, out, c->out_data, false);
	if (c->in_data || c->status)
		req_add(req, in, c->in_data + (c->status ? 1 : 0), true);
	rec = exec ? run_inline(q, req) : run(q, req);
	assert_int_equal(rec.status, c->expect);
	assert_int_equal(rec.len, c->expect_len);
	if (c->status)
		assert_int_equal(in[c->in_data], c->expect);
	for (uint32_t i = 0;
	     c->type == VIRTIO_BLK_T_IN && c->expect == VIRTIO_BLK_S_OK && i < c->in_data; i++)
		assert_int_equal(in[i], 0); /* reads see zeros */
	free(req);
}

static void test_null_inline(void **state)
{
	const uint64_t size = 1u << 20, last = size / 512 - 1;
	struct blkdev_options opts = { .null_backend = true, .null_size = size, .serial = "nul" };
	const struct null_case cases[] = {
		{ VIRTIO_BLK_T_IN, 0, 16, 0, 4096, true, VIRTIO_BLK_S_OK, 4097 },
		{ VIRTIO_BLK_T_IN, last, 16, 0, 512, true, VIRTIO_BLK_S_OK, 513 },
		{ VIRTIO_BLK_T_IN, last, 16, 0, 1024, true, VIRTIO_BLK_S_IOERR, 1 }, /* past end */
		{ VIRTIO_BLK_T_IN, UINT64_MAX, 16, 0, 512, true, VIRTIO_BLK_S_IOERR, 1 },
		{ VIRTIO_BLK_T_IN, 0, 16, 0, 100, true, VIRTIO_BLK_S_IOERR, 1 }, /* not sectors */
		{ VIRTIO_BLK_T_IN, 0, 8, 0, 512, true, VIRTIO_BLK_S_IOERR, 1 },	 /* short header */
		{ VIRTIO_BLK_T_IN, 0, 16, 0, 0, false, VIRTIO_BLK_S_IOERR, 0 }, /* no status byte */
		{ VIRTIO_BLK_T_OUT, 0, 16, 4096, 0, true, VIRTIO_BLK_S_OK, 1 },
		{ VIRTIO_BLK_T_OUT, last + 1, 16, 512, 0, true, VIRTIO_BLK_S_IOERR, 1 },
		{ VIRTIO_BLK_T_FLUSH, 0, 16, 0, 0, true, VIRTIO_BLK_S_OK, 1 },
		{ VIRTIO_BLK_T_GET_ID, 0, 16, 0, 20, true, VIRTIO_BLK_S_OK, 21 },
		{ VIRTIO_BLK_T_DISCARD, 0, 16, 8, 0, true, VIRTIO_BLK_S_IOERR,
		  1 }, /* half a segment */
		{ 0x1234, 0, 16, 0, 0, true, VIRTIO_BLK_S_UNSUPP, 1 },
	};
	struct blkdev *dev;
	struct blk_queue *q;

	(void)state;
	assert_int_equal(blkdev_open(&opts, &dev), 0);
	assert_int_equal(blk_queue_create(dev, 2, &q), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		null_case_run(q, &cases[i], false); /* through the io_uring */
		null_case_run(q, &cases[i], true);  /* inline: the same answer */
	}
	blk_queue_destroy(q);
	blkdev_close(dev);
}

/* On a file: I/O is queued (0), a request that needs none completes inline (1). */
static void test_exec_file(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_IN, 0);
	struct virtio_blk_outhdr bad = hdr_make(VIRTIO_BLK_T_IN, DISK_SECTORS);
	uint8_t data[512 + 1] = { 0 }, bad_data[512 + 1] = { 0 };
	struct vhu_req *req = req_new(), *bad_req = req_new();
	struct done_rec rec = { 0 }, bad_rec;

	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), true);
	req_add(bad_req, &bad, sizeof(bad), false);
	req_add(bad_req, bad_data, sizeof(bad_data), true);
	assert_int_equal(blk_queue_exec(r->q, req, &rec, on_done), 0);
	assert_int_equal(rec.calls, 0);
	assert_int_equal(blk_queue_inflight(r->q), 1);
	/* a bad one while the read is in flight: done at once, the read unaffected */
	assert_int_equal(blk_queue_exec(r->q, bad_req, &bad_rec, on_done), 1);
	assert_int_equal(bad_rec.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(bad_data[512], VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_queue_inflight(r->q), 1);
	assert_int_equal(blk_queue_flush(r->q), 0);
	for (int i = 0; i < 5000 && !blk_queue_has_completions(r->q); i++)
		usleep(1000);
	assert_true(blk_queue_has_completions(r->q));
	assert_int_equal(blk_queue_reap(r->q, 1, on_done), 1);
	assert_false(blk_queue_has_completions(r->q));
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rec.len, sizeof(data));
	assert_int_equal(data[0], 0x5a);
	free(req);
	free(bad_req);
}

/*
 * A tmpfs disk: a write split over odd buffers and a read back complete
 * inside blk_queue_exec() (io_uring would hand them to io-wq's threads);
 * one over 64 KiB still goes to the io_uring; past the end fails inline.
 */
static void test_exec_inline_tmpfs(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr wh = hdr_make(VIRTIO_BLK_T_OUT, 3),
				 rh = hdr_make(VIRTIO_BLK_T_IN, 3);
	struct virtio_blk_outhdr big = hdr_make(VIRTIO_BLK_T_IN, 0);
	struct virtio_blk_outhdr past = hdr_make(VIRTIO_BLK_T_IN, DISK_SECTORS - 1);
	static uint8_t pat[2048], back[2048], disk[2048], bigbuf[128 * 1024 + 1];
	uint8_t ws = 0xff, rs = 0xff, ps = 0xff, pbuf[1024];
	struct vhu_req *w = req_new(), *rd = req_new(), *b = req_new(), *p = req_new();
	struct done_rec wrec = { 0 }, rrec = { 0 }, brec = { 0 }, prec = { 0 };

	if (DISK_SIZE < sizeof(bigbuf))
		skip();
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 13 + 1);
	req_add(w, &wh, sizeof(wh), false);
	req_add(w, pat, 700, false);
	req_add(w, pat + 700, 1348, false);
	req_add(w, &ws, 1, true);
	assert_int_equal(blk_queue_exec(r->q, w, &wrec, on_done), 1);
	assert_int_equal(wrec.calls, 1);
	assert_int_equal(wrec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(ws, VIRTIO_BLK_S_OK);
	file_read(r, disk, sizeof(disk), 3 * 512);
	assert_memory_equal(disk, pat, sizeof(pat));
	/* read back into three pieces, the status at the tail of the last */
	req_add(rd, &rh, sizeof(rh), false);
	req_add(rd, back, 1000, true);
	req_add(rd, back + 1000, 1048, true);
	req_add(rd, &rs, 1, true);
	assert_int_equal(blk_queue_exec(r->q, rd, &rrec, on_done), 1);
	assert_int_equal(rrec.status, VIRTIO_BLK_S_OK);
	assert_int_equal(rrec.len, sizeof(back) + 1);
	assert_int_equal(rs, VIRTIO_BLK_S_OK);
	assert_memory_equal(back, pat, sizeof(pat));
	assert_int_equal(blk_queue_inflight(r->q), 0);
	/* over 64 KiB: through the io_uring, completed by a reap */
	req_add(b, &big, sizeof(big), false);
	req_add(b, bigbuf, sizeof(bigbuf), true);
	assert_int_equal(blk_queue_exec(r->q, b, &brec, on_done), 0);
	assert_int_equal(blk_queue_flush(r->q), 0);
	assert_int_equal(blk_queue_reap(r->q, 1, on_done), 1);
	assert_int_equal(brec.status, VIRTIO_BLK_S_OK);
	/* a read that runs past the end fails inline, as it would in a CQE */
	req_add(p, &past, sizeof(past), false);
	req_add(p, pbuf, sizeof(pbuf), true);
	req_add(p, &ps, 1, true);
	assert_int_equal(blk_queue_exec(r->q, p, &prec, on_done), 1);
	assert_int_equal(prec.status, VIRTIO_BLK_S_IOERR);
	free(w);
	free(rd);
	free(b);
	free(p);
}

/* blk_queue_exec() needs a free slot like blk_queue_submit(), even to complete inline. */
static void test_exec_busy(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_FLUSH, 0);
	struct virtio_blk_outhdr id = hdr_make(VIRTIO_BLK_T_GET_ID, 0);
	uint8_t status[8], serial[21];
	struct vhu_req *reqs[8], *id_req = req_new();
	struct done_rec recs[8] = { 0 }, id_rec = { 0 };

	for (int i = 0; i < 8; i++) {
		reqs[i] = req_new();
		req_add(reqs[i], &h, sizeof(h), false);
		req_add(reqs[i], &status[i], 1, true);
		assert_int_equal(blk_queue_exec(r->q, reqs[i], &recs[i], on_done), 0);
	}
	req_add(id_req, &id, sizeof(id), false);
	req_add(id_req, serial, sizeof(serial), true);
	assert_int_equal(blk_queue_exec(r->q, id_req, &id_rec, on_done), -EBUSY);
	assert_int_equal(id_rec.calls, 0);
	assert_int_equal(blk_queue_reap(r->q, 8, on_done), 8);
	id_rec = run_inline(r->q, id_req);
	assert_int_equal(id_rec.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(serial, "vhu-serial-1", 12);
	for (int i = 0; i < 8; i++)
		free(reqs[i]);
	free(id_req);
}

static void test_destroy_inflight(void **state)
{
	struct rig *r = *state;
	struct virtio_blk_outhdr h = hdr_make(VIRTIO_BLK_T_IN, 0);
	uint8_t data[4096 + 1];
	struct vhu_req *req = req_new();
	struct done_rec rec = { 0 };

	req_add(req, &h, sizeof(h), false);
	req_add(req, data, sizeof(data), true);
	assert_int_equal(blk_queue_submit(r->q, req, &rec), 0);
	blk_queue_destroy(r->q); /* waits, does not call back */
	r->q = NULL;
	assert_int_equal(rec.calls, 0);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_split, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_exec_inline_tmpfs, setup_shm, teardown),
		cmocka_unit_test_setup_teardown(test_header_split, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_status_tail_of_data, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_past_end, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_sector_overflow, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lengths, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_no_status_byte, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_dwz_bounds, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_short_read, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_busy_and_eventfd, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_inflight, setup_rw, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_null_backend),
		cmocka_unit_test(test_null_inline),
		cmocka_unit_test_setup_teardown(test_exec_file, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_exec_busy, setup_rw, teardown),
	};

	return cmocka_run_group_tests_name("blkdev", tests, NULL, NULL);
}
