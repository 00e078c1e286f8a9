/* SPDX-License-Identifier: MIT */
/*
 * The poll window while a device has work in flight (ops->queue_inflight,
 * vhu_backend_config.poll_inflight_us): a completion that comes 2 ms after
 * the submit, later than the ordinary window (32 us) but within the
 * in-flight one, is found by the spinning worker, request after request;
 * without an in-flight window the ordinary one adapts down to nothing and
 * the worker sleeps until the device's fd wakes it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"

#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)
#define REQUESTS 40u
#define DELAY_US 2000u

static struct rig *io_rig(uint32_t inflight_us)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->ops = &echo_io_ops;
	r->poll_window_us = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	r->poll_inflight_us = inflight_us;
	assert_int_equal(rig_start(r, RIG_SOCKETPAIR), 0);
	/* rig_start() clears the device: set up before the rings start */
	r->dev.io_delay_us = DELAY_US;
	r->dev.io_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	assert_true(r->dev.io_timer >= 0);
	assert_int_equal(rig_bringup(r, SPLIT_FEATURES, 1, 16), 0);
	return r;
}

static void io_rig_free(struct rig *r)
{
	int fd = r->dev.io_timer;

	rig_stop(r);
	close(fd);
	free(r);
}

/* REQUESTS one at a time; return how many completions the spinning worker found. */
static unsigned int polled_completions(struct rig *r)
{
	for (unsigned int i = 0; i < REQUESTS; i++)
		assert_int_equal(rig_echo(r, 0, 64, (uint8_t)i), 0);
	assert_int_equal(echo_count(&r->dev.io_event_done), REQUESTS);
	return echo_count(&r->dev.io_pending_hits);
}

static void inflight_window_polls(void **state)
{
	struct rig *r = io_rig(20000);
	unsigned int hits = polled_completions(r);

	(void)state;
	print_message("# in-flight window 20 ms: %u of %u completions found polling\n", hits,
		      REQUESTS);
	assert_true(hits >= REQUESTS * 3 / 4);
	io_rig_free(r);
}

static void no_inflight_window_sleeps(void **state)
{
	/* 0: the ordinary 32 us window, which a 2 ms completion outlasts */
	struct rig *r = io_rig(0);
	unsigned int hits = polled_completions(r);

	(void)state;
	print_message("# no in-flight window: %u of %u completions found polling\n", hits,
		      REQUESTS);
	assert_true(hits <= REQUESTS / 4);
	io_rig_free(r);
}

/* queue_inflight needs queue_pending; the window is bounded like the other. */
static void config_checks(void **state)
{
	struct vhu_device_ops ops = echo_io_ops;
	struct vhu_backend_config cfg = {
		.name = "x",
		.num_queues = 1,
		.max_queue_size = 16,
		.ops = &ops,
		.poll_window_us = 32,
		.poll_inflight_us = VHU_BACKEND_POLL_WINDOW_MAX_US + 1,
	};
	struct vhu_backend *be = NULL;

	(void)state;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
	cfg.poll_inflight_us = VHU_BACKEND_POLL_INFLIGHT_DEFAULT_US;
	ops.queue_pending = NULL;
	assert_int_equal(vhu_backend_create(&cfg, &be), -EINVAL);
	ops.queue_pending = echo_io_ops.queue_pending;
	assert_int_equal(vhu_backend_create(&cfg, &be), 0);
	vhu_backend_destroy(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inflight_window_polls),
		cmocka_unit_test(no_inflight_window_sleeps),
		cmocka_unit_test(config_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
