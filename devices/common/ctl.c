/* SPDX-License-Identifier: MIT */
/*
 * vhu-ctl: one JSON-RPC 2.0 call on a device program's control socket
 * (--control-socket of vhu-blk and vhu-net; devices/common/control.h).
 *
 *   vhu-ctl -s SOCK METHOD [NAME=VALUE | NAME:=JSON ...]
 *   vhu-ctl -s SOCK METHOD '{"name": ...}'
 *
 * NAME=VALUE sends a number for digits, true/false/null as such, and a
 * string otherwise; NAME:=JSON sends the JSON value as written (a serial of
 * digits: serial:='"0123"'). The result is printed as JSON on stdout; an
 * error reply prints its message on stderr and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include <vhu/version.h>

#define CTL_REPLY_LIMIT (4u << 20)

static void usage(FILE *out)
{
	fprintf(out, "Usage: vhu-ctl --socket=PATH [--timeout=SECONDS] METHOD [NAME=VALUE]...\n"
		     "       vhu-ctl --socket=PATH METHOD '{JSON params}'\n"
		     "\n"
		     "Call METHOD on the control socket of vhu-blk or vhu-net (their\n"
		     "--control-socket) and print the result as JSON. rpc_get_methods lists the\n"
		     "methods.\n"
		     "\n"
		     "  -s, --socket=PATH   the control socket\n"
		     "  --timeout=SECONDS   give up after this long (default 30)\n"
		     "  -h, --help          show this help and exit\n"
		     "  --version           show the version and exit\n"
		     "\n"
		     "NAME=VALUE sends a number for a decimal integer, true, false or null as\n"
		     "such, and a string otherwise; NAME:=JSON sends JSON as written.\n"
		     "\n"
		     "Exit status: 0 on success, 1 for an error reply or a failed connection, 2\n"
		     "for bad options.\n");
}

static bool is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || (*s == '0' && s[1]))
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Add NAME=VALUE or NAME:=JSON to @w; 0 or -EINVAL (message printed). */
static int add_param(struct json_writer *w, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct json_doc doc;
	const char *why;
	char *name;
	bool raw;

	if (!eq || eq == arg) {
		fprintf(stderr, "vhu-ctl: '%s': expected NAME=VALUE or NAME:=JSON\n", arg);
		return -EINVAL;
	}
	raw = eq[-1] == ':';
	name = strndup(arg, (size_t)(eq - arg) - raw);
	if (!name)
		return -ENOMEM;
	jw_key(w, name);
	free(name);
	if (raw) {
		if (json_parse(eq + 1, strlen(eq + 1), &doc, &why, NULL) < 0) {
			fprintf(stderr, "vhu-ctl: '%s': %s\n", arg, why);
			return -EINVAL;
		}
		jw_value(w, doc.root);
		json_free(&doc);
	} else if (is_integer(eq + 1) && strlen(eq + 1) < 19) {
		jw_raw(w, eq + 1, strlen(eq + 1));
	} else if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false") || !strcmp(eq + 1, "null")) {
		jw_raw(w, eq + 1, strlen(eq + 1));
	} else {
		jw_string(w, eq + 1);
	}
	return 0;
}

static int build_request(struct json_writer *w, const char *method, int n, char **args)
{
	struct json_doc doc;
	const char *why;

	jw_object_begin(w);
	jw_key(w, "jsonrpc");
	jw_string(w, "2.0");
	jw_key(w, "id");
	jw_int(w, 1);
	jw_key(w, "method");
	jw_string(w, method);
	if (n == 1 && args[0][0] == '{') {
		if (json_parse(args[0], strlen(args[0]), &doc, &why, NULL) < 0) {
			fprintf(stderr, "vhu-ctl: params: %s\n", why);
			return -EINVAL;
		}
		jw_key(w, "params");
		jw_value(w, doc.root);
		json_free(&doc);
	} else if (n) {
		jw_key(w, "params");
		jw_object_begin(w);
		for (int i = 0; i < n; i++)
			if (add_param(w, args[i]) < 0)
				return -EINVAL;
		jw_object_end(w);
	}
	jw_object_end(w);
	jw_text(w, "\n", 1);
	return jw_finish(w) ? 0 : -ENOMEM;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vhu-ctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vhu-ctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send @req and read one reply line into @out (malloc'd); 0 or -1 (printed). */
static int exchange(int fd, const char *req, size_t len, unsigned int timeout_s, char **out)
{
	size_t got = 0, cap = 4096;
	char *buf = malloc(cap);
	time_t end = time(NULL) + timeout_s;

	while (buf && len) {
		ssize_t n = send(fd, req, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "vhu-ctl: send: %s\n", strerror(errno));
			goto err;
		}
		req += n, len -= (size_t)n;
	}
	while (buf) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		time_t left = end - time(NULL);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left * 1000) == 0) {
			fprintf(stderr, "vhu-ctl: no reply in %u s\n", timeout_s);
			goto err;
		}
		if (got + 1 == cap) {
			char *nb = cap < CTL_REPLY_LIMIT ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				fprintf(stderr, "vhu-ctl: reply too large\n");
				goto err;
			}
			buf = nb, cap *= 2;
		}
		n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vhu-ctl: connection closed without a reply\n");
			goto err;
		}
		got += (size_t)n;
		if (memchr(buf + got - (size_t)n, '\n', (size_t)n))
			break;
	}
	if (!buf)
		return -1;
	buf[got] = '\0';
	*out = buf;
	return 0;
err:
	free(buf);
	return -1;
}

/* Print the result, or the error on stderr; the exit status. */
static int print_reply(const char *text)
{
	const struct json_value *result, *error, *msg, *code;
	struct json_writer w;
	struct json_doc doc;
	const char *why;
	int status = 1;

	if (json_parse(text, strlen(text), &doc, &why, NULL) < 0) {
		fprintf(stderr, "vhu-ctl: the reply is not JSON: %s\n", why);
		return 1;
	}
	result = json_get(doc.root, "result");
	error = json_get(doc.root, "error");
	if (result) {
		jw_init(&w, CTL_REPLY_LIMIT);
		jw_value(&w, result);
		if (jw_finish(&w)) {
			printf("%s\n", w.buf);
			status = fflush(stdout) == 0 ? 0 : 1;
		}
		jw_free(&w);
	} else {
		msg = json_get(error, "message");
		code = json_get(error, "code");
		fprintf(stderr, "vhu-ctl: error %lld: %s\n",
			code && code->type == JSON_NUMBER ? (long long)code->i : 0LL,
			msg && msg->type == JSON_STRING ? msg->str : "(no message)");
	}
	json_free(&doc);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("VHU_CTL_SOCKET");
	unsigned int timeout_s = 30;
	struct json_writer req;
	char *reply = NULL, *end;
	int c, fd, status;

	while ((c = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 't':
			timeout_s = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !timeout_s || timeout_s > 3600) {
				fprintf(stderr, "vhu-ctl: --timeout: 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vhu-ctl (vhu) %s\n", vhu_version_string());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!socket_path || optind >= argc) {
		fprintf(stderr, "vhu-ctl: %s (see --help)\n",
			!socket_path ? "--socket=PATH is required" : "no METHOD given");
		return 2;
	}
	jw_init(&req, 1u << 20);
	if (build_request(&req, argv[optind], argc - optind - 1, argv + optind + 1) < 0) {
		jw_free(&req);
		return 2;
	}
	fd = connect_to(socket_path);
	status = 1;
	if (fd >= 0 && exchange(fd, req.buf, req.len, timeout_s, &reply) == 0)
		status = print_reply(reply);
	if (fd >= 0)
		close(fd);
	free(reply);
	jw_free(&req);
	return status;
}
