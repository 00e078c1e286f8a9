/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_GPU_VIRGL_H
#define VHU_DEVICES_GPU_VIRGL_H

/*
 * Concepts
 *
 * virgl.c and virgl_3d.c's shared state. Everything here is used on the
 * virgl thread only (inside a job that vg_call() runs), with gpu->lock held
 * by the thread that waits for the job.
 */

#include "gpu.h"

#define PIPE_BUFFER 0u
#define PIPE_MAX_TEXTURE_TYPES 9u
#define MAX_LAST_LEVEL 14u /* mip levels of a 16384 texture */
#define MAX_SAMPLES 16u
#define NUM_CAPSETS 2u /* VIRGL, VIRGL2 */

/* virglrenderer's struct virgl_box (opaque in its header) */
struct vg_box {
	uint32_t x, y, z, w, h, d;
};

struct gpu_virgl {
	pthread_t thread;
	pthread_mutex_t m;
	pthread_cond_t cv;
	void (*fn)(struct gpu_dev *g, void *arg);
	struct gpu_dev *g; /* the job's device */
	void *arg;
	bool pending, quit;
	struct virgl_renderer_callbacks cb;
	int drm_fd; /* --render-node; -1: surfaceless */
	/* the virgl thread's own */
	int poll_fd;
	uint32_t fence_seq, fence_done;
	uint64_t mem_gen;
	uint32_t ncapsets;
	uint32_t capset_id[NUM_CAPSETS], capset_ver[NUM_CAPSETS], capset_size[NUM_CAPSETS];
	uint32_t nctx;
	uint32_t ctx[GPU_MAX_CONTEXTS];
};

/* Run @fn on the virgl thread and wait for it. Never call from that thread. */
void vg_call(struct gpu_dev *g, void (*fn)(struct gpu_dev *g, void *arg), void *arg);
/* The virgl resource @id, or NULL. */
struct gpu_resource *vg_res(struct gpu_dev *g, uint32_t id);
/* Where context @id is in v->ctx, or -1. */
int vg_ctx_index(const struct gpu_virgl *v, uint32_t id);
/* Translate every backing again if the memory table changed. */
void vg_refresh(struct gpu_dev *g, struct vhu_vq *vq);
uint32_t vg_create(struct gpu_dev *g, const char *what,
		   const struct virtio_gpu_resource_create_3d *c);
uint32_t vg_create_2d(struct gpu_dev *g, const struct virtio_gpu_resource_create_2d *c2);
uint32_t vg_attach(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		   const struct virtio_gpu_resource_attach_backing *ab);
uint32_t vg_detach(struct gpu_dev *g, uint32_t rid);
uint32_t vg_transfer_2d(struct gpu_dev *g, const struct virtio_gpu_transfer_to_host_2d *t);
uint32_t vg_flush(struct gpu_dev *g, const struct virtio_gpu_resource_flush *rf);

#endif /* VHU_DEVICES_GPU_VIRGL_H */
