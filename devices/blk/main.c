/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk: a virtio-blk back-end on a raw file or block device.
 *
 * The request engine is blkdev.c (one io_uring per queue), the device ops
 * device.c; this file is the program: options, and the back-end around it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkdev.h"
#include "device.h"
#include "serve.h"
#include <vhu/backend.h>
#include <vhu/protocol.h>

#define BLK_QUEUE_SIZE_DEFAULT 256u

struct blk_options {
	struct blkdev_options dev;
	const char *num_queues;
	const char *queue_size;
	const char *null_size;
	const char *poll_window;
	const char *delay_us;
	bool poll;
};

static int parse_numbers(const struct prog_info *info, struct blk_options *o, uint16_t *queue_size,
			 uint32_t *poll_window)
{
	uint64_t v;

	*poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	if (o->poll_window) {
		if (prog_parse_u64(o->poll_window, VHU_BACKEND_POLL_WINDOW_MAX_US, &v) < 0)
			return prog_error(info, "--poll-window: 0..%u microseconds",
					  VHU_BACKEND_POLL_WINDOW_MAX_US);
		*poll_window = (uint32_t)v;
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
	if (!o->dev.path && !o->dev.null_backend)
		return prog_error(info, "--blk-file=PATH (or --null-size=BYTES) is required");
	return 0;
}

/*
 * One line at exit with each queue's completed requests, read by the
 * multiqueue tests to prove every queue carried I/O:
 *   vhu-blk: requests per queue: 0=N 1=N ...
 */
static void log_requests(const struct blk *blk, unsigned int num_queues)
{
	char line[64 + BLK_QUEUES_MAX * 24] = "";
	size_t len = 0;

	for (unsigned int i = 0; i < num_queues && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %u=%llu", i,
					(unsigned long long)blk->queues[i].requests);
	fprintf(stderr, "vhu-blk: requests per queue:%s\n", line);
}

int main(int argc, char **argv)
{
	static const char *const features[] = { "read-only", "blk-file", NULL };
	static struct blk_options o;
	static struct blk blk;
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
		{ "poll-window", PROG_ARG_REQUIRED, "US",
		  "adaptive polling: the longest poll window (default 32, 0: off)",
		  .str = &o.poll_window },
		{ "null-size", PROG_ARG_REQUIRED, "BYTES",
		  "no file: reads return zeros, writes are dropped (benchmarks)",
		  .str = &o.null_size },
		{ "delay-us", PROG_ARG_REQUIRED, "US",
		  "testing: complete each request US microseconds late (a slow disk)",
		  .str = &o.delay_us },
	};
	const struct prog_info info = {
		.name = "vhu-blk",
		.description = "virtio-blk vhost-user back-end on a raw file or block device",
		.type = "block",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
	};
	struct vhu_backend_config config;
	struct blkdev *dev;
	struct prog_args args;
	uint16_t queue_size = BLK_QUEUE_SIZE_DEFAULT;
	uint32_t poll_window = VHU_BACKEND_POLL_WINDOW_DEFAULT_US;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	if (parse_numbers(&info, &o, &queue_size, &poll_window))
		return 1;
	ret = blkdev_open(&o.dev, &dev);
	if (ret < 0)
		return prog_error(&info, "%s: %s", o.dev.path ? o.dev.path : "null disk",
				  strerror(-ret));
	blk_init(&blk, dev, o.poll);
	config = (struct vhu_backend_config){
		.name = args.socket_path ? args.socket_path : "fd",
		.num_queues = o.dev.num_queues ? o.dev.num_queues : 1,
		.max_queue_size = queue_size,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_STATUS) |
			VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) |
			/* crash-safe: what was in flight is resubmitted after a restart */
			VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD) |
			/* live migration: the dirty-page log, and postcopy */
			VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) | VHU_BIT(VHU_PROTOCOL_F_PAGEFAULT),
		.flags = o.poll ? VHU_BACKEND_F_POLL : 0,
		.ops = &blk_ops,
		.dev = &blk,
		.poll_window_us = poll_window,
	};
	ret = prog_serve(&info, &args, &config);
	log_requests(&blk, config.num_queues);
	blkdev_close(blk.dev);
	return ret;
}
