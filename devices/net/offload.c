/* SPDX-License-Identifier: MIT */
/* Checksum and TCP segmentation in software, toward ports without the offload. */

#include "offload.h"

#include <string.h>

#include <linux/virtio_net.h>

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_CWR 0x80u
#define TCP_CSUM_OFFSET 16u

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t swap16(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

void net_csum_complete(const struct net_frame *f, const struct net_hdr *h,
		       const struct net_src *src, uint8_t *pre, struct net_src *out)
{
	uint32_t start = h->csum_start, field = start + h->csum_offset, k = field + 2;
	uint16_t head_part, rest, result;

	/* net_hdr_check(): k <= f->head_len and k <= f->len */
	memcpy(pre, f->head, k);
	*out = (struct net_src){ .pre = pre,
				 .pre_len = k,
				 .iov = src->iov,
				 .niov = src->niov,
				 .off = src->off + k,
				 .len = src->len };
	/* the field holds the pseudo-header sum the driver put there: it is summed too */
	head_part = net_csum_fold(net_csum_buf(0, pre + start, k - start));
	rest = net_csum_fold(net_csum_src(0, out, k));
	if ((k - start) & 1)
		rest = swap16(rest);
	result = (uint16_t)~net_csum_fold(net_csum_add(head_part, rest));
	put16(pre + field, result ? result : 0xffff); /* as Linux: 0 would mean "none" for UDP */
}

void net_seg_init(struct net_seg_iter *it, const struct net_frame *f, const struct net_hdr *h,
		  const struct net_src *src)
{
	it->f = f;
	it->h = h;
	it->src = src;
	it->hlen = (uint32_t)f->l4_off + f->l4_hlen;
	it->payload = f->len - it->hlen; /* net_hdr_check(): > 0 */
	it->done = 0;
	it->index = 0;
}

/* Lengths and ids of the IP header for a segment of @seglen payload bytes. */
static uint32_t fix_ip(const struct net_seg_iter *it, uint8_t *hdrs, uint32_t seglen,
		       uint32_t tcp_len)
{
	const struct net_frame *f = it->f;
	uint8_t *ip = hdrs + f->l3_off;
	uint32_t pseudo;

	if (f->ip_version == 4) {
		unsigned int ihl = (ip[0] & 0xfu) * 4u;

		put16(ip + 2, (uint16_t)(it->hlen - f->l3_off + seglen));
		put16(ip + 4, (uint16_t)(get16(ip + 4) + it->index));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~net_csum_fold(net_csum_buf(0, ip, ihl)));
		pseudo = net_csum_buf(0, ip + 12, 8);
	} else {
		put16(ip + 4, (uint16_t)(it->hlen - f->l3_off - 40u + seglen));
		pseudo = net_csum_buf(0, ip + 8, 32);
	}
	return net_csum_add(pseudo, NET_PROTO_TCP + tcp_len);
}

bool net_seg_next(struct net_seg_iter *it, bool partial, uint8_t *hdrs, struct net_src *out,
		  struct net_hdr *oh)
{
	const struct net_frame *f = it->f;
	uint32_t seglen = it->payload - it->done, tcp_len, pseudo;
	uint8_t *th = hdrs + f->l4_off;

	if (it->done >= it->payload)
		return false;
	if (seglen > it->h->gso_size)
		seglen = it->h->gso_size;
	memcpy(hdrs, f->head, it->hlen);
	tcp_len = f->l4_hlen + seglen;
	pseudo = fix_ip(it, hdrs, seglen, tcp_len);
	put32(th + 4, get32(th + 4) + it->done);
	if (it->done + seglen < it->payload)
		th[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH); /* only the last segment ends or pushes */
	if (it->index > 0)
		th[13] &= (uint8_t)~TCP_CWR; /* only the first reports congestion */
	*out = (struct net_src){ .pre = hdrs,
				 .pre_len = it->hlen,
				 .iov = it->src->iov,
				 .niov = it->src->niov,
				 .off = it->src->off + it->hlen + it->done,
				 .len = it->hlen + seglen };
	memset(oh, 0, sizeof(*oh));
	oh->num_buffers = 1;
	if (partial) {
		/* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum */
		put16(th + TCP_CSUM_OFFSET, net_csum_fold(pseudo));
		oh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		oh->csum_start = f->l4_off;
		oh->csum_offset = TCP_CSUM_OFFSET;
	} else {
		uint32_t sum;

		put16(th + TCP_CSUM_OFFSET, 0);
		sum = net_csum_buf(pseudo, th, f->l4_hlen);
		/* the payload follows a header of a multiple of 4 bytes: even parity */
		sum = net_csum_add(sum, net_csum_fold(net_csum_src(0, out, it->hlen)));
		put16(th + TCP_CSUM_OFFSET, (uint16_t)~net_csum_fold(sum));
	}
	it->done += seglen;
	it->index++;
	return true;
}
