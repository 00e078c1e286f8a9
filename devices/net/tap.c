/* SPDX-License-Identifier: MIT */
/*
 * The host uplink: a TAP device with a 12-byte virtio-net header on every
 * frame (IFF_VNET_HDR, TUNSETVNETHDRSZ), so offloads cross it as they
 * cross a virtio port. With offloads on (the default) the kernel takes
 * NEEDS_CSUM and GSO frames from us (it finishes them itself) and hands us
 * its own (TUNSETOFFLOAD); with --tap-offload=off it gets only finished
 * frames, and the switch computes checksums and segments in software.
 *
 * Frames to the TAP are written with writev straight from the sender's
 * buffers (no copy of ours). Frames from it are read by one thread, a
 * burst at a time, into buffers allocated once, and forwarded like a
 * port's TX burst.
 *
 * A trunk TAP (trunks=, policy.h) carries VLANs tagged. A tagged frame
 * read from it loses its tag in our buffer (the header and MACs move up 4
 * bytes) and is switched in that VLAN; one of a VLAN it does not carry is
 * dropped (rx_drop_vlan). On the way out a frame of a VLAN other than the
 * TAP's own (native) gets its tag back: the MACs and the tag are a prefix
 * of ours, the rest is still the sender's buffer. Offsets in the
 * virtio-net header move with the tag (csum_start, hdr_len).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "net.h"
#include <vhu/protocol.h>

#define TAP_BUF_SIZE (NET_HDR_SIZE + NET_FRAME_MAX)

struct tap_thread {
	pthread_t thread;
	int stop_fd;
	struct net_port *port;
	uint8_t *bufs; /* NET_BURST * TAP_BUF_SIZE */
	struct iovec iov[NET_BURST];
	struct net_pkt pkts[NET_BURST];
	struct net_ctx ctx;
};

static struct tap_thread *tap_thread; /* one TAP per process */

static int tap_up(const char *ifname)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			ret = -errno;
	}
	close(s);
	return ret;
}

int net_tap_open(struct net_port *p, const char *ifname, bool offload)
{
	unsigned int offloads = offload ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;
	int hdr_size = NET_HDR_SIZE, fd, ret;
	struct ifreq ifr;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	/* creates the device when it does not exist (gone again when we close it) */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
		ret = -errno;
		goto err;
	}
	ret = tap_up(ifname);
	if (ret < 0)
		goto err;
	p->tap_fd = fd;
	p->kind = NET_PORT_TAP;
	/* what the kernel accepts from us, as if a guest had negotiated it */
	p->features = VHU_BIT(VIRTIO_F_VERSION_1);
	if (offload)
		p->features |= VHU_BIT(VIRTIO_NET_F_GUEST_CSUM) | VHU_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			       VHU_BIT(VIRTIO_NET_F_GUEST_TSO6) | VHU_BIT(VIRTIO_NET_F_GUEST_ECN);
	return 0;
err:
	close(fd);
	return ret;
}

/* Where tap_emit() writes: the TAP, and the 802.1Q tag to add (0: none). */
struct tap_out {
	const struct net_port *port;
	uint16_t vid;
};

/* @src with an 802.1Q tag of @vid after the MACs, its prefix in @pre (NET_HEAD_MAX + 4). */
static void tag_src(const struct net_src *src, uint16_t vid, uint8_t *pre, struct net_src *out)
{
	const uint8_t tag[4] = { NET_ETHERTYPE_VLAN >> 8, NET_ETHERTYPE_VLAN & 0xff,
				 (uint8_t)(vid >> 8), (uint8_t)vid };

	*out = *src;
	if (src->pre_len >= 12) {
		memcpy(pre, src->pre, 12);
		memcpy(pre + 16, src->pre + 12, src->pre_len - 12);
		out->pre_len = src->pre_len + 4;
	} else {
		if (src->pre_len) /* a plain frame has no prefix (pre NULL) */
			memcpy(pre, src->pre, src->pre_len);
		net_iov_read(src->iov, src->niov, src->off, pre + src->pre_len, 12 - src->pre_len);
		out->off = src->off + 12 - src->pre_len;
		out->pre_len = 16;
	}
	memcpy(pre + 12, tag, 4);
	out->pre = pre;
	out->len = src->len + 4;
}

static int tap_emit(void *arg, const struct net_hdr *oh, const struct net_src *src,
		    struct net_ctx *ctx)
{
	const struct tap_out *to = arg;
	const struct net_port *p = to->port;
	uint8_t hb[NET_HDR_SIZE], pre[NET_HEAD_MAX + 4];
	struct net_hdr th;
	struct net_src tagged;
	int n;
	ssize_t w;

	if (to->vid) {
		th = *oh;
		if (th.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			th.csum_start = (uint16_t)(th.csum_start + 4);
		if (th.gso_type != VIRTIO_NET_HDR_GSO_NONE)
			th.hdr_len = (uint16_t)(th.hdr_len + 4);
		oh = &th;
		tag_src(src, to->vid, pre, &tagged);
		src = &tagged;
	}
	net_hdr_write(oh, hb, NET_HDR_SIZE);
	ctx->wiov[0] = (struct iovec){ hb, NET_HDR_SIZE };
	n = net_src_iovec(src, ctx->wiov + 1, NET_REQ_IOV + 1);
	if (n < 0)
		return -EMSGSIZE;
	/* writev to a tap is one frame, all or nothing */
	do
		w = writev(p->tap_fd, ctx->wiov, n + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EAGAIN || errno == ENOBUFS ? -ENOBUFS : -errno;
	return 0;
}

void net_tap_deliver(struct net_port *p, struct net_pkt *pkts, const uint8_t *idx, unsigned int n,
		     struct net_ctx *ctx)
{
	struct net_tally t;
	struct tap_out to = { .port = p };

	memset(&t, 0, sizeof(t));
	for (unsigned int i = 0; i < n; i++) {
		unsigned int vlan = pkts[idx[i]].vlan;

		/* a trunk's native VLAN leaves untagged, as it came in */
		to.vid = vlan == p->vlan ? 0 : p->sw->vlan_vid[vlan];
		net_pkt_emit(p->features, &pkts[idx[i]], ctx, tap_emit, &to, &t);
	}
	net_tally_flush(p, &t);
}

/*
 * A frame of @size bytes (header included) read from trunk @p into @buf:
 * take its 802.1Q tag off, moving the header and MACs up 4 bytes. Return:
 * the VLAN key it belongs to (its tag's, or @p's own when untagged), -1
 * when its tag is of a VLAN @p does not carry (drop it), and in *@off the
 * bytes the frame now starts later.
 */
static int tap_untag(const struct net_port *p, uint8_t *buf, size_t size, size_t *off)
{
	const size_t h = NET_HDR_SIZE;
	uint16_t vid;
	struct net_hdr hdr;

	*off = 0;
	if (size < h + NET_ETH_HLEN + 4 || (buf[h + 12] << 8 | buf[h + 13]) != NET_ETHERTYPE_VLAN)
		return p->vlan;
	vid = (uint16_t)((buf[h + 14] << 8 | buf[h + 15]) & 0xfff);
	if (vid == 0 || !net_policy_trunks(&p->pol, vid))
		return -1; /* priority tags too: the kernel side tags only VLANs */
	net_hdr_read(&hdr, buf, NET_HDR_SIZE);
	if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		hdr.csum_start = (uint16_t)(hdr.csum_start >= 16 ? hdr.csum_start - 4 : 0);
	if (hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		hdr.hdr_len = (uint16_t)(hdr.hdr_len >= 16 ? hdr.hdr_len - 4 : 0);
	memmove(buf + 4 + h, buf + h, 12);
	net_hdr_write(&hdr, buf + 4, NET_HDR_SIZE);
	*off = 4;
	return p->sw->vlan_key[vid];
}

int net_tap_ingress(struct net_port *p, uint8_t *buf, size_t size, struct iovec *iov,
		    struct net_pkt *pkt)
{
	size_t off = 0;
	int vlan = 0, drop;

	if (p->pol.trunk && (vlan = tap_untag(p, buf, size, &off)) < 0) {
		net_count(p, NET_RX_DROP_VLAN, 1);
		return NET_RX_DROP_VLAN;
	}
	*iov = (struct iovec){ buf + off, size - off };
	drop = net_pkt_prepare(p, pkt, NET_HDR_SIZE, iov, 1, size - off);

	if (drop == 0 && p->pol.trunk)
		pkt->vlan = (uint16_t)vlan;
	return drop;
}

/* Read up to a burst of frames; forward them. Return: false when the TAP failed. */
static bool tap_burst(struct tap_thread *tt)
{
	struct net_port *p = tt->port;
	unsigned int n = 0, k = 0;

	while (n < NET_BURST) {
		uint8_t *buf = tt->bufs + (size_t)n * TAP_BUF_SIZE;
		ssize_t r = read(p->tap_fd, buf, TAP_BUF_SIZE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0)
			return false;
		n++;
		if (net_tap_ingress(p, buf, (size_t)r, &tt->iov[k], &tt->pkts[k]) == 0)
			k++;
	}
	if (k)
		net_switch_forward(p->sw, p, tt->pkts, k, &tt->ctx);
	return true;
}

static void *tap_main(void *arg)
{
	struct tap_thread *tt = arg;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = tt->port->tap_fd, .events = POLLIN },
			{ .fd = tt->stop_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if ((pfd[0].revents & POLLIN) && !tap_burst(tt))
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
	}
	return NULL;
}

int net_tap_start(struct net_port *p)
{
	struct tap_thread *tt = calloc(1, sizeof(*tt));
	int ret = -ENOMEM;

	if (!tt)
		return -ENOMEM;
	tt->port = p;
	tt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	tt->bufs = malloc((size_t)NET_BURST * TAP_BUF_SIZE);
	if (tt->stop_fd < 0 || !tt->bufs || net_ctx_init(&tt->ctx) < 0)
		goto err;
	ret = -pthread_create(&tt->thread, NULL, tap_main, tt);
	if (ret < 0)
		goto err;
	tap_thread = tt;
	return 0;
err:
	if (tt->stop_fd >= 0)
		close(tt->stop_fd);
	free(tt->bufs);
	net_ctx_fini(&tt->ctx);
	free(tt);
	return ret;
}

void net_tap_stop(struct net_port *p)
{
	struct tap_thread *tt = tap_thread;

	if (tt) {
		(void)eventfd_write(tt->stop_fd, 1);
		pthread_join(tt->thread, NULL);
		close(tt->stop_fd);
		free(tt->bufs);
		net_ctx_fini(&tt->ctx);
		free(tt);
		tap_thread = NULL;
	}
	if (p->tap_fd >= 0) {
		close(p->tap_fd);
		p->tap_fd = -1;
	}
}
