/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_INTERNAL_H
#define VHU_FRONTEND_INTERNAL_H

/*
 * Concepts
 *
 * The front-end's state, shared by frontend.c (connect, negotiate, start,
 * queues) and channel.c (the back-end request channel, served by a thread of
 * its own: see channel.c).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "frontend/guest_mem.h"
#include "frontend/requests.h"
#include "frontend/rings.h"
#include <vhu/frontend.h>

struct vhu_fe_queue {
	struct vhu_frontend *fe;
	unsigned int index;
	struct vhu_fe_ring ring;
	struct vhu_fe_ring_mem mem; /* allocated at connect */
	struct vhu_fe_buf *bufs;    /* [max chain]: vhu_fe_queue_add's scratch */
	int kick_fd, call_fd;
};

struct vhu_frontend {
	struct vhu_frontend_config cfg;
	char *path; /* cfg.socket_path, copied */
	struct vhu_log log;
	int sock;
	struct vhu_fe_chan ch;
	uint64_t offered, features, protocol;
	bool alive; /* atomic */
	bool started;
	struct vhu_fe_mem mem;
	struct vhu_fe_queue *queues;
	int chan_fd; /* our end of the back-end channel */
	pthread_t chan_thread;
	bool chan_running;
};

/* Send @req through the front-end (NEED_REPLY when acks are on); 0 or -errno. */
int vhu_fe_send_req(struct vhu_frontend *fe, struct vhu_msg *req);

/* SET_BACKEND_REQ_FD with one end of a socketpair; start the thread serving ours. */
int vhu_fe_chan_open(struct vhu_frontend *fe);
/* Stop the thread and close our end (no-op when never opened). */
void vhu_fe_chan_close(struct vhu_frontend *fe);

#endif /* VHU_FRONTEND_INTERNAL_H */
