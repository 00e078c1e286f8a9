/* SPDX-License-Identifier: MIT */
/*
 * vhu-bench --iommu (blk and net): the front-end plays the guest's IOMMU
 * (issue 17). The options, the feature bits they need, the invalidation
 * storm thread (--invalidate-us) and the report of what the role did.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <time.h>

#include "bench.h"
#include <vhu/frontend.h>
#include <vhu/protocol.h>

int bench_iommu_option(struct bench_iommu *im, int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case BENCH_OPT_IOMMU:
		break;
	case BENCH_OPT_IOTLB_WINDOW:
		if (bench_parse_size(arg, &v) || v > 65536)
			return fprintf(stderr, "vhu-bench: --iotlb-window: 0..65536\n"), -1;
		im->window = (unsigned int)v;
		break;
	case BENCH_OPT_INVALIDATE_US:
		if (bench_parse_size(arg, &v) || !v || v > 10000000)
			return fprintf(stderr, "vhu-bench: --invalidate-us: 1..10000000\n"), -1;
		im->storm_us = (unsigned int)v;
		break;
	default:
		return 1;
	}
	im->on = true;
	return 0;
}

void bench_iommu_config(const struct bench_iommu *im, struct vhu_frontend_config *cfg)
{
	if (!im->on)
		return;
	cfg->features |= VHU_BIT(VIRTIO_F_ACCESS_PLATFORM);
	/* the channel the IOTLB misses come on; QEMU needs REPLY_ACK for it too */
	cfg->protocol_features |=
		VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK);
	cfg->iotlb_window = im->window;
}

int bench_iommu_check(const struct bench_iommu *im, struct vhu_frontend *fe, const char *path)
{
	if (im->on && !vhu_frontend_iommu(fe)) {
		fprintf(stderr, "vhu-bench: %s: the back-end does not offer ACCESS_PLATFORM\n",
			path);
		return -ENOTSUP;
	}
	return 0;
}

static void *storm_run(void *arg)
{
	struct bench_iommu *im = arg;
	struct timespec pause = { .tv_sec = im->storm_us / 1000000,
				  .tv_nsec = (long)(im->storm_us % 1000000) * 1000 };

	while (!__atomic_load_n(&im->stop, __ATOMIC_ACQUIRE)) {
		if (vhu_frontend_iotlb_invalidate(im->fe, 0, 0) < 0)
			break;
		im->storms++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int bench_iommu_start(struct bench_iommu *im, struct vhu_frontend *fe)
{
	im->fe = fe;
	if (!im->on || !im->storm_us)
		return 0;
	if (pthread_create(&im->thread, NULL, storm_run, im) != 0)
		return fprintf(stderr, "vhu-bench: cannot start the invalidation thread\n"),
		       -EAGAIN;
	im->running = true;
	return 0;
}

void bench_iommu_stop(struct bench_iommu *im)
{
	if (!im->running)
		return;
	__atomic_store_n(&im->stop, true, __ATOMIC_RELEASE);
	pthread_join(im->thread, NULL);
	im->running = false;
}

void bench_iommu_report(const struct bench_common *c, const struct bench_iommu *im)
{
	struct vhu_frontend_iotlb_stats s;

	if (!im->on || !im->fe)
		return;
	vhu_frontend_iotlb_stats(im->fe, &s);
	if (c->json)
		printf("{\"iotlb\": {\"misses\": %" PRIu64 ", \"updates\": %" PRIu64
		       ", \"invalidates\": %" PRIu64 ", \"storm_invalidates\": %" PRIu64
		       ", \"access_fails\": %" PRIu64 "}}\n",
		       s.misses, s.updates, s.invalidates, im->storms, s.access_fails);
	else
		printf("  IOMMU: %" PRIu64 " misses answered with %" PRIu64 " updates, %" PRIu64
		       " invalidates (%" PRIu64 " of everything), %" PRIu64 " access failures\n",
		       s.misses, s.updates, s.invalidates, im->storms, s.access_fails);
}
