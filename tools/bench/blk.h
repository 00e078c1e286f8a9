/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench blk's parts: the options (blk_opts.c), the dirty-log check
 * (blk_log.c) and the request engine (blk.c).
 */
#ifndef VHU_BENCH_BLK_H
#define VHU_BENCH_BLK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include <vhu/frontend.h>

#define SECTOR 512u

enum rw { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_VERIFY };
extern const char *const rw_names[];
enum wait_mode { WAIT_SPIN, WAIT_EVENT, WAIT_POLL };
extern const char *const wait_names[];

struct blk_opts {
	enum rw rw;
	uint64_t bs;
	unsigned int iodepth;
	enum wait_mode wait;	  /* --wait */
	unsigned int queue_size;  /* --queue-size; 0: from iodepth */
	bool no_event_idx;	  /* --no-event-idx: flags, not event idx, suppress kicks */
	unsigned int think_us;	  /* --think-us: a random pause of up to this before each kick */
	unsigned int idle_s;	  /* --idle: rings kept, nothing sent, this long after the run */
	uint64_t size;		  /* bytes of the disk used */
	bool reconnect;		  /* wait for a back-end that died and go on */
	bool server;		  /* listen; the back-end connects (client mode) */
	bool inband;		  /* --inband: kicks and calls as messages, no eventfds */
	bool time_given;	  /* verify: repeat passes until --time is up */
	bool log_check;		  /* dirty logging on; check the log against the writes */
	bool log_dirty;		  /* dirty logging on, nothing checked (what logging costs) */
	const char *migrate_to;	  /* half-way, hand the device over to this back-end */
	struct bench_iommu iommu; /* --iommu: the front-end plays the guest's IOMMU */
};

/* What the workers share for --reconnect (lock: everything below it). */
struct blk_shared {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vhu_frontend *fe;
	const char *path;
	bool enabled;	     /* --reconnect */
	unsigned int active; /* workers still running */
	unsigned int parked; /* of those, waiting for a reconnect */
	unsigned int gen;    /* reconnects done: parked workers wait for it to move */
	int error;	     /* a reconnect that gave up: every worker fails with it */
	uint64_t reconnects;
	/* --log-check: the pages of shared memory the device wrote into (bit per
	 * 4 KiB page from vhu_frontend_mem_base(), atomic ORs), and its size */
	uint8_t *written;
	size_t written_bytes;
	uint8_t *mem_base;
};

/* Parse vhu-bench blk's options. Return: 0, 1 after --help, -1 for bad options. */
int blk_parse(int argc, char **argv, struct bench_common *c, struct blk_opts *o);

/* --log-check: the device wrote [p, p + len) (the truth the log is checked against). */
void blk_written(struct blk_shared *s, const void *p, uint64_t len);
/* --log-check / --migrate-to: the back-end logs from now on. */
int blk_log_setup(const struct bench_common *c, struct blk_shared *s, struct vhu_frontend *fe);
/* After the run: every page the device wrote into is marked in the log. */
int blk_log_check(const struct bench_common *c, struct blk_shared *s, struct vhu_frontend *fe);

#endif /* VHU_BENCH_BLK_H */
