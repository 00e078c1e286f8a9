/* SPDX-License-Identifier: MIT */
/*
 * The split ring engine against the fake guest's driver: requests as iovecs,
 * completions, index wrap-around, notification suppression, setup checks,
 * and every malformed ring the engine must refuse. Each bad ring breaks only
 * its queue (-EIO, one log line, err_fd signalled) while a second queue on
 * the same memory keeps working.
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
#define NUM 8u
#define MiB (1ull << 20)
#define DATA_SIZE (128u * 1024u)

struct rig {
	struct fake_guest fg;
	struct vhu_log log;
	unsigned int logs;
	char last_log[256];
	struct drv_split drv[2];
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
	struct drv_split *d = &r->drv[i];

	vhu_vq_init(vq, i, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_features(vq, features), 0);
	assert_int_equal(vhu_vq_set_num(vq, num), 0);
	assert_int_equal(drv_split_init(d, &r->fg, num), 0);
	assert_int_equal(vhu_vq_set_base(vq, 0), 0);
	assert_int_equal(vhu_vq_set_addr(vq, fake_guest_uva(&r->fg, d->desc_gpa),
					 fake_guest_uva(&r->fg, d->avail_gpa),
					 fake_guest_uva(&r->fg, d->used_gpa)),
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

/* How often an eventfd was signalled since the last read (0 if never). */
static uint64_t signalled(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

/* vq[0] is broken, said so once (@why) and signalled err_fd; vq[1] still works. */
static void expect_broken(struct rig *r, const char *why)
{
	struct drv_buf b = buf(r->data, 64, false);

	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), -EIO);
	assert_true(vhu_vq_broken(&r->vq[0]));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), -EIO);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), -EIO);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	assert_int_equal(r->logs, 1);
	assert_non_null(strstr(r->last_log, why));
	assert_int_equal(signalled(r->err_fd), 1);

	assert_false(vhu_vq_broken(&r->vq[1]));
	assert_true(drv_split_add(&r->drv[1], &b, 1) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[1], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[1], &r->req, 0), 0);
}

/* ---- happy paths ---------------------------------------------------------- */

static void one_desc(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 64, false);
	uint8_t *host = fake_guest_ptr(&r->fg, r->data, 64);
	uint32_t id, len;
	int head;

	memset(host, 0xab, 64);
	head = drv_split_add(&r->drv[0], &b, 1);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, head);
	assert_int_equal(r->req.ndescs, 1);
	assert_int_equal(r->req.out_num, 1);
	assert_int_equal(r->req.in_num, 0);
	assert_int_equal(r->req.out_size, 64);
	assert_int_equal(r->req.iov[0].iov_len, 64);
	assert_int_equal(((uint8_t *)r->req.iov[0].iov_base)[63], 0xab);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 0);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
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
	uint32_t id, len;
	int head = drv_split_add(&r->drv[0], b, 4);

	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, head);
	assert_int_equal(r->req.ndescs, 4);
	assert_int_equal(r->req.out_num, 2);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.out_size, 48);
	assert_int_equal(r->req.in_size, 32);
	assert_int_equal(r->req.iov[2].iov_len, 8);
	memset(r->req.iov[3].iov_base, 0x5a, 24);
	assert_int_equal(in[23], 0x5a); /* the driver sees what the device wrote */
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 32), 0);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 32);
}

static void indirect_table(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[3] = {
		buf(r->data, 10, false),
		buf(r->data + 64, 20, true),
		buf(r->data + 128, 30, true),
	};
	int head = drv_split_add_indirect(&r->drv[0], r->table, b, 3);

	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, head);
	assert_int_equal(r->req.ndescs, 1);
	assert_int_equal(r->req.out_num, 1);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.in_size, 50);
}

/* An indirect table may cross regions: it is read piece by piece. */
static void indirect_table_across_regions(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[4] = {
		buf(r->data, 1, false),
		buf(r->data + 1, 2, false),
		buf(r->data + 3, 3, true),
		buf(r->data + 6, 4, true),
	};
	struct vring_desc *lo = fake_guest_ptr(&r->fg, MiB - 40, 40);
	struct vring_desc *hi = fake_guest_ptr(&r->fg, MiB, 24);
	uint8_t whole[64];

	assert_non_null(lo);
	assert_non_null(hi);
	/* write the table in a scratch area, then copy it so it straddles gpa 1 MiB */
	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, 4) >= 0);
	memcpy(whole, fake_guest_ptr(&r->fg, r->table, 64), 64);
	memcpy(lo, whole, 40);
	memcpy(hi, whole + 40, 24);
	r->drv[0].ring.desc[le16toh(r->drv[0].ring.avail->ring[0])].addr = htole64(MiB - 40);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_size, 3);
	assert_int_equal(r->req.in_size, 7);
	assert_int_equal(r->req.out_num + r->req.in_num, 4);
}

static void buffer_across_regions(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(MiB - 100, 300, true);

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(r->req.iov[0].iov_len, 100);
	assert_int_equal(r->req.iov[1].iov_len, 200);
	assert_int_equal(r->req.in_size, 300);
	memset(r->req.iov[0].iov_base, 1, 100);
	memset(r->req.iov[1].iov_base, 2, 200);
	assert_int_equal(*(uint8_t *)fake_guest_ptr(&r->fg, MiB - 1, 1), 1);
	assert_int_equal(*(uint8_t *)fake_guest_ptr(&r->fg, MiB + 199, 1), 2);
}

static void zero_length_descs(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	/* zero-length buffers add no iovec, whatever their address or direction */
	struct drv_buf b[4] = {
		buf(5 * MiB, 0, true),
		buf(r->data, 16, false),
		buf(UINT64_MAX, 0, false),
		buf(r->data + 64, 16, true),
	};

	assert_true(drv_split_add(&r->drv[0], b, 4) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_num, 1);
	assert_int_equal(r->req.in_num, 1);
	assert_int_equal(r->req.ndescs, 4);
}

static void max_iov_exactly(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	static struct drv_buf b[VHU_REQ_MAX_IOV];

	for (unsigned int i = 0; i < VHU_REQ_MAX_IOV; i++)
		b[i] = buf(r->data + i, 1, i >= 10);
	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, VHU_REQ_MAX_IOV) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_num, 10);
	assert_int_equal(r->req.in_num, VHU_REQ_MAX_IOV - 10);
}

static void index_wraps_past_65535(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	uint32_t id, len;

	vhu_vq_stop(&r->vq[0]);
	assert_int_equal(vhu_vq_set_base(&r->vq[0], 65530), 0);
	drv_split_set_base(&r->drv[0], 65530);
	assert_int_equal(vhu_vq_start(&r->vq[0]), 0);
	for (unsigned int i = 0; i < 20; i++) {
		struct drv_buf b[2] = { buf(r->data, 4, false), buf(r->data + 64, 8, true) };
		int head = drv_split_add(&r->drv[0], b, 1 + i % 2);

		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(r->req.id, head);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, (uint32_t)r->req.in_size), 0);
		assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(id, head);
		assert_int_equal(len, i % 2 ? 8 : 0);
	}
	assert_int_equal(vhu_vq_get_base(&r->vq[0]), (65530 + 20) & 0xffff);
	assert_int_equal(le16toh(r->drv[0].ring.used->idx), (65530 + 20) & 0xffff);
}

static void push_len_clamped(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 100, true);
	uint32_t id, len;

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 101), -EINVAL);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(len, 100);
	assert_false(vhu_vq_broken(&r->vq[0]));
}

/* A burst completes in pop order with one used->idx store; bad entries are skipped. */
static void push_burst(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct vhu_req *reqs = r->more;
	uint32_t lens[4] = { 0, 8, 101, 4 }, id, len;
	int heads[4];

	for (unsigned int i = 0; i < 4; i++) {
		struct drv_buf b = buf(r->data + 128u * i, 100, true);

		heads[i] = drv_split_add(&r->drv[0], &b, 1);
		assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[i]), 1);
	}
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, lens, VHU_VQ_PUSH_BURST_MAX + 1),
			 -E2BIG);
	assert_int_equal(le16toh(r->drv[0].ring.used->idx), 0);
	/* 101 is clamped to 100; the others are as given */
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, lens, 3), -EINVAL);
	assert_int_equal(le16toh(r->drv[0].ring.used->idx), 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
		assert_int_equal(id, heads[i]);
		assert_int_equal(len, i == 2 ? 100 : lens[i]);
	}
	/* NULL lengths: 0 each; an id that is not this ring's is skipped */
	reqs[2].id = NUM;
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], &reqs[2], NULL, 2), -EINVAL);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
	assert_int_equal(id, heads[3]);
	assert_int_equal(len, 0);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 0);
	assert_false(vhu_vq_broken(&r->vq[0]));
	vhu_vq_stop(&r->vq[0]);
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, NULL, 1), -EAGAIN);
}

/*
 * Pops read avail->idx only when the entries seen at the last read are
 * used up: entries the driver adds meanwhile come after, a bad index is
 * noticed at the next read, and a restart reads it afresh.
 */
static void avail_idx_read_per_burst(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 16, false);
	int h[3];

	h[0] = drv_split_add(&r->drv[0], &b, 1);
	h[1] = drv_split_add(&r->drv[0], &b, 1);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, h[0]);
	h[2] = drv_split_add(&r->drv[0], &b, 1);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, h[1]);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, h[2]);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);

	/* a restart at an earlier base reads the index again */
	vhu_vq_stop(&r->vq[0]);
	assert_int_equal(vhu_vq_set_base(&r->vq[0], 1), 0);
	assert_int_equal(vhu_vq_start(&r->vq[0]), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, h[1]);

	/* seen-ahead entries are served; the jump is caught at the next read */
	drv_split_set_avail_idx(&r->drv[0], (uint16_t)(3 + NUM + 1));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.id, h[2]);
	expect_broken(r, "entries past");
}

/* Unpopped chains come back, newest first given back, in ring order. */
static void unpop(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, NUM);
	struct drv_buf b = buf(r->data, 16, true);
	struct vhu_req *reqs = r->more;
	int h[2];

	h[0] = drv_split_add(&r->drv[0], &b, 1);
	h[1] = drv_split_add(&r->drv[0], &b, 1);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[0]), 1);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[1]), 1);
	assert_int_equal(drv_split_avail_event(&r->drv[0]), 2);
	assert_int_equal(vhu_vq_unpop(&r->vq[0], &reqs[1]), 0);
	assert_int_equal(drv_split_avail_event(&r->drv[0]), 1);
	assert_int_equal(vhu_vq_unpop(&r->vq[0], &reqs[0]), 0);
	assert_int_equal(vhu_vq_get_base(&r->vq[0]), 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[0]), 1);
	assert_int_equal(reqs[0].id, h[0]);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &reqs[1]), 1);
	assert_int_equal(reqs[1].id, h[1]);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 0);
	assert_int_equal(vhu_vq_push_burst(&r->vq[0], reqs, NULL, 2), 0);
	vhu_vq_stop(&r->vq[0]);
	assert_int_equal(vhu_vq_unpop(&r->vq[0], &reqs[1]), -EAGAIN);
	assert_int_equal(r->logs, 0);
}

static void stopped_queue(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 100, true);

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	vhu_vq_stop(&r->vq[0]);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), -EAGAIN);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), -EAGAIN);
	assert_int_equal(vhu_vq_get_base(&r->vq[0]), 1);
}

/* ---- notifications ----------------------------------------------------------- */

static void complete_one(struct rig *r)
{
	struct drv_buf b = buf(r->data, 8, true);
	uint32_t id, len;

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_int_equal(drv_split_get_used(&r->drv[0], &id, &len), 1);
}

static void notify_event_idx(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, NUM);

	complete_one(r);			       /* used idx 1 */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1); /* first one: no history */
	assert_int_equal(signalled(r->call_fd), 1);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0); /* nothing new */
	drv_split_set_used_event(&r->drv[0], 1);       /* wake me once entry 1 is used */
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	assert_int_equal(signalled(r->call_fd), 1);
	drv_split_set_used_event(&r->drv[0], 5);
	complete_one(r); /* 2 -> 3: entry 5 not reached */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	complete_one(r);
	complete_one(r);
	complete_one(r); /* 3 -> 6 in one batch: entry 5 crossed */
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	assert_int_equal(signalled(r->call_fd), 1);
	/* the NO_INTERRUPT flag means nothing with event idx */
	drv_split_set_no_interrupt(&r->drv[0], true);
	drv_split_set_used_event(&r->drv[0], 6);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
}

static void notify_no_interrupt_flag(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_set_no_interrupt(&r->drv[0], true);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0);
	assert_int_equal(signalled(r->call_fd), 0);
	drv_split_set_no_interrupt(&r->drv[0], false);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	assert_int_equal(signalled(r->call_fd), 1);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 0); /* nothing pushed since */
	/* the used_event field means nothing without event idx */
	drv_split_set_used_event(&r->drv[0], 100);
	complete_one(r);
	assert_int_equal(vhu_vq_notify(&r->vq[0]), 1);
	/* no call fd: nothing to signal */
	vhu_vq_set_fd(&r->vq[1].call_fd, -1);
	assert_int_equal(vhu_vq_notify(&r->vq[1]), 0);
}

static void enable_notify_flags(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, false);
	uint16_t old;

	assert_false(vhu_vq_enable_notify(&r->vq[0], false));
	assert_true(le16toh(r->drv[0].ring.used->flags) & VRING_USED_F_NO_NOTIFY);
	old = r->drv[0].ring.avail_idx;
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_false(drv_split_kick_needed(&r->drv[0], old, false));
	/* re-enabling finds the buffer that came meanwhile: poll, do not sleep */
	assert_true(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	old = r->drv[0].ring.avail_idx;
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_true(drv_split_kick_needed(&r->drv[0], old, false));
}

/* vhu_vq_has_avail(): a peek that takes nothing; false when stopped or broken. */
static void has_avail(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, false);

	assert_false(vhu_vq_has_avail(&r->vq[0]));
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_true(vhu_vq_has_avail(&r->vq[0]));
	assert_true(vhu_vq_has_avail(&r->vq[0])); /* looking takes nothing */
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_false(vhu_vq_has_avail(&r->vq[0]));
	assert_false(vhu_vq_has_avail(&r->vq[1]));
	/* a stopped ring has nothing to offer, whatever the driver wrote */
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	vhu_vq_stop(&r->vq[0]);
	assert_false(vhu_vq_has_avail(&r->vq[0]));
	assert_int_equal(vhu_vq_start(&r->vq[0]), 0);
	assert_true(vhu_vq_has_avail(&r->vq[0]));
	/* a bad head: has_avail does not judge it, pop breaks the ring, then false */
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	drv_split_publish(&r->drv[0], NUM);
	assert_true(vhu_vq_has_avail(&r->vq[0]));
	expect_broken(r, "head 8 outside");
	assert_false(vhu_vq_has_avail(&r->vq[0]));
}

static void enable_notify_event_idx(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, NUM);
	struct drv_buf b = buf(r->data, 8, false);
	uint16_t old;

	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	old = r->drv[0].ring.avail_idx;
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_true(drv_split_kick_needed(&r->drv[0], old, true));
	/* polling: avail_event stays, so the next buffer needs no kick */
	assert_false(vhu_vq_enable_notify(&r->vq[0], false));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	old = r->drv[0].ring.avail_idx;
	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	assert_false(drv_split_kick_needed(&r->drv[0], old, true));
	/* the race: a buffer published before enable is seen by the re-check */
	assert_true(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_false(vhu_vq_enable_notify(&r->vq[0], true));
	assert_int_equal(drv_split_avail_event(&r->drv[0]), 2);
}

/* A device that never calls enable_notify still gets a kick for each new buffer. */
static void event_idx_without_enable_notify(void **state)
{
	struct rig *r = rig_new(state, F_EVENT_IDX, NUM);
	struct drv_buf b = buf(r->data, 8, false);

	for (unsigned int i = 0; i < 2 * NUM; i++) {
		uint16_t old = r->drv[0].ring.avail_idx;

		assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
		assert_true(drv_split_kick_needed(&r->drv[0], old, true));
		assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
		assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	}
}

/* ---- setup checks ---------------------------------------------------------- */

static void set_num_checks(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct vhu_vq vq;

	vhu_vq_init(&vq, 7, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_num(&vq, 0), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 3), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 32769), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 65536), -EINVAL);
	assert_int_equal(vhu_vq_set_num(&vq, 32768), 0);
	assert_int_equal(vhu_vq_set_num(&vq, 1), 0);
	assert_int_equal(vhu_vq_start(&vq), -EINVAL); /* no addresses */
	assert_int_equal(vhu_vq_set_base(&vq, 0x10000), -EINVAL);
	assert_int_equal(vhu_vq_index(&vq), 7);
	assert_int_equal(vhu_vq_size(&vq), 1);
	vhu_vq_set_priv(&vq, r);
	assert_ptr_equal(vhu_vq_priv(&vq), r);
	vhu_vq_reset(&vq);
}

static void set_addr_checks(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_split *d = &r->drv[0];
	uint64_t desc = fake_guest_uva(&r->fg, d->desc_gpa);
	uint64_t avail = fake_guest_uva(&r->fg, d->avail_gpa);
	uint64_t used = fake_guest_uva(&r->fg, d->used_gpa);
	uint64_t end0 = FG_UVA_BASE + MiB; /* region 0's uva end; region 1 is far away */
	struct vhu_vq vq;

	vhu_vq_init(&vq, 2, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, avail, used), -EINVAL); /* no num */
	assert_int_equal(vhu_vq_set_num(&vq, NUM), 0);
	assert_int_equal(vhu_vq_set_addr(&vq, desc + 8, avail, used), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, avail + 1, used), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, avail, used + 2), -EINVAL);
	assert_int_equal(vhu_vq_set_addr(&vq, 0x1000, avail, used), -EFAULT);
	/* areas that start mapped but run past a region's end */
	assert_int_equal(vhu_vq_set_addr(&vq, end0 - 16 * NUM + 16, avail, used), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, end0 - 4 - 2 * NUM, used), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, avail, end0 - 4 - 8 * NUM), -EFAULT);
	assert_int_equal(vhu_vq_set_addr(&vq, desc, avail, used), 0);
	assert_int_equal(vhu_vq_set_addr(&vq, end0 - 16 * NUM, avail, used), 0);
	/* a stopped ring takes a num its old addresses cannot hold ... */
	assert_int_equal(vhu_vq_set_num(&vq, 2 * NUM), 0);
	assert_false(vhu_vq_broken(&vq));
	/* ... but cannot start with them: that breaks it */
	assert_int_equal(vhu_vq_start(&vq), -EFAULT);
	assert_true(vhu_vq_broken(&vq));
	assert_int_equal(vhu_vq_start(&vq), -EINVAL); /* the addresses are forgotten */
	vhu_vq_reset(&vq);
	assert_false(vhu_vq_broken(&vq));
}

/* ---- malformed rings ---------------------------------------------------------- */

static void bad_head(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_publish(&r->drv[0], NUM);
	expect_broken(r, "head 8 outside");
}

static void bad_next(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_set_desc(&r->drv[0], 0, r->data, 8, VRING_DESC_F_NEXT, NUM);
	drv_split_publish(&r->drv[0], 0);
	expect_broken(r, "next 8 outside");
}

static void loop_two(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_set_desc(&r->drv[0], 3, r->data, 8, VRING_DESC_F_NEXT, 5);
	drv_split_set_desc(&r->drv[0], 5, r->data, 8, VRING_DESC_F_NEXT, 3);
	drv_split_publish(&r->drv[0], 3);
	expect_broken(r, "longer than");
}

static void loop_self(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	/* zero-length: the walk bound, not the iovec bound, must stop it */
	drv_split_set_desc(&r->drv[0], 2, r->data, 0, VRING_DESC_F_NEXT, 2);
	drv_split_publish(&r->drv[0], 2);
	expect_broken(r, "longer than");
}

static void chain_longer_than_ring(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	for (uint16_t i = 0; i < NUM; i++)
		drv_split_set_desc(&r->drv[0], i, r->data, 1, VRING_DESC_F_NEXT, (i + 1) % NUM);
	drv_split_publish(&r->drv[0], 0);
	expect_broken(r, "longer than");
}

static void avail_idx_jump(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_set_avail_idx(&r->drv[0], NUM + 1);
	expect_broken(r, "entries past");
}

static void avail_idx_backwards(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	drv_split_set_avail_idx(&r->drv[0], 0xffff);
	expect_broken(r, "entries past");
}

static void bad_buffer(void **state, uint64_t gpa, uint32_t len, const char *why)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(gpa, len, false);

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
	expect_broken(r, why);
}

static void addr_unmapped(void **state)
{
	bad_buffer(state, 5 * MiB, 16, "not in guest memory");
}

static void addr_past_memory_end(void **state)
{
	bad_buffer(state, 2 * MiB - 8, 16, "not in guest memory");
}

static void addr_len_overflow(void **state)
{
	bad_buffer(state, UINT64_MAX - 8, 16, "not in guest memory");
}

static void readable_after_writable(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b[3] = {
		buf(r->data, 8, false),
		buf(r->data + 8, 8, true),
		buf(r->data + 16, 8, false),
	};

	assert_true(drv_split_add(&r->drv[0], b, 3) >= 0);
	expect_broken(r, "readable buffer after");
}

/* The device's own iovec limit (req->iov_max): up to it pops, past it breaks. */
static void device_iov_limit(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b[5];

	for (unsigned int i = 0; i < 5; i++)
		b[i] = buf(r->data + 8u * i, 8, i >= 2);
	vhu_req_init(&r->req, r->iov[4], 4);
	assert_true(drv_split_add(&r->drv[0], b, 4) >= 0);
	assert_int_equal(vhu_vq_pop(&r->vq[0], &r->req), 1);
	assert_int_equal(r->req.out_num, 2);
	assert_int_equal(r->req.in_num, 2);
	assert_int_equal(vhu_vq_push(&r->vq[0], &r->req, 0), 0);
	assert_true(drv_split_add(&r->drv[0], b, 5) >= 0);
	expect_broken(r, "more than the device's 4 iovecs");
}

/* A request without an iovec array is refused, and the chain stays in the ring. */
static void pop_needs_iovecs(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, true);
	struct vhu_req bare = { 0 };

	assert_true(drv_split_add(&r->drv[0], &b, 1) >= 0);
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
	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, VHU_REQ_MAX_IOV + 1) >= 0);
	expect_broken(r, "more than the device's 1024 iovecs");
}

/* The last buffer crosses regions: one descriptor too many iovecs. */
static void too_many_iovecs_crossing(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	static struct drv_buf b[VHU_REQ_MAX_IOV];

	for (unsigned int i = 0; i < VHU_REQ_MAX_IOV - 1; i++)
		b[i] = buf(r->data + i, 1, false);
	b[VHU_REQ_MAX_IOV - 1] = buf(MiB - 1, 2, false);
	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, VHU_REQ_MAX_IOV) >= 0);
	expect_broken(r, "more than the device's 1024 iovecs");
}

static void indirect_without_feature(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);
	struct drv_buf b = buf(r->data, 8, false);

	assert_true(drv_split_add_indirect(&r->drv[0], r->table, &b, 1) >= 0);
	expect_broken(r, "without VIRTIO_RING_F_INDIRECT_DESC");
}

static void bad_indirect_desc(void **state, uint64_t addr, uint32_t len, uint16_t flags,
			      const char *why)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[2] = { buf(r->data, 8, false), buf(r->data, 8, true) };

	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, 2) >= 0);
	drv_split_set_desc(&r->drv[0], 0, addr ? addr : r->table, len, flags, 1);
	expect_broken(r, why);
}

static void indirect_len_zero(void **state)
{
	bad_indirect_desc(state, 0, 0, VRING_DESC_F_INDIRECT, "table of 0 bytes");
}

static void indirect_len_not_16(void **state)
{
	bad_indirect_desc(state, 0, 24, VRING_DESC_F_INDIRECT, "table of 24 bytes");
}

static void indirect_too_big(void **state)
{
	bad_indirect_desc(state, 0, 16u * (VHU_VQ_MAX_SIZE + 1), VRING_DESC_F_INDIRECT,
			  "32769 entries");
}

static void indirect_unmapped(void **state)
{
	bad_indirect_desc(state, 5 * MiB, 32, VRING_DESC_F_INDIRECT, "not in guest memory");
}

static void indirect_past_memory_end(void **state)
{
	bad_indirect_desc(state, 2 * MiB - 16, 32, VRING_DESC_F_INDIRECT, "not in guest memory");
}

static void indirect_with_next(void **state)
{
	bad_indirect_desc(state, 0, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT,
			  "both NEXT and INDIRECT");
}

static void indirect_nested(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[2] = { buf(r->data, 8, false), buf(r->table, 32, false) };
	struct vring_desc *t = fake_guest_ptr(&r->fg, r->table, 32);

	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, 2) >= 0);
	t[1].flags = htole16(VRING_DESC_F_INDIRECT);
	expect_broken(r, "in an indirect table");
}

static void indirect_inside_chain(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);

	drv_split_set_desc(&r->drv[0], 0, r->data, 8, VRING_DESC_F_NEXT, 1);
	drv_split_set_desc(&r->drv[0], 1, r->table, 16, VRING_DESC_F_INDIRECT, 0);
	drv_split_publish(&r->drv[0], 0);
	expect_broken(r, "inside a chain");
}

static void indirect_next_out_of_table(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[2] = { buf(r->data, 8, false), buf(r->data, 8, false) };
	struct vring_desc *t = fake_guest_ptr(&r->fg, r->table, 32);

	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, 2) >= 0);
	t[0].next = htole16(2); /* the table has 2 entries; the ring has 8 */
	expect_broken(r, "next 2 outside a table of 2");
}

static void indirect_loop(void **state)
{
	struct rig *r = rig_new(state, F_INDIRECT, NUM);
	struct drv_buf b[2] = { buf(r->data, 8, false), buf(r->data, 8, false) };
	struct vring_desc *t = fake_guest_ptr(&r->fg, r->table, 32);

	assert_true(drv_split_add_indirect(&r->drv[0], r->table, b, 2) >= 0);
	t[1].flags = htole16(VRING_DESC_F_NEXT);
	t[1].next = htole16(0);
	expect_broken(r, "longer than its table of 2");
}

static void ring_unmapped_on_remap(void **state)
{
	struct rig *r = rig_new(state, 0, NUM);

	vhu_mem_clear(&r->fg.mem);
	assert_int_equal(vhu_vq_remap(&r->vq[1]), -EFAULT);
	assert_true(vhu_vq_broken(&r->vq[1]));
	assert_int_equal(vhu_vq_pop(&r->vq[1], &r->req), -EIO);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, rig_teardown)
	const struct CMUnitTest tests[] = {
		T(one_desc),
		T(chain_out_then_in),
		T(indirect_table),
		T(indirect_table_across_regions),
		T(buffer_across_regions),
		T(zero_length_descs),
		T(max_iov_exactly),
		T(index_wraps_past_65535),
		T(push_len_clamped),
		T(push_burst),
		T(unpop),
		T(avail_idx_read_per_burst),
		T(stopped_queue),
		T(notify_event_idx),
		T(notify_no_interrupt_flag),
		T(enable_notify_flags),
		T(enable_notify_event_idx),
		T(has_avail),
		T(event_idx_without_enable_notify),
		T(set_num_checks),
		T(set_addr_checks),
		T(bad_head),
		T(bad_next),
		T(loop_two),
		T(loop_self),
		T(chain_longer_than_ring),
		T(avail_idx_jump),
		T(avail_idx_backwards),
		T(addr_unmapped),
		T(addr_past_memory_end),
		T(addr_len_overflow),
		T(readable_after_writable),
		T(too_many_iovecs),
		T(device_iov_limit),
		T(pop_needs_iovecs),
		T(too_many_iovecs_crossing),
		T(indirect_without_feature),
		T(indirect_len_zero),
		T(indirect_len_not_16),
		T(indirect_too_big),
		T(indirect_unmapped),
		T(indirect_past_memory_end),
		T(indirect_with_next),
		T(indirect_nested),
		T(indirect_inside_chain),
		T(indirect_next_out_of_table),
		T(indirect_loop),
		T(ring_unmapped_on_remap),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
