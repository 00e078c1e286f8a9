/* SPDX-License-Identifier: MIT */
#ifndef VHU_BENCH_H
#define VHU_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Latency histogram: log2 buckets of nanoseconds, each split in 16 linear steps. */
#define BENCH_HIST_BUCKETS (64 * 16)

struct bench_hist {
	uint64_t count[BENCH_HIST_BUCKETS];
	uint64_t total;
};

void bench_hist_add(struct bench_hist *h, uint64_t ns);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value (ns) below which @pct percent of the samples lie. */
uint64_t bench_hist_pct(const struct bench_hist *h, double pct);

uint64_t bench_now_ns(void);

struct bench_common {
	const char *socket_path;
	unsigned int time_s;
	unsigned int queues;
	bool packed;
	bool json;
	bool progress; /* a terminal: show progress on stderr */
};

/* Parse "4096", "4k", "64M", "1G" into bytes; -EINVAL on junk. */
int bench_parse_size(const char *text, uint64_t *out);

/*
 * One load thread. A worker struct embeds it as its FIRST member, sets run
 * and count, and bench_run_threads() starts, watches and joins them.
 */
struct bench_thread {
	pthread_t thread;
	int (*run)(struct bench_thread *t); /* the load: 0 or -errno */
	const uint64_t *count; /* summed for the progress line (relaxed atomic reads) */
	int fatal;	       /* what run() returned */
	bool done;	       /* set (release) when run() returned */
};

/*
 * Run @n threads to completion, with a progress line on a terminal for runs
 * over two seconds ("%s" = @unit). Returns the first thread's error, or
 * -EAGAIN when a thread could not be created; @secs is the wall time.
 */
int bench_run_threads(const struct bench_common *c, struct bench_thread *const *ts, unsigned int n,
		      const char *unit, double *secs);

/* ---- --iommu, --iotlb-window, --invalidate-us (iommu.c; blk and net) ---- */

struct vhu_frontend;
struct vhu_frontend_config;

/* getopt values of the three options (outside the modes' own letters) */
enum { BENCH_OPT_IOMMU = 0x100, BENCH_OPT_IOTLB_WINDOW, BENCH_OPT_INVALIDATE_US };
/* the three struct option rows, one a line */
/* clang-format off */
#define BENCH_IOMMU_LONGOPTS                                                        \
	{ "iommu", no_argument, NULL, BENCH_OPT_IOMMU },                            \
	{ "iotlb-window", required_argument, NULL, BENCH_OPT_IOTLB_WINDOW },        \
	{ "invalidate-us", required_argument, NULL, BENCH_OPT_INVALIDATE_US }
/* clang-format on */
#define BENCH_IOMMU_USAGE                                                                  \
	"  --iommu             play the guest's IOMMU (VIRTIO_F_ACCESS_PLATFORM): rings\n" \
	"                      and buffers are IOVAs, each page mapped when the\n"         \
	"                      back-end misses on it\n"                                    \
	"  --iotlb-window=N    keep at most N IOTLB entries mapped (implies --iommu)\n"    \
	"  --invalidate-us=N   invalidate the whole IOTLB every N microseconds while\n"    \
	"                      the load runs (implies --iommu)\n"

struct bench_iommu {
	bool on;
	unsigned int window;   /* --iotlb-window: most entries mapped at once (0: no bound) */
	unsigned int storm_us; /* --invalidate-us: invalidate everything this often */
	struct vhu_frontend *fe;
	bool stop; /* atomic: the storm thread ends */
	bool running;
	uint64_t storms; /* whole-space invalidations the storm thread sent */
	pthread_t thread;
};

/* One of the options above into @im: 0, -1 (bad value, said on stderr), 1 (not ours). */
int bench_iommu_option(struct bench_iommu *im, int ch, const char *arg);
/* With --iommu: ACCESS_PLATFORM, BACKEND_REQ, REPLY_ACK and the window into @cfg. */
void bench_iommu_config(const struct bench_iommu *im, struct vhu_frontend_config *cfg);
/* -ENOTSUP (said on stderr) when --iommu was asked and the back-end does not play. */
int bench_iommu_check(const struct bench_iommu *im, struct vhu_frontend *fe, const char *path);
/* Start the --invalidate-us thread on @fe (nothing without it): 0 or -EAGAIN. */
int bench_iommu_start(struct bench_iommu *im, struct vhu_frontend *fe);
void bench_iommu_stop(struct bench_iommu *im);
/* What the IOMMU role did: one line, or a second JSON object with --json. */
void bench_iommu_report(const struct bench_common *c, const struct bench_iommu *im);

int bench_blk_main(const struct bench_common *common, int argc, char **argv);
int bench_net_main(const struct bench_common *common, int argc, char **argv);
int bench_input_main(const struct bench_common *common, int argc, char **argv);

/*
 * count_one() - add one to a counter only this thread writes and the
 * progress line reads: a plain atomic store, not a locked add, which would
 * be a full barrier per frame or request (draining every store to the
 * rings before the next one).
 */
static inline void count_one(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

#endif /* VHU_BENCH_H */
