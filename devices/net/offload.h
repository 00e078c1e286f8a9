/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_OFFLOAD_H
#define VHU_DEVICES_NET_OFFLOAD_H

/*
 * Concepts
 *
 * Offloads carried between ports. A guest that negotiated CSUM may send a
 * frame whose TCP/UDP checksum is left to the device (NEEDS_CSUM with
 * csum_start/csum_offset), and with HOST_TSO4/6 a TCP frame of up to 64 KiB
 * to be cut into gso_size segments (GSO). When the receiving port
 * negotiated the matching GUEST_* feature the header goes along unchanged
 * and nothing is computed: its driver, or the stack behind it, finishes
 * the job. Only toward a port that lacks them does the switch finish the
 * job in software:
 *
 *  - net_csum_complete(): the checksum over [csum_start, end) is computed
 *    from the sender's buffers and written into a private copy of the
 *    frame's first bytes, which then replaces them in the copy (a prefix of
 *    struct net_src): the sender's buffers are never written;
 *  - net_seg_*(): each segment is a private copy of the headers (lengths,
 *    IPv4 id and checksum, TCP sequence number and flags fixed up) followed
 *    by a slice of the sender's payload; its TCP checksum is computed, or
 *    left partial (NEEDS_CSUM) when the receiver has GUEST_CSUM.
 *
 * Everything is computed from struct net_frame.head, already checked by
 * net_hdr_check(): offsets cannot point outside the frame.
 */

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

/**
 * net_csum_complete() - fill in the checksum a NEEDS_CSUM frame left to the device.
 * @f:   the parsed frame; net_hdr_check() passed
 * @h:   its header, with NEEDS_CSUM
 * @src: the frame (no prefix)
 * @pre: NET_HEAD_MAX bytes for the rewritten first bytes
 * @out: @src with the checksum in place (points to @pre and @src's iovecs)
 */
void net_csum_complete(const struct net_frame *f, const struct net_hdr *h,
		       const struct net_src *src, uint8_t *pre, struct net_src *out);

struct net_seg_iter {
	const struct net_frame *f;
	const struct net_hdr *h;
	const struct net_src *src;
	uint32_t hlen;	    /* Ethernet + IP + TCP header bytes */
	uint32_t done;	    /* payload bytes already in a segment */
	uint32_t payload;   /* payload bytes in all */
	unsigned int index; /* segments made */
};

/** net_seg_init() - segment the GSO frame @f (net_hdr_check() passed; @src has no prefix). */
void net_seg_init(struct net_seg_iter *it, const struct net_frame *f, const struct net_hdr *h,
		  const struct net_src *src);

/**
 * net_seg_next() - the next segment.
 * @partial: leave the TCP checksum to the receiver (it has GUEST_CSUM)
 * @hdrs:    NET_HEAD_MAX bytes for the segment's headers
 * @out:     the segment: @hdrs, then its slice of the payload
 * @oh:      the virtio-net header to give it (no GSO; NEEDS_CSUM if @partial)
 *
 * Return: true with a segment, false when every byte was sent.
 */
bool net_seg_next(struct net_seg_iter *it, bool partial, uint8_t *hdrs, struct net_src *out,
		  struct net_hdr *oh);

#endif /* VHU_DEVICES_NET_OFFLOAD_H */
