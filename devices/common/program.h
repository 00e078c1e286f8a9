/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_PROGRAM_H
#define VHU_DEVICES_PROGRAM_H

/*
 * What every device program (vhu-blk, vhu-rng, vhu-net ...) shares: the
 * vhost-user spec's "Backend program conventions".
 *
 * - --client (ours, not the spec's): connect to --socket-path, which the
 *   front-end listens on (QEMU server=on), and reconnect with back-off
 *   (vhu_backend_connect()); every --socket-path of a program with ports.
 * - Mandatory options: --socket-path=PATH or --fd=FDNUM (exactly one),
 *   --print-capabilities (prints {"type": .., "features": [..]} and exits 0,
 *   ignoring every other argument and touching no socket or file), plus
 *   --help, --version and --log-level=LEVEL.
 * - A program adds its own options with a table of struct prog_option.
 * - Errors are one line on stderr, "PROG: reason", and exit status 1, early.
 * - SIGTERM and SIGINT request a stop through a flag and an eventfd the main
 *   loop polls; SIGPIPE is ignored. Nothing daemonizes.
 *
 * Options are long only, spelled out in full (no abbreviations), as
 * "--name=value" or "--name value".
 *
 * A program with several ports (vhu-net: one vhost-user socket a port) sets
 * prog_info.max_sockets above 1: --socket-path and --fd may then be given
 * up to that many times in all, mixed, at least once; the order of the
 * command line is kept (prog_args.sockets).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum prog_arg {
	PROG_ARG_NONE,
	PROG_ARG_REQUIRED,
};

/*
 * One program-specific option. Set exactly one of @cb, @flag or @str:
 * - @cb is called with the argument (NULL for PROG_ARG_NONE) and the
 *   program's opaque pointer; it returns 0 or a negative errno, which makes
 *   parsing fail with "PROG: invalid value 'ARG' for --NAME: strerror";
 * - @flag (PROG_ARG_NONE only) is set to true;
 * - @str (PROG_ARG_REQUIRED only) is set to the argument (points into argv).
 */
struct prog_option {
	const char *name; /* without the leading "--" */
	enum prog_arg has_arg;
	const char *arg_name; /* shown in --help: "PATH" */
	const char *help;
	int (*cb)(const char *arg, void *opaque);
	bool *flag;
	const char **str;
};

struct prog_info {
	const char *name;	     /* "vhu-blk": the prefix of every error line */
	const char *description;     /* one line, for --help */
	const char *type;	     /* vhost-user.json VHostUserBackendType: "block" */
	const char *const *features; /* NULL terminated; NULL for none */
	const struct prog_option *options;
	size_t num_options;
	void *opaque; /* passed to the option callbacks */
	/* 0 or 1: exactly one of --socket-path or --fd (the spec's rule);
	 * more: up to this many of them, mixed, at most PROG_SOCKETS_MAX */
	unsigned int max_sockets;
	/* no --socket-path or --fd is fine (the program has other sources:
	 * vhu-blk's --config and --control-socket); it checks itself */
	bool sockets_optional;
};

/* Most --socket-path and --fd a program with ports accepts in all. */
#define PROG_SOCKETS_MAX 64u

/* One --socket-path or --fd, in command-line order. */
struct prog_socket {
	const char *path; /* NULL for an --fd */
	int fd;		  /* -1 for a --socket-path */
	bool client;	  /* connect to path (--client) instead of listening */
};

struct prog_args {
	const char *socket_path; /* NULL unless --socket-path */
	int fd;			 /* -1 unless --fd: an open socket, not 0, 1 or 2 */
	int log_level;		 /* enum vhu_log_level, or -1 if not given */
	bool client;		 /* --client: connect to every --socket-path */
	/* every --socket-path and --fd in order (socket_path / fd: the first) */
	struct prog_socket sockets[PROG_SOCKETS_MAX];
	unsigned int nsockets;
};

/* prog_parse() returns this when the program should go on and run. */
#define PROG_CONTINUE (-1)

/**
 * prog_parse() - parse the command line.
 * @info: the program
 * @argc, @argv: from main()
 * @args: filled with the mandatory options
 * @out:  where --help, --version and --print-capabilities print (stdout)
 * @err:  where errors go (stderr)
 *
 * Return: PROG_CONTINUE, or the status main() should exit with: 0 after
 * --help, --version or --print-capabilities, 1 after an error (already
 * reported on @err).
 */
int prog_parse(const struct prog_info *info, int argc, char *const argv[], struct prog_args *args,
	       FILE *out, FILE *err);

/**
 * prog_print_capabilities() - the vhost-user.json VHostUserBackendCapabilities
 * object for @info, on one line: {"type": "block", "features": ["read-only"]}.
 *
 * Return: 0, or -EIO if @out failed.
 */
int prog_print_capabilities(const struct prog_info *info, FILE *out);

/**
 * prog_error() - print "NAME: reason" on stderr.
 *
 * Return: 1, the exit status for an early failure: `return prog_error(...)`.
 */
int prog_error(const struct prog_info *info, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * prog_parse_u64() - a decimal number in [0, @max], nothing else around it.
 *
 * Return: 0, -EINVAL if it is not a number, -ERANGE if it is over @max.
 */
int prog_parse_u64(const char *text, uint64_t max, uint64_t *out);

/**
 * prog_signals_init() - SIGTERM and SIGINT request a stop; SIGPIPE is
 * ignored. Call once, before starting threads (which inherit the mask).
 *
 * Return: an eventfd (nonblocking) that becomes readable on a stop request,
 * or a negative errno. The same fd on later calls.
 */
int prog_signals_init(void);

/** prog_stop_requested() - the signal number that asked to stop, or 0. */
int prog_stop_requested(void);

#endif /* VHU_DEVICES_PROGRAM_H */
