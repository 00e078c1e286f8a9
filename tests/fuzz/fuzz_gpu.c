/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gpu: the display's side of the vhost-user-gpu socket. Any bytes a
 * GPU back-end may send are received (lib/transport: the row is checked
 * before the payload is allocated) and handled (lib/frontend/gpu_display.c)
 * until the stream ends or breaks: never a crash, a leak, an out-of-bounds
 * write into a scanout, or a blocked reply.
 *
 * Input: byte 0 picks the GPU protocol features the display offers (bit 0:
 * EDID); the rest is the byte stream from the back-end
 * (tests/fuzz/gen_corpus_gpu.py makes the seeds).
 *
 * Oracles (abort on violation): a scanout has pixels exactly when it has a
 * size, within the bounds; counters never exceed the messages handled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frontend/gpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(int fd)
{
	char buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void check(const struct vhu_frontend_gpu *g)
{
	for (unsigned int i = 0; i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
		const struct vhu_fe_scanout *s = &g->scanout[i];

		if (!!s->fb != (s->width && s->height) || s->width > 16384 || s->height > 16384)
			abort();
		if (i >= g->cfg.num_scanouts && s->fb)
			abort();
	}
	if (g->stats.updates > g->stats.messages || g->stats.errors > g->stats.messages)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_frontend_gpu_config cfg = { .num_scanouts = 2 };
	struct vhu_frontend_gpu g;
	int sv[2];
	size_t off = 1;

	if (size < 1)
		return 0;
	cfg.protocol_features = data[0] & 1 ? VHU_BIT(VHU_GPU_PROTOCOL_F_EDID) : 0;
	cfg.modes[0].width = 64;
	cfg.modes[0].height = 48;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* a big stream goes in as the display reads it: never more than fits */
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0 || vhu_fe_gpu_init(&g, &cfg, NULL, sv[0]) < 0)
		abort();
	for (;;) {
		if (off < size) {
			ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
		}
		if (off >= size)
			shutdown(sv[1], SHUT_WR);
		if (vhu_fe_gpu_serve_one(&g) < 0)
			break;
		drain(sv[1]); /* the replies */
		check(&g);
	}
	check(&g);
	close(sv[0]);
	close(sv[1]);
	vhu_fe_gpu_fini(&g);
	return 0;
}
