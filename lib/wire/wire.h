/* SPDX-License-Identifier: MIT */
#ifndef VHU_WIRE_WIRE_H
#define VHU_WIRE_WIRE_H

/*
 * Concepts
 *
 * The wire layer is pure data: no I/O. Every request of the spec, in both
 * directions, has one row (struct vhu_rule) that says what a well-formed
 * message of that id looks like: payload size bounds, how many fds it may
 * carry, where its queue index sits, whether and how it is answered, which
 * feature gates it and whether handling it must pause the queues.
 *
 * A received message is checked against its row (vhu_msg_check) before any
 * handler sees it; a reply is checked against the row of the request it
 * answers (vhu_reply_check). Handlers then only do semantic checks.
 *
 * fd ownership: the fds in a struct vhu_msg belong to the message. A handler
 * that keeps one takes it with vhu_msg_take_fd(); vhu_msg_close_fds() closes
 * the rest on every path.
 *
 * Directions are named by who receives: VHU_DIR_TO_BACKEND holds the
 * front-end's requests (VHU_REQ_*), VHU_DIR_TO_FRONTEND the back-end's
 * (VHU_BACKEND_REQ_*), sent on the back-end request channel.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhu/protocol.h>
#include <vhu/wire.h> /* enum vhu_dir, struct vhu_msg, vhu_msg_close_fds() */

/* Where a request names the queue it is about. */
enum vhu_queue_loc {
	VHU_QUEUE_NONE = 0,
	VHU_QUEUE_IN_STATE, /* struct vhost_vring_state .index */
	VHU_QUEUE_IN_ADDR,  /* struct vhost_vring_addr .index */
	VHU_QUEUE_IN_U64,   /* bits 0-7 of the u64 (kick/call/err) */
	VHU_QUEUE_IN_AREA,  /* bits 0-7 of struct vhu_vring_area .u64 */
};

/* How a request is answered. */
enum vhu_reply_rule {
	/*
	 * No reply of its own. With REPLY_ACK negotiated and NEED_REPLY set, the
	 * receiver answers with a u64: 0 for success, non-zero for failure.
	 */
	VHU_REPLY_ACK = 0,
	/* Always answered with a body that fits reply_min_size..reply_max_size. */
	VHU_REPLY_ALWAYS,
	/*
	 * Answered with a body only in some negotiated states (SET_MEM_TABLE and
	 * ADD_MEM_REG under postcopy, SET_LOG_BASE with LOG_SHMFD); otherwise as
	 * VHU_REPLY_ACK. The handler knows which.
	 */
	VHU_REPLY_CONDITIONAL,
};

struct vhu_rule {
	const char *name;  /* the spec's name; NULL: no such request */
	uint32_t min_size; /* payload bytes */
	uint32_t max_size;
	uint8_t min_fds;
	uint8_t max_fds;
	uint8_t queue;		 /* enum vhu_queue_loc */
	uint8_t reply;		 /* enum vhu_reply_rule */
	uint32_t reply_min_size; /* for VHU_REPLY_ALWAYS / CONDITIONAL */
	uint32_t reply_max_size;
	uint8_t reply_max_fds;
	uint64_t gate_features; /* virtio bits, one of which must be offered (0: none) */
	uint64_t gate_protocol; /* protocol bits that must be negotiated (0: none) */
	bool pauses_queues;	/* the back-end stops workers around the handler */
};

/* The u64 answer to a request with NEED_REPLY: 0 success, non-zero failure. */
#define VHU_ACK_SIZE ((uint32_t)sizeof(uint64_t))

/**
 * vhu_rule_find() - the row of a request.
 * @dir:     which side receives it
 * @request: VHU_REQ_* or VHU_BACKEND_REQ_*
 *
 * Return: the row, or NULL for an id the spec does not define.
 */
const struct vhu_rule *vhu_rule_find(enum vhu_dir dir, uint32_t request);

/** vhu_rule_count() - one past the highest id of @dir (VHU_REQ_MAX ...). */
uint32_t vhu_rule_count(enum vhu_dir dir);

/** vhu_rule_name() - the spec name of @request, or a placeholder for unknown ids. */
const char *vhu_rule_name(enum vhu_dir dir, uint32_t request);

/**
 * vhu_msg_check() - check a received request against its row.
 * @dir: which side received it
 * @msg: header, payload and fds as received
 * @out: the row, set on success and on every error but -ENOTSUP
 *
 * Checks: known id, version bits, no reserved or REPLY flag, payload size
 * within the row, fd count within the row. Does not close fds.
 *
 * Return: 0, -ENOTSUP (unknown id), -EPROTO (bad flags), -EMSGSIZE (size)
 * or -EBADMSG (fd count).
 */
int vhu_msg_check(enum vhu_dir dir, const struct vhu_msg *msg, const struct vhu_rule **out);

/**
 * vhu_reply_check() - check a received reply to @request.
 * @dir:        direction of the request it answers
 * @request:    the id that was sent
 * @need_reply: whether the request carried NEED_REPLY (an ack is then allowed)
 * @reply:      what came back
 *
 * Return: 0, -EPROTO (not a reply, wrong id or version), -EMSGSIZE (size fits
 * neither the reply row nor an ack) or -EBADMSG (too many fds).
 */
int vhu_reply_check(enum vhu_dir dir, uint32_t request, bool need_reply,
		    const struct vhu_msg *reply);

/**
 * vhu_msg_decode() - parse and check one request from a byte buffer.
 * @dir:  which side receives it
 * @buf:  header then payload
 * @len:  bytes in @buf; must be exactly header + hdr.size
 * @fds:  fds that came with it; ownership passes to @out, or they are closed
 * @nfds: number of @fds
 * @out:  the decoded message
 *
 * Used by the fuzzer and the tracer; the transport receives into a struct
 * vhu_msg directly and calls vhu_msg_check().
 *
 * Return: 0, or an error of vhu_msg_check(), or -EMSGSIZE when @len does not
 * match the header. On error every fd in @fds is closed.
 */
int vhu_msg_decode(enum vhu_dir dir, const uint8_t *buf, size_t len, const int *fds,
		   unsigned int nfds, struct vhu_msg *out);

/* One decode of a received request: everything the dispatcher needs. */
struct vhu_msg_view {
	const struct vhu_rule *rule; /* its row; NULL: an unknown request */
	const char *name;	     /* the spec's name, or a placeholder */
	int64_t queue;		     /* the ring it names (unchecked); -ENOENT: none */
};

/**
 * vhu_msg_view() - look a received request up once and check it.
 * @dir: which side received it
 * @msg: header, payload and fds as received
 * @v:   filled in every case (rule NULL for an unknown id; queue -ENOENT
 *       unless the request fits its row and names a ring)
 *
 * Return: as vhu_msg_check().
 */
int vhu_msg_view(enum vhu_dir dir, const struct vhu_msg *msg, struct vhu_msg_view *v);

/**
 * vhu_msg_queue_index() - the queue a request names.
 * @rule: its row
 * @msg:  the request (already checked)
 *
 * Return: the index (>= 0), or -ENOENT if the row names no queue.
 */
int64_t vhu_msg_queue_index(const struct vhu_rule *rule, const struct vhu_msg *msg);

/**
 * vhu_gpu_hdr_check() - check a GPU socket header against its row.
 * @hdr:   as received
 * @nfds:  fds that came with it
 * @reply: a reply is expected (its REPLY flag must be set); for a request
 *         the flags are not looked at (QEMU's back-end leaves them
 *         uninitialised on UPDATE)
 *
 * Return: as vhu_msg_check().
 */
int vhu_gpu_hdr_check(const struct vhu_msg_hdr *hdr, unsigned int nfds, bool reply);

/* Set up a message to send: header, zeroed payload of @size bytes, no fds. */
void vhu_msg_init(struct vhu_msg *msg, uint32_t request, uint32_t flags, uint32_t size);

/* Take fd @i out of @msg: the caller owns the returned fd. -1 if none. */
int vhu_msg_take_fd(struct vhu_msg *msg, unsigned int i);

/* vhu_msg_close_fds(): <vhu/wire.h>. */

#endif /* VHU_WIRE_WIRE_H */
