/* SPDX-License-Identifier: MIT */
/*
 * Device state transfer for migration (spec: "Migrating back-end state"):
 * SET_DEVICE_STATE_FD hands the back-end one end of a pipe, direction SAVE
 * (the back-end writes its state, then closes) or LOAD (it reads until the
 * front-end closes); CHECK_DEVICE_STATE then asks whether that went well.
 * Only the STOPPED phase exists: every ring is stopped meanwhile.
 *
 * The front-end reads a SAVE only after our reply, so the bytes cannot be
 * written from the handler (a state over the pipe's capacity would block
 * it): a thread moves them, and CHECK_DEVICE_STATE joins it. The device's
 * ops run on the control thread only: state_save in SET_DEVICE_STATE_FD
 * (into a buffer the thread writes), state_load in CHECK_DEVICE_STATE
 * (from the buffer the thread read). A LOAD is bounded by
 * VHU_STATE_MAX_BYTES; a disconnect cancels a transfer in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"

/*
 * How long CHECK_DEVICE_STATE waits for a transfer the front-end should
 * have ended already (QEMU closes or drains its end before it asks): well
 * under a front-end's own reply timeout, so that it gets the failure.
 */
#ifndef VHU_STATE_TIMEOUT_MS
#define VHU_STATE_TIMEOUT_MS 2000u
#endif

/* The bytes the transfer thread moves; wakes on @cancel_fd. */
static void *transfer_thread(void *arg)
{
	struct vhu_be_state *s = arg;
	size_t cap = s->len;
	int err = 0;

	while (!err) {
		struct pollfd p[2] = { { s->fd, s->load ? POLLIN : POLLOUT, 0 },
				       { s->cancel_fd, POLLIN, 0 } };
		ssize_t n;

		if (!s->load && s->done == s->len)
			break;
		if (poll(p, 2, -1) < 0) {
			if (errno != EINTR)
				err = -errno;
			continue;
		}
		if (p[1].revents) {
			err = -ECANCELED;
			break;
		}
		if (!s->load) {
			n = write(s->fd, (uint8_t *)s->buf + s->done, s->len - s->done);
		} else {
			if (s->done == cap) {
				size_t ncap = cap ? cap * 2 : 4096;
				void *nb;

				if (cap >= VHU_STATE_MAX_BYTES) {
					err = -EFBIG;
					break;
				}
				if (ncap > VHU_STATE_MAX_BYTES)
					ncap = VHU_STATE_MAX_BYTES;
				nb = realloc(s->buf, ncap);
				if (!nb) {
					err = -ENOMEM;
					break;
				}
				s->buf = nb;
				cap = ncap;
			}
			n = read(s->fd, (uint8_t *)s->buf + s->done, cap - s->done);
			if (n == 0)
				break; /* the front-end closed: all of it came */
		}
		if (n < 0) {
			if (errno != EINTR && errno != EAGAIN)
				err = -errno;
			continue;
		}
		s->done += (size_t)n;
	}
	if (s->load)
		s->len = s->done;
	close(s->fd);
	s->fd = -1;
	s->result = err;
	return NULL;
}

/*
 * With every signal blocked, as the workers: a front-end that closes its
 * end makes write() fail with EPIPE in this thread, not kill the process
 * with SIGPIPE (which a library cannot assume ignored).
 */
static int thread_start(struct vhu_be_state *s)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&s->thread, NULL, transfer_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* Join the thread and free what it moved (a disconnect cancels it first). */
static void state_end(struct vhu_backend *be, bool cancel)
{
	struct vhu_be_state *s = &be->state;

	if (s->thread_alive) {
		if (cancel)
			(void)eventfd_write(s->cancel_fd, 1);
		pthread_join(s->thread, NULL);
		s->thread_alive = false;
	}
	vhu_close_fd(&s->fd);
	vhu_close_fd(&s->cancel_fd);
	free(s->buf);
	s->buf = NULL;
	s->len = s->done = 0;
}

/* Join the thread of a transfer the front-end should have finished: wait a while, then cancel it.
 */
static void state_end_join(struct vhu_be_state *s)
{
	struct timespec until;

	if (!s->thread_alive)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(VHU_STATE_TIMEOUT_MS % 1000) * 1000000;
	until.tv_sec += VHU_STATE_TIMEOUT_MS / 1000 + until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	if (pthread_timedjoin_np(s->thread, NULL, &until) != 0) {
		(void)eventfd_write(s->cancel_fd, 1);
		pthread_join(s->thread, NULL);
		s->result = -ETIMEDOUT; /* the front-end never closed its end */
	}
	s->thread_alive = false;
}

void vhu_be_state_clear(struct vhu_backend *be)
{
	state_end(be, true);
	be->state.active = false;
}

static bool rings_stopped(const struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		if (be->queues[i].running)
			return false;
	return true;
}

int vhu_be_set_device_state_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_device_state_transfer *t = &msg->payload.transfer;
	const struct vhu_device_ops *ops = be->config.ops;
	struct vhu_be_state *s = &be->state;
	int ret, flags;

	if (t->direction > VHU_TRANSFER_LOAD || t->phase != VHU_TRANSFER_PHASE_STOPPED)
		return vhu_be_fail(be, -EINVAL,
				   "device state: direction %" PRIu32 ", phase %" PRIu32
				   " (only SAVE/LOAD in the stopped phase)",
				   t->direction, t->phase);
	if (!rings_stopped(be))
		return vhu_be_fail(be, -EBUSY,
				   "device state: a ring still runs (GET_VRING_BASE first)");
	/* spec: a new transfer ends the one before */
	vhu_be_state_clear(be);
	s->load = t->direction == VHU_TRANSFER_LOAD;
	s->fd = vhu_msg_take_fd(msg, 0);
	s->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	flags = fcntl(s->fd, F_GETFL);
	if (s->cancel_fd < 0 || flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		ret = -errno;
		vhu_be_state_clear(be);
		return vhu_be_fail(be, ret, "device state: %s", strerror(-ret));
	}
	if (!s->load) {
		ret = ops->state_save(be->config.dev, &s->buf, &s->len);
		if (ret == 0 && s->len > VHU_STATE_MAX_BYTES)
			ret = -EFBIG;
		if (ret < 0) {
			vhu_be_state_clear(be);
			return vhu_be_fail(be, ret, "the device could not save its state: %s",
					   strerror(-ret));
		}
	}
	ret = thread_start(s);
	if (ret < 0) {
		vhu_be_state_clear(be);
		return vhu_be_fail(be, ret, "device state: no transfer thread");
	}
	s->thread_alive = true;
	s->active = true;
	vhu_info(&be->log, "device state: %s started%s", s->load ? "load" : "save",
		 s->load ? "" : " (the front-end reads it now)");
	/* success, and no fd of ours: the front-end uses the pipe it sent */
	return vhu_be_reply_u64(reply, VHU_DEVICE_STATE_NOFD);
}

int vhu_be_check_device_state(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct vhu_be_state *s = &be->state;
	int ret;

	(void)msg;
	if (!s->active)
		return vhu_be_fail(be, -EINVAL, "device state: no transfer to check");
	/* the front-end has closed its end (LOAD) or read to the end (SAVE) */
	state_end_join(s);
	ret = s->result;
	if (ret == 0 && s->load) {
		ret = be->config.ops->state_load(be->config.dev, s->buf, s->len);
		if (ret < 0)
			vhu_be_fail(be, ret,
				    "the device refused the state it was given (%zu bytes)",
				    s->len);
	} else if (ret < 0) {
		vhu_be_fail(be, ret, "device state %s failed after %zu bytes: %s",
			    s->load ? "load" : "save", s->done, strerror(-ret));
	}
	if (ret == 0)
		vhu_info(&be->log, "device state: %zu bytes %s", s->load ? s->len : s->done,
			 s->load ? "loaded" : "saved");
	vhu_be_state_clear(be);
	return ret < 0 ? ret : vhu_be_reply_u64(reply, 0);
}
