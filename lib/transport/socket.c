/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "transport/transport.h"

#define LISTEN_BACKLOG 8
#define CONNECT_RETRY_MS 20u

static int addr_fill(struct sockaddr_un *sa, const char *path)
{
	size_t len;

	if (!path || !path[0])
		return -EINVAL; /* an empty sun_path would autobind an abstract name */
	len = strlen(path);
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* One connect attempt; a fresh socket each time, since a failed one is spent. */
static int connect_once(const struct sockaddr_un *sa, int flags, int *out_fd)
{
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	do
		ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out_fd = fd;
	return 0;
}

/*
 * Something exists at the path. Unlink it only if it is a socket nobody
 * accepts on. lstat: a symlink is not ours to follow or remove.
 */
static int remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	/* Non-blocking: a live listener with a full backlog answers EAGAIN, not a hang. */
	ret = connect_once(sa, SOCK_NONBLOCK, &fd);
	if (ret == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (ret == -EAGAIN)
		return -EADDRINUSE;
	if (ret == -ENOENT)
		return 0; /* its owner removed it meanwhile */
	if (ret != -ECONNREFUSED)
		return ret;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int vhu_sock_listen(const char *path, int *out_fd)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = addr_fill(&sa, path);
	if (ret < 0)
		return ret;
	ret = remove_stale(&sa);
	if (ret < 0)
		return ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A racing listener that bound after our check makes bind fail with EADDRINUSE. */
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	*out_fd = fd;
	return 0;

out_unlink:
	unlink(sa.sun_path);
out_close:
	close(fd);
	return ret;
}

int vhu_sock_accept(int listen_fd, int *out_fd)
{
	int fd;

	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}

static bool connect_retryable(int err)
{
	/* The peer has not created the path yet, or has not called listen() yet. */
	return err == -ENOENT || err == -ECONNREFUSED || err == -EAGAIN;
}

int vhu_sock_connect(const char *path, unsigned int timeout_ms, int *out_fd)
{
	struct sockaddr_un sa;
	uint64_t deadline, now;
	int ret;

	ret = addr_fill(&sa, path);
	if (ret < 0)
		return ret;
	deadline = vhu_now_ns() / 1000000u + timeout_ms;
	for (;;) {
		struct timespec nap;
		uint64_t wait_ms;

		ret = connect_once(&sa, 0, out_fd);
		if (ret == 0 || !connect_retryable(ret))
			return ret;
		now = vhu_now_ns() / 1000000u;
		if (now >= deadline)
			return ret;
		wait_ms = VHU_MIN(deadline - now, (uint64_t)CONNECT_RETRY_MS);
		nap.tv_sec = 0;
		nap.tv_nsec = (long)(wait_ms * 1000000u);
		nanosleep(&nap, NULL); /* EINTR only shortens the nap */
	}
}

int vhu_sock_connect_nb(const char *path, int *out_fd)
{
	struct sockaddr_un sa;
	int ret = addr_fill(&sa, path), flags;

	if (ret < 0)
		return ret;
	/* nonblocking: a front-end whose backlog is full says EAGAIN, never stalls us */
	ret = connect_once(&sa, SOCK_NONBLOCK, out_fd);
	if (ret < 0)
		return ret;
	/* the transport reads and writes whole messages on a blocking socket */
	flags = fcntl(*out_fd, F_GETFL);
	if (flags < 0 || fcntl(*out_fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		ret = -errno;
		vhu_close_fd(out_fd);
		return ret;
	}
	return 0;
}

int vhu_sock_adopt(int fd)
{
	int flags, domain, type, listening;
	socklen_t len;

	flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return -errno;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno; /* ENOTSOCK */
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	if (domain != AF_UNIX || type != SOCK_STREAM)
		return -EPROTOTYPE;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return -errno;
	if (!listening) {
		struct sockaddr_un peer;

		/* Neither listening nor connected: nothing could ever arrive on it. */
		len = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
			return -errno; /* ENOTCONN */
	}
	if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return listening ? VHU_SOCK_LISTENING : VHU_SOCK_CONNECTED;
}

int vhu_sock_set_timeouts(int fd, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}
