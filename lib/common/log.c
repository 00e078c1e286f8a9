/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include <vhu/version.h>

static const char *const level_names[] = {
	[VHU_LOG_ERR] = "error",   [VHU_LOG_WARN] = "warning", [VHU_LOG_INFO] = "info",
	[VHU_LOG_DEBUG] = "debug", [VHU_LOG_TRACE] = "trace",
};

const char *vhu_version_string(void)
{
	return VHU_VERSION_STRING;
}

int vhu_log_level_parse(const char *text)
{
	static const char *const short_names[] = { "err", "warn", "info", "debug", "trace" };

	if (!text || !*text)
		return -EINVAL;
	if (isdigit((unsigned char)text[0]) && !text[1] && text[0] - '0' <= VHU_LOG_TRACE)
		return text[0] - '0';
	for (unsigned int i = 0; i < ARRAY_SIZE(short_names); i++)
		if (!strcmp(text, short_names[i]) || !strcmp(text, level_names[i]))
			return (int)i;
	return -EINVAL;
}

void vhu_log_init(struct vhu_log *log, const char *prefix)
{
	const char *env = getenv("VHU_LOG_LEVEL");
	int level = vhu_log_level_parse(env);

	memset(log, 0, sizeof(*log));
	log->level = level >= 0 ? (enum vhu_log_level)level : VHU_LOG_INFO;
	if (prefix)
		snprintf(log->prefix, sizeof(log->prefix), "%s", prefix);
}

void vhu_vlogf(const struct vhu_log *log, enum vhu_log_level level, const char *fmt, va_list ap)
{
	char text[1024];

	if (log && level > log->level)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (log && log->fn) {
		log->fn(log->opaque, level, log->prefix, text);
		return;
	}
	if (log && log->prefix[0])
		fprintf(stderr, "%s[%s]: %s: %s\n", program_invocation_short_name, log->prefix,
			level_names[level], text);
	else
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, level_names[level],
			text);
}

void vhu_logf(const struct vhu_log *log, enum vhu_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vhu_vlogf(log, level, fmt, ap);
	va_end(ap);
}
