/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: the spec's "Backend program conventions", for a peer given
 * as a command: --print-capabilities, --fd, SIGTERM, no daemonizing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

#define SEC_PROG "vhost-user.rst: Backend program conventions"
#define STOP_MS 5000
#define START_MS 30000
#define CAPS_MAX 65536
#define CAPS_WAIT_S 30 /* a loaded machine starts a Python peer in seconds */

/* ---- a small JSON reader: validates, and finds "type" and "features" ---- */

struct json {
	const char *p;
	char type[32];
	int nfeatures;	  /* -1: no "features" member, or not an array of strings */
	bool bad_feature; /* an element that is not a string */
};

static bool value(struct json *j, int depth, const char *key);

static void ws(struct json *j)
{
	while (isspace((unsigned char)*j->p))
		j->p++;
}

static bool string(struct json *j, char *out, size_t size)
{
	size_t n = 0;

	if (*j->p++ != '"')
		return false;
	while (*j->p && *j->p != '"') {
		if ((unsigned char)*j->p < 0x20)
			return false;
		if (*j->p == '\\') {
			j->p++;
			if (!*j->p || !strchr("\"\\/bfnrtu", *j->p))
				return false;
		}
		if (out && n + 1 < size)
			out[n++] = *j->p;
		j->p++;
	}
	if (out)
		out[n] = 0;
	return *j->p++ == '"';
}

static bool members(struct json *j, int depth, bool top)
{
	char key[32];

	j->p++;
	ws(j);
	if (*j->p == '}')
		return j->p++, true;
	for (;;) {
		ws(j);
		if (!string(j, key, sizeof(key)))
			return false;
		ws(j);
		if (*j->p++ != ':')
			return false;
		ws(j);
		if (!value(j, depth + 1, top ? key : NULL))
			return false;
		ws(j);
		if (*j->p == '}')
			return j->p++, true;
		if (*j->p++ != ',')
			return false;
	}
}

static bool elements(struct json *j, int depth, bool features)
{
	j->p++;
	ws(j);
	if (features)
		j->nfeatures = 0;
	if (*j->p == ']')
		return j->p++, true;
	for (;;) {
		ws(j);
		if (features && *j->p != '"')
			j->bad_feature = true;
		if (!value(j, depth + 1, NULL))
			return false;
		if (features)
			j->nfeatures++;
		ws(j);
		if (*j->p == ']')
			return j->p++, true;
		if (*j->p++ != ',')
			return false;
	}
}

static bool value(struct json *j, int depth, const char *key)
{
	if (depth > 16)
		return false;
	if (*j->p == '{')
		return members(j, depth, depth == 0);
	if (*j->p == '[')
		return elements(j, depth, key && !strcmp(key, "features"));
	if (*j->p == '"')
		return string(j, key && !strcmp(key, "type") ? j->type : NULL, sizeof(j->type));
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4))
		return j->p += 4, true;
	if (!strncmp(j->p, "false", 5))
		return j->p += 5, true;
	if (*j->p == '-' || isdigit((unsigned char)*j->p)) {
		char *end;

		strtod(j->p, &end);
		j->p = end;
		return true;
	}
	return false;
}

/* Parse @text: 0 and the type, or -EINVAL with the reason in @why. */
int conform_parse_caps(const char *text, char *type, size_t size, char *why, size_t wsize)
{
	struct json j = { .p = text, .nfeatures = -1 };

	ws(&j);
	if (*j.p != '{' || !value(&j, 0, NULL)) {
		snprintf(why, wsize, "not a JSON object (at byte %zu)", (size_t)(j.p - text));
		return -EINVAL;
	}
	ws(&j);
	if (*j.p) {
		snprintf(why, wsize, "text after the JSON object");
		return -EINVAL;
	}
	if (!j.type[0]) {
		snprintf(why, wsize, "no \"type\" string");
		return -EINVAL;
	}
	if (j.nfeatures < 0 || j.bad_feature) {
		snprintf(why, wsize, "\"features\" is not an array of strings");
		return -EINVAL;
	}
	snprintf(type, size, "%s", j.type);
	snprintf(why, wsize, "type \"%s\", %d feature(s)", j.type, j.nfeatures);
	return 0;
}

/* Run the command with --print-capabilities: its stdout and exit status. */
int conform_capabilities(const struct options *opt, char *buf, size_t size, int *status)
{
	char sock[160];
	struct spawn sp;
	size_t n = 0;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	snprintf(sock, sizeof(sock), "%s/caps.sock", spawn_dir());
	ret = spawn_peer(opt, sock, "--print-capabilities", -1, p[1], &sp);
	close(p[1]);
	if (ret < 0) {
		close(p[0]);
		return ret;
	}
	for (;;) {
		struct timeval tv = { .tv_sec = CAPS_WAIT_S };
		fd_set r;
		ssize_t got;

		FD_ZERO(&r);
		FD_SET(p[0], &r);
		if (select(p[0] + 1, &r, NULL, NULL, &tv) <= 0)
			break;
		got = read(p[0], buf + n, size - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n + 1 >= size)
			break;
	}
	buf[n] = 0;
	close(p[0]);
	if (!spawn_wait_exit(&sp, CAPS_WAIT_S * 1000, status)) {
		spawn_stop(&sp, 100);
		return -ETIMEDOUT;
	}
	return 0;
}

static void print_capabilities(struct ctx *cx)
{
	char *buf = malloc(CAPS_MAX), type[32], why[128];
	int status, ret;

	if (!buf)
		return fail(cx, "out of memory");
	ret = conform_capabilities(cx->opt, buf, CAPS_MAX, &status);
	if (ret == -ETIMEDOUT)
		fail(cx, "--print-capabilities did not exit within %d s", CAPS_WAIT_S);
	else if (ret < 0)
		fail(cx, "could not run it: %s", strerror(-ret));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail(cx, "--print-capabilities: exit status 0x%x, want 0", status);
	else if (conform_parse_caps(buf, type, sizeof(type), why, sizeof(why)) < 0)
		fail(cx, "--print-capabilities: %s", why);
	else
		pass(cx, "%s", why);
	free(buf);
}

static void fd_option(struct ctx *cx)
{
	struct conn c = { .fd = -1 };
	struct spawn sp;
	int sv[2], ret, status;
	uint64_t v;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(cx, "socketpair: %s", strerror(errno));
	ret = spawn_peer(cx->opt, "unused", NULL, sv[1], -1, &sp);
	close(sv[1]);
	if (ret == -ENOTSUP) {
		close(sv[0]);
		return na(cx, "the command has no --socket-path={socket} to replace by --fd");
	}
	if (ret < 0) {
		close(sv[0]);
		return fail(cx, "start: %s", strerror(-ret));
	}
	c.fd = sv[0];
	{
		struct timeval tv = { .tv_sec = cx->timeout_ms / 1000,
				      .tv_usec = (long)(cx->timeout_ms % 1000) * 1000 };

		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &v);
	conn_close(&c);
	if (ret < 0)
		fail(cx, "GET_FEATURES over --fd=3: %s", err_text(ret));
	else
		pass(cx, "GET_FEATURES answered over --fd=3 (0x%llx)", (unsigned long long)v);
	if (spawn_wait_exit(&sp, 1000, &status))
		note(cx, "exited when the connection closed (status 0x%x)", status);
	else if ((status = spawn_stop(&sp, STOP_MS)) < 0)
		fail(cx, "still running %d s after SIGTERM", STOP_MS / 1000);
	else if (status && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
		fail(cx, "after SIGTERM: status 0x%x", status);
}

static void sigterm(struct ctx *cx)
{
	char sock[160];
	struct spawn sp;
	struct conn c;
	int ret, status;

	snprintf(sock, sizeof(sock), "%s/term.sock", spawn_dir());
	ret = spawn_peer(cx->opt, sock, NULL, -1, -1, &sp);
	if (ret == 0)
		ret = spawn_wait_socket(&sp, START_MS);
	if (ret < 0) {
		spawn_stop(&sp, 100);
		return fail(cx, "the program did not come up: %s", strerror(-ret));
	}
	/* with a front-end connected and negotiated, as when a VM runs */
	cx->pid = sp.pid;
	cx->path = sock;
	if (conn_default(cx, &c) < 0) {
		spawn_stop(&sp, 100);
		return;
	}
	kill(sp.pid, SIGTERM);
	if (!spawn_wait_exit(&sp, STOP_MS, &status)) {
		spawn_stop(&sp, 100);
		conn_close(&c);
		return fail(cx, "still running %d s after SIGTERM", STOP_MS / 1000);
	}
	conn_close(&c);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		pass(cx, "exited 0 on SIGTERM with a front-end connected");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		pass(cx, "ended by SIGTERM's default action (no clean-up of its own)");
	else
		fail(cx, "on SIGTERM: %s %d", WIFEXITED(status) ? "exit status" : "signal",
		     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void no_daemon(struct ctx *cx)
{
	char sock[160];
	struct spawn sp;
	int ret, status;

	snprintf(sock, sizeof(sock), "%s/daemon.sock", spawn_dir());
	ret = spawn_peer(cx->opt, sock, NULL, -1, -1, &sp);
	if (ret == 0)
		ret = spawn_wait_socket(&sp, START_MS);
	if (ret == -ECHILD)
		return fail(cx, "the process exited before its socket accepted: daemonized?");
	if (ret < 0) {
		spawn_stop(&sp, 100);
		return fail(cx, "the program did not come up: %s", strerror(-ret));
	}
	sleep_ms(200);
	if (spawn_wait_exit(&sp, 0, &status))
		return fail(cx, "the process exited (status 0x%x) while its socket served", status);
	spawn_stop(&sp, STOP_MS);
	pass(cx, "the started process itself serves the socket");
}

const struct check conform_checks_prog[] = {
	{ "prog-print-capabilities", "program", SEC_PROG,
	  "--print-capabilities: output the capabilities in JSON ({\"type\", \"features\"}) to "
	  "stdout, then exit successfully; other options should be ignored",
	  print_capabilities, CHECK_EXEC_ONLY | CHECK_OWN_PEER },
	{ "prog-fd", "program", SEC_PROG,
	  "--fd=FDNUM: the program is started with the vhost-user socket as file descriptor "
	  "FDNUM",
	  fd_option, CHECK_EXEC_ONLY | CHECK_OWN_PEER },
	{ "prog-sigterm", "program", SEC_PROG,
	  "the back-end program must end (as quickly and cleanly as possible) when SIGTERM is "
	  "received",
	  sigterm, CHECK_EXEC_ONLY | CHECK_OWN_PEER },
	{ "prog-no-daemon", "program", SEC_PROG, "the back-end program must not daemonize itself",
	  no_daemon, CHECK_EXEC_ONLY | CHECK_OWN_PEER },
	{ 0 },
};
