/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: one split ring in a memfd shared with the peer, driven by
 * hand so that a check can post well-formed requests or hostile chains.
 *
 * Layout of the 1 MiB memory (guest address = offset, front-end address =
 * RIG_UVA + offset): descriptors at 0, avail ring at 0x1000, used ring at
 * 0x2000, request buffers from RIG_BUF_OFF, one 4 KiB slot per descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_gpu.h>

#include "conform.h"

#define DESC_OFF 0x0u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x2000u
#define COMPANION_OFF 0x3000u /* the other ring of a net queue pair: 0x3000..0x5fff */
#define SLOT_SIZE 0x1000u
#define PATTERN 0xa5

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rig_queue(const struct ctx *cx)
{
	if (!cx->type)
		return -1;
	/* gpu: the control queue; input: the status queue, which the device reads */
	if (!strcmp(cx->type, "blk") || !strcmp(cx->type, "rng") || !strcmp(cx->type, "gpu"))
		return 0;
	if (!strcmp(cx->type, "net") || !strcmp(cx->type, "input"))
		return 1;
	return -1;
}

static struct vring_desc *desc(struct rig *r, unsigned int i)
{
	return (struct vring_desc *)(void *)(r->mem + DESC_OFF) + i;
}

void rig_desc(struct rig *r, unsigned int i, uint64_t gpa, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	*desc(r, i) = (struct vring_desc){ .addr = gpa, .len = len, .flags = flags, .next = next };
}

void rig_publish(struct rig *r, uint16_t head)
{
	struct vring_avail *a = (struct vring_avail *)(void *)(r->mem + AVAIL_OFF);

	a->ring[r->avail % RIG_QSIZE] = head;
	r->avail++;
	__atomic_store_n(&a->idx, r->avail, __ATOMIC_RELEASE);
}

void rig_kick(struct rig *r)
{
	uint64_t one = 1;

	if (write(r->kick, &one, sizeof(one)) < 0)
		perror("vhu-conform: kick");
}

static void packed_poll(struct rig *r);

uint16_t rig_used_idx(struct rig *r)
{
	const struct vring_used *u = (const struct vring_used *)(void *)(r->mem + USED_OFF);

	if (r->packed) {
		packed_poll(r);
		return r->pk_done;
	}
	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

int rig_wait_used(struct rig *r, uint16_t want, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while ((int16_t)(rig_used_idx(r) - want) < 0) {
		if (now_ms() >= end)
			return -ETIMEDOUT;
		sleep_ms(2);
	}
	return 0;
}

bool rig_written(const struct rig *r)
{
	for (unsigned int i = 0; i < RIG_QSIZE; i++) {
		const uint8_t *b = r->mem + RIG_BUF_OFF + i * SLOT_SIZE;

		for (uint32_t k = 0; k < r->wlen[i]; k++)
			if (b[k] != PATTERN)
				return true;
	}
	return false;
}

/* One buffer in slot @i: device-readable (zeroed) or device-writable (pattern). */
static struct rig_seg slot(struct rig *r, unsigned int i, uint32_t len, bool writable)
{
	memset(rig_slot(r, i), writable ? PATTERN : 0, len);
	r->wlen[i] = writable ? len : 0;
	return (struct rig_seg){ .gpa = RIG_BUF_OFF + i * SLOT_SIZE,
				 .len = len,
				 .flags = writable ? VRING_DESC_F_WRITE : 0 };
}

/* The buffers of one well-formed request of @type, from slot @head. Return: how many. */
static int request(struct rig *r, const char *type, unsigned int head, struct rig_seg *s)
{
	uint8_t *b = rig_slot(r, head);

	if (!strcmp(type, "blk")) {
		s[0] = slot(r, head, 16, false); /* virtio_blk_outhdr: IN, sector 0 */
		s[1] = slot(r, head + 1, 512, true);
		s[2] = slot(r, head + 2, 1, true);
		return 3;
	}
	if (!strcmp(type, "rng")) {
		s[0] = slot(r, head, 64, true);
		return 1;
	}
	if (!strcmp(type, "gpu")) {
		s[0] = slot(r, head, sizeof(struct virtio_gpu_ctrl_hdr), false);
		b[0] = VIRTIO_GPU_CMD_GET_DISPLAY_INFO & 0xff; /* le32 type */
		b[1] = VIRTIO_GPU_CMD_GET_DISPLAY_INFO >> 8;
		s[1] = slot(r, head + 1, sizeof(struct virtio_gpu_resp_display_info), true);
		return 2;
	}
	if (!strcmp(type, "input")) {
		s[0] = slot(r, head, 8, false); /* a status event: EV_LED LED_NUML 1 */
		b[0] = 0x11;
		b[4] = 1;
		return 1;
	}
	if (!strcmp(type, "net")) {
		s[0] = slot(r, head, 12 + 60, false); /* virtio_net_hdr_v1, a frame */
		memset(b + 12, 0xff, 6);	      /* broadcast */
		memcpy(b + 18, "\x02\x00\x00\xc0\xf0\x01", 6);
		b[24] = 0x88;
		b[25] = 0xb5; /* local experimental ethertype */
		return 1;
	}
	return -ENOTSUP;
}

int rig_post(struct rig *r, const char *type)
{
	unsigned int head = (r->posted % 5) * 3;
	struct rig_seg s[3];
	int n = request(r, type, head, s);

	if (n < 0)
		return n;
	r->posted++;
	if (r->packed) {
		rig_packed_chain(r, s, (unsigned int)n, (uint16_t)head, false);
		return (int)head;
	}
	for (int i = 0; i < n; i++)
		rig_desc(r, head + (unsigned int)i, s[i].gpa, s[i].len,
			 (uint16_t)(s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			 (uint16_t)((head + (unsigned int)i + 1) % RIG_QSIZE));
	rig_publish(r, (uint16_t)head);
	return (int)head;
}

/* ---- packed rings ------------------------------------------------------- */

static struct vring_packed_desc *pdesc(struct rig *r, unsigned int i)
{
	return (struct vring_packed_desc *)(void *)(r->mem + DESC_OFF) + i % RIG_QSIZE;
}

void rig_packed_chain(struct rig *r, const struct rig_seg *segs, unsigned int n, uint16_t id,
		      bool next_on_last)
{
	uint16_t first = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct vring_packed_desc *d = pdesc(r, r->pk_next);
		uint16_t f =
			(uint16_t)(segs[i].flags |
				   (i + 1 < n || next_on_last ? VRING_DESC_F_NEXT : 0) |
				   (r->pk_wrap ? VHU_PACKED_DESC_F_AVAIL : VHU_PACKED_DESC_F_USED));

		d->addr = segs[i].gpa;
		d->len = segs[i].len;
		d->id = id;
		if (i == 0)
			first = f; /* the chain becomes available all at once */
		else
			__atomic_store_n(&d->flags, f, __ATOMIC_RELEASE);
		if (++r->pk_next == RIG_QSIZE) {
			r->pk_next = 0;
			r->pk_wrap = !r->pk_wrap;
		}
	}
	if (id < RIG_QSIZE)
		r->pk_len[id] = (uint8_t)n;
	if (n)
		__atomic_store_n(&pdesc(r, (unsigned int)(r->pk_next + RIG_QSIZE * 2 - n))->flags,
				 first, __ATOMIC_RELEASE);
}

/* Take the used buffers the device has written: one descriptor per buffer. */
static void packed_poll(struct rig *r)
{
	for (;;) {
		const struct vring_packed_desc *d = pdesc(r, r->pk_used);
		uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
		bool avail = f & VHU_PACKED_DESC_F_AVAIL, used = f & VHU_PACKED_DESC_F_USED;
		unsigned int skip;

		if (avail != used || used != r->pk_used_wrap)
			return;
		skip = d->id < RIG_QSIZE && r->pk_len[d->id] ? r->pk_len[d->id] : 1;
		r->pk_done++;
		r->pk_used = (uint16_t)(r->pk_used + skip);
		if (r->pk_used >= RIG_QSIZE) {
			r->pk_used = (uint16_t)(r->pk_used - RIG_QSIZE);
			r->pk_used_wrap = !r->pk_used_wrap;
		}
	}
}

/* The companion ring (ring 0 before the data queue 1): post @n device-writable buffers of @len. */
void rig_companion_post(struct rig *r, unsigned int n, uint32_t len)
{
	struct vring_desc *d = (struct vring_desc *)(void *)(r->mem + COMPANION_OFF + DESC_OFF);
	struct vring_avail *a = (struct vring_avail *)(void *)(r->mem + COMPANION_OFF + AVAIL_OFF);
	uint16_t idx = a->idx;

	for (unsigned int i = 0; i < n && i < RIG_QSIZE; i++) {
		uint64_t off = RIG_COMPANION_BUF_OFF + (uint64_t)i * SLOT_SIZE;

		memset(r->mem + off, PATTERN, len);
		d[i] = (struct vring_desc){ .addr = off, .len = len, .flags = VRING_DESC_F_WRITE };
		a->ring[idx++ % RIG_QSIZE] = (uint16_t)i;
	}
	__atomic_store_n(&a->idx, idx, __ATOMIC_RELEASE);
	if (write(r->kick2, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		perror("vhu-conform: kick");
}

/* The companion ring's used entry @n: its buffer (slot id) and the length written, or NULL. */
const uint8_t *rig_companion_used(const struct rig *r, uint16_t n, uint32_t *len)
{
	const struct vring_used *u =
		(const struct vring_used *)(const void *)(r->mem + COMPANION_OFF + USED_OFF);
	struct vring_used_elem e;

	if ((int16_t)(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) - n) <= 0)
		return NULL;
	e = u->ring[n % RIG_QSIZE];
	if (e.id >= RIG_QSIZE)
		return NULL;
	*len = e.len;
	return r->mem + RIG_COMPANION_BUF_OFF + e.id * SLOT_SIZE;
}

void rig_close(struct rig *r)
{
	int *fds[] = { &r->memfd, &r->kick, &r->call, &r->err, &r->kick2 };

	conn_close(&r->c);
	if (r->mem && r->mem != MAP_FAILED)
		munmap(r->mem, RIG_MEM_SIZE);
	r->mem = NULL;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The messages that set up ring @q, its areas @off bytes after the data queue's. */
static int ring_messages(struct ctx *cx, struct rig *r, unsigned int q, uint64_t off,
			 unsigned int flags, uint16_t base)
{
	struct vhost_vring_state st = { .index = q, .num = RIG_QSIZE };
	struct vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = RIG_UVA + off + DESC_OFF,
		.used_user_addr = RIG_UVA + off + USED_OFF,
		.avail_user_addr = RIG_UVA + off + AVAIL_OFF,
	};
	uint64_t idx = q;
	int ret;

	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0)) < 0)
		return fail(cx, "SET_VRING_NUM: %s", err_text(ret)), ret;
	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0)) < 0)
		return fail(cx, "SET_VRING_ADDR: %s", err_text(ret)), ret;
	st.num = base;
	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0)) < 0)
		return fail(cx, "SET_VRING_BASE: %s", err_text(ret)), ret;
	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_CALL, &idx, 8, &r->call, 1)) < 0)
		return fail(cx, "SET_VRING_CALL: %s", err_text(ret)), ret;
	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_ERR, &idx, 8, &r->err, 1)) < 0)
		return fail(cx, "SET_VRING_ERR: %s", err_text(ret)), ret;
	if (flags & RIG_NO_KICKFD)
		return 0;
	if ((ret = conn_set(&r->c, VHU_REQ_SET_VRING_KICK, &idx, 8,
			    q == r->q ? &r->kick : &r->kick2, 1)) < 0)
		return fail(cx, "SET_VRING_KICK: %s", err_text(ret)), ret;
	if ((flags & RIG_ENABLE) && (r->c.features & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		st.num = 1;
		ret = conn_set(&r->c, VHU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
		if (ret < 0)
			return fail(cx, "SET_VRING_ENABLE: %s", err_text(ret)), ret;
	}
	return 0;
}

/* A rig on the data queue, or n/a when the device type has none we drive. */
int rig_data(struct ctx *cx, struct rig *r, unsigned int flags, uint16_t base)
{
	if (rig_queue(cx) < 0) {
		if (cx->type)
			na(cx, "no data queue known for device type %s", cx->type);
		else
			na(cx, "device type unknown (--type, or --exec with --print-capabilities)");
		return -1;
	}
	return rig_setup(cx, r, flags, base);
}

int rig_setup(struct ctx *cx, struct rig *r, unsigned int flags, uint16_t base)
{
	uint64_t features = VHU_BIT(VIRTIO_F_VERSION_1);
	struct vhu_mem_table mt = { .nregions = 1 };
	int ret, q = rig_queue(cx);

	*r = (struct rig){
		.memfd = -1, .kick = -1, .call = -1, .err = -1, .kick2 = -1, .c = { .fd = -1 }
	};
	if (q < 0)
		return -ENOTSUP;
	r->q = (unsigned int)q;
	r->memfd = memfd_create("vhu-conform", MFD_CLOEXEC);
	r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->kick2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->memfd < 0 || r->kick < 0 || r->call < 0 || r->err < 0 || r->kick2 < 0 ||
	    ftruncate(r->memfd, RIG_MEM_SIZE) < 0) {
		ret = -errno;
		fail(cx, "memfd/eventfd: %s", strerror(errno));
		goto err;
	}
	r->mem = mmap(NULL, RIG_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	if (r->mem == MAP_FAILED) {
		ret = -errno;
		fail(cx, "mmap: %s", strerror(errno));
		goto err;
	}
	r->avail = base;
	((struct vring_avail *)(void *)(r->mem + AVAIL_OFF))->idx = base;
	((struct vring_used *)(void *)(r->mem + USED_OFF))->idx = base;
	if (!(flags & RIG_NO_PF))
		features |= VHU_BIT(VHU_F_PROTOCOL_FEATURES);
	if (flags & RIG_INDIRECT)
		features |= VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (flags & RIG_PACKED) {
		/* the wrap counters start at 1; SET_VRING_BASE carries the driver's in bit 15 */
		features |= VHU_BIT(VIRTIO_F_RING_PACKED);
		r->packed = true;
		r->pk_wrap = r->pk_used_wrap = true;
		base = (uint16_t)(base | 0x8000u);
	}
	ret = conn_negotiate(cx, &r->c, features,
			     VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK));
	if (ret < 0)
		goto err;
	if (r->packed && !(r->c.features & VHU_BIT(VIRTIO_F_RING_PACKED))) {
		ret = -ENOTSUP;
		na(cx, "VIRTIO_F_RING_PACKED not offered");
		goto err;
	}
	mt.regions[0] = (struct vhu_mem_region){ .guest_phys_addr = 0,
						 .memory_size = RIG_MEM_SIZE,
						 .userspace_addr = RIG_UVA };
	ret = conn_set(&r->c, VHU_REQ_SET_MEM_TABLE, &mt, 8 + sizeof(mt.regions[0]), &r->memfd, 1);
	if (ret < 0) {
		fail(cx, "SET_MEM_TABLE: %s", err_text(ret));
		goto err;
	}
	/*
	 * A net device runs a queue pair once both rings are set up (DPDK:
	 * virtio_is_ready()): the RX ring of the pair goes first, empty. For
	 * input, ring 0 is the event queue (the companion: rig_events()).
	 */
	if (r->q == 1) {
		ret = ring_messages(cx, r, 0, COMPANION_OFF, flags, r->packed ? 0x8000u : 0);
		if (ret < 0)
			goto err;
	}
	ret = ring_messages(cx, r, r->q, 0, flags, base);
	if (ret < 0)
		goto err;
	return 0;

err:
	rig_close(r);
	return ret;
}
