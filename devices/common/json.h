/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_JSON_H
#define VHU_DEVICES_JSON_H

/*
 * Concepts: a small, strict, bounded JSON (RFC 8259) parser and writer for
 * the control socket (control.h) and vhu-ctl.
 *
 * The parser takes one complete text and builds a tree in one allocation
 * sized from the text: at most JSON_DEPTH_MAX levels of nesting and
 * JSON_VALUES_MAX values. It accepts exactly RFC 8259: no comments, no
 * trailing commas, no leading zeros, no NaN, strings of valid UTF-8 with no
 * raw control characters and well-formed \u surrogate pairs, no duplicate
 * keys in one object. Strings are decoded (NUL terminated; a "\u0000" inside
 * makes the text invalid, so every string is a C string). Numbers keep
 * their double value and, when they are integers that fit, an int64.
 *
 * The writer appends to a growing buffer capped at @max bytes; after any
 * failure (no memory, over the cap) it stays failed and jw_finish() says so.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32u
#define JSON_VALUES_MAX 4096u

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	const char *key;	 /* member name inside an object, else NULL */
	struct json_value *next; /* next element or member */
	union {
		struct {
			double num;
			int64_t i;
			bool is_int; /* integral and within int64 */
		};
		struct {
			const char *str;
			size_t len; /* bytes, without the NUL */
		};
		struct {
			struct json_value *first; /* array elements / object members */
			size_t count;
		};
	};
};

struct json_doc {
	struct json_value *root;
	void *mem; /* the one allocation */
};

/**
 * json_parse() - parse @len bytes of @text as one JSON value (whitespace
 * around it allowed, nothing else).
 * @doc: filled on success; free it with json_free()
 * @err: on failure, a short reason (static string)
 * @err_pos: on failure, the byte offset where parsing stopped (may be NULL)
 *
 * Return: 0, -EINVAL for text that is not JSON, -E2BIG over the limits,
 * -ENOMEM.
 */
int json_parse(const char *text, size_t len, struct json_doc *doc, const char **err,
	       size_t *err_pos);

void json_free(struct json_doc *doc);

/* The member @key of @obj (an object), or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* The name of a type, for error messages: "string", "object" ... */
const char *json_type_name(enum json_type type);

/**
 * json_scan() - find where the first complete JSON value in @buf ends,
 * for framing values on a stream: skips leading whitespace, then follows
 * brackets and strings (not a full parse).
 *
 * Return: the length up to the end of the value (> 0); 0 if more bytes are
 * needed; or -EINVAL if the first value is not an object or array: the
 * caller should drop up to the next newline (json_scan_junk()).
 */
long json_scan(const char *buf, size_t len);

/* Bytes to drop for junk at the start of @buf: up to and including the first newline, or all. */
size_t json_scan_junk(const char *buf, size_t len);

/* ---- writer ---- */

struct json_writer {
	char *buf;
	size_t len, cap, max;
	bool failed;
	unsigned int depth;
	bool first[JSON_DEPTH_MAX + 1]; /* nothing written yet at this depth */
};

/* A writer that may grow to @max bytes. */
void jw_init(struct json_writer *w, size_t max);
void jw_free(struct json_writer *w);
/* NUL-terminate; return the text (owned by @w) or NULL if writing failed. */
const char *jw_finish(struct json_writer *w);

void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);
/* A member name; the next call writes its value. */
void jw_key(struct json_writer *w, const char *key);
void jw_string(struct json_writer *w, const char *s);
void jw_string_len(struct json_writer *w, const char *s, size_t len);
void jw_int(struct json_writer *w, int64_t v);
void jw_uint(struct json_writer *w, uint64_t v);
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);
/* Already-valid JSON text, written as one value. */
void jw_raw(struct json_writer *w, const char *json, size_t len);
/* Text appended as it is, outside the JSON structure (a "\n" after a value). */
void jw_text(struct json_writer *w, const char *text, size_t len);
/* Re-serialize a parsed value. */
void jw_value(struct json_writer *w, const struct json_value *v);

#endif /* VHU_DEVICES_JSON_H */
