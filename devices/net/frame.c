/* SPDX-License-Identifier: MIT */
/* Frames as vhu-net sees them: headers, parsing, copying, checksums. */

#include "frame.h"

#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void net_hdr_read(struct net_hdr *h, const uint8_t *buf, unsigned int size)
{
	h->flags = buf[0];
	h->gso_type = buf[1];
	h->hdr_len = get_le16(buf + 2);
	h->gso_size = get_le16(buf + 4);
	h->csum_start = get_le16(buf + 6);
	h->csum_offset = get_le16(buf + 8);
	h->num_buffers = size >= NET_HDR_SIZE ? get_le16(buf + 10) : 1;
}

void net_hdr_write(const struct net_hdr *h, uint8_t *buf, unsigned int size)
{
	buf[0] = h->flags;
	buf[1] = h->gso_type;
	put_le16(buf + 2, h->hdr_len);
	put_le16(buf + 4, h->gso_size);
	put_le16(buf + 6, h->csum_start);
	put_le16(buf + 8, h->csum_offset);
	if (size >= NET_HDR_SIZE)
		put_le16(buf + 10, h->num_buffers);
}

size_t net_iov_read(const struct iovec *iov, unsigned int niov, uint64_t off, void *dst,
		    size_t size)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (unsigned int i = 0; i < niov && done < size; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > size - done)
			n = size - done;
		memcpy(d + done, (const uint8_t *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* ---- parsing -------------------------------------------------------------- */

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u; /* FNV prime: cheap and good enough to spread flows */
	return h ^ (h >> 15);
}

static uint32_t mix_bytes(uint32_t h, const uint8_t *p, unsigned int n)
{
	for (unsigned int i = 0; i + 4 <= n; i += 4)
		h = mix(h, (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
				   (uint32_t)p[i + 2] << 8 | p[i + 3]);
	return h;
}

/* The L4 header at f->l4_off, if it fits in the head. */
static void parse_l4(struct net_frame *f)
{
	const uint8_t *p = f->head + f->l4_off;
	uint32_t room = f->head_len - f->l4_off;

	if (f->l4_proto == NET_PROTO_TCP && room >= 20) {
		uint16_t hlen = (uint16_t)((p[12] >> 4) * 4u);

		if (hlen >= 20 && hlen <= room) {
			f->l4_hlen = hlen;
			return;
		}
	} else if (f->l4_proto == NET_PROTO_UDP && room >= 8) {
		f->l4_hlen = 8;
		return;
	}
	f->l4_off = 0;
}

static void parse_ipv4(struct net_frame *f)
{
	const uint8_t *ip = f->head + f->l3_off;
	uint32_t room = f->head_len - f->l3_off, ihl;

	if (room < 20 || ip[0] >> 4 != 4 || (ip[0] & 0xf) < 5)
		goto not_ip;
	ihl = (ip[0] & 0xfu) * 4u;
	if (ihl > room)
		goto not_ip;
	f->ip_version = 4;
	f->l4_proto = ip[9];
	f->ip_fragment = (get16(ip + 6) & 0x3fff) != 0; /* MF or an offset */
	if (!f->ip_fragment) {
		f->l4_off = (uint16_t)(f->l3_off + ihl);
		parse_l4(f);
	}
	return;
not_ip:
	f->l3_off = 0;
}

static void parse_ipv6(struct net_frame *f)
{
	const uint8_t *ip = f->head + f->l3_off;

	if (f->head_len - f->l3_off < 40 || ip[0] >> 4 != 6) {
		f->l3_off = 0;
		return;
	}
	f->ip_version = 6;
	f->l4_proto = ip[6]; /* extension headers are not walked: no L4 then */
	f->l4_off = (uint16_t)(f->l3_off + 40);
	parse_l4(f);
}

void net_frame_parse(struct net_frame *f)
{
	uint16_t type;
	uint16_t off = 12;

	f->l3_off = f->l4_off = f->l4_hlen = 0;
	f->ip_version = f->l4_proto = 0;
	f->ip_fragment = false;
	f->parsed = true;
	if (f->head_len < NET_ETH_HLEN)
		return;
	type = get16(f->head + off);
	if (type == NET_ETHERTYPE_VLAN && f->head_len >= NET_ETH_HLEN + 4) {
		off += 4;
		type = get16(f->head + off);
	}
	f->l3_off = (uint16_t)(off + 2);
	if (type == NET_ETHERTYPE_IPV4)
		parse_ipv4(f);
	else if (type == NET_ETHERTYPE_IPV6)
		parse_ipv6(f);
	else
		f->l3_off = 0;
}

uint32_t net_frame_hash(struct net_frame *f)
{
	uint32_t h = mix_bytes(0x811c9dc5u, f->head, 12);

	if (!f->parsed)
		net_frame_parse(f);

	if (f->ip_version == 4)
		h = mix_bytes(h, f->head + f->l3_off + 12, 8);
	else if (f->ip_version == 6)
		h = mix_bytes(h, f->head + f->l3_off + 8, 32);
	if (f->l4_off)
		h = mix(h, (uint32_t)get16(f->head + f->l4_off) << 16 |
				   get16(f->head + f->l4_off + 2));
	return h;
}

static int check_gso(const struct net_hdr *h, const struct net_frame *f)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t want_ip = type == VIRTIO_NET_HDR_GSO_TCPV4 ? 4 : 6;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EBADMSG; /* UDP (UFO, USO) is never offered */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0)
		return -EBADMSG;
	if (f->ip_version != want_ip || f->l4_proto != NET_PROTO_TCP || !f->l4_off)
		return -EBADMSG;
	if ((uint32_t)f->l4_off + f->l4_hlen >= f->len)
		return -EBADMSG; /* nothing to segment */
	return 0;
}

int net_hdr_check(const struct net_hdr *h, const struct net_frame *f)
{
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE && check_gso(h, f) < 0)
		return -EBADMSG;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t end = (uint32_t)h->csum_start + h->csum_offset + 2u;

		if (end > f->len || end > f->head_len)
			return -EBADMSG;
	}
	return 0;
}

/* ---- copying ---------------------------------------------------------------- */

void net_cur_init(struct net_cur *c, const struct net_src *src)
{
	uint64_t off = src->off;

	c->src = src;
	c->pos = 0;
	c->i = 0;
	/* find the guest byte the prefix ends at */
	while (c->i < src->niov && off >= src->iov[c->i].iov_len) {
		off -= src->iov[c->i].iov_len;
		c->i++;
	}
	c->ioff = (size_t)off;
}

/* The next contiguous piece of the frame, at most @max bytes; 0 at the end. */
static size_t cur_next(struct net_cur *c, const uint8_t **p, size_t max)
{
	const struct net_src *s = c->src;
	size_t n;

	if (c->pos >= s->len)
		return 0;
	if (max > s->len - c->pos)
		max = s->len - c->pos;
	if (c->pos < s->pre_len) {
		n = s->pre_len - c->pos;
		*p = s->pre + c->pos;
	} else {
		while (c->i < s->niov && c->ioff >= s->iov[c->i].iov_len) {
			c->i++;
			c->ioff = 0;
		}
		if (c->i >= s->niov)
			return 0; /* the guest's buffers ended before len: cut short */
		n = s->iov[c->i].iov_len - c->ioff;
		*p = (const uint8_t *)s->iov[c->i].iov_base + c->ioff;
		c->ioff += n < max ? n : max;
	}
	if (n > max)
		n = max;
	c->pos += (uint32_t)n;
	return n;
}

size_t net_cur_read(struct net_cur *c, void *dst, size_t size)
{
	uint8_t *d = dst;
	size_t done = 0, n;
	const uint8_t *p;

	while (done < size && (n = cur_next(c, &p, size - done)) > 0) {
		memcpy(d + done, p, n);
		done += n;
	}
	return done;
}

int net_src_iovec(const struct net_src *src, struct iovec *out, unsigned int max)
{
	struct net_cur c;
	const uint8_t *p;
	unsigned int n = 0;
	size_t len;

	net_cur_init(&c, src);
	while ((len = cur_next(&c, &p, SIZE_MAX)) > 0) {
		if (n == max)
			return -1;
		out[n++] = (struct iovec){ (void *)(uintptr_t)p, len };
	}
	return (int)n;
}

/* ---- checksums --------------------------------------------------------------- */

uint32_t net_csum_add(uint32_t sum, uint32_t more)
{
	sum += more;
	return sum + (sum < more); /* end-around carry */
}

uint32_t net_csum_buf(uint32_t sum, const uint8_t *p, size_t size)
{
	uint64_t acc = sum;
	size_t i = 0;

	for (; i + 8 <= size; i += 8)
		acc += (uint64_t)get16(p + i) + get16(p + i + 2) + get16(p + i + 4) +
		       get16(p + i + 6);
	for (; i + 2 <= size; i += 2)
		acc += get16(p + i);
	if (i < size)
		acc += (uint32_t)p[i] << 8;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t net_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t net_csum_src(uint32_t sum, const struct net_src *src, uint32_t from)
{
	struct net_cur c;
	const uint8_t *p;
	size_t n;

	net_cur_init(&c, src);
	while (c.pos < from && cur_next(&c, &p, from - c.pos) > 0)
		;
	while (1) {
		bool odd = (c.pos - from) & 1; /* parity within the summed range */
		uint16_t part;

		n = cur_next(&c, &p, SIZE_MAX);
		if (n == 0)
			break;
		part = net_csum_fold(net_csum_buf(0, p, n));
		/* RFC 1071 byte-order independence: a piece at an odd offset is swapped */
		if (odd)
			part = (uint16_t)(part << 8 | part >> 8);
		sum = net_csum_add(sum, part);
	}
	return sum;
}

unsigned int net_rarp_build(uint8_t frame[60], const uint8_t mac[6])
{
	static const uint8_t arp_hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 3 }; /* Ethernet, IPv4, op 3 */

	memset(frame, 0, 60);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac, 6);
	frame[12] = NET_ETHERTYPE_RARP >> 8;
	frame[13] = NET_ETHERTYPE_RARP & 0xff;
	memcpy(frame + 14, arp_hdr, sizeof(arp_hdr));
	memcpy(frame + 22, mac, 6); /* sender hardware address; protocol address 0 */
	memcpy(frame + 32, mac, 6); /* target hardware address; protocol address 0 */
	return 60;
}
