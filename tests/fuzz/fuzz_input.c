/* SPDX-License-Identifier: MIT */
/*
 * vhu-input's events-socket protocol and config space (devices/input/
 * line.c, caps.c): any bytes, cut into lines as the socket does, are
 * parsed; description lines are applied to a device, events checked
 * against it; then the config space is read for every select and subsel
 * the driver could write. Never a crash, a read past a line, a size over
 * the union, or an answer the description does not justify.
 */
#include <stdint.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_caps *c = calloc(1, sizeof(*c));
	char line[INPUT_LINE_MAX + 1];
	size_t start = 0;

	if (!c)
		return 0;
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
				(void)caps_event_ok(c, &l.ev);
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
	free(c);
	return 0;
}
