/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: negotiation, gating and REPLY_ACK checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conform.h"
#include <vhu/names.h>

#define SEC_COMM "vhost-user.rst: Communication"
#define SEC_ACK "vhost-user.rst: VHOST_USER_PROTOCOL_F_REPLY_ACK"

static void get_features(struct ctx *cx)
{
	struct vhu_msg m;
	struct conn c;
	int ret;

	if ((ret = conn_open(cx, &c)) < 0)
		return fail(cx, "connect: %s", strerror(-ret));
	ret = conn_send(&c, VHU_REQ_GET_FEATURES, VHU_VERSION, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = conn_recv(&c, &m);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "GET_FEATURES: %s", err_text(ret));
	if (m.hdr.request != VHU_REQ_GET_FEATURES)
		return fail(cx, "the reply is to request %u", m.hdr.request);
	if (m.hdr.flags != (VHU_VERSION | VHU_FLAG_REPLY))
		return fail(cx, "reply flags 0x%x, want 0x%x (version 1, REPLY)", m.hdr.flags,
			    VHU_VERSION | VHU_FLAG_REPLY);
	if (m.hdr.size != 8)
		return fail(cx, "reply payload of %u bytes, want a u64", m.hdr.size);
	pass(cx, "features 0x%llx%s", (unsigned long long)m.payload.u64,
	     m.payload.u64 & VHU_BIT(VHU_F_PROTOCOL_FEATURES) ? ", PROTOCOL_FEATURES offered" : "");
}

static void protocol_before_set_features(struct ctx *cx)
{
	struct conn c;
	uint64_t v;
	int ret;

	if (!(cx->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES)))
		return na(cx, "VHOST_USER_F_PROTOCOL_FEATURES not offered");
	if ((ret = conn_open(cx, &c)) < 0)
		return fail(cx, "connect: %s", strerror(-ret));
	ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &v);
	if (ret == 0)
		ret = conn_get_u64(&c, VHU_REQ_GET_PROTOCOL_FEATURES, &v);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "GET_PROTOCOL_FEATURES before SET_FEATURES: %s", err_text(ret));
	pass(cx, "protocol features 0x%llx", (unsigned long long)v);
}

/* Protocol-gated requests, each sent while its gate is not negotiated. */
static const struct gated {
	uint32_t req;
	unsigned int bit;
	uint32_t size;
} gated[] = {
	{ VHU_REQ_SET_CONFIG, VHU_PROTOCOL_F_CONFIG, VHU_CONFIG_HDR_SIZE + 4 },
	{ VHU_REQ_RESET_DEVICE, VHU_PROTOCOL_F_RESET_DEVICE, 0 },
	{ VHU_REQ_SET_STATUS, VHU_PROTOCOL_F_STATUS, 8 },
	{ VHU_REQ_SEND_RARP, VHU_PROTOCOL_F_RARP, 8 },
	{ VHU_REQ_NET_SET_MTU, VHU_PROTOCOL_F_NET_MTU, 8 },
	{ VHU_REQ_VRING_KICK, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS, 8 },
	{ VHU_REQ_SET_VRING_ENDIAN, VHU_PROTOCOL_F_CROSS_ENDIAN, 8 },
	{ VHU_REQ_REM_MEM_REG, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS, 40 },
	{ VHU_REQ_CLOSE_CRYPTO_SESSION, VHU_PROTOCOL_F_CRYPTO_SESSION, 8 },
	{ VHU_REQ_POSTCOPY_LISTEN, VHU_PROTOCOL_F_PAGEFAULT, 0 },
};

static void gated_refused(struct ctx *cx)
{
	char accepted[256] = "", *p = accepted;
	uint8_t payload[64] = { 0 };
	unsigned int refused = 0;
	struct conn c;
	uint64_t v;
	int ret;

	if (!offered_pf(cx, VHU_PROTOCOL_F_REPLY_ACK))
		return na(cx, "REPLY_ACK not offered: a refusal cannot be seen");
	/* only REPLY_ACK: every other protocol bit stays off */
	if (conn_negotiate(cx, &c, VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VHU_F_PROTOCOL_FEATURES),
			   VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)) < 0)
		return;
	for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++) {
		ret = conn_ack(&c, gated[i].req, payload, gated[i].size, NULL, 0, &v);
		if (ret == -ECONNRESET || ret == -EPIPE) {
			note(cx, "%s: closed", vhu_request_name(gated[i].req));
			refused++;
			conn_close(&c);
			if (conn_negotiate(cx, &c,
					   VHU_BIT(VIRTIO_F_VERSION_1) |
						   VHU_BIT(VHU_F_PROTOCOL_FEATURES),
					   VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)) < 0)
				return;
			continue;
		}
		if (ret < 0) {
			fail(cx, "%s without %s: %s", vhu_request_name(gated[i].req),
			     vhu_protocol_feature_name(gated[i].bit), err_text(ret));
			break;
		}
		if (v == 0)
			p += snprintf(p, sizeof(accepted) - (size_t)(p - accepted), "%s%s",
				      p == accepted ? "" : ", ",
				      vhu_request_name(gated[i].req) + 11);
		else
			refused++;
	}
	conn_close(&c);
	if (accepted[0])
		return fail(cx, "acked 0 (success) without their protocol feature: %s", accepted);
	pass(cx, "%u gated requests refused", refused);
}

static void inband_needs_req_ack(struct ctx *cx)
{
	uint64_t pf = VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS);
	struct conn c;
	uint64_t v;
	int ret;

	if (!offered_pf(cx, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS))
		return na(cx, "INBAND_NOTIFICATIONS not offered");
	if ((ret = conn_open(cx, &c)) < 0)
		return fail(cx, "connect: %s", strerror(-ret));
	ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &v);
	if (ret == 0)
		ret = conn_send(&c, VHU_REQ_SET_PROTOCOL_FEATURES, VHU_VERSION, &pf, 8, NULL, 0);
	if (ret == 0 && !conn_wait_closed(&c, cx->timeout_ms))
		fail(cx, "INBAND_NOTIFICATIONS alone was accepted: the connection stayed open");
	else
		pass(cx, "the connection was closed");
	conn_close(&c);
}

static void unknown_request(struct ctx *cx)
{
	static const uint32_t ids[] = { 0, 99, 1000, 0xffffffffu };
	struct conn c;
	uint64_t v;
	int ret;

	if (conn_default(cx, &c) < 0)
		return;
	if (!c.ack) {
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			conn_send(&c, ids[i], VHU_VERSION, NULL, 0, NULL, 0);
		conn_close(&c);
		return pass(cx, "no REPLY_ACK: sent %zu unknown ids, the peer goes on",
			    sizeof(ids) / sizeof(ids[0]));
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		ret = conn_ack(&c, ids[i], NULL, 0, NULL, 0, &v);
		if (ret == -ECONNRESET || ret == -EPIPE) {
			conn_close(&c);
			return pass(cx, "request %u: the connection was closed", ids[i]);
		}
		if (ret < 0) {
			conn_close(&c);
			return fail(cx, "request %u with NEED_REPLY: %s", ids[i], err_text(ret));
		}
		if (v == 0) {
			conn_close(&c);
			return fail(cx, "unknown request %u acked 0 (success)", ids[i]);
		}
	}
	conn_close(&c);
	pass(cx, "ids 0, 99, 1000, 2^32-1 refused");
}

static void queue_num(struct ctx *cx)
{
	struct conn c;
	uint64_t v;
	int ret;

	if (!offered_pf(cx, VHU_PROTOCOL_F_MQ))
		return na(cx, "MQ not offered (the spec says back-ends should always offer it)");
	if (conn_default(cx, &c) < 0)
		return;
	ret = conn_get_u64(&c, VHU_REQ_GET_QUEUE_NUM, &v);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "GET_QUEUE_NUM: %s", err_text(ret));
	if (v < 1 || v > 0x8000)
		return fail(cx, "GET_QUEUE_NUM answered %llu", (unsigned long long)v);
	pass(cx, "%llu queues", (unsigned long long)v);
}

/* ---- REPLY_ACK ---------------------------------------------------------- */

static int ack_conn(struct ctx *cx, struct conn *c)
{
	if (!offered_pf(cx, VHU_PROTOCOL_F_REPLY_ACK))
		return na(cx, "REPLY_ACK not offered"), -1;
	if (conn_default(cx, c) < 0)
		return -1;
	return 0;
}

static void ack_success(struct ctx *cx)
{
	struct vhu_msg m;
	struct conn c;
	int ret;

	if (ack_conn(cx, &c) < 0)
		return;
	ret = conn_send(&c, VHU_REQ_SET_FEATURES, VHU_VERSION | VHU_FLAG_NEED_REPLY, &c.features, 8,
			NULL, 0);
	if (ret == 0)
		ret = conn_recv(&c, &m);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "SET_FEATURES with NEED_REPLY: %s", err_text(ret));
	if (m.hdr.request != VHU_REQ_SET_FEATURES)
		return fail(cx, "the reply is to request %u", m.hdr.request);
	if (!(m.hdr.flags & VHU_FLAG_REPLY) || (m.hdr.flags & VHU_FLAG_VERSION_MASK) != VHU_VERSION)
		return fail(cx, "reply flags 0x%x", m.hdr.flags);
	if (m.hdr.size != 8)
		return fail(cx, "ack payload of %u bytes, want a u64", m.hdr.size);
	if (m.payload.u64)
		return fail(cx, "a valid SET_FEATURES acked %llu",
			    (unsigned long long)m.payload.u64);
	pass(cx, "SET_FEATURES acked 0");
}

static void ack_failure(struct ctx *cx)
{
	struct vhost_vring_state st = { .index = 0, .num = 0 };
	struct conn c;
	uint64_t v;
	int ret;

	if (ack_conn(cx, &c) < 0)
		return;
	/* a ring of size 0 can never be valid (virtio: a power of 2, at least 1) */
	ret = conn_ack(&c, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0, &v);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "SET_VRING_NUM 0 with NEED_REPLY: %s", err_text(ret));
	if (v == 0)
		return fail(cx, "SET_VRING_NUM with num 0 acked 0 (success)");
	pass(cx, "SET_VRING_NUM 0 acked %llu", (unsigned long long)v);
}

static void ack_body_once(struct ctx *cx)
{
	struct vhu_msg m;
	struct conn c;
	int ret;

	if (ack_conn(cx, &c) < 0)
		return;
	ret = conn_send(&c, VHU_REQ_GET_FEATURES, VHU_VERSION | VHU_FLAG_NEED_REPLY, NULL, 0, NULL,
			0);
	if (ret == 0)
		ret = conn_recv(&c, &m);
	if (ret < 0) {
		conn_close(&c);
		return fail(cx, "GET_FEATURES with NEED_REPLY: %s", err_text(ret));
	}
	if (m.hdr.request != VHU_REQ_GET_FEATURES || m.hdr.size != 8 ||
	    m.payload.u64 != cx->features) {
		conn_close(&c);
		return fail(cx, "GET_FEATURES with NEED_REPLY answered request %u, %u bytes",
			    m.hdr.request, m.hdr.size);
	}
	ret = conn_send(&c, VHU_REQ_GET_PROTOCOL_FEATURES, VHU_VERSION, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = conn_recv(&c, &m);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "the next request: %s", err_text(ret));
	if (m.hdr.request != VHU_REQ_GET_PROTOCOL_FEATURES)
		return fail(cx, "a second reply to GET_FEATURES came (request %u, %u bytes)",
			    m.hdr.request, m.hdr.size);
	pass(cx, "one reply, the features");
}

static void ack_not_asked(struct ctx *cx)
{
	struct vhu_msg m;
	struct conn c;
	int ret;

	if (ack_conn(cx, &c) < 0)
		return;
	ret = conn_send(&c, VHU_REQ_SET_FEATURES, VHU_VERSION, &c.features, 8, NULL, 0);
	if (ret == 0)
		ret = conn_send(&c, VHU_REQ_GET_FEATURES, VHU_VERSION, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = conn_recv(&c, &m);
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "SET_FEATURES, GET_FEATURES: %s", err_text(ret));
	if (m.hdr.request != VHU_REQ_GET_FEATURES)
		return fail(cx, "SET_FEATURES without NEED_REPLY was answered (request %u)",
			    m.hdr.request);
	pass(cx, "no ack without NEED_REPLY");
}

const struct check conform_checks_proto[] = {
	{ "neg-get-features", "negotiation", SEC_COMM ", VHOST_USER_GET_FEATURES",
	  "GET_FEATURES is answered with a u64, flags version 1 and REPLY", get_features, 0 },
	{ "neg-protocol-early", "negotiation", "vhost-user.rst: VHOST_USER_GET_PROTOCOL_FEATURES",
	  "back-ends that report VHOST_USER_F_PROTOCOL_FEATURES must support this message even "
	  "before VHOST_USER_SET_FEATURES was called",
	  protocol_before_set_features, 0 },
	{ "neg-gated-refused", "negotiation", SEC_COMM,
	  "any protocol extensions are gated by protocol feature bits: a gated request is not "
	  "accepted while its bit is not negotiated",
	  gated_refused, 0 },
	{ "neg-inband-alone", "negotiation", "vhost-user.rst: In-band notifications",
	  "the back-end should close the connection when SET_PROTOCOL_FEATURES sets in-band "
	  "notifications without BACKEND_REQ and REPLY_ACK",
	  inband_needs_req_ack, 0 },
	{ "neg-unknown-request", "negotiation", SEC_ACK,
	  "a request the back-end does not know is not acked as a success", unknown_request, 0 },
	{ "neg-queue-num", "negotiation", "vhost-user.rst: Multiple queue support",
	  "GET_QUEUE_NUM answers the maximum number of queues (back-ends should always implement "
	  "MQ)",
	  queue_num, 0 },
	{ "ack-success", "reply-ack", SEC_ACK,
	  "with need_reply the back-end MUST respond with a u64, zero on success", ack_success, 0 },
	{ "ack-failure", "reply-ack", SEC_ACK,
	  "with need_reply the back-end MUST respond with a u64, non-zero on failure", ack_failure,
	  0 },
	{ "ack-body-once", "reply-ack", SEC_ACK,
	  "a message that already has an explicit reply body gets it, not a second ack",
	  ack_body_once, 0 },
	{ "ack-not-asked", "reply-ack", SEC_COMM,
	  "most requests don't require replies: without need_reply, none is sent", ack_not_asked,
	  0 },
	{ 0 },
};
