/* SPDX-License-Identifier: MIT */
/*
 * The control socket's server (control.h): an accept thread, one thread per
 * client, framing and limits. What a request means is control_rpc.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

struct ctl_client {
	struct ctl_server *srv;
	int fd;
	bool used;
};

struct ctl_server {
	struct ctl_config cfg;
	char *path;
	int listen_fd;
	int stop_fd; /* eventfd: readable once stopping */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t gone; /* a client thread ended */
	unsigned int nclients;
	struct ctl_client *clients; /* cfg.max_clients slots */
};

static void logf_(const struct ctl_server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void logf_(const struct ctl_server *srv, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: control: ", srv->cfg.name ? srv->cfg.name : "vhu");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Send all of @buf; the socket's send timeout bounds a client that does not read. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_error(int fd, int code, const char *message)
{
	char line[320];
	int n = snprintf(
		line, sizeof(line),
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}\n",
		code, message);

	return send_all(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Answer one framed request; 0, or -EIO when the connection should close. */
static int answer(struct ctl_server *srv, int fd, const char *text, size_t len)
{
	struct json_writer reply;
	int ret;

	jw_init(&reply, CTL_REPLY_MAX + 4096);
	ret = ctl_handle(&srv->cfg, text, len, &reply);
	if (ret == 0 && reply.len) {
		jw_text(&reply, "\n", 1);
		ret = jw_finish(&reply) ? send_all(fd, reply.buf, reply.len) : -ENOMEM;
	}
	jw_free(&reply);
	if (ret == -ENOMEM)
		ret = send_error(fd, CTL_INTERNAL_ERROR, "out of memory");
	return ret;
}

/* Handle every complete request in buf[0, *len); keep a partial one. */
static int drain(struct ctl_server *srv, int fd, char *buf, size_t *len)
{
	while (*len) {
		long end = json_scan(buf, *len);
		size_t used;

		if (end == 0) {
			/* only whitespace, or a value not complete yet */
			size_t ws = 0;

			while (ws < *len && (buf[ws] == ' ' || buf[ws] == '\n' || buf[ws] == '\r' ||
					     buf[ws] == '\t'))
				ws++;
			memmove(buf, buf + ws, *len - ws);
			*len -= ws;
			return 0;
		}
		if (end < 0) {
			/* not an object or array: a parse error for that line */
			used = json_scan_junk(buf, *len);
			if (send_error(fd, CTL_PARSE_ERROR, "not a JSON object or array") < 0)
				return -EIO;
		} else {
			used = (size_t)end;
			if (answer(srv, fd, buf, used) < 0)
				return -EIO;
		}
		memmove(buf, buf + used, *len - used);
		*len -= used;
	}
	return 0;
}

static void serve_client(struct ctl_server *srv, int fd)
{
	size_t max = srv->cfg.max_request, len = 0;
	char *buf = malloc(max);
	uint64_t deadline = 0;

	if (!buf) {
		send_error(fd, CTL_INTERNAL_ERROR, "out of memory");
		return;
	}
	for (;;) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
					 { .fd = srv->stop_fd, .events = POLLIN } };
		int timeout = -1;
		ssize_t n;

		if (len) { /* a request has started: it must end in time */
			uint64_t now = now_ms();

			if (!deadline)
				deadline = now + srv->cfg.request_timeout_ms;
			if (now >= deadline) {
				logf_(srv, "a client did not finish its request in %u ms",
				      srv->cfg.request_timeout_ms);
				send_error(fd, CTL_SERVER_ERROR, "request not completed in time");
				break;
			}
			timeout = (int)(deadline - now);
		} else {
			deadline = 0;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		n = recv(fd, buf + len, max - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (drain(srv, fd, buf, &len) < 0)
			break;
		if (len == max) {
			logf_(srv, "a request over %zu bytes: connection closed", max);
			send_error(fd, CTL_INVALID_REQUEST, "request too large");
			break;
		}
	}
	free(buf);
}

static void *client_thread(void *arg)
{
	struct ctl_client *c = arg;
	struct ctl_server *srv = c->srv;

	serve_client(srv, c->fd);
	pthread_mutex_lock(&srv->lock);
	close(c->fd);
	c->fd = -1;
	c->used = false;
	srv->nclients--;
	pthread_cond_broadcast(&srv->gone);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

static void accept_one(struct ctl_server *srv)
{
	struct timeval tv = { .tv_sec = srv->cfg.request_timeout_ms / 1000,
			      .tv_usec = (srv->cfg.request_timeout_ms % 1000) * 1000 };
	struct ctl_client *c = NULL;
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* a client that does not read its replies cannot hold a thread forever */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&srv->lock);
	for (unsigned int i = 0; i < srv->cfg.max_clients && !c; i++)
		if (!srv->clients[i].used)
			c = &srv->clients[i];
	if (c) {
		c->used = true;
		c->fd = fd;
		srv->nclients++;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!c) {
		char msg[64];

		snprintf(msg, sizeof(msg), "too many clients (at most %u)", srv->cfg.max_clients);
		logf_(srv, "%s: connection refused", msg);
		send_error(fd, CTL_SERVER_ERROR, msg);
		close(fd);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, client_thread, c) != 0) {
		send_error(fd, CTL_INTERNAL_ERROR, "no thread for the connection");
		pthread_mutex_lock(&srv->lock);
		close(fd);
		c->fd = -1;
		c->used = false;
		srv->nclients--;
		pthread_mutex_unlock(&srv->lock);
	}
	pthread_attr_destroy(&attr);
}

static void *accept_thread(void *arg)
{
	struct ctl_server *srv = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = srv->listen_fd, .events = POLLIN },
					 { .fd = srv->stop_fd, .events = POLLIN } };

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (pfd[0].revents)
			accept_one(srv);
	}
	return NULL;
}

/* Bind @path, replacing a stale socket; chmod before listen. Return the fd or -errno. */
static int listen_path(const char *path, unsigned int mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			ret = -EEXIST;
			goto err;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ret = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (ret) {
			ret = -EADDRINUSE;
			goto err;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0) {
		ret = -errno;
		goto err;
	}
	/* mode set before listen(): until then a connect is refused */
	if (listen(fd, 16) < 0) {
		ret = -errno;
		unlink(path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

int ctl_parse_mode(const char *text, unsigned int *mode)
{
	unsigned long v;
	char *end;

	if (!text)
		return 0;
	v = strtoul(text, &end, 8);
	if (text[0] < '0' || text[0] > '7' || *end || v > 0777 || (v & 0600) != 0600)
		return -EINVAL;
	*mode = (unsigned int)v;
	return 0;
}

int ctl_options_check(const struct prog_info *info, struct ctl_options *o)
{
	uint64_t v;

	if (o->timeout) {
		if (prog_parse_u64(o->timeout, 3600000u, &v) < 0 || !v)
			return prog_error(info, "--control-timeout: 1..3600000 ms");
		o->timeout_ms = (unsigned int)v;
	}
	if (ctl_parse_mode(o->mode, &o->mode_bits) < 0)
		return prog_error(info, "--control-mode: octal, at most 0777, with 0600 set");
	return 0;
}

int ctl_options_start(const struct prog_info *info, const struct ctl_options *o,
		      const struct ctl_method *methods, size_t num_methods, void *opaque,
		      struct ctl_server **out)
{
	struct ctl_config cc = {
		.path = o->socket,
		.mode = o->mode_bits,
		.methods = methods,
		.num_methods = num_methods,
		.opaque = opaque,
		.name = info->name,
		.request_timeout_ms = o->timeout_ms,
	};
	int ret;

	*out = NULL;
	if (!o->socket)
		return 0;
	ret = ctl_server_start(&cc, out);
	if (ret < 0)
		return prog_error(info, "--control-socket %s: %s", o->socket, strerror(-ret));
	return 0;
}

int ctl_server_start(const struct ctl_config *cfg, struct ctl_server **out)
{
	struct ctl_server *srv = calloc(1, sizeof(*srv));
	int ret;

	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	if (!srv->cfg.mode)
		srv->cfg.mode = 0600;
	if (!srv->cfg.max_request)
		srv->cfg.max_request = CTL_REQUEST_MAX_DEFAULT;
	if (!srv->cfg.max_clients)
		srv->cfg.max_clients = CTL_CLIENTS_MAX_DEFAULT;
	if (!srv->cfg.request_timeout_ms)
		srv->cfg.request_timeout_ms = CTL_TIMEOUT_MS_DEFAULT;
	srv->listen_fd = srv->stop_fd = -1;
	srv->path = strdup(cfg->path);
	srv->clients = calloc(srv->cfg.max_clients, sizeof(*srv->clients));
	if (!srv->path || !srv->clients) {
		ret = -ENOMEM;
		goto err;
	}
	for (unsigned int i = 0; i < srv->cfg.max_clients; i++)
		srv->clients[i] = (struct ctl_client){ .srv = srv, .fd = -1 };
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->gone, NULL);
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = listen_path(srv->path, srv->cfg.mode);
	if (ret < 0)
		goto err;
	srv->listen_fd = ret;
	ret = -pthread_create(&srv->thread, NULL, accept_thread, srv);
	if (ret < 0) {
		unlink(srv->path);
		goto err;
	}
	*out = srv;
	return 0;
err:
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	free(srv->clients);
	free(srv->path);
	free(srv);
	return ret;
}

void ctl_server_stop(struct ctl_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (write(srv->stop_fd, &one, sizeof(one)) < 0)
		logf_(srv, "stop: %s", strerror(errno));
	pthread_join(srv->thread, NULL);
	pthread_mutex_lock(&srv->lock);
	/* client threads see stop_fd (or a method returns) and end */
	while (srv->nclients)
		pthread_cond_wait(&srv->gone, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
	close(srv->listen_fd);
	unlink(srv->path);
	close(srv->stop_fd);
	pthread_mutex_destroy(&srv->lock);
	pthread_cond_destroy(&srv->gone);
	free(srv->clients);
	free(srv->path);
	free(srv);
}
