/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk's export table (exports.h): each export's disk and back-end,
 * whose messages the table's loop serves, added, removed and resized while
 * the others serve.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device.h"
#include "exports.h"
#include <vhu/backend.h>
#include <vhu/log.h>
#include <vhu/protocol.h>

enum export_state {
	EXPORT_ADDING,	 /* being set up: only its name and socket are valid */
	EXPORT_RUNNING,	 /* serving; free for an operation */
	EXPORT_BUSY,	 /* a resize is running */
	EXPORT_REMOVING, /* being torn down */
	EXPORT_ENDED,	 /* no longer served (error, or an adopted fd closed) */
};

struct blk_export {
	char name[BLK_EXPORT_NAME_MAX + 1];
	char *socket_path; /* NULL for an --fd */
	char *file;	   /* the path served, NULL for the null disk */
	enum export_state state;
	bool adopted;
	bool client; /* connects to socket_path, which is the front-end's */
	bool reaped; /* blk_exports_reap() reported its end */
	int loop_ret;
	uint16_t queue_size;
	struct blkdev_options dev_opts; /* strings not kept: see file */
	struct vhu_log log;
	struct blk blk;
	struct vhu_backend *be;
	uint64_t added_ns;
	uint64_t sample_ns, sample_ops; /* export-stats: the previous call */
	struct blk_exports *table;
};

struct blk_exports {
	struct blk_defaults defaults;
	pthread_mutex_t lock;
	int event_fd;
	struct vhu_loop *loop; /* serves every export's messages */
	struct blk_export *slots[BLK_EXPORTS_MAX];
};

int blk_exports_create(const struct blk_defaults *defaults, struct blk_exports **out)
{
	struct blk_exports *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->defaults = *defaults;
	t->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->event_fd < 0) {
		free(t);
		return -errno;
	}
	/* a thread per export whose message is being handled at once, plus one */
	ret = vhu_loop_create(BLK_EXPORTS_MAX + 1, &t->loop);
	if (ret < 0) {
		close(t->event_fd);
		free(t);
		return ret;
	}
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

int blk_exports_event_fd(const struct blk_exports *t)
{
	return t->event_fd;
}

static struct blk_export *find(struct blk_exports *t, const char *name)
{
	for (unsigned int i = 0; i < BLK_EXPORTS_MAX; i++)
		if (t->slots[i] && strcmp(t->slots[i]->name, name) == 0)
			return t->slots[i];
	return NULL;
}

static const char *state_name(enum export_state s)
{
	static const char *const names[] = {
		[EXPORT_ADDING] = "adding", [EXPORT_RUNNING] = "running",
		[EXPORT_BUSY] = "resizing", [EXPORT_REMOVING] = "removing",
		[EXPORT_ENDED] = "ended",
	};

	return names[s];
}

/* ---- one export's life ---- */

/* The loop no longer serves the export (on a loop thread). */
static void export_ended(struct vhu_backend *be, int ret, void *opaque)
{
	struct blk_export *e = opaque;
	uint64_t one = 1;

	(void)be;
	if (ret < 0)
		vhu_logf(&e->log, VHU_LOG_ERR, "stopped: %s", strerror(-ret));
	pthread_mutex_lock(&e->table->lock);
	e->loop_ret = ret;
	if (e->state == EXPORT_RUNNING || e->state == EXPORT_ADDING) /* not a stop we asked for */
		e->state = EXPORT_ENDED;
	pthread_mutex_unlock(&e->table->lock);
	if (write(e->table->event_fd, &one, sizeof(one)) < 0)
		vhu_logf(&e->log, VHU_LOG_WARN, "event: %s", strerror(errno));
}

static struct vhu_backend_config backend_config(struct blk_exports *t, struct blk_export *e)
{
	return (struct vhu_backend_config){
		.name = e->name,
		.num_queues = e->dev_opts.num_queues ? e->dev_opts.num_queues : 1,
		.max_queue_size = e->queue_size,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_STATUS) |
			VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) |
			/* crash-safe: what was in flight is resubmitted after a restart */
			VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD) |
			/* live migration: the dirty-page log, and postcopy */
			VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) | VHU_BIT(VHU_PROTOCOL_F_PAGEFAULT) |
			/* kicks and calls as messages, for front-ends without eventfds */
			VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS) |
			/* --poll: the guest's kicks as stores into a page we poll */
			(t->defaults.host_notifier ? VHU_BIT(VHU_PROTOCOL_F_HOST_NOTIFIER) |
							     VHU_BIT(VHU_PROTOCOL_F_BACKEND_SEND_FD)
						   : 0),
		.flags = t->defaults.poll ? VHU_BACKEND_F_POLL : 0,
		.ops = &blk_ops,
		.dev = &e->blk,
		.log = &e->log,
		.poll_window_us = t->defaults.poll_window_us,
		.poll_inflight_us = t->defaults.poll_inflight_us,
		.pool = t->defaults.pool,
	};
}

/* Open the disk, create the back-end, listen, hand it to the loop. */
static int export_start(struct blk_exports *t, struct blk_export *e, int fd, struct ctl_error *err)
{
	struct vhu_backend_config cfg;
	struct blkdev *dev;
	int ret;

	ret = blkdev_open(&e->dev_opts, &dev);
	if (ret < 0)
		return ctl_fail(err, ret, "%s: %s", e->file ? e->file : "null disk",
				strerror(-ret));
	blk_init(&e->blk, dev, t->defaults.poll);
	cfg = backend_config(t, e);
	ret = vhu_backend_create(&cfg, &e->be);
	if (ret < 0) {
		ctl_fail(err, ret, "back-end: %s", strerror(-ret));
		goto err_dev;
	}
	if (e->client)
		ret = vhu_backend_connect(e->be, e->socket_path);
	else
		ret = e->socket_path ? vhu_backend_listen(e->be, e->socket_path)
				     : vhu_backend_adopt_fd(e->be, fd);
	if (ret < 0) {
		ctl_fail(err, ret, "%s: %s", e->socket_path ? e->socket_path : "--fd",
			 strerror(-ret));
		goto err_be;
	}
	ret = vhu_loop_add(t->loop, e->be, export_ended, e);
	if (ret < 0) {
		ctl_fail(err, ret, "loop: %s", strerror(-ret));
		goto err_unlink;
	}
	return 0;
err_unlink:
	if (e->socket_path && !e->client)
		unlink(e->socket_path);
err_be:
	vhu_backend_destroy(e->be);
	e->be = NULL;
err_dev:
	blkdev_close(e->blk.dev);
	return ret;
}

static void log_requests(const struct blk_export *e)
{
	char line[64 + BLK_QUEUES_MAX * 24] = "", kicks[64 + BLK_QUEUES_MAX * 48] = "";
	unsigned int n = e->dev_opts.num_queues ? e->dev_opts.num_queues : 1;
	size_t len = 0, klen = 0;

	for (unsigned int i = 0; i < n && len < sizeof(line); i++) {
		struct vhu_kick_counts k = { 0 };

		len += (size_t)snprintf(line + len, sizeof(line) - len, " %u=%llu", i,
					(unsigned long long)e->blk.queues[i].requests);
		(void)vhu_backend_queue_kicks(e->be, i, &k);
		if (klen < sizeof(kicks))
			klen += (size_t)snprintf(kicks + klen, sizeof(kicks) - klen,
						 " %u=eventfd:%llu,doorbell:%llu", i,
						 (unsigned long long)k.eventfd,
						 (unsigned long long)k.doorbell);
	}
	/* "vhu-blk: requests per queue: 0=N ..." as the tests read it */
	fprintf(stderr, "vhu-blk: requests per queue:%s\n", line);
	fprintf(stderr, "vhu-blk: kicks per queue:%s\n", kicks);
}

/* Take it off the loop, free everything; the slot is the caller's. */
static void export_stop(struct blk_export *e)
{
	vhu_loop_remove(e->table->loop, e->be);
	log_requests(e); /* the kick counts are the back-end's */
	vhu_backend_destroy(e->be);
	if (e->socket_path && !e->client)
		unlink(e->socket_path); /* a front-end that reconnects finds no one */
	blkdev_close(e->blk.dev);
	pthread_mutex_destroy(&e->blk.config_lock);
}

static void export_free(struct blk_export *e)
{
	if (!e)
		return;
	free(e->socket_path);
	free(e->file);
	free((char *)e->dev_opts.serial);
	free(e);
}

/* A new export for @o, its strings copied; NULL with @err filled. */
static struct blk_export *export_new(struct blk_exports *t, const struct blk_export_opts *o,
				     struct ctl_error *err)
{
	const char *name = o->name ? o->name : o->socket_path ? o->socket_path : "fd";
	struct blk_export *e;

	if (!name[0] || strlen(name) > BLK_EXPORT_NAME_MAX) {
		ctl_fail(err, -EINVAL, "name: 1 to %u bytes", BLK_EXPORT_NAME_MAX);
		return NULL;
	}
	if (!o->socket_path == (o->fd < 0)) {
		ctl_fail(err, -EINVAL, "an export needs a socket-path");
		return NULL;
	}
	if (!o->dev.null_backend && !o->dev.path) {
		ctl_fail(err, -EINVAL, "an export needs blk-file or null-size");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		ctl_fail(err, -ENOMEM, "out of memory");
		return NULL;
	}
	strcpy(e->name, name);
	e->table = t;
	e->adopted = o->fd >= 0;
	e->client = o->client && o->socket_path;
	e->queue_size = o->queue_size ? o->queue_size : t->defaults.queue_size;
	e->dev_opts = o->dev;
	e->dev_opts.delay_us = t->defaults.delay_us;
	e->socket_path = o->socket_path ? strdup(o->socket_path) : NULL;
	e->file = o->dev.path ? strdup(o->dev.path) : NULL;
	e->dev_opts.path = e->file;
	e->dev_opts.serial = o->dev.serial ? strdup(o->dev.serial) : NULL;
	if ((o->socket_path && !e->socket_path) || (o->dev.path && !e->file) ||
	    (o->dev.serial && !e->dev_opts.serial)) {
		export_free(e);
		ctl_fail(err, -ENOMEM, "out of memory");
		return NULL;
	}
	vhu_log_init(&e->log, e->name);
	if (t->defaults.log_level >= 0)
		e->log.level = (enum vhu_log_level)t->defaults.log_level;
	e->added_ns = e->sample_ns = blk_now_ns();
	return e;
}

/* Reserve a slot for @e (state ADDING); 0, -EEXIST or -ENOSPC. */
static int reserve(struct blk_exports *t, struct blk_export *e, struct ctl_error *err)
{
	int ret = 0, free_slot = -1;

	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < BLK_EXPORTS_MAX; i++) {
		struct blk_export *o = t->slots[i];

		if (!o) {
			if (free_slot < 0)
				free_slot = (int)i;
			continue;
		}
		if (strcmp(o->name, e->name) == 0) {
			ret = ctl_fail(err, -EEXIST, "export '%s' exists (%s)", e->name,
				       state_name(o->state));
			break;
		}
		if (e->socket_path && o->socket_path &&
		    strcmp(o->socket_path, e->socket_path) == 0) {
			ret = ctl_fail(err, -EEXIST, "socket %s is export '%s''s (%s)",
				       e->socket_path, o->name, state_name(o->state));
			break;
		}
	}
	if (!ret && free_slot < 0)
		ret = ctl_fail(err, -ENOSPC, "at most %u exports", BLK_EXPORTS_MAX);
	if (!ret) {
		e->state = EXPORT_ADDING;
		t->slots[free_slot] = e;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static void unreserve(struct blk_exports *t, struct blk_export *e)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < BLK_EXPORTS_MAX; i++)
		if (t->slots[i] == e)
			t->slots[i] = NULL;
	pthread_mutex_unlock(&t->lock);
}

int blk_export_add(struct blk_exports *t, const struct blk_export_opts *o, struct ctl_error *err)
{
	struct blk_export *e = export_new(t, o, err);
	int ret;

	if (!e)
		return err->code;
	ret = reserve(t, e, err);
	if (ret < 0) {
		export_free(e);
		return ret;
	}
	ret = export_start(t, e, o->fd, err);
	if (ret < 0) {
		unreserve(t, e);
		export_free(e);
		return ret;
	}
	pthread_mutex_lock(&t->lock);
	if (e->state == EXPORT_ADDING) /* its loop may have ended already */
		e->state = EXPORT_RUNNING;
	pthread_mutex_unlock(&t->lock);
	vhu_logf(&e->log, VHU_LOG_INFO, "export added: %s on %s", e->file ? e->file : "null disk",
		 e->socket_path ? e->socket_path : "--fd");
	return 0;
}

/* Take @name for an operation: mark it @state; NULL with @err filled. */
static struct blk_export *claim(struct blk_exports *t, const char *name, enum export_state state,
				struct ctl_error *err)
{
	struct blk_export *e;

	pthread_mutex_lock(&t->lock);
	e = find(t, name);
	if (!e)
		ctl_fail(err, -ENOENT, "no export '%s'", name);
	else if (e->state == EXPORT_ENDED && state == EXPORT_REMOVING)
		e->state = state; /* an ended export can still be removed */
	else if (e->state != EXPORT_RUNNING)
		ctl_fail(err, -EBUSY, "export '%s' is busy (%s)", name, state_name(e->state));
	else
		e->state = state;
	if (err->code)
		e = NULL;
	pthread_mutex_unlock(&t->lock);
	return e;
}

int blk_export_remove(struct blk_exports *t, const char *name, struct ctl_error *err)
{
	struct blk_export *e = claim(t, name, EXPORT_REMOVING, err);

	if (!e)
		return err->code;
	export_stop(e);
	unreserve(t, e);
	fprintf(stderr, "vhu-blk[%s]: export removed\n", e->name);
	export_free(e);
	return 0;
}

int blk_export_resize(struct blk_exports *t, const char *name, uint64_t size,
		      struct json_writer *result, struct ctl_error *err)
{
	struct blk_export *e = claim(t, name, EXPORT_BUSY, err);
	uint64_t old;
	int ret, notified;

	if (!e)
		return err->code;
	old = blkdev_capacity(e->blk.dev);
	ret = blkdev_resize(e->blk.dev, size);
	if (ret < 0) {
		ctl_fail(err, ret, "resize '%s' to %llu bytes: %s", name, (unsigned long long)size,
			 strerror(-ret));
		goto out;
	}
	blk_resized(&e->blk);
	/* spec: BACKEND_CONFIG_CHANGE_MSG; without a front-end, the next one reads the new size */
	notified = vhu_backend_config_changed(e->be);
	vhu_logf(&e->log, VHU_LOG_INFO, "resized from %llu to %llu bytes%s%s",
		 (unsigned long long)old << BLK_SECTOR_SHIFT, (unsigned long long)size,
		 notified ? ", front-end not told: " : "", notified ? strerror(-notified) : "");
	jw_object_begin(result);
	jw_key(result, "name");
	jw_string(result, e->name);
	jw_key(result, "old-size");
	jw_uint(result, old << BLK_SECTOR_SHIFT);
	jw_key(result, "size");
	jw_uint(result, size);
	jw_key(result, "notified");
	jw_bool(result, notified == 0);
	if (notified) {
		jw_key(result, "notify-error");
		jw_string(result, strerror(-notified));
	}
	jw_object_end(result);
out:
	pthread_mutex_lock(&t->lock);
	if (e->state == EXPORT_BUSY)
		e->state = EXPORT_RUNNING;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

static void describe(struct blk_export *e, struct json_writer *w)
{
	jw_object_begin(w);
	jw_key(w, "name");
	jw_string(w, e->name);
	jw_key(w, "state");
	jw_string(w, state_name(e->state));
	jw_key(w, "socket-path");
	if (e->socket_path)
		jw_string(w, e->socket_path);
	else
		jw_null(w);
	jw_key(w, "client");
	jw_bool(w, e->client);
	jw_key(w, "blk-file");
	if (e->file)
		jw_string(w, e->file);
	else
		jw_null(w);
	jw_key(w, "size");
	jw_uint(w, e->state == EXPORT_ADDING ? 0 : blkdev_capacity(e->blk.dev) << BLK_SECTOR_SHIFT);
	jw_key(w, "read-only");
	jw_bool(w, e->dev_opts.read_only);
	jw_key(w, "direct");
	jw_bool(w, e->dev_opts.direct);
	jw_key(w, "serial");
	jw_string(w, e->dev_opts.serial ? e->dev_opts.serial : "");
	jw_key(w, "num-queues");
	jw_uint(w, e->dev_opts.num_queues ? e->dev_opts.num_queues : 1);
	jw_key(w, "queue-size");
	jw_uint(w, e->queue_size);
	jw_object_end(w);
}

/* An array of @each(export) for every export (or the one named @name), under the lock. */
static int each_export(struct blk_exports *t, const char *name, bool added_only,
		       void (*each)(struct blk_export *e, struct json_writer *w),
		       struct json_writer *result, struct ctl_error *err)
{
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	if (name && !find(t, name))
		ret = ctl_fail(err, -ENOENT, "no export '%s'", name);
	if (!ret) {
		jw_array_begin(result);
		for (unsigned int i = 0; i < BLK_EXPORTS_MAX; i++) {
			struct blk_export *e = t->slots[i];

			if (e && (!added_only || e->state != EXPORT_ADDING) &&
			    (!name || strcmp(e->name, name) == 0))
				each(e, result);
		}
		jw_array_end(result);
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int blk_export_list(struct blk_exports *t, const char *name, struct json_writer *result,
		    struct ctl_error *err)
{
	return each_export(t, name, false, describe, result, err);
}

/* The driver's kicks over every queue: by eventfd, by doorbell page. */
static void kicks_sum(struct blk_export *e, struct vhu_kick_counts *sum)
{
	unsigned int n = e->dev_opts.num_queues ? e->dev_opts.num_queues : 1;

	*sum = (struct vhu_kick_counts){ 0 };
	for (unsigned int i = 0; i < n; i++) {
		struct vhu_kick_counts k;

		if (vhu_backend_queue_kicks(e->be, i, &k) == 0) {
			sum->eventfd += k.eventfd;
			sum->doorbell += k.doorbell;
		}
	}
}

static void stats_one(struct blk_export *e, struct json_writer *w)
{
	struct vhu_kick_counts k;
	static const unsigned int pct[] = { 500, 900, 990, 999 };
	static const char *const pct_names[] = { "p50", "p90", "p99", "p99.9" };
	struct blk_stats s;
	uint64_t now = blk_now_ns(), ops;
	double secs;

	blk_stats_sum(&e->blk, &s);
	ops = s.read_ops + s.write_ops + s.other_ops + s.errors;
	secs = (double)(now - e->sample_ns) / 1e9;
	jw_object_begin(w);
	jw_key(w, "name");
	jw_string(w, e->name);
	jw_key(w, "read-ops");
	jw_uint(w, s.read_ops);
	jw_key(w, "write-ops");
	jw_uint(w, s.write_ops);
	jw_key(w, "other-ops");
	jw_uint(w, s.other_ops);
	jw_key(w, "errors");
	jw_uint(w, s.errors);
	jw_key(w, "read-bytes");
	jw_uint(w, s.read_bytes);
	jw_key(w, "write-bytes");
	jw_uint(w, s.write_bytes);
	kicks_sum(e, &k);
	jw_key(w, "kicks-eventfd");
	jw_uint(w, k.eventfd);
	jw_key(w, "kicks-doorbell");
	jw_uint(w, k.doorbell);
	jw_key(w, "uptime-s");
	jw_double(w, (double)(now - e->added_ns) / 1e9);
	/* the rate since the previous export-stats (or since the add) */
	jw_key(w, "iops");
	jw_double(w, secs > 0 ? (double)(ops - e->sample_ops) / secs : 0);
	jw_key(w, "latency-ns");
	jw_object_begin(w);
	for (unsigned int i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		jw_key(w, pct_names[i]);
		jw_uint(w, blk_stats_percentile(&s, pct[i]));
	}
	jw_object_end(w);
	jw_object_end(w);
	e->sample_ns = now;
	e->sample_ops = ops;
}

int blk_export_stats(struct blk_exports *t, const char *name, struct json_writer *result,
		     struct ctl_error *err)
{
	return each_export(t, name, true, stats_one, result, err);
}

int blk_exports_reap(struct blk_exports *t, bool *adopted)
{
	uint64_t v;
	int found = 0;

	if (read(t->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < BLK_EXPORTS_MAX && !found; i++) {
		struct blk_export *e = t->slots[i];

		if (e && e->state == EXPORT_ENDED && !e->reaped) {
			e->reaped = true;
			*adopted = e->adopted;
			found = 1;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (found) /* more may have ended: look again */
		(void)eventfd_write(t->event_fd, 1);
	return found;
}

void blk_exports_destroy(struct blk_exports *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < BLK_EXPORTS_MAX; i++) {
		/* the control server is stopped first: no operation runs now */
		if (t->slots[i]) {
			export_stop(t->slots[i]);
			export_free(t->slots[i]);
		}
	}
	vhu_loop_destroy(t->loop); /* after every export left it */
	close(t->event_fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
