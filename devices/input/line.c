/* SPDX-License-Identifier: MIT */
/*
 * The events socket's line protocol (README "vhu-input", vhu-input(1)):
 * words separated by single or repeated spaces or tabs, numbers decimal or
 * 0x-hex, one line at most INPUT_LINE_MAX bytes. Where the kernel has names
 * (the types, codes, properties and buses of linux/input-event-codes.h and
 * linux/input.h), a name does as well as its number: EV_KEY KEY_A 1. A name
 * must be of the right kind for its place (ABS_X is no EV_KEY code).
 * Everything a client sends is untrusted: each number is range-checked
 * here, nothing else reads the text.
 *
 *   name TEXT                 ID_NAME (printable ASCII, 1..127 bytes)
 *   serial TEXT               ID_SERIAL
 *   ids BUS VENDOR PRODUCT VERSION
 *   prop N...                 input properties (INPUT_PROP_*)
 *   ev TYPE CODE...           event codes of TYPE (EV_KEY = 1 ...)
 *   abs AXIS MIN MAX [FUZZ [FLAT [RES]]]
 *   ready                     the description is complete
 *   TYPE CODE VALUE           one event
 *   stats                     ask for the counters
 *   # ...                     a comment (and blank lines): ignored
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static const char *skip_spaces(const char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* One number at *@s (decimal with an optional '-', or 0x-hex), advancing *@s. */
static int parse_num(const char **s, int64_t *out)
{
	const char *p = *s;
	bool neg = false;
	int base = 10;
	uint64_t v = 0;
	unsigned int digits = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, digits++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned int)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned int)(*p - 'A' + 10);
		else
			break;
		v = v * (unsigned int)base + d;
		if (v > (uint64_t)INT64_MAX / 16)
			return -ERANGE;
	}
	if (!digits || (*p && !is_space(*p)))
		return -EINVAL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	*s = p;
	return 0;
}

static bool is_name_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '_';
}

struct word {
	const char *s;
	size_t len;
};

static int name_cmp(const void *key, const void *elem)
{
	const struct word *w = key;
	const struct input_name *n = elem;
	int c = strncmp(w->s, n->name, w->len);

	return c ? c : -(n->name[w->len] != '\0'); /* a prefix sorts first */
}

/* "EV_KEY" for 1: the name of an event type, or NULL. */
static const char *type_name(unsigned int type)
{
	for (unsigned int i = 0; i < input_names_num; i++)
		if (input_names[i].ns == INPUT_NS_TYPE && input_names[i].value == type)
			return input_names[i].name;
	return NULL;
}

/* What namespace @ns holds, for a refusal: "a code of EV_KEY", "a bus (BUS_*)" ... */
static void ns_what(unsigned int ns, char *buf, size_t size)
{
	static const char *const what[] = {
		[INPUT_NS_TYPE - INPUT_NS_TYPE] = "an event type (EV_*)",
		[INPUT_NS_PROP - INPUT_NS_TYPE] = "an input property (INPUT_PROP_*)",
		[INPUT_NS_BUS - INPUT_NS_TYPE] = "a bus (BUS_*)",
		[INPUT_NS_NONE - INPUT_NS_TYPE] = "a number",
	};
	const char *type = ns < EV_CNT ? type_name(ns) : NULL;

	if (ns >= INPUT_NS_TYPE)
		snprintf(buf, size, "%s", what[ns - INPUT_NS_TYPE]);
	else if (type)
		snprintf(buf, size, "a code of %s", type);
	else
		snprintf(buf, size, "a code of type %u", ns);
}

/* A name at *@s, advancing *@s: its value if it is one of namespace @want. */
static int parse_name(const char **s, unsigned int want, int64_t *value, struct line *out,
		      const char **why)
{
	struct word w = { *s, 0 };
	const struct input_name *n;
	char has[48], wanted[48];

	while (is_name_char(w.s[w.len]))
		w.len++;
	if (!w.len || (w.s[w.len] && !is_space(w.s[w.len]))) {
		*why = "not a number or a name";
		return -EINVAL;
	}
	n = bsearch(&w, input_names, input_names_num, sizeof(input_names[0]), name_cmp);
	if (!n) {
		snprintf(out->msg, sizeof(out->msg), "unknown name %.*s",
			 w.len > 40 ? 40 : (int)w.len, w.s);
		*why = out->msg;
		return -EINVAL;
	}
	if (n->ns != want) {
		ns_what(n->ns, has, sizeof(has));
		ns_what(want, wanted, sizeof(wanted));
		snprintf(out->msg, sizeof(out->msg), "%s is %s, not %s", n->name, has, wanted);
		*why = out->msg;
		return -EINVAL;
	}
	*value = n->value;
	*s += w.len;
	return 0;
}

/* What a name may stand for as word @i of @l (codes: of the type its first word gave). */
static unsigned int want_ns(const struct line *l, unsigned int i)
{
	unsigned int type = l->nnum && l->num[0] >= 0 && l->num[0] < EV_CNT
				    ? (unsigned int)l->num[0]
				    : INPUT_NS_NONE;

	switch (l->kind) {
	case LINE_EVENT:
		return i == 0 ? INPUT_NS_TYPE : i == 1 ? type : INPUT_NS_NONE;
	case LINE_EV:
		return i == 0 ? INPUT_NS_TYPE : type;
	case LINE_ABS:
		return i == 0 ? EV_ABS : INPUT_NS_NONE;
	case LINE_PROP:
		return INPUT_NS_PROP;
	case LINE_IDS:
		return i == 0 ? INPUT_NS_BUS : INPUT_NS_NONE;
	default:
		return INPUT_NS_NONE;
	}
}

/* The words after the first, numbers or names, into out->num (out->kind is set). */
static int parse_nums(const char *s, struct line *out, const char **why)
{
	out->nnum = 0;
	for (s = skip_spaces(s); *s; s = skip_spaces(s)) {
		int64_t *v = &out->num[out->nnum];

		if (out->nnum == LINE_NUMS_MAX) {
			*why = "too many numbers";
			return -EINVAL;
		}
		if (*s == '-' || (*s >= '0' && *s <= '9')) {
			if (parse_num(&s, v) < 0) {
				*why = "not a number";
				return -EINVAL;
			}
		} else if (parse_name(&s, want_ns(out, out->nnum), v, out, why) < 0) {
			return -EINVAL;
		}
		out->nnum++;
	}
	return 0;
}

static int parse_text(const char *s, struct line *out, const char **why)
{
	size_t n;

	s = skip_spaces(s);
	n = strlen(s);
	if (!n || n > INPUT_STRING_MAX) {
		*why = "text of 1..127 bytes wanted";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
			*why = "text must be printable ASCII";
			return -EINVAL;
		}
	}
	out->text = s;
	return 0;
}

static int parse_event(const char *s, struct line *out, const char **why)
{
	int ret;

	out->kind = LINE_EVENT;
	ret = parse_nums(s, out, why);

	if (ret < 0)
		return ret;
	if (out->nnum != 3) {
		*why = "an event is TYPE CODE VALUE";
		return -EINVAL;
	}
	if (out->num[0] < 0 || out->num[0] >= EV_CNT || out->num[1] < 0 ||
	    out->num[1] > INPUT_CODE_MAX || out->num[2] < INT32_MIN || out->num[2] > INT32_MAX) {
		*why = "TYPE 0..31, CODE 0..1023, VALUE a 32-bit signed number";
		return -EINVAL;
	}
	out->ev.type = (uint16_t)out->num[0];
	out->ev.code = (uint16_t)out->num[1];
	out->ev.value = (int32_t)out->num[2];
	return 0;
}

static const struct {
	const char *word;
	enum line_kind kind;
} words[] = {
	{ "name", LINE_NAME },	 { "serial", LINE_SERIAL }, { "ids", LINE_IDS },
	{ "prop", LINE_PROP },	 { "ev", LINE_EV },	    { "abs", LINE_ABS },
	{ "ready", LINE_READY }, { "stats", LINE_STATS },
};

int line_parse(const char *s, struct line *out, const char **why)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	s = skip_spaces(s);
	if (!*s || *s == '#') {
		out->kind = LINE_EMPTY;
		return 0;
	}
	if ((*s >= '0' && *s <= '9') || *s == '-' || (*s >= 'A' && *s <= 'Z'))
		return parse_event(s, out, why); /* a number or a name: EV_KEY ... */
	for (len = 0; s[len] && !is_space(s[len]);)
		len++;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) != len || memcmp(words[i].word, s, len))
			continue;
		out->kind = words[i].kind;
		if (out->kind == LINE_NAME || out->kind == LINE_SERIAL)
			return parse_text(s + len, out, why);
		if (parse_nums(s + len, out, why) < 0)
			return -EINVAL;
		if ((out->kind == LINE_READY || out->kind == LINE_STATS) && out->nnum) {
			*why = "takes no arguments";
			return -EINVAL;
		}
		return 0;
	}
	*why = "unknown word";
	return -EINVAL;
}

static bool in_range(const struct line *l, unsigned int from, int64_t min, int64_t max)
{
	for (unsigned int i = from; i < l->nnum; i++)
		if (l->num[i] < min || l->num[i] > max)
			return false;
	return true;
}

static int describe_abs(struct input_caps *c, const struct line *l, const char **why)
{
	struct input_absinfo_v *a;
	unsigned int axis;

	if (l->nnum < 3 || l->nnum > 6 || l->num[0] < 0 || l->num[0] >= ABS_CNT ||
	    !in_range(l, 1, INT32_MIN, INT32_MAX) || l->num[1] > l->num[2]) {
		*why = "abs AXIS(0..63) MIN MAX [FUZZ [FLAT [RES]]], MIN <= MAX, 32-bit";
		return -EINVAL;
	}
	axis = (unsigned int)l->num[0];
	a = &c->abs[axis];
	a->min = (int32_t)l->num[1];
	a->max = (int32_t)l->num[2];
	a->fuzz = l->nnum > 3 ? (int32_t)l->num[3] : 0;
	a->flat = l->nnum > 4 ? (int32_t)l->num[4] : 0;
	a->res = l->nnum > 5 ? (int32_t)l->num[5] : 0;
	caps_set_bit(c->ev[EV_ABS], axis);
	return 0;
}

int line_describe(struct input_caps *c, const struct line *l, const char **why)
{
	switch (l->kind) {
	case LINE_NAME:
		strcpy(c->name, l->text); /* parse_text: at most INPUT_STRING_MAX bytes */
		return 0;
	case LINE_SERIAL:
		strcpy(c->serial, l->text);
		return 0;
	case LINE_IDS:
		if (l->nnum != 4 || !in_range(l, 0, 0, UINT16_MAX)) {
			*why = "ids BUS VENDOR PRODUCT VERSION, each 0..65535";
			return -EINVAL;
		}
		for (unsigned int i = 0; i < 4; i++)
			c->ids[i] = (uint16_t)l->num[i];
		c->has_ids = true;
		return 0;
	case LINE_PROP:
		if (!l->nnum || !in_range(l, 0, 0, INPUT_PROP_MAX)) {
			*why = "prop N..., each 0..31";
			return -EINVAL;
		}
		for (unsigned int i = 0; i < l->nnum; i++)
			caps_set_bit(c->prop, (unsigned int)l->num[i]);
		return 0;
	case LINE_EV:
		if (l->nnum < 2 || l->num[0] < 1 || l->num[0] >= EV_CNT ||
		    !in_range(l, 1, 0, INPUT_CODE_MAX)) {
			*why = "ev TYPE(1..31) CODE(0..1023)...";
			return -EINVAL;
		}
		for (unsigned int i = 1; i < l->nnum; i++)
			caps_set_bit(c->ev[l->num[0]], (unsigned int)l->num[i]);
		return 0;
	case LINE_ABS:
		return describe_abs(c, l, why);
	default:
		*why = "not a description line";
		return -EINVAL;
	}
}
