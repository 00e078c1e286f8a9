/* SPDX-License-Identifier: MIT */
/*
 * rng_migrate_check - a vhu-rng device migrates: lib/frontend (the public API
 * only) plays the guest, as QEMU 7.2 cannot (its vhost-user-rng device is
 * marked unmigratable: "State blocked by non-migratable device").
 *
 *   rng_migrate_check SRC_SOCK DST_SOCK [--packed]
 *
 * On the source: dirty logging on, rounds of 16 device-writable 4 KiB
 * buffers, each on its own page; every buffer must come back full, the
 * bytes must look random (chi-square over a round's byte values) and differ
 * from the round before, and every buffer's page must be marked in the log.
 * Then a round is posted and kicked, and the device handed over to the
 * destination (vhu_frontend_migrate) before it is collected: what the
 * source had not taken, the destination serves. Two more rounds there.
 *
 * Exit: 0 pass, 1 fail (the reason on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <vhu/frontend.h>

#define NBUF 16u
#define BUF 4096u

static struct vhu_frontend *fe;
static uint8_t *buf[NBUF], *prev;

static int die(const char *what, int err)
{
	fprintf(stderr, "rng_migrate_check: %s%s%s\n", what, err ? ": " : "",
		err ? strerror(-err) : "");
	exit(1);
}

/* Post every buffer (emptied first) and kick. */
static void post(void)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(fe, 0);

	for (unsigned int i = 0; i < NBUF; i++) {
		struct iovec iov = { buf[i], BUF };
		int ret;

		memset(buf[i], 0, BUF);
		ret = vhu_frontend_queue_add(q, NULL, 0, &iov, 1, buf[i]);
		if (ret < 0)
			die("posting a buffer", ret);
	}
	if (vhu_frontend_queue_kick(q) < 0)
		die("kick", -EIO);
}

/* Collect the NBUF completions, and check what they hold. */
static void collect(const char *where)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(fe, 0);
	unsigned int n = 0, count[256] = { 0 };
	double chi2 = 0, e = (double)NBUF * BUF / 256;

	for (int tries = 0; n < NBUF; tries++) {
		void *token;
		uint32_t len;
		int ret = vhu_frontend_queue_get(q, &token, &len);

		if (ret < 0)
			die("a completion", ret);
		if (ret == 0) {
			if (tries > 500)
				die("the device did not fill every buffer within 5 s", 0);
			vhu_frontend_queue_wait(q, 10);
			continue;
		}
		if (len != BUF) {
			fprintf(stderr, "rng_migrate_check: %s: a buffer came back with %u bytes\n",
				where, len);
			exit(1);
		}
		n++;
	}
	for (unsigned int i = 0; i < NBUF; i++) {
		for (unsigned int j = 0; j < BUF; j++)
			count[buf[i][j]]++;
		if (!memcmp(buf[i], prev, BUF))
			die("two buffers hold the same bytes", 0);
		memcpy(prev, buf[i], BUF);
	}
	for (unsigned int v = 0; v < 256; v++)
		chi2 += (count[v] - e) * (count[v] - e) / e;
	/* 255 degrees of freedom: outside 161..377 with a probability of 2e-6 */
	if (chi2 < 161 || chi2 > 377) {
		fprintf(stderr, "rng_migrate_check: %s: chi-square %.1f: not random bytes\n", where,
			chi2);
		exit(1);
	}
	printf("rng_migrate_check: %s: %u buffers of %u bytes, chi-square %.1f\n", where, NBUF, BUF,
	       chi2);
}

/* Every buffer's page is marked in the log. */
static void check_log(void)
{
	size_t bytes = (vhu_frontend_mem_size(fe) / 4096 + 7) / 8;
	uint8_t *map = calloc(1, bytes);
	long marked;

	if (!map)
		die("calloc", -ENOMEM);
	marked = vhu_frontend_log_read(fe, map, bytes);
	if (marked < 0)
		die("reading the log", (int)marked);
	for (unsigned int i = 0; i < NBUF; i++) {
		size_t page = (size_t)(buf[i] - (uint8_t *)vhu_frontend_mem_base(fe)) / 4096;

		if (!(map[page / 8] & (1u << (page % 8))))
			die("a buffer the device filled is not marked in the dirty log", 0);
	}
	printf("rng_migrate_check: the log marks all %u buffers (%ld pages marked)\n", NBUF,
	       marked);
	free(map);
}

int main(int argc, char **argv)
{
	struct vhu_frontend_config cfg = {
		.fd = -1,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX),
		.protocol_features = ~0ull,
		.num_queues = 1,
		.queue_size = 64,
		.mem_size = 1u << 20,
	};
	int ret;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--packed"))) {
		fprintf(stderr, "usage: rng_migrate_check SRC_SOCK DST_SOCK [--packed]\n");
		return 2;
	}
	cfg.socket_path = argv[1];
	if (argc == 4)
		cfg.features |= 1ull << VIRTIO_F_RING_PACKED;
	ret = vhu_frontend_connect(&cfg, &fe);
	if (ret < 0)
		die(argv[1], ret);
	if ((vhu_frontend_features(fe) & cfg.features) != cfg.features)
		die("the features asked for were not negotiated", 0);
	for (unsigned int i = 0; i < NBUF; i++)
		if (!(buf[i] = vhu_frontend_alloc(fe, BUF, 4096)))
			die("alloc", -ENOMEM);
	prev = calloc(1, BUF);
	if (!prev)
		die("calloc", -ENOMEM);
	ret = vhu_frontend_start(fe);
	if (ret < 0)
		die("start", ret);
	ret = vhu_frontend_log_start(fe);
	if (ret < 0)
		die("starting the dirty log", ret);
	for (int r = 0; r < 2; r++) {
		post();
		collect("source");
		check_log();
	}
	/* the switch-over with a round posted: the rest is the destination's */
	post();
	ret = vhu_frontend_migrate(fe, argv[2]);
	if (ret < 0)
		die("migrating to the destination", ret);
	collect("across the switch-over");
	for (int r = 0; r < 2; r++) {
		post();
		collect("destination");
	}
	vhu_frontend_destroy(fe);
	free(prev);
	printf("rng_migrate_check: pass\n");
	return 0;
}
