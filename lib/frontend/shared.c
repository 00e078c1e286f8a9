/* SPDX-License-Identifier: MIT */
/*
 * Shared objects and VIRTIO shared memory, front-end side (protocol features
 * SHARED_OBJECT, bit 18, and SHMEM, bit 22 as in QEMU master).
 *
 * Shared objects: a table of UUID -> exporting front-end that several
 * front-ends of one process share (QEMU keeps one per process,
 * hw/display/virtio-dmabuf.c). A back-end's ADD notes its front-end as the
 * exporter (a UUID already there is refused), REMOVE drops an entry its own
 * front-end exported (another's is refused), LOOKUP is answered with the fd
 * that GET_SHARED_OBJECT fetches from the exporter's back-end. The table lock
 * is held across that request, so an exporter that leaves (its entries are
 * dropped under the lock first) is never used after it went; every request
 * is bounded by its timeout_ms.
 *
 * Shared memory: each region of GET_SHMEM_CONFIG is reserved PROT_NONE
 * (MAP_NORESERVE: address space, no memory); SHMEM_MAP replaces a part of
 * it with the back-end's fd (MAP_FIXED), SHMEM_UNMAP puts the reservation
 * back. Everything the back-end sends is checked before any mmap: a bad
 * request fails alone and changes nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"

struct vhu_frontend_objects {
	pthread_mutex_t lock;
	struct fe_object {
		uint8_t uuid[VHU_UUID_LEN];
		struct vhu_frontend *fe;
	} * v; /* [VHU_FRONTEND_OBJECTS_MAX] */
	unsigned int n;
};

#define PAGE_SIZE 4096u

/* ---- the table -------------------------------------------------------------- */

VHU_API int vhu_frontend_objects_create(struct vhu_frontend_objects **out)
{
	struct vhu_frontend_objects *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->v = calloc(VHU_FRONTEND_OBJECTS_MAX, sizeof(*o->v));
	if (!o->v) {
		free(o);
		return -ENOMEM;
	}
	pthread_mutex_init(&o->lock, NULL);
	*out = o;
	return 0;
}

VHU_API void vhu_frontend_objects_destroy(struct vhu_frontend_objects *objs)
{
	if (!objs)
		return;
	pthread_mutex_destroy(&objs->lock);
	free(objs->v);
	free(objs);
}

VHU_API unsigned int vhu_frontend_objects_count(struct vhu_frontend_objects *objs)
{
	unsigned int n;

	pthread_mutex_lock(&objs->lock);
	n = objs->n;
	pthread_mutex_unlock(&objs->lock);
	return n;
}

static struct fe_object *object_find(struct vhu_frontend_objects *o, const uint8_t *uuid)
{
	for (unsigned int i = 0; i < o->n; i++)
		if (memcmp(o->v[i].uuid, uuid, VHU_UUID_LEN) == 0)
			return &o->v[i];
	return NULL;
}

static void object_drop(struct vhu_frontend_objects *o, struct fe_object *e)
{
	*e = o->v[--o->n]; /* order does not matter */
}

/* A success without the object: the connection ends, under the request lock. */
static int object_broken(struct vhu_frontend *fe)
{
	int ret;

	pthread_mutex_lock(fe->ch.lock); /* set: SHARED_OBJECT takes requests from any thread */
	ret = vhu_fe_broken(&fe->ch, "GET_SHARED_OBJECT succeeded without an fd");
	pthread_mutex_unlock(fe->ch.lock);
	return ret;
}

/* GET_SHARED_OBJECT to @fe's back-end. Return: 0 and *@fd, or -errno. */
static int object_get(struct vhu_frontend *fe, const uint8_t *uuid, int *fd)
{
	struct vhu_msg req, reply;
	int ret;

	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_SHARED_OBJECT)))
		return -ENOTSUP;
	if (!__atomic_load_n(&fe->shared_ready, __ATOMIC_ACQUIRE))
		return -EAGAIN; /* still connecting: its requests are not locked yet */
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	vhu_msg_init(&req, VHU_REQ_GET_SHARED_OBJECT, 0, sizeof(struct vhu_shared_object));
	memcpy(req.payload.shared.uuid, uuid, VHU_UUID_LEN);
	ret = vhu_fe_request(&fe->ch, &req, &reply);
	if (ret == 1) {
		/* spec: u64 0 and the fd; non-zero means failure (then no fd) */
		if (reply.payload.u64 != 0)
			ret = -EIO;
		else if (reply.nfds != 1)
			ret = object_broken(fe);
		else
			*fd = vhu_msg_take_fd(&reply, 0);
		vhu_msg_close_fds(&reply);
	}
	return vhu_fe_req_done(fe, VHU_REQ_GET_SHARED_OBJECT, ret < 0 ? ret : 0);
}

VHU_API int vhu_frontend_shared_object_get(struct vhu_frontend *fe, const uint8_t uuid[16], int *fd)
{
	if (!uuid || !fd)
		return -EINVAL;
	*fd = -1;
	return object_get(fe, uuid, fd);
}

VHU_API int vhu_frontend_objects_get(struct vhu_frontend_objects *objs, const uint8_t uuid[16],
				     int *fd)
{
	struct fe_object *e;
	int ret = -ENOENT;

	if (!objs || !uuid || !fd)
		return -EINVAL;
	*fd = -1;
	pthread_mutex_lock(&objs->lock);
	e = object_find(objs, uuid);
	if (e)
		ret = object_get(e->fe, uuid, fd);
	pthread_mutex_unlock(&objs->lock);
	return ret;
}

static int chan_object(struct vhu_frontend *fe, const struct vhu_msg *msg, int *fd)
{
	struct vhu_frontend_objects *o = fe->cfg.objects;
	const uint8_t *uuid = msg->payload.shared.uuid;
	struct fe_object *e;
	int ret = 0;

	pthread_mutex_lock(&o->lock);
	e = object_find(o, uuid);
	if (!vhu_frontend_alive(fe)) /* leaving: vhu_fe_shared_close() dropped its entries */
		ret = -ECONNRESET;
	else
		switch (msg->hdr.request) {
		case VHU_BACKEND_REQ_SHARED_OBJECT_ADD:
			if (e)
				ret = e->fe == fe ? -EEXIST
						  : -EBUSY; /* QEMU refuses a second ADD too */
			else if (o->n == VHU_FRONTEND_OBJECTS_MAX)
				ret = -ENOSPC;
			if (ret == 0) {
				memcpy(o->v[o->n].uuid, uuid, VHU_UUID_LEN);
				o->v[o->n++].fe = fe;
			}
			break;
		case VHU_BACKEND_REQ_SHARED_OBJECT_REMOVE:
			if (!e)
				ret = -ENOENT;
			else if (e->fe != fe)
				ret = -EPERM; /* only the exporter may withdraw it (QEMU: same) */
			else
				object_drop(o, e);
			break;
		default: /* LOOKUP */
			ret = e ? object_get(e->fe, uuid, fd) : -ENOENT;
			break;
		}
	pthread_mutex_unlock(&o->lock);
	return ret;
}

/* ---- shared memory ------------------------------------------------------------ */

static void *reserve(void *at, uint64_t size)
{
	return mmap(at, size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED : 0), -1, 0);
}

static void shm_unmap_all(struct vhu_frontend *fe)
{
	pthread_mutex_lock(&fe->shm_lock);
	for (unsigned int i = 0; fe->shm && i < VHU_FE_SHM_REGIONS; i++)
		if (fe->shm[i].base)
			munmap(fe->shm[i].base, fe->shm[i].size);
	free(fe->shm);
	free(fe->shm_maps);
	fe->shm = NULL;
	fe->shm_maps = NULL;
	fe->shm_nmaps = 0;
	pthread_mutex_unlock(&fe->shm_lock);
}

/* The reply's sizes: as many as it carries (drafts sent 8), nregions of them non-zero. */
static int shm_config_check(struct vhu_frontend *fe, const struct vhu_msg *reply)
{
	const struct vhu_shmem_config *c = &reply->payload.shmem_config;
	uint32_t entries = (reply->hdr.size - offsetof(struct vhu_shmem_config, memory_sizes)) / 8;
	uint64_t total = 0;
	uint32_t nonzero = 0;

	if ((reply->hdr.size - offsetof(struct vhu_shmem_config, memory_sizes)) % 8)
		return vhu_fe_broken(&fe->ch, "GET_SHMEM_CONFIG: a partial size");
	for (uint32_t i = 0; i < entries; i++) {
		uint64_t size = c->memory_sizes[i];

		if (!size)
			continue;
		nonzero++;
		if (size % PAGE_SIZE || __builtin_add_overflow(total, size, &total) ||
		    total > VHU_FRONTEND_SHMEM_MAX_SIZE) {
			vhu_err(&fe->log,
				"GET_SHMEM_CONFIG: region %u of 0x%" PRIx64
				" bytes: unaligned, or over %llu bytes in all",
				i, size, (unsigned long long)VHU_FRONTEND_SHMEM_MAX_SIZE);
			return -EPROTO;
		}
	}
	if (nonzero != c->nregions) {
		vhu_err(&fe->log, "GET_SHMEM_CONFIG: %u regions said, %u sizes given", c->nregions,
			nonzero);
		return -EPROTO;
	}
	return (int)entries;
}

static int shm_reserve(struct vhu_frontend *fe, const struct vhu_shmem_config *c, int entries)
{
	fe->shm = calloc(VHU_FE_SHM_REGIONS, sizeof(*fe->shm));
	fe->shm_maps = calloc(VHU_FRONTEND_SHMEM_MAX_MAPS, sizeof(*fe->shm_maps));
	if (!fe->shm || !fe->shm_maps)
		return -ENOMEM;
	for (int i = 0; i < entries; i++) {
		void *p;

		if (!c->memory_sizes[i])
			continue;
		p = reserve(NULL, c->memory_sizes[i]);
		if (p == MAP_FAILED) {
			vhu_err(&fe->log, "shared memory region %d: %s", i, strerror(errno));
			return -ENOMEM;
		}
		fe->shm[i].base = p;
		fe->shm[i].size = c->memory_sizes[i];
		vhu_debug(&fe->log, "shared memory region %d: 0x%" PRIx64 " bytes reserved", i,
			  c->memory_sizes[i]);
	}
	return 0;
}

int vhu_fe_shmem_setup(struct vhu_frontend *fe)
{
	struct vhu_msg req, reply;
	int ret;

	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_SHMEM)))
		return 0;
	vhu_msg_init(&req, VHU_REQ_GET_SHMEM_CONFIG, 0, 0);
	ret = vhu_fe_request(&fe->ch, &req, &reply);
	if (ret == 0)
		ret = -EPROTO; /* the row always answers */
	if (ret == 1) {
		vhu_msg_close_fds(&reply);
		ret = shm_config_check(fe, &reply);
	}
	if (ret >= 0) {
		pthread_mutex_lock(&fe->shm_lock);
		ret = shm_reserve(fe, &reply.payload.shmem_config, ret);
		pthread_mutex_unlock(&fe->shm_lock);
		if (ret < 0)
			shm_unmap_all(fe);
	}
	return vhu_fe_req_done(fe, VHU_REQ_GET_SHMEM_CONFIG, ret);
}

/* The map that covers byte @at of @shmid, or NULL. */
static struct vhu_fe_shm_map *map_at(struct vhu_frontend *fe, uint8_t shmid, uint64_t at)
{
	for (unsigned int i = 0; i < fe->shm_nmaps; i++) {
		struct vhu_fe_shm_map *m = &fe->shm_maps[i];

		if (m->shmid == shmid && at >= m->offset && at - m->offset < m->len)
			return m;
	}
	return NULL;
}

/* Why @m may not be mapped, or NULL (the shm lock held). */
static const char *map_refusal(struct vhu_frontend *fe, const struct vhu_shmem_map *m, int fd)
{
	const struct vhu_fe_shm_region *r = &fe->shm[m->shmid];
	uint64_t end, fd_end;
	struct stat st;

	if (!r->base)
		return "no such region";
	if (m->flags & ~VHU_SHMEM_MAP_RW)
		return "unknown flags";
	if (m->len == 0 || (m->shm_offset | m->len | m->fd_offset) % PAGE_SIZE)
		return "empty, or not page aligned";
	if (__builtin_add_overflow(m->shm_offset, m->len, &end) || end > r->size ||
	    __builtin_add_overflow(m->fd_offset, m->len, &fd_end))
		return "outside the region";
	for (unsigned int i = 0; i < fe->shm_nmaps; i++) {
		const struct vhu_fe_shm_map *o = &fe->shm_maps[i];

		if (o->shmid == m->shmid && m->shm_offset < o->offset + o->len && o->offset < end)
			return "overlaps a mapping in place";
	}
	if (fe->shm_nmaps == VHU_FRONTEND_SHMEM_MAX_MAPS)
		return "too many mappings";
	if (fstat(fd, &st) < 0)
		return "the fd cannot be looked at";
	/* a read past a file's end would be a SIGBUS in our process */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < fd_end)
		return "the file is shorter than the mapping";
	return NULL;
}

static int shm_map(struct vhu_frontend *fe, const struct vhu_shmem_map *m, int fd)
{
	const char *why = map_refusal(fe, m, fd);
	int prot = PROT_READ | (m->flags & VHU_SHMEM_MAP_RW ? PROT_WRITE : 0);
	uint8_t *at;

	if (why) {
		vhu_warn(&fe->log,
			 "SHMEM_MAP of region %u [0x%" PRIx64 ", +0x%" PRIx64 ") refused: %s",
			 m->shmid, m->shm_offset, m->len, why);
		return -EINVAL;
	}
	at = fe->shm[m->shmid].base + m->shm_offset;
	if (mmap(at, m->len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)m->fd_offset) == MAP_FAILED) {
		int err = -errno;

		/* a failed MAP_FIXED may have unmapped the range: reserve it again */
		(void)reserve(at, m->len);
		vhu_warn(&fe->log, "SHMEM_MAP of region %u: mmap: %s", m->shmid, strerror(-err));
		return err;
	}
	fe->shm_maps[fe->shm_nmaps++] = (struct vhu_fe_shm_map){ .offset = m->shm_offset,
								 .len = m->len,
								 .shmid = m->shmid };
	return 0;
}

static int shm_unmap(struct vhu_frontend *fe, const struct vhu_shmem_map *m)
{
	struct vhu_fe_shm_map *e =
		fe->shm[m->shmid].base ? map_at(fe, m->shmid, m->shm_offset) : NULL;

	/* exactly one mapping, as it was made (QEMU looks it up the same way) */
	if (!e || e->offset != m->shm_offset || e->len != m->len) {
		vhu_warn(&fe->log,
			 "SHMEM_UNMAP of region %u [0x%" PRIx64 ", +0x%" PRIx64
			 ") refused: not a mapping in place",
			 m->shmid, m->shm_offset, m->len);
		return -ENOENT;
	}
	if (reserve(fe->shm[m->shmid].base + e->offset, e->len) == MAP_FAILED)
		return -errno; /* the mapping stays, and stays recorded */
	*e = fe->shm_maps[--fe->shm_nmaps];
	return 0;
}

int vhu_fe_chan_shared(struct vhu_frontend *fe, struct vhu_msg *msg, int *fd)
{
	uint32_t req = msg->hdr.request;
	int ret;

	*fd = -1;
	if (req == VHU_BACKEND_REQ_SHMEM_MAP || req == VHU_BACKEND_REQ_SHMEM_UNMAP) {
		if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_SHMEM)))
			return -ENOTSUP;
		pthread_mutex_lock(&fe->shm_lock);
		if (!fe->shm)
			ret = -ENOTSUP;
		else if (req == VHU_BACKEND_REQ_SHMEM_MAP)
			ret = shm_map(fe, &msg->payload.shmem_map, msg->fds[0]);
		else
			ret = shm_unmap(fe, &msg->payload.shmem_map);
		pthread_mutex_unlock(&fe->shm_lock);
		return ret; /* the fd is closed by the caller: the mapping has its own reference */
	}
	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_SHARED_OBJECT)) || !fe->cfg.objects)
		return -ENOTSUP;
	return chan_object(fe, msg, fd);
}

VHU_API uint64_t vhu_frontend_shmem_size(struct vhu_frontend *fe, uint8_t shmid)
{
	uint64_t size;

	pthread_mutex_lock(&fe->shm_lock);
	size = fe->shm ? fe->shm[shmid].size : 0;
	pthread_mutex_unlock(&fe->shm_lock);
	return size;
}

VHU_API unsigned int vhu_frontend_shmem_maps(struct vhu_frontend *fe)
{
	unsigned int n;

	pthread_mutex_lock(&fe->shm_lock);
	n = fe->shm_nmaps;
	pthread_mutex_unlock(&fe->shm_lock);
	return n;
}

VHU_API int vhu_frontend_shmem_read(struct vhu_frontend *fe, uint8_t shmid, uint64_t offset,
				    void *buf, size_t len)
{
	uint8_t *out = buf;
	uint64_t end;
	int ret = 0;

	pthread_mutex_lock(&fe->shm_lock);
	if (!fe->shm || !fe->shm[shmid].base)
		ret = -ENOENT;
	else if (__builtin_add_overflow(offset, len, &end) || end > fe->shm[shmid].size)
		ret = -EFAULT;
	/* piece by piece: the mappings in place cover it, or nothing is copied */
	for (uint64_t at = offset; ret == 0 && at < end;) {
		const struct vhu_fe_shm_map *m = map_at(fe, shmid, at);
		uint64_t n;

		if (!m) {
			ret = -EFAULT;
			break;
		}
		n = VHU_MIN(end, m->offset + m->len) - at;
		at += n;
	}
	if (ret == 0)
		memcpy(out, fe->shm[shmid].base + offset, len);
	pthread_mutex_unlock(&fe->shm_lock);
	return ret;
}

/* ---- lifetime ----------------------------------------------------------------- */

void vhu_fe_shared_init(struct vhu_frontend *fe)
{
	pthread_mutex_init(&fe->shm_lock, NULL);
}

void vhu_fe_shared_ready(struct vhu_frontend *fe)
{
	__atomic_store_n(&fe->shared_ready, true, __ATOMIC_RELEASE);
}

void vhu_fe_shared_close(struct vhu_frontend *fe)
{
	struct vhu_frontend_objects *o = fe->cfg.objects;

	/* no ADD gets in after this (chan_object looks under the table lock) */
	__atomic_store_n(&fe->alive, false, __ATOMIC_RELEASE);
	if (o) {
		/* after this no other thread reaches @fe through the table */
		pthread_mutex_lock(&o->lock);
		for (unsigned int i = o->n; i-- > 0;)
			if (o->v[i].fe == fe)
				object_drop(o, &o->v[i]);
		pthread_mutex_unlock(&o->lock);
	}
	shm_unmap_all(fe);
}

void vhu_fe_shared_fini(struct vhu_frontend *fe)
{
	vhu_fe_shared_close(fe);
	pthread_mutex_destroy(&fe->shm_lock);
}
