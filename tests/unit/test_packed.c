/* SPDX-License-Identifier: MIT */
/*
 * The packed ring engine against the fake guest's driver: requests, used
 * descriptors, the wrap counters, base save/restore, event suppression, setup
 * checks, and every malformed ring the engine must refuse. Each bad ring
 * breaks only its queue (-EIO, one log line, err_fd signalled) while a
 * second queue on the same memory keeps working.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "../support/fake_guest.h"
#include "virtq/virtq.h"

#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_PACKED (1ull << 34)
#define NUM 8u
#define MiB (1ull << 20)
#define DATA_SIZE (128u * 1024u)

struct rig {
	struct fake_guest fg;
	struct vhu_log log;
	unsigned int logs;
	char last_log[256];
	struct drv_packed drv[2];
	struct vhu_vq vq[2];
	int err_fd, call_fd;	     /* vq[0]'s; owned by it */
	uint64_t data;		     /* gpa of DATA_SIZE bytes for buffers */
	uint64_t table;		     /* gpa of room for an indirect table of 2048 entries */
	struct vhu_req req, more[4]; /* more: bursts */
	struct iovec iov[5][VHU_REQ_MAX_IOV];
};

static void log_count(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	struct rig *r = opaque;

	(void)level;
	(void)prefix;
	r->logs++;
	snprintf(r->last_log, sizeof(r->last_log), "%s", text);
}

static void queue_setup(struct rig *r, unsigned int i, uint64_t features, uint16_t num)
{
	struct vhu_vq *vq = &r->vq[i];
	struct drv_packed *d = &r->drv[i];

	vhu_vq_init(vq, i, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_features(vq, F_PACKED | features), 0);
	assert_int_equal(vhu_vq_set_num(vq, num), 0);
	assert_int_equal(drv_packed_init(d, &r->fg, num), 0);
	assert_int_equal(vhu_vq_set_base(vq, 0x80008000u), 0); /* QEMU's fresh ring */
	assert_int_equal(vhu_vq_set_addr(vq, fake_guest_uva(&r->fg, d->desc_gpa),
					 fake_guest_uva(&r->fg, d->driver_event_gpa),
					 fake_guest_uva(&r->fg, d->device_event_gpa)),
			 0);
	assert_int_equal(vhu_vq_start(vq), 0);
}

static struct rig *rig_new(void **state, uint64_t features, uint16_t num)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	*state = r;
	assert_int_equal(fake_guest_init(&r->fg, 2), 0);
	r->log.fn = log_count;
	r->log.opaque = r;
	r->log.level = VHU_LOG_ERR;
	vhu_req_init(&r->req, r->iov[4], VHU_REQ_MAX_IOV);
	for (unsigned int i = 0; i < 4; i++)
		vhu_req_init(&r->more[i], r->iov[i], VHU_REQ_MAX_IOV);
	r->data = fake_guest_alloc(&r->fg, DATA_SIZE, 4096);
	r->table = fake_guest_alloc(&r->fg, 16u * 2048, 16);
	queue_setup(r, 0, features, num);
	queue_setup(r, 1, features, num);
	r->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(r->err_fd >= 0 && r->call_fd >= 0);
	vhu_vq_set_fd(&r->vq[0].err_fd, r->err_fd);
	vhu_vq_set_fd(&r->vq[0].call_fd, r->call_fd);
	return r;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	if (r) {
		vhu_vq_reset(&r->vq[0]);
		vhu_vq_reset(&r->vq[1]);
		drv_packed_fini(&r->drv[0]);
		drv_packed_fini(&r->drv[1]);
		fake_guest_fini(&r->fg);
		free(r);
	}
	return 0;
}

static struct drv_buf buf(uint64_t gpa, uint32_t len, bool writable)
{
	struct drv_buf b = { .gpa = gpa, .len = len, .writable = writable };

	return b;
}

static struct vring_packed_desc pd(uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct vring_packed_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.id = htole16(id),
		.flags = htole16(flags),
	};

	return d;
}

static uint64_t signalled(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

/* vq[0] is broken, said so once (@why) and signalled err_fd; vq[1] still works. */
static void expect_broken(struct rig *r, const char *why)
{
	struct drv_buf b = buf(r->data, 64, false);
	uint16_t id;
	uint32_t len;

	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), -EIO);
	assert_true(vhu_vq_broken(&r->vq[0]));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), -EIO);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), -EIO);
	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(r->logs, 1);
	assert_non_null(strstr(r->last_log, why));
	assert_int_equal(signalled(r->err_fd), 1);

	assert_false(vhu_vq_broken(&r->vq[1]));
	assert_int_equal(drv_packed_add(&r->drv[1], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[1], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[1], &r->req, 0), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[1], &id, &len), 1);
}

/* ---- happy paths ---------------------------------------------------------- */

static void one_desc(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 64, false);
	uint8_t *host = fake_guest_ptr(&r->fg, r->data, 64);
	uint16_t id;
	uint32_t len;

	memset(host, 0xab, 64);
	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 3), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, 3);
	assert_int_equal(r->req.ndescs, 1);
	assert_int_equal(r->req.out_num, 1);
	assert_int_equal(r->req.out_size, 64);
	assert_int_equal(((uint8_t *)r->req.iov[0].iov_base)[63], 0xab);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 0);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, 3);
	assert_int_equal(len, 0);
	assert_false(le16toh(r->drv[0].ring.desc[0].flags) & VRING_DESC_F_WRITE);
	assert_int_equal(r->logs, 0);
}

static void chain_out_then_in(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b[4] = {
		buf(r->data, 16, false),
		buf(r->data + 100, 32, false),
		buf(r->data + 1000, 8, true),
		buf(r->data + 2000, 24, true),
	};
	uint8_t *in = fake_guest_ptr(&r->fg, r->data + 2000, 24);
	uint16_t id;
	uint32_t len;

	assert_int_equal(drv_packed_add(&r->drv[0], b, 4, 5), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, 5);
	assert_int_equal(r->req.ndescs, 4);
	assert_int_equal(r->req.out_num, 2);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.out_size, 48);
	assert_int_equal(r->req.in_size, 32);
	memset(r->req.iov[3].iov_base, 0x5a, 24);
	assert_int_equal(in[23], 0x5a);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 32), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, 5);
	assert_int_equal(len, 32);
	assert_true(le16toh(r->drv[0].ring.desc[0].flags) & VRING_DESC_F_WRITE);
	assert_int_equal(r->drv[0].ring.used_idx, 4); /* the chain's slots were skipped */
}

static void indirect_table(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[3] = {
		buf(r->data, 10, false),
		buf(r->data + 64, 20, true),
		buf(r->data + 128, 30, true),
	};
	struct vring_packed_desc *t = fake_guest_ptr(&r->fg, r->table, 48);

	assert_int_equal(drv_packed_add_indirect(&r->drv[0], r->table, b, 3, 6), 0);
	/* spec: in a table only WRITE counts; NEXT, INDIRECT and ids are ignored */
	t[0].flags = htole16(VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
	t[1].id = htole16(0xffff);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, 6);
	assert_int_equal(r->req.ndescs, 1);
	assert_int_equal(r->req.out_num, 1);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.in_size, 50);
}

static void buffer_across_regions(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(MiB - 100, 300, true);

	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.iov[0].iov_len, 100);
	assert_int_equal(r->req.iov[1].iov_len, 200);
}

static void max_iov_exactly(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	static struct drv_buf b[VHU_REQ_MAX_IOV];

	for (unsigned int i = 0; i < VHU_REQ_MAX_IOV; i++)
		b[i] = buf(r->data + i, 1, i >= 10);
	assert_int_equal(drv_packed_add_indirect(&r->drv[0], r->table, b, VHU_REQ_MAX_IOV, 1), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_num, 10);
	assert_int_equal(r->req.in_num, VHU_REQ_MAX_IOV - 10);
}

static uint32_t drv_base(const struct drv_packed *d)
{
	return (d->ring.avail_idx | (d->ring.avail_wrap ? 0x8000u : 0)) |
	       (uint32_t)(d->ring.used_idx | (d->ring.used_wrap ? 0x8000u : 0)) << 16;
}

/* Chains of 1 to 3 slots in a ring of 5 wrap both counters several times. */
static void wrap_counters(void **state)
{
	struct rig *r = rig_new(state, 0, 5);

	for (unsigned int i = 0; i < 40; i++) {
		struct drv_buf b[3] = {
			buf(r->data, 4, false),
			buf(r->data + 8, 4, false),
			buf(r->data + 16, 8, true),
		};
		unsigned int n = 1 + i % 3;
		uint16_t id = (uint16_t)(i % 5), got;
		uint32_t len;

		assert_int_equal(drv_packed_add(&r->drv[0], b + 3 - n, n, id), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(r->req.id, id);
		assert_int_equal(r->req.ndescs, n);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 8), 0);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &got, &len), 1);
		assert_int_equal(got, id);
		assert_int_equal(len, 8);
		assert_int_equal(vhu_vq_get_base(&r->vq[0]), drv_base(&r->drv[0]));
	}
	assert_int_equal(r->logs, 0);
}

/* GET_VRING_BASE's value resumes the ring where it stopped, wrap counters included. */
static void base_round_trip(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 4, false);
	uint32_t base;
	uint16_t id;
	uint32_t len;

	assert_int_equal(vhu_vq_get_base(&r->vq[0]), 0x80008000u);
	for (unsigned int i = 0; i < NUM + 3; i++) {
		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 1), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	}
	vhu_vq_stop(&r->vq[0]);
	base = vhu_vq_get_base(&r->vq[0]);
	assert_int_equal(base, 3u | 3u << 16); /* slot 3, both wrap counters 0 */
	assert_int_equal(vhu_vq_set_base(&r->vq[0], 0x80008000u), 0);
	assert_int_equal(vhu_vq_get_base(&r->vq[0]), 0x80008000u);
	/* restored, the device continues where the driver is */
	assert_int_equal(vhu_vq_set_base(&r->vq[0], base), 0);
	assert_int_equal(vhu_vq_start(&r->vq[0]), 0);
	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 2), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, 2);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, 2);
	assert_int_equal(vhu_vq_get_base(&r->vq[0]), 4u | 4u << 16);
}

static void push_len_clamped(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 100, true);
	uint16_t id;
	uint32_t len;

	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 101), -EINVAL);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(len, 100);
	assert_false(vhu_vq_broken(&r->vq[0]));
}

/* An unpopped chain comes back whole, also across the wrap. */
static void unpop(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct vhu_req bad = { .ndescs = 0 };
	uint32_t len;
	uint16_t id;

	for (uint16_t i = 0; i < 2 * NUM; i++) {
		struct drv_buf b[3] = { buf(r->data, 8, false), buf(r->data + 64, 8, true),
					buf(r->data + 128, 8, true) };

		assert_int_equal(drv_packed_add(&r->drv[0], b, 3, i % 4), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(r->req.ndescs, 3);
		assert_int_equal(vhu_vq_unpop(&r->vq[0], &r->req), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(r->req.id, i % 4);
		assert_int_equal(r->req.in_size, 16);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 16), 0);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(id, i % 4);
	}
	assert_int_equal(vhu_vq_unpop(&r->vq[0], &bad), -EINVAL);
	assert_false(vhu_vq_broken(&r->vq[0]));
}

/* A packed ring completes a burst one descriptor at a time, in order. */
static void push_burst(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct vhu_req *reqs = r->more;
	uint32_t lens[3] = { 1, 101, 3 }, len;
	uint16_t id;

	for (uint16_t i = 0; i < 3; i++) {
		struct drv_buf b = buf(r->data + 128u * i, 100, true);

		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, (uint16_t)(5 - i)), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[i]), 1);
	}
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, lens, 3), -EINVAL); /* 101 clamped */
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(id, 5 - i);
		assert_int_equal(len, i == 1 ? 100 : lens[i]);
	}
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 0);
	assert_false(vhu_vq_broken(&r->vq[0]));
}

/*
 * Bursts of receive chains (lengths given) of one and two slots in a ring
 * of 5: published first slot last (vhu_packed_push_burst), each chain's id
 * and length in its own slot, across both wrap counters; a burst holding a
 * request of another ring pushes the good ones one by one and says so.
 */
static void push_burst_wraps(void **state)
{
	struct rig *r = rig_new(state, 0, 5);
	struct vhu_req *reqs = r->more;
	uint32_t len;
	uint16_t id, next_id = 0;

	for (unsigned int round = 0; round < 12; round++) {
		unsigned int n = 2 + round % 2; /* 2 or 3 chains, 1 + 2 (+ 1) slots */
		uint32_t lens[3];

		for (unsigned int i = 0; i < n; i++) {
			struct drv_buf b[2] = {
				buf(r->data + 256u * i, 64, true),
				buf(r->data + 256u * i + 128, 64, true),
			};
			unsigned int slots = i == 1 ? 2 : 1;

			assert_int_equal(
				drv_packed_add(&r->drv[0], b, slots, (uint16_t)((next_id + i) % 5)),
				0);
			assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[i]), 1);
			lens[i] = 5u * round + i + 1; /* at most 58: fits each chain */
		}
		assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, lens, n), 0);
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
			assert_int_equal(id, (next_id + i) % 5);
			assert_int_equal(len, lens[i]);
		}
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 0);
		assert_int_equal(vhu_vq_get_base(&r->vq[0]), drv_base(&r->drv[0]));
		next_id = (uint16_t)((next_id + n) % 5);
	}
	/* a request not of this ring in the middle: the others still complete */
	{
		struct drv_buf b = buf(r->data, 64, true);
		uint32_t lens[3] = { 7, 8, 9 };

		for (unsigned int i = 0; i < 3; i += 2) {
			assert_int_equal(
				drv_packed_add(&r->drv[0], &b, 1, (uint16_t)(next_id + i / 2)), 0);
			assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[i]), 1);
		}
		reqs[1] = reqs[0];
		reqs[1].id = 5; /* no such id in a ring of 5 */
		assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, lens, 3), -EINVAL);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(len, 7);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(len, 9);
	}
	assert_false(vhu_vq_broken(&r->vq[0]));
	assert_int_equal(r->logs, 0);
}

/*
 * IN_ORDER, chains only read: one used descriptor for the burst, in the
 * first's slot with the last's id; the other slots are left as the driver
 * made them, and the next push goes after the whole burst.
 */
static void push_burst_in_order(void **state)
{
	struct rig *r = rig_new(state, VHU_BIT(35) /* VIRTIO_F_IN_ORDER */, NUM);
	struct vring_packed_desc *desc = r->drv[0].ring.desc;
	struct vhu_req *reqs = r->more, *one = &r->more[3];
	uint16_t flags_before[3];

	for (uint16_t i = 0; i < 3; i++) {
		struct drv_buf b = buf(r->data + 128u * i, 100, false);

		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, i), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[i]), 1);
		flags_before[i] = le16toh(desc[i].flags);
	}
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, NULL, 3), 0);
	assert_int_equal(le16toh(desc[0].id), 2);
	assert_int_equal(le32toh(desc[0].len), 0);
	/* used in the first lap: AVAIL and USED both set */
	assert_int_equal(le16toh(desc[0].flags) &
				 (1u << VRING_PACKED_DESC_F_AVAIL | 1u << VRING_PACKED_DESC_F_USED),
			 1u << VRING_PACKED_DESC_F_AVAIL | 1u << VRING_PACKED_DESC_F_USED);
	assert_int_equal(le16toh(desc[1].flags), flags_before[1]);
	assert_int_equal(le16toh(desc[2].flags), flags_before[2]);
	/* one more: written in slot 3, alone (a burst of one) */
	{
		struct drv_buf b = buf(r->data, 100, false);

		r->drv[0].ring.used_idx = 3; /* the fake driver frees one id per slot: skip */
		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 3), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], one), 1);
		assert_int_equal(vhu_vq_push_burst(&r->vq[0], one, NULL, 1), 0);
		assert_int_equal(le16toh(desc[3].id), 3);
	}
	/* with lengths, or without IN_ORDER, each chain gets its own (push_burst above) */
	assert_false(vhu_vq_broken(&r->vq[0]));
}

/* ---- notifications ----------------------------------------------------------- */

static void complete_one(struct rig *r)
{
	struct drv_buf b = buf(r->data, 8, true);
	uint16_t id;
	uint32_t len;

	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
}

static void notify_flags(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	complete_one(r); /* the zeroed driver event struct says ENABLE */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	assert_int_equal(signalled(r->call_fd), 1);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0); /* nothing new */
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DISABLE, 0, 0);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	assert_int_equal(signalled(r->call_fd), 0);
	/* DESC without event idx negotiated: treated as ENABLE */
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DESC, 7, 0);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
}

static void notify_event_desc(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, NUM);

	complete_one(r); /* used: slot 1, wrap 1 */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DESC, 2, true);
	complete_one(r); /* slot 1 used: not yet */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	complete_one(r); /* slot 2 used: the event */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	/* an event in the next lap: slot 1 with wrap 0 */
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DESC, 1, false);
	for (unsigned int i = 0; i < 5; i++) /* slots 3 .. 7 used: next is slot 0, wrap 0 */
		complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	complete_one(r); /* slot 0 of lap 2 */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	complete_one(r); /* slot 1 of lap 2 */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	/* an event already passed (slot 0 of lap 2) does not fire again */
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DESC, 0, false);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	/* a bogus offset: notify, which is always safe */
	drv_packed_set_event(&r->drv[0], VRING_PACKED_EVENT_FLAG_DESC, 100, false);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
}

static void enable_notify(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, false);

	assert_false(vhu_vq_enable_notify(&r->vq[0], false));
	assert_int_equal(le16toh(r->drv[0].ring.device_event->flags),
			 VRING_PACKED_EVENT_FLAG_DISABLE);
	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	/* re-enabling finds the buffer that came meanwhile */
	assert_true(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(le16toh(r->drv[0].ring.device_event->flags),
			 VRING_PACKED_EVENT_FLAG_ENABLE);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
}

static void enable_notify_event_idx(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, 4);
	struct drv_buf b = buf(r->data, 8, false);

	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
		assert_true(vhu_vq_enable_notify(&r->vq[0], true));
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	}
	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(le16toh(r->drv[0].ring.device_event->flags), VRING_PACKED_EVENT_FLAG_DESC);
	/* 5 slots into a ring of 4: slot 1 of the second lap (wrap 0) */
	assert_int_equal(le16toh(r->drv[0].ring.device_event->off_wrap), 1);
}

/* vhu_vq_has_avail(): follows the wrap counter; false when stopped. */
static void has_avail(void **state)
{
	struct rig *r = rig_new(state, 0, 4);
	struct drv_buf b = buf(r->data, 8, false);
	uint16_t id;
	uint32_t len;

	for (unsigned int i = 0; i < 9; i++) { /* over two wraps of a ring of 4 */
		assert_false(vhu_vq_has_avail(&r->vq[0]));
		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
		assert_true(vhu_vq_has_avail(&r->vq[0]));
		assert_true(vhu_vq_has_avail(&r->vq[0])); /* looking takes nothing */
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
		assert_int_equal(drv_packed_get_used(&r->drv[0], &id, &len), 1);
	}
	assert_false(vhu_vq_has_avail(&r->vq[0]));
	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	vhu_vq_stop(&r->vq[0]);
	assert_false(vhu_vq_has_avail(&r->vq[0]));
}

/* With event idx, each pop moves the device's DESC event to the next slot. */
static void event_desc_follows_pops(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, 4);
	struct drv_buf b = buf(r->data, 8, false);

	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	for (unsigned int i = 1; i <= 6; i++) {
		assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
		assert_int_equal(le16toh(r->drv[0].ring.device_event->off_wrap),
				 (i % 4) | (i < 4 ? 0x8000 : 0));
	}
	/* polling: the event stays put */
	assert_false(vhu_vq_enable_notify(&r->vq[0], false));
	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(le16toh(r->drv[0].ring.device_event->off_wrap), 2);
}

/* ---- setup checks ---------------------------------------------------------- */

static void set_num_and_base_checks(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct vhu_vq vq;

	vhu_vq_init(&vq, 3, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_features(&vq, F_PACKED), 0);
	assert_int_equal(vhu_vq_set_num(&vq, 0), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 32769), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 3), 0); /* any size for packed */
	assert_int_equal(vhu_vq_set_base(&vq, 3), -EINVAL);
	assert_int_equal(vhu_vq_set_base(&vq, 3u << 16), -EINVAL);
	assert_int_equal(vhu_vq_set_base(&vq, 0x8002u | 0x0001u << 16), 0);
	assert_int_equal(vhu_vq_get_base(&vq), 0x8002u | 0x0001u << 16);
	assert_int_equal(vhu_vq_set_num(&vq, 32768), 0);
	assert_int_equal(vhu_vq_set_base(&vq, 0xffffffffu), 0);
	assert_int_equal(vhu_vq_get_base(&vq), 0xffffffffu);
	vhu_vq_reset(&vq);
}

static void set_addr_checks(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_packed *d = &r->drv[0];
	uint64_t desc = fake_guest_uva(&r->fg, d->desc_gpa);
	uint64_t drv = fake_guest_uva(&r->fg, d->driver_event_gpa);
	uint64_t dev = fake_guest_uva(&r->fg, d->device_event_gpa);
	uint64_t end0 = FG_UVA_BASE + MiB;
	struct vhu_vq vq;

	vhu_vq_init(&vq, 2, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_features(&vq, F_PACKED), 0);
	assert_int_equal(vhu_vq_set_num(&vq, NUM), 0);
	assert_int_equal(vhu_vq_set_addr(&vq, desc + 8, drv, dev), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, drv + 2, dev), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, drv, dev + 1), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, 0x1000, drv, dev), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, end0 - 16 * NUM + 16, drv, dev), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, end0, dev), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, drv, end0), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, drv, dev), 0);
	/* the same addresses as a split ring: avail and used areas are larger */
	assert_int_equal(vhu_vq_set_addr(&vq, desc, end0 - 4, end0 - 4), 0);
	assert_int_equal(vhu_vq_set_features(&vq, 0), 0);
	assert_false(vhu_vq_broken(&vq)); /* stopped: checked only when it starts */
	assert_int_equal(vhu_vq_start(&vq), -EFAULT);
	assert_true(vhu_vq_broken(&vq));
	vhu_vq_reset(&vq);
}

/* ---- malformed rings ---------------------------------------------------------- */

static void bad_raw(void **state, uint64_t features, const struct vring_packed_desc *d,
		    unsigned int n, const char *why)
{
	struct rig *r = rig_new(state, features, NUM);

	assert_int_equal(drv_packed_add_raw(&r->drv[0], d, n), 0);
	expect_broken(r, why);
}

static void id_out_of_range(void **state)
{
	struct vring_packed_desc d = pd(0, 8, NUM, 0);

	bad_raw(state, 0, &d, 1, "buffer id 8 outside");
}

/* The buffer id is the last descriptor's (spec: "Next Flag"). */
static void id_out_of_range_in_last(void **state)
{
	struct vring_packed_desc d[2] = { pd(0, 8, 0, VRING_DESC_F_NEXT), pd(0, 8, 0xffff, 0) };

	bad_raw(state, 0, d, 2, "buffer id 65535 outside");
}

static void chain_longer_than_ring(void **state)
{
	struct vring_packed_desc d[NUM];

	for (unsigned int i = 0; i < NUM; i++)
		d[i] = pd(0, 0, 0, VRING_DESC_F_NEXT);
	bad_raw(state, 0, d, NUM, "longer than the ring");
}

static void addr_unmapped(void **state)
{
	struct vring_packed_desc d = pd(5 * MiB, 16, 0, 0);

	bad_raw(state, 0, &d, 1, "not in guest memory");
}

static void addr_past_memory_end(void **state)
{
	struct vring_packed_desc d = pd(2 * MiB - 8, 16, 0, 0);

	bad_raw(state, 0, &d, 1, "not in guest memory");
}

static void addr_len_overflow(void **state)
{
	struct vring_packed_desc d = pd(UINT64_MAX - 8, 16, 0, 0);

	bad_raw(state, 0, &d, 1, "not in guest memory");
}

static void readable_after_writable(void **state)
{
	struct vring_packed_desc d[3] = {
		pd(0, 8, 0, VRING_DESC_F_NEXT),
		pd(0, 8, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE),
		pd(0, 8, 0, 0),
	};

	bad_raw(state, 0, d, 3, "readable buffer after");
}

static void indirect_without_feature(void **state)
{
	struct vring_packed_desc d = pd(0, 16, 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, 0, &d, 1, "without VIRTIO_RING_F_INDIRECT_DESC");
}

static void indirect_len_zero(void **state)
{
	struct vring_packed_desc d = pd(0, 0, 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, F_INDIRECT, &d, 1, "table of 0 bytes");
}

static void indirect_len_not_16(void **state)
{
	struct vring_packed_desc d = pd(0, 40, 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, F_INDIRECT, &d, 1, "table of 40 bytes");
}

static void indirect_too_big(void **state)
{
	struct vring_packed_desc d = pd(0, 16u * (VHU_VQ_MAX_SIZE + 1), 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, F_INDIRECT, &d, 1, "32769 entries");
}

static void indirect_unmapped(void **state)
{
	struct vring_packed_desc d = pd(5 * MiB, 32, 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, F_INDIRECT, &d, 1, "not in guest memory");
}

static void indirect_past_memory_end(void **state)
{
	struct vring_packed_desc d = pd(2 * MiB - 16, 32, 0, VRING_DESC_F_INDIRECT);

	bad_raw(state, F_INDIRECT, &d, 1, "not in guest memory");
}

static void indirect_with_next(void **state)
{
	struct vring_packed_desc d[2] = {
		pd(0, 32, 0, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT),
		pd(0, 8, 0, 0),
	};

	bad_raw(state, F_INDIRECT, d, 2, "indirect descriptor in a chain");
}

static void indirect_inside_chain(void **state)
{
	struct vring_packed_desc d[2] = {
		pd(0, 8, 0, VRING_DESC_F_NEXT),
		pd(0, 32, 0, VRING_DESC_F_INDIRECT),
	};

	bad_raw(state, F_INDIRECT, d, 2, "indirect descriptor in a chain");
}

/* The device's own iovec limit (req->iov_max): up to it pops, past it breaks. */
static void device_iov_limit(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b[5];

	for (unsigned int i = 0; i < 5; i++)
		b[i] = buf(r->data + 8u * i, 8, i >= 2);
	vhu_req_init(&r->req, r->iov[4], 4);
	assert_int_equal(drv_packed_add(&r->drv[0], b, 4, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_num, 2);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_packed_add(&r->drv[0], b, 5, 1), 0);
	expect_broken(r, "more than the device's 4 iovecs");
}

/* A request without an iovec array is refused, and the chain stays in the ring. */
static void pop_needs_iovecs(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, true);
	struct vhu_req bare = { 0 };

	assert_int_equal(drv_packed_add(&r->drv[0], &b, 1, 0), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &bare), -EINVAL);
	assert_int_equal(r->logs, 1);
	assert_non_null(strstr(r->last_log, "without iovecs"));
	assert_false(vhu_vq_broken(&r->vq[0]));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.in_size, 8);
}

static void too_many_iovecs(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	static struct drv_buf b[VHU_REQ_MAX_IOV + 1];

	for (unsigned int i = 0; i <= VHU_REQ_MAX_IOV; i++)
		b[i] = buf(r->data + i, 1, false);
	assert_int_equal(drv_packed_add_indirect(&r->drv[0], r->table, b, VHU_REQ_MAX_IOV + 1, 0),
			 0);
	expect_broken(r, "more than the device's 1024 iovecs");
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(one_desc),
		T(chain_out_then_in),
		T(indirect_table),
		T(buffer_across_regions),
		T(max_iov_exactly),
		T(wrap_counters),
		T(base_round_trip),
		T(push_len_clamped),
		T(push_burst),
		T(push_burst_wraps),
		T(push_burst_in_order),
		T(unpop),
		T(notify_flags),
		T(notify_event_desc),
		T(enable_notify),
		T(enable_notify_event_idx),
		T(has_avail),
		T(event_desc_follows_pops),
		T(set_num_and_base_checks),
		T(set_addr_checks),
		T(id_out_of_range),
		T(id_out_of_range_in_last),
		T(chain_longer_than_ring),
		T(addr_unmapped),
		T(addr_past_memory_end),
		T(addr_len_overflow),
		T(readable_after_writable),
		T(indirect_without_feature),
		T(indirect_len_zero),
		T(indirect_len_not_16),
		T(indirect_too_big),
		T(indirect_unmapped),
		T(indirect_past_memory_end),
		T(indirect_with_next),
		T(indirect_inside_chain),
		T(too_many_iovecs),
		T(device_iov_limit),
		T(pop_needs_iovecs),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
