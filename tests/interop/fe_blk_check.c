/* SPDX-License-Identifier: MIT */
/*
 * fe_blk_check: lib/frontend against a real vhost-user-blk back-end
 * (vhu-blk, qemu-storage-daemon). Writes a pattern with virtio-blk OUT
 * requests, reads it back with IN, FLUSHes, asks GET_ID, and checks every
 * status byte.
 *
 * With split-ro or packed-ro, for a read-only disk: the device must offer
 * VIRTIO_BLK_F_RO, and the check writes anyway, as a driver that ignores the
 * bit would: every OUT must complete with VIRTIO_BLK_S_IOERR, and the blocks
 * read before and after must be the same. (A guest kernel refuses the write
 * itself, so only a front-end like this one puts it in front of the device.)
 *
 *   fe_blk_check SOCKET split|packed|split-ro|packed-ro [EXPECTED-SERIAL]
 *
 * Exit: 0 pass, 1 fail, 77 the back-end lacks what the mode needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <vhu/frontend.h>

#define NREQ 16u
#define BLOCK 4096u
#define F(bit) (1ull << (bit))
#define F_WANTED                                                                              \
	(F(32) | F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) | \
	 F(28) | F(29))
#define F_PACKED F(34)

struct req {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	uint8_t id[VIRTIO_BLK_ID_BYTES];
};

static int fail(const char *what)
{
	fprintf(stderr, "fe_blk_check: FAIL: %s\n", what);
	return 1;
}

/* Submit @n requests (already added), kick once, collect all. */
static int complete(struct vhu_frontend_queue *q, unsigned int n)
{
	if (vhu_frontend_queue_kick(q) < 0)
		return fail("kick");
	for (unsigned int got = 0; got < n;) {
		void *token;
		uint32_t len;
		int ret = vhu_frontend_queue_get(q, &token, &len);

		if (ret < 0)
			return fail("bad completion");
		if (ret == 1) {
			got++;
			continue;
		}
		if (vhu_frontend_queue_wait(q, 10000) <= 0)
			return fail("no completion within 10 s");
	}
	return 0;
}

static int add(struct vhu_frontend_queue *q, struct req *r, uint32_t type, uint64_t sector,
	       void *data, uint32_t size)
{
	struct iovec out[2] = { { &r->hdr, sizeof(r->hdr) }, { data, size } };
	struct iovec in[2] = { { data, size }, { &r->status, 1 } };
	bool write = type == VIRTIO_BLK_T_OUT;

	r->hdr.type = type;
	r->hdr.ioprio = 0;
	r->hdr.sector = sector;
	r->status = 0xff;
	if (write)
		return vhu_frontend_queue_add(q, out, size ? 2 : 1, &in[1], 1, r);
	if (size)
		return vhu_frontend_queue_add(q, out, 1, in, 2, r);
	return vhu_frontend_queue_add(q, out, 1, &in[1], 1, r);
}

static int check_status(const struct req *r, unsigned int n, const char *what)
{
	for (unsigned int i = 0; i < n; i++) {
		if (r[i].status != VIRTIO_BLK_S_OK) {
			fprintf(stderr, "fe_blk_check: %s #%u: status %u\n", what, i, r[i].status);
			return 1;
		}
	}
	return 0;
}

static int write_read(struct vhu_frontend *fe, struct vhu_frontend_queue *q, struct req *r)
{
	uint8_t *pattern = vhu_frontend_alloc(fe, NREQ * BLOCK, 4096);
	uint8_t *back = vhu_frontend_alloc(fe, NREQ * BLOCK, 4096);

	if (!pattern || !back)
		return fail("shared memory");
	for (unsigned int i = 0; i < NREQ * BLOCK; i++)
		pattern[i] = (uint8_t)(i * 31 + i / BLOCK);
	for (unsigned int i = 0; i < NREQ; i++)
		if (add(q, &r[i], VIRTIO_BLK_T_OUT, i * (BLOCK / 512), pattern + i * BLOCK, BLOCK))
			return fail("add OUT");
	if (complete(q, NREQ) || check_status(r, NREQ, "OUT"))
		return 1;
	for (unsigned int i = 0; i < NREQ; i++)
		if (add(q, &r[i], VIRTIO_BLK_T_IN, i * (BLOCK / 512), back + i * BLOCK, BLOCK))
			return fail("add IN");
	if (complete(q, NREQ) || check_status(r, NREQ, "IN"))
		return 1;
	if (memcmp(pattern, back, NREQ * BLOCK))
		return fail("read back differs from what was written");
	return 0;
}

/* A read-only disk: OUT fails with IOERR, the blocks stay as they were. */
static int write_refused(struct vhu_frontend *fe, struct vhu_frontend_queue *q, struct req *r)
{
	uint8_t *before = vhu_frontend_alloc(fe, NREQ * BLOCK, 4096);
	uint8_t *after = vhu_frontend_alloc(fe, NREQ * BLOCK, 4096);
	uint8_t *data = vhu_frontend_alloc(fe, NREQ * BLOCK, 4096);

	if (!before || !after || !data)
		return fail("shared memory");
	if (!(vhu_frontend_features(fe) & F(VIRTIO_BLK_F_RO)))
		return fail("a read-only disk without VIRTIO_BLK_F_RO");
	for (unsigned int i = 0; i < NREQ; i++)
		if (add(q, &r[i], VIRTIO_BLK_T_IN, i * (BLOCK / 512), before + i * BLOCK, BLOCK))
			return fail("add IN");
	if (complete(q, NREQ) || check_status(r, NREQ, "IN"))
		return 1;
	for (unsigned int i = 0; i < NREQ * BLOCK; i++)
		data[i] = (uint8_t)~before[i];
	for (unsigned int i = 0; i < NREQ; i++)
		if (add(q, &r[i], VIRTIO_BLK_T_OUT, i * (BLOCK / 512), data + i * BLOCK, BLOCK))
			return fail("add OUT");
	if (complete(q, NREQ))
		return 1;
	for (unsigned int i = 0; i < NREQ; i++) {
		if (r[i].status != VIRTIO_BLK_S_IOERR) {
			fprintf(stderr,
				"fe_blk_check: OUT #%u to a read-only disk: status %u, not IOERR\n",
				i, r[i].status);
			return 1;
		}
	}
	for (unsigned int i = 0; i < NREQ; i++)
		if (add(q, &r[i], VIRTIO_BLK_T_IN, i * (BLOCK / 512), after + i * BLOCK, BLOCK))
			return fail("add IN");
	if (complete(q, NREQ) || check_status(r, NREQ, "IN"))
		return 1;
	if (memcmp(before, after, NREQ * BLOCK))
		return fail("a read-only disk changed under OUT requests");
	printf("read-only: %u OUT requests completed with IOERR, the blocks unchanged\n", NREQ);
	return 0;
}

static int flush_and_id(struct vhu_frontend *fe, struct vhu_frontend_queue *q, struct req *r,
			const char *serial)
{
	if (vhu_frontend_features(fe) & F(VIRTIO_BLK_F_FLUSH)) {
		if (add(q, &r[0], VIRTIO_BLK_T_FLUSH, 0, NULL, 0) || complete(q, 1) ||
		    check_status(r, 1, "FLUSH"))
			return fail("FLUSH");
	}
	memset(r[1].id, 0, sizeof(r[1].id));
	if (add(q, &r[1], VIRTIO_BLK_T_GET_ID, 0, r[1].id, sizeof(r[1].id)) || complete(q, 1))
		return fail("GET_ID");
	if (r[1].status != VIRTIO_BLK_S_OK && r[1].status != VIRTIO_BLK_S_UNSUPP)
		return fail("GET_ID status is neither OK nor UNSUPP");
	printf("GET_ID: status %u id '%.20s'\n", r[1].status, (const char *)r[1].id);
	if (serial && (r[1].status != VIRTIO_BLK_S_OK || strncmp((char *)r[1].id, serial, 20)))
		return fail("GET_ID did not return the serial");
	return 0;
}

static int run(struct vhu_frontend *fe, bool ro, const char *serial)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(fe, 0);
	struct req *r = vhu_frontend_alloc(fe, NREQ * sizeof(*r), 64);
	uint64_t capacity = 0;

	if (!q || !r)
		return fail("queue or memory");
	if (vhu_frontend_get_config(fe, 0, &capacity, sizeof(capacity)) == 0)
		printf("capacity: %llu sectors\n", (unsigned long long)capacity);
	if (capacity && capacity < NREQ * BLOCK / 512)
		return fail("disk too small");
	if (ro ? write_refused(fe, q, r) : write_read(fe, q, r))
		return 1;
	if (flush_and_id(fe, q, r, serial))
		return 1;
	return vhu_frontend_stop(fe) ? fail("stop") : 0;
}

int main(int argc, char **argv)
{
	struct vhu_frontend_config cfg = {
		.fd = -1,
		.timeout_ms = 10000,
		.protocol_features = ~0ull,
		.num_queues = 1,
		.queue_size = 128,
		.mem_size = 1u << 20,
	};
	struct vhu_frontend *fe;
	bool packed, ro;
	int ret;

	if (argc < 3)
		return fail("usage: fe_blk_check SOCKET split|packed|split-ro|packed-ro [SERIAL]");
	packed = strncmp(argv[2], "packed", 6) == 0;
	ro = strstr(argv[2], "-ro") != NULL;
	cfg.socket_path = argv[1];
	cfg.features = F_WANTED | (packed ? F_PACKED : 0) | (ro ? F(VIRTIO_BLK_F_RO) : 0);
	ret = vhu_frontend_connect(&cfg, &fe);
	if (ret < 0)
		return fail(strerror(-ret));
	if (packed && !(vhu_frontend_features(fe) & F_PACKED)) {
		vhu_frontend_destroy(fe);
		printf("the back-end does not offer VIRTIO_F_RING_PACKED\n");
		return 77;
	}
	printf("features %#llx protocol %#llx\n", (unsigned long long)vhu_frontend_features(fe),
	       (unsigned long long)vhu_frontend_protocol_features(fe));
	ret = vhu_frontend_start(fe);
	if (ret < 0) {
		vhu_frontend_destroy(fe);
		return fail("start");
	}
	ret = run(fe, ro, argc > 3 ? argv[3] : NULL);
	vhu_frontend_destroy(fe);
	if (ret == 0)
		printf("fe_blk_check: %s: %s, IN, FLUSH, GET_ID all OK\n", argv[2],
		       ro ? "OUT refused" : "OUT");
	return ret;
}
