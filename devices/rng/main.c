/* SPDX-License-Identifier: MIT */
/*
 * vhu-rng: a virtio-rng back-end. Each request's writable buffers are filled
 * from getrandom(2); the device has one queue and no config space.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "serve.h"
#include <vhu/backend.h>
#include <vhu/protocol.h>

/* Buffers one request may have: Linux's virtio-rng gives one per request. */
#define RNG_REQ_IOV 64u

static uint64_t rng_get_features(void *opaque)
{
	(void)opaque;
	return VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX) |
	       VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_F_RING_PACKED);
}

/* Fill one writable buffer; returns the bytes written. */
static size_t fill(void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((uint8_t *)buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void rng_queue_kick(void *opaque, struct vhu_vq *vq)
{
	/* one queue, one worker; a chain of more buffers breaks the queue */
	static struct iovec iov[RNG_REQ_IOV];
	static struct vhu_req req = { .iov = iov, .iov_max = RNG_REQ_IOV };

	(void)opaque;
	do {
		vhu_vq_enable_notify(vq, false);
		while (vhu_vq_pop(vq, &req) == 1) {
			uint64_t written = 0;

			/* behind an IOMMU, a buffer it may not write: nothing written */
			for (uint32_t i = req.out_num; !req.fault && i < req.out_num + req.in_num;
			     i++)
				written += fill(req.iov[i].iov_base, req.iov[i].iov_len);
			vhu_vq_push(vq, &req, (uint32_t)written);
		}
		vhu_vq_notify(vq);
	} while (!vhu_vq_broken(vq) && vhu_vq_enable_notify(vq, true));
}

static const struct vhu_device_ops rng_ops = {
	.get_features = rng_get_features,
	.queue_kick = rng_queue_kick,
};

int main(int argc, char **argv)
{
	const struct prog_info info = {
		.name = "vhu-rng",
		.description = "virtio-rng vhost-user back-end fed by getrandom(2)",
		.type = "rng",
	};
	struct vhu_backend_config config;
	struct prog_args args;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	config = (struct vhu_backend_config){
		.name = args.socket_path ? args.socket_path : "fd",
		.num_queues = 1,
		.max_queue_size = 1024,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_STATUS) | VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) |
			/* IOTLB misses, behind a virtual IOMMU */
			VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ),
		.ops = &rng_ops,
	};
	return prog_serve(&info, &args, &config);
}
