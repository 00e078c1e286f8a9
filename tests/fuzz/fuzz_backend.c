/* SPDX-License-Identifier: MIT */
/*
 * fuzz_backend: a real back-end (lib/backend) with a small echo device
 * (fuzz_backend_blk: with vhu-blk's device, devices/blk/device.c, serving a
 * 1 MiB memfd disk through io_uring: virtio-blk requests from fuzzer bytes),
 * driven through a socketpair by a front-end whose every byte comes from the
 * fuzzer: requests, header flags, payload sizes and bytes, and the fds each
 * message carries (memfds whose contents are fuzzer bytes, eventfds, a
 * socketpair end, /dev/null, an empty memfd). Running rings have worker
 * threads that pop, echo and push over the memfd guest memory.
 *
 * The back-end is driven with the embedding API on this thread: each message
 * is sent whole, then vhu_backend_dispatch() handles it, then every reply is
 * read and discarded, so no socket ever fills and dispatch never blocks.
 * Each input ends with the front-end leaving (the back-end disconnects and
 * joins its workers) and vhu_backend_destroy(): no thread outlives an input.
 *
 * Input: a sequence of at most MAX_MSGS items (numbers little-endian,
 * missing bytes read as 0):
 *   byte 0      request id, as is (unknown ids included), except
 *                 0xff  kick: write 1 to every eventfd sent so far;
 *                 0xfe  a torn message: half a header, then the front-end
 *                       leaves (ends the input)
 *   byte 1      flags: bit 0 NEED_REPLY; bit 1 xor the header flags with
 *               the next byte (bad versions, REPLY, reserved bits)
 *   byte 2      fd count: b % (VHU_MAX_FDS + 2), so one more than a message
 *               may carry; then one byte per fd, k:
 *                 k & 3 = 0  memfd of ((k >> 2) & 3) + 1 pages, whose first
 *                            next * 16 bytes are the following input bytes;
 *                            k & 16: sealed against shrinking (what
 *                            SET_INFLIGHT_FD takes)
 *                         1  eventfd (kept: kicks write to it)
 *                         2  one end of a socketpair (the other end is kept
 *                            and drained: SET_BACKEND_REQ_FD)
 *                         3  k & 4 ? /dev/null : an empty memfd
 *   bytes 3-4   payload size u16; over VHU_MAX_PAYLOAD only the header is
 *               sent (the back-end must close the connection, so the input
 *               ends there)
 *   the rest    that many payload bytes, zero-padded
 *
 * Oracles (abort on violation): sanitizers; dispatch returns 0 or
 * -ECONNRESET; when the front-end has left, the back-end holds exactly the
 * fds it held before it was connected and no mapping of the harness's
 * memfds; every fd the harness made is closed at the end of the input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#ifdef FUZZ_BACKEND_BLK
#include "blk/device.h"
#endif
#include <vhu/backend.h>
#include <vhu/protocol.h>
#include <vhu/virtq.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 48u
#define NQUEUES 2u
#define MAX_QUEUE_SIZE 64u
#define PAGE 4096u
#define MAX_KEPT 16u
#define MEMFD_NAME "fuzz_backend"
#define ACT_KICK 0xffu
#define ACT_TORN 0xfeu

struct input {
	const uint8_t *data;
	size_t size, pos;
};

struct harness {
	struct vhu_backend *be;
	int fe;		    /* the front-end's end of the connection */
	int kept[MAX_KEPT]; /* eventfds (kick) and socketpair ends (channel) */
	bool kept_is_sock[MAX_KEPT];
	unsigned int nkept;
};

/* ---- the device: echo every request's readable bytes into its writable ones */

static struct vhu_req *reqs[NQUEUES];
static uint8_t config_space[VHU_MAX_CONFIG_SIZE];

static uint64_t dev_get_features(void *dev)
{
	(void)dev;
	return (1ull << 32) | (1ull << 28) | (1ull << 29) | (1ull << 34);
}

static int dev_set_features(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 0;
}

static int dev_get_config(void *dev, void *buf, uint32_t offset, uint32_t size)
{
	(void)dev;
	memcpy(buf, config_space + offset, size);
	return 0;
}

static int dev_set_config(void *dev, const void *buf, uint32_t offset, uint32_t size)
{
	(void)dev;
	(void)buf;
	(void)offset;
	(void)size; /* read-only config: accepted, ignored */
	return 0;
}

static void dev_queue_kick(void *dev, struct vhu_vq *vq)
{
	struct vhu_req *req = reqs[vhu_vq_index(vq)];

	(void)dev;
	while (vhu_vq_pop(vq, req) == 1) {
		const struct iovec *in = &req->iov[req->out_num];
		uint32_t done = 0;

		/* the first readable buffer into the first writable one */
		if (req->out_num && req->in_num) {
			size_t n = req->iov[0].iov_len < in->iov_len ? req->iov[0].iov_len
								     : in->iov_len;

			memmove(in->iov_base, req->iov[0].iov_base, n);
			done = (uint32_t)n;
		}
		(void)vhu_vq_push(vq, req, done);
	}
	(void)vhu_vq_notify(vq);
}

/* Device state: 32 bytes out; in, anything up to 64 bytes that starts with 'S'. */
static int dev_state_save(void *dev, void **buf, size_t *len)
{
	(void)dev;
	*buf = calloc(1, 32);
	if (!*buf)
		return -ENOMEM;
	*(char *)*buf = 'S';
	*len = 32;
	return 0;
}

static int dev_state_load(void *dev, const void *buf, size_t len)
{
	(void)dev;
	return len && len <= 64 && *(const char *)buf == 'S' ? 0 : -EINVAL;
}

/* GET_SHARED_OBJECT: UUIDs whose first byte is 1 name a one-page memfd. */
static int dev_object_get(void *dev, const uint8_t uuid[16], int *fd)
{
	(void)dev;
	if (uuid[0] != 1)
		return -ENOENT;
	*fd = memfd_create("fuzz_backend_object", MFD_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static const struct vhu_device_ops dev_ops = {
	.get_features = dev_get_features,
	.set_features = dev_set_features,
	.get_config = dev_get_config,
	.set_config = dev_set_config,
	.queue_kick = dev_queue_kick,
	.state_save = dev_state_save,
	.state_load = dev_state_load,
	.shared_object_get = dev_object_get,
};

/* VIRTIO shared memory regions 0 and 2 (GET_SHMEM_CONFIG). */
static const uint64_t shmem_sizes[] = { 64 << 10, 0, 4096 };

#ifdef FUZZ_BACKEND_BLK
/* vhu-blk's device on a 1 MiB memfd disk, two queues: opened once, kept. */
static struct blk blk;
static struct blkdev *blk_disk;

static void blk_setup(void)
{
	struct blkdev_options opts = { .num_queues = NQUEUES };
	char path[64];
	int fd;

	if (blk_disk)
		return;
	fd = memfd_create("fuzz_disk", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opts.path = path;
	if (blkdev_open(&opts, &blk_disk) < 0)
		abort();
	close(fd); /* the disk has its own open file */
}
#endif

/* Quiet, unless FUZZ_BACKEND_VERBOSE is set: then every line, for reading a seed's session. */
static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("FUZZ_BACKEND_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_ERR };

/* ---- leak counters ------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		abort();
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:" MEMFD_NAME))
			n++;
	fclose(f);
	return n;
}

/* ---- input --------------------------------------------------------------- */

/* The harness itself cannot go on: say why (not a finding in the back-end). */
static void harness_fail(const char *what)
{
	fprintf(stderr, "fuzz_backend: harness: %s: %s (%d fds open)\n", what, strerror(errno),
		count_fds());
	abort();
}

static uint8_t take(struct input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static bool input_left(const struct input *in)
{
	return in->pos < in->size;
}

/* ---- the front-end ------------------------------------------------------- */

static void keep(struct harness *h, int fd, bool is_sock)
{
	if (h->nkept == MAX_KEPT) {
		close(fd);
		return;
	}
	h->kept[h->nkept] = fd;
	h->kept_is_sock[h->nkept++] = is_sock;
}

static int make_memfd(struct input *in, uint8_t k)
{
	size_t pages = ((k >> 2) & 3u) + 1u, len = (size_t)take(in) * 16u;
	int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		harness_fail("memfd_create");
	if (ftruncate(fd, (off_t)(pages * PAGE)) < 0)
		harness_fail("ftruncate");
	if ((k & 16) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		harness_fail("F_ADD_SEALS");
	if (len > in->size - in->pos)
		len = in->size - in->pos;
	if (len && pwrite(fd, in->data + in->pos, len, 0) != (ssize_t)len)
		harness_fail("pwrite");
	in->pos += len;
	return fd;
}

/* One fd for a message; the harness keeps what it needs of the other side. */
static int make_fd(struct harness *h, struct input *in)
{
	uint8_t k = take(in);
	int fd, sv[2];

	switch (k & 3u) {
	case 0:
		return make_memfd(in, k);
	case 1:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			harness_fail("eventfd");
		keep(h, dup(fd), false);
		return fd;
	case 2:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			harness_fail("socketpair");
		keep(h, sv[1], true);
		return sv[0];
	default:
		fd = (k & 4u) ? open("/dev/null", O_RDWR | O_CLOEXEC)
			      : memfd_create(MEMFD_NAME, MFD_CLOEXEC);
		if (fd < 0)
			harness_fail("open or memfd_create");
		return fd;
	}
}

static void send_all(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * (VHU_MAX_FDS + 2))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	while (len) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* the back-end left: dispatch tells */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		len -= (size_t)n;
	}
}

/* Read and drop whatever @sock has (replies, channel messages), closing any fds. */
static void drain(int sock)
{
	char buf[8192];
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t nf = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				int fds[16];

				memcpy(fds, CMSG_DATA(c), nf * sizeof(int));
				for (size_t i = 0; i < nf; i++)
					close(fds[i]);
			}
		}
	}
}

static void drain_all(struct harness *h)
{
	drain(h->fe);
	for (unsigned int i = 0; i < h->nkept; i++)
		if (h->kept_is_sock[i])
			drain(h->kept[i]);
}

static void kick_all(struct harness *h)
{
	for (unsigned int i = 0; i < h->nkept; i++)
		if (!h->kept_is_sock[i])
			(void)eventfd_write(h->kept[i], 1);
}

/* Dispatch one message. Return: false when the connection ended. */
static bool dispatch(struct harness *h)
{
	int ret = vhu_backend_dispatch(h->be);

	if (ret != 0 && ret != -ECONNRESET)
		abort();
	drain_all(h);
	return ret == 0;
}

/* Build, send and dispatch one message. Return: false when the input ends here. */
static bool one_message(struct harness *h, struct input *in)
{
	static uint8_t buf[sizeof(struct vhu_msg_hdr) + UINT16_MAX];
	struct vhu_msg_hdr hdr = { 0 };
	int fds[VHU_MAX_FDS + 2];
	uint8_t b1, nfds;
	size_t len, have;
	bool whole;

	hdr.request = take(in);
	if (hdr.request == ACT_KICK) {
		kick_all(h);
		return true;
	}
	b1 = take(in);
	hdr.flags = VHU_VERSION | ((b1 & 1u) ? VHU_FLAG_NEED_REPLY : 0);
	if (b1 & 2u)
		hdr.flags ^= take(in);
	nfds = take(in) % (VHU_MAX_FDS + 2);
	for (unsigned int i = 0; i < nfds; i++)
		fds[i] = make_fd(h, in);
	hdr.size = take(in);
	hdr.size |= (uint32_t)take(in) << 8;
	whole = hdr.size <= VHU_MAX_PAYLOAD;
	len = whole ? hdr.size : 0;
	have = in->size - in->pos < len ? in->size - in->pos : len;
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), in->data + in->pos, have);
	memset(buf + sizeof(hdr) + have, 0, len - have);
	in->pos += have;
	if (hdr.request == ACT_TORN) {
		send_all(h->fe, buf, sizeof(hdr) / 2, fds, nfds);
		vhu_close_fds(fds, nfds);
		return false;
	}
	send_all(h->fe, buf, sizeof(hdr) + len, fds, nfds);
	vhu_close_fds(fds, nfds); /* the back-end has its own copies now */
	return dispatch(h) && whole;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_backend_config config = {
		.name = "fuzz",
		.num_queues = NQUEUES,
		.max_queue_size = MAX_QUEUE_SIZE,
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) | VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
			VHU_BIT(VHU_PROTOCOL_F_STATUS) | VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) |
			VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD) | VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) |
			VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE) |
			VHU_BIT(VHU_PROTOCOL_F_SHARED_OBJECT) | VHU_BIT(VHU_PROTOCOL_F_SHMEM),
		.shmem_sizes = shmem_sizes,
		.shmem_num = 3,
		/*
		 * Not PAGEFAULT: once its regions are registered with the
		 * userfaultfd, a postcopy back-end waits in the kernel for a
		 * front-end to serve its faults, and for the go-ahead after a
		 * table; nobody here does either. The postcopy requests are
		 * refused as not negotiated; their hostile orders and tables are
		 * test_dirty_log's (postcopy_order, postcopy_no_go_ahead,
		 * postcopy_bad_tables).
		 */
		.ops = &dev_ops,
		.log = &quiet_log,
	};
	struct input in = { .data = data, .size = size };
	struct harness h = { .fe = -1 };
	int fds_before, fds_idle, sv[2];

#ifdef FUZZ_BACKEND_BLK
	blk_setup();
	blk_init(&blk, blk_disk, false);
	config.ops = &blk_ops;
	config.dev = &blk;
	/* vhu-blk moves no device state of its own */
	config.protocol_features &= ~VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE);
#endif
	fds_before = count_fds();

	if (getenv("FUZZ_BACKEND_VERBOSE"))
		quiet_log.level = VHU_LOG_TRACE;
	for (unsigned int i = 0; i < NQUEUES; i++) {
		if (!reqs[i] && !(reqs[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV)))
			abort();
	}
	if (vhu_backend_create(&config, &h.be) < 0)
		abort();
	fds_idle = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    vhu_backend_adopt_fd(h.be, sv[0]) < 0)
		abort();
	h.fe = sv[1];

	for (unsigned int n = 0; n < MAX_MSGS && input_left(&in); n++)
		if (!one_message(&h, &in))
			break;

	/* the front-end leaves: the back-end must be back to how it was before it came */
	vhu_close_fd(&h.fe);
	if (vhu_backend_fd(h.be) >= 0 && vhu_backend_dispatch(h.be) != -ECONNRESET)
		abort();
	if (vhu_backend_fd(h.be) >= 0)
		abort();
	for (unsigned int i = 0; i < h.nkept; i++)
		close(h.kept[i]);
	if (count_fds() != fds_idle) {
		fprintf(stderr, "fuzz_backend: %d fds after disconnect, %d before connect\n",
			count_fds(), fds_idle);
		abort();
	}
	if (count_maps() != 0) {
		fprintf(stderr, "fuzz_backend: %d memfd mappings after disconnect\n", count_maps());
		abort();
	}
	vhu_backend_destroy(h.be);
	if (count_fds() != fds_before)
		abort();
	return 0;
}
