/* SPDX-License-Identifier: MIT */
/*
 * Live migration's dirty-page log against lib/backend: a front-end shares a
 * log (SET_LOG_BASE with LOG_SHMFD), turns VHOST_F_LOG_ALL on, asks the ring
 * to log (VHOST_VRING_F_LOG), and the echo device's writes must show up as
 * bits: the page it wrote into and the used ring's page, never the page it
 * only read, and nothing once logging is off. Then the hostile cases: logs
 * that are too small, unmappable, truncatable or past their fd, a
 * log_guest_addr outside memory, LOG_ALL toggled under a running ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"
#include "transport/transport.h"

#define F_LOG_ALL (1ull << 26)
#define SPLIT_FEATURES (F_VERSION_1 | F_PROTOCOL | F_EVENT_IDX | F_INDIRECT)
#define PROTOCOL (RIG_PROTOCOL | PF(LOG_SHMFD) | PF(PAGEFAULT))
#define LOG_BYTES (FG_REGION_SIZE / 4096 / 8) /* one bit per page of the guest */
#define FAR_GPA (FG_REGION_SIZE * 3 / 4)      /* a buffer past what the rig allocates */

struct dl {
	struct rig r; /* first */
	int log_fd;
	uint8_t *log;
	unsigned int fds, maps;
};

static int setup_features(void **state, uint64_t features)
{
	struct dl *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	d->r.backend_protocol = PROTOCOL;
	d->fds = rig_count_fds();
	d->maps = rig_count_memfd_maps();
	if (rig_start(&d->r, RIG_LISTEN) < 0 || rig_guest_init(&d->r, 1) < 0 ||
	    rig_negotiate(&d->r, features, PROTOCOL) < 0 || rig_set_mem_table(&d->r, 1) < 0)
		return -1;
	if ((features & F_RING_PACKED) ? rig_setup_packed(&d->r, 0, 64) < 0
				       : rig_setup_split(&d->r, 0, 64) < 0)
		return -1;
	d->log_fd = -1;
	*state = d;
	return 0;
}

static int setup_split(void **state)
{
	return setup_features(state, SPLIT_FEATURES);
}

static int setup_packed(void **state)
{
	return setup_features(state, SPLIT_FEATURES | F_RING_PACKED);
}

static int teardown(void **state)
{
	struct dl *d = *state;

	if (d->log)
		munmap(d->log, LOG_BYTES);
	if (d->log_fd >= 0)
		close(d->log_fd);
	rig_stop(&d->r);
	/* the back-end let go of the log's fd and mapping with the connection */
	assert_int_equal(rig_count_fds(), d->fds);
	assert_int_equal(rig_count_memfd_maps(), d->maps);
	free(d);
	return 0;
}

/* A memfd of @file_size, sealable or not; mapped into d->log when @map. */
static int log_memfd(struct dl *d, uint64_t file_size, bool sealable, bool map)
{
	int fd = memfd_create("vhu-test-log", MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0));

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)file_size), 0);
	if (map) {
		d->log = mmap(NULL, LOG_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(d->log != MAP_FAILED);
		d->log_fd = fd;
	}
	return fd;
}

/*
 * SET_LOG_BASE: its answer is a u64 (0 or the errno) whatever NEED_REPLY
 * says. Consumes @fd (unless it is d->log_fd, which stays open).
 */
static int64_t set_log_base(struct dl *d, int fd, uint64_t size, uint64_t offset)
{
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_SET_LOG_BASE, 0, sizeof(struct vhu_log_area));
	m.payload.log.mmap_size = size;
	m.payload.log.mmap_offset = offset;
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, &fd, 1), 0);
	if (fd != d->log_fd)
		close(fd);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	assert_int_equal(reply.hdr.request, VHU_REQ_SET_LOG_BASE);
	assert_int_equal(reply.hdr.size, sizeof(uint64_t));
	return (int64_t)reply.payload.u64;
}

static void set_features(struct dl *d, uint64_t features)
{
	assert_int_equal(vhu_fe_set_u64(&d->r.ch, VHU_REQ_SET_FEATURES, features), 0);
}

static bool page_marked(const struct dl *d, uint64_t gpa)
{
	uint64_t page = gpa / 4096;

	return __atomic_load_n(&d->log[page / 8], __ATOMIC_RELAXED) & (1u << (page % 8));
}

static unsigned int pages_marked(const struct dl *d)
{
	unsigned int n = 0;

	for (uint64_t i = 0; i < LOG_BYTES; i++)
		n += (unsigned int)__builtin_popcount(d->log[i]);
	return n;
}

static uint64_t used_gpa(const struct dl *d)
{
	const struct rig_queue *q = &d->r.q[0];

	return q->is_packed ? q->packed.desc_gpa : q->split.used_gpa;
}

/* Logging on, as QEMU turns it on: the log, LOG_ALL, the ring's flag. */
static void logging_on(struct dl *d, uint64_t features)
{
	int fd = log_memfd(d, LOG_BYTES, true, true);

	assert_int_equal(set_log_base(d, fd, LOG_BYTES, 0), 0);
	set_features(d, features | F_LOG_ALL);
	assert_int_equal(rig_ring_addr_log(&d->r, 0, 1u << VHOST_VRING_F_LOG, used_gpa(d)), 0);
}

static void offered(void **state)
{
	struct dl *d = *state;
	uint64_t f = 0, pf = 0;

	assert_int_equal(vhu_fe_get_u64(&d->r.ch, VHU_REQ_GET_FEATURES, &f), 0);
	assert_true(f & F_LOG_ALL);
	assert_int_equal(vhu_fe_get_u64(&d->r.ch, VHU_REQ_GET_PROTOCOL_FEATURES, &pf), 0);
	assert_true(pf & PF(LOG_SHMFD));
}

/* The device's writes are marked, its reads are not, and off means off. */
static void marks(struct dl *d, uint64_t features)
{
	uint64_t out = d->r.data_gpa, in = out + 8192;

	logging_on(d, features);
	memset(d->log, 0, LOG_BYTES);
	assert_int_equal(rig_echo(&d->r, 0, 100, 7), 0);
	assert_true(page_marked(d, in));
	assert_false(page_marked(d, out));
	assert_true(page_marked(d, used_gpa(d)));
	/* a write that spans two pages marks both */
	memset(d->log, 0, LOG_BYTES);
	assert_int_equal(rig_echo_at(&d->r, 0, out, in + 4096 - 10, 20, 8), 0);
	assert_true(page_marked(d, in) && page_marked(d, in + 4096));
	/* off: nothing more */
	set_features(d, features);
	memset(d->log, 0, LOG_BYTES);
	assert_int_equal(rig_echo(&d->r, 0, 100, 9), 0);
	assert_int_equal(pages_marked(d), 0);
	/* on again, and GET_VRING_BASE marks the whole used area */
	set_features(d, features | F_LOG_ALL);
	memset(d->log, 0, LOG_BYTES);
	assert_int_equal(rig_get_vring_base(&d->r, 0, &(uint32_t){ 0 }), 0);
	assert_true(page_marked(d, used_gpa(d)));
}

static void marks_split(void **state)
{
	marks(*state, SPLIT_FEATURES);
}

static void marks_packed(void **state)
{
	marks(*state, SPLIT_FEATURES | F_RING_PACKED);
}

/* A ring without the flag logs its data, not its own writes. */
static void ring_flag_off(void **state)
{
	struct dl *d = *state;

	logging_on(d, SPLIT_FEATURES);
	assert_int_equal(rig_ring_addr_log(&d->r, 0, 0, 0), 0);
	memset(d->log, 0, LOG_BYTES);
	assert_int_equal(rig_echo(&d->r, 0, 100, 7), 0);
	assert_true(page_marked(d, d->r.data_gpa + 8192));
	assert_false(page_marked(d, used_gpa(d)));
}

/* Each bad log fails its request with a reason; the connection goes on. */
static void bad_logs(void **state)
{
	struct dl *d = *state;
	int fd;

	rig_log_clear(&d->r);
	assert_int_equal(set_log_base(d, log_memfd(d, LOG_BYTES, true, false), 0, 0), EINVAL);
	assert_true(rig_log_has(&d->r, "is invalid"));
	/* CVE-2020-10722: sizes that wrap */
	assert_int_equal(
		set_log_base(d, log_memfd(d, LOG_BYTES, true, false), UINT64_MAX, UINT64_MAX),
		EINVAL);
	/* past the end of its file, by size or by offset */
	rig_log_clear(&d->r);
	assert_int_equal(set_log_base(d, log_memfd(d, LOG_BYTES, true, false), LOG_BYTES * 2, 0),
			 EINVAL);
	assert_true(rig_log_has(&d->r, "does not fit"));
	assert_int_equal(set_log_base(d, log_memfd(d, LOG_BYTES, true, false), LOG_BYTES, 4096),
			 EINVAL);
	/* a file that could shrink under the mapping (a SIGBUS) */
	rig_log_clear(&d->r);
	assert_int_equal(set_log_base(d, log_memfd(d, LOG_BYTES, false, false), LOG_BYTES, 0),
			 EPERM);
	assert_true(rig_log_has(&d->r, "cannot be sealed"));
	/* not a file at all */
	fd = rig_eventfd();
	assert_true(set_log_base(d, fd, LOG_BYTES, 0) != 0);
	/* no fd */
	{
		struct vhu_msg m;

		vhu_msg_init(&m, VHU_REQ_SET_LOG_BASE, VHU_FLAG_NEED_REPLY,
			     sizeof(struct vhu_log_area));
		m.payload.log.mmap_size = LOG_BYTES;
		assert_true(rig_acked(&d->r, &m) != 0);
	}
	/* a good one after all that, and the front-end cannot truncate it now */
	fd = log_memfd(d, LOG_BYTES, true, true);
	assert_int_equal(set_log_base(d, fd, LOG_BYTES, 0), 0);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rig_echo(&d->r, 0, 10, 1), 0);
}

/* A log too small for the page written breaks the queue, not the process. */
static void log_too_small(void **state)
{
	struct dl *d = *state;
	int fd = log_memfd(d, LOG_BYTES, true, true);
	uint32_t base = 0;

	/* one byte: pages 0-7 only; the buffer written lies beyond, at 768 KiB */
	assert_true(d->r.fg.next_gpa < FAR_GPA);
	assert_int_equal(set_log_base(d, fd, 1, 0), 0);
	set_features(d, SPLIT_FEATURES | F_LOG_ALL);
	rig_log_clear(&d->r);
	assert_true(rig_echo_at(&d->r, 0, d->r.data_gpa, FAR_GPA, 100, 7) < 0);
	assert_int_equal(rig_wait_fd(d->r.q[0].err, 2000), 1);
	assert_true(rig_log_has(&d->r, "past the log"));
	/* nothing past the log's end was written: the byte after it is still 0 */
	assert_int_equal(d->log[1], 0);
	/* the connection goes on: stop the ring, logging off, start it again */
	assert_int_equal(rig_get_vring_base(&d->r, 0, &base), 0);
	set_features(d, SPLIT_FEATURES);
	assert_int_equal(rig_restart(&d->r, 0, base), 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 8), 0);
}

static void log_guest_addr_outside(void **state)
{
	struct dl *d = *state;

	logging_on(d, SPLIT_FEATURES);
	rig_log_clear(&d->r);
	assert_int_equal(rig_ring_addr_log(&d->r, 0, 1u << VHOST_VRING_F_LOG, 1ull << 40), -EIO);
	assert_true(rig_log_has(&d->r, "log_guest_addr"));
	/* unknown flags */
	assert_int_equal(rig_ring_addr_log(&d->r, 0, 6, used_gpa(d)), -EIO);
	assert_int_equal(rig_ring_addr_log(&d->r, 0, 1u << VHOST_VRING_F_LOG, used_gpa(d)), 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 7), 0);
}

/* LOG_ALL on and off while the ring runs: every request completes. */
static void toggle_while_running(void **state)
{
	struct dl *d = *state;

	logging_on(d, SPLIT_FEATURES);
	for (unsigned int i = 0; i < 200; i++) {
		set_features(d, SPLIT_FEATURES | ((i & 1) ? F_LOG_ALL : 0));
		memset(d->log, 0, LOG_BYTES);
		assert_int_equal(rig_echo(&d->r, 0, 64, (uint8_t)i), 0);
		assert_int_equal(page_marked(d, d->r.data_gpa + 8192), (bool)(i & 1));
	}
}

/* Without LOG_SHMFD negotiated there is no log to take. */
static void without_shmfd(void **state)
{
	struct dl *d = *state;
	struct vhu_msg m;

	(void)d;
	assert_int_equal(vhu_fe_set_u64(&d->r.ch, VHU_REQ_SET_PROTOCOL_FEATURES, RIG_PROTOCOL), 0);
	d->r.ch.protocol_features = RIG_PROTOCOL;
	vhu_msg_init(&m, VHU_REQ_SET_LOG_BASE, VHU_FLAG_NEED_REPLY, sizeof(struct vhu_log_area));
	m.payload.log.mmap_size = LOG_BYTES;
	m.fds[0] = log_memfd(d, LOG_BYTES, true, false);
	m.nfds = 1;
	rig_log_clear(&d->r);
	assert_true(rig_acked(&d->r, &m) != 0);
	close(m.fds[0]);
	assert_true(rig_log_has(&d->r, "LOG_SHMFD"));
}

/*
 * Postcopy messages out of order fail with a reason; ADVISE answers one
 * userfaultfd; END closes it; a repeated ADVISE replaces the first.
 */
static void postcopy_order(void **state)
{
	struct dl *d = *state;
	struct vhu_msg m, reply;

	rig_log_clear(&d->r);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_LISTEN, VHU_FLAG_NEED_REPLY, 0);
	assert_true(rig_acked(&d->r, &m) != 0);
	assert_true(rig_log_has(&d->r, "before POSTCOPY_ADVISE"));
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_true(rig_acked(&d->r, &m) != 0);
	for (int i = 0; i < 2; i++) {
		vhu_msg_init(&m, VHU_REQ_POSTCOPY_ADVISE, 0, 0);
		rig_log_clear(&d->r);
		assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, NULL, 0, NULL, 0), 0);
		assert_int_equal(rig_recv(&d->r, &reply), 0);
		assert_int_equal(reply.hdr.request, VHU_REQ_POSTCOPY_ADVISE);
		assert_int_equal(reply.hdr.size, 0);
		/* valgrind does not know userfaultfd(2): the advice fails, as it must */
		if (reply.nfds == 0 && getenv("VHU_UNDER_VALGRIND") &&
		    rig_log_has(&d->r, "no userfaultfd")) {
			print_message("postcopy_order: no userfaultfd under valgrind, the rest "
				      "runs in the other builds\n");
			return;
		}
		assert_int_equal(reply.nfds, 1);
		close(reply.fds[0]);
	}
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_LISTEN, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
	/* ended: END again is out of order, and the ring still works */
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_true(rig_acked(&d->r, &m) != 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 3), 0);
	/*
	 * END after ADVISE without LISTEN (a migration given up before the
	 * switch-over) is the cleanup it asks for, not an error: the
	 * userfaultfd closes, and a LISTEN after it is out of order again.
	 */
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_ADVISE, 0, 0);
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, NULL, 0, NULL, 0), 0);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	assert_int_equal(reply.nfds, 1);
	close(reply.fds[0]);
	rig_log_clear(&d->r);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
	assert_true(rig_log_has(&d->r, "postcopy: ended"));
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_LISTEN, VHU_FLAG_NEED_REPLY, 0);
	assert_true(rig_acked(&d->r, &m) != 0);
	assert_true(rig_log_has(&d->r, "before POSTCOPY_ADVISE"));
	assert_int_equal(rig_echo(&d->r, 0, 100, 4), 0);
}

/* ADVISE and LISTEN; false when this process cannot have a userfaultfd (valgrind). */
static bool postcopy_listen(struct dl *d)
{
	struct vhu_msg m, reply;

	vhu_msg_init(&m, VHU_REQ_POSTCOPY_ADVISE, 0, 0);
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, NULL, 0, NULL, 0), 0);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	if (reply.nfds == 0 && getenv("VHU_UNDER_VALGRIND"))
		return false;
	assert_int_equal(reply.nfds, 1);
	close(reply.fds[0]);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_LISTEN, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
	return true;
}

/* A postcopy SET_MEM_TABLE of region 0 (QEMU sends no NEED_REPLY) and its answer. */
static void send_table(struct dl *d, struct vhu_msg *m, struct vhu_msg *reply)
{
	vhu_msg_init(m, VHU_REQ_SET_MEM_TABLE, 0,
		     (uint32_t)(offsetof(struct vhu_mem_table, regions) +
				sizeof(struct vhu_mem_region)));
	m->payload.mem_table.nregions = 1;
	rig_region(0, &m->payload.mem_table.regions[0]);
	assert_int_equal(
		rig_send_raw(d->r.sock, &m->hdr, &m->payload, m->hdr.size, &d->r.memfd[0], 1), 0);
	assert_int_equal(rig_recv(&d->r, reply), 0);
}

/*
 * QEMU's postcopy memory handshakes: SET_MEM_TABLE answered with the
 * back-end's addresses and then QEMU's 8-byte go-ahead; ADD_MEM_REG
 * answered per region, and the closing 8-byte go-ahead swallowed. The
 * rings go on working over the registered memory (its pages are there).
 */
static void postcopy_tables(void **state)
{
	struct dl *d = *state;
	struct vhu_msg m, reply;
	int fd;

	if (!postcopy_listen(d))
		return;
	send_table(d, &m, &reply);
	assert_int_equal(reply.hdr.request, VHU_REQ_SET_MEM_TABLE);
	assert_int_equal(reply.hdr.size, m.hdr.size);
	assert_int_equal(reply.payload.mem_table.regions[0].guest_phys_addr,
			 m.payload.mem_table.regions[0].guest_phys_addr);
	assert_true(reply.payload.mem_table.regions[0].userspace_addr != 0);
	/* the go-ahead: an 8-byte SET_MEM_TABLE holding 0 */
	vhu_msg_init(&m, VHU_REQ_SET_MEM_TABLE, 0, sizeof(uint64_t));
	m.payload.u64 = 0;
	rig_log_clear(&d->r);
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, NULL, 0), 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 5), 0);
	assert_true(rig_log_has(&d->r, "regions registered"));
	/* ADD_MEM_REG in postcopy: a new region answered with our address */
	fd = memfd_create("vhu-test-pc", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, 0, sizeof(struct vhu_mem_reg));
	m.payload.mem_reg.region.guest_phys_addr = 1ull << 32;
	m.payload.mem_reg.region.memory_size = 65536;
	m.payload.mem_reg.region.userspace_addr = 1ull << 40;
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, &fd, 1), 0);
	close(fd);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	assert_int_equal(reply.hdr.request, VHU_REQ_ADD_MEM_REG);
	assert_int_equal(reply.payload.mem_reg.region.guest_phys_addr, 1ull << 32);
	assert_true(reply.payload.mem_reg.region.userspace_addr != (1ull << 40));
	/* QEMU's closing go-ahead: swallowed, no answer, nothing fails */
	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, 0, sizeof(uint64_t));
	m.payload.u64 = 0;
	rig_log_clear(&d->r);
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, NULL, 0), 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 6), 0);
	assert_false(rig_log_has(&d->r, "failed"));
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
}

/* A postcopy SET_MEM_TABLE whose go-ahead is something else fails; the connection goes on. */
static void postcopy_no_go_ahead(void **state)
{
	struct dl *d = *state;
	struct vhu_msg m, reply;

	if (!postcopy_listen(d))
		return;
	send_table(d, &m, &reply);
	rig_log_clear(&d->r);
	vhu_msg_init(&m, VHU_REQ_GET_FEATURES, 0, 0); /* not the go-ahead */
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, NULL, 0, NULL, 0), 0);
	assert_true(echo_wait_count(&d->r.dev.resets, 0, 100));
	for (int i = 0; i < 50 && !rig_log_has(&d->r, "expected the front-end's go-ahead"); i++)
		usleep(10000);
	assert_true(rig_log_has(&d->r, "expected the front-end's go-ahead"));
	assert_int_equal(rig_echo(&d->r, 0, 100, 7), 0);
}

/* The 8-byte errno a failed postcopy table or region answers with (QEMU refuses it). */
static void refused(struct dl *d, struct vhu_msg *m, uint32_t request, const char *why)
{
	struct vhu_msg reply;

	rig_log_clear(&d->r);
	assert_int_equal(
		rig_send_raw(d->r.sock, &m->hdr, &m->payload, m->hdr.size, m->fds, m->nfds), 0);
	for (unsigned int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	assert_int_equal(rig_recv(&d->r, &reply), 0);
	vhu_msg_close_fds(&reply);
	assert_int_equal(reply.hdr.request, request);
	assert_int_equal(reply.hdr.size, sizeof(uint64_t));
	assert_true(reply.payload.u64 != 0);
	assert_true(rig_log_has(&d->r, why));
}

/*
 * Postcopy SET_MEM_TABLE and ADD_MEM_REG with bad regions (an fd smaller
 * than the region, overlapping regions, fewer fds than regions): each
 * fails with its reason and an 8-byte errno answer, where a front-end in
 * postcopy waits for addresses; the old table stays, the ring goes on,
 * and END still ends postcopy.
 */
static void postcopy_bad_tables(void **state)
{
	struct dl *d = *state;
	struct vhu_msg m, reply;

	if (!postcopy_listen(d))
		return;
	for (int k = 0; k < 3; k++) {
		vhu_msg_init(&m, VHU_REQ_SET_MEM_TABLE, 0,
			     (uint32_t)(offsetof(struct vhu_mem_table, regions) +
					2 * sizeof(struct vhu_mem_region)));
		m.payload.mem_table.nregions = k == 0 ? 1 : 2;
		rig_region(0, &m.payload.mem_table.regions[0]);
		rig_region(1, &m.payload.mem_table.regions[1]);
		m.payload.mem_table.regions[1].guest_phys_addr = 4096; /* k == 1: overlaps */
		if (k == 0)
			m.hdr.size -= (uint32_t)sizeof(struct vhu_mem_region);
		m.fds[0] = memfd_create("vhu-test-pc", MFD_CLOEXEC);
		assert_true(m.fds[0] >= 0);
		/* k == 0: 4 KiB behind a region that is larger */
		assert_int_equal(ftruncate(m.fds[0], k == 0 ? 4096 : (off_t)(16 << 20)), 0);
		m.nfds = 1;
		if (k == 1)
			m.fds[m.nfds++] = dup(m.fds[0]);
		/* k == 2: two regions, one fd */
		refused(d, &m, VHU_REQ_SET_MEM_TABLE, k == 2 ? "SET_MEM_TABLE" : "memory table");
	}
	vhu_msg_init(&m, VHU_REQ_ADD_MEM_REG, 0, sizeof(struct vhu_mem_reg));
	rig_region(1, &m.payload.mem_reg.region);
	m.fds[0] = memfd_create("vhu-test-pc", MFD_CLOEXEC);
	assert_int_equal(ftruncate(m.fds[0], 4096), 0);
	m.nfds = 1;
	refused(d, &m, VHU_REQ_ADD_MEM_REG, "region");
	/* the table before is still there, nothing was registered */
	assert_false(rig_log_has(&d->r, "registered"));
	assert_int_equal(rig_echo(&d->r, 0, 100, 8), 0);
	/* and a good table still goes through the handshake */
	send_table(d, &m, &reply);
	assert_int_equal(reply.hdr.size, m.hdr.size);
	vhu_msg_init(&m, VHU_REQ_SET_MEM_TABLE, 0, sizeof(uint64_t));
	m.payload.u64 = 0;
	assert_int_equal(rig_send_raw(d->r.sock, &m.hdr, &m.payload, m.hdr.size, NULL, 0), 0);
	assert_int_equal(rig_echo(&d->r, 0, 100, 9), 0);
	vhu_msg_init(&m, VHU_REQ_POSTCOPY_END, VHU_FLAG_NEED_REPLY, 0);
	assert_int_equal(rig_acked(&d->r, &m), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_split, teardown)
	const struct CMUnitTest tests[] = {
		T(offered),
		T(marks_split),
		cmocka_unit_test_setup_teardown(marks_packed, setup_packed, teardown),
		T(ring_flag_off),
		T(bad_logs),
		T(log_too_small),
		T(log_guest_addr_outside),
		T(toggle_while_running),
		T(without_shmfd),
		T(postcopy_order),
		T(postcopy_tables),
		T(postcopy_no_go_ahead),
		T(postcopy_bad_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
