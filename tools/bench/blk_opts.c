/* SPDX-License-Identifier: MIT */
/* vhu-bench blk's options (blk.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "blk.h"

const char *const rw_names[] = { "randread", "randwrite", "read", "write", "verify" };
const char *const wait_names[] = { "spin", "event", "poll" };

static void usage_blk(FILE *out)
{
	fprintf(out,
		"Usage: vhu-bench blk --socket-path=PATH [OPTION]...\n"
		"\n"
		"Drive a vhost-user-blk back-end from this process and report IOPS, MB/s and\n"
		"latency percentiles.\n"
		"\n"
		"  --socket-path=PATH  the back-end's unix socket (required)\n"
		"  --rw=MODE           randread (default), randwrite, read, write or verify\n"
		"  --bs=BYTES          request size, a multiple of 512 up to 1M (default 4096)\n"
		"  --iodepth=N         requests in flight per queue, 1..1024 (default 32)\n"
		"  --queues=N          request queues, one thread each, 1..64 (default 1)\n"
		"  --queue-size=N      ring entries, a power of two 2..32768 (default: from\n"
		"                      --iodepth, 64..256)\n"
		"  --no-event-idx      do not negotiate VIRTIO_RING_F_EVENT_IDX (ring flags\n"
		"                      suppress kicks and interrupts instead)\n"
		"  --think-us=N        before each kick, pause a random 0..N microseconds\n"
		"  --idle=SECONDS      after the run, keep the rings and send nothing this long\n"
		"                      (\"vhu-bench: idle\" on stderr when it starts)\n"
		"  --wait=MODE         how completions are waited for: spin (default; poll the\n"
		"                      used ring 20 us, then sleep on the call eventfd), event\n"
		"                      (sleep at once, as an interrupt-driven guest) or poll\n"
		"                      (busy-poll the used ring, interrupts off, as a polling\n"
		"                      guest driver)\n"
		"  --time=SECONDS      run this long (default 10; verify: one pass without it)\n"
		"  --size=BYTES        the region of the disk used (verify: default 64M)\n"
		"  --packed            insist on the packed ring\n"
		"  --json              one JSON object on stdout\n"
		"  --reconnect         wait (10 s) for a back-end that died to come back on\n"
		"                      the same path and go on with the requests in flight\n"
		"  --server            listen on --socket-path and wait for the back-end to\n"
		"                      connect (a back-end in client mode: vhu-blk --client)\n"
		"  --inband            in-band notifications: no kick or call eventfds,\n"
		"                      VRING_KICK messages and the back-end's VRING_CALL\n"
		"                      (exit 1 when the back-end does not offer them)\n"
		"  --log-check         turn dirty-page logging on and check, after the run,\n"
		"                      that the log marks every page the device wrote\n"
		"  --migrate-to=PATH   half-way, hand the device over to the back-end on PATH\n"
		"                      (dirty logging, then its rings resumed there)\n"
		"  --log-dirty         run with dirty-page logging on and check nothing (its "
		"cost)\n" BENCH_IOMMU_USAGE "  -h, --help          show this help and exit\n"
		"\n"
		"Exit status: 0 on success, 1 when a request failed, a verify pass found a\n"
		"mismatch or the back-end failed, 2 for bad options or when --log-check\n"
		"found a written page the log did not mark.\n");
}

int blk_parse(int argc, char **argv, struct bench_common *c, struct blk_opts *o)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "iodepth", required_argument, NULL, 'd' },
		{ "queues", required_argument, NULL, 'q' },
		{ "time", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 'S' },
		{ "packed", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "reconnect", no_argument, NULL, 'R' },
		{ "server", no_argument, NULL, 'V' },
		{ "inband", no_argument, NULL, 'I' },
		{ "log-check", no_argument, NULL, 'L' },
		{ "log-dirty", no_argument, NULL, 'D' },
		{ "migrate-to", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "wait", required_argument, NULL, 'w' },
		{ "queue-size", required_argument, NULL, 'Q' },
		{ "think-us", required_argument, NULL, 'T' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "idle", required_argument, NULL, 'i' },
		BENCH_IOMMU_LONGOPTS,
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct blk_opts){ .rw = RW_RANDREAD, .bs = 4096, .iodepth = 32 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_blk(stdout);
			return 1;
		case 's':
			c->socket_path = optarg;
			break;
		case 'r':
			o->rw = RW_VERIFY + 1;
			for (unsigned int i = 0; i <= RW_VERIFY; i++)
				if (!strcmp(optarg, rw_names[i]))
					o->rw = i;
			if (o->rw > RW_VERIFY)
				return fprintf(stderr, "vhu-bench: --rw=%s: unknown\n", optarg), -1;
			break;
		case 'b':
			if (bench_parse_size(optarg, &o->bs) || !o->bs || o->bs % SECTOR ||
			    o->bs > (1u << 20))
				return fprintf(stderr, "vhu-bench: --bs: multiple of 512, <= 1M\n"),
				       -1;
			break;
		case 'd':
			if (bench_parse_size(optarg, &v) || !v || v > 1024)
				return fprintf(stderr, "vhu-bench: --iodepth: 1..1024\n"), -1;
			o->iodepth = (unsigned int)v;
			break;
		case 'q':
			if (bench_parse_size(optarg, &v) || !v || v > 64)
				return fprintf(stderr, "vhu-bench: --queues: 1..64\n"), -1;
			c->queues = (unsigned int)v;
			break;
		case 't':
			if (bench_parse_size(optarg, &v) || !v || v > 86400)
				return fprintf(stderr, "vhu-bench: --time: seconds\n"), -1;
			c->time_s = (unsigned int)v;
			o->time_given = true;
			break;
		case 'S':
			if (bench_parse_size(optarg, &o->size) || o->size < o->bs)
				return fprintf(stderr, "vhu-bench: --size: bytes\n"), -1;
			break;
		case 'p':
			c->packed = true;
			break;
		case 'j':
			c->json = true;
			c->progress = false;
			break;
		case 'R':
			o->reconnect = true;
			break;
		case 'V':
			o->server = true;
			break;
		case 'I':
			o->inband = true;
			break;
		case 'L':
			o->log_check = true;
			break;
		case 'D':
			o->log_dirty = true;
			break;
		case 'M':
			o->migrate_to = optarg;
			break;
		case 'w':
			o->wait = WAIT_POLL + 1;
			for (unsigned int i = 0; i <= WAIT_POLL; i++)
				if (!strcmp(optarg, wait_names[i]))
					o->wait = i;
			if (o->wait > WAIT_POLL)
				return fprintf(stderr, "vhu-bench: --wait: spin, event or poll\n"),
				       -1;
			break;
		case 'Q':
			if (bench_parse_size(optarg, &v) || v < 2 || v > 32768 || (v & (v - 1)))
				return fprintf(stderr, "vhu-bench: --queue-size: a power of two, "
						       "2..32768\n"),
				       -1;
			o->queue_size = (unsigned int)v;
			break;
		case 'E':
			o->no_event_idx = true;
			break;
		case 'T':
			if (bench_parse_size(optarg, &v) || v > 1000000)
				return fprintf(stderr, "vhu-bench: --think-us: 0..1000000\n"), -1;
			o->think_us = (unsigned int)v;
			break;
		case 'i':
			if (bench_parse_size(optarg, &v) || v > 3600)
				return fprintf(stderr, "vhu-bench: --idle: 0..3600 seconds\n"), -1;
			o->idle_s = (unsigned int)v;
			break;
		default:
			if (bench_iommu_option(&o->iommu, ch, optarg) != 0)
				return -1;
		}
	}
	if (!c->socket_path)
		return fprintf(stderr, "vhu-bench: --socket-path=PATH is required\n"), -1;
	/* three descriptors a request: header, data, status */
	if (o->queue_size && o->queue_size < 3 * o->iodepth)
		return fprintf(stderr, "vhu-bench: --queue-size: at least 3 x --iodepth\n"), -1;
	return 0;
}
