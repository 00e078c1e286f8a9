/* SPDX-License-Identifier: MIT */
#ifndef VHU_LOG_H
#define VHU_LOG_H

#include <stdarg.h>
#include <vhu/version.h>

enum vhu_log_level {
	VHU_LOG_ERR = 0,
	VHU_LOG_WARN,
	VHU_LOG_INFO,
	VHU_LOG_DEBUG,
	VHU_LOG_TRACE,
};

/*
 * A log sink. The default (fn == NULL) writes "prog[prefix]: level: text" to
 * stderr. Messages above @level are dropped before they are formatted.
 */
typedef void (*vhu_log_fn)(void *opaque, enum vhu_log_level level, const char *prefix,
			   const char *text);

struct vhu_log {
	vhu_log_fn fn;
	void *opaque;
	enum vhu_log_level level;
	char prefix[96];
};

/**
 * vhu_log_init() - a stderr log at level INFO (or $VHU_LOG_LEVEL).
 * @log:    the log to fill
 * @prefix: shown in brackets after the program name; may be NULL
 */
VHU_API void vhu_log_init(struct vhu_log *log, const char *prefix);

/**
 * vhu_log_level_parse() - "err", "warn", "info", "debug", "trace" or a digit.
 * @text: the level's name
 *
 * Return: the level (>= 0), or -EINVAL.
 */
VHU_API int vhu_log_level_parse(const char *text);

/**
 * vhu_logf() - log one line at @level.
 * @log:   the log; NULL writes to stderr with no prefix
 * @level: its severity
 * @fmt:   printf format
 */
VHU_API void vhu_logf(const struct vhu_log *log, enum vhu_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** vhu_vlogf() - vhu_logf() with a va_list. */
VHU_API void vhu_vlogf(const struct vhu_log *log, enum vhu_log_level level, const char *fmt,
		       va_list ap) __attribute__((format(printf, 3, 0)));

#endif /* VHU_LOG_H */
