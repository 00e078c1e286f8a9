/* SPDX-License-Identifier: MIT */
/* vhu-net's MAC table: lock-free lookups, see fdb.h. */

#include "fdb.h"

#include <stddef.h>
#include <string.h>

#define WORD_PORT_MASK 0x7full
#define WORD_KEY_SHIFT 7 /* the MAC and VLAN key above the port */

static uint64_t load_word(const struct fdb_entry *e)
{
	/* acquire: pairs with the release store of an insert, so the stamp
	 * written before the word is seen with it */
	return __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
}

static uint32_t load_stamp(const struct fdb_entry *e)
{
	return __atomic_load_n(&e->stamp, __ATOMIC_RELAXED);
}

static bool live(const struct fdb *fdb, const struct fdb_entry *e, uint32_t now)
{
	return load_word(e) != 0 && now - load_stamp(e) < fdb->ageing_s;
}

static unsigned int slot_of(uint64_t mac)
{
	/* Fibonacci hashing: the multiply mixes every byte into the top bits */
	return (unsigned int)((mac * 0x9e3779b97f4a7c15ull) >> 40) & (FDB_SIZE - 1);
}

uint64_t fdb_mac(const uint8_t mac[6])
{
	return (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
	       (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
}

void fdb_init(struct fdb *fdb, uint32_t ageing_s)
{
	memset(fdb, 0, offsetof(struct fdb, insert_lock));
	fdb->ageing_s = ageing_s ? ageing_s : 1;
	fdb->max = FDB_MAX_DEFAULT;
	for (unsigned int i = 0; i < FDB_PORTS_MAX; i++)
		fdb->port_max[i] = FDB_PORT_MAX_DEFAULT;
	for (unsigned int i = 0; i <= FDB_PORTS_MAX; i++)
		fdb->swept[i] = UINT32_MAX;
	pthread_mutex_init(&fdb->insert_lock, NULL);
}

void fdb_set_max(struct fdb *fdb, uint32_t max)
{
	fdb->max = max;
}

void fdb_set_port_max(struct fdb *fdb, unsigned int port, uint32_t max)
{
	if (port < FDB_PORTS_MAX)
		__atomic_store_n(&fdb->port_max[port], max, __ATOMIC_RELAXED);
}

void fdb_destroy(struct fdb *fdb)
{
	pthread_mutex_destroy(&fdb->insert_lock);
}

static unsigned int port_of(uint64_t word)
{
	return (unsigned int)(word & WORD_PORT_MASK) - 1;
}

/* Under insert_lock: the slot's word becomes @want (0: free), the counts follow. */
static void set_word(struct fdb *fdb, struct fdb_entry *e, uint64_t want)
{
	uint64_t old = load_word(e);

	if (old) {
		__atomic_fetch_sub(&fdb->port_used[port_of(old)], 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&fdb->used, 1, __ATOMIC_RELAXED);
	}
	if (want) {
		__atomic_fetch_add(&fdb->port_used[port_of(want)], 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&fdb->used, 1, __ATOMIC_RELAXED);
	}
	/* release: pairs with load_word(); the stamp stored before is seen with it */
	__atomic_store_n(&e->word, want, __ATOMIC_RELEASE);
}

/*
 * Under insert_lock: free the aged entries of @port (FDB_PORTS_MAX: of
 * every port), at most once a second each.
 */
static void sweep(struct fdb *fdb, unsigned int port, uint32_t now)
{
	if (__atomic_load_n(&fdb->swept[port], __ATOMIC_RELAXED) == now)
		return;
	__atomic_store_n(&fdb->swept[port], now, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < FDB_SIZE; i++) {
		struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		if (w && (port == FDB_PORTS_MAX || port_of(w) == port) && !live(fdb, e, now))
			set_word(fdb, e, 0);
	}
}

/* At its limit even after this second's sweep: no need for the lock to know. */
static bool at_limit(struct fdb *fdb, unsigned int port, uint32_t now)
{
	return __atomic_load_n(&fdb->port_used[port], __ATOMIC_RELAXED) >=
		       __atomic_load_n(&fdb->port_max[port], __ATOMIC_RELAXED) &&
	       __atomic_load_n(&fdb->swept[port], __ATOMIC_RELAXED) == now;
}

/* Under insert_lock: whether @port may own one more entry (sweeping if it must). */
static bool port_room(struct fdb *fdb, unsigned int port, uint32_t now)
{
	uint32_t max = __atomic_load_n(&fdb->port_max[port], __ATOMIC_RELAXED);

	if (__atomic_load_n(&fdb->port_used[port], __ATOMIC_RELAXED) < max)
		return true;
	sweep(fdb, port, now);
	return __atomic_load_n(&fdb->port_used[port], __ATOMIC_RELAXED) < max;
}

/* Under insert_lock: whether the table may hold one more entry. */
static bool table_room(struct fdb *fdb, uint32_t now)
{
	if (__atomic_load_n(&fdb->used, __ATOMIC_RELAXED) < fdb->max)
		return true;
	sweep(fdb, FDB_PORTS_MAX, now);
	return __atomic_load_n(&fdb->used, __ATOMIC_RELAXED) < fdb->max;
}

/* The MAC and VLAN key as they sit in a word above the port. */
static uint64_t key_of(const uint8_t mac[6], unsigned int vlan)
{
	return fdb_mac(mac) << 9 | (vlan & (FDB_VLANS - 1));
}

static struct fdb_entry *find(struct fdb *fdb, uint64_t key, uint64_t *word)
{
	unsigned int base = slot_of(key);

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint64_t w = load_word(e);

		if (w && w >> WORD_KEY_SHIFT == key) {
			*word = w;
			return e;
		}
	}
	return NULL;
}

/*
 * Under insert_lock: a free slot, else an aged-out one, else the oldest of
 * @port's own; NULL when every probed slot is another port's live entry.
 */
static struct fdb_entry *victim(struct fdb *fdb, uint64_t key, unsigned int port, uint32_t now)
{
	unsigned int base = slot_of(key);
	struct fdb_entry *oldest = NULL;
	uint32_t oldest_age = 0;

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint32_t age = now - load_stamp(e);

		if (!live(fdb, e, now))
			return e;
		if (port_of(load_word(e)) == port && (!oldest || age > oldest_age)) {
			oldest = e;
			oldest_age = age;
		}
	}
	return oldest;
}

enum fdb_learnt fdb_learn(struct fdb *fdb, const uint8_t mac[6], unsigned int vlan,
			  unsigned int port, uint32_t now)
{
	uint64_t m = key_of(mac, vlan), want = m << WORD_KEY_SHIFT | ((port + 1) & WORD_PORT_MASK),
		 w;
	enum fdb_learnt ret = FDB_LEARNT;
	struct fdb_entry *e;

	if (mac[0] & 1 || port >= FDB_PORTS_MAX)
		return FDB_KNOWN; /* a group address is never a station */
	e = find(fdb, m, &w);
	if (e && w == want) {
		if (load_stamp(e) != now) /* at most one store a second per station */
			__atomic_store_n(&e->stamp, now, __ATOMIC_RELAXED);
		return FDB_KNOWN;
	}
	if (at_limit(fdb, port, now))
		return FDB_LIMITED; /* a flood of new sources costs no lock */
	pthread_mutex_lock(&fdb->insert_lock);
	e = find(fdb, m, &w); /* another thread may have changed it meanwhile */
	if (e && w == want) {
		ret = FDB_KNOWN;
	} else if (!port_room(fdb, port, now)) {
		ret = FDB_LIMITED;
	} else if (!e && !table_room(fdb, now)) {
		ret = FDB_FULL;
	} else if (!e && !(e = victim(fdb, m, port, now))) {
		ret = FDB_FULL;
	} else {
		/* moved (a VM migrated, a cable moved), or a new station */
		__atomic_store_n(&e->stamp, now, __ATOMIC_RELAXED);
		set_word(fdb, e, want);
	}
	pthread_mutex_unlock(&fdb->insert_lock);
	return ret;
}

int fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], unsigned int vlan, uint32_t now)
{
	uint64_t m = key_of(mac, vlan);
	unsigned int base = slot_of(m);

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		const struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint64_t w = load_word(e);

		if (w && w >> WORD_KEY_SHIFT == m)
			return now - load_stamp(e) < fdb->ageing_s ? (int)(w & WORD_PORT_MASK) - 1
								   : FDB_PORT_NONE;
	}
	return FDB_PORT_NONE;
}

void fdb_flush_port(struct fdb *fdb, unsigned int port)
{
	pthread_mutex_lock(&fdb->insert_lock);
	for (unsigned int i = 0; i < FDB_SIZE; i++) {
		struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		if (w && port_of(w) == port)
			set_word(fdb, e, 0);
	}
	pthread_mutex_unlock(&fdb->insert_lock);
}

unsigned int fdb_count(const struct fdb *fdb, uint32_t now)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FDB_SIZE; i++)
		n += live(fdb, &fdb->slots[i], now);
	return n;
}

unsigned int fdb_port_count(const struct fdb *fdb, unsigned int port, uint32_t now)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FDB_SIZE; i++) {
		const struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		n += w && port_of(w) == port && live(fdb, e, now);
	}
	return n;
}

unsigned int fdb_port_macs(const struct fdb *fdb, unsigned int port, uint32_t now, uint64_t *macs,
			   uint16_t *vlans, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FDB_SIZE && n < max; i++) {
		const struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		if (w && port_of(w) == port && live(fdb, e, now)) {
			if (vlans)
				vlans[n] = (uint16_t)((w >> 7) & (FDB_VLANS - 1));
			macs[n++] = w >> 16; /* the MAC, without the VLAN key */
		}
	}
	return n;
}
