/* SPDX-License-Identifier: MIT */
/*
 * Queue workers: one thread per running queue. A worker sleeps in poll() on
 * the queue's kick eventfd and its own control eventfd and calls
 * ops->queue_kick when the driver kicks; with VHU_BACKEND_F_POLL, or when the
 * front-end asked for polling (SET_VRING_KICK with NOFD), it calls
 * queue_kick in a loop instead.
 *
 * Pause handshake: the control thread sets pause_req and wakes the worker;
 * the worker, between two queue_kick calls, sees it, marks itself parked,
 * signals, and waits until pause_req is cleared. vhu_be_queue_pause()
 * returns only once parked is set, so from then on the control thread is the
 * only one touching the queue. The lock's release/acquire pairs make what the
 * control thread wrote visible to the worker when it resumes, and the other
 * way round.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"

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

/* Between two queue_kick calls: park if asked, and say whether to go on. */
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

struct wait_state {
	bool kick_bad; /* the kick fd reported an error: not watched until the next pause */
};

/*
 * Sleep until the driver kicks or the control thread calls.
 * Return: true if queue_kick should run now.
 */
static bool wait_kick(struct vhu_queue *q, struct wait_state *ws)
{
	struct vhu_vq *vq = &q->vq;
	struct pollfd pfd[2] = { { .fd = q->worker.ctl_fd, .events = POLLIN },
				 { .fd = vq->kick_fd, .events = POLLIN } };
	bool broken = vhu_vq_broken(vq);
	nfds_t n = (vq->kick_fd >= 0 && !ws->kick_bad && !broken) ? 2 : 1;

	/* busy-poll: asked for by the device, or by the front-end (no kick fd) */
	if (!broken && ((q->be->config.flags & VHU_BACKEND_F_POLL) || vq->kick_fd < 0))
		return true;
	if (poll(pfd, n, -1) < 0)
		return false; /* EINTR: the caller checks in again */
	if (pfd[0].revents)
		drain(pfd[0].fd);
	if (n < 2 || !pfd[1].revents)
		return false;
	if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		vhu_warn(&q->be->log, "queue %u: kick fd reports an error; not watched until reset",
			 vq->index);
		ws->kick_bad = true;
		return false;
	}
	drain(pfd[1].fd);
	return true;
}

static void *worker_main(void *arg)
{
	struct vhu_queue *q = arg;
	const struct vhu_backend_config *cfg = &q->be->config;
	struct wait_state ws = { .kick_bad = false };
	bool kick = true; /* look at the ring once: buffers may wait from before the start */

	for (;;) {
		enum checkpoint c = checkpoint(&q->worker);

		if (c == EXIT)
			break;
		if (c == RUN_AFTER_PAUSE) {
			ws.kick_bad = false; /* the fds may have changed meanwhile */
			kick = true;	     /* and so may the ring */
		}
		if (kick && !vhu_vq_broken(&q->vq))
			cfg->ops->queue_kick(cfg->dev, &q->vq);
		kick = wait_kick(q, &ws);
	}
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
