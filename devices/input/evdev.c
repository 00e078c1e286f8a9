/* SPDX-License-Identifier: MIT */
/*
 * The evdev source (--evdev-path=PATH): the device's capabilities come from
 * the EVIOCG* ioctls, its events are read as struct input_event and passed
 * on, and the guest's status events (LEDs, sounds) are written back to it.
 * Unless --no-grab, the device is grabbed (EVIOCGRAB) so the host's other
 * readers do not see its events too.
 *
 * SYN_DROPPED (the kernel's buffer for us overflowed): the events up to the
 * next SYN_REPORT are incomplete and dropped (counted as resync); then the
 * key, switch, LED and absolute-axis state is read with EVIOCGKEY, EVIOCGSW,
 * EVIOCGLED and EVIOCGABS and whatever differs from what the guest was last
 * told (state.c) is sent as one frame, so no key stays pressed in the guest
 * (Linux Documentation/input/event-codes.rst, "EV_SYN").
 *
 * A device that goes away (ENODEV, POLLERR, POLLHUP: unplugged, uinput
 * destroyed) ends the source with -ENODEV: the program exits non-zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "input.h"

#define EVDEV_READ_MAX 64u

struct evdev {
	struct input_dev *d;
	int fd;
	bool writable; /* opened read-write: status events can be written back */
	bool grabbed;
	bool resync;		 /* after SYN_DROPPED: dropping up to the next SYN_REPORT */
	struct input_state told; /* what the guest was last told */
	struct input_event_v out[EVDEV_READ_MAX + KEY_CNT + SW_CNT + LED_CNT + ABS_CNT + 1];
	unsigned int nout;
};

static void emit(struct evdev *e, uint16_t type, uint16_t code, int32_t value)
{
	struct input_event_v *ev;

	if (e->nout == sizeof(e->out) / sizeof(e->out[0])) {
		input_post(e->d, e->out, e->nout);
		e->nout = 0;
	}
	ev = &e->out[e->nout++];
	ev->type = type;
	ev->code = code;
	ev->value = value;
	state_apply(&e->told, ev);
}

/* One state bitmap as the kernel has it; what the guest was told if it cannot say. */
static void read_bits(struct evdev *e, unsigned long req, uint8_t *bits)
{
	uint8_t now[INPUT_BITMAP_SIZE] = { 0 };

	if (ioctl(e->fd, req, now) >= 0) /* the bytes it wrote */
		memcpy(bits, now, sizeof(now));
}

static void resync(struct evdev *e)
{
	struct input_state now = e->told;
	struct input_event_v ev;
	unsigned int n = 0, pos = 0;

	read_bits(e, EVIOCGKEY(INPUT_BITMAP_SIZE), now.bits[INPUT_STATE_KEY]);
	read_bits(e, EVIOCGSW(INPUT_BITMAP_SIZE), now.bits[INPUT_STATE_SW]);
	read_bits(e, EVIOCGLED(INPUT_BITMAP_SIZE), now.bits[INPUT_STATE_LED]);
	for (unsigned int a = 0; a < INPUT_STATE_ABS; a++) {
		struct input_absinfo ai;

		if (caps_test_bit(e->d->caps.ev[EV_ABS], a) && ioctl(e->fd, EVIOCGABS(a), &ai) == 0)
			now.abs[a] = ai.value;
	}
	for (; state_diff_next(&e->told, &now, &pos, &ev); n++)
		emit(e, ev.type, ev.code, ev.value); /* changes e->told behind pos only */
	if (n)
		emit(e, EV_SYN, SYN_REPORT, 0);
	vhu_logf(e->d->log, VHU_LOG_INFO, "SYN_DROPPED: resynchronised %u events", n ? n + 1 : 0);
}

static void take(struct evdev *e, const struct input_event *ev)
{
	struct input_dev *d = e->d;

	if (ev->type == EV_SYN && ev->code == SYN_DROPPED) {
		e->resync = true;
		return;
	}
	if (e->resync) {
		pthread_mutex_lock(&d->lock);
		d->cnt.resync++;
		pthread_mutex_unlock(&d->lock);
		if (ev->type == EV_SYN && ev->code == SYN_REPORT) {
			e->resync = false;
			resync(e);
		}
		return;
	}
	emit(e, ev->type, ev->code, ev->value);
}

int evdev_run(struct evdev *e, int stop_fd)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = stop_fd, .events = POLLIN },
					 { .fd = e->fd, .events = POLLIN } };
		struct input_event ev[EVDEV_READ_MAX];
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			return 0;
		n = read(e->fd, ev, sizeof(ev));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0 || (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			vhu_logf(e->d->log, VHU_LOG_ERR, "evdev: the device went away (%s)",
				 n < 0 ? strerror(errno) : "hang-up");
			return -ENODEV;
		}
		e->nout = 0;
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++)
			take(e, &ev[i]);
		if (e->nout)
			input_post(e->d, e->out, e->nout);
	}
}

/* The status worker's way back: the guest set an LED (or a sound). */
static void evdev_status(void *src, const struct input_event_v *sev)
{
	struct evdev *e = src;
	struct input_event ev[2] = {
		{ .type = sev->type, .code = sev->code, .value = sev->value },
		{ .type = EV_SYN, .code = SYN_REPORT },
	};

	if (!e->writable)
		return;
	if (write(e->fd, ev, sizeof(ev)) < 0)
		vhu_logf(e->d->log, VHU_LOG_WARN, "evdev: status event %u %u %d: %s", sev->type,
			 sev->code, sev->value, strerror(errno));
}

static int read_caps(struct evdev *e, struct input_caps *c)
{
	uint8_t types[INPUT_BITMAP_SIZE] = { 0 };
	struct input_id id;

	if (ioctl(e->fd, EVIOCGBIT(0, sizeof(types)), types) < 0)
		return -errno; /* not an evdev node */
	if (ioctl(e->fd, EVIOCGNAME(INPUT_STRING_MAX), c->name) < 0)
		c->name[0] = '\0';
	if (ioctl(e->fd, EVIOCGUNIQ(INPUT_STRING_MAX), c->serial) < 0)
		c->serial[0] = '\0';
	c->name[INPUT_STRING_MAX] = c->serial[INPUT_STRING_MAX] = '\0';
	if (ioctl(e->fd, EVIOCGID, &id) == 0) {
		c->ids[0] = id.bustype;
		c->ids[1] = id.vendor;
		c->ids[2] = id.product;
		c->ids[3] = id.version;
		c->has_ids = true;
	}
	if (ioctl(e->fd, EVIOCGPROP(sizeof(c->prop)), c->prop) < 0)
		memset(c->prop, 0, sizeof(c->prop));
	for (unsigned int t = 1; t < EV_CNT; t++)
		if (caps_test_bit(types, t) &&
		    ioctl(e->fd, EVIOCGBIT(t, INPUT_BITMAP_SIZE), c->ev[t]) < 0)
			memset(c->ev[t], 0, INPUT_BITMAP_SIZE);
	for (unsigned int a = 0; a < ABS_CNT; a++) {
		struct input_absinfo ai;

		if (!caps_test_bit(c->ev[EV_ABS], a))
			continue;
		if (ioctl(e->fd, EVIOCGABS(a), &ai) < 0) {
			c->ev[EV_ABS][a / 8] &= (uint8_t) ~(1u << (a % 8));
			continue;
		}
		c->abs[a] = (struct input_absinfo_v){ ai.minimum, ai.maximum, ai.fuzz, ai.flat,
						      ai.resolution };
	}
	return 0;
}

int evdev_open(const char *path, bool grab, struct input_dev *d, struct evdev **out)
{
	struct evdev *e = calloc(1, sizeof(*e));
	int ret;

	if (!e)
		return -ENOMEM;
	e->d = d;
	e->writable = true;
	e->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (e->fd < 0 && (errno == EACCES || errno == EROFS)) {
		e->writable = false;
		e->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (e->fd >= 0)
			vhu_logf(d->log, VHU_LOG_WARN,
				 "%s: read-only: status events (LEDs) will not reach it", path);
	}
	if (e->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = read_caps(e, &d->caps);
	if (ret < 0)
		goto fail_close;
	if (grab) {
		if (ioctl(e->fd, EVIOCGRAB, 1) < 0) {
			ret = -errno; /* EBUSY: someone else holds it */
			goto fail_close;
		}
		e->grabbed = true;
	}
	d->status = evdev_status;
	d->src = e;
	*out = e;
	return 0;
fail_close:
	close(e->fd);
fail:
	free(e);
	return ret;
}

void evdev_close(struct evdev *e)
{
	if (!e)
		return;
	if (e->grabbed && ioctl(e->fd, EVIOCGRAB, 0) < 0)
		vhu_logf(e->d->log, VHU_LOG_DEBUG, "evdev: ungrab: %s", strerror(errno));
	close(e->fd);
	free(e);
}
