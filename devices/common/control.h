/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_CONTROL_H
#define VHU_DEVICES_CONTROL_H

/*
 * Concepts: the run-time management socket every device program shares
 * (--control-socket=PATH), JSON-RPC 2.0 over a unix stream socket, as SPDK
 * serves its rpc.py and QEMU its QMP clients.
 *
 * Framing: a request is one JSON object (or a batch array) on the stream;
 * the server finds where it ends by its brackets, so newline-delimited
 * clients and clients that send bare objects (SPDK's rpc.py) both work.
 * Each reply is one JSON object followed by "\n". Params are by name (an
 * object) or absent.
 *
 * Threads: one accept thread, and one thread per connected client (at most
 * ctl_config.max_clients; the next gets an error reply and is closed).
 * Methods therefore run concurrently, one per client at a time, and must
 * lock what they share; a method that finds its target busy with another
 * call fails with -EBUSY rather than waiting.
 *
 * Limits, each of which fails only the connection or request concerned: a
 * request over max_request bytes is answered with an error and the
 * connection closed (the stream cannot be resynchronised); a client that
 * starts a request and does not finish it within request_timeout_ms is
 * answered and closed; a client that does not read its replies is closed
 * after the same time; a line that is not JSON gets a parse error and the
 * next line is read.
 *
 * The socket file is created with mode 0600 (ctl_config.mode) before it
 * starts listening, so no one else can connect even for a moment.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "program.h"

/* JSON-RPC 2.0 error codes */
#define CTL_PARSE_ERROR (-32700)
#define CTL_INVALID_REQUEST (-32600)
#define CTL_METHOD_NOT_FOUND (-32601)
#define CTL_INVALID_PARAMS (-32602)
#define CTL_INTERNAL_ERROR (-32603)
#define CTL_SERVER_ERROR (-32000) /* too many clients, timeouts */

#define CTL_REQUEST_MAX_DEFAULT (64u * 1024u)
#define CTL_CLIENTS_MAX_DEFAULT 8u
#define CTL_TIMEOUT_MS_DEFAULT 10000u
#define CTL_REPLY_MAX (1u << 20)

/* What a method fills on failure: a code and a message. */
struct ctl_error {
	int code;
	char message[256];
};

/*
 * A method: @params is the request's params object (an empty object when
 * absent), @result receives exactly one JSON value. Return 0, or fill @err
 * (ctl_fail) and return a negative errno; the reply is then the error and
 * whatever was written to @result is discarded.
 */
struct ctl_method {
	const char *name;
	int (*fn)(void *opaque, const struct json_value *params, struct json_writer *result,
		  struct ctl_error *err);
	const char *help; /* one line, for rpc_get_methods */
};

struct ctl_config {
	const char *path;
	unsigned int mode; /* 0: 0600 */
	const struct ctl_method *methods;
	size_t num_methods;
	void *opaque;			 /* first argument of every method */
	const char *name;		 /* log prefix: "vhu-blk" */
	size_t max_request;		 /* 0: CTL_REQUEST_MAX_DEFAULT */
	unsigned int max_clients;	 /* 0: CTL_CLIENTS_MAX_DEFAULT */
	unsigned int request_timeout_ms; /* 0: CTL_TIMEOUT_MS_DEFAULT */
};

struct ctl_server;

/**
 * ctl_server_start() - listen on @cfg->path and serve it on a thread.
 * @cfg: copied; the methods table and opaque must outlive the server
 *
 * A stale socket at the path (nothing listening) is replaced; a live one
 * or any other file is an error.
 *
 * Return: 0, -EADDRINUSE, -ENAMETOOLONG, or the errno of socket, bind,
 * chmod, listen or pthread_create.
 */
int ctl_server_start(const struct ctl_config *cfg, struct ctl_server **out);

/**
 * ctl_parse_mode() - --control-mode: octal permission bits, at most 0777,
 * with the owner's read and write (0600) set. NULL leaves @mode alone.
 *
 * Return: 0 or -EINVAL.
 */
int ctl_parse_mode(const char *text, unsigned int *mode);

/*
 * The options every program with a control socket has, as prog_option rows:
 * CTL_PROG_OPTIONS(o) in the program's table fills struct ctl_options o.
 */
struct ctl_options {
	const char *socket, *mode, *timeout; /* as given, or NULL */
	unsigned int mode_bits, timeout_ms;  /* ctl_options_check(): 0 for the defaults */
};

/* clang-format off */
#define CTL_PROG_OPTIONS(o)							\
	{ "control-socket", PROG_ARG_REQUIRED, "PATH",				\
	  "serve JSON-RPC 2.0 management (vhu-ctl) on the unix socket PATH",	\
	  .str = &(o).socket },							\
	{ "control-mode", PROG_ARG_REQUIRED, "MODE",				\
	  "permissions of the control socket, octal (default 0600)",		\
	  .str = &(o).mode },							\
	{ "control-timeout", PROG_ARG_REQUIRED, "MS",				\
	  "a control request must arrive whole within MS ms (default 10000)",	\
	  .str = &(o).timeout }
/* clang-format on */

/** ctl_options_check() - parse --control-mode and --control-timeout. Return: 0, or 1 (printed). */
int ctl_options_check(const struct prog_info *info, struct ctl_options *o);

/**
 * ctl_options_start() - start the server of --control-socket (nothing
 * without it) with @methods on @opaque.
 *
 * Return: 0 (*out NULL without a socket), or 1 after an error (printed).
 */
int ctl_options_start(const struct prog_info *info, const struct ctl_options *o,
		      const struct ctl_method *methods, size_t num_methods, void *opaque,
		      struct ctl_server **out);

/** ctl_server_stop() - close every connection, join the threads, unlink the path, free. */
void ctl_server_stop(struct ctl_server *srv);

/**
 * ctl_handle() - answer one request text (what a connection does with each
 * framed request; the fuzz target calls it directly).
 *
 * Return: 0 with the reply in @reply (not yet finished; empty for a
 * notification), or -ENOMEM.
 */
int ctl_handle(const struct ctl_config *cfg, const char *text, size_t len,
	       struct json_writer *reply);

/* Fill @err: ctl_fail(err, -ENOENT, "no export '%s'", name) returns its @ret. */
int ctl_fail(struct ctl_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Strict params: one row per accepted member. ctl_params() rejects members
 * not in the table, a missing required one and a wrong type, with
 * CTL_INVALID_PARAMS and a message naming the member. Strings point into
 * the request (valid during the method).
 */
enum ctl_param_type {
	CTL_P_STRING,
	CTL_P_U64,
	CTL_P_BOOL,
};

struct ctl_param {
	const char *name;
	enum ctl_param_type type;
	bool required;
	void *out;     /* const char **, uint64_t *, bool * */
	bool *present; /* set when the member was given (may be NULL) */
};

int ctl_params(const struct json_value *params, const struct ctl_param *table, size_t n,
	       struct ctl_error *err);

/* ctl_params() for methods whose only param is the string "name" (NULL if absent). */
int ctl_param_name(const struct json_value *params, bool required, const char **name,
		   struct ctl_error *err);

#endif /* VHU_DEVICES_CONTROL_H */
