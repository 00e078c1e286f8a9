/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_GPU_H
#define VHU_DEVICES_GPU_H

/*
 * Concepts
 *
 * vhu-gpu is a virtio-gpu device (virtio 1.2, "GPU Device"). The guest's
 * driver sends commands on the control queue (0) and the cursor queue (1);
 * the device keeps resources (pixman images in host memory), their backing
 * (guest memory entries, translated at each transfer), and which resource
 * each scanout shows. What a scanout shows goes to the front-end, which
 * plays the display, over the vhost-user-gpu socket (<vhu/gpu.h>).
 * With --virgl (virgl.c, virgl_3d.c) every resource lives in virglrenderer
 * instead, the 3D commands run there too, and scanouts are read back.
 *
 * Threads: the control queue's worker runs the 2D commands, the cursor
 * queue's worker the cursor commands, the control thread the config space
 * and the GPU socket's hand-over. One mutex (gpu->lock) guards everything
 * below; the GPU socket is written under it, so messages never interleave.
 * virglrenderer is called only on its own thread, which runs jobs for the
 * thread holding gpu->lock (virgl.c).
 *
 * Bounds (guest values, each checked where it is read): resource width and
 * height (GPU_MAX_DIM), the number of resources (GPU_MAX_RESOURCES), the
 * host memory all resources take (--max-hostmem), backing entries per
 * resource (GPU_MAX_BACKING), rectangles inside their resource, scanout ids.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_gpu.h>
#include <pixman.h>

#include <vhu/log.h>
#include <vhu/virtq.h>

#define GPU_MAX_DIM 16384u
#define GPU_MAX_RESOURCES 4096u
#define GPU_MAX_BACKING 16384u /* entries; what QEMU allows */
#define GPU_DEFAULT_HOSTMEM (256ull << 20)
#define GPU_REPLY_TIMEOUT_MS 2000
/* --virgl (virgl.c) */
#define GPU_MAX_CONTEXTS 64u	   /* a context is a GL context: host memory */
#define GPU_MAX_SUBMIT (4u << 20)  /* bytes of one SUBMIT_3D command stream */
#define GPU_MAX_CAPSET 4096u	   /* bytes of one capset */
#define GPU_MAX_DEPTH 2048u	   /* depth and array_size of a 3D resource */
#define GPU_FENCE_TIMEOUT_MS 10000 /* a fence virglrenderer never signals */
#define GPU_TARGET_2D 2u	   /* PIPE_TEXTURE_2D: what 2D resources are in virgl */

struct gpu_resource {
	uint32_t id;
	uint32_t format; /* VIRTIO_GPU_FORMAT_* */
	uint32_t width, height;
	uint64_t host_size; /* what it counts against max_hostmem */
	pixman_image_t *image;
	struct virtio_gpu_mem_entry *backing; /* as the guest gave them; NULL: none */
	uint32_t nbacking;
	/* --virgl: the resource lives in virglrenderer (image is NULL), which
	 * holds iov, the backing translated (virgl.c) */
	bool virgl;
	uint32_t target;
	struct iovec *iov;
	unsigned int niov;
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
	bool edid;		 /* VIRTIO_GPU_F_EDID negotiated */
	struct gpu_virgl *virgl; /* --virgl (virgl.c); NULL: 2D only */
	uint32_t max_contexts;	 /* --max-contexts, 1..GPU_MAX_CONTEXTS */
	int reply_timeout_ms;	 /* GPU_REPLY_TIMEOUT_MS (fuzz_gpu_ctrl: 0) */

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

/* One command as read from the driver's buffers; every command struct fits it. */
union gpu_cmd {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resource_create_2d c2d;
	struct virtio_gpu_resource_unref unref;
	struct virtio_gpu_set_scanout ss;
	struct virtio_gpu_resource_flush rf;
	struct virtio_gpu_transfer_to_host_2d t2d;
	struct virtio_gpu_resource_attach_backing ab;
	struct virtio_gpu_resource_detach_backing db;
	struct virtio_gpu_cmd_get_edid edid;
	struct virtio_gpu_update_cursor cursor;
	struct virtio_gpu_ctx_create ctx_create;
	struct virtio_gpu_ctx_resource ctx_res;
	struct virtio_gpu_resource_create_3d c3d;
	struct virtio_gpu_transfer_host_3d t3d;
	struct virtio_gpu_cmd_submit submit;
	struct virtio_gpu_get_capset_info capset_info;
	struct virtio_gpu_get_capset capset;
};

union gpu_resp {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resp_display_info info;
	struct virtio_gpu_resp_edid edid;
	struct virtio_gpu_resp_capset_info capset_info;
	uint8_t capset[sizeof(struct virtio_gpu_ctrl_hdr) + GPU_MAX_CAPSET];
};

#define GPU_FAIL(g, code, ...) (vhu_logf((g)->log, VHU_LOG_WARN, __VA_ARGS__), (code))

/* gpu.c, for virgl.c */
struct gpu_resource *gpu_find(struct gpu_dev *g, uint32_t id);
bool gpu_rect_inside(const struct virtio_gpu_rect *r, uint32_t width, uint32_t height);
/* Add a resource of @size host bytes to the device, or say why not. */
uint32_t gpu_res_admit(struct gpu_dev *g, const char *what, uint32_t id, uint64_t size);
void gpu_res_add(struct gpu_dev *g, struct gpu_resource *res);
/* Read and check ATTACH_BACKING's entries. Return: an OK or ERR_* code. */
uint32_t gpu_read_backing(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
			  const struct virtio_gpu_resource_attach_backing *ab,
			  struct virtio_gpu_mem_entry **out);
int gpu_backing_iov(struct vhu_vq *vq, const struct gpu_resource *res, struct iovec **out,
		    unsigned int *n);
/* RESOURCE_FLUSH: @show each scanout's part of the rectangle. */
uint32_t gpu_flush(struct gpu_dev *g, const struct virtio_gpu_resource_flush *rf,
		   void (*show)(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
				const pixman_box32_t *box));
pixman_format_code_t gpu_pixman_format(uint32_t format);

/* virgl.c: --virgl, every call into virglrenderer on one thread of its own */
/* Start virglrenderer (EGL surfaceless, or GBM on @render_node). Return: 0 or
 * -errno, with *@why saying what failed. */
int gpu_virgl_start(struct gpu_dev *g, const char *render_node, const char **why);
void gpu_virgl_stop(struct gpu_dev *g);
/* A resource or 3D command in virgl mode (gpu->lock held). */
uint32_t gpu_virgl_cmd(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		       const union gpu_cmd *c, union gpu_resp *resp, size_t *len);
/* Wait for the work of the commands so far (a fence). Return: 0 or -ETIMEDOUT. */
int gpu_virgl_fence(struct gpu_dev *g, uint32_t ctx_id);
void gpu_virgl_unref(struct gpu_dev *g, struct gpu_resource *res);
/* Forget every context (reset). */
void gpu_virgl_reset(struct gpu_dev *g);
/* The 64x64 cursor image of a virgl resource, as a8r8g8b8. */
bool gpu_virgl_cursor(struct gpu_dev *g, struct gpu_resource *res, uint32_t *data);
uint32_t gpu_virgl_num_capsets(struct gpu_dev *g);

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
/* Send @img, whose top left is (@x, @y) in the resource scanout @id shows, as
 * UPDATEs (its width times VHU_GPU_MAX_UPDATE_PIXELS at most). */
int gpu_show_image(struct gpu_dev *g, uint32_t id, pixman_image_t *img, int32_t x, int32_t y);

#endif /* VHU_DEVICES_GPU_H */
