/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_REQUESTS_H
#define VHU_FRONTEND_REQUESTS_H

/*
 * Concepts
 *
 * The front-end's half of one request/reply exchange on the main socket:
 * send a request that fits its own row, then, when the row or NEED_REPLY
 * says an answer comes, receive it and check it against the reply half of
 * the row before anyone reads it. A u64 ack that is non-zero becomes -EIO.
 *
 * This is the seed of lib/frontend; vhu-probe is its first user.
 */

#include <stdbool.h>
#include <stdint.h>

#include "wire/wire.h"

#include <pthread.h>

struct vhu_log;

struct vhu_fe_chan {
	int sock;		    /* connected; not owned */
	uint64_t protocol_features; /* negotiated; REPLY_ACK enables acks */
	const struct vhu_log *log;
	/* static text for the last failure, or NULL: vhu_fe_set_error() and
	 * vhu_fe_last_error() (another thread's request may set it meanwhile) */
	const char *last_error;
	/* a reply did not fit its row: the socket was shut down (requests.c) */
	bool broken;
	/* NULL, or held around each request and its reply (set when two threads
	 * send: the IOMMU role answers misses from the channel thread) */
	pthread_mutex_t *lock;
	/* NULL, or what takes a message of the back-end's that is not a reply,
	 * read while a reply is awaited (vhost-pci's SET_FEATURES): 0 when
	 * taken (the wait goes on), < 0 when it breaks the connection */
	int (*unsolicited)(void *opaque, const struct vhu_msg *msg);
	void *opaque;
};

static inline void vhu_fe_set_error(struct vhu_fe_chan *ch, const char *why)
{
	__atomic_store_n(&ch->last_error, why, __ATOMIC_RELAXED);
}

static inline const char *vhu_fe_last_error(const struct vhu_fe_chan *ch)
{
	return __atomic_load_n(&ch->last_error, __ATOMIC_RELAXED);
}

/**
 * vhu_fe_request() - send @req and, if one is due, receive and check its reply.
 * @ch:    the channel
 * @req:   request; its fds stay the caller's
 * @reply: filled with the reply when one is due (its fds are the caller's);
 *         may be NULL only for requests that get no reply body
 *
 * Return: 1 if @reply holds a reply body, 0 if none was due or an ack of 0
 * came back, -EIO for a non-zero ack, -EPROTO/-EMSGSIZE/-EBADMSG for a reply
 * that does not fit its row, or a transport error (-ECONNRESET, -EAGAIN ...).
 */
int vhu_fe_request(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply);

/**
 * vhu_fe_request_answered() - vhu_fe_request() for a request whose row
 * answers only in some negotiated states (VHU_REPLY_CONDITIONAL) when the
 * caller knows it is in one of them (SET_LOG_BASE with LOG_SHMFD): the
 * reply is waited for without NEED_REPLY and checked against the row.
 *
 * Return: as vhu_fe_request().
 */
int vhu_fe_request_answered(struct vhu_fe_chan *ch, struct vhu_msg *req, struct vhu_msg *reply);

/**
 * vhu_fe_broken() - a reply fits its row but not what the caller asked:
 * shut the connection down (the stream cannot be trusted to line up).
 * @why: static text, kept as last_error
 *
 * Return: -EPROTO.
 */
int vhu_fe_broken(struct vhu_fe_chan *ch, const char *why);

/**
 * vhu_fe_send() - send @req, asking for an ack when it has no reply of its own.
 * @ch:  the channel
 * @req: request; NEED_REPLY is added when REPLY_ACK was negotiated and the
 *       row gives no reply body; its fds stay the caller's
 *
 * For requests whose answer nobody reads (SET_*): a reply body, if one comes,
 * is dropped with its fds.
 *
 * Return: 0, or an error of vhu_fe_request().
 */
int vhu_fe_send(struct vhu_fe_chan *ch, struct vhu_msg *req);

/* A request with no payload that answers a u64 (GET_FEATURES, GET_QUEUE_NUM ...). */
int vhu_fe_get_u64(struct vhu_fe_chan *ch, uint32_t request, uint64_t *out);

/* A request whose payload is one u64; acked when REPLY_ACK was negotiated. */
int vhu_fe_set_u64(struct vhu_fe_chan *ch, uint32_t request, uint64_t value);

/**
 * vhu_fe_get_config() - read @size bytes of device config space at @offset.
 *
 * Return: 0, -EINVAL (size over VHU_MAX_CONFIG_SIZE), -EIO when the back-end
 * reports failure (a reply of a different size, as the spec's "size 0"), or
 * an error of vhu_fe_request().
 */
int vhu_fe_get_config(struct vhu_fe_chan *ch, uint32_t offset, uint32_t size, void *buf);

#endif /* VHU_FRONTEND_REQUESTS_H */
