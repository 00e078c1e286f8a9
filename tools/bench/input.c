/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench input: a virtio-input driver on vhu's front-end. It reads the
 * device's config space (every select the spec defines) and prints it as
 * a description in vhu-input's events-socket syntax (name, serial, ids,
 * prop, ev, abs, then "ready"), posts 8-byte event buffers on queue 0 and
 * prints each event as "TYPE CODE VALUE", one a line, as it comes; a
 * buffer is posted again once read. --status sends status events (LEDs)
 * on queue 1 first. --expect=FILE compares the events with FILE's lines
 * (same syntax) and ends after the last: any difference is exit 1.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/input.h>
#include <linux/virtio_config.h>
#include <linux/virtio_input.h>
#include <linux/virtio_ring.h>

#include "bench.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

#define RING_SIZE 64u
#define STATUS_MAX 16u
#define EXPECT_MAX 65536u

struct input_opts {
	unsigned int buffers;
	uint64_t count; /* 0: until --time */
	bool config_only;
	struct virtio_input_event status[STATUS_MAX];
	unsigned int nstatus;
	struct virtio_input_event *expect;
	unsigned int nexpect;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhu-bench input --socket-path=PATH [--count=N] [--time=10] [--packed]\n"
		"                 [--buffers=N] [--config-only] [--status=TYPE,CODE,VALUE]...\n"
		"                 [--expect=FILE]\n"
		"\n"
		"Be the virtio-input driver: print the config space as a description\n"
		"(name, serial, ids, prop, ev, abs, ready), post event buffers and print each\n"
		"event as 'TYPE CODE VALUE'. Ends after --count events or --time seconds.\n"
		"  --buffers=N         event buffers kept posted (1..64, default 64)\n"
		"  --config-only       print the config space and end\n"
		"  --status=T,C,V      send a status event (an LED: 17,CODE,VALUE) first\n"
		"  --expect=FILE       the events FILE lists must come, in order, exactly\n");
}

static int parse_event(const char *text, char sep, struct virtio_input_event *ev)
{
	long t, c, v;
	char s1, s2, end;

	if (sscanf(text, "%ld%c%ld%c%ld%c", &t, &s1, &c, &s2, &v, &end) != 5 || s1 != sep ||
	    s2 != sep || t < 0 || t >= EV_CNT || c < 0 || c > 1023 || v < INT32_MIN ||
	    v > INT32_MAX)
		return -EINVAL;
	*ev = (struct virtio_input_event){ htole16((uint16_t)t), htole16((uint16_t)c),
					   htole32((uint32_t)(int32_t)v) };
	return 0;
}

static int load_expect(const char *path, struct input_opts *o)
{
	FILE *f = fopen(path, "r");
	char line[128];

	if (!f) {
		fprintf(stderr, "vhu-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	o->expect = calloc(EXPECT_MAX, sizeof(*o->expect));
	while (o->expect && fgets(line, sizeof(line), f) && o->nexpect < EXPECT_MAX) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (parse_event(line, ' ', &o->expect[o->nexpect]) < 0) {
			fprintf(stderr, "vhu-bench: %s: not an event: '%s'\n", path, line);
			fclose(f);
			return -1;
		}
		o->nexpect++;
	}
	fclose(f);
	o->count = o->nexpect;
	return o->expect && o->nexpect ? 0 : -1;
}

static int parse_input(int argc, char **argv, struct bench_common *c, struct input_opts *o)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "packed", no_argument, NULL, 'p' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "config-only", no_argument, NULL, 'c' },
		{ "status", required_argument, NULL, 'S' },
		{ "expect", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *expect = NULL;
	int ch;

	*o = (struct input_opts){ .buffers = RING_SIZE };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket_path = optarg;
			break;
		case 'n':
			o->count = strtoull(optarg, NULL, 10);
			break;
		case 't':
			c->time_s = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			c->packed = true;
			break;
		case 'b':
			o->buffers = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o->config_only = true;
			break;
		case 'S':
			if (o->nstatus == STATUS_MAX ||
			    parse_event(optarg, ',', &o->status[o->nstatus]) < 0) {
				fprintf(stderr,
					"vhu-bench: --status=TYPE,CODE,VALUE (at most %u)\n",
					STATUS_MAX);
				return -1;
			}
			o->nstatus++;
			break;
		case 'e':
			expect = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!c->socket_path || optind != argc || !o->buffers || o->buffers > RING_SIZE ||
	    !c->time_s) {
		usage(stderr);
		return -1;
	}
	return expect ? load_expect(expect, o) : 0;
}

/* select/subsel, then the 136 bytes; the size byte, or -1 */
static int cfg_read(struct vhu_frontend *fe, uint8_t select, uint8_t subsel,
		    struct virtio_input_config *cfg)
{
	uint8_t sel[2] = { select, subsel };

	if (vhu_frontend_set_config(fe, 0, sel, sizeof(sel)) < 0 ||
	    vhu_frontend_get_config(fe, 0, cfg, sizeof(*cfg)) < 0)
		return -1;
	return cfg->size;
}

static void print_bits(const char *word, int type, const uint8_t *bm, int size)
{
	if (size <= 0)
		return;
	if (type >= 0)
		printf("%s %d", word, type);
	else
		printf("%s", word);
	for (int i = 0; i < size * 8; i++)
		if (bm[i / 8] & (1u << (i % 8)))
			printf(" %d", i);
	printf("\n");
}

static int print_config(struct vhu_frontend *fe)
{
	struct virtio_input_config cfg;
	int n;

	if ((n = cfg_read(fe, VIRTIO_INPUT_CFG_ID_NAME, 0, &cfg)) < 0)
		return -1;
	if (n)
		printf("name %.*s\n", n > 127 ? 127 : n, cfg.u.string);
	if ((n = cfg_read(fe, VIRTIO_INPUT_CFG_ID_SERIAL, 0, &cfg)) > 0)
		printf("serial %.*s\n", n > 127 ? 127 : n, cfg.u.string);
	if (cfg_read(fe, VIRTIO_INPUT_CFG_ID_DEVIDS, 0, &cfg) >= (int)sizeof(cfg.u.ids))
		printf("ids %u %u %u %u\n", le16toh(cfg.u.ids.bustype), le16toh(cfg.u.ids.vendor),
		       le16toh(cfg.u.ids.product), le16toh(cfg.u.ids.version));
	n = cfg_read(fe, VIRTIO_INPUT_CFG_PROP_BITS, 0, &cfg);
	print_bits("prop", -1, cfg.u.bitmap, n);
	for (int t = 1; t < EV_CNT; t++) {
		n = cfg_read(fe, VIRTIO_INPUT_CFG_EV_BITS, (uint8_t)t, &cfg);
		if (t != EV_ABS)
			print_bits("ev", t, cfg.u.bitmap, n);
	}
	for (int a = 0; a < ABS_CNT; a++) {
		if (cfg_read(fe, VIRTIO_INPUT_CFG_ABS_INFO, (uint8_t)a, &cfg) <
		    (int)sizeof(cfg.u.abs))
			continue;
		printf("abs %d %d %d %d %d %d\n", a, (int32_t)le32toh(cfg.u.abs.min),
		       (int32_t)le32toh(cfg.u.abs.max), (int32_t)le32toh(cfg.u.abs.fuzz),
		       (int32_t)le32toh(cfg.u.abs.flat), (int32_t)le32toh(cfg.u.abs.res));
	}
	printf("ready\n");
	fflush(stdout);
	return 0;
}

static int send_status(struct vhu_frontend *fe, const struct input_opts *o)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(fe, 1);
	struct virtio_input_event *buf;
	unsigned int done = 0;
	void *token;
	uint32_t len;

	if (!o->nstatus)
		return 0;
	buf = vhu_frontend_alloc(fe, sizeof(*buf) * o->nstatus, 8);
	if (!buf)
		return -ENOMEM;
	for (unsigned int i = 0; i < o->nstatus; i++) {
		struct iovec iov = { &buf[i], sizeof(buf[i]) };

		buf[i] = o->status[i];
		if (vhu_frontend_queue_add(q, &iov, 1, NULL, 0, NULL) < 0)
			return -EIO;
	}
	vhu_frontend_queue_kick(q);
	while (done < o->nstatus) {
		int ret = vhu_frontend_queue_get(q, &token, &len);

		if (ret < 0)
			return ret;
		if (ret == 1)
			done++;
		else if (vhu_frontend_queue_wait(q, 5000) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Print (and check) events until --count or the deadline; the exit status. */
static int read_events(struct vhu_frontend *fe, const struct bench_common *c,
		       const struct input_opts *o, struct virtio_input_event *bufs)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(fe, 0);
	uint64_t deadline = bench_now_ns() + c->time_s * 1000000000ull, seen = 0;

	for (unsigned int i = 0; i < o->buffers; i++) {
		struct iovec iov = { &bufs[i], sizeof(bufs[i]) };

		if (vhu_frontend_queue_add(q, NULL, 0, &iov, 1, &bufs[i]) < 0)
			return 1;
	}
	vhu_frontend_queue_kick(q);
	while (!o->count || seen < o->count) {
		struct virtio_input_event *ev;
		uint32_t len;
		int ret = vhu_frontend_queue_get(q, (void **)&ev, &len);

		if (ret < 0) {
			fprintf(stderr, "vhu-bench: %s: event queue: %s\n", c->socket_path,
				strerror(-ret));
			return 1;
		}
		if (ret == 0) {
			uint64_t now = bench_now_ns();

			if (now >= deadline)
				break;
			vhu_frontend_queue_wait(q, (int)((deadline - now) / 1000000 + 1));
			continue;
		}
		if (len != sizeof(*ev)) {
			fprintf(stderr, "vhu-bench: an event of %u bytes (8 wanted)\n", len);
			return 1;
		}
		printf("%u %u %d\n", le16toh(ev->type), le16toh(ev->code),
		       (int32_t)le32toh(ev->value));
		fflush(stdout);
		if (o->nexpect && memcmp(ev, &o->expect[seen], sizeof(*ev))) {
			fprintf(stderr, "vhu-bench: event %" PRIu64 " is not the expected one\n",
				seen + 1);
			return 1;
		}
		seen++;
		struct iovec iov = { ev, sizeof(*ev) };
		if (vhu_frontend_queue_add(q, NULL, 0, &iov, 1, ev) < 0)
			return 1;
		vhu_frontend_queue_kick(q);
	}
	if (o->count && seen < o->count) {
		fprintf(stderr, "vhu-bench: %" PRIu64 " of %" PRIu64 " events in %u s\n", seen,
			o->count, c->time_s);
		return 1;
	}
	return 0;
}

int bench_input_main(const struct bench_common *common, int argc, char **argv)
{
	struct bench_common c = *common;
	struct vhu_frontend_config cfg = { 0 };
	struct virtio_input_event *bufs;
	struct vhu_frontend *fe = NULL;
	struct input_opts o;
	int ret, status = 1;

	ret = parse_input(argc, argv, &c, &o);
	if (ret != 0) {
		free(o.expect);
		return ret < 0 ? 2 : 0;
	}
	cfg.socket_path = c.socket_path;
	cfg.fd = -1;
	cfg.features = VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
		       VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
		       (c.packed ? VHU_BIT(VIRTIO_F_RING_PACKED) : 0);
	cfg.protocol_features = ~0ull;
	cfg.num_queues = 2;
	cfg.queue_size = RING_SIZE;
	ret = vhu_frontend_connect(&cfg, &fe);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c.socket_path, strerror(-ret));
		goto out;
	}
	if (print_config(fe) < 0) {
		fprintf(stderr, "vhu-bench: %s: reading the config space failed\n", c.socket_path);
		goto out;
	}
	if (o.config_only) {
		status = 0;
		goto out;
	}
	bufs = vhu_frontend_alloc(fe, sizeof(*bufs) * RING_SIZE, 8);
	ret = bufs ? vhu_frontend_start(fe) : -ENOMEM;
	if (ret == 0)
		ret = send_status(fe, &o);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c.socket_path, strerror(-ret));
		goto out;
	}
	status = read_events(fe, &c, &o, bufs);
	vhu_frontend_stop(fe);
out:
	free(o.expect);
	if (fe)
		vhu_frontend_destroy(fe);
	return status;
}
