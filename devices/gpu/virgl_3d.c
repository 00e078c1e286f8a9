/* SPDX-License-Identifier: MIT */
/*
 * --virgl: the commands only virgl has (contexts, SUBMIT_3D, 3D transfers,
 * capsets), and the dispatch of every command virgl mode runs on the virgl
 * thread (virgl.c has the thread, the resources and the scanouts).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virgl/virglrenderer.h>

#include "gpu.h"
#include "virgl.h"

/* A 3D transfer's box inside level 0 of @res (levels are smaller), overflow-safe. */
static bool box_inside(const struct gpu_resource *res, const struct virtio_gpu_box *b)
{
	uint32_t x = le32toh(b->x), y = le32toh(b->y), z = le32toh(b->z);
	uint32_t w = le32toh(b->w), h = le32toh(b->h), d = le32toh(b->d);

	return x <= res->width && w <= res->width - x && y <= res->height && h <= res->height - y &&
	       z <= GPU_MAX_DEPTH && d <= GPU_MAX_DEPTH - z;
}

static uint32_t transfer_3d(struct gpu_dev *g, const struct virtio_gpu_transfer_host_3d *t,
			    bool to_host)
{
	const char *what = to_host ? "TRANSFER_TO_HOST_3D" : "TRANSFER_FROM_HOST_3D";
	uint32_t rid = le32toh(t->resource_id), ctx = le32toh(t->hdr.ctx_id);
	uint32_t level = le32toh(t->level);
	struct gpu_resource *res = vg_res(g, rid);
	struct vg_box box = { le32toh(t->box.x), le32toh(t->box.y), le32toh(t->box.z),
			      le32toh(t->box.w), le32toh(t->box.h), le32toh(t->box.d) };
	int err;

	if (!res || !res->backing)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
				"%s: no resource %u, or it has no backing", what, rid);
	if (ctx && vg_ctx_index(g->virgl, ctx) < 0)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "%s: no context %u",
				what, ctx);
	if (!box_inside(res, &t->box) || level > MAX_LAST_LEVEL)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"%s: box or level %u outside resource %u", what, level, rid);
	/* virglrenderer checks the box against the level and the backing's size */
	if (to_host)
		err = virgl_renderer_transfer_write_iov(
			rid, ctx, (int)level, le32toh(t->stride), le32toh(t->layer_stride),
			(struct virgl_box *)&box, le64toh(t->offset), NULL, 0);
	else
		err = virgl_renderer_transfer_read_iov(
			rid, ctx, level, le32toh(t->stride), le32toh(t->layer_stride),
			(struct virgl_box *)&box, le64toh(t->offset), NULL, 0);
	if (err)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"%s: resource %u: virglrenderer refused it (%s)", what, rid,
				strerror(abs(err)));
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t ctx_create(struct gpu_dev *g, const struct virtio_gpu_ctx_create *c)
{
	struct gpu_virgl *v = g->virgl;
	uint32_t id = le32toh(c->hdr.ctx_id), nlen = le32toh(c->nlen);
	char name[sizeof(c->debug_name) + 1];

	if (!id || vg_ctx_index(v, id) >= 0)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
				"CTX_CREATE: context id %u is 0 or in use", id);
	if (nlen > sizeof(c->debug_name) || le32toh(c->context_init))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"CTX_CREATE: context %u: name of %u bytes, context_init 0x%x", id,
				nlen, le32toh(c->context_init));
	if (v->nctx >= g->max_contexts)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
				"CTX_CREATE: context %u: %u contexts already", id, v->nctx);
	memcpy(name, c->debug_name, nlen);
	name[nlen] = '\0';
	if (virgl_renderer_context_create(id, nlen, name))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC,
				"CTX_CREATE: virglrenderer refused context %u", id);
	v->ctx[v->nctx++] = id;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t ctx_destroy(struct gpu_dev *g, uint32_t id)
{
	struct gpu_virgl *v = g->virgl;
	int i = vg_ctx_index(v, id);

	if (i < 0)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
				"CTX_DESTROY: no context %u", id);
	virgl_renderer_context_destroy(id);
	v->ctx[i] = v->ctx[--v->nctx];
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t ctx_resource(struct gpu_dev *g, const struct virtio_gpu_ctx_resource *c,
			     bool attach)
{
	uint32_t id = le32toh(c->hdr.ctx_id), rid = le32toh(c->resource_id);
	const char *what = attach ? "CTX_ATTACH_RESOURCE" : "CTX_DETACH_RESOURCE";

	if (vg_ctx_index(g->virgl, id) < 0)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "%s: no context %u",
				what, id);
	if (!vg_res(g, rid))
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "%s: no resource %u",
				what, rid);
	if (attach)
		virgl_renderer_ctx_attach_resource((int)id, (int)rid);
	else
		virgl_renderer_ctx_detach_resource((int)id, (int)rid);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* SUBMIT_3D: the command stream, copied once (the guest may change it), to virglrenderer */
static uint32_t submit(struct gpu_dev *g, const struct vhu_req *req,
		       const struct virtio_gpu_cmd_submit *c)
{
	uint32_t id = le32toh(c->hdr.ctx_id), size = le32toh(c->size);
	uint32_t *buf;
	int err;

	if (vg_ctx_index(g->virgl, id) < 0)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
				"SUBMIT_3D: no context %u", id);
	if (size % 4 || size > GPU_MAX_SUBMIT)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"SUBMIT_3D: context %u: %u bytes (whole dwords, at most %u)", id,
				size, GPU_MAX_SUBMIT);
	buf = malloc(size ? size : 4);
	if (!buf)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (gpu_iov_read(req->iov, req->out_num, sizeof(*c), buf, size) != size) {
		free(buf);
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"SUBMIT_3D: context %u: %u bytes announced, fewer sent", id, size);
	}
	err = virgl_renderer_submit_cmd(buf, (int)id, (int)(size / 4));
	free(buf);
	if (err)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"SUBMIT_3D: context %u: virglrenderer refused the command stream "
				"(%s); the context stays in error",
				id, strerror(abs(err)));
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t capset_info(struct gpu_dev *g, uint32_t index, union gpu_resp *resp, size_t *len)
{
	struct gpu_virgl *v = g->virgl;

	if (index >= v->ncapsets)
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
				"GET_CAPSET_INFO: capset %u (the device has %u)", index,
				v->ncapsets);
	resp->capset_info.capset_id = htole32(v->capset_id[index]);
	resp->capset_info.capset_max_version = htole32(v->capset_ver[index]);
	resp->capset_info.capset_max_size = htole32(v->capset_size[index]);
	*len = sizeof(resp->capset_info);
	return VIRTIO_GPU_RESP_OK_CAPSET_INFO;
}

static size_t in_size(const struct vhu_req *req)
{
	size_t n = 0;

	for (unsigned int i = 0; i < req->in_num; i++)
		n += req->iov[req->out_num + i].iov_len;
	return n;
}

static uint32_t capset(struct gpu_dev *g, const struct vhu_req *req,
		       const struct virtio_gpu_get_capset *c, union gpu_resp *resp, size_t *len)
{
	struct gpu_virgl *v = g->virgl;
	uint32_t id = le32toh(c->capset_id), ver = le32toh(c->capset_version);

	for (uint32_t i = 0; i < v->ncapsets; i++) {
		size_t want = sizeof(resp->hdr) + v->capset_size[i];

		if (v->capset_id[i] != id)
			continue;
		if (ver > v->capset_ver[i])
			return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
					"GET_CAPSET: capset %u version %u (at most %u)", id, ver,
					v->capset_ver[i]);
		if (in_size(req) < want)
			return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
					"GET_CAPSET: capset %u needs a %zu-byte response buffer",
					id, want);
		virgl_renderer_fill_caps(id, ver, resp->capset + sizeof(resp->hdr));
		*len = want;
		return VIRTIO_GPU_RESP_OK_CAPSET;
	}
	return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "GET_CAPSET: no capset %u", id);
}

struct cmd_job {
	struct vhu_vq *vq;
	const struct vhu_req *req;
	const union gpu_cmd *c;
	union gpu_resp *resp;
	size_t *len;
	uint32_t ret;
};

static uint32_t run(struct gpu_dev *g, struct cmd_job *j)
{
	const union gpu_cmd *c = j->c;
	uint32_t type = le32toh(c->hdr.type);

	switch (type) {
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return vg_create_2d(g, &c->c2d);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		return vg_create(g, "RESOURCE_CREATE_3D", &c->c3d);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return vg_attach(g, j->vq, j->req, &c->ab);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return vg_detach(g, le32toh(c->db.resource_id));
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return vg_transfer_2d(g, &c->t2d);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
		return transfer_3d(g, &c->t3d, true);
	case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
		return transfer_3d(g, &c->t3d, false);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return vg_flush(g, &c->rf);
	case VIRTIO_GPU_CMD_CTX_CREATE:
		return ctx_create(g, &c->ctx_create);
	case VIRTIO_GPU_CMD_CTX_DESTROY:
		return ctx_destroy(g, le32toh(c->hdr.ctx_id));
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
		return ctx_resource(g, &c->ctx_res, true);
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		return ctx_resource(g, &c->ctx_res, false);
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		return submit(g, j->req, &c->submit);
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		return capset_info(g, le32toh(c->capset_info.capset_index), j->resp, j->len);
	case VIRTIO_GPU_CMD_GET_CAPSET:
		return capset(g, j->req, &c->capset, j->resp, j->len);
	default:
		return GPU_FAIL(g, VIRTIO_GPU_RESP_ERR_UNSPEC, "command 0x%x is not supported",
				type);
	}
}

static void cmd_job(struct gpu_dev *g, void *arg)
{
	struct cmd_job *j = arg;

	vg_refresh(g, j->vq);
	j->ret = run(g, j);
}

uint32_t gpu_virgl_cmd(struct gpu_dev *g, struct vhu_vq *vq, const struct vhu_req *req,
		       const union gpu_cmd *c, union gpu_resp *resp, size_t *len)
{
	struct cmd_job j = { .vq = vq, .req = req, .c = c, .resp = resp, .len = len };

	vg_call(g, cmd_job, &j);
	return j.ret;
}
