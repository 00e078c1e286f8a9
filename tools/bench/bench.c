/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench: drive a vhost-user back-end at full speed from a process, with
 * vhu's front-end as the virtio driver. Subcommands: blk, net and input; each takes
 * its options after the subcommand.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include <vhu/version.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* bucket = 16 * floor(log2 ns) + the next 4 bits below the top one */
static unsigned int hist_bucket(uint64_t ns)
{
	unsigned int log2, sub;

	if (ns < 16)
		return (unsigned int)ns;
	log2 = 63u - (unsigned int)__builtin_clzll(ns);
	sub = (unsigned int)((ns >> (log2 - 4)) & 15u);
	return log2 * 16u + sub;
}

static uint64_t bucket_value(unsigned int b)
{
	unsigned int log2 = b / 16u, sub = b % 16u;

	if (b < 16)
		return b;
	return (1ull << log2) | ((uint64_t)sub << (log2 - 4));
}

void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->count[hist_bucket(ns)]++;
	h->total++;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
}

uint64_t bench_hist_pct(const struct bench_hist *h, double pct)
{
	uint64_t want = (uint64_t)((double)h->total * pct / 100.0), seen = 0;

	for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > want)
			return bucket_value(i);
	}
	return 0;
}

int bench_parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void *thread_main(void *arg)
{
	struct bench_thread *t = arg;

	t->fatal = t->run(t);
	__atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static bool all_done(struct bench_thread *const *ts, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!__atomic_load_n(&ts[i]->done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

int bench_run_threads(const struct bench_common *c, struct bench_thread *const *ts, unsigned int n,
		      const char *unit, double *secs)
{
	uint64_t t0 = bench_now_ns(), last = t0;
	bool progress = c->progress && c->time_s > 2;
	unsigned int started = 0;
	int ret = 0;

	for (; started < n; started++)
		if (pthread_create(&ts[started]->thread, NULL, thread_main, ts[started]))
			break;
	while (progress && !all_done(ts, started)) {
		struct timespec nap = { 0, 100000000 };
		uint64_t count = 0;

		if (bench_now_ns() - last >= 1000000000ull) {
			last = bench_now_ns();
			for (unsigned int i = 0; i < started; i++)
				count += __atomic_load_n(ts[i]->count, __ATOMIC_RELAXED);
			fprintf(stderr, "\r%5.1f s  %12" PRIu64 " %s", (last - t0) / 1e9, count,
				unit);
		}
		nanosleep(&nap, NULL);
	}
	if (progress)
		fputc('\n', stderr);
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(ts[i]->thread, NULL);
		if (ts[i]->fatal && !ret)
			ret = ts[i]->fatal;
	}
	*secs = (bench_now_ns() - t0) / 1e9;
	return started < n ? -EAGAIN : ret;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhu-bench blk --socket-path=PATH "
		"[--rw=randread|randwrite|read|write|verify]\n"
		"                 [--bs=4096] [--iodepth=32] [--queues=1] [--time=10] "
		"[--size=BYTES]\n"
		"                 [--packed] [--json] [--reconnect] [--server] [--log-check]\n"
		"                 [--log-dirty] [--migrate-to=PATH] [--inband]\n"
		"                 [--iommu] [--iotlb-window=N] [--invalidate-us=N]\n"
		"       vhu-bench net --socket-path=PATH [--mode=tx|rx|txrx] [--pkt-size=64]\n"
		"                 [--time=10] [--count=N] [--packed] [--json] [--log-dirty]\n"
		"                 [--verify] [--iommu] [--iotlb-window=N] [--invalidate-us=N]\n"
		"       vhu-bench input --socket-path=PATH [--count=N] [--time=10] [--packed]\n"
		"                 [--buffers=N] [--config-only] [--status=T,C,V] [--expect=FILE]\n"
		"\n"
		"Drive a vhost-user back-end from this process (vhu's userspace virtio driver)\n"
		"and report IOPS, MB/s and latency percentiles (blk), or packets per second\n"
		"and Gbit/s (net); input prints the device's config and its events.\n"
		"\n"
		"blk --rw=verify writes a pattern over --size and reads it back (with --time:\n"
		"pass after pass, each with its own pattern, until the time is up). With\n"
		"--reconnect a back-end that dies is waited for (10 s) on the same socket path\n"
		"and the run goes on with the requests in flight (resubmitted by a back-end\n"
		"with inflight tracking); the reconnects are counted in the summary.\n"
		"\n"
		"Live migration: blk --log-check turns dirty-page logging on and checks the\n"
		"log against every page the back-end wrote (exit 2 if one is missing);\n"
		"--migrate-to=PATH hands the running device over to the back-end at PATH\n"
		"half-way (with its device state when both offer DEVICE_STATE).\n"
		"--log-dirty (blk and net) runs with logging on and checks nothing: its cost.\n"
		"\n"
		"vhu-bench blk --help, net --help and input --help list each mode's options.\n");
}

int main(int argc, char **argv)
{
	struct bench_common common = { .time_s = 10, .queues = 1 };

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vhu-bench %s\n", vhu_version_string());
		return 0;
	}
	common.progress = isatty(STDERR_FILENO);
	if (!strcmp(argv[1], "blk"))
		return bench_blk_main(&common, argc - 1, argv + 1);
	if (!strcmp(argv[1], "net"))
		return bench_net_main(&common, argc - 1, argv + 1);
	if (!strcmp(argv[1], "input"))
		return bench_input_main(&common, argc - 1, argv + 1);
	fprintf(stderr, "vhu-bench: unknown mode '%s' (blk, net, input)\n", argv[1]);
	usage(stderr);
	return 2;
}
