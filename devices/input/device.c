/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user side of vhu-input: queue 0 carries events to the guest,
 * queue 1 brings status events (LEDs) from it.
 *
 * Event queue: shared (vhu_vq_share). The source thread queues events in a
 * bounded ring (the pending queue) and delivers what the guest has posted
 * buffers for, under the queue's lock; the queue's worker delivers the rest
 * when the driver posts buffers (queue_kick). Lock order: the queue's lock,
 * then d->lock. One event per buffer, 8 bytes (struct virtio_input_event);
 * a buffer with less room is completed empty and counted, the event waits
 * for the next one.
 *
 * Overflow: when the pending queue is full, the frame being built (the
 * events after the last SYN_REPORT) is dropped with every event up to and
 * including the next SYN_REPORT, so the guest sees whole frames or none;
 * each dropped event is counted. Memory stays at --max-pending events.
 *
 * Resync: a dropped key release would leave the key down in the guest. So
 * the device keeps the state the source's events leave (d->now, every
 * event, dropped or not) and the state the driver was handed (d->guest,
 * every event delivered), as a kernel client does after SYN_DROPPED. After
 * an overflow the source's frames are dropped until, between two of its
 * frames, the queue has room for the corrections: the events that take
 * what the guest will have been told (d->guest, then the pending queue)
 * to d->now, and a SYN_REPORT. Corrections that never fit (more than
 * --max-pending) go in parts, each time the queue is empty, the
 * SYN_REPORT after the last. Two states and a flag: memory stays bounded.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "input.h"
#include <vhu/protocol.h>

#define EVENTQ 0u
#define STATUSQ 1u

int input_dev_init(struct input_dev *d, unsigned int max_pending, const struct vhu_log *log)
{
	memset(d, 0, sizeof(*d));
	d->log = log;
	d->cap = max_pending;
	d->pending = calloc(max_pending, sizeof(*d->pending));
	vhu_req_init(&d->ereq, d->eiov, INPUT_REQ_IOV);
	vhu_req_init(&d->sreq, d->siov, INPUT_REQ_IOV);
	if (!d->pending || pthread_mutex_init(&d->lock, NULL)) {
		free(d->pending);
		return -ENOMEM;
	}
	return 0;
}

void input_dev_fini(struct input_dev *d)
{
	pthread_mutex_destroy(&d->lock);
	free(d->pending);
}

/* Drop the frame being built at the tail: the events after the last SYN_REPORT. */
static void drop_partial(struct input_dev *d)
{
	while (d->num) {
		const struct input_event_v *last = &d->pending[(d->head + d->num - 1) % d->cap];

		if (last->type == EV_SYN && last->code == SYN_REPORT)
			break;
		d->num--;
		d->cnt.dropped++;
	}
}

static void push(struct input_dev *d, const struct input_event_v *ev)
{
	d->pending[(d->head + d->num) % d->cap] = *ev;
	d->num++;
}

/*
 * Queue the corrections after an overflow (see the top of the file), all
 * with their SYN_REPORT when they fit, as many as fit when the queue is
 * empty. The source is between frames. Return: whether anything was queued.
 */
static bool resync_try(struct input_dev *d)
{
	struct input_state told = d->guest;
	struct input_event_v ev;
	unsigned int pos = 0, n = 0;
	bool all;

	if (d->num == d->cap)
		return false;
	for (unsigned int i = 0; i < d->num; i++)
		state_apply(&told, &d->pending[(d->head + i) % d->cap]);
	while (state_diff_next(&told, &d->now, &pos, &ev))
		n++;
	if (!n && !d->resync_open) {
		d->resync = false; /* only motion was lost: nothing to correct */
		return false;
	}
	all = n < d->cap - d->num; /* the corrections and their SYN_REPORT fit */
	if (!all && d->num)
		return false; /* wait for the guest to take what is queued */
	if (!all)
		n = d->cap; /* the queue is empty: a part now, the rest as the guest takes it */
	pos = 0;
	for (unsigned int i = 0; i < n && state_diff_next(&told, &d->now, &pos, &ev); i++) {
		push(d, &ev);
		d->cnt.corrections++;
	}
	if (all) {
		push(d, &(struct input_event_v){ EV_SYN, SYN_REPORT, 0 });
		d->resync = false;
	}
	d->resync_open = !all;
	return true;
}

static void queue_one(struct input_dev *d, const struct input_event_v *ev)
{
	bool report = ev->type == EV_SYN && ev->code == SYN_REPORT;

	state_apply(&d->now, ev);
	if (!d->dropping && d->resync)
		resync_try(d); /* the source is between frames */
	if (!d->dropping && !d->resync) {
		if (d->num < d->cap) {
			push(d, ev);
			return;
		}
		drop_partial(d); /* the overflow takes the frame being built */
	}
	d->cnt.dropped++;
	d->dropping = !report;
	d->resync = true;
	if (report)
		resync_try(d); /* between frames again: correct the guest if there is room */
}

/* Write @size bytes into a chain's writable buffers, from the first on. */
static void chain_write(const struct vhu_req *r, const void *src, size_t size)
{
	const uint8_t *s = src;

	for (uint32_t i = r->out_num; i < r->out_num + r->in_num && size; i++) {
		size_t n = r->iov[i].iov_len < size ? r->iov[i].iov_len : size;

		memcpy(r->iov[i].iov_base, s, n);
		s += n;
		size -= n;
	}
}

/* Hand pending events to the buffers the guest posted; d->lock held. Return: any buffer used. */
static bool fill(struct input_dev *d, struct vhu_vq *vq)
{
	struct vhu_req *r = &d->ereq;
	bool pushed = false;

	while (d->num && vhu_vq_pop(vq, r) == 1) {
		const struct input_event_v *ev = &d->pending[d->head];
		struct virtio_input_event out = {
			.type = htole16(ev->type),
			.code = htole16(ev->code),
			.value = htole32((uint32_t)ev->value),
		};

		pushed = true;
		if (r->fault || r->in_size < sizeof(out)) {
			if (!d->warned_tiny)
				vhu_logf(d->log, VHU_LOG_WARN,
					 "event buffer of %llu bytes (8 wanted): completed empty",
					 (unsigned long long)r->in_size);
			d->warned_tiny = true;
			d->cnt.bad_buffers++;
			vhu_vq_push(vq, r, 0);
			continue;
		}
		chain_write(r, &out, sizeof(out));
		vhu_vq_push(vq, r, sizeof(out));
		state_apply(&d->guest, ev);
		d->head = (d->head + 1) % d->cap;
		d->num--;
		d->cnt.delivered++;
	}
	return pushed;
}

/* Fill the buffers the guest posted from the pending queue; the caller holds @vq's lock. */
static void deliver(struct input_dev *d, struct vhu_vq *vq)
{
	bool pushed;

	pthread_mutex_lock(&d->lock);
	pushed = fill(d, vq);
	/* room now: the corrections an overflow left owing, unless the source is mid-frame */
	while (d->resync && !d->dropping && resync_try(d))
		pushed |= fill(d, vq);
	pthread_mutex_unlock(&d->lock);
	if (pushed)
		vhu_vq_notify(vq);
}

static void try_deliver(struct input_dev *d)
{
	struct vhu_vq *vq = __atomic_load_n(&d->eventq, __ATOMIC_ACQUIRE);

	if (!vq || !__atomic_load_n(&d->event_running, __ATOMIC_ACQUIRE))
		return;
	vhu_vq_lock(vq);
	deliver(d, vq); /* a queue stopped meanwhile: pop says -EAGAIN, nothing moves */
	vhu_vq_unlock(vq);
}

/*
 * Queue what fits, deliver, and go on: the bound applies to what the guest
 * has no buffers for, not to the size of a burst from the source.
 */
void input_post(struct input_dev *d, const struct input_event_v *ev, unsigned int n)
{
	while (n) {
		unsigned int k = 0;

		pthread_mutex_lock(&d->lock);
		while (k < n && (d->num < d->cap || d->dropping))
			queue_one(d, &ev[k++]);
		if (!k)
			queue_one(d, &ev[k++]); /* full although delivered just before: dropped */
		pthread_mutex_unlock(&d->lock);
		try_deliver(d);
		ev += k;
		n -= k;
	}
}

void input_count_malformed(struct input_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->cnt.malformed++;
	pthread_mutex_unlock(&d->lock);
}

void input_counters(struct input_dev *d, struct input_counters *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->cnt;
	out->pending = d->num;
	pthread_mutex_unlock(&d->lock);
}

/* One status buffer: 8 readable bytes, a struct virtio_input_event. */
static void status_one(struct input_dev *d, const struct vhu_req *r)
{
	struct virtio_input_event raw;
	struct input_event_v ev;
	uint8_t *p = (uint8_t *)&raw;
	size_t got = 0;

	for (uint32_t i = 0; i < r->out_num && got < sizeof(raw); i++) {
		size_t n = r->iov[i].iov_len;

		if (n > sizeof(raw) - got)
			n = sizeof(raw) - got;
		memcpy(p + got, r->iov[i].iov_base, n);
		got += n;
	}
	if (got < sizeof(raw)) {
		pthread_mutex_lock(&d->lock);
		d->cnt.bad_buffers++;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	ev = (struct input_event_v){ le16toh(raw.type), le16toh(raw.code),
				     (int32_t)le32toh(raw.value) };
	if (ev.type == EV_SYN || !caps_event_ok(&d->caps, &ev)) {
		pthread_mutex_lock(&d->lock);
		d->cnt.status_unknown++;
		pthread_mutex_unlock(&d->lock);
		if (!d->warned_status)
			vhu_logf(d->log, VHU_LOG_WARN,
				 "status event %u %u %d not described by the device: ignored",
				 ev.type, ev.code, ev.value);
		d->warned_status = true;
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->cnt.status++;
	pthread_mutex_unlock(&d->lock);
	d->status(d->src, &ev);
}

static void status_kick(struct input_dev *d, struct vhu_vq *vq)
{
	do {
		vhu_vq_enable_notify(vq, false);
		while (vhu_vq_pop(vq, &d->sreq) == 1) {
			status_one(d, &d->sreq);
			vhu_vq_push(vq, &d->sreq, 0);
		}
		vhu_vq_notify(vq);
	} while (!vhu_vq_broken(vq) && vhu_vq_enable_notify(vq, true));
}

static void input_queue_kick(void *dev, struct vhu_vq *vq)
{
	struct input_dev *d = dev;

	if (vhu_vq_index(vq) == EVENTQ)
		deliver(d, vq); /* the worker holds the shared queue's lock */
	else
		status_kick(d, vq);
}

static int input_queue_start(void *dev, struct vhu_vq *vq)
{
	struct input_dev *d = dev;
	int ret;

	if (vhu_vq_index(vq) != EVENTQ)
		return 0;
	ret = vhu_vq_share(vq);
	if (ret < 0)
		return ret;
	__atomic_store_n(&d->eventq, vq, __ATOMIC_RELEASE);
	__atomic_store_n(&d->event_running, true, __ATOMIC_RELEASE);
	return 0;
}

static void input_queue_stop(void *dev, struct vhu_vq *vq)
{
	struct input_dev *d = dev;

	if (vhu_vq_index(vq) == EVENTQ)
		__atomic_store_n(&d->event_running, false, __ATOMIC_RELEASE);
}

static uint64_t input_get_features(void *dev)
{
	(void)dev;
	return VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
	       VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_F_RING_PACKED);
}

static int input_get_config(void *dev, void *buf, uint32_t offset, uint32_t size)
{
	struct input_dev *d = dev;
	struct virtio_input_config cfg;

	caps_config(&d->caps, d->select, d->subsel, &cfg);
	if (offset >= sizeof(cfg))
		return 0; /* past the config space: reads as 0 */
	if (size > sizeof(cfg) - offset)
		size = (uint32_t)(sizeof(cfg) - offset);
	memcpy(buf, (const uint8_t *)&cfg + offset, size);
	return 0;
}

/*
 * Only select (byte 0) and subsel (byte 1) are the driver's to write. QEMU
 * writes the whole 136-byte space back with them, the rest as it last read
 * it: those bytes are ignored. A write that touches neither is refused.
 */
static int input_set_config(void *dev, const void *buf, uint32_t offset, uint32_t size)
{
	struct input_dev *d = dev;
	const uint8_t *b = buf;

	if (offset > 1)
		return -EINVAL;
	if (offset == 0)
		d->select = b[0];
	if (offset + size > 1)
		d->subsel = b[1 - offset];
	return 0;
}

static void input_reset(void *dev)
{
	struct input_dev *d = dev;

	d->select = 0;
	d->subsel = 0;
	/* events queued for the driver that left are not the next one's */
	pthread_mutex_lock(&d->lock);
	d->cnt.dropped += d->num;
	d->num = 0;
	d->head = 0;
	d->dropping = false;
	/* the next driver starts from nothing pressed; what the source holds stays */
	memset(&d->guest, 0, sizeof(d->guest));
	d->resync = false;
	d->resync_open = false;
	pthread_mutex_unlock(&d->lock);
}

const struct vhu_device_ops input_ops = {
	.get_features = input_get_features,
	.get_config = input_get_config,
	.set_config = input_set_config,
	.queue_start = input_queue_start,
	.queue_stop = input_queue_stop,
	.queue_kick = input_queue_kick,
	.reset = input_reset,
};
