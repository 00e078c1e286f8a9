/* SPDX-License-Identifier: MIT */
/*
 * Names as the specs spell them, so logs, vhu-trace and vhu-probe can be
 * grepped against the spec text. Request names come from the rule rows.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "common/util.h"
#include "wire/wire.h"
#include <vhu/names.h>

const char *vhu_request_name(uint32_t request)
{
	return vhu_rule_name(VHU_DIR_TO_BACKEND, request);
}

const char *vhu_backend_request_name(uint32_t request)
{
	return vhu_rule_name(VHU_DIR_TO_FRONTEND, request);
}

#define PFN(bit) [VHU_PROTOCOL_F_##bit] = "VHOST_USER_PROTOCOL_F_" #bit

static const char *const protocol_feature_names[VHU_PROTOCOL_F_MAX] = {
	PFN(MQ),
	PFN(LOG_SHMFD),
	PFN(RARP),
	PFN(REPLY_ACK),
	PFN(NET_MTU),
	PFN(BACKEND_REQ),
	PFN(CROSS_ENDIAN),
	PFN(CRYPTO_SESSION),
	PFN(PAGEFAULT),
	PFN(CONFIG),
	PFN(BACKEND_SEND_FD),
	PFN(HOST_NOTIFIER),
	PFN(INFLIGHT_SHMFD),
	PFN(RESET_DEVICE),
	PFN(INBAND_NOTIFICATIONS),
	PFN(CONFIGURE_MEM_SLOTS),
	PFN(STATUS),
	PFN(XEN_MMAP),
	PFN(SHARED_OBJECT),
	PFN(DEVICE_STATE),
	PFN(GET_VRING_BASE_INFLIGHT),
	PFN(GPA_ADDRESSES),
	PFN(SHMEM),
	PFN(GET_VRING_BASE_SKIP_DRAIN),
};
static_assert(ARRAY_SIZE(protocol_feature_names) == VHU_PROTOCOL_F_MAX, "a name per bit");

const char *vhu_protocol_feature_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(protocol_feature_names) ? protocol_feature_names[bit] : NULL;
}

/* Transport and vhost bits: the same for every device type. */
static const char *const transport_names[64] = {
	[24] = "VIRTIO_F_NOTIFY_ON_EMPTY",   [26] = "VHOST_F_LOG_ALL",
	[27] = "VIRTIO_F_ANY_LAYOUT",	     [28] = "VIRTIO_RING_F_INDIRECT_DESC",
	[29] = "VIRTIO_RING_F_EVENT_IDX",    [30] = "VHOST_USER_F_PROTOCOL_FEATURES",
	[32] = "VIRTIO_F_VERSION_1",	     [33] = "VIRTIO_F_ACCESS_PLATFORM",
	[34] = "VIRTIO_F_RING_PACKED",	     [35] = "VIRTIO_F_IN_ORDER",
	[36] = "VIRTIO_F_ORDER_PLATFORM",    [37] = "VIRTIO_F_SR_IOV",
	[38] = "VIRTIO_F_NOTIFICATION_DATA", [39] = "VIRTIO_F_NOTIF_CONFIG_DATA",
	[40] = "VIRTIO_F_RING_RESET",	     [41] = "VIRTIO_F_ADMIN_VQ",
};

static const char *const blk_names[64] = {
	[0] = "VIRTIO_BLK_F_BARRIER",
	[1] = "VIRTIO_BLK_F_SIZE_MAX",
	[2] = "VIRTIO_BLK_F_SEG_MAX",
	[4] = "VIRTIO_BLK_F_GEOMETRY",
	[5] = "VIRTIO_BLK_F_RO",
	[6] = "VIRTIO_BLK_F_BLK_SIZE",
	[7] = "VIRTIO_BLK_F_SCSI",
	[9] = "VIRTIO_BLK_F_FLUSH",
	[10] = "VIRTIO_BLK_F_TOPOLOGY",
	[11] = "VIRTIO_BLK_F_CONFIG_WCE",
	[12] = "VIRTIO_BLK_F_MQ",
	[13] = "VIRTIO_BLK_F_DISCARD",
	[14] = "VIRTIO_BLK_F_WRITE_ZEROES",
	[15] = "VIRTIO_BLK_F_LIFETIME",
	[16] = "VIRTIO_BLK_F_SECURE_ERASE",
	[17] = "VIRTIO_BLK_F_ZONED",
};

static const char *const net_names[64] = {
	[0] = "VIRTIO_NET_F_CSUM",
	[1] = "VIRTIO_NET_F_GUEST_CSUM",
	[2] = "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS",
	[3] = "VIRTIO_NET_F_MTU",
	[5] = "VIRTIO_NET_F_MAC",
	[6] = "VIRTIO_NET_F_GSO",
	[7] = "VIRTIO_NET_F_GUEST_TSO4",
	[8] = "VIRTIO_NET_F_GUEST_TSO6",
	[9] = "VIRTIO_NET_F_GUEST_ECN",
	[10] = "VIRTIO_NET_F_GUEST_UFO",
	[11] = "VIRTIO_NET_F_HOST_TSO4",
	[12] = "VIRTIO_NET_F_HOST_TSO6",
	[13] = "VIRTIO_NET_F_HOST_ECN",
	[14] = "VIRTIO_NET_F_HOST_UFO",
	[15] = "VIRTIO_NET_F_MRG_RXBUF",
	[16] = "VIRTIO_NET_F_STATUS",
	[17] = "VIRTIO_NET_F_CTRL_VQ",
	[18] = "VIRTIO_NET_F_CTRL_RX",
	[19] = "VIRTIO_NET_F_CTRL_VLAN",
	[20] = "VIRTIO_NET_F_CTRL_RX_EXTRA",
	[21] = "VIRTIO_NET_F_GUEST_ANNOUNCE",
	[22] = "VIRTIO_NET_F_MQ",
	[23] = "VIRTIO_NET_F_CTRL_MAC_ADDR",
	[52] = "VIRTIO_NET_F_VQ_NOTF_COAL",
	[53] = "VIRTIO_NET_F_NOTF_COAL",
	[54] = "VIRTIO_NET_F_GUEST_USO4",
	[55] = "VIRTIO_NET_F_GUEST_USO6",
	[56] = "VIRTIO_NET_F_HOST_USO",
	[57] = "VIRTIO_NET_F_HASH_REPORT",
	[59] = "VIRTIO_NET_F_GUEST_HDRLEN",
	[60] = "VIRTIO_NET_F_RSS",
	[61] = "VIRTIO_NET_F_RSC_EXT",
	[62] = "VIRTIO_NET_F_STANDBY",
	[63] = "VIRTIO_NET_F_SPEED_DUPLEX",
};

static const char *const fs_names[64] = {
	[0] = "VIRTIO_FS_F_NOTIFICATION",
};

static const char *const scsi_names[64] = {
	[0] = "VIRTIO_SCSI_F_INOUT",
	[1] = "VIRTIO_SCSI_F_HOTPLUG",
	[2] = "VIRTIO_SCSI_F_CHANGE",
	[3] = "VIRTIO_SCSI_F_T10_PI",
};

static const char *const gpu_names[64] = {
	[0] = "VIRTIO_GPU_F_VIRGL",	    [1] = "VIRTIO_GPU_F_EDID",
	[2] = "VIRTIO_GPU_F_RESOURCE_UUID", [3] = "VIRTIO_GPU_F_RESOURCE_BLOB",
	[4] = "VIRTIO_GPU_F_CONTEXT_INIT",
};

static const char *const vsock_names[64] = {
	[0] = "VIRTIO_VSOCK_F_SEQPACKET",
};

static const char *const console_names[64] = {
	[0] = "VIRTIO_CONSOLE_F_SIZE",
	[1] = "VIRTIO_CONSOLE_F_MULTIPORT",
	[2] = "VIRTIO_CONSOLE_F_EMERG_WRITE",
};

static const struct device_type {
	const char *name;
	uint32_t id;
	const char *const *bits; /* device-specific bit names, or NULL */
} device_types[] = {
	{ "net", VIRTIO_ID_NET, net_names },
	{ "blk", VIRTIO_ID_BLOCK, blk_names },
	{ "console", VIRTIO_ID_CONSOLE, console_names },
	{ "rng", VIRTIO_ID_RNG, NULL },
	{ "balloon", VIRTIO_ID_BALLOON, NULL },
	{ "scsi", VIRTIO_ID_SCSI, scsi_names },
	{ "9p", VIRTIO_ID_9P, NULL },
	{ "gpu", VIRTIO_ID_GPU, gpu_names },
	{ "input", VIRTIO_ID_INPUT, NULL },
	{ "vsock", VIRTIO_ID_VSOCK, vsock_names },
	{ "crypto", VIRTIO_ID_CRYPTO, NULL },
	{ "fs", VIRTIO_ID_FS, fs_names },
	{ "sound", VIRTIO_ID_SOUND, NULL },
	{ "i2c", VIRTIO_ID_I2C_ADAPTER, NULL },
	{ "gpio", VIRTIO_ID_GPIO, NULL },
};

static const struct device_type *type_by_id(uint32_t id)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(device_types); i++)
		if (device_types[i].id == id)
			return &device_types[i];
	return NULL;
}

const char *vhu_feature_name(uint32_t device_id, unsigned int bit)
{
	const struct device_type *type = type_by_id(device_id);

	if (bit >= 64)
		return NULL;
	if (transport_names[bit])
		return transport_names[bit];
	return type && type->bits ? type->bits[bit] : NULL;
}

int vhu_device_type_id(const char *name)
{
	static const struct {
		const char *alias, *name;
	} aliases[] = { { "block", "blk" }, { "virtiofs", "fs" }, { "virtio-fs", "fs" } };

	if (!name)
		return -EINVAL;
	for (unsigned int i = 0; i < ARRAY_SIZE(aliases); i++)
		if (!strcmp(name, aliases[i].alias))
			name = aliases[i].name;
	for (unsigned int i = 0; i < ARRAY_SIZE(device_types); i++)
		if (!strcmp(name, device_types[i].name))
			return (int)device_types[i].id;
	return -EINVAL;
}

const char *vhu_device_type_name(uint32_t device_id)
{
	const struct device_type *type = type_by_id(device_id);

	return type ? type->name : NULL;
}
