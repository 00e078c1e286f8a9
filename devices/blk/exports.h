/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_BLK_EXPORTS_H
#define VHU_DEVICES_BLK_EXPORTS_H

/*
 * Concepts: vhu-blk's exports. An export is one disk (a file, a block
 * device or the null disk) served on one vhost-user socket by its own
 * back-end; the messages of every export are served by one event loop
 * (vhu_loop_create: one thread while idle, one more per export whose
 * message is being handled at once), and the queues of every export run on
 * the program's worker pool (--workers, vhu_pool_create: a fixed set of
 * threads, so threads do not grow with exports), or with --workers=0 on a
 * thread per queue. Exports come from the command
 * line (the single-disk options are one export), from --config=FILE, and from the control socket
 * (export-add ...), and run side by side: adding, resizing or removing one never pauses another.
 *
 * Locking: the table's mutex guards the slots and each export's state. An
 * operation marks its export busy (state) under the mutex, works without
 * it, and marks it running again: a second operation on a busy export,
 * and an add on a name or socket path that is taken (even by an add still
 * in progress), fails at once with -EBUSY / -EEXIST instead of waiting.
 */

#include <stdbool.h>
#include <stdint.h>

#include "blkdev.h"
#include "control.h"

#define BLK_EXPORTS_MAX 64u
#define BLK_EXPORT_NAME_MAX 64u

/* Program-wide settings every export gets. */
struct blk_defaults {
	uint16_t queue_size;	   /* largest ring accepted */
	bool poll;		   /* --poll */
	bool host_notifier;	   /* --poll without --no-host-notifier: doorbell pages */
	uint32_t poll_window_us;   /* --poll-window */
	uint32_t poll_inflight_us; /* --poll-inflight */
	uint32_t delay_us;	   /* --delay-us */
	int log_level;		   /* --log-level, or -1 */
	struct vhu_pool *pool;	   /* --workers: runs every export's queues; NULL: own threads */
};

struct blk_export_opts {
	const char *name;	 /* NULL: the socket path (or "fd") */
	const char *socket_path; /* exactly one of socket_path and fd */
	int fd;			 /* -1: none */
	bool client;		 /* connect to socket_path (the front-end listens) */
	struct blkdev_options dev;
	uint16_t queue_size; /* 0: the default */
};

struct blk_exports;

/* The table; @events_fd becomes readable when an export's loop ends. */
int blk_exports_create(const struct blk_defaults *defaults, struct blk_exports **out);
int blk_exports_event_fd(const struct blk_exports *t);

/*
 * An export whose loop ended since the last call: 1 (and *adopted says
 * whether it served an adopted --fd, after which the program ends), 0 if
 * none.
 */
int blk_exports_reap(struct blk_exports *t, bool *adopted);

/* Stop and free every export, logging each one's requests per queue. */
void blk_exports_destroy(struct blk_exports *t);

/* The operations; each returns 0 or a negative errno with @err filled. */
int blk_export_add(struct blk_exports *t, const struct blk_export_opts *o, struct ctl_error *err);
int blk_export_remove(struct blk_exports *t, const char *name, struct ctl_error *err);
int blk_export_resize(struct blk_exports *t, const char *name, uint64_t size,
		      struct json_writer *result, struct ctl_error *err);
int blk_export_list(struct blk_exports *t, const char *name, struct json_writer *result,
		    struct ctl_error *err);
int blk_export_stats(struct blk_exports *t, const char *name, struct json_writer *result,
		     struct ctl_error *err);

/* The control socket's methods (rpc.c), on a struct blk_exports. */
extern const struct ctl_method blk_methods[];
extern const size_t blk_num_methods;

/**
 * blk_exports_load() - add the exports of a --config file:
 * {"exports": [{export-add params}, ...]}.
 *
 * Return: 0, or a negative errno with @err saying which export failed.
 */
int blk_exports_load(struct blk_exports *t, const char *path, struct ctl_error *err);

#endif /* VHU_DEVICES_BLK_EXPORTS_H */
