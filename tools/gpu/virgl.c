/* SPDX-License-Identifier: MIT */
/*
 * --virgl: vhu-gpu-draw plays a guest's 3D driver (Mesa's virgl, as the
 * kernel passes it on): it reads the capsets, creates a context and two 3D
 * resources, fills one from guest memory (TRANSFER_TO_HOST_3D) and submits
 * a command stream in virglrenderer's encoding (virgl_protocol.h, the
 * VIRGL_CCMD_* commands) that clears the other, clears a box of it and
 * copies the first into it; then shows it, flushes with a fence, and checks
 * the pixels the display got (UPDATE) and those read back into guest memory
 * (TRANSFER_FROM_HOST_3D).
 */
#include <endian.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "virgl.h"

static uint32_t tile_pixel(uint32_t x, uint32_t y)
{
	return (x * 16) << 16 | (y * 16) << 8 | ((x + y) * 8);
}

static bool in_rect(uint32_t x, uint32_t y, uint32_t rx, uint32_t ry, uint32_t rw, uint32_t rh)
{
	return x >= rx && x < rx + rw && y >= ry && y < ry + rh;
}

/* The scene: the clear, the cleared box (a quarter, at the centre), the tile on top. */
static uint32_t scene_pixel(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	if (in_rect(x, y, TILE_X, TILE_Y, TILE, TILE))
		return tile_pixel(x - TILE_X, y - TILE_Y);
	if (in_rect(x, y, w / 2, h / 2, w / 4, h / 4))
		return BOX_RGB;
	return CLEAR_RGB;
}

static uint32_t f32(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return htole32(u);
}

static int bad(const char *what, uint32_t type)
{
	fprintf(stderr, "vhu-gpu-draw: virgl: %s: %s (0x%x)\n", what, resp_name(type), type);
	return 1;
}

#define OK(what, call)                               \
	do {                                         \
		uint32_t t_ = (call);                \
		if (t_ != VIRTIO_GPU_RESP_OK_NODATA) \
			return bad(what, t_);        \
	} while (0)

uint32_t vdrv_ctx_cmd(struct drv *d, uint32_t type, uint32_t ctx, uint32_t rid)
{
	struct virtio_gpu_ctx_resource c = {
		.hdr.type = htole32(type),
		.hdr.ctx_id = htole32(ctx),
		.resource_id = htole32(rid),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t vdrv_ctx_create(struct drv *d, uint32_t ctx, uint32_t nlen)
{
	struct virtio_gpu_ctx_create c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_CTX_CREATE),
		.hdr.ctx_id = htole32(ctx),
		.nlen = htole32(nlen),
	};

	memcpy(c.debug_name, "vhu-gpu-draw", 12);
	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t vdrv_create_3d(struct drv *d, uint32_t rid, uint32_t target, uint32_t bind, uint32_t w,
			uint32_t h, uint32_t depth)
{
	struct virtio_gpu_resource_create_3d c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D),
		.resource_id = htole32(rid),
		.target = htole32(target),
		.format = htole32(target == TARGET_BUFFER ? 64u /* R8_UNORM */ : FORMAT_B8G8R8X8),
		.bind = htole32(bind),
		.width = htole32(w),
		.height = htole32(h),
		.depth = htole32(depth),
		.array_size = htole32(1),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t vdrv_transfer_3d(struct drv *d, uint32_t type, uint32_t ctx, uint32_t rid, uint32_t w,
			  uint32_t h, uint64_t offset)
{
	struct virtio_gpu_transfer_host_3d c = {
		.hdr.type = htole32(type),
		.hdr.ctx_id = htole32(ctx),
		.box = { 0, 0, 0, htole32(w), htole32(h), htole32(1) },
		.offset = htole64(offset),
		.resource_id = htole32(rid),
		.stride = htole32(w * 4),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

/* SUBMIT_3D of @n dwords, announcing @size bytes; with a fence when @fence. */
uint32_t vdrv_submit(struct drv *d, uint32_t ctx, const uint32_t *dw, uint32_t n, uint32_t size,
		     bool fence)
{
	struct virtio_gpu_cmd_submit *c = (void *)d->cmd;

	memset(c, 0, sizeof(*c));
	c->hdr.type = htole32(VIRTIO_GPU_CMD_SUBMIT_3D);
	c->hdr.ctx_id = htole32(ctx);
	if (fence) {
		c->hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
		c->hdr.fence_id = htole64(++d->fence);
	}
	c->size = htole32(size);
	memcpy(c + 1, dw, (size_t)n * 4);
	return drv_ctrl(d, d->cmd, sizeof(*c) + (size_t)n * 4, NULL);
}

/* The stream: a surface on each resource, clear the scene, clear a box, copy the tile. */
uint32_t vdrv_scene_stream(uint32_t *c, uint32_t w, uint32_t h)
{
	uint32_t n = 0;

	c[n++] = CCMD(CCMD_CREATE_OBJECT, OBJ_SURFACE, 5);
	c[n++] = 10; /* handle */
	c[n++] = RES_SCENE;
	c[n++] = FORMAT_B8G8R8X8;
	c[n++] = 0; /* level */
	c[n++] = 0; /* first and last layer */
	c[n++] = CCMD(CCMD_SET_FRAMEBUFFER_STATE, 0, 3);
	c[n++] = 1;  /* color buffers */
	c[n++] = 0;  /* no depth */
	c[n++] = 10; /* the surface */
	c[n++] = CCMD(CCMD_CLEAR, 0, 8);
	c[n++] = PIPE_CLEAR_COLOR0;
	c[n++] = f32(0.2f); /* rgba */
	c[n++] = f32(0.4f);
	c[n++] = f32(0.6f);
	c[n++] = f32(1.0f);
	c[n++] = 0; /* depth (a double) */
	c[n++] = 0;
	c[n++] = 0; /* stencil */
	c[n++] = CCMD(CCMD_CLEAR_TEXTURE, 0, 12);
	c[n++] = RES_SCENE;
	c[n++] = 0; /* level */
	c[n++] = w / 2;
	c[n++] = h / 2;
	c[n++] = 0;
	c[n++] = w / 4;
	c[n++] = h / 4;
	c[n++] = 1;
	c[n++] = BOX_RGB; /* one texel of the resource's format */
	c[n++] = 0;
	c[n++] = 0;
	c[n++] = 0;
	c[n++] = CCMD(CCMD_RESOURCE_COPY_REGION, 0, 13);
	c[n++] = RES_SCENE;
	c[n++] = 0;
	c[n++] = TILE_X;
	c[n++] = TILE_Y;
	c[n++] = 0;
	c[n++] = RES_TILE;
	c[n++] = 0;
	c[n++] = 0; /* the source box */
	c[n++] = 0;
	c[n++] = 0;
	c[n++] = TILE;
	c[n++] = TILE;
	c[n++] = 1;
	return n;
}

/* The capsets the config announces: each returned, bounded, versioned. */
static int capsets(struct drv *d)
{
	uint32_t num = 0;

	if (vhu_frontend_get_config(d->fe, offsetof(struct virtio_gpu_config, num_capsets), &num,
				    sizeof(num)) < 0 ||
	    !le32toh(num))
		return bad("num_capsets in the config space", 0);
	num = le32toh(num);
	for (uint32_t i = 0; i < num; i++) {
		struct virtio_gpu_get_capset_info ci = {
			.hdr.type = htole32(VIRTIO_GPU_CMD_GET_CAPSET_INFO),
			.capset_index = htole32(i),
		};
		struct virtio_gpu_resp_capset_info info;
		struct virtio_gpu_get_capset cs = { .hdr.type =
							    htole32(VIRTIO_GPU_CMD_GET_CAPSET) };
		uint32_t t = drv_ctrl(d, &ci, sizeof(ci), NULL), len = 0, size, first;

		if (t != VIRTIO_GPU_RESP_OK_CAPSET_INFO)
			return bad("GET_CAPSET_INFO", t);
		memcpy(&info, d->resp, sizeof(info));
		size = le32toh(info.capset_max_size);
		if (!size || size > DRV_RESP_SIZE - sizeof(struct virtio_gpu_ctrl_hdr) ||
		    !info.capset_max_version)
			return bad("GET_CAPSET_INFO: a capset size or version out of bounds", 0);
		cs.capset_id = info.capset_id;
		cs.capset_version = info.capset_max_version;
		t = drv_ctrl(d, &cs, sizeof(cs), &len);
		if (t != VIRTIO_GPU_RESP_OK_CAPSET ||
		    len != sizeof(struct virtio_gpu_ctrl_hdr) + size)
			return bad("GET_CAPSET", t);
		/* a virgl capset starts with its max_version */
		memcpy(&first, d->resp + sizeof(struct virtio_gpu_ctrl_hdr), sizeof(first));
		printf("capset %u: id %u, version %u, %u bytes, max_version %u\n", i,
		       le32toh(info.capset_id), le32toh(info.capset_max_version), size,
		       le32toh(first));
		if (!le32toh(first))
			return bad("GET_CAPSET: no max_version", 0);
	}
	return 0;
}

static int check(const char *what, const uint32_t *px, uint32_t w, uint32_t h)
{
	uint64_t wrong = 0;

	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			uint32_t got = le32toh(px[(size_t)y * w + x]) & 0xffffff;
			uint32_t want = scene_pixel(x, y, w, h);

			if (got != want && wrong++ < 3)
				fprintf(stderr,
					"vhu-gpu-draw: virgl: %s: pixel (%u,%u) is %06x, not "
					"%06x\n",
					what, x, y, got, want);
		}
	}
	printf("virgl %s: %ux%u, pixels %s\n", what, w, h, wrong ? "DIFFER" : "match");
	return wrong ? 1 : 0;
}

static int scene(struct drv *d, uint32_t w, uint32_t h, uint32_t *mem, uint32_t *tile)
{
	uint32_t dw[64], n = vdrv_scene_stream(dw, w, h);

	for (uint32_t y = 0; y < TILE; y++)
		for (uint32_t x = 0; x < TILE; x++)
			tile[y * TILE + x] = htole32(tile_pixel(x, y));
	OK("CTX_CREATE", vdrv_ctx_create(d, CTX, 12));
	OK("RESOURCE_CREATE_3D (scene)",
	   vdrv_create_3d(d, RES_SCENE, TARGET_2D,
			  BIND_RENDER_TARGET | BIND_SAMPLER_VIEW | BIND_SCANOUT, w, h, 1));
	OK("RESOURCE_CREATE_3D (tile)",
	   vdrv_create_3d(d, RES_TILE, TARGET_2D, BIND_RENDER_TARGET | BIND_SAMPLER_VIEW, TILE,
			  TILE, 1));
	OK("RESOURCE_ATTACH_BACKING (scene)",
	   drv_attach(d, RES_SCENE, mem, (uint64_t)w * h * 4, 2));
	OK("RESOURCE_ATTACH_BACKING (tile)", drv_attach(d, RES_TILE, tile, TILE * TILE * 4, 1));
	OK("CTX_ATTACH_RESOURCE (scene)",
	   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, RES_SCENE));
	OK("CTX_ATTACH_RESOURCE (tile)",
	   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, RES_TILE));
	OK("TRANSFER_TO_HOST_3D (tile)",
	   vdrv_transfer_3d(d, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, CTX, RES_TILE, TILE, TILE, 0));
	OK("SUBMIT_3D", vdrv_submit(d, CTX, dw, n, n * 4, true));
	OK("SET_SCANOUT (scene)", drv_scanout(d, 0, RES_SCENE, 0, 0, w, h));
	OK("RESOURCE_FLUSH (scene)", drv_flush(d, RES_SCENE, 0, 0, w, h));
	memset(mem, 0, (size_t)w * h * 4);
	OK("TRANSFER_FROM_HOST_3D (scene)",
	   vdrv_transfer_3d(d, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, CTX, RES_SCENE, w, h, 0));
	return 0;
}

int drv_virgl(struct drv *d, uint32_t w, uint32_t h, const char *png)
{
	uint32_t *mem = vhu_frontend_alloc(d->fe, (size_t)w * h * 4, 4096);
	uint32_t *tile = vhu_frontend_alloc(d->fe, TILE * TILE * 4, 4096);
	struct vhu_frontend_gpu_image img;
	char path[4096];
	int ret;

	if (!mem || !tile)
		return bad("guest memory", 0);
	if (capsets(d) || scene(d, w, h, mem, tile))
		return 1;
	if (vhu_frontend_gpu_sync(d->display, 5000) < 0 ||
	    vhu_frontend_gpu_scanout(d->display, 0, &img) < 0)
		return bad("display sync", 0);
	if (png) {
		snprintf(path, sizeof(path), "%s-virgl.png", png);
		if (img.pixels && png_write(path, img.pixels, img.width, img.height, false) < 0)
			fprintf(stderr, "vhu-gpu-draw: cannot write %s\n", path);
	}
	ret = img.width != w || img.height != h || !img.pixels;
	if (ret)
		fprintf(stderr, "vhu-gpu-draw: virgl: scanout 0 is %ux%u\n", img.width, img.height);
	else
		ret = check("scanout", img.pixels, w, h);
	free(img.pixels);
	return ret | check("readback", mem, w, h);
}
