/* SPDX-License-Identifier: MIT */
/*
 * The 2D commands of virtio-gpu (virtio 1.2, "Device Operation: controlq"),
 * the cursor queue's commands and fences. A command reads its struct once
 * from the driver's buffers, checks every value against the resource and
 * scanout it names, and answers OK_NODATA, an OK_* body or one of the
 * ERR_* codes; a bad command fails alone.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include <vhu/gpu.h>

size_t gpu_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t gpu_iov_write(const struct iovec *iov, unsigned int n, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const uint8_t *)buf + done, chunk);
		done += chunk;
	}
	return done;
}

/* The pixman layout of a virtio-gpu format (names are byte order, little-endian host). */
pixman_format_code_t gpu_pixman_format(uint32_t format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
		return PIXMAN_a8r8g8b8;
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
		return PIXMAN_x8r8g8b8;
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
		return PIXMAN_b8g8r8a8;
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
		return PIXMAN_b8g8r8x8;
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
		return PIXMAN_a8b8g8r8;
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
		return PIXMAN_r8g8b8x8;
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
		return PIXMAN_r8g8b8a8;
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return PIXMAN_x8b8g8r8;
	default:
		return 0;
	}
}

void gpu_init(struct gpu_dev *g, uint32_t num_scanouts, uint64_t max_hostmem)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->num_scanouts = num_scanouts;
	g->max_hostmem = max_hostmem;
	g->max_contexts = GPU_MAX_CONTEXTS;
	g->sock = -1;
	g->reply_timeout_ms = GPU_REPLY_TIMEOUT_MS;
	/* spec: the device signals the display configuration at start */
	g->events_read = VIRTIO_GPU_EVENT_DISPLAY;
}

struct gpu_resource *gpu_find(struct gpu_dev *g, uint32_t id)
{
	for (struct gpu_resource *r = g->res; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void disable_scanout(struct gpu_dev *g, uint32_t id)
{
	if (!g->scanout[id].resource_id)
		return;
	memset(&g->scanout[id], 0, sizeof(g->scanout[id]));
	(void)gpu_show_scanout(g, id, 0, 0);
}

static void destroy(struct gpu_dev *g, struct gpu_resource *res)
{
	for (struct gpu_resource **p = &g->res; *p; p = &(*p)->next) {
		if (*p == res) {
			*p = res->next;
			break;
		}
	}
	for (uint32_t i = 0; i < g->num_scanouts; i++)
		if (g->scanout[i].resource_id == res->id)
			disable_scanout(g, i);
	g->hostmem -= res->host_size;
	g->nres--;
#ifdef VHU_GPU_VIRGL
	if (res->virgl)
		gpu_virgl_unref(g, res);
#endif
	if (res->image)
		pixman_image_unref(res->image);
	free(res->backing);
	free(res->iov);
	free(res);
}

void gpu_reset(struct gpu_dev *g)
{
	pthread_mutex_lock(&g->lock);
	while (g->res)
		destroy(g, g->res);
#ifdef VHU_GPU_VIRGL
	if (g->virgl)
		gpu_virgl_reset(g);
#endif
	pthread_mutex_unlock(&g->lock);
}

void gpu_fini(struct gpu_dev *g)
{
	gpu_reset(g);
#ifdef VHU_GPU_VIRGL
	if (g->virgl)
		gpu_virgl_stop(g);
#endif
	gpu_sock_close(g);
	pthread_mutex_destroy(&g->lock);
}

/* Whether @r lies inside a @width x @height resource (overflow-safe). */
bool gpu_rect_inside(const struct virtio_gpu_rect *r, uint32_t width, uint32_t height)
{
	uint32_t x = le32toh(r->x), y = le32toh(r->y), w = le32toh(r->width),
		 h = le32toh(r->height);

	return x <= width && w <= width - x && y <= height && h <= height - y;
}

#define FAIL GPU_FAIL

uint32_t gpu_res_admit(struct gpu_dev *g, const char *what, uint32_t id, uint64_t size)
{
	if (id == 0 || gpu_find(g, id))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "%s: resource id %u is 0 or in use", what, id);
	if (g->nres >= GPU_MAX_RESOURCES || size > g->max_hostmem - g->hostmem)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
			    "%s: resource %u of %" PRIu64
			    " bytes over the host memory cap (%" PRIu64 " of %" PRIu64
			    " bytes used, %u resources)",
			    what, id, size, g->hostmem, g->max_hostmem, g->nres);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu_res_add(struct gpu_dev *g, struct gpu_resource *res)
{
	res->next = g->res;
	g->res = res;
	g->nres++;
	g->hostmem += res->host_size;
}

static uint32_t create_2d(struct gpu_dev *g, const struct virtio_gpu_resource_create_2d *c)
{
	uint32_t id = le32toh(c->resource_id), format = le32toh(c->format);
	uint32_t width = le32toh(c->width), height = le32toh(c->height);
	pixman_format_code_t pf = gpu_pixman_format(format);
	struct gpu_resource *res;
	uint64_t size = (uint64_t)width * height * 4;
	uint32_t ret;

	if (!pf)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "RESOURCE_CREATE_2D: unknown format %u", format);
	if (!width || !height || width > GPU_MAX_DIM || height > GPU_MAX_DIM)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "RESOURCE_CREATE_2D: %ux%u (1..%u each)", width, height, GPU_MAX_DIM);
	ret = gpu_res_admit(g, "RESOURCE_CREATE_2D", id, size);
	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res->image = pixman_image_create_bits(pf, (int)width, (int)height, NULL, 0);
	if (!res->image) {
		free(res);
		return FAIL(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "RESOURCE_CREATE_2D: no memory");
	}
	res->id = id;
	res->format = format;
	res->width = width;
	res->height = height;
	res->host_size = size;
	gpu_res_add(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t unref(struct gpu_dev *g, uint32_t id)
{
	struct gpu_resource *res = gpu_find(g, id);

	if (!res)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "RESOURCE_UNREF: no resource %u", id);
	destroy(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t set_scanout(struct gpu_dev *g, const struct virtio_gpu_set_scanout *ss)
{
	uint32_t id = le32toh(ss->scanout_id), rid = le32toh(ss->resource_id);
	struct gpu_resource *res;
	struct gpu_scanout *s;

	if (id >= g->num_scanouts)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
			    "SET_SCANOUT: scanout %u (the device has %u)", id, g->num_scanouts);
	if (rid == 0) {
		disable_scanout(g, id);
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = gpu_find(g, rid);
	if (!res)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "SET_SCANOUT: no resource %u", rid);
	if (!gpu_rect_inside(&ss->r, res->width, res->height) || !ss->r.width || !ss->r.height)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "SET_SCANOUT: rectangle outside resource %u", rid);
	/* what the display gets is read back as one of the 2D formats */
	if (res->virgl && (res->target != GPU_TARGET_2D || !gpu_pixman_format(res->format)))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "SET_SCANOUT: resource %u (target %u, format %u) cannot be shown", rid,
			    res->target, res->format);
	s = &g->scanout[id];
	s->resource_id = rid;
	s->r.x = le32toh(ss->r.x);
	s->r.y = le32toh(ss->r.y);
	s->r.width = le32toh(ss->r.width);
	s->r.height = le32toh(ss->r.height);
	(void)gpu_show_scanout(g, id, s->r.width, s->r.height);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static void flush_boxes(struct gpu_dev *g, const struct gpu_resource *res,
			const pixman_box32_t *want,
			void (*show)(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
				     const pixman_box32_t *box))
{
	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		const struct gpu_scanout *s = &g->scanout[i];
		int32_t sx2 = (int32_t)(s->r.x + s->r.width), sy2 = (int32_t)(s->r.y + s->r.height);
		pixman_box32_t box;

		if (s->resource_id != res->id)
			continue;
		box.x1 = want->x1 > (int32_t)s->r.x ? want->x1 : (int32_t)s->r.x;
		box.y1 = want->y1 > (int32_t)s->r.y ? want->y1 : (int32_t)s->r.y;
		box.x2 = want->x2 < sx2 ? want->x2 : sx2;
		box.y2 = want->y2 < sy2 ? want->y2 : sy2;
		if (box.x1 < box.x2 && box.y1 < box.y2)
			show(g, i, res, &box);
	}
}

static void show_2d(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
		    const pixman_box32_t *box)
{
	(void)gpu_show_update(g, id, res, box);
}

uint32_t gpu_flush(struct gpu_dev *g, const struct virtio_gpu_resource_flush *rf,
		   void (*show)(struct gpu_dev *g, uint32_t id, const struct gpu_resource *res,
				const pixman_box32_t *box))
{
	uint32_t rid = le32toh(rf->resource_id);
	struct gpu_resource *res = gpu_find(g, rid);
	pixman_box32_t want;

	if (!res)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "RESOURCE_FLUSH: no resource %u", rid);
	if (!gpu_rect_inside(&rf->r, res->width, res->height))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "RESOURCE_FLUSH: rectangle outside resource %u", rid);
	want.x1 = (int32_t)le32toh(rf->r.x);
	want.y1 = (int32_t)le32toh(rf->r.y);
	want.x2 = want.x1 + (int32_t)le32toh(rf->r.width);
	want.y2 = want.y1 + (int32_t)le32toh(rf->r.height);
	flush_boxes(g, res, &want, show);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The backing of @res as iovecs into guest memory (malloc'd into *@out). */
int gpu_backing_iov(struct vhu_vq *vq, const struct gpu_resource *res, struct iovec **out,
		    unsigned int *n)
{
	unsigned int max = res->nbacking * 4, used = 0;
	struct iovec *iov = calloc(max, sizeof(*iov));

	if (!iov)
		return -ENOMEM;
	for (uint32_t i = 0; i < res->nbacking; i++) {
		int ret = vhu_vq_gpa_iov(vq, le64toh(res->backing[i].addr),
					 le32toh(res->backing[i].length), iov + used, max - used);

		if (ret < 0) {
			free(iov);
			return ret;
		}
		used += (unsigned int)ret;
	}
	*out = iov;
	*n = used;
	return 0;
}

static uint32_t transfer(struct gpu_dev *g, struct vhu_vq *vq,
			 const struct virtio_gpu_transfer_to_host_2d *t)
{
	uint32_t rid = le32toh(t->resource_id);
	struct gpu_resource *res = gpu_find(g, rid);
	uint32_t x = le32toh(t->r.x), y = le32toh(t->r.y);
	uint32_t w = le32toh(t->r.width), h = le32toh(t->r.height);
	uint64_t offset = le64toh(t->offset), src_stride, end;
	uint8_t *data;
	int dst_stride;
	struct iovec *iov;
	unsigned int n;
	size_t row = (size_t)w * 4;

	if (!res || !res->backing)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "TRANSFER_TO_HOST_2D: no resource %u, or it has no backing", rid);
	if (!gpu_rect_inside(&t->r, res->width, res->height))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "TRANSFER_TO_HOST_2D: rectangle outside resource %u", rid);
	/* the backing has the resource's layout: rows of width * 4 bytes */
	src_stride = (uint64_t)res->width * 4;
	if (h && (__builtin_mul_overflow(src_stride, (uint64_t)(h - 1), &end) ||
		  __builtin_add_overflow(end, offset + row, &end) || offset > UINT64_MAX / 2))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "TRANSFER_TO_HOST_2D: offset %" PRIu64 " overflows", offset);
	if (gpu_backing_iov(vq, res, &iov, &n) < 0)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "TRANSFER_TO_HOST_2D: backing of resource %u not in guest memory", rid);
	data = (uint8_t *)pixman_image_get_data(res->image);
	dst_stride = pixman_image_get_stride(res->image);
	for (uint32_t r = 0; r < h; r++) {
		size_t got = gpu_iov_read(
			iov, n, offset + src_stride * r,
			data + (size_t)(y + r) * (size_t)dst_stride + (size_t)x * 4, row);

		if (got != row) {
			free(iov);
			return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				    "TRANSFER_TO_HOST_2D: rows past the end of the backing of "
				    "resource %u",
				    rid);
		}
	}
	free(iov);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_read_backing(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
			  const struct virtio_gpu_resource_attach_backing *ab,
			  struct virtio_gpu_mem_entry **out)
{
	uint32_t rid = le32toh(ab->resource_id), nr = le32toh(ab->nr_entries);
	struct gpu_resource *res = gpu_find(g, rid);
	struct virtio_gpu_mem_entry *ents;
	size_t size = (size_t)nr * sizeof(*ents);
	struct iovec probe[4];

	if (!res)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "RESOURCE_ATTACH_BACKING: no resource %u", rid);
	if (res->backing)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC,
			    "RESOURCE_ATTACH_BACKING: resource %u has a backing already", rid);
	if (nr == 0 || nr > GPU_MAX_BACKING)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "RESOURCE_ATTACH_BACKING: %u entries (1..%u)", nr, GPU_MAX_BACKING);
	ents = malloc(size);
	if (!ents)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (gpu_iov_read(req->iov, req->out_num, sizeof(*ab), ents, size) != size) {
		free(ents);
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "RESOURCE_ATTACH_BACKING: %u entries announced, fewer sent", nr);
	}
	for (uint32_t i = 0; i < nr; i++) {
		int ret = vhu_vq_gpa_iov(vq, le64toh(ents[i].addr), le32toh(ents[i].length), probe,
					 4);

		if (ret <= 0) {
			uint64_t addr = le64toh(ents[i].addr);
			uint32_t len = le32toh(ents[i].length);

			free(ents);
			return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				    "RESOURCE_ATTACH_BACKING: entry %u of resource %u (0x%" PRIx64
				    ", %u bytes) is not in guest memory",
				    i, rid, addr, len);
		}
	}
	*out = ents;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t attach(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		       const struct virtio_gpu_resource_attach_backing *ab)
{
	struct gpu_resource *res = gpu_find(g, le32toh(ab->resource_id));
	struct virtio_gpu_mem_entry *ents;
	uint32_t ret = gpu_read_backing(g, vq, req, ab, &ents);

	if (ret != VIRTIO_GPU_RESP_OK_NODATA)
		return ret;
	res->backing = ents;
	res->nbacking = le32toh(ab->nr_entries);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t detach(struct gpu_dev *g, uint32_t rid)
{
	struct gpu_resource *res = gpu_find(g, rid);

	if (!res || !res->backing)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
			    "RESOURCE_DETACH_BACKING: no resource %u, or it has no backing", rid);
	free(res->backing);
	res->backing = NULL;
	res->nbacking = 0;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t display_info(struct gpu_dev *g, union gpu_resp *resp, size_t *len)
{
	if (gpu_sock_call(g, VHU_GPU_REQ_GET_DISPLAY_INFO, NULL, 0, &resp->info,
			  sizeof(resp->info)) < 0)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_DISPLAY_INFO: no display");
	*len = sizeof(resp->info);
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t get_edid(struct gpu_dev *g, uint32_t scanout, union gpu_resp *resp, size_t *len)
{
	struct vhu_gpu_edid_request r = { .scanout_id = scanout };

	if (!g->edid)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID: EDID not negotiated");
	if (scanout >= g->num_scanouts)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, "GET_EDID: scanout %u",
			    scanout);
	(void)gpu_sock_ready(g); /* the GPU protocol features are known after it */
	if (!(g->sock_protocol & VHU_BIT(VHU_GPU_PROTOCOL_F_EDID)))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC,
			    "GET_EDID: the display does not give EDIDs");
	if (gpu_sock_call(g, VHU_GPU_REQ_GET_EDID, &r, sizeof(r), &resp->edid, sizeof(resp->edid)) <
	    0)
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID: no display");
	if (le32toh(resp->edid.size) > sizeof(resp->edid.edid))
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID: the display sent %u bytes",
			    le32toh(resp->edid.size));
	*len = sizeof(resp->edid);
	return VIRTIO_GPU_RESP_OK_EDID;
}

/* The command struct each type needs: the driver must send at least that. */
static size_t cmd_size(uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return sizeof(struct virtio_gpu_ctrl_hdr);
	case VIRTIO_GPU_CMD_GET_EDID:
		return sizeof(struct virtio_gpu_cmd_get_edid);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return sizeof(struct virtio_gpu_resource_create_2d);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return sizeof(struct virtio_gpu_resource_unref);
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return sizeof(struct virtio_gpu_set_scanout);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return sizeof(struct virtio_gpu_resource_flush);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return sizeof(struct virtio_gpu_transfer_to_host_2d);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return sizeof(struct virtio_gpu_resource_attach_backing);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return sizeof(struct virtio_gpu_resource_detach_backing);
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		return sizeof(struct virtio_gpu_get_capset_info);
	case VIRTIO_GPU_CMD_GET_CAPSET:
		return sizeof(struct virtio_gpu_get_capset);
	case VIRTIO_GPU_CMD_CTX_CREATE:
		return sizeof(struct virtio_gpu_ctx_create);
	case VIRTIO_GPU_CMD_CTX_DESTROY:
		return sizeof(struct virtio_gpu_ctx_destroy);
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		return sizeof(struct virtio_gpu_ctx_resource);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		return sizeof(struct virtio_gpu_resource_create_3d);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
	case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
		return sizeof(struct virtio_gpu_transfer_host_3d);
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		return sizeof(struct virtio_gpu_cmd_submit);
	default:
		return 0;
	}
}

static uint32_t run(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		    const union gpu_cmd *c, union gpu_resp *resp, size_t *len)
{
	uint32_t type = le32toh(c->hdr.type);

#ifdef VHU_GPU_VIRGL
	/* virgl mode: every resource lives in virglrenderer, 2D ones too */
	if (g->virgl && type != VIRTIO_GPU_CMD_GET_DISPLAY_INFO &&
	    type != VIRTIO_GPU_CMD_GET_EDID && type != VIRTIO_GPU_CMD_RESOURCE_UNREF &&
	    type != VIRTIO_GPU_CMD_SET_SCANOUT)
		return gpu_virgl_cmd(g, vq, req, c, resp, len);
#endif
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return display_info(g, resp, len);
	case VIRTIO_GPU_CMD_GET_EDID:
		return get_edid(g, le32toh(c->edid.scanout), resp, len);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return create_2d(g, &c->c2d);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return unref(g, le32toh(c->unref.resource_id));
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return set_scanout(g, &c->ss);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return gpu_flush(g, &c->rf, show_2d);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return transfer(g, vq, &c->t2d);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return attach(g, vq, req, &c->ab);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return detach(g, le32toh(c->db.resource_id));
	default:
		return FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "command 0x%x is not supported", type);
	}
}

uint32_t gpu_ctrl(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req)
{
	union gpu_cmd c;
	union gpu_resp resp;
	size_t got, len = sizeof(resp.hdr);
	uint32_t type;

	memset(&c, 0, sizeof(c));
	memset(&resp, 0, sizeof(resp));
	got = gpu_iov_read(req->iov, req->out_num, 0, &c, sizeof(c)); /* read once */
	pthread_mutex_lock(&g->lock);
	g->stats.commands++;
	if (got < sizeof(c.hdr)) {
		type = FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "a command of %zu bytes, shorter than its header", got);
	} else if (got < cmd_size(le32toh(c.hdr.type))) {
		type = FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
			    "command 0x%x: %zu bytes, it needs %zu", le32toh(c.hdr.type), got,
			    cmd_size(le32toh(c.hdr.type)));
	} else {
		type = run(g, vq, req, &c, &resp, &len);
	}
#ifdef VHU_GPU_VIRGL
	/* virgl runs commands asynchronously: a fence waits for their work */
	if (g->virgl && got >= sizeof(c.hdr) && (le32toh(c.hdr.flags) & VIRTIO_GPU_FLAG_FENCE) &&
	    gpu_virgl_fence(g, le32toh(c.hdr.ctx_id)) < 0) {
		type = FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC,
			    "fence %" PRIu64 ": not signalled in %u ms", le64toh(c.hdr.fence_id),
			    GPU_FENCE_TIMEOUT_MS);
		len = sizeof(resp.hdr);
	}
#endif
	if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC)
		g->stats.errors++;
	pthread_mutex_unlock(&g->lock);
	resp.hdr.type = htole32(type);
	/* spec: "VIRTIO_GPU_FLAG_FENCE": the response carries the fence back,
	 * after the command's work is done (2D is synchronous; virgl waited) */
	if (got >= sizeof(c.hdr) && (le32toh(c.hdr.flags) & VIRTIO_GPU_FLAG_FENCE)) {
		resp.hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
		resp.hdr.fence_id = c.hdr.fence_id;
		resp.hdr.ctx_id = c.hdr.ctx_id;
		resp.hdr.ring_idx = c.hdr.ring_idx;
	}
	return (uint32_t)gpu_iov_write(req->iov + req->out_num, req->in_num, &resp, len);
}

/* The cursor image: a 64x64 resource, converted to a8r8g8b8. */
static bool cursor_image(struct gpu_dev *g, uint32_t rid, uint32_t *data)
{
	struct gpu_resource *res = gpu_find(g, rid);
	pixman_image_t *dst;

	if (!res || res->width != VHU_GPU_CURSOR_DIM || res->height != VHU_GPU_CURSOR_DIM) {
		vhu_logf(g->log, VHU_LOG_WARN, "UPDATE_CURSOR: resource %u is not a 64x64 one",
			 rid);
		return false;
	}
#ifdef VHU_GPU_VIRGL
	if (res->virgl)
		return gpu_virgl_cursor(g, res, data);
#endif
	dst = pixman_image_create_bits(PIXMAN_a8r8g8b8, VHU_GPU_CURSOR_DIM, VHU_GPU_CURSOR_DIM,
				       data, VHU_GPU_CURSOR_DIM * 4);
	if (!dst)
		return false;
	pixman_image_composite32(PIXMAN_OP_SRC, res->image, NULL, dst, 0, 0, 0, 0, 0, 0,
				 VHU_GPU_CURSOR_DIM, VHU_GPU_CURSOR_DIM);
	pixman_image_unref(dst);
	return true;
}

void gpu_cursor(struct gpu_dev *g, const struct vhu_req *req)
{
	struct virtio_gpu_update_cursor c;
	static struct vhu_gpu_cursor_update up; /* one cursor queue, one worker */
	uint32_t type, rid;

	if (gpu_iov_read(req->iov, req->out_num, 0, &c, sizeof(c)) != sizeof(c)) {
		vhu_logf(g->log, VHU_LOG_WARN, "cursor command shorter than %zu bytes", sizeof(c));
		return;
	}
	type = le32toh(c.hdr.type);
	rid = le32toh(c.resource_id);
	memset(&up, 0, sizeof(up));
	up.pos.scanout_id = le32toh(c.pos.scanout_id);
	up.pos.x = le32toh(c.pos.x);
	up.pos.y = le32toh(c.pos.y);
	up.hot_x = le32toh(c.hot_x);
	up.hot_y = le32toh(c.hot_y);
	pthread_mutex_lock(&g->lock);
	if (up.pos.scanout_id >= g->num_scanouts) {
		vhu_logf(g->log, VHU_LOG_WARN, "cursor on scanout %u (the device has %u)",
			 up.pos.scanout_id, g->num_scanouts);
	} else if (type == VIRTIO_GPU_CMD_UPDATE_CURSOR && rid) {
		if (cursor_image(g, rid, up.data))
			(void)gpu_sock_send(g, VHU_GPU_REQ_CURSOR_UPDATE, &up, sizeof(up), NULL, 0);
	} else if (type == VIRTIO_GPU_CMD_UPDATE_CURSOR || type == VIRTIO_GPU_CMD_MOVE_CURSOR) {
		/* resource 0: the cursor is hidden */
		(void)gpu_sock_send(g, rid ? VHU_GPU_REQ_CURSOR_POS : VHU_GPU_REQ_CURSOR_POS_HIDE,
				    &up.pos, sizeof(up.pos), NULL, 0);
	} else {
		vhu_logf(g->log, VHU_LOG_WARN, "cursor command 0x%x is not supported", type);
	}
	pthread_mutex_unlock(&g->lock);
}
