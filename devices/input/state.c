/* SPDX-License-Identifier: MIT */
/*
 * The state an event stream leaves in a reader (the guest's input core,
 * Linux drivers/input/input.c): which keys and buttons are down, which
 * switches and LEDs are on, where each absolute axis is. Relative motion,
 * MSC and sounds leave nothing to correct. Multi-touch axes (ABS_MT_SLOT
 * and up) belong to a slot each, and a value without its slot means
 * nothing: they are not tracked (the kernel's evdev has EVIOCGMTSLOTS
 * for them, virtio-input has nothing).
 *
 * What a kernel client does after SYN_DROPPED (Documentation/input/
 * event-codes.rst, "EV_SYN"): compare the state it was told with the
 * device's and send itself the differences. state_diff_next() lists them.
 */
#include "input.h"

/* EV_KEY, EV_ABS, EV_SW, EV_LED: the order state_diff_next() walks them in */
static const uint16_t walk_types[] = { EV_KEY, EV_ABS, EV_SW, EV_LED };

static int bits_slot(uint16_t type)
{
	switch (type) {
	case EV_KEY:
		return INPUT_STATE_KEY;
	case EV_SW:
		return INPUT_STATE_SW;
	case EV_LED:
		return INPUT_STATE_LED;
	default:
		return -1;
	}
}

void state_apply(struct input_state *s, const struct input_event_v *ev)
{
	int slot = bits_slot(ev->type);

	if (slot >= 0 && ev->code <= INPUT_CODE_MAX) {
		uint8_t *byte = &s->bits[slot][ev->code / 8];
		uint8_t bit = (uint8_t)(1u << (ev->code % 8));

		/* a key's 2 (autorepeat) means down too */
		*byte = ev->value ? (uint8_t)(*byte | bit) : (uint8_t)(*byte & ~bit);
	} else if (ev->type == EV_ABS && ev->code < INPUT_STATE_ABS) {
		s->abs[ev->code] = ev->value;
	}
}

/* The next differing code of one type from *@code on; false past the last. */
static bool next_in_type(const struct input_state *from, const struct input_state *to,
			 uint16_t type, unsigned int *code, int32_t *value)
{
	int slot = bits_slot(type);

	if (type == EV_ABS) {
		for (; *code < INPUT_STATE_ABS; (*code)++) {
			if (from->abs[*code] != to->abs[*code]) {
				*value = to->abs[*code];
				return true;
			}
		}
		return false;
	}
	while (*code <= INPUT_CODE_MAX) {
		uint8_t diff = from->bits[slot][*code / 8] ^ to->bits[slot][*code / 8];

		if (!diff) {
			*code = (*code / 8 + 1) * 8; /* a whole byte alike: the next one */
			continue;
		}
		if (diff & (1u << (*code % 8))) {
			*value = caps_test_bit(to->bits[slot], *code);
			return true;
		}
		(*code)++;
	}
	return false;
}

bool state_diff_next(const struct input_state *from, const struct input_state *to,
		     unsigned int *pos, struct input_event_v *ev)
{
	const unsigned int per_type = INPUT_CODE_MAX + 1;

	for (unsigned int t = *pos / per_type; t < sizeof(walk_types) / sizeof(walk_types[0]);
	     t++) {
		unsigned int code = t == *pos / per_type ? *pos % per_type : 0;
		int32_t value;

		if (next_in_type(from, to, walk_types[t], &code, &value)) {
			ev->type = walk_types[t];
			ev->code = (uint16_t)code;
			ev->value = value;
			*pos = t * per_type + code + 1;
			return true;
		}
	}
	*pos = (unsigned int)(sizeof(walk_types) / sizeof(walk_types[0])) * per_type;
	return false;
}
