/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: connections to the peer (one message at a time, as raw as a
 * check needs), verdicts, and questions about the peer's process.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"
#include <vhu/names.h>

/* ---- verdicts ----------------------------------------------------------- */

__attribute__((format(printf, 3, 0))) static void verdict(struct ctx *cx, enum verdict v,
							  const char *fmt, va_list ap)
{
	struct result *r = cx->res;

	if (r->verdict == V_FAIL && v != V_FAIL)
		return;
	if (v == V_FAIL && r->verdict == V_FAIL) {
		/* a second failure is appended to the first */
		size_t n = strlen(r->detail);

		if (n + 2 < sizeof(r->detail)) {
			memcpy(r->detail + n, "; ", 3);
			vsnprintf(r->detail + n + 2, sizeof(r->detail) - n - 2, fmt, ap);
		}
		return;
	}
	r->verdict = v;
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
}

void pass(struct ctx *cx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(cx, V_PASS, fmt, ap);
	va_end(ap);
}

void fail(struct ctx *cx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(cx, V_FAIL, fmt, ap);
	va_end(ap);
}

void na(struct ctx *cx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verdict(cx, V_NA, fmt, ap);
	va_end(ap);
}

void note(struct ctx *cx, const char *fmt, ...)
{
	struct result *r = cx->res;
	size_t n = strlen(r->detail);
	va_list ap;

	if (n + 2 >= sizeof(r->detail))
		return;
	if (n) {
		memcpy(r->detail + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	va_end(ap);
}

const char *err_text(int err)
{
	if (err == -ECONNRESET || err == -EPIPE)
		return "the peer closed the connection";
	if (err == -EAGAIN)
		return "no reply in time";
	if (err == -ETIMEDOUT)
		return "not completed in time";
	if (err == -EPROTO)
		return "a reply to another request, or with wrong flags";
	if (err == -EIO)
		return "refused (non-zero REPLY_ACK)";
	return strerror(-err);
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- one connection ----------------------------------------------------- */

/* A connection the wait for a started peer made (spawn_wait_socket_keep), or -1. */
static int ready_fd = -1;

void conn_keep_ready(int fd)
{
	if (ready_fd >= 0)
		close(ready_fd);
	ready_fd = fd;
}

int conn_open(struct ctx *cx, struct conn *c)
{
	struct timeval tv = { .tv_sec = cx->timeout_ms / 1000,
			      .tv_usec = (long)(cx->timeout_ms % 1000) * 1000 };
	int ret;

	*c = (struct conn){ .fd = -1 };
	if (ready_fd >= 0) {
		c->fd = ready_fd; /* the started peer's first connection */
		ready_fd = -1;
		ret = 0;
	} else {
		ret = vhu_sock_connect(cx->path, 0, &c->fd);
	}
	if (ret < 0)
		return ret;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		ret = -errno;
		conn_close(c);
		return ret;
	}
	return 0;
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int conn_send(struct conn *c, uint32_t req, uint32_t flags, const void *p, uint32_t size,
	      const int *fds, unsigned int nfds)
{
	struct vhu_msg m = { .hdr = { .request = req, .flags = flags, .size = size } };

	if (size > sizeof(m.payload) || nfds > VHU_MAX_FDS)
		return -EMSGSIZE;
	if (size)
		memcpy(&m.payload, p, size);
	if (nfds)
		memcpy(m.fds, fds, nfds * sizeof(int));
	m.nfds = nfds;
	return vhu_msg_send(c->fd, &m);
}

int conn_raw(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int conn_recv(struct conn *c, struct vhu_msg *m)
{
	int ret = vhu_msg_recv(c->fd, m);

	if (ret == -EWOULDBLOCK)
		ret = -EAGAIN;
	if (ret == 0)
		vhu_msg_close_fds(m);
	return ret;
}

int conn_call(struct conn *c, uint32_t req, const void *p, uint32_t size, struct vhu_msg *reply)
{
	int ret = conn_send(c, req, VHU_VERSION, p, size, NULL, 0);

	if (ret < 0)
		return ret;
	ret = conn_recv(c, reply);
	if (ret < 0)
		return ret;
	if (reply->hdr.request != req || reply->hdr.flags != (VHU_VERSION | VHU_FLAG_REPLY))
		return -EPROTO;
	return 0;
}

int conn_ack(struct conn *c, uint32_t req, const void *p, uint32_t size, const int *fds,
	     unsigned int nfds, uint64_t *v)
{
	struct vhu_msg m;
	int ret;

	ret = conn_send(c, req, VHU_VERSION | VHU_FLAG_NEED_REPLY, p, size, fds, nfds);
	if (ret < 0)
		return ret;
	ret = conn_recv(c, &m);
	if (ret < 0)
		return ret;
	if (m.hdr.request != req ||
	    (m.hdr.flags & ~VHU_FLAG_NEED_REPLY) != (VHU_VERSION | VHU_FLAG_REPLY))
		return -EPROTO;
	if (m.hdr.size != sizeof(uint64_t))
		return -EBADMSG;
	*v = m.payload.u64;
	return 0;
}

int conn_set(struct conn *c, uint32_t req, const void *p, uint32_t size, const int *fds,
	     unsigned int nfds)
{
	uint64_t v;
	int ret;

	if (!c->ack)
		return conn_send(c, req, VHU_VERSION, p, size, fds, nfds);
	ret = conn_ack(c, req, p, size, fds, nfds, &v);
	if (ret < 0)
		return ret;
	return v ? -EIO : 0;
}

int conn_get_u64(struct conn *c, uint32_t req, uint64_t *v)
{
	struct vhu_msg m;
	int ret = conn_call(c, req, NULL, 0, &m);

	if (ret < 0)
		return ret;
	if (m.hdr.size != sizeof(uint64_t))
		return -EBADMSG;
	*v = m.payload.u64;
	return 0;
}

int conn_wait_closed(struct conn *c, unsigned int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char buf[256];

	for (;;) {
		int n = poll(&p, 1, (int)ms);

		if (n <= 0)
			return 0;
		ssize_t got = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
}

int conn_negotiate(struct ctx *cx, struct conn *c, uint64_t features, uint64_t pfeatures)
{
	uint64_t v, pf = 0;
	int ret;

	ret = conn_open(cx, c);
	if (ret < 0)
		return fail(cx, "connect: %s", strerror(-ret)), ret;
	ret = conn_get_u64(c, VHU_REQ_GET_FEATURES, &v);
	if (ret < 0)
		goto err_step;
	features &= v;
	if (features & VHU_BIT(VHU_F_PROTOCOL_FEATURES)) {
		ret = conn_get_u64(c, VHU_REQ_GET_PROTOCOL_FEATURES, &pf);
		if (ret < 0)
			goto err_step;
		pf &= pfeatures;
		ret = conn_send(c, VHU_REQ_SET_PROTOCOL_FEATURES, VHU_VERSION, &pf, 8, NULL, 0);
		if (ret < 0)
			goto err_step;
		c->pfeatures = pf;
		c->ack = pf & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK);
	}
	ret = conn_set(c, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	if (ret < 0)
		goto err_step;
	ret = conn_set(c, VHU_REQ_SET_FEATURES, &features, 8, NULL, 0);
	if (ret < 0)
		goto err_step;
	c->features = features;
	ret = conn_get_u64(c, VHU_REQ_GET_FEATURES, &v);
	if (ret < 0)
		goto err_step;
	return 0;

err_step:
	fail(cx, "negotiation (features 0x%llx, protocol 0x%llx): %s", (unsigned long long)features,
	     (unsigned long long)pf, err_text(ret));
	conn_close(c);
	return ret;
}

int conn_default(struct ctx *cx, struct conn *c)
{
	return conn_negotiate(cx, c, VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VHU_F_PROTOCOL_FEATURES),
			      VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
				      VHU_BIT(VHU_PROTOCOL_F_CONFIG));
}

/* ---- the peer ----------------------------------------------------------- */

bool peer_alive(const struct ctx *cx)
{
	char path[64], buf[512];
	FILE *f;
	char *p;

	if (!cx->pid)
		return true;
	if (kill(cx->pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)cx->pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' && p[2] != 'Z';
}

bool peer_answers(struct ctx *cx, char *why, size_t size)
{
	struct conn c;
	uint64_t v;
	int ret;

	if (!peer_alive(cx)) {
		snprintf(why, size, "the peer process died");
		return false;
	}
	ret = conn_open(cx, &c);
	if (ret < 0) {
		snprintf(why, size, "a fresh connection failed: %s", strerror(-ret));
		return false;
	}
	ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &v);
	conn_close(&c);
	if (ret < 0) {
		snprintf(why, size, "a fresh GET_FEATURES: %s", err_text(ret));
		return false;
	}
	if (cx->features && v != cx->features) {
		snprintf(why, size, "GET_FEATURES changed: 0x%llx, was 0x%llx",
			 (unsigned long long)v, (unsigned long long)cx->features);
		return false;
	}
	return true;
}

int peer_nfds(const struct ctx *cx)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (!cx->pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)cx->pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long peer_cputicks(const struct ctx *cx)
{
	unsigned long utime, stime;
	char path[64], buf[1024];
	FILE *f;
	char *p;

	if (!cx->pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)cx->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
	 * stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return -1;
	return (long)(utime + stime);
}
