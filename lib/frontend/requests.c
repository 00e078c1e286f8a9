/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "frontend/requests.h"
#include "transport/transport.h"

static int fail(struct vhu_fe_chan *ch, const char *why, int ret)
{
	vhu_fe_set_error(ch, why);
	return ret;
}

/*
 * A reply that does not fit its row, or a stream that cannot be read as
 * messages: what comes next cannot be trusted to line up with what we
 * asked, so the connection ends here. shutdown(), not close(): the socket
 * is its owner's, and the back-end (and our channel thread) see the end.
 */
int vhu_fe_broken(struct vhu_fe_chan *ch, const char *why)
{
	vhu_fe_set_error(ch, why);
	__atomic_store_n(&ch->broken, true, __ATOMIC_RELEASE);
	(void)shutdown(ch->sock, SHUT_RDWR);
	return -EPROTO;
}

static const char *reply_error(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return "reply does not fit its row (wrong payload size)";
	case -EBADMSG:
		return "reply does not fit its row (fds it may not carry)";
	default:
		return "reply does not fit its row (not a reply to this request, or bad flags)";
	}
}

static int request(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply, bool expect);

/* Most messages of the back-end's taken while one reply is awaited. */
#define MAX_UNSOLICITED 16u

/*
 * Receive the reply; with a hook, messages of the back-end's that are not
 * replies (no REPLY flag) may come first: each goes to the hook.
 */
static int recv_reply(struct vhu_fe_chan *ch, struct vhu_msg *reply)
{
	for (unsigned int n = 0;; n++) {
		int ret = vhu_msg_recv(ch->sock, reply);

		if (ret < 0 || !ch->unsolicited || (reply->hdr.flags & VHU_FLAG_REPLY))
			return ret;
		ret = ch->unsolicited(ch->opaque, reply);
		vhu_msg_close_fds(reply);
		if (ret < 0)
			return vhu_fe_broken(ch, "a message of the back-end's was refused");
		if (n + 1 >= MAX_UNSOLICITED)
			return vhu_fe_broken(ch,
					     "the back-end sends messages instead of the reply");
	}
}

static int locked_request(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply,
			  bool expect)
{
	int ret;

	if (!ch->lock)
		return request(ch, req, reply, expect);
	pthread_mutex_lock(ch->lock);
	ret = request(ch, req, reply, expect);
	pthread_mutex_unlock(ch->lock);
	return ret;
}

int vhu_fe_request(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply)
{
	return locked_request(ch, req, reply, false);
}

int vhu_fe_request_answered(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply)
{
	return locked_request(ch, req, reply, true);
}

static int request(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply, bool expect)
{
	const struct vhu_rule *rule;
	bool need_reply = req->hdr.flags & VHU_FLAG_NEED_REPLY;
	struct vhu_msg ack;
	int ret;

	vhu_fe_set_error(ch, NULL);
	/* Never put on the wire what we would reject ourselves. */
	ret = vhu_msg_check(VHU_DIR_TO_BACKEND, req, &rule);
	if (ret < 0)
		return fail(ch, "request does not fit its own row", -EINVAL);
	vhu_trace(ch->log, "-> %s size %u nfds %u", rule->name, req->hdr.size, req->nfds);
	ret = vhu_msg_send(ch->sock, req);
	if (ret < 0)
		return fail(ch, "send failed", ret);
	if (rule->reply != VHU_REPLY_ALWAYS && !need_reply && !expect)
		return 0;
	if (!reply)
		reply = &ack;
	ret = recv_reply(ch, reply);
	if (ret == -EPROTO && __atomic_load_n(&ch->broken, __ATOMIC_ACQUIRE))
		return ret; /* recv_reply's hook refused a message: why is said */
	if (ret == -ECONNRESET || ret == -EAGAIN || ret == -EINTR)
		return fail(ch, "no reply", ret);
	if (ret < 0 && ret != -EBADMSG)
		return vhu_fe_broken(ch, "the reply cannot be read as a message");
	if (ret == 0)
		ret = vhu_reply_check(VHU_DIR_TO_BACKEND, req->hdr.request, need_reply, reply);
	if (ret < 0) {
		vhu_msg_close_fds(reply);
		return vhu_fe_broken(ch, reply_error(ret));
	}
	vhu_trace(ch->log, "<- %s size %u nfds %u", rule->name, reply->hdr.size, reply->nfds);
	if (rule->reply == VHU_REPLY_ALWAYS || reply->hdr.size != VHU_ACK_SIZE ||
	    (rule->reply == VHU_REPLY_CONDITIONAL && !need_reply))
		return 1;
	/* an ack: 0 is success */
	vhu_msg_close_fds(reply);
	return reply->payload.u64 ? fail(ch, "back-end reported failure", -EIO) : 0;
}

int vhu_fe_send(struct vhu_fe_chan *ch, struct vhu_msg *req)
{
	const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_BACKEND, req->hdr.request);
	struct vhu_msg reply;
	int ret;

	if (rule && rule->reply != VHU_REPLY_ALWAYS &&
	    (ch->protocol_features & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)))
		req->hdr.flags |= VHU_FLAG_NEED_REPLY;
	ret = vhu_fe_request(ch, req, &reply);
	if (ret > 0) {
		vhu_msg_close_fds(&reply);
		ret = 0;
	}
	return ret;
}

int vhu_fe_get_u64(struct vhu_fe_chan *ch, uint32_t request, uint64_t *out)
{
	struct vhu_msg req, reply;
	int ret;

	vhu_msg_init(&req, request, 0, 0);
	ret = vhu_fe_request(ch, &req, &reply);
	if (ret < 0)
		return ret;
	if (ret == 0 || reply.hdr.size != sizeof(uint64_t)) {
		vhu_msg_close_fds(&reply);
		return vhu_fe_broken(ch, "reply is not a u64");
	}
	vhu_msg_close_fds(&reply);
	*out = reply.payload.u64;
	return 0;
}

int vhu_fe_set_u64(struct vhu_fe_chan *ch, uint32_t request, uint64_t value)
{
	bool ack = ch->protocol_features & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK);
	struct vhu_msg req, reply;
	int ret;

	vhu_msg_init(&req, request, ack ? VHU_FLAG_NEED_REPLY : 0, sizeof(uint64_t));
	req.payload.u64 = value;
	ret = vhu_fe_request(ch, &req, &reply);
	if (ret > 0) {
		vhu_msg_close_fds(&reply);
		return 0;
	}
	return ret;
}

int vhu_fe_get_config(struct vhu_fe_chan *ch, uint32_t offset, uint32_t size, void *buf)
{
	struct vhu_msg req, reply;
	int ret;

	if (size > VHU_MAX_CONFIG_SIZE)
		return -EINVAL;
	vhu_msg_init(&req, VHU_REQ_GET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + size);
	req.payload.config.offset = offset;
	req.payload.config.size = size;
	ret = vhu_fe_request(ch, &req, &reply);
	if (ret < 0)
		return ret;
	vhu_msg_close_fds(&reply);
	/* spec: "GET_CONFIG": a reply whose size is not what was asked reports failure */
	if (reply.hdr.size != VHU_CONFIG_HDR_SIZE + size || reply.payload.config.size != size)
		return fail(ch, "back-end could not read its config space", -EIO);
	memcpy(buf, reply.payload.config.region, size);
	return 0;
}
