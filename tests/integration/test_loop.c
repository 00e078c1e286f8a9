/* SPDX-License-Identifier: MIT */
/*
 * An event loop (vhu_loop_create) serving the control channels of many
 * back-ends on a few threads: every back-end is negotiated and carries
 * I/O with no thread of its own; a front-end stopped in the middle of a
 * message, a device whose queue_stop takes a second and a front-end that
 * reconnects over and over hold up nobody else; spare threads go away
 * when idle, and an idle loop costs no CPU.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"

#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)
#define RIGS 8u
#define LOOP_THREADS 8u

struct many {
	struct vhu_loop *loop;
	struct rig *rigs[RIGS];
};

static int many_setup(void **state)
{
	struct many *m = calloc(1, sizeof(*m));

	if (!m || vhu_loop_create(LOOP_THREADS, &m->loop) < 0)
		return -1;
	for (unsigned int i = 0; i < RIGS; i++) {
		m->rigs[i] = calloc(1, sizeof(struct rig));
		if (!m->rigs[i])
			return -1;
		m->rigs[i]->loop = m->loop;
		if (rig_start(m->rigs[i], RIG_LISTEN) < 0)
			return -1;
	}
	*state = m;
	return 0;
}

static int many_teardown(void **state)
{
	struct many *m = *state;

	for (unsigned int i = 0; i < RIGS; i++) {
		rig_stop(m->rigs[i]);
		free(m->rigs[i]);
	}
	vhu_loop_destroy(m->loop);
	free(m);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Wait until the loop is down to @n threads, and so are the "vhu-c" threads
 * alive (one that left its loop still exits for a moment: long under
 * valgrind). Return: true if it was in time.
 */
static bool loop_shrinks_to(struct vhu_loop *loop, unsigned int n, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while ((vhu_loop_threads(loop) > n || rig_threads_named("vhu-c") > n) && now_ms() < end)
		usleep(20000);
	return vhu_loop_threads(loop) == n && rig_threads_named("vhu-c") == n;
}

/*
 * Wait until the "vhu-c" threads alive are those the loop counts (one that
 * left its loop still exits for a moment). Return: true if they were in time.
 */
static bool threads_alive_match(struct vhu_loop *loop, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (rig_threads_named("vhu-c") != vhu_loop_threads(loop) && now_ms() < end)
		usleep(20000);
	return rig_threads_named("vhu-c") == vhu_loop_threads(loop);
}

static void features_ok(struct rig *r)
{
	uint64_t v = 0;

	assert_int_equal(vhu_fe_get_u64(&r->ch, VHU_REQ_GET_FEATURES, &v), 0);
	assert_int_equal(v, RIG_OFFERED);
}

/* All back-ends negotiated and running on a few threads, which go when idle. */
static void many_backends(void **state)
{
	struct many *m = *state;

	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_bringup(m->rigs[i], SPLIT_FEATURES, 2, 16), 0);
	for (unsigned int round = 0; round < 10; round++)
		for (unsigned int i = 0; i < RIGS; i++)
			assert_int_equal(rig_echo(m->rigs[i], round % 2, 64 + round, (uint8_t)i),
					 0);
	assert_true(vhu_loop_threads(m->loop) <= LOOP_THREADS);
	assert_true(threads_alive_match(m->loop, 1000));
	/* spares linger VHU_LOOP_LINGER_MS, then one thread waits for all */
	assert_true(loop_shrinks_to(m->loop, 1, 3 * VHU_LOOP_LINGER_MS));
	assert_int_equal(rig_threads_named("vhu-c"), 1);
	for (unsigned int i = 0; i < RIGS; i++)
		features_ok(m->rigs[i]);
}

/*
 * One front-end sends half a header and stops: the thread reading it
 * waits, and the others are served meanwhile by another thread. When the
 * rest comes, its answer does too.
 */
static void stalled_mid_message(void **state)
{
	struct many *m = *state;
	struct vhu_msg_hdr hdr = { .request = VHU_REQ_GET_FEATURES, .flags = VHU_VERSION };
	struct rig *stalled = m->rigs[0];
	struct vhu_msg reply;

	assert_int_equal(write(stalled->sock, &hdr, 6), 6);
	usleep(100000); /* the loop is reading it now */
	for (unsigned int i = 1; i < RIGS; i++) {
		assert_int_equal(rig_bringup(m->rigs[i], SPLIT_FEATURES, 2, 16), 0);
		for (unsigned int k = 0; k < 20; k++) {
			features_ok(m->rigs[i]);
			assert_int_equal(rig_echo(m->rigs[i], k % 2, 32, (uint8_t)k), 0);
		}
	}
	assert_true(vhu_loop_threads(m->loop) >= 2);
	assert_int_equal(write(stalled->sock, (char *)&hdr + 6, sizeof(hdr) - 6),
			 (ssize_t)(sizeof(hdr) - 6));
	assert_int_equal(rig_recv(stalled, &reply), 0);
	assert_int_equal(reply.hdr.request, VHU_REQ_GET_FEATURES);
	assert_int_equal(reply.payload.u64, RIG_OFFERED);
	assert_int_equal(rig_bringup(stalled, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(rig_echo(stalled, 0, 64, 7), 0);
}

struct slow_stop {
	struct rig *r;
	bool done; /* atomic */
	int ret;
};

static void *slow_stop_thread(void *arg)
{
	struct slow_stop *s = arg;
	uint32_t base = 0;

	s->ret = rig_get_vring_base(s->r, 0, &base);
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * GET_VRING_BASE on a back-end whose device takes a second to stop a
 * queue (slow I/O to finish): another back-end's messages and I/O go on
 * while it waits.
 */
static void slow_stop_beside_load(void **state)
{
	struct many *m = *state;
	struct slow_stop s = { .r = m->rigs[0] };
	struct rig *busy = m->rigs[1];
	unsigned int during = 0;
	pthread_t t;

	assert_int_equal(rig_bringup(s.r, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(rig_bringup(busy, SPLIT_FEATURES, 2, 16), 0);
	__atomic_store_n(&s.r->dev.stop_delay_ms, 1000u, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&t, NULL, slow_stop_thread, &s), 0);
	usleep(50000); /* the stop is under way */
	while (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE)) {
		features_ok(busy);
		assert_int_equal(rig_echo(busy, during % 2, 48, (uint8_t)during), 0);
		during++;
	}
	pthread_join(t, NULL);
	assert_int_equal(s.ret, 0);
	assert_int_equal(echo_count(&s.r->dev.queue_stops), 1);
	/* a second of waiting: many round trips, not the one or two a shared
	 * thread would fit before and after it */
	assert_true(during >= 10);
	__atomic_store_n(&s.r->dev.stop_delay_ms, 0u, __ATOMIC_RELEASE);
}

struct loader {
	struct rig *r;
	unsigned int done;
	int ret;
};

static void *load_thread(void *arg)
{
	struct loader *l = arg;
	int ret = 0;

	for (unsigned int i = 0; i < 500 && ret == 0; i++) {
		ret = rig_echo(l->r, i % 2, 1 + i % 1000, (uint8_t)i);
		if (ret == 0 && i % 10 == 0)
			ret = vhu_fe_get_u64(&l->r->ch, VHU_REQ_GET_FEATURES, &(uint64_t){ 0 });
		__atomic_store_n(&l->ret, ret, __ATOMIC_RELEASE);
		__atomic_store_n(&l->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* One front-end hangs up and comes back over and over beside another's load. */
static void reconnect_beside_load(void **state)
{
	struct many *m = *state;
	struct rig *churn = m->rigs[0];
	/* static: a failed assertion leaves the test while load_thread still uses it */
	static struct loader l;
	unsigned int rounds = 0;
	pthread_t t;

	l = (struct loader){ .r = m->rigs[1] };
	assert_int_equal(rig_bringup(l.r, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(pthread_create(&t, NULL, load_thread, &l), 0);
	while (__atomic_load_n(&l.done, __ATOMIC_ACQUIRE) < 500 && rounds < 1000) {
		assert_int_equal(rig_reconnect(churn), 0);
		assert_int_equal(rig_bringup(churn, SPLIT_FEATURES, 2, 16), 0);
		assert_int_equal(rig_echo(churn, rounds % 2, 16, (uint8_t)rounds), 0);
		rounds++;
		if (__atomic_load_n(&l.ret, __ATOMIC_ACQUIRE))
			break;
	}
	pthread_join(t, NULL);
	assert_int_equal(l.ret, 0);
	assert_int_equal(l.done, 500);
	assert_true(rounds > 0);
}

/* A back-end leaves the loop and is served by a thread of its own after. */
static void remove_and_run(void **state)
{
	struct many *m = *state;
	struct rig *r = m->rigs[2];
	unsigned int fds;

	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 2, 16), 0);
	rig_serve_stop(r);
	fds = rig_count_fds();
	assert_int_equal(vhu_loop_add(m->loop, r->be, NULL, NULL), 0);
	assert_int_equal(vhu_loop_add(m->loop, r->be, NULL, NULL), -EBUSY);
	vhu_loop_remove(m->loop, r->be);
	vhu_loop_remove(m->loop, r->be); /* not on it: nothing */
	assert_int_equal(rig_count_fds(), fds);
	r->loop = NULL;
	assert_int_equal(rig_serve_start(r), 0);
	assert_int_equal(rig_echo(r, 0, 64, 3), 0);
	features_ok(r);
}

/* After a burst, an idle loop costs no CPU. */
static void idle_costs_nothing(void **state)
{
	struct many *m = *state;
	unsigned long long before;

	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_bringup(m->rigs[i], SPLIT_FEATURES, 2, 16), 0);
	/* the burst's spare threads end first (their last work is not idle:
	 * under valgrind it took more than the window) */
	assert_true(loop_shrinks_to(m->loop, 1, 10 * VHU_LOOP_LINGER_MS));
	before = rig_cpu_ticks("vhu-c");
	sleep(1);
	assert_true(rig_cpu_ticks("vhu-c") - before <= 2);
	for (unsigned int i = 0; i < RIGS; i++)
		features_ok(m->rigs[i]);
}

static void loop_create_bounds(void **state)
{
	struct vhu_loop *loop;

	(void)state;
	assert_int_equal(vhu_loop_create(VHU_LOOP_MAX_THREADS + 1, &loop), -EINVAL);
	assert_int_equal(vhu_loop_create(0, &loop), 0);
	assert_int_equal(vhu_loop_threads(loop), 1);
	vhu_loop_destroy(loop);
	vhu_loop_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(many_backends, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(stalled_mid_message, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(slow_stop_beside_load, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(reconnect_beside_load, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(remove_and_run, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(idle_costs_nothing, many_setup, many_teardown),
		cmocka_unit_test(loop_create_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
