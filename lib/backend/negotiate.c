/* SPDX-License-Identifier: MIT */
/*
 * Negotiation and device-wide requests: virtio and protocol features,
 * ownership, queue count, status and the two resets.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/virtio_config.h>

#include "backend/backend.h"
#include "common/util.h"

#define RING_FEATURES                                                              \
	(VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) | \
	 VHU_BIT(VIRTIO_F_RING_PACKED))

uint64_t vhu_be_offered_features(const struct vhu_backend *be)
{
	uint64_t f = be->config.ops->get_features(be->config.dev);

	/* dirty logging is the library's (log.c): offered with LOG_SHMFD, the
	 * only kind of log it maps, as bit 30 is offered with the protocol.
	 * Every device works behind a virtual IOMMU: the library translates
	 * (lib/backend/iotlb.c), so ACCESS_PLATFORM is always offered. */
	f &= ~VHU_BIT(VHU_F_LOG_ALL);
	if (vhu_be_offered_protocol(be) & VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD))
		f |= VHU_BIT(VHU_F_LOG_ALL);
	return f | VHU_BIT(VHU_F_PROTOCOL_FEATURES) | VHU_BIT(VIRTIO_F_ACCESS_PLATFORM);
}

#define INBAND_NEEDS (VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK))

uint64_t vhu_be_offered_protocol(const struct vhu_backend *be)
{
	uint64_t f = be->config.protocol_features & VHU_BACKEND_PROTOCOL_FEATURES;

	if (!be->config.ops->get_config)
		f &= ~VHU_BIT(VHU_PROTOCOL_F_CONFIG);
	if (!be->config.ops->state_save || !be->config.ops->state_load)
		f &= ~VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE);
	/* experimental opt-in: bit 4 is VHOST_PCI (config_check kept NET_MTU out) */
	if (be->config.vhost_pci)
		f |= VHU_BIT(VHU_PROTOCOL_F_VHOST_PCI);
	return f;
}

int vhu_be_get_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	return vhu_be_reply_u64(reply, vhu_be_offered_features(be));
}

/* A running ring cannot change layout or suppression under the driver's feet. */
static int ring_features_check(struct vhu_backend *be, uint64_t features)
{
	uint64_t changed = (features ^ be->features) & RING_FEATURES;

	if (!changed)
		return 0;
	for (unsigned int i = 0; i < be->num_queues; i++)
		if (be->queues[i].running)
			return vhu_be_fail(be, -EBUSY,
					   "ring features 0x%" PRIx64 " change while ring %u runs",
					   changed, i);
	return 0;
}

/* With every worker paused: check, tell the device, then the rings. */
static int features_apply(struct vhu_backend *be, uint64_t features)
{
	const struct vhu_device_ops *ops = be->config.ops;
	int ret = ring_features_check(be, features);

	if (ret == 0 && ops->set_features) {
		/* the device offered its own bits; bits 30 and 26 are the library's */
		ret = ops->set_features(
			be->config.dev,
			features & ~(VHU_BIT(VHU_F_PROTOCOL_FEATURES) | VHU_BIT(VHU_F_LOG_ALL)));
		if (ret < 0)
			return vhu_be_fail(be, ret, "the device refused features 0x%" PRIx64,
					   features);
	}
	if (ret < 0)
		return ret;
	if ((features ^ be->features) & VHU_BIT(VHU_F_LOG_ALL))
		vhu_info(&be->log, "dirty logging %s%s",
			 features & VHU_BIT(VHU_F_LOG_ALL) ? "on" : "off",
			 (features & VHU_BIT(VHU_F_LOG_ALL)) && !be->dlog.bitmap ? " (no log yet)"
										 : "");
	be->features = features;
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_vq_set_features(&be->queues[i].vq, features);
	vhu_be_log_apply(be, NULL);
	return 0;
}

int vhu_be_set_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	uint64_t features = msg->payload.u64, extra = features & ~vhu_be_offered_features(be);
	int ret;

	(void)reply;
	if (extra)
		return vhu_be_fail(be, -EINVAL, "features 0x%" PRIx64 " were not offered", extra);
	/*
	 * The row does not pause the queues (QEMU may send SET_FEATURES to a
	 * running device), but the device and the rings change here: pause them.
	 */
	/* vhost-pci: the device may narrow them from its set_features op */
	vhu_be_vpci_features(be, features);
	vhu_be_queues_pause_all(be);
	ret = features_apply(be, features);
	vhu_be_queues_resume_all(be);
	if (ret < 0) {
		vhu_be_vpci_reset(be, false);
		return ret;
	}
	/* spec: "Ring states": without PROTOCOL_FEATURES a started ring is enabled */
	for (unsigned int i = 0; i < be->num_queues && ret == 0; i++)
		ret = vhu_be_queue_update(be, &be->queues[i]);
	return ret;
}

int vhu_be_set_owner(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	(void)reply;
	be->owner = true;
	return 0;
}

/* spec: deprecated; "ignore it or treat it as disable all rings": we stop them. */
int vhu_be_reset_owner(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	(void)reply;
	vhu_be_queues_stop_all(be);
	return 0;
}

int vhu_be_get_protocol_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	return vhu_be_reply_u64(reply, vhu_be_offered_protocol(be));
}

int vhu_be_set_protocol_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	uint64_t features = msg->payload.u64, extra = features & ~vhu_be_offered_protocol(be);

	(void)reply;
	if (extra)
		return vhu_be_fail(be, -EINVAL, "protocol features 0x%" PRIx64 " were not offered",
				   extra);
	/*
	 * spec: "In-band notifications": negotiating it without BACKEND_REQ
	 * and REPLY_ACK is an error, which the back-end signals by closing
	 * the connection.
	 */
	if ((features & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS)) &&
	    (features & INBAND_NEEDS) != INBAND_NEEDS) {
		be->close_conn = true;
		return vhu_be_fail(be, -EINVAL,
				   "INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK");
	}
	be->protocol_features = features;
	vhu_be_vpci_protocol(be, features);
	for (unsigned int i = 0; i < be->num_queues; i++)
		be->queues[i].vq.inband = (features & VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS))
						  ? vhu_be_chan_vring
						  : NULL;
	vhu_be_chan_update(be);
	return 0;
}

int vhu_be_get_queue_num(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	return vhu_be_reply_u64(reply, be->num_queues);
}

/*
 * spec: "RESET_DEVICE": disable all rings and return to the initial state,
 * ready to be set up again; ownership, the protocol features, the memory
 * table and the back-end channel stay.
 */
int vhu_be_reset_device(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_device_ops *ops = be->config.ops;

	(void)msg;
	(void)reply;
	vhu_be_queues_stop_all(be);
	for (unsigned int i = 0; i < be->num_queues; i++) {
		vhu_vq_reset(&be->queues[i].vq);
		be->queues[i].enabled = false;
		be->queues[i].inband_call = be->queues[i].inband_err = false;
	}
	/* QEMU gets a new region after a reset (spec: GET_INFLIGHT_FD) */
	vhu_be_inflight_clear(be);
	vhu_be_log_clear(be);
	vhu_be_state_clear(be);
	vhu_be_postcopy_clear(be);
	if (ops->reset)
		ops->reset(be->config.dev);
	vhu_be_vpci_reset(be, false);
	be->features = 0;
	be->status = 0;
	return 0;
}

int vhu_be_set_status(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)reply;
	/* the virtio device status is one byte */
	if (msg->payload.u64 > UINT8_MAX)
		return vhu_be_fail(be, -EINVAL, "status 0x%" PRIx64 " is over 8 bits",
				   msg->payload.u64);
	be->status = (uint8_t)msg->payload.u64;
	return 0;
}

int vhu_be_get_status(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	return vhu_be_reply_u64(reply, be->status);
}

/* spec: "NET_SET_MTU": the front-end tells the device the MTU it configured */
int vhu_be_net_set_mtu(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	uint64_t mtu = msg->payload.u64;

	(void)reply;
	/* the gate passed on bit 4, which the vhost-pci opt-in reads as VHOST_PCI */
	if (be->config.vhost_pci)
		return vhu_be_fail(be, -ENOTSUP, "protocol bit 4 is VHOST_PCI here, not NET_MTU");
	/* virtio-net: "mtu ... MUST be at least 68" */
	if (mtu < 68 || mtu > UINT16_MAX)
		return vhu_be_fail(be, -EINVAL, "MTU %" PRIu64 " (68..65535)", mtu);
	return be->config.ops->net_set_mtu(be->config.dev, (uint16_t)mtu);
}

/* spec: "SEND_RARP": the first 6 bytes of the u64 are the guest's MAC */
int vhu_be_send_rarp(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	uint8_t mac[6];

	(void)reply;
	memcpy(mac, &msg->payload.u64, sizeof(mac));
	return be->config.ops->net_send_rarp(be->config.dev, mac);
}

/* vhost-user.rst "VHOST_USER_GPU_SET_SOCKET": the vhost-user-gpu channel, for the device */
int vhu_be_gpu_set_socket(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)reply;
	if (!be->config.ops->gpu_set_socket)
		return vhu_be_fail(be, -ENOTSUP, "the device is not a GPU");
	return be->config.ops->gpu_set_socket(be->config.dev, vhu_msg_take_fd(msg, 0));
}
