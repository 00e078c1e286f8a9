/* SPDX-License-Identifier: MIT */
/*
 * EXPERIMENTAL: the back-end's half of the vhost-pci revision of the spec
 * (never merged upstream; config.vhost_pci opts in). Protocol bit 4 is
 * offered as VHOST_PCI instead of NET_MTU, and once the front-end set its
 * features the device may send SET_FEATURES (id 2, u64) on the main
 * socket: the features it and its driver settled on, a subset of the
 * front-end's. The front-end then resets the device and sets them.
 *
 * Interleaving: the main socket carries the front-end's requests and our
 * replies. A SET_FEATURES of ours never goes out between a request we are
 * handling and its reply (a front-end reading a reply would find it
 * first): while the control thread handles one (vpci.busy) it is queued
 * and sent right after the reply. Requests the front-end sends meanwhile
 * are unavoidable (they may be on the wire already); the spec asks the
 * front-end to read asynchronously, so it takes our message wherever it
 * comes. vpci.lock is held only for the flag flips and the one send, never
 * while the control thread waits for a worker: an op on a worker thread
 * may call vhu_backend_send_features() while its queue is being paused.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

#define F_PROTOCOL VHU_BIT(VHU_F_PROTOCOL_FEATURES)

void vhu_be_vpci_protocol(struct vhu_backend *be, uint64_t protocol_features)
{
	if (!be->config.vhost_pci)
		return;
	vhu_lock_acquire(&be->vpci.lock);
	be->vpci.fd = (protocol_features & VHU_BIT(VHU_PROTOCOL_F_VHOST_PCI)) ? be->conn_fd : -1;
	vhu_lock_release(&be->vpci.lock);
}

void vhu_be_vpci_features(struct vhu_backend *be, uint64_t features)
{
	if (!be->config.vhost_pci)
		return;
	vhu_lock_acquire(&be->vpci.lock);
	be->vpci.acked = features;
	be->vpci.acked_set = true;
	vhu_lock_release(&be->vpci.lock);
}

/* RESET_DEVICE (the features are gone) or a disconnect (@gone: the socket too). */
void vhu_be_vpci_reset(struct vhu_backend *be, bool gone)
{
	vhu_lock_acquire(&be->vpci.lock);
	be->vpci.acked_set = false;
	be->vpci.pending = false;
	if (gone)
		be->vpci.fd = -1;
	vhu_lock_release(&be->vpci.lock);
}

static int vpci_send(struct vhu_backend *be, uint64_t features) VHU_REQUIRES(be->vpci.lock)
{
	struct vhu_msg msg;
	int ret;

	/* a request of ours: no REPLY flag, and no NEED_REPLY (nobody would answer it) */
	vhu_msg_init(&msg, VHU_REQ_SET_FEATURES, 0, sizeof(uint64_t));
	msg.payload.u64 = features;
	ret = vhu_msg_send(be->vpci.fd, &msg);
	if (ret < 0)
		vhu_warn(&be->log, "vhost-pci: SET_FEATURES 0x%" PRIx64 " not sent: %s", features,
			 strerror(-ret));
	else
		vhu_info(&be->log, "vhost-pci: SET_FEATURES 0x%" PRIx64 " sent to the front-end",
			 features);
	return ret;
}

void vhu_be_vpci_busy(struct vhu_backend *be)
{
	if (!be->config.vhost_pci)
		return;
	vhu_lock_acquire(&be->vpci.lock);
	be->vpci.busy = true;
	vhu_lock_release(&be->vpci.lock);
}

void vhu_be_vpci_idle(struct vhu_backend *be, bool send)
{
	if (!be->config.vhost_pci)
		return;
	vhu_lock_acquire(&be->vpci.lock);
	be->vpci.busy = false;
	if (send && be->vpci.pending && be->vpci.fd >= 0 && be->vpci.acked_set)
		(void)vpci_send(be, be->vpci.queued);
	be->vpci.pending = false;
	vhu_lock_release(&be->vpci.lock);
}

VHU_API int vhu_backend_send_features(struct vhu_backend *be, uint64_t features)
{
	int ret = 0;

	if (!be->config.vhost_pci)
		return -ENOTSUP;
	vhu_lock_acquire(&be->vpci.lock);
	if (be->vpci.fd < 0)
		ret = be->vpci.acked_set ? -ENOTSUP : -EAGAIN;
	else if (!be->vpci.acked_set)
		ret = -EAGAIN;
	else if ((features & ~be->vpci.acked) || !(features & F_PROTOCOL))
		ret = -EINVAL;
	else if (be->vpci.busy) {
		be->vpci.queued = features;
		be->vpci.pending = true;
	} else {
		ret = vpci_send(be, features);
	}
	vhu_lock_release(&be->vpci.lock);
	return ret;
}
