/* SPDX-License-Identifier: MIT */
/*
 * The virtio-input config space (virtio spec 5.8.5): the driver writes
 * select and subsel, then reads size and the union for them. Built from
 * struct input_caps each time; a select or subsel the device has nothing
 * for reads size 0 (the spec's answer), whatever its value.
 */
#include <endian.h>
#include <string.h>

#include "input.h"

/* Bytes of @bm up to its last non-zero one. */
static uint8_t bitmap_size(const uint8_t *bm)
{
	unsigned int n = INPUT_BITMAP_SIZE;

	while (n && !bm[n - 1])
		n--;
	return (uint8_t)n;
}

static uint8_t put_string(const char *s, struct virtio_input_config *cfg)
{
	size_t n = strnlen(s, INPUT_STRING_MAX);

	memcpy(cfg->u.string, s, n);
	return (uint8_t)n;
}

static uint8_t put_abs(const struct input_caps *c, uint8_t axis, struct virtio_input_config *cfg)
{
	const struct input_absinfo_v *a;

	if (axis >= ABS_CNT || !caps_test_bit(c->ev[EV_ABS], axis))
		return 0;
	a = &c->abs[axis];
	cfg->u.abs.min = htole32((uint32_t)a->min);
	cfg->u.abs.max = htole32((uint32_t)a->max);
	cfg->u.abs.fuzz = htole32((uint32_t)a->fuzz);
	cfg->u.abs.flat = htole32((uint32_t)a->flat);
	cfg->u.abs.res = htole32((uint32_t)a->res);
	return sizeof(cfg->u.abs);
}

void caps_config(const struct input_caps *c, uint8_t select, uint8_t subsel,
		 struct virtio_input_config *cfg)
{
	uint8_t size = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->select = select;
	cfg->subsel = subsel;
	switch (select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		size = subsel ? 0 : put_string(c->name, cfg);
		break;
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		size = subsel ? 0 : put_string(c->serial, cfg);
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (subsel || !c->has_ids)
			break;
		cfg->u.ids.bustype = htole16(c->ids[0]);
		cfg->u.ids.vendor = htole16(c->ids[1]);
		cfg->u.ids.product = htole16(c->ids[2]);
		cfg->u.ids.version = htole16(c->ids[3]);
		size = sizeof(cfg->u.ids);
		break;
	case VIRTIO_INPUT_CFG_PROP_BITS:
		if (subsel)
			break;
		size = bitmap_size(c->prop);
		memcpy(cfg->u.bitmap, c->prop, size);
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (subsel == EV_SYN || subsel >= EV_CNT)
			break;
		size = bitmap_size(c->ev[subsel]);
		memcpy(cfg->u.bitmap, c->ev[subsel], size);
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		size = put_abs(c, subsel, cfg);
		break;
	default:
		break; /* VIRTIO_INPUT_CFG_UNSET and anything unknown: nothing */
	}
	cfg->size = size;
}

bool caps_event_ok(const struct input_caps *c, const struct input_event_v *ev)
{
	if (ev->type == EV_SYN)
		return ev->code == SYN_REPORT || ev->code == SYN_MT_REPORT;
	return ev->type < EV_CNT && ev->code <= INPUT_CODE_MAX &&
	       caps_test_bit(c->ev[ev->type], ev->code);
}

bool caps_usable(const struct input_caps *c)
{
	for (unsigned int t = 1; t < EV_CNT; t++)
		if (bitmap_size(c->ev[t]))
			return true;
	return false;
}
