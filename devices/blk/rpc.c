/* SPDX-License-Identifier: MIT */
/*
 * vhu-blk's control-socket methods (exports.h): the params of each, checked
 * strictly (control.h, ctl_params), then the export table's operations.
 * --config=FILE goes through export-add's params too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exports.h"
#include <vhu/virtq.h>

#define CONFIG_FILE_MAX (1u << 20)

/* export-add's params into @o; 0 or CTL_INVALID_PARAMS. */
static int add_params(const struct json_value *params, struct blk_export_opts *o,
		      struct ctl_error *err)
{
	uint64_t null_size = 0, queues = 0, queue_size = 0;
	bool has_null = false;
	const struct ctl_param table[] = {
		{ "name", CTL_P_STRING, false, &o->name },
		{ "socket-path", CTL_P_STRING, true, &o->socket_path },
		{ "blk-file", CTL_P_STRING, false, &o->dev.path },
		{ "null-size", CTL_P_U64, false, &null_size, &has_null },
		{ "read-only", CTL_P_BOOL, false, &o->dev.read_only },
		{ "serial", CTL_P_STRING, false, &o->dev.serial },
		{ "num-queues", CTL_P_U64, false, &queues },
		{ "queue-size", CTL_P_U64, false, &queue_size },
		{ "direct", CTL_P_BOOL, false, &o->dev.direct },
		{ "client", CTL_P_BOOL, false, &o->client },
	};
	int ret;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	ret = ctl_params(params, table, sizeof(table) / sizeof(table[0]), err);
	if (ret < 0)
		return ret;
	if (!o->socket_path[0])
		return ctl_fail(err, CTL_INVALID_PARAMS, "'socket-path' is empty");
	if (!o->dev.path == !has_null)
		return ctl_fail(err, CTL_INVALID_PARAMS, "give one of 'blk-file' or 'null-size'");
	if (has_null && null_size < 512)
		return ctl_fail(err, CTL_INVALID_PARAMS, "'null-size': bytes, at least 512");
	o->dev.null_backend = has_null;
	o->dev.null_size = null_size;
	if (queues > BLK_QUEUES_MAX || (json_get(params, "num-queues") && !queues))
		return ctl_fail(err, CTL_INVALID_PARAMS, "'num-queues': 1..%u", BLK_QUEUES_MAX);
	o->dev.num_queues = (uint16_t)queues;
	if (queue_size > VHU_VQ_MAX_SIZE || (json_get(params, "queue-size") && !queue_size))
		return ctl_fail(err, CTL_INVALID_PARAMS, "'queue-size': 1..%u", VHU_VQ_MAX_SIZE);
	o->queue_size = (uint16_t)queue_size;
	if (o->dev.serial && strlen(o->dev.serial) > BLK_SERIAL_MAX)
		return ctl_fail(err, CTL_INVALID_PARAMS, "'serial': at most %u bytes",
				BLK_SERIAL_MAX);
	return 0;
}

static int m_add(void *opaque, const struct json_value *params, struct json_writer *result,
		 struct ctl_error *err)
{
	struct blk_exports *t = opaque;
	struct blk_export_opts o;
	int ret;

	ret = add_params(params, &o, err);
	if (ret < 0)
		return ret;
	ret = blk_export_add(t, &o, err);
	if (ret < 0)
		return ret;
	return blk_export_list(t, o.name ? o.name : o.socket_path, result, err);
}

static int m_remove(void *opaque, const struct json_value *params, struct json_writer *result,
		    struct ctl_error *err)
{
	const char *name;
	int ret = ctl_param_name(params, true, &name, err);

	if (ret == 0)
		ret = blk_export_remove(opaque, name, err);
	if (ret == 0)
		jw_bool(result, true);
	return ret;
}

static int m_list(void *opaque, const struct json_value *params, struct json_writer *result,
		  struct ctl_error *err)
{
	const char *name;
	int ret = ctl_param_name(params, false, &name, err);

	return ret ? ret : blk_export_list(opaque, name, result, err);
}

static int m_stats(void *opaque, const struct json_value *params, struct json_writer *result,
		   struct ctl_error *err)
{
	const char *name;
	int ret = ctl_param_name(params, false, &name, err);

	return ret ? ret : blk_export_stats(opaque, name, result, err);
}

static int m_resize(void *opaque, const struct json_value *params, struct json_writer *result,
		    struct ctl_error *err)
{
	const char *name = NULL;
	uint64_t size = 0;
	const struct ctl_param table[] = {
		{ "name", CTL_P_STRING, true, &name },
		{ "size", CTL_P_U64, true, &size },
	};
	int ret = ctl_params(params, table, 2, err);

	return ret ? ret : blk_export_resize(opaque, name, size, result, err);
}

const struct ctl_method blk_methods[] = {
	{ "export-add", m_add, "serve a disk on a new socket" },
	{ "export-remove", m_remove, "stop serving an export and remove its socket" },
	{ "export-list", m_list, "the exports and their settings" },
	{ "export-resize", m_resize, "grow or shrink an export; the front-end is told" },
	{ "export-stats", m_stats, "operations, bytes, IOPS and latency percentiles" },
};
const size_t blk_num_methods = sizeof(blk_methods) / sizeof(blk_methods[0]);

/* Read the whole file (at most CONFIG_FILE_MAX bytes); 0 or -errno. */
static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		ret = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		ret = n < 0 ? -errno : -EIO;
		goto out;
	}
	*out = buf;
	*len = (size_t)n;
out:
	close(fd);
	return ret;
}

int blk_exports_load(struct blk_exports *t, const char *path, struct ctl_error *err)
{
	const struct json_value *exports;
	struct json_doc doc;
	const char *why;
	size_t len = 0, pos = 0, i = 0;
	char *text = NULL;
	int ret;

	ret = read_file(path, &text, &len);
	if (ret < 0)
		return ctl_fail(err, ret, "%s: %s", path, strerror(-ret));
	ret = json_parse(text, len, &doc, &why, &pos);
	free(text);
	if (ret < 0)
		return ctl_fail(err, ret, "%s: byte %zu: %s", path, pos, why);
	exports = json_get(doc.root, "exports");
	if (doc.root->type != JSON_OBJECT || doc.root->count != 1 || !exports ||
	    exports->type != JSON_ARRAY) {
		json_free(&doc);
		return ctl_fail(err, -EINVAL, "%s: want {\"exports\": [...]}", path);
	}
	for (const struct json_value *e = exports->first; e && !ret; e = e->next, i++) {
		struct blk_export_opts o;

		if (e->type != JSON_OBJECT)
			ret = ctl_fail(err, -EINVAL, "not an object");
		else
			ret = add_params(e, &o, err);
		if (ret == 0)
			ret = blk_export_add(t, &o, err);
		if (ret < 0) {
			char msg[sizeof(err->message)];

			memcpy(msg, err->message, sizeof(msg));
			snprintf(err->message, sizeof(err->message), "export %zu: %.200s", i, msg);
			ret = -EINVAL;
		}
	}
	json_free(&doc);
	return ret;
}
