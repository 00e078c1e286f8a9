/* SPDX-License-Identifier: MIT */
/*
 * Printing a probe result: text for people, JSON for scripts. Config fields
 * are described by the kernel's own structs (offsetof/sizeof), read as
 * little-endian as virtio 1.x config space is.
 */
#include <endian.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "probe.h"
#include <vhu/names.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum field_kind { FIELD_UINT, FIELD_MAC, FIELD_STRING };

struct config_field {
	const char *name;
	uint32_t offset;
	uint32_t size;
	enum field_kind kind;
};

#define FIELD(type, member, name)                                                        \
	{                                                                                \
		name, offsetof(struct type, member), sizeof(((struct type *)0)->member), \
			FIELD_UINT                                                       \
	}

static const struct config_field blk_fields[] = {
	FIELD(virtio_blk_config, capacity, "capacity"),
	FIELD(virtio_blk_config, size_max, "size_max"),
	FIELD(virtio_blk_config, seg_max, "seg_max"),
	FIELD(virtio_blk_config, geometry.cylinders, "cylinders"),
	FIELD(virtio_blk_config, geometry.heads, "heads"),
	FIELD(virtio_blk_config, geometry.sectors, "sectors"),
	FIELD(virtio_blk_config, blk_size, "blk_size"),
	FIELD(virtio_blk_config, physical_block_exp, "physical_block_exp"),
	FIELD(virtio_blk_config, alignment_offset, "alignment_offset"),
	FIELD(virtio_blk_config, min_io_size, "min_io_size"),
	FIELD(virtio_blk_config, opt_io_size, "opt_io_size"),
	FIELD(virtio_blk_config, wce, "writeback"),
	FIELD(virtio_blk_config, num_queues, "num_queues"),
	FIELD(virtio_blk_config, max_discard_sectors, "max_discard_sectors"),
	FIELD(virtio_blk_config, max_discard_seg, "max_discard_seg"),
	FIELD(virtio_blk_config, discard_sector_alignment, "discard_sector_alignment"),
	FIELD(virtio_blk_config, max_write_zeroes_sectors, "max_write_zeroes_sectors"),
	FIELD(virtio_blk_config, max_write_zeroes_seg, "max_write_zeroes_seg"),
	FIELD(virtio_blk_config, write_zeroes_may_unmap, "write_zeroes_may_unmap"),
};

static const struct config_field net_fields[] = {
	{ "mac", offsetof(struct virtio_net_config, mac), 6, FIELD_MAC },
	FIELD(virtio_net_config, status, "status"),
	FIELD(virtio_net_config, max_virtqueue_pairs, "max_virtqueue_pairs"),
	FIELD(virtio_net_config, mtu, "mtu"),
};

static const struct config_field fs_fields[] = {
	{ "tag", offsetof(struct virtio_fs_config, tag), 36, FIELD_STRING },
	FIELD(virtio_fs_config, num_request_queues, "num_request_queues"),
};

/*
 * How much config to read: up to the last field we decode, which every
 * version of the peer's struct has (QEMU 7.2's blk struct stops at 60 bytes
 * and refuses reads past its end).
 */
static const struct config_layout {
	uint32_t device_id;
	uint32_t size;
	const struct config_field *fields;
	unsigned int nfields;
} layouts[] = {
	{ VIRTIO_ID_BLOCK, 60, blk_fields, ARRAY_SIZE(blk_fields) },
	{ VIRTIO_ID_NET, 12, net_fields, ARRAY_SIZE(net_fields) },
	{ VIRTIO_ID_FS, 40, fs_fields, ARRAY_SIZE(fs_fields) },
};

static const struct config_layout *layout_of(uint32_t device_id)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(layouts); i++)
		if (layouts[i].device_id == device_id)
			return &layouts[i];
	return NULL;
}

uint32_t probe_config_size(uint32_t device_id)
{
	const struct config_layout *layout = layout_of(device_id);

	return layout ? layout->size : 0;
}

static uint64_t field_uint(const uint8_t *config, const struct config_field *f)
{
	uint64_t v = 0;

	memcpy(&v, config + f->offset, f->size); /* little-endian host assumed below */
	return le64toh(v);
}

static void field_text(char *buf, size_t len, const uint8_t *config, const struct config_field *f)
{
	const uint8_t *p = config + f->offset;

	if (f->kind == FIELD_MAC)
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4],
			 p[5]);
	else
		snprintf(buf, len, "%.*s", (int)strnlen((const char *)p, f->size), (const char *)p);
}

static const char *bit_name(const struct probe_result *res, unsigned int bit, bool protocol,
			    char *buf, size_t len)
{
	const char *name =
		protocol ? vhu_protocol_feature_name(bit) : vhu_feature_name(res->device_id, bit);

	if (name)
		return name;
	snprintf(buf, len, "bit %u", bit);
	return buf;
}

static void text_bits(FILE *out, const struct probe_result *res, uint64_t bits, bool protocol)
{
	char buf[32];

	for (unsigned int bit = 0; bit < 64; bit++)
		if (bits & VHU_BIT(bit))
			fprintf(out, "  %-40s (%u)\n",
				bit_name(res, bit, protocol, buf, sizeof(buf)), bit);
}

static void text_config(FILE *out, const struct probe_result *res)
{
	const struct config_layout *layout = layout_of(res->device_id);
	char buf[64];

	fprintf(out, "config (%u bytes):\n", res->config_size);
	for (unsigned int i = 0; i < layout->nfields; i++) {
		const struct config_field *f = &layout->fields[i];

		if (f->kind == FIELD_UINT) {
			fprintf(out, "  %-26s %" PRIu64, f->name, field_uint(res->config, f));
			if (res->device_id == VIRTIO_ID_BLOCK && !strcmp(f->name, "capacity"))
				fprintf(out, " sectors (%" PRIu64 " bytes)",
					field_uint(res->config, f) * 512);
			fputc('\n', out);
		} else {
			field_text(buf, sizeof(buf), res->config, f);
			fprintf(out, "  %-26s %s\n", f->name, buf);
		}
	}
}

void probe_print_text(FILE *out, const struct probe_result *res)
{
	const char *type = vhu_device_type_name(res->device_id);

	fprintf(out, "socket: %s\n", res->socket_path);
	fprintf(out, "device type: %s\n", type ? type : "unknown (pass --type for device bits)");
	fprintf(out, "features: 0x%016" PRIx64 "\n", res->features);
	text_bits(out, res, res->features, false);
	if (res->has_protocol) {
		fprintf(out, "protocol features: 0x%016" PRIx64 "\n", res->protocol_features);
		text_bits(out, res, res->protocol_features, true);
	} else {
		fprintf(out,
			"protocol features: not offered (no VHOST_USER_F_PROTOCOL_FEATURES)\n");
	}
	if (res->has_queue_num)
		fprintf(out, "queues: %" PRIu64 "\n", res->queue_num);
	if (res->has_mem_slots)
		fprintf(out, "memory slots: %" PRIu64 "\n", res->mem_slots);
	if (res->has_config)
		text_config(out, res);
	else if (res->config_error)
		fprintf(out, "config: not readable: %s\n", res->config_error);
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_bits(FILE *out, const struct probe_result *res, const char *key, uint64_t bits,
		      bool protocol)
{
	const char *sep = "";
	char buf[32];

	fprintf(out, "\"%s\": \"0x%016" PRIx64 "\", \"%s_bits\": [", key, bits,
		protocol ? "protocol_feature" : "feature");
	for (unsigned int bit = 0; bit < 64; bit++)
		if (bits & VHU_BIT(bit)) {
			fprintf(out, "%s%u", sep, bit);
			sep = ", ";
		}
	fprintf(out, "], \"%s_names\": [", protocol ? "protocol_feature" : "feature");
	sep = "";
	for (unsigned int bit = 0; bit < 64; bit++)
		if (bits & VHU_BIT(bit)) {
			fputs(sep, out);
			json_string(out, bit_name(res, bit, protocol, buf, sizeof(buf)));
			sep = ", ";
		}
	fputs("], ", out);
}

static void json_config(FILE *out, const struct probe_result *res)
{
	const struct config_layout *layout = layout_of(res->device_id);
	char buf[64];

	fputs("{\"raw\": \"", out);
	for (unsigned int i = 0; i < res->config_size; i++)
		fprintf(out, "%02x", res->config[i]);
	fputc('"', out);
	for (unsigned int i = 0; i < layout->nfields; i++) {
		const struct config_field *f = &layout->fields[i];

		fprintf(out, ", \"%s\": ", f->name);
		if (f->kind == FIELD_UINT) {
			fprintf(out, "%" PRIu64, field_uint(res->config, f));
		} else {
			field_text(buf, sizeof(buf), res->config, f);
			json_string(out, buf);
		}
	}
	fputc('}', out);
}

void probe_print_json(FILE *out, const struct probe_result *res)
{
	const char *type = vhu_device_type_name(res->device_id);

	fputs("{\"socket\": ", out);
	json_string(out, res->socket_path);
	fputs(", \"device_type\": ", out);
	if (type)
		json_string(out, type);
	else
		fputs("null", out);
	fputs(", ", out);
	json_bits(out, res, "features", res->features, false);
	if (res->has_protocol)
		json_bits(out, res, "protocol_features", res->protocol_features, true);
	else
		fputs("\"protocol_features\": null, \"protocol_feature_bits\": [], "
		      "\"protocol_feature_names\": [], ",
		      out);
	if (res->has_queue_num)
		fprintf(out, "\"queue_num\": %" PRIu64 ", ", res->queue_num);
	else
		fputs("\"queue_num\": null, ", out);
	if (res->has_mem_slots)
		fprintf(out, "\"max_mem_slots\": %" PRIu64 ", ", res->mem_slots);
	else
		fputs("\"max_mem_slots\": null, ", out);
	fputs("\"config\": ", out);
	if (res->has_config)
		json_config(out, res);
	else
		fputs("null", out);
	if (res->config_error) {
		fputs(", \"config_error\": ", out);
		json_string(out, res->config_error);
	}
	fputs(", \"status\": \"ok\"}\n", out);
}
