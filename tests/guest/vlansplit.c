/* SPDX-License-Identifier: MIT */
/*
 * vlansplit - the far end of an 802.1Q trunk, for tests on a host whose
 * kernel has no VLAN devices (no 8021q, no VLAN-filtering bridge).
 *
 *   vlansplit TRUNK VID=IFNAME...
 *
 * Frames the kernel receives on TRUNK (a TAP that vhu-net writes tagged
 * frames to) go out of IFNAME for their VID, untagged; frames received on
 * an IFNAME go out of TRUNK tagged with its VID. Untagged frames on TRUNK
 * and VIDs not listed are dropped. IFNAME is one end of a veth pair whose
 * other end holds the host's address in that VLAN, so the kernel's own
 * stack (ARP, ICMP, TCP) answers the guests.
 *
 * AF_PACKET sockets with PACKET_VNET_HDR: checksum and GSO offloads cross
 * as virtio-net headers, their offsets moved with the tag. The kernel
 * takes a received tag off into the packet's metadata (PACKET_AUXDATA);
 * one still in the frame is taken off here. Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_VLANS 8
#define HDR sizeof(struct virtio_net_hdr)
#define BUF (HDR + 65536 + 64)

static int open_if(const char *name)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	sa.sll_ifindex = (int)if_nametoindex(name);
	if (fd < 0 || sa.sll_ifindex == 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vlansplit: %s: %s\n", name, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Move the header's offsets by @d bytes (a tag put in or taken out). */
static void shift(uint8_t *buf, int d)
{
	struct virtio_net_hdr h;

	memcpy(&h, buf, HDR);
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		h.csum_start = (uint16_t)(h.csum_start + d);
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		h.hdr_len = (uint16_t)(h.hdr_len + d);
	memcpy(buf, &h, HDR);
}

/*
 * Read one packet: its length (header included), 0 to ignore it, -1 when
 * there is none; its VID in *@vid if tagged (the tag taken off), else -1.
 */
static ssize_t rd(int fd, uint8_t *buf, int *vid)
{
	char cbuf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	struct sockaddr_ll from;
	struct iovec iov = { buf, BUF };
	struct msghdr m = { .msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

	*vid = -1;
	if (n < 0)
		return -1;
	if (n < (ssize_t)(HDR + 14) || from.sll_pkttype == PACKET_OUTGOING)
		return 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		struct tpacket_auxdata a;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&a, CMSG_DATA(c), sizeof(a));
		if (a.tp_status & TP_STATUS_VLAN_VALID)
			*vid = a.tp_vlan_tci & 0xfff;
	}
	if (*vid < 0 && n >= (ssize_t)(HDR + 18) && buf[HDR + 12] == 0x81 && buf[HDR + 13] == 0) {
		*vid = (buf[HDR + 14] << 8 | buf[HDR + 15]) & 0xfff;
		memmove(buf + HDR + 12, buf + HDR + 16, (size_t)n - HDR - 16);
		shift(buf, -4);
		n -= 4;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[1 + MAX_VLANS];
	int vids[MAX_VLANS], nv = argc - 2;
	uint8_t *buf = malloc(BUF);

	if (argc < 3 || nv > MAX_VLANS || !buf) {
		fprintf(stderr, "usage: vlansplit TRUNK VID=IFNAME...\n");
		return 1;
	}
	pfd[0] = (struct pollfd){ .fd = open_if(argv[1]), .events = POLLIN };
	for (int i = 0; i < nv; i++) {
		char *eq = strchr(argv[2 + i], '=');

		if (!eq)
			return 1;
		vids[i] = atoi(argv[2 + i]);
		pfd[1 + i] = (struct pollfd){ .fd = open_if(eq + 1), .events = POLLIN };
	}
	for (;;) {
		int vid;
		ssize_t n;

		if (poll(pfd, (nfds_t)(1 + nv), -1) < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN) {
			while ((n = rd(pfd[0].fd, buf, &vid)) >= 0)
				for (int i = 0; n > 0 && i < nv; i++)
					if (vids[i] == vid &&
					    send(pfd[1 + i].fd, buf, (size_t)n, 0) < 0)
						perror("vlansplit: to access");
		}
		for (int i = 0; i < nv; i++) {
			if (!(pfd[1 + i].revents & POLLIN))
				continue;
			while ((n = rd(pfd[1 + i].fd, buf, &vid)) >= 0) {
				if (n == 0 || vid >= 0)
					continue; /* ours, or tagged where it should not be */
				memmove(buf + HDR + 16, buf + HDR + 12, (size_t)n - HDR - 12);
				buf[HDR + 12] = 0x81;
				buf[HDR + 13] = 0;
				buf[HDR + 14] = (uint8_t)(vids[i] >> 8);
				buf[HDR + 15] = (uint8_t)vids[i];
				shift(buf, 4);
				if (send(pfd[0].fd, buf, (size_t)n + 4, 0) < 0)
					perror("vlansplit: to trunk");
			}
		}
	}
}
