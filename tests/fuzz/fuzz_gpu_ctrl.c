/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gpu_ctrl: vhu-gpu's control and cursor queues (devices/gpu/gpu.c,
 * display.c) on commands made of fuzzer bytes: resources created, backed
 * by guest memory, transferred, shown, flushed to a display socket (drained
 * by the harness), unref'd, cursors set. Every command gets a response that
 * fits its buffer; nothing crashes, leaks or writes outside a resource.
 *
 * Input: byte 0: bit 0 EDID negotiated, bit 1 a display socket, bit 2 the
 * display offered EDID, bit 3 virgl mode (builds with virglrenderer: every
 * resource and the 3D commands go through it, on Mesa's llvmpipe; started
 * once per process, its contexts and resources freed after each input). Then commands, each: kind
 * (bit 0: cursor queue; bits 1-2: the response buffer, 0/24/64/2048 bytes), a 16-bit length, where
 * to split the command in two iovecs, and the command's bytes. Guest memory: two regions of 8 KiB
 * at gpa 0 and 8192 (a fixed pattern), so backing entries can cross regions or fall outside.
 *
 * Oracles (abort on violation): the written length fits the response
 * buffer and names a virtio-gpu response type; host memory stays within the
 * cap and equals the resources' sizes; a scanout shows only a resource that
 * exists, inside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "memory/memtable.h"
#include "virtq/virtq.h"
#include <vhu/gpu.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION 8192u
#define HOSTMEM (96u * 1024) /* an UPDATE of it fits a socket buffer */

static uint8_t *host[2];
static struct vhu_mem mem;
static struct vhu_log quiet_log;

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	(void)prefix;
	(void)text;
}

static void setup(void)
{
	vhu_mem_init(&mem, 0);
	for (unsigned int i = 0; i < 2; i++) {
		host[i] = malloc(REGION);
		if (!host[i])
			abort();
		memset(&mem.regions[i], 0, sizeof(mem.regions[i]));
		mem.regions[i].gpa = i * REGION;
		mem.regions[i].size = REGION;
		mem.regions[i].uva = 0x100000ull * (i + 1);
		mem.regions[i].host = host[i];
	}
	mem.nregions = 2;
	quiet_log.fn = quiet;
	quiet_log.level = VHU_LOG_ERR;
}

static void check(const struct gpu_dev *g)
{
	uint64_t sum = 0;
	uint32_t n = 0;

	for (const struct gpu_resource *r = g->res; r; r = r->next) {
		sum += r->host_size;
		n++;
	}
	if (sum != g->hostmem || g->hostmem > g->max_hostmem || n != g->nres)
		abort();
	for (uint32_t i = 0; i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
		const struct gpu_scanout *s = &g->scanout[i];
		const struct gpu_resource *r = g->res;

		if (!s->resource_id)
			continue;
		while (r && r->id != s->resource_id)
			r = r->next;
		if (i >= g->num_scanouts || !r || s->r.x + (uint64_t)s->r.width > r->width ||
		    s->r.y + (uint64_t)s->r.height > r->height)
			abort();
	}
}

#ifdef VHU_GPU_VIRGL
/* virglrenderer starts once (a GL context is slow to make); each input borrows it */
static struct gpu_virgl *shared_virgl(void)
{
	static struct gpu_dev boot;
	static bool tried;
	const char *why;

	if (!tried) {
		tried = true;
		gpu_init(&boot, 1, HOSTMEM);
		boot.log = &quiet_log;
		if (gpu_virgl_start(&boot, NULL, &why) < 0)
			abort(); /* deps.sh installs it: no virgl is a failure */
	}
	return boot.virgl;
}
#endif

static void drain(int fd)
{
	static char buf[65536];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void one(struct gpu_dev *g, struct vhu_vq *vq, const uint8_t *cmd, size_t len, uint8_t kind,
		uint8_t split)
{
	static const uint32_t resp_sizes[4] = { 0, 24, 64, 2048 };
	static struct iovec iov[3];
	struct vhu_req req = { .iov = iov, .iov_max = 3 };
	uint8_t *c = malloc(len ? len : 1), *resp = malloc(2048);
	size_t cut = len ? split % (len + 1) : 0;
	uint32_t rsize = resp_sizes[(kind >> 1) & 3], written;

	if (!c || !resp)
		abort();
	memcpy(c, cmd, len);
	iov[0] = (struct iovec){ c, cut };
	iov[1] = (struct iovec){ c + cut, len - cut };
	iov[2] = (struct iovec){ resp, rsize };
	req.out_num = 2;
	req.in_num = 1;
	req.out_size = len;
	req.in_size = rsize;
	if (kind & 1) {
		gpu_cursor(g, &req);
	} else {
		written = gpu_ctrl(g, vq, &req);
		if (written > rsize)
			abort();
		if (written >= sizeof(struct virtio_gpu_ctrl_hdr)) {
			uint32_t type;

			memcpy(&type, resp, sizeof(type));
			if (type < VIRTIO_GPU_RESP_OK_NODATA ||
			    (type > VIRTIO_GPU_RESP_OK_MAP_INFO &&
			     type < VIRTIO_GPU_RESP_ERR_UNSPEC) ||
			    type > VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER)
				abort();
		}
	}
	free(c);
	free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gpu_dev g;
	static struct vhu_vq vq;
	int sv[2] = { -1, -1 };
	size_t off = 1;

	if (!host[0])
		setup();
	if (size < 1)
		return 0;
	for (unsigned int i = 0; i < 2; i++)
		for (uint32_t j = 0; j < REGION; j++)
			host[i][j] = (uint8_t)(j * 31 + i);
	vhu_vq_init(&vq, 0, &mem, &quiet_log);
	gpu_init(&g, 2, HOSTMEM);
	g.log = &quiet_log;
	g.edid = data[0] & 1;
	g.reply_timeout_ms = 0; /* nobody answers: GET_DISPLAY_INFO fails at once */
#ifdef VHU_GPU_VIRGL
	if (data[0] & 8)
		g.virgl = shared_virgl();
#endif
	if (data[0] & 2) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		g.sock = sv[0]; /* the device owns it (closes it on a failure) */
		g.sock_protocol = data[0] & 4 ? VHU_BIT(VHU_GPU_PROTOCOL_F_EDID) : 0;
	}
	while (size - off >= 4) {
		uint8_t kind = data[off], split = data[off + 3];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;

		off += 4;
		if (len > size - off)
			len = size - off;
		one(&g, &vq, data + off, len, kind, split);
		off += len;
		drain(sv[1]);
		check(&g);
	}
	gpu_reset(&g); /* the borrowed virglrenderer forgets this input's contexts */
	g.virgl = NULL;
	gpu_fini(&g);
	if (sv[1] >= 0)
		close(sv[1]);
	return 0;
}
