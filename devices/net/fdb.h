/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_FDB_H
#define VHU_DEVICES_NET_FDB_H

/*
 * Concepts
 *
 * The forwarding database of vhu-net's learning switch: which port a MAC
 * address was last seen on, and when. Every port's TX workers and the TAP
 * thread learn and look up at once, so an entry is one 64-bit atomic word
 * (MAC << 16 | port + 1) plus an atomic timestamp: a lookup never takes a
 * lock and never sees a MAC with another MAC's port. Inserting a new
 * address takes a mutex (rare: once per station and ageing period);
 * refreshing a known one is a relaxed store, done at most once a second.
 *
 * The table is open addressing over FDB_SIZE slots, probing FDB_PROBE
 * slots from the hash. When every probed slot is live, the oldest one is
 * replaced: the switch then floods that address until it is learnt again,
 * which is what a full hardware table does too.
 *
 * Time is in seconds of any monotonic clock, given by the caller (one
 * clock read per burst, not per frame).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define FDB_SIZE 4096u /* slots; a power of two */
#define FDB_PROBE 8u   /* slots looked at from the hash */
#define FDB_AGEING_DEFAULT_S 300u
#define FDB_PORT_NONE (-1)

struct fdb_entry {
	uint64_t word;	/* atomic: mac << 16 | (port + 1); 0 = free */
	uint32_t stamp; /* atomic: last seen, seconds */
};

struct fdb {
	struct fdb_entry slots[FDB_SIZE];
	uint32_t ageing_s;
	pthread_mutex_t insert_lock; /* only inserts of new addresses */
};

/** fdb_init() - an empty table whose entries live @ageing_s seconds (>= 1). */
void fdb_init(struct fdb *fdb, uint32_t ageing_s);
void fdb_destroy(struct fdb *fdb);

/** fdb_mac() - six bytes as the 48-bit number the table keys on. */
uint64_t fdb_mac(const uint8_t mac[6]);

/**
 * fdb_learn() - @mac was the source of a frame that came in on @port at @now.
 *
 * Multicast sources (group bit) are never learnt. A known address moves to
 * @port at once (a VM migrated, a cable moved).
 */
void fdb_learn(struct fdb *fdb, const uint8_t mac[6], unsigned int port, uint32_t now);

/**
 * fdb_lookup() - the port @mac was last seen on, if within the ageing time.
 *
 * Return: the port, or FDB_PORT_NONE (unknown or aged out: flood).
 */
int fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], uint32_t now);

/** fdb_flush_port() - forget every address of @port (its front-end left). */
void fdb_flush_port(struct fdb *fdb, unsigned int port);

/**
 * fdb_port_macs() - the live addresses of @port at @now (as fdb_mac()
 * numbers), at most @max of them (migration: the port's device state).
 * Return: how many were written.
 */
unsigned int fdb_port_macs(const struct fdb *fdb, unsigned int port, uint32_t now, uint64_t *macs,
			   unsigned int max);

/** fdb_count() - live entries at @now (tests, counters). */
unsigned int fdb_count(const struct fdb *fdb, uint32_t now);

#endif /* VHU_DEVICES_NET_FDB_H */
