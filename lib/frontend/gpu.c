/* SPDX-License-Identifier: MIT */
/*
 * The display's socket and thread: VHOST_USER_GPU_SET_SOCKET hands the
 * back-end one end of a socket pair; a thread serves the other end
 * (gpu_display.c) until detach. The caller looks at the scanouts and the
 * cursor through copies taken under the display's lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/gpu.h"
#include "frontend/internal.h"

static void *serve(void *arg)
{
	struct vhu_frontend_gpu *g = arg;
	struct pollfd p[2] = {
		{ .fd = g->sock, .events = POLLIN },
		{ .fd = g->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int ret;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		pthread_mutex_lock(&g->lock);
		g->busy = true;
		pthread_mutex_unlock(&g->lock);
		ret = vhu_fe_gpu_serve_one(g);
		pthread_mutex_lock(&g->lock);
		g->busy = false;
		if (ret < 0)
			g->stats.closed = true;
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
		if (ret < 0)
			break;
	}
	return NULL;
}

VHU_API int vhu_frontend_gpu_attach(struct vhu_frontend *fe,
				    const struct vhu_frontend_gpu_config *config,
				    struct vhu_frontend_gpu **out)
{
	struct vhu_frontend_gpu *g = calloc(1, sizeof(*g));
	struct vhu_msg msg;
	int sv[2] = { -1, -1 }, ret;

	if (!g)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = vhu_fe_gpu_init(g, config, &fe->log, sv[0]);
	if (ret < 0)
		goto err_close;
	g->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (g->stop_fd < 0) {
		ret = -errno;
		goto err_fini;
	}
	/* spec: "VHOST_USER_GPU_SET_SOCKET": the fd is the back-end's end */
	vhu_msg_init(&msg, VHU_REQ_GPU_SET_SOCKET, 0, 0);
	msg.fds[0] = sv[1];
	msg.nfds = 1;
	ret = vhu_fe_req_done(fe, VHU_REQ_GPU_SET_SOCKET, vhu_fe_send(&fe->ch, &msg));
	vhu_close_fd(&sv[1]); /* the back-end has its copy */
	if (ret < 0)
		goto err_stop;
	ret = -pthread_create(&g->thread, NULL, serve, g);
	if (ret < 0)
		goto err_stop;
	g->running = true;
	*out = g;
	return 0;

err_stop:
	vhu_close_fd(&g->stop_fd);
err_fini:
	vhu_fe_gpu_fini(g);
err_close:
	vhu_close_fd(&sv[0]);
	vhu_close_fd(&sv[1]);
err_free:
	free(g);
	return ret;
}

static bool drained(struct vhu_frontend_gpu *g)
{
	int pending = 0;

	if (g->busy)
		return false;
	return ioctl(g->sock, FIONREAD, &pending) < 0 || pending == 0;
}

VHU_API int vhu_frontend_gpu_sync(struct vhu_frontend_gpu *g, int timeout_ms)
{
	struct timespec end;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->lock);
	while (!g->stats.closed && !drained(g) && ret == 0) {
		struct timespec now, step;

		/* the thread may not have woken yet: look again every millisecond */
		clock_gettime(CLOCK_REALTIME, &now);
		step = now;
		step.tv_nsec += 1000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			ret = -ETIMEDOUT;
		else
			pthread_cond_timedwait(&g->cond, &g->lock, &step);
	}
	if (ret == 0 && g->stats.closed)
		ret = -ECONNRESET;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

VHU_API int vhu_frontend_gpu_scanout(struct vhu_frontend_gpu *g, uint32_t id,
				     struct vhu_frontend_gpu_image *out)
{
	const struct vhu_fe_scanout *s;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (id >= g->cfg.num_scanouts)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	s = &g->scanout[id];
	if (s->fb) {
		size_t size = (size_t)s->width * s->height * 4;

		out->pixels = malloc(size);
		if (out->pixels) {
			memcpy(out->pixels, s->fb, size);
			out->width = s->width;
			out->height = s->height;
		} else {
			ret = -ENOMEM;
		}
	}
	out->updates = s->updates;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

VHU_API void vhu_frontend_gpu_cursor(struct vhu_frontend_gpu *g,
				     struct vhu_frontend_gpu_cursor *out)
{
	pthread_mutex_lock(&g->lock);
	*out = g->cursor;
	pthread_mutex_unlock(&g->lock);
}

VHU_API void vhu_frontend_gpu_stats(struct vhu_frontend_gpu *g, struct vhu_frontend_gpu_stats *out)
{
	pthread_mutex_lock(&g->lock);
	*out = g->stats;
	pthread_mutex_unlock(&g->lock);
}

VHU_API void vhu_frontend_gpu_detach(struct vhu_frontend_gpu *g)
{
	uint64_t one = 1;

	if (!g)
		return;
	if (g->running) {
		if (write(g->stop_fd, &one, sizeof(one)) != sizeof(one))
			vhu_warn(g->log, "gpu socket: cannot wake the display thread");
		pthread_join(g->thread, NULL);
	}
	vhu_close_fd(&g->stop_fd);
	vhu_close_fd(&g->sock);
	vhu_fe_gpu_fini(g);
	free(g);
}
