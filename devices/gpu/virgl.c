/* SPDX-License-Identifier: MIT */
/*
 * --virgl: virtio-gpu's 3D commands (virtio 1.2, "GPU Device", VIRTIO_GPU_F_VIRGL)
 * through virglrenderer, which renders with OpenGL: Mesa's llvmpipe through
 * EGL surfaceless when no render node is named, the GPU behind
 * --render-node (GBM) when one is. Every resource, 2D ones too, lives in
 * virglrenderer then; what a scanout shows is read back and sent over the
 * GPU socket as UPDATEs, as in 2D.
 *
 * Threads: virglrenderer's GL context belongs to the thread that made it,
 * so every call into it runs on one thread of ours (virgl_main); a queue's
 * worker (or the control thread, at reset) hands it a job and waits, with
 * gpu->lock held, so the job may use everything gpu->lock guards.
 *
 * Guest memory: virglrenderer keeps each resource's backing as iovecs and
 * reads them when commands run. They are translated again whenever the
 * memory table changed (vhu_vq_mem_gen()), before any command runs.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <virgl/virglrenderer.h>

#include "gpu.h"
#include <vhu/gpu.h>

#include "virgl.h"

#define DRM_MAJOR 226 /* the kernel's DRM character devices */

static const struct vhu_log *debug_log; /* virglrenderer's debug callback has no cookie */

static void *virgl_main(void *opaque)
{
	struct gpu_virgl *v = opaque;

	pthread_mutex_lock(&v->m);
	while (!v->quit) {
		if (!v->pending) {
			pthread_cond_wait(&v->cv, &v->m);
			continue;
		}
		pthread_mutex_unlock(&v->m);
		v->fn(v->g, v->arg);
		pthread_mutex_lock(&v->m);
		v->pending = false;
		pthread_cond_broadcast(&v->cv);
	}
	pthread_mutex_unlock(&v->m);
	return NULL;
}

/* Run @fn on the virgl thread and wait for it. Never call from that thread. */
void vg_call(struct gpu_dev *g, void (*fn)(struct gpu_dev *g, void *arg), void *arg)
{
	struct gpu_virgl *v = g->virgl;

	pthread_mutex_lock(&v->m);
	while (v->pending)
		pthread_cond_wait(&v->cv, &v->m);
	v->fn = fn;
	v->g = g;
	v->arg = arg;
	v->pending = true;
	pthread_cond_broadcast(&v->cv);
	while (v->pending)
		pthread_cond_wait(&v->cv, &v->m);
	pthread_mutex_unlock(&v->m);
}

static void write_fence(void *cookie, uint32_t fence)
{
	struct gpu_virgl *v = cookie;

	v->fence_done = fence;
}

static int get_drm_fd(void *cookie)
{
	struct gpu_virgl *v = cookie;

	/* virglrenderer owns what it gets */
	return fcntl(v->drm_fd, F_DUPFD_CLOEXEC, 0);
}

/* virglrenderer's own format strings: -Wformat-nonliteral cannot see them */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void debug_cb(const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	vhu_logf(debug_log, VHU_LOG_DEBUG, "virglrenderer: %s", line);
}
#pragma GCC diagnostic pop

struct init_job {
	int ret;
};

static void init_job(struct gpu_dev *g, void *arg)
{
	struct init_job *j = arg;
	struct gpu_virgl *v = g->virgl;
	int flags = VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_THREAD_SYNC;

	if (v->drm_fd < 0)
		flags |= VIRGL_RENDERER_USE_SURFACELESS;
	v->cb.version = 2;
	v->cb.write_fence = write_fence;
	v->cb.get_drm_fd = v->drm_fd >= 0 ? get_drm_fd : NULL;
	j->ret = virgl_renderer_init(v, flags, &v->cb);
	if (j->ret)
		return;
	v->poll_fd = virgl_renderer_get_poll_fd();
	/* a capset the device cannot return in one response is not offered */
	for (uint32_t id = VIRTIO_GPU_CAPSET_VIRGL; id <= VIRTIO_GPU_CAPSET_VIRGL2; id++) {
		uint32_t ver = 0, size = 0;

		virgl_renderer_get_cap_set(id, &ver, &size);
		if (!ver || !size || size > GPU_MAX_CAPSET)
			continue;
		v->capset_id[v->ncapsets] = id;
		v->capset_ver[v->ncapsets] = ver;
		v->capset_size[v->ncapsets] = size;
		v->ncapsets++;
	}
}

static void cleanup_job(struct gpu_dev *g, void *arg)
{
	(void)arg;
	virgl_renderer_cleanup(g->virgl);
}

static void free_virgl(struct gpu_dev *g)
{
	struct gpu_virgl *v = g->virgl;

	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->m);
	if (v->drm_fd >= 0)
		close(v->drm_fd);
	free(v);
	g->virgl = NULL;
}

static void stop_thread(struct gpu_dev *g)
{
	struct gpu_virgl *v = g->virgl;

	pthread_mutex_lock(&v->m);
	v->quit = true;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->m);
	pthread_join(v->thread, NULL);
	free_virgl(g);
}

int gpu_virgl_start(struct gpu_dev *g, const char *render_node, const char **why)
{
	struct gpu_virgl *v = calloc(1, sizeof(*v));
	struct init_job j = { 0 };
	int ret;

	if (!v)
		return -ENOMEM;
	v->drm_fd = -1;
	v->poll_fd = -1;
	if (render_node) {
		struct stat st;

		v->drm_fd = open(render_node, O_RDWR | O_CLOEXEC);
		if (v->drm_fd < 0) {
			ret = -errno;
			free(v);
			*why = "cannot open the render node";
			return ret;
		}
		/* virglrenderer would fall back to software on anything else */
		if (fstat(v->drm_fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
		    major(st.st_rdev) != DRM_MAJOR) {
			close(v->drm_fd);
			free(v);
			*why = "not a DRM render node";
			return -ENODEV;
		}
	}
	pthread_mutex_init(&v->m, NULL);
	pthread_cond_init(&v->cv, NULL);
	g->virgl = v;
	debug_log = g->log;
	virgl_set_debug_callback(debug_cb);
	ret = -pthread_create(&v->thread, NULL, virgl_main, v);
	if (ret) {
		free_virgl(g);
		*why = "no thread";
		return ret;
	}
	vg_call(g, init_job, &j);
	if (j.ret) {
		stop_thread(g);
		*why = render_node ? "virglrenderer cannot render on the render node (GBM, EGL)"
				   : "virglrenderer cannot start (EGL surfaceless, OpenGL)";
		return j.ret < 0 ? j.ret : -ENODEV;
	}
	return 0;
}

void gpu_virgl_stop(struct gpu_dev *g)
{
	vg_call(g, cleanup_job, NULL);
	stop_thread(g);
}

uint32_t gpu_virgl_num_capsets(struct gpu_dev *g)
{
	return g->virgl ? g->virgl->ncapsets : 0;
}

/* ---- the virgl thread's side ---- */

struct gpu_resource *vg_res(struct gpu_dev *g, uint32_t id)
{
	struct gpu_resource *res = gpu_find(g, id);

	return res && res->virgl ? res : NULL;
}

int vg_ctx_index(const struct gpu_virgl *v, uint32_t id)
{
	for (uint32_t i = 0; i < v->nctx; i++)
		if (v->ctx[i] == id)
			return (int)i;
	return -1;
}

static void drop_iov(struct gpu_resource *res)
{
	struct iovec *iov = NULL;
	int n = 0;

	if (!res->iov)
		return;
	virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
	free(res->iov);
	res->iov = NULL;
	res->niov = 0;
}

/* Give virglrenderer @res's backing, translated now. */
static int give_iov(struct vhu_vq *vq, struct gpu_resource *res)
{
	int ret = gpu_backing_iov(vq, res, &res->iov, &res->niov);

	if (ret < 0)
		return ret;
	ret = -virgl_renderer_resource_attach_iov((int)res->id, res->iov, (int)res->niov);
	if (ret) {
		free(res->iov);
		res->iov = NULL;
		res->niov = 0;
	}
	return ret;
}

/* The memory table changed: every backing is translated again (or dropped). */
void vg_refresh(struct gpu_dev *g, struct vhu_vq *vq)
{
	struct gpu_virgl *v = g->virgl;
	uint64_t gen = vhu_vq_mem_gen(vq);

	if (gen == v->mem_gen)
		return;
	v->mem_gen = gen;
	for (struct gpu_resource *res = g->res; res; res = res->next) {
		if (!res->virgl || !res->backing)
			continue;
		drop_iov(res);
		if (give_iov(vq, res) < 0) {
			vhu_logf(g->log, VHU_LOG_WARN,
				 "resource %u: its backing left guest memory; detached", res->id);
			free(res->backing);
			res->backing = NULL;
			res->nbacking = 0;
		}
	}
}

/* Host bytes a 3D resource may take: 4 per texel for the 2D formats, 16 (the
 * largest texel) for any other, twice that with mip levels. */
static bool res_size(const struct virtio_gpu_resource_create_3d *c, uint64_t *size)
{
	uint32_t target = le32toh(c->target), format = le32toh(c->format);
	uint32_t samples = le32toh(c->nr_samples) ? le32toh(c->nr_samples) : 1;
	uint64_t texel = target == PIPE_BUFFER ? 1 : gpu_pixman_format(format) ? 4 : 16;
	uint64_t s = texel;

	if (__builtin_mul_overflow(s, (uint64_t)le32toh(c->width), &s) ||
	    __builtin_mul_overflow(s, (uint64_t)le32toh(c->height), &s) ||
	    __builtin_mul_overflow(s, (uint64_t)le32toh(c->depth), &s) ||
	    __builtin_mul_overflow(s, (uint64_t)le32toh(c->array_size), &s) ||
	    __builtin_mul_overflow(s, (uint64_t)samples, &s) ||
	    __builtin_mul_overflow(s, (uint64_t)(le32toh(c->last_level) ? 2 : 1), &s))
		return false;
	*size = s;
	return true;
}

uint32_t vg_create(struct gpu_dev *g, const char *what,
		   const struct virtio_gpu_resource_create_3d *c)
{
	struct virgl_renderer_resource_create_args a = {
		.handle = le32toh(c->resource_id),
		.target = le32toh(c->target),
		.format = le32toh(c->format),
		.bind = le32toh(c->bind),
		.width = le32toh(c->width),
		.height = le32toh(c->height),
		.depth = le32toh(c->depth),
		.array_size = le32toh(c->array_size),
		.last_level = le32toh(c->last_level),
		.nr_samples = le32toh(c->nr_samples),
		.flags = le32toh(c->flags),
	};
	struct gpu_resource *res;
	uint64_t size;
	uint32_t ret;
	int err;

	if (a.target >= PIPE_MAX_TEXTURE_TYPES || !a.width || !a.height || !a.depth ||
	    !a.array_size || a.height > GPU_MAX_DIM || a.depth > GPU_MAX_DEPTH ||
	    a.array_size > GPU_MAX_DEPTH || a.last_level > MAX_LAST_LEVEL ||
	    a.nr_samples > MAX_SAMPLES ||
	    (a.target == PIPE_BUFFER ? a.height != 1 || a.depth != 1 || a.array_size != 1
				     : a.width > GPU_MAX_DIM))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"%s: resource %u: target %u, %ux%ux%u, %u layers, %u levels, %u "
				"samples is out of bounds",
				what, a.handle, a.target, a.width, a.height, a.depth, a.array_size,
				a.last_level, a.nr_samples);
	if (!res_size(c, &size))
		size = UINT64_MAX;
	ret = gpu_res_admit(g, what, a.handle, size);
	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	err = virgl_renderer_resource_create(&a, NULL, 0);
	if (err) {
		free(res);
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"%s: virglrenderer refused resource %u (format %u, bind 0x%x): %s",
				what, a.handle, a.format, a.bind, strerror(abs(err)));
	}
	res->id = a.handle;
	res->format = a.format;
	res->width = a.width;
	res->height = a.height;
	res->host_size = size;
	res->virgl = true;
	res->target = a.target;
	gpu_res_add(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* RESOURCE_CREATE_2D in virgl mode: a 2D texture to render to, as QEMU makes it */
uint32_t vg_create_2d(struct gpu_dev *g, const struct virtio_gpu_resource_create_2d *c2)
{
	struct virtio_gpu_resource_create_3d c = {
		.resource_id = c2->resource_id,
		.target = htole32(GPU_TARGET_2D),
		.format = c2->format,
		.bind = htole32(VIRGL_RES_BIND_RENDER_TARGET),
		.width = c2->width,
		.height = c2->height,
		.depth = htole32(1),
		.array_size = htole32(1),
		.flags = htole32(VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP),
	};

	if (!gpu_pixman_format(le32toh(c2->format)))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"RESOURCE_CREATE_2D: unknown format %u", le32toh(c2->format));
	return vg_create(g, "RESOURCE_CREATE_2D", &c);
}

uint32_t vg_attach(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		   const struct virtio_gpu_resource_attach_backing *ab)
{
	uint32_t rid = le32toh(ab->resource_id);
	struct gpu_resource *res = gpu_find(g, rid);
	struct virtio_gpu_mem_entry *ents;
	uint32_t ret = gpu_read_backing(g, vq, req, ab, &ents);
	int err;

	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	res->backing = ents;
	res->nbacking = le32toh(ab->nr_entries);
	err = give_iov(vq, res);
	if (err < 0) {
		free(res->backing);
		res->backing = NULL;
		res->nbacking = 0;
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"RESOURCE_ATTACH_BACKING: resource %u: %s", rid, strerror(-err));
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t vg_detach(struct gpu_dev *g, uint32_t rid)
{
	struct gpu_resource *res = vg_res(g, rid);

	if (!res || !res->backing)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
				"RESOURCE_DETACH_BACKING: no resource %u, or it has no backing",
				rid);
	drop_iov(res);
	free(res->backing);
	res->backing = NULL;
	res->nbacking = 0;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* TRANSFER_TO_HOST_2D: rows of the resource's width in the backing, from @offset */
uint32_t vg_transfer_2d(struct gpu_dev *g, const struct virtio_gpu_transfer_to_host_2d *t)
{
	uint32_t rid = le32toh(t->resource_id);
	struct gpu_resource *res = vg_res(g, rid);
	struct vg_box box = { le32toh(t->r.x),	   le32toh(t->r.y),	 0,
			      le32toh(t->r.width), le32toh(t->r.height), 1 };
	int err;

	if (!res || !res->backing)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
				"TRANSFER_TO_HOST_2D: no resource %u, or it has no backing", rid);
	if (!gpu_rect_inside(&t->r, res->width, res->height))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"TRANSFER_TO_HOST_2D: rectangle outside resource %u", rid);
	err = virgl_renderer_transfer_write_iov(rid, 0, 0, 0, 0, (struct virgl_box *)&box,
						le64toh(t->offset), NULL, 0);
	if (err)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"TRANSFER_TO_HOST_2D: resource %u: virglrenderer refused it (%s)",
				rid, strerror(abs(err)));
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* What a scanout shows of @res in @box, read back a band of rows at a time. */
static void show(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
		 const pixman_box32_t *box)
{
	uint32_t width = (uint32_t)(box->x2 - box->x1);
	uint32_t rows = VHU_GPU_MAX_UPDATE_PIXELS / width;
	pixman_format_code_t pf = gpu_pixman_format(res->format);

	for (int32_t y = box->y1; y < box->y2; y += (int32_t)rows) {
		uint32_t h = (uint32_t)(box->y2 - y) < rows ? (uint32_t)(box->y2 - y) : rows;
		struct iovec iov = { .iov_len = (size_t)width * h * 4 };
		struct vg_box b = { (uint32_t)box->x1, (uint32_t)y, 0, width, h, 1 };
		pixman_image_t *img;
		int err;

		iov.iov_base = malloc(iov.iov_len);
		if (!iov.iov_base)
			return;
		err = virgl_renderer_transfer_read_iov(res->id, 0, 0, width * 4, 0,
						       (struct virgl_box *)&b, 0, &iov, 1);
		img = err ? NULL
			  : pixman_image_create_bits(pf, (int)width, (int)h, iov.iov_base,
						     (int)width * 4);
		if (err)
			vhu_logf(g->log, VHU_LOG_WARN,
				 "RESOURCE_FLUSH: resource %u: no readback (%s)", res->id,
				 strerror(abs(err)));
		if (img) {
			(void)gpu_show_image(g, id, img, box->x1, y);
			pixman_image_unref(img);
		}
		free(iov.iov_base);
		if (!img)
			return;
	}
}

uint32_t vg_flush(struct gpu_dev *g, const struct virtio_gpu_resource_flush *rf)
{
	return gpu_flush(g, rf, show);
}

struct fence_job {
	uint32_t ctx;
	int ret;
};

static void fence_job(struct gpu_dev *g, void *arg)
{
	struct fence_job *j = arg;
	struct gpu_virgl *v = g->virgl;
	uint32_t seq = ++v->fence_seq;
	struct timespec start, now;

	/* our own sequence: the guest's 64-bit fence ids never reach virglrenderer */
	j->ret = -virgl_renderer_create_fence((int)seq, j->ctx);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (j->ret == 0 && (int32_t)(v->fence_done - seq) < 0) {
		int64_t ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= GPU_FENCE_TIMEOUT_MS) {
			j->ret = -ETIMEDOUT;
			break;
		}
		if (v->poll_fd >= 0) {
			struct pollfd p = { .fd = v->poll_fd, .events = POLLIN };

			(void)poll(&p, 1, (int)(GPU_FENCE_TIMEOUT_MS - ms));
		} else {
			(void)nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		}
		virgl_renderer_poll();
	}
}

int gpu_virgl_fence(struct gpu_dev *g, uint32_t ctx_id)
{
	struct fence_job j = { .ctx = ctx_id };

	vg_call(g, fence_job, &j);
	return j.ret;
}

static void unref_job(struct gpu_dev *g, void *arg)
{
	struct gpu_resource *res = arg;

	(void)g;
	drop_iov(res);
	virgl_renderer_resource_unref(res->id);
}

void gpu_virgl_unref(struct gpu_dev *g, struct gpu_resource *res)
{
	vg_call(g, unref_job, res);
}

static void reset_job(struct gpu_dev *g, void *arg)
{
	struct gpu_virgl *v = g->virgl;

	(void)arg;
	while (v->nctx)
		virgl_renderer_context_destroy(v->ctx[--v->nctx]);
}

void gpu_virgl_reset(struct gpu_dev *g)
{
	vg_call(g, reset_job, NULL);
}

struct cursor_job {
	uint32_t id;
	uint32_t *data;
	bool ok;
};

static void cursor_job(struct gpu_dev *g, void *arg)
{
	struct cursor_job *j = arg;
	uint32_t w = 0, h = 0;
	void *p = virgl_renderer_get_cursor_data(j->id, &w, &h);

	(void)g;
	j->ok = p && w == VHU_GPU_CURSOR_DIM && h == VHU_GPU_CURSOR_DIM;
	if (j->ok)
		memcpy(j->data, p, VHU_GPU_CURSOR_DIM * VHU_GPU_CURSOR_DIM * 4);
	free(p);
}

bool gpu_virgl_cursor(struct gpu_dev *g, struct gpu_resource *res, uint32_t *data)
{
	struct cursor_job j = { .id = res->id, .data = data };

	vg_call(g, cursor_job, &j);
	if (!j.ok)
		vhu_logf(g->log, VHU_LOG_WARN, "UPDATE_CURSOR: no image of resource %u", res->id);
	return j.ok;
}
