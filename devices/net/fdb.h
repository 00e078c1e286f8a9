/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_FDB_H
#define VHU_DEVICES_NET_FDB_H

/*
 * Concepts
 *
 * The forwarding database of vhu-net's learning switch: which port a MAC
 * address was last seen on in a VLAN, and when. Every port's TX workers and
 * the TAP thread learn and look up at once, so an entry is one 64-bit
 * atomic word (MAC << 16 | VLAN key << 7 | port + 1) plus an atomic
 * timestamp: a lookup never takes a lock and never sees a MAC with another
 * MAC's port, or another VLAN's. The VLAN key is not the 802.1Q VID but a
 * small number the switch gives each VLAN it carries (FDB_VLANS of them,
 * 0 for untagged): 48 + 9 + 7 bits fill the word. Inserting a new
 * address takes a mutex (rare: once per station and ageing period);
 * refreshing a known one is a relaxed store, done at most once a second.
 *
 * The table is open addressing over FDB_SIZE slots, probing FDB_PROBE
 * slots from the hash. Entries are changed (inserted, moved, replaced,
 * flushed) only under insert_lock; lookups and refreshes never take it.
 *
 * Limits (tenant isolation): each port may own at most its max entries
 * (FDB_PORT_MAX_DEFAULT, or --port-config max-macs=), the table at most
 * fdb.max (--max-macs). An address that would go over either limit is
 * not learnt (fdb_learn says which): frames to it are flooded, as to any
 * unknown address, so connectivity stays and only the flooding shows. A
 * new address takes a free or aged-out slot, or else the oldest slot of
 * the same port; never a live entry of another port, so a guest sending
 * from random addresses cannot push other ports' stations out. Aged
 * entries still count until a slot is reused, or until a port (or the
 * table) at its limit sweeps its own, at most once a second.
 *
 * Time is in seconds of any monotonic clock, given by the caller (one
 * clock read per burst, not per frame).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define FDB_SIZE 8192u /* slots; a power of two */
#define FDB_PROBE 8u   /* slots looked at from the hash */
#define FDB_AGEING_DEFAULT_S 300u
#define FDB_PORT_NONE (-1)
#define FDB_VLANS 512u		  /* VLAN keys: 0 (untagged) and up to 511 VLANs */
#define FDB_PORTS_MAX 126u	  /* ports: port + 1 fits in 7 bits */
#define FDB_MAX_DEFAULT 4096u	  /* entries in all: half the slots, so probing finds room */
#define FDB_PORT_MAX_DEFAULT 256u /* entries one port may own */

struct fdb_entry {
	uint64_t word;	/* atomic: mac << 16 | vlan << 7 | (port + 1); 0 = free */
	uint32_t stamp; /* atomic: last seen, seconds */
};

struct fdb {
	struct fdb_entry slots[FDB_SIZE];
	uint32_t ageing_s;
	uint32_t max;			   /* entries in all */
	uint32_t used;			   /* atomic: slots in use (aged included) */
	uint32_t port_max[FDB_PORTS_MAX];  /* atomic: entries each port may own */
	uint32_t port_used[FDB_PORTS_MAX]; /* atomic: slots each port owns */
	uint32_t swept[FDB_PORTS_MAX + 1]; /* atomic: when each port (last: all) was swept */
	pthread_mutex_t insert_lock;	   /* every change of a word */
};

/* What fdb_learn() did. */
enum fdb_learnt {
	FDB_KNOWN,   /* already there (refreshed), or a group address */
	FDB_LEARNT,  /* new, or moved to this port */
	FDB_LIMITED, /* not learnt: the port owns its max */
	FDB_FULL,    /* not learnt: the table holds its max, or no slot is free */
};

/**
 * fdb_init() - an empty table whose entries live @ageing_s seconds (>= 1),
 * FDB_MAX_DEFAULT entries in all, FDB_PORT_MAX_DEFAULT a port.
 */
void fdb_init(struct fdb *fdb, uint32_t ageing_s);

/** fdb_set_max() - at most @max (1..FDB_SIZE) entries in all. Before use. */
void fdb_set_max(struct fdb *fdb, uint32_t max);

/** fdb_set_port_max() - @port may own at most @max (1..FDB_SIZE) entries. */
void fdb_set_port_max(struct fdb *fdb, unsigned int port, uint32_t max);
void fdb_destroy(struct fdb *fdb);

/** fdb_mac() - six bytes as the 48-bit number the table keys on. */
uint64_t fdb_mac(const uint8_t mac[6]);

/**
 * fdb_learn() - @mac was the source of a frame that came in on @port at
 * @now, in the VLAN of key @vlan (< FDB_VLANS).
 *
 * Multicast sources (group bit) are never learnt. A known address moves to
 * @port at once (a VM migrated, a cable moved), if @port is under its limit.
 */
enum fdb_learnt fdb_learn(struct fdb *fdb, const uint8_t mac[6], unsigned int vlan,
			  unsigned int port, uint32_t now);

/**
 * fdb_lookup() - the port @mac was last seen on in VLAN key @vlan, if
 * within the ageing time.
 *
 * Return: the port, or FDB_PORT_NONE (unknown or aged out: flood).
 */
int fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], unsigned int vlan, uint32_t now);

/** fdb_flush_port() - forget every address of @port (its front-end left). */
void fdb_flush_port(struct fdb *fdb, unsigned int port);

/**
 * fdb_port_macs() - the live addresses of @port at @now (as fdb_mac()
 * numbers, whatever their VLAN), at most @max of them (migration: the
 * port's device state; the mac-table method). With @vlans, the VLAN key
 * of each goes to the same index of it (an address learnt in two VLANs
 * is two entries).
 * Return: how many were written.
 */
unsigned int fdb_port_macs(const struct fdb *fdb, unsigned int port, uint32_t now, uint64_t *macs,
			   uint16_t *vlans, unsigned int max);

/** fdb_count() - live entries at @now (tests, counters). */
unsigned int fdb_count(const struct fdb *fdb, uint32_t now);

/** fdb_port_count() - live entries of @port at @now (counters). */
unsigned int fdb_port_count(const struct fdb *fdb, unsigned int port, uint32_t now);

#endif /* VHU_DEVICES_NET_FDB_H */
