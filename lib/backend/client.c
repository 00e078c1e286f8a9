/* SPDX-License-Identifier: MIT */
/*
 * Client mode: the back-end connects to a front-end that listens (QEMU
 * `-chardev socket,server=on`, OVS dpdkvhostuserclient) and connects again,
 * with bounded exponential back-off, whenever the front-end is not there or
 * the connection ends. The wait between attempts is a timerfd, which
 * vhu_backend_fd() hands to the caller's loop in place of a socket, so no
 * loop (serve.c, vhu-net's port threads, vhu_backend_run()) sleeps or knows
 * about it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

static uint32_t max_wait_ms(const struct vhu_backend *be)
{
	uint32_t max = be->config.reconnect_max_ms;

	return max ? max : VHU_BACKEND_RECONNECT_MAX_MS;
}

static int arm(struct vhu_backend *be, uint32_t ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000u,
						.tv_nsec = (long)(ms % 1000u) * 1000000l } };

	return timerfd_settime(be->retry_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* The next wait: the shortest after a success, else twice the last, bounded. */
static uint32_t next_wait(struct vhu_backend *be)
{
	uint32_t max = max_wait_ms(be);

	if (be->backoff_ms == 0)
		be->backoff_ms = VHU_BACKEND_RECONNECT_MIN_MS;
	else
		be->backoff_ms = be->backoff_ms > max / 2 ? max : be->backoff_ms * 2;
	return be->backoff_ms;
}

/* One attempt; after a failure the next one is scheduled. 0 or -EAGAIN. */
static int attempt(struct vhu_backend *be)
{
	uint32_t ms;
	int ret = vhu_sock_connect_nb(be->client_path, &be->conn_fd);

	if (ret == 0) {
		vhu_info(&be->log, "connected to %s", be->client_path);
		be->attempts = 0;
		be->served = false;
		(void)arm(be, 0); /* disarmed: only the socket is polled now */
		return 0;
	}
	be->conn_fd = -1;
	ms = next_wait(be);
	if (be->attempts++ == 0)
		vhu_warn(&be->log,
			 "cannot connect to %s: %s; retrying with back-off (at most %u ms)",
			 be->client_path, strerror(-ret), max_wait_ms(be));
	vhu_debug(&be->log, "connect to %s: %s; next attempt in %u ms", be->client_path,
		  strerror(-ret), ms);
	ret = arm(be, ms);
	if (ret < 0)
		vhu_err(&be->log, "retry timer: %s", strerror(-ret));
	return -EAGAIN;
}

VHU_API int vhu_backend_connect(struct vhu_backend *be, const char *path)
{
	struct sockaddr_un sa;

	if (be->listen_fd >= 0 || be->conn_fd >= 0 || be->client_path)
		return -EBUSY;
	/* a path that can never work is the caller's error, not something to retry */
	if (!path || !path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	be->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (be->retry_fd < 0)
		return -errno;
	be->client_path = strdup(path);
	if (!be->client_path) {
		vhu_close_fd(&be->retry_fd);
		return -ENOMEM;
	}
	be->backoff_ms = 0;
	be->attempts = 0;
	vhu_info(&be->log, "client mode: connecting to %s", path);
	(void)attempt(be);
	return 0;
}

void vhu_be_client_lost(struct vhu_backend *be)
{
	uint32_t ms;
	int ret;

	if (!be->client_path)
		return;
	/* a front-end that accepts and hangs up at once gets ever longer waits */
	if (be->served)
		be->backoff_ms = 0;
	ms = next_wait(be);
	be->attempts = 0;
	vhu_info(&be->log, "reconnecting to %s in %u ms", be->client_path, ms);
	ret = arm(be, ms);
	if (ret < 0)
		vhu_err(&be->log, "retry timer: %s", strerror(-ret));
}

int vhu_be_client_retry(struct vhu_backend *be)
{
	uint64_t expired;

	if (read(be->retry_fd, &expired, sizeof(expired)) != (ssize_t)sizeof(expired))
		return -EAGAIN; /* not due yet (a spurious wake-up) */
	return attempt(be);
}

void vhu_be_client_fini(struct vhu_backend *be)
{
	vhu_close_fd(&be->retry_fd);
	free(be->client_path);
	be->client_path = NULL;
}
