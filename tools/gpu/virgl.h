/* SPDX-License-Identifier: MIT */
#ifndef VHU_TOOLS_GPU_VIRGL_H
#define VHU_TOOLS_GPU_VIRGL_H

/*
 * vhu-gpu-draw's 3D commands (virgl.c), shared with its hostile cases
 * (virgl_hostile.c). Each returns the response type, as drv_ctrl().
 */

#include "driver.h"

/* virglrenderer's command stream (src/virgl_protocol.h) */
#define CCMD(cmd, obj, len) ((uint32_t)(cmd) | (uint32_t)(obj) << 8 | (uint32_t)(len) << 16)
#define CCMD_CREATE_OBJECT 1
#define CCMD_SET_FRAMEBUFFER_STATE 5
#define CCMD_CLEAR 7
#define CCMD_RESOURCE_COPY_REGION 17
#define CCMD_CLEAR_TEXTURE 47
#define OBJ_SURFACE 8
#define PIPE_CLEAR_COLOR0 (1u << 2)
/* gallium's formats, targets and binds, as virtio-gpu's 3D commands take them */
#define FORMAT_B8G8R8X8 2u
#define TARGET_BUFFER 0u
#define TARGET_2D 2u
#define BIND_RENDER_TARGET (1u << 1)
#define BIND_SAMPLER_VIEW (1u << 3)
#define BIND_SCANOUT (1u << 18)

#define CTX 1u
#define RES_SCENE 1000u
#define RES_TILE 1001u
#define TILE 16u
#define TILE_X 8u
#define TILE_Y 4u
#define CLEAR_RGB 0x336699u /* 0.2, 0.4, 0.6: exact in 8 bits */
#define BOX_RGB 0xff9933u

uint32_t vdrv_ctx_cmd(struct drv *d, uint32_t type, uint32_t ctx, uint32_t rid);
uint32_t vdrv_ctx_create(struct drv *d, uint32_t ctx, uint32_t nlen);
uint32_t vdrv_create_3d(struct drv *d, uint32_t rid, uint32_t target, uint32_t bind, uint32_t w,
			uint32_t h, uint32_t depth);
uint32_t vdrv_transfer_3d(struct drv *d, uint32_t type, uint32_t ctx, uint32_t rid, uint32_t w,
			  uint32_t h, uint64_t offset);
/* SUBMIT_3D of @n dwords, announcing @size bytes; with a fence when @fence. */
uint32_t vdrv_submit(struct drv *d, uint32_t ctx, const uint32_t *dw, uint32_t n, uint32_t size,
		     bool fence);
/* The scene's command stream for a @w x @h scene. Return: dwords (at most 64). */
uint32_t vdrv_scene_stream(uint32_t *c, uint32_t w, uint32_t h);

#endif /* VHU_TOOLS_GPU_VIRGL_H */
