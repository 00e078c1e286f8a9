/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user-gpu socket, as the back-end uses it (vhost-user-gpu.rst):
 * protocol features once, then scanouts, updates and cursor messages, and
 * GET_DISPLAY_INFO / GET_EDID, whose replies we wait for (bounded). Every
 * function here runs with gpu->lock held.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gpu.h"
#include <vhu/gpu.h>

/* The GPU protocol features vhu-gpu knows how to use (no dmabufs: no DMABUF2). */
#define GPU_PROTOCOL_WANTED VHU_BIT(VHU_GPU_PROTOCOL_F_EDID)

void gpu_sock_close(struct gpu_dev *g)
{
	if (g->sock >= 0)
		close(g->sock);
	g->sock = -1;
	g->sock_pending = false;
	g->sock_protocol = 0;
}

/*
 * spec: the back-end asks GET_PROTOCOL_FEATURES first. The front-end may be
 * waiting for our answer on the main socket right now (QEMU sends
 * SET_SOCKET and goes on starting rings), so the reply is read later, the
 * first time the socket is used (sock_ready).
 */
void gpu_sock_set(struct gpu_dev *g, int fd)
{
	struct timeval tv = { .tv_sec = g->reply_timeout_ms / 1000,
			      .tv_usec = (g->reply_timeout_ms % 1000) * 1000 };
	int ret;

	gpu_sock_close(g);
	g->sock = fd;
	/* a reply that stops half way must not hold the queue forever */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = vhu_gpu_msg_send(fd, VHU_GPU_REQ_GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0, -1);
	if (ret < 0) {
		vhu_logf(g->log, VHU_LOG_WARN, "gpu socket: %s", strerror(-ret));
		gpu_sock_close(g);
		return;
	}
	g->sock_pending = true;
}

static int wait_reply(struct gpu_dev *g, uint32_t request, void *out, size_t size)
{
	struct pollfd p = { .fd = g->sock, .events = POLLIN };
	struct vhu_gpu_msg m;
	int ret;

	do
		ret = poll(&p, 1, g->reply_timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret <= 0)
		return ret < 0 ? -errno : -ETIMEDOUT;
	ret = vhu_gpu_msg_recv(g->sock, true, &m);
	if (ret < 0)
		return ret;
	if (m.hdr.request != request || m.hdr.size != size)
		ret = -EPROTO;
	else if (size)
		memcpy(out, m.payload, size);
	vhu_gpu_msg_free(&m);
	return ret;
}

static int fail(struct gpu_dev *g, const char *what, int err)
{
	vhu_logf(g->log, VHU_LOG_WARN, "gpu socket: %s: %s; closing it", what, strerror(-err));
	gpu_sock_close(g);
	return err;
}

int gpu_sock_ready(struct gpu_dev *g)
{
	uint64_t offered, use;
	int ret;

	if (g->sock < 0)
		return -ENOTCONN;
	if (!g->sock_pending)
		return 0;
	g->sock_pending = false;
	ret = wait_reply(g, VHU_GPU_REQ_GET_PROTOCOL_FEATURES, &offered, sizeof(offered));
	if (ret < 0)
		return fail(g, "GET_PROTOCOL_FEATURES", ret);
	use = offered & GPU_PROTOCOL_WANTED;
	ret = vhu_gpu_msg_send(g->sock, VHU_GPU_REQ_SET_PROTOCOL_FEATURES, 0, &use, sizeof(use),
			       NULL, 0, -1);
	if (ret < 0)
		return fail(g, "SET_PROTOCOL_FEATURES", ret);
	g->sock_protocol = use;
	return 0;
}

int gpu_sock_send(struct gpu_dev *g, uint32_t request, const void *head, size_t head_size,
		  const void *tail, size_t tail_size)
{
	int ret = gpu_sock_ready(g);

	if (ret < 0)
		return ret;
	ret = vhu_gpu_msg_send(g->sock, request, 0, head, head_size, tail, tail_size, -1);
	if (ret < 0)
		return fail(g, vhu_gpu_request_name(request), ret);
	return 0;
}

int gpu_sock_call(struct gpu_dev *g, uint32_t request, const void *arg, size_t arg_size, void *out,
		  size_t size)
{
	int ret = gpu_sock_send(g, request, arg, arg_size, NULL, 0);

	if (ret < 0)
		return ret;
	ret = wait_reply(g, request, out, size);
	if (ret < 0)
		return fail(g, vhu_gpu_request_name(request), ret);
	return 0;
}

int gpu_show_scanout(struct gpu_dev *g, uint32_t id, uint32_t width, uint32_t height)
{
	struct vhu_gpu_scanout s = { .scanout_id = id, .width = width, .height = height };

	return gpu_sock_send(g, VHU_GPU_REQ_SCANOUT, &s, sizeof(s), NULL, 0);
}

/*
 * Whether rows [x, x + width) of @img are the UPDATE's bytes as they are:
 * whole rows, no padding, a8r8g8b8 or x8r8g8b8 (the display ignores the
 * top byte of x8r8g8b8, so a8r8g8b8's alpha may travel in it).
 */
static bool direct(pixman_image_t *img, int32_t x, uint32_t width)
{
	pixman_format_code_t f = pixman_image_get_format(img);

	return x == 0 && (int)width == pixman_image_get_width(img) &&
	       pixman_image_get_stride(img) == (int)width * 4 &&
	       (f == PIXMAN_x8r8g8b8 || f == PIXMAN_a8r8g8b8);
}

static int sent(struct gpu_dev *g, int ret, size_t size)
{
	if (ret == 0) {
		g->stats.updates++;
		g->stats.update_bytes += size;
	}
	return ret;
}

/*
 * One band of rows of @img, from (@sx, @sy) in it, converted to x8r8g8b8 as
 * the spec wants; (@x, @y) is where the band is in the resource.
 */
static int send_band(struct gpu_dev *g, uint32_t id, pixman_image_t *img, int32_t sx, int32_t sy,
		     int32_t x, int32_t y, uint32_t width, uint32_t height)
{
	const struct gpu_scanout *s = &g->scanout[id];
	struct vhu_gpu_update u = {
		.scanout_id = id,
		.x = (uint32_t)x - s->r.x,
		.y = (uint32_t)y - s->r.y,
		.width = width,
		.height = height,
	};
	size_t size = (size_t)width * height * 4;
	uint32_t *pixels;
	pixman_image_t *dst;
	int ret;

	/* rows already in the wire's layout: sent from the image, no copy */
	if (direct(img, sx, width)) {
		const uint8_t *rows = (const uint8_t *)pixman_image_get_data(img) +
				      (size_t)sy * (size_t)pixman_image_get_stride(img);

		return sent(g, gpu_sock_send(g, VHU_GPU_REQ_UPDATE, &u, sizeof(u), rows, size),
			    size);
	}
	pixels = malloc(size);
	if (!pixels)
		return -ENOMEM;
	dst = pixman_image_create_bits(PIXMAN_x8r8g8b8, (int)width, (int)height, pixels,
				       (int)width * 4);
	if (!dst) {
		free(pixels);
		return -ENOMEM;
	}
	pixman_image_composite32(PIXMAN_OP_SRC, img, NULL, dst, sx, sy, 0, 0, 0, 0, (int32_t)width,
				 (int32_t)height);
	pixman_image_unref(dst);
	ret = gpu_sock_send(g, VHU_GPU_REQ_UPDATE, &u, sizeof(u), pixels, size);
	free(pixels);
	return sent(g, ret, size);
}

/* Rows [@y1, @y2) of @img from column @sx, at most VHU_GPU_MAX_UPDATE_PIXELS per UPDATE. */
static int send_rows(struct gpu_dev *g, uint32_t id, pixman_image_t *img, int32_t sx, int32_t sy,
		     const pixman_box32_t *box)
{
	uint32_t width = (uint32_t)(box->x2 - box->x1);
	uint32_t rows = VHU_GPU_MAX_UPDATE_PIXELS / width; /* width <= GPU_MAX_DIM: rows >= 1 */

	for (int32_t y = box->y1; y < box->y2; y += (int32_t)rows) {
		uint32_t h = (uint32_t)(box->y2 - y) < rows ? (uint32_t)(box->y2 - y) : rows;
		int ret = send_band(g, id, img, sx, sy + (y - box->y1), box->x1, y, width, h);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int gpu_show_update(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
		    const pixman_box32_t *box)
{
	return send_rows(g, id, res->image, box->x1, box->y1, box);
}

int gpu_show_image(struct gpu_dev *g, uint32_t id, pixman_image_t *img, int32_t x, int32_t y)
{
	pixman_box32_t box = { .x1 = x,
			       .y1 = y,
			       .x2 = x + pixman_image_get_width(img),
			       .y2 = y + pixman_image_get_height(img) };

	return send_rows(g, id, img, 0, 0, &box);
}
