/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: what each device type does with a well-formed request on its
 * data queue (the virtio spec's device chapters), and the peer's memory
 * across hostile passes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_gpu.h>
#include <vhu/gpu.h>

#include "conform.h"

#define SEC_BLK "virtio 1.1 5.2.6: Device Operation (block)"
#define EVENT_WAIT_MS 2000u /* how long input's event queue is watched */
#define DISPLAY_W 640u
#define DISPLAY_H 480u
#define RSS_WARM 5u    /* hostile rounds before the first RSS reading */
#define RSS_ROUNDS 40u /* hostile rounds between the two readings */

static bool is_type(const struct ctx *cx, const char *type)
{
	return cx->type && !strcmp(cx->type, type);
}

/* Post one request of the device type, kick, wait: 0, or the verdict is given. */
static int one_request(struct ctx *cx, struct rig *r, int *head)
{
	uint16_t want = (uint16_t)(rig_used_idx(r) + 1);
	int ret;

	*head = rig_post(r, cx->type);
	rig_kick(r);
	ret = rig_wait_used(r, want, cx->timeout_ms);
	if (ret < 0)
		fail(cx, "a well-formed request on queue %u was not completed: %s", r->q,
		     err_text(ret));
	return ret;
}

/* ---- input: the config space by select and subsel, both queues ---------- */

struct input_cfg {
	uint8_t select, subsel, size, reserved[5];
	uint8_t u[128];
};

static int input_select(struct conn *c, uint8_t select, uint8_t subsel, struct input_cfg *out)
{
	struct vhu_config cfg = { .offset = 0, .size = 2 };
	struct vhu_msg m;
	int ret;

	cfg.region[0] = select;
	cfg.region[1] = subsel;
	ret = conn_set(c, VHU_REQ_SET_CONFIG, &cfg, VHU_CONFIG_HDR_SIZE + 2, NULL, 0);
	if (ret < 0)
		return ret;
	cfg = (struct vhu_config){ .offset = 0, .size = sizeof(*out) };
	ret = conn_call(c, VHU_REQ_GET_CONFIG, &cfg, VHU_CONFIG_HDR_SIZE + sizeof(*out), &m);
	if (ret < 0)
		return ret;
	if (m.hdr.size != VHU_CONFIG_HDR_SIZE + sizeof(*out))
		return -EMSGSIZE;
	memcpy(out, m.payload.config.region, sizeof(*out));
	return 0;
}

static void input_queues(struct ctx *cx)
{
	struct input_cfg ic;
	uint32_t types = 0, len;
	unsigned int events = 0;
	struct conn c;
	struct rig r;
	int ret, head;

	if (!offered_pf(cx, VHU_PROTOCOL_F_CONFIG))
		return na(cx, "VHOST_USER_PROTOCOL_F_CONFIG not offered: the config space is the "
			      "front-end's");
	if (conn_default(cx, &c) < 0)
		return;
	/* virtio 1.1 5.8.5: the driver writes select and subsel, then reads size and u */
	ret = input_select(&c, 0x01 /* ID_NAME */, 0, &ic);
	if (ret == 0 && (ic.size == 0 || ic.size > sizeof(ic.u) || ic.select != 0x01))
		ret = -EPROTO;
	for (uint8_t t = 1; ret == 0 && t < 0x20; t++) {
		struct input_cfg bits;

		ret = input_select(&c, 0x11 /* EV_BITS */, t, &bits);
		if (ret == 0 && bits.size)
			types |= 1u << t;
	}
	conn_close(&c);
	if (ret < 0)
		return fail(cx, "config select: ID_NAME then EV_BITS 1..31: %s (name size %u)",
			    err_text(ret), ic.size);
	if (!types)
		return fail(cx, "EV_BITS is empty for every event type");
	note(cx, "config: name \"%.*s\", event types 0x%x", (int)ic.size, (const char *)ic.u,
	     types);
	/* the status queue takes an LED event; the event queue fills posted buffers */
	if (rig_data(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	if (one_request(cx, &r, &head) < 0)
		return rig_close(&r);
	rig_companion_post(&r, RIG_QSIZE, 8);
	for (unsigned int waited = 0; waited < EVENT_WAIT_MS && events < RIG_QSIZE; waited += 10) {
		const uint8_t *e;

		while (events < RIG_QSIZE && (e = rig_companion_used(&r, (uint16_t)events, &len))) {
			uint16_t type = (uint16_t)(e[0] | e[1] << 8);

			if (len != 8 || (type && !(type < 32 && (types >> type & 1)))) {
				fail(cx,
				     "event %u: %u bytes, type %u, not among the described types",
				     events, len, type);
				return rig_close(&r);
			}
			events++;
		}
		sleep_ms(10);
	}
	rig_close(&r);
	if (events)
		pass(cx,
		     "status event completed; %u events written into posted buffers, each of a "
		     "described type",
		     events);
	else
		pass(cx,
		     "status event completed; no event in %u ms (the source sent none): the "
		     "event queue is not checked",
		     EVENT_WAIT_MS);
}

/* ---- gpu: the display on the GPU socket, GET_DISPLAY_INFO on controlq --- */

struct display {
	int fd;
	pthread_t thread;
	unsigned int asked; /* GET_DISPLAY_INFO requests answered */
};

/* The front-end's side of the GPU socket: one 640x480 scanout. */
static void *display_serve(void *arg)
{
	struct display *d = arg;
	struct virtio_gpu_resp_display_info info = { .hdr.type = VIRTIO_GPU_RESP_OK_DISPLAY_INFO };
	struct vhu_gpu_msg m;

	info.pmodes[0].r.width = DISPLAY_W;
	info.pmodes[0].r.height = DISPLAY_H;
	info.pmodes[0].enabled = 1;
	while (vhu_gpu_msg_recv(d->fd, false, &m) == 0) {
		uint64_t none = 0;

		switch (m.hdr.request) {
		case VHU_GPU_REQ_GET_PROTOCOL_FEATURES:
			vhu_gpu_msg_send(d->fd, m.hdr.request, VHU_GPU_FLAG_REPLY, &none,
					 sizeof(none), NULL, 0, -1);
			break;
		case VHU_GPU_REQ_GET_DISPLAY_INFO:
			__atomic_add_fetch(&d->asked, 1, __ATOMIC_RELAXED);
			vhu_gpu_msg_send(d->fd, m.hdr.request, VHU_GPU_FLAG_REPLY, &info,
					 sizeof(info), NULL, 0, -1);
			break;
		case VHU_GPU_REQ_DMABUF_UPDATE:
			vhu_gpu_msg_send(d->fd, m.hdr.request, VHU_GPU_FLAG_REPLY, NULL, 0, NULL, 0,
					 -1);
			break;
		default:
			break;
		}
		vhu_gpu_msg_free(&m);
	}
	return NULL;
}

static void gpu_display_info(struct ctx *cx)
{
	const struct virtio_gpu_resp_display_info *info;
	struct display d = { .fd = -1 };
	struct rig r;
	int sp[2], ret, head;

	if (rig_data(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fail(cx, "socketpair: %s", strerror(errno));
		return rig_close(&r);
	}
	d.fd = sp[0];
	if (pthread_create(&d.thread, NULL, display_serve, &d) != 0) {
		fail(cx, "pthread_create failed");
		close(sp[0]);
		close(sp[1]);
		return rig_close(&r);
	}
	ret = conn_set(&r.c, VHU_REQ_GPU_SET_SOCKET, NULL, 0, &sp[1], 1);
	close(sp[1]);
	if (ret < 0)
		fail(cx, "VHOST_USER_GPU_SET_SOCKET: %s", err_text(ret));
	else if (one_request(cx, &r, &head) == 0) {
		info = (const void *)rig_slot(&r, (unsigned int)head + 1);
		if (info->hdr.type != VIRTIO_GPU_RESP_OK_DISPLAY_INFO || !info->pmodes[0].enabled ||
		    info->pmodes[0].r.width != DISPLAY_W || info->pmodes[0].r.height != DISPLAY_H)
			fail(cx,
			     "GET_DISPLAY_INFO answered type 0x%x, scanout 0 %ux%u %s; the display "
			     "said %ux%u enabled",
			     info->hdr.type, info->pmodes[0].r.width, info->pmodes[0].r.height,
			     info->pmodes[0].enabled ? "enabled" : "disabled", DISPLAY_W,
			     DISPLAY_H);
		else
			pass(cx,
			     "GET_DISPLAY_INFO on controlq answered the display's %ux%u scanout "
			     "(asked on the GPU socket %u times)",
			     DISPLAY_W, DISPLAY_H, __atomic_load_n(&d.asked, __ATOMIC_RELAXED));
	}
	rig_close(&r); /* the peer drops the GPU socket with the connection */
	shutdown(d.fd, SHUT_RDWR);
	pthread_join(d.thread, NULL);
	close(d.fd);
}

/* ---- one request on each device type's data queue ----------------------- */

static void data_queue(struct ctx *cx)
{
	struct rig r;
	int head;

	if (is_type(cx, "input"))
		return input_queues(cx);
	if (is_type(cx, "gpu"))
		return gpu_display_info(cx);
	if (rig_data(cx, &r, RIG_ENABLE, 0) < 0)
		return;
	if (one_request(cx, &r, &head) < 0)
		return rig_close(&r);
	if (is_type(cx, "blk")) {
		uint8_t status = rig_slot(&r, (unsigned int)head + 2)[0];

		if (status != 0 /* VIRTIO_BLK_S_OK */)
			fail(cx, "a read of sector 0 completed with status %u, not VIRTIO_BLK_S_OK",
			     status);
		else
			pass(cx, "a read of sector 0 completed with VIRTIO_BLK_S_OK");
	} else if (is_type(cx, "rng")) {
		if (!rig_written(&r))
			fail(cx, "a 64-byte buffer completed with nothing written into it");
		else
			pass(cx, "a 64-byte buffer came back with entropy written into it");
	} else {
		pass(cx, "a TX frame was consumed");
	}
	rig_close(&r);
}

/* ---- the peer's memory across hostile passes ---------------------------- */

static long peer_rss_kib(const struct ctx *cx)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (!cx->pid)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cx->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* One pass: a connection whose ring holds hostile chains, then torn off. */
static int hostile_round(struct ctx *cx)
{
	struct vhu_msg_hdr torn = { .request = VHU_REQ_SET_VRING_KICK,
				    .flags = VHU_VERSION,
				    .size = 8 };
	uint16_t w = is_type(cx, "rng") ? VRING_DESC_F_WRITE : 0;
	struct conn c;
	struct rig r;

	if (rig_queue(cx) < 0) {
		if (conn_default(cx, &c) < 0)
			return -1;
		conn_raw(&c, &torn, sizeof(torn));
		conn_close(&c);
		return 0;
	}
	if (rig_setup(cx, &r, RIG_ENABLE, 0) < 0)
		return -1;
	rig_post(&r, cx->type);
	rig_desc(&r, 0, 0xdead00000000ull, 512, w, 0); /* not in memory */
	rig_desc(&r, 1, RIG_MEM_SIZE - 8, 4096, w, 0); /* past the end */
	rig_desc(&r, 2, RIG_BUF_OFF, 16, (uint16_t)(w | VRING_DESC_F_NEXT), 200); /* next */
	for (uint16_t i = 0; i < 3; i++)
		rig_publish(&r, i);
	rig_publish(&r, 200); /* a head past the ring */
	rig_kick(&r);
	sleep_ms(10);
	conn_raw(&r.c, &torn, sizeof(torn));
	rig_close(&r);
	return 0;
}

/* @n hostile passes, then the peer's VmRSS (-1: a pass failed, the verdict is given). */
static long rss_after(struct ctx *cx, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (hostile_round(cx) < 0)
			return -2;
	sleep_ms(50);
	return peer_rss_kib(cx);
}

/*
 * Two windows of RSS_ROUNDS passes: the first lets the allocator settle
 * (glibc gives threads arenas of their own, up to 8 per CPU, and a device
 * that starts a thread per connection fills them over the first dozens of
 * connections); the second is judged. A leak grows in both.
 */
static void rss_growth(struct ctx *cx)
{
	long start, mid, end;

	if (peer_rss_kib(cx) < 0)
		return na(cx, "the peer's process is not known (--exec, or --pid with "
			      "--socket-path)");
	start = rss_after(cx, RSS_WARM);
	mid = start < -1 ? start : rss_after(cx, RSS_ROUNDS);
	end = mid < -1 ? mid : rss_after(cx, RSS_ROUNDS);
	if (end < -1)
		return;
	if (start < 0 || mid < 0 || end < 0)
		return fail(cx, "the peer's process went away during the hostile passes");
	if (end - mid > cx->opt->rss_limit_kib)
		fail(cx,
		     "VmRSS grew %ld KiB over %u hostile passes (%ld -> %ld KiB), over %ld KiB, "
		     "after %+ld KiB over the %u before",
		     end - mid, RSS_ROUNDS, mid, end, cx->opt->rss_limit_kib, mid - start,
		     RSS_ROUNDS);
	else
		pass(cx,
		     "VmRSS %ld -> %ld KiB over %u hostile passes (%+ld KiB, limit %ld), after "
		     "%+ld KiB over the %u before",
		     mid, end, RSS_ROUNDS, end - mid, cx->opt->rss_limit_kib, mid - start,
		     RSS_ROUNDS);
}

const struct check conform_checks_dev[] = {
	{ "dev-data-queue", "device", "virtio 1.1 5.2.6, 5.4.6, 5.7.6, 5.8.6 (Device Operation)",
	  "a well-formed request on the data queue is served as the device type says: blk reads "
	  "with VIRTIO_BLK_S_OK, rng writes entropy, net consumes a TX frame, gpu answers "
	  "GET_DISPLAY_INFO with the display's scanouts (asked on the GPU socket), input reads "
	  "its config by select and subsel, takes status events and fills event buffers with "
	  "described types",
	  data_queue, 0 },
	{ "resource-rss", "bounds", "vhost-user.rst: Security; DoS by memory growth",
	  "connections with hostile ring contents, torn off mid-message, leave the back-end's "
	  "memory where it was (VmRSS grows at most 1 MiB, --rss-limit, over 40 passes after "
	  "45 others)",
	  rss_growth, 0 },
	{ 0 },
};
