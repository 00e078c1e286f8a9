/* SPDX-License-Identifier: MIT */
#ifndef VHU_PROBE_H
#define VHU_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vhu/protocol.h>

/* What vhu-probe learnt from one back-end. */
struct probe_result {
	const char *socket_path;
	uint32_t device_id; /* VIRTIO_ID_*, 0 when --type was not given */
	uint64_t features;
	uint64_t protocol_features;
	uint64_t queue_num;
	uint64_t mem_slots;
	bool has_protocol;
	bool has_queue_num;
	bool has_mem_slots;
	bool has_config;
	const char *config_error; /* set when GET_CONFIG was refused */
	uint32_t config_size;
	uint8_t config[VHU_MAX_CONFIG_SIZE];
};

/* Bytes of config space the probe reads for a device type; 0: do not read. */
uint32_t probe_config_size(uint32_t device_id);

void probe_print_text(FILE *out, const struct probe_result *res);
void probe_print_json(FILE *out, const struct probe_result *res);

#endif /* VHU_PROBE_H */
