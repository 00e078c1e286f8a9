/* SPDX-License-Identifier: MIT */
#ifndef VHU_BACKEND_H
#define VHU_BACKEND_H

/*
 * The device side of vhost-user. A device fills struct vhu_device_ops and
 * never sees a message: the library negotiates, maps guest memory, runs the
 * rings and calls the ops. One back-end serves one front-end connection at a
 * time; when the front-end leaves, its state is reset and the next
 * connection on the same socket is served.
 *
 * Threads: the back-end's control thread (the caller of vhu_backend_run() or
 * vhu_backend_dispatch()) runs every op except queue_kick, which runs on the
 * queue's worker thread: one thread per running queue, created when the ring
 * starts and joined when it stops, with every signal blocked. The control
 * thread pauses a queue's worker before any request that changes what the
 * worker reads (memory table, ring addresses, base, enable, fds, features,
 * reset) and resumes it after; a pause waits for queue_kick to return, so
 * queue_kick must not block indefinitely. The library starts no other thread.
 * The log callback may be called from any of these threads.
 *
 * Ring states (spec "Ring states"): a ring is started by SET_VRING_KICK and
 * stopped by GET_VRING_BASE; with VHOST_USER_F_PROTOCOL_FEATURES negotiated
 * it also needs SET_VRING_ENABLE 1, without it a started ring is enabled. The
 * device sees a ring (queue_start, then queue_kick calls, then queue_stop)
 * only while it is started, enabled and has a size and addresses.
 */

#include <stdbool.h>
#include <stdint.h>

#include <vhu/log.h>
#include <vhu/version.h>
#include <vhu/virtq.h>

struct vhu_backend;

/*
 * Ops return 0 or a negative errno; an error fails the request that caused
 * it (reply-ack carries it), not the connection. The ops table and dev must
 * outlive the back-end.
 */
struct vhu_device_ops {
	/* Device and transport feature bits offered (required). The library adds
	 * VHOST_USER_F_PROTOCOL_FEATURES itself and never offers VHOST_F_LOG_ALL
	 * (dirty logging is not implemented). */
	uint64_t (*get_features)(void *dev);
	/* The features the driver accepted (a subset of get_features, without
	 * VHOST_USER_F_PROTOCOL_FEATURES); every worker is paused meanwhile. */
	int (*set_features)(void *dev, uint64_t features);
	/* Config space reads and writes (CONFIG protocol feature); offset + size
	 * is within VHU_MAX_CONFIG_SIZE and size is never 0. Bytes get_config
	 * leaves alone read as 0. */
	int (*get_config)(void *dev, void *buf, uint32_t offset, uint32_t size);
	int (*set_config)(void *dev, const void *buf, uint32_t offset, uint32_t size);
	/* A queue is about to run: vhu_vq_start() is done, its worker not yet
	 * created. An error keeps the ring stopped and fails the request. */
	int (*queue_start)(void *dev, struct vhu_vq *vq);
	/* A queue stops (GET_VRING_BASE, SET_VRING_ENABLE 0, reset, disconnect):
	 * its worker has returned; the ring still runs until this op returns, so
	 * the device may complete requests it has in flight (push, notify). */
	void (*queue_stop)(void *dev, struct vhu_vq *vq);
	/* The driver made buffers available (required; worker thread). Also
	 * called once when a ring starts: buffers may wait from before. */
	void (*queue_kick)(void *dev, struct vhu_vq *vq);
	/* The front-end left or reset the device (RESET_DEVICE): forget
	 * per-connection state. Every queue has stopped by then. */
	void (*reset)(void *dev);
};

/* struct vhu_backend_config.flags */
#define VHU_BACKEND_F_POLL (1u << 0) /* workers busy-poll their rings instead of sleeping */

struct vhu_backend_config {
	const char *name;	    /* log prefix, e.g. the socket path */
	uint16_t num_queues;	    /* queues the device has (GET_QUEUE_NUM); 1..256 */
	uint16_t max_queue_size;    /* largest SET_VRING_NUM accepted (<= 32768) */
	uint64_t protocol_features; /* VHU_PROTOCOL_F_* the device allows */
	uint32_t flags;		    /* VHU_BACKEND_F_* */
	const struct vhu_device_ops *ops;
	void *dev;		   /* first argument of every op */
	const struct vhu_log *log; /* NULL: stderr at INFO, prefixed with name */
};

/**
 * vhu_backend_create() - a back-end for one device, not yet connected.
 * @config: device description; copied
 * @out:    the new back-end
 *
 * The protocol features the library implements: MQ, REPLY_ACK, CONFIG (which
 * needs ops->get_config), BACKEND_REQ, CONFIGURE_MEM_SLOTS, STATUS and
 * RESET_DEVICE.
 *
 * Return: 0, -EINVAL for a bad @config (no get_features or queue_kick,
 * num_queues 0 or over 256 (kick/call/err name a queue in 8 bits),
 * max_queue_size 0 or over 32768, a protocol feature the library does not
 * implement, CONFIG without get_config, an unknown flag), -ENOMEM, or the
 * errno of eventfd or pthread_mutex_init.
 */
VHU_API int vhu_backend_create(const struct vhu_backend_config *config, struct vhu_backend **out);

/**
 * vhu_backend_listen() - serve front-ends that connect to @path (server mode).
 *
 * One front-end is served at a time; the next is accepted when it leaves.
 *
 * Return: 0, -EBUSY (a socket is already set) or an error of the socket
 * layer (-EADDRINUSE ...).
 */
VHU_API int vhu_backend_listen(struct vhu_backend *be, const char *path);

/**
 * vhu_backend_adopt_fd() - serve an inherited fd (--fd=N): listening or connected.
 *
 * On success the back-end owns @fd (O_CLOEXEC is set; a connected socket is
 * made blocking); on error it is left as it was.
 *
 * Return: 0, -EBUSY (a socket is already set), -EBADF, -ENOTSOCK,
 * -EPROTOTYPE or -ENOTCONN.
 */
VHU_API int vhu_backend_adopt_fd(struct vhu_backend *be, int fd);

/**
 * vhu_backend_fd() - the fd to poll for readability in the caller's own loop.
 *
 * Return: the listening or connected socket, whichever is waited on now, or
 * -1 when there is neither (an adopted connection ended).
 */
VHU_API int vhu_backend_fd(const struct vhu_backend *be);

/**
 * vhu_backend_dispatch() - handle what made vhu_backend_fd() readable:
 * accept a connection, or receive and handle one message.
 *
 * A request that fails is answered as its reply rule says and the
 * connection stays; the connection ends only when the front-end leaves or
 * the stream cannot go on (a payload over VHU_MAX_PAYLOAD, a failed send).
 *
 * Return: 0; -ECONNRESET when the connection ended (state was reset; with a
 * listening socket the next call accepts again); -ENOTCONN when there is no
 * socket; or an error of accept (-EAGAIN, -ECONNABORTED, -EMFILE ...).
 */
VHU_API int vhu_backend_dispatch(struct vhu_backend *be);

/**
 * vhu_backend_run() - the ready-made loop: dispatch until vhu_backend_stop().
 *
 * Connections come and go; the loop goes on. An adopted connected socket is
 * served until its front-end leaves.
 *
 * Return: 0 after a stop or when an adopted connection ended, or a fatal
 * error (of poll or accept, e.g. -EMFILE).
 */
VHU_API int vhu_backend_run(struct vhu_backend *be);

/**
 * vhu_backend_stop() - make vhu_backend_run() return; async-signal-safe and
 * callable from any thread. A stop before vhu_backend_run() makes it return
 * at once.
 */
VHU_API void vhu_backend_stop(struct vhu_backend *be);

/**
 * vhu_backend_config_changed() - tell the front-end the config space changed
 * (BACKEND_CONFIG_CHANGE_MSG on the back-end channel, when negotiated).
 *
 * Any thread may call it, but not queue_kick (a pause would wait for it).
 * With REPLY_ACK the front-end's ack is waited for, at most 5 s. Called from
 * an op while the control thread handles a request, the message goes out
 * right after that request's reply (the front-end is waiting for the reply
 * and would not serve the channel before), and 0 means it was queued.
 *
 * Return: 0; -ENOTCONN (no channel), -EOPNOTSUPP (CONFIG not negotiated),
 * -EIO (the front-end answered failure), -ETIMEDOUT (no ack in time), or a
 * send error. After -ETIMEDOUT or a send error the channel is closed: it is
 * out of step.
 */
VHU_API int vhu_backend_config_changed(struct vhu_backend *be);

/**
 * vhu_backend_destroy() - stop every queue, close every fd, free @be.
 *
 * Not while vhu_backend_run() runs in another thread: stop it and wait first.
 * The listening socket's path is left in place (vhu_backend_listen() replaces
 * a stale one).
 */
VHU_API void vhu_backend_destroy(struct vhu_backend *be);

#endif /* VHU_BACKEND_H */
