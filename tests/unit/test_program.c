/* SPDX-License-Identifier: MIT */
/* devices/common/program.c: the back-end program conventions. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/program.h"

struct own {
	bool read_only;
	const char *blk_file;
	unsigned int queues;
	int cb_calls;
};

static struct own own;

static int set_queues(const char *arg, void *opaque)
{
	struct own *o = opaque;
	uint64_t v;
	int ret = prog_parse_u64(arg, 64, &v);

	o->cb_calls++;
	if (ret < 0)
		return ret;
	if (v == 0)
		return -EINVAL;
	o->queues = (unsigned int)v;
	return 0;
}

static const struct prog_option own_opts[] = {
	{ .name = "blk-file",
	  .has_arg = PROG_ARG_REQUIRED,
	  .arg_name = "PATH",
	  .help = "the disk",
	  .str = &own.blk_file },
	{ .name = "read-only",
	  .has_arg = PROG_ARG_NONE,
	  .help = "no writes",
	  .flag = &own.read_only },
	{ .name = "num-queues",
	  .has_arg = PROG_ARG_REQUIRED,
	  .arg_name = "N",
	  .help = "queues",
	  .cb = set_queues },
};

static const char *const features[] = { "read-only", "blk-file", NULL };

static const struct prog_info info = {
	.name = "vhu-test",
	.description = "a test program",
	.type = "block",
	.features = features,
	.options = own_opts,
	.num_options = sizeof(own_opts) / sizeof(own_opts[0]),
	.opaque = &own,
};

struct result {
	int ret;
	struct prog_args args;
	char *out;
	char *err;
};

/* Run prog_parse() on a NULL-terminated list of arguments after argv[0]. */
static struct result parse_v(const char *first, va_list ap)
{
	char *argv[32];
	int argc = 0;
	size_t out_len, err_len;
	FILE *out, *err;
	struct result r;

	memset(&r, 0, sizeof(r));
	memset(&own, 0, sizeof(own));
	argv[argc++] = (char *)(uintptr_t) "vhu-test";
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 31);
		argv[argc++] = (char *)(uintptr_t)a;
	}
	argv[argc] = NULL;
	out = open_memstream(&r.out, &out_len);
	err = open_memstream(&r.err, &err_len);
	assert_non_null(out);
	assert_non_null(err);
	r.ret = prog_parse(&info, argc, argv, &r.args, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static struct result parse(const char *first, ...)
{
	struct result r;
	va_list ap;

	va_start(ap, first);
	r = parse_v(first, ap);
	va_end(ap);
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Expect exit status 1 and exactly one line "vhu-test: <contains>..." */
static void expect_error(struct result r, const char *contains)
{
	assert_int_equal(r.ret, 1);
	assert_string_equal(r.out, "");
	assert_true(strncmp(r.err, "vhu-test: ", 10) == 0);
	assert_non_null(strstr(r.err, contains));
	assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	result_free(&r);
}

static void test_socket_path(void **state)
{
	struct result r = parse("--socket-path=/tmp/x.sock", "--read-only", "--blk-file",
				"/tmp/disk", "--num-queues=4", "--log-level=debug", NULL);

	(void)state;
	assert_int_equal(r.ret, PROG_CONTINUE);
	assert_string_equal(r.args.socket_path, "/tmp/x.sock");
	assert_int_equal(r.args.fd, -1);
	assert_int_equal(r.args.log_level, 3);
	assert_true(own.read_only);
	assert_string_equal(own.blk_file, "/tmp/disk");
	assert_int_equal(own.queues, 4);
	assert_string_equal(r.err, "");
	result_free(&r);

	r = parse("--socket-path", "/tmp/y.sock", NULL);
	assert_int_equal(r.ret, PROG_CONTINUE);
	assert_string_equal(r.args.socket_path, "/tmp/y.sock");
	assert_int_equal(r.args.log_level, -1);
	result_free(&r);
}

/* A program with ports: --socket-path and --fd repeat, mixed, in order. */
static void test_many_sockets(void **state)
{
	struct prog_info many = info;
	char *argv[8] = { (char *)(uintptr_t) "vhu-test" };
	struct prog_args args;
	FILE *null = fopen("/dev/null", "w");
	int sv[2];

	(void)state;
	assert_non_null(null);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	many.max_sockets = 3;
	argv[1] = (char *)(uintptr_t) "--socket-path=/tmp/a.sock";
	argv[2] = (char *)(uintptr_t) "--fd";
	argv[3] = NULL;
	assert_true(asprintf(&argv[3], "%d", sv[0]) > 0);
	argv[4] = (char *)(uintptr_t) "--socket-path=/tmp/b.sock";
	assert_int_equal(prog_parse(&many, 5, argv, &args, null, null), PROG_CONTINUE);
	assert_int_equal(args.nsockets, 3);
	assert_string_equal(args.sockets[0].path, "/tmp/a.sock");
	assert_int_equal(args.sockets[0].fd, -1);
	assert_null(args.sockets[1].path);
	assert_int_equal(args.sockets[1].fd, sv[0]);
	assert_string_equal(args.sockets[2].path, "/tmp/b.sock");
	assert_string_equal(args.socket_path, "/tmp/a.sock");
	assert_int_equal(args.fd, sv[0]);

	/* one too many, and the same path twice */
	argv[5] = (char *)(uintptr_t) "--socket-path=/tmp/c.sock";
	assert_int_equal(prog_parse(&many, 6, argv, &args, null, null), 1);
	argv[5] = NULL;
	argv[4] = (char *)(uintptr_t) "--socket-path=/tmp/a.sock";
	assert_int_equal(prog_parse(&many, 5, argv, &args, null, null), 1);
	/* the single-socket rule is unchanged */
	argv[4] = (char *)(uintptr_t) "--socket-path=/tmp/b.sock";
	assert_int_equal(prog_parse(&info, 5, argv, &args, null, null), 1);
	free(argv[3]);
	close(sv[0]);
	close(sv[1]);
	fclose(null);
}

static void test_fd(void **state)
{
	int sv[2];
	char arg[32];
	struct result r;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	snprintf(arg, sizeof(arg), "--fd=%d", sv[0]);
	r = parse(arg, NULL);
	assert_int_equal(r.ret, PROG_CONTINUE);
	assert_int_equal(r.args.fd, sv[0]);
	assert_null(r.args.socket_path);
	result_free(&r);

	expect_error(parse(arg, "--socket-path=/tmp/x", NULL), "mutually exclusive");
	expect_error(parse("--socket-path=/tmp/x", arg, NULL), "mutually exclusive");
	expect_error(parse(arg, arg, NULL), "twice");
	close(sv[0]);
	close(sv[1]);
}

static void test_bad_fd(void **state)
{
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	expect_error(parse("--fd=abc", NULL), "invalid --fd 'abc'");
	expect_error(parse("--fd=-1", NULL), "invalid --fd '-1'");
	expect_error(parse("--fd=3x", NULL), "invalid --fd");
	expect_error(parse("--fd=", NULL), "invalid --fd");
	expect_error(parse("--fd= 4", NULL), "invalid --fd");
	expect_error(parse("--fd=99999999999", NULL), "invalid --fd");
	expect_error(parse("--fd=184467440737095516150", NULL), "invalid --fd");
	expect_error(parse("--fd=1", NULL), "stdin, stdout and stderr");
	expect_error(parse("--fd=1000", NULL), "Bad file descriptor");
	{
		char arg[32];

		assert_true(fd > 2);
		snprintf(arg, sizeof(arg), "--fd=%d", fd);
		expect_error(parse(arg, NULL), "not a socket");
	}
	close(fd);
}

static void test_neither(void **state)
{
	(void)state;
	expect_error(parse(NULL), "one of --socket-path or --fd is required");
	expect_error(parse("--read-only", NULL), "one of --socket-path or --fd is required");
	expect_error(parse("--socket-path=", NULL), "empty");
	expect_error(parse("--socket-path=/a", "--socket-path=/b", NULL), "twice");
}

static void test_bad_options(void **state)
{
	(void)state;
	expect_error(parse("--socket-path=/a", "--bogus", NULL), "unknown option '--bogus'");
	expect_error(parse("--socket-path=/a", "--bogus=1", NULL), "unknown option '--bogus'");
	/* no abbreviations, no short options, no positional arguments */
	expect_error(parse("--socket=/a", NULL), "unknown option '--socket'");
	expect_error(parse("--socket-path=/a", "-x", NULL), "unexpected argument '-x'");
	expect_error(parse("--socket-path=/a", "disk.img", NULL), "unexpected argument");
	expect_error(parse("--socket-path=/a", "--", NULL), "unexpected argument '--'");
	expect_error(parse("--socket-path", NULL), "needs an argument");
	expect_error(parse("--socket-path=/a", "--read-only=yes", NULL), "takes no argument");
	expect_error(parse("--socket-path=/a", "--log-level=loud", NULL),
		     "invalid --log-level 'loud'");
	expect_error(parse("--socket-path=/a", "--num-queues=0", NULL),
		     "invalid value '0' for --num-queues: Invalid argument");
	expect_error(parse("--socket-path=/a", "--num-queues=65", NULL), "--num-queues");
	assert_int_equal(own.cb_calls, 1);
}

static const char caps_json[] =
	"{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}\n";

static void check_json_with_python(const char *text)
{
	FILE *p;
	int status;

	if (system("python3 -c '' >/dev/null 2>&1") != 0) {
		print_message("python3 not found: JSON syntax not checked\n");
		return;
	}
	p = popen(
		"python3 -c 'import json,sys; d=json.load(sys.stdin); "
		"assert d[\"type\"]==\"block\" and d[\"features\"]==[\"read-only\",\"blk-file\"]'",
		"w");
	assert_non_null(p);
	fputs(text, p);
	status = pclose(p);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_print_capabilities(void **state)
{
	struct result r = parse("--print-capabilities", NULL);

	(void)state;
	assert_int_equal(r.ret, 0);
	assert_string_equal(r.out, caps_json);
	assert_string_equal(r.err, "");
	check_json_with_python(r.out);
	result_free(&r);

	/* every other argument is ignored, even bad ones, and nothing is opened */
	r = parse("--fd=abc", "--bogus", "--socket-path=/a", "--fd=1", "positional",
		  "--print-capabilities", "--help", NULL);
	assert_int_equal(r.ret, 0);
	assert_string_equal(r.out, caps_json);
	assert_string_equal(r.err, "");
	result_free(&r);
}

static void test_capabilities_escaping(void **state)
{
	static const char *const odd[] = { "a\"b", "c\\d\n", NULL };
	struct prog_info i = { .name = "x", .type = "rng", .features = odd };
	struct prog_info none = { .name = "y", .type = "net" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_int_equal(prog_print_capabilities(&i, f), 0);
	assert_int_equal(prog_print_capabilities(&none, f), 0);
	fclose(f);
	assert_string_equal(buf,
			    "{\"type\": \"rng\", \"features\": [\"a\\\"b\", \"c\\\\d\\u000a\"]}\n"
			    "{\"type\": \"net\", \"features\": []}\n");
	free(buf);
}

static void test_help_version(void **state)
{
	struct result r = parse("--help", "--bogus", NULL);

	(void)state;
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "Usage: vhu-test"));
	assert_non_null(strstr(r.out, "--socket-path=PATH"));
	assert_non_null(strstr(r.out, "--blk-file=PATH"));
	assert_non_null(strstr(r.out, "--read-only"));
	assert_string_equal(r.err, "");
	result_free(&r);

	/* -h is --help's short form */
	r = parse("-h", NULL);
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "Usage: vhu-test"));
	assert_string_equal(r.err, "");
	result_free(&r);

	r = parse("--version", NULL);
	assert_int_equal(r.ret, 0);
	assert_true(strncmp(r.out, "vhu-test (vhu) ", 15) == 0);
	result_free(&r);
}

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(prog_parse_u64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(prog_parse_u64("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(prog_parse_u64("11", 10, &v), -ERANGE);
	assert_int_equal(prog_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(prog_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(prog_parse_u64("", 10, &v), -EINVAL);
	assert_int_equal(prog_parse_u64("+1", 10, &v), -EINVAL);
	assert_int_equal(prog_parse_u64("1 ", 10, &v), -EINVAL);
	assert_int_equal(prog_parse_u64("0x10", 100, &v), -EINVAL);
}

static void test_signals(void **state)
{
	int efd = prog_signals_init();
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t cnt;

	(void)state;
	assert_true(efd >= 0);
	assert_int_equal(prog_signals_init(), efd); /* idempotent */
	assert_int_equal(prog_stop_requested(), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);

	assert_int_equal(raise(SIGPIPE), 0); /* ignored: we are still here */
	assert_int_equal(prog_stop_requested(), 0);

	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(prog_stop_requested(), SIGTERM);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(read(efd, &cnt, sizeof(cnt)), (ssize_t)sizeof(cnt));
	assert_int_equal(cnt, 1);

	assert_int_equal(raise(SIGINT), 0);
	assert_int_equal(prog_stop_requested(), SIGINT);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_many_sockets),
		cmocka_unit_test(test_bad_fd),
		cmocka_unit_test(test_neither),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_print_capabilities),
		cmocka_unit_test(test_capabilities_escaping),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests_name("program", tests, NULL, NULL);
}
