/* SPDX-License-Identifier: MIT */
#ifndef VHU_TOOLS_GPU_DRIVER_H
#define VHU_TOOLS_GPU_DRIVER_H

/*
 * vhu-gpu-draw plays a guest's virtio-gpu driver over lib/frontend: its
 * commands and their buffers live in the front-end's guest memory, the
 * back-end answers on the rings, and the front-end serves the
 * vhost-user-gpu socket as the display.
 */

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_gpu.h>

#include <vhu/frontend.h>

struct drv {
	struct vhu_frontend *fe;
	struct vhu_frontend_gpu *display;
	struct vhu_frontend_queue *ctrl, *cursor;
	uint8_t *cmd;  /* command buffer in guest memory */
	uint8_t *resp; /* response buffer */
	uint64_t fence;
	bool verbose;
};

#define DRV_CMD_SIZE (64u * 1024)
#define DRV_RESP_SIZE 4096u

/* Send @len bytes of @c on the control queue; the response goes to d->resp.
 * Return: the response type (VIRTIO_GPU_RESP_*), or 0 when the ring failed. */
uint32_t drv_ctrl(struct drv *d, const void *c, size_t len, uint32_t *resp_len);
/* Send a cursor command. Return: 0 or -errno. */
int drv_cursor(struct drv *d, uint32_t type, uint32_t scanout, uint32_t x, uint32_t y,
	       uint32_t resource, uint32_t hot_x, uint32_t hot_y);

uint32_t drv_create_2d(struct drv *d, uint32_t id, uint32_t format, uint32_t w, uint32_t h);
/* Attach @size bytes at @mem (guest memory) split into @nent entries. */
uint32_t drv_attach(struct drv *d, uint32_t id, void *mem, uint64_t size, uint32_t nent);
uint32_t drv_transfer(struct drv *d, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
		      uint64_t offset);
uint32_t drv_scanout(struct drv *d, uint32_t scanout, uint32_t id, uint32_t x, uint32_t y,
		     uint32_t w, uint32_t h);
/* Flush with a fence; checks the fence comes back. */
uint32_t drv_flush(struct drv *d, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h);
uint32_t drv_simple(struct drv *d, uint32_t type, uint32_t id);

/* hostile.c: bad commands, each must fail alone with its error code. Return: failures. */
int drv_hostile(struct drv *d, uint32_t width, uint32_t height, uint64_t hostmem);

struct expect_ctx {
	struct drv *d;
	int failures;
};

/* Count a failure (and say so) when @got is not @want. */
void drv_expect(struct expect_ctx *x, const char *what, uint32_t got, uint32_t want);

/* virgl.c: --virgl, a guest's 3D driver (contexts, command streams) */
/* Check the capsets, draw the known scene on scanout 0 and check what the
 * display shows and what reads back. Return: 0 or 1 (said why). */
int drv_virgl(struct drv *d, uint32_t width, uint32_t height, const char *png);
/* Bad 3D commands, each failing alone. Return: failures. */
int drv_virgl_hostile(struct drv *d, uint64_t hostmem);

/* png.c: write @pixels (x8r8g8b8 or a8r8g8b8 when @alpha) as a PNG. Return: 0 or -errno. */
int png_write(const char *path, const uint32_t *pixels, uint32_t width, uint32_t height,
	      bool alpha);

const char *resp_name(uint32_t type);

#endif /* VHU_TOOLS_GPU_DRIVER_H */
