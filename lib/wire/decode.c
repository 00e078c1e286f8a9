/* SPDX-License-Identifier: MIT */
/*
 * Validation is decoding: a message reaches a handler only after it fits the
 * row of its request id. Nothing here trusts hdr.size or nfds.
 */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "wire/wire.h"
#include <vhu/gpu.h>

static int check_flags(enum vhu_dir dir, uint32_t flags, bool want_reply)
{
	/*
	 * vhost-user-gpu.rst defines only the reply bit, set on every reply.
	 * QEMU's back-end (7.2 to 10.x) sends UPDATE with flags it never
	 * initialised, and QEMU's front-end ignores a request's flags: so do we.
	 */
	if (dir == VHU_DIR_GPU)
		return !want_reply || (flags & VHU_FLAG_REPLY) ? 0 : -EPROTO;
	if ((flags & VHU_FLAG_VERSION_MASK) != VHU_VERSION)
		return -EPROTO;
	if (flags & VHU_FLAG_RESERVED_MASK)
		return -EPROTO;
	if (!!(flags & VHU_FLAG_REPLY) != want_reply)
		return -EPROTO;
	return 0;
}

static int check_row(enum vhu_dir dir, const struct vhu_rule *rule, const struct vhu_msg_hdr *hdr,
		     unsigned int nfds)
{
	int ret;

	if (!rule)
		return -ENOTSUP;
	ret = check_flags(dir, hdr->flags, false);
	if (ret < 0)
		return ret;
	if (hdr->size < rule->min_size || hdr->size > rule->max_size)
		return -EMSGSIZE;
	if (nfds < rule->min_fds || nfds > rule->max_fds)
		return -EBADMSG;
	return 0;
}

int vhu_msg_check(enum vhu_dir dir, const struct vhu_msg *msg, const struct vhu_rule **out)
{
	const struct vhu_rule *rule = vhu_rule_find(dir, msg->hdr.request);

	if (rule)
		*out = rule;
	return check_row(dir, rule, &msg->hdr, msg->nfds);
}

int vhu_msg_view(enum vhu_dir dir, const struct vhu_msg *msg, struct vhu_msg_view *v)
{
	int ret;

	v->rule = vhu_rule_find(dir, msg->hdr.request);
	v->name = v->rule ? v->rule->name : vhu_rule_name(dir, msg->hdr.request);
	ret = check_row(dir, v->rule, &msg->hdr, msg->nfds);
	v->queue = ret == 0 ? vhu_msg_queue_index(v->rule, msg) : -ENOENT;
	return ret;
}

static int reply_hdr_check(enum vhu_dir dir, uint32_t request, bool need_reply,
			   const struct vhu_msg_hdr *hdr, unsigned int nfds)
{
	const struct vhu_rule *rule = vhu_rule_find(dir, request);
	bool body_ok, ack_ok;
	int ret;

	if (!rule || hdr->request != request)
		return -EPROTO;
	ret = check_flags(dir, hdr->flags & ~VHU_FLAG_NEED_REPLY, true);
	if (ret < 0)
		return ret;
	/* An ack is a u64; a body must fit the reply half of the row. */
	ack_ok = need_reply && rule->reply != VHU_REPLY_ALWAYS && hdr->size == VHU_ACK_SIZE;
	body_ok = rule->reply != VHU_REPLY_ACK && hdr->size >= rule->reply_min_size &&
		  hdr->size <= rule->reply_max_size;
	if (!ack_ok && !body_ok)
		return -EMSGSIZE;
	if (nfds > (body_ok ? rule->reply_max_fds : 0u))
		return -EBADMSG;
	return 0;
}

int vhu_reply_check(enum vhu_dir dir, uint32_t request, bool need_reply,
		    const struct vhu_msg *reply)
{
	return reply_hdr_check(dir, request, need_reply, &reply->hdr, reply->nfds);
}

/* The GPU socket has no acks: a reply is the body its row names. */
int vhu_gpu_hdr_check(const struct vhu_msg_hdr *hdr, unsigned int nfds, bool reply)
{
	if (reply)
		return reply_hdr_check(VHU_DIR_GPU, hdr->request, false, hdr, nfds);
	return check_row(VHU_DIR_GPU, vhu_rule_find(VHU_DIR_GPU, hdr->request), hdr, nfds);
}

int vhu_gpu_msg_fits(const struct vhu_msg_hdr *hdr, unsigned int nfds)
{
	return vhu_gpu_hdr_check(hdr, nfds, hdr->flags & VHU_GPU_FLAG_REPLY);
}

const char *vhu_gpu_request_name(uint32_t request)
{
	return vhu_rule_name(VHU_DIR_GPU, request);
}

int vhu_msg_decode(enum vhu_dir dir, const uint8_t *buf, size_t len, const int *fds,
		   unsigned int nfds, struct vhu_msg *out)
{
	const struct vhu_rule *rule;
	int ret = -EMSGSIZE;

	memset(&out->hdr, 0, sizeof(out->hdr));
	memset(&out->payload, 0, sizeof(out->payload));
	out->nfds = 0;
	if (nfds > VHU_MAX_FDS) {
		ret = -EBADMSG;
		goto err_close;
	}
	if (len < sizeof(out->hdr))
		goto err_close;
	memcpy(&out->hdr, buf, sizeof(out->hdr));
	if (out->hdr.size > VHU_MAX_PAYLOAD || len - sizeof(out->hdr) != out->hdr.size)
		goto err_close;
	memcpy(&out->payload, buf + sizeof(out->hdr), out->hdr.size);
	for (unsigned int i = 0; i < nfds; i++)
		out->fds[i] = fds[i];
	out->nfds = nfds;
	ret = vhu_msg_check(dir, out, &rule);
	if (ret < 0)
		vhu_msg_close_fds(out);
	return ret;

err_close:
	for (unsigned int i = 0; i < nfds; i++) {
		int fd = fds[i];

		vhu_close_fd(&fd);
	}
	return ret;
}

int vhu_msg_fits(enum vhu_dir dir, const struct vhu_msg *msg)
{
	const struct vhu_rule *rule;

	if (msg->hdr.flags & VHU_FLAG_REPLY)
		return vhu_reply_check(dir, msg->hdr.request, true, msg);
	return vhu_msg_check(dir, msg, &rule);
}

int64_t vhu_msg_queue_index(const struct vhu_rule *rule, const struct vhu_msg *msg)
{
	switch (rule->queue) {
	case VHU_QUEUE_IN_STATE:
		return msg->payload.state.index;
	case VHU_QUEUE_IN_ADDR:
		return msg->payload.addr.index;
	case VHU_QUEUE_IN_U64:
		return (int64_t)(msg->payload.u64 & VHU_VRING_IDX_MASK);
	case VHU_QUEUE_IN_AREA:
		return (int64_t)(msg->payload.area.u64 & VHU_VRING_IDX_MASK);
	default:
		return -ENOENT;
	}
}

void vhu_msg_init(struct vhu_msg *msg, uint32_t request, uint32_t flags, uint32_t size)
{
	msg->hdr.request = request;
	msg->hdr.flags = VHU_VERSION | flags;
	msg->hdr.size = size;
	memset(&msg->payload, 0, VHU_MIN(size, (uint32_t)sizeof(msg->payload)));
	msg->nfds = 0;
}

int vhu_msg_take_fd(struct vhu_msg *msg, unsigned int i)
{
	if (i >= msg->nfds)
		return -1;
	return vhu_fd_take(&msg->fds[i]);
}

void vhu_msg_close_fds(struct vhu_msg *msg)
{
	vhu_close_fds(msg->fds, VHU_MIN(msg->nfds, VHU_MAX_FDS));
	msg->nfds = 0;
}
