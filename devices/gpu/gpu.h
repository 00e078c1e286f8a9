/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_GPU_H
#define VHU_DEVICES_GPU_H

/*
 * Concepts
 *
 * vhu-gpu is a 2D virtio-gpu device (virtio 1.2, "GPU Device"). The guest's
 * driver sends commands on the control queue (0) and the cursor queue (1);
 * the device keeps resources (pixman images in host memory), their backing
 * (guest memory entries, translated at each transfer), and which resource
 * each scanout shows. What a scanout shows goes to the front-end, which
 * plays the display, over the vhost-user-gpu socket (<vhu/gpu.h>).
 *
 * Threads: the control queue's worker runs the 2D commands, the cursor
 * queue's worker the cursor commands, the control thread the config space
 * and the GPU socket's hand-over. One mutex (gpu->lock) guards everything
 * below; the GPU socket is written under it, so messages never interleave.
 *
 * Bounds (guest values, each checked where it is read): resource width and
 * height (GPU_MAX_DIM), the number of resources (GPU_MAX_RESOURCES), the
 * host memory all resources take (--max-hostmem), backing entries per
 * resource (GPU_MAX_BACKING), rectangles inside their resource, scanout ids.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_gpu.h>
#include <pixman.h>

#include <vhu/log.h>
#include <vhu/virtq.h>

#define GPU_MAX_DIM 16384u
#define GPU_MAX_RESOURCES 4096u
#define GPU_MAX_BACKING 16384u /* entries; what QEMU allows */
#define GPU_DEFAULT_HOSTMEM (256ull << 20)
#define GPU_REPLY_TIMEOUT_MS 2000

struct gpu_resource {
	uint32_t id;
	uint32_t format; /* VIRTIO_GPU_FORMAT_* */
	uint32_t width, height;
	uint64_t host_size; /* what it counts against max_hostmem */
	pixman_image_t *image;
	struct virtio_gpu_mem_entry *backing; /* as the guest gave them; NULL: none */
	uint32_t nbacking;
	struct gpu_resource *next;
};

struct gpu_scanout {
	uint32_t resource_id; /* 0: disabled */
	struct virtio_gpu_rect r;
};

struct gpu_stats {
	uint64_t commands, errors, updates, update_bytes;
};

struct gpu_dev {
	pthread_mutex_t lock;
	const struct vhu_log *log;
	uint32_t num_scanouts; /* 1..VIRTIO_GPU_MAX_SCANOUTS */
	uint64_t max_hostmem;
	uint64_t hostmem;
	uint32_t nres;
	struct gpu_resource *res;
	struct gpu_scanout scanout[VIRTIO_GPU_MAX_SCANOUTS];
	uint32_t events_read;
	bool edid;	      /* VIRTIO_GPU_F_EDID negotiated */
	int reply_timeout_ms; /* GPU_REPLY_TIMEOUT_MS (fuzz_gpu_ctrl: 0) */

	/* the vhost-user-gpu socket (-1: none) */
	int sock;
	bool sock_pending;	/* GET_PROTOCOL_FEATURES sent, its reply not read yet */
	uint64_t sock_protocol; /* VHU_GPU_PROTOCOL_F_* negotiated */
	struct gpu_stats stats;
};

/* gpu.c: the commands */
void gpu_init(struct gpu_dev *g, uint32_t num_scanouts, uint64_t max_hostmem);
void gpu_fini(struct gpu_dev *g);
/* Forget every resource and scanout (reset, disconnect). Takes the lock. */
void gpu_reset(struct gpu_dev *g);
/* One control queue request: run it, write the response. Return: bytes written. */
uint32_t gpu_ctrl(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req);
/* One cursor queue request (no response). */
void gpu_cursor(struct gpu_dev *g, const struct vhu_req *req);

/* iov helpers (gpu.c) */
size_t gpu_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len);
size_t gpu_iov_write(const struct iovec *iov, unsigned int n, const void *buf, size_t len);

/* display.c: the GPU socket; all with gpu->lock held */
void gpu_sock_set(struct gpu_dev *g, int fd);
void gpu_sock_close(struct gpu_dev *g);
/* Read the GPU protocol features' reply if it is due. Return: 0 or -errno. */
int gpu_sock_ready(struct gpu_dev *g);
/* Send a request that has no reply. Return: 0 or -errno (the socket is closed then). */
int gpu_sock_send(struct gpu_dev *g, uint32_t request, const void *head, size_t head_size,
		  const void *tail, size_t tail_size);
/* Send a request and wait for its reply of exactly @size bytes. */
int gpu_sock_call(struct gpu_dev *g, uint32_t request, const void *arg, size_t arg_size, void *out,
		  size_t size);
/* Send what @s shows to the front-end (SCANOUT). */
int gpu_show_scanout(struct gpu_dev *g, uint32_t id, uint32_t width, uint32_t height);
/* Send the pixels of @r (resource coordinates) of @res shown on scanout @id (UPDATE). */
int gpu_show_update(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
		    const pixman_box32_t *box);

#endif /* VHU_DEVICES_GPU_H */
