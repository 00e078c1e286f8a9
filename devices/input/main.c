/* SPDX-License-Identifier: MIT */
/*
 * vhu-input: a virtio-input vhost-user back-end (QEMU's
 * vhost-user-input-pci), fed by an evdev node (--evdev-path) or by the
 * events socket (--events-socket). The source runs on a thread of its
 * own from start to exit; the vhost-user side is devices/common/serve.c's
 * loop. A source that fails (the evdev device went away) stops the
 * program with status 1.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "input.h"
#include "serve.h"
#include <vhu/protocol.h>

struct input_options {
	const char *evdev_path;
	const char *events_socket;
	const char *max_pending;
	bool no_grab;
};

struct source {
	struct evdev *evdev;
	struct evsock *evsock;
	int stop_fd;
	int result; /* what the source's loop returned */
	bool failed;
	pthread_t thread;
};

static void *source_main(void *arg)
{
	struct source *s = arg;

	s->result = s->evdev ? evdev_run(s->evdev, s->stop_fd) : evsock_run(s->evsock, s->stop_fd);
	if (s->result < 0) {
		__atomic_store_n(&s->failed, true, __ATOMIC_RELEASE);
		kill(getpid(), SIGTERM); /* the serve loop ends; main says why */
	}
	return NULL;
}

/* --events-socket: serve nothing before a client described the device. */
static int wait_described(const struct prog_info *info, struct source *s)
{
	struct pollfd pfd[2] = { { .fd = evsock_ready_fd(s->evsock), .events = POLLIN },
				 { .fd = prog_signals_init(), .events = POLLIN } };

	for (;;) {
		if (prog_stop_requested())
			return 1;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return prog_error(info, "poll: %s", strerror(errno));
		if (pfd[0].revents)
			return 0;
		if (__atomic_load_n(&s->failed, __ATOMIC_ACQUIRE))
			return 1;
	}
}

static int open_source(const struct prog_info *info, const struct input_options *o,
		       struct input_dev *d, struct source *s)
{
	int ret;

	if (!o->evdev_path == !o->events_socket)
		return prog_error(info, "exactly one of --evdev-path or --events-socket is needed");
	if (o->no_grab && !o->evdev_path)
		return prog_error(info, "--no-grab goes with --evdev-path");
	if (o->evdev_path) {
		ret = evdev_open(o->evdev_path, !o->no_grab, d, &s->evdev);
		if (ret < 0)
			return prog_error(info, "%s: %s", o->evdev_path,
					  ret == -ENOTTY ? "not an evdev device" : strerror(-ret));
		if (!caps_usable(&d->caps)) {
			evdev_close(s->evdev);
			return prog_error(info, "%s: the device reports no events", o->evdev_path);
		}
		return 0;
	}
	ret = evsock_open(o->events_socket, d, &s->evsock);
	if (ret < 0)
		return prog_error(info, "%s: %s", o->events_socket, strerror(-ret));
	return 0;
}

static void log_counters(struct input_dev *d)
{
	struct input_counters c;

	input_counters(d, &c);
	vhu_logf(d->log, VHU_LOG_INFO,
		 "delivered=%llu pending=%u dropped=%llu resync=%llu bad_buffers=%llu "
		 "status=%llu status_unknown=%llu malformed=%llu corrections=%llu",
		 (unsigned long long)c.delivered, c.pending, (unsigned long long)c.dropped,
		 (unsigned long long)c.resync, (unsigned long long)c.bad_buffers,
		 (unsigned long long)c.status, (unsigned long long)c.status_unknown,
		 (unsigned long long)c.malformed, (unsigned long long)c.corrections);
}

static int run(const struct prog_info *info, const struct prog_args *args,
	       const struct input_options *o, struct input_dev *d)
{
	struct source s = { .stop_fd = -1 };
	struct vhu_backend_config config = {
		.name = args->socket_path ? args->socket_path : "fd",
		.num_queues = 2,
		.max_queue_size = 1024,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_STATUS) | VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
			VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE),
		.ops = &input_ops,
		.dev = d,
		.log = d->log,
	};
	uint64_t one = 1;
	int status;

	if (prog_signals_init() < 0)
		return prog_error(info, "signals: %s", strerror(errno));
	status = open_source(info, o, d, &s);
	if (status)
		return status;
	s.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s.stop_fd < 0 || pthread_create(&s.thread, NULL, source_main, &s)) {
		status = prog_error(info, "source thread: %s", strerror(errno));
		goto out;
	}
	status = s.evsock ? wait_described(info, &s) : 0;
	if (!status)
		status = prog_serve(info, args, &config);
	if (write(s.stop_fd, &one, sizeof(one)) < 0)
		status = prog_error(info, "stop: %s", strerror(errno));
	pthread_join(s.thread, NULL);
	if (s.failed)
		status = prog_error(info, "source failed: %s", strerror(-s.result));
	else if (prog_stop_requested() && status == 1 && s.evsock)
		status = 0; /* stopped while waiting for a description */
	log_counters(d);
out:
	if (s.stop_fd >= 0)
		close(s.stop_fd);
	evdev_close(s.evdev);
	evsock_close(s.evsock);
	return status;
}

static int check_pending(const struct prog_info *info, const char *text, unsigned int *out)
{
	uint64_t v;

	*out = INPUT_PENDING_DEFAULT;
	if (!text)
		return 0;
	if (prog_parse_u64(text, INPUT_PENDING_MAX, &v) < 0 || !v)
		return prog_error(info, "--max-pending: 1..%u events", INPUT_PENDING_MAX);
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const features[] = { "evdev-path", "no-grab", NULL };
	struct input_options o = { 0 };
	const struct prog_option options[] = {
		{ "evdev-path", PROG_ARG_REQUIRED, "PATH",
		  "pass the evdev device PATH (/dev/input/eventN) through", .str = &o.evdev_path },
		{ "no-grab", PROG_ARG_NONE, NULL,
		  "do not grab the evdev device (the host sees its events too)",
		  .flag = &o.no_grab },
		{ "events-socket", PROG_ARG_REQUIRED, "PATH",
		  "take the description and events from the Unix socket PATH (vhu-input(1))",
		  .str = &o.events_socket },
		{ "max-pending", PROG_ARG_REQUIRED, "N",
		  "keep at most N events while the guest posts no buffers (256)",
		  .str = &o.max_pending },
	};
	const struct prog_info info = {
		.name = "vhu-input",
		.description = "virtio-input vhost-user back-end: evdev pass-through or scripted "
			       "events",
		.type = "input",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
	};
	struct input_dev d;
	struct prog_args args;
	struct vhu_log log;
	unsigned int max_pending;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	if (check_pending(&info, o.max_pending, &max_pending))
		return 1;
	vhu_log_init(&log, args.socket_path ? args.socket_path : "fd");
	if (args.log_level >= 0)
		log.level = (enum vhu_log_level)args.log_level;
	if (input_dev_init(&d, max_pending, &log) < 0)
		return prog_error(&info, "%s", strerror(ENOMEM));
	ret = run(&info, &args, &o, &d);
	input_dev_fini(&d);
	return ret;
}
