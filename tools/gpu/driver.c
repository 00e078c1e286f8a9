/* SPDX-License-Identifier: MIT */
/* The driver's side of the virtio-gpu commands (virtio 1.2, "GPU Device"). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "driver.h"

#define WAIT_MS 30000 /* a loaded machine, a sanitizer, llvmpipe making a GL context */

const char *resp_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_RESP_OK_NODATA:
		return "OK_NODATA";
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO:
		return "OK_DISPLAY_INFO";
	case VIRTIO_GPU_RESP_OK_EDID:
		return "OK_EDID";
	case VIRTIO_GPU_RESP_ERR_UNSPEC:
		return "ERR_UNSPEC";
	case VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY:
		return "ERR_OUT_OF_MEMORY";
	case VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID:
		return "ERR_INVALID_SCANOUT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID:
		return "ERR_INVALID_RESOURCE_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID:
		return "ERR_INVALID_CONTEXT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER:
		return "ERR_INVALID_PARAMETER";
	case 0:
		return "(no response)";
	default:
		return "(unknown)";
	}
}

/* Wait for the one request in flight on @q. Return: bytes written, or -errno. */
static int complete(struct vhu_frontend_queue *q)
{
	for (;;) {
		void *token;
		uint32_t len;
		int ret = vhu_frontend_queue_get(q, &token, &len);

		if (ret < 0)
			return ret;
		if (ret == 1)
			return (int)len;
		ret = vhu_frontend_queue_wait(q, WAIT_MS);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ETIMEDOUT;
	}
}

uint32_t drv_ctrl(struct drv *d, const void *c, size_t len, uint32_t *resp_len)
{
	struct iovec out = { .iov_base = d->cmd, .iov_len = len };
	struct iovec in = { .iov_base = d->resp, .iov_len = DRV_RESP_SIZE };
	struct virtio_gpu_ctrl_hdr r;
	int n;

	if (c != d->cmd)
		memcpy(d->cmd, c, len);
	memset(d->resp, 0, DRV_RESP_SIZE);
	if (vhu_frontend_queue_add(d->ctrl, &out, 1, &in, 1, d) < 0 ||
	    vhu_frontend_queue_kick(d->ctrl) < 0)
		return 0;
	n = complete(d->ctrl);
	if (n < (int)sizeof(r)) {
		fprintf(stderr, "vhu-gpu-draw: control queue: %s\n",
			n < 0 ? strerror(-n) : "a response shorter than its header");
		return 0;
	}
	if (resp_len)
		*resp_len = (uint32_t)n;
	memcpy(&r, d->resp, sizeof(r));
	return le32toh(r.type);
}

int drv_cursor(struct drv *d, uint32_t type, uint32_t scanout, uint32_t x, uint32_t y,
	       uint32_t resource, uint32_t hot_x, uint32_t hot_y)
{
	struct virtio_gpu_update_cursor *c = (void *)(d->cmd + DRV_CMD_SIZE / 2);
	struct iovec out = { .iov_base = c, .iov_len = sizeof(*c) };
	int ret;

	memset(c, 0, sizeof(*c));
	c->hdr.type = htole32(type);
	c->pos.scanout_id = htole32(scanout);
	c->pos.x = htole32(x);
	c->pos.y = htole32(y);
	c->resource_id = htole32(resource);
	c->hot_x = htole32(hot_x);
	c->hot_y = htole32(hot_y);
	ret = vhu_frontend_queue_add(d->cursor, &out, 1, NULL, 0, d);
	if (ret == 0)
		ret = vhu_frontend_queue_kick(d->cursor);
	if (ret >= 0)
		ret = complete(d->cursor);
	return ret < 0 ? ret : 0;
}

uint32_t drv_create_2d(struct drv *d, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D),
		.resource_id = htole32(id),
		.format = htole32(format),
		.width = htole32(w),
		.height = htole32(h),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t drv_attach(struct drv *d, uint32_t id, void *mem, uint64_t size, uint32_t nent)
{
	struct virtio_gpu_resource_attach_backing *c = (void *)d->cmd;
	struct virtio_gpu_mem_entry *e = (void *)(c + 1);
	uint64_t per = size / nent, done = 0;

	memset(c, 0, sizeof(*c));
	c->hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	c->resource_id = htole32(id);
	c->nr_entries = htole32(nent);
	for (uint32_t i = 0; i < nent; i++) {
		uint64_t len = i + 1 == nent ? size - done : per;

		e[i].addr = htole64(vhu_frontend_iova(d->fe, (uint8_t *)mem + done));
		e[i].length = htole32((uint32_t)len);
		e[i].padding = 0;
		done += len;
	}
	return drv_ctrl(d, d->cmd, sizeof(*c) + nent * sizeof(*e), NULL);
}

uint32_t drv_transfer(struct drv *d, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
		      uint64_t offset)
{
	struct virtio_gpu_transfer_to_host_2d c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D),
		.r = { htole32(x), htole32(y), htole32(w), htole32(h) },
		.offset = htole64(offset),
		.resource_id = htole32(id),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t drv_scanout(struct drv *d, uint32_t scanout, uint32_t id, uint32_t x, uint32_t y,
		     uint32_t w, uint32_t h)
{
	struct virtio_gpu_set_scanout c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_SET_SCANOUT),
		.r = { htole32(x), htole32(y), htole32(w), htole32(h) },
		.scanout_id = htole32(scanout),
		.resource_id = htole32(id),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

uint32_t drv_flush(struct drv *d, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_flush c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_RESOURCE_FLUSH),
		.hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE),
		.hdr.fence_id = htole64(++d->fence),
		.r = { htole32(x), htole32(y), htole32(w), htole32(h) },
		.resource_id = htole32(id),
	};
	struct virtio_gpu_ctrl_hdr r;
	uint32_t type = drv_ctrl(d, &c, sizeof(c), NULL);

	/* spec: "VIRTIO_GPU_FLAG_FENCE": the response carries the same fence */
	memcpy(&r, d->resp, sizeof(r));
	if (type == VIRTIO_GPU_RESP_OK_NODATA &&
	    (!(le32toh(r.flags) & VIRTIO_GPU_FLAG_FENCE) || le64toh(r.fence_id) != d->fence)) {
		fprintf(stderr, "vhu-gpu-draw: RESOURCE_FLUSH: fence %llu not returned\n",
			(unsigned long long)d->fence);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	return type;
}

uint32_t drv_simple(struct drv *d, uint32_t type, uint32_t id)
{
	struct virtio_gpu_resource_unref c = {
		.hdr.type = htole32(type),
		.resource_id = htole32(id),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}
