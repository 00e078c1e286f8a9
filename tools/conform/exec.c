/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: start the peer from its --exec command for each check, and
 * stop it. The command goes through /bin/sh -c "exec CMD", so the process
 * we wait for is the peer itself; it gets its own process group.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"

#define CMD_MAX 8192

static char dir[64];

const char *spawn_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vhu-conform.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("vhu-conform: mkdtemp");
			exit(1);
		}
	}
	return dir;
}

static int log_fd(const struct options *opt)
{
	static int fd = -2;

	if (fd == -2) {
		fd = open(opt->peer_log ? opt->peer_log : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			fprintf(stderr, "vhu-conform: %s: %s\n", opt->peer_log, strerror(errno));
	}
	return fd;
}

void spawn_log(const struct options *opt, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int fd = log_fd(opt);
	int n;

	if (fd < 0 || !opt->peer_log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0)
		return;
}

/* Append @s to @out (bounded); false when it does not fit. */
static bool put(char *out, size_t *n, const char *s, size_t len)
{
	if (*n + len + 1 > CMD_MAX)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = 0;
	return true;
}

/* The command with {socket} replaced (or the socket option by --fd=3). */
static int build(const struct options *opt, const char *sock, const char *args, bool use_fd,
		 char *out)
{
	const char *p = opt->exec, *hit;
	size_t n = 0;
	bool replaced = false;

	put(out, &n, "exec ", 5);
	while ((hit = strstr(p, "{socket}"))) {
		size_t pre = (size_t)(hit - p);

		if (use_fd) {
			static const char *forms[] = { "--socket-path=", "--socket-path " };

			for (size_t i = 0; i < 2 && !replaced; i++) {
				size_t fl = strlen(forms[i]);

				if (pre >= fl && !strncmp(hit - fl, forms[i], fl)) {
					put(out, &n, p, pre - fl);
					put(out, &n, "--fd=3", 6);
					replaced = true;
				}
			}
			if (!replaced)
				return -ENOTSUP;
		} else if (!put(out, &n, p, pre) || !put(out, &n, sock, strlen(sock))) {
			return -E2BIG;
		}
		p = hit + 8;
	}
	if (!put(out, &n, p, strlen(p)))
		return -E2BIG;
	if (use_fd && !replaced)
		return -ENOTSUP;
	if (args && (!put(out, &n, " ", 1) || !put(out, &n, args, strlen(args))))
		return -E2BIG;
	return 0;
}

int spawn_peer(const struct options *opt, const char *sock, const char *args, int fd, int out,
	       struct spawn *sp)
{
	char cmd[CMD_MAX];
	int ret, log = log_fd(opt);
	pid_t pid;

	ret = build(opt, sock, args, fd >= 0, cmd);
	if (ret < 0)
		return ret;
	*sp = (struct spawn){ 0 };
	snprintf(sp->sock, sizeof(sp->sock), "%s", sock);
	unlink(sock);
	spawn_log(opt, "--- vhu-conform: %s\n", cmd + 5);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (log >= 0) {
			dup2(out >= 0 ? out : log, 1);
			dup2(log, 2);
		}
		if (fd >= 0 && dup2(fd, 3) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	sp->pid = pid;
	return 0;
}

int spawn_wait_exit(struct spawn *sp, unsigned int ms, int *status)
{
	for (unsigned int waited = 0;; waited += 5) {
		pid_t r = waitpid(sp->pid, status, WNOHANG);

		if (r == sp->pid) {
			sp->pid = 0;
			return 1;
		}
		if (r < 0 || waited >= ms)
			return 0;
		sleep_ms(5);
	}
}

int spawn_wait_socket_keep(struct spawn *sp, unsigned int ms, int *fd)
{
	int status, ret = -ENOENT;

	for (unsigned int waited = 0; waited < ms; waited += 10) {
		if (spawn_wait_exit(sp, 0, &status))
			return -ECHILD;
		ret = vhu_sock_connect(sp->sock, 0, fd);
		if (ret == 0)
			return 0;
		sleep_ms(10);
	}
	return ret;
}

int spawn_wait_socket(struct spawn *sp, unsigned int ms)
{
	int fd = -1, ret = spawn_wait_socket_keep(sp, ms, &fd);

	if (ret == 0)
		close(fd);
	return ret;
}

int spawn_stop(struct spawn *sp, unsigned int ms)
{
	int status = 0;

	if (!sp->pid)
		return 0;
	kill(sp->pid, SIGTERM);
	if (spawn_wait_exit(sp, ms, &status))
		return status;
	kill(sp->pid, SIGKILL);
	waitpid(sp->pid, &status, 0);
	sp->pid = 0;
	return -1;
}
