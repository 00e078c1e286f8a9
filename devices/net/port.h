/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_PORT_H
#define VHU_DEVICES_NET_PORT_H

/*
 * What port.c (a port's vhost-user side, its TX workers) and rx.c (delivery
 * into its receive queues, the RX backlog) share. Not for the rest of the
 * switch: net.h is.
 */

#include <pthread.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "net.h"
#include <vhu/protocol.h>

#define NET_BACKLOG 256u /* frames one receive queue keeps while it waits for an IOTLB entry */

/* A frame kept for a receive queue: its header for that queue and its bytes. */
struct net_kept {
	struct net_hdr oh;
	uint32_t len;
	uint8_t data[];
};

struct net_backlog {
	/* f, head, n: under lock, which is never held while waiting for anything
	 * else; n is also read without it (atomic) to see whether there is a backlog */
	pthread_mutex_t lock;
	struct net_kept *f[NET_BACKLOG];
	unsigned int head, n;
	struct net_ctx ctx; /* the RX worker's scratch for delivering it */
};

static inline unsigned int backlog_n(const struct net_backlog *bl)
{
	return bl ? __atomic_load_n(&bl->n, __ATOMIC_ACQUIRE) : 0;
}

static inline unsigned int hdr_size_of(uint64_t features)
{
	return features & (VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_NET_F_MRG_RXBUF))
		       ? NET_HDR_SIZE
		       : NET_HDR_LEGACY_SIZE;
}

static inline uint64_t port_features(const struct net_port *p)
{
	return __atomic_load_n(&p->features, __ATOMIC_ACQUIRE);
}

/** net_backlog_flush() - free every frame kept in @bl (NULL: none). */
void net_backlog_flush(struct net_backlog *bl);
/** net_rx_worker_drain() - the RX queue's own worker (its lock held): deliver the backlog. */
void net_rx_worker_drain(struct net_port *p, unsigned int qp, struct vhu_vq *vq);

#endif /* VHU_DEVICES_NET_PORT_H */
