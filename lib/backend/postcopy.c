/* SPDX-License-Identifier: MIT */
/*
 * Postcopy live migration (spec: "Postcopy migration", protocol feature
 * PAGEFAULT). The guest runs on the destination before all of its memory
 * arrived; a page the back-end touches that is not there yet must be
 * fetched by QEMU first. So:
 *
 *   POSTCOPY_ADVISE  we open a userfaultfd and hand QEMU a copy;
 *   POSTCOPY_LISTEN  from now on memory tables are postcopy ones:
 *   SET_MEM_TABLE    mapped as usual, answered with the table in which each
 *                    region's userspace_addr is OUR address of its first
 *                    byte (QEMU wakes our faults there); QEMU then sends an
 *                    8-byte SET_MEM_TABLE (u64 0) once it can serve faults,
 *                    and only then are the regions registered (MISSING)
 *                    with the userfaultfd;
 *   ADD_MEM_REG      (CONFIGURE_MEM_SLOTS) the same per region: answered
 *                    with our address, registered; QEMU's closing 8-byte
 *                    message (request ADD_MEM_REG, or 0) is swallowed;
 *   POSTCOPY_END     unregister, close the userfaultfd.
 *
 * A thread that touches a missing page sleeps in the kernel until QEMU has
 * placed it (it reads the faults from our userfaultfd and wakes us with
 * UFFDIO_WAKE); nothing here reads the userfaultfd. The memory is the
 * front-end's memfd: QEMU fills it through its own mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

void vhu_be_postcopy_clear(struct vhu_backend *be)
{
	/* closing the userfaultfd unregisters every range and wakes any fault */
	vhu_close_fd(&be->pc.uffd);
	be->pc.advised = false;
	be->pc.listening = false;
	be->pc.unanswered = false;
}

int vhu_be_postcopy_advise(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	(void)msg;
	vhu_be_postcopy_clear(be);
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return vhu_be_fail(be, -errno, "postcopy: no userfaultfd: %s", strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int err = -errno;

		close(fd);
		return vhu_be_fail(be, err, "postcopy: UFFDIO_API: %s", strerror(-err));
	}
	reply->fds[0] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (reply->fds[0] < 0) {
		close(fd);
		return vhu_be_fail(be, -errno, "postcopy: %s", strerror(errno));
	}
	reply->nfds = 1;
	reply->hdr.size = 0;
	be->pc.uffd = fd;
	be->pc.advised = true;
	vhu_info(&be->log, "postcopy: advised (userfaultfd handed to the front-end)");
	return 0;
}

int vhu_be_postcopy_listen(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	(void)reply;
	if (!be->pc.advised)
		return vhu_be_fail(be, -EINVAL, "POSTCOPY_LISTEN before POSTCOPY_ADVISE");
	be->pc.listening = true;
	vhu_info(&be->log, "postcopy: listening");
	return 0;
}

int vhu_be_postcopy_end(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)msg;
	(void)reply;
	if (!be->pc.advised)
		return vhu_be_fail(be, -EINVAL, "POSTCOPY_END without POSTCOPY_ADVISE");
	vhu_be_postcopy_clear(be);
	vhu_info(&be->log, "postcopy: ended");
	return 0;
}

/* Drop our page table entries and register the region: missing pages fault to QEMU. */
static int region_register(struct vhu_backend *be, const struct vhu_region *r)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)r->map_base, .len = r->map_size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (madvise(r->map_base, r->map_size, MADV_DONTNEED) < 0 ||
	    ioctl(be->pc.uffd, UFFDIO_REGISTER, &reg) < 0)
		return vhu_be_fail(be, -errno,
				   "postcopy: cannot register region 0x%" PRIx64 "+0x%" PRIx64
				   " with the userfaultfd: %s",
				   r->gpa, r->size, strerror(errno));
	return 0;
}

static const struct vhu_region *region_of(struct vhu_mem *mem, uint64_t gpa)
{
	for (unsigned int i = 0; i < mem->nregions; i++)
		if (mem->regions[i].gpa == gpa)
			return &mem->regions[i];
	return NULL;
}

/* QEMU's go-ahead after our addresses: an 8-byte message holding u64 0. */
static int wait_go_ahead(struct vhu_backend *be, uint32_t request)
{
	struct pollfd p = { be->conn_fd, POLLIN, 0 };
	struct vhu_msg m;
	int ret = poll(&p, 1, VHU_BACKEND_CHAN_TIMEOUT_MS);

	if (ret <= 0)
		return vhu_be_fail(be, -ETIMEDOUT, "postcopy: no go-ahead after the memory table");
	ret = vhu_msg_recv(be->conn_fd, &m);
	if (ret < 0)
		return vhu_be_fail(be, ret, "postcopy: reading the go-ahead: %s", strerror(-ret));
	vhu_msg_close_fds(&m);
	if (m.hdr.request != request || m.hdr.size != sizeof(uint64_t) || m.payload.u64 != 0)
		return vhu_be_fail(be, -EPROTO,
				   "postcopy: expected the front-end's go-ahead, got request %u "
				   "of %u bytes",
				   m.hdr.request, m.hdr.size);
	return 0;
}

int vhu_be_postcopy_table(struct vhu_backend *be, const struct vhu_msg *msg)
{
	const struct vhu_mem_table *t = &msg->payload.mem_table;
	struct vhu_msg reply;
	int ret;

	vhu_msg_init(&reply, VHU_REQ_SET_MEM_TABLE, VHU_FLAG_REPLY, msg->hdr.size);
	memcpy(&reply.payload.mem_table, t, msg->hdr.size);
	for (uint32_t i = 0; i < t->nregions && i < VHU_MEM_TABLE_MAX_REGIONS; i++) {
		const struct vhu_region *r = region_of(&be->mem, t->regions[i].guest_phys_addr);

		if (!r)
			return vhu_be_fail(be, -EINVAL, "postcopy: region %u is not mapped", i);
		reply.payload.mem_table.regions[i].userspace_addr = (uintptr_t)r->host;
	}
	reply.hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
	be->pc.unanswered = false;
	ret = vhu_msg_send(be->conn_fd, &reply);
	if (ret < 0)
		return vhu_be_fail(be, ret, "postcopy: sending our addresses: %s", strerror(-ret));
	ret = wait_go_ahead(be, VHU_REQ_SET_MEM_TABLE);
	for (uint32_t i = 0; ret == 0 && i < be->mem.nregions; i++)
		ret = region_register(be, &be->mem.regions[i]);
	if (ret == 0)
		vhu_info(&be->log, "postcopy: %u regions registered", be->mem.nregions);
	return ret;
}

int vhu_be_postcopy_region(struct vhu_backend *be, const struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_region *r =
		region_of(&be->mem, msg->payload.mem_reg.region.guest_phys_addr);
	int ret;

	if (!r)
		return vhu_be_fail(be, -EINVAL, "postcopy: the region is not mapped");
	ret = region_register(be, r);
	if (ret < 0)
		return ret;
	vhu_info(&be->log, "postcopy: region 0x%" PRIx64 "+0x%" PRIx64 " registered", r->gpa,
		 r->size);
	/* the answer is the region with our address (dispatch sends it) */
	reply->payload.mem_reg = msg->payload.mem_reg;
	reply->payload.mem_reg.region.userspace_addr = (uintptr_t)r->host;
	reply->hdr.size = sizeof(struct vhu_mem_reg);
	be->force_reply = true;
	return 0;
}

bool vhu_be_postcopy_go_ahead(struct vhu_backend *be, const struct vhu_msg *msg)
{
	/* QEMU closes a postcopy run of ADD_MEM_REG with an 8-byte u64 0 */
	return be->pc.listening && msg->hdr.size == sizeof(uint64_t) && msg->nfds == 0 &&
	       (msg->hdr.request == VHU_REQ_ADD_MEM_REG || msg->hdr.request == 0);
}
