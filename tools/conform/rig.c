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

uint16_t rig_used_idx(const struct rig *r)
{
	const struct vring_used *u = (const struct vring_used *)(void *)(r->mem + USED_OFF);

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
		const struct vring_desc *d =
			(const struct vring_desc *)(void *)(r->mem + DESC_OFF) + i;
		const uint8_t *b = r->mem + RIG_BUF_OFF + i * SLOT_SIZE;

		if (!(d->flags & VRING_DESC_F_WRITE) || d->len > SLOT_SIZE)
			continue;
		for (uint32_t k = 0; k < d->len; k++)
			if (b[k] != PATTERN)
				return true;
	}
	return false;
}

/* One buffer in slot @i: device-readable (zeroed) or device-writable (pattern). */
static void slot(struct rig *r, unsigned int i, uint32_t len, bool writable, bool more)
{
	uint8_t *b = r->mem + RIG_BUF_OFF + i * SLOT_SIZE;

	memset(b, writable ? PATTERN : 0, len);
	rig_desc(r, i, RIG_BUF_OFF + i * SLOT_SIZE, len,
		 (uint16_t)((writable ? VRING_DESC_F_WRITE : 0) | (more ? VRING_DESC_F_NEXT : 0)),
		 (uint16_t)((i + 1) % RIG_QSIZE));
}

int rig_post(struct rig *r, const char *type)
{
	unsigned int head = (r->posted % 5) * 3;

	if (!strcmp(type, "blk")) {
		slot(r, head, 16, false, true); /* virtio_blk_outhdr: IN, sector 0 */
		slot(r, head + 1, 512, true, true);
		slot(r, head + 2, 1, true, false);
	} else if (!strcmp(type, "rng")) {
		slot(r, head, 64, true, false);
	} else if (!strcmp(type, "gpu")) {
		uint8_t *h = r->mem + RIG_BUF_OFF + head * SLOT_SIZE;

		slot(r, head, sizeof(struct virtio_gpu_ctrl_hdr), false, true);
		h[0] = VIRTIO_GPU_CMD_GET_DISPLAY_INFO & 0xff; /* le32 type */
		h[1] = VIRTIO_GPU_CMD_GET_DISPLAY_INFO >> 8;
		slot(r, head + 1, sizeof(struct virtio_gpu_resp_display_info), true, false);
	} else if (!strcmp(type, "input")) {
		uint8_t *e = r->mem + RIG_BUF_OFF + head * SLOT_SIZE;

		slot(r, head, 8, false, false); /* a status event: EV_LED LED_NUML 1 */
		e[0] = 0x11;
		e[4] = 1;
	} else if (!strcmp(type, "net")) {
		uint8_t *f = r->mem + RIG_BUF_OFF + head * SLOT_SIZE;

		slot(r, head, 12 + 60, false, false); /* virtio_net_hdr_v1, a frame */
		memset(f + 12, 0xff, 6);	      /* broadcast */
		memcpy(f + 18, "\x02\x00\x00\xc0\xf0\x01", 6);
		f[24] = 0x88;
		f[25] = 0xb5; /* local experimental ethertype */
	} else {
		return -ENOTSUP;
	}
	r->posted++;
	rig_publish(r, (uint16_t)head);
	return (int)head;
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
	ret = conn_negotiate(cx, &r->c, features,
			     VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK));
	if (ret < 0)
		goto err;
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
		ret = ring_messages(cx, r, 0, COMPANION_OFF, flags, 0);
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
