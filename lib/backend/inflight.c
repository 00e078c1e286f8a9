/* SPDX-License-Identifier: MIT */
/*
 * GET_INFLIGHT_FD and SET_INFLIGHT_FD (protocol feature INFLIGHT_SHMFD; seed
 * 004, "Inflight I/O tracking"). GET makes a zeroed, sealed memfd sized for
 * the queues and ring size the front-end names; the front-end keeps it for
 * as long as the device lives and hands it back with SET after every
 * (re)connection. SET maps it and gives each queue its area; the rings then
 * record what they fetch and complete in it (lib/virtq/inflight.c), and a
 * back-end started again after a crash resubmits what was in flight.
 *
 * The region comes back from the front-end, so it is checked like any
 * other input: bounded by the device's own queue count and ring size, big
 * enough for what it claims, and sealed against shrinking (a file that
 * shrinks under a mapping turns our next access into SIGBUS).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"
#include "virtq/inflight.h"

void vhu_be_inflight_clear(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++)
		vhu_vq_set_inflight(&be->queues[i].vq, NULL, 0);
	if (be->inflight_map)
		munmap(be->inflight_map, be->inflight_len);
	be->inflight_map = NULL;
	be->inflight_len = 0;
}

/* The queue count and ring size of a request, bounded by the device's. */
static int inflight_dims(struct vhu_backend *be, const struct vhu_inflight *in, uint64_t *size)
{
	if (in->num_queues == 0 || in->num_queues > be->num_queues)
		return vhu_be_fail(be, -EINVAL, "inflight for %u queues (the device has %u)",
				   in->num_queues, be->num_queues);
	if (in->queue_size == 0 || in->queue_size > be->config.max_queue_size)
		return vhu_be_fail(be, -EINVAL, "inflight for rings of %u (the device takes 1..%u)",
				   in->queue_size, be->config.max_queue_size);
	*size = vhu_inflight_queue_bytes(in->queue_size) * in->num_queues;
	return 0;
}

int vhu_be_get_inflight_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	uint64_t size;
	int fd, ret = inflight_dims(be, &msg->payload.inflight, &size);

	if (ret < 0)
		return ret;
	fd = memfd_create("vhu-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return vhu_be_fail(be, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		close(fd);
		return vhu_be_fail(be, ret, "inflight memfd of %" PRIu64 " bytes: %s", size,
				   strerror(-ret));
	}
	reply->payload.inflight = msg->payload.inflight;
	reply->payload.inflight.mmap_size = size;
	reply->payload.inflight.mmap_offset = 0;
	reply->hdr.size = sizeof(struct vhu_inflight);
	reply->fds[0] = fd; /* closed by dispatch once sent */
	reply->nfds = 1;
	vhu_debug(&be->log, "inflight region: %u queues of %u, %" PRIu64 " bytes",
		  msg->payload.inflight.num_queues, msg->payload.inflight.queue_size, size);
	return 0;
}

int vhu_be_set_inflight_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_inflight *in = &msg->payload.inflight;
	uint64_t need, qbytes;
	struct stat st;
	void *map;
	int fd, seals, ret;

	(void)reply;
	ret = inflight_dims(be, in, &need);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < be->num_queues; i++)
		if (be->queues[i].running)
			return vhu_be_fail(be, -EBUSY, "ring %u runs: inflight region not replaced",
					   i);
	if (in->mmap_size < need || in->mmap_size > SIZE_MAX)
		return vhu_be_fail(be, -EINVAL,
				   "inflight region of %" PRIu64 " bytes, %" PRIu64 " needed",
				   in->mmap_size, need);
	if (in->mmap_offset % (uint64_t)sysconf(_SC_PAGESIZE) ||
	    in->mmap_offset > UINT64_MAX - in->mmap_size)
		return vhu_be_fail(be, -EINVAL, "inflight offset 0x%" PRIx64, in->mmap_offset);
	fd = msg->fds[0]; /* closed by dispatch: the mapping keeps the file */
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < in->mmap_offset + in->mmap_size)
		return vhu_be_fail(be, -EINVAL, "inflight fd is smaller than its region");
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return vhu_be_fail(be, -EPERM,
				   "inflight fd can shrink under the mapping "
				   "(not a sealed memfd of GET_INFLIGHT_FD)");
	map = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)in->mmap_offset);
	if (map == MAP_FAILED)
		return vhu_be_fail(be, -errno, "inflight mmap: %s", strerror(errno));
	vhu_be_inflight_clear(be);
	be->inflight_map = map;
	be->inflight_len = in->mmap_size;
	qbytes = vhu_inflight_queue_bytes(in->queue_size);
	for (unsigned int i = 0; i < in->num_queues; i++)
		vhu_vq_set_inflight(&be->queues[i].vq, (uint8_t *)map + i * qbytes, in->queue_size);
	vhu_debug(&be->log, "inflight region set: %u queues of %u", in->num_queues, in->queue_size);
	return 0;
}
