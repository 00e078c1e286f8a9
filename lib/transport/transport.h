/* SPDX-License-Identifier: MIT */
#ifndef VHU_TRANSPORT_TRANSPORT_H
#define VHU_TRANSPORT_TRANSPORT_H

/*
 * Concepts
 *
 * A vhost-user connection is a SOCK_STREAM unix socket. One message is a
 * 12-byte header and hdr.size payload bytes; fds ride as SCM_RIGHTS on the
 * first byte of the header (the receiver also accepts them on any later byte
 * of the same message, as the stream gives no way to tell the difference).
 * Every fd this layer creates or receives is
 * O_CLOEXEC, and every received fd ends up either in the struct vhu_msg that
 * the caller owns, or closed: never both, never neither.
 *
 * Sockets are blocking; a caller that needs a deadline sets SO_RCVTIMEO
 * (receive then fails with -EAGAIN) or polls first.
 */

#include <stdint.h>

#include "wire/wire.h"
#include <vhu/wire.h>

/* vhu_sock_listen() and vhu_sock_connect(): <vhu/wire.h> (public: vhu-trace uses them). */

/**
 * vhu_sock_accept() - accept one connection, retrying on EINTR.
 * @listen_fd: from vhu_sock_listen() or an adopted listening fd
 * @out_fd:    the connected socket, O_CLOEXEC
 *
 * Return: 0 or a negative errno from accept4.
 */
int vhu_sock_accept(int listen_fd, int *out_fd);

/**
 * vhu_sock_connect_nb() - one connect attempt to @path that never blocks
 * (back-end client mode retries on its own schedule).
 * @path:   filesystem path of a listening unix socket
 * @out_fd: the connected socket, O_CLOEXEC and blocking
 *
 * Return: 0, -EINVAL (empty @path), -ENAMETOOLONG, or the errno of connect
 * (-ENOENT, -ECONNREFUSED, -EAGAIN when the listener's backlog is full ...).
 */
int vhu_sock_connect_nb(const char *path, int *out_fd);

/* What vhu_sock_adopt() found. */
enum vhu_sock_kind {
	VHU_SOCK_CONNECTED = 0,
	VHU_SOCK_LISTENING = 1,
};

/**
 * vhu_sock_set_timeouts() - bound every send and receive on @fd to @ms
 * milliseconds (SO_SNDTIMEO, SO_RCVTIMEO): a blocked call then fails with
 * -EAGAIN. Return: 0 or -errno.
 */
int vhu_sock_set_timeouts(int fd, unsigned int ms);

/**
 * vhu_sock_adopt() - take over an inherited fd (--fd=N, systemd style).
 * @fd: must be an AF_UNIX SOCK_STREAM socket, either listening or connected
 *
 * Sets O_CLOEXEC on it so our children do not inherit it; a rejected fd is left
 * as it was (still the caller's, flags unchanged).
 *
 * Return: VHU_SOCK_CONNECTED or VHU_SOCK_LISTENING, -EBADF (not open),
 * -ENOTSOCK (not a socket), -EPROTOTYPE (not a unix stream socket) or
 * -ENOTCONN (a unix stream socket that neither listens nor is connected).
 */
int vhu_sock_adopt(int fd);

/* vhu_msg_send() and vhu_msg_recv(): <vhu/wire.h> (public: vhu-trace relays with them). */

#endif /* VHU_TRANSPORT_TRANSPORT_H */
