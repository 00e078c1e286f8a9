/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_FRAME_H
#define VHU_DEVICES_NET_FRAME_H

/*
 * Concepts
 *
 * A frame in vhu-net is never gathered into a buffer of the switch's: it
 * stays where the sending guest put it (the readable iovecs of its TX
 * chain, after the virtio-net header) and is copied once, straight into the
 * receiving guest's buffers. What the switch itself looks at is a private
 * copy of the frame's first bytes (struct net_frame.head, up to
 * NET_HEAD_MAX): the Ethernet, IP and TCP/UDP headers are parsed from that
 * copy, so a guest that rewrites its buffer meanwhile cannot change a
 * decision after it was checked (offsets, lengths).
 *
 * struct net_src describes a frame to copy: its first pre_len bytes come
 * from a buffer of the switch's (headers it rewrote: a segment's, or a
 * header with a checksum filled in), the rest from guest iovecs at a byte
 * offset. A plain frame has no prefix.
 *
 * The virtio-net header (virtio spec "Device Operation" of the network
 * device) is 12 bytes with VIRTIO_F_VERSION_1 or VIRTIO_NET_F_MRG_RXBUF,
 * 10 bytes otherwise; struct net_hdr holds its fields in host order.
 */

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#define NET_HDR_SIZE 12u	/* struct virtio_net_hdr_v1 / _mrg_rxbuf */
#define NET_HDR_LEGACY_SIZE 10u /* struct virtio_net_hdr */
#define NET_ETH_HLEN 14u
#define NET_FRAME_MIN NET_ETH_HLEN
/* Largest frame accepted: a 64 KiB GSO packet plus Ethernet and VLAN headers. */
#define NET_FRAME_MAX (65535u + NET_ETH_HLEN + 4u)
/* Bytes of each frame the switch copies to parse; covers Ethernet + VLAN +
 * IPv6 + the longest TCP header (14 + 4 + 40 + 60) with room to spare. */
#define NET_HEAD_MAX 256u

#define NET_ETHERTYPE_IPV4 0x0800u
#define NET_ETHERTYPE_IPV6 0x86ddu
#define NET_ETHERTYPE_VLAN 0x8100u
#define NET_ETHERTYPE_RARP 0x8035u
#define NET_PROTO_TCP 6u
#define NET_PROTO_UDP 17u

/*
 * Copy @n <= NET_HEAD_MAX bytes with fixed-size moves (overlapping at the
 * tail): a variable-length memcpy of a small bounded size is inlined as
 * `rep movsq`, whose start-up cost on these CPUs is about what the rest of
 * a 64-byte frame's ingress costs. Reads and writes only [0, n) of each.
 */
static inline void net_copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n >= 32) {
		for (; i + 32 <= n; i += 32)
			__builtin_memcpy(d + i, s + i, 32);
		if (i < n)
			__builtin_memcpy(d + n - 32, s + n - 32, 32);
	} else if (n >= 16) {
		__builtin_memcpy(d, s, 16);
		__builtin_memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		__builtin_memcpy(d, s, 8);
		__builtin_memcpy(d + n - 8, s + n - 8, 8);
	} else {
		for (; i < n; i++)
			d[i] = s[i];
	}
}

/* Copy a virtio-net header of @hdr_size (NET_HDR_SIZE or NET_HDR_LEGACY_SIZE) bytes. */
static inline void net_copy_hdr(uint8_t *d, const uint8_t *s, unsigned int hdr_size)
{
	if (hdr_size == NET_HDR_SIZE)
		__builtin_memcpy(d, s, NET_HDR_SIZE);
	else
		__builtin_memcpy(d, s, NET_HDR_LEGACY_SIZE);
}

/* The virtio-net header, host order. */
struct net_hdr {
	uint8_t flags;	  /* VIRTIO_NET_HDR_F_* */
	uint8_t gso_type; /* VIRTIO_NET_HDR_GSO_* */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* 12-byte header only */
};

/*
 * Store @h at @d as net_hdr_write() lays it out (@hdr_size bytes), only
 * where it differs from what is there. A driver that reposts the same
 * receive buffers finds the same header in them frame after frame (no
 * offloads, one buffer): the line it sits on, apart from the frame when
 * the buffer starts a line early, is then only read, by the device and by
 * the driver, and stays in both caches instead of moving to the device's
 * and back on every frame. Built in registers, not in a buffer: on the way
 * into a receive buffer every store, even to the stack, queues behind the
 * stores still waiting for their lines (the frame's), so fewer is faster.
 */
static inline void net_store_hdr(uint8_t *d, const struct net_hdr *h, unsigned int hdr_size)
{
	uint64_t lo = htole64((uint64_t)h->flags | (uint64_t)h->gso_type << 8 |
			      (uint64_t)h->hdr_len << 16 | (uint64_t)h->gso_size << 32 |
			      (uint64_t)h->csum_start << 48),
		 cur_lo;
	uint32_t hi = htole32((uint32_t)h->csum_offset | (uint32_t)h->num_buffers << 16), cur_hi;

	__builtin_memcpy(&cur_lo, d, 8);
	if (hdr_size == NET_HDR_SIZE) {
		__builtin_memcpy(&cur_hi, d + 8, 4);
		if (cur_lo != lo || cur_hi != hi) {
			__builtin_memcpy(d, &lo, 8);
			__builtin_memcpy(d + 8, &hi, 4);
		}
	} else {
		uint16_t hi16 = htole16(h->csum_offset), cur16;

		__builtin_memcpy(&cur16, d + 8, 2);
		if (cur_lo != lo || cur16 != hi16) {
			__builtin_memcpy(d, &lo, 8);
			__builtin_memcpy(d + 8, &hi16, 2);
		}
	}
}

/** net_hdr_read() - decode a little-endian virtio-net header of @size (10 or 12) bytes. */
void net_hdr_read(struct net_hdr *h, const uint8_t *buf, unsigned int size);

/*
 * net_hdr_load() - net_hdr_read() of @size (10 or 12) bytes at @buf. On a
 * little-endian host struct net_hdr is the header's layout: two moves.
 */
static inline void net_hdr_load(struct net_hdr *h, const uint8_t *buf, unsigned int size)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	_Static_assert(sizeof(struct net_hdr) == 12 && offsetof(struct net_hdr, csum_offset) == 8,
		       "struct net_hdr is the wire layout");
	if (size >= 12) {
		__builtin_memcpy(h, buf, 12);
	} else {
		__builtin_memcpy(h, buf, 10);
		h->num_buffers = 1;
	}
#else
	net_hdr_read(h, buf, size);
#endif
}

/* What the switch parsed from a frame's first bytes. */
struct net_frame {
	uint32_t len;	    /* frame bytes (no virtio-net header) */
	uint32_t head_len;  /* min(len, NET_HEAD_MAX) */
	uint16_t l3_off;    /* 0: not IP */
	uint16_t l4_off;    /* 0: no TCP/UDP header parsed */
	uint16_t l4_hlen;   /* TCP header bytes (doff * 4) or 8 for UDP */
	uint8_t ip_version; /* 0, 4 or 6 */
	uint8_t l4_proto;
	bool ip_fragment; /* IPv4 fragment: no ports */
	bool parsed;	  /* the fields above are set (net_frame_parse) */
	uint8_t head[NET_HEAD_MAX];
};

/* A frame to copy: pre[0, pre_len), then guest bytes iov[] from byte off. */
struct net_src {
	const uint8_t *pre;
	uint32_t pre_len;
	const struct iovec *iov;
	unsigned int niov;
	uint64_t off; /* bytes of iov[] before the frame's pre_len-th byte */
	uint32_t len; /* frame bytes in all, prefix included */
};

/* A read position in a struct net_src. */
struct net_cur {
	const struct net_src *src;
	uint32_t pos; /* frame bytes consumed */
	unsigned int i;
	size_t ioff; /* bytes of iov[i] consumed */
};

/** net_hdr_write() - encode @h into @size (10 or 12) bytes. */
void net_hdr_write(const struct net_hdr *h, uint8_t *buf, unsigned int size);

/**
 * net_iov_read() - copy up to @size bytes at byte @off of @iov[0, @niov) to @dst.
 *
 * Return: the bytes copied (fewer when the iovecs end first).
 */
size_t net_iov_read(const struct iovec *iov, unsigned int niov, uint64_t off, void *dst,
		    size_t size);

/**
 * net_frame_parse() - parse @f->head (@f->len and @f->head_len set, head
 * filled): IPv4/IPv6 over Ethernet, with or without one 802.1Q tag; TCP or
 * UDP after that. Whatever does not parse (a truncated IP header, an
 * option-laden IPv6 packet) is left as "not IP" / "no L4": such frames are
 * still switched, only not offloaded.
 */
void net_frame_parse(struct net_frame *f);

/**
 * net_frame_hash() - the flow hash of a frame: MACs, and addresses and
 * ports when IP. Only spreading over several queues needs it, so it is
 * computed then, not by net_frame_parse(); a frame not parsed yet (no
 * offload asked for, see net_pkt_prepare) is parsed first.
 */
uint32_t net_frame_hash(struct net_frame *f);

/**
 * net_hdr_check() - whether the offload fields of @h make sense for @f.
 *
 * GSO is TCPv4 or TCPv6 (with or without ECN), needs NEEDS_CSUM, a gso_size,
 * and a frame that parses as TCP over that IP version with payload behind
 * the headers. NEEDS_CSUM needs csum_start + csum_offset + 2 within the frame
 * and within the parsed head (CVE-2024-11614 read past the frame).
 *
 * Return: 0, or -EBADMSG.
 */
int net_hdr_check(const struct net_hdr *h, const struct net_frame *f);

/** net_cur_init() - a cursor at the start of @src. */
void net_cur_init(struct net_cur *c, const struct net_src *src);
/**
 * net_cur_read() - copy the next @size bytes of the frame (fewer at its
 * end) to @dst and advance.
 *
 * Return: the bytes copied.
 */
size_t net_cur_read(struct net_cur *c, void *dst, size_t size);

/**
 * net_src_iovec() - the frame as iovecs (the prefix, then the guest
 * slices), for writev().
 *
 * Return: how many iovecs were written to @out, or -1 if more than @max
 * would be needed.
 */
int net_src_iovec(const struct net_src *src, struct iovec *out, unsigned int max);

/* Internet checksum (RFC 1071) helpers; sums are unfolded 32-bit
 * ones' complement accumulators. */
uint32_t net_csum_add(uint32_t sum, uint32_t more);
uint32_t net_csum_buf(uint32_t sum, const uint8_t *p, size_t size);
uint16_t net_csum_fold(uint32_t sum);
/**
 * net_csum_src() - ones' complement sum of frame bytes [@from, @src->len),
 * added to @sum. Bytes are summed at their parity in the frame.
 */
uint32_t net_csum_src(uint32_t sum, const struct net_src *src, uint32_t from);

/**
 * net_rarp_build() - the RARP frame QEMU's announce sends for @mac: a
 * broadcast "reverse request" from @mac, padded to 60 bytes.
 *
 * Return: its length (60).
 */
unsigned int net_rarp_build(uint8_t frame[60], const uint8_t mac[6]);

#endif /* VHU_DEVICES_NET_FRAME_H */
