/* SPDX-License-Identifier: MIT */
/*
 * The device IOTLB: a sorted array of disjoint entries, binary search, and
 * a per-queue cache in front of it (iotlb.h has the concepts).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "memory/iotlb.h"

#define PERM_ALL (VHU_IOTLB_READ | VHU_IOTLB_WRITE)

void vhu_iotlb_init(struct vhu_iotlb *t, unsigned int max)
{
	memset(t, 0, sizeof(*t)); /* no report: the owner sets it after */
	pthread_mutex_init(&t->pend_lock, NULL);
	t->max = max ? max : VHU_IOTLB_MAX_ENTRIES;
}

void vhu_iotlb_fini(struct vhu_iotlb *t)
{
	pthread_mutex_destroy(&t->pend_lock);
	free(t->e);
	t->e = NULL;
	t->n = t->cap = 0;
	t->gen++;
	t->inval_gen++;
}

/* Forget the pending misses of the pages [first, last] touches (answered or unmapped). */
static void pend_drop(struct vhu_iotlb *t, uint64_t first, uint64_t last)
{
	unsigned int k = 0;

	pthread_mutex_lock(&t->pend_lock);
	for (unsigned int i = 0; i < t->npend; i++)
		if (t->pend[i] + (VHU_IOTLB_PAGE - 1) < first || t->pend[i] > last)
			t->pend[k++] = t->pend[i];
	t->npend = k;
	pthread_mutex_unlock(&t->pend_lock);
}

bool vhu_iotlb_miss_begin(struct vhu_iotlb *t, uint64_t iova)
{
	uint64_t page = iova & ~(uint64_t)(VHU_IOTLB_PAGE - 1);
	bool send = true;

	pthread_mutex_lock(&t->pend_lock);
	for (unsigned int i = 0; i < t->npend && send; i++)
		send = t->pend[i] != page;
	if (send && t->npend < VHU_IOTLB_PENDING)
		t->pend[t->npend++] = page;
	pthread_mutex_unlock(&t->pend_lock);
	return send;
}

void vhu_iotlb_miss_cancel(struct vhu_iotlb *t, uint64_t iova)
{
	uint64_t page = iova & ~(uint64_t)(VHU_IOTLB_PAGE - 1);

	pend_drop(t, page, page);
}

void vhu_iotlb_clear(struct vhu_iotlb *t)
{
	pend_drop(t, 0, UINT64_MAX);
	t->n = 0;
	t->gen++;
	t->inval_gen++;
}

/* The last byte of an entry (never wraps: checked when it was added). */
static uint64_t last_byte(const struct vhu_iotlb_entry *e)
{
	return e->iova + (e->size - 1);
}

/* Index of the first entry whose last byte is >= @iova (n if none). */
static unsigned int lower_bound(const struct vhu_iotlb *t, uint64_t iova)
{
	unsigned int lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (last_byte(&t->e[mid]) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct vhu_iotlb_entry *vhu_iotlb_find(const struct vhu_iotlb *t, uint64_t iova)
{
	unsigned int i = lower_bound(t, iova);

	if (i < t->n && t->e[i].iova <= iova)
		return &t->e[i];
	return NULL;
}

/* Drop the entries that [first, last] touches. Return: how many. */
static int drop_range(struct vhu_iotlb *t, uint64_t first, uint64_t last)
{
	unsigned int i = lower_bound(t, first), j = i;

	while (j < t->n && t->e[j].iova <= last)
		j++;
	if (j == i)
		return 0;
	memmove(&t->e[i], &t->e[j], (size_t)(t->n - j) * sizeof(t->e[0]));
	t->n -= j - i;
	t->gen++;
	t->inval_gen++;
	return (int)(j - i);
}

/* Room for one more entry. */
static int reserve(struct vhu_iotlb *t)
{
	struct vhu_iotlb_entry *e;
	unsigned int cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	if (cap > t->max)
		cap = t->max;
	e = realloc(t->e, (size_t)cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	t->e = e;
	t->cap = cap;
	return 0;
}

int vhu_iotlb_update(struct vhu_iotlb *t, struct vhu_mem *mem, uint64_t iova, uint64_t size,
		     uint64_t uva, uint8_t perm)
{
	uint64_t last = iova + (size - 1);
	unsigned int i, touched;
	uint8_t *host;
	int ret;

	if (size == 0 || last < iova || uva + (size - 1) < uva)
		return -EINVAL;
	if (perm == 0 || (perm & ~PERM_ALL))
		return -EINVAL;
	host = vhu_mem_uva_ptr(mem, uva, size);
	if (!host)
		return -EFAULT;
	i = lower_bound(t, iova);
	touched = 0;
	while (i + touched < t->n && t->e[i + touched].iova <= last)
		touched++;
	/* the same mapping again (two queues missed on one page): nothing changes */
	if (touched == 1 && t->e[i].iova == iova && t->e[i].size == size && t->e[i].uva == uva &&
	    t->e[i].perm == perm && t->e[i].host == host)
		return 0;
	/* full, unless the new entry replaces at least one */
	if (touched == 0 && t->n >= t->max)
		return -ENOSPC;
	if (touched == 0) {
		ret = reserve(t);
		if (ret < 0)
			return ret;
	}
	(void)drop_range(t, iova, last);
	memmove(&t->e[i + 1], &t->e[i], (size_t)(t->n - i) * sizeof(t->e[0]));
	t->e[i] = (struct vhu_iotlb_entry){
		.iova = iova, .size = size, .uva = uva, .host = host, .perm = perm
	};
	t->n++;
	t->gen++;
	pend_drop(t, iova, last); /* answered */
	return 0;
}

/* The last byte of an invalidated range: size 0 or a wrap means to the end. */
static uint64_t inval_last(uint64_t iova, uint64_t size)
{
	uint64_t last = iova + (size - 1);

	return size == 0 || last < iova ? UINT64_MAX : last;
}

int vhu_iotlb_invalidate(struct vhu_iotlb *t, uint64_t iova, uint64_t size)
{
	/* a page unmapped while asked for: the guest reset the ring (its answer is a fault) */
	pend_drop(t, iova, inval_last(iova, size));
	return drop_range(t, iova, inval_last(iova, size));
}

bool vhu_iotlb_touches(const struct vhu_iotlb *t, uint64_t iova, uint64_t size)
{
	unsigned int i = lower_bound(t, iova);

	return i < t->n && t->e[i].iova <= inval_last(iova, size);
}

void vhu_iotlb_remap(struct vhu_iotlb *t, struct vhu_mem *mem)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < t->n; i++) {
		struct vhu_iotlb_entry e = t->e[i];

		e.host = vhu_mem_uva_ptr(mem, e.uva, e.size);
		if (e.host)
			t->e[k++] = e;
	}
	t->n = k;
	t->gen++;
	t->inval_gen++;
}

/* The entry holding @iova: the cache first, then the table (and into the cache). */
static const struct vhu_iotlb_entry *lookup(const struct vhu_iotlb *t, struct vhu_iotlb_cache *c,
					    uint64_t iova)
{
	const struct vhu_iotlb_entry *e;
	struct vhu_iotlb_entry *slot = NULL;

	if (c) {
		slot = &c->e[(iova / VHU_IOTLB_PAGE) % VHU_IOTLB_CACHE_SIZE];
		if (c->gen != t->gen) {
			for (unsigned int k = 0; k < VHU_IOTLB_CACHE_SIZE; k++)
				c->e[k].size = 0;
			c->gen = t->gen;
		}
		/* an empty slot has size 0: never a hit */
		if (iova >= slot->iova && iova - slot->iova < slot->size)
			return slot;
	}
	e = vhu_iotlb_find(t, iova);
	if (e && slot) {
		*slot = *e;
		e = slot;
	}
	return e;
}

int vhu_iotlb_iov(const struct vhu_iotlb *t, struct vhu_iotlb_cache *cache, uint64_t iova,
		  uint64_t size, uint8_t perm, struct iovec *iov, unsigned int max_iov,
		  uint64_t *fault)
{
	unsigned int n = 0;

	if (size && iova + (size - 1) < iova)
		return -EFAULT;
	while (size) {
		const struct vhu_iotlb_entry *e = lookup(t, cache, iova);
		uint64_t off, piece;
		uint8_t *host;

		if (!e || (e->perm & perm) != perm) {
			*fault = iova;
			return e ? -EACCES : -EAGAIN;
		}
		off = iova - e->iova;
		piece = VHU_MIN(size, e->size - off);
		host = e->host + off;
		if (n && (uint8_t *)iov[n - 1].iov_base + iov[n - 1].iov_len == host) {
			iov[n - 1].iov_len += piece;
		} else {
			if (n == max_iov)
				return -ENOBUFS;
			iov[n].iov_base = host;
			iov[n].iov_len = piece;
			n++;
		}
		size -= piece;
		iova += piece; /* wraps to 0 only with size now 0 */
	}
	return (int)n;
}
