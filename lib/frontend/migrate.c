/* SPDX-License-Identifier: MIT */
/*
 * Live migration, driver side (spec: "Migration"): the dirty-page log the
 * back-end writes into, and the switch-over from one back-end instance to
 * another.
 *
 * The log covers guest-physical addresses from 0 up to the end of the shared
 * memory (whose gpa starts at VHU_FE_MEM_GPA), one bit per 4 KiB page, as
 * QEMU sizes its log (vhost_get_log_size). It is a memfd sealed against
 * shrinking and growing, as QEMU's, so a back-end can map it safely. The
 * order of the requests is QEMU's (vhost_dev_log_start via
 * vhost_dev_set_features and vhost_virtqueue_set_addr): the log, then
 * VHOST_F_LOG_ALL, then each ring with VHOST_VRING_F_LOG.
 *
 * The switch-over is QEMU's too: GET_VRING_BASE stops each ring on the
 * source (which finishes what it holds before it answers), and the
 * destination starts from the ring memory, which the front-end keeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/internal.h"
#include "transport/transport.h"

#define F_LOG_ALL (1ull << VHU_F_LOG_ALL)
#define LOG_PAGE 4096u

void vhu_fe_log_free(struct vhu_frontend *fe)
{
	if (fe->dlog)
		munmap(fe->dlog, fe->dlog_size);
	fe->dlog = NULL;
	fe->dlog_size = 0;
	vhu_close_fd(&fe->dlog_fd);
}

static int log_alloc(struct vhu_frontend *fe)
{
	uint64_t pages = (VHU_FE_MEM_GPA + fe->mem.size + LOG_PAGE - 1) / LOG_PAGE;
	/* whole u64 words, as QEMU's vhost_log_chunk_t */
	uint64_t size = (pages + 63) / 64 * 8;
	void *p;

	fe->dlog_fd = memfd_create("vhu-frontend-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fe->dlog_fd < 0 || ftruncate(fe->dlog_fd, (off_t)size) < 0 ||
	    fcntl(fe->dlog_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;

		vhu_err(&fe->log, "cannot create the dirty log (%llu bytes): %s",
			(unsigned long long)size, strerror(errno));
		vhu_fe_log_free(fe);
		return err;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->dlog_fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		vhu_fe_log_free(fe);
		return err;
	}
	fe->dlog = p;
	fe->dlog_size = size;
	return 0;
}

static int set_log_base(struct vhu_frontend *fe)
{
	struct vhu_msg req, reply;
	int ret;

	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	/*
	 * spec: with LOG_SHMFD the back-end answers whatever the flags say, and
	 * QEMU reads that answer without looking at its body. Bodies seen: none
	 * (DPDK), a u64 echoing mmap_size (libvhost-user), a u64 0 or errno
	 * (vhu). So no NEED_REPLY (that would make it an ack), and a u64 other
	 * than 0 or mmap_size is a failure.
	 */
	vhu_msg_init(&req, VHU_REQ_SET_LOG_BASE, 0, sizeof(struct vhu_log_area));
	req.payload.log.mmap_size = fe->dlog_size;
	req.payload.log.mmap_offset = 0;
	req.fds[0] = fe->dlog_fd; /* still ours: sending does not close it */
	req.nfds = 1;
	/* under the channel's lock, checked against the row, as every reply */
	ret = vhu_fe_request_answered(&fe->ch, &req, &reply);
	if (ret > 0) {
		vhu_msg_close_fds(&reply);
		if (reply.hdr.size != 0 && reply.hdr.size != sizeof(uint64_t))
			ret = vhu_fe_broken(&fe->ch,
					    "SET_LOG_BASE reply is neither empty nor a u64");
		else if (reply.hdr.size && reply.payload.u64 && reply.payload.u64 != fe->dlog_size)
			ret = -EIO;
		else
			ret = 0;
	}
	return vhu_fe_req_done(fe, VHU_REQ_SET_LOG_BASE, ret);
}

static int fe_u64(struct vhu_frontend *fe, uint32_t request, uint64_t *out)
{
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	return vhu_fe_req_done(fe, request, vhu_fe_get_u64(&fe->ch, request, out));
}

static int set_features(struct vhu_frontend *fe, uint64_t features)
{
	struct vhu_msg req;

	vhu_msg_init(&req, VHU_REQ_SET_FEATURES, 0, sizeof(uint64_t));
	req.payload.u64 = features | (fe->offered & VHU_BIT(VHU_F_PROTOCOL_FEATURES));
	return vhu_fe_send_req(fe, &req);
}

static int rings_addr(struct vhu_frontend *fe)
{
	int ret = 0;

	for (unsigned int i = 0; ret == 0 && i < fe->cfg.num_queues; i++)
		ret = vhu_frontend_queue_addr(fe, &fe->queues[i]);
	return ret;
}

int vhu_frontend_log_start(struct vhu_frontend *fe)
{
	int ret;

	if (!fe->started)
		return -EINVAL;
	if (fe->dlog)
		return -EALREADY;
	if (!(fe->protocol & VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD)) || !(fe->offered & F_LOG_ALL)) {
		vhu_err(&fe->log, "dirty logging needs LOG_SHMFD and VHOST_F_LOG_ALL from the "
				  "back-end");
		return -ENOTSUP;
	}
	ret = log_alloc(fe);
	if (ret == 0)
		ret = set_log_base(fe);
	if (ret == 0)
		ret = set_features(fe, fe->features | F_LOG_ALL);
	if (ret == 0)
		ret = rings_addr(fe);
	if (ret < 0)
		vhu_fe_log_free(fe);
	return ret;
}

long vhu_frontend_log_read(struct vhu_frontend *fe, uint8_t *bitmap, size_t bytes)
{
	/* page 0 of the report is the first page of the shared memory */
	uint64_t first = VHU_FE_MEM_GPA / LOG_PAGE, words, npages = 0;

	if (!fe->dlog)
		return -EINVAL;
	words = fe->dlog_size / 8;
	for (uint64_t w = first / 64; w < words; w++) {
		uint64_t v = __atomic_exchange_n(&fe->dlog[w], 0, __ATOMIC_ACQ_REL);

		while (v) {
			uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(v) - first;

			v &= v - 1;
			if (page / 8 < bytes) {
				bitmap[page / 8] |= (uint8_t)(1u << (page % 8));
				npages++;
			}
		}
	}
	return (long)npages;
}

int vhu_frontend_log_stop(struct vhu_frontend *fe)
{
	int ret;

	if (!fe->dlog)
		return 0;
	ret = set_features(fe, fe->features);
	vhu_fe_log_free(fe); /* the rings' addresses go out without the flag now */
	if (ret == 0)
		ret = rings_addr(fe);
	return ret;
}

void *vhu_frontend_mem_base(const struct vhu_frontend *fe)
{
	return fe->mem.host;
}

uint64_t vhu_frontend_mem_size(const struct vhu_frontend *fe)
{
	return fe->mem.size;
}

/* ---- device state (spec: "Migrating back-end state") ------------------------- */

#define STATE_MAX (16u << 20) /* as much as a vhu back-end loads */
#define STATE_TIMEOUT_MS 5000 /* without a byte moving */

static bool has_state(const struct vhu_frontend *fe)
{
	return fe->protocol & VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE);
}

/* SET_DEVICE_STATE_FD with @fd; *@use: the fd to move the bytes through. */
static int state_fd(struct vhu_frontend *fe, uint32_t direction, int fd, int *use)
{
	struct vhu_msg req, reply;
	int ret;

	vhu_msg_init(&req, VHU_REQ_SET_DEVICE_STATE_FD, 0,
		     sizeof(struct vhu_device_state_transfer));
	req.payload.transfer.direction = direction;
	req.payload.transfer.phase = VHU_TRANSFER_PHASE_STOPPED;
	req.fds[0] = fd;
	req.nfds = 1;
	ret = vhu_fe_request(&fe->ch, &req, &reply);
	if (ret == 0)
		ret = -EPROTO; /* an ack instead of the row's u64 */
	if (ret < 0)
		return vhu_fe_req_done(fe, VHU_REQ_SET_DEVICE_STATE_FD, ret);
	if (reply.payload.u64 & VHU_DEVICE_STATE_ERR_MASK) {
		vhu_msg_close_fds(&reply);
		vhu_fe_set_error(&fe->ch, "the back-end refused the transfer");
		return vhu_fe_req_done(fe, VHU_REQ_SET_DEVICE_STATE_FD, -EIO);
	}
	/* spec: without the NOFD flag the back-end sent an fd of its own to use */
	*use = -1;
	if (!(reply.payload.u64 & VHU_DEVICE_STATE_NOFD) && reply.nfds == 1)
		*use = vhu_msg_take_fd(&reply, 0);
	vhu_msg_close_fds(&reply);
	return 0;
}

static int state_check(struct vhu_frontend *fe)
{
	uint64_t v = 1;
	int ret = fe_u64(fe, VHU_REQ_CHECK_DEVICE_STATE, &v);

	if (ret == 0 && v != 0) {
		vhu_fe_set_error(&fe->ch, "the back-end reports the transfer failed");
		ret = vhu_fe_req_done(fe, VHU_REQ_CHECK_DEVICE_STATE, -EIO);
	}
	return ret;
}

/* Move bytes through @fd (nonblocking) until done, EOF or a stall; 0 or -errno. */
static int state_io(int fd, bool rd, uint8_t **buf, size_t *len)
{
	size_t done = 0, cap = rd ? 0 : *len;

	for (;;) {
		struct pollfd p = { fd, rd ? POLLIN : POLLOUT, 0 };
		ssize_t n;

		if (!rd && done == *len)
			return 0;
		if (rd && done == cap) {
			uint8_t *nb;

			if (cap >= STATE_MAX)
				return -EFBIG;
			nb = realloc(*buf, cap ? cap * 2 : 4096);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		if (poll(&p, 1, STATE_TIMEOUT_MS) == 0)
			return -ETIMEDOUT;
		n = rd ? read(fd, *buf + done, cap - done)
		       : send(fd, *buf + done, *len - done, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (rd && n == 0) {
			*len = done;
			return 0;
		}
		done += (size_t)n;
	}
}

/*
 * SAVE (@load false: *@buf, *@len get a malloc'd state) or LOAD (@load:
 * *@buf, *@len are sent) through a socketpair, which cannot raise SIGPIPE.
 */
static int state_transfer(struct vhu_frontend *fe, bool load, uint8_t **buf, size_t *len)
{
	int sv[2], use = -1, ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	ret = state_fd(fe, load ? VHU_TRANSFER_LOAD : VHU_TRANSFER_SAVE, sv[1], &use);
	close(sv[1]);
	if (ret == 0) {
		if (use >= 0) {
			close(sv[0]);
			sv[0] = use;
			int flags = fcntl(use, F_GETFL);

			if (flags >= 0)
				(void)fcntl(use, F_SETFL, flags | O_NONBLOCK);
		}
		ret = state_io(sv[0], !load, buf, len);
		if (ret < 0)
			vhu_err(&fe->log, "device state %s: %s", load ? "load" : "save",
				strerror(-ret));
	}
	close(sv[0]); /* LOAD: the back-end sees the end of the state */
	if (ret == 0)
		ret = state_check(fe);
	return ret;
}

/* GET_VRING_BASE of every ring: the source stops them. */
static int rings_stop(struct vhu_frontend *fe)
{
	for (unsigned int i = 0; i < fe->cfg.num_queues; i++) {
		struct vhu_msg req, reply;
		int ret;

		vhu_msg_init(&req, VHU_REQ_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
		req.payload.state.index = i;
		ret = vhu_frontend_alive(fe) ? vhu_fe_request(&fe->ch, &req, &reply) : -ECONNRESET;
		if (ret > 0) {
			vhu_msg_close_fds(&reply);
			if (reply.payload.state.num != vhu_fe_ring_resume_base(&fe->queues[i].ring))
				vhu_warn(&fe->log,
					 "ring %u: the source stopped at 0x%x with chains still "
					 "taken; the destination resumes at 0x%x",
					 i, reply.payload.state.num,
					 vhu_fe_ring_resume_base(&fe->queues[i].ring));
			ret = 0;
		}
		ret = vhu_fe_req_done(fe, VHU_REQ_GET_VRING_BASE, ret);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vhu_frontend_migrate(struct vhu_frontend *fe, const char *socket_path)
{
	uint8_t *state = NULL;
	size_t state_len = 0;
	char *path;
	int ret;

	if (!fe->started || !socket_path)
		return -EINVAL;
	if (!fe->path)
		return -ENOTSUP;
	path = strdup(socket_path);
	if (!path)
		return -ENOMEM;
	ret = rings_stop(fe);
	/* the device's own state, when source and destination can move it */
	if (ret == 0 && has_state(fe)) {
		ret = state_transfer(fe, false, &state, &state_len);
		if (ret == 0)
			vhu_info(&fe->log, "device state saved: %zu bytes", state_len);
	}
	vhu_fe_log_free(fe); /* the destination starts without one */
	vhu_fe_connection_close(fe);
	free(fe->path);
	fe->path = path;
	fe->cfg.socket_path = path;
	if (ret == 0)
		ret = vhu_fe_sock_open(fe);
	if (ret == 0)
		ret = vhu_fe_negotiate(fe, true);
	/* QEMU's order: the state is loaded before the device starts */
	if (ret == 0 && has_state(fe))
		ret = state_transfer(fe, true, &state, &state_len);
	free(state);
	if (ret == 0)
		ret = vhu_fe_device_setup(fe, true);
	if (ret == 0)
		ret = vhu_fe_kick_all(fe);
	if (ret < 0) {
		vhu_fe_connection_close(fe);
		return ret;
	}
	vhu_info(&fe->log, "device handed over to %s", path);
	return 0;
}
