/* SPDX-License-Identifier: MIT */
#ifndef VHU_COMMON_UTIL_H
#define VHU_COMMON_UTIL_H

/*
 * Concepts: small helpers every layer may use. Sizes are bytes, counts are
 * entries; the overflow helpers are the only way lib/ adds a peer-supplied
 * size to an address.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <vhu/log.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VHU_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VHU_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VHU_UNUSED __attribute__((unused))
#define vhu_likely(x) __builtin_expect(!!(x), 1)
#define vhu_unlikely(x) __builtin_expect(!!(x), 0)

/* true if [start, start + size) wraps around 2^64 */
static inline bool vhu_range_overflows(uint64_t start, uint64_t size)
{
	uint64_t end;

	return __builtin_add_overflow(start, size, &end);
}

static inline bool vhu_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* CLOCK_MONOTONIC in nanoseconds */
static inline uint64_t vhu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One step of a busy wait: let the sibling hyperthread and the memory system breathe. */
static inline void vhu_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* Close every fd in @fds[0..n) that is >= 0 and set it to -1. */
void vhu_close_fds(int *fds, unsigned int n);

/* Close *@fd if it is >= 0 and set it to -1; keeps errno. */
void vhu_close_fd(int *fd);

/* Return *@fd and leave -1 behind: ownership moves to the caller. */
static inline int vhu_fd_take(int *fd)
{
	int ret = *fd;

	*fd = -1;
	return ret;
}

#define vhu_err(log, ...) vhu_logf((log), VHU_LOG_ERR, __VA_ARGS__)
#define vhu_warn(log, ...) vhu_logf((log), VHU_LOG_WARN, __VA_ARGS__)
#define vhu_info(log, ...) vhu_logf((log), VHU_LOG_INFO, __VA_ARGS__)
#define vhu_debug(log, ...)                                          \
	do {                                                         \
		if (!(log) || (log)->level >= VHU_LOG_DEBUG)         \
			vhu_logf((log), VHU_LOG_DEBUG, __VA_ARGS__); \
	} while (0)
#define vhu_trace(log, ...)                                          \
	do {                                                         \
		if ((log) && (log)->level >= VHU_LOG_TRACE)          \
			vhu_logf((log), VHU_LOG_TRACE, __VA_ARGS__); \
	} while (0)

#endif /* VHU_COMMON_UTIL_H */
