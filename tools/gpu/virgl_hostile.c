/* SPDX-License-Identifier: MIT */
/*
 * --virgl --hostile: 3D commands a broken or malicious guest driver might
 * send, after drv_virgl() made context 1 and resources 1000 and 1001. Each
 * must fail alone with its error code; the context that got garbage stays
 * in error, the others (and the device) go on.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "virgl.h"

#define NO_CTX 77u
#define GARBAGE_CTX 2u
#define RID 300u

static uint32_t capset_info(struct drv *d, uint32_t index)
{
	struct virtio_gpu_get_capset_info c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_GET_CAPSET_INFO),
		.capset_index = htole32(index),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

static uint32_t capset(struct drv *d, uint32_t id, uint32_t version)
{
	struct virtio_gpu_get_capset c = {
		.hdr.type = htole32(VIRTIO_GPU_CMD_GET_CAPSET),
		.capset_id = htole32(id),
		.capset_version = htole32(version),
	};

	return drv_ctrl(d, &c, sizeof(c), NULL);
}

static void contexts(struct expect_ctx *x)
{
	struct drv *d = x->d;
	uint32_t made = 0, t = VIRTIO_GPU_RESP_OK_NODATA;

	drv_expect(x, "context 0", vdrv_ctx_create(d, 0, 4),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "a context id in use", vdrv_ctx_create(d, CTX, 4),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "a context name of 65 bytes", vdrv_ctx_create(d, 3, 65),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "destroy an unknown context",
		   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_DESTROY, NO_CTX, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "attach to an unknown context",
		   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, NO_CTX, RES_SCENE),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "attach an unknown resource",
		   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, CTX, 4242),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* contexts are GL contexts: a bounded number, then OUT_OF_MEMORY */
	for (uint32_t id = 100; id < 300 && t == VIRTIO_GPU_RESP_OK_NODATA; id++) {
		t = vdrv_ctx_create(d, id, 4);
		made += t == VIRTIO_GPU_RESP_OK_NODATA;
	}
	printf("virgl hostile: %u more contexts made, then %s\n", made, resp_name(t));
	drv_expect(x, "contexts past the cap", t, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	for (uint32_t id = 100; id < 100 + made; id++)
		drv_expect(x, "destroy a context",
			   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_DESTROY, id, 0),
			   VIRTIO_GPU_RESP_OK_NODATA);
}

static void submits(struct expect_ctx *x)
{
	struct drv *d = x->d;
	uint32_t dw[256], n, seed = 12345;

	dw[0] = 0;
	drv_expect(x, "submit to an unknown context", vdrv_submit(d, NO_CTX, dw, 1, 4, false),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "submit 6 bytes", vdrv_submit(d, CTX, dw, 2, 6, false),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "submit 8 MiB", vdrv_submit(d, CTX, dw, 1, 8u << 20, false),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "submit 4096 bytes announced, 64 sent",
		   vdrv_submit(d, CTX, dw, 16, 4096, false), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* garbage: a command longer than the stream, then noise */
	dw[0] = htole32(0xffff00ffu);
	for (uint32_t i = 1; i < 256; i++) {
		seed = seed * 1103515245u + 12345u;
		dw[i] = seed;
	}
	drv_expect(x, "a context for garbage", vdrv_ctx_create(d, GARBAGE_CTX, 4),
		   VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "submit garbage", vdrv_submit(d, GARBAGE_CTX, dw, 256, 1024, true),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "destroy the garbage context",
		   vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_DESTROY, GARBAGE_CTX, 0),
		   VIRTIO_GPU_RESP_OK_NODATA);
	/* context 1 was not hurt */
	n = vdrv_scene_stream(dw, 64, 48);
	drv_expect(x, "submit a good stream after it", vdrv_submit(d, CTX, dw, n, n * 4, true),
		   VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "submit nothing", vdrv_submit(d, CTX, dw, 0, 0, false),
		   VIRTIO_GPU_RESP_OK_NODATA);
}

static void resources(struct expect_ctx *x, uint64_t hostmem)
{
	struct drv *d = x->d;
	const uint32_t rt = BIND_RENDER_TARGET;

	drv_expect(x, "a 3D resource 2^31 wide",
		   vdrv_create_3d(d, RID, TARGET_2D, rt, 1u << 31, 1, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "a 3D resource 100000 deep",
		   vdrv_create_3d(d, RID, 3 /* 3D */, rt, 16, 16, 100000),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "a 3D resource of target 99", vdrv_create_3d(d, RID, 99, rt, 16, 16, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "a 3D resource of height 0", vdrv_create_3d(d, RID, TARGET_2D, rt, 16, 0, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "a 3D resource over the host memory cap",
		   vdrv_create_3d(d, RID, TARGET_2D, rt, 16384, 16384, 1),
		   hostmem < (1ull << 30) ? VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY
					  : VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "a 4 GiB buffer", vdrv_create_3d(d, RID, TARGET_BUFFER, 0, 0xffffffffu, 1, 1),
		   VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	drv_expect(x, "a 3D resource id in use",
		   vdrv_create_3d(d, RES_SCENE, TARGET_2D, rt, 16, 16, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "a 4 KiB buffer", vdrv_create_3d(d, RID, TARGET_BUFFER, 0, 4096, 1, 1),
		   VIRTIO_GPU_RESP_OK_NODATA);
	drv_expect(x, "show a buffer", drv_scanout(d, 0, RID, 0, 0, 16, 1),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "unref the buffer", drv_simple(d, VIRTIO_GPU_CMD_RESOURCE_UNREF, RID),
		   VIRTIO_GPU_RESP_OK_NODATA);
}

static void transfers(struct expect_ctx *x)
{
	struct drv *d = x->d;
	const uint32_t to = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D;
	const uint32_t from = VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D;

	drv_expect(x, "transfer 3D of an unknown resource",
		   vdrv_transfer_3d(d, to, CTX, 4242, 1, 1, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	drv_expect(x, "transfer 3D in an unknown context",
		   vdrv_transfer_3d(d, to, NO_CTX, RES_TILE, 1, 1, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	drv_expect(x, "transfer 3D of a box outside",
		   vdrv_transfer_3d(d, to, CTX, RES_TILE, TILE + 1, 1, 0),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer 3D past the backing",
		   vdrv_transfer_3d(d, from, CTX, RES_TILE, TILE, TILE, 64),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "transfer 3D with a huge offset",
		   vdrv_transfer_3d(d, to, CTX, RES_TILE, 1, 1, UINT64_MAX - 2),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

static void caps(struct expect_ctx *x)
{
	struct drv *d = x->d;

	drv_expect(x, "capset info of index 99", capset_info(d, 99),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "capset 9", capset(d, 9, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "capset 2 version 99", capset(d, VIRTIO_GPU_CAPSET_VIRGL2, 99),
		   VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	drv_expect(x, "capset 2 version 1", capset(d, VIRTIO_GPU_CAPSET_VIRGL2, 1),
		   VIRTIO_GPU_RESP_OK_CAPSET);
}

int drv_virgl_hostile(struct drv *d, uint64_t hostmem)
{
	struct expect_ctx x = { .d = d };

	contexts(&x);
	submits(&x);
	resources(&x, hostmem);
	transfers(&x);
	caps(&x);
	drv_expect(&x, "destroy context 1", vdrv_ctx_cmd(d, VIRTIO_GPU_CMD_CTX_DESTROY, CTX, 0),
		   VIRTIO_GPU_RESP_OK_NODATA);
	return x.failures;
}
