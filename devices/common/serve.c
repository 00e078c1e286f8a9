/* SPDX-License-Identifier: MIT */
/*
 * The main loop every device program shares: the back-end's fd and the
 * signal eventfd in one poll(), so SIGTERM ends the program promptly (spec
 * "Backend program conventions": end as quickly and cleanly as possible).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "serve.h"

static int serve_loop(const struct prog_info *info, struct vhu_backend *be, int sig_fd)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = vhu_backend_fd(be), .events = POLLIN },
			{ .fd = sig_fd, .events = POLLIN },
		};
		int ret;

		if (prog_stop_requested())
			return 0;
		if (pfd[0].fd < 0)
			return 0; /* an adopted (--fd) connection ended: nothing left to serve */
		ret = poll(pfd, 2, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return prog_error(info, "poll: %s", strerror(errno));
		if (!pfd[0].revents)
			continue; /* a signal: prog_stop_requested() says which */
		ret = vhu_backend_dispatch(be);
		/* a front-end left, or an accept that the peer abandoned: serve the next */
		if (ret == -ECONNRESET || ret == -ECONNABORTED || ret == -EAGAIN || ret == -EINTR)
			continue;
		if (ret < 0)
			return prog_error(info, "%s", strerror(-ret));
	}
}

int prog_serve(const struct prog_info *info, const struct prog_args *args,
	       const struct vhu_backend_config *config)
{
	struct vhu_backend_config cfg = *config;
	struct vhu_backend *be;
	struct vhu_log log;
	int sig_fd, ret, status;

	sig_fd = prog_signals_init();
	if (sig_fd < 0)
		return prog_error(info, "signals: %s", strerror(-sig_fd));
	if (!cfg.log) {
		/* --log-level overrides $VHU_LOG_LEVEL; @log lives as long as @be */
		vhu_log_init(&log, cfg.name);
		if (args->log_level >= 0)
			log.level = (enum vhu_log_level)args->log_level;
		cfg.log = &log;
	}
	ret = vhu_backend_create(&cfg, &be);
	if (ret < 0)
		return prog_error(info, "%s", strerror(-ret));
	if (args->socket_path && args->client)
		ret = vhu_backend_connect(be, args->socket_path);
	else if (args->socket_path)
		ret = vhu_backend_listen(be, args->socket_path);
	else
		ret = vhu_backend_adopt_fd(be, args->fd);
	if (ret < 0) {
		status = prog_error(info, "%s: %s", args->socket_path ? args->socket_path : "--fd",
				    strerror(-ret));
		goto out;
	}
	status = serve_loop(info, be, sig_fd);
out:
	vhu_backend_destroy(be);
	return status;
}
