/* SPDX-License-Identifier: MIT */
/*
 * vhu-net's VLAN handling (issue 23): frames from fuzzer bytes go through
 * the switch's own ingress (net_tap_ingress() for the TAP, which takes a
 * trunk's 802.1Q tag off, and net_pkt_prepare() for a guest's TX chain),
 * then net_switch_forward() (learning, lookup, VLAN membership) and the
 * TAP egress, which tags again (tap.c). Every port of the switch here is a
 * TAP whose fd is one end of a datagram socketpair, so what leaves each
 * port is read back and checked against an independent model:
 *
 * - a frame is accepted only if the model says it may be: a tag on an
 *   access port (802.1Q, 802.1ad 0x88a8, 0x9100), a trunk frame of a VID it
 *   does not carry (VID 0 priority tags and 4095 included), a second tag
 *   behind a trunk's, a spoofed source are all dropped;
 * - it gets the VLAN the model gives it (its access port's, its tag's, or
 *   the trunk's native one);
 * - it leaves only ports of that VLAN, never the port it came in on: an
 *   access port untagged, the trunk tagged with exactly that VID (untagged
 *   for the native VLAN), never with a second tag;
 * - its bytes and length are the sender's (offloaded frames, completed or
 *   segmented in software: the same addresses and type, no longer).
 *
 * Every guest buffer and every TAP read is a heap copy of exactly its
 * size: ASan sees a read past a frame or a tag.
 *
 * Input: 3 bytes of configuration, then bursts.
 *   byte 0: bit 0 VLANs configured (else one untagged domain, tags pass as
 *           they are), bit 1 the TAP takes offloads, bit 2 the access ports
 *           do, bit 3 port 3 may send only from 02:00:00:00:00:03
 *   byte 1: bits 0-1 the TAP's native VLAN (0, 10, 20, 30), bits 2-5 the
 *           VLANs it carries tagged (10, 20, 30, 4094)
 *   byte 2: 2 bits per port 1..3, its access VLAN (0, 10, 20, 4094)
 *   burst:  byte in-port (mod 4), byte frames (1..8), then per frame a
 *           control byte (bit 0: 10-byte virtio-net header on a guest port;
 *           bits 1-7: where its chain is cut into buffers), a 16-bit
 *           little-endian length and that many bytes (header first).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include "net/net.h"
#include <vhu/protocol.h>

#define NPORTS 4u
#define MAX_FRAMES 8u
#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_vlan: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                              \
		}                                                                             \
	} while (0)

static const uint16_t vids[4] = { 0, 10, 20, 4094 };
static const uint16_t natives[4] = { 0, 10, 20, 30 };
static const uint16_t trunk_vids[4] = { 10, 20, 30, 4094 };
static const uint8_t spoof_mac[6] = { 2, 0, 0, 0, 0, 3 };

static struct net_switch sw;
static struct net_port ports[NPORTS];
static int peer[NPORTS] = { -1, -1, -1, -1 }; /* our end of each port's socketpair */
static struct net_ctx ctx;
static uint8_t *out_buf;

/* One frame the switch accepted, as the model sees it. */
struct sent {
	uint8_t *frame; /* its bytes after ingress (a trunk's tag taken off) */
	uint32_t len;
	uint16_t vid;  /* its VLAN, 0: the untagged domain */
	bool plain;    /* no offload asked for: it leaves byte for byte */
	bool gso;      /* may leave in segments, each no longer than it */
	uint32_t csum; /* NEEDS_CSUM: where the checksum goes (it may be filled in) */
};

/* Whether @g (@glen bytes) is @s, but for the 2 bytes of its checksum. */
static bool same_but_csum(const uint8_t *g, size_t glen, const struct sent *s)
{
	if (glen != s->len)
		return false;
	for (size_t i = 0; i < glen; i++)
		if (g[i] != s->frame[i] && (i < s->csum || i >= (size_t)s->csum + 2))
			return false;
	return true;
}

static bool is_tag(const uint8_t *type)
{
	unsigned int t = (unsigned int)type[0] << 8 | type[1];

	return t == 0x8100u || t == 0x88a8u || t == 0x9100u;
}

static bool trunk_of(const struct net_port *p)
{
	return sw.vlans && p->pol.trunk;
}

static void setup_once(void)
{
	if (out_buf)
		return;
	out_buf = malloc(NET_HDR_SIZE + NET_FRAME_MAX + 64);
	CHECK(out_buf && net_ctx_init(&ctx) == 0);
	for (unsigned int i = 0; i < NPORTS; i++) {
		int sv[2], big = 4 << 20;

		CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		ports[i].tap_fd = sv[0];
		peer[i] = sv[1];
	}
}

/* The switch and its ports as byte 0..2 say; 0, or -1 for a config it refuses. */
static int configure(const uint8_t *cfg)
{
	static const char *const names[NPORTS] = { "tap", "p1", "p2", "p3" };
	uint64_t offload = VHU_BIT(VIRTIO_NET_F_GUEST_CSUM) | VHU_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			   VHU_BIT(VIRTIO_NET_F_GUEST_TSO6) | VHU_BIT(VIRTIO_NET_F_GUEST_ECN);

	_Static_assert(offsetof(struct net_switch, fdb) == 0, "the table comes first");
	memset((uint8_t *)&sw + sizeof(sw.fdb), 0, sizeof(sw) - sizeof(sw.fdb));
	fdb_init(&sw.fdb, 300);
	sw.mtu = NET_MTU_DEFAULT;
	sw.vlans = cfg[0] & 1;
	sw.nports = NPORTS;
	for (unsigned int i = 0; i < NPORTS; i++) {
		struct net_port *p = &ports[i];
		int fd = p->tap_fd;
		struct net_policy pol;

		memset(p, 0, sizeof(*p));
		*p = (struct net_port){ .sw = &sw,
					.id = i,
					.kind = NET_PORT_TAP,
					.name = names[i],
					.mtu = NET_MTU_DEFAULT,
					.tap_fd = fd };
		p->features = VHU_BIT(VIRTIO_F_VERSION_1);
		if (cfg[0] & (i == 0 ? 2 : 4))
			p->features |= offload;
		memset(&pol, 0, sizeof(pol));
		if (sw.vlans && i == 0) {
			pol.vlan = natives[cfg[1] & 3];
			for (unsigned int b = 0; b < 4; b++)
				if (cfg[1] >> (2 + b) & 1) {
					pol.trunk = true;
					pol.trunks[trunk_vids[b] / 64] |= 1ull
									  << (trunk_vids[b] % 64);
				}
		} else if (sw.vlans) {
			pol.vlan = vids[cfg[2] >> (2 * (i - 1)) & 3];
		}
		if (i == 3 && (cfg[0] & 8)) {
			pol.nmacs = 1;
			memcpy(pol.macs[0], spoof_mac, 6);
		}
		if (net_port_set_policy(p, &pol) < 0)
			return -1;
		sw.ports[i] = p;
	}
	return 0;
}

/*
 * The model: whether a frame of @len bytes at @raw (header of @hdr_size
 * first) sent into @in must be dropped for its tags or its source, else
 * its VLAN in *@vid.
 */
static bool must_drop(const struct net_port *in, const uint8_t *raw, size_t len,
		      unsigned int hdr_size, uint16_t *vid)
{
	const uint8_t *f = raw + hdr_size;
	size_t flen = len - hdr_size;

	*vid = 0;
	if (in->pol.nmacs && memcmp(f + 6, in->pol.macs[0], 6) != 0)
		return true;
	if (!sw.vlans)
		return false;
	*vid = in->pol.vlan;
	if (trunk_of(in) && f[12] == 0x81 && f[13] == 0x00 && flen >= NET_ETH_HLEN + 4) {
		*vid = (uint16_t)((f[14] << 8 | f[15]) & 0xfff);
		return !net_policy_trunks(&in->pol, *vid) || is_tag(f + 16);
	}
	return is_tag(f + 12);
}

/* Whether frames of VLAN @vid leave @o, and with which tag (0: none). */
static bool leaves(const struct net_port *o, uint16_t vid, uint16_t *tag)
{
	*tag = 0;
	if (!sw.vlans)
		return true;
	if (vid == o->pol.vlan)
		return true;
	*tag = vid;
	return trunk_of(o) && net_policy_trunks(&o->pol, vid);
}

/* One frame read from port @o: one of @sent[0, @n) from another port, as the model says. */
static void check_out(unsigned int o, const uint8_t *d, size_t dlen, unsigned int in,
		      const struct sent *sent, unsigned int n)
{
	static uint8_t untagged[NET_FRAME_MAX + 4];
	const struct net_port *op = &ports[o];
	const uint8_t *g = d + NET_HDR_SIZE;
	size_t glen;
	uint16_t tag = 0;

	CHECK(o != in); /* never back out of the port it came in on */
	CHECK(dlen >= NET_HDR_SIZE + NET_ETH_HLEN);
	glen = dlen - NET_HDR_SIZE;
	if (trunk_of(op) && g[12] == 0x81 && g[13] == 0x00) {
		CHECK(glen >= NET_ETH_HLEN + 4);
		tag = (uint16_t)(g[14] << 8 | g[15]);
		CHECK(tag >= 1 && tag <= NET_VID_MAX); /* a VID, priority bits clear */
		/* the addresses, then what followed the tag */
		memcpy(untagged, g, 12);
		memcpy(untagged + 12, g + 16, glen - 16);
		g = untagged;
		glen -= 4;
	}
	if (sw.vlans)
		CHECK(!is_tag(g + 12)); /* never a tag the switch did not put there */
	for (unsigned int i = 0; i < n; i++) {
		const struct sent *s = &sent[i];
		uint16_t want;

		if (!leaves(op, s->vid, &want) || want != tag)
			continue;
		if (s->gso && glen <= s->len && memcmp(g, s->frame, 14) == 0)
			return; /* a segment: its own IP and TCP headers */
		if (!s->plain && !s->gso && same_but_csum(g, glen, s))
			return;
		if (s->plain && glen == s->len && memcmp(g, s->frame, glen) == 0) {
			/* nothing to finish: no offload left in its header either */
			CHECK(!(d[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && d[1] == 0);
			return;
		}
	}
	fprintf(stderr,
		"fuzz_vlan: port %u sent a frame of %zu bytes (tag %u) from port %u "
		"that no accepted frame explains\n",
		o, glen, tag, in);
	abort();
}

/* Drain every port's socket; each frame must be explained. */
static void check_outputs(unsigned int in, const struct sent *sent, unsigned int n)
{
	for (unsigned int o = 0; o < NPORTS; o++) {
		ssize_t r;

		while ((r = recv(peer[o], out_buf, NET_HDR_SIZE + NET_FRAME_MAX + 64, 0)) >= 0)
			check_out(o, out_buf, (size_t)r, in, sent, n);
		CHECK(errno == EAGAIN);
	}
}

/* The guest's TX chain of @raw cut into up to 3 heap buffers of exactly their size. */
static unsigned int cut_chain(const uint8_t *raw, size_t len, uint8_t ctl, struct iovec *iov)
{
	size_t b[4], n = 0;

	b[0] = 0;
	b[1] = (size_t)(ctl >> 1 & 7) * 3;
	b[2] = b[1] + (size_t)(ctl >> 4 & 15) * 5;
	b[3] = len;
	for (unsigned int k = 1; k < 3; k++)
		b[k] = b[k] < len ? b[k] : len;
	for (unsigned int k = 0; k < 3; k++) {
		if (b[k + 1] <= b[k])
			continue;
		iov[n].iov_base = malloc(b[k + 1] - b[k]);
		CHECK(iov[n].iov_base);
		memcpy(iov[n].iov_base, raw + b[k], b[k + 1] - b[k]);
		iov[n].iov_len = b[k + 1] - b[k];
		n++;
	}
	return (unsigned int)n;
}

struct frame_in {
	struct iovec iov[3];
	unsigned int niov;
	uint8_t *tapbuf;
};

/* One burst into port @in; return the bytes of @data it took, 0 at the end. */
static size_t burst(const uint8_t *data, size_t size)
{
	struct net_pkt pkts[MAX_FRAMES];
	struct sent sent[MAX_FRAMES];
	struct frame_in fi[MAX_FRAMES];
	unsigned int in, want, k = 0, nf = 0;
	size_t pos = 2;

	if (size < 2)
		return 0;
	in = data[0] % NPORTS;
	want = data[1] % MAX_FRAMES + 1;
	memset(fi, 0, sizeof(fi));
	while (nf < want && pos + 3 <= size) {
		uint8_t ctl = data[pos];
		size_t len = (size_t)(data[pos + 1] | data[pos + 2] << 8);
		const uint8_t *raw = data + pos + 3;
		struct net_port *p = &ports[in];
		unsigned int hdr_size = in == 0 || !(ctl & 1) ? NET_HDR_SIZE : NET_HDR_LEGACY_SIZE;
		struct frame_in *f = &fi[nf++];
		uint16_t vid = 0;
		bool drop;
		int ret;

		if (len > size - pos - 3)
			len = size - pos - 3;
		pos += 3 + len;
		drop = len < hdr_size + NET_ETH_HLEN || must_drop(p, raw, len, hdr_size, &vid);
		if (in == 0) {
			/* what read() put in the TAP thread's buffer; it is untagged in place */
			f->tapbuf = malloc(len ? len : 1);
			CHECK(f->tapbuf);
			memcpy(f->tapbuf, raw, len);
			f->niov = 1;
			ret = net_tap_ingress(p, f->tapbuf, len, &f->iov[0], &pkts[k]);
		} else {
			f->niov = cut_chain(raw, len, ctl, f->iov);
			ret = net_pkt_prepare(p, &pkts[k], hdr_size, f->iov, f->niov, len);
		}
		if (ret)
			continue;
		CHECK(!drop);
		CHECK(sw.vlan_vid[pkts[k].vlan] == vid);
		sent[k].len = pkts[k].frame.len;
		sent[k].frame = malloc(sent[k].len);
		CHECK(sent[k].frame);
		CHECK(net_iov_read(pkts[k].src.iov, pkts[k].src.niov, pkts[k].src.off,
				   sent[k].frame, sent[k].len) == sent[k].len);
		CHECK(sent[k].len + (in == 0 ? 0u : hdr_size) <= len);
		sent[k].vid = vid;
		sent[k].plain = !(pkts[k].hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
				pkts[k].hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE;
		sent[k].gso = pkts[k].hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE;
		sent[k].csum = (uint32_t)pkts[k].hdr.csum_start + pkts[k].hdr.csum_offset;
		k++;
	}
	if (k)
		net_switch_forward(&sw, &ports[in], pkts, k, &ctx);
	check_outputs(in, sent, k);
	for (unsigned int i = 0; i < k; i++)
		free(sent[i].frame);
	for (unsigned int i = 0; i < nf; i++) {
		if (fi[i].tapbuf)
			free(fi[i].tapbuf);
		else
			for (unsigned int j = 0; j < fi[i].niov; j++)
				free(fi[i].iov[j].iov_base);
	}
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used;

	setup_once();
	if (size < 3 || configure(data) < 0)
		return 0;
	data += 3;
	size -= 3;
	while ((used = burst(data, size)) > 0) {
		data += used;
		size -= used;
	}
	fdb_destroy(&sw.fdb);
	return 0;
}
