/* SPDX-License-Identifier: MIT */
/*
 * --hostile: commands a broken or malicious guest driver might send. Each
 * must fail alone with the error code virtio 1.2 gives it, and the device
 * must go on serving (the last commands are good ones).
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"

#define RID 200u

void drv_expect(struct expect_ctx *x, const char *what, uint32_t got, uint32_t want)
{
	if (got == want) {
		if (x->d->verbose)
			printf("ok: %s: %s\n", what, resp_name(got));
		return;
	}
	fprintf(stderr, "vhu-gpu-draw: hostile: %s: got %s (0x%x), want %s\n", what, resp_name(got),
		got, resp_name(want));
	x->failures++;
}

static uint32_t attach_raw(struct drv *d, uint32_t nr, uint32_t sent, uint64_t addr, uint32_t len)
{
	struct virtio_gpu_resource_attach_backing *c = (void *)d->cmd;
	struct virtio_gpu_mem_entry *e = (void *)(c + 1);

	memset(c, 0, sizeof(*c));
	c->hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	c->resource_id = htole32(RID);
	c->nr_entries = htole32(nr);
	for (uint32_t i = 0; i < sent; i++) {
		e[i].addr = htole64(addr);
		e[i].length = htole32(len);
		e[i].padding = 0;
	}
	return drv_ctrl(d, d->cmd, sizeof(*c) + sent * sizeof(*e), NULL);
}

static void resources(struct expect_ctx *x, uint64_t hostmem)
{
	struct drv *d = x->d;
	uint32_t over = (uint32_t)(hostmem / (4096u * 4) + 1);
	const uint32_t fmt = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;

	drv_expect(x, "create id 0", drv_create_2d(d, 0, fmt, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "create unknown format", drv_create_2d(d, RID, 999, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "create 16385 wide", drv_create_2d(d, RID, fmt, 16385, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "create 0 high", drv_create_2d(d, RID, fmt, 16, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	if (over <= 16384)
		drv_expect(x, "create over the host memory cap",
			   drv_create_2d(d, RID + 1, fmt, 4096, over),
			   VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	drv_expect(x, "create 16x16", drv_create_2d(d, RID, fmt, 16, 16),
		   VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "create a reused id", drv_create_2d(d, RID, fmt, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "transfer without backing", drv_transfer(d, RID, 0, 0, 16, 16, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "detach without backing",
		   drv_simple(d, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, RID),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void backing(struct expect_ctx *x, void *mem)
{
	struct drv *d = x->d;
	uint64_t gpa = vhu_frontend_iova(d->fe, mem);

	drv_expect(x, "attach 16385 entries", attach_raw(d, 16385, 0, 0, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "attach 10 entries, 1 sent", attach_raw(d, 10, 1, gpa, 1024),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "attach outside guest memory", attach_raw(d, 1, 1, 1ull << 50, 1024),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "attach a wrapping entry", attach_raw(d, 1, 1, UINT64_MAX - 16, 1024),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "attach 512 bytes", attach_raw(d, 1, 1, gpa, 512), VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "attach twice", attach_raw(d, 1, 1, gpa, 512), VIRTIO_GPU_RESP_ERR_UNSPEC);
	drv_expect(x, "transfer outside the resource", drv_transfer(d, RID, 10, 0, 10, 16, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer with x + width wrapping",
		   drv_transfer(d, RID, 0xfffffff0u, 0, 0x20, 1, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer past the backing's end", drv_transfer(d, RID, 0, 0, 16, 16, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer with a huge offset",
		   drv_transfer(d, RID, 0, 0, 1, 1, UINT64_MAX - 8),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer within the backing", drv_transfer(d, RID, 0, 0, 16, 4, 0),
		   VIRTIO_GPU_RESP_OK_NODATA);
}

static void scanouts(struct expect_ctx *x, uint32_t width, uint32_t height)
{
	struct drv *d = x->d;

	drv_expect(x, "scanout 16", drv_scanout(d, 16, RID, 0, 0, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	drv_expect(x, "scanout of an unknown resource", drv_scanout(d, 0, 999, 0, 0, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "scanout outside the resource", drv_scanout(d, 0, RID, 8, 8, 16, 16),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "flush of an unknown resource", drv_flush(d, 999, 0, 0, 1, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "flush outside the resource", drv_flush(d, RID, 0, 0, 17, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	(void)width;
	(void)height;
}

static void commands(struct expect_ctx *x)
{
	struct drv *d = x->d;
	struct virtio_gpu_ctrl_hdr h = { .type = htole32(0x9999) };

	drv_expect(x, "unknown command", drv_ctrl(d, &h, sizeof(h), NULL),
		   VIRTIO_GPU_RESP_ERR_UNSPEC);
	h.type = htole32(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	drv_expect(x, "a command shorter than its struct", drv_ctrl(d, &h, sizeof(h), NULL),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "a command shorter than a header", drv_ctrl(d, &h, 8, NULL),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "unref of an unknown resource",
		   drv_simple(d, VIRTIO_GPU_CMD_RESOURCE_UNREF, 999),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* the device lives on */
	drv_expect(x, "detach", drv_simple(d, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, RID),
		   VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "unref", drv_simple(d, VIRTIO_GPU_CMD_RESOURCE_UNREF, RID),
		   VIRTIO_GPU_RESP_OK_NODATA);
	h.type = htole32(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	drv_expect(x, "display info after it all", drv_ctrl(d, &h, sizeof(h), NULL),
		   VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
}

int drv_hostile(struct drv *d, uint32_t width, uint32_t height, uint64_t hostmem)
{
	struct expect_ctx x = { .d = d };
	void *mem = vhu_frontend_alloc(d->fe, 4096, 4096);

	if (!mem)
		return 1;
	resources(&x, hostmem);
	backing(&x, mem);
	scanouts(&x, width, height);
	commands(&x);
	return x.failures;
}
