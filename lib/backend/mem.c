/* SPDX-License-Identifier: MIT */
/*
 * The memory requests: SET_MEM_TABLE, GET_MAX_MEM_SLOTS, ADD_MEM_REG and
 * REM_MEM_REG. lib/memory does the mapping and every bounds check; here the
 * fds change hands and the rings are translated again, because QEMU sends
 * table updates to running devices (memory hotplug). The dispatcher has
 * paused every worker (the rows say so).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"
#include "common/util.h"

/* Which file an fd maps: two fds of one memfd name the same memory. */
static int file_id(int fd, uint64_t id[2])
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id[0] = st.st_dev;
	id[1] = st.st_ino;
	return 0;
}

/* The identity of @msg's table: its regions in order and the files behind its fds. */
static int table_id(const struct vhu_msg *msg, struct vhu_be_table_id *id)
{
	const struct vhu_mem_table *t = &msg->payload.mem_table;

	id->valid = false;
	if (t->nregions == 0 || t->nregions > VHU_MEM_TABLE_MAX_REGIONS ||
	    t->nregions != msg->nfds ||
	    msg->hdr.size != offsetof(struct vhu_mem_table, regions) +
				     t->nregions * sizeof(struct vhu_mem_region))
		return -EINVAL; /* vhu_mem_set_table() says why */
	id->nregions = t->nregions;
	memset(id->regions, 0, sizeof(id->regions));
	memset(id->file, 0, sizeof(id->file));
	memcpy(id->regions, t->regions, t->nregions * sizeof(t->regions[0]));
	for (unsigned int i = 0; i < t->nregions; i++)
		if (file_id(msg->fds[i], id->file[i]) < 0)
			return -EBADF;
	id->valid = true;
	return 0;
}

static bool table_same(const struct vhu_be_table_id *a, const struct vhu_be_table_id *b)
{
	return a->valid && b->valid && a->nregions == b->nregions &&
	       !memcmp(a->regions, b->regions, sizeof(a->regions)) &&
	       !memcmp(a->file, b->file, sizeof(a->file));
}

/*
 * QEMU sends the same table again on many occasions. Remapping it would pull
 * the memory from under requests the device still holds, so a table with the
 * same regions backed by the same files is kept (DPDK compares the regions
 * too; the files make sure new memory at old addresses is not missed).
 */
int vhu_be_set_mem_table(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_mem_table *t = &msg->payload.mem_table;
	struct vhu_be_table_id id;
	int ret;

	(void)reply;
	(void)table_id(msg, &id);
	if (table_same(&id, &be->table_id)) {
		vhu_debug(&be->log, "memory table unchanged (%" PRIu32 " regions)", t->nregions);
		/* the dispatcher closes the fds */
		return be->pc.listening ? vhu_be_postcopy_table(be, msg) : 0;
	}
	/* the old regions are unmapped on success: nothing may be in flight in them */
	vhu_be_queues_drain(be);
	/* consumes every fd, on every path; on failure the old table stays */
	ret = vhu_mem_set_table(&be->mem, t, msg->hdr.size, msg->fds, msg->nfds);
	if (ret == 0)
		be->table_id = id;
	vhu_be_queues_restart(be);
	if (ret < 0)
		return vhu_be_fail(be, ret, "memory table of %" PRIu32 " regions with %u fds: %s",
				   t->nregions, msg->nfds, strerror(-ret));
	return be->pc.listening ? vhu_be_postcopy_table(be, msg) : 0;
}

void vhu_be_mem_clear(struct vhu_backend *be)
{
	vhu_mem_clear(&be->mem);
	be->table_id.valid = false;
}

int vhu_be_get_max_mem_slots(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	(void)be;
	(void)msg;
	return vhu_be_reply_u64(reply, VHU_MAX_MEM_SLOTS);
}

int vhu_be_add_mem_reg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_mem_region *r = &msg->payload.mem_reg.region;
	int ret;

	ret = vhu_mem_add(&be->mem, r, vhu_msg_take_fd(msg, 0)); /* consumes the fd */
	if (ret < 0)
		return vhu_be_fail(be, ret, "region 0x%" PRIx64 "+0x%" PRIx64 ": %s",
				   r->guest_phys_addr, r->memory_size, strerror(-ret));
	be->table_id.valid = false;
	vhu_be_queues_remap(be);
	return be->pc.listening ? vhu_be_postcopy_region(be, msg, reply) : 0;
}

/* spec: "REM_MEM_REG": a back-end may get an fd here and must close it (the dispatcher does). */
int vhu_be_rem_mem_reg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply)
{
	const struct vhu_mem_region *r = &msg->payload.mem_reg.region;
	int ret;

	(void)reply;
	/* unmapping a region requests may still be using: let the device finish them */
	vhu_be_queues_drain(be);
	ret = vhu_mem_remove(&be->mem, r);
	if (ret == 0)
		be->table_id.valid = false;
	vhu_be_queues_restart(be);
	if (ret < 0)
		return vhu_be_fail(be, ret, "no region 0x%" PRIx64 "+0x%" PRIx64,
				   r->guest_phys_addr, r->memory_size);
	return 0;
}
