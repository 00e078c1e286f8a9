/* SPDX-License-Identifier: MIT */
/*
 * Device config space: GET_CONFIG and SET_CONFIG through the device's ops
 * (CONFIG protocol feature). The offset and size come from the front-end
 * and are bounded here before the device sees them.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "backend/backend.h"
#include "common/util.h"

/* spec: "GET_CONFIG"/"SET_CONFIG": the payload is the 12-byte header and size bytes. */
static int config_check(struct vhu_backend *be, const struct vhu_msg *msg)
{
	const struct vhu_config *c = &msg->payload.config;
	uint32_t end;

	if (c->size > VHU_MAX_CONFIG_SIZE)
		return vhu_be_fail(be, -EINVAL, "config size %" PRIu32 " over %u", c->size,
				   VHU_MAX_CONFIG_SIZE);
	if (msg->hdr.size != VHU_CONFIG_HDR_SIZE + c->size)
		return vhu_be_fail(be, -EINVAL,
				   "a %" PRIu32 "-byte payload for %" PRIu32 " config bytes",
				   msg->hdr.size, c->size);
	if (__builtin_add_overflow(c->offset, c->size, &end) || end > VHU_MAX_CONFIG_SIZE)
		return vhu_be_fail(be, -EINVAL, "config bytes %" PRIu32 "+%" PRIu32 " beyond %u",
				   c->offset, c->size, VHU_MAX_CONFIG_SIZE);
	return 0;
}

int vhu_be_get_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_config *c = &msg->payload.config;
	struct vhu_config *out = &reply->payload.config;
	int ret = config_check(be, msg);

	if (ret < 0)
		return ret;
	if (!be->config.ops->get_config)
		return vhu_be_fail(be, -ENOTSUP, "the device has no config space");
	out->offset = c->offset;
	out->size = c->size;
	out->flags = c->flags;
	/* bytes the device leaves alone go out as zeros, not as our stack */
	memset(out->region, 0, c->size);
	if (c->size) {
		ret = be->config.ops->get_config(be->config.dev, out->region, c->offset, c->size);
		if (ret < 0)
			return vhu_be_fail(be, ret,
					   "the device could not read config %" PRIu32 "+%" PRIu32,
					   c->offset, c->size);
	}
	reply->hdr.size = VHU_CONFIG_HDR_SIZE + c->size;
	return 0;
}

int vhu_be_set_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_config *c = &msg->payload.config;
	int ret = config_check(be, msg);

	(void)reply;
	if (ret < 0)
		return ret;
	if (!be->config.ops->set_config)
		return vhu_be_fail(be, -ENOTSUP, "the device has no writable config");
	if (c->size == 0)
		return 0;
	ret = be->config.ops->set_config(be->config.dev, c->region, c->offset, c->size);
	if (ret < 0)
		return vhu_be_fail(be, ret, "the device refused config %" PRIu32 "+%" PRIu32,
				   c->offset, c->size);
	return 0;
}
