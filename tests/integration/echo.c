/* SPDX-License-Identifier: MIT */
/*
 * The echo device of the integration rig (rig.h): every request's readable
 * bytes are copied into its writable bytes. Its ops count their calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "rig.h"

/* ---- the echo device ------------------------------------------------------ */

static void count(unsigned int *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_ACQ_REL);
}

static uint64_t echo_get_features(void *dev)
{
	(void)dev;
	return ECHO_FEATURES;
}

static int echo_set_features(void *dev, uint64_t features)
{
	struct echo_dev *d = dev;
	uint64_t narrow = __atomic_load_n(&d->narrow_to, __ATOMIC_ACQUIRE);

	__atomic_store_n(&d->acked_features, features, __ATOMIC_RELEASE);
	count(&d->set_features_calls);
	if (narrow) /* vhost-pci: the device settles on fewer (from the op: queued) */
		__atomic_store_n(&d->narrow_ret,
				 vhu_backend_send_features(d->be, narrow & (features | F_PROTOCOL)),
				 __ATOMIC_RELEASE);
	return __atomic_load_n(&d->set_features_ret, __ATOMIC_ACQUIRE);
}

static int echo_get_config(void *dev, void *buf, uint32_t offset, uint32_t size)
{
	struct echo_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	memcpy(buf, d->config + offset, size);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int echo_set_config(void *dev, const void *buf, uint32_t offset, uint32_t size)
{
	struct echo_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	memcpy(d->config + offset, buf, size);
	pthread_mutex_unlock(&d->lock);
	if (__atomic_load_n(&d->config_change_on_set, __ATOMIC_ACQUIRE))
		__atomic_store_n(&d->config_change_ret, vhu_backend_config_changed(d->be),
				 __ATOMIC_RELEASE);
	return 0;
}

static int echo_queue_start(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;

	count(&d->queue_starts);
	/* -1 too: the watch is forgotten at every stop, so this is a no-op then */
	return vhu_vq_watch_fd(vq,
			       __atomic_load_n(&d->watch_fd[vhu_vq_index(vq)], __ATOMIC_ACQUIRE));
}

/* The watched eventfd is readable (or, busy-polling, maybe not): drain it. */
static void echo_queue_event(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	int fd = __atomic_load_n(&d->watch_fd[vhu_vq_index(vq)], __ATOMIC_ACQUIRE);
	uint64_t v;

	count(&d->event_calls);
	if (fd >= 0 && read(fd, &v, sizeof(v)) == sizeof(v))
		count(&d->events);
	if (__atomic_load_n(&d->unwatch_on_event, __ATOMIC_ACQUIRE))
		(void)vhu_vq_watch_fd(vq, -1); /* from the worker itself: allowed */
}

static void echo_queue_stop(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	unsigned int ms = __atomic_load_n(&d->stop_delay_ms, __ATOMIC_ACQUIRE);

	(void)vq;
	if (ms)
		usleep(ms * 1000u);
	count(&d->queue_stops);
}

static void echo_reset(void *dev)
{
	count(&((struct echo_dev *)dev)->resets);
}

/* Copy the readable bytes into the writable ones. Return: bytes written. */
static uint32_t echo_copy(const struct vhu_req *req)
{
	const struct iovec *in = &req->iov[req->out_num];
	size_t done = 0, in_off = 0;
	uint32_t i = 0;

	for (uint32_t o = 0; o < req->out_num; o++) {
		const uint8_t *src = req->iov[o].iov_base;
		size_t left = req->iov[o].iov_len;

		while (left && i < req->in_num) {
			size_t n = in[i].iov_len - in_off;

			n = n < left ? n : left;
			memcpy((uint8_t *)in[i].iov_base + in_off, src, n);
			src += n;
			left -= n;
			in_off += n;
			done += n;
			if (in_off == in[i].iov_len) {
				i++;
				in_off = 0;
			}
		}
	}
	return (uint32_t)done;
}

static void echo_queue_kick(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	struct vhu_req *req = d->req[vhu_vq_index(vq)];

	count(&d->kicks);
	if (__atomic_load_n(&d->one_per_kick, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&d->again_forever, __ATOMIC_ACQUIRE)) {
		/* as a device with a budget: kicks off, and back for the rest */
		vhu_vq_enable_notify(vq, false);
		if (vhu_vq_pop(vq, req) == 1) {
			(void)vhu_vq_push(vq, req, echo_copy(req));
			count(&d->completed);
			(void)vhu_vq_notify(vq);
		}
		if (vhu_vq_has_avail(vq) || __atomic_load_n(&d->again_forever, __ATOMIC_ACQUIRE))
			(void)vhu_vq_run_again(vq);
		else if (vhu_vq_enable_notify(vq, true))
			(void)vhu_vq_run_again(vq); /* came in meanwhile */
		return;
	}
	while (vhu_vq_pop(vq, req) == 1) {
		/* a buffer the IOMMU denied: nothing echoed (test_iommu) */
		(void)vhu_vq_push(vq, req, req->fault ? 0 : echo_copy(req));
		count(&d->completed);
	}
	(void)vhu_vq_notify(vq);
}

/* Device state: "ECHO", then the completions counter; or state_size bytes of a pattern. */
static int echo_state_save(void *dev, void **buf, size_t *len)
{
	struct echo_dev *d = dev;
	size_t n = d->state_size ? d->state_size : 8;
	uint8_t *b = malloc(n);
	unsigned int c = echo_count(&d->completed);

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + 7);
	if (!d->state_size) {
		memcpy(b, "ECHO", 4);
		memcpy(b + 4, &c, 4);
	}
	*buf = b;
	*len = n;
	return 0;
}

static int echo_state_load(void *dev, const void *buf, size_t len)
{
	struct echo_dev *d = dev;
	const uint8_t *b = buf;

	d->loaded_size = len;
	if (len == 8 && !memcmp(b, "ECHO", 4)) {
		memcpy(&d->loaded_completed, b + 4, 4);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		if (b[i] != (uint8_t)(i * 31 + 7))
			return -EINVAL;
	return len ? 0 : -EINVAL;
}

const struct vhu_device_ops echo_ops = {
	.get_features = echo_get_features,
	.set_features = echo_set_features,
	.get_config = echo_get_config,
	.set_config = echo_set_config,
	.queue_start = echo_queue_start,
	.queue_stop = echo_queue_stop,
	.queue_kick = echo_queue_kick,
	.queue_event = echo_queue_event,
	.reset = echo_reset,
	.state_save = echo_state_save,
	.state_load = echo_state_load,
};

/* ---- echo_io_ops: completions that come later, as a disk's ------------------ */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int echo_io_start(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;

	count(&d->queue_starts);
	return vhu_vq_index(vq) == 0 ? vhu_vq_watch_fd(vq, d->io_timer) : 0;
}

/* Queue 0: take one request and "submit" it (the timer); the others echo at once. */
static void echo_io_kick(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	struct itimerspec its = { 0 };

	if (vhu_vq_index(vq) != 0 || d->io_held) {
		if (vhu_vq_index(vq) != 0)
			echo_ops.queue_kick(dev, vq);
		return;
	}
	count(&d->kicks);
	if (vhu_vq_pop(vq, d->req[0]) != 1)
		return;
	d->io_held = true;
	d->io_due_ns = mono_ns() + (uint64_t)d->io_delay_us * 1000u;
	its.it_value.tv_nsec = (long)d->io_delay_us * 1000;
	(void)timerfd_settime(d->io_timer, 0, &its, NULL);
}

static bool io_done(const struct echo_dev *d)
{
	return d->io_held && mono_ns() >= d->io_due_ns;
}

static bool echo_io_pending(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;

	(void)vq;
	if (!io_done(d))
		return false;
	count(&d->io_pending_hits);
	return true;
}

static bool echo_io_inflight(void *dev, struct vhu_vq *vq)
{
	(void)vq;
	return ((struct echo_dev *)dev)->io_held;
}

/* The timer fired (or the poll window found it done): complete, take the next. */
static void echo_io_event(void *dev, struct vhu_vq *vq)
{
	struct echo_dev *d = dev;
	uint64_t v;

	if (read(d->io_timer, &v, sizeof(v)) < 0)
		v = 0; /* not fired yet: the poll window was first */
	if (!io_done(d))
		return;
	(void)vhu_vq_push(vq, d->req[0], echo_copy(d->req[0]));
	d->io_held = false;
	count(&d->io_event_done);
	count(&d->completed);
	(void)vhu_vq_notify(vq);
	echo_io_kick(dev, vq);
}

const struct vhu_device_ops echo_io_ops = {
	.get_features = echo_get_features,
	.set_features = echo_set_features,
	.get_config = echo_get_config,
	.set_config = echo_set_config,
	.queue_start = echo_io_start,
	.queue_stop = echo_queue_stop,
	.queue_kick = echo_io_kick,
	.queue_event = echo_io_event,
	.queue_pending = echo_io_pending,
	.queue_inflight = echo_io_inflight,
	.reset = echo_reset,
};

bool echo_wait_count(const unsigned int *counter, unsigned int value, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t++) {
		if (echo_count(counter) >= value)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return echo_count(counter) >= value;
}
