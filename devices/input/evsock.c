/* SPDX-License-Identifier: MIT */
/*
 * The events socket (--events-socket=PATH): a second event source, for
 * hosts without input devices and for scripted tests of a VM's GUI. One
 * client at a time on a Unix stream socket (mode 0600); a second one is
 * told "error: busy" and closed. The protocol is line.c's: the first
 * client describes the device and ends with "ready" (answered "ok"); the
 * device is then fixed and the vhost-user socket is served. From then on
 * any client sends events, one "TYPE CODE VALUE" a line, and receives the
 * guest's status events as "status TYPE CODE VALUE" lines.
 *
 * Bad lines are answered "error: REASON" and counted; the connection goes
 * on. A line over INPUT_LINE_MAX bytes ends the connection. Replies never
 * block: a client that does not read loses them.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "input.h"

#define EVSOCK_BATCH 64u /* events handed to input_post at once */

struct evsock {
	struct input_dev *d;
	const char *path;
	int listen_fd;
	int ready_fd;	      /* eventfd: the description is complete */
	bool described;	      /* the source thread's; d->caps fixed */
	pthread_mutex_t lock; /* client_fd against the status worker */
	int client_fd;
	char buf[INPUT_LINE_MAX + 1];
	size_t len;
	struct input_event_v batch[EVSOCK_BATCH];
	unsigned int nbatch;
};

static void reply(struct evsock *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct evsock *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&s->lock);
	if (s->client_fd >= 0 &&
	    send(s->client_fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		vhu_logf(s->d->log, VHU_LOG_DEBUG, "events socket: reply lost: %s",
			 strerror(errno));
	pthread_mutex_unlock(&s->lock);
}

/* The status worker's way back: the guest set an LED. */
static void evsock_status(void *src, const struct input_event_v *ev)
{
	reply(src, "status %u %u %d", ev->type, ev->code, ev->value);
}

static void flush_batch(struct evsock *s)
{
	if (s->nbatch)
		input_post(s->d, s->batch, s->nbatch);
	s->nbatch = 0;
}

static void refuse(struct evsock *s, const char *why)
{
	input_count_malformed(s->d);
	reply(s, "error: %s", why);
}

static void stats(struct evsock *s)
{
	struct input_counters c;

	input_counters(s->d, &c);
	reply(s,
	      "stats delivered=%llu pending=%u dropped=%llu bad_buffers=%llu status=%llu "
	      "status_unknown=%llu malformed=%llu corrections=%llu",
	      (unsigned long long)c.delivered, c.pending, (unsigned long long)c.dropped,
	      (unsigned long long)c.bad_buffers, (unsigned long long)c.status,
	      (unsigned long long)c.status_unknown, (unsigned long long)c.malformed,
	      (unsigned long long)c.corrections);
}

static void ready(struct evsock *s)
{
	uint64_t one = 1;

	if (s->described) {
		refuse(s, "the device is already described");
		return;
	}
	if (!caps_usable(&s->d->caps)) {
		refuse(s, "describe at least one event code (ev or abs) first");
		return;
	}
	s->described = true;
	if (write(s->ready_fd, &one, sizeof(one)) < 0)
		vhu_logf(s->d->log, VHU_LOG_ERR, "ready eventfd: %s", strerror(errno));
	reply(s, "ok");
}

static void handle_line(struct evsock *s, const char *text)
{
	const char *why = NULL;
	struct line l;

	if (line_parse(text, &l, &why) < 0) {
		refuse(s, why);
		return;
	}
	if (l.kind != LINE_EVENT)
		flush_batch(s); /* keep replies in the order of the lines */
	switch (l.kind) {
	case LINE_EMPTY:
		return;
	case LINE_EVENT:
		if (!s->described)
			refuse(s, "describe the device first (ending with ready)");
		else if (!caps_event_ok(&s->d->caps, &l.ev))
			refuse(s, "event type/code not in the description");
		else
			s->batch[s->nbatch++] = l.ev;
		if (s->nbatch == EVSOCK_BATCH)
			flush_batch(s);
		return;
	case LINE_READY:
		ready(s);
		return;
	case LINE_STATS:
		stats(s);
		return;
	default:
		if (s->described)
			refuse(s, "the device is already described");
		else if (line_describe(&s->d->caps, &l, &why) < 0)
			refuse(s, why);
		return;
	}
}

static void drop_client(struct evsock *s)
{
	pthread_mutex_lock(&s->lock);
	close(s->client_fd);
	s->client_fd = -1;
	pthread_mutex_unlock(&s->lock);
	s->len = 0;
}

/* Read what the client sent and handle each complete line. */
static void client_read(struct evsock *s)
{
	ssize_t n = recv(s->client_fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len, MSG_DONTWAIT);
	char *start, *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(s); /* an unfinished last line goes with it */
		return;
	}
	s->len += (size_t)n;
	s->buf[s->len] = '\0';
	start = s->buf;
	while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
		*nl = '\0';
		if (memchr(start, '\0', (size_t)(nl - start))) {
			refuse(s, "NUL byte in a line");
		} else {
			if (nl > start && nl[-1] == '\r')
				nl[-1] = '\0';
			handle_line(s, start);
		}
		start = nl + 1;
	}
	flush_batch(s);
	s->len -= (size_t)(start - s->buf);
	memmove(s->buf, start, s->len);
	if (s->len == sizeof(s->buf) - 1) {
		refuse(s, "line too long: closing");
		drop_client(s);
	}
}

static void client_accept(struct evsock *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return; /* the peer gave up, or EMFILE: the next poll tries again */
	if (s->client_fd >= 0) {
		static const char busy[] = "error: busy\n";

		if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			vhu_logf(s->d->log, VHU_LOG_DEBUG, "events socket: busy: %s",
				 strerror(errno));
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->lock);
	s->client_fd = fd;
	pthread_mutex_unlock(&s->lock);
	s->len = 0;
}

int evsock_run(struct evsock *s, int stop_fd)
{
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = stop_fd, .events = POLLIN },
			{ .fd = s->listen_fd, .events = POLLIN },
			{ .fd = s->client_fd, .events = POLLIN },
		};

		if (poll(pfd, s->client_fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents)
			return 0;
		if (pfd[2].revents)
			client_read(s);
		if (pfd[1].revents)
			client_accept(s);
	}
}

int evsock_open(const char *path, struct input_dev *d, struct evsock **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct evsock *s;
	int ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->path = path;
	s->client_fd = -1;
	s->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->ready_fd < 0 || s->listen_fd < 0 || pthread_mutex_init(&s->lock, NULL)) {
		ret = -errno;
		goto fail;
	}
	strcpy(addr.sun_path, path);
	unlink(path); /* a stale socket of an earlier run */
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0600) < 0 || listen(s->listen_fd, 4) < 0) {
		ret = -errno;
		pthread_mutex_destroy(&s->lock);
		goto fail;
	}
	d->status = evsock_status;
	d->src = s;
	*out = s;
	return 0;
fail:
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s);
	return ret;
}

int evsock_ready_fd(const struct evsock *s)
{
	return s->ready_fd;
}

void evsock_close(struct evsock *s)
{
	if (!s)
		return;
	if (s->client_fd >= 0)
		close(s->client_fd);
	close(s->listen_fd);
	close(s->ready_fd);
	unlink(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
