/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_INPUT_H
#define VHU_DEVICES_INPUT_H

/*
 * vhu-input: a virtio-input device (virtio spec 5.8) fed by an evdev node
 * (evdev.c) or by the events socket's line protocol (evsock.c).
 *
 * - caps.c: what the device is (name, serial, ids, property and event bits,
 *   absolute axes) and the config space built from it for one
 *   select/subsel; fixed before the first front-end is served.
 * - line.c: the events socket's line protocol (one line -> struct line).
 * - device.c: the vhost-user device: the event queue (0), fed from a
 *   bounded queue of pending events, and the status queue (1), whose events
 *   (LEDs) go back to the source.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/input.h>
#include <linux/virtio_input.h>

#include <vhu/backend.h>
#include <vhu/log.h>

#define INPUT_STRING_MAX 127u  /* name and serial bytes (the config's size byte) */
#define INPUT_BITMAP_SIZE 128u /* bytes of a config bitmap: codes 0..1023 */
#define INPUT_CODE_MAX (INPUT_BITMAP_SIZE * 8u - 1u)
#define INPUT_PENDING_DEFAULT 256u /* events kept while the guest posts no buffers */
#define INPUT_PENDING_MAX 65536u
#define INPUT_LINE_MAX 256u /* bytes of one events-socket line, without '\n' */
/* iovecs of one event or status chain: 8 bytes need no more (a longer chain breaks the queue) */
#define INPUT_REQ_IOV 16u

struct input_event_v {
	uint16_t type;
	uint16_t code;
	int32_t value;
};

struct input_absinfo_v {
	int32_t min, max, fuzz, flat, res;
};

struct input_caps {
	char name[INPUT_STRING_MAX + 1];
	char serial[INPUT_STRING_MAX + 1];
	uint16_t ids[4]; /* bustype, vendor, product, version */
	bool has_ids;
	uint8_t prop[INPUT_BITMAP_SIZE];
	uint8_t ev[EV_CNT][INPUT_BITMAP_SIZE]; /* ev[EV_SYN] unused */
	struct input_absinfo_v abs[ABS_CNT];
};

static inline void caps_set_bit(uint8_t *bm, unsigned int bit)
{
	bm[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static inline bool caps_test_bit(const uint8_t *bm, unsigned int bit)
{
	return bm[bit / 8] & (1u << (bit % 8));
}

/* The config space for @select/@subsel (virtio 5.8.5); sizes 0 when there is nothing. */
void caps_config(const struct input_caps *c, uint8_t select, uint8_t subsel,
		 struct virtio_input_config *cfg);
/* Whether the device described (type, code): EV_SYN always is. */
bool caps_event_ok(const struct input_caps *c, const struct input_event_v *ev);
/* Whether the device has any event bit at all (a description said something). */
bool caps_usable(const struct input_caps *c);

/* ---- line.c: the events socket's protocol ------------------------------- */

enum line_kind {
	LINE_EMPTY, /* blank or "# comment" */
	LINE_EVENT, /* TYPE CODE VALUE */
	LINE_NAME,
	LINE_SERIAL,
	LINE_IDS,
	LINE_PROP,
	LINE_EV,
	LINE_ABS,
	LINE_READY,
	LINE_STATS,
};

#define LINE_NUMS_MAX 32u

struct line {
	enum line_kind kind;
	struct input_event_v ev; /* LINE_EVENT */
	const char *text;	 /* LINE_NAME, LINE_SERIAL: the rest of the line */
	int64_t num[LINE_NUMS_MAX];
	unsigned int nnum;
};

/*
 * line_parse() - one line (NUL-terminated, without its '\n').
 * Return: 0 with @out filled, or -EINVAL with *@why saying what is wrong.
 */
int line_parse(const char *s, struct line *out, const char **why);
/*
 * line_describe() - apply a description line (NAME ... ABS) to @c.
 * Return: 0, or -EINVAL with *@why.
 */
int line_describe(struct input_caps *c, const struct line *l, const char **why);

/* ---- device.c ------------------------------------------------------------ */

struct input_counters {
	uint64_t delivered;	 /* events the guest got */
	uint64_t dropped;	 /* events dropped: the pending queue was full, or a reset */
	uint64_t resync;	 /* events dropped after SYN_DROPPED (evdev) */
	uint64_t bad_buffers;	 /* event buffers under 8 bytes, status buffers too */
	uint64_t status;	 /* status events handed to the source */
	uint64_t status_unknown; /* status events the device did not describe */
	uint64_t malformed;	 /* events-socket lines refused */
	unsigned int pending;
};

struct input_dev {
	struct input_caps caps; /* fixed once the first front-end can connect */
	const struct vhu_log *log;
	/* the source: status events (LEDs) go back through it; worker thread */
	void (*status)(void *src, const struct input_event_v *ev);
	void *src;

	pthread_mutex_t lock; /* the pending queue and the counters */
	struct input_event_v *pending;
	unsigned int cap, head, num;
	bool dropping; /* the pending queue overflowed: drop up to the next SYN_REPORT */
	struct input_counters cnt;

	struct vhu_vq *eventq; /* shared once started; kept (atomic) */
	bool event_running;    /* atomic */
	struct vhu_req ereq;   /* the event queue's, under its vq lock */
	struct vhu_req sreq;   /* the status queue worker's */
	struct iovec eiov[INPUT_REQ_IOV], siov[INPUT_REQ_IOV];
	uint8_t select, subsel; /* control thread */
	bool warned_tiny, warned_status;
};

extern const struct vhu_device_ops input_ops;

int input_dev_init(struct input_dev *d, unsigned int max_pending, const struct vhu_log *log);
void input_dev_fini(struct input_dev *d);
/* Queue @n events from the source and deliver what the guest has buffers for. */
void input_post(struct input_dev *d, const struct input_event_v *ev, unsigned int n);
/* Count one refused events-socket line. */
void input_count_malformed(struct input_dev *d);
void input_counters(struct input_dev *d, struct input_counters *out);

/* ---- sources: evdev.c, evsock.c ------------------------------------------ */

struct evdev;
/* Open @path, read its capabilities into d->caps, grab it unless !@grab. */
int evdev_open(const char *path, bool grab, struct input_dev *d, struct evdev **out);
/* Read events into @d until @stop_fd is readable (0) or the device goes (-ENODEV). */
int evdev_run(struct evdev *e, int stop_fd);
void evdev_close(struct evdev *e);

struct evsock;
int evsock_open(const char *path, struct input_dev *d, struct evsock **out);
/* eventfd that becomes readable once a client described the device ("ready") */
int evsock_ready_fd(const struct evsock *s);
int evsock_run(struct evsock *s, int stop_fd);
void evsock_close(struct evsock *s);

#endif /* VHU_DEVICES_INPUT_H */
