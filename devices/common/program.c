/* SPDX-License-Identifier: MIT */
/* The vhost-user "Backend program conventions": options, capabilities, signals. */

#include "program.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vhu/log.h>
#include <vhu/version.h>

enum common_opt {
	OPT_SOCKET_PATH,
	OPT_FD,
	OPT_CLIENT,
	OPT_PRINT_CAPS,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION,
};

static const struct prog_option common_opts[] = {
	[OPT_SOCKET_PATH] = { "socket-path", PROG_ARG_REQUIRED, "PATH",
			      "listen on the vhost-user socket PATH" },
	[OPT_FD] = { "fd", PROG_ARG_REQUIRED, "FDNUM",
		     "use the connected vhost-user socket FDNUM instead" },
	[OPT_CLIENT] = { "client", PROG_ARG_NONE, NULL,
			 "connect to --socket-path (the front-end listens: QEMU server=on) and "
			 "reconnect with back-off when it goes" },
	[OPT_PRINT_CAPS] = { "print-capabilities", PROG_ARG_NONE, NULL,
			     "print the capabilities as JSON and exit" },
	[OPT_LOG_LEVEL] = { "log-level", PROG_ARG_REQUIRED, "LEVEL",
			    "err, warn, info, debug or trace (default info)" },
	[OPT_HELP] = { "help", PROG_ARG_NONE, NULL, "show this help and exit (also -h)" },
	[OPT_VERSION] = { "version", PROG_ARG_NONE, NULL, "show the version and exit" },
};

static int perr(const struct prog_info *info, FILE *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(const struct prog_info *info, FILE *err, const char *fmt, ...)
{
	va_list ap;

	fprintf(err, "%s: ", info->name);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	fflush(err);
	return 1;
}

int prog_error(const struct prog_info *info, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", info->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	return 1;
}

int prog_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL; /* no sign, no space, not empty */
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* ---- capabilities ---- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

int prog_print_capabilities(const struct prog_info *info, FILE *out)
{
	fputs("{\"type\": ", out);
	json_string(out, info->type);
	fputs(", \"features\": [", out);
	for (size_t i = 0; info->features && info->features[i]; i++) {
		if (i)
			fputs(", ", out);
		json_string(out, info->features[i]);
	}
	fputs("]}\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}

/* ---- help ---- */

static void print_option(FILE *out, const struct prog_option *o)
{
	char left[64];

	if (o->has_arg == PROG_ARG_REQUIRED)
		snprintf(left, sizeof(left), "--%s=%s", o->name, o->arg_name ? o->arg_name : "ARG");
	else
		snprintf(left, sizeof(left), "--%s", o->name);
	fprintf(out, "  %-28s %s\n", left, o->help ? o->help : "");
}

static void print_help(const struct prog_info *info, FILE *out)
{
	fprintf(out, "Usage: %s (--socket-path=PATH | --fd=FDNUM)%s [OPTION]...\n", info->name,
		info->max_sockets > 1 ? "..." : "");
	if (info->description)
		fprintf(out, "%s\n", info->description);
	fputs("\nOptions:\n", out);
	for (size_t i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		print_option(out, &common_opts[i]);
	for (size_t i = 0; i < info->num_options; i++)
		print_option(out, &info->options[i]);
	fflush(out);
}

/* ---- parsing ---- */

static const struct prog_option *find_opt(const struct prog_option *opts, size_t num,
					  const char *name, size_t name_len)
{
	for (size_t i = 0; i < num; i++)
		if (strlen(opts[i].name) == name_len && strncmp(opts[i].name, name, name_len) == 0)
			return &opts[i];
	return NULL;
}

static int check_fd(const struct prog_info *info, FILE *err, const char *arg, int *fd)
{
	struct stat st;
	uint64_t v;

	if (prog_parse_u64(arg, INT_MAX, &v) < 0)
		return perr(info, err, "invalid --fd '%s': not a file descriptor number", arg);
	if (v <= 2)
		return perr(info, err, "invalid --fd %d: 0, 1 and 2 are stdin, stdout and stderr",
			    (int)v);
	if (fstat((int)v, &st) < 0)
		return perr(info, err, "invalid --fd %d: %s", (int)v, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return perr(info, err, "invalid --fd %d: not a socket", (int)v);
	*fd = (int)v;
	return 0;
}

/* Record one --socket-path or --fd; return PROG_CONTINUE or an exit status. */
static int add_socket(const struct prog_info *info, FILE *err, struct prog_args *args,
		      const char *path, int fd)
{
	/* one of each fits the single-socket rule, which is checked at the end */
	unsigned int max = info->max_sockets > 1 ? info->max_sockets : 2;

	if (max > PROG_SOCKETS_MAX)
		max = PROG_SOCKETS_MAX;
	if (args->nsockets >= max)
		return perr(info, err, "at most %u --socket-path and --fd in all", max);
	for (unsigned int i = 0; path && i < args->nsockets; i++)
		if (args->sockets[i].path && strcmp(args->sockets[i].path, path) == 0)
			return perr(info, err, "--socket-path %s given twice", path);
	for (unsigned int i = 0; fd >= 0 && i < args->nsockets; i++)
		if (args->sockets[i].fd == fd)
			return perr(info, err, "--fd %d given twice", fd);
	args->sockets[args->nsockets++] = (struct prog_socket){ .path = path, .fd = fd };
	if (path && !args->socket_path)
		args->socket_path = path;
	if (fd >= 0 && args->fd < 0)
		args->fd = fd;
	return PROG_CONTINUE;
}

/* Apply one common option; return PROG_CONTINUE or an exit status. */
static int apply_common(const struct prog_info *info, enum common_opt id, const char *arg,
			struct prog_args *args, FILE *out, FILE *err)
{
	int level, fd = -1;

	switch (id) {
	case OPT_SOCKET_PATH:
		if (args->socket_path && info->max_sockets <= 1)
			return perr(info, err, "--socket-path given twice");
		if (arg[0] == '\0')
			return perr(info, err, "--socket-path is empty");
		return add_socket(info, err, args, arg, -1);
	case OPT_FD:
		if (args->fd >= 0 && info->max_sockets <= 1)
			return perr(info, err, "--fd given twice");
		if (check_fd(info, err, arg, &fd) != 0)
			return 1;
		return add_socket(info, err, args, NULL, fd);
	case OPT_CLIENT:
		args->client = true;
		break;
	case OPT_LOG_LEVEL:
		level = vhu_log_level_parse(arg);
		if (level < 0)
			return perr(info, err, "invalid --log-level '%s'", arg);
		args->log_level = level;
		break;
	case OPT_HELP:
		print_help(info, out);
		return 0;
	case OPT_VERSION:
		fprintf(out, "%s (vhu) %s\n", info->name, vhu_version_string());
		fflush(out);
		return 0;
	case OPT_PRINT_CAPS:
		break; /* handled before parsing */
	}
	return PROG_CONTINUE;
}

static int apply_own(const struct prog_info *info, const struct prog_option *o, const char *arg,
		     FILE *err)
{
	int ret = 0;

	if (o->cb)
		ret = o->cb(arg, info->opaque);
	else if (o->flag)
		*o->flag = true;
	else if (o->str)
		*o->str = arg;
	if (ret < 0 && arg)
		return perr(info, err, "invalid value '%s' for --%s: %s", arg, o->name,
			    strerror(-ret));
	if (ret < 0)
		return perr(info, err, "--%s: %s", o->name, strerror(-ret));
	return PROG_CONTINUE;
}

/* Parse argv[*i] (and maybe its argument); return PROG_CONTINUE or an exit status. */
static int parse_one(const struct prog_info *info, int argc, char *const argv[], int *i,
		     struct prog_args *args, FILE *out, FILE *err)
{
	const char *word = argv[*i];
	const char *name, *eq, *arg = NULL;
	const struct prog_option *o;
	size_t len;
	bool common = true;

	if (strcmp(word, "-h") == 0)
		return apply_common(info, OPT_HELP, NULL, args, out, err);
	if (strncmp(word, "--", 2) != 0 || word[2] == '\0')
		return perr(info, err, "unexpected argument '%s' (see --help)", word);
	name = word + 2;
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	o = find_opt(common_opts, sizeof(common_opts) / sizeof(common_opts[0]), name, len);
	if (!o) {
		common = false;
		o = find_opt(info->options, info->num_options, name, len);
	}
	if (!o)
		return perr(info, err, "unknown option '--%.*s' (see --help)", (int)len, name);
	if (o->has_arg == PROG_ARG_NONE && eq)
		return perr(info, err, "option '--%s' takes no argument", o->name);
	if (o->has_arg == PROG_ARG_REQUIRED) {
		if (eq)
			arg = eq + 1;
		else if (*i + 1 < argc)
			arg = argv[++*i];
		else
			return perr(info, err, "option '--%s' needs an argument", o->name);
	}
	if (common)
		return apply_common(info, (enum common_opt)(o - common_opts), arg, args, out, err);
	return apply_own(info, o, arg, err);
}

int prog_parse(const struct prog_info *info, int argc, char *const argv[], struct prog_args *args,
	       FILE *out, FILE *err)
{
	int ret;

	args->socket_path = NULL;
	args->fd = -1;
	args->log_level = -1;
	args->nsockets = 0;
	args->client = false;
	/* The spec: print, exit 0, ignore every other argument (even bad ones). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--print-capabilities") == 0)
			return prog_print_capabilities(info, out) == 0 ? 0 : 1;
	for (int i = 1; i < argc; i++) {
		ret = parse_one(info, argc, argv, &i, args, out, err);
		if (ret != PROG_CONTINUE)
			return ret;
	}
	if (args->socket_path && args->fd >= 0 && info->max_sockets <= 1)
		return perr(info, err, "--socket-path and --fd are mutually exclusive");
	if (!args->socket_path && args->fd < 0 && !info->sockets_optional)
		return perr(info, err, "one of --socket-path or --fd is required");
	if (args->client && !args->socket_path)
		return perr(info, err, "--client connects to a --socket-path: give one");
	for (unsigned int i = 0; i < args->nsockets; i++)
		args->sockets[i].client = args->client && args->sockets[i].path;
	return PROG_CONTINUE;
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_signal;
static int stop_efd = -1;

static void on_stop_signal(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	ssize_t n;

	stop_signal = sig;
	/* async-signal-safe: a write to an eventfd; a full counter is fine too */
	n = write(stop_efd, &one, sizeof(one));
	(void)n;
	errno = saved;
}

int prog_signals_init(void)
{
	struct sigaction sa;
	int ret;

	if (stop_efd >= 0)
		return stop_efd;
	stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_efd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		goto err;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		goto err;
	return stop_efd;
err:
	ret = -errno;
	close(stop_efd);
	stop_efd = -1;
	return ret;
}

int prog_stop_requested(void)
{
	return stop_signal;
}
