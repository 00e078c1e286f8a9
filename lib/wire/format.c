/* SPDX-License-Identifier: MIT */
/*
 * vhu_msg_format(): one message as text or JSON, every payload field named
 * by the layout of its request (include/vhu/protocol.h). Pure data, like the
 * rest of lib/wire: the payload is never trusted, so a layout is used only
 * when hdr.size holds it, and counts inside it are bounded by hdr.size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "wire/wire.h"
#include <vhu/gpu.h>

struct out {
	char *buf;
	size_t size;
	size_t len; /* what the whole text needs */
	bool json;
	unsigned int nfields; /* in the current object */
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
		      o->len < o->size ? o->size - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void key(struct out *o, const char *k)
{
	if (o->json)
		put(o, "%s\"%s\": ", o->nfields ? ", " : "", k);
	else
		put(o, " %s=", k);
	o->nfields++;
}

static void u64(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	put(o, "%" PRIu64, v);
}

static void hex(struct out *o, const char *k, uint64_t v)
{
	key(o, k);
	put(o, o->json ? "\"0x%" PRIx64 "\"" : "0x%" PRIx64, v);
}

static void flag(struct out *o, const char *k, bool v)
{
	key(o, k);
	put(o, "%s", v ? "true" : "false");
}

static void bytes(struct out *o, const char *k, const uint8_t *p, size_t n)
{
	size_t shown = VHU_MIN(n, (size_t)64);

	key(o, k);
	put(o, "%s", o->json ? "\"" : "");
	for (size_t i = 0; i < shown; i++)
		put(o, "%02x", p[i]);
	put(o, "%s%s", shown < n ? "..." : "", o->json ? "\"" : "");
}

/* Objects inside the fields: "name": {...} or name={...}. */
static unsigned int open_obj(struct out *o, const char *k)
{
	unsigned int saved = o->nfields;

	if (k)
		key(o, k);
	else if (o->json && o->nfields)
		put(o, ", ");
	put(o, "{");
	o->nfields = 0;
	return saved + (k ? 0 : 1);
}

static void close_obj(struct out *o, unsigned int saved)
{
	put(o, o->json ? "}" : " }");
	o->nfields = saved;
}

static void region(struct out *o, const struct vhu_mem_region *r)
{
	hex(o, "guest_phys_addr", r->guest_phys_addr);
	hex(o, "memory_size", r->memory_size);
	hex(o, "userspace_addr", r->userspace_addr);
	hex(o, "mmap_offset", r->mmap_offset);
}

static void mem_table(struct out *o, const struct vhu_msg *m)
{
	const struct vhu_mem_table *t = &m->payload.mem_table;
	uint32_t room = (m->hdr.size - (uint32_t)offsetof(struct vhu_mem_table, regions)) /
			(uint32_t)sizeof(struct vhu_mem_region);
	uint32_t n = VHU_MIN(VHU_MIN(t->nregions, room), VHU_MEM_TABLE_MAX_REGIONS);
	unsigned int saved;

	u64(o, "nregions", t->nregions);
	key(o, "regions");
	put(o, "[");
	saved = o->nfields;
	for (uint32_t i = 0; i < n; i++) {
		put(o, "%s{", i ? (o->json ? ", " : " ") : "");
		o->nfields = 0;
		region(o, &t->regions[i]);
		put(o, o->json ? "}" : " }");
	}
	put(o, "]");
	o->nfields = saved;
}

static void state(struct out *o, const struct vhost_vring_state *s)
{
	u64(o, "index", s->index);
	u64(o, "num", s->num);
}

static void ring_u64(struct out *o, uint64_t v)
{
	u64(o, "index", v & VHU_VRING_IDX_MASK);
	flag(o, "nofd", v & VHU_VRING_NOFD_MASK);
	if (v & ~(VHU_VRING_IDX_MASK | VHU_VRING_NOFD_MASK))
		hex(o, "reserved", v & ~(VHU_VRING_IDX_MASK | VHU_VRING_NOFD_MASK));
}

static void iotlb(struct out *o, const struct vhost_iotlb_msg *t)
{
	hex(o, "iova", t->iova);
	hex(o, "size", t->size);
	hex(o, "uaddr", t->uaddr);
	u64(o, "perm", t->perm);
	u64(o, "type", t->type);
}

static void config(struct out *o, const struct vhu_msg *m)
{
	const struct vhu_config *c = &m->payload.config;
	uint32_t have = m->hdr.size - VHU_CONFIG_HDR_SIZE;

	u64(o, "offset", c->offset);
	u64(o, "size", c->size);
	hex(o, "flags", c->flags);
	if (have)
		bytes(o, "region", c->region, VHU_MIN(have, VHU_MAX_CONFIG_SIZE));
}

/* The fields of a front-end request (or its reply body) that has a layout. Return: shown. */
static bool to_backend(struct out *o, const struct vhu_msg *m, bool reply)
{
	const union vhu_payload *p = &m->payload;
	uint32_t size = m->hdr.size;

#define HAS(type) (size >= sizeof(type))
	switch (m->hdr.request) {
	case VHU_REQ_GET_FEATURES:
	case VHU_REQ_SET_FEATURES:
	case VHU_REQ_GET_PROTOCOL_FEATURES:
	case VHU_REQ_SET_PROTOCOL_FEATURES:
	case VHU_REQ_SET_STATUS:
	case VHU_REQ_GET_STATUS:
		if (size != sizeof(uint64_t))
			return false;
		hex(o,
		    m->hdr.request == VHU_REQ_SET_STATUS || m->hdr.request == VHU_REQ_GET_STATUS
			    ? "status"
			    : "features",
		    p->u64);
		return true;
	case VHU_REQ_GET_QUEUE_NUM:
	case VHU_REQ_GET_MAX_MEM_SLOTS:
	case VHU_REQ_NET_SET_MTU:
	case VHU_REQ_CREATE_CRYPTO_SESSION:
		if (size != sizeof(uint64_t))
			return false;
		u64(o, m->hdr.request == VHU_REQ_NET_SET_MTU ? "mtu" : "value", p->u64);
		return true;
	case VHU_REQ_SET_VRING_NUM:
	case VHU_REQ_SET_VRING_BASE:
	case VHU_REQ_GET_VRING_BASE:
	case VHU_REQ_SET_VRING_ENABLE:
	case VHU_REQ_VRING_KICK:
	case VHU_REQ_SET_VRING_ENDIAN:
		if (!HAS(struct vhost_vring_state))
			return false;
		state(o, &p->state);
		return true;
	case VHU_REQ_SET_VRING_ADDR:
		if (!HAS(struct vhost_vring_addr))
			return false;
		u64(o, "index", p->addr.index);
		hex(o, "flags", p->addr.flags);
		hex(o, "desc_user_addr", p->addr.desc_user_addr);
		hex(o, "used_user_addr", p->addr.used_user_addr);
		hex(o, "avail_user_addr", p->addr.avail_user_addr);
		hex(o, "log_guest_addr", p->addr.log_guest_addr);
		return true;
	case VHU_REQ_SET_VRING_KICK:
	case VHU_REQ_SET_VRING_CALL:
	case VHU_REQ_SET_VRING_ERR:
		if (size != sizeof(uint64_t))
			return false;
		ring_u64(o, p->u64);
		return true;
	case VHU_REQ_SET_MEM_TABLE:
		if (size < offsetof(struct vhu_mem_table, regions))
			return false;
		mem_table(o, m);
		return true;
	case VHU_REQ_ADD_MEM_REG:
	case VHU_REQ_REM_MEM_REG:
		if (!HAS(struct vhu_mem_reg))
			return false;
		region(o, &p->mem_reg.region);
		return true;
	case VHU_REQ_SET_LOG_BASE:
		if (size == sizeof(uint64_t) && !reply) {
			hex(o, "base", p->u64);
			return true;
		}
		if (!HAS(struct vhu_log_area))
			return false;
		hex(o, "mmap_size", p->log.mmap_size);
		hex(o, "mmap_offset", p->log.mmap_offset);
		return true;
	case VHU_REQ_IOTLB_MSG:
		if (!HAS(struct vhost_iotlb_msg))
			return false;
		iotlb(o, &p->iotlb);
		return true;
	case VHU_REQ_GET_CONFIG:
	case VHU_REQ_SET_CONFIG:
		if (size < VHU_CONFIG_HDR_SIZE)
			return false;
		config(o, m);
		return true;
	case VHU_REQ_SEND_RARP:
		if (size != sizeof(uint64_t))
			return false;
		bytes(o, "mac", p->raw, 6);
		return true;
	case VHU_REQ_GET_INFLIGHT_FD:
	case VHU_REQ_SET_INFLIGHT_FD:
		if (!HAS(struct vhu_inflight))
			return false;
		hex(o, "mmap_size", p->inflight.mmap_size);
		hex(o, "mmap_offset", p->inflight.mmap_offset);
		u64(o, "num_queues", p->inflight.num_queues);
		u64(o, "queue_size", p->inflight.queue_size);
		return true;
	case VHU_REQ_SET_DEVICE_STATE_FD:
		if (reply || !HAS(struct vhu_device_state_transfer))
			return false;
		u64(o, "direction", p->transfer.direction);
		u64(o, "phase", p->transfer.phase);
		return true;
	case VHU_REQ_GET_SHARED_OBJECT:
		if (reply || !HAS(struct vhu_shared_object))
			return false;
		bytes(o, "uuid", p->shared.uuid, VHU_UUID_LEN);
		return true;
	default:
		return false;
	}
#undef HAS
}

/* The fields of a back-end request that has a layout. Return: shown. */
static bool to_frontend(struct out *o, const struct vhu_msg *m)
{
	const union vhu_payload *p = &m->payload;
	uint32_t size = m->hdr.size;

	switch (m->hdr.request) {
	case VHU_BACKEND_REQ_IOTLB_MSG:
		if (size < sizeof(struct vhost_iotlb_msg))
			return false;
		iotlb(o, &p->iotlb);
		return true;
	case VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG:
		if (size < sizeof(struct vhu_vring_area))
			return false;
		ring_u64(o, p->area.u64);
		hex(o, "size", p->area.size);
		hex(o, "offset", p->area.offset);
		return true;
	case VHU_BACKEND_REQ_VRING_CALL:
	case VHU_BACKEND_REQ_VRING_ERR:
		if (size < sizeof(struct vhost_vring_state))
			return false;
		state(o, &p->state);
		return true;
	case VHU_BACKEND_REQ_SHARED_OBJECT_ADD:
	case VHU_BACKEND_REQ_SHARED_OBJECT_REMOVE:
	case VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP:
		if (size < sizeof(struct vhu_shared_object))
			return false;
		bytes(o, "uuid", p->shared.uuid, VHU_UUID_LEN);
		return true;
	case VHU_BACKEND_REQ_SHMEM_MAP:
	case VHU_BACKEND_REQ_SHMEM_UNMAP:
		if (size < sizeof(struct vhu_shmem_map))
			return false;
		u64(o, "shmid", p->shmem_map.shmid);
		hex(o, "fd_offset", p->shmem_map.fd_offset);
		hex(o, "shm_offset", p->shmem_map.shm_offset);
		hex(o, "len", p->shmem_map.len);
		hex(o, "flags", p->shmem_map.flags);
		return true;
	default:
		return false;
	}
}

/* The head of a GPU socket rectangle: UPDATE, DMABUF_UPDATE and the dmabuf scanouts share it. */
static void gpu_rect(struct out *o, const uint32_t *v)
{
	u64(o, "scanout_id", v[0]);
	u64(o, "x", v[1]);
	u64(o, "y", v[2]);
	u64(o, "width", v[3]);
	u64(o, "height", v[4]);
}

static void gpu_display_info(struct out *o, const struct virtio_gpu_resp_display_info *d)
{
	unsigned int saved;
	bool first = true;

	u64(o, "type", d->hdr.type);
	key(o, "scanouts");
	put(o, "[");
	saved = o->nfields;
	for (unsigned int i = 0; i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
		const struct virtio_gpu_display_one *p = &d->pmodes[i];

		if (!p->enabled)
			continue;
		put(o, "%s{", first ? "" : (o->json ? ", " : " "));
		first = false;
		o->nfields = 0;
		u64(o, "scanout_id", i);
		u64(o, "x", p->r.x);
		u64(o, "y", p->r.y);
		u64(o, "width", p->r.width);
		u64(o, "height", p->r.height);
		hex(o, "flags", p->flags);
		put(o, o->json ? "}" : " }");
	}
	put(o, "]");
	o->nfields = saved;
}

/*
 * The fields of a GPU socket message. @m holds the first hdr.size bytes
 * (at most a payload's worth); @size is the whole payload, which may be far
 * larger (an UPDATE's pixels). Return: shown.
 */
static bool gpu(struct out *o, const struct vhu_msg *m, uint32_t size, bool reply)
{
	const union vhu_payload *p = &m->payload;
	uint32_t have = m->hdr.size;
	uint32_t v[10];

	memcpy(v, p->raw, sizeof(v)); /* the union is larger: reading past have gives zeros */
	switch (m->hdr.request) {
	case VHU_GPU_REQ_GET_PROTOCOL_FEATURES:
	case VHU_GPU_REQ_SET_PROTOCOL_FEATURES:
		if (size != sizeof(uint64_t))
			return false;
		hex(o, "features", p->u64);
		return true;
	case VHU_GPU_REQ_GET_DISPLAY_INFO:
		if (!reply || size != sizeof(struct virtio_gpu_resp_display_info))
			return false;
		gpu_display_info(o, (const void *)p->raw);
		return true;
	case VHU_GPU_REQ_CURSOR_POS:
	case VHU_GPU_REQ_CURSOR_POS_HIDE:
	case VHU_GPU_REQ_SCANOUT:
		if (size != sizeof(struct vhu_gpu_scanout))
			return false;
		u64(o, "scanout_id", v[0]);
		u64(o, m->hdr.request == VHU_GPU_REQ_SCANOUT ? "width" : "x", v[1]);
		u64(o, m->hdr.request == VHU_GPU_REQ_SCANOUT ? "height" : "y", v[2]);
		return true;
	case VHU_GPU_REQ_CURSOR_UPDATE:
		if (size != sizeof(struct vhu_gpu_cursor_update))
			return false;
		u64(o, "scanout_id", v[0]);
		u64(o, "x", v[1]);
		u64(o, "y", v[2]);
		u64(o, "hot_x", v[3]);
		u64(o, "hot_y", v[4]);
		u64(o, "image_bytes", size - 20u);
		return true;
	case VHU_GPU_REQ_UPDATE:
	case VHU_GPU_REQ_DMABUF_UPDATE:
		if (reply || size < sizeof(struct vhu_gpu_update) || have < 20)
			return false;
		gpu_rect(o, v);
		if (m->hdr.request == VHU_GPU_REQ_UPDATE) {
			uint64_t want = (uint64_t)v[3] * v[4] * 4u;

			u64(o, "pixel_bytes", size - 20u);
			flag(o, "pixels_fit", want == size - 20u);
		}
		return true;
	case VHU_GPU_REQ_DMABUF_SCANOUT:
	case VHU_GPU_REQ_DMABUF_SCANOUT2:
		if (size < sizeof(struct vhu_gpu_dmabuf_scanout))
			return false;
		gpu_rect(o, v);
		u64(o, "fd_width", v[5]);
		u64(o, "fd_height", v[6]);
		u64(o, "fd_stride", v[7]);
		hex(o, "fd_flags", v[8]);
		hex(o, "fd_drm_fourcc", v[9]);
		if (size >= sizeof(struct vhu_gpu_dmabuf_scanout2)) {
			uint64_t modifier;

			memcpy(&modifier,
			       p->raw + offsetof(struct vhu_gpu_dmabuf_scanout2, modifier),
			       sizeof(modifier));
			hex(o, "modifier", modifier);
		}
		return true;
	case VHU_GPU_REQ_GET_EDID:
		if (!reply && size == sizeof(struct vhu_gpu_edid_request)) {
			u64(o, "scanout_id", v[0]);
			return true;
		}
		if (!reply || size != sizeof(struct virtio_gpu_resp_edid))
			return false;
		{
			const struct virtio_gpu_resp_edid *e = (const void *)p->raw;

			u64(o, "type", e->hdr.type);
			u64(o, "edid_size", e->size);
			bytes(o, "edid", e->edid, VHU_MIN((size_t)e->size, sizeof(e->edid)));
		}
		return true;
	default:
		return false;
	}
}

/* A reply that is an ack (a u64 where the request has no body of its own). */
static bool is_ack(enum vhu_dir dir, const struct vhu_msg *m)
{
	const struct vhu_rule *rule = vhu_rule_find(dir, m->hdr.request);

	return dir != VHU_DIR_GPU && (m->hdr.flags & VHU_FLAG_REPLY) &&
	       m->hdr.size == VHU_ACK_SIZE && rule && rule->reply != VHU_REPLY_ALWAYS &&
	       !(dir == VHU_DIR_TO_BACKEND && (m->hdr.request == VHU_REQ_SET_LOG_BASE ||
					       m->hdr.request == VHU_REQ_SET_DEVICE_STATE_FD));
}

size_t vhu_msg_format(enum vhu_dir dir, const struct vhu_msg *msg, bool json, char *buf,
		      size_t size)
{
	struct out o = { .buf = buf, .size = size, .json = json };
	bool reply = msg->hdr.flags & VHU_FLAG_REPLY;
	uint32_t shown = VHU_MIN(msg->hdr.size, (uint32_t)sizeof(msg->payload));
	int fits;
	struct vhu_msg m = { .hdr = msg->hdr };
	unsigned int saved;
	bool known;

	if (size)
		buf[0] = '\0';
	if (dir == VHU_DIR_GPU) {
		/* QEMU's back-end sends UPDATE with flags it never initialised: the
		 * REPLY bit on an id that is never answered is a request's */
		const struct vhu_rule *rule = vhu_rule_find(dir, msg->hdr.request);

		reply = reply && rule && rule->reply != VHU_REPLY_ACK;
		fits = vhu_gpu_hdr_check(&msg->hdr, msg->nfds, reply);
	} else {
		fits = vhu_msg_fits(dir, msg);
	}
	/* a short payload reads as zeros, never as what lies past it */
	memcpy(&m.payload, &msg->payload, shown);
	m.hdr.size = shown;
	if (json) {
		put(&o,
		    "{\"request\": \"%s\", \"id\": %" PRIu32 ", \"flags\": \"0x%" PRIx32
		    "\", \"reply\": %s, \"need_reply\": %s, \"size\": %" PRIu32
		    ", \"nfds\": %u, \"fits\": %s",
		    vhu_rule_name(dir, msg->hdr.request), msg->hdr.request, msg->hdr.flags,
		    reply ? "true" : "false",
		    dir != VHU_DIR_GPU && (msg->hdr.flags & VHU_FLAG_NEED_REPLY) ? "true" : "false",
		    msg->hdr.size, msg->nfds, fits == 0 ? "true" : "false");
		o.nfields = 1;
	} else {
		put(&o, "%s%s%s size=%" PRIu32 " fds=%u", vhu_rule_name(dir, msg->hdr.request),
		    reply ? " reply" : "",
		    dir != VHU_DIR_GPU && (msg->hdr.flags & VHU_FLAG_NEED_REPLY) ? " need_reply"
										 : "",
		    msg->hdr.size, msg->nfds);
		if (fits < 0)
			put(&o, " [does not fit its row: %s]",
			    fits == -ENOTSUP	? "unknown request"
			    : fits == -EPROTO	? "flags"
			    : fits == -EMSGSIZE ? "payload size"
						: "fd count");
	}
	saved = open_obj(&o, "fields");
	if (is_ack(dir, &m)) {
		u64(&o, "ack", m.payload.u64);
		known = true;
	} else {
		known = dir == VHU_DIR_TO_BACKEND ? to_backend(&o, &m, reply)
			: dir == VHU_DIR_GPU	  ? gpu(&o, &m, msg->hdr.size, reply)
						  : to_frontend(&o, &m);
	}
	if (!known && shown)
		bytes(&o, "payload", m.payload.raw, shown); /* the first 64 bytes shown */
	close_obj(&o, saved);
	if (json)
		put(&o, "}");
	return o.len;
}
