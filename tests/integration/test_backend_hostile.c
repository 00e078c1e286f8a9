/* SPDX-License-Identifier: MIT */
/*
 * A hostile front-end against lib/backend: one test per bug class of the
 * published vhost-user CVEs (PROTOCOL.md). Each asserts that the request
 * fails (a non-zero ack, or the failure answer of its row) with a logged
 * reason, that the connection still serves a GET_FEATURES afterwards, and
 * that no fd or memfd mapping was leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/vhost_types.h>

#include "rig.h"
#include "transport/transport.h"
#include "virtq/inflight.h"
#include <vhu/names.h>

#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)

struct hostile {
	struct rig r; /* first: tests cast state to struct rig * */
	unsigned int fds, maps;
};

static void baseline(struct hostile *h)
{
	h->fds = rig_count_fds();
	h->maps = rig_count_memfd_maps();
}

static int setup_with(void **state, uint64_t protocol)
{
	struct hostile *h = calloc(1, sizeof(*h));

	if (!h)
		return -1;
	/* the echo device allows what the test negotiates beyond the rig's set */
	h->r.backend_protocol =
		RIG_PROTOCOL |
		(protocol & (PF(INBAND_NOTIFICATIONS) | PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD)));
	if (protocol & PF(HOST_NOTIFIER))
		h->r.backend_flags = VHU_BACKEND_F_POLL; /* doorbell pages only when busy-polling */
	if (rig_start(&h->r, RIG_LISTEN) < 0 || rig_guest_init(&h->r, 1) < 0 ||
	    rig_negotiate(&h->r, SPLIT_FEATURES, protocol) < 0 || rig_set_mem_table(&h->r, 1) < 0)
		return -1;
	baseline(h);
	*state = h;
	return 0;
}

static int setup_all(void **state)
{
	return setup_with(state, RIG_PROTOCOL);
}

/* Only REPLY_ACK: every other protocol feature's requests are gated off. */
static int setup_ack_only(void **state)
{
	return setup_with(state, PF(REPLY_ACK));
}

static int teardown(void **state)
{
	struct hostile *h = *state;

	rig_stop(&h->r);
	free(h);
	return 0;
}

/* The connection still works, and nothing leaked. */
static void still_fine(struct hostile *h)
{
	uint64_t f = 0;

	assert_int_equal(vhu_fe_get_u64(&h->r.ch, VHU_REQ_GET_FEATURES, &f), 0);
	assert_int_equal(f, RIG_OFFERED);
	assert_int_equal(rig_count_fds(), h->fds);
	assert_int_equal(rig_count_memfd_maps(), h->maps);
}

static void msg_u64(struct vhu_msg *m, uint32_t request, uint64_t v)
{
	vhu_msg_init(m, request, 0, sizeof(uint64_t));
	m->payload.u64 = v;
}

static void msg_state(struct vhu_msg *m, uint32_t request, uint32_t index, uint32_t num)
{
	vhu_msg_init(m, request, 0, sizeof(struct vhost_vring_state));
	m->payload.state.index = index;
	m->payload.state.num = num;
}

/* @m fails with a non-zero ack and a log line containing @why; its fds are closed here. */
static void nack(struct hostile *h, struct vhu_msg *m, const char *why)
{
	int64_t ack;

	rig_log_clear(&h->r);
	ack = rig_acked(&h->r, m);
	if (ack <= 0)
		fail_msg("%s: ack %lld, expected a failure", vhu_request_name(m->hdr.request),
			 (long long)ack);
	if (why && !rig_log_has(&h->r, why))
		fail_msg("%s: no log line with \"%s\"", vhu_request_name(m->hdr.request), why);
	for (unsigned int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

/* @m is answered with a body (a VHU_REPLY_ALWAYS row); it goes to @reply. */
static void answered(struct hostile *h, struct vhu_msg *m, struct vhu_msg *reply)
{
	rig_log_clear(&h->r);
	assert_int_equal(
		rig_send_raw(h->r.sock, &m->hdr, &m->payload, m->hdr.size, m->fds, m->nfds), 0);
	for (unsigned int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
	assert_int_equal(rig_recv(&h->r, reply), 0);
	assert_int_equal(reply->hdr.request, m->hdr.request);
	assert_int_equal(reply->hdr.flags, VHU_VERSION | VHU_FLAG_REPLY);
	assert_int_equal(reply->nfds, 0);
}

static void attach_eventfds(struct vhu_msg *m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		m->fds[i] = rig_eventfd();
		assert_true(m->fds[i] >= 0);
	}
	m->nfds = n;
}

/* ---- CVE-2020-10723: ring indexes ------------------------------------------- */

static void vring_index_out_of_range(void **state)
{
	static const uint32_t state_reqs[] = { VHU_REQ_SET_VRING_NUM, VHU_REQ_SET_VRING_BASE,
					       VHU_REQ_SET_VRING_ENABLE };
	static const uint32_t fd_reqs[] = { VHU_REQ_SET_VRING_KICK, VHU_REQ_SET_VRING_CALL,
					    VHU_REQ_SET_VRING_ERR };
	static const uint32_t bad[] = { RIG_QUEUES, 256, 0xffffffff };
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	for (unsigned int b = 0; b < 3; b++) {
		for (unsigned int i = 0; i < 3; i++) {
			msg_state(&m, state_reqs[i], bad[b], 1);
			nack(h, &m, "does not exist");
		}
		vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
		m.payload.addr.index = bad[b];
		nack(h, &m, "does not exist");
		msg_state(&m, VHU_REQ_GET_VRING_BASE, bad[b], 0);
		answered(h, &m, &reply);
		assert_int_equal(reply.hdr.size, sizeof(struct vhost_vring_state));
		assert_int_equal(reply.payload.state.index, bad[b]);
		assert_int_equal(reply.payload.state.num, 0);
		assert_true(rig_log_has(&h->r, "does not exist"));
		/* kick/call/err: 8 bits of index (2, 255, 255 with reserved bits) */
		for (unsigned int i = 0; i < 3; i++) {
			msg_u64(&m, fd_reqs[i], bad[b] == 256 ? 255 : bad[b]);
			attach_eventfds(&m, 1);
			nack(h, &m, "does not exist");
		}
	}
	/* a good index with reserved bits set */
	msg_u64(&m, VHU_REQ_SET_VRING_CALL, 1ull << 16);
	attach_eventfds(&m, 1);
	nack(h, &m, "reserved bits");
	still_fine(h);
}

/* ---- ring sizes and setup values --------------------------------------------- */

static void vring_num_invalid(void **state)
{
	static const uint32_t bad[] = {
		0, 3, 100, RIG_MAX_QUEUE_SIZE * 2, 32768, 65536, 0xffffffff
	};
	struct hostile *h = *state;
	struct vhu_msg m;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg_state(&m, VHU_REQ_SET_VRING_NUM, 0, bad[i]);
		nack(h, &m, "ring size");
	}
	still_fine(h);
}

static void vring_setup_invalid(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;

	msg_state(&m, VHU_REQ_SET_VRING_NUM, 0, 8);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	/* misaligned, outside guest memory, unknown flags */
	vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
	m.payload.addr.desc_user_addr = FG_UVA_BASE + 1;
	m.payload.addr.avail_user_addr = FG_UVA_BASE + 4096;
	m.payload.addr.used_user_addr = FG_UVA_BASE + 8192;
	nack(h, &m, "misaligned");
	m.payload.addr.desc_user_addr = FG_UVA_BASE + FG_REGION_SIZE - 16;
	nack(h, &m, "not in guest memory");
	m.payload.addr.desc_user_addr = FG_UVA_BASE;
	m.payload.addr.flags = 0x2;
	nack(h, &m, "flags");
	msg_state(&m, VHU_REQ_SET_VRING_BASE, 0, 0x10000); /* split: 16 bits */
	nack(h, &m, "base");
	msg_state(&m, VHU_REQ_SET_VRING_ENABLE, 0, 2);
	nack(h, &m, "enable");
	msg_u64(&m, VHU_REQ_SET_STATUS, 0x100);
	nack(h, &m, "status");
	still_fine(h);
}

/* ---- SET_MEM_TABLE ----------------------------------------------------------- */

static void mem_table_msg(struct vhu_msg *m, uint32_t nregions, uint32_t size_regions)
{
	memset(m, 0, sizeof(*m)); /* a payload may run past the regions filled in */
	vhu_msg_init(m, VHU_REQ_SET_MEM_TABLE, 0,
		     (uint32_t)(offsetof(struct vhu_mem_table, regions) +
				size_regions * sizeof(struct vhu_mem_region)));
	m->payload.mem_table.nregions = nregions;
	for (unsigned int i = 0; i < size_regions && i < VHU_MEM_TABLE_MAX_REGIONS; i++) {
		rig_region(0, &m->payload.mem_table.regions[i]);
		m->payload.mem_table.regions[i].guest_phys_addr = i * FG_REGION_SIZE;
		m->payload.mem_table.regions[i].userspace_addr = FG_UVA_BASE + i * FG_UVA_STRIDE;
	}
}

/* dup()s of the guest's memfd: the back-end gets and must drop them. */
static void attach_memfds(struct hostile *h, struct vhu_msg *m, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		m->fds[i] = dup(h->r.memfd[0]);
		assert_true(m->fds[i] >= 0);
	}
	m->nfds = n;
}

static void mem_table_counts(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;

	mem_table_msg(&m, 1, 1); /* no fd */
	nack(h, &m, "memory table");
	mem_table_msg(&m, 1, 1);
	attach_memfds(h, &m, 2);
	nack(h, &m, "memory table");
	mem_table_msg(&m, 2, 2);
	attach_memfds(h, &m, 1);
	nack(h, &m, "memory table");
	/* nregions 9 in a payload of 8 regions, and a payload of 9 */
	mem_table_msg(&m, 9, 8);
	attach_memfds(h, &m, 8);
	nack(h, &m, "memory table");
	mem_table_msg(&m, 9, 8);
	m.hdr.size += sizeof(struct vhu_mem_region);
	attach_memfds(h, &m, 8);
	nack(h, &m, "payload size");
	/* sizes and counts agree, but the header's size disagrees */
	mem_table_msg(&m, 1, 2);
	attach_memfds(h, &m, 1);
	nack(h, &m, "memory table");
	still_fine(h);
}

static void mem_table_overflow(void **state)
{
	struct hostile *h = *state;
	struct vhu_mem_region *reg;
	struct vhu_msg m;

	for (unsigned int k = 0; k < 4; k++) {
		mem_table_msg(&m, 1, 1);
		reg = &m.payload.mem_table.regions[0];
		if (k == 0)
			reg->guest_phys_addr = UINT64_MAX - 4095;
		else if (k == 1)
			reg->userspace_addr = UINT64_MAX - 4095;
		else if (k == 2)
			reg->mmap_offset = UINT64_MAX - 4095;
		else
			reg->memory_size = 0;
		attach_memfds(h, &m, 1);
		nack(h, &m, "memory table");
	}
	still_fine(h);
}

static void mem_table_overlap(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;

	mem_table_msg(&m, 2, 2);
	m.payload.mem_table.regions[1].guest_phys_addr = 4096;
	attach_memfds(h, &m, 2);
	nack(h, &m, "memory table");
	still_fine(h);
}

static void mem_table_fd_too_small(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;
	int fd = memfd_create("vhu-small", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	mem_table_msg(&m, 1, 1);
	m.fds[0] = fd;
	m.nfds = 1;
	nack(h, &m, "memory table");
	/* the same through ADD_MEM_REG, and an fd that is not memory at all */
	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, 0, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	m.fds[0] = memfd_create("vhu-small", MFD_CLOEXEC);
	assert_int_equal(ftruncate(m.fds[0], 4096), 0);
	m.nfds = 1;
	nack(h, &m, "region");
	rig_region(1, &m.payload.mem_reg.region);
	attach_eventfds(&m, 1);
	nack(h, &m, "region");
	/* REM_MEM_REG of a region that is not there, with a stray fd */
	vhu_msg_init(&m, VHU_REQ_REM_MEM_REG, 0, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	attach_memfds(h, &m, 1);
	nack(h, &m, "no region");
	still_fine(h);
}

/* ---- CVE-2019-14818 / CVE-2022-0669: fds on requests that take none --------- */

static void stray_fds(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_SET_OWNER, 0, 0);
	attach_eventfds(&m, 1);
	nack(h, &m, "wrong number of fds");
	msg_u64(&m, VHU_REQ_SET_FEATURES, SPLIT_FEATURES);
	attach_eventfds(&m, 8);
	nack(h, &m, "wrong number of fds");
	msg_state(&m, VHU_REQ_SET_VRING_NUM, 0, 8);
	attach_memfds(h, &m, 1);
	nack(h, &m, "wrong number of fds");
	msg_u64(&m, VHU_REQ_SET_VRING_KICK, VHU_VRING_NOFD_MASK); /* NOFD, and an fd */
	attach_eventfds(&m, 1);
	nack(h, &m, "NOFD");
	msg_u64(&m, VHU_REQ_SET_VRING_CALL, 0); /* no NOFD, and no fd */
	nack(h, &m, "no fd");
	/* more fds than a message may carry: the kernel truncates, the request fails */
	{
		int fds[16];

		for (unsigned int i = 0; i < 16; i++) {
			fds[i] = rig_eventfd();
			assert_true(fds[i] >= 0);
		}
		vhu_msg_init(&m, VHU_REQ_SET_OWNER, VHU_FLAG_NEED_REPLY, 0);
		assert_int_equal(rig_send_raw(h->r.sock, &m.hdr, NULL, 0, fds, 16), 0);
		for (unsigned int i = 0; i < 16; i++)
			close(fds[i]);
		assert_int_equal(rig_recv(&h->r, &reply), 0);
		assert_int_equal(reply.hdr.size, sizeof(uint64_t));
		assert_true(reply.payload.u64 != 0);
		assert_true(rig_log_has(&h->r, "more fds than a message may carry"));
	}
	/* an always-answered row: the failure answer, fds closed */
	vhu_msg_init(&m, VHU_REQ_GET_FEATURES, 0, 0);
	attach_eventfds(&m, 3);
	answered(h, &m, &reply);
	assert_int_equal(reply.hdr.size, sizeof(uint64_t));
	assert_int_equal(reply.payload.u64, 0);
	still_fine(h);
}

/* ---- negotiation ----------------------------------------------------------- */

static void features_not_offered(void **state)
{
	static const uint64_t bad[] = { 1ull << 0, 1ull << 26 /* LOG_ALL */, 1ull << 40,
					1ull << 63 };
	static const uint64_t bad_pf[] = { PF(LOG_SHMFD), PF(PAGEFAULT), PF(INBAND_NOTIFICATIONS),
					   PF(CRYPTO_SESSION), 1ull << 63 };
	struct hostile *h = *state;
	struct vhu_msg m;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg_u64(&m, VHU_REQ_SET_FEATURES, SPLIT_FEATURES | bad[i]);
		nack(h, &m, "were not offered");
	}
	for (unsigned int i = 0; i < sizeof(bad_pf) / sizeof(bad_pf[0]); i++) {
		msg_u64(&m, VHU_REQ_SET_PROTOCOL_FEATURES, RIG_PROTOCOL | bad_pf[i]);
		nack(h, &m, "were not offered");
	}
	/* what was negotiated before still holds (REPLY_ACK: the acks above came) */
	assert_int_equal(__atomic_load_n(&h->r.dev.acked_features, __ATOMIC_ACQUIRE),
			 SPLIT_FEATURES & ~F_PROTOCOL);
	still_fine(h);
}

static void gated_requests(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_GET_QUEUE_NUM, 0, 0);
	answered(h, &m, &reply);
	assert_int_equal(reply.payload.u64, 0);
	assert_true(rig_log_has(&h->r, "VHOST_USER_PROTOCOL_F_MQ is not negotiated"));
	vhu_msg_init(&m, VHU_REQ_GET_MAX_MEM_SLOTS, 0, 0);
	answered(h, &m, &reply);
	assert_int_equal(reply.payload.u64, 0);
	vhu_msg_init(&m, VHU_REQ_GET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + 4);
	m.payload.config.size = 4;
	answered(h, &m, &reply);
	assert_int_equal(reply.hdr.size, VHU_CONFIG_HDR_SIZE);
	assert_int_equal(reply.payload.config.size, 0);
	vhu_msg_init(&m, VHU_REQ_SET_BACKEND_REQ_FD, 0, 0);
	attach_eventfds(&m, 1);
	nack(h, &m, "BACKEND_REQ is not negotiated");
	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, 0, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	attach_memfds(h, &m, 1);
	nack(h, &m, "CONFIGURE_MEM_SLOTS is not negotiated");
	vhu_msg_init(&m, VHU_REQ_RESET_DEVICE, 0, 0);
	nack(h, &m, "RESET_DEVICE is not negotiated");
	msg_u64(&m, VHU_REQ_SET_STATUS, 1);
	nack(h, &m, "STATUS is not negotiated");
	still_fine(h);
}

/* Requests of features the library never offers, each with its row's failure answer. */
static void never_offered(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	/* (inflight is offered now; its out-of-range requests still fail: CVE-2021-3839) */
	vhu_msg_init(&m, VHU_REQ_GET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight));
	m.payload.inflight.num_queues = 0xffff;
	answered(h, &m, &reply);
	assert_int_equal(reply.hdr.size, sizeof(struct vhu_inflight));
	assert_int_equal(reply.payload.inflight.mmap_size, 0);
	vhu_msg_init(&m, VHU_REQ_SET_INFLIGHT_FD, 0, sizeof(struct vhu_inflight));
	attach_memfds(h, &m, 1);
	nack(h, &m, "inflight for 0 queues");
	vhu_msg_init(&m, VHU_REQ_SET_LOG_BASE, 0, sizeof(struct vhu_log_area));
	m.payload.log.mmap_size = UINT64_MAX; /* CVE-2020-10722 */
	m.payload.log.mmap_offset = UINT64_MAX;
	attach_memfds(h, &m, 1);
	nack(h, &m, "no LOG_SHMFD"); /* not negotiated here: test_dirty_log has the rest */
	vhu_msg_init(&m, VHU_REQ_SET_LOG_FD, 0, 0);
	attach_eventfds(&m, 1);
	nack(h, &m, "LOG_SHMFD is not negotiated");
	msg_state(&m, VHU_REQ_VRING_KICK, 0, 0);
	nack(h, &m, "INBAND_NOTIFICATIONS is not negotiated");
	/* legacy big-endian rings: vhu's rings are little-endian only (virtio 1.0) */
	msg_state(&m, VHU_REQ_SET_VRING_ENDIAN, 0, 1);
	nack(h, &m, "CROSS_ENDIAN is not negotiated");
	vhu_msg_init(&m, VHU_REQ_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	nack(h, &m, "VIRTIO_F_ACCESS_PLATFORM is not negotiated");
	vhu_msg_init(&m, VHU_REQ_GET_SHMEM_CONFIG, 0, 0);
	answered(h, &m, &reply);
	assert_int_equal(reply.hdr.size, 8);
	assert_int_equal(reply.payload.shmem_config.nregions, 0);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_ADVISE, 0, 0);
	answered(h, &m, &reply);
	assert_int_equal(reply.hdr.size, 0);
	msg_u64(&m, VHU_REQ_CREATE_CRYPTO_SESSION, 0);
	answered(h, &m, &reply);
	assert_int_equal(reply.payload.u64, UINT64_MAX);
	vhu_msg_init(&m, VHU_REQ_CHECK_DEVICE_STATE, 0, 0);
	answered(h, &m, &reply);
	assert_true(reply.payload.u64 != 0);
	still_fine(h);
}

/* ---- config space ------------------------------------------------------------- */

static void config_bounds(void **state)
{
	static const uint32_t cases[][3] = {
		/* offset, size, hdr.size */
		{ 0xffffff00, 0x100, VHU_CONFIG_HDR_SIZE + 0x100 }, /* offset + size wraps */
		{ 200, 100, VHU_CONFIG_HDR_SIZE + 100 },	    /* past 256 */
		{ 0, 300, VHU_CONFIG_HDR_SIZE + 256 },		    /* size over 256 */
		{ 0, 16, VHU_CONFIG_HDR_SIZE + 8 },		    /* size and payload disagree */
		{ 0, 0xffffffff, VHU_CONFIG_HDR_SIZE },
	};
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vhu_msg_init(&m, VHU_REQ_GET_CONFIG, 0, cases[i][2]);
		m.payload.config.offset = cases[i][0];
		m.payload.config.size = cases[i][1];
		answered(h, &m, &reply);
		assert_int_equal(reply.hdr.size, VHU_CONFIG_HDR_SIZE);
		assert_int_equal(reply.payload.config.size, 0);
		assert_true(rig_log_has(&h->r, "config"));
		vhu_msg_init(&m, VHU_REQ_SET_CONFIG, 0, cases[i][2]);
		m.payload.config.offset = cases[i][0];
		m.payload.config.size = cases[i][1];
		nack(h, &m, "config");
	}
	/* a payload longer than any config: the row refuses it */
	vhu_msg_init(&m, VHU_REQ_GET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + 300);
	m.payload.config.size = 300;
	answered(h, &m, &reply);
	assert_int_equal(reply.payload.config.size, 0);
	assert_true(rig_log_has(&h->r, "payload size"));
	still_fine(h);
}

/* ---- the header --------------------------------------------------------------- */

static void unknown_requests(void **state)
{
	static const uint32_t ids[] = { 0, VHU_REQ_MAX, 45, 1000, 0xffffffff };
	struct hostile *h = *state;
	struct vhu_msg m;

	for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		msg_u64(&m, ids[i], 0);
		attach_eventfds(&m, 1);
		nack(h, &m, "unknown request");
	}
	still_fine(h);
}

static void bad_flags(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_SET_OWNER, VHU_FLAG_REPLY, 0);
	nack(h, &m, "bad header flags");
	vhu_msg_init(&m, VHU_REQ_SET_OWNER, 1u << 5, 0);
	nack(h, &m, "bad header flags");
	vhu_msg_init(&m, VHU_REQ_GET_FEATURES, 0, 0);
	m.hdr.flags = 2; /* version 2 */
	answered(h, &m, &reply);
	assert_int_equal(reply.payload.u64, 0);
	msg_u64(&m, VHU_REQ_SET_OWNER, 0); /* a payload where none belongs */
	nack(h, &m, "payload size");
	still_fine(h);
}

/* Only a message the stream cannot get past ends the connection; the next one is served. */
static void oversized_payload(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg_hdr hdr = { VHU_REQ_GET_FEATURES, VHU_VERSION, VHU_MAX_PAYLOAD + 1 };
	unsigned int resets = echo_count(&h->r.dev.resets);
	struct vhu_msg reply;

	assert_int_equal(rig_send_raw(h->r.sock, &hdr, NULL, 0, NULL, 0), 0);
	assert_int_equal(rig_recv(&h->r, &reply), -ECONNRESET);
	assert_true(echo_wait_count(&h->r.dev.resets, resets + 1, RIG_TIMEOUT_MS));
	assert_true(rig_log_has(&h->r, "closing the connection"));
	assert_int_equal(rig_reconnect(&h->r), 0);
	/* the old guest mappings went with the old connection */
	assert_int_equal(rig_count_memfd_maps(), h->maps - 1);
	h->maps--;
	still_fine(h);
}

/* ---- rings: a loop breaks its queue, and only its queue --------------------------- */

static void descriptor_loop(void **state)
{
	struct hostile *h = *state;
	struct rig *r = &h->r;
	struct drv_split *s = &r->q[0].split;
	uint64_t buf = r->data_gpa;
	uint32_t base = UINT32_MAX;

	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(rig_setup_split(r, 1, 8), 0);
	assert_int_equal(rig_echo(r, 0, 16, 1), 0);
	baseline(h);
	/* 0 -> 1 -> 0 ... */
	drv_split_set_desc(s, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	drv_split_set_desc(s, 1, buf, 16, VRING_DESC_F_NEXT, 0);
	drv_split_publish(s, 0);
	rig_kick(r, 0);
	assert_int_equal(rig_wait_fd(r->q[0].err, RIG_TIMEOUT_MS), 1);
	assert_true(rig_log_has(r, "queue 0 broken"));
	for (uint8_t i = 0; i < 4; i++)
		assert_int_equal(rig_echo(r, 1, 100, i), 0);
	/* a broken queue ignores kicks; GET_VRING_BASE still answers */
	rig_kick(r, 0);
	assert_int_equal(rig_get_vring_base(r, 0, &base), 0);
	assert_int_equal(base, 1); /* the bad chain was not consumed */
	/* a new setup of the ring starts clean */
	assert_int_equal(rig_setup_split(r, 0, 8), 0);
	assert_int_equal(rig_echo(r, 0, 16, 2), 0);
	assert_int_equal(rig_echo(r, 1, 16, 2), 0);
	still_fine(h);
}

/* ---- inflight region (GET/SET_INFLIGHT_FD): sizes, seals, running rings ------ */

static void msg_inflight(struct vhu_msg *m, uint32_t request, uint64_t size, uint64_t offset,
			 uint16_t nq, uint16_t qs)
{
	vhu_msg_init(m, request, 0, sizeof(struct vhu_inflight));
	m->payload.inflight.mmap_size = size;
	m->payload.inflight.mmap_offset = offset;
	m->payload.inflight.num_queues = nq;
	m->payload.inflight.queue_size = qs;
}

/* GET_INFLIGHT_FD, answered with the region's fd. Return: the fd (the test's). */
static int get_inflight(struct hostile *h, uint16_t nq, uint16_t qs, uint64_t *size)
{
	struct vhu_msg m, reply;

	msg_inflight(&m, VHU_REQ_GET_INFLIGHT_FD, 0, 0, nq, qs);
	assert_int_equal(rig_send_raw(h->r.sock, &m.hdr, &m.payload, m.hdr.size, NULL, 0), 0);
	assert_int_equal(rig_recv(&h->r, &reply), 0);
	assert_int_equal(reply.hdr.request, VHU_REQ_GET_INFLIGHT_FD);
	*size = reply.payload.inflight.mmap_size;
	if (*size == 0) {
		assert_int_equal(reply.nfds, 0);
		return -1;
	}
	assert_int_equal(reply.nfds, 1);
	assert_int_equal(reply.payload.inflight.num_queues, nq);
	assert_int_equal(reply.payload.inflight.queue_size, qs);
	return reply.fds[0];
}

static void inflight_get_bounds(void **state)
{
	struct hostile *h = *state;
	uint64_t size;

	/* more queues than the device has, none, rings larger than it takes */
	assert_int_equal(get_inflight(h, RIG_QUEUES + 1, 64, &size), -1);
	assert_true(rig_log_has(&h->r, "inflight for 3 queues"));
	assert_int_equal(get_inflight(h, 0, 64, &size), -1);
	assert_int_equal(get_inflight(h, 1, RIG_MAX_QUEUE_SIZE + 1, &size), -1);
	assert_int_equal(get_inflight(h, 1, 0, &size), -1);
	still_fine(h);
}

static void inflight_set_checks(void **state)
{
	struct hostile *h = *state;
	uint64_t size;
	int fd = get_inflight(h, RIG_QUEUES, 64, &size), seals, plain;
	struct vhu_msg m;

	assert_true(fd >= 0);
	/* one area per queue, each for the packed layout, 64-byte aligned */
	assert_int_equal(size, RIG_QUEUES * ((32 + 32 * 64 + 63) / 64 * 64));
	seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_GROW);

	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size - 1, 0, RIG_QUEUES, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	nack(h, &m, "needed");
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 100, RIG_QUEUES, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	nack(h, &m, "inflight offset");
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 4096, RIG_QUEUES, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	nack(h, &m, "smaller than its region");
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 0, RIG_QUEUES + 1, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	nack(h, &m, "inflight for 3 queues");
	/* a memfd the front-end could shrink under our mapping (SIGBUS) */
	plain = memfd_create("plain", MFD_CLOEXEC);
	assert_true(plain >= 0);
	assert_int_equal(ftruncate(plain, (off_t)size), 0);
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 0, RIG_QUEUES, 64);
	m.fds[0] = plain;
	m.nfds = 1;
	nack(h, &m, "can shrink");

	/* the real thing is taken; a running ring refuses a new one */
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 0, RIG_QUEUES, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	assert_int_equal(rig_acked(&h->r, &m), 0);
	close(m.fds[0]);
	assert_int_equal(rig_setup_split(&h->r, 0, 64), 0);
	assert_int_equal(rig_echo(&h->r, 0, 100, 1), 0);
	baseline(h); /* the ring's eventfds and the back-end's inflight mapping */
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 0, RIG_QUEUES, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	nack(h, &m, "inflight region not replaced");
	still_fine(h);
	close(fd);
}

/* Mappings of the back-end's inflight memfds in this process. */
static unsigned int inflight_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned int n = 0;
	char line[512];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:vhu-inflight") != NULL;
	fclose(f);
	return n;
}

/* What the rings record reaches the front-end's copy; the mapping ends with the connection. */
static void inflight_region_tracks(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;
	uint64_t size;
	int fd = get_inflight(h, 1, 64, &size);
	const struct vhu_inflight_split *region;
	const uint8_t *map;

	assert_true(fd >= 0);
	msg_inflight(&m, VHU_REQ_SET_INFLIGHT_FD, size, 0, 1, 64);
	m.fds[0] = dup(fd);
	m.nfds = 1;
	assert_int_equal(rig_acked(&h->r, &m), 0);
	close(m.fds[0]);
	assert_int_equal(rig_setup_split(&h->r, 0, 64), 0);
	for (unsigned int i = 0; i < 5; i++)
		assert_int_equal(rig_echo(&h->r, 0, 64, (uint8_t)i), 0);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	/* QueueRegionSplit: version 1, desc_num 64, used_idx 5, nothing in flight */
	region = (const void *)map;
	assert_int_equal(region->version, 1);
	assert_int_equal(region->desc_num, 64);
	assert_int_equal(region->used_idx, 5);
	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(region->desc[i].inflight, 0);
	munmap((void *)map, size);
	close(fd);
	/* the back-end maps it until the connection ends */
	assert_int_equal(inflight_maps(), 1);
	assert_int_equal(rig_reconnect(&h->r), 0);
	for (unsigned int i = 0; i < 200 && inflight_maps() > 0; i++)
		usleep(10000);
	assert_int_equal(inflight_maps(), 0);
}

/* ---- the device IOTLB (issue 17) ------------------------------------------ */

static void msg_iotlb(struct vhu_msg *m, uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr,
		      uint8_t perm)
{
	vhu_msg_init(m, VHU_REQ_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	memset(&m->payload.iotlb, 0, sizeof(m->payload.iotlb));
	m->payload.iotlb.iova = iova;
	m->payload.iotlb.size = size;
	m->payload.iotlb.uaddr = uaddr;
	m->payload.iotlb.perm = perm;
	m->payload.iotlb.type = type;
}

/* Every hostile IOTLB_MSG fails alone with a reason; the connection stays. */
static void iotlb_hostile(void **state)
{
	struct hostile *h = *state;
	struct vhu_mem_region reg;
	uint64_t uva;
	struct vhu_msg m;

	rig_region(0, &reg);
	uva = reg.userspace_addr;
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "VIRTIO_F_ACCESS_PLATFORM is not negotiated");
	msg_u64(&m, VHU_REQ_SET_FEATURES, SPLIT_FEATURES | F_ACCESS_PLATFORM);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0, uva, VHOST_ACCESS_RW);
	nack(h, &m, "size 0, a range that wraps");
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, UINT64_MAX - 0xff, 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "size 0, a range that wraps");
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0x1000, uva, 0);
	nack(h, &m, "not RO, WO or RW");
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0x1000, uva, 0x84);
	nack(h, &m, "not RO, WO or RW");
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0x1000, 0x1234, VHOST_ACCESS_RW);
	nack(h, &m, "is not in one memory region");
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, reg.memory_size + 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "is not in one memory region");
	msg_iotlb(&m, VHOST_IOTLB_MISS, 0x10000, 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "sent by the back-end");
	msg_iotlb(&m, VHOST_IOTLB_ACCESS_FAIL, 0x10000, 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "sent by the back-end");
	msg_iotlb(&m, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0);
	nack(h, &m, "unknown IOTLB message type 5");
	msg_iotlb(&m, 0xff, 0x10000, 0x1000, uva, VHOST_ACCESS_RW);
	nack(h, &m, "unknown IOTLB message type 255");
	/* INVALIDATE of what was never mapped, of everything: fine */
	msg_iotlb(&m, VHOST_IOTLB_INVALIDATE, 0x990000, 0x1000, 0, 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	msg_iotlb(&m, VHOST_IOTLB_INVALIDATE, 0, 0, 0, 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	/* a good UPDATE, the same again, and one that overlaps it (newest wins) */
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x10000, 0x2000, uva, VHOST_ACCESS_RW);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	msg_iotlb(&m, VHOST_IOTLB_UPDATE, 0x11000, 0x2000, uva + 0x4000, VHOST_ACCESS_RO);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	msg_iotlb(&m, VHOST_IOTLB_INVALIDATE, 0, UINT64_MAX, 0, 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	still_fine(h);
}

/* ---- in-band notifications ---------------------------------------------------- */

static int setup_inband(void **state)
{
	return setup_with(state, RIG_PROTOCOL | PF(INBAND_NOTIFICATIONS));
}

/* VRING_KICK (spec: "In-band notifications"): a bad ring, a stopped one, num not 0. */
static void inband_kick(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m;

	msg_state(&m, VHU_REQ_VRING_KICK, 200, 0);
	nack(h, &m, NULL);
	msg_state(&m, VHU_REQ_VRING_KICK, 0, 0);
	nack(h, &m, "ring 0 is not started");
	assert_int_equal(rig_setup_split(&h->r, 0, 8), 0);
	baseline(h);
	msg_state(&m, VHU_REQ_VRING_KICK, 0, 1);
	nack(h, &m, "reserved num 1");
	/* the front-end's kick fd is written: its worker wakes */
	msg_state(&m, VHU_REQ_VRING_KICK, 0, 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	/* NOFD: an eventfd of the back-end's own takes the place of the rig's */
	assert_int_equal(rig_vring_fd(&h->r, VHU_REQ_SET_VRING_KICK, VHU_VRING_NOFD_MASK, -1), 0);
	msg_state(&m, VHU_REQ_VRING_KICK, 0, 0);
	assert_int_equal(rig_acked(&h->r, &m), 0);
	still_fine(h);
}

/* spec: in-band without BACKEND_REQ and REPLY_ACK: the back-end closes the connection. */
static void inband_needs_channel(void **state)
{
	struct hostile *h = *state;
	struct vhu_msg m, reply;

	msg_u64(&m, VHU_REQ_SET_PROTOCOL_FEATURES, PF(REPLY_ACK) | PF(INBAND_NOTIFICATIONS));
	nack(h, &m, "INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK");
	assert_true(rig_recv(&h->r, &reply) < 0); /* the end of the stream */
}

/* ---- host notifiers (issue 20) ------------------------------------------------ */

static int setup_notifier(void **state)
{
	return setup_with(state, RIG_PROTOCOL | PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD));
}

/* Hand the back-end a channel; our end, with 3 s timeouts. */
static int chan_open(struct hostile *h)
{
	struct vhu_msg m;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vhu_msg_init(&m, VHU_REQ_SET_BACKEND_REQ_FD, 0, 0);
	m.fds[0] = sv[1];
	m.nfds = 1;
	assert_int_equal(rig_acked(&h->r, &m), 0);
	close(sv[1]);
	assert_int_equal(vhu_sock_set_timeouts(sv[0], 3000), 0);
	return sv[0];
}

/* The back-end's doorbell page for ring @qi, as the spec and our front-end want it. */
static int notifier_recv(int chan, unsigned int qi)
{
	struct vhu_msg m;

	assert_int_equal(vhu_msg_recv(chan, &m), 0);
	assert_int_equal(m.hdr.request, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG);
	assert_true(m.hdr.flags & VHU_FLAG_NEED_REPLY);
	assert_int_equal(m.hdr.size, sizeof(struct vhu_vring_area));
	assert_int_equal(m.payload.area.u64, qi); /* no NOFD */
	assert_int_equal(m.payload.area.size, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(m.payload.area.offset, 0);
	assert_int_equal(m.nfds, 1);
	assert_true(fcntl(m.fds[0], F_GET_SEALS) & F_SEAL_SHRINK);
	return vhu_msg_take_fd(&m, 0);
}

/* fds of this process that are doorbell pages (memfd "vhu-doorbell"). */
static unsigned int doorbell_fds(void)
{
	char path[64], target[128];
	unsigned int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += strstr(target, "memfd:vhu-doorbell") != NULL;
	}
	return n;
}

static void chan_answer(int chan, uint64_t v)
{
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG, VHU_FLAG_REPLY, sizeof(uint64_t));
	m.payload.u64 = v;
	assert_int_equal(vhu_msg_send(chan, &m), 0);
}

/*
 * A front-end that answers the doorbell page late, accepts it, then refuses
 * one. Late: a pausing request the front-end waits for comes first, and the
 * worker must let the ack go (owed) rather than keep the control thread
 * from answering; the page comes again after the pause. Accepted: a kick
 * stored into it is counted. Refused: not asked again on the connection.
 * The ring works throughout (it is polled), and no page is left behind.
 */
static void notifier_acks(void **state)
{
	struct hostile *h = *state;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct vhu_kick_counts k;
	struct pollfd p;
	uint16_t *page;
	uint32_t base;
	unsigned int settled;
	int chan = chan_open(h), fd;

	assert_int_equal(rig_setup_split(&h->r, 0, 8), 0);
	fd = notifier_recv(chan, 0);
	close(fd);
	/* unanswered: a request that pauses ring 0 is still answered */
	assert_int_equal(rig_vring_state(&h->r, VHU_REQ_SET_VRING_ENABLE, 0, 1), 0);
	chan_answer(chan, 0);	     /* the owed ack, late */
	fd = notifier_recv(chan, 0); /* asked again after the pause */
	chan_answer(chan, 0);
	page = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(page != MAP_FAILED);
	for (int n = 0; n < 300; n++) {
		assert_int_equal(vhu_backend_queue_kicks(h->r.be, 0, &k), 0);
		if (k.mapped)
			break;
		usleep(10000);
	}
	assert_true(k.mapped);
	__atomic_store_n(page, 0, __ATOMIC_RELEASE); /* a driver's kick of ring 0 */
	for (int n = 0; n < 300 && k.doorbell == 0; n++) {
		usleep(10000);
		assert_int_equal(vhu_backend_queue_kicks(h->r.be, 0, &k), 0);
	}
	assert_int_equal(k.doorbell, 1);
	assert_int_equal(rig_echo(&h->r, 0, 4, 1), 0);
	munmap(page, pg);
	close(fd);

	/* stopped: the page goes; started again: a new one, refused this time */
	assert_int_equal(rig_get_vring_base(&h->r, 0, &base), 0);
	assert_int_equal(vhu_backend_queue_kicks(h->r.be, 0, &k), 0);
	assert_false(k.mapped);
	rig_log_clear(&h->r);
	assert_int_equal(rig_restart(&h->r, 0, base), 0);
	fd = notifier_recv(chan, 0);
	close(fd);
	chan_answer(chan, 1);
	for (int n = 0; n < 300 && !rig_log_has(&h->r, "refused by the front-end"); n++)
		usleep(10000);
	assert_true(rig_log_has(&h->r, "refused by the front-end"));
	assert_int_equal(doorbell_fds(), 0);
	assert_int_equal(rig_echo(&h->r, 0, 4, 2), 0);
	assert_int_equal(rig_get_vring_base(&h->r, 0, &base), 0);
	settled = rig_count_fds(); /* a stopped ring's fds and the channel: no page */
	assert_int_equal(rig_restart(&h->r, 0, base), 0);
	assert_int_equal(rig_echo(&h->r, 0, 4, 3), 0);
	p = (struct pollfd){ .fd = chan, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 100), 0); /* not asked again */
	assert_int_equal(rig_get_vring_base(&h->r, 0, &base), 0);
	assert_int_equal(rig_count_fds(), settled);
	assert_int_equal(doorbell_fds(), 0);
	assert_int_equal(rig_count_memfd_maps(), h->maps); /* as before the channel */
	close(chan);
}

int main(void)
{

#define T(f) cmocka_unit_test_setup_teardown(f, setup_all, teardown)
#define A(f) cmocka_unit_test_setup_teardown(f, setup_ack_only, teardown)
	const struct CMUnitTest tests[] = {
		T(vring_index_out_of_range),
		T(vring_num_invalid),
		T(vring_setup_invalid),
		T(mem_table_counts),
		T(mem_table_overflow),
		T(mem_table_overlap),
		T(mem_table_fd_too_small),
		T(stray_fds),
		T(features_not_offered),
		A(gated_requests),
		T(never_offered),
		T(config_bounds),
		T(unknown_requests),
		T(bad_flags),
		T(oversized_payload),
		T(descriptor_loop),
		T(inflight_get_bounds),
		T(inflight_set_checks),
		T(inflight_region_tracks),
		T(iotlb_hostile),
		cmocka_unit_test_setup_teardown(inband_kick, setup_inband, teardown),
		cmocka_unit_test_setup_teardown(inband_needs_channel, setup_inband, teardown),
		cmocka_unit_test_setup_teardown(notifier_acks, setup_notifier, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
