/* SPDX-License-Identifier: MIT */
#ifndef VHU_BACKEND_WORKER_H
#define VHU_BACKEND_WORKER_H

/*
 * A worker thread (worker.c runs it, pool.c makes it): the queues it
 * serves, its epoll set and its adaptive poll window.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

/* One thread's adaptive poll window (worker.c, top). */
struct vhu_poll_state {
	uint64_t max_ns;     /* the largest poll_window_us (poll_inflight_us) of its queues */
	uint64_t ns;	     /* the window now, 0..max_ns */
	uint64_t idle_since; /* when the thread last ran out of work */
	uint64_t end;	     /* the open window's end */
};

struct vhu_wthread {
	struct vhu_pool *pool; /* NULL: one queue's own thread */
	pthread_t thread;
	bool started;	  /* the thread exists (joined on free) */
	int epfd;	  /* kick and watched fds of its queues, and ctl_fd */
	int ctl_fd;	  /* eventfd: a control thread calls (vhu_wthread_wake) */
	bool ctl_pending; /* atomic: a queue's flags or the incoming list changed */
	bool exit;	  /* atomic: the pool ends; the thread returns */

	pthread_mutex_t lock;	    /* incoming */
	struct vhu_queue *incoming; /* queues attached, not yet taken in */
	unsigned int load;	    /* queues attached: the pool's lock */

	/* the thread's own */
	struct vhu_queue **qs;
	unsigned int nqs, cap;
	struct vhu_poll_state ps;    /* waits for the driver */
	struct vhu_poll_state ps_io; /* waits for a completion (ops->queue_inflight) */
	struct vhu_poll_state *cur;  /* the window open now: one of the two */
	bool fresh;		     /* the next poll window opens anew */
	uint64_t woke_ns;	     /* this round's work came by a wake-up at this time */
	unsigned int idle_rounds;
	unsigned int busy_rounds;
};

struct vhu_pool {
	pthread_mutex_t lock; /* each thread's load */
	unsigned int n;
	struct vhu_wthread *threads;
};

/* The queue whose op runs on this thread, NULL on others (vhu_vq_watch_fd). */
extern _Thread_local struct vhu_queue *vhu_be_current_queue;

/* Set up / tear down @wt's fds and lock; no thread yet. Return 0 or -errno. */
int vhu_wthread_init(struct vhu_wthread *wt, struct vhu_pool *pool);
void vhu_wthread_fini(struct vhu_wthread *wt);
/* Create the thread (named @name, every signal blocked). Return 0 or -errno. */
int vhu_wthread_start(struct vhu_wthread *wt, const char *name);
/* Tell the thread to look at its queues' flags and incoming list. */
void vhu_wthread_wake(struct vhu_wthread *wt);

#endif /* VHU_BACKEND_WORKER_H */
