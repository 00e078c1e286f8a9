/* SPDX-License-Identifier: MIT */
/* vhu-net's MAC table: lock-free lookups, see fdb.h. */

#include "fdb.h"

#include <string.h>

#define WORD_PORT_MASK 0xffffull

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
	memset(fdb->slots, 0, sizeof(fdb->slots));
	fdb->ageing_s = ageing_s ? ageing_s : 1;
	pthread_mutex_init(&fdb->insert_lock, NULL);
}

void fdb_destroy(struct fdb *fdb)
{
	pthread_mutex_destroy(&fdb->insert_lock);
}

static struct fdb_entry *find(struct fdb *fdb, uint64_t mac, uint64_t *word)
{
	unsigned int base = slot_of(mac);

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint64_t w = load_word(e);

		if (w && w >> 16 == mac) {
			*word = w;
			return e;
		}
	}
	return NULL;
}

/* Under insert_lock: a free slot, else an aged-out one, else the oldest. */
static struct fdb_entry *victim(struct fdb *fdb, uint64_t mac, uint32_t now)
{
	unsigned int base = slot_of(mac);
	struct fdb_entry *oldest = NULL;
	uint32_t oldest_age = 0;

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint32_t age = now - load_stamp(e);

		if (!live(fdb, e, now))
			return e;
		if (!oldest || age > oldest_age) {
			oldest = e;
			oldest_age = age;
		}
	}
	return oldest;
}

void fdb_learn(struct fdb *fdb, const uint8_t mac[6], unsigned int port, uint32_t now)
{
	uint64_t m = fdb_mac(mac), want = m << 16 | ((port + 1) & WORD_PORT_MASK), w;
	struct fdb_entry *e;

	if (mac[0] & 1)
		return; /* a group address is never a station */
	e = find(fdb, m, &w);
	if (e && w == want) {
		if (load_stamp(e) != now) /* at most one store a second per station */
			__atomic_store_n(&e->stamp, now, __ATOMIC_RELAXED);
		return;
	}
	if (e) {
		/* moved: a concurrent flush or replacement wins, the next frame learns again */
		__atomic_store_n(&e->stamp, now, __ATOMIC_RELAXED);
		__atomic_compare_exchange_n(&e->word, &w, want, false, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED);
		return;
	}
	pthread_mutex_lock(&fdb->insert_lock);
	e = find(fdb, m, &w); /* another thread may have inserted it meanwhile */
	if (!e)
		e = victim(fdb, m, now);
	__atomic_store_n(&e->stamp, now, __ATOMIC_RELAXED);
	/* release: pairs with load_word(); the stamp is seen with the word */
	__atomic_store_n(&e->word, want, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fdb->insert_lock);
}

int fdb_lookup(const struct fdb *fdb, const uint8_t mac[6], uint32_t now)
{
	uint64_t m = fdb_mac(mac);
	unsigned int base = slot_of(m);

	for (unsigned int i = 0; i < FDB_PROBE; i++) {
		const struct fdb_entry *e = &fdb->slots[(base + i) & (FDB_SIZE - 1)];
		uint64_t w = load_word(e);

		if (w && w >> 16 == m)
			return now - load_stamp(e) < fdb->ageing_s ? (int)(w & WORD_PORT_MASK) - 1
								   : FDB_PORT_NONE;
	}
	return FDB_PORT_NONE;
}

void fdb_flush_port(struct fdb *fdb, unsigned int port)
{
	for (unsigned int i = 0; i < FDB_SIZE; i++) {
		struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		if (w && (w & WORD_PORT_MASK) == ((port + 1) & WORD_PORT_MASK))
			__atomic_compare_exchange_n(&e->word, &w, 0, false, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED);
	}
}

unsigned int fdb_count(const struct fdb *fdb, uint32_t now)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FDB_SIZE; i++)
		n += live(fdb, &fdb->slots[i], now);
	return n;
}

unsigned int fdb_port_macs(const struct fdb *fdb, unsigned int port, uint32_t now, uint64_t *macs,
			   unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FDB_SIZE && n < max; i++) {
		const struct fdb_entry *e = &fdb->slots[i];
		uint64_t w = load_word(e);

		if (w && (w & WORD_PORT_MASK) == ((port + 1) & WORD_PORT_MASK) && live(fdb, e, now))
			macs[n++] = w >> 16;
	}
	return n;
}
