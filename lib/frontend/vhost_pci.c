/* SPDX-License-Identifier: MIT */
/*
 * EXPERIMENTAL: the front-end's half of the vhost-pci revision of the spec
 * (never merged upstream; vhu_frontend_config.vhost_pci opts in). With
 * protocol bit 4 negotiated as VHOST_PCI, the back-end may send
 * SET_FEATURES on the main socket after its own device and driver settled
 * on features: "If the feature bits sent by the slave are a subset of the
 * ones that were sent by the master, the master should perform a reset of
 * the master device ..., to re-negotiate the feature bits using the ones
 * sent by the slave."
 *
 * Reading: the spec asks for an asynchronous read of the main socket. The
 * message may come while a reply is awaited (requests.c hands every
 * message without the REPLY flag to vpci_msg) or while nothing is asked
 * (vhu_frontend_poll() reads it). Either way it is only checked and
 * stashed there; the reset and the new setup run in vhu_frontend_poll(),
 * on the caller's thread, which owns the rings (include/vhu/frontend.h).
 * A message that is not a well-formed subset ends the connection: it is
 * a stream we cannot trust to line up, as a malformed reply.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>

#include "common/util.h"
#include "frontend/internal.h"
#include "transport/transport.h"

#define F_PROTOCOL VHU_BIT(VHU_F_PROTOCOL_FEATURES)
#define F_PACKED VHU_BIT(34) /* VIRTIO_F_RING_PACKED */
#define F_ACCESS_PLATFORM VHU_BIT(33)

/* Check the back-end's SET_FEATURES and stash it. Return: 0 or -EPROTO (logged). */
static int vpci_msg(void *opaque, const struct vhu_msg *m)
{
	struct vhu_frontend *fe = opaque;
	uint64_t sent = __atomic_load_n(&fe->vpci_sent, __ATOMIC_ACQUIRE), f = m->payload.u64;
	const char *why = NULL;

	if (m->hdr.request != VHU_REQ_SET_FEATURES)
		why = "is not SET_FEATURES (the only request the back-end may send here)";
	else if (m->hdr.flags != VHU_VERSION)
		why = "has flags other than the version (NEED_REPLY is not answered here)";
	else if (m->hdr.size != sizeof(uint64_t) || m->nfds)
		why = "is not a u64 without fds";
	else if (!sent)
		why = "came before the front-end's SET_FEATURES";
	else if (f & ~sent)
		why = "has bits the front-end did not set";
	else if (!(f & F_PROTOCOL))
		why = "lacks VHOST_USER_F_PROTOCOL_FEATURES";
	else if ((f ^ sent) & F_ACCESS_PLATFORM)
		why = "drops ACCESS_PLATFORM (the IOMMU role is set at connect)";
	if (why) {
		vhu_err(&fe->log,
			"vhost-pci: a message of the back-end's (request %u, size %u, "
			"features 0x%" PRIx64 ", sent 0x%" PRIx64 ") %s",
			m->hdr.request, m->hdr.size, m->hdr.size >= 8 ? f : 0, sent, why);
		return -EPROTO;
	}
	vhu_debug(&fe->log, "vhost-pci: the back-end asks for features 0x%" PRIx64, f);
	__atomic_store_n(&fe->vpci_pending, f, __ATOMIC_RELEASE); /* the latest wins */
	return 0;
}

void vhu_fe_vpci_init(struct vhu_frontend *fe)
{
	__atomic_store_n(&fe->vpci_sent, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&fe->vpci_pending, 0, __ATOMIC_RELEASE);
	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_VHOST_PCI)))
		return;
	vhu_warn(&fe->log, "vhost-pci negotiated (EXPERIMENTAL: protocol bit 4 is not NET_MTU "
			   "here)");
	fe->ch.opaque = fe;
	fe->ch.unsolicited = vpci_msg;
}

void vhu_fe_vpci_ring_sizes(const struct vhu_frontend *fe, bool packed, uint16_t num,
			    uint64_t *desc, uint64_t *avail, uint64_t *used)
{
	uint64_t d, a, u;

	vhu_fe_ring_sizes(packed, num, desc, avail, used);
	if (!fe->cfg.vhost_pci || !packed)
		return;
	/* a packed ring may become split: room for both */
	vhu_fe_ring_sizes(false, num, &d, &a, &u);
	*desc = VHU_MAX(*desc, d);
	*avail = VHU_MAX(*avail, a);
	*used = VHU_MAX(*used, u);
}

/* Wait for a message, then read it (the channel thread's IOMMU requests share the socket). */
static int vpci_read(struct vhu_frontend *fe, int timeout_ms)
{
	struct pollfd pfd = { .fd = fe->sock, .events = POLLIN };
	struct vhu_msg msg;
	int ret;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (fe->ch.lock)
		pthread_mutex_lock(fe->ch.lock);
	/* again under the lock: what woke us may have been a reply it took */
	pfd.revents = 0;
	ret = poll(&pfd, 1, 0) > 0 ? vhu_msg_recv(fe->sock, &msg) : 1;
	if (ret == 0 || ret == -EBADMSG) {
		ret = ret == 0 && !(msg.hdr.flags & VHU_FLAG_REPLY) ? vpci_msg(fe, &msg) : -EPROTO;
		vhu_msg_close_fds(&msg);
		if (ret < 0)
			ret = vhu_fe_broken(&fe->ch, "the back-end sent a message that is refused");
	} else if (ret < 0 && ret != -ECONNRESET) {
		ret = vhu_fe_broken(&fe->ch, "the back-end's message cannot be read");
	}
	if (fe->ch.lock)
		pthread_mutex_unlock(fe->ch.lock);
	return ret < 0 ? vhu_fe_req_done(fe, VHU_REQ_SET_FEATURES, ret) : 0;
}

/* The spec's "reset of the master device ... using the ones sent by the slave". */
static int vpci_apply(struct vhu_frontend *fe, uint64_t f)
{
	bool started = fe->started;
	int ret;

	vhu_info(&fe->log,
		 "vhost-pci: the back-end narrowed the features 0x%" PRIx64 " to 0x%" PRIx64
		 ": resetting the device",
		 fe->features, (uint64_t)(f & ~F_PROTOCOL));
	ret = vhu_frontend_reset(fe);
	if (ret < 0)
		return ret;
	fe->features = f & ~F_PROTOCOL;
	if (started) {
		ret = vhu_frontend_start(fe);
		if (ret < 0)
			return ret;
	} else {
		__atomic_store_n(&fe->vpci_sent, f, __ATOMIC_RELEASE); /* what start will send */
	}
	if (fe->cfg.features_changed)
		fe->cfg.features_changed(fe->cfg.opaque, f);
	return 1;
}

VHU_API int vhu_frontend_poll(struct vhu_frontend *fe, int timeout_ms)
{
	uint64_t f;
	int ret;

	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_VHOST_PCI)))
		return -ENOTSUP;
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	if (!__atomic_load_n(&fe->vpci_pending, __ATOMIC_ACQUIRE)) {
		ret = vpci_read(fe, timeout_ms);
		if (ret < 0)
			return ret;
	}
	f = __atomic_exchange_n(&fe->vpci_pending, 0, __ATOMIC_ACQ_REL);
	if (!f)
		return 0;
	if (f == (__atomic_load_n(&fe->vpci_sent, __ATOMIC_ACQUIRE))) {
		vhu_debug(&fe->log, "vhost-pci: features 0x%" PRIx64 " already set", f);
		return 0;
	}
	return vpci_apply(fe, f);
}
