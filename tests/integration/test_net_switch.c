/* SPDX-License-Identifier: MIT */
/*
 * vhu-net end to end, its ports driven by lib/frontend (a userspace
 * virtio-net driver per port, in this process): learning and flooding,
 * bad frames dropped and counted, a port that never posts receive buffers,
 * offloads carried or finished in software, mergeable receive buffers, and
 * split and packed rings. vhu-net runs as a child ($VHU_NET); its counters
 * are read from the lines SIGUSR1 makes it print. Under the TSan build the
 * child is the TSan build of vhu-net, and a data race fails its exit status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <vhu/frontend.h>
#include <vhu/protocol.h>

extern char **environ;

#define NPORTS 4u
#define RING 64u
#define RXBUF 2048u
#define HDR 12u
#define F(b) VHU_BIT(b)
#define F_BASE (F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_NET_F_MRG_RXBUF))
#define F_OFFLOADS                                                                       \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_GUEST_CSUM) | \
	 F(VIRTIO_NET_F_GUEST_TSO4))

struct fport {
	struct vhu_frontend *fe;
	struct vhu_frontend_queue *rx, *tx;
	uint8_t *rxbuf[RING];
	uint8_t *txbuf;
	bool posted;
};

struct sw {
	char dir[64], log[128], sock[NPORTS][128], ctl[128];
	pid_t pid;
	struct fport p[NPORTS];
};

static const uint8_t mac[NPORTS][6] = {
	{ 2, 0, 0, 0, 1, 0 }, { 2, 0, 0, 0, 1, 1 }, { 2, 0, 0, 0, 1, 2 }, { 2, 0, 0, 0, 1, 3 }
};
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* --port-config for each port (isolates_tenants), or none */
static const char *const *port_configs;

static int sw_spawn(struct sw *s, const char *extra)
{
	const char *exe = getenv("VHU_NET");
	char *argv[2 * NPORTS + 5], cfg[NPORTS][240];
	posix_spawn_file_actions_t fa;
	char args[NPORTS + 1][160];
	unsigned int n = 0;
	int ret;

	if (!exe)
		return -1;
	strcpy(s->dir, "/tmp/vhu-net-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->log, sizeof(s->log), "%s/net.log", s->dir);
	argv[n++] = (char *)(uintptr_t)exe;
	for (unsigned int i = 0; i < NPORTS; i++) {
		snprintf(s->sock[i], sizeof(s->sock[i]), "%s/p%u.sock", s->dir, i);
		snprintf(args[i], sizeof(args[i]), "--socket-path=%s", s->sock[i]);
		argv[n++] = args[i];
	}
	/* port NPORTS: raw vhost-user messages (SEND_RARP, NET_SET_MTU) */
	snprintf(s->ctl, sizeof(s->ctl), "%s/ctl.sock", s->dir);
	snprintf(args[NPORTS], sizeof(args[NPORTS]), "--socket-path=%s", s->ctl);
	argv[n++] = args[NPORTS];
	argv[n++] = (char *)(uintptr_t)(extra ? extra : "--queue-pairs=1");
	for (unsigned int i = 0; port_configs && i < NPORTS; i++) {
		snprintf(cfg[i], sizeof(cfg[i]), "--port-config=%s,%s", s->sock[i],
			 port_configs[i]);
		argv[n++] = cfg[i];
	}
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ret = posix_spawn(&s->pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return ret == 0 ? 0 : -1;
}

static int fport_open(struct fport *p, const char *path, uint64_t features, bool packed, bool post)
{
	struct vhu_frontend_config cfg = {
		.socket_path = path,
		.fd = -1,
		.timeout_ms = 5000,
		.features = features | (packed ? F(VIRTIO_F_RING_PACKED) : 0),
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = RING,
		.mem_size = (RING + 4) * RXBUF + (1u << 20),
	};
	int ret = vhu_frontend_connect(&cfg, &p->fe);

	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < RING; i++)
		p->rxbuf[i] = vhu_frontend_alloc(p->fe, RXBUF, 64);
	p->txbuf = vhu_frontend_alloc(p->fe, 96 * 1024, 64);
	ret = vhu_frontend_start(p->fe);
	if (ret < 0)
		return ret;
	p->rx = vhu_frontend_queue(p->fe, 0);
	p->tx = vhu_frontend_queue(p->fe, 1);
	p->posted = post;
	for (unsigned int i = 0; post && i < RING; i++) {
		struct iovec iov = { p->rxbuf[i], RXBUF };

		if (vhu_frontend_queue_add(p->rx, NULL, 0, &iov, 1, (void *)(uintptr_t)i) < 0)
			return -EIO;
	}
	if (post)
		vhu_frontend_queue_kick(p->rx);
	return 0;
}

static int sw_setup_with(void **state, bool packed, uint64_t f2, const char *extra)
{
	struct sw *s = calloc(1, sizeof(*s));

	if (!s || sw_spawn(s, extra) < 0) {
		fprintf(stderr, "VHU_NET is not set or vhu-net did not start\n");
		return -1;
	}
	*state = s;
	/* ports 0 and 1 take every offload, port 2 none, port 3 never posts RX buffers */
	for (unsigned int i = 0; i < NPORTS; i++)
		if (fport_open(&s->p[i], s->sock[i], F_BASE | (i < 2 ? F_OFFLOADS : f2), packed,
			       i != 3) < 0)
			return -1;
	/* a control thread's last reply goes out just before it leaves the
	 * request: frames meanwhile are dropped as "busy" (by design, net.h) */
	sleep_ms(100);
	return 0;
}

static int sw_setup(void **state, bool packed, uint64_t f2)
{
	return sw_setup_with(state, packed, f2, NULL);
}

static int setup_split_busy(void **state)
{
	return sw_setup_with(state, false, 0, "--record-busy");
}

static int setup_isolated(void **state)
{
	static const char *const cfg[NPORTS] = {
		"vlan=10,max-macs=4",
		"vlan=10",
		"vlan=20,mac=02:00:00:00:01:02", /* mac[2] */
		"vlan=20",
	};
	int ret;

	port_configs = cfg;
	ret = sw_setup(state, false, 0);
	port_configs = NULL;
	return ret;
}

static int setup_split(void **state)
{
	return sw_setup(state, false, 0);
}

static int setup_packed(void **state)
{
	return sw_setup(state, true, 0);
}

static int sw_teardown(void **state)
{
	struct sw *s = *state;
	int status = -1;

	for (unsigned int i = 0; i < NPORTS; i++)
		if (s->p[i].fe)
			vhu_frontend_destroy(s->p[i].fe);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", s->log);
		if (system(cmd) < 0)
			perror("cat");
		fprintf(stderr, "vhu-net exited with status %#x\n", status);
	}
	unlink(s->log);
	for (unsigned int i = 0; i < NPORTS; i++)
		unlink(s->sock[i]);
	unlink(s->ctl);
	rmdir(s->dir);
	free(s);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Send one chain made of @n pieces (header included) from port @i. */
static void send_iov(struct sw *s, unsigned int i, const struct iovec *iov, unsigned int n)
{
	struct fport *p = &s->p[i];
	void *token;
	uint32_t len;

	assert_int_equal(vhu_frontend_queue_add(p->tx, iov, n, NULL, 0, NULL), 0);
	vhu_frontend_queue_kick(p->tx);
	while (vhu_frontend_queue_get(p->tx, &token, &len) != 1)
		assert_true(vhu_frontend_queue_wait(p->tx, 5000) > 0);
}

struct net_hdr_v {
	uint8_t b[HDR];
};

static void fill_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, size_t len, uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88; /* local experimental ethertype: nobody parses it */
	f[13] = 0xb5;
	for (size_t k = 14; k < len; k++)
		f[k] = (uint8_t)(seed + k * 13);
}

/* A frame @dst <- mac[@i] of @len bytes (pattern @seed) with header @h from port @i. */
static void send_frame(struct sw *s, unsigned int i, const uint8_t *dst, const struct net_hdr_v *h,
		       size_t len, uint8_t seed)
{
	uint8_t *b = s->p[i].txbuf;
	struct iovec iov = { b, HDR + len };

	memset(b, 0, HDR);
	if (h)
		memcpy(b, h->b, HDR);
	fill_frame(b + HDR, dst, mac[i], len, seed);
	send_iov(s, i, &iov, 1);
}

/*
 * Receive one frame on port @i within @ms, merging buffers by num_buffers;
 * its header to @h, its bytes to @out. Return: the frame length, or -1.
 */
static long recv_frame(struct sw *s, unsigned int i, uint8_t *h, uint8_t *out, int ms)
{
	struct fport *p = &s->p[i];
	unsigned int nbuf = 0, want = 1;
	long len = 0;

	while (nbuf < want) {
		void *token;
		uint32_t n;
		unsigned int slot;
		struct iovec iov;

		if (vhu_frontend_queue_get(p->rx, &token, &n) != 1) {
			if (vhu_frontend_queue_wait(p->rx, ms) <= 0)
				return -1;
			continue;
		}
		slot = (unsigned int)(uintptr_t)token;
		assert_true(n <= RXBUF);
		if (nbuf == 0) {
			assert_true(n >= HDR);
			memcpy(h, p->rxbuf[slot], HDR);
			want = (unsigned int)(h[10] | h[11] << 8);
			assert_true(want >= 1);
			memcpy(out, p->rxbuf[slot] + HDR, n - HDR);
			len = n - HDR;
		} else {
			memcpy(out + len, p->rxbuf[slot], n);
			len += n;
		}
		nbuf++;
		iov = (struct iovec){ p->rxbuf[slot], RXBUF };
		assert_int_equal(vhu_frontend_queue_add(p->rx, NULL, 0, &iov, 1, token), 0);
		vhu_frontend_queue_kick(p->rx);
	}
	return len;
}

static void expect_from(struct sw *s, unsigned int i, const uint8_t *dst, const uint8_t *src,
			size_t len, uint8_t seed)
{
	static uint8_t got[80000], want[80000];
	uint8_t h[HDR];

	assert_int_equal(recv_frame(s, i, h, got, 3000), (long)len);
	fill_frame(want, dst, src, len, seed);
	assert_memory_equal(got, want, len);
}

static void expect_frame(struct sw *s, unsigned int i, const uint8_t *dst, unsigned int from,
			 size_t len, uint8_t seed)
{
	expect_from(s, i, dst, mac[from], len, seed);
}

static void expect_nothing(struct sw *s, unsigned int i)
{
	static uint8_t got[80000];
	uint8_t h[HDR];

	assert_int_equal(recv_frame(s, i, h, got, 200), -1);
}

/* Counter @name of port @port, as vhu-net prints it on SIGUSR1. */
static unsigned long long counter(struct sw *s, unsigned int port, const char *name)
{
	char key[64], want[32], line[2048];
	unsigned long long v = ~0ull;
	unsigned int lines = 0, before;
	FILE *f;

	snprintf(want, sizeof(want), "port %u ", port);
	snprintf(key, sizeof(key), " %s=", name);
	for (int round = 0; round < 2; round++) {
		lines = 0;
		f = fopen(s->log, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			char *k = strstr(line, key);

			if (strstr(line, want) && k) {
				lines++;
				v = strtoull(k + strlen(key), NULL, 10);
			}
		}
		fclose(f);
		if (round == 1)
			break;
		before = lines;
		kill(s->pid, SIGUSR1);
		for (int t = 0; t < 300; t++) { /* wait for a new line of this port */
			unsigned int now = 0;

			sleep_ms(10);
			f = fopen(s->log, "r");
			while (f && fgets(line, sizeof(line), f))
				now += strstr(line, want) && strstr(line, key);
			if (f)
				fclose(f);
			if (now > before)
				break;
		}
	}
	return v;
}

/*
 * Counter @name of port @port must reach @want: frames may still be on
 * their way to a port that nothing here waits on.
 */
static void expect_counter(struct sw *s, unsigned int port, const char *name,
			   unsigned long long want)
{
	unsigned long long v = 0;

	for (int i = 0; i < 20; i++) {
		v = counter(s, port, name);
		if (v == want)
			return;
		sleep_ms(50);
	}
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "tail -n %u %s >&2", NPORTS, s->log);
		if (system(cmd) < 0)
			perror("tail");
	}
	fail_msg("port %u %s=%llu, expected %llu", port, name, v, want);
}

/* Unknown destinations flood, learnt ones do not; a port without RX buffers costs nobody. */
static void learns_and_floods(void **state)
{
	struct sw *s = *state;

	send_frame(s, 0, mac[1], NULL, 100, 1); /* mac[1] unknown: flooded */
	expect_frame(s, 1, mac[1], 0, 100, 1);
	expect_frame(s, 2, mac[1], 0, 100, 1);
	send_frame(s, 1, mac[0], NULL, 200, 2); /* learnt from the first frame */
	expect_frame(s, 0, mac[0], 1, 200, 2);
	expect_nothing(s, 2);
	send_frame(s, 0, mac[1], NULL, 1514, 3); /* now known too */
	expect_frame(s, 1, mac[1], 0, 1514, 3);
	expect_nothing(s, 2);
	send_frame(s, 2, bcast, NULL, 60, 4);
	expect_frame(s, 0, bcast, 2, 60, 4);
	expect_frame(s, 1, bcast, 2, 60, 4);
	expect_nothing(s, 2); /* never back where it came from */
	expect_counter(s, 0, "rx_packets", 2);
	expect_counter(s, 1, "tx_packets", 3);
	expect_counter(s, 3, "tx_packets", 0);
	expect_counter(s, 3, "tx_drop_no_buffers", 2); /* the two floods */
	expect_counter(s, 0, "busy_chains", 0);	       /* without --record-busy */
	expect_counter(s, 0, "busy_ns", 0);
}

/* --record-busy: the time bursts took and their chains, counted on the port they came in on. */
static void records_busy(void **state)
{
	struct sw *s = *state;
	unsigned long long chains, ns;

	for (uint8_t k = 0; k < 8; k++) {
		send_frame(s, 0, bcast, NULL, 60, k);
		expect_frame(s, 1, bcast, 0, 60, k);
	}
	expect_counter(s, 0, "rx_packets", 8);
	chains = counter(s, 0, "busy_chains");
	ns = counter(s, 0, "busy_ns");
	/* a burst preempted on the way (a loaded or instrumented run) is left out */
	assert_true(chains <= 8);
	assert_true((chains == 0) == (ns == 0));
	assert_true(ns <= chains * 200000u);
	expect_counter(s, 1, "busy_chains", 0); /* port 1 sent nothing */
}

/*
 * The switch leaves a receive header alone where it already holds the
 * bytes to be written (net_store_hdr): whatever else a reposted buffer
 * holds there must still be replaced, every field of it.
 */
static void receive_header_rewritten(void **state)
{
	static const uint8_t plain[HDR] = { [10] = 1 }; /* no offloads, one buffer */
	struct sw *s = *state;
	uint8_t h[HDR], got[2048];
	struct net_hdr_v v;

	send_frame(s, 2, mac[1], NULL, 60, 9); /* flooded; mac[2] is learnt */
	assert_int_equal(recv_frame(s, 0, h, got, 3000), 60);
	assert_int_equal(recv_frame(s, 1, h, got, 3000), 60);
	assert_memory_equal(h, plain, HDR);
	for (unsigned int round = 0; round < 3; round++) {
		/* stale bytes, then the header itself, then one field off */
		for (unsigned int k = 0; k < RING; k++) {
			if (round == 0)
				memset(s->p[2].rxbuf[k], 0xa5, HDR);
			else
				memcpy(s->p[2].rxbuf[k], plain, HDR);
			if (round == 2)
				s->p[2].rxbuf[k][11] = 7; /* num_buffers' high byte */
		}
		send_frame(s, 1, mac[2], NULL, 60 + round, (uint8_t)round);
		memset(h, 0x5a, sizeof(h));
		assert_int_equal(recv_frame(s, 2, h, got, 3000), (long)(60 + round));
		assert_memory_equal(h, plain, HDR);
		expect_nothing(s, 0);
	}
	/* DATA_VALID reaches only a port that negotiated GUEST_CSUM (1, not 2) */
	memset(&v, 0, sizeof(v));
	v.b[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	send_frame(s, 1, mac[2], &v, 70, 4);
	assert_int_equal(recv_frame(s, 2, h, got, 3000), 70);
	assert_memory_equal(h, plain, HDR);
	send_frame(s, 2, mac[1], &v, 70, 5);
	assert_int_equal(recv_frame(s, 1, h, got, 3000), 70);
	assert_int_equal(h[0], VIRTIO_NET_HDR_F_DATA_VALID);
	assert_memory_equal(h + 1, plain + 1, HDR - 1);
}

/* Bad frames are dropped and counted; the next good one still goes through. */
static void drops_bad_frames(void **state)
{
	struct sw *s = *state;
	uint8_t *b = s->p[0].txbuf;
	struct net_hdr_v h;
	struct iovec iov[3];

	memset(b, 0, 4096);
	iov[0] = (struct iovec){ b, 5 }; /* a chain smaller than the header */
	send_iov(s, 0, iov, 1);
	iov[0] = (struct iovec){ b, HDR + 10 }; /* shorter than Ethernet */
	send_iov(s, 0, iov, 1);
	fill_frame(b + HDR, bcast, mac[0], 1600, 5); /* over the MTU, no GSO */
	iov[0] = (struct iovec){ b, HDR + 1600 };
	send_iov(s, 0, iov, 1);
	memset(&h, 0, sizeof(h));
	h.b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* a checksum field past the frame */
	h.b[6] = 0xf0;
	h.b[7] = 0xff;
	send_frame(s, 0, bcast, &h, 100, 6);
	h.b[0] = 0;
	h.b[1] = VIRTIO_NET_HDR_GSO_UDP; /* UFO: never offered */
	send_frame(s, 0, bcast, &h, 100, 7);
	expect_nothing(s, 1);
	/* a good one, its header and frame spread over three descriptors */
	fill_frame(b + 64, bcast, mac[0], 300, 8);
	memset(b, 0, HDR);
	iov[0] = (struct iovec){ b, 7 };
	iov[1] = (struct iovec){ b + 7, 5 };
	iov[2] = (struct iovec){ b + 64, 300 };
	send_iov(s, 0, iov, 3);
	expect_frame(s, 1, bcast, 0, 300, 8);
	expect_counter(s, 0, "rx_drop_short", 2);
	expect_counter(s, 0, "rx_drop_oversize", 1);
	expect_counter(s, 0, "rx_drop_bad_hdr", 2);
	expect_counter(s, 0, "rx_packets", 1);
}

/* A TCP/IPv4 frame from mac[0]: 14 + 20 + 20 + @payload bytes, checksum left partial. */
static size_t tcp_frame(uint8_t *f, const uint8_t *dst, size_t payload, uint8_t *hdr)
{
	size_t len = 54 + payload;
	uint32_t sum = 0;

	memset(f, 0, 54);
	memcpy(f, dst, 6);
	memcpy(f + 6, mac[0], 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, (const uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	for (unsigned int i = 14; i < 34; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	f[35] = 99; /* ports 99 -> 80 */
	f[37] = 80;
	f[46] = 5 << 4;
	f[47] = 0x18; /* ACK PSH */
	for (size_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 31);
	/* the pseudo-header sum in the field, as a driver with CSUM leaves it */
	sum = 6 + (uint32_t)(len - 34);
	for (unsigned int i = 26; i < 34; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[50] = (uint8_t)(sum >> 8);
	f[51] = (uint8_t)sum;
	memset(hdr, 0, HDR);
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr[6] = 34; /* csum_start */
	hdr[8] = 16; /* csum_offset */
	return len;
}

static bool tcp_checksum_ok(const uint8_t *f, size_t len)
{
	uint32_t sum = 6 + (uint32_t)(len - 34);

	for (size_t i = 26; i < 34; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	for (size_t i = 34; i < len; i += 2)
		sum += (uint32_t)f[i] << 8 | (i + 1 < len ? f[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Offloads: port 1 took GUEST_CSUM/TSO4 and gets the frames as they were
 * sent (a 64 KiB-class GSO frame over mergeable buffers); port 2 took
 * neither and gets checksummed frames and segments.
 */
static void offloads_carried_or_done(void **state)
{
	static uint8_t got[80000], seg_payload[80000];
	struct sw *s = *state;
	uint8_t *b = s->p[0].txbuf, h[HDR];
	size_t len, done = 0;
	struct iovec iov;
	long n;

	/* NEEDS_CSUM, no GSO */
	len = tcp_frame(b + HDR, bcast, 1000, b);
	iov = (struct iovec){ b, HDR + len };
	send_iov(s, 0, &iov, 1);
	n = recv_frame(s, 1, h, got, 3000);
	assert_int_equal(n, (long)len);
	assert_int_equal(h[0], VIRTIO_NET_HDR_F_NEEDS_CSUM); /* left to the receiver */
	assert_memory_equal(got, b + HDR, len);
	n = recv_frame(s, 2, h, got, 3000);
	assert_int_equal(n, (long)len);
	assert_int_equal(h[0], 0);
	assert_true(tcp_checksum_ok(got, len)); /* done by the switch */

	/* GSO TCPv4: 20000 bytes of payload, mss 1448 */
	len = tcp_frame(b + HDR, bcast, 20000, b);
	b[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	b[2] = 54; /* hdr_len */
	b[4] = 1448 & 0xff;
	b[5] = 1448 >> 8;
	iov = (struct iovec){ b, HDR + len };
	send_iov(s, 0, &iov, 1);
	n = recv_frame(s, 1, h, got, 3000); /* one frame over 10 mergeable buffers */
	assert_int_equal(n, (long)len);
	assert_int_equal(h[1], VIRTIO_NET_HDR_GSO_TCPV4);
	assert_true((h[10] | h[11] << 8) > 1);
	assert_memory_equal(got, b + HDR, len);
	while (done < 20000) {
		n = recv_frame(s, 2, h, got, 3000);
		assert_true(n > 54 && n <= 54 + 1448);
		assert_int_equal(h[1], 0);
		assert_true(tcp_checksum_ok(got, (size_t)n));
		memcpy(seg_payload + done, got + 54, (size_t)n - 54);
		done += (size_t)n - 54;
	}
	assert_int_equal(done, 20000);
	assert_memory_equal(seg_payload, b + HDR + 54, 20000);
	expect_counter(s, 2, "tx_segmented", 1);
	expect_counter(s, 2, "tx_csum_sw", 1);
	expect_counter(s, 2, "tx_packets", 1 + 14); /* 20000 = 13 * 1448 + 1176 */
	expect_counter(s, 1, "tx_csum_sw", 0);
}

/* One raw vhost-user request on @fd; the u64 reply (or ack) to @reply. */
static void raw_request(int fd, uint32_t req, uint64_t payload, bool has_payload, uint64_t *reply)
{
	struct {
		uint32_t request, flags, size;
		uint64_t u64;
	} __attribute__((packed))
	m = { req, 1 | (reply ? 1u << 3 : 0), has_payload ? 8 : 0, payload };

	assert_int_equal(write(fd, &m, 12 + m.size), (ssize_t)(12 + m.size));
	if (!reply)
		return;
	assert_int_equal(read(fd, &m, 12), 12);
	assert_int_equal(m.request, req);
	assert_int_equal(m.size, 8);
	assert_int_equal(read(fd, &m.u64, 8), 8);
	*reply = m.u64;
}

/*
 * SEND_RARP (after a migration) makes vhu-net broadcast a RARP from that
 * MAC on the other ports; NET_SET_MTU reaches the port (it logs it).
 */
static void rarp_and_mtu(void **state)
{
	static uint8_t got[2048];
	struct sw *s = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const uint8_t vm[6] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc };
	uint64_t v, mac_u64 = 0;
	uint8_t h[HDR];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char cmd[300];

	assert_true(strlen(s->ctl) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, s->ctl, strlen(s->ctl) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	raw_request(fd, VHU_REQ_GET_FEATURES, 0, false, &v);
	assert_true(v & F(VIRTIO_NET_F_MTU));
	assert_true(v & F(VIRTIO_NET_F_GUEST_ANNOUNCE));
	raw_request(fd, VHU_REQ_SET_FEATURES, F(VIRTIO_F_VERSION_1) | F(30), true, NULL);
	raw_request(fd, VHU_REQ_GET_PROTOCOL_FEATURES, 0, false, &v);
	assert_true(v & F(VHU_PROTOCOL_F_RARP));
	assert_true(v & F(VHU_PROTOCOL_F_NET_MTU));
	raw_request(fd, VHU_REQ_SET_PROTOCOL_FEATURES,
		    F(VHU_PROTOCOL_F_RARP) | F(VHU_PROTOCOL_F_NET_MTU) |
			    F(VHU_PROTOCOL_F_REPLY_ACK),
		    true, NULL);
	raw_request(fd, VHU_REQ_NET_SET_MTU, 1400, true, &v);
	assert_int_equal(v, 0);
	memcpy(&mac_u64, vm, 6);
	raw_request(fd, VHU_REQ_SEND_RARP, mac_u64, true, &v);
	assert_int_equal(v, 0);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(recv_frame(s, i, h, got, 3000), 60);
		assert_memory_equal(got, bcast, 6);
		assert_memory_equal(got + 6, vm, 6);
		assert_int_equal(got[12] << 8 | got[13], 0x8035);
	}
	snprintf(cmd, sizeof(cmd), "grep -q 'MTU 1400 (NET_SET_MTU)' %s", s->log);
	assert_int_equal(system(cmd), 0);
	/* the switch learnt the migrated MAC on that port: unicast goes there only */
	send_frame(s, 0, vm, NULL, 100, 9);
	expect_nothing(s, 1);
	/* that front-end leaves: its addresses are forgotten, frames flood again */
	close(fd);
	sleep_ms(100);
	send_frame(s, 0, vm, NULL, 100, 10);
	expect_frame(s, 1, vm, 0, 100, 10);
}

/* The same announcement through lib/frontend (vhu_frontend_send_rarp()). */
static void rarp_from_frontend(void **state)
{
	static uint8_t got[2048];
	struct sw *s = *state;
	const uint8_t vm[6] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcd };
	uint8_t h[HDR];

	assert_true(vhu_frontend_protocol_features(s->p[2].fe) & F(VHU_PROTOCOL_F_RARP));
	assert_int_equal(vhu_frontend_send_rarp(s->p[2].fe, vm), 0);
	for (unsigned int i = 0; i < 2; i++) {
		assert_int_equal(recv_frame(s, i, h, got, 3000), 60);
		assert_memory_equal(got, bcast, 6);
		assert_memory_equal(got + 6, vm, 6);
		assert_int_equal(got[12] << 8 | got[13], 0x8035);
	}
}

/* A frame @dst <- @src of 60 bytes from port @i, 802.1Q-tagged when @vid. */
static void send_from(struct sw *s, unsigned int i, const uint8_t *dst, const uint8_t *src,
		      unsigned int vid, uint8_t seed)
{
	uint8_t *b = s->p[i].txbuf;
	struct iovec iov = { b, HDR + 60 };

	memset(b, 0, HDR);
	fill_frame(b + HDR, dst, src, 60, seed);
	if (vid) {
		b[HDR + 12] = 0x81;
		b[HDR + 13] = 0;
		b[HDR + 14] = (uint8_t)(vid >> 8);
		b[HDR + 15] = (uint8_t)vid;
	}
	send_iov(s, i, &iov, 1);
}

/*
 * --port-config: ports 0 and 1 in VLAN 10, 2 and 3 in VLAN 20 (3 posts no
 * receive buffers: what reaches it counts as no_buffers); port 2 may send
 * only from mac[2]; port 0 may own 4 MAC-table entries.
 */
static void isolates_tenants(void **state)
{
	struct sw *s = *state;
	uint8_t src[6] = { 2, 0, 0, 0, 7, 0 };

	/* a VLAN's broadcast stays in it, and a unicast to another VLAN's station floods only here
	 */
	send_frame(s, 0, bcast, NULL, 60, 1);
	expect_frame(s, 1, bcast, 0, 60, 1);
	expect_nothing(s, 2);
	send_frame(s, 2, bcast, NULL, 60, 2);
	expect_counter(s, 3, "tx_drop_no_buffers", 1);
	expect_nothing(s, 0);
	expect_nothing(s, 1);
	send_frame(s, 0, mac[2], NULL, 100, 3);
	expect_frame(s, 1, mac[2], 0, 100, 3);
	expect_nothing(s, 2);
	expect_counter(s, 0, "tx_packets", 0);
	expect_counter(s, 2, "tx_packets", 0);
	/* a source port 2 may not use: dropped and counted, even one of another VLAN */
	send_from(s, 2, bcast, mac[0], 0, 4);
	expect_counter(s, 2, "rx_drop_spoofed", 1);
	expect_counter(s, 2, "rx_packets", 1);
	expect_counter(s, 3, "tx_drop_no_buffers", 1);
	/* a guest's own tag (it would hop to VLAN 20): dropped and counted */
	send_from(s, 0, bcast, mac[0], 20, 5);
	expect_counter(s, 0, "rx_drop_vlan", 1);
	expect_nothing(s, 1);
	expect_counter(s, 3, "tx_drop_no_buffers", 1);
	/* port 0 owns mac[0] and may learn 3 more: 6 new sources, 3 not learnt, all switched */
	for (uint8_t k = 0; k < 6; k++) {
		src[5] = k;
		send_from(s, 0, bcast, src, 0, (uint8_t)(6 + k));
		expect_from(s, 1, bcast, src, 60, (uint8_t)(6 + k));
	}
	expect_counter(s, 0, "rx_learn_limit", 3);
	expect_counter(s, 0, "macs", 4);
	expect_counter(s, 1, "macs", 0); /* port 1 only received */
	expect_counter(s, 2, "macs", 1);
	/* a source not learnt is flooded to, in its VLAN only */
	send_frame(s, 1, src, NULL, 60, 12);
	expect_frame(s, 0, src, 1, 60, 12);
	expect_nothing(s, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(learns_and_floods, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(learns_and_floods, setup_packed, sw_teardown),
		cmocka_unit_test_setup_teardown(records_busy, setup_split_busy, sw_teardown),
		cmocka_unit_test_setup_teardown(receive_header_rewritten, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(receive_header_rewritten, setup_packed,
						sw_teardown),
		cmocka_unit_test_setup_teardown(drops_bad_frames, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(drops_bad_frames, setup_packed, sw_teardown),
		cmocka_unit_test_setup_teardown(offloads_carried_or_done, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(offloads_carried_or_done, setup_packed,
						sw_teardown),
		cmocka_unit_test_setup_teardown(rarp_and_mtu, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(rarp_from_frontend, setup_split, sw_teardown),
		cmocka_unit_test_setup_teardown(isolates_tenants, setup_isolated, sw_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
