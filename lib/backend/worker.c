/* SPDX-License-Identifier: MIT */
/*
 * Queue workers: one thread per running queue. A worker sleeps in poll() on
 * the queue's kick eventfd, its own control eventfd and the device's watched
 * fd if any (vhu_vq_watch_fd), and calls ops->queue_event when the watched fd
 * is readable and ops->queue_kick when the driver kicks (event first: the
 * completions it pushes free room for what the kick brings). With
 * VHU_BACKEND_F_POLL, or when the front-end asked for polling
 * (SET_VRING_KICK with NOFD), it calls both in a loop instead, without
 * looking at either fd: one poll() per round would cost what polling saves.
 *
 * Pause handshake: the control thread sets pause_req and wakes the worker;
 * the worker, between two rounds of ops, sees it, marks itself parked,
 * signals, and waits until pause_req is cleared. vhu_be_queue_pause()
 * returns only once parked is set, so from then on the control thread is the
 * only one touching the queue. The lock's release/acquire pairs make what the
 * control thread wrote visible to the worker when it resumes, and the other
 * way round.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"

/* The queue whose worker runs on this thread, NULL on others (vhu_vq_watch_fd). */
static _Thread_local struct vhu_queue *current_queue;

VHU_NO_TSA void vhu_lock_acquire(struct vhu_lock *l)
{
	pthread_mutex_lock(&l->m);
}

VHU_NO_TSA void vhu_lock_release(struct vhu_lock *l)
{
	pthread_mutex_unlock(&l->m);
}

/* pthread_cond_wait on a vhu_lock: released while waiting, held again on return. */
static void cond_wait(pthread_cond_t *cond, struct vhu_lock *l) VHU_REQUIRES(*l)
{
	pthread_cond_wait(cond, &l->m);
}

int vhu_be_worker_init(struct vhu_worker *w)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->ctl_fd = -1;
	w->watch_fd = -1;
	ret = pthread_mutex_init(&w->lock.m, NULL);
	if (ret)
		return -ret;
	ret = pthread_cond_init(&w->cond, NULL);
	if (ret) {
		pthread_mutex_destroy(&w->lock.m);
		return -ret;
	}
	return 0;
}

void vhu_be_worker_fini(struct vhu_worker *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock.m);
}

/* pause_req and exit are written under the lock but read without it by a busy poller. */
static bool flag_get(const bool *flag)
{
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static void flag_set(bool *flag, bool v)
{
	__atomic_store_n(flag, v, __ATOMIC_RELEASE);
}

/* Park while the control thread wants it. Return: true if the worker must exit. */
static bool park(struct vhu_worker *w) VHU_REQUIRES(w->lock)
{
	while (flag_get(&w->pause_req) && !flag_get(&w->exit)) {
		if (!w->parked) {
			w->parked = true;
			pthread_cond_broadcast(&w->cond); /* vhu_be_queue_pause() waits for it */
		}
		cond_wait(&w->cond, &w->lock);
	}
	w->parked = false;
	return flag_get(&w->exit);
}

enum checkpoint { RUN, RUN_AFTER_PAUSE, EXIT };

/* Between two rounds of ops: park if asked, and say whether to go on. */
static enum checkpoint checkpoint(struct vhu_worker *w)
{
	bool exit;

	if (!flag_get(&w->pause_req) && !flag_get(&w->exit))
		return RUN; /* the fast path of a busy poller: no lock */
	vhu_lock_acquire(&w->lock);
	exit = park(w);
	vhu_lock_release(&w->lock);
	return exit ? EXIT : RUN_AFTER_PAUSE;
}

static void drain(int fd)
{
	uint64_t v;

	/* readable per poll(), or non-blocking: this does not block */
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR)
		return; /* nothing to drain from a broken fd; poll reports it */
}

/* What the worker calls in its next round. */
enum { DUE_KICK = 1u << 0, DUE_EVENT = 1u << 1 };

struct wait_state {
	/* an fd reported an error: not watched until the next pause */
	bool kick_bad, watch_bad;
};

/* An error on a watched fd: warn, and stop watching it until the next pause. */
static bool fd_failed(struct vhu_queue *q, short revents, const char *what, bool *bad)
{
	if (!(revents & (POLLERR | POLLHUP | POLLNVAL)))
		return false;
	vhu_warn(&q->be->log, "queue %u: %s reports an error; not watched until reset", q->vq.index,
		 what);
	*bad = true;
	return true;
}

/*
 * Sleep until the driver kicks, the device's fd is readable or the control
 * thread calls. Return: what is due now (DUE_*), 0 for nothing.
 */
static unsigned int wait_due(struct vhu_queue *q, struct wait_state *ws)
{
	struct vhu_vq *vq = &q->vq;
	struct pollfd pfd[3] = { { .fd = q->worker.ctl_fd, .events = POLLIN } };
	bool broken = vhu_vq_broken(vq);
	int watch = q->worker.watch_fd; /* ours: only this thread writes it now */
	nfds_t n = 1, kick_i = 0, watch_i = 0;
	unsigned int due = 0;

	/* busy-poll: asked for by the device, or by the front-end (no kick fd) */
	if (!broken && ((q->be->config.flags & VHU_BACKEND_F_POLL) || vq->kick_fd < 0))
		return DUE_KICK | (watch >= 0 ? DUE_EVENT : 0);
	if (!broken && vq->kick_fd >= 0 && !ws->kick_bad) {
		kick_i = n;
		pfd[n++] = (struct pollfd){ .fd = vq->kick_fd, .events = POLLIN };
	}
	if (!broken && watch >= 0 && !ws->watch_bad) {
		watch_i = n;
		pfd[n++] = (struct pollfd){ .fd = watch, .events = POLLIN };
	}
	if (poll(pfd, n, -1) < 0)
		return 0; /* EINTR: the caller checks in again */
	if (pfd[0].revents)
		drain(pfd[0].fd);
	if (watch_i && pfd[watch_i].revents) {
		/* the device drains it; an error still gets one call, to be noticed */
		due |= DUE_EVENT;
		(void)fd_failed(q, pfd[watch_i].revents, "watched fd", &ws->watch_bad);
	}
	if (kick_i && pfd[kick_i].revents &&
	    !fd_failed(q, pfd[kick_i].revents, "kick fd", &ws->kick_bad)) {
		drain(pfd[kick_i].fd);
		due |= DUE_KICK;
	}
	return due;
}

/* One round of device ops; a ring that broke meanwhile gets none. */
static void run_ops(struct vhu_queue *q, unsigned int due)
{
	const struct vhu_backend_config *cfg = &q->be->config;

	/* watch_fd: the device may have dropped it in the previous round */
	if ((due & DUE_EVENT) && q->worker.watch_fd >= 0 && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_event(cfg->dev, &q->vq);
	if ((due & DUE_KICK) && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_kick(cfg->dev, &q->vq);
}

static void *worker_main(void *arg)
{
	struct vhu_queue *q = arg;
	struct wait_state ws = { .kick_bad = false, .watch_bad = false };
	unsigned int due = DUE_KICK; /* look at the ring once: buffers may wait from before */

	current_queue = q;
	for (;;) {
		enum checkpoint c = checkpoint(&q->worker);

		if (c == EXIT)
			break;
		if (c == RUN_AFTER_PAUSE) {
			ws.kick_bad = ws.watch_bad = false; /* the fds may have changed meanwhile */
			due |= DUE_KICK;		    /* and so may the ring */
		}
		run_ops(q, due);
		due = wait_due(q, &ws);
	}
	current_queue = NULL;
	return NULL;
}

int vhu_be_worker_start(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;
	sigset_t all, old;
	char name[16];
	int ret;

	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctl_fd < 0)
		return -errno;
	/* no thread exists yet: nobody else reads these */
	flag_set(&w->exit, false);
	flag_set(&w->pause_req, w->pause_count > 0); /* started inside a pause: parked */
	w->parked = false;
	/* signals go to the application's threads, never to a worker */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&w->thread, NULL, worker_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		vhu_close_fd(&w->ctl_fd);
		return -ret;
	}
	snprintf(name, sizeof(name), "vhu-q%u", q->vq.index);
	(void)pthread_setname_np(w->thread, name);
	w->alive = true;
	return 0;
}

void vhu_be_worker_stop(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;

	if (!w->alive)
		return;
	vhu_lock_acquire(&w->lock);
	flag_set(&w->exit, true);
	pthread_cond_broadcast(&w->cond); /* a parked worker wakes and returns */
	vhu_lock_release(&w->lock);
	(void)eventfd_write(w->ctl_fd, 1); /* a sleeping one too */
	pthread_join(w->thread, NULL);
	vhu_close_fd(&w->ctl_fd);
	w->alive = false;
	w->parked = false;
}

_Static_assert(offsetof(struct vhu_queue, vq) == 0, "vhu_vq_watch_fd() finds the queue of a vq");

void vhu_be_worker_unwatch(struct vhu_queue *q)
{
	q->worker.watch_fd = -1;
}

VHU_API int vhu_vq_watch_fd(struct vhu_vq *vq, int fd)
{
	/* every vq a device sees is the first member of a struct vhu_queue */
	struct vhu_queue *q = (struct vhu_queue *)vq;

	if (fd < -1 || (fd >= 0 && !q->be->config.ops->queue_event))
		return -EINVAL;
	/* the worker itself, or nobody else runs (alive is the control thread's) */
	if (current_queue != q && q->worker.alive)
		return -EBUSY;
	q->worker.watch_fd = fd;
	return 0;
}

void vhu_be_queue_pause(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;

	if (w->pause_count++ > 0 || !w->alive)
		return;
	vhu_lock_acquire(&w->lock);
	flag_set(&w->pause_req, true);
	vhu_lock_release(&w->lock);
	(void)eventfd_write(w->ctl_fd, 1); /* out of poll() */
	vhu_lock_acquire(&w->lock);
	while (!w->parked)
		cond_wait(&w->cond, &w->lock);
	vhu_lock_release(&w->lock);
}

void vhu_be_queue_resume(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;

	if (w->pause_count == 0 || --w->pause_count > 0 || !w->alive)
		return;
	vhu_lock_acquire(&w->lock);
	flag_set(&w->pause_req, false);
	pthread_cond_broadcast(&w->cond);
	vhu_lock_release(&w->lock);
}

void vhu_be_queues_pause_all(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_be_queue_pause(&be->queues[i]);
}

void vhu_be_queues_resume_all(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_be_queue_resume(&be->queues[i]);
}
