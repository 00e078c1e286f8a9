/* SPDX-License-Identifier: MIT */
/*
 * xcpu: what moving one cache line from one CPU to another costs right now.
 *
 *   build/tools/bench/xcpu [CPU_A CPU_B]
 *
 * Two threads, pinned to CPU_A (default 0) and CPU_B (default 1), pass a
 * counter back and forth in one cache line; each hand-over moves the line.
 * Prints the median over 9 trials of the time of one hand-over, in
 * nanoseconds with one decimal. make bench (scripts/bench.sh) records it
 * before and after each net run: on a VM whose two vCPUs the host places near
 * each other or far apart, it tells the two placements apart, and every
 * line a generator writes and a vhost back-end reads costs that much.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_attr_setaffinity_np */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define HANDOVERS 200000u
#define TRIALS 9

static _Alignas(128) volatile uint64_t line;

/* The other side (started on its CPU): answers each odd value with the next even one. */
static void *answer(void *arg)
{
	(void)arg;
	for (uint64_t v = 1; v < 2u * HANDOVERS * TRIALS; v += 2) {
		while (line != v)
			;
		line = v + 1;
	}
	return NULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int a = argc > 2 ? atoi(argv[1]) : 0, b = argc > 2 ? atoi(argv[2]) : 1;
	double ns[TRIALS];
	cpu_set_t set;
	pthread_attr_t attr;
	pthread_t t;
	uint64_t v = 1;
	int err;

	if (a < 0 || a >= CPU_SETSIZE || b < 0 || b >= CPU_SETSIZE) {
		fprintf(stderr, "xcpu: CPUs are 0..%d\n", CPU_SETSIZE - 1);
		return 1;
	}
	CPU_ZERO(&set);
	CPU_SET(a, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	CPU_ZERO(&set);
	CPU_SET(b, &set);
	/* the answering thread starts on CPU_B, or not at all */
	if (!err)
		err = pthread_attr_init(&attr);
	if (!err)
		err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!err) {
		err = pthread_create(&t, &attr, answer, NULL);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		fprintf(stderr, "xcpu: cannot run on CPUs %d and %d\n", a, b);
		return 1;
	}
	for (int k = 0; k < TRIALS; k++) {
		double start = now_ns();

		for (unsigned int i = 0; i < HANDOVERS; i++, v += 2) {
			line = v;
			while (line != v + 1)
				;
		}
		/* two hand-overs per round trip */
		ns[k] = (now_ns() - start) / (2.0 * HANDOVERS);
	}
	pthread_join(t, NULL);
	qsort(ns, TRIALS, sizeof(ns[0]), cmp);
	printf("%.1f\n", ns[TRIALS / 2]);
	return 0;
}
