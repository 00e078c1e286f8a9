/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/util.h"
#include "transport/transport.h"
#include <vhu/gpu.h>

#define FDS_SIZE (VHU_MAX_FDS * sizeof(int))

/* Room for exactly VHU_MAX_FDS: the kernel drops the rest and sets MSG_CTRUNC. */
union cmsg_buf {
	char buf[CMSG_SPACE(FDS_SIZE)];
	struct cmsghdr align;
};

/* Receive state of one message: where the next bytes go, and whether fds were lost. */
struct recv_ctx {
	struct vhu_msg *msg;
	bool fds_lost;
};

/* Drop @n bytes from the front of the iovec array. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
	while (*iovcnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*iovcnt)--;
	}
	if (*iovcnt > 0) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* Send @iov whole, the @nfds fds with its first byte. */
static int send_iov(int sock, struct iovec *iov, int iovcnt, const int *fds, unsigned int nfds)
{
	union cmsg_buf cbuf;
	struct msghdr mh = { 0 };

	if (nfds) {
		struct cmsghdr *c;
		size_t size = nfds * sizeof(int);

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(size);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(size);
		memcpy(CMSG_DATA(c), fds, size);
	}

	while (iovcnt > 0) {
		ssize_t n;

		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue; /* nothing was sent, the fds included */
			return -errno;
		}
		/* The fds went with the first byte; the rest of the message goes without. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		iov_advance(&iov, &iovcnt, (size_t)n);
	}
	return 0;
}

int vhu_msg_send(int sock, const struct vhu_msg *msg)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)&msg->hdr, .iov_len = sizeof(msg->hdr) },
		{ .iov_base = (void *)&msg->payload, .iov_len = msg->hdr.size },
	};

	if (msg->hdr.size > VHU_MAX_PAYLOAD || msg->nfds > VHU_MAX_FDS)
		return -EMSGSIZE;
	return send_iov(sock, iov, msg->hdr.size ? 2 : 1, msg->fds, msg->nfds);
}

int vhu_gpu_msg_send(int sock, uint32_t request, uint32_t flags, const void *head, size_t head_size,
		     const void *tail, size_t tail_size, int fd)
{
	struct vhu_msg_hdr hdr = { .request = request, .flags = flags };
	struct iovec iov[3] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)head, .iov_len = head_size },
		{ .iov_base = (void *)tail, .iov_len = tail_size },
	};

	if (head_size > VHU_GPU_MAX_PAYLOAD || tail_size > VHU_GPU_MAX_PAYLOAD - head_size)
		return -EMSGSIZE;
	hdr.size = (uint32_t)(head_size + tail_size);
	return send_iov(sock, iov, 3, &fd, fd >= 0 ? 1 : 0);
}

/*
 * Move the fds of every SCM_RIGHTS cmsg into the message. fds past
 * VHU_MAX_FDS are closed at once, and the message is marked as having lost fds.
 */
static void collect_fds(struct recv_ctx *rc, struct msghdr *mh)
{
	struct vhu_msg *msg = rc->msg;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		const unsigned char *data = CMSG_DATA(c);
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue; /* e.g. SCM_CREDENTIALS: carries no fd */
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			if (msg->nfds < VHU_MAX_FDS) {
				msg->fds[msg->nfds++] = fd;
			} else {
				vhu_close_fd(&fd);
				rc->fds_lost = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		rc->fds_lost = true;
}

/*
 * Read exactly @size bytes into @buf. Every read takes ancillary data, so fds
 * that arrive on any segment are owned by the message, never silently lost.
 */
static int recv_full(int sock, struct recv_ctx *rc, void *buf, size_t size)
{
	char *p = buf;

	while (size > 0) {
		union cmsg_buf cbuf;
		struct iovec iov = { .iov_base = p, .iov_len = size };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf.buf,
			.msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n;

		do
			n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		collect_fds(rc, &mh);
		if (n == 0)
			return -ECONNRESET;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int vhu_msg_recv(int sock, struct vhu_msg *msg)
{
	struct recv_ctx rc = { .msg = msg };
	int ret;

	msg->nfds = 0;
	ret = recv_full(sock, &rc, &msg->hdr, sizeof(msg->hdr));
	if (ret < 0)
		goto out_close;
	if (msg->hdr.size > VHU_MAX_PAYLOAD) {
		ret = -EMSGSIZE;
		goto out_close;
	}
	ret = recv_full(sock, &rc, &msg->payload, msg->hdr.size);
	if (ret < 0)
		goto out_close;
	if (rc.fds_lost) {
		/* Whole message, missing fds: the caller fails just this request. */
		ret = -EBADMSG;
		goto out_close;
	}
	return 0;

out_close:
	vhu_close_fds(msg->fds, msg->nfds);
	msg->nfds = 0;
	return ret;
}

int vhu_gpu_msg_recv(int sock, bool reply, struct vhu_gpu_msg *msg)
{
	struct vhu_msg fds; /* only its fds are used */
	struct recv_ctx rc = { .msg = &fds };
	int ret;

	fds.nfds = 0;
	msg->payload = NULL;
	msg->fd = -1;
	/* the fd travels with the first byte: the header's read collects it */
	ret = recv_full(sock, &rc, &msg->hdr, sizeof(msg->hdr));
	if (ret < 0)
		goto out_close;
	ret = vhu_gpu_hdr_check(&msg->hdr, rc.fds_lost ? VHU_MAX_FDS + 1 : fds.nfds, reply);
	if (ret < 0)
		goto out_close;
	if (msg->hdr.size) {
		/* the row bounded hdr.size before anything is allocated */
		msg->payload = malloc(msg->hdr.size);
		if (!msg->payload) {
			ret = -ENOMEM;
			goto out_close;
		}
		ret = recv_full(sock, &rc, msg->payload, msg->hdr.size);
		if (ret == 0 && (rc.fds_lost || fds.nfds > 1))
			ret = -EBADMSG; /* fds on a later segment: not where the spec puts them */
		if (ret < 0)
			goto out_close;
	}
	if (fds.nfds)
		msg->fd = vhu_fd_take(&fds.fds[0]);
	return 0;

out_close:
	free(msg->payload);
	msg->payload = NULL;
	vhu_close_fds(fds.fds, fds.nfds);
	return ret;
}

void vhu_gpu_msg_free(struct vhu_gpu_msg *msg)
{
	free(msg->payload);
	msg->payload = NULL;
	vhu_close_fd(&msg->fd);
}
