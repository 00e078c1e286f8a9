/* SPDX-License-Identifier: MIT */
/*
 * vhu-gpu: a 2D virtio-gpu back-end (vhost-user-gpu). The control queue runs
 * the 2D commands, the cursor queue the cursor ones (gpu.c); what the
 * scanouts show goes to the front-end over the vhost-user-gpu socket
 * (display.c).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "gpu.h"
#include "program.h"
#include "serve.h"
#include <vhu/backend.h>
#include <vhu/protocol.h>

#define GPU_CTRL_QUEUE 0u
#define GPU_CURSOR_QUEUE 1u
/* Buffers one command may have: a command, its backing entries (paged), a response. */
#define GPU_REQ_IOV 256u

static uint64_t gpu_get_features(void *dev)
{
	struct gpu_dev *g = dev;

	return VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
	       VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_F_RING_PACKED) |
	       VHU_BIT(VIRTIO_GPU_F_EDID) | (g->virgl ? VHU_BIT(VIRTIO_GPU_F_VIRGL) : 0);
}

static int gpu_set_features(void *dev, uint64_t features)
{
	struct gpu_dev *g = dev;

	pthread_mutex_lock(&g->lock);
	g->edid = features & VHU_BIT(VIRTIO_GPU_F_EDID);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void config_now(struct gpu_dev *g, struct virtio_gpu_config *c)
{
	memset(c, 0, sizeof(*c));
	c->events_read = htole32(g->events_read);
	c->num_scanouts = htole32(g->num_scanouts);
#ifdef VHU_GPU_VIRGL
	c->num_capsets = htole32(gpu_virgl_num_capsets(g));
#endif
}

static int gpu_get_config(void *dev, void *buf, uint32_t offset, uint32_t size)
{
	struct gpu_dev *g = dev;
	struct virtio_gpu_config c;

	if (offset >= sizeof(c))
		return 0; /* bytes past the config read as 0 */
	pthread_mutex_lock(&g->lock);
	config_now(g, &c);
	pthread_mutex_unlock(&g->lock);
	memcpy(buf, (uint8_t *)&c + offset, size < sizeof(c) - offset ? size : sizeof(c) - offset);
	return 0;
}

/* spec: "events_clear": writing a bit clears it in events_read; nothing else is writable */
static int gpu_set_config(void *dev, const void *buf, uint32_t offset, uint32_t size)
{
	struct gpu_dev *g = dev;
	struct virtio_gpu_config c;

	if (offset >= sizeof(c) || size > sizeof(c) - offset)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	memcpy((uint8_t *)&c + offset, buf, size);
	if (offset > offsetof(struct virtio_gpu_config, events_clear) ||
	    offset + size <= offsetof(struct virtio_gpu_config, events_clear))
		return 0;
	pthread_mutex_lock(&g->lock);
	g->events_read &= ~le32toh(c.events_clear);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void gpu_queue_kick(void *dev, struct vhu_vq *vq)
{
	/* one per queue: each has one worker */
	static struct iovec iovs[2][GPU_REQ_IOV];
	static struct vhu_req reqs[2] = { { .iov = iovs[0], .iov_max = GPU_REQ_IOV },
					  { .iov = iovs[1], .iov_max = GPU_REQ_IOV } };
	struct gpu_dev *g = dev;
	unsigned int q = vhu_vq_index(vq);
	struct vhu_req *req = &reqs[q & 1];

	do {
		vhu_vq_enable_notify(vq, false);
		while (vhu_vq_pop(vq, req) == 1) {
			uint32_t len = 0;

			if (q == GPU_CTRL_QUEUE)
				len = gpu_ctrl(g, vq, req);
			else
				gpu_cursor(g, req);
			vhu_vq_push(vq, req, len);
			vhu_vq_notify(vq);
		}
	} while (!vhu_vq_broken(vq) && vhu_vq_enable_notify(vq, true));
}

static void gpu_dev_reset(void *dev)
{
	struct gpu_dev *g = dev;

	/* the display went with the front-end: nothing more to tell it */
	pthread_mutex_lock(&g->lock);
	gpu_sock_close(g);
	g->events_read = VIRTIO_GPU_EVENT_DISPLAY;
	pthread_mutex_unlock(&g->lock);
	gpu_reset(g);
}

static int gpu_set_socket(void *dev, int fd)
{
	struct gpu_dev *g = dev;

	pthread_mutex_lock(&g->lock);
	gpu_sock_set(g, fd);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static const struct vhu_device_ops gpu_ops = {
	.get_features = gpu_get_features,
	.set_features = gpu_set_features,
	.get_config = gpu_get_config,
	.set_config = gpu_set_config,
	.queue_kick = gpu_queue_kick,
	.reset = gpu_dev_reset,
	.gpu_set_socket = gpu_set_socket,
};

struct gpu_opts {
	const char *hostmem, *scanouts, *render_node, *contexts;
	uint64_t max_hostmem, num_scanouts, max_contexts;
	bool virgl;
};

static int check_opts(const struct prog_info *info, struct gpu_opts *o)
{
	o->max_hostmem = GPU_DEFAULT_HOSTMEM;
	o->num_scanouts = 1;
	if (o->hostmem && (prog_parse_u64(o->hostmem, UINT64_MAX / 2, &o->max_hostmem) < 0 ||
			   o->max_hostmem < 4096))
		return prog_error(info, "--max-hostmem: %s is not a size of 4096 bytes or more",
				  o->hostmem);
	if (o->scanouts &&
	    (prog_parse_u64(o->scanouts, VIRTIO_GPU_MAX_SCANOUTS, &o->num_scanouts) < 0 ||
	     !o->num_scanouts))
		return prog_error(info, "--scanouts: %s is not 1..%u", o->scanouts,
				  VIRTIO_GPU_MAX_SCANOUTS);
	o->max_contexts = GPU_MAX_CONTEXTS;
	if (o->contexts && (prog_parse_u64(o->contexts, GPU_MAX_CONTEXTS, &o->max_contexts) < 0 ||
			    !o->max_contexts))
		return prog_error(info, "--max-contexts: %s is not 1..%u", o->contexts,
				  GPU_MAX_CONTEXTS);
	if ((o->render_node || o->contexts) && !o->virgl)
		return prog_error(info, "--%s: needs --virgl",
				  o->render_node ? "render-node" : "max-contexts");
#ifndef VHU_GPU_VIRGL
	if (o->virgl)
		return prog_error(info, "--virgl: this vhu-gpu was built without virglrenderer");
#endif
	return 0;
}

/* --virgl: virglrenderer starts before the socket listens, or the program ends. */
static int start_virgl(const struct prog_info *info, struct gpu_dev *g, const struct gpu_opts *o)
{
#ifdef VHU_GPU_VIRGL
	const char *why = "";
	int ret;

	if (!o->virgl)
		return 0;
	ret = gpu_virgl_start(g, o->render_node, &why);
	if (ret < 0)
		return prog_error(info, "--virgl: %s%s%s%s: %s", why, o->render_node ? " (" : "",
				  o->render_node ? o->render_node : "", o->render_node ? ")" : "",
				  strerror(-ret));
#else
	(void)info;
	(void)g;
	(void)o;
#endif
	return 0;
}

int main(int argc, char **argv)
{
	static struct gpu_dev gpu;
	static struct vhu_log log;
	struct gpu_opts o = { 0 };
	const struct prog_option options[] = {
		{ "max-hostmem", PROG_ARG_REQUIRED, "BYTES",
		  "host memory all resources may take (default 268435456)", .str = &o.hostmem },
		{ "scanouts", PROG_ARG_REQUIRED, "N", "scanouts (displays), 1..16 (default 1)",
		  .str = &o.scanouts },
		{ "virgl", PROG_ARG_NONE, NULL,
		  "3D (VIRTIO_GPU_F_VIRGL) through virglrenderer; without --render-node, "
		  "Mesa's software rendering (EGL surfaceless)",
		  .flag = &o.virgl },
		{ "max-contexts", PROG_ARG_REQUIRED, "N",
		  "3D contexts (GL contexts) a front-end may have, 1..64 (default 64), with "
		  "--virgl",
		  .str = &o.contexts },
		{ "render-node", PROG_ARG_REQUIRED, "PATH",
		  "the DRM render node virglrenderer renders on (GBM), with --virgl",
		  .str = &o.render_node },
	};
#ifdef VHU_GPU_VIRGL
	/* spec: "Backend program conventions", vhost-user-gpu: what this build can do */
	static const char *const features[] = { "render-node", "virgl", NULL };
#else
	static const char *const features[] = { NULL };
#endif
	const struct prog_info info = {
		.name = "vhu-gpu",
		.description = "virtio-gpu (2D, and 3D with --virgl) vhost-user back-end with the "
			       "vhost-user-gpu socket",
		.type = "gpu",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
	};
	struct vhu_backend_config config;
	struct prog_args args;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	if (check_opts(&info, &o) != 0)
		return 1;
	gpu_init(&gpu, (uint32_t)o.num_scanouts, o.max_hostmem);
	gpu.max_contexts = (uint32_t)o.max_contexts;
	vhu_log_init(&log, args.socket_path ? args.socket_path : "fd");
	if (args.log_level >= 0)
		log.level = (enum vhu_log_level)args.log_level;
	gpu.log = &log;
	if (start_virgl(&info, &gpu, &o) != 0) {
		gpu_fini(&gpu);
		return 1;
	}
	config = (struct vhu_backend_config){
		.name = args.socket_path ? args.socket_path : "fd",
		.num_queues = 2,
		.max_queue_size = 1024,
		.protocol_features = VHU_BIT(VHU_PROTOCOL_F_MQ) |
				     VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
				     VHU_BIT(VHU_PROTOCOL_F_CONFIG) |
				     VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
				     VHU_BIT(VHU_PROTOCOL_F_STATUS),
		.ops = &gpu_ops,
		.dev = &gpu,
		.log = &log,
	};
	ret = prog_serve(&info, &args, &config);
	gpu_fini(&gpu);
	return ret;
}
