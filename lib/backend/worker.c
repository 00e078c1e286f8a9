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
 * Adaptive polling (config.poll_window_us, the most a window lasts): when
 * a worker runs out of work it spins for a while before it sleeps, looking
 * at the ring (vhu_vq_has_avail(), while the device wants kicks) and at the
 * device's pending work (ops->queue_pending, else poll() with timeout 0 on
 * the watched fd every few microseconds), and runs the ops as soon as it
 * sees work: a request that comes soon after the last one costs no wake-up,
 * which on a VM is a cross-CPU IPI of tens of microseconds. How long it
 * spins adapts per queue, as QEMU's adaptive polling (poll-max-ns,
 * poll-grow, poll-shrink) does: the time from running out of work to the
 * next work (block time) is measured each time; work found while spinning
 * leaves the window as it is, work that came after the window closed but
 * within the maximum doubles it (from 4 us), and a wait longer than the
 * maximum halves it (to 0 under 4 us: polling does not pay, the worker
 * sleeps at once). An idle queue therefore sleeps in poll() and costs no
 * CPU, and a busy one polls without system calls.
 *
 * While it spins (and always with VHU_BACKEND_F_POLL) the worker keeps the
 * driver's kicks off in the ring (vhu_vq_poll_quiet(): a kick is a system
 * call for the driver and a wake-up here, for nothing while we look
 * anyway); what the device asks with vhu_vq_enable_notify() meanwhile is
 * recorded and applied when the worker stops polling. Before it sleeps the
 * worker turns kicks back on and looks at the ring once more after a full
 * barrier (the virtio disable/re-enable/re-check pattern): a buffer made
 * available before that is seen then, and one after it kicks, so no wake-up
 * is lost.
 *
 * The window starts when a round of ops moved the ring (popped or pushed)
 * or after a wake-up; a round that moved nothing (a device that leaves
 * buffers in the ring) does not restart it, so a worker never spins longer
 * than one window without progress. The spin checks pause_req and exit on
 * every turn.
 *
 * IOTLB miss (lib/virtq/virtq.h, "IOTLB"): a fetch that missed leaves the
 * chain in the ring and the queue waits for the front-end's UPDATE. The
 * worker then sleeps on its control eventfd alone, kicks left unread: no
 * spinning, no fetching. Every IOTLB change pauses the queues, which wakes
 * it, and after the resume it runs queue_kick again and the same chain is
 * fetched anew. Other queues go on. A miss that no change answers within
 * iotlb_timeout_ms (the same IOVA, no progress) breaks this queue only.
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
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
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

/* What the worker calls in its next round; DUE_CHECK: the control thread calls. */
enum { DUE_KICK = 1u << 0, DUE_EVENT = 1u << 1, DUE_CHECK = 1u << 2 };

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

/* Whether the ring broke; other threads may break a shared one. */
static bool queue_broken(struct vhu_queue *q)
{
	bool broken;

	if (!q->worker.shared)
		return vhu_vq_broken(&q->vq);
	pthread_mutex_lock(&q->worker.user_lock);
	broken = vhu_vq_broken(&q->vq);
	pthread_mutex_unlock(&q->worker.user_lock);
	return broken;
}

/*
 * Sleep until the driver kicks, the device's fd is readable or the control
 * thread calls. Return: what is due now (DUE_*), 0 for nothing.
 */
static unsigned int wait_due(struct vhu_queue *q, struct wait_state *ws)
{
	struct vhu_vq *vq = &q->vq;
	struct pollfd pfd[3] = { { .fd = q->worker.ctl_fd, .events = POLLIN } };
	bool broken = queue_broken(q);
	int watch = q->worker.watch_fd; /* ours: only this thread writes it now */
	nfds_t n = 1, kick_i = 0, watch_i = 0;
	unsigned int due = 0;

	/* busy-poll: asked for by the device (not for a shared queue, whose
	 * work other threads do), or by the front-end (no kick fd) */
	if (!broken && (((q->be->config.flags & VHU_BACKEND_F_POLL) && !q->worker.shared) ||
			vq->kick_fd < 0)) {
		/* no kicks while we poll anyway (other threads set a shared ring's) */
		if (!q->worker.shared && !vq->poll_quiet)
			(void)vhu_vq_poll_quiet(vq, true);
		return DUE_KICK | (watch >= 0 ? DUE_EVENT : 0);
	}
	/* kicks back on, then the ring once more: what came before is not slept on */
	if (!q->worker.shared && vq->poll_quiet && vhu_vq_poll_quiet(vq, false))
		return DUE_KICK;
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

/* ---- adaptive polling ---- */

/* A window that grows starts at this; one that shrinks under it becomes 0 (no polling). */
#define POLL_START_NS 4000u

/* One queue's adaptive poll window (see the top of the file). */
struct poll_state {
	uint64_t max_ns;     /* config.poll_window_us */
	uint64_t ns;	     /* the window now, 0..max_ns */
	uint64_t idle_since; /* when the worker last ran out of work */
	uint64_t end;	     /* the open window's end */
};

/* Work came @block_ns after the worker ran out of it: size the next window. */
static void poll_adapt(struct poll_state *ps, uint64_t block_ns)
{
	if (block_ns <= ps->ns)
		return; /* polling found it: the window fits */
	if (block_ns > ps->max_ns) {
		/* longer than any window would wait: polling did not pay */
		ps->ns /= 2;
		if (ps->ns < POLL_START_NS)
			ps->ns = 0;
	} else if (ps->ns < ps->max_ns) {
		/* just after the window closed: a longer one would have caught it */
		ps->ns = ps->ns ? ps->ns * 2 : POLL_START_NS;
		if (ps->ns > ps->max_ns)
			ps->ns = ps->max_ns;
	}
}

/* Between two looks at the watched fd when the device has no queue_pending. */
#define SPIN_FD_CHECK_NS 2000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* Where the ring stands; a round of ops that changes it made progress. */
static uint64_t ring_pos(const struct vhu_vq *vq)
{
	return (uint64_t)vq->last_avail_idx | (uint64_t)vq->used_idx << 16 |
	       (uint64_t)vq->avail_wrap << 32 | (uint64_t)vq->used_wrap << 33;
}

/* Busy polling: empty rounds in a row (tens of microseconds) before a worker yields. */
#define IDLE_ROUNDS_YIELD 512u

/* VHU_BACKEND_F_POLL's busy loop (a shared queue's worker sleeps instead). */
static bool busy_polls(const struct vhu_queue *q)
{
	return (q->be->config.flags & VHU_BACKEND_F_POLL) && !q->worker.shared;
}

/* A queue that sleeps in poll() (not busy-polling, not broken) may spin first. */
static bool may_spin(const struct vhu_queue *q)
{
	/* a shared queue's ring moves under other threads: it sleeps, it never spins */
	return q->be->config.poll_window_us > 0 && !(q->be->config.flags & VHU_BACKEND_F_POLL) &&
	       !q->worker.shared && q->vq.kick_fd >= 0 && !vhu_vq_broken(&q->vq);
}

static bool fd_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* an error counts too: queue_event runs, and the next sleep notices it */
	return poll(&pfd, 1, 0) == 1;
}

/*
 * Spin until @end looking for work. Return: what is due (DUE_*), DUE_CHECK
 * if the control thread calls, 0 if the window closed with nothing.
 */
static unsigned int spin_due(struct vhu_queue *q, const struct wait_state *ws, uint64_t end)
{
	const struct vhu_backend_config *cfg = &q->be->config;
	struct vhu_vq *vq = &q->vq;
	int watch = ws->watch_bad ? -1 : q->worker.watch_fd;
	uint64_t now = now_ns(), fd_check = now + SPIN_FD_CHECK_NS;

	while (now < end) {
		unsigned int due = 0;

		if (flag_get(&q->worker.pause_req) || flag_get(&q->worker.exit))
			return DUE_CHECK;
		/* notifications off: the device does not want to hear of buffers now */
		if (!vq->notify_off && vhu_vq_has_avail(vq))
			due |= DUE_KICK;
		if (watch >= 0) {
			if (cfg->ops->queue_pending) {
				if (cfg->ops->queue_pending(cfg->dev, vq))
					due |= DUE_EVENT;
			} else if (now >= fd_check) {
				if (fd_readable(watch))
					due |= DUE_EVENT;
				fd_check = now + SPIN_FD_CHECK_NS;
			}
		}
		if (due)
			return due;
		cpu_relax();
		now = now_ns();
	}
	return 0;
}

/*
 * Out of work: spin in the queue's window, kicks off, and return what is
 * due, or 0 if the window closed with nothing (the caller then sleeps,
 * which turns kicks back on). @fresh: a round moved the ring or the worker
 * woke, so a new window opens; else the open one goes on.
 */
static unsigned int poll_due(struct vhu_queue *q, const struct wait_state *ws,
			     struct poll_state *ps, bool fresh)
{
	if (fresh) {
		ps->idle_since = now_ns();
		ps->end = ps->idle_since + ps->ns;
	}
	if (ps->ns == 0)
		return 0;
	if (!q->vq.poll_quiet)
		(void)vhu_vq_poll_quiet(&q->vq, true);
	return spin_due(q, ws, ps->end);
}

/* One round of device ops; a ring that broke meanwhile gets none. */
static void run_ops(struct vhu_queue *q, unsigned int due)
{
	const struct vhu_backend_config *cfg = &q->be->config;

	if (q->worker.shared)
		pthread_mutex_lock(&q->worker.user_lock);
	/* watch_fd: the device may have dropped it in the previous round */
	if ((due & DUE_EVENT) && q->worker.watch_fd >= 0 && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_event(cfg->dev, &q->vq);
	if ((due & DUE_KICK) && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_kick(cfg->dev, &q->vq);
	if (q->worker.shared)
		pthread_mutex_unlock(&q->worker.user_lock);
}

/* How soon a MISS the channel had no room for is sent again. */
#define TLB_RESEND_NS 10000000u

/* A miss the worker waits on: since when, for which IOVA (0 since: none). */
struct tlb_wait {
	uint64_t since_ns;
	uint64_t iova;
};

/*
 * The queue's last fetch missed: sleep until the control thread calls (an
 * IOTLB change pauses every queue) or the miss times out, which breaks the
 * queue. Return: what is due next.
 */
static unsigned int tlb_wait(struct vhu_queue *q, struct tlb_wait *tw, bool progress)
{
	uint64_t limit = (uint64_t)q->be->iotlb_timeout_ms * 1000000u, now = now_ns(), left;
	struct pollfd pfd = { .fd = q->worker.ctl_fd, .events = POLLIN };

	if (tw->since_ns == 0 || progress || tw->iova != q->vq.tlb_miss_iova) {
		tw->since_ns = now;
		tw->iova = q->vq.tlb_miss_iova;
	}
	if (now - tw->since_ns >= limit) {
		(void)vhu_vq_break(&q->vq, "IOTLB miss at iova 0x%" PRIx64 " not answered in %u ms",
				   tw->iova, q->be->iotlb_timeout_ms);
		tw->since_ns = 0;
		return 0;
	}
	left = limit - (now - tw->since_ns);
	/* a MISS the full channel refused: sent again after a short sleep */
	if (q->vq.tlb_resend && left > TLB_RESEND_NS)
		left = TLB_RESEND_NS;
	if (poll(&pfd, 1, (int)((left + 999999u) / 1000000u)) > 0)
		drain(pfd.fd);
	return DUE_KICK; /* fetches again only if the table changed meanwhile */
}

static void *worker_main(void *arg)
{
	struct vhu_queue *q = arg;
	struct wait_state ws = { .kick_bad = false, .watch_bad = false };
	unsigned int due = DUE_KICK; /* look at the ring once: buffers may wait from before */
	uint64_t max_ns = (uint64_t)q->be->config.poll_window_us * 1000u;
	/* the first window is the largest: a guest that has just started is busy */
	struct poll_state ps = { .max_ns = max_ns, .ns = max_ns, .idle_since = 0, .end = 0 };
	bool fresh = true;	      /* the next window opens anew (else the open one goes on) */
	uint64_t woke_ns = 0;	      /* this round's work came by a wake-up at this time */
	unsigned int idle_rounds = 0; /* busy polling: rounds in a row that moved nothing */
	struct tlb_wait tw = { 0, 0 };

	current_queue = q;
	for (;;) {
		enum checkpoint c = checkpoint(&q->worker);
		uint64_t pos = q->worker.shared ? 0 : ring_pos(&q->vq); /* see may_spin */
		bool moved;

		if (c == EXIT)
			break;
		if (c == RUN_AFTER_PAUSE) {
			ws.kick_bad = ws.watch_bad = false; /* the fds may have changed meanwhile */
			due |= DUE_KICK;		    /* and so may the ring */
			fresh = true;
			woke_ns = 0;
		}
		run_ops(q, due);
		due = 0;
		/* a shared queue's fetches are other threads': they see 0 and go on */
		if (!q->worker.shared && vhu_vq_tlb_waiting(&q->vq)) {
			due = tlb_wait(q, &tw, ring_pos(&q->vq) != pos);
			fresh = true;
			woke_ns = 0;
			continue;
		}
		tw.since_ns = 0;
		/*
		 * Busy polling and nothing moved for IDLE_ROUNDS_YIELD rounds:
		 * let another thread that shares this CPU run (a device's other
		 * busy queues, say) rather than spin out the time slice. Not
		 * sooner: a system call per empty round delays a queue that is
		 * only between two bursts. Alone on its CPU the call returns at
		 * once.
		 */
		/* a shared queue's ring moves under other threads' locks: not read here */
		moved = !q->worker.shared && ring_pos(&q->vq) != pos;
		if (!busy_polls(q) || moved)
			idle_rounds = 0;
		else if (++idle_rounds >= IDLE_ROUNDS_YIELD)
			sched_yield();
		/* a wake-up that brought nothing (a stale count) is not work */
		if (woke_ns && moved)
			poll_adapt(&ps, woke_ns - ps.idle_since);
		woke_ns = 0;
		if (may_spin(q)) {
			due = poll_due(q, &ws, &ps, fresh || moved);
			fresh = false;
			if (!due) {
				due = wait_due(q, &ws);
				woke_ns = due ? now_ns()
					      : 0; /* not for a call of the control thread's */
			}
			continue;
		}
		fresh = true;
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
	q->worker.shared = false;
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

VHU_API int vhu_vq_share(struct vhu_vq *vq)
{
	struct vhu_queue *q = (struct vhu_queue *)vq;

	if (q->worker.alive) /* only from queue_start: no worker reads it yet */
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
		(void)eventfd_write(w->ctl_fd, 1); /* out of poll() */
		vhu_lock_acquire(&w->lock);
		while (!w->parked)
			cond_wait(&w->cond, &w->lock);
		vhu_lock_release(&w->lock);
	}
	/* after the park: the worker of a shared queue takes it around its ops */
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
