/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench net: a virtio-net driver on vhu's front-end, one queue pair
 * (queue 0 = RX, queue 1 = TX). Every buffer starts with the 12-byte
 * struct virtio_net_hdr_v1 (VIRTIO_F_VERSION_1). TX keeps its ring full of
 * one fixed UDP/IPv4 frame, refilling every completed slot in one batch per
 * kick; RX keeps its ring full of 2048-byte buffers and counts what the
 * back-end writes into them. One thread per direction; like blk, each polls
 * its used ring briefly before sleeping on the call eventfd.
 *
 * --verify: TX stamps each frame's UDP payload with a sequence number and a
 * pattern derived from it; RX rebuilds the frame each sequence number
 * should be and compares every byte after the virtio header, and wants the
 * numbers to rise (one flow on one queue pair stays in order; frames the
 * switch dropped leave gaps, which are allowed). Any difference is exit 1.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "bench.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

#define SPIN_NS 20000u			   /* poll the used ring this long before sleeping */
#define STALL_NS 10000000000ull		   /* no progress this long: the back-end is stuck */
#define RING_SIZE 256u			   /* entries per ring */
#define RX_BUF_SIZE 2048u		   /* bytes per RX buffer, header included */
#define HDR_SIZE 12u			   /* struct virtio_net_hdr_v1 */
#define FRAME_MIN 42u			   /* Ethernet + IPv4 + UDP headers */
#define FRAME_MAX (RX_BUF_SIZE - HDR_SIZE) /* one buffer per frame either way */
#define SEQ_OFF (HDR_SIZE + FRAME_MIN)	   /* --verify: the sequence number */
#define VERIFY_MIN (FRAME_MIN + 8u)	   /* --verify: room for it */

enum mode { MODE_TX = 1, MODE_RX = 2, MODE_TXRX = 3 };
static const char *const mode_names[] = { "", "tx", "rx", "txrx" };

struct net_opts {
	enum mode mode;
	unsigned int pkt_size;	  /* frame bytes, without the virtio header */
	uint64_t count;		  /* 0: run for --time */
	bool verify;		  /* stamp and check each frame's payload */
	uint8_t mac[12];	  /* the frame's destination and source MAC */
	bool log_dirty;		  /* dirty logging on while it runs (what migration costs) */
	struct bench_iommu iommu; /* --iommu: the front-end plays the guest's IOMMU */
};

struct net_worker {
	struct bench_thread t; /* first: bench_run_threads() hands it back */
	bool tx;
	const struct net_opts *opts;
	const struct bench_common *common;
	struct vhu_frontend_queue *q;
	uint8_t **bufs; /* RING_SIZE buffers in shared memory */
	uint32_t buf_len;
	uint64_t deadline_ns;
	uint64_t packets, bytes;       /* packets: also read by the progress loop */
	uint32_t frame_min, frame_max; /* rx: frame sizes seen */
	uint64_t bad_hdr;	       /* rx: num_buffers != 1 (a frame split over buffers) */
	uint64_t seq;		       /* --verify: tx: the next to send; rx: the next expected */
	uint64_t verified;	       /* rx --verify: frames whose every byte was right */
	uint64_t bad_payload;	       /* rx --verify: frames with a wrong byte or size */
	uint64_t out_of_order;	       /* rx --verify: a sequence number not above the last */
	uint8_t *expect;	       /* rx --verify: scratch for the frame that should be */
};

static uint16_t ip_checksum(const uint8_t *p, unsigned int len)
{
	uint32_t sum = 0;

	for (unsigned int i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* hdr (zero: no offloads) + @macs (dst, src), IPv4/UDP, zero padding */
static void build_frame(uint8_t *buf, unsigned int frame_len, const uint8_t macs[12])
{
	uint8_t *eth = buf + HDR_SIZE, *ip = eth + 14, *udp = ip + 20;
	uint16_t ip_len = (uint16_t)(frame_len - 14), udp_len = (uint16_t)(ip_len - 20), csum;

	memset(buf, 0, HDR_SIZE + frame_len);
	memcpy(eth, macs, 12);
	eth[12] = 0x08; /* ethertype IPv4 */
	eth[13] = 0x00;
	ip[0] = 0x45; /* version 4, 5 words */
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64; /* TTL */
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, (const uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	csum = ip_checksum(ip, 20);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	udp[0] = 0x04; /* ports 1024 -> 1025; UDP checksum 0: none */
	udp[2] = 0x04;
	udp[3] = 0x01;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
}

/* --verify: sequence number @seq and its pattern into the built frame @buf */
static void stamp(uint8_t *buf, unsigned int frame_len, uint64_t seq)
{
	uint64_t le = htole64(seq);

	memcpy(buf + SEQ_OFF, &le, sizeof(le));
	for (unsigned int i = SEQ_OFF + 8; i < HDR_SIZE + frame_len; i++)
		buf[i] = (uint8_t)(seq * 131 + i * 7);
}

/*
 * Whether the worker still wants to make buffers available. @now: the time
 * read once per batch of completions (a clock read per frame costs what
 * the frame does), 0 to read it here.
 */
static bool want_more(const struct net_worker *w, uint64_t posted, uint64_t now)
{
	if (w->opts->count)
		return w->tx ? posted < w->opts->count : w->packets < w->opts->count;
	return (now ? now : bench_now_ns()) < w->deadline_ns;
}

static int post(struct net_worker *w, unsigned int slot)
{
	struct iovec iov = { w->bufs[slot], w->buf_len };
	int ret;

	if (w->tx && w->opts->verify)
		stamp(w->bufs[slot], w->opts->pkt_size, w->seq++);
	if (w->tx)
		ret = vhu_frontend_queue_add(w->q, &iov, 1, NULL, 0, (void *)(uintptr_t)slot);
	else
		ret = vhu_frontend_queue_add(w->q, NULL, 0, &iov, 1, (void *)(uintptr_t)slot);
	return ret < 0 ? -EIO : 0;
}

/* --verify: @frame bytes after the header of @buf against what TX sent */
static void verify_frame(struct net_worker *w, const uint8_t *buf, uint32_t frame)
{
	uint64_t seq;

	if (frame != w->opts->pkt_size) {
		w->bad_payload++;
		return;
	}
	memcpy(&seq, buf + SEQ_OFF, sizeof(seq));
	seq = le64toh(seq);
	stamp(w->expect, frame, seq);
	if (memcmp(buf + HDR_SIZE, w->expect + HDR_SIZE, frame) != 0) {
		w->bad_payload++;
		return;
	}
	if (seq < w->seq)
		w->out_of_order++;
	else
		w->verified++;
	w->seq = seq + 1;
}

static void rx_complete(struct net_worker *w, unsigned int slot, uint32_t len)
{
	const struct virtio_net_hdr_v1 *hdr = (const void *)w->bufs[slot];
	uint32_t frame = len > HDR_SIZE ? len - HDR_SIZE : 0;

	/* num_buffers is 1 without MRG_RXBUF too (VERSION_1 always has the field) */
	if (len < HDR_SIZE || le16toh(hdr->num_buffers) > 1)
		w->bad_hdr++;
	if (frame < w->frame_min)
		w->frame_min = frame;
	if (frame > w->frame_max)
		w->frame_max = frame;
	w->bytes += frame;
	if (w->opts->verify)
		verify_frame(w, w->bufs[slot], frame);
	count_one(&w->packets);
}

static int run(struct net_worker *w)
{
	unsigned int inflight = 0;
	uint64_t posted = 0, last_progress = bench_now_ns();
	void *token;
	uint32_t len;
	int ret;

	for (unsigned int i = 0; i < RING_SIZE && want_more(w, posted, 0); i++) {
		ret = post(w, i);
		if (ret < 0)
			return ret;
		inflight++;
		posted++;
	}
	vhu_frontend_queue_kick(w->q);
	while (inflight) {
		/* one clock read per round: at 64 B a frame costs about what a read does */
		uint64_t now = bench_now_ns();
		unsigned int reaped = 0, reposted = 0;

		while ((ret = vhu_frontend_queue_get(w->q, &token, &len)) == 1) {
			unsigned int slot = (unsigned int)(uintptr_t)token;

			inflight--;
			reaped++;
			if (w->tx) {
				w->bytes += w->opts->pkt_size;
				count_one(&w->packets);
			} else {
				rx_complete(w, slot, len);
				if (w->opts->count && w->packets >= w->opts->count)
					return 0; /* the rest stay posted until stop */
			}
			if (want_more(w, posted, now)) {
				ret = post(w, slot);
				if (ret < 0)
					return ret;
				inflight++;
				posted++;
				reposted++;
			}
		}
		if (ret < 0)
			return ret;
		if (reaped) {
			last_progress = now;
			if (reposted)
				vhu_frontend_queue_kick(w->q);
			continue;
		}
		/* rx on a timed run: buffers stay posted; stop at the deadline */
		if (!w->tx && !w->opts->count && now >= w->deadline_ns)
			return 0;
		if (now - last_progress < SPIN_NS)
			continue;
		ret = vhu_frontend_queue_wait(w->q, 100);
		if (ret < 0)
			return ret;
		/* tx waits for its frames; rx with --count waits for the peer to send */
		if (ret == 0 && bench_now_ns() - last_progress > STALL_NS &&
		    (w->tx || w->opts->count))
			return -ETIMEDOUT;
	}
	return 0;
}

static int worker_run(struct bench_thread *t)
{
	return run((struct net_worker *)t); /* t is its first member */
}

/* "xx:xx:xx:xx:xx:xx" into @mac; 0 or -EINVAL */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static void usage_net(FILE *out)
{
	fprintf(out,
		"Usage: vhu-bench net --socket-path=PATH [OPTION]...\n"
		"\n"
		"Drive a vhost-user-net back-end from this process (one queue pair: queue 0\n"
		"receives, queue 1 sends) and report packets per second and Gbit/s.\n"
		"\n"
		"  --socket-path=PATH  the back-end's unix socket (required)\n"
		"  --mode=MODE         tx (default): send one UDP frame over and over;\n"
		"                      rx: receive and count; txrx: both\n"
		"  --pkt-size=BYTES    frame size without the virtio header, %u..%u (default 64)\n"
		"  --time=SECONDS      run this long (default 10)\n"
		"  --count=N           stop after N frames each way instead\n"
		"  --packed            insist on the packed ring\n"
		"  --json              one JSON object on stdout\n"
		"  --log-dirty         run with dirty-page logging on (what migration costs)\n"
		"  --dst-mac=MAC       tx: the frames' destination (default 02:00:00:00:00:02);\n"
		"                      rx --verify: what the sender used\n"
		"  --src-mac=MAC       the same for the source (default 02:00:00:00:00:01)\n"
		"  --verify            tx: stamp each frame with a sequence number and a\n"
		"                      pattern; rx: check every byte of each frame against\n"
		"                      it and that the numbers rise (--pkt-size >= "
		"%u)\n" BENCH_IOMMU_USAGE "  -h, --help          show this help and exit\n"
		"\n"
		"Exit status: 0 on success, 1 when the back-end failed or stalled, or a\n"
		"frame was wrong (--verify), 2 for bad options.\n",
		FRAME_MIN, FRAME_MAX, VERIFY_MIN);
}

static int parse_net(int argc, char **argv, struct bench_common *c, struct net_opts *o)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pkt-size", required_argument, NULL, 'P' },
		{ "time", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "packed", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ "dst-mac", required_argument, NULL, 'D' },
		{ "src-mac", required_argument, NULL, 'M' },
		{ "log-dirty", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		BENCH_IOMMU_LONGOPTS,
		{ 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct net_opts){ .mode = MODE_TX,
				.pkt_size = 64,
				.mac = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 } };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_net(stdout);
			return 1;
		case 's':
			c->socket_path = optarg;
			break;
		case 'm':
			o->mode = 0;
			for (unsigned int i = MODE_TX; i <= MODE_TXRX; i++)
				if (!strcmp(optarg, mode_names[i]))
					o->mode = i;
			if (!o->mode)
				return fprintf(stderr, "vhu-bench: --mode=%s: tx, rx or txrx\n",
					       optarg),
				       -1;
			break;
		case 'P':
			if (bench_parse_size(optarg, &v) || v < FRAME_MIN || v > FRAME_MAX)
				return fprintf(stderr, "vhu-bench: --pkt-size: %u..%u bytes\n",
					       FRAME_MIN, FRAME_MAX),
				       -1;
			o->pkt_size = (unsigned int)v;
			break;
		case 't':
			if (bench_parse_size(optarg, &v) || !v || v > 86400)
				return fprintf(stderr, "vhu-bench: --time: seconds\n"), -1;
			c->time_s = (unsigned int)v;
			break;
		case 'c':
			if (bench_parse_size(optarg, &o->count) || !o->count)
				return fprintf(stderr, "vhu-bench: --count: packets, > 0\n"), -1;
			break;
		case 'p':
			c->packed = true;
			break;
		case 'j':
			c->json = true;
			c->progress = false;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'D':
		case 'M':
			if (parse_mac(optarg, o->mac + (ch == 'D' ? 0 : 6)) < 0)
				return fprintf(stderr,
					       "vhu-bench: --%s=%s: not a MAC "
					       "(xx:xx:xx:xx:xx:xx)\n",
					       ch == 'D' ? "dst-mac" : "src-mac", optarg),
				       -1;
			break;
		case 'L':
			o->log_dirty = true;
			break;
		default:
			if (bench_iommu_option(&o->iommu, ch, optarg) != 0)
				return -1;
		}
	}
	if (o->verify && o->pkt_size < VERIFY_MIN)
		return fprintf(stderr, "vhu-bench: --verify: --pkt-size of at least %u\n",
			       VERIFY_MIN),
		       -1;
	if (optind < argc)
		return fprintf(stderr, "vhu-bench: unexpected argument '%s'\n", argv[optind]), -1;
	if (!c->socket_path)
		return fprintf(stderr, "vhu-bench: --socket-path=PATH is required\n"), -1;
	return 0;
}

static int connect_net(const struct bench_common *c, const struct net_opts *o,
		       struct vhu_frontend **fe)
{
	struct vhu_frontend_config cfg = {
		.socket_path = c->socket_path,
		.fd = -1,
		.features = VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			    (c->packed ? VHU_BIT(VIRTIO_F_RING_PACKED) : 0),
		.protocol_features = VHU_BIT(VHU_PROTOCOL_F_MQ) |
				     VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
				     VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
				     VHU_BIT(VHU_PROTOCOL_F_STATUS) |
				     (o->log_dirty ? VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) : 0),
		.num_queues = 2,
		.queue_size = RING_SIZE,
		.mem_size = 2ull * RING_SIZE * RX_BUF_SIZE + (4u << 20),
	};
	int ret;

	bench_iommu_config(&o->iommu, &cfg);
	ret = vhu_frontend_connect(&cfg, fe);

	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s\n", c->socket_path, strerror(-ret));
		return ret;
	}
	if (!(vhu_frontend_features(*fe) & VHU_BIT(VIRTIO_F_VERSION_1))) {
		fprintf(stderr, "vhu-bench: %s: the back-end does not offer VIRTIO_F_VERSION_1\n",
			c->socket_path);
		return -ENOTSUP;
	}
	if (c->packed && !(vhu_frontend_features(*fe) & VHU_BIT(VIRTIO_F_RING_PACKED))) {
		fprintf(stderr, "vhu-bench: %s: the back-end does not offer packed rings\n",
			c->socket_path);
		return -ENOTSUP;
	}
	return bench_iommu_check(&o->iommu, *fe, c->socket_path);
}

static int setup_worker(struct vhu_frontend *fe, struct net_worker *w)
{
	w->bufs = calloc(RING_SIZE, sizeof(*w->bufs));
	if (!w->bufs)
		return -ENOMEM;
	w->buf_len = w->tx ? HDR_SIZE + w->opts->pkt_size : RX_BUF_SIZE;
	w->frame_min = UINT32_MAX;
	for (unsigned int i = 0; i < RING_SIZE; i++) {
		w->bufs[i] = vhu_frontend_alloc(fe, w->buf_len, 64);
		if (!w->bufs[i])
			return -ENOMEM;
		if (w->tx)
			build_frame(w->bufs[i], w->opts->pkt_size, w->opts->mac);
		else
			memset(w->bufs[i], 0, w->buf_len);
	}
	if (!w->tx && w->opts->verify) {
		w->expect = malloc(HDR_SIZE + w->opts->pkt_size);
		if (!w->expect)
			return -ENOMEM;
		build_frame(w->expect, w->opts->pkt_size, w->opts->mac);
	}
	return 0;
}

static void report(const struct bench_common *c, const struct net_opts *o,
		   const struct net_worker *tx, const struct net_worker *rx, double secs,
		   uint64_t features)
{
	uint64_t txp = tx ? tx->packets : 0, txb = tx ? tx->bytes : 0;
	uint64_t rxp = rx ? rx->packets : 0, rxb = rx ? rx->bytes : 0;
	uint32_t fmin = rx && rxp ? rx->frame_min : 0, fmax = rx ? rx->frame_max : 0;
	double pps = (txp + rxp) / secs, gbps = (txb + rxb) * 8.0 / secs / 1e9;

	if (c->json) {
		printf("{\"mode\": \"net\", \"net_mode\": \"%s\", \"pkt_size\": %u, "
		       "\"packed\": %s, \"features\": \"0x%" PRIx64 "\", \"mrg_rxbuf\": %s, "
		       "\"seconds\": %.3f, \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
		       ", \"rx_packets\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ", "
		       "\"rx_frame_min\": %" PRIu32 ", \"rx_frame_max\": %" PRIu32 ", "
		       "\"rx_bad_hdr\": %" PRIu64 ", \"verify\": %s, \"rx_verified\": %" PRIu64
		       ", \"rx_bad_payload\": %" PRIu64 ", \"rx_out_of_order\": %" PRIu64 ", "
		       "\"tx_pps\": %.0f, \"rx_pps\": %.0f, \"pps\": %.0f, \"gbps\": %.3f}\n",
		       mode_names[o->mode], o->pkt_size, c->packed ? "true" : "false", features,
		       features & VHU_BIT(VIRTIO_NET_F_MRG_RXBUF) ? "true" : "false", secs, txp,
		       txb, rxp, rxb, fmin, fmax, rx ? rx->bad_hdr : 0,
		       o->verify ? "true" : "false", rx ? rx->verified : 0,
		       rx ? rx->bad_payload : 0, rx ? rx->out_of_order : 0, txp / secs, rxp / secs,
		       pps, gbps);
		return;
	}
	printf("net %s pkt-size=%u%s: tx %" PRIu64 " packets, rx %" PRIu64
	       " packets in %.2f s: %.0f pps, %.3f Gbit/s",
	       mode_names[o->mode], o->pkt_size, c->packed ? " packed" : "", txp, rxp, secs, pps,
	       gbps);
	if (rx && rxp)
		printf(" (rx frames %" PRIu32 "..%" PRIu32 " bytes)", fmin, fmax);
	printf("\n");
	if (rx && rx->bad_hdr)
		printf("  %" PRIu64 " received frames with a bad header\n", rx->bad_hdr);
	if (rx && o->verify)
		printf("  verify: %" PRIu64 " frames right, %" PRIu64 " wrong, %" PRIu64
		       " out of order\n",
		       rx->verified, rx->bad_payload, rx->out_of_order);
}

int bench_net_main(const struct bench_common *common, int argc, char **argv)
{
	struct bench_common c = *common;
	struct vhu_frontend *fe = NULL;
	struct net_worker tx = { 0 }, rx = { 0 }, *ws[2];
	struct bench_thread *threads[2];
	struct net_opts o;
	unsigned int n = 0;
	double secs = 0;
	int ret, status = 1;

	ret = parse_net(argc, argv, &c, &o);
	if (ret != 0)
		return ret < 0 ? 2 : 0; /* bad options, or --help */
	if (connect_net(&c, &o, &fe) < 0)
		goto out;
	tx = (struct net_worker){ .t = { .run = worker_run, .count = &tx.packets },
				  .tx = true,
				  .opts = &o,
				  .common = &c };
	rx = (struct net_worker){ .t = { .run = worker_run, .count = &rx.packets },
				  .tx = false,
				  .opts = &o,
				  .common = &c };
	if (o.mode & MODE_RX)
		ws[n++] = &rx;
	if (o.mode & MODE_TX)
		ws[n++] = &tx;
	for (unsigned int i = 0; i < n; i++) {
		threads[i] = &ws[i]->t;
		if (setup_worker(fe, ws[i]) < 0) {
			fprintf(stderr, "vhu-bench: out of shared memory for the buffers\n");
			goto out;
		}
	}
	ret = vhu_frontend_start(fe);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: starting the rings: %s\n", c.socket_path,
			strerror(-ret));
		goto out;
	}
	if (o.log_dirty) {
		ret = vhu_frontend_log_start(fe);
		if (ret < 0) {
			fprintf(stderr, "vhu-bench: %s: dirty logging: %s\n", c.socket_path,
				strerror(-ret));
			goto out;
		}
	}
	rx.q = vhu_frontend_queue(fe, 0);
	tx.q = vhu_frontend_queue(fe, 1);
	if (bench_iommu_start(&o.iommu, fe) < 0)
		goto out;
	rx.deadline_ns = tx.deadline_ns = bench_now_ns() + c.time_s * 1000000000ull;
	ret = bench_run_threads(&c, threads, n, "packets", &secs);
	bench_iommu_stop(&o.iommu);
	if (ret < 0) {
		fprintf(stderr, "vhu-bench: %s: %s (tx %" PRIu64 ", rx %" PRIu64 " packets)\n",
			c.socket_path, strerror(-ret), tx.packets, rx.packets);
		goto out;
	}
	report(&c, &o, o.mode & MODE_TX ? &tx : NULL, o.mode & MODE_RX ? &rx : NULL, secs,
	       vhu_frontend_features(fe));
	bench_iommu_report(&c, &o.iommu);
	if (o.log_dirty) {
		uint8_t *map = calloc(1, (vhu_frontend_mem_size(fe) / 4096 + 7) / 8);
		long marked = map ? vhu_frontend_log_read(
					    fe, map, (vhu_frontend_mem_size(fe) / 4096 + 7) / 8)
				  : -ENOMEM;

		free(map);
		if (!c.json)
			printf("  dirty log on: %ld pages marked\n", marked);
	}
	status = rx.bad_hdr || rx.bad_payload || rx.out_of_order ? 1 : 0;
	vhu_frontend_stop(fe);
out:
	free(tx.bufs);
	free(rx.bufs);
	free(rx.expect);
	if (fe)
		vhu_frontend_destroy(fe);
	return status;
}
