/* SPDX-License-Identifier: MIT */
#ifndef VHU_NAMES_H
#define VHU_NAMES_H

#include <stdint.h>
#include <vhu/version.h>

/*
 * Names for logs, traces and tools, spelled as in the spec
 * ("VHOST_USER_SET_VRING_KICK", "VHOST_USER_PROTOCOL_F_MQ", "VIRTIO_F_VERSION_1").
 */

/**
 * vhu_request_name() - the spec name of a front-end request id.
 * @request: VHU_REQ_*
 *
 * Return: a static string; "VHOST_USER_UNKNOWN" for ids outside the spec.
 */
VHU_API const char *vhu_request_name(uint32_t request);

/**
 * vhu_backend_request_name() - the spec name of a back-end request id.
 * @request: VHU_BACKEND_REQ_*
 *
 * Return: a static string; "VHOST_USER_BACKEND_UNKNOWN" for ids outside the spec.
 */
VHU_API const char *vhu_backend_request_name(uint32_t request);

/**
 * vhu_protocol_feature_name() - the spec name of a protocol feature bit.
 * @bit: 0..63
 *
 * Return: a static string, or NULL for a bit the spec does not define.
 */
VHU_API const char *vhu_protocol_feature_name(unsigned int bit);

/**
 * vhu_feature_name() - the name of a virtio feature bit.
 * @device_id: VIRTIO_ID_* of the device (device bits 0-23 and 50+ depend on it)
 * @bit:       0..63
 *
 * Transport bits (24-41) and the vhost-user bits (26 LOG_ALL, 30
 * PROTOCOL_FEATURES) have one name whatever the device.
 *
 * Return: a static string, or NULL for a bit with no known name.
 */
VHU_API const char *vhu_feature_name(uint32_t device_id, unsigned int bit);

/**
 * vhu_device_type_id() - the virtio device id for a type name.
 * @type: "blk", "net", "fs", "rng", "scsi", "input", "gpu", "vsock", "console", ...
 *
 * Return: a VIRTIO_ID_* (> 0), or -EINVAL.
 */
VHU_API int vhu_device_type_id(const char *type);

/**
 * vhu_device_type_name() - the short type name of a virtio device id.
 * @device_id: VIRTIO_ID_*
 *
 * Return: a static string ("blk", "net", ...), or NULL if unknown.
 */
VHU_API const char *vhu_device_type_name(uint32_t device_id);

#endif /* VHU_NAMES_H */
