/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_GPU_H
#define VHU_FRONTEND_GPU_H

/*
 * Concepts
 *
 * The display side of the vhost-user-gpu socket. gpu_display.c handles one
 * received message against the display's state (no threads, no I/O but the
 * reply: the fuzz target drives it directly); gpu.c owns the socket, the
 * serving thread and the public API. Every guest-derived value in a message
 * (scanout ids, sizes, rectangles, the UPDATE's byte count) is checked where
 * it is read; a message that fails its row (lib/wire, VHU_DIR_GPU) ends the
 * socket, since the stream can no longer be trusted.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhu/frontend.h>
#include <vhu/gpu.h>
#include <vhu/log.h>

struct vhu_fe_scanout {
	uint32_t width, height; /* 0: disabled */
	uint32_t *fb;		/* width * height x8r8g8b8 */
	uint64_t updates;
};

struct vhu_frontend_gpu {
	struct vhu_frontend_gpu_config cfg;
	const struct vhu_log *log;
	int sock;
	int stop_fd; /* eventfd: detach wakes the thread */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* busy went false */
	bool busy;	      /* the thread is inside a message */
	struct vhu_fe_scanout scanout[VIRTIO_GPU_MAX_SCANOUTS];
	struct vhu_frontend_gpu_cursor cursor;
	struct vhu_frontend_gpu_stats stats;
};

/* Fill defaults into @g->cfg, check it. Return: 0 or -EINVAL. */
int vhu_fe_gpu_init(struct vhu_frontend_gpu *g, const struct vhu_frontend_gpu_config *cfg,
		    const struct vhu_log *log, int sock);
/* Free the scanouts. */
void vhu_fe_gpu_fini(struct vhu_frontend_gpu *g);
/*
 * Receive one message on g->sock and handle it (replies included), with
 * g->lock taken around the state it touches. Return: 0 (handled, perhaps
 * refused and counted in stats.errors), or a negative errno that ends the
 * socket (the peer closed, or the message did not fit its row).
 */
int vhu_fe_gpu_serve_one(struct vhu_frontend_gpu *g);

#endif /* VHU_FRONTEND_GPU_H */
