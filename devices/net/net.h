/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_NET_H
#define VHU_DEVICES_NET_NET_H

/*
 * Concepts
 *
 * vhu-net is an L2 learning switch. Its ports are vhost-user back-ends
 * (one socket each, port.c) and optionally a TAP device (tap.c). A frame a
 * guest sends is popped from its TX queue by that queue's worker, which
 * learns the source MAC, looks the destination up (fdb.c) and copies the
 * frame straight into the receive buffers of the destination port(s)
 * (switch.c): one copy, guest memory to guest memory, and the TX chain is
 * completed after. Unknown and group destinations are flooded to every
 * other port.
 *
 * Threads. Each port has a control thread (its vhost-user socket) and one
 * worker per running queue (the library's). RX queues are shared
 * (vhu_vq_share): other ports' TX workers, the TAP thread and a control
 * thread sending a RARP push into them under vhu_vq_lock().
 *
 * Deadlock avoidance. A control thread holds a queue's lock for the whole
 * of a request that pauses it, and meanwhile waits for its port's workers
 * to return. If worker A.tx waited for B.rx's lock while B's control
 * thread, holding it, waited for B.tx, itself waiting for A.rx held by A's
 * control thread, neither would ever return. So no thread ever waits for a
 * queue lock that a control thread may hold: a control thread marks its
 * port busy before it dispatches a request and waits until every
 * forwarding thread has left the burst it was in (a grace period, below):
 * a burst that began before it saw the port busy may be inside; one that
 * finds the destination busy drops the frame (counted as "busy") instead
 * of waiting.
 * Inside, the lock is contended only by other forwarding threads and the
 * queue's own worker, which hold it briefly and never wait while holding.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhu/backend.h>

#include "fdb.h"
#include "frame.h"
#include "policy.h"

#define NET_PORTS_MAX 64u /* vhost-user ports; the TAP is one more */
#define NET_QP_MAX 16u	  /* queue pairs a port offers (--queue-pairs) */
#define NET_QP_DEFAULT 4u
#define NET_BURST 32u	      /* frames popped from a TX ring at a time */
#define NET_BUDGET 8u	      /* bursts per queue_kick before yielding to a pause */
#define NET_RX_CHAINS_MAX 64u /* receive chains one frame may take (mergeable) */
/* receive chains a delivery holds at once: one per frame taken ahead, and
 * room for the largest frame after them (port.c) */
#define NET_RX_POOL (NET_BURST + NET_RX_CHAINS_MAX)
/*
 * Buffers one chain may have, either way: a longer one breaks the queue.
 * Linux sends at most MAX_SKB_FRAGS + 2; DPDK's vhost takes 256 too
 * (BUF_VECTOR_MAX).
 */
#define NET_REQ_IOV 256u
#define NET_MTU_DEFAULT 1500u
#define NET_QUEUE_SIZE_DEFAULT 1024u

/* Per-port counters, in the switch's view: rx = frames the port's guest
 * sent into the switch, tx = frames the switch sent out of the port. */
enum net_counter {
	NET_RX_PACKETS,
	NET_RX_BYTES,
	NET_TX_PACKETS,
	NET_TX_BYTES,
	NET_RX_DROP_SHORT,	/* chain shorter than the header, or frame under 14 bytes */
	NET_RX_DROP_OVERSIZE,	/* over the MTU (non-GSO) or NET_FRAME_MAX */
	NET_RX_DROP_BAD_HDR,	/* offload fields that do not fit the frame */
	NET_RX_FILTERED,	/* destination is the port it came from */
	NET_TX_DROP_NO_BUFFERS, /* no (or not enough) receive buffers posted */
	NET_TX_DROP_DOWN,	/* no running receive queue (or TAP write failed) */
	NET_TX_DROP_BUSY,	/* the port was being reconfigured */
	NET_TX_CSUM_SW,		/* checksums completed in software toward this port */
	NET_TX_SEGMENTED,	/* GSO frames segmented in software toward this port */
	NET_BUSY_NS,		/* --record-busy: time the port's TX workers spent on bursts */
	NET_BUSY_CHAINS,	/* --record-busy: the chains those bursts took */
	NET_RX_DROP_FAULT,	/* a TX chain with a buffer the guest's IOMMU denies the device */
	NET_TX_DROP_FAULT,	/* the same for a receive chain: completed empty, frame dropped */
	NET_TX_IOTLB_WAIT,	/* frames that waited for an IOTLB entry of a receive buffer */
	NET_RX_DROP_VLAN, /* tagged where tags are not taken, or a VLAN the trunk does not carry */
	NET_RX_DROP_SPOOFED, /* a source address not among the port's mac= */
	NET_RX_LEARN_LIMIT,  /* sources not learnt: the port owns its max-macs (still switched) */
	NET_RX_LEARN_FULL,   /* sources not learnt: the table is at --max-macs (still switched) */
	NET_COUNTER_MAX
};

extern const char *const net_counter_names[NET_COUNTER_MAX];

enum net_port_kind { NET_PORT_VHOST, NET_PORT_TAP };

struct net_switch;
struct net_txq;

/*
 * Counts with one writer at a time (a queue's worker, or whoever holds the
 * queue's lock): plain adds, no locked instruction, and a cache line of
 * their own, so that two forwarding threads never write the same line per
 * burst. Readers add them up (net_counter()). The containing struct
 * net_port is allocated 64-byte aligned.
 */
struct net_qstats {
	_Alignas(64) uint64_t c[NET_COUNTER_MAX];
	/* qin: chains taken from the TX queue, dropped ones too (qout's are
	 * its c[NET_TX_PACKETS]) */
	uint64_t chains;
};

struct net_port {
	struct net_switch *sw;
	unsigned int id;
	enum net_port_kind kind;
	const char *name; /* socket path, "fd N" or the TAP's name */
	const struct vhu_log *log;

	/* negotiated virtio features (TAP: what it accepts); atomic, read by
	 * every forwarding thread */
	uint64_t features;
	uint16_t mtu; /* atomic: NET_SET_MTU or --mtu */
	/* isolation (--port-config, policy.h; member and pol, cold, at the
	 * end); set before the port runs */
	uint16_t vlan; /* VLAN key (fdb.h) of pol.vlan: its frames' VLAN */
	bool filter;   /* check its frames on the way in (net_pkt_prepare) */

	/* the busy handshake (see Concepts); atomic */
	bool busy;

	/* vhost-user ports */
	struct vhu_backend *be;
	bool client;			 /* connects to its socket path (--client, client=1) */
	uint16_t num_qp;		 /* queue pairs offered */
	struct vhu_vq *rxq[NET_QP_MAX];	 /* atomic; set at the first queue_start, kept */
	uint32_t rx_running;		 /* atomic bitmap of running RX queues */
	struct net_txq *txq[NET_QP_MAX]; /* TX worker state, made at queue_start */
	/* behind an IOMMU: frames waiting for a receive queue's IOTLB miss
	 * (port.c, "RX backlog"); under the RX queue's vhu_vq_lock */
	struct net_backlog *backlog[NET_QP_MAX];
	uint8_t mac[6]; /* the config space's */

	/* TAP */
	int tap_fd;

	/* counts from threads that may meet here (drops, the TAP, control
	 * threads): atomics; read with the blocks below (net_counter()) */
	uint64_t counters[NET_COUNTER_MAX];
	/* counts of pair q's TX queue worker (frames from the guest) */
	struct net_qstats qin[NET_QP_MAX];
	/* counts of whoever holds pair q's RX queue lock (frames to the guest) */
	struct net_qstats qout[NET_QP_MAX];

	uint64_t member[FDB_VLANS / 64]; /* bit k: frames of VLAN key k go out of it */
	struct net_policy pol;
};

struct net_backlog;

struct net_switch {
	struct fdb fdb;
	unsigned int nports; /* vhost-user ports, then the TAP if any */
	struct net_port *ports[NET_PORTS_MAX + 1];
	bool poll;		 /* --poll */
	bool record_busy;	 /* --record-busy */
	uint32_t poll_window_us; /* --poll-window */
	uint16_t queue_size;	 /* --queue-size */
	uint16_t mtu;		 /* --mtu */
	/* VLANs: false (none configured) keeps every frame in VLAN key 0 and
	 * lets tagged frames through as they are */
	bool vlans;
	uint16_t nvlans;		    /* VLAN keys given out, key 0 included */
	uint16_t vlan_key[NET_VID_MAX + 1]; /* VID -> key, 0: none */
	uint16_t vlan_vid[FDB_VLANS];	    /* key -> VID */
};

/* A frame in flight through the switch, parsed. */
struct net_pkt {
	struct net_hdr hdr;
	struct net_src src;
	struct net_frame frame;
	int dst;       /* a port, NET_DST_FLOOD or NET_DST_DROP */
	uint16_t vlan; /* its VLAN key (fdb.h) */
};

#define NET_DST_FLOOD (-1)
#define NET_DST_DROP (-2)

/*
 * A forwarding thread's grace-period record (switch.c, "Grace periods"):
 * 0 while it holds no port pointer, else the epoch it started its burst in.
 */
struct net_reader {
	uint64_t epoch;		 /* atomic */
	struct net_reader *next; /* the registry's list, under its lock */
	bool registered;
};

/*
 * What a forwarding thread (TX worker, TAP thread, control thread sending a
 * RARP) needs besides the frames: scratch that must not be on the stack
 * (receive requests are 16 KiB each) and is not allocated per frame, and
 * its grace-period record.
 */
struct net_ctx {
	struct net_reader reader;
	struct net_qstats *in; /* the counts of the queue whose frames it forwards, or NULL */
	struct vhu_req *rx;    /* NET_RX_POOL requests */
	uint32_t rx_len[NET_RX_POOL]; /* bytes written into each */
	struct iovec *wiov;	      /* NET_REQ_IOV + 2, for TAP writev */
	uint8_t pre[NET_HEAD_MAX];    /* rewritten first bytes of a frame */
};

/* ---- switch.c ---- */

/**
 * net_switch_vlan_key() - the VLAN key of VID @vid (0: the untagged
 * domain, key 0), given out at the first call. Configuration time only.
 * Return: the key, or -ENOSPC when FDB_VLANS are given out.
 */
int net_switch_vlan_key(struct net_switch *sw, unsigned int vid);

/**
 * net_port_set_policy() - apply @pol to @p (before it runs): its VLAN,
 * which VLANs leave through it, whether its frames are checked.
 * Return: 0, or -ENOSPC (too many VLANs in the switch).
 */
int net_port_set_policy(struct net_port *p, const struct net_policy *pol);

/** net_port_member() - whether frames of VLAN key @vlan go out of @p. */
static inline bool net_port_member(const struct net_port *p, unsigned int vlan)
{
	return p->member[vlan / 64] >> (vlan % 64) & 1;
}

/**
 * net_ctx_init() / net_ctx_fini() - a forwarding thread's scratch; its
 * grace-period record is registered until fini. Return: 0 or -ENOMEM.
 */
int net_ctx_init(struct net_ctx *ctx);
void net_ctx_fini(struct net_ctx *ctx);

/**
 * net_pkt_prepare() - check and parse one frame that came in on @in.
 * @hdr_size: the sender's virtio-net header size (10 or 12)
 * @iov, @niov, @size: the chain's readable bytes, header first
 *
 * Return: 0 with @pkt ready (dst not yet set), or the counter of the drop
 * (NET_RX_DROP_*), already counted.
 */
int net_pkt_prepare(struct net_port *in, struct net_pkt *pkt, unsigned int hdr_size,
		    const struct iovec *iov, unsigned int niov, uint64_t size);

/**
 * net_switch_forward() - learn, look up and deliver @n prepared frames
 * that came in on @in: one lock and one notify per destination queue.
 */
void net_switch_forward(struct net_switch *sw, struct net_port *in, struct net_pkt *pkts,
			unsigned int n, struct net_ctx *ctx);

/* Counts of one batch toward one port, added to its counters at once. */
struct net_tally {
	uint64_t c[NET_COUNTER_MAX];
};

/*
 * Put one frame out (into guest buffers, or to the TAP): 0, or -ENOBUFS
 * (no room: counted as no_buffers) or another negative errno (down).
 */
typedef int (*net_emit_fn)(void *arg, const struct net_hdr *oh, const struct net_src *src,
			   struct net_ctx *ctx);

/**
 * net_pkt_emit() - send @pkt to a port that negotiated @features: as it is
 * when the port takes its offloads, else with the checksum completed or
 * the GSO frame segmented in software (offload.h). Counts into @t.
 */
void net_pkt_emit(uint64_t features, const struct net_pkt *pkt, struct net_ctx *ctx,
		  net_emit_fn emit, void *arg, struct net_tally *t);

/** net_tally_flush() - add @t to @p's counters. */
void net_tally_flush(struct net_port *p, const struct net_tally *t);

/**
 * net_port_keep() - @p is busy: keep the frames for it instead of dropping
 * them, when it sits behind an IOMMU (ACCESS_PLATFORM negotiated: IOTLB
 * messages keep it busy often). Return: false if not (the caller drops).
 */
bool net_port_keep(struct net_port *p, struct net_pkt *pkts, const uint8_t *idx, unsigned int n,
		   struct net_ctx *ctx);

/* After a request: deliver what was kept for @p meanwhile (its control thread). */
void net_port_drain(struct net_port *p);

/*
 * Grace periods: a port taken out of sw.ports[] is freed, and its slot
 * reused, only once every forwarding thread has been outside
 * net_switch_forward() (the only place that loads other ports' pointers)
 * since. net_grace_start() after unpublishing: the epoch to wait for;
 * net_grace_passed(): whether every registered thread is quiescent or
 * entered a burst at that epoch or later; net_grace_wait(): until it has
 * (bursts are microseconds: a yield loop, as net_port_quiesce()).
 */
uint64_t net_grace_start(void);
bool net_grace_passed(uint64_t epoch);
void net_grace_wait(uint64_t epoch);

/** net_port_quiesce() - mark @p busy and wait until no forwarding thread is inside it. */
void net_port_quiesce(struct net_port *p);
/** net_port_unquiesce() - forwarding into @p may go on. */
void net_port_unquiesce(struct net_port *p);

/** net_count() - add @v to counter @c of @p (any thread). */
static inline void net_count(struct net_port *p, enum net_counter c, uint64_t v)
{
	if (v)
		__atomic_fetch_add(&p->counters[c], v, __ATOMIC_RELAXED);
}

/** net_qadd() - add @v to a count of a struct net_qstats, by its one writer. */
static inline void net_qadd(uint64_t *c, uint64_t v)
{
	if (v)
		__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/** net_count_in() - net_count() from a forwarding thread for @ctx's queue. */
static inline void net_count_in(struct net_port *p, struct net_ctx *ctx, enum net_counter c,
				uint64_t v)
{
	if (ctx->in)
		net_qadd(&ctx->in->c[c], v);
	else
		net_count(p, c, v);
}

/** net_counter() - counter @c of @p: the shared count and every queue's. */
uint64_t net_counter(const struct net_port *p, enum net_counter c);

/** net_qp_chains() - chains of pair @qp: taken from its TX queue (@out false) or put into its RX
 * queue. */
uint64_t net_qp_chains(const struct net_port *p, unsigned int qp, bool out);

/** net_now_ns() - CLOCK_MONOTONIC in nanoseconds (vDSO). */
uint64_t net_now_ns(void);

/** net_now() - seconds of CLOCK_MONOTONIC_COARSE (no system call: vDSO). */
uint32_t net_now(void);

/**
 * net_print_counters() - one line per port on stderr: "PROG: port N NAME: key=value ...",
 * the counters, then macs= (the addresses the table holds for it),
 * and for each vhost-user port one with its queue pairs' counts:
 * "PROG: queue pairs of port N NAME: qp_rx_packets=Q0,Q1,... qp_tx_packets=Q0,Q1,...".
 */
void net_print_counters(const struct net_switch *sw, const char *prog);

/* ---- port.c ---- */

extern const struct vhu_device_ops net_port_ops;

/** net_port_free_queues() - free the TX queues' state (after the back-end is destroyed). */
void net_port_free_queues(struct net_port *p);

/** net_port_features() - the virtio features vhu-net offers. */
uint64_t net_port_features(void);

/**
 * net_port_deliver() - copy @pkts[i] for each i in @idx[0, @n) into @p's
 * RX queue @qp (takes and releases its lock; one notify). @in: where they
 * came from, for the counters.
 */
void net_port_deliver(struct net_port *p, unsigned int qp, struct net_pkt *pkts, const uint8_t *idx,
		      unsigned int n, struct net_ctx *ctx);

/* ---- tap.c ---- */

/**
 * net_tap_open() - open (creating it if missing) TAP @ifname with a 12-byte
 * virtio-net header, bring it up, and set its offloads.
 *
 * Return: 0, or a negative errno.
 */
int net_tap_open(struct net_port *p, const char *ifname, bool offload);

/**
 * net_tap_ingress() - check and parse one frame of @size bytes (12-byte
 * virtio-net header first) read from TAP @p into @buf: a trunk's 802.1Q
 * tag is taken off in @buf (tap.c), then net_pkt_prepare() with @iov made
 * to point at what is left.
 *
 * Return: 0 with @pkt ready (its VLAN set), or the counter of the drop,
 * already counted.
 */
int net_tap_ingress(struct net_port *p, uint8_t *buf, size_t size, struct iovec *iov,
		    struct net_pkt *pkt);

/** net_tap_deliver() - write @pkts[i] for each i in @idx[0, @n) to the TAP. */
void net_tap_deliver(struct net_port *p, struct net_pkt *pkts, const uint8_t *idx, unsigned int n,
		     struct net_ctx *ctx);

/** net_tap_start() / net_tap_stop() - the thread that reads the TAP and forwards. */
int net_tap_start(struct net_port *p);
void net_tap_stop(struct net_port *p);

#endif /* VHU_DEVICES_NET_NET_H */
