/* SPDX-License-Identifier: MIT */
/*
 * vhu-gpu-draw: plays a guest's virtio-gpu driver against a vhost-user-gpu
 * back-end (vhu-gpu, QEMU's vhost-user-gpu), with vhu's front-end as the
 * display. It creates a resource per scanout, draws a known pattern in its
 * backing (guest memory), transfers, sets the scanout, flushes (with a
 * fence), redraws a rectangle, sets and moves the cursor, then checks what
 * the display received against what was drawn, pixel for pixel, and writes
 * each scanout as a PNG.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include <vhu/gpu.h>
#include <vhu/protocol.h>

struct opts {
	const char *socket, *png;
	uint32_t width, height, scanouts, frames;
	uint64_t hostmem;
	bool check, edid, hostile, verbose, virgl, packed;
};

static uint32_t pattern(uint32_t s, uint32_t x, uint32_t y, uint32_t phase)
{
	return ((x * 7 + s * 50 + phase * 91) & 0xff) << 16 | ((y * 3 + phase * 17) & 0xff) << 8 |
	       (((x ^ y) + s * 13) & 0xff);
}

/* The cursor: a8r8g8b8 with alpha, a diagonal and a frame. */
static uint32_t cursor_pixel(uint32_t x, uint32_t y)
{
	uint32_t a = (x == y || x == 0 || y == 0) ? 0xff : (x * 4) & 0xff;

	return a << 24 | (y * 4) << 16 | (x * 4) << 8 | 0x40;
}

static bool in_box(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	return x >= w / 4 && x < w / 2 && y >= h / 4 && y < h / 2;
}

static int fail(const char *what, uint32_t type)
{
	fprintf(stderr, "vhu-gpu-draw: %s: %s (0x%x)\n", what, resp_name(type), type);
	return 1;
}

#define OK(what, call)                               \
	do {                                         \
		uint32_t t_ = (call);                \
		if (t_ != VIRTIO_GPU_RESP_OK_NODATA) \
			return fail(what, t_);       \
	} while (0)

static int display_info(struct drv *d, const struct opts *o)
{
	struct virtio_gpu_ctrl_hdr h = { .type = htole32(VIRTIO_GPU_CMD_GET_DISPLAY_INFO) };
	struct virtio_gpu_resp_display_info info;
	uint32_t t = drv_ctrl(d, &h, sizeof(h), NULL);

	if (t != VIRTIO_GPU_RESP_OK_DISPLAY_INFO)
		return fail("GET_DISPLAY_INFO", t);
	memcpy(&info, d->resp, sizeof(info));
	for (uint32_t s = 0; s < o->scanouts; s++) {
		if (le32toh(info.pmodes[s].r.width) != o->width ||
		    le32toh(info.pmodes[s].r.height) != o->height || !info.pmodes[s].enabled) {
			fprintf(stderr, "vhu-gpu-draw: GET_DISPLAY_INFO: scanout %u is %ux%u\n", s,
				le32toh(info.pmodes[s].r.width), le32toh(info.pmodes[s].r.height));
			return 1;
		}
	}
	return 0;
}

static int edid(struct drv *d, const struct opts *o)
{
	struct virtio_gpu_cmd_get_edid c = { .hdr.type = htole32(VIRTIO_GPU_CMD_GET_EDID) };
	struct virtio_gpu_resp_edid r;
	uint8_t sum = 0;
	uint32_t t = drv_ctrl(d, &c, sizeof(c), NULL);
	unsigned int w, h;

	if (t != VIRTIO_GPU_RESP_OK_EDID)
		return fail("GET_EDID", t);
	memcpy(&r, d->resp, sizeof(r));
	for (unsigned int i = 0; i < 128; i++)
		sum = (uint8_t)(sum + r.edid[i]);
	/* the preferred mode, from the first detailed timing descriptor */
	w = r.edid[56] | (unsigned int)(r.edid[58] >> 4) << 8;
	h = r.edid[59] | (unsigned int)(r.edid[61] >> 4) << 8;
	if (le32toh(r.size) != 128 || r.edid[0] != 0 || r.edid[1] != 0xff || sum != 0 ||
	    w != o->width || h != o->height) {
		fprintf(stderr, "vhu-gpu-draw: GET_EDID: a bad EDID (size %u, %ux%u)\n",
			le32toh(r.size), w, h);
		return 1;
	}
	printf("edid: %ux%u, checksum ok\n", w, h);
	return 0;
}

static void fill(uint32_t *mem, uint32_t s, const struct opts *o, uint32_t phase, bool box_only)
{
	for (uint32_t y = 0; y < o->height; y++)
		for (uint32_t x = 0; x < o->width; x++)
			if (!box_only || in_box(x, y, o->width, o->height))
				mem[(size_t)y * o->width + x] = htole32(pattern(s, x, y, phase));
}

static int draw(struct drv *d, const struct opts *o, uint32_t **mem)
{
	uint32_t w = o->width, h = o->height, bx = w / 4, by = h / 4;
	size_t size = (size_t)w * h * 4;

	for (uint32_t s = 0; s < o->scanouts; s++) {
		uint32_t id = s + 1;

		mem[s] = vhu_frontend_alloc(d->fe, size, 4096);
		if (!mem[s])
			return fail("guest memory", 0);
		fill(mem[s], s, o, 0, false);
		OK("RESOURCE_CREATE_2D",
		   drv_create_2d(d, id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h));
		OK("RESOURCE_ATTACH_BACKING", drv_attach(d, id, mem[s], size, 3));
		OK("TRANSFER_TO_HOST_2D", drv_transfer(d, id, 0, 0, w, h, 0));
		OK("SET_SCANOUT", drv_scanout(d, s, id, 0, 0, w, h));
		OK("RESOURCE_FLUSH", drv_flush(d, id, 0, 0, w, h));
		/* a second frame: only a rectangle changes, transferred at its offset */
		fill(mem[s], s, o, 1, true);
		OK("TRANSFER_TO_HOST_2D (rectangle)",
		   drv_transfer(d, id, bx, by, w / 2 - bx, h / 2 - by,
				((uint64_t)by * w + bx) * 4));
		OK("RESOURCE_FLUSH (rectangle)", drv_flush(d, id, bx, by, w / 2 - bx, h / 2 - by));
	}
	return 0;
}

static int cursor(struct drv *d)
{
	uint32_t *mem = vhu_frontend_alloc(d->fe, 64 * 64 * 4, 4096);

	if (!mem)
		return fail("guest memory", 0);
	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++)
			mem[y * 64 + x] = htole32(cursor_pixel(x, y));
	OK("RESOURCE_CREATE_2D (cursor)",
	   drv_create_2d(d, 100, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64));
	OK("RESOURCE_ATTACH_BACKING (cursor)", drv_attach(d, 100, mem, 64 * 64 * 4, 1));
	OK("TRANSFER_TO_HOST_2D (cursor)", drv_transfer(d, 100, 0, 0, 64, 64, 0));
	if (drv_cursor(d, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 10, 20, 100, 3, 4) < 0 ||
	    drv_cursor(d, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 30, 40, 100, 0, 0) < 0)
		return fail("cursor queue", 0);
	return 0;
}

static int check_scanout(struct drv *d, const struct opts *o, uint32_t s)
{
	struct vhu_frontend_gpu_image img;
	uint64_t bad = 0;
	char path[4096];

	if (vhu_frontend_gpu_scanout(d->display, s, &img) < 0)
		return fail("scanout copy", 0);
	if (o->png) {
		snprintf(path, sizeof(path), "%s-%u.png", o->png, s);
		if (img.pixels && png_write(path, img.pixels, img.width, img.height, false) < 0)
			fprintf(stderr, "vhu-gpu-draw: cannot write %s\n", path);
	}
	if (o->check && (img.width != o->width || img.height != o->height)) {
		fprintf(stderr, "vhu-gpu-draw: scanout %u is %ux%u\n", s, img.width, img.height);
		bad = 1;
	}
	for (uint32_t y = 0; o->check && !bad && y < o->height; y++) {
		for (uint32_t x = 0; x < o->width; x++) {
			uint32_t want = pattern(s, x, y, in_box(x, y, o->width, o->height));
			/* x8r8g8b8: the top byte is padding */
			uint32_t got = img.pixels[(size_t)y * o->width + x] & 0xffffff;

			if (got != want && bad++ < 3)
				fprintf(stderr,
					"vhu-gpu-draw: scanout %u pixel (%u,%u) is %06x, not "
					"%06x\n",
					s, x, y, got, want);
		}
	}
	printf("scanout %u: %ux%u, %" PRIu64 " updates%s\n", s, img.width, img.height, img.updates,
	       o->check ? (bad ? ", pixels DIFFER" : ", pixels match") : "");
	free(img.pixels);
	return bad ? 1 : 0;
}

static int check_cursor(struct drv *d, const struct opts *o)
{
	struct vhu_frontend_gpu_cursor *c = calloc(1, sizeof(*c));
	int bad = 0;
	char path[4096];

	if (!c)
		return 1;
	vhu_frontend_gpu_cursor(d->display, c);
	if (!c->defined || !c->visible || c->x != 30 || c->y != 40 || c->hot_x != 3 ||
	    c->hot_y != 4 || c->scanout_id != 0 || c->updates != 1 || c->moves != 1)
		bad = 1;
	for (uint32_t i = 0; i < 64 * 64; i++)
		if (c->data[i] != cursor_pixel(i % 64, i / 64))
			bad = 1;
	printf("cursor: %s at (%u,%u), hot (%u,%u), %" PRIu64 " updates, %" PRIu64 " moves%s\n",
	       c->visible ? "shown" : "hidden", c->x, c->y, c->hot_x, c->hot_y, c->updates,
	       c->moves, bad ? ", DIFFERS" : ", as set");
	if (o->png) {
		snprintf(path, sizeof(path), "%s-cursor.png", o->png);
		(void)png_write(path, c->data, 64, 64, true);
	}
	free(c);
	return o->check ? bad : 0;
}

static int bench(struct drv *d, const struct opts *o, uint32_t **mem)
{
	struct timespec a, b;
	double secs, mb;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint32_t f = 0; f < o->frames; f++) {
		mem[0][f % ((size_t)o->width * o->height)] ^= htole32(0x00ffffff);
		OK("TRANSFER_TO_HOST_2D", drv_transfer(d, 1, 0, 0, o->width, o->height, 0));
		OK("RESOURCE_FLUSH", drv_flush(d, 1, 0, 0, o->width, o->height));
	}
	if (vhu_frontend_gpu_sync(d->display, 10000) < 0)
		return fail("display sync", 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	mb = (double)o->frames * o->width * o->height * 4 / 1e6;
	printf("bench: %u frames of %ux%u in %.3f s: %.1f frames/s, %.1f MB/s\n", o->frames,
	       o->width, o->height, secs, o->frames / secs, mb / secs);
	return 0;
}

static const char usage[] =
	"Usage: vhu-gpu-draw --socket-path PATH [OPTION]...\n"
	"Play a guest's virtio-gpu driver against a vhost-user-gpu back-end, with vhu's\n"
	"front-end as the display; check and save what the scanouts show.\n"
	"\n"
	"  --socket-path PATH  the back-end's vhost-user socket (it listens)\n"
	"  --width N           scanout width (default 320)\n"
	"  --height N          scanout height (default 240)\n"
	"  --scanouts N        scanouts to draw on, 1..16 (default 1)\n"
	"  --png PREFIX        write PREFIX-N.png per scanout and PREFIX-cursor.png\n"
	"  --check             compare every pixel and the cursor with what was drawn\n"
	"  --edid              ask the EDID of scanout 0 and check it\n"
	"  --hostile           send bad commands; each must fail with its error code\n"
	"  --hostmem BYTES     the back-end's host memory cap, for --hostile (default 268435456)\n"
	"  --frames N          then time N full-screen transfers and flushes\n"
	"  --virgl             negotiate VIRTIO_GPU_F_VIRGL, check the capsets, draw a known\n"
	"                      scene with a 3D context on scanout 0 and check it\n"
	"  --packed            use packed rings (VIRTIO_F_RING_PACKED)\n"
	"  --verbose           say what each step got\n"
	"  -h, --help          this text\n";

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !*s || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket-path", required_argument, 0, 's' },
		{ "width", required_argument, 0, 'w' },
		{ "height", required_argument, 0, 'H' },
		{ "scanouts", required_argument, 0, 'n' },
		{ "png", required_argument, 0, 'p' },
		{ "check", no_argument, 0, 'c' },
		{ "edid", no_argument, 0, 'e' },
		{ "hostile", no_argument, 0, 'x' },
		{ "hostmem", required_argument, 0, 'm' },
		{ "frames", required_argument, 0, 'f' },
		{ "verbose", no_argument, 0, 'v' },
		{ "virgl", no_argument, 0, 'g' },
		{ "packed", no_argument, 0, 'P' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c, bad = 0;

	*o = (struct opts){ .width = 320, .height = 240, .scanouts = 1, .hostmem = 256u << 20 };
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'w':
			bad |= parse_u32(optarg, 4096, &o->width) || o->width < 8;
			break;
		case 'H':
			bad |= parse_u32(optarg, 4096, &o->height) || o->height < 8;
			break;
		case 'n':
			bad |= parse_u32(optarg, 16, &o->scanouts) || !o->scanouts;
			break;
		case 'f':
			bad |= parse_u32(optarg, 1000000, &o->frames);
			break;
		case 'm':
			o->hostmem = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			o->png = optarg;
			break;
		case 'c':
			o->check = true;
			break;
		case 'e':
			o->edid = true;
			break;
		case 'x':
			o->hostile = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'g':
			o->virgl = true;
			break;
		case 'P':
			o->packed = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			bad = 1;
		}
	}
	if (bad || !o->socket || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	return -1;
}

static int connect_all(struct drv *d, const struct opts *o)
{
	struct vhu_frontend_gpu_config gc = {
		.num_scanouts = o->scanouts,
		.protocol_features = VHU_BIT(VHU_GPU_PROTOCOL_F_EDID),
	};
	struct vhu_frontend_config fc = {
		.socket_path = o->socket,
		.fd = -1,
		.timeout_ms = 5000,
		.features = VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_GPU_F_EDID),
		.protocol_features = ~0ull,
		.num_queues = 2,
		.queue_size = 64,
		.mem_size =
			(uint64_t)(o->scanouts + o->virgl) * o->width * o->height * 4 + (4u << 20),
	};
	uint64_t must = 0;
	int ret;

	if (o->virgl)
		must |= VHU_BIT(VIRTIO_GPU_F_VIRGL);
	if (o->packed)
		must |= VHU_BIT(VIRTIO_F_RING_PACKED);
	fc.features |= must;
	for (uint32_t s = 0; s < o->scanouts; s++) {
		gc.modes[s].width = o->width;
		gc.modes[s].height = o->height;
	}
	ret = vhu_frontend_connect(&fc, &d->fe);
	if (ret == 0)
		ret = vhu_frontend_gpu_attach(d->fe, &gc, &d->display);
	if (ret == 0)
		ret = vhu_frontend_start(d->fe);
	if (ret < 0) {
		fprintf(stderr, "vhu-gpu-draw: %s: %s\n", o->socket, strerror(-ret));
		return 1;
	}
	/* --virgl and --packed must have been offered */
	if ((fc.features & must & ~vhu_frontend_features(d->fe)) != 0) {
		fprintf(stderr, "vhu-gpu-draw: %s: the back-end does not offer features 0x%llx\n",
			o->socket,
			(unsigned long long)(fc.features & must & ~vhu_frontend_features(d->fe)));
		return 1;
	}
	d->ctrl = vhu_frontend_queue(d->fe, 0);
	d->cursor = vhu_frontend_queue(d->fe, 1);
	d->cmd = vhu_frontend_alloc(d->fe, DRV_CMD_SIZE, 4096);
	d->resp = vhu_frontend_alloc(d->fe, DRV_RESP_SIZE, 4096);
	if (!d->ctrl || !d->cursor || !d->cmd || !d->resp)
		return fail("queues and buffers", 0);
	return 0;
}

/*
 * Wait until the display has handled what the back-end sent. The back-end
 * writes a command's GPU messages before it completes the command, so the
 * socket holds them by then (vhu_frontend_gpu_sync()); with a relay between
 * the two (vhu-trace), they may still be on their way: wait until no
 * message came for SETTLE_MS too.
 */
#define SETTLE_MS 100
static int settle(struct drv *d)
{
	struct vhu_frontend_gpu_stats a, b;

	for (int i = 0; i < 50; i++) {
		if (vhu_frontend_gpu_sync(d->display, 5000) < 0)
			return -1;
		vhu_frontend_gpu_stats(d->display, &a);
		usleep(SETTLE_MS * 1000);
		if (vhu_frontend_gpu_sync(d->display, 5000) < 0)
			return -1;
		vhu_frontend_gpu_stats(d->display, &b);
		if (a.messages == b.messages)
			return 0;
	}
	return -1;
}

static int run(struct drv *d, const struct opts *o)
{
	uint32_t *mem[16] = { 0 };
	struct vhu_frontend_gpu_stats st;
	int bad = 0;

	if (display_info(d, o) || (o->edid && edid(d, o)) || draw(d, o, mem) || cursor(d))
		return 1;
	if (settle(d) < 0)
		return fail("display sync", 0);
	for (uint32_t s = 0; s < o->scanouts; s++)
		bad |= check_scanout(d, o, s);
	bad |= check_cursor(d, o);
	if (o->virgl)
		bad |= drv_virgl(d, o->width, o->height, o->png);
	if (o->hostile && (drv_hostile(d, o->width, o->height, o->hostmem) ||
			   (o->virgl && drv_virgl_hostile(d, o->hostmem)))) {
		fprintf(stderr, "vhu-gpu-draw: hostile cases failed\n");
		bad = 1;
	} else if (o->hostile) {
		printf("hostile: every bad command failed with its error code\n");
	}
	if (o->frames && bench(d, o, mem))
		bad = 1;
	vhu_frontend_gpu_stats(d->display, &st);
	printf("display: %" PRIu64 " messages, %" PRIu64 " updates, %" PRIu64
	       " refused, protocol features 0x%" PRIx64 "%s\n",
	       st.messages, st.updates, st.errors, st.protocol_features,
	       st.closed ? ", socket closed" : "");
	if (o->check && (st.errors || st.closed)) {
		fprintf(stderr, "vhu-gpu-draw: the display refused messages\n");
		bad = 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct drv d = { 0 };
	struct opts o;
	int ret = parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	d.verbose = o.verbose;
	ret = connect_all(&d, &o);
	if (ret == 0)
		ret = run(&d, &o);
	if (d.fe)
		vhu_frontend_stop(d.fe);
	vhu_frontend_gpu_detach(d.display);
	if (d.fe)
		vhu_frontend_destroy(d.fe);
	return ret;
}
