/* SPDX-License-Identifier: MIT */
/*
 * lib/backend end to end: a test front-end drives an echo device through the
 * whole protocol (negotiation, memory, split and packed rings, multiqueue,
 * ring states, config space, the back-end channel, resets, reconnects) and
 * checks what the device saw and what came back in guest memory.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "rig.h"
#include "transport/transport.h"

#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)

static int rig_setup_listen(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r || rig_start(r, RIG_LISTEN) < 0)
		return -1;
	*state = r;
	return 0;
}

static int rig_setup_pair(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r || rig_start(r, RIG_SOCKETPAIR) < 0)
		return -1;
	*state = r;
	return 0;
}

static int rig_setup_poll(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	r->backend_flags = VHU_BACKEND_F_POLL;
	if (rig_start(r, RIG_SOCKETPAIR) < 0)
		return -1;
	*state = r;
	return 0;
}

/*
 * A rig whose workers have a poll window (long, so that they spin often).
 * The rig has no field for it: its back-end's serving is stopped (its
 * thread joined or the back-end removed from its loop), the window set,
 * and the serving started again (joins, creates and the loop's lock order it).
 */
static int rig_setup_window(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (!r || rig_start(r, RIG_SOCKETPAIR) < 0)
		return -1;
	rig_serve_stop(r);
	r->be->config.poll_window_us = 500;
	if (rig_serve_start(r) < 0)
		return -1;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	rig_stop(r);
	free(r);
	return 0;
}

static uint64_t get_u64(struct rig *r, uint32_t request)
{
	uint64_t v = UINT64_MAX;

	assert_int_equal(vhu_fe_get_u64(&r->ch, request, &v), 0);
	return v;
}

static uint32_t vring_base(struct rig *r, uint32_t index)
{
	uint32_t base = UINT32_MAX;

	assert_int_equal(rig_get_vring_base(r, index, &base), 0);
	return base;
}

/* One request, and the call eventfd must fire for its completion. */
static void interrupt_fires(struct rig *r, unsigned int qi)
{
	struct rig_queue *q = &r->q[qi];
	struct drv_buf b[2] = { { r->data_gpa, 8, false }, { r->data_gpa + 4096, 8, true } };
	uint32_t id = 0, len = 0;
	uint16_t pid = 0;

	(void)rig_wait_fd(q->call, 0); /* nothing pending from before */
	if (q->is_packed) {
		assert_int_equal(drv_packed_add(&q->packed, b, 2, 3), 0);
	} else {
		drv_split_set_used_event(&q->split, q->split.ring.used_idx);
		assert_true(drv_split_add(&q->split, b, 2) >= 0);
	}
	rig_kick(r, qi);
	/*
	 * The worker may still be notifying for the previous batch after the
	 * drain above (slow under TSan): one signal may come before this
	 * completion, and then another must follow for it.
	 */
	for (int got = 0, tries = 0; !got; tries++) {
		assert_true(tries < 2);
		assert_int_equal(rig_wait_fd(q->call, RIG_TIMEOUT_MS), 1);
		got = q->is_packed ? drv_packed_get_used(&q->packed, &pid, &len)
				   : drv_split_get_used(&q->split, &id, &len);
		assert_true(got >= 0);
	}
	assert_int_equal(len, 8);
}

/* Negotiation, a split ring, three requests, GET_VRING_BASE, then a restart. */
static void lifecycle_split(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;

	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 8), 0);
	assert_int_equal(__atomic_load_n(&d->acked_features, __ATOMIC_ACQUIRE),
			 SPLIT_FEATURES & ~F_PROTOCOL);
	assert_true(echo_wait_count(&d->queue_starts, 1, RIG_TIMEOUT_MS));
	assert_int_equal(rig_echo(r, 0, 1, 1), 0);
	assert_int_equal(rig_echo(r, 0, 100, 2), 0);
	assert_int_equal(rig_echo(r, 0, 4096, 3), 0);
	assert_int_equal(echo_count(&d->completed), 3);
	/* QEMU replaces the call fd of running rings (masking interrupts) */
	close(r->q[0].call);
	r->q[0].call = rig_eventfd();
	assert_int_equal(rig_vring_fd(r, VHU_REQ_SET_VRING_CALL, 0, r->q[0].call), 0);
	assert_int_equal(rig_echo(r, 0, 50, 7), 0);
	assert_int_equal(echo_count(&d->queue_starts), 1);
	interrupt_fires(r, 0);

	assert_int_equal(vring_base(r, 0), 5);
	assert_int_equal(echo_count(&d->queue_stops), 1);
	/* the ring is the front-end's again: start it where it stopped */
	assert_int_equal(rig_restart(r, 0, 5), 0);
	assert_int_equal(echo_count(&d->queue_starts), 2);
	assert_int_equal(rig_echo(r, 0, 64, 4), 0);
	assert_int_equal(vring_base(r, 0), 6);
}

/* Packed: GET_VRING_BASE carries slot and wrap counter of both halves. */
static void lifecycle_packed(void **state)
{
	struct rig *r = *state;
	uint32_t base;

	assert_int_equal(rig_bringup(r, F_VERSION_1 | F_PROTOCOL | F_RING_PACKED, 1, 8), 0);
	for (uint8_t i = 0; i < 3; i++)
		assert_int_equal(rig_echo(r, 0, 32, i), 0);
	/* three 2-descriptor chains: slot 6, still in the first lap (wrap 1) */
	base = vring_base(r, 0);
	assert_int_equal(base, (6u | VHU_VRING_BASE_WRAP) | (6u | VHU_VRING_BASE_WRAP) << 16);
	assert_int_equal(rig_restart(r, 0, base), 0);
	interrupt_fires(r, 0);
	for (uint8_t i = 0; i < 2; i++)
		assert_int_equal(rig_echo(r, 0, 32, i), 0);
	/* twelve slots in a ring of 8: slot 4 of the second lap (wrap 0) */
	assert_int_equal(vring_base(r, 0), 4u | 4u << 16);
	assert_int_equal(echo_count(&r->dev.completed), 6);
}

/* The front-end leaves; the next one on the same socket starts from nothing. */
static void reconnect(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	struct drv_split *s;
	struct vhu_msg m;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 8), 0);
	assert_int_equal(rig_echo(r, 0, 16, 1), 0);
	assert_int_equal(rig_echo(r, 1, 16, 1), 0);
	assert_int_equal(rig_reconnect(r), 0);
	assert_true(echo_wait_count(&d->resets, 1, RIG_TIMEOUT_MS));
	assert_int_equal(echo_count(&d->queue_stops), 2);
	assert_true(rig_log_has(r, "front-end left"));

	/* nothing negotiated: MQ is not, so GET_QUEUE_NUM fails (answers 0) */
	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	assert_int_equal(get_u64(r, VHU_REQ_GET_QUEUE_NUM), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, PF(REPLY_ACK)), 0);
	/* no memory either: the old ring addresses do not translate */
	s = &r->q[0].split;
	vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, VHU_FLAG_NEED_REPLY,
		     sizeof(struct vhost_vring_addr));
	m.payload.addr.desc_user_addr = fake_guest_uva(&r->fg, s->desc_gpa);
	m.payload.addr.avail_user_addr = fake_guest_uva(&r->fg, s->avail_gpa);
	m.payload.addr.used_user_addr = fake_guest_uva(&r->fg, s->used_gpa);
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), -EIO);
	assert_int_equal(vring_base(r, 0), 0);

	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_setup_split(r, 0, 16), 0);
	assert_int_equal(rig_echo(r, 0, 200, 9), 0);
	assert_int_equal(vring_base(r, 0), 1);
}

static void multiqueue(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(get_u64(r, VHU_REQ_GET_QUEUE_NUM), RIG_QUEUES);
	for (uint8_t i = 0; i < 20; i++)
		assert_int_equal(rig_echo(r, i % 2, 128u + i, i), 0);
	assert_int_equal(vring_base(r, 0), 10);
	assert_int_equal(vring_base(r, 1), 10);
	assert_int_equal(echo_count(&r->dev.queue_stops), 2);
}

struct loader {
	struct rig *r;
	unsigned int done;
	int ret;
};

/* Echo round trips on queue 1 until told to stop (or one fails). */
static void *load_thread(void *arg)
{
	struct loader *l = arg;

	int ret = 0;

	for (unsigned int i = 0; i < 400 && ret == 0; i++) {
		ret = rig_echo(l->r, 1, 1 + i % 1000, (uint8_t)i);
		__atomic_store_n(&l->ret, ret, __ATOMIC_RELEASE);
		__atomic_store_n(&l->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Requests that pause the workers, while a worker is busy: nothing lost, nothing torn. */
static void pause_under_load(void **state)
{
	struct rig *r = *state;
	struct loader l = { .r = r };
	struct drv_split *s = &r->q[1].split;
	unsigned int rounds = 0;
	pthread_t t;
	struct vhu_msg m;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(pthread_create(&t, NULL, load_thread, &l), 0);
	while (__atomic_load_n(&l.done, __ATOMIC_ACQUIRE) < 400 && rounds < 100000) {
		/* the same call fd, the same addresses, the same table: each pauses */
		assert_int_equal(rig_vring_fd(r, VHU_REQ_SET_VRING_CALL, 1, r->q[1].call), 0);
		vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, VHU_FLAG_NEED_REPLY,
			     sizeof(struct vhost_vring_addr));
		m.payload.addr.index = 1;
		m.payload.addr.desc_user_addr = fake_guest_uva(&r->fg, s->desc_gpa);
		m.payload.addr.avail_user_addr = fake_guest_uva(&r->fg, s->avail_gpa);
		m.payload.addr.used_user_addr = fake_guest_uva(&r->fg, s->used_gpa);
		assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
		assert_int_equal(rig_set_mem_table(r, 1), 0);
		assert_int_equal(rig_echo(r, 0, 16, (uint8_t)rounds), 0);
		rounds++;
		if (__atomic_load_n(&l.ret, __ATOMIC_ACQUIRE))
			break;
	}
	pthread_join(t, NULL);
	assert_int_equal(l.ret, 0);
	assert_int_equal(l.done, 400);
	assert_true(rounds > 0);
	assert_int_equal(vring_base(r, 1), 400);
	assert_int_equal(echo_count(&r->dev.queue_starts), 2);
}

/* spec: "Ring states": with PROTOCOL_FEATURES a ring runs once enabled. */
static void enable_rules(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;

	assert_int_equal(rig_guest_init(r, 1), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	r->features &= ~F_PROTOCOL; /* rig_setup_split: do not send SET_VRING_ENABLE */
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(echo_count(&d->queue_starts), 0); /* started, not enabled */
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	assert_int_equal(echo_count(&d->queue_starts), 1);
	assert_int_equal(rig_echo(r, 0, 8, 1), 0);
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, 0, 0), 0);
	assert_int_equal(echo_count(&d->queue_stops), 1);
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	assert_int_equal(echo_count(&d->queue_starts), 2);
	assert_int_equal(rig_echo(r, 0, 8, 2), 0);
}

/* Without PROTOCOL_FEATURES the ring runs as soon as it is started (kick). */
static void enabled_without_protocol_features(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rig_guest_init(r, 1), 0);
	assert_int_equal(rig_negotiate(r, F_VERSION_1, 0), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	/* no acks without REPLY_ACK: a reply proves the earlier requests were handled */
	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	assert_int_equal(echo_count(&r->dev.queue_starts), 1);
	assert_int_equal(rig_echo(r, 0, 300, 5), 0);
	assert_int_equal(vring_base(r, 0), 1);
}

/* SET_VRING_KICK with NOFD: no kicks will come, the worker polls the ring. */
static void polling_mode_nofd(void **state)
{
	struct rig *r = *state;
	struct drv_buf bufs[2];
	uint32_t id, len;
	uint8_t *in;
	int got = 0;

	assert_int_equal(rig_guest_init(r, 1), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(rig_vring_fd(r, VHU_REQ_SET_VRING_KICK, VHU_VRING_NOFD_MASK, -1), 0);
	bufs[0] = (struct drv_buf){ r->data_gpa, 4, false };
	bufs[1] = (struct drv_buf){ r->data_gpa + 4096, 4, true };
	memcpy(fake_guest_ptr(&r->fg, r->data_gpa, 4), "ping", 4);
	drv_split_add(&r->q[0].split, bufs, 2); /* and no kick */
	for (int t = 0; t < RIG_TIMEOUT_MS && !got; t++) {
		got = drv_split_get_used(&r->q[0].split, &id, &len);
		if (!got)
			(void)rig_wait_fd(r->q[0].call, 1);
	}
	assert_true(got);
	in = fake_guest_ptr(&r->fg, r->data_gpa + 4096, 4);
	assert_memory_equal(in, "ping", 4);
}

/* VHU_BACKEND_F_POLL: workers busy-poll, kicks or not. */
static void busy_poll_flag(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 8), 0);
	for (uint8_t i = 0; i < 6; i++)
		assert_int_equal(rig_echo(r, i % 2, 512, i), 0);
	assert_int_equal(vring_base(r, 0), 3);
	assert_int_equal(vring_base(r, 1), 3);
}

/* Write 1 to an eventfd. */
static void efd_signal(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static bool efd_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 },
		  NULL);
}

static void watch_fd_set(struct rig *r, unsigned int qi, int fd)
{
	__atomic_store_n(&r->dev.watch_fd[qi], fd, __ATOMIC_RELEASE);
}

/* vhu_vq_watch_fd: the worker wakes for the device's fd and calls queue_event. */
static void watch_fd_event(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	int efd = rig_eventfd();

	watch_fd_set(r, 0, efd);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 8), 0);
	assert_int_equal(rig_echo(r, 0, 32, 1), 0);
	for (unsigned int i = 1; i <= 3; i++) {
		efd_signal(efd);
		assert_true(echo_wait_count(&d->events, i, RIG_TIMEOUT_MS));
		assert_int_equal(rig_echo(r, 0, 32, (uint8_t)i), 0); /* kicks still served */
	}
	/* level-triggered and drained each time: one call per signal, none spurious */
	assert_int_equal(echo_count(&d->event_calls), 3);
	assert_false(efd_readable(efd));

	/* the watch ends with the queue; this start sets none */
	assert_int_equal(vring_base(r, 0), 4);
	watch_fd_set(r, 0, -1);
	assert_int_equal(rig_restart(r, 0, 4), 0);
	efd_signal(efd);
	assert_int_equal(rig_echo(r, 0, 32, 9), 0);
	sleep_ms(50);
	assert_int_equal(echo_count(&d->event_calls), 3);
	assert_true(efd_readable(efd)); /* nobody read it */
	close(efd);
}

/* A watch removed (by queue_event itself) wakes the worker no more. */
static void watch_fd_removed(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	int efd = rig_eventfd();

	__atomic_store_n(&d->unwatch_on_event, true, __ATOMIC_RELEASE);
	watch_fd_set(r, 0, efd);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 8), 0);
	efd_signal(efd);
	assert_true(echo_wait_count(&d->events, 1, RIG_TIMEOUT_MS));
	efd_signal(efd);
	assert_int_equal(rig_echo(r, 0, 64, 2), 0);
	sleep_ms(50);
	assert_int_equal(echo_count(&d->event_calls), 1);
	assert_true(efd_readable(efd));
	/* a pause does not bring it back either */
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_vring_fd(r, VHU_REQ_SET_VRING_CALL, 0, r->q[0].call), 0);
	assert_int_equal(rig_echo(r, 0, 64, 3), 0);
	sleep_ms(20);
	assert_int_equal(echo_count(&d->event_calls), 1);
	close(efd);
}

/* Pauses and a stop/start with a watch set: no signal is lost, none is seen twice. */
static void watch_fd_pause(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	int efd = rig_eventfd();
	unsigned int n = 0;

	watch_fd_set(r, 1, efd);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 16), 0);
	for (unsigned int i = 0; i < 50; i++) {
		/* signal, then requests that pause queue 1's worker at once */
		efd_signal(efd);
		assert_int_equal(rig_vring_fd(r, VHU_REQ_SET_VRING_CALL, 1, r->q[1].call), 0);
		assert_int_equal(rig_set_mem_table(r, 1), 0);
		assert_true(echo_wait_count(&d->events, ++n, RIG_TIMEOUT_MS));
		assert_int_equal(rig_echo(r, 1, 16, (uint8_t)i), 0);
	}
	/* disabled: no worker, nothing watched; enabled again: the signal is still there */
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, 1, 0), 0);
	efd_signal(efd);
	sleep_ms(20);
	assert_int_equal(echo_count(&d->events), n);
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, 1, 1), 0);
	assert_true(echo_wait_count(&d->events, ++n, RIG_TIMEOUT_MS));
	assert_int_equal(rig_echo(r, 1, 16, 77), 0);
	assert_int_equal(echo_count(&d->event_calls), n);
	assert_int_equal(echo_count(&d->queue_starts), 3);
	close(efd);
}

/* Busy-polling workers call queue_event in every round, fd readable or not. */
static void watch_fd_busy_poll(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	int efd = rig_eventfd();

	watch_fd_set(r, 0, efd);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 8), 0);
	assert_true(echo_wait_count(&d->event_calls, 2, RIG_TIMEOUT_MS));
	efd_signal(efd);
	assert_true(echo_wait_count(&d->events, 1, RIG_TIMEOUT_MS));
	assert_int_equal(rig_echo(r, 0, 128, 5), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0); /* a pause */
	efd_signal(efd);
	assert_true(echo_wait_count(&d->events, 2, RIG_TIMEOUT_MS));
	assert_int_equal(vring_base(r, 0), 1);
	close(efd);
}

/*
 * vhu_vq_run_again: a device that completes one request per call, with
 * kicks off, gets every request of a single kick done; one that asks again
 * for ever still lets pauses in, and the other queues of its thread run.
 */
static void run_again(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;
	struct rig_queue *q = &r->q[0];
	uint32_t id, len;
	unsigned int got = 0;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(rig_echo(r, 0, 16, 1), 0);
	__atomic_store_n(&d->one_per_kick, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < 12; i++) {
		struct drv_buf bufs[2] = { { r->data_gpa + i * 64, 32, false },
					   { r->data_gpa + 4096 + i * 64, 32, true } };

		assert_true(drv_split_add(&q->split, bufs, 2) >= 0);
	}
	rig_kick(r, 0); /* one kick for all twelve */
	assert_true(echo_wait_count(&d->completed, 13, RIG_TIMEOUT_MS));
	while (got < 12 && drv_split_get_used(&q->split, &id, &len) == 1)
		got++;
	assert_int_equal(got, 12);
	/* the device asks for ever: a pause still gets its turn, and queue 1 is served */
	__atomic_store_n(&d->one_per_kick, false, __ATOMIC_RELEASE);
	__atomic_store_n(&d->again_forever, true, __ATOMIC_RELEASE);
	assert_int_equal(rig_echo(r, 0, 16, 2), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_echo(r, 1, 16, 3), 0);
	assert_int_equal(rig_echo(r, 0, 16, 4), 0);
	__atomic_store_n(&d->again_forever, false, __ATOMIC_RELEASE);
	assert_int_equal(vring_base(r, 0), 15);
}

static void config_space(void **state)
{
	struct rig *r = *state;
	uint8_t buf[VHU_MAX_CONFIG_SIZE];
	struct vhu_msg m;

	assert_int_equal(rig_guest_init(r, 1), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(vhu_fe_get_config(&r->ch, 4, 8, buf), 0);
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 4 + i);
	assert_int_equal(vhu_fe_get_config(&r->ch, 0, VHU_MAX_CONFIG_SIZE, buf), 0);
	assert_int_equal(buf[255], 255);

	vhu_msg_init(&m, VHU_REQ_SET_CONFIG, VHU_FLAG_NEED_REPLY, VHU_CONFIG_HDR_SIZE + 4);
	m.payload.config.offset = 10;
	m.payload.config.size = 4;
	memcpy(m.payload.config.region, "\xaa\xbb\xcc\xdd", 4);
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	assert_int_equal(vhu_fe_get_config(&r->ch, 8, 8, buf), 0);
	assert_memory_equal(buf, "\x08\x09\xaa\xbb\xcc\xdd\x0e\x0f", 8);
}

struct changer {
	struct vhu_backend *be;
	int ret;
};

static void *change_thread(void *arg)
{
	struct changer *c = arg;

	c->ret = vhu_backend_config_changed(c->be);
	return NULL;
}

/* Read CONFIG_CHANGE_MSG on the channel; answer @ack if it asks. Return: its flags. */
static uint32_t serve_change(int chan, uint64_t ack)
{
	struct vhu_msg m;

	assert_int_equal(vhu_msg_recv(chan, &m), 0);
	assert_int_equal(m.hdr.request, VHU_BACKEND_REQ_CONFIG_CHANGE_MSG);
	assert_int_equal(m.hdr.size, 0);
	if (m.hdr.flags & VHU_FLAG_NEED_REPLY) {
		struct vhu_msg reply;

		vhu_msg_init(&reply, m.hdr.request, VHU_FLAG_REPLY, sizeof(uint64_t));
		reply.payload.u64 = ack;
		assert_int_equal(vhu_msg_send(chan, &reply), 0);
	}
	return m.hdr.flags;
}

static int channel_setup(struct rig *r, uint64_t protocol, int *chan)
{
	int sv[2];
	struct vhu_msg m;
	int ret;

	if (rig_guest_init(r, 1) < 0 || rig_negotiate(r, SPLIT_FEATURES, protocol) < 0)
		return -EIO;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	vhu_msg_init(&m, VHU_REQ_SET_BACKEND_REQ_FD,
		     (protocol & PF(REPLY_ACK)) ? VHU_FLAG_NEED_REPLY : 0, 0);
	m.fds[0] = sv[1];
	m.nfds = 1;
	ret = vhu_fe_request(&r->ch, &m, NULL);
	close(sv[1]);
	*chan = sv[0];
	return ret;
}

static void backend_channel(void **state)
{
	struct rig *r = *state;
	struct changer c = { .be = r->be };
	struct timespec t0, t1;
	struct pollfd pfd;
	pthread_t t;
	struct vhu_msg m;
	int chan;

	assert_int_equal(vhu_backend_config_changed(r->be), -ENOTCONN);
	assert_int_equal(channel_setup(r, RIG_PROTOCOL, &chan), 0);
	/* from another thread: sent at once, the ack is waited for */
	for (uint64_t ack = 0; ack < 2; ack++) {
		assert_int_equal(pthread_create(&t, NULL, change_thread, &c), 0);
		assert_true(serve_change(chan, ack) & VHU_FLAG_NEED_REPLY);
		pthread_join(t, NULL);
		assert_int_equal(c.ret, ack ? -EIO : 0);
	}
	/* from an op while a request is handled: after the reply, not before */
	__atomic_store_n(&r->dev.config_change_on_set, true, __ATOMIC_RELEASE);
	vhu_msg_init(&m, VHU_REQ_SET_CONFIG, VHU_FLAG_NEED_REPLY, VHU_CONFIG_HDR_SIZE + 1);
	m.payload.config.size = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	pfd = (struct pollfd){ .fd = chan, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, RIG_TIMEOUT_MS), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2); /* nobody waited for a timeout */
	serve_change(chan, 0);
	assert_int_equal(__atomic_load_n(&r->dev.config_change_ret, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	close(chan);
}

/* Without REPLY_ACK the back-end sends and does not wait; without CONFIG it may not send. */
static void backend_channel_no_ack(void **state)
{
	struct rig *r = *state;
	int chan;

	assert_int_equal(channel_setup(r, PF(BACKEND_REQ) | PF(CONFIG), &chan), 0);
	/* no acks: a reply proves SET_BACKEND_REQ_FD was handled */
	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	assert_int_equal(vhu_backend_config_changed(r->be), 0);
	assert_false(serve_change(chan, 0) & VHU_FLAG_NEED_REPLY);
	close(chan);
}

/* A front-end that never acks: the back-end gives up, closes the channel, goes on. */
static void backend_channel_timeout(void **state)
{
	struct rig *r = *state;
	struct changer c = { .be = r->be };
	struct vhu_msg m;
	pthread_t t;
	int chan;

	assert_int_equal(channel_setup(r, RIG_PROTOCOL, &chan), 0);
	assert_int_equal(pthread_create(&t, NULL, change_thread, &c), 0);
	assert_int_equal(vhu_msg_recv(chan, &m), 0); /* and no answer */
	pthread_join(t, NULL);
	assert_int_equal(c.ret, -ETIMEDOUT);
	assert_true(rig_log_has(r, "back-end channel closed"));
	assert_int_equal(vhu_backend_config_changed(r->be), -ENOTCONN);
	assert_int_equal(get_u64(r, VHU_REQ_GET_FEATURES), RIG_OFFERED);
	close(chan);
}

static void backend_channel_needs_config(void **state)
{
	struct rig *r = *state;
	int chan;

	assert_int_equal(channel_setup(r, PF(BACKEND_REQ) | PF(REPLY_ACK), &chan), 0);
	assert_int_equal(vhu_backend_config_changed(r->be), -ENOTSUP);
	close(chan);
}

/* Memory hotplug: regions come and go under a running ring. */
static void memory_hotplug(void **state)
{
	struct rig *r = *state;
	unsigned int maps;
	struct vhu_msg m;

	assert_int_equal(rig_guest_init(r, 2), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(rig_echo(r, 0, 64, 1), 0);

	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, VHU_FLAG_NEED_REPLY, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	m.fds[0] = r->memfd[1];
	m.nfds = 1;
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	/* a buffer in the new region, another crossing into it */
	assert_int_equal(rig_echo_at(r, 0, FG_REGION_SIZE + 4096, FG_REGION_SIZE + 8192, 100, 2),
			 0);
	assert_int_equal(rig_echo_at(r, 0, FG_REGION_SIZE - 50, FG_REGION_SIZE + 8192, 100, 3), 0);

	vhu_msg_init(&m, VHU_REQ_REM_MEM_REG, VHU_FLAG_NEED_REPLY, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	assert_int_equal(rig_echo(r, 0, 64, 4), 0);

	/* a table after ADD/REM is applied; the same table again changes nothing */
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_false(rig_log_has(r, "memory table unchanged"));
	maps = rig_count_memfd_maps();
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_true(rig_log_has(r, "memory table unchanged"));
	assert_int_equal(rig_count_memfd_maps(), maps);
	assert_int_equal(rig_echo(r, 0, 64, 5), 0);
	/* a new table with both regions: the ring is translated again */
	assert_int_equal(rig_set_mem_table(r, 2), 0);
	assert_int_equal(rig_echo_at(r, 0, FG_REGION_SIZE, FG_REGION_SIZE + 512, 64, 6), 0);
	/*
	 * Every change that unmaps memory (REM_MEM_REG, the two changed tables)
	 * stopped the ring first, so the device could finish requests still in
	 * that memory, and started it again; ADD_MEM_REG and the unchanged
	 * table did not. The ring kept working throughout (the echoes above).
	 */
	assert_int_equal(echo_count(&r->dev.queue_stops), 3);
}

/* A stopped ring whose memory went away is set up again elsewhere (a guest reboot). */
static void restart_after_memory_change(void **state)
{
	struct rig *r = *state;
	uint64_t buf = FG_REGION_SIZE + FG_REGION_SIZE / 2;
	struct vhu_msg m;

	assert_int_equal(rig_guest_init(r, 2), 0);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(rig_set_mem_table(r, 1), 0);
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(rig_echo(r, 0, 64, 1), 0);
	assert_int_equal(vring_base(r, 0), 1);
	/* only region 1 now: the old ring (region 0) is gone */
	vhu_msg_init(&m, VHU_REQ_SET_MEM_TABLE, VHU_FLAG_NEED_REPLY,
		     offsetof(struct vhu_mem_table, regions) + sizeof(struct vhu_mem_region));
	m.payload.mem_table.nregions = 1;
	rig_region(1, &m.payload.mem_table.regions[0]);
	m.fds[0] = r->memfd[1];
	m.nfds = 1;
	assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	/* a bigger ring in region 1: its size does not fit the old addresses */
	r->fg.next_gpa = FG_REGION_SIZE;
	assert_int_equal(rig_setup_split(r, 0, 16), 0);
	assert_int_equal(rig_echo_at(r, 0, buf, buf + 4096, 300, 2), 0);
	assert_int_equal(vring_base(r, 0), 1);
}

static void reset_device(void **state)
{
	struct rig *r = *state;
	struct echo_dev *d = &r->dev;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 8), 0);
	assert_int_equal(rig_echo(r, 0, 10, 1), 0);
	assert_int_equal(rig_vring_state(r, VHU_REQ_SET_VRING_NUM, 0, 16), -EIO); /* started */
	{
		struct vhu_msg m;

		vhu_msg_init(&m, VHU_REQ_RESET_DEVICE, VHU_FLAG_NEED_REPLY, 0);
		assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	}
	assert_int_equal(echo_count(&d->queue_stops), 1);
	assert_int_equal(echo_count(&d->resets), 1);
	assert_int_equal(vring_base(r, 0), 0); /* forgotten */
	/* set up again from scratch; the memory table stayed */
	assert_int_equal(vhu_fe_set_u64(&r->ch, VHU_REQ_SET_FEATURES, SPLIT_FEATURES), 0);
	close(r->q[0].kick);
	close(r->q[0].call);
	close(r->q[0].err);
	r->q[0].kick = r->q[0].call = r->q[0].err = -1;
	assert_int_equal(rig_setup_split(r, 0, 16), 0);
	assert_int_equal(rig_echo(r, 0, 10, 2), 0);
}

static void queries(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), 0);
	assert_int_equal(get_u64(r, VHU_REQ_GET_PROTOCOL_FEATURES), RIG_PROTOCOL);
	assert_int_equal(get_u64(r, VHU_REQ_GET_QUEUE_NUM), RIG_QUEUES);
	assert_int_equal(get_u64(r, VHU_REQ_GET_MAX_MEM_SLOTS), VHU_MAX_MEM_SLOTS);
	assert_int_equal(get_u64(r, VHU_REQ_GET_STATUS), 0);
	assert_int_equal(vhu_fe_set_u64(&r->ch, VHU_REQ_SET_STATUS, 0xf), 0);
	assert_int_equal(get_u64(r, VHU_REQ_GET_STATUS), 0xf);
	/* RESET_OWNER (deprecated) stops rings and keeps the connection */
	{
		struct vhu_msg m;

		vhu_msg_init(&m, VHU_REQ_RESET_OWNER, VHU_FLAG_NEED_REPLY, 0);
		assert_int_equal(vhu_fe_request(&r->ch, &m, NULL), 0);
	}
	assert_int_equal(get_u64(r, VHU_REQ_GET_QUEUE_NUM), RIG_QUEUES);
}

static void device_refuses_features(void **state)
{
	struct rig *r = *state;

	__atomic_store_n(&r->dev.set_features_ret, -ENOTSUP, __ATOMIC_RELEASE);
	assert_int_equal(rig_negotiate(r, SPLIT_FEATURES, RIG_PROTOCOL), -EIO);
	assert_true(rig_log_has(r, "the device refused features"));
}

static bool pending_never(void *dev, struct vhu_vq *vq)
{
	(void)dev;
	(void)vq;
	return false;
}

/* poll_window_us is bounded; queue_pending needs queue_event. */
static void poll_window_config(void **state)
{
	struct vhu_device_ops ops = echo_ops;
	struct vhu_backend_config cfg = {
		.name = "window",
		.num_queues = 1,
		.max_queue_size = 256,
		.ops = &ops,
		.poll_window_us = VHU_BACKEND_POLL_WINDOW_MAX_US + 1,
	};
	struct vhu_backend *be = NULL;

	(void)state;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
	cfg.poll_window_us = VHU_BACKEND_POLL_WINDOW_MAX_US;
	assert_int_equal(vhu_backend_create(&cfg, &be), 0);
	vhu_backend_destroy(be);
	ops.queue_pending = pending_never;
	assert_int_equal(vhu_backend_create(&cfg, &be), 0);
	vhu_backend_destroy(be);
	ops.queue_event = NULL;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
}

int main(void)
{
#define L(f) cmocka_unit_test_setup_teardown(f, rig_setup_listen, rig_teardown)
#define P(f) cmocka_unit_test_setup_teardown(f, rig_setup_pair, rig_teardown)
#define W(f) cmocka_unit_test_setup_teardown(f, rig_setup_window, rig_teardown)
	const struct CMUnitTest tests[] = {
		P(lifecycle_split),
		P(lifecycle_packed),
		L(reconnect),
		P(multiqueue),
		P(pause_under_load),
		P(enable_rules),
		P(enabled_without_protocol_features),
		P(polling_mode_nofd),
		cmocka_unit_test_setup_teardown(busy_poll_flag, rig_setup_poll, rig_teardown),
		P(watch_fd_event),
		cmocka_unit_test(poll_window_config),
		W(lifecycle_split),
		W(lifecycle_packed),
		W(multiqueue),
		W(pause_under_load),
		W(enable_rules),
		W(watch_fd_event),
		W(watch_fd_pause),
		W(reset_device),
		W(memory_hotplug),
		P(watch_fd_removed),
		P(watch_fd_pause),
		cmocka_unit_test_setup_teardown(watch_fd_busy_poll, rig_setup_poll, rig_teardown),
		P(config_space),
		P(backend_channel),
		P(backend_channel_no_ack),
		P(backend_channel_timeout),
		P(backend_channel_needs_config),
		P(memory_hotplug),
		P(restart_after_memory_change),
		P(reset_device),
		P(queries),
		P(device_refuses_features),
		P(run_again),
		W(run_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
