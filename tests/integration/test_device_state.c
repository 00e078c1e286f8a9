/* SPDX-License-Identifier: MIT */
/*
 * Device state transfer (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE) against
 * lib/backend and the echo device's state ops: a SAVE comes out whole over
 * the pipe, a LOAD goes in and reaches the device, and a hostile front-end
 * (wrong direction or phase, rings running, no transfer to check, a state
 * the device refuses, one too big, a pipe never closed or closed early)
 * fails only its request, with a reason, leaking nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"
#include "transport/transport.h"

#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)
#define PROTOCOL (RIG_PROTOCOL | PF(DEVICE_STATE))

struct ds {
	struct rig r; /* first */
	unsigned int fds;
};

static int setup(void **state)
{
	struct ds *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	d->fds = rig_count_fds();
	d->r.backend_protocol = PROTOCOL;
	if (rig_start(&d->r, RIG_LISTEN) < 0 || rig_guest_init(&d->r, 1) < 0 ||
	    rig_negotiate(&d->r, SPLIT_FEATURES, PROTOCOL) < 0 || rig_set_mem_table(&d->r, 1) < 0 ||
	    rig_setup_split(&d->r, 0, 64) < 0)
		return -1;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct ds *d = *state;

	rig_stop(&d->r);
	assert_int_equal(rig_count_fds(), d->fds);
	free(d);
	return 0;
}

/* SET_DEVICE_STATE_FD with @fd (kept by the caller): the u64 it answers. */
static uint64_t set_fd(struct ds *d, uint32_t direction, uint32_t phase, int fd)
{
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_SET_DEVICE_STATE_FD, 0, sizeof(struct vhu_device_state_transfer));
	m.payload.transfer.direction = direction;
	m.payload.transfer.phase = phase;
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, &fd, 1), 0);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	assert_int_equal(reply.hdr.request, VHU_REQ_SET_DEVICE_STATE_FD);
	assert_int_equal(reply.nfds, 0);
	return reply.payload.u64;
}

static uint64_t check(struct ds *d)
{
	uint64_t v = 99;

	assert_int_equal(vhu_fe_get_u64(&d->r.ch, VHU_REQ_CHECK_DEVICE_STATE, &v), 0);
	return v;
}

static void stop_ring(struct ds *d)
{
	uint32_t base;

	assert_int_equal(rig_get_vring_base(&d->r, 0, &base), 0);
}

/* Read @fd to EOF into @buf (at most @max). */
static size_t read_all(int fd, uint8_t *buf, size_t max)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, max - n);

		if (r <= 0)
			return n;
		n += (size_t)r;
	}
}

static void save_whole(void **state)
{
	struct ds *d = *state;
	static uint8_t buf[1 << 20];
	int p[2];
	size_t n;

	/* a state bigger than a pipe holds: the back-end must not block on it */
	d->r.dev.state_size = 300000;
	assert_int_equal(rig_echo(&d->r, 0, 10, 1), 0);
	stop_ring(d);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_SAVE, 0, p[1]), VHU_DEVICE_STATE_NOFD);
	close(p[1]);
	n = read_all(p[0], buf, sizeof(buf));
	close(p[0]);
	assert_int_equal(n, 300000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf[i], (uint8_t)(i * 31 + 7));
	assert_int_equal(check(d), 0);
}

static void load_reaches_device(void **state)
{
	struct ds *d = *state;
	uint8_t st[8] = { 'E', 'C', 'H', 'O', 42, 0, 0, 0 };
	int p[2];

	stop_ring(d);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_LOAD, 0, p[0]), VHU_DEVICE_STATE_NOFD);
	close(p[0]);
	assert_int_equal(write(p[1], st, sizeof(st)), (ssize_t)sizeof(st));
	close(p[1]);
	assert_int_equal(check(d), 0);
	assert_int_equal(d->r.dev.loaded_size, 8);
	assert_int_equal(d->r.dev.loaded_completed, 42);
	/* the device still works afterwards */
	assert_int_equal(rig_restart(&d->r, 0, 0), 0);
}

static void hostile(void **state)
{
	struct ds *d = *state;
	uint8_t junk[64] = { 1, 2, 3 };
	int p[2];

	assert_int_equal(pipe(p), 0);
	/* rings still running */
	rig_log_clear(&d->r);
	assert_true(set_fd(d, VHU_TRANSFER_SAVE, 0, p[1]) & VHU_DEVICE_STATE_ERR_MASK);
	assert_true(rig_log_has(&d->r, "still runs"));
	stop_ring(d);
	/* a direction or phase that does not exist */
	assert_true(set_fd(d, 2, 0, p[1]) & VHU_DEVICE_STATE_ERR_MASK);
	assert_true(set_fd(d, VHU_TRANSFER_SAVE, 1, p[1]) & VHU_DEVICE_STATE_ERR_MASK);
	/* nothing to check */
	rig_log_clear(&d->r);
	assert_true(check(d) != 0);
	assert_true(rig_log_has(&d->r, "no transfer"));
	/* a state the device refuses */
	assert_int_equal(set_fd(d, VHU_TRANSFER_LOAD, 0, p[0]), VHU_DEVICE_STATE_NOFD);
	assert_int_equal(write(p[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(p[1]);
	rig_log_clear(&d->r);
	assert_true(check(d) != 0);
	assert_true(rig_log_has(&d->r, "refused the state"));
	close(p[0]);
	/* a SAVE whose reader goes away: EPIPE in the back-end, no SIGPIPE */
	d->r.dev.state_size = 300000;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_SAVE, 0, p[1]), VHU_DEVICE_STATE_NOFD);
	close(p[1]);
	close(p[0]);
	assert_true(check(d) != 0);
	/* a LOAD whose writer never closes: the check gives up (5 s), not hangs */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_LOAD, 0, p[0]), VHU_DEVICE_STATE_NOFD);
	close(p[0]);
	assert_int_equal(write(p[1], junk, 8), 8);
	assert_true(check(d) != 0);
	close(p[1]);
	/* a transfer left open when the front-end goes away: the teardown checks fds */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_LOAD, 0, p[0]), VHU_DEVICE_STATE_NOFD);
	close(p[0]);
	close(p[1]);
}

/* A LOAD over the 16 MiB bound fails, and the back-end reads no further. */
static void load_too_big(void **state)
{
	struct ds *d = *state;
	static uint8_t chunk[1 << 16];
	size_t sent = 0;
	int p[2];

	stop_ring(d);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(set_fd(d, VHU_TRANSFER_LOAD, 0, p[0]), VHU_DEVICE_STATE_NOFD);
	close(p[0]);
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	for (int stalls = 0; sent < (24u << 20) && stalls < 200;) {
		ssize_t n = write(p[1], chunk, sizeof(chunk));

		if (n > 0) {
			sent += (size_t)n;
			stalls = 0;
		} else if (n < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ p[1], POLLOUT, 0 }, 1, 10);
			stalls++;
		} else {
			break; /* EPIPE: the back-end closed its end */
		}
	}
	close(p[1]);
	rig_log_clear(&d->r);
	assert_true(check(d) != 0);
	assert_true(sent <= (17u << 20));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(save_whole),
		T(load_reaches_device),
		T(hostile),
		T(load_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
