/* SPDX-License-Identifier: MIT */
/*
 * Transport layer over real sockets: socketpair for message framing and fd
 * passing, unix socket paths in a private temporary directory for
 * listen/accept/connect, and inherited fds for adopt. Every test runs in a
 * fixture that counts /proc/self/fd before and after: no path may leak an fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "common/util.h"
#include "transport/transport.h"

#define HDR_SIZE sizeof(struct vhu_msg_hdr)
#define RAW_MAX_FDS 16u

struct fixture {
	int fds_before;
	int sv[2]; /* sv[0]: sender side, sv[1]: receiver side */
};

static char tmpdir[64];

/* ---- helpers ------------------------------------------------------------ */

static void set_rcvtimeo(int sock, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	assert_int_equal(setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

static void assert_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	assert_true(flags >= 0);
	assert_true(flags & FD_CLOEXEC);
}

static void assert_same_file(int a, int b)
{
	struct stat sa, sb;

	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(sa.st_dev, sb.st_dev);
	assert_int_equal(sa.st_ino, sb.st_ino);
}

/* Any bytes with any fds, as one sendmsg: what a broken or hostile peer can do. */
static ssize_t raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(RAW_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > RAW_MAX_FDS)
		return -1;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static void assert_raw_send(int sock, const void *buf, size_t len, const int *fds,
			    unsigned int nfds)
{
	assert_int_equal(raw_send(sock, buf, len, fds, nfds), (ssize_t)len);
}

/* A header followed by @size pattern bytes, in @buf; returns the total length. */
static size_t wire_bytes(uint8_t *buf, uint32_t request, uint32_t size)
{
	struct vhu_msg_hdr hdr = { .request = request, .flags = VHU_VERSION, .size = size };

	memcpy(buf, &hdr, HDR_SIZE);
	for (uint32_t i = 0; i < size; i++)
		buf[HDR_SIZE + i] = (uint8_t)(i * 7 + 1);
	return HDR_SIZE + size;
}

static void msg_prepare(struct vhu_msg *msg, uint32_t request, uint32_t size)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.request = request;
	msg->hdr.flags = VHU_VERSION;
	msg->hdr.size = size;
	for (uint32_t i = 0; i < size; i++)
		msg->payload.raw[i] = (uint8_t)(i * 7 + 1);
}

static void assert_payload_pattern(const struct vhu_msg *msg)
{
	for (uint32_t i = 0; i < msg->hdr.size; i++)
		assert_int_equal(msg->payload.raw[i], (uint8_t)(i * 7 + 1));
}

static void tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", tmpdir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* A socket file with nobody behind it, as a crashed server leaves. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- fixtures ----------------------------------------------------------- */

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vhu-transport-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir); /* fails if a test left a file behind */
}

static int setup(void **state)
{
	static struct fixture f;

	f.fds_before = leak_count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f.sv) < 0)
		return -1;
	/* A bug must fail a test, not hang it. */
	set_rcvtimeo(f.sv[0], 5000);
	set_rcvtimeo(f.sv[1], 5000);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 2; i++)
		if (f->sv[i] >= 0)
			close(f->sv[i]);
	assert_int_equal(leak_count_fds(), f->fds_before);
	return 0;
}

/* ---- send / receive ------------------------------------------------------ */

/* Send @nfds pipe write ends and @size bytes; the receiver must get the same files. */
static void roundtrip(struct fixture *f, unsigned int nfds, uint32_t size)
{
	int pipes[VHU_MAX_FDS][2];
	struct vhu_msg out, in;

	msg_prepare(&out, VHU_REQ_SET_MEM_TABLE, size);
	out.hdr.flags |= VHU_FLAG_NEED_REPLY;
	for (unsigned int i = 0; i < nfds; i++) {
		assert_int_equal(pipe2(pipes[i], O_CLOEXEC), 0);
		out.fds[i] = pipes[i][1];
	}
	out.nfds = nfds;

	assert_int_equal(vhu_msg_send(f->sv[0], &out), 0);
	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);

	assert_memory_equal(&in.hdr, &out.hdr, HDR_SIZE);
	assert_memory_equal(in.payload.raw, out.payload.raw, size);
	assert_int_equal(in.nfds, nfds);
	for (unsigned int i = 0; i < nfds; i++) {
		static const char letters[] = "abcdefgh";
		char c = 0;

		assert_true(fcntl(out.fds[i], F_GETFD) >= 0); /* still the sender's */
		assert_int_not_equal(in.fds[i], out.fds[i]);
		assert_cloexec(in.fds[i]);
		assert_same_file(in.fds[i], pipes[i][1]);
		/* Write through the received fd, read from the sender's pipe. */
		assert_int_equal(write(in.fds[i], &letters[i], 1), 1);
		assert_int_equal(read(pipes[i][0], &c, 1), 1);
		assert_int_equal(c, letters[i]);
		close(in.fds[i]);
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

static void roundtrip_no_fds_empty(void **state)
{
	roundtrip(*state, 0, 0);
}

static void roundtrip_one_fd_small(void **state)
{
	roundtrip(*state, 1, 8);
}

static void roundtrip_max_fds_max_payload(void **state)
{
	roundtrip(*state, VHU_MAX_FDS, VHU_MAX_PAYLOAD);
}

static void roundtrip_mixed(void **state)
{
	roundtrip(*state, 0, VHU_MAX_PAYLOAD);
	roundtrip(*state, VHU_MAX_FDS, 0);
	roundtrip(*state, 1, 8);
	roundtrip(*state, 0, 8);
}

/* Several messages queued back to back are framed apart, each with its own fds. */
static void back_to_back_messages(void **state)
{
	struct fixture *f = *state;
	struct vhu_msg out, in;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	for (uint32_t i = 0; i < 4; i++) {
		msg_prepare(&out, VHU_REQ_SET_VRING_NUM + i, 8 * i);
		out.fds[0] = p[0];
		out.nfds = i & 1;
		assert_int_equal(vhu_msg_send(f->sv[0], &out), 0);
	}
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);
		assert_int_equal(in.hdr.request, VHU_REQ_SET_VRING_NUM + i);
		assert_int_equal(in.hdr.size, 8 * i);
		assert_payload_pattern(&in);
		assert_int_equal(in.nfds, i & 1);
		if (in.nfds)
			assert_same_file(in.fds[0], p[0]);
		vhu_close_fds(in.fds, in.nfds);
	}
	close(p[0]);
	close(p[1]);
}

/* Pre-written pieces: the kernel ends a read after the segment that carries fds. */
static void short_reads_pieces(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 64];
	size_t len = wire_bytes(buf, VHU_REQ_SET_CONFIG, 64);
	struct vhu_msg in;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], buf, 1, p, 2);
	assert_raw_send(f->sv[0], buf + 1, 6, NULL, 0);
	assert_raw_send(f->sv[0], buf + 7, HDR_SIZE + 10 - 7, NULL, 0);
	assert_raw_send(f->sv[0], buf + HDR_SIZE + 10, len - HDR_SIZE - 10, NULL, 0);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);
	assert_int_equal(in.hdr.request, VHU_REQ_SET_CONFIG);
	assert_int_equal(in.hdr.size, 64);
	assert_payload_pattern(&in);
	assert_int_equal(in.nfds, 2);
	assert_same_file(in.fds[0], p[0]);
	assert_same_file(in.fds[1], p[1]);
	assert_cloexec(in.fds[0]);
	assert_cloexec(in.fds[1]);
	vhu_close_fds(in.fds, in.nfds);
	close(p[0]);
	close(p[1]);
}

struct trickle {
	int sock;
	const uint8_t *buf;
	size_t len;
	const int *fds;
	unsigned int nfds;
	int err; /* 0, or the errno of the failed send */
};

/* Writer thread: one byte per sendmsg, fds on the first, a pause between each. */
static void *trickle_main(void *arg)
{
	struct trickle *t = arg;

	for (size_t i = 0; i < t->len; i++) {
		if (raw_send(t->sock, t->buf + i, 1, i ? NULL : t->fds, i ? 0 : t->nfds) != 1) {
			t->err = errno;
			break;
		}
		sleep_ms(1);
	}
	return NULL;
}

static void short_reads_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 24];
	struct trickle t = { .sock = f->sv[0], .buf = buf, .nfds = 3 };
	struct vhu_msg in;
	pthread_t thread;
	int p[2], fds[3];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];
	t.fds = fds;
	t.len = wire_bytes(buf, VHU_REQ_SET_VRING_ADDR, 24);
	assert_int_equal(pthread_create(&thread, NULL, trickle_main, &t), 0);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(t.err, 0);
	assert_int_equal(in.hdr.request, VHU_REQ_SET_VRING_ADDR);
	assert_int_equal(in.hdr.size, 24);
	assert_payload_pattern(&in);
	assert_int_equal(in.nfds, 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_same_file(in.fds[i], fds[i]);
		assert_cloexec(in.fds[i]);
	}
	vhu_close_fds(in.fds, in.nfds);
	close(p[0]);
	close(p[1]);
}

/* fds that come on a later segment still belong to the message being read. */
static void fds_on_later_segment(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 16];
	size_t len = wire_bytes(buf, VHU_REQ_SET_VRING_KICK, 16);
	struct vhu_msg in;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], buf, HDR_SIZE, NULL, 0);
	assert_raw_send(f->sv[0], buf + HDR_SIZE, len - HDR_SIZE, p, 1);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);
	assert_int_equal(in.nfds, 1);
	assert_same_file(in.fds[0], p[0]);
	assert_cloexec(in.fds[0]);
	vhu_close_fds(in.fds, in.nfds);
	close(p[0]);
	close(p[1]);
}

static void peer_closed_at_start(void **state)
{
	struct fixture *f = *state;
	struct vhu_msg in;

	close(f->sv[0]);
	f->sv[0] = -1;
	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -ECONNRESET);
	assert_int_equal(in.nfds, 0);
}

static void peer_closed_mid_header(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 8];
	struct vhu_msg in;
	int p[2];

	wire_bytes(buf, VHU_REQ_SET_FEATURES, 8);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], buf, 5, p, 2);
	close(p[0]);
	close(p[1]);
	close(f->sv[0]);
	f->sv[0] = -1;

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -ECONNRESET);
	assert_int_equal(in.nfds, 0); /* and the two fds are closed: see teardown */
}

static void peer_closed_mid_payload(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 100];
	struct vhu_msg in;
	int p[2];

	wire_bytes(buf, VHU_REQ_SET_CONFIG, 100);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], buf, HDR_SIZE + 50, p, 1);
	close(p[0]);
	close(p[1]);
	close(f->sv[0]);
	f->sv[0] = -1;

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -ECONNRESET);
	assert_int_equal(in.nfds, 0);
}

static void recv_oversized_payload(void **state)
{
	struct fixture *f = *state;
	struct vhu_msg_hdr hdr = {
		.request = VHU_REQ_SET_MEM_TABLE,
		.flags = VHU_VERSION,
		.size = VHU_MAX_PAYLOAD + 1,
	};
	struct vhu_msg in;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], &hdr, sizeof(hdr), p, 2);
	close(p[0]);
	close(p[1]);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -EMSGSIZE);
	assert_int_equal(in.nfds, 0);
	assert_int_equal(in.hdr.size, VHU_MAX_PAYLOAD + 1);
}

/* More fds than VHU_MAX_FDS: that request fails, the stream stays in step. */
static void recv_too_many_fds_ctrunc(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 8];
	int fds[VHU_MAX_FDS + 2];
	struct vhu_msg out, in;
	size_t len = wire_bytes(buf, VHU_REQ_SET_MEM_TABLE, 8);
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	for (unsigned int i = 0; i < VHU_MAX_FDS + 2; i++)
		fds[i] = p[i & 1];
	assert_raw_send(f->sv[0], buf, len, fds, VHU_MAX_FDS + 2);
	msg_prepare(&out, VHU_REQ_SET_VRING_CALL, 8);
	out.fds[0] = p[1];
	out.nfds = 1;
	assert_int_equal(vhu_msg_send(f->sv[0], &out), 0);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -EBADMSG);
	assert_int_equal(in.nfds, 0);
	assert_int_equal(in.hdr.request, VHU_REQ_SET_MEM_TABLE);
	assert_int_equal(in.hdr.flags, VHU_VERSION);
	assert_int_equal(in.hdr.size, 8);
	assert_payload_pattern(&in);

	assert_int_equal(vhu_msg_recv(f->sv[1], &in), 0);
	assert_int_equal(in.hdr.request, VHU_REQ_SET_VRING_CALL);
	assert_int_equal(in.hdr.size, 8);
	assert_payload_pattern(&in);
	assert_int_equal(in.nfds, 1);
	assert_same_file(in.fds[0], p[1]);
	vhu_close_fds(in.fds, in.nfds);
	close(p[0]);
	close(p[1]);
}

static void recv_timeout_at_start(void **state)
{
	struct fixture *f = *state;
	struct vhu_msg in;

	set_rcvtimeo(f->sv[1], 50);
	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -EAGAIN);
	assert_int_equal(in.nfds, 0);
}

/* Timing out after part of a message (and its fds) came: nothing is kept. */
static void recv_timeout_mid_message(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[HDR_SIZE + 8];
	struct vhu_msg in;
	int p[2];

	wire_bytes(buf, VHU_REQ_SET_FEATURES, 8);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_raw_send(f->sv[0], buf, HDR_SIZE + 3, p, 2);
	close(p[0]);
	close(p[1]);

	set_rcvtimeo(f->sv[1], 50);
	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -EAGAIN);
	assert_int_equal(in.nfds, 0);
}

static void send_over_limits(void **state)
{
	struct fixture *f = *state;
	struct vhu_msg out, in;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	msg_prepare(&out, VHU_REQ_SET_MEM_TABLE, 8);
	for (unsigned int i = 0; i < VHU_MAX_FDS; i++)
		out.fds[i] = p[0];
	out.nfds = VHU_MAX_FDS + 1;
	assert_int_equal(vhu_msg_send(f->sv[0], &out), -EMSGSIZE);

	out.nfds = 0;
	out.hdr.size = VHU_MAX_PAYLOAD + 1;
	assert_int_equal(vhu_msg_send(f->sv[0], &out), -EMSGSIZE);

	/* Nothing went out. */
	set_rcvtimeo(f->sv[1], 20);
	assert_int_equal(vhu_msg_recv(f->sv[1], &in), -EAGAIN);
	close(p[0]);
	close(p[1]);
}

static void send_to_closed_peer(void **state)
{
	struct fixture *f = *state;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	struct vhu_msg out;
	int p[2];

	/* With the default action a SIGPIPE would end this process. */
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(f->sv[1]);
	f->sv[1] = -1;

	msg_prepare(&out, VHU_REQ_GET_FEATURES, 0);
	assert_int_equal(vhu_msg_send(f->sv[0], &out), -EPIPE);
	msg_prepare(&out, VHU_REQ_SET_VRING_KICK, 8);
	out.fds[0] = p[0];
	out.nfds = 1;
	assert_int_equal(vhu_msg_send(f->sv[0], &out), -EPIPE);
	assert_true(fcntl(p[0], F_GETFD) >= 0); /* still ours */

	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
	close(p[0]);
	close(p[1]);
}

/* ---- listen / accept / connect ------------------------------------------ */

/* One message each way over a fresh connection. */
static void assert_talks(int a, int b)
{
	struct vhu_msg out, in;

	msg_prepare(&out, VHU_REQ_GET_FEATURES, 0);
	assert_int_equal(vhu_msg_send(a, &out), 0);
	assert_int_equal(vhu_msg_recv(b, &in), 0);
	assert_int_equal(in.hdr.request, VHU_REQ_GET_FEATURES);
	msg_prepare(&out, VHU_REQ_GET_FEATURES, 8);
	out.hdr.flags |= VHU_FLAG_REPLY;
	assert_int_equal(vhu_msg_send(b, &out), 0);
	assert_int_equal(vhu_msg_recv(a, &in), 0);
	assert_int_equal(in.hdr.flags, VHU_VERSION | VHU_FLAG_REPLY);
}

static void listen_replaces_stale_socket(void **state)
{
	char path[108];
	int lfd, cfd, afd;
	struct stat st;

	(void)state;
	tmp_path(path, sizeof(path), "stale.sock");
	make_stale_socket(path);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(vhu_sock_connect(path, 0, &cfd), -ECONNREFUSED);

	assert_int_equal(vhu_sock_listen(path, &lfd), 0);
	assert_cloexec(lfd);
	assert_int_equal(vhu_sock_connect(path, 0, &cfd), 0);
	assert_int_equal(vhu_sock_accept(lfd, &afd), 0);
	assert_talks(cfd, afd);
	close(cfd);
	close(afd);
	close(lfd);

	/* What our own closed listener leaves behind is stale too. */
	assert_int_equal(vhu_sock_listen(path, &lfd), 0);
	close(lfd);
	unlink(path);
}

static void listen_on_live_listener(void **state)
{
	char path[108];
	int lfd, lfd2, cfd, afd;

	(void)state;
	tmp_path(path, sizeof(path), "live.sock");
	assert_int_equal(vhu_sock_listen(path, &lfd), 0);
	assert_int_equal(vhu_sock_listen(path, &lfd2), -EADDRINUSE);
	/* The first listener is untouched. */
	assert_int_equal(vhu_sock_connect(path, 0, &cfd), 0);
	assert_int_equal(vhu_sock_accept(lfd, &afd), 0);
	close(cfd);
	close(afd);
	close(lfd);
	unlink(path);
}

/* A listener whose backlog is full is still alive, and the check must not block on it. */
static void listen_on_busy_listener(void **state)
{
	int clients[64], n = 0, lfd, lfd2;
	char path[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	tmp_path(path, sizeof(path), "busy.sock");
	strcpy(sa.sun_path, path);
	assert_int_equal(vhu_sock_listen(path, &lfd), 0);
	for (n = 0; n < 64; n++) {
		clients[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(clients[n] >= 0);
		if (connect(clients[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			assert_int_equal(errno, EAGAIN);
			close(clients[n]);
			break;
		}
	}
	assert_true(n < 64); /* the backlog filled up */
	assert_int_equal(vhu_sock_listen(path, &lfd2), -EADDRINUSE);
	for (int i = 0; i < n; i++)
		close(clients[i]);
	close(lfd);
	unlink(path);
}

static void listen_on_regular_file(void **state)
{
	char path[108], text[8] = { 0 };
	int fd, lfd;

	(void)state;
	tmp_path(path, sizeof(path), "file");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);

	assert_int_equal(vhu_sock_listen(path, &lfd), -EEXIST);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, text, sizeof(text)), 4);
	assert_string_equal(text, "keep");
	close(fd);
	unlink(path);

	/* A directory is not ours to remove either. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(vhu_sock_listen(path, &lfd), -EEXIST);
	assert_int_equal(rmdir(path), 0);
}

static void path_too_long(void **state)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 16];
	size_t dirlen = strlen(tmpdir);
	int fd;

	(void)state;
	/* sizeof(sun_path) - 1 bytes fit, with the NUL... */
	memset(path, 'a', sizeof(path));
	memcpy(path, tmpdir, dirlen);
	path[dirlen] = '/';
	path[sizeof(sa.sun_path) - 1] = '\0';
	assert_int_equal(vhu_sock_listen(path, &fd), 0);
	close(fd);
	unlink(path);
	/* ...one more does not. */
	path[sizeof(sa.sun_path) - 1] = 'a';
	path[sizeof(sa.sun_path)] = '\0';
	assert_int_equal(vhu_sock_listen(path, &fd), -ENAMETOOLONG);
	assert_int_equal(vhu_sock_connect(path, 100, &fd), -ENAMETOOLONG);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(vhu_sock_listen(path, &fd), -ENAMETOOLONG);
	assert_int_equal(vhu_sock_listen("", &fd), -EINVAL);
	assert_int_equal(vhu_sock_connect("", 0, &fd), -EINVAL);
}

static void accept_two_sequential_connections(void **state)
{
	char path[108];
	int lfd, cfd, afd;

	(void)state;
	tmp_path(path, sizeof(path), "seq.sock");
	assert_int_equal(vhu_sock_listen(path, &lfd), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vhu_sock_connect(path, 0, &cfd), 0);
		assert_int_equal(vhu_sock_accept(lfd, &afd), 0);
		assert_cloexec(cfd);
		assert_cloexec(afd);
		assert_talks(cfd, afd);
		close(cfd);
		close(afd);
	}
	close(lfd);
	unlink(path);
}

struct late_server {
	char path[108];
	unsigned int delay_ms;
	int ret;
	int fd;
};

static void *late_server_main(void *arg)
{
	struct late_server *s = arg;
	int lfd;

	sleep_ms(s->delay_ms);
	s->ret = vhu_sock_listen(s->path, &lfd);
	if (s->ret < 0)
		return NULL;
	s->ret = vhu_sock_accept(lfd, &s->fd);
	close(lfd);
	return NULL;
}

static void connect_waits_for_listener(void **state)
{
	struct late_server s = { .delay_ms = 100, .fd = -1 };
	pthread_t thread;
	uint64_t start;
	int cfd;

	(void)state;
	tmp_path(s.path, sizeof(s.path), "late.sock");
	assert_int_equal(pthread_create(&thread, NULL, late_server_main, &s), 0);
	start = now_ms();
	assert_int_equal(vhu_sock_connect(s.path, 5000, &cfd), 0);
	assert_true(now_ms() - start >= 90);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(s.ret, 0);
	assert_cloexec(cfd);
	assert_talks(cfd, s.fd);
	close(cfd);
	close(s.fd);
	unlink(s.path);
}

static void connect_missing_path(void **state)
{
	char path[108];
	uint64_t start;
	int fd;

	(void)state;
	tmp_path(path, sizeof(path), "missing.sock");
	start = now_ms();
	assert_int_equal(vhu_sock_connect(path, 0, &fd), -ENOENT);
	assert_true(now_ms() - start < 50);

	start = now_ms();
	assert_int_equal(vhu_sock_connect(path, 100, &fd), -ENOENT);
	assert_true(now_ms() - start >= 100);

	make_stale_socket(path);
	assert_int_equal(vhu_sock_connect(path, 0, &fd), -ECONNREFUSED);
	unlink(path);
}

/* ---- adopt --------------------------------------------------------------- */

static void adopt_connected_and_listening(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sv[2], lfd;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_false(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(vhu_sock_adopt(sv[0]), VHU_SOCK_CONNECTED);
	assert_cloexec(sv[0]);
	assert_talks(sv[0], sv[1]);
	close(sv[0]);
	close(sv[1]);

	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	/* An address of just the family autobinds an abstract name. */
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa_family_t)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(vhu_sock_adopt(lfd), VHU_SOCK_LISTENING);
	assert_cloexec(lfd);
	close(lfd);
}

static void adopt_rejects(void **state)
{
	int p[2], fd;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(vhu_sock_adopt(p[0]), -ENOTSOCK);
	assert_false(fcntl(p[0], F_GETFD) & FD_CLOEXEC); /* a rejected fd is left as it was */
	close(p[0]);
	close(p[1]);
	assert_int_equal(vhu_sock_adopt(p[0]), -EBADF);
	assert_int_equal(vhu_sock_adopt(-1), -EBADF);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vhu_sock_adopt(fd), -EPROTOTYPE);
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vhu_sock_adopt(fd), -EPROTOTYPE);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		assert_int_equal(vhu_sock_adopt(fd), -EPROTOTYPE);
		close(fd);
	}
	/* Neither listening nor connected. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(vhu_sock_adopt(fd), -ENOTCONN);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(roundtrip_no_fds_empty),
		T(roundtrip_one_fd_small),
		T(roundtrip_max_fds_max_payload),
		T(roundtrip_mixed),
		T(back_to_back_messages),
		T(short_reads_pieces),
		T(short_reads_byte_by_byte),
		T(fds_on_later_segment),
		T(peer_closed_at_start),
		T(peer_closed_mid_header),
		T(peer_closed_mid_payload),
		T(recv_oversized_payload),
		T(recv_too_many_fds_ctrunc),
		T(recv_timeout_at_start),
		T(recv_timeout_mid_message),
		T(send_over_limits),
		T(send_to_closed_peer),
		T(listen_replaces_stale_socket),
		T(listen_on_live_listener),
		T(listen_on_busy_listener),
		T(listen_on_regular_file),
		T(path_too_long),
		T(accept_two_sequential_connections),
		T(connect_waits_for_listener),
		T(connect_missing_path),
		T(adopt_connected_and_listening),
		T(adopt_rejects),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
