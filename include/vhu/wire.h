/* SPDX-License-Identifier: MIT */
#ifndef VHU_WIRE_H
#define VHU_WIRE_H

/*
 * Messages as they travel, for programs that watch, relay or check a
 * vhost-user conversation without taking part in it (vhu-trace): listen
 * and connect on unix socket paths, receive and send one message with its
 * fds, check it against the spec's layout of
 * its request, and decode it into text or JSON.
 *
 * Directions are named by who receives a request: VHU_DIR_TO_BACKEND holds
 * the front-end's requests (VHU_REQ_*) and their replies, VHU_DIR_TO_FRONTEND
 * the back-end's (VHU_BACKEND_REQ_*, on the back-end channel) and theirs.
 */

#include <stdbool.h>
#include <stddef.h>

#include <vhu/protocol.h>
#include <vhu/version.h>

enum vhu_dir {
	VHU_DIR_TO_BACKEND = 0,	 /* VHU_REQ_*: front-end -> back-end */
	VHU_DIR_TO_FRONTEND = 1, /* VHU_BACKEND_REQ_*: back-end -> front-end */
	/* VHU_GPU_REQ_* on the vhost-user-gpu socket (<vhu/gpu.h>): back-end ->
	 * front-end; vhu_msg_fits() knows the first two directions (use
	 * vhu_gpu_msg_fits()), vhu_msg_format() all three */
	VHU_DIR_GPU = 2,
};

/* One message as it travels, with its fds (owned by the message). */
struct vhu_msg {
	struct vhu_msg_hdr hdr;
	union vhu_payload payload;
	int fds[VHU_MAX_FDS];
	unsigned int nfds;
};

/**
 * vhu_sock_listen() - listen on a unix socket path (server mode).
 * @path:   filesystem path; at most sizeof(sun_path) - 1 bytes
 * @out_fd: the listening socket, O_CLOEXEC
 *
 * A stale socket file at @path (one nobody accepts on) is unlinked first; a
 * path where another process is listening, or a non-socket file, is left
 * alone and is an error.
 *
 * Return: 0, -EINVAL (empty @path), -ENAMETOOLONG, -EADDRINUSE (someone listens
 * there), -EEXIST (not a socket, a symlink included) or another negative errno
 * from lstat/connect/unlink/socket/bind/listen.
 */
VHU_API int vhu_sock_listen(const char *path, int *out_fd);

/**
 * vhu_sock_connect() - connect to a unix socket path (client mode).
 * @path:       filesystem path
 * @timeout_ms: keep retrying while the path is missing or refuses, up to this
 *              long (0: one attempt)
 * @out_fd:     the connected socket, O_CLOEXEC
 *
 * Return: 0, -EINVAL (empty @path), -ENAMETOOLONG, or the errno of the last
 * attempt (-ENOENT, -ECONNREFUSED, ...).
 */
VHU_API int vhu_sock_connect(const char *path, unsigned int timeout_ms, int *out_fd);

/**
 * vhu_msg_send() - send one message and its fds.
 * @sock: connected socket
 * @msg:  header, hdr.size payload bytes, nfds fds (not closed: still the
 *        caller's)
 *
 * Handles short writes and EINTR; never raises SIGPIPE.
 *
 * Return: 0, -EMSGSIZE (hdr.size or nfds over the limits; nothing was sent) or
 * a negative errno (-EPIPE when the peer is gone). After any other error part
 * of the message may have gone out: the connection must be closed.
 */
VHU_API int vhu_msg_send(int sock, const struct vhu_msg *msg);

/**
 * vhu_msg_recv() - receive one whole message and its fds.
 * @sock: connected socket
 * @msg:  filled with header, payload (hdr.size bytes) and fds
 *
 * Handles short reads and EINTR; fds are received with MSG_CMSG_CLOEXEC.
 * The message is not checked against its row: see vhu_msg_fits().
 * Whatever @msg held before is overwritten; fds it owned are not closed.
 *
 * Return:
 * 0 - @msg is whole and owns msg->nfds fds;
 * -ECONNRESET - the peer closed (mid-message too); nothing is owned;
 * -EBADMSG - the message was read whole but the kernel truncated its fds
 *   (MSG_CTRUNC: more than VHU_MAX_FDS); they are closed, msg->nfds is 0,
 *   and msg->hdr is valid so the caller can fail just that request;
 * -EMSGSIZE - hdr.size is over VHU_MAX_PAYLOAD; the stream cannot be
 *   resynchronised and the connection must be closed; nothing is owned,
 *   msg->hdr is valid for logging;
 * -EAGAIN - SO_RCVTIMEO expired before a whole message arrived; nothing is
 *   owned. If part of the message had been read, the stream is out of step
 *   and the connection must be closed: a caller that cannot tell treats every
 *   -EAGAIN as fatal;
 * another negative errno from recvmsg; nothing is owned.
 */
VHU_API int vhu_msg_recv(int sock, struct vhu_msg *msg);

/** vhu_msg_close_fds() - close the fds @msg still owns. */
VHU_API void vhu_msg_close_fds(struct vhu_msg *msg);

/**
 * vhu_msg_fits() - does a request (or a reply, REPLY flag set) fit the
 * spec's layout of its id: flags, payload size, fd count?
 * @dir:  the direction of the request (for a reply: of the request it answers)
 * @msg:  the message
 *
 * A reply is checked as an answer to a request that asked for one
 * (NEED_REPLY): its own body or a u64 ack.
 *
 * Return: 0, -ENOTSUP (unknown id), -EPROTO (flags), -EMSGSIZE (payload
 * size), -EBADMSG (fd count).
 */
VHU_API int vhu_msg_fits(enum vhu_dir dir, const struct vhu_msg *msg);

/**
 * vhu_msg_format() - decode @msg into one line of text, or a JSON object.
 * @dir:  as vhu_msg_fits(), or VHU_DIR_GPU
 * @msg:  the message; payload fields beyond hdr.size read as absent. For
 *        VHU_DIR_GPU, hdr.size may be larger than the payload (an UPDATE's
 *        pixels): @msg then holds its first VHU_MAX_PAYLOAD bytes, and the
 *        fields are decoded from those, and a REPLY flag on an id that is
 *        never answered reads as a request's uninitialised flags (QEMU's
 *        UPDATE)
 * @json: a JSON object ({"request": ..., "fields": {...}}) instead of text
 * @buf:  where the text goes, always NUL-terminated when @size > 0
 *
 * Every payload field of the request's layout is named (a reply's too), a
 * payload of the wrong size is shown as bytes, and nothing is trusted:
 * counts inside the payload are bounded by hdr.size.
 *
 * Return: the length the whole text needs (as snprintf: a result >= @size
 * was cut short).
 */
VHU_API size_t vhu_msg_format(enum vhu_dir dir, const struct vhu_msg *msg, bool json, char *buf,
			      size_t size);

#endif /* VHU_WIRE_H */
