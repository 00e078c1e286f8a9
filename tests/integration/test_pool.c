/* SPDX-License-Identifier: MIT */
/*
 * A worker pool (vhu_pool_create) shared by many back-ends: every queue of
 * every back-end carries echo round trips on the pool's threads and no
 * thread of its own; one back-end's pauses, stops and restarts never hold
 * up another's queues on the same threads; an idle pool costs no CPU.
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
#define POOL_THREADS 2u

struct many {
	struct vhu_pool *pool;
	struct rig *rigs[RIGS];
};

static int many_setup(void **state)
{
	struct many *m = calloc(1, sizeof(*m));

	if (!m || vhu_pool_create(POOL_THREADS, &m->pool) < 0)
		return -1;
	for (unsigned int i = 0; i < RIGS; i++) {
		m->rigs[i] = calloc(1, sizeof(struct rig));
		if (!m->rigs[i])
			return -1;
		m->rigs[i]->pool = m->pool;
		/* adaptive polling: the threads spin over many rings, then sleep */
		m->rigs[i]->poll_window_us = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
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
	vhu_pool_destroy(m->pool);
	free(m);
	return 0;
}

/* Every queue of every back-end runs on the pool's threads; none has its own. */
static void many_backends(void **state)
{
	struct many *m = *state;

	assert_int_equal(vhu_pool_threads(m->pool), POOL_THREADS);
	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_bringup(m->rigs[i], SPLIT_FEATURES, 2, 16), 0);
	for (unsigned int round = 0; round < 20; round++)
		for (unsigned int i = 0; i < RIGS; i++)
			for (unsigned int q = 0; q < 2; q++)
				assert_int_equal(
					rig_echo(m->rigs[i], q, 64 + round, (uint8_t)(i + q)), 0);
	assert_int_equal(rig_threads_named("vhu-w"), POOL_THREADS);
	assert_int_equal(rig_threads_named("vhu-q"), 0);
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

	for (unsigned int i = 0; i < 2000 && ret == 0; i++) {
		ret = rig_echo(l->r, i % 2, 1 + i % 1000, (uint8_t)i);
		__atomic_store_n(&l->ret, ret, __ATOMIC_RELEASE);
		__atomic_store_n(&l->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * One back-end pauses, stops and restarts its queues over and over while
 * another carries requests on the same two threads: the busy one never
 * fails nor waits for the other, and the churned one works after.
 */
static void churn_beside_load(void **state)
{
	struct many *m = *state;
	struct rig *busy = m->rigs[0], *churn = m->rigs[1];
	struct loader l = { .r = busy };
	unsigned int rounds = 0;
	pthread_t t;

	assert_int_equal(rig_bringup(busy, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(rig_bringup(churn, SPLIT_FEATURES, 2, 16), 0);
	assert_int_equal(pthread_create(&t, NULL, load_thread, &l), 0);
	while (__atomic_load_n(&l.done, __ATOMIC_ACQUIRE) < 2000 && rounds < 100000) {
		uint32_t base;

		/* pauses (the same call fd, the same table) and a stop and start */
		assert_int_equal(rig_vring_fd(churn, VHU_REQ_SET_VRING_CALL, 0, churn->q[0].call),
				 0);
		assert_int_equal(rig_set_mem_table(churn, 1), 0);
		assert_int_equal(rig_vring_state(churn, VHU_REQ_SET_VRING_ENABLE, 1, 0), 0);
		assert_int_equal(rig_vring_state(churn, VHU_REQ_SET_VRING_ENABLE, 1, 1), 0);
		assert_int_equal(rig_get_vring_base(churn, 0, &base), 0);
		assert_int_equal(rig_restart(churn, 0, base), 0);
		assert_int_equal(rig_echo(churn, rounds % 2, 16, (uint8_t)rounds), 0);
		rounds++;
		if (__atomic_load_n(&l.ret, __ATOMIC_ACQUIRE))
			break;
	}
	pthread_join(t, NULL);
	assert_int_equal(l.ret, 0);
	assert_int_equal(l.done, 2000);
	assert_true(rounds > 0);
	assert_int_equal(rig_threads_named("vhu-q"), 0);
}

/* After a burst, the pool's threads go to sleep: an idle second costs (almost) no CPU. */
static void idle_costs_nothing(void **state)
{
	struct many *m = *state;
	struct timespec nap = { 0, 200000000 };
	unsigned long long before;

	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_bringup(m->rigs[i], SPLIT_FEATURES, 2, 16), 0);
	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_echo(m->rigs[i], 0, 64, 1), 0);
	nanosleep(&nap, NULL); /* windows close */
	before = rig_cpu_ticks("vhu-w");
	nap.tv_sec = 1;
	nap.tv_nsec = 0;
	nanosleep(&nap, NULL);
	/* 1 s of a spinning thread is 100 ticks; a sleeping pool: 0, allow 2 */
	assert_true(rig_cpu_ticks("vhu-w") - before <= 2);
	for (unsigned int i = 0; i < RIGS; i++)
		assert_int_equal(rig_echo(m->rigs[i], 1, 64, 2), 0);
}

static void pool_create_bounds(void **state)
{
	struct vhu_pool *pool;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(vhu_pool_create(VHU_POOL_MAX_THREADS + 1, &pool), -EINVAL);
	assert_int_equal(vhu_pool_create(0, &pool), 0);
	assert_int_equal(vhu_pool_threads(pool), cpus > 0 ? (unsigned int)cpus : 1u);
	vhu_pool_destroy(pool);
	vhu_pool_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(many_backends, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(churn_beside_load, many_setup, many_teardown),
		cmocka_unit_test_setup_teardown(idle_costs_nothing, many_setup, many_teardown),
		cmocka_unit_test(pool_create_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
