/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk: a virtio-blk back-end on a raw file or block device.
 *
 * The request engine is blkdev.c (one io_uring per queue), the device ops
 * device.c, the exports (one back-end each, added and removed at run time)
 * exports.c and their control-socket methods rpc.c; this file is the
 * program: options, the command line's export, --config, the control
 * socket, and waiting for a stop.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkdev.h"
#include "control.h"
#include "exports.h"
#include "program.h"
#include <vhu/backend.h>
#include <vhu/protocol.h>

#define BLK_QUEUE_SIZE_DEFAULT 256u
/* --workers not given: a pool of one thread per online CPU */
#define BLK_WORKERS_CPUS (~0u)

struct blk_options {
	struct blkdev_options dev;
	const char *num_queues;
	const char *queue_size;
	const char *null_size;
	const char *poll_window;
	const char *poll_inflight;
	const char *delay_us;
	const char *config;
	const char *workers;
	struct ctl_options ctl;
	bool sockets; /* --socket-path or --fd: the command line's export */
	bool poll;
	bool no_host_notifier;
};

static int parse_numbers(const struct prog_info *info, struct blk_options *o, uint16_t *queue_size,
			 uint32_t *poll_window, uint32_t *poll_inflight, unsigned int *workers)
{
	uint64_t v;

	*workers = BLK_WORKERS_CPUS;
	if (o->workers) {
		if (prog_parse_u64(o->workers, VHU_POOL_MAX_THREADS, &v) < 0)
			return prog_error(info, "--workers: 0..%u", VHU_POOL_MAX_THREADS);
		*workers = (unsigned int)v;
	}

	*poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	if (o->poll_window) {
		if (prog_parse_u64(o->poll_window, VHU_BACKEND_POLL_WINDOW_MAX_US, &v) < 0)
			return prog_error(info, "--poll-window: 0..%u microseconds",
					  VHU_BACKEND_POLL_WINDOW_MAX_US);
		*poll_window = (uint32_t)v;
	}
	*poll_inflight = VHU_BACKEND_POLL_INFLIGHT_DEFAULT_US;
	if (o->poll_inflight) {
		if (prog_parse_u64(o->poll_inflight, VHU_BACKEND_POLL_WINDOW_MAX_US, &v) < 0)
			return prog_error(info, "--poll-inflight: 0..%u microseconds",
					  VHU_BACKEND_POLL_WINDOW_MAX_US);
		*poll_inflight = (uint32_t)v;
	}

	if (o->num_queues) {
		if (prog_parse_u64(o->num_queues, BLK_QUEUES_MAX, &v) < 0 || !v)
			return prog_error(info, "--num-queues: 1..%u", BLK_QUEUES_MAX);
		o->dev.num_queues = (uint16_t)v;
	}
	*queue_size = BLK_QUEUE_SIZE_DEFAULT;
	if (o->queue_size) {
		if (prog_parse_u64(o->queue_size, VHU_VQ_MAX_SIZE, &v) < 0 || !v)
			return prog_error(info, "--queue-size: 1..%u", VHU_VQ_MAX_SIZE);
		*queue_size = (uint16_t)v;
	}
	if (o->null_size) {
		if (prog_parse_u64(o->null_size, UINT64_MAX, &v) < 0 || v < 512)
			return prog_error(info, "--null-size: bytes, at least 512");
		o->dev.null_backend = true;
		o->dev.null_size = v;
	}
	if (o->delay_us) {
		if (prog_parse_u64(o->delay_us, 10000000u, &v) < 0)
			return prog_error(info, "--delay-us: 0..10000000 microseconds");
		o->dev.delay_us = (uint32_t)v;
	}
	if (ctl_options_check(info, &o->ctl))
		return 1;
	if (!o->dev.path && !o->dev.null_backend && o->sockets)
		return prog_error(info, "--blk-file=PATH (or --null-size=BYTES) is required");
	if (!o->sockets && !o->config && !o->ctl.socket)
		return prog_error(info, "one of --socket-path, --fd, --config or "
					"--control-socket is required");
	return 0;
}

/* Wait for SIGTERM/SIGINT, or the end of the adopted (--fd) export. */
static int wait_loop(const struct prog_info *info, struct blk_exports *t, int sig_fd)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sig_fd, .events = POLLIN },
					 { .fd = blk_exports_event_fd(t), .events = POLLIN } };
		bool adopted = false;

		if (prog_stop_requested())
			return 0;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return prog_error(info, "poll: %s", strerror(errno));
		while (pfd[1].revents && blk_exports_reap(t, &adopted) > 0)
			if (adopted)
				return 0; /* nothing left to serve on an inherited connection */
	}
}

/* Start the exports and the control socket, serve until a stop; the exit status. */
static int run(const struct prog_info *info, const struct prog_args *args,
	       const struct blk_options *o, const struct blk_defaults *defaults)
{
	struct ctl_error err = { 0 };
	struct ctl_server *srv = NULL;
	struct blk_exports *t;
	int sig_fd, status = 1, ret;

	sig_fd = prog_signals_init();
	if (sig_fd < 0)
		return prog_error(info, "signals: %s", strerror(-sig_fd));
	ret = blk_exports_create(defaults, &t);
	if (ret < 0) {
		vhu_pool_destroy(defaults->pool);
		return prog_error(info, "%s", strerror(-ret));
	}
	if (args->nsockets) {
		struct blk_export_opts eo = {
			.socket_path = args->socket_path,
			.fd = args->fd,
			.client = args->client,
			.dev = o->dev,
		};

		if (blk_export_add(t, &eo, &err) < 0) {
			prog_error(info, "%s", err.message);
			goto out;
		}
	}
	if (o->config && blk_exports_load(t, o->config, &err) < 0) {
		prog_error(info, "--config: %s", err.message);
		goto out;
	}
	if (ctl_options_start(info, &o->ctl, blk_methods, blk_num_methods, t, &srv))
		goto out;
	status = wait_loop(info, t, sig_fd);
out:
	ctl_server_stop(srv); /* no method runs after this */
	blk_exports_destroy(t);
	vhu_pool_destroy(defaults->pool); /* after every back-end that used it */
	return status;
}

int main(int argc, char **argv)
{
	static const char *const features[] = { "read-only", "blk-file", NULL };
	static struct blk_options o;
	const struct prog_option options[] = {
		{ "blk-file", PROG_ARG_REQUIRED, "PATH", "raw image or block device to serve",
		  .str = &o.dev.path },
		{ "read-only", PROG_ARG_NONE, NULL, "refuse writes (VIRTIO_BLK_F_RO)",
		  .flag = &o.dev.read_only },
		{ "num-queues", PROG_ARG_REQUIRED, "N", "request queues (default 1)",
		  .str = &o.num_queues },
		{ "queue-size", PROG_ARG_REQUIRED, "N", "largest ring accepted (default 256)",
		  .str = &o.queue_size },
		{ "serial", PROG_ARG_REQUIRED, "ID", "serial number (GET_ID), up to 20 bytes",
		  .str = &o.dev.serial },
		{ "direct", PROG_ARG_NONE, NULL, "O_DIRECT: bypass the host page cache",
		  .flag = &o.dev.direct },
		{ "poll", PROG_ARG_NONE, NULL, "busy-poll the rings instead of sleeping",
		  .flag = &o.poll },
		{ "no-host-notifier", PROG_ARG_NONE, NULL,
		  "with --poll: offer no doorbell pages (HOST_NOTIFIER), kicks stay eventfds",
		  .flag = &o.no_host_notifier },
		{ "poll-window", PROG_ARG_REQUIRED, "US",
		  "adaptive polling: the longest poll window (default 32, 0: off)",
		  .str = &o.poll_window },
		{ "poll-inflight", PROG_ARG_REQUIRED, "US",
		  "adaptive polling with I/O in flight: the longest wait for a completion "
		  "(default 256, 0: as --poll-window)",
		  .str = &o.poll_inflight },
		{ "null-size", PROG_ARG_REQUIRED, "BYTES",
		  "no file: reads return zeros, writes are dropped (benchmarks)",
		  .str = &o.null_size },
		{ "delay-us", PROG_ARG_REQUIRED, "US",
		  "testing: complete each request US microseconds late (a slow disk)",
		  .str = &o.delay_us },
		{ "workers", PROG_ARG_REQUIRED, "N",
		  "threads that run the queues of all exports (default: one per CPU; "
		  "0: a thread per queue)",
		  .str = &o.workers },
		{ "config", PROG_ARG_REQUIRED, "FILE",
		  "more exports: {\"exports\": [{export-add params}, ...]}", .str = &o.config },
		CTL_PROG_OPTIONS(o.ctl),
	};
	const struct prog_info info = {
		.name = "vhu-blk",
		.description = "virtio-blk vhost-user back-end on a raw file or block device",
		.type = "block",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
		.sockets_optional = true,
	};
	struct blk_defaults defaults;
	struct prog_args args;
	uint16_t queue_size = BLK_QUEUE_SIZE_DEFAULT;
	uint32_t poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	uint32_t poll_inflight = VHU_BACKEND_POLL_INFLIGHT_DEFAULT_US;
	unsigned int workers;
	struct vhu_pool *pool = NULL;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	o.sockets = args.nsockets > 0;
	if (parse_numbers(&info, &o, &queue_size, &poll_window, &poll_inflight, &workers))
		return 1;
	if (workers) {
		ret = vhu_pool_create(workers == BLK_WORKERS_CPUS ? 0 : workers, &pool);
		if (ret < 0)
			return prog_error(&info, "--workers: %s", strerror(-ret));
	}
	defaults = (struct blk_defaults){
		.queue_size = queue_size,
		.poll = o.poll,
		.host_notifier = o.poll && !o.no_host_notifier,
		.poll_window_us = poll_window,
		.poll_inflight_us = poll_inflight,
		.delay_us = o.dev.delay_us,
		.log_level = args.log_level,
		.pool = pool,
	};
	return run(&info, &args, &o, &defaults);
}
