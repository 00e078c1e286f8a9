/* SPDX-License-Identifier: MIT */
/*
 * dmacheck - a guest program that catches a back-end's writes into guest
 * memory going missing, as they do across live migration when the back-end
 * does not log them (the dirty-page log).
 *
 *   dmacheck DEV SECONDS [CHUNK_KIB]
 *
 * Writes a pattern over the first chunks of DEV, then, for SECONDS (guest
 * clock), rounds of: O_DIRECT reads of 8 different chunks into 8 buffers
 * that only the device ever writes (allocated and touched once, never
 * written by this CPU again), a pause, then a check of each buffer against
 * the pattern its chunk holds; and one chunk rewritten with a new
 * generation. A read lands in a buffer that held another chunk before, so a
 * device write that migration did not carry over leaves the old chunk's
 * bytes, and the check fails. Page-cache reads cannot show this reliably:
 * the guest kernel zeroes a page when it allocates it (init_on_alloc), and
 * that CPU write is tracked by QEMU itself.
 *
 * The other way round, for postcopy: at the end of each round NDEFER
 * chunks are written from buffers this CPU filled at the end of the
 * round before and has not touched since, each read back at once, and the
 * buffers filled again with the next generation. Across a postcopy
 * switch-over those buffers are still on the source (filled after they
 * were sent, or never sent), and the guest's CPU does not fault them over
 * first: the back-end reading them is the first to touch them on the
 * destination. Unless its mappings are registered with the userfaultfd
 * (POSTCOPY_LISTEN), it reads zeros where the data should be, and the
 * read-back fails.
 *
 * Prints "dmacheck: PASS rounds=N sha=..." (a sum over the final contents of
 * the chunks, for comparing with the image on the host) or "dmacheck: FAIL
 * ..." and exits 1. Static, no libc beyond POSIX: the test guests have only
 * busybox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define NBUF 8
#define MAX_CHUNKS 64
#define NSTALE 8 /* chunks rewritten from buffers filled once, at the start */
#define NDEFER 4 /* chunks written from buffers filled a round earlier */

static uint64_t chunk_size;
static unsigned int nchunks;
static uint32_t gen[MAX_CHUNKS];
static uint64_t *defer[NDEFER];
static uint32_t defer_gen[NDEFER];

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t word(unsigned int c, uint32_t g, uint64_t i)
{
	return mix(((uint64_t)g << 40) ^ ((uint64_t)c << 32) ^ i);
}

static void fill(uint64_t *buf, unsigned int c, uint32_t g)
{
	for (uint64_t i = 0; i < chunk_size / 8; i++)
		buf[i] = word(c, g, i);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int io(int fd, void *buf, unsigned int c, int write)
{
	off_t off = (off_t)c * (off_t)chunk_size;
	ssize_t n = write ? pwrite(fd, buf, chunk_size, off) : pread(fd, buf, chunk_size, off);

	if (n != (ssize_t)chunk_size) {
		printf("dmacheck: FAIL %s of chunk %u: %s\n", write ? "write" : "read", c,
		       n < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

#define DEFER_CHUNK(k) (nchunks - NSTALE - NDEFER + (k))

/*
 * Why a chunk read back wrong. A device that lost, skipped or reordered a
 * write leaves older bytes, zeros or another chunk's; it cannot produce
 * generation g+1 of the chunk when this program's count says g: g+1's
 * bytes are in a buffer only because this program counted to g+1, and the
 * device never writes the count (it writes only into the read buffers).
 * Reading g+1 means this program's own memory lost the store of its
 * count: QEMU 7.2's TCG losing a guest CPU write across the switch-over
 * (docs/RELIABILITY.md), not the device.
 */
static const char *why(const uint64_t *b, unsigned int c, uint32_t g, const char *device)
{
	for (uint64_t i = 0; i < chunk_size / 8; i++)
		if (b[i] != word(c, g + 1, i))
			return device;
	return "the whole chunk is the next generation: this guest's own count lost a store, "
	       "a CPU write lost across the migration, not a device fault";
}

/*
 * Write each deferred chunk from its buffer, untouched by this CPU since
 * the last round; read it back into check (a buffer the CPU writes) and
 * compare; then fill every buffer with its chunk's next generation.
 */
static int deferred(int fd, uint64_t *check, unsigned int round)
{
	for (unsigned int k = 0; k < NDEFER; k++) {
		unsigned int c = DEFER_CHUNK(k);

		if (io(fd, defer[k], c, 1) < 0)
			return -1;
		gen[c] = defer_gen[k];
		memset(check, 0xa5, chunk_size);
		if (io(fd, check, c, 0) < 0)
			return -1;
		for (uint64_t i = 0; i < chunk_size / 8; i++)
			if (check[i] != word(c, gen[c], i)) {
				printf("dmacheck: FAIL round %u: chunk %u, written from a buffer "
				       "filled "
				       "a round earlier, reads back 0x%016" PRIx64
				       " at word %" PRIu64 ", want 0x%016" PRIx64 " (%s)\n",
				       round, c, check[i], i, word(c, gen[c], i),
				       why(check, c, gen[c],
					   "the device read guest memory that had not arrived?"));
				return -1;
			}
	}
	for (unsigned int k = 0; k < NDEFER; k++)
		fill(defer[k], DEFER_CHUNK(k), ++defer_gen[k]);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t *buf[NBUF], *wbuf, *stale[NSTALE], size = 0, sum = 0;
	unsigned int held[NBUF], round = 0;
	double end;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: dmacheck DEV SECONDS [CHUNK_KIB]\n");
		return 2;
	}
	chunk_size = (argc > 3 ? strtoull(argv[3], NULL, 0) : 256) * 1024;
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		printf("dmacheck: FAIL %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	nchunks = (unsigned int)(size / chunk_size < MAX_CHUNKS ? size / chunk_size : MAX_CHUNKS);
	if (nchunks < NBUF + NSTALE + NDEFER + 1 || chunk_size == 0) {
		printf("dmacheck: FAIL %s: %" PRIu64 " bytes is too small\n", argv[1], size);
		return 1;
	}
	for (unsigned int k = 0; k < NBUF; k++) {
		if (posix_memalign((void **)&buf[k], 4096, chunk_size)) {
			printf("dmacheck: FAIL out of memory\n");
			return 1;
		}
		memset(buf[k], 0, chunk_size); /* fault the pages in, once */
		held[k] = UINT32_MAX;
	}
	if (posix_memalign((void **)&wbuf, 4096, chunk_size))
		return 1;
	/* the stale chunks are the last NSTALE ones, at generation 1 for good */
	for (unsigned int k = 0; k < NSTALE; k++) {
		if (posix_memalign((void **)&stale[k], 4096, chunk_size))
			return 1;
		fill(stale[k], nchunks - NSTALE + k, 1);
	}
	/* the deferred chunks are the NDEFER before them: generation 2 waits in each buffer */
	for (unsigned int k = 0; k < NDEFER; k++) {
		if (posix_memalign((void **)&defer[k], 4096, chunk_size))
			return 1;
		defer_gen[k] = 2;
		fill(defer[k], DEFER_CHUNK(k), defer_gen[k]);
	}
	for (unsigned int c = 0; c < nchunks; c++) {
		gen[c] = 1;
		fill(wbuf, c, gen[c]);
		if (io(fd, wbuf, c, 1) < 0)
			return 1;
	}
	printf("dmacheck: %u chunks of %" PRIu64 " KiB written, checking for %s s\n", nchunks,
	       chunk_size / 1024, argv[2]);
	fflush(stdout);
	end = now() + strtod(argv[2], NULL);
	while (now() < end) {
		unsigned int w = (round * 7 + 3) % (nchunks - NSTALE - NDEFER), sk = round % NSTALE;

		for (unsigned int k = 0; k < NBUF; k++) {
			/* a chunk other than the one the buffer holds: its bytes must change */
			held[k] = (round * NBUF + k * 5 + 1) % nchunks;
			if (io(fd, buf[k], held[k], 0) < 0)
				return 1;
		}
		usleep(20000); /* the window a switch-over must fall into */
		for (unsigned int k = 0; k < NBUF; k++)
			for (uint64_t i = 0; i < chunk_size / 8; i++)
				if (buf[k][i] != word(held[k], gen[held[k]], i)) {
					printf("dmacheck: FAIL round %u: buffer %u, chunk %u word "
					       "%" PRIu64 ": 0x%016" PRIx64 ", want 0x%016" PRIx64
					       " (%s)\n",
					       round, k, held[k], i, buf[k][i],
					       word(held[k], gen[held[k]], i),
					       why(buf[k], held[k], gen[held[k]],
						   "a device write lost?"));
					return 1;
				}
		gen[w]++;
		fill(wbuf, w, gen[w]);
		if (io(fd, wbuf, w, 1) < 0)
			return 1;
		/* a write from a buffer this CPU filled long ago: same bytes again */
		if (io(fd, stale[sk], nchunks - NSTALE + sk, 1) < 0)
			return 1;
		if (deferred(fd, wbuf, round) < 0)
			return 1;
		round++;
		if (round % 50 == 0) {
			printf("dmacheck: round %u\n", round);
			fflush(stdout);
		}
	}
	for (unsigned int c = 0; c < nchunks; c++)
		for (uint64_t i = 0; i < chunk_size / 8; i++)
			sum = mix(sum ^ word(c, gen[c], i));
	printf("dmacheck: PASS rounds=%u chunks=%u sum=%016" PRIx64 "\n", round, nchunks, sum);
	return 0;
}
