/* SPDX-License-Identifier: MIT */
/*
 * Which thread serves a queue, and the control thread's side of the
 * handshakes (worker.c, top): a queue is attached to a thread of its own
 * or to the least loaded thread of the back-end's pool when it starts,
 * paused and resumed while it runs, and detached when it stops. Also the
 * pool itself (vhu_pool_create) and the device's calls that name the
 * worker (vhu_vq_watch_fd, vhu_vq_share, vhu_vq_lock).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/worker.h"
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

/* pause_req and exit are written under the lock but read without it by a busy thread. */
static void flag_set(bool *flag, bool v)
{
	__atomic_store_n(flag, v, __ATOMIC_RELEASE);
}

int vhu_be_worker_init(struct vhu_worker *w)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->watch_fd = -1;
	ret = pthread_mutex_init(&w->lock.m, NULL);
	if (ret)
		return -ret;
	ret = pthread_cond_init(&w->cond, NULL);
	if (ret) {
		pthread_mutex_destroy(&w->lock.m);
		return -ret;
	}
	ret = pthread_mutex_init(&w->user_lock, NULL);
	if (ret) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock.m);
		return -ret;
	}
	return 0;
}

void vhu_be_worker_fini(struct vhu_worker *w)
{
	pthread_mutex_destroy(&w->user_lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock.m);
}

/* The pool thread that serves the fewest queues, its load counted. */
static struct vhu_wthread *pool_pick(struct vhu_pool *pool)
{
	struct vhu_wthread *best = &pool->threads[0];

	pthread_mutex_lock(&pool->lock);
	for (unsigned int i = 1; i < pool->n; i++)
		if (pool->threads[i].load < best->load)
			best = &pool->threads[i];
	best->load++;
	pthread_mutex_unlock(&pool->lock);
	return best;
}

/* A thread of the queue's own, not started. */
static int own_thread(struct vhu_wthread **out)
{
	struct vhu_wthread *wt = malloc(sizeof(*wt));
	int ret;

	if (!wt)
		return -ENOMEM;
	ret = vhu_wthread_init(wt, NULL);
	if (ret < 0) {
		free(wt);
		return ret;
	}
	*out = wt;
	return 0;
}

int vhu_be_worker_start(struct vhu_queue *q)
{
	struct vhu_pool *pool = q->be->config.pool;
	struct vhu_worker *w = &q->worker;
	struct vhu_wthread *wt;
	char name[16];
	int ret;

	if (pool) {
		wt = pool_pick(pool);
	} else {
		ret = own_thread(&wt);
		if (ret < 0)
			return ret;
	}
	/* not attached yet: nobody else reads these */
	flag_set(&w->exit, false);
	flag_set(&w->pause_req, w->pause_count > 0); /* started inside a pause: parked */
	w->parked = w->detached = false;
	w->watch_changed = true;
	pthread_mutex_lock(&wt->lock);
	w->next = wt->incoming;
	wt->incoming = q;
	pthread_mutex_unlock(&wt->lock);
	w->wt = wt;
	vhu_wthread_wake(wt);
	if (!pool) {
		snprintf(name, sizeof(name), "vhu-q%u", q->vq.index);
		ret = vhu_wthread_start(wt, name);
		if (ret < 0) {
			vhu_wthread_fini(wt);
			free(wt);
			w->wt = NULL;
			return ret;
		}
	}
	w->alive = true;
	return 0;
}

void vhu_be_worker_stop(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;
	struct vhu_wthread *wt = w->wt;

	if (!w->alive)
		return;
	vhu_lock_acquire(&w->lock);
	flag_set(&w->exit, true);
	vhu_lock_release(&w->lock);
	vhu_wthread_wake(wt);
	vhu_lock_acquire(&w->lock);
	while (!w->detached)
		cond_wait(&w->cond, &w->lock);
	vhu_lock_release(&w->lock);
	if (wt->pool) {
		pthread_mutex_lock(&wt->pool->lock);
		wt->load--;
		pthread_mutex_unlock(&wt->pool->lock);
	} else {
		vhu_wthread_fini(wt); /* the thread returned: its one queue left */
		free(wt);
	}
	w->wt = NULL;
	w->alive = false;
	w->parked = false;
}

_Static_assert(offsetof(struct vhu_queue, vq) == 0, "vhu_vq_watch_fd() finds the queue of a vq");

void vhu_be_worker_unwatch(struct vhu_queue *q)
{
	q->worker.watch_fd = -1;
	q->worker.shared = false;
}

VHU_API int vhu_vq_watch_fd(struct vhu_vq *vq, int fd)
{
	/* every vq a device sees is the first member of a struct vhu_queue */
	struct vhu_queue *q = (struct vhu_queue *)vq;

	if (fd < -1 || (fd >= 0 && !q->be->config.ops->queue_event))
		return -EINVAL;
	/* the serving thread inside the queue's op, or nobody else runs (alive is the control
	 * thread's) */
	if (vhu_be_current_queue != q && q->worker.alive)
		return -EBUSY;
	q->worker.watch_fd = fd;
	q->worker.watch_changed = true;
	return 0;
}

VHU_API int vhu_vq_run_again(struct vhu_vq *vq)
{
	struct vhu_queue *q = (struct vhu_queue *)vq;

	if (vhu_be_current_queue != q)
		return -EBUSY;
	q->worker.again = true;
	return 0;
}

VHU_API int vhu_vq_share(struct vhu_vq *vq)
{
	struct vhu_queue *q = (struct vhu_queue *)vq;

	if (q->worker.alive) /* only from queue_start: no thread serves it yet */
		return -EBUSY;
	q->worker.shared = true;
	return 0;
}

VHU_API void vhu_vq_lock(struct vhu_vq *vq)
{
	pthread_mutex_lock(&((struct vhu_queue *)vq)->worker.user_lock);
}

VHU_API void vhu_vq_unlock(struct vhu_vq *vq)
{
	pthread_mutex_unlock(&((struct vhu_queue *)vq)->worker.user_lock);
}

void vhu_be_queue_pause(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;

	if (w->pause_count++ > 0)
		return;
	if (w->alive) {
		vhu_lock_acquire(&w->lock);
		flag_set(&w->pause_req, true);
		vhu_lock_release(&w->lock);
		vhu_wthread_wake(w->wt);
		vhu_lock_acquire(&w->lock);
		while (!w->parked)
			cond_wait(&w->cond, &w->lock);
		vhu_lock_release(&w->lock);
	}
	/* after the park: the thread of a shared queue takes it around its ops */
	pthread_mutex_lock(&w->user_lock);
}

void vhu_be_queue_resume(struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;

	if (w->pause_count == 0 || --w->pause_count > 0)
		return;
	pthread_mutex_unlock(&w->user_lock);
	if (!w->alive)
		return;
	vhu_lock_acquire(&w->lock);
	flag_set(&w->pause_req, false);
	vhu_lock_release(&w->lock);
	vhu_wthread_wake(w->wt);
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

/* ---- the pool ---- */

/* Make @n threads return and free them with @pool. */
static void pool_free(struct vhu_pool *pool, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		__atomic_store_n(&pool->threads[i].exit, true, __ATOMIC_RELEASE);
		vhu_wthread_wake(&pool->threads[i]);
	}
	for (unsigned int i = 0; i < n; i++)
		vhu_wthread_fini(&pool->threads[i]); /* joins */
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
}

VHU_API int vhu_pool_create(unsigned int threads, struct vhu_pool **out)
{
	struct vhu_pool *pool;
	unsigned int n = 0;
	int ret = 0;

	if (threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cpus > 0 ? (unsigned int)(cpus < VHU_POOL_MAX_THREADS
							    ? cpus
							    : VHU_POOL_MAX_THREADS)
				   : 1;
	}
	if (threads > VHU_POOL_MAX_THREADS)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->threads = calloc(threads, sizeof(*pool->threads));
	if (!pool->threads) {
		free(pool);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pool->n = threads;
	for (; n < threads; n++) {
		char name[16];

		ret = vhu_wthread_init(&pool->threads[n], pool);
		if (ret < 0)
			break;
		snprintf(name, sizeof(name), "vhu-w%u", n);
		ret = vhu_wthread_start(&pool->threads[n], name);
		if (ret < 0) {
			vhu_wthread_fini(&pool->threads[n]);
			break;
		}
	}
	if (ret < 0) {
		pool_free(pool, n);
		return ret;
	}
	*out = pool;
	return 0;
}

VHU_API unsigned int vhu_pool_threads(const struct vhu_pool *pool)
{
	return pool->n;
}

VHU_API void vhu_pool_destroy(struct vhu_pool *pool)
{
	if (pool)
		pool_free(pool, pool->n);
}
