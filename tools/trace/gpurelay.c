/* SPDX-License-Identifier: MIT */
/*
 * One direction of the vhost-user-gpu socket, streamed (gpurelay.h).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpurelay.h"

/* Per step: a few buffers, then the other sockets get their turn. */
#define STEP_ROUNDS 16

union cmsg_space {
	char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
	struct cmsghdr align;
};

void gpu_relay_init(struct gpu_relay *r, int src, int dst)
{
	memset(r, 0, offsetof(struct gpu_relay, buf));
	r->src = src;
	r->dst = dst;
}

void gpu_relay_clear(struct gpu_relay *r)
{
	for (unsigned int i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	r->nfds = 0;
}

short gpu_relay_src_events(const struct gpu_relay *r)
{
	return r->off < r->len ? 0 : POLLIN;
}

short gpu_relay_dst_events(const struct gpu_relay *r)
{
	return r->off < r->len ? POLLOUT : 0;
}

/* Keep the fds of @mh to send on with the next bytes; past VHU_MAX_FDS they are closed. */
static void take_fds(struct gpu_relay *r, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (r->nfds < VHU_MAX_FDS) {
				r->fds[r->nfds++] = fd;
				r->m.nfds++;
			} else {
				close(fd);
				r->fds_lost = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		r->fds_lost = true;
}

/* Read what src has, up to @size bytes, into @p. Return: bytes, 0 (nothing yet) or <0. */
static int src_read(struct gpu_relay *r, void *p, size_t size)
{
	union cmsg_space cbuf;
	struct iovec iov = { .iov_base = p, .iov_len = size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	do
		n = recvmsg(r->src, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	take_fds(r, &mh);
	return (int)n;
}

/* Write what the buffer holds, the waiting fds with its first byte. Return: bytes, 0, <0. */
static int dst_write(struct gpu_relay *r)
{
	union cmsg_space cbuf;
	struct iovec iov = { .iov_base = r->buf + r->off, .iov_len = r->len - r->off };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (r->nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(r->nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(r->nfds * sizeof(int));
		memcpy(CMSG_DATA(c), r->fds, r->nfds * sizeof(int));
	}
	do
		n = sendmsg(r->dst, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	gpu_relay_clear(r); /* the fds went with the first byte */
	r->off += (uint32_t)n;
	return (int)n;
}

/* The header is whole: start relaying the message it begins. */
static void start_msg(struct gpu_relay *r, uint64_t now_ns)
{
	unsigned int nfds = r->m.nfds; /* the fds came with the header */

	memset(&r->m, 0, sizeof(r->m));
	memcpy(&r->m.hdr, r->hdr, sizeof(r->hdr));
	r->m.nfds = nfds;
	r->in_msg = true;
	r->kept = 0;
	r->left = r->m.hdr.size;
	r->at_ns = now_ns;
	memcpy(r->buf, r->hdr, sizeof(r->hdr));
	r->off = 0;
	r->len = sizeof(r->hdr);
}

int gpu_relay_step(struct gpu_relay *r, uint64_t (*now)(void), gpu_relay_done_fn *done, void *ctx)
{
	int moved = 0;

	for (int round = 0; round < STEP_ROUNDS; round++) {
		int n;

		if (r->off < r->len) {
			n = dst_write(r);
		} else if (r->in_msg && !r->left) {
			r->m.nfds = r->m.nfds > VHU_MAX_FDS ? VHU_MAX_FDS : r->m.nfds;
			done(ctx, r, now());
			r->in_msg = false;
			r->hdr_got = 0;
			r->m.nfds = 0;
			r->fds_lost = false;
			continue;
		} else if (!r->in_msg) {
			n = src_read(r, r->hdr + r->hdr_got, sizeof(r->hdr) - r->hdr_got);
			if (n > 0 && (r->hdr_got += (uint32_t)n) == sizeof(r->hdr))
				start_msg(r, now());
		} else {
			uint32_t want = r->left < GPU_RELAY_BUF ? (uint32_t)r->left : GPU_RELAY_BUF;

			n = src_read(r, r->buf, want);
			if (n > 0) {
				uint32_t keep = sizeof(r->m.payload) - r->kept;

				if (keep > (uint32_t)n)
					keep = (uint32_t)n;
				memcpy(r->m.payload.raw + r->kept, r->buf, keep);
				r->kept += keep;
				r->left -= (uint32_t)n;
				r->off = 0;
				r->len = (uint32_t)n;
			}
		}
		if (n < 0)
			return n;
		if (n == 0)
			break;
		moved = 1;
	}
	return moved;
}
