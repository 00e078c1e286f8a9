/* SPDX-License-Identifier: MIT */
/*
 * What the display does with each message of the vhost-user-gpu socket
 * (vhost-user-gpu.rst, "Message types"). QEMU's own front-end is the model
 * (hw/display/vhost-user-gpu.c); unlike it, every value is bounded here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "frontend/gpu.h"

#define DEFAULT_WIDTH 1024u
#define DEFAULT_HEIGHT 768u
#define MAX_DIM 16384u

int vhu_fe_gpu_init(struct vhu_frontend_gpu *g, const struct vhu_frontend_gpu_config *cfg,
		    const struct vhu_log *log, int sock)
{
	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	if (!g->cfg.num_scanouts)
		g->cfg.num_scanouts = 1;
	if (g->cfg.num_scanouts > VIRTIO_GPU_MAX_SCANOUTS ||
	    (g->cfg.protocol_features & ~VHU_BIT(VHU_GPU_PROTOCOL_F_EDID)))
		return -EINVAL;
	for (unsigned int i = 0; i < g->cfg.num_scanouts; i++) {
		if (!g->cfg.modes[i].width || !g->cfg.modes[i].height) {
			g->cfg.modes[i].width = DEFAULT_WIDTH;
			g->cfg.modes[i].height = DEFAULT_HEIGHT;
		}
		if (g->cfg.modes[i].width > MAX_DIM || g->cfg.modes[i].height > MAX_DIM)
			return -EINVAL;
	}
	g->log = log;
	g->sock = sock;
	g->stop_fd = -1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	return 0;
}

void vhu_fe_gpu_fini(struct vhu_frontend_gpu *g)
{
	for (unsigned int i = 0; i < VIRTIO_GPU_MAX_SCANOUTS; i++)
		free(g->scanout[i].fb);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

static int refuse(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m, const char *why)
{
	vhu_warn(g->log, "gpu socket: %s refused: %s", vhu_gpu_request_name(m->hdr.request), why);
	g->stats.errors++;
	return 0;
}

static int reply(struct vhu_frontend_gpu *g, uint32_t request, const void *p, size_t size)
{
	return vhu_gpu_msg_send(g->sock, request, VHU_GPU_FLAG_REPLY, p, size, NULL, 0, -1);
}

static void display_info(struct vhu_frontend_gpu *g, struct virtio_gpu_resp_display_info *info)
{
	memset(info, 0, sizeof(*info));
	info->hdr.type = htole32(VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	for (unsigned int i = 0; i < g->cfg.num_scanouts; i++) {
		info->pmodes[i].r.width = htole32(g->cfg.modes[i].width);
		info->pmodes[i].r.height = htole32(g->cfg.modes[i].height);
		info->pmodes[i].enabled = htole32(1);
	}
}

/*
 * A 128-byte EDID 1.4 base block whose preferred timing is the mode of the
 * scanout (VESA E-EDID: header, vendor "VHU", one detailed timing
 * descriptor, a name descriptor, the checksum).
 */
static void make_edid(uint32_t width, uint32_t height, uint8_t *e)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	static const char name[13] = "vhu display\n ";
	uint32_t hblank = 160, vblank = 30, clock_10khz;
	uint8_t sum = 0, *d = e + 54;

	memset(e, 0, 128);
	memcpy(e, header, sizeof(header));
	/* "VHU": three 5-bit letters, big-endian */
	e[8] = (uint8_t)((('V' - '@') << 2) | (('H' - '@') >> 3));
	e[9] = (uint8_t)((('H' - '@') << 5) | ('U' - '@'));
	e[16] = 1;  /* week */
	e[17] = 36; /* 2026 */
	e[18] = 1;  /* version 1.4 */
	e[19] = 4;
	e[20] = 0xa5; /* digital, 8 bits per colour, DisplayPort */
	e[24] = 0x06; /* RGB 4:4:4; preferred timing is native */
	/* detailed timing: 60 Hz, blanking kept fixed */
	clock_10khz = (uint32_t)(((uint64_t)(width + hblank) * (height + vblank) * 60) / 10000);
	d[0] = (uint8_t)clock_10khz;
	d[1] = (uint8_t)(clock_10khz >> 8);
	d[2] = (uint8_t)width;
	d[3] = (uint8_t)hblank;
	d[4] = (uint8_t)(((width >> 8) & 0xf) << 4 | ((hblank >> 8) & 0xf));
	d[5] = (uint8_t)height;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)(((height >> 8) & 0xf) << 4 | ((vblank >> 8) & 0xf));
	d[8] = 48;    /* hsync offset */
	d[9] = 32;    /* hsync width */
	d[10] = 0x35; /* vsync offset 3, width 5 */
	d[17] = 0x1e; /* digital separate sync, both positive */
	d = e + 72;   /* display name */
	d[3] = 0xfc;
	memcpy(d + 5, name, sizeof(name));
	for (unsigned int i = 0; i < 127; i++)
		sum = (uint8_t)(sum + e[i]);
	e[127] = (uint8_t)(0x100 - sum);
}

static int get_edid(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m)
{
	struct virtio_gpu_resp_edid r;
	uint32_t id;

	memcpy(&id, m->payload, sizeof(id));
	memset(&r, 0, sizeof(r));
	/* the back-end waits for an answer: a refusal is an error response */
	r.hdr.type = htole32(VIRTIO_GPU_RESP_ERR_UNSPEC);
	if (!(g->stats.protocol_features & VHU_BIT(VHU_GPU_PROTOCOL_F_EDID)))
		refuse(g, m, "EDID was not negotiated");
	else if (id >= g->cfg.num_scanouts)
		refuse(g, m, "no such scanout");
	else {
		r.hdr.type = htole32(VIRTIO_GPU_RESP_OK_EDID);
		r.size = htole32(128);
		make_edid(g->cfg.modes[id].width, g->cfg.modes[id].height, r.edid);
	}
	return reply(g, VHU_GPU_REQ_GET_EDID, &r, sizeof(r));
}

static int set_scanout(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m)
{
	struct vhu_gpu_scanout s;
	struct vhu_fe_scanout *so;
	uint32_t *fb = NULL;

	memcpy(&s, m->payload, sizeof(s));
	if (s.scanout_id >= g->cfg.num_scanouts)
		return refuse(g, m, "no such scanout");
	if (s.width > MAX_DIM || s.height > MAX_DIM ||
	    (uint64_t)s.width * s.height * 4 > VHU_FRONTEND_GPU_MAX_SCANOUT_BYTES)
		return refuse(g, m, "scanout too large");
	if (s.width && s.height) {
		fb = calloc((size_t)s.width * s.height, 4);
		if (!fb)
			return refuse(g, m, "out of memory");
	}
	so = &g->scanout[s.scanout_id];
	free(so->fb);
	so->fb = fb;
	so->width = fb ? s.width : 0;
	so->height = fb ? s.height : 0;
	return 0;
}

static int update(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m)
{
	struct vhu_gpu_update u;
	struct vhu_fe_scanout *so;
	uint64_t bytes;
	const uint8_t *src = m->payload + sizeof(u);

	memcpy(&u, m->payload, sizeof(u));
	if (u.scanout_id >= g->cfg.num_scanouts || !g->scanout[u.scanout_id].fb)
		return refuse(g, m, "no such scanout, or it is disabled");
	so = &g->scanout[u.scanout_id];
	if (u.x > so->width || u.width > so->width - u.x || u.y > so->height ||
	    u.height > so->height - u.y)
		return refuse(g, m, "rectangle outside the scanout");
	bytes = (uint64_t)u.width * u.height * 4;
	if (bytes != m->hdr.size - sizeof(u))
		return refuse(g, m, "pixel bytes do not match the rectangle");
	for (uint32_t r = 0; r < u.height; r++)
		memcpy(so->fb + (size_t)(u.y + r) * so->width + u.x, src + (size_t)r * u.width * 4,
		       (size_t)u.width * 4);
	so->updates++;
	g->stats.updates++;
	g->stats.update_bytes += bytes;
	return 0;
}

static int cursor(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m)
{
	struct vhu_gpu_cursor_pos pos;

	memcpy(&pos, m->payload, sizeof(pos));
	if (pos.scanout_id >= g->cfg.num_scanouts)
		return refuse(g, m, "no such scanout");
	if (m->hdr.request == VHU_GPU_REQ_CURSOR_UPDATE) {
		const struct vhu_gpu_cursor_update *up = (const void *)m->payload;

		memcpy(&g->cursor.hot_x, &up->hot_x, sizeof(uint32_t));
		memcpy(&g->cursor.hot_y, &up->hot_y, sizeof(uint32_t));
		memcpy(g->cursor.data, up->data, sizeof(g->cursor.data));
		g->cursor.defined = true;
		g->cursor.updates++;
	} else {
		g->cursor.moves++;
	}
	g->cursor.scanout_id = pos.scanout_id;
	g->cursor.x = pos.x;
	g->cursor.y = pos.y;
	g->cursor.visible = m->hdr.request != VHU_GPU_REQ_CURSOR_POS_HIDE;
	return 0;
}

static int handle(struct vhu_frontend_gpu *g, const struct vhu_gpu_msg *m)
{
	struct virtio_gpu_resp_display_info info;
	uint64_t u64;

	switch (m->hdr.request) {
	case VHU_GPU_REQ_GET_PROTOCOL_FEATURES:
		u64 = g->cfg.protocol_features;
		return reply(g, m->hdr.request, &u64, sizeof(u64));
	case VHU_GPU_REQ_SET_PROTOCOL_FEATURES:
		memcpy(&u64, m->payload, sizeof(u64));
		if (u64 & ~g->cfg.protocol_features)
			return refuse(g, m, "features that were not offered");
		g->stats.protocol_features = u64;
		g->stats.protocol_set = true;
		return 0;
	case VHU_GPU_REQ_GET_DISPLAY_INFO:
		display_info(g, &info);
		return reply(g, m->hdr.request, &info, sizeof(info));
	case VHU_GPU_REQ_GET_EDID:
		return get_edid(g, m);
	case VHU_GPU_REQ_SCANOUT:
		return set_scanout(g, m);
	case VHU_GPU_REQ_UPDATE:
		return update(g, m);
	case VHU_GPU_REQ_CURSOR_POS:
	case VHU_GPU_REQ_CURSOR_POS_HIDE:
	case VHU_GPU_REQ_CURSOR_UPDATE:
		return cursor(g, m);
	case VHU_GPU_REQ_DMABUF_UPDATE:
		/* the back-end blocks until this reply: answer, then refuse */
		refuse(g, m, "no dmabuf scanouts here");
		return reply(g, m->hdr.request, NULL, 0);
	default: /* DMABUF_SCANOUT(2): the fd is closed with the message */
		return refuse(g, m, "no dmabuf scanouts here");
	}
}

int vhu_fe_gpu_serve_one(struct vhu_frontend_gpu *g)
{
	struct vhu_gpu_msg m;
	int ret = vhu_gpu_msg_recv(g->sock, false, &m);

	if (ret < 0) {
		if (ret != -ECONNRESET)
			vhu_warn(g->log,
				 "gpu socket: a malformed message (request %u, flags 0x%x, "
				 "%u bytes: %s): closing it",
				 m.hdr.request, m.hdr.flags, m.hdr.size, strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&g->lock);
	g->stats.messages++;
	ret = handle(g, &m);
	pthread_mutex_unlock(&g->lock);
	vhu_gpu_msg_free(&m);
	return ret;
}
