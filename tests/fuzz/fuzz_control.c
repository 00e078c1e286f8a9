/* SPDX-License-Identifier: MIT */
/*
 * The control socket's request path (devices/common/control_rpc.c, json.c):
 * any bytes are framed (json_scan), parsed and dispatched to a small method
 * table with strict params, and the reply is valid JSON that parses again.
 * Never a crash, a leak or a reply that does not parse.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/control.h"
#include "common/json.h"

static int m_echo(void *opaque, const struct json_value *params, struct json_writer *result,
		  struct ctl_error *err)
{
	(void)opaque, (void)err;
	jw_value(result, params);
	return 0;
}

static int m_typed(void *opaque, const struct json_value *params, struct json_writer *result,
		   struct ctl_error *err)
{
	const char *name = NULL;
	uint64_t size = 0;
	bool flag = false, has_flag = false;
	const struct ctl_param table[] = {
		{ "name", CTL_P_STRING, true, &name },
		{ "size", CTL_P_U64, false, &size },
		{ "flag", CTL_P_BOOL, false, &flag, &has_flag },
	};
	int ret = ctl_params(params, table, 3, err);

	(void)opaque;
	if (ret < 0)
		return ret;
	if (size == 13)
		return ctl_fail(err, -ENOENT, "no '%s'", name);
	jw_object_begin(result);
	jw_key(result, name);
	jw_uint(result, size);
	jw_key(result, "flag");
	jw_bool(result, flag && has_flag);
	jw_object_end(result);
	return 0;
}

static const struct ctl_method methods[] = {
	{ "echo", m_echo, "" },
	{ "typed", m_typed, "" },
};

static const struct ctl_config cfg = {
	.path = "unused",
	.methods = methods,
	.num_methods = 2,
	.name = "fuzz",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json_writer reply;
	struct json_doc doc;
	const char *why;

	/* frame as a connection would, then answer each value */
	while (size) {
		long end = json_scan(text, size);
		size_t used = end > 0 ? (size_t)end : end < 0 ? json_scan_junk(text, size) : size;

		jw_init(&reply, CTL_REPLY_MAX + 4096);
		if (ctl_handle(&cfg, text, used, &reply) == 0 && reply.len) {
			const char *out = jw_finish(&reply);

			if (!out || json_parse(out, reply.len, &doc, &why, NULL) != 0)
				abort(); /* every reply is JSON */
			json_free(&doc);
		}
		jw_free(&reply);
		text += used;
		size -= used;
	}
	return 0;
}
