/* SPDX-License-Identifier: MIT */
/*
 * vhu-input end to end: vhu-input runs as a child ($VHU_INPUT) fed by its
 * events socket, and lib/frontend is the virtio-input driver. The config
 * space against the description (and selects the device has nothing for),
 * an exact event sequence, the pending bound with its drop counter, tiny
 * and oversize buffers, status events (LEDs) back to the socket, and the
 * socket's hostile lines. Every child is stopped with SIGTERM and must
 * exit 0 (under ASan a leak fails that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/input.h>
#include <linux/virtio_config.h>
#include <linux/virtio_input.h>
#include <linux/virtio_ring.h>

#include <vhu/frontend.h>
#include <vhu/protocol.h>

extern char **environ;

#define RING 64u
#define PENDING 8u /* --max-pending */

/* numbers and the kernel's names mixed: BUS_VIRTUAL 6, INPUT_PROP_DIRECT 1, BTN_RIGHT 273 ... */
static const char description[] = "name vhu test tablet\n"
				  "serial T-0042\n"
				  "ids BUS_VIRTUAL 0x1234 0x5678 2\n"
				  "prop INPUT_PROP_DIRECT\n"
				  "ev EV_KEY KEY_A 48 BTN_LEFT BTN_RIGHT\n"
				  "ev 17 LED_NUML 1\n"
				  "abs ABS_X 0 32767 0 0 10\n"
				  "abs 1 -100 100 2 3 4\n"
				  "ready\n";

struct rig {
	char dir[64], vu[128], ev[128], log[128];
	pid_t pid;
	int evfd;
	char in[8192]; /* what the events socket said, not yet taken */
	size_t inlen;
	struct vhu_frontend *fe;
	struct vhu_frontend_queue *eq, *sq;
	struct virtio_input_event *bufs;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int ev_connect(struct rig *r)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	strcpy(a.sun_path, r->ev);
	for (int i = 0; i < 500; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		sleep_ms(10);
	}
	return -1;
}

static void ev_send(struct rig *r, const char *text)
{
	size_t n = strlen(text);

	assert_int_equal(send(r->evfd, text, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The next line the events socket sends (without '\n'), or NULL after 5 s / EOF. */
static char *ev_line(struct rig *r, char *out, size_t size)
{
	for (int waited = 0; waited < 5000;) {
		char *nl = memchr(r->in, '\n', r->inlen);
		struct pollfd p = { .fd = r->evfd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - r->in);

			assert_true(len < size);
			memcpy(out, r->in, len);
			out[len] = '\0';
			r->inlen -= len + 1;
			memmove(r->in, nl + 1, r->inlen);
			return out;
		}
		if (poll(&p, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		n = recv(r->evfd, r->in + r->inlen, sizeof(r->in) - r->inlen, 0);
		if (n <= 0)
			return NULL;
		r->inlen += (size_t)n;
	}
	return NULL;
}

/* "stats": the value of @key in the reply */
static unsigned long long stat_of(struct rig *r, const char *key)
{
	char line[512], *p;
	char want[64];

	ev_send(r, "stats\n");
	do
		assert_non_null(ev_line(r, line, sizeof(line)));
	while (strncmp(line, "stats ", 6));
	snprintf(want, sizeof(want), " %s=", key);
	p = strstr(line, want);
	assert_non_null(p);
	return strtoull(p + strlen(want), NULL, 10);
}

static int spawn(struct rig *r, bool describe)
{
	const char *exe = getenv("VHU_INPUT");
	char a1[160], a2[160], a3[32];
	char *argv[] = { (char *)(uintptr_t)exe, a1, a2, a3, NULL };
	posix_spawn_file_actions_t fa;
	char line[256];
	int ret;

	if (!exe)
		return -1;
	strcpy(r->dir, "/tmp/vhu-input-XXXXXX");
	if (!mkdtemp(r->dir))
		return -1;
	snprintf(r->vu, sizeof(r->vu), "%s/vu.sock", r->dir);
	snprintf(r->ev, sizeof(r->ev), "%s/ev.sock", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/input.log", r->dir);
	snprintf(a1, sizeof(a1), "--socket-path=%s", r->vu);
	snprintf(a2, sizeof(a2), "--events-socket=%s", r->ev);
	snprintf(a3, sizeof(a3), "--max-pending=%u", PENDING);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ret = posix_spawn(&r->pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		return -1;
	r->evfd = ev_connect(r);
	if (r->evfd < 0 || !describe)
		return r->evfd < 0 ? -1 : 0;
	ev_send(r, description);
	return ev_line(r, line, sizeof(line)) && !strcmp(line, "ok") ? 0 : -1;
}

/* Connect lib/frontend and start both queues; no event buffers posted yet. */
static int fe_open(struct rig *r)
{
	struct vhu_frontend_config cfg = {
		.socket_path = r->vu,
		.fd = -1,
		.timeout_ms = 5000,
		.features = VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX),
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = RING,
	};
	int ret = vhu_frontend_connect(&cfg, &r->fe);

	if (ret < 0)
		return ret;
	r->bufs = vhu_frontend_alloc(r->fe, RING * 64, 64);
	ret = vhu_frontend_start(r->fe);
	r->eq = vhu_frontend_queue(r->fe, 0);
	r->sq = vhu_frontend_queue(r->fe, 1);
	return ret;
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	*state = r;
	if (!r || spawn(r, true) < 0 || fe_open(r) < 0) {
		fprintf(stderr, "VHU_INPUT is not set or vhu-input did not start\n");
		return -1;
	}
	return 0;
}

static int setup_bare(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	*state = r;
	return r && spawn(r, false) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct rig *r = *state;
	int status = -1;
	char cmd[200];

	if (r->fe)
		vhu_frontend_destroy(r->fe);
	if (r->evfd >= 0)
		close(r->evfd);
	kill(r->pid, SIGTERM);
	waitpid(r->pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(cmd, sizeof(cmd), "cat %s >&2", r->log);
		if (system(cmd) < 0)
			perror("cat");
		fprintf(stderr, "vhu-input exit status 0x%x\n", status);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	if (system(cmd) < 0)
		perror("rm");
	free(r);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void post(struct rig *r, unsigned int i, uint32_t size)
{
	struct iovec iov = { (uint8_t *)r->bufs + i * 64, size };

	assert_int_equal(vhu_frontend_queue_add(r->eq, NULL, 0, &iov, 1, iov.iov_base), 0);
}

static void post_all(struct rig *r)
{
	for (unsigned int i = 0; i < RING; i++)
		post(r, i, 8);
	vhu_frontend_queue_kick(r->eq);
}

/* The next completed event buffer within @ms: its token and length; false if none. */
static bool get_event(struct rig *r, int ms, void **token, uint32_t *len)
{
	for (int waited = 0;; waited += 10) {
		int ret = vhu_frontend_queue_get(r->eq, token, len);

		assert_true(ret >= 0);
		if (ret == 1)
			return true;
		if (waited >= ms)
			return false;
		vhu_frontend_queue_wait(r->eq, 10);
	}
}

static void expect_event(struct rig *r, uint16_t type, uint16_t code, int32_t value)
{
	struct virtio_input_event *ev;
	uint32_t len;

	assert_true(get_event(r, 5000, (void **)&ev, &len));
	assert_int_equal(len, 8);
	assert_int_equal(le16toh(ev->type), type);
	assert_int_equal(le16toh(ev->code), code);
	assert_int_equal((int32_t)le32toh(ev->value), value);
	/* give the buffer back, as a driver does */
	struct iovec iov = { ev, 8 };
	assert_int_equal(vhu_frontend_queue_add(r->eq, NULL, 0, &iov, 1, ev), 0);
	vhu_frontend_queue_kick(r->eq);
}

/* The next events, in order: { type, code, value } each; then nothing more within 200 ms. */
static void expect_only(struct rig *r, const int32_t (*ev)[3], size_t n)
{
	void *token;
	uint32_t len;

	for (size_t i = 0; i < n; i++)
		expect_event(r, (uint16_t)ev[i][0], (uint16_t)ev[i][1], ev[i][2]);
	assert_false(get_event(r, 200, &token, &len));
}

static uint8_t cfg_read(struct rig *r, uint8_t select, uint8_t subsel,
			struct virtio_input_config *cfg)
{
	uint8_t sel[2] = { select, subsel };

	assert_int_equal(vhu_frontend_set_config(r->fe, 0, sel, 2), 0);
	memset(cfg, 0xaa, sizeof(*cfg));
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, cfg, sizeof(*cfg)), 0);
	assert_int_equal(cfg->select, select);
	assert_int_equal(cfg->subsel, subsel);
	return cfg->size;
}

static void config_space(void **state)
{
	struct rig *r = *state;
	struct virtio_input_config cfg;
	static const uint8_t bad_select[] = { 0x00, 0x04, 0x0f, 0x13, 0x7f, 0xff };
	uint8_t big[256];

	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ID_NAME, 0, &cfg), 15);
	assert_memory_equal(cfg.u.string, "vhu test tablet", 15);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ID_SERIAL, 0, &cfg), 6);
	assert_memory_equal(cfg.u.string, "T-0042", 6);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ID_DEVIDS, 0, &cfg), 8);
	assert_int_equal(le16toh(cfg.u.ids.bustype), 6);
	assert_int_equal(le16toh(cfg.u.ids.vendor), 0x1234);
	assert_int_equal(le16toh(cfg.u.ids.product), 0x5678);
	assert_int_equal(le16toh(cfg.u.ids.version), 2);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_PROP_BITS, 0, &cfg), 1);
	assert_int_equal(cfg.u.bitmap[0], 2);
	/* keys 30, 48, 272, 273: up to byte 34 */
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY, &cfg), 35);
	assert_int_equal(cfg.u.bitmap[3], 1u << 6);
	assert_int_equal(cfg.u.bitmap[6], 1u << 0);
	assert_int_equal(cfg.u.bitmap[34], 3);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS, &cfg), 1);
	assert_int_equal(cfg.u.bitmap[0], 3);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, EV_LED, &cfg), 1);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, EV_REL, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ABS_INFO, 1, &cfg), 20);
	assert_int_equal((int32_t)le32toh(cfg.u.abs.min), -100);
	assert_int_equal((int32_t)le32toh(cfg.u.abs.max), 100);
	assert_int_equal(le32toh(cfg.u.abs.fuzz), 2);
	assert_int_equal(le32toh(cfg.u.abs.flat), 3);
	assert_int_equal(le32toh(cfg.u.abs.res), 4);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ABS_INFO, 0, &cfg), 20);
	assert_int_equal(le32toh(cfg.u.abs.max), 32767);

	/* what the device has nothing for: size 0 and a zero union, never a crash */
	for (size_t i = 0; i < sizeof(bad_select); i++) {
		assert_int_equal(cfg_read(r, bad_select[i], 0, &cfg), 0);
		assert_int_equal(cfg.u.bitmap[0], 0);
	}
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ID_NAME, 1, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, EV_SYN, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, 31, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_EV_BITS, 200, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ABS_INFO, 2, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ABS_INFO, 64, &cfg), 0);
	assert_int_equal(cfg_read(r, VIRTIO_INPUT_CFG_ABS_INFO, 255, &cfg), 0);

	/* only select and subsel are writable; reads past the space are zero */
	assert_int_equal(vhu_frontend_set_config(r->fe, 2, "\x10", 1), -EIO);
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, big, sizeof(big)), 0);
	for (size_t i = sizeof(cfg); i < sizeof(big); i++)
		assert_int_equal(big[i], 0);
	assert_int_equal(vhu_frontend_get_config(r->fe, 200, big, 56), 0);
	/* QEMU writes the whole space back: the rest of it is ignored */
	memset(big, 0xee, sizeof(cfg));
	big[0] = VIRTIO_INPUT_CFG_ID_SERIAL;
	big[1] = 0;
	assert_int_equal(vhu_frontend_set_config(r->fe, 0, big, sizeof(cfg)), 0);
	assert_int_equal(vhu_frontend_get_config(r->fe, 0, &cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg.size, 6);
	assert_memory_equal(cfg.u.string, "T-0042", 6);
	assert_true(vhu_frontend_alive(r->fe));
}

/*
 * 300 events in frames of 3, split by the socket anywhere, arrive exactly.
 * Sent 20 frames at a time: 64 buffers and PENDING more is all a driver
 * that does not keep up gets.
 */
static void exact_sequence(void **state)
{
	struct rig *r = *state;
	char text[20 * 32];

	post_all(r);
	for (int round = 0; round < 5; round++) {
		size_t off = 0;

		for (int i = round * 20; i < round * 20 + 20; i++)
			off += (size_t)sprintf(text + off, "1 %d %d\n3 1 %d\n0 0 0\n",
					       i % 2 ? 48 : 30, i % 3, -100 + i * 2);
		for (size_t sent = 0; sent < off; sent += 97) {
			size_t n = off - sent < 97 ? off - sent : 97;

			assert_int_equal(send(r->evfd, text + sent, n, MSG_NOSIGNAL), (ssize_t)n);
		}
		for (int i = round * 20; i < round * 20 + 20; i++) {
			expect_event(r, EV_KEY, i % 2 ? 48 : 30, i % 3);
			expect_event(r, EV_ABS, 1, -100 + i * 2);
			expect_event(r, EV_SYN, SYN_REPORT, 0);
		}
	}
	assert_int_equal(stat_of(r, "delivered"), 300);
	assert_int_equal(stat_of(r, "dropped"), 0);
}

/*
 * No buffers posted: the pending queue keeps whole frames, at most PENDING
 * events, and counts every other one; buffers posted later get exactly
 * those, then the corrections for what was dropped.
 */
static void overflow_bound(void **state)
{
	/* the frames kept, then what the dropped ones left: 30 up, 48 as it was, ABS_X at 7 */
	static const int32_t bound_want[][3] = {
		{ EV_KEY, 30, 1 },	   { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, 30, 0 },
		{ EV_SYN, SYN_REPORT, 0 }, { EV_KEY, 30, 1 },	      { EV_SYN, SYN_REPORT, 0 },
		{ EV_KEY, 30, 0 },	   { EV_ABS, 0, 7 },	      { EV_SYN, SYN_REPORT, 0 },
	};
	struct rig *r = *state;
	char line[64];

	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "1 30 %d\n0 0 0\n", (i + 1) % 2);
		ev_send(r, line);
	}
	/* a frame of 3 finds room for 2: the 2 queued go with its SYN_REPORT */
	ev_send(r, "1 48 1\n3 0 7\n0 0 0\n");
	assert_int_equal(stat_of(r, "pending"), 6);
	assert_int_equal(stat_of(r, "dropped"), 3);
	/*
	 * 2 free places, 3 corrections owed (30 up, 48 down, ABS_X 7) with
	 * their SYN_REPORT: the frames that follow are dropped too
	 */
	ev_send(r, "1 30 0\n0 0 0\n");
	for (int i = 0; i < 5; i++)
		ev_send(r, "1 48 0\n0 0 0\n");
	assert_int_equal(stat_of(r, "pending"), 6);
	assert_int_equal(stat_of(r, "dropped"), 15);
	post_all(r);
	expect_only(r, bound_want, sizeof(bound_want) / sizeof(bound_want[0]));
	assert_int_equal(stat_of(r, "delivered"), 9);
	assert_int_equal(stat_of(r, "corrections"), 2);
	assert_int_equal(stat_of(r, "pending"), 0);
	/* with buffers there, nothing is dropped any more */
	ev_send(r, "1 48 0\n0 0 0\n");
	expect_event(r, EV_KEY, 48, 0);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
	assert_int_equal(stat_of(r, "dropped"), 15);
}

/*
 * Keys held while the queue overflows and released while it is full: the
 * releases are dropped, and the guest must still see them (evdev's
 * SYN_DROPPED resync). With PENDING 8, the 8 corrections and their
 * SYN_REPORT do not fit at once: they come in two parts.
 */
static void overflow_resync(void **state)
{
	/* the frames kept, then the corrections: keys, axes, switches, LEDs, in code order */
	static const int32_t resync_want[][3] = {
		{ EV_KEY, 30, 1 },	   { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, 48, 1 },
		{ EV_SYN, SYN_REPORT, 0 }, { EV_KEY, 272, 1 },	      { EV_SYN, SYN_REPORT, 0 },
		{ EV_ABS, 1, -7 },	   { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, 30, 0 },
		{ EV_KEY, 48, 0 },	   { EV_KEY, 272, 0 },	      { EV_KEY, 273, 1 },
		{ EV_ABS, 0, 100 },	   { EV_ABS, 1, -5 },	      { EV_LED, 0, 1 },
		{ EV_LED, 1, 1 },	   { EV_SYN, SYN_REPORT, 0 },
	};
	struct rig *r = *state;

	/* three keys down, and ABS_Y: the queue is full */
	ev_send(r, "1 30 1\n0 0 0\n1 48 1\n0 0 0\n1 272 1\n0 0 0\n3 1 -7\n0 0 0\n");
	assert_int_equal(stat_of(r, "pending"), PENDING);
	/* dropped: a fourth key down, the three up, both axes, both LEDs on */
	ev_send(r, "1 273 1\n0 0 0\n1 30 0\n1 48 0\n0 0 0\n1 272 0\n0 0 0\n");
	ev_send(r, "3 0 100\n3 1 -5\n17 0 1\n17 1 1\n0 0 0\n");
	/* gone and back within the overflow: nothing to correct */
	ev_send(r, "1 30 1\n0 0 0\n1 30 0\n0 0 0\n3 0 50\n0 0 0\n3 0 100\n0 0 0\n");
	assert_int_equal(stat_of(r, "pending"), PENDING);
	assert_int_equal(stat_of(r, "dropped"), 20);
	assert_int_equal(stat_of(r, "malformed"), 0);
	post_all(r);
	expect_only(r, resync_want, sizeof(resync_want) / sizeof(resync_want[0]));
	assert_int_equal(stat_of(r, "corrections"), 8);
	assert_int_equal(stat_of(r, "delivered"), 17);
	/* and from then on events flow as before, named or not */
	ev_send(r, "EV_KEY BTN_RIGHT 0\nEV_SYN SYN_REPORT 0\n");
	expect_event(r, EV_KEY, 273, 0);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
	assert_int_equal(stat_of(r, "dropped"), 20);
}

/* A buffer under 8 bytes is completed empty; a bigger one or a split one takes the event. */
static void tiny_and_oversize_buffers(void **state)
{
	struct rig *r = *state;
	uint8_t *b = (uint8_t *)r->bufs;
	struct iovec split[2] = { { b + 128, 3 }, { b + 192, 5 } };
	void *token;
	uint32_t len;

	post(r, 0, 4);
	post(r, 1, 64);
	assert_int_equal(vhu_frontend_queue_add(r->eq, NULL, 0, split, 2, b + 128), 0);
	post(r, 4, 7);
	vhu_frontend_queue_kick(r->eq);
	memset(b + 64, 0xcc, 64);
	ev_send(r, "1 272 1\n1 273 -2\n");
	assert_true(get_event(r, 5000, &token, &len));
	assert_ptr_equal(token, b);
	assert_int_equal(len, 0);
	assert_true(get_event(r, 5000, &token, &len));
	assert_ptr_equal(token, b + 64);
	assert_int_equal(len, 8);
	assert_memory_equal(b + 64, "\x01\x00\x10\x01\x01\x00\x00\x00", 8);
	assert_int_equal(b[72], 0xcc); /* nothing past the event */
	assert_true(get_event(r, 5000, &token, &len));
	assert_ptr_equal(token, b + 128);
	assert_int_equal(len, 8);
	assert_memory_equal(b + 128, "\x01\x00\x11", 3);
	assert_memory_equal(b + 192, "\x01\xfe\xff\xff\xff", 5);
	/* the 7-byte one waits for an event, and is completed empty */
	assert_false(get_event(r, 100, &token, &len));
	ev_send(r, "0 0 0\n");
	assert_true(get_event(r, 5000, &token, &len));
	assert_ptr_equal(token, b + 4 * 64);
	assert_int_equal(len, 0);
	assert_int_equal(stat_of(r, "bad_buffers"), 2);
	assert_int_equal(stat_of(r, "pending"), 1);
	post_all(r);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
}

/* Status events: LEDs go back to the socket; what the device never described is counted. */
static void status_to_socket(void **state)
{
	struct rig *r = *state;
	struct virtio_input_event *st = vhu_frontend_alloc(r->fe, 4 * sizeof(*st), 8);
	char line[256];
	void *token;
	uint32_t len;

	assert_non_null(st);
	st[0] = (struct virtio_input_event){ htole16(EV_LED), htole16(1), htole32(1) };
	st[1] = (struct virtio_input_event){ htole16(EV_SW), htole16(0), htole32(1) };
	st[2] = (struct virtio_input_event){ htole16(0x55), htole16(0x3ff), htole32(9) };
	st[3] = (struct virtio_input_event){ htole16(EV_LED), htole16(0), htole32(0) };
	for (unsigned int i = 0; i < 4; i++) {
		struct iovec iov = { &st[i], i == 2 ? 4 : 8 }; /* and one short buffer */

		assert_int_equal(vhu_frontend_queue_add(r->sq, &iov, 1, NULL, 0, &st[i]), 0);
	}
	vhu_frontend_queue_kick(r->sq);
	for (unsigned int i = 0; i < 4; i++) {
		while (vhu_frontend_queue_get(r->sq, &token, &len) != 1)
			assert_int_equal(vhu_frontend_queue_wait(r->sq, 5000), 1);
		assert_int_equal(len, 0);
	}
	assert_non_null(ev_line(r, line, sizeof(line)));
	assert_string_equal(line, "status 17 1 1");
	assert_non_null(ev_line(r, line, sizeof(line)));
	assert_string_equal(line, "status 17 0 0");
	assert_int_equal(stat_of(r, "status"), 2);
	assert_int_equal(stat_of(r, "status_unknown"), 1);
	assert_int_equal(stat_of(r, "bad_buffers"), 1);
}

/* Hostile lines: each refused with a reason and counted, the connection goes on. */
static void malformed_lines(void **state)
{
	static const char *const bad[] = {
		"1 30\n",
		"1 30 1 1\n",
		"x y z\n",
		"32 0 0\n",
		"1 1024 0\n",
		"1 30 4294967296\n",
		"-1 30 1\n",
		"1 31 1\n",
		"2 0 1\n",
		"0 1 0\n",
		"1 30 0x\n",
		"1 30 1x\n",
		"name again\n",
		"ev 1 31\n",
		"ready\n",
		"stats now\n",
		"1 30 99999999999999999999\n",
		"\x01\x02\n",
		"1\t30\t\x7f\n",
		/* names: unknown, of another type, where a number goes, not a word */
		"EV_KEY KEY_NOPE 1\n",
		"EV_KEY ABS_X 1\n",
		"KEY_A 1\n",
		"EV_KEY KEY_A KEY_B\n",
		"EV_KEY key_a 1\n",
		"EV_KEY KEY_A- 1\n",
		"EV_NOPE KEY_A 1\n",
		"EV_REL REL_X 1\n",
		"EV_KEY BTN_LEFT\x7f 1\n",
		"EV_KEY "
		"KEY_"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAA"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1\n",
		"99 KEY_A 1\n",
		"EV_KEY 30 1 EV_SYN\n",
	};
	/* what some of them are told, exactly */
	static const char *const said[][2] = {
		{ "EV_KEY KEY_NOPE 1\n", "error: unknown name KEY_NOPE" },
		{ "EV_KEY ABS_X 1\n", "error: ABS_X is a code of EV_ABS, not a code of EV_KEY" },
		{ "KEY_A 1\n", "error: KEY_A is a code of EV_KEY, not an event type (EV_*)" },
		{ "EV_KEY KEY_A KEY_B\n", "error: KEY_B is a code of EV_KEY, not a number" },
		{ "EV_REL REL_X 1\n", "error: event type/code not in the description" },
	};
	struct rig *r = *state;
	char line[512], big[600];
	unsigned int n = sizeof(bad) / sizeof(bad[0]);
	int fd2;

	post_all(r);
	for (unsigned int i = 0; i < n; i++) {
		ev_send(r, bad[i]);
		assert_non_null(ev_line(r, line, sizeof(line)));
		assert_true(!strncmp(line, "error: ", 7));
	}
	for (unsigned int i = 0; i < sizeof(said) / sizeof(said[0]); i++) {
		ev_send(r, said[i][0]);
		assert_non_null(ev_line(r, line, sizeof(line)));
		assert_string_equal(line, said[i][1]);
	}
	n += sizeof(said) / sizeof(said[0]);
	ev_send(r, "  1\t30   0x1 \r\n# a comment\n\nEV_SYN\tSYN_REPORT  0\n");
	expect_event(r, EV_KEY, 30, 1);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
	assert_int_equal(stat_of(r, "malformed"), n);
	/* a second client while one is connected */
	fd2 = ev_connect(r);
	assert_true(fd2 >= 0);
	assert_int_equal(recv(fd2, line, sizeof(line), 0), 12);
	assert_memory_equal(line, "error: busy\n", 12);
	close(fd2);
	/* an endless line ends the connection; the next client is served */
	memset(big, '1', sizeof(big));
	assert_int_equal(send(r->evfd, big, sizeof(big), MSG_NOSIGNAL), (ssize_t)sizeof(big));
	assert_non_null(ev_line(r, line, sizeof(line)));
	assert_string_equal(line, "error: line too long: closing");
	assert_null(ev_line(r, line, sizeof(line)));
	close(r->evfd);
	r->inlen = 0;
	r->evfd = ev_connect(r);
	assert_true(r->evfd >= 0);
	ev_send(r, "1 30 0\n0 0 0\n");
	expect_event(r, EV_KEY, 30, 0);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
	assert_int_equal(stat_of(r, "malformed"), n + 1);
	assert_true(vhu_frontend_alive(r->fe));
}

/* Bad descriptions are refused line by line; nothing is served before "ready". */
static void describe_refuses(void **state)
{
	static const char *const bad[] = {
		"ev 0 1\n",
		"ev 32 1\n",
		"ev 1\n",
		"ev 1 1024\n",
		"abs 64 0 1\n",
		"abs 0 5 1\n",
		"abs 0 1\n",
		"abs 0 0 1 2 3 4 5\n",
		"ids 1 2 3\n",
		"ids 1 2 3 65536\n",
		"prop 32\n",
		"name\n",
		"serial \x01\n",
		"1 30 1\n",
		"ready\n",
		"bogus 1\n",
		/* names in the wrong place, or none */
		"ev EV_KEY REL_X\n",
		"abs KEY_A 0 1\n",
		"abs ABS_X 0 KEY_A\n",
		"prop BUS_USB\n",
		"ids INPUT_PROP_DIRECT 1 2 3\n",
		"ids BUS_USB BUS_USB 1 1\n",
		"ev EV_NOPE 1\n",
		"ev KEY_A KEY_A\n",
		"prop INPUT_PROP_NOPE\n",
		"Ev EV_KEY KEY_A\n",
	};
	struct rig *r = *state;
	char line[512];
	struct stat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ev_send(r, bad[i]);
		assert_non_null(ev_line(r, line, sizeof(line)));
		assert_true(!strncmp(line, "error: ", 7));
	}
	assert_int_equal(stat(r->vu, &st), -1); /* not served yet */
	ev_send(r, "ev EV_REL REL_X REL_Y\nready\n");
	assert_non_null(ev_line(r, line, sizeof(line)));
	assert_string_equal(line, "ok");
	assert_int_equal(stat_of(r, "malformed"), sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(fe_open(r), 0);
	post_all(r);
	ev_send(r, "EV_REL REL_Y -3\n0 0 0\n");
	expect_event(r, EV_REL, 1, -3);
	expect_event(r, EV_SYN, SYN_REPORT, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(exact_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(overflow_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(overflow_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(tiny_and_oversize_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(status_to_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(describe_refuses, setup_bare, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
