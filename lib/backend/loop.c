/* SPDX-License-Identifier: MIT */
/*
 * An event loop for the control channels of many back-ends
 * (vhu_loop_create): leader and followers. One thread at a time (the
 * leader) waits in epoll_wait() on the loop's set, which holds one oneshot
 * entry per back-end: that back-end's own small epoll set, watching the fd
 * vhu_backend_fd() names (the listening socket, the connection or the
 * reconnect timer). A back-end's own set is changed only by the thread that
 * dispatches it, and a disconnect takes the connection out of it before
 * closing it (backend.c), so the set never names a closed fd, and an fd
 * number reused by another thread at once is never touched. When the
 * leader gets a ready back-end it gives up leading (a follower, or a
 * thread started for it, takes over the waiting), dispatches one message,
 * looks at which fd the back-end waits on now, arms its entry again, and
 * becomes a follower.
 * So a handler that blocks holds one thread, and the loop adds a thread
 * rather than stall the other back-ends; followers that wait longer than
 * VHU_LOOP_LINGER_MS end, down to the leader alone.
 *
 * Removal: the back-end's entry leaves the set under the loop's lock. The
 * leader may already hold an event for it from before; it looks at the
 * back-end's flags only under the lock, so vhu_loop_remove() wakes it
 * (wake_fd) and waits for that round of waiting to end, then for a
 * dispatch in progress to end, before the back-end is the caller's again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"

struct loop_thread {
	pthread_t thread;
	bool used; /* created, not joined yet */
	bool done; /* returned from its loop: join it */
};

struct vhu_loop {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* leading ended, a dispatch ended, a thread ended */
	int epfd;	     /* each back-end's lp.epfd (oneshot), and wake_fd */
	int wake_fd;	     /* eventfd: vhu_loop_remove and destroy wake the leader */
	unsigned int max;
	/* under lock */
	unsigned int threads;	/* running their loop */
	unsigned int followers; /* waiting to lead */
	bool leading;		/* a thread is in epoll_wait() */
	uint64_t rounds;	/* epoll_wait() calls started */
	bool stopping;
	unsigned int next_id; /* names threads vhu-cN */
	struct loop_thread *slots;
};

static int spawn(struct vhu_loop *l);

/* Watch the fd @be waits on now in its own set. Return 0 or -ENOTCONN (none). */
static int watch(struct vhu_backend *be)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = vhu_backend_fd(be);

	if (fd == be->lp.fd)
		return fd < 0 ? -ENOTCONN : 0;
	/* still open: a closed one left before (backend.c, loop_unwatch) */
	if (be->lp.fd >= 0)
		(void)epoll_ctl(be->lp.epfd, EPOLL_CTL_DEL, be->lp.fd, NULL);
	be->lp.fd = fd;
	if (fd < 0)
		return -ENOTCONN;
	ev.data.fd = fd;
	if (epoll_ctl(be->lp.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		be->lp.fd = -1;
		return -errno;
	}
	return 0;
}

/* One message (or accept, or connect attempt). Return 0 or why @be ends. */
static int serve(struct vhu_backend *be)
{
	int ret = vhu_backend_dispatch(be);

	if (ret < 0 && !vhu_be_run_goes_on(ret) && ret != -ENOTCONN) {
		vhu_err(&be->log, "no longer served: %s", strerror(-ret));
		return ret;
	}
	ret = watch(be);
	if (ret == -ENOTCONN)
		return 1; /* an adopted connection ended */
	if (ret < 0)
		vhu_err(&be->log, "no longer served: epoll: %s", strerror(-ret));
	return ret;
}

static void arm(struct vhu_loop *l, struct vhu_backend *be)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = be };

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, be->lp.epfd, &ev) < 0)
		vhu_err(&be->log, "loop: arm: %s", strerror(errno));
}

/* Follow until leading is free; false when this thread should end instead. */
static bool follow(struct vhu_loop *l)
{
	struct timespec until;

	/* idle since now: wake-ups meanwhile (broadcasts) do not restart it */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += VHU_LOOP_LINGER_MS / 1000;
	until.tv_nsec += (long)(VHU_LOOP_LINGER_MS % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (l->leading && !l->stopping) {
		int ret;

		l->followers++;
		ret = pthread_cond_timedwait(&l->cond, &l->lock, &until);
		l->followers--;
		if (ret == ETIMEDOUT && l->leading)
			return false; /* a spare with nothing to do: someone leads */
	}
	return !l->stopping;
}

/* Handle @be's ready fd; called and returns with the lock held. */
static void dispatch(struct vhu_loop *l, struct vhu_backend *be)
{
	int ret;

	be->lp.busy = true;
	if (l->followers == 0 && l->threads < l->max && spawn(l) < 0)
		vhu_warn(&be->log, "loop: no thread to wait while this message is handled");
	pthread_mutex_unlock(&l->lock);
	ret = serve(be);
	if (ret != 0 && be->lp.end)
		be->lp.end(be, ret > 0 ? 0 : ret, be->lp.opaque);
	pthread_mutex_lock(&l->lock);
	be->lp.busy = false;
	if (ret == 0 && !be->lp.removing)
		arm(l, be);
	pthread_cond_broadcast(&l->cond);
}

static void *loop_main(void *arg)
{
	struct loop_thread *self = NULL;
	struct vhu_loop *l = arg;

	pthread_mutex_lock(&l->lock);
	while (follow(l)) {
		struct epoll_event ev;
		int n;

		l->leading = true;
		l->rounds++;
		pthread_mutex_unlock(&l->lock);
		n = epoll_wait(l->epfd, &ev, 1, -1);
		pthread_mutex_lock(&l->lock);
		l->leading = false;
		pthread_cond_broadcast(&l->cond);
		if (n <= 0)
			continue; /* EINTR: signals are blocked, but a debugger */
		if (!ev.data.ptr) {
			uint64_t v;

			if (!l->stopping)
				(void)eventfd_read(l->wake_fd, &v);
			continue;
		}
		if (!((struct vhu_backend *)ev.data.ptr)->lp.removing)
			dispatch(l, ev.data.ptr);
	}
	for (unsigned int i = 0; i < l->max && !self; i++)
		if (l->slots[i].used && pthread_equal(l->slots[i].thread, pthread_self()))
			self = &l->slots[i];
	if (self)
		self->done = true;
	l->threads--;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Start a thread (the lock held); join those that ended first. */
static int spawn(struct vhu_loop *l)
{
	struct loop_thread *slot = NULL;
	sigset_t all, old;
	char name[16];
	int ret;

	for (unsigned int i = 0; i < l->max; i++) {
		struct loop_thread *t = &l->slots[i];

		if (t->used && t->done) {
			pthread_join(t->thread, NULL);
			t->used = t->done = false;
		}
		if (!t->used && !slot)
			slot = t;
	}
	if (!slot)
		return -EAGAIN;
	/* signals go to the application's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&slot->thread, NULL, loop_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		return ret;
	snprintf(name, sizeof(name), "vhu-c%u", l->next_id++ % 10000);
	(void)pthread_setname_np(slot->thread, name);
	slot->used = true;
	l->threads++;
	return 0;
}

VHU_API int vhu_loop_create(unsigned int max_threads, struct vhu_loop **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct vhu_loop *l;
	int ret = -ENOMEM;

	if (max_threads > VHU_LOOP_MAX_THREADS)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->max = max_threads ? max_threads : VHU_LOOP_THREADS_DEFAULT;
	l->slots = calloc(l->max, sizeof(*l->slots));
	l->epfd = l->wake_fd = -1;
	if (!l->slots)
		goto err;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wake_fd < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	pthread_mutex_lock(&l->lock);
	ret = spawn(l);
	pthread_mutex_unlock(&l->lock);
	if (ret < 0) {
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->lock);
		goto err;
	}
	*out = l;
	return 0;
err:
	vhu_close_fd(&l->epfd);
	vhu_close_fd(&l->wake_fd);
	free(l->slots);
	free(l);
	return ret;
}

VHU_API int vhu_loop_add(struct vhu_loop *loop, struct vhu_backend *be, vhu_loop_end_fn end,
			 void *opaque)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = be };
	int ret;

	if (be->lp.loop)
		return -EBUSY;
	be->lp.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->lp.epfd < 0)
		return -errno;
	be->lp.fd = -1;
	ret = watch(be);
	if (ret < 0)
		goto err;
	be->lp.end = end;
	be->lp.opaque = opaque;
	be->lp.busy = be->lp.removing = false;
	pthread_mutex_lock(&loop->lock);
	be->lp.loop = loop;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, be->lp.epfd, &ev) < 0) {
		ret = -errno;
		be->lp.loop = NULL;
	}
	pthread_mutex_unlock(&loop->lock);
	if (ret == 0)
		return 0;
err:
	vhu_close_fd(&be->lp.epfd);
	be->lp.fd = -1;
	return ret;
}

VHU_API void vhu_loop_remove(struct vhu_loop *loop, struct vhu_backend *be)
{
	uint64_t round;

	if (be->lp.loop != loop || !loop)
		return;
	pthread_mutex_lock(&loop->lock);
	be->lp.removing = true;
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, be->lp.epfd, NULL);
	/* the leader may hold an event of @be from before: let that round end */
	round = loop->rounds;
	if (loop->leading) {
		(void)eventfd_write(loop->wake_fd, 1);
		while (loop->leading && loop->rounds == round)
			pthread_cond_wait(&loop->cond, &loop->lock);
	}
	while (be->lp.busy)
		pthread_cond_wait(&loop->cond, &loop->lock);
	be->lp.loop = NULL;
	pthread_mutex_unlock(&loop->lock);
	vhu_close_fd(&be->lp.epfd);
	be->lp.fd = -1;
}

VHU_API unsigned int vhu_loop_threads(struct vhu_loop *loop)
{
	unsigned int n;

	pthread_mutex_lock(&loop->lock);
	n = loop->threads;
	pthread_mutex_unlock(&loop->lock);
	return n;
}

VHU_API void vhu_loop_destroy(struct vhu_loop *loop)
{
	if (!loop)
		return;
	pthread_mutex_lock(&loop->lock);
	loop->stopping = true;
	(void)eventfd_write(loop->wake_fd, 1);
	pthread_cond_broadcast(&loop->cond);
	while (loop->threads)
		pthread_cond_wait(&loop->cond, &loop->lock);
	pthread_mutex_unlock(&loop->lock);
	for (unsigned int i = 0; i < loop->max; i++)
		if (loop->slots[i].used)
			pthread_join(loop->slots[i].thread, NULL);
	pthread_cond_destroy(&loop->cond);
	pthread_mutex_destroy(&loop->lock);
	vhu_close_fd(&loop->epfd);
	vhu_close_fd(&loop->wake_fd);
	free(loop->slots);
	free(loop);
}
