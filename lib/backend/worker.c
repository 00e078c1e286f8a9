/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: each serves a set of running queues, one queue (a
 * queue's own thread, the default) or many of any number of back-ends (a
 * pool's thread, pool.c). A thread sleeps in epoll_wait() on the kick
 * eventfds of its queues, the device's watched fd of each (vhu_vq_watch_fd)
 * and its own control eventfd, and for each queue that has work calls
 * ops->queue_event when the watched fd is readable and ops->queue_kick when
 * the driver kicked (event first: the completions it pushes free room for
 * what the kick brings). A queue with VHU_BACKEND_F_POLL, or whose
 * front-end asked for polling (SET_VRING_KICK with NOFD), gets both ops in
 * every round instead, without its fds being looked at: one system call
 * per round would cost what polling saves; its thread then never sleeps
 * (its other queues' fds are looked at with epoll_wait(0) every few
 * rounds).
 *
 * A device that stops at a budget with work left asks for its op again
 * (vhu_vq_run_again()): the next round runs it after the thread has acted
 * on control calls and run its other queues' due ops, and the thread does
 * not spin or sleep in between; an eventfd the device wrote to itself
 * would cost three system calls for the same.
 *
 * Adaptive polling (config.poll_window_us, the most a window lasts): when
 * a thread runs out of work it spins for a while before it sleeps, looking
 * at the rings of its queues (vhu_vq_has_avail(), while the device wants
 * kicks) and at the devices' pending work (ops->queue_pending, else
 * epoll_wait(0) every few microseconds), and runs the ops as soon as it
 * sees work: a request that comes soon after the last one costs no
 * wake-up, which on a VM is a cross-CPU IPI of tens of microseconds. How
 * long it spins adapts per thread, as QEMU's adaptive polling (poll-max-ns,
 * poll-grow, poll-shrink, per event loop) does: the time from running out
 * of work to the next work (block time) is measured each time; work found
 * while spinning leaves the window as it is, work that came after the
 * window closed but within the maximum doubles it (from 4 us), and a wait
 * longer than the maximum halves it (to 0 under 4 us: polling does not pay,
 * the thread sleeps at once). An idle thread therefore sleeps and costs no
 * CPU, and a busy one polls without system calls. The maximum is the
 * largest poll_window_us among the queues the thread serves.
 *
 * While it spins (and always with VHU_BACKEND_F_POLL) the thread keeps the
 * driver's kicks off in each ring it looks at (vhu_vq_poll_quiet(): a kick
 * is a system call for the driver and a wake-up here, for nothing while we
 * look anyway); what the device asks with vhu_vq_enable_notify() meanwhile
 * is recorded and applied when the thread stops polling. Before it sleeps
 * the thread turns kicks back on and looks at each ring once more after a
 * full barrier (the virtio disable/re-enable/re-check pattern): a buffer
 * made available before that is seen then, and one after it kicks, so no
 * wake-up is lost.
 *
 * The window starts when a round of ops moved a ring (popped or pushed) or
 * after a pause; a round that moved nothing (a device that leaves buffers
 * in the ring) does not restart it, so a thread never spins longer than
 * one window without progress. The spin stops as soon as a control thread
 * calls.
 *
 * IOTLB miss (lib/virtq/virtq.h, "IOTLB"): a fetch that missed leaves the
 * chain in the ring and the queue waits for the front-end's UPDATE. Its
 * kick and watched fds then leave the epoll set: no spinning, no fetching.
 * Every IOTLB change pauses the queues, and after the resume the thread
 * runs queue_kick again and the same chain is fetched anew. Other queues
 * go on. A miss that no change answers within iotlb_timeout_ms (the same
 * IOVA, no progress) breaks this queue only.
 *
 * Pause handshake: the control thread sets pause_req and wakes the thread
 * (vhu_wthread_wake); the thread, between two rounds of ops, sees it,
 * takes the queue's fds out of its epoll set, marks it parked, signals,
 * and runs none of its ops and reads none of its ring until pause_req is
 * cleared; its other queues go on. vhu_be_queue_pause() returns only once
 * parked is set, so from then on the control thread is the only one
 * touching the queue (and may close and replace its fds). The queue's
 * lock's release/acquire pairs make what the control thread wrote visible
 * to the thread when it resumes, and the other way round. A stop is the
 * same with exit: the thread lets the queue go for good (detached).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/worker.h"
#include "common/util.h"

/* The queue whose op runs on this thread, NULL on others (vhu_vq_watch_fd). */
_Thread_local struct vhu_queue *vhu_be_current_queue;

static bool flag_get(const bool *flag)
{
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* Add @n to a counter only this thread writes (others read it: stats). */
static void count_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Return: the eventfd's count (kicks), 0 if none. */
static uint64_t drain(int fd)
{
	uint64_t v;

	/* readable per epoll, or non-blocking: this does not block */
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0; /* nothing to drain from a broken fd; epoll reports it */
	return v;
}

/* What the thread calls in its next round for a queue. */
enum { DUE_KICK = 1u << 0, DUE_EVENT = 1u << 1 };

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

/* Waiting for an IOTLB UPDATE (a shared queue's fetches are other threads'). */
static bool tlb_waits(struct vhu_queue *q)
{
	return !q->worker.shared && vhu_vq_tlb_waiting(&q->vq);
}

/*
 * Busy-polled: asked for by the device (not for a shared queue, whose work
 * other threads do), or by the front-end (no kick fd). Not a broken ring,
 * nor one that waits for the IOTLB.
 */
static bool busy_polls(struct vhu_queue *q)
{
	return (((q->be->config.flags & VHU_BACKEND_F_POLL) && !q->worker.shared) ||
		q->vq.kick_fd < 0) &&
	       !tlb_waits(q) && !queue_broken(q);
}

/* A queue that sleeps (not busy-polling, not broken) may spin first. */
static bool may_spin(const struct vhu_queue *q)
{
	/* a shared queue's ring moves under other threads: it sleeps, it never spins */
	return q->be->config.poll_window_us > 0 && !(q->be->config.flags & VHU_BACKEND_F_POLL) &&
	       !q->worker.shared && q->vq.kick_fd >= 0 && !vhu_vq_broken(&q->vq) &&
	       !vhu_vq_tlb_waiting(&q->vq);
}

/* Where the ring stands; a round of ops that changes it made progress. */
static uint64_t ring_pos(const struct vhu_vq *vq)
{
	return (uint64_t)vq->last_avail_idx | (uint64_t)vq->used_idx << 16 |
	       (uint64_t)vq->avail_wrap << 32 | (uint64_t)vq->used_wrap << 33;
}

/* ---- the epoll set ---- */

/* Put @fd (-1: none) in the set in place of *@reg. Return: false if it could not. */
static bool reg_set(struct vhu_wthread *wt, int *reg, int fd, struct vhu_worker_ep *ep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ep };

	if (*reg == fd)
		return true;
	if (*reg >= 0)
		(void)epoll_ctl(wt->epfd, EPOLL_CTL_DEL, *reg, NULL);
	*reg = -1;
	if (fd < 0)
		return true;
	if (epoll_ctl(wt->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return false;
	*reg = fd;
	return true;
}

/*
 * The fds of @q the thread waits on now: none while parked or waiting for
 * the IOTLB; a busy-polled queue's kick fd only to count its kicks (read by
 * the epoll_wait(0) every BUSY_ROUNDS_LOOK rounds).
 */
static void sync_fds(struct vhu_wthread *wt, struct vhu_queue *q)
{
	struct vhu_worker *w = &q->worker;
	bool counted = !w->held && !tlb_waits(q) && !queue_broken(q);
	bool on = counted && !busy_polls(q);
	int kick = counted && !w->kick_bad ? q->vq.kick_fd : -1;
	int watch = on && !w->watch_bad ? w->watch_fd : -1;

	if (w->watch_changed) { /* the device may have put another fd under that number */
		(void)reg_set(wt, &w->reg_watch, -1, &w->ep_watch);
		w->watch_changed = false;
	}
	if (!reg_set(wt, &w->reg_kick, kick, &w->ep_kick)) {
		vhu_warn(&q->be->log, "queue %u: kick fd: epoll: %s; not watched until reset",
			 q->vq.index, strerror(errno));
		w->kick_bad = true;
	}
	if (!reg_set(wt, &w->reg_watch, watch, &w->ep_watch)) {
		vhu_warn(&q->be->log, "queue %u: watched fd: epoll: %s; not watched until reset",
			 q->vq.index, strerror(errno));
		w->watch_bad = true;
	}
}

/* An error on a watched fd: warn, and stop watching it until the next pause. */
static bool fd_failed(struct vhu_queue *q, uint32_t events, const char *what, bool *bad)
{
	if (!(events & (EPOLLERR | EPOLLHUP)))
		return false;
	vhu_warn(&q->be->log, "queue %u: %s reports an error; not watched until reset", q->vq.index,
		 what);
	*bad = true;
	return true;
}

#define EVENTS_MAX 64

/* Wait up to @timeout_ms for events and mark what is due. Return: whether any is. */
static bool wait_events(struct vhu_wthread *wt, int timeout_ms)
{
	struct epoll_event evs[EVENTS_MAX];
	bool any = false;
	int n = epoll_wait(wt->epfd, evs, EVENTS_MAX, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct vhu_worker_ep *ep = evs[i].data.ptr;
		struct vhu_worker *w;

		if (!ep) {
			drain(wt->ctl_fd); /* ctl_pending says what */
			continue;
		}
		w = &ep->q->worker;
		if (w->held)
			continue; /* parked meanwhile: not its fds any more */
		if (ep->kick) {
			if (!fd_failed(ep->q, evs[i].events, "kick fd", &w->kick_bad)) {
				uint64_t kicks = drain(ep->q->vq.kick_fd);

				count_add(&ep->q->hn.kicks_eventfd, kicks);
				w->due |= DUE_KICK;
				any = true;
			}
		} else {
			/* the device drains it; an error still gets one call, to be noticed */
			w->due |= DUE_EVENT;
			any = true;
			(void)fd_failed(ep->q, evs[i].events, "watched fd", &w->watch_bad);
		}
		if (w->kick_bad || w->watch_bad)
			sync_fds(wt, ep->q); /* a failed fd leaves the set */
	}
	return any;
}

/* ---- control: queues that come, park, resume and leave ---- */

static int take_incoming(struct vhu_wthread *wt)
{
	struct vhu_queue *in;

	pthread_mutex_lock(&wt->lock);
	in = wt->incoming;
	wt->incoming = NULL;
	pthread_mutex_unlock(&wt->lock);
	while (in) {
		struct vhu_queue *q = in;
		struct vhu_worker *w = &q->worker;

		in = w->next;
		if (wt->nqs == wt->cap) {
			unsigned int cap = wt->cap ? wt->cap * 2 : 4;
			struct vhu_queue **qs = realloc(wt->qs, cap * sizeof(*qs));

			if (!qs) { /* tried again at the next call */
				pthread_mutex_lock(&wt->lock);
				w->next = wt->incoming;
				wt->incoming = q;
				pthread_mutex_unlock(&wt->lock);
				return -ENOMEM;
			}
			wt->qs = qs;
			wt->cap = cap;
		}
		wt->qs[wt->nqs++] = q;
		w->due = DUE_KICK; /* look at the ring once: buffers may wait from before */
		w->again = false;
		w->held = w->spinning = w->kick_bad = w->watch_bad = false;
		w->reg_kick = w->reg_watch = -1;
		w->ep_kick = (struct vhu_worker_ep){ .q = q, .kick = true };
		w->ep_watch = (struct vhu_worker_ep){ .q = q, .kick = false };
		w->tlb_since = w->tlb_wake = 0;
	}
	return 0;
}

/* The thread's longest window: the largest of its queues'. */
static void window_set_max(struct vhu_poll_state *ps, uint64_t max_ns)
{
	if (max_ns > ps->max_ns)
		ps->ns = max_ns; /* the first window is the largest: a new guest is busy */
	else if (ps->ns > max_ns)
		ps->ns = max_ns;
	ps->max_ns = max_ns;
}

static void window_update(struct vhu_wthread *wt)
{
	uint64_t max_ns = 0, max_io = 0;

	for (unsigned int i = 0; i < wt->nqs; i++) {
		const struct vhu_backend_config *c = &wt->qs[i]->be->config;
		uint64_t ns = (uint64_t)c->poll_window_us * 1000u;
		uint64_t io = c->poll_window_us && c->ops->queue_inflight && c->poll_inflight_us
				      ? (uint64_t)c->poll_inflight_us * 1000u
				      : ns;

		if (ns > max_ns)
			max_ns = ns;
		if (io > max_io)
			max_io = io;
	}
	window_set_max(&wt->ps, max_ns);
	window_set_max(&wt->ps_io, max_io);
}

/* Act on each queue's pause_req and exit. */
static void control(struct vhu_wthread *wt)
{
	unsigned int before = wt->nqs;
	bool retry = take_incoming(wt) < 0;

	for (unsigned int i = 0; i < wt->nqs;) {
		struct vhu_queue *q = wt->qs[i];
		struct vhu_worker *w = &q->worker;

		vhu_lock_acquire(&w->lock);
		if (flag_get(&w->exit) || (flag_get(&w->pause_req) && !w->held)) {
			w->held = true;
			sync_fds(wt, q); /* out of the set before the fds may change */
		}
		if (flag_get(&w->exit)) {
			w->detached = true;
			pthread_cond_broadcast(&w->cond);
			vhu_lock_release(&w->lock);
			wt->qs[i] = wt->qs[--wt->nqs];
			continue;
		}
		if (w->held && !w->parked) {
			w->parked = true;
			pthread_cond_broadcast(&w->cond); /* vhu_be_queue_pause() waits for it */
		} else if (!flag_get(&w->pause_req) && w->held) {
			w->parked = w->held = false;
			w->kick_bad = w->watch_bad = false; /* the fds may have changed meanwhile */
			w->watch_changed = true;
			w->due |= DUE_KICK; /* and so may the ring */
			w->tlb_wake = 0;
			wt->fresh = true;
			wt->woke_ns = 0;
		}
		vhu_lock_release(&w->lock);
		i++;
	}
	if (wt->nqs != before)
		window_update(wt);
	if (retry) /* no room for a queue: come back soon */
		__atomic_store_n(&wt->ctl_pending, true, __ATOMIC_RELEASE);
}

/* ---- adaptive polling ---- */

/* A window that grows starts at this; one that shrinks under it becomes 0 (no polling). */
#define POLL_START_NS 4000u

/* Work came @block_ns after the thread ran out of it: size the next window. */
static void poll_adapt(struct vhu_poll_state *ps, uint64_t block_ns)
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

/* Between two looks at the watched fds when a device has no queue_pending. */
#define SPIN_FD_CHECK_NS 2000u

/* One look at a spinning queue; marks what is due. */
static bool spin_look(struct vhu_queue *q, bool *fd_look)
{
	const struct vhu_backend_config *cfg = &q->be->config;
	struct vhu_worker *w = &q->worker;

	/* notifications off: the device does not want to hear of buffers now */
	if (!q->vq.notify_off && vhu_vq_has_avail(&q->vq))
		w->due |= DUE_KICK;
	if (w->watch_fd >= 0 && !w->watch_bad) {
		if (!cfg->ops->queue_pending)
			*fd_look = true;
		else if (cfg->ops->queue_pending(cfg->dev, &q->vq))
			w->due |= DUE_EVENT;
	}
	return w->due != 0;
}

/*
 * Spin until @end looking at the spinning queues. Return: true when one
 * has work or a control thread calls, false if the window closed.
 */
static bool spin(struct vhu_wthread *wt, uint64_t end)
{
	uint64_t now = vhu_now_ns(), fd_check = now + SPIN_FD_CHECK_NS;

	while (now < end) {
		bool found = false, fd_look = false;

		if (flag_get(&wt->ctl_pending))
			return true;
		for (unsigned int i = 0; i < wt->nqs; i++)
			if (wt->qs[i]->worker.spinning)
				found |= spin_look(wt->qs[i], &fd_look);
		if (fd_look && now >= fd_check) {
			found |= wait_events(wt, 0);
			fd_check = now + SPIN_FD_CHECK_NS;
		}
		if (found)
			return true;
		vhu_cpu_relax();
		now = vhu_now_ns();
	}
	return false;
}

/*
 * Out of work: spin in the thread's window, kicks off in the rings it
 * looks at. Return: true if work (or a call) came, false if the window
 * closed with nothing (the caller then sleeps, which turns kicks back on).
 * @fresh: a round moved a ring or the thread resumed, so a new window
 * opens; else the open one goes on.
 */
static bool poll_due(struct vhu_wthread *wt, bool fresh)
{
	struct vhu_poll_state *ps;
	bool any = false, io = false;

	for (unsigned int i = 0; i < wt->nqs; i++) {
		struct vhu_queue *q = wt->qs[i];
		const struct vhu_backend_config *c = &q->be->config;

		q->worker.spinning = !q->worker.held && may_spin(q);
		any |= q->worker.spinning;
		/* a completion is coming: the wait is the device's, sized apart */
		if (fresh && q->worker.spinning && c->ops->queue_inflight && !io)
			io = c->ops->queue_inflight(c->dev, &q->vq);
	}
	if (!any) {
		wt->fresh = true;
		return false;
	}
	if (fresh) {
		wt->cur = io ? &wt->ps_io : &wt->ps;
		wt->cur->idle_since = vhu_now_ns();
		wt->cur->end = wt->cur->idle_since + wt->cur->ns;
	}
	ps = wt->cur;
	wt->fresh = false;
	if (ps->ns == 0)
		return false;
	for (unsigned int i = 0; i < wt->nqs; i++) {
		struct vhu_queue *q = wt->qs[i];

		if (q->worker.spinning && !q->vq.poll_quiet)
			(void)vhu_vq_poll_quiet(&q->vq, true);
	}
	return spin(wt, ps->end);
}

/* ---- rounds ---- */

/* One round of device ops; a ring that broke meanwhile gets none. */
static void run_ops(struct vhu_queue *q, unsigned int due)
{
	const struct vhu_backend_config *cfg = &q->be->config;

	if (q->worker.shared)
		pthread_mutex_lock(&q->worker.user_lock);
	vhu_be_current_queue = q;
	/* watch_fd: the device may have dropped it in the previous round */
	if ((due & DUE_EVENT) && q->worker.watch_fd >= 0 && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_event(cfg->dev, &q->vq);
	if ((due & DUE_KICK) && !vhu_vq_broken(&q->vq))
		cfg->ops->queue_kick(cfg->dev, &q->vq);
	vhu_be_current_queue = NULL;
	if (q->worker.shared)
		pthread_mutex_unlock(&q->worker.user_lock);
}

/* How soon a MISS the channel had no room for is sent again. */
#define TLB_RESEND_NS 10000000u

/*
 * The queue's last fetch missed: fetch again when a pause (every IOTLB
 * change pauses) resumes it or at its wake time, and break the queue when
 * the miss is not answered in time.
 */
static void tlb_next(struct vhu_queue *q, bool progress, uint64_t now)
{
	struct vhu_worker *w = &q->worker;
	uint64_t limit = (uint64_t)q->be->iotlb_timeout_ms * 1000000u, left;

	if (w->tlb_since == 0 || progress || w->tlb_iova != q->vq.tlb_miss_iova) {
		w->tlb_since = now;
		w->tlb_iova = q->vq.tlb_miss_iova;
	}
	if (now - w->tlb_since >= limit) {
		(void)vhu_vq_break(&q->vq, "IOTLB miss at iova 0x%" PRIx64 " not answered in %u ms",
				   w->tlb_iova, q->be->iotlb_timeout_ms);
		w->tlb_since = w->tlb_wake = 0;
		return;
	}
	left = limit - (now - w->tlb_since);
	/* a MISS the full channel refused: sent again after a short sleep */
	if (q->vq.tlb_resend && left > TLB_RESEND_NS)
		left = TLB_RESEND_NS;
	w->tlb_wake = now + left;
}

/* Busy polling: empty rounds in a row (tens of microseconds) before a thread yields. */
#define IDLE_ROUNDS_YIELD 512u
/* Busy polling: rounds between two looks at the other queues' fds. */
#define BUSY_ROUNDS_LOOK 16u

/* What one round found. */
struct round {
	bool moved;	   /* a ring moved */
	bool busy;	   /* a queue busy-polls */
	bool again;	   /* a device asked for its op again (vhu_vq_run_again) */
	uint64_t tlb_wake; /* the earliest IOTLB wake time, UINT64_MAX: none */
};

/*
 * A busy-polled ring's kicks: off while we poll anyway (other threads set a
 * shared ring's), unless a doorbell page is mapped (notifier.c, which this
 * thread asks for in the ring's first busy round): then a kick
 * is a store into it, free for the driver and for us, so kicks stay as the
 * device asks and the page is read (and reset) to count them.
 */
static void busy_kicks(struct vhu_queue *q)
{
	uint16_t *db;

	if (q->hn.want && !q->worker.shared)
		vhu_be_notifier_map(q); /* the ring's first busy round: its doorbell page */
	db = q->hn.page;

	if (!db) {
		if (!q->worker.shared && !q->vq.poll_quiet)
			(void)vhu_vq_poll_quiet(&q->vq, true);
		return;
	}
	if (q->vq.poll_quiet)
		(void)vhu_vq_poll_quiet(&q->vq, false); /* busy: the ring is read anyway */
	/* the driver stores its queue index; a race only merges two kicks */
	if (__atomic_load_n(db, __ATOMIC_RELAXED) != VHU_DOORBELL_IDLE &&
	    __atomic_exchange_n(db, (uint16_t)VHU_DOORBELL_IDLE, __ATOMIC_RELAXED) !=
		    VHU_DOORBELL_IDLE)
		count_add(&q->hn.kicks_doorbell, 1);
}

/* Run the ops that are due on every queue the thread serves. */
static void run_round(struct vhu_wthread *wt, struct round *r)
{
	uint64_t now = 0;

	*r = (struct round){ .tlb_wake = UINT64_MAX };
	for (unsigned int i = 0; i < wt->nqs; i++) {
		struct vhu_queue *q = wt->qs[i];
		struct vhu_worker *w = &q->worker;
		bool busy, moved = false;

		if (w->held)
			continue;
		if (w->tlb_wake) {
			now = now ? now : vhu_now_ns();
			if (now >= w->tlb_wake)
				w->due |= DUE_KICK; /* fetches again only if the table changed */
		}
		busy = busy_polls(q);
		if (busy) {
			busy_kicks(q);
			w->due |= DUE_KICK | (w->watch_fd >= 0 ? DUE_EVENT : 0);
		}
		if (w->due) {
			/* a shared queue's ring moves under other threads' locks: not read */
			uint64_t pos = w->shared ? 0 : ring_pos(&q->vq);
			unsigned int due = w->due;

			w->due = 0;
			run_ops(q, due);
			if (w->again) {
				w->again = false;
				w->due |= DUE_KICK;
				r->again = true;
			}
			moved = !w->shared && ring_pos(&q->vq) != pos;
			r->moved |= moved;
			if (tlb_waits(q))
				tlb_next(q, moved, vhu_now_ns());
			else
				w->tlb_since = w->tlb_wake = 0;
		}
		if (w->tlb_wake && w->tlb_wake < r->tlb_wake)
			r->tlb_wake = w->tlb_wake;
		r->busy |= busy && !tlb_waits(q);
		sync_fds(wt, q);
	}
}

/* Turn kicks back on in the rings polled quietly, and look once more. Return: work found. */
static bool quiet_off(struct vhu_wthread *wt)
{
	bool any = false;

	for (unsigned int i = 0; i < wt->nqs; i++) {
		struct vhu_queue *q = wt->qs[i];

		if (q->worker.held || q->worker.shared || !q->vq.poll_quiet || busy_polls(q))
			continue;
		if (vhu_vq_poll_quiet(&q->vq, false)) {
			q->worker.due |= DUE_KICK;
			any = true;
		}
	}
	return any;
}

/* Nothing to do: sleep until an fd, a control thread or an IOTLB wake time calls. */
static void sleep_events(struct vhu_wthread *wt, uint64_t tlb_wake)
{
	int timeout = -1;

	/* a spin's epoll_wait(0) may have drained the control eventfd: the flag tells */
	if (flag_get(&wt->ctl_pending))
		return;

	if (tlb_wake != UINT64_MAX) {
		uint64_t now = vhu_now_ns(), left = tlb_wake > now ? tlb_wake - now : 0;

		timeout = (int)((left + 999999u) / 1000000u);
	}
	if (wait_events(wt, timeout))
		wt->woke_ns = vhu_now_ns();
}

static void *wthread_main(void *arg)
{
	struct vhu_wthread *wt = arg;

	wt->cur = &wt->ps;
	wt->fresh = true;
	for (;;) {
		struct round r;

		if (__atomic_exchange_n(&wt->ctl_pending, false, __ATOMIC_ACQ_REL))
			control(wt);
		if (wt->pool ? flag_get(&wt->exit) : wt->nqs == 0 && !flag_get(&wt->ctl_pending))
			break; /* a pool that ends, or an own thread whose queue stopped */
		run_round(wt, &r);
		if (r.busy) {
			/*
			 * Busy polling and nothing moved for IDLE_ROUNDS_YIELD
			 * rounds: let another thread that shares this CPU run
			 * rather than spin out the time slice. Not sooner: a
			 * system call per empty round delays a queue that is only
			 * between two bursts. Alone on its CPU the call returns
			 * at once.
			 */
			if (r.moved)
				wt->idle_rounds = 0;
			else if (++wt->idle_rounds >= IDLE_ROUNDS_YIELD)
				sched_yield();
			if (++wt->busy_rounds % BUSY_ROUNDS_LOOK == 0)
				(void)wait_events(wt, 0); /* the thread's queues that sleep */
			wt->fresh = true;
			wt->woke_ns = 0;
			continue;
		}
		wt->idle_rounds = 0;
		if (r.again) {
			/* the device stopped at its budget with work left: no sleep */
			wt->fresh = true;
			wt->woke_ns = 0;
			continue;
		}
		/* a wake-up that brought nothing (a stale count) is not work */
		if (wt->woke_ns && r.moved)
			poll_adapt(wt->cur, wt->woke_ns - wt->cur->idle_since);
		wt->woke_ns = 0;
		if (poll_due(wt, wt->fresh || r.moved))
			continue;
		/* kicks back on, then the rings once more: what came before is not slept on */
		if (quiet_off(wt)) {
			wt->woke_ns = vhu_now_ns();
			continue;
		}
		sleep_events(wt, r.tlb_wake);
	}
	free(wt->qs);
	wt->qs = NULL;
	wt->nqs = wt->cap = 0;
	return NULL;
}

/* ---- threads ---- */

int vhu_wthread_init(struct vhu_wthread *wt, struct vhu_pool *pool)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int ret;

	memset(wt, 0, sizeof(*wt));
	wt->pool = pool;
	wt->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wt->ctl_fd < 0)
		return -errno;
	wt->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (wt->epfd < 0 || epoll_ctl(wt->epfd, EPOLL_CTL_ADD, wt->ctl_fd, &ev) < 0) {
		ret = -errno;
		if (wt->epfd >= 0)
			close(wt->epfd);
		close(wt->ctl_fd);
		return ret;
	}
	ret = -pthread_mutex_init(&wt->lock, NULL);
	if (ret < 0) {
		close(wt->epfd);
		close(wt->ctl_fd);
	}
	return ret;
}

void vhu_wthread_fini(struct vhu_wthread *wt)
{
	if (wt->started)
		pthread_join(wt->thread, NULL);
	wt->started = false;
	pthread_mutex_destroy(&wt->lock);
	vhu_close_fd(&wt->epfd);
	vhu_close_fd(&wt->ctl_fd);
}

int vhu_wthread_start(struct vhu_wthread *wt, const char *name)
{
	sigset_t all, old;
	int ret;

	/* signals go to the application's threads, never to a worker */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&wt->thread, NULL, wthread_main, wt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	(void)pthread_setname_np(wt->thread, name);
	wt->started = true;
	return 0;
}

void vhu_wthread_wake(struct vhu_wthread *wt)
{
	__atomic_store_n(&wt->ctl_pending, true, __ATOMIC_RELEASE);
	(void)eventfd_write(wt->ctl_fd, 1); /* out of epoll_wait() */
}
