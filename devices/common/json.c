/* SPDX-License-Identifier: MIT */
/* A strict, bounded JSON parser (recursive descent, one allocation) and writer (json.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
	const char *p, *end, *start;
	struct json_value *nodes;
	size_t nnodes, max_nodes;
	char *strs; /* decoded strings, each NUL terminated */
	const char *err;
	int ret;
};

static int fail(struct parser *ps, int ret, const char *why)
{
	if (!ps->err) {
		ps->err = why;
		ps->ret = ret;
	}
	return ret;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json_value *node_new(struct parser *ps, enum json_type type)
{
	struct json_value *v;

	if (ps->nnodes >= ps->max_nodes) {
		fail(ps, -E2BIG, "too many values");
		return NULL;
	}
	v = &ps->nodes[ps->nnodes++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	return v;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, -EINVAL, "invalid literal");
	ps->p += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned int *out)
{
	unsigned int v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, -EINVAL, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return fail(ps, -EINVAL, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape (after the "\u"), surrogate pairs joined; 0 or -EINVAL. */
static int escape_u(struct parser *ps, unsigned int *cp)
{
	unsigned int hi, lo;

	if (hex4(ps, &hi) < 0)
		return -EINVAL;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(ps, -EINVAL, "lone low surrogate");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, -EINVAL, "lone high surrogate");
		ps->p += 2;
		if (hex4(ps, &lo) < 0)
			return -EINVAL;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, -EINVAL, "bad low surrogate");
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (hi == 0)
		return fail(ps, -EINVAL, "\\u0000 in a string");
	*cp = hi;
	return 0;
}

/* Length of the valid UTF-8 sequence at @s (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned int cp, min;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int escape_char(struct parser *ps, char **out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned int cp;
	char c;

	if (ps->p >= ps->end)
		return fail(ps, -EINVAL, "unterminated string");
	c = *ps->p++;
	if (c == 'u') {
		if (escape_u(ps, &cp) < 0)
			return -EINVAL;
		*out += put_utf8(*out, cp);
		return 0;
	}
	hit = c ? strchr(from, c) : NULL;
	if (!hit)
		return fail(ps, -EINVAL, "invalid escape");
	*(*out)++ = to[hit - from];
	return 0;
}

/* A string (at its opening quote); decoded into ps->strs. */
static int string(struct parser *ps, const char **str, size_t *len)
{
	char *out = ps->strs;

	ps->p++; /* the quote */
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			return fail(ps, -EINVAL, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20)
			return fail(ps, -EINVAL, "control character in a string");
		if (c == '\\') {
			ps->p++;
			if (escape_char(ps, &out) < 0)
				return -EINVAL;
		} else if (c < 0x80) {
			*out++ = (char)c;
			ps->p++;
		} else {
			size_t n =
				utf8_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));

			if (!n)
				return fail(ps, -EINVAL, "invalid UTF-8");
			memcpy(out, ps->p, n);
			out += n;
			ps->p += n;
		}
	}
	*out = '\0';
	*str = ps->strs;
	*len = (size_t)(out - ps->strs);
	ps->strs = out + 1;
	return 0;
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

static int number(struct parser *ps, struct json_value *v)
{
	const char *s = ps->p, *p = s, *q;
	char tmp[64];
	bool frac = false;

	if (p < ps->end && *p == '-')
		p++;
	if (p < ps->end && *p == '0')
		p++;
	else if (p < ps->end && *p >= '1' && *p <= '9')
		p = digits(p, ps->end);
	else
		return fail(ps, -EINVAL, "invalid number");
	if (p < ps->end && *p == '.') {
		q = digits(p + 1, ps->end);
		if (q == p + 1)
			return fail(ps, -EINVAL, "invalid number");
		p = q, frac = true;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		q = digits(p, ps->end);
		if (q == p)
			return fail(ps, -EINVAL, "invalid number");
		p = q, frac = true;
	}
	if ((size_t)(p - s) >= sizeof(tmp))
		return fail(ps, -EINVAL, "number too long");
	memcpy(tmp, s, (size_t)(p - s));
	tmp[p - s] = '\0';
	v->num = strtod(tmp, NULL);
	if (!isfinite(v->num))
		return fail(ps, -EINVAL, "number out of range");
	if (!frac) {
		errno = 0;
		v->i = strtoll(tmp, NULL, 10);
		v->is_int = errno == 0;
	} else if (v->num >= -9007199254740992.0 && v->num <= 9007199254740992.0 &&
		   v->num == (double)(int64_t)v->num) {
		v->i = (int64_t)v->num, v->is_int = true; /* 1e3, 2.0 */
	}
	ps->p = p;
	return 0;
}

static int value(struct parser *ps, struct json_value **out, unsigned int depth);

static int members(struct parser *ps, struct json_value *v, unsigned int depth, bool object)
{
	struct json_value **tail = &v->first;
	char close = object ? '}' : ']';

	ps->p++; /* the bracket */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len;
		struct json_value *m;

		skip_ws(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, -EINVAL, "expected a member name");
			if (string(ps, &key, &key_len) < 0)
				return -EINVAL;
			for (struct json_value *o = v->first; o; o = o->next)
				if (strcmp(o->key, key) == 0)
					return fail(ps, -EINVAL, "duplicate member name");
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, -EINVAL, "expected ':'");
			ps->p++;
		}
		if (value(ps, &m, depth + 1) < 0)
			return -EINVAL;
		m->key = key;
		*tail = m;
		tail = &m->next;
		v->count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		return fail(ps, -EINVAL, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int value(struct parser *ps, struct json_value **out, unsigned int depth)
{
	struct json_value *v;
	char c;

	if (depth > JSON_DEPTH_MAX)
		return fail(ps, -E2BIG, "nested too deeply");
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, -EINVAL, "unexpected end of input");
	c = *ps->p;
	v = node_new(ps, JSON_NULL);
	if (!v)
		return -E2BIG;
	*out = v;
	switch (c) {
	case '{':
	case '[':
		v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
		return members(ps, v, depth, c == '{');
	case '"':
		v->type = JSON_STRING;
		return string(ps, &v->str, &v->len);
	case 't':
		v->type = JSON_TRUE;
		return literal(ps, "true");
	case 'f':
		v->type = JSON_FALSE;
		return literal(ps, "false");
	case 'n':
		return literal(ps, "null");
	default:
		v->type = JSON_NUMBER;
		return number(ps, v);
	}
}

int json_parse(const char *text, size_t len, struct json_doc *doc, const char **err,
	       size_t *err_pos)
{
	struct parser ps = { .p = text, .end = text + len, .start = text };
	size_t max_nodes = len < JSON_VALUES_MAX ? len + 1 : JSON_VALUES_MAX;
	struct json_value *root;
	int ret;

	doc->root = NULL;
	doc->mem = malloc(max_nodes * sizeof(struct json_value) + len + 1);
	if (!doc->mem) {
		*err = "out of memory";
		return -ENOMEM;
	}
	ps.nodes = doc->mem;
	ps.max_nodes = max_nodes;
	ps.strs = (char *)(ps.nodes + max_nodes);
	ret = value(&ps, &root, 1);
	if (ret == 0) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			ret = fail(&ps, -EINVAL, "text after the value");
	}
	if (ret < 0) {
		*err = ps.err ? ps.err : "invalid JSON";
		if (err_pos)
			*err_pos = (size_t)(ps.p - text);
		json_free(doc);
		return ps.ret ? ps.ret : ret;
	}
	doc->root = root;
	return 0;
}

void json_free(struct json_doc *doc)
{
	free(doc->mem);
	doc->mem = NULL;
	doc->root = NULL;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json_value *m = obj->first; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const char *json_type_name(enum json_type type)
{
	static const char *const names[] = {
		[JSON_NULL] = "null",	  [JSON_FALSE] = "boolean", [JSON_TRUE] = "boolean",
		[JSON_NUMBER] = "number", [JSON_STRING] = "string", [JSON_ARRAY] = "array",
		[JSON_OBJECT] = "object",
	};

	return (unsigned int)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* ---- framing ---- */

long json_scan(const char *buf, size_t len)
{
	size_t i = 0;
	unsigned long depth = 0;
	bool in_str = false, esc = false;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '{' && buf[i] != '[')
		return -EINVAL;
	for (; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return (long)(i + 1);
	}
	return 0;
}

size_t json_scan_junk(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl ? (size_t)(nl - buf) + 1 : len;
}

/* ---- writer ---- */

void jw_init(struct json_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->first[0] = true;
}

void jw_free(struct json_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *nb;

		while (cap < w->len + n + 1)
			cap *= 2;
		if (cap > w->max)
			cap = w->max;
		if (w->len + n + 1 > cap) {
			w->failed = true;
			return;
		}
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->failed = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Before a value (or a key): the comma, unless it is the first at its depth. */
static void sep(struct json_writer *w)
{
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
}

const char *jw_finish(struct json_writer *w)
{
	if (w->failed || w->depth != 0 || !w->buf)
		return NULL;
	w->buf[w->len] = '\0';
	return w->buf;
}

static void open_(struct json_writer *w, char c)
{
	sep(w);
	put(w, &c, 1);
	if (w->depth >= JSON_DEPTH_MAX) {
		w->failed = true;
		return;
	}
	w->first[++w->depth] = true;
}

static void close_(struct json_writer *w, char c)
{
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void jw_object_begin(struct json_writer *w)
{
	open_(w, '{');
}

void jw_object_end(struct json_writer *w)
{
	close_(w, '}');
}

void jw_array_begin(struct json_writer *w)
{
	open_(w, '[');
}

void jw_array_end(struct json_writer *w)
{
	close_(w, ']');
}

static void str_body(struct json_writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	put(w, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(w, esc, 2);
		} else if (c < 0x20) {
			put(w, esc, 6);
		} else {
			put(w, s + i, 1);
		}
	}
	put(w, "\"", 1);
}

void jw_key(struct json_writer *w, const char *key)
{
	sep(w);
	str_body(w, key, strlen(key));
	put(w, ":", 1);
	w->first[w->depth] = true; /* the value takes no comma */
}

static void scalar(struct json_writer *w, const char *s, size_t n)
{
	sep(w);
	put(w, s, n);
	/* after a key's value, the next key needs its comma */
	w->first[w->depth] = false;
}

void jw_string_len(struct json_writer *w, const char *s, size_t len)
{
	sep(w);
	str_body(w, s, len);
	w->first[w->depth] = false;
}

void jw_string(struct json_writer *w, const char *s)
{
	jw_string_len(w, s, strlen(s));
}

void jw_int(struct json_writer *w, int64_t v)
{
	char b[32];

	scalar(w, b, (size_t)snprintf(b, sizeof(b), "%lld", (long long)v));
}

void jw_uint(struct json_writer *w, uint64_t v)
{
	char b[32];

	scalar(w, b, (size_t)snprintf(b, sizeof(b), "%llu", (unsigned long long)v));
}

void jw_double(struct json_writer *w, double v)
{
	char b[40];

	if (!isfinite(v))
		v = 0;
	scalar(w, b, (size_t)snprintf(b, sizeof(b), "%.15g", v));
}

void jw_bool(struct json_writer *w, bool v)
{
	scalar(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct json_writer *w)
{
	scalar(w, "null", 4);
}

void jw_raw(struct json_writer *w, const char *json, size_t len)
{
	scalar(w, json, len);
}

void jw_text(struct json_writer *w, const char *text, size_t len)
{
	put(w, text, len);
}

void jw_value(struct json_writer *w, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL:
		jw_null(w);
		break;
	case JSON_FALSE:
	case JSON_TRUE:
		jw_bool(w, v->type == JSON_TRUE);
		break;
	case JSON_NUMBER:
		if (v->is_int)
			jw_int(w, v->i);
		else
			jw_double(w, v->num);
		break;
	case JSON_STRING:
		jw_string_len(w, v->str, v->len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (v->type == JSON_OBJECT)
			jw_object_begin(w);
		else
			jw_array_begin(w);
		for (const struct json_value *m = v->first; m; m = m->next) {
			if (m->key)
				jw_key(w, m->key);
			jw_value(w, m);
		}
		if (v->type == JSON_OBJECT)
			jw_object_end(w);
		else
			jw_array_end(w);
		break;
	}
}
