/* SPDX-License-Identifier: MIT */
/*
 * Request dispatch, the second of the two tables: lib/wire/rules.c says what
 * a well-formed request looks like, this file says who handles it. A request
 * is decoded once (vhu_msg_view: its row, name and ring, looked up once),
 * then goes through its row's checks, its gate, its ring (checked here and
 * handed to the handler as be->msg_queue), the pause
 * of the queues it changes, its handler, and the reply rule of its row. Its
 * fds are closed on every path. Only an unsendable reply ends the
 * connection; everything else fails just that request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"
#include <vhu/names.h>

static const vhu_handler_fn handlers[VHU_REQ_MAX] = {
	[VHU_REQ_GET_FEATURES] = vhu_be_get_features,
	[VHU_REQ_SET_FEATURES] = vhu_be_set_features,
	[VHU_REQ_SET_OWNER] = vhu_be_set_owner,
	[VHU_REQ_RESET_OWNER] = vhu_be_reset_owner,
	[VHU_REQ_SET_MEM_TABLE] = vhu_be_set_mem_table,
	[VHU_REQ_SET_LOG_BASE] = vhu_be_set_log_base,
	[VHU_REQ_SET_LOG_FD] = vhu_be_set_log_fd,
	[VHU_REQ_SET_VRING_NUM] = vhu_be_set_vring_num,
	[VHU_REQ_SET_VRING_ADDR] = vhu_be_set_vring_addr,
	[VHU_REQ_SET_VRING_BASE] = vhu_be_set_vring_base,
	[VHU_REQ_GET_VRING_BASE] = vhu_be_get_vring_base,
	[VHU_REQ_SET_VRING_KICK] = vhu_be_set_vring_kick,
	[VHU_REQ_SET_VRING_CALL] = vhu_be_set_vring_call,
	[VHU_REQ_SET_VRING_ERR] = vhu_be_set_vring_err,
	[VHU_REQ_VRING_KICK] = vhu_be_vring_kick,
	[VHU_REQ_GET_PROTOCOL_FEATURES] = vhu_be_get_protocol_features,
	[VHU_REQ_SET_PROTOCOL_FEATURES] = vhu_be_set_protocol_features,
	[VHU_REQ_GET_QUEUE_NUM] = vhu_be_get_queue_num,
	[VHU_REQ_SET_VRING_ENABLE] = vhu_be_set_vring_enable,
	[VHU_REQ_SET_BACKEND_REQ_FD] = vhu_be_set_backend_req_fd,
	[VHU_REQ_IOTLB_MSG] = vhu_be_iotlb_msg,
	[VHU_REQ_GET_CONFIG] = vhu_be_get_config,
	[VHU_REQ_SET_CONFIG] = vhu_be_set_config,
	[VHU_REQ_RESET_DEVICE] = vhu_be_reset_device,
	[VHU_REQ_GET_MAX_MEM_SLOTS] = vhu_be_get_max_mem_slots,
	[VHU_REQ_ADD_MEM_REG] = vhu_be_add_mem_reg,
	[VHU_REQ_REM_MEM_REG] = vhu_be_rem_mem_reg,
	[VHU_REQ_SET_STATUS] = vhu_be_set_status,
	[VHU_REQ_GET_STATUS] = vhu_be_get_status,
	[VHU_REQ_SEND_RARP] = vhu_be_send_rarp,
	[VHU_REQ_NET_SET_MTU] = vhu_be_net_set_mtu,
	[VHU_REQ_GET_INFLIGHT_FD] = vhu_be_get_inflight_fd,
	[VHU_REQ_SET_DEVICE_STATE_FD] = vhu_be_set_device_state_fd,
	[VHU_REQ_POSTCOPY_ADVISE] = vhu_be_postcopy_advise,
	[VHU_REQ_POSTCOPY_LISTEN] = vhu_be_postcopy_listen,
	[VHU_REQ_POSTCOPY_END] = vhu_be_postcopy_end,
	[VHU_REQ_CHECK_DEVICE_STATE] = vhu_be_check_device_state,
	[VHU_REQ_SET_INFLIGHT_FD] = vhu_be_set_inflight_fd,
	[VHU_REQ_GPU_SET_SOCKET] = vhu_be_gpu_set_socket,
	[VHU_REQ_GET_SHARED_OBJECT] = vhu_be_get_shared_object,
	[VHU_REQ_GET_SHMEM_CONFIG] = vhu_be_get_shmem_config,
	/* Everything else fails with -ENOTSUP: its protocol feature is never
	 * offered. */
};

/* The rows of lib/wire/rules.c and this table are indexed alike. */
static_assert(ARRAY_SIZE(handlers) == VHU_REQ_MAX, "a handler slot per request id");

/* The back-end handling a message on this thread (vhu_backend_config_changed). */
static _Thread_local const struct vhu_backend *tls_dispatching;

bool vhu_be_in_dispatch(const struct vhu_backend *be)
{
	return tls_dispatching == be;
}

int vhu_be_fail(struct vhu_backend *be, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(be->why, sizeof(be->why), fmt, ap);
	va_end(ap);
	return err;
}

static const char *gate_name(uint64_t bits)
{
	for (unsigned int bit = 0; bit < 64; bit++)
		if (bits & VHU_BIT(bit))
			return vhu_protocol_feature_name(bit);
	return NULL;
}

/* A virtio gate needs one of its bits offered; a protocol gate all of its bits negotiated. */
static int gate_check(struct vhu_backend *be, const struct vhu_rule *rule)
{
	uint64_t missing = rule->gate_protocol & ~be->protocol_features;

	if (rule->gate_features && !(vhu_be_offered_features(be) & rule->gate_features))
		return vhu_be_fail(be, -ENOTSUP,
				   "its virtio feature (0x%" PRIx64 ") is not offered",
				   rule->gate_features);
	if (missing) {
		const char *name = gate_name(missing);

		return vhu_be_fail(be, -ENOTSUP, "protocol feature %s is not negotiated",
				   name ? name : "(unknown)");
	}
	return 0;
}

/* spec: a ring index the device does not have fails the request (CVE-2020-10723 class). */
static int queue_check(struct vhu_backend *be, int64_t idx)
{
	if (idx == -ENOENT)
		return 0;
	if (idx < 0 || idx >= be->num_queues)
		return vhu_be_fail(be, -EINVAL,
				   "ring %" PRId64 " does not exist (the device has %u)", idx,
				   be->num_queues);
	be->msg_queue = &be->queues[idx];
	return 0;
}

/* The queue the row names, or all of them when it names none. */
static void pause_queues(struct vhu_backend *be, int64_t idx)
{
	if (idx >= 0)
		vhu_be_queue_pause(&be->queues[idx]);
	else
		vhu_be_queues_pause_all(be);
}

static void resume_queues(struct vhu_backend *be, int64_t idx)
{
	if (idx >= 0)
		vhu_be_queue_resume(&be->queues[idx]);
	else
		vhu_be_queues_resume_all(be);
}

static const char *check_error(int err)
{
	switch (err) {
	case -ENOTSUP:
		return "unknown request";
	case -EPROTO:
		return "bad header flags";
	case -EMSGSIZE:
		return "payload size does not fit the request";
	case -EBADMSG:
		return "wrong number of fds";
	default:
		return strerror(-err);
	}
}

/*
 * Everything up to the reply, on the one decode of @msg (@v, @check: its
 * row, name, queue and whether it fits). Return: 0 or why it failed.
 */
static int request_run(struct vhu_backend *be, struct vhu_msg *msg, int recv_err,
		       const struct vhu_msg_view *v, int check, struct vhu_msg *reply)
{
	uint32_t req = msg->hdr.request;
	int ret = check;

	be->msg_queue = NULL;
	if (recv_err < 0)
		ret = vhu_be_fail(be, recv_err, "more fds than a message may carry (dropped)");
	else if (ret < 0)
		ret = vhu_be_fail(be, ret, "%s", check_error(ret));
	if (ret == 0)
		ret = gate_check(be, v->rule);
	if (ret == 0)
		ret = queue_check(be, v->queue);
	if (ret == 0 && !handlers[req])
		ret = vhu_be_fail(be, -ENOTSUP, "not implemented by this back-end");
	if (ret < 0)
		return ret;
	if (v->rule->pauses_queues)
		pause_queues(be, v->queue);
	ret = handlers[req](be, msg, reply);
	if (v->rule->pauses_queues)
		resume_queues(be, v->queue);
	return ret;
}

/*
 * The answer of a VHU_REPLY_ALWAYS row whose request failed: what the spec
 * says a failure looks like, or an empty/zero answer that is valid for the
 * row. Return: 0, or -EPROTO if the row has no such answer.
 */
static int fail_body(const struct vhu_msg *msg, struct vhu_msg *reply)
{
	switch (msg->hdr.request) {
	case VHU_REQ_GET_CONFIG:
		/* spec: "GET_CONFIG": a zero-size config reports the failure */
		reply->payload.config.offset = msg->payload.config.offset;
		reply->payload.config.size = 0;
		reply->payload.config.flags = msg->payload.config.flags;
		reply->hdr.size = VHU_CONFIG_HDR_SIZE;
		return 0;
	case VHU_REQ_GET_VRING_BASE:
		/* a ring that does not exist (or is unusable) reports a never-used ring */
		reply->payload.state.index = msg->payload.state.index;
		reply->payload.state.num = 0;
		reply->hdr.size = sizeof(struct vhost_vring_state);
		return 0;
	case VHU_REQ_GET_FEATURES:
	case VHU_REQ_GET_PROTOCOL_FEATURES:
	case VHU_REQ_GET_QUEUE_NUM:
	case VHU_REQ_GET_MAX_MEM_SLOTS:
	case VHU_REQ_GET_STATUS:
		return vhu_be_reply_u64(reply, 0); /* nothing offered, no queues ... */
	case VHU_REQ_GET_SHARED_OBJECT:
	case VHU_REQ_SET_DEVICE_STATE_FD:
	case VHU_REQ_CHECK_DEVICE_STATE:
		return vhu_be_reply_u64(reply, 1); /* their u64 is 0 for success */
	case VHU_REQ_CREATE_CRYPTO_SESSION:
		return vhu_be_reply_u64(reply, UINT64_MAX); /* session id -1: no session */
	case VHU_REQ_GET_INFLIGHT_FD:
		/* mmap_size 0: no inflight region (QEMU then goes on without one) */
		memset(&reply->payload.inflight, 0, sizeof(reply->payload.inflight));
		reply->hdr.size = sizeof(struct vhu_inflight);
		return 0;
	case VHU_REQ_GET_SHMEM_CONFIG:
		reply->payload.shmem_config.nregions = 0;
		reply->payload.shmem_config.padding = 0;
		reply->hdr.size = offsetof(struct vhu_shmem_config, memory_sizes);
		return 0;
	case VHU_REQ_POSTCOPY_ADVISE:
		reply->hdr.size = 0; /* and no userfaultfd: the front-end sees the failure */
		return 0;
	default:
		return -EPROTO;
	}
}

/* Apply the row's reply rule. Return: 0, or an error that ends the connection. */
static int reply_send(struct vhu_backend *be, const struct vhu_msg *msg,
		      const struct vhu_rule *rule, int err, struct vhu_msg *reply)
{
	bool ack = vhu_be_has_protocol(be, VHU_PROTOCOL_F_REPLY_ACK) &&
		   (msg->hdr.flags & VHU_FLAG_NEED_REPLY);

	/*
	 * spec: "SET_LOG_BASE": with LOG_SHMFD the front-end waits for an
	 * answer whatever the flags say (QEMU reads one). A u64 as
	 * libvhost-user sends, 0 or the errno: QEMU only checks the request.
	 */
	if (msg->hdr.request == VHU_REQ_SET_LOG_BASE &&
	    vhu_be_has_protocol(be, VHU_PROTOCOL_F_LOG_SHMFD))
		ack = true;
	/* QEMU waits on these whenever it sets NEED_REPLY, REPLY_ACK or not */
	if ((msg->hdr.request == VHU_REQ_POSTCOPY_LISTEN ||
	     msg->hdr.request == VHU_REQ_POSTCOPY_END) &&
	    (msg->hdr.flags & VHU_FLAG_NEED_REPLY))
		ack = true;
	/*
	 * A postcopy SET_MEM_TABLE or ADD_MEM_REG that failed before our
	 * addresses went out: the front-end waits for them (QEMU reads
	 * whatever the flags say). An errno of 8 bytes is an answer it refuses
	 * ("Unexpected size for postcopy reply") rather than one it waits for
	 * forever.
	 */
	if (err < 0 && be->pc.unanswered)
		ack = true;
	be->pc.unanswered = false;
	/* a postcopy ADD_MEM_REG answers its region, whatever the flags say */
	if (be->force_reply && err == 0) {
		reply->hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
		return vhu_msg_send(be->conn_fd, reply);
	}

	if (rule && rule->reply == VHU_REPLY_ALWAYS) {
		if (err < 0 && fail_body(msg, reply) < 0)
			return -EPROTO;
	} else if (ack) {
		/* spec: "REPLY_ACK": 0 for success, non-zero (here: the errno) for failure */
		vhu_be_reply_u64(reply, err < 0 ? (uint64_t)-err : 0);
	} else {
		return 0;
	}
	/* DPDK and rust-vmm clear NEED_REPLY in replies: only REPLY is set */
	reply->hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
	if (err < 0)
		vhu_msg_close_fds(reply); /* a failed request answers without them */
	return vhu_msg_send(be->conn_fd, reply);
}

int vhu_be_dispatch_msg(struct vhu_backend *be, struct vhu_msg *msg, int recv_err)
{
	struct vhu_msg_view v; /* v.rule NULL: answered as an unknown request */
	int check = vhu_msg_view(VHU_DIR_TO_BACKEND, msg, &v);
	struct vhu_msg reply;
	int err, ret;

	vhu_trace(&be->log, "<- %s (%u) size %u flags 0x%x nfds %u", v.name, msg->hdr.request,
		  msg->hdr.size, msg->hdr.flags, msg->nfds);
	/* a short payload reads as zeros, never as what the stack held (fail_body echoes it) */
	if (msg->hdr.size < sizeof(msg->payload))
		memset(msg->payload.raw + msg->hdr.size, 0, sizeof(msg->payload) - msg->hdr.size);
	vhu_msg_init(&reply, msg->hdr.request, VHU_FLAG_REPLY, 0);
	be->why[0] = '\0';
	be->force_reply = false;
	/* a front-end in postcopy waits for our addresses, or for a failure (reply_send) */
	be->pc.unanswered = be->pc.listening && (msg->hdr.request == VHU_REQ_SET_MEM_TABLE ||
						 msg->hdr.request == VHU_REQ_ADD_MEM_REG);
	if (vhu_be_postcopy_go_ahead(be, msg)) {
		/* spec: "Postcopy migration": QEMU can serve our faults now */
		vhu_debug(&be->log, "postcopy: the front-end's go-ahead after its regions");
		vhu_msg_close_fds(msg);
		return 0;
	}
	vhu_be_vpci_busy(be); /* a SET_FEATURES of ours waits for the reply */
	tls_dispatching = be;
	err = request_run(be, msg, recv_err, &v, check, &reply);
	tls_dispatching = NULL;
	if (err < 0)
		vhu_warn(&be->log, "%s (%u) failed: %s", v.name, msg->hdr.request,
			 be->why[0] ? be->why : strerror(-err));
	vhu_msg_close_fds(msg); /* handlers took the fds they keep */
	ret = reply_send(be, msg, v.rule, err, &reply);
	vhu_msg_close_fds(&reply); /* ours (GET_INFLIGHT_FD): the front-end has its copy */
	if (ret == 0 && be->close_conn) {
		be->close_conn = false;
		ret = -EPROTO;
	}
	if (ret == 0)
		vhu_be_chan_flush(be);	/* the front-end is no longer waiting for us */
	vhu_be_vpci_idle(be, ret == 0); /* a failed reply: the connection ends */
	return ret;
}
