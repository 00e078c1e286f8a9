/* SPDX-License-Identifier: MIT */
/*
 * Inflight I/O tracking (lib/virtq/inflight.c) against the fake guest's
 * driver, split and packed: a device that completes out of order is
 * "killed" at every step of a push (vq->crash_at, as SIGKILL would leave
 * the region) and between operations, then started again from the region
 * alone, the way a restarted back-end is. Whatever the crash point, every
 * request the driver made available completes exactly once: none lost,
 * none completed twice, the in-flight ones resubmitted first and in fetch
 * order. Also: a fresh region starts where SET_VRING_BASE says, a region
 * for another ring size starts afresh, and a scribbled region breaks only
 * its queue.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../support/fake_guest.h"
#include "virtq/inflight.h"
#include "virtq/virtq.h"

#define F_INDIRECT (1ull << 28)
#define F_PACKED (1ull << 34)
#define NUM 8u
#define NREQ 64u /* requests per scenario: the rings wrap several times */
#define BUF 64u

struct rig {
	struct fake_guest fg;
	struct vhu_log log;
	bool packed;
	struct drv_split ds;
	struct drv_packed dp;
	struct vhu_vq vq;
	void *area;
	uint64_t data, table;

	/* the driver's side */
	uint32_t next_req;	    /* requests made available so far */
	int slot_req[NUM];	    /* split head / packed id -> request, -1: free */
	unsigned int slots_out;	    /* packed: ring slots outstanding */
	unsigned int slots_of[NUM]; /* packed: slots of the chain with that id */
	unsigned int done[NREQ];    /* completions seen per request */
	uint32_t fetch_order[NREQ * 2];
	unsigned int nfetched;

	/* the device's side: requests popped, not yet pushed */
	struct vhu_req *held[NUM];
	unsigned int nheld;
	unsigned int pushes; /* pushes so far, across restarts */
};

static uint32_t rng_state;

static char last_log[256];

static void log_quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	(void)prefix;
	snprintf(last_log, sizeof(last_log), "%s", text);
}

static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) % n;
}

static void device_start(struct rig *r, uint32_t base)
{
	struct vhu_vq *vq = &r->vq;

	vhu_vq_init(vq, 0, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_features(vq, F_INDIRECT | (r->packed ? F_PACKED : 0)), 0);
	assert_int_equal(vhu_vq_set_num(vq, NUM), 0);
	assert_int_equal(vhu_vq_set_base(vq, base), 0);
	if (r->packed)
		assert_int_equal(vhu_vq_set_addr(vq, fake_guest_uva(&r->fg, r->dp.desc_gpa),
						 fake_guest_uva(&r->fg, r->dp.driver_event_gpa),
						 fake_guest_uva(&r->fg, r->dp.device_event_gpa)),
				 0);
	else
		assert_int_equal(vhu_vq_set_addr(vq, fake_guest_uva(&r->fg, r->ds.desc_gpa),
						 fake_guest_uva(&r->fg, r->ds.avail_gpa),
						 fake_guest_uva(&r->fg, r->ds.used_gpa)),
				 0);
	vhu_vq_set_inflight(vq, r->area, NUM);
	assert_int_equal(vhu_vq_start(vq), 0);
	assert_true(vq->inflight_on);
}

static struct rig *rig_new(void **state, bool packed)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	*state = r;
	r->packed = packed;
	assert_int_equal(fake_guest_init(&r->fg, 1), 0);
	r->log.level = VHU_LOG_ERR; /* breaks are checked by return value */
	r->log.fn = log_quiet;
	r->data = fake_guest_alloc(&r->fg, NUM * BUF * 2, 4096);
	r->table = fake_guest_alloc(&r->fg, 16u * 2 * NUM, 16);
	if (packed)
		assert_int_equal(drv_packed_init(&r->dp, &r->fg, NUM), 0);
	else
		assert_int_equal(drv_split_init(&r->ds, &r->fg, NUM), 0);
	r->area = aligned_alloc(64, vhu_inflight_queue_bytes(NUM));
	assert_non_null(r->area);
	memset(r->area, 0, vhu_inflight_queue_bytes(NUM)); /* a fresh GET_INFLIGHT_FD region */
	for (unsigned int i = 0; i < NUM; i++) {
		r->slot_req[i] = -1;
		r->held[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		assert_non_null(r->held[i]);
	}
	device_start(r, packed ? 0x80008000u : 0);
	return r;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	if (r) {
		vhu_vq_reset(&r->vq);
		if (r->packed)
			drv_packed_fini(&r->dp);
		fake_guest_fini(&r->fg);
		for (unsigned int i = 0; i < NUM; i++)
			free(r->held[i]);
		free(r->area);
		free(r);
	}
	return 0;
}

/* ---- the driver ---- */

/* Make request r->next_req available if there is room. Return: true if it did. */
static bool driver_add(struct rig *r)
{
	uint32_t req = r->next_req;
	struct drv_buf b[2] = {
		{ .gpa = r->data + (uint64_t)(req % (2 * NUM)) * BUF,
		  .len = 16,
		  .writable = false },
		{ .gpa = r->data + (uint64_t)(req % (2 * NUM)) * BUF + 16,
		  .len = 48,
		  .writable = true },
	};
	unsigned int slot, n = 1 + (req % 3 == 0); /* some chains of two */
	bool indirect = req % 5 == 0;

	if (req == NREQ)
		return false;
	for (slot = 0; slot < NUM && r->slot_req[slot] >= 0; slot++)
		;
	if (slot == NUM)
		return false;
	if (r->packed) {
		unsigned int slots = indirect ? 1 : n;
		int ret;

		if (r->slots_out + slots > NUM)
			return false;
		/* one buffer: the writable one (the device writes a byte back) */
		ret = indirect ? drv_packed_add_indirect(&r->dp, r->table + 16u * 2 * slot,
							 b + 2 - n, n, (uint16_t)slot)
			       : drv_packed_add(&r->dp, b + 2 - n, n, (uint16_t)slot);
		assert_int_equal(ret, 0);
		r->slots_out += slots;
		r->slots_of[slot] = slots;
	} else {
		/* descriptors slot and slot + ... : each request owns its head's pair */
		if (indirect) {
			struct vring_desc *t = fake_guest_ptr(&r->fg, r->table + 32u * slot, 32);

			t[0] = (struct vring_desc){ htole64(b[0].gpa), htole32(b[0].len),
						    htole16(VRING_DESC_F_NEXT), htole16(1) };
			t[1] = (struct vring_desc){ htole64(b[1].gpa), htole32(b[1].len),
						    htole16(VRING_DESC_F_WRITE), 0 };
			drv_split_set_desc(&r->ds, (uint16_t)slot, r->table + 32u * slot, 32,
					   VRING_DESC_F_INDIRECT, 0);
		} else {
			/* one descriptor: split chains of two would need a second free entry */
			drv_split_set_desc(&r->ds, (uint16_t)slot, b[1].gpa, b[1].len,
					   VRING_DESC_F_WRITE, 0);
		}
		drv_split_publish(&r->ds, (uint16_t)slot);
	}
	r->slot_req[slot] = (int)req;
	r->next_req++;
	return true;
}

static void driver_collect(struct rig *r)
{
	for (;;) {
		uint32_t id32, len;
		uint16_t id16;
		int got;

		if (r->packed) {
			got = drv_packed_get_used(&r->dp, &id16, &len);
			id32 = id16;
		} else {
			got = drv_split_get_used(&r->ds, &id32, &len);
		}
		if (!got)
			return;
		assert_true(id32 < NUM);
		/* a completion for something not outstanding: completed twice */
		assert_true(r->slot_req[id32] >= 0);
		r->done[r->slot_req[id32]]++;
		r->slot_req[id32] = -1;
		if (r->packed)
			r->slots_out -= r->slots_of[id32];
	}
}

/* ---- the device ---- */

static void device_pop(struct rig *r)
{
	int ret;

	if (r->nheld == NUM)
		return;
	ret = vhu_vq_pop(&r->vq, r->held[r->nheld]);
	assert_true(ret >= 0);
	if (ret == 1) {
		struct vhu_req *q = r->held[r->nheld];

		assert_true(q->id < NUM);
		assert_true(r->slot_req[q->id] >= 0); /* the driver has it outstanding */
		r->fetch_order[r->nfetched++] = (uint32_t)r->slot_req[q->id];
		r->nheld++;
	}
}

/* Push a random held request. Return: false if the push "crashed". */
static bool device_push(struct rig *r, unsigned int crash_push, uint8_t crash_step)
{
	unsigned int k = rnd(r->nheld);
	struct vhu_req *q = r->held[k];
	int ret;

	r->vq.crash_at = r->pushes == crash_push ? crash_step : 0;
	ret = vhu_vq_push(&r->vq, q, 1);
	r->pushes++;
	if (ret == -ECANCELED)
		return false;
	assert_int_equal(ret, 0);
	r->held[k] = r->held[--r->nheld];
	r->held[r->nheld] = q;
	return true;
}

/* SIGKILL and a new process: the device forgets all but the region. */
static void device_restart(struct rig *r)
{
	uint32_t base;

	r->nheld = 0;
	vhu_vq_reset(&r->vq); /* what a dead process leaves: nothing */
	/* what QEMU sends after a crash: split: used->idx; packed: its stale base */
	base = r->packed ? 0x80008000u : r->ds.ring.used->idx;
	device_start(r, base);
}

/*
 * One scenario: run until every request completed, crashing once at push
 * @crash_push, step @crash_step (0: between two operations instead).
 */
static void scenario(struct rig *r, unsigned int crash_push, uint8_t crash_step, uint32_t seed)
{
	bool crashed = false;
	unsigned int rounds = 0, resubmit_from = 0, expect_resubmit = 0;

	rng_state = seed;
	while (rounds++ < 100000) {
		unsigned int op = rnd(4);

		driver_collect(r);
		if (op == 0 || op == 1) {
			while (rnd(2) && driver_add(r))
				;
		} else if (op == 2) {
			device_pop(r);
		} else if (r->nheld) {
			if (!device_push(r, crash_push, crash_step)) {
				crashed = true;
				expect_resubmit = r->nheld; /* at most: one of them may be done */
				resubmit_from = r->nfetched;
				device_restart(r);
				/* resubmitted first, in the order they were fetched */
				assert_true(r->vq.resubmit_n <= expect_resubmit);
				assert_true(r->vq.resubmit_n + 1 >= expect_resubmit);
				for (unsigned int i = 0; i < r->vq.resubmit_n; i++) {
					device_pop(r);
					if (i > 0)
						assert_true(r->fetch_order[resubmit_from + i] >
							    r->fetch_order[resubmit_from + i - 1]);
				}
			}
		}
		if (!crashed && crash_step == 0 && r->pushes == crash_push) {
			crashed = true;
			resubmit_from = r->nfetched;
			expect_resubmit = r->nheld;
			device_restart(r);
			assert_int_equal(r->vq.resubmit_n, expect_resubmit);
		}
		if (r->next_req == NREQ && r->nheld == 0 && !vhu_vq_has_avail(&r->vq)) {
			driver_collect(r);
			bool all = true;

			for (unsigned int i = 0; i < NREQ; i++)
				all = all && r->done[i] == 1;
			if (all)
				break;
		}
	}
	assert_true(rounds < 100000);
	assert_true(crashed || crash_push >= r->pushes);
	for (unsigned int i = 0; i < NREQ; i++)
		if (r->done[i] != 1)
			fail_msg("request %u completed %u times (crash at push %u step %u)", i,
				 r->done[i], crash_push, crash_step);
	assert_false(vhu_vq_broken(&r->vq));
}

static void crash_everywhere(bool packed)
{
	unsigned int steps = packed ? 4 : 3, runs = 0;

	for (unsigned int push = 0; push < 40; push += 3)
		for (uint8_t step = 0; step <= steps; step++) {
			void *state = NULL;
			struct rig *r = rig_new(&state, packed);

			scenario(r, push, step, 0x1234u + push * 7u + step);
			rig_teardown(&state);
			runs++;
		}
	assert_true(runs > 50);
}

static void test_split_crash_every_step(void **state)
{
	(void)state;
	crash_everywhere(false);
}

static void test_packed_crash_every_step(void **state)
{
	(void)state;
	crash_everywhere(true);
}

/* Several crashes in one run, at random steps, with no crash-free stretch needed. */
static void repeated_crashes(bool packed)
{
	void *state = NULL;
	struct rig *r = rig_new(&state, packed);
	unsigned int crashes = 0;

	rng_state = 99;
	for (unsigned int round = 0; round < 200000; round++) {
		unsigned int op = rnd(5);
		bool all = true;

		driver_collect(r);
		if (op <= 1) {
			(void)driver_add(r);
		} else if (op == 2) {
			device_pop(r);
		} else if (op == 3 && r->nheld) {
			uint8_t step = (uint8_t)(1 + rnd(packed ? 4 : 3));

			if (!device_push(r, rnd(3) == 0 ? r->pushes : UINT32_MAX, step)) {
				device_restart(r);
				crashes++;
			}
		} else if (op == 4 && rnd(20) == 0) {
			device_restart(r);
			crashes++;
		}
		for (unsigned int i = 0; i < NREQ; i++)
			all = all && r->done[i] == 1;
		if (all)
			break;
	}
	for (unsigned int i = 0; i < NREQ; i++)
		assert_int_equal(r->done[i], 1);
	assert_true(crashes >= 10);
	rig_teardown(&state);
}

static void test_split_repeated_crashes(void **state)
{
	(void)state;
	repeated_crashes(false);
}

static void test_packed_repeated_crashes(void **state)
{
	(void)state;
	repeated_crashes(true);
}

/* A fresh region follows SET_VRING_BASE; a region for another size starts afresh. */
static void test_fresh_region_follows_base(void **state)
{
	struct rig *r = rig_new(state, true);
	struct vhu_inflight_packed *p = r->area;

	assert_int_equal(p->version, VHU_INFLIGHT_VERSION);
	assert_int_equal(p->desc_num, NUM);
	assert_int_equal(p->used_idx, 0);
	assert_int_equal(p->used_wrap_counter, 1);
	/* a region written for a ring of 4 is not this ring's: formatted again */
	p->desc_num = 4;
	p->desc[0].inflight = 1;
	device_restart(r);
	assert_int_equal(p->desc_num, NUM);
	assert_int_equal(r->vq.resubmit_n, 0);
	assert_int_equal(p->desc[0].inflight, 0);
}

/* A region the front-end scribbled on breaks the queue, nothing else. */
static void test_scribbled_region_breaks_queue(void **state)
{
	struct rig *r = rig_new(state, false);
	struct vhu_inflight_split *s = r->area;

	assert_true(driver_add(r));
	device_pop(r);
	/* pretend a push was cut short with a batch list that leads outside the ring */
	s->last_batch_head = 0xffff;
	r->ds.ring.used->idx = (uint16_t)(r->ds.ring.used->idx + 1);
	vhu_vq_reset(&r->vq);
	vhu_vq_init(&r->vq, 0, &r->fg.mem, &r->log);
	assert_int_equal(vhu_vq_set_num(&r->vq, NUM), 0);
	assert_int_equal(vhu_vq_set_addr(&r->vq, fake_guest_uva(&r->fg, r->ds.desc_gpa),
					 fake_guest_uva(&r->fg, r->ds.avail_gpa),
					 fake_guest_uva(&r->fg, r->ds.used_gpa)),
			 0);
	vhu_vq_set_inflight(&r->vq, r->area, NUM);
	assert_int_equal(vhu_vq_start(&r->vq), -EIO);
	assert_true(vhu_vq_broken(&r->vq));
	r->ds.ring.used->idx = (uint16_t)(r->ds.ring.used->idx - 1);
}

/* A head made available again while in flight: a lying driver; the queue breaks. */
static void test_split_head_reused_in_flight(void **state)
{
	struct rig *r = rig_new(state, false);

	assert_true(driver_add(r));
	device_pop(r);
	drv_split_publish(&r->ds, 0); /* head 0 again */
	assert_int_equal(vhu_vq_pop(&r->vq, r->held[1]), -EIO);
}

/*
 * Packed: push finds a request's area entry by its buffer id, so an id
 * made available again while in flight breaks the queue, and a request
 * whose id is not in flight is refused.
 */
static void test_packed_id_reused_in_flight(void **state)
{
	struct rig *r = rig_new(state, true);
	struct drv_buf b = { .gpa = r->data, .len = 16, .writable = true };
	struct vhu_req *q = r->held[0], *other = r->held[1];

	assert_int_equal(drv_packed_add(&r->dp, &b, 1, 3), 0);
	assert_int_equal(vhu_vq_pop(&r->vq, q), 1);
	other->id = 4;
	other->ndescs = 1;
	assert_int_equal(vhu_vq_push(&r->vq, other, 0), -EINVAL);
	assert_int_equal(drv_packed_add(&r->dp, &b, 1, 3), 0);
	assert_int_equal(vhu_vq_pop(&r->vq, other), -EIO);
	assert_non_null(strstr(last_log, "buffer id 3 made available again while in flight"));
}

/* The packed driver cannot have more than num descriptors out. */
static void test_packed_overcommit_breaks(void **state)
{
	struct rig *r = rig_new(state, true);
	struct drv_buf b = { .gpa = r->data, .len = 16, .writable = true };
	int ret = 0;

	/* NUM chains without any being used, then one more that rewrites a used... slot */
	for (unsigned int i = 0; i < NUM; i++) {
		assert_int_equal(drv_packed_add(&r->dp, &b, 1, (uint16_t)i), 0);
		assert_int_equal(vhu_vq_pop(&r->vq, r->held[0]), 1);
	}
	/* the driver lies: it marks slot 0 available for the next lap while all are out */
	assert_int_equal(drv_packed_add(&r->dp, &b, 1, 0), 0);
	ret = vhu_vq_pop(&r->vq, r->held[0]);
	assert_int_equal(ret, -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_crash_every_step),
		cmocka_unit_test(test_packed_crash_every_step),
		cmocka_unit_test(test_split_repeated_crashes),
		cmocka_unit_test(test_packed_repeated_crashes),
		cmocka_unit_test_teardown(test_fresh_region_follows_base, rig_teardown),
		cmocka_unit_test_teardown(test_scribbled_region_breaks_queue, rig_teardown),
		cmocka_unit_test_teardown(test_split_head_reused_in_flight, rig_teardown),
		cmocka_unit_test_teardown(test_packed_overcommit_breaks, rig_teardown),
		cmocka_unit_test_teardown(test_packed_id_reused_in_flight, rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
