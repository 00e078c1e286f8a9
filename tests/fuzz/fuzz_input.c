/* SPDX-License-Identifier: MIT */
/*
 * vhu-input's events-socket protocol and config space (devices/input/
 * line.c, caps.c): any bytes, cut into lines as the socket does, are
 * parsed; description lines are applied to a device, events checked
 * against it; then the config space is read for every select and subsel
 * the driver could write. Never a crash, a read past a line, a size over
 * the union, or an answer the description does not justify. Every event
 * line parses the same again with the kernel's names for its type and
 * code (input_names.c); the events described build a state (state.c)
 * that the resync's walk reproduces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/input.h"

static void check_config(const struct input_caps *c)
{
	struct virtio_input_config cfg;

	for (unsigned int sel = 0; sel < 256; sel++) {
		for (unsigned int sub = 0; sub < 256; sub++) {
			caps_config(c, (uint8_t)sel, (uint8_t)sub, &cfg);
			if (cfg.size > sizeof(cfg.u) || cfg.select != sel || cfg.subsel != sub)
				abort();
			if (sel == VIRTIO_INPUT_CFG_ABS_INFO && cfg.size &&
			    (sub >= ABS_CNT || !caps_test_bit(c->ev[EV_ABS], sub)))
				abort();
			if (sel != VIRTIO_INPUT_CFG_EV_BITS && sel != VIRTIO_INPUT_CFG_ABS_INFO)
				break; /* the others ignore subsel past 0: one is enough */
		}
	}
}

/*
 * The resync's walk (state.c): the differences from an empty state to
 * @s, applied to an empty state, give @s; the walk moves forward only.
 */
static void check_resync(const struct input_state *s)
{
	struct input_state zero, fixed;
	struct input_event_v ev;
	unsigned int pos = 0, last = 0, n = 0;

	memset(&zero, 0, sizeof(zero));
	memset(&fixed, 0, sizeof(fixed));
	while (state_diff_next(&zero, s, &pos, &ev)) {
		if (pos <= last || ++n > INPUT_STATE_BITS * (INPUT_CODE_MAX + 1) + INPUT_STATE_ABS)
			abort();
		last = pos;
		state_apply(&fixed, &ev);
	}
	if (memcmp(&fixed, s, sizeof(fixed)) || state_diff_next(&fixed, s, &pos, &ev))
		abort();
}

/* The generated name table is sorted as the lookup's binary search needs. */
static void check_names_sorted(void)
{
	static bool checked;

	for (unsigned int i = 1; !checked && i < input_names_num; i++)
		if (strcmp(input_names[i - 1].name, input_names[i].name) >= 0)
			abort();
	checked = true;
}

/* An event line says the same with the kernel's names as with numbers. */
static void check_event_names(const struct input_event_v *ev)
{
	char type[16], code[16], text[128];
	const char *t = type, *c = code, *why = NULL;
	struct line l;

	snprintf(type, sizeof(type), "%u", ev->type);
	snprintf(code, sizeof(code), "%u", ev->code);
	for (unsigned int i = 0; i < input_names_num; i++) {
		if (input_names[i].ns == INPUT_NS_TYPE && input_names[i].value == ev->type)
			t = input_names[i].name;
		if (input_names[i].ns == ev->type && input_names[i].value == ev->code)
			c = input_names[i].name;
	}
	snprintf(text, sizeof(text), "%s %s %d", t, c, ev->value);
	if (line_parse(text, &l, &why) < 0 || l.kind != LINE_EVENT || l.ev.type != ev->type ||
	    l.ev.code != ev->code || l.ev.value != ev->value)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_caps *c = calloc(1, sizeof(*c));
	struct input_state st;
	char line[INPUT_LINE_MAX + 1];
	size_t start = 0;

	if (!c)
		return 0;
	check_names_sorted();
	memset(&st, 0, sizeof(st));
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = (nl ? (size_t)(nl - data) : size) - start;
		const char *why = NULL;
		struct line l;

		if (len <= INPUT_LINE_MAX && !memchr(data + start, '\0', len)) {
			memcpy(line, data + start, len);
			line[len] = '\0';
			if (line_parse(line, &l, &why) < 0) {
				if (!why)
					abort(); /* every refusal says why */
			} else if (l.kind == LINE_EVENT) {
				check_event_names(&l.ev);
				if (caps_event_ok(c, &l.ev))
					state_apply(&st, &l.ev);
			} else if (l.kind != LINE_EMPTY && l.kind != LINE_READY &&
				   l.kind != LINE_STATS) {
				why = NULL;
				if (line_describe(c, &l, &why) < 0 && !why)
					abort();
			}
		}
		start += len + 1;
	}
	if (strlen(c->name) > INPUT_STRING_MAX || strlen(c->serial) > INPUT_STRING_MAX)
		abort();
	check_config(c);
	check_resync(&st);
	free(c);
	return 0;
}
