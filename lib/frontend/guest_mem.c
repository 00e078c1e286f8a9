/* SPDX-License-Identifier: MIT */
/*
 * memfd "guest" memory for the front-end (see guest_mem.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/guest_mem.h"

#define PAGE_SIZE_MIN 4096ull

static int mem_fail(const struct vhu_log *log, const char *what, int err)
{
	vhu_err(log,
		"cannot create shared memory (%s: %s): the front-end needs memfd_create and a "
		"MAP_SHARED mapping to share memory with the back-end; check free shmem space "
		"and seccomp filters",
		what, strerror(err));
	return -err;
}

int vhu_fe_mem_create(struct vhu_fe_mem *m, uint64_t size, const struct vhu_log *log)
{
	void *host;
	int err;

	m->fd = -1;
	m->host = NULL;
	m->used = 0;
	m->dma_base = VHU_FE_MEM_GPA;
	if (size == 0 || vhu_range_overflows(size, PAGE_SIZE_MIN))
		return -EINVAL;
	m->size = (size + PAGE_SIZE_MIN - 1) & ~(PAGE_SIZE_MIN - 1);
	m->fd = memfd_create("vhu-frontend", MFD_CLOEXEC);
	if (m->fd < 0)
		return mem_fail(log, "memfd_create", errno);
	if (ftruncate(m->fd, (off_t)m->size) < 0) {
		err = errno;
		vhu_close_fd(&m->fd);
		return mem_fail(log, "ftruncate", err);
	}
	host = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (host == MAP_FAILED) {
		err = errno;
		vhu_close_fd(&m->fd);
		return mem_fail(log, "mmap MAP_SHARED", err);
	}
	m->host = host;
	return 0;
}

void vhu_fe_mem_destroy(struct vhu_fe_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	m->host = NULL;
	vhu_close_fd(&m->fd);
}

void *vhu_fe_mem_alloc(struct vhu_fe_mem *m, uint64_t size, uint64_t align)
{
	uint64_t off;

	if (!m->host || size == 0 || !vhu_is_pow2(align))
		return NULL;
	off = (m->used + align - 1) & ~(align - 1);
	if (off < m->used || off > m->size || size > m->size - off)
		return NULL;
	m->used = off + size;
	memset(m->host + off, 0, size);
	return m->host + off;
}

int vhu_fe_mem_share(const struct vhu_fe_mem *m, struct vhu_fe_chan *ch, bool mem_slots)
{
	struct vhu_mem_region region = {
		.guest_phys_addr = VHU_FE_MEM_GPA,
		.memory_size = m->size,
		.userspace_addr = vhu_fe_mem_uva(m->host),
		.mmap_offset = 0,
	};
	struct vhu_msg req;

	if (mem_slots) {
		vhu_msg_init(&req, VHU_REQ_ADD_MEM_REG, 0, sizeof(struct vhu_mem_reg));
		req.payload.mem_reg.region = region;
	} else {
		vhu_msg_init(&req, VHU_REQ_SET_MEM_TABLE, 0,
			     (uint32_t)(offsetof(struct vhu_mem_table, regions) + sizeof(region)));
		req.payload.mem_table.nregions = 1;
		req.payload.mem_table.regions[0] = region;
	}
	req.fds[0] = m->fd; /* still ours: send does not close it */
	req.nfds = 1;
	return vhu_fe_send(ch, &req);
}
