/* SPDX-License-Identifier: MIT */
/*
 * net_migrate_check - a vhu-net port's device state moves with its guest.
 *
 *   net_migrate_check SOCK_A SOCK_B SOCK_C
 *
 * Three ports of one vhu-net switch, driven by lib/frontend (the public API
 * only). Guest 1 on port A sends a broadcast from MAC X: the switch learns
 * X on A. Guest 1 then migrates to port B (vhu_frontend_migrate: rings
 * stopped, SET_DEVICE_STATE_FD SAVE on A, LOAD on B); a new guest 2 takes
 * port A. Guest 3 on C sends a unicast frame to X: it must reach guest 1 on
 * B, whole, and not guest 2 on A. Without the state (no DEVICE_STATE), the
 * switch would have forgotten X when A's front-end left and would flood the
 * frame to both; with the address left on A, only guest 2 would get it.
 *
 * Exit: 0 pass, 1 fail (the reason on stderr), 77 when the back-end does not
 * offer DEVICE_STATE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <vhu/frontend.h>

#define HDR 12u /* virtio_net_hdr_v1 */
#define FRAME 64u
#define BUF 2048u
#define NBUF 16u

static const uint8_t mac_x[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t mac_y[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

struct guest {
	const char *name;
	struct vhu_frontend *fe;
	uint8_t *rx[NBUF], *tx;
};

static int die(const char *what, int err)
{
	fprintf(stderr, "net_migrate_check: %s: %s\n", what, err ? strerror(-err) : "failed");
	exit(1);
}

static void guest_up(struct guest *g, const char *name, const char *path)
{
	struct vhu_frontend_config cfg = {
		.socket_path = path,
		.fd = -1,
		.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX),
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = 64,
		.mem_size = 1u << 20,
	};
	int ret = vhu_frontend_connect(&cfg, &g->fe);

	g->name = name;
	if (ret < 0)
		die(path, ret);
	for (unsigned int i = 0; i < NBUF; i++)
		if (!(g->rx[i] = vhu_frontend_alloc(g->fe, BUF, 64)))
			die("alloc", -ENOMEM);
	if (!(g->tx = vhu_frontend_alloc(g->fe, HDR + FRAME, 64)))
		die("alloc", -ENOMEM);
	ret = vhu_frontend_start(g->fe);
	if (ret < 0)
		die("start", ret);
}

/* Post every receive buffer on queue 0. */
static void post_rx(struct guest *g)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(g->fe, 0);

	for (unsigned int i = 0; i < NBUF; i++) {
		struct iovec iov = { g->rx[i], BUF };
		int ret = vhu_frontend_queue_add(q, NULL, 0, &iov, 1, g->rx[i]);

		if (ret < 0)
			die("post rx", ret);
	}
	vhu_frontend_queue_kick(q);
}

static void frame(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint8_t seed)
{
	memset(f, 0, HDR);
	memcpy(f + HDR, dst, 6);
	memcpy(f + HDR + 6, src, 6);
	f[HDR + 12] = 0x88; /* local experimental ethertype */
	f[HDR + 13] = 0xb5;
	for (unsigned int i = 14; i < FRAME; i++)
		f[HDR + i] = (uint8_t)(seed + i * 7);
}

static void send_frame(struct guest *g, const uint8_t dst[6], const uint8_t src[6], uint8_t seed)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(g->fe, 1);
	struct iovec iov = { g->tx, HDR + FRAME };
	void *token;
	uint32_t len;
	int ret;

	frame(g->tx, dst, src, seed);
	ret = vhu_frontend_queue_add(q, &iov, 1, NULL, 0, g->tx);
	if (ret < 0)
		die("send", ret);
	vhu_frontend_queue_kick(q);
	for (int i = 0; i < 100; i++) {
		if (vhu_frontend_queue_get(q, &token, &len) == 1)
			return;
		vhu_frontend_queue_wait(q, 20);
	}
	die("the switch did not take the frame", 0);
}

/* A frame that came in on @g within @ms: 1 (and its bytes are checked), or 0. */
static int received(struct guest *g, int ms, const uint8_t dst[6], const uint8_t src[6],
		    uint8_t seed)
{
	struct vhu_frontend_queue *q = vhu_frontend_queue(g->fe, 0);
	uint8_t want[HDR + FRAME];
	void *token;
	uint32_t len;

	for (int i = 0; i < ms / 10; i++) {
		if (vhu_frontend_queue_get(q, &token, &len) == 1) {
			frame(want, dst, src, seed);
			if (len != HDR + FRAME || memcmp((uint8_t *)token + HDR, want + HDR, FRAME))
				die("a frame arrived changed", 0);
			return 1;
		}
		vhu_frontend_queue_wait(q, 10);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct guest g1, g2, g3;
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: net_migrate_check SOCK_A SOCK_B SOCK_C\n");
		return 2;
	}
	guest_up(&g1, "guest 1", argv[1]);
	if (!(vhu_frontend_protocol_features(g1.fe) & (1ull << 19))) {
		printf("SKIP: the back-end does not offer DEVICE_STATE\n");
		return 77;
	}
	guest_up(&g3, "guest 3", argv[3]);
	post_rx(&g1);
	post_rx(&g3);
	/*
	 * A port drops what comes while its front-end's last request is still
	 * being handled (counted as busy): the ack can come first. Send again
	 * until the frame gets through.
	 */
	for (int i = 0;; i++) {
		send_frame(&g1, bcast, mac_x, 1); /* the switch learns X on A */
		if (received(&g3, 100, bcast, mac_x, 1))
			break;
		if (i == 20)
			die("guest 3 did not see guest 1's broadcast", 0);
	}
	ret = vhu_frontend_migrate(g1.fe, argv[2]);
	if (ret < 0)
		die("migrating guest 1 to port B", ret);
	guest_up(&g2, "guest 2", argv[1]);
	post_rx(&g2);
	/* guest 1's receive buffers were handed over with its rings: still posted */
	for (int i = 0;; i++) {
		send_frame(&g3, mac_x, mac_y, 2);
		if (received(&g2, 100, mac_x, mac_y, 2))
			die("the frame for X reached port A (flooded, or X still learnt there)", 0);
		if (received(&g1, 100, mac_x, mac_y, 2))
			break;
		if (i == 20)
			die("the frame for X did not reach guest 1 on port B", 0);
	}
	if (received(&g2, 300, mac_x, mac_y, 2))
		die("the frame for X reached port A as well (flooded)", 0);
	printf("net_migrate_check: X's address moved from port A to B with the device state\n");
	vhu_frontend_destroy(g1.fe);
	vhu_frontend_destroy(g2.fe);
	vhu_frontend_destroy(g3.fe);
	return 0;
}
