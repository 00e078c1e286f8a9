/* SPDX-License-Identifier: MIT */
/*
 * Host notifiers, front-end side (spec: "Host notifiers",
 * BACKEND_VRING_HOST_NOTIFIER_MSG, with BACKEND_SEND_FD): the back-end
 * hands us a page per ring, and while it is mapped a kick is the ring's
 * index stored into it (as a virtio-pci driver stores it into the notify
 * area, which QEMU maps the page over) instead of an eventfd write. NOFD
 * takes it back: kicks go to the eventfd again.
 *
 * The page comes from an untrusted peer. It is mapped only when it is
 * exactly one page of ours at a page-aligned offset, from a file sealed
 * against shrinking (F_SEAL_SHRINK, which a memfd can carry): a page whose
 * file the back-end could truncate would turn our next kick into SIGBUS.
 * The channel thread swaps the mapping under the queue's db_lock, which the
 * kicking thread holds around its store, so no kick writes into a page
 * being unmapped. A ring that stops (GET_VRING_BASE), a reconnect and
 * destroy drop the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"

#define PF(bit) VHU_BIT(VHU_PROTOCOL_F_##bit)
#define NOTIFIER_BITS (PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD))

/* Swap @q's doorbell for @page (NULL: none) and unmap the old one. */
static void doorbell_set(struct vhu_frontend_queue *q, uint16_t *page, size_t size)
{
	uint16_t *old;

	pthread_mutex_lock(&q->db_lock);
	old = q->doorbell;
	q->doorbell = page;
	pthread_mutex_unlock(&q->db_lock);
	if (old)
		munmap(old, size);
}

void vhu_fe_notifier_drop(struct vhu_frontend_queue *q)
{
	doorbell_set(q, NULL, (size_t)sysconf(_SC_PAGESIZE));
}

/* The page @fd at @offset, checked. Return: 0 (mapped at *@out) or -errno. */
static int page_map(struct vhu_frontend *fe, int fd, uint64_t offset, size_t size, uint16_t **out)
{
	struct stat st;
	int seals;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < offset ||
	    (uint64_t)st.st_size - offset < size) {
		vhu_warn(&fe->log, "host notifier: not a file with a page at offset %llu",
			 (unsigned long long)offset);
		return -EINVAL;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		vhu_warn(&fe->log, "host notifier: the page's file may shrink (no F_SEAL_SHRINK)");
		return -EPERM;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int vhu_fe_notifier_msg(struct vhu_frontend *fe, struct vhu_msg *msg)
{
	const struct vhu_vring_area *a = &msg->payload.area;
	struct vhu_frontend_queue *qs = __atomic_load_n(&fe->queues, __ATOMIC_ACQUIRE);
	size_t size = (size_t)sysconf(_SC_PAGESIZE);
	unsigned int idx = (unsigned int)(a->u64 & VHU_VRING_IDX_MASK);
	uint16_t *page = NULL;
	int ret;

	if ((fe->protocol & NOTIFIER_BITS) != NOTIFIER_BITS)
		return -ENOTSUP;
	if (idx >= fe->cfg.num_queues || !qs ||
	    (a->u64 & ~(VHU_VRING_IDX_MASK | VHU_VRING_NOFD_MASK))) {
		vhu_warn(&fe->log, "host notifier: ring index 0x%llx", (unsigned long long)a->u64);
		return -EINVAL;
	}
	if (a->u64 & VHU_VRING_NOFD_MASK) {
		/* as QEMU: removing what is not there is done */
		if (msg->nfds) {
			vhu_warn(&fe->log, "host notifier: ring %u: NOFD with an fd", idx);
			return -EINVAL;
		}
		vhu_fe_notifier_drop(&qs[idx]);
		vhu_debug(&fe->log, "host notifier: ring %u removed", idx);
		return 0;
	}
	if (msg->nfds != 1 || a->size != size || a->offset % size) {
		vhu_warn(
			&fe->log,
			"host notifier: ring %u: %u fds, size %llu, offset %llu (one fd, size %zu, "
			"an aligned offset wanted)",
			idx, msg->nfds, (unsigned long long)a->size, (unsigned long long)a->offset,
			size);
		return -EINVAL;
	}
	ret = page_map(fe, msg->fds[0], a->offset, size, &page);
	if (ret < 0)
		return ret;
	doorbell_set(&qs[idx], page, size);
	vhu_debug(&fe->log, "host notifier: ring %u mapped", idx);
	return 0;
}

bool vhu_fe_notifier_kick(struct vhu_frontend_queue *q)
{
	bool done = false;

	pthread_mutex_lock(&q->db_lock);
	if (q->doorbell) {
		/* the ring's index, as a virtio-pci driver writes it; the ring's
		 * stores (kick_prepare's barrier) come before it */
		__atomic_store_n(q->doorbell, (uint16_t)q->index, __ATOMIC_RELEASE);
		done = true;
	}
	pthread_mutex_unlock(&q->db_lock);
	return done;
}

bool vhu_frontend_queue_has_doorbell(struct vhu_frontend_queue *q)
{
	bool mapped;

	pthread_mutex_lock(&q->db_lock);
	mapped = q->doorbell != NULL;
	pthread_mutex_unlock(&q->db_lock);
	return mapped;
}
