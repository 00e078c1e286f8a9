/* SPDX-License-Identifier: MIT */
/*
 * The integration rig (see rig.h): an echo device behind lib/backend on its
 * own thread, and a test front-end with memfd guest memory.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rig.h"
#include "transport/transport.h"

#define DATA_SIZE (64u * 1024u)
#define DATA_PER_QUEUE (16u * 1024u)
#define ECHO_MAX (DATA_PER_QUEUE / 2)

/* ---- log capture ------------------------------------------------------- */

static void rig_log_fn(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	struct rig *r = opaque;
	size_t n = strlen(text);

	(void)level;
	pthread_mutex_lock(&r->log_lock);
	if (r->log_len + n + 2 < sizeof(r->log)) {
		memcpy(r->log + r->log_len, text, n);
		r->log_len += n;
		r->log[r->log_len++] = '\n';
		r->log[r->log_len] = '\0';
	}
	pthread_mutex_unlock(&r->log_lock);
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

bool rig_log_has(struct rig *r, const char *text)
{
	bool found;

	pthread_mutex_lock(&r->log_lock);
	found = strstr(r->log, text) != NULL;
	pthread_mutex_unlock(&r->log_lock);
	return found;
}

void rig_log_clear(struct rig *r)
{
	pthread_mutex_lock(&r->log_lock);
	r->log_len = 0;
	r->log[0] = '\0';
	pthread_mutex_unlock(&r->log_lock);
}

/* ---- start and stop ------------------------------------------------------ */

static void *run_thread(void *arg)
{
	struct rig *r = arg;

	r->run_ret = vhu_backend_run(r->be);
	return NULL;
}

static int sock_timeout(int sock)
{
	struct timeval tv = { .tv_sec = RIG_TIMEOUT_MS / 1000 };

	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

static int rig_connect(struct rig *r)
{
	int ret = vhu_sock_connect(r->path, 2000, &r->sock);

	if (ret == 0)
		ret = sock_timeout(r->sock);
	r->ch.sock = r->sock;
	r->ch.protocol_features = 0;
	return ret;
}

static int rig_socket(struct rig *r)
{
	int sv[2], ret;

	if (r->mode == RIG_LISTEN) {
		snprintf(r->dir, sizeof(r->dir), "/tmp/vhu-rig.XXXXXX");
		if (!mkdtemp(r->dir))
			return -errno;
		snprintf(r->path, sizeof(r->path), "%s/sock", r->dir);
		return vhu_backend_listen(r->be, r->path);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ret = vhu_backend_adopt_fd(r->be, sv[0]);
	if (ret < 0) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	r->sock = sv[1];
	r->ch.sock = r->sock;
	return sock_timeout(r->sock);
}

static void rig_init_fields(struct rig *r, enum rig_mode mode)
{
	uint32_t flags = r->backend_flags;
	struct vhu_pool *pool = r->pool;
	struct vhu_loop *loop = r->loop;
	uint32_t window = r->poll_window_us, inflight = r->poll_inflight_us;
	const struct vhu_device_ops *ops = r->ops;

	memset(r, 0, sizeof(*r));
	r->poll_inflight_us = inflight;
	r->ops = ops;
	r->backend_flags = flags;
	r->pool = pool;
	r->loop = loop;
	r->poll_window_us = window;
	r->mode = mode;
	r->sock = -1;
	for (unsigned int i = 0; i < FG_MAX_REGIONS; i++)
		r->memfd[i] = -1;
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->q[i].kick = r->q[i].call = r->q[i].err = -1;
		r->dev.watch_fd[i] = -1;
	}
	pthread_mutex_init(&r->log_lock, NULL);
	pthread_mutex_init(&r->dev.lock, NULL);
	for (unsigned int i = 0; i < VHU_MAX_CONFIG_SIZE; i++)
		r->dev.config[i] = (uint8_t)i;
	vhu_mem_init(&r->fg.mem, 0);
}

int rig_start(struct rig *r, enum rig_mode mode)
{
	struct vhu_log log = { .fn = rig_log_fn, .opaque = r, .level = VHU_LOG_DEBUG };
	struct vhu_backend_config cfg = {
		.name = "rig",
		.num_queues = RIG_QUEUES,
		.max_queue_size = RIG_MAX_QUEUE_SIZE,
		.protocol_features = r->backend_protocol ? r->backend_protocol : RIG_PROTOCOL,
		.ops = r->ops ? r->ops : &echo_ops,
		.log = &log,
	};
	int ret;

	rig_init_fields(r, mode);
	snprintf(log.prefix, sizeof(log.prefix), "rig");
	cfg.flags = r->backend_flags;
	cfg.dev = &r->dev;
	if (!r->pool && getenv("VHU_TEST_POOL")) {
		/* the suite again with every queue on a pool's threads */
		ret = vhu_pool_create((unsigned int)atoi(getenv("VHU_TEST_POOL")), &r->pool);
		if (ret < 0)
			return ret;
		r->own_pool = true;
	}
	cfg.pool = r->pool;
	cfg.poll_window_us = r->poll_window_us;
	cfg.poll_inflight_us = r->poll_inflight_us;
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		r->dev.req[i] = vhu_reqs_new(1, VHU_REQ_MAX_IOV);
		if (!r->dev.req[i])
			return -ENOMEM;
	}
	ret = vhu_backend_create(&cfg, &r->be);
	if (ret < 0)
		return ret;
	r->dev.be = r->be;
	ret = rig_socket(r);
	if (ret < 0)
		return ret;
	if (!r->loop && getenv("VHU_TEST_LOOP")) {
		/* the suite again with the messages served by a loop's threads */
		ret = vhu_loop_create((unsigned int)atoi(getenv("VHU_TEST_LOOP")), &r->loop);
		if (ret < 0)
			return ret;
		r->own_loop = true;
	}
	ret = rig_serve_start(r);
	if (ret < 0)
		return ret;
	return mode == RIG_LISTEN ? rig_connect(r) : 0;
}

int rig_serve_start(struct rig *r)
{
	int ret;

	if (r->loop) {
		ret = vhu_loop_add(r->loop, r->be, NULL, NULL);
		r->on_loop = ret == 0;
		return ret;
	}
	ret = pthread_create(&r->thread, NULL, run_thread, r);
	if (ret)
		return -ret;
	r->thread_running = true;
	return 0;
}

void rig_serve_stop(struct rig *r)
{
	if (r->on_loop) {
		vhu_loop_remove(r->loop, r->be);
		r->on_loop = false;
	}
	if (r->thread_running) {
		vhu_backend_stop(r->be);
		pthread_join(r->thread, NULL);
		r->thread_running = false;
	}
}

static void queue_fds_close(struct rig *r)
{
	for (unsigned int i = 0; i < RIG_QUEUES; i++) {
		int *fds[] = { &r->q[i].kick, &r->q[i].call, &r->q[i].err };

		for (unsigned int k = 0; k < 3; k++) {
			if (*fds[k] >= 0)
				close(*fds[k]);
			*fds[k] = -1;
		}
		drv_packed_fini(&r->q[i].packed);
	}
}

int rig_reconnect(struct rig *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	queue_fds_close(r);
	return rig_connect(r);
}

void rig_stop(struct rig *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	rig_serve_stop(r);
	vhu_backend_destroy(r->be);
	r->be = NULL;
	if (r->own_loop) {
		vhu_loop_destroy(r->loop);
		r->loop = NULL;
		r->own_loop = false;
	}
	if (r->own_pool) {
		vhu_pool_destroy(r->pool);
		r->pool = NULL;
		r->own_pool = false;
	}
	queue_fds_close(r);
	for (unsigned int i = 0; i < FG_MAX_REGIONS; i++)
		if (r->memfd[i] >= 0)
			close(r->memfd[i]);
	fake_guest_fini(&r->fg);
	for (unsigned int i = 0; i < RIG_QUEUES; i++)
		free(r->dev.req[i]);
	if (r->mode == RIG_LISTEN && r->dir[0]) {
		unlink(r->path);
		rmdir(r->dir);
	}
	pthread_mutex_destroy(&r->log_lock);
	pthread_mutex_destroy(&r->dev.lock);
}

/* ---- guest memory ------------------------------------------------------ */

void rig_region(unsigned int i, struct vhu_mem_region *out)
{
	out->guest_phys_addr = i * FG_REGION_SIZE;
	out->memory_size = FG_REGION_SIZE;
	out->userspace_addr = FG_UVA_BASE + i * FG_UVA_STRIDE;
	out->mmap_offset = 0;
}

int rig_guest_init(struct rig *r, unsigned int nregions)
{
	for (unsigned int i = 0; i < nregions; i++) {
		int fd = memfd_create("vhu-rig", MFD_CLOEXEC);
		void *host;

		if (fd < 0)
			return -errno;
		r->memfd[i] = fd;
		if (ftruncate(fd, (off_t)FG_REGION_SIZE) < 0)
			return -errno;
		host = mmap(NULL, FG_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (host == MAP_FAILED)
			return -errno;
		r->fg.host[i] = host;
		r->fg.nregions = i + 1;
	}
	r->data_gpa = fake_guest_alloc(&r->fg, DATA_SIZE, 4096);
	return r->data_gpa == UINT64_MAX ? -ENOMEM : 0;
}

/* ---- requests ------------------------------------------------------------ */

static uint32_t ack_flag(const struct rig *r)
{
	return (r->ch.protocol_features & PF(REPLY_ACK)) ? VHU_FLAG_NEED_REPLY : 0;
}

static int simple(struct rig *r, uint32_t request)
{
	struct vhu_msg m;

	vhu_msg_init(&m, request, ack_flag(r), 0);
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_negotiate(struct rig *r, uint64_t features, uint64_t protocol)
{
	uint64_t offered = 0, offered_pf = 0;
	int ret = vhu_fe_get_u64(&r->ch, VHU_REQ_GET_FEATURES, &offered);

	if (ret < 0)
		return ret;
	if (features & ~offered)
		return -EINVAL;
	if (features & F_PROTOCOL) {
		ret = vhu_fe_get_u64(&r->ch, VHU_REQ_GET_PROTOCOL_FEATURES, &offered_pf);
		if (ret == 0)
			ret = vhu_fe_set_u64(&r->ch, VHU_REQ_SET_PROTOCOL_FEATURES, protocol);
		if (ret < 0)
			return ret;
		r->ch.protocol_features = protocol;
	}
	ret = simple(r, VHU_REQ_SET_OWNER);
	if (ret == 0)
		ret = vhu_fe_set_u64(&r->ch, VHU_REQ_SET_FEATURES, features);
	if (ret == 0)
		r->features = features;
	return ret;
}

int rig_set_mem_table(struct rig *r, unsigned int n)
{
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_REQ_SET_MEM_TABLE, ack_flag(r),
		     (uint32_t)(offsetof(struct vhu_mem_table, regions) +
				n * sizeof(struct vhu_mem_region)));
	m.payload.mem_table.nregions = n;
	for (unsigned int i = 0; i < n; i++) {
		rig_region(i, &m.payload.mem_table.regions[i]);
		m.fds[i] = r->memfd[i];
	}
	m.nfds = n;
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_vring_state(struct rig *r, uint32_t request, uint32_t index, uint32_t num)
{
	struct vhu_msg m;

	vhu_msg_init(&m, request, ack_flag(r), sizeof(struct vhost_vring_state));
	m.payload.state.index = index;
	m.payload.state.num = num;
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_vring_fd(struct rig *r, uint32_t request, uint64_t u64, int fd)
{
	struct vhu_msg m;

	vhu_msg_init(&m, request, ack_flag(r), sizeof(uint64_t));
	m.payload.u64 = u64;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_get_vring_base(struct rig *r, uint32_t index, uint32_t *base)
{
	struct vhu_msg m, reply;
	int ret;

	vhu_msg_init(&m, VHU_REQ_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
	m.payload.state.index = index;
	ret = vhu_fe_request(&r->ch, &m, &reply);
	if (ret < 0)
		return ret;
	vhu_msg_close_fds(&reply);
	if (reply.payload.state.index != index)
		return -EPROTO;
	*base = reply.payload.state.num;
	return 0;
}

int rig_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int ring_fds(struct rig *r, unsigned int qi)
{
	struct rig_queue *q = &r->q[qi];
	int ret;

	if (q->kick < 0)
		q->kick = rig_eventfd();
	if (q->call < 0)
		q->call = rig_eventfd();
	if (q->err < 0)
		q->err = rig_eventfd();
	if (q->kick < 0 || q->call < 0 || q->err < 0)
		return -EMFILE;
	ret = rig_vring_fd(r, VHU_REQ_SET_VRING_KICK, qi, q->kick);
	if (ret == 0)
		ret = rig_vring_fd(r, VHU_REQ_SET_VRING_CALL, qi, q->call);
	if (ret == 0)
		ret = rig_vring_fd(r, VHU_REQ_SET_VRING_ERR, qi, q->err);
	if (ret == 0 && (r->features & F_PROTOCOL))
		ret = rig_vring_state(r, VHU_REQ_SET_VRING_ENABLE, qi, 1);
	return ret;
}

static int ring_addr(struct rig *r, unsigned int qi, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vhu_msg m;

	vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, ack_flag(r), sizeof(struct vhost_vring_addr));
	m.payload.addr.index = qi;
	m.payload.addr.desc_user_addr = fake_guest_uva(&r->fg, desc);
	m.payload.addr.avail_user_addr = fake_guest_uva(&r->fg, avail);
	m.payload.addr.used_user_addr = fake_guest_uva(&r->fg, used);
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_ring_addr_log(struct rig *r, unsigned int qi, uint32_t flags, uint64_t log_gpa)
{
	struct vhu_msg m;
	const struct rig_queue *q = &r->q[qi];

	vhu_msg_init(&m, VHU_REQ_SET_VRING_ADDR, ack_flag(r), sizeof(struct vhost_vring_addr));
	m.payload.addr.index = qi;
	m.payload.addr.flags = flags;
	m.payload.addr.desc_user_addr =
		fake_guest_uva(&r->fg, q->is_packed ? q->packed.desc_gpa : q->split.desc_gpa);
	m.payload.addr.avail_user_addr = fake_guest_uva(
		&r->fg, q->is_packed ? q->packed.driver_event_gpa : q->split.avail_gpa);
	m.payload.addr.used_user_addr = fake_guest_uva(
		&r->fg, q->is_packed ? q->packed.device_event_gpa : q->split.used_gpa);
	m.payload.addr.log_guest_addr = log_gpa;
	return vhu_fe_request(&r->ch, &m, NULL);
}

int rig_setup_split(struct rig *r, unsigned int qi, uint16_t num)
{
	struct drv_split *s = &r->q[qi].split;
	int ret = drv_split_init(s, &r->fg, num);

	r->q[qi].is_packed = false;
	if (ret == 0)
		ret = rig_vring_state(r, VHU_REQ_SET_VRING_NUM, qi, num);
	if (ret == 0)
		ret = rig_vring_state(r, VHU_REQ_SET_VRING_BASE, qi, 0);
	if (ret == 0)
		ret = ring_addr(r, qi, s->desc_gpa, s->avail_gpa, s->used_gpa);
	return ret ? ret : ring_fds(r, qi);
}

int rig_setup_packed(struct rig *r, unsigned int qi, uint16_t num)
{
	struct drv_packed *p = &r->q[qi].packed;
	int ret = drv_packed_init(p, &r->fg, num);

	r->q[qi].is_packed = true;
	if (ret == 0)
		ret = rig_vring_state(r, VHU_REQ_SET_VRING_NUM, qi, num);
	/* wrap counters 1, slots 0, for both halves */
	if (ret == 0)
		ret = rig_vring_state(r, VHU_REQ_SET_VRING_BASE, qi,
				      VHU_VRING_BASE_WRAP | VHU_VRING_BASE_WRAP << 16);
	if (ret == 0)
		ret = ring_addr(r, qi, p->desc_gpa, p->driver_event_gpa, p->device_event_gpa);
	return ret ? ret : ring_fds(r, qi);
}

/* The driver's guest memory goes (a bring-up again, on a new connection). */
static void rig_guest_release(struct rig *r)
{
	for (unsigned int i = 0; i < FG_MAX_REGIONS; i++) {
		if (r->memfd[i] >= 0)
			close(r->memfd[i]);
		r->memfd[i] = -1;
		if (r->fg.host[i])
			munmap(r->fg.host[i], FG_REGION_SIZE);
		r->fg.host[i] = NULL;
	}
	r->fg.nregions = 0;
	r->fg.next_gpa = 0;
}

int rig_bringup(struct rig *r, uint64_t features, unsigned int nq, uint16_t num)
{
	int ret;

	/* a memfd and the bump allocator's room each time otherwise: ENOMEM after ~100 */
	if (r->fg.nregions)
		rig_guest_release(r);
	ret = rig_guest_init(r, 1);

	if (ret == 0)
		ret = rig_negotiate(r, features, RIG_PROTOCOL);
	if (ret == 0)
		ret = rig_set_mem_table(r, 1);
	for (unsigned int i = 0; i < nq && ret == 0; i++)
		ret = (features & F_RING_PACKED) ? rig_setup_packed(r, i, num)
						 : rig_setup_split(r, i, num);
	return ret;
}

/* ---- the data path --------------------------------------------------------- */

void rig_kick(struct rig *r, unsigned int qi)
{
	(void)eventfd_write(r->q[qi].kick, 1);
}

int rig_wait_fd(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	(void)eventfd_read(fd, &v);
	return 1;
}

/* Take the completion of @id. Return: its length, or -ETIMEDOUT. */
static int64_t wait_used(struct rig *r, unsigned int qi, uint32_t id)
{
	struct rig_queue *q = &r->q[qi];

	for (int tries = 0; tries < 2 * RIG_TIMEOUT_MS; tries++) {
		uint32_t got_id = UINT32_MAX, len = 0;
		uint16_t pid = 0;
		int n;

		if (q->is_packed) {
			n = drv_packed_get_used(&q->packed, &pid, &len);
			got_id = pid;
		} else {
			n = drv_split_get_used(&q->split, &got_id, &len);
		}
		if (n == 1)
			return got_id == id ? (int64_t)len : -EPROTO;
		(void)rig_wait_fd(q->call, 1); /* also drains the interrupt */
	}
	return -ETIMEDOUT;
}

/* Guest byte @gpa, which may be in any region (buffers may cross regions). */
static uint8_t *guest_byte(struct rig *r, uint64_t gpa)
{
	return fake_guest_ptr(&r->fg, gpa, 1);
}

static int echo_fill(struct rig *r, uint64_t out, uint64_t in, uint32_t n, uint8_t seed)
{
	for (uint32_t k = 0; k < n; k++) {
		uint8_t *o = guest_byte(r, out + k), *i = guest_byte(r, in + k);

		if (!o || !i)
			return -EINVAL;
		*o = (uint8_t)(seed + k);
		*i = 0;
	}
	return 0;
}

static int echo_compare(struct rig *r, uint64_t in, uint32_t n, uint8_t seed)
{
	for (uint32_t k = 0; k < n; k++)
		if (*guest_byte(r, in + k) != (uint8_t)(seed + k))
			return -EIO;
	return 0;
}

int rig_echo_at(struct rig *r, unsigned int qi, uint64_t out, uint64_t in, uint32_t n, uint8_t seed)
{
	struct rig_queue *q = &r->q[qi];
	struct drv_buf bufs[2] = { { out, n, false }, { in, n, true } };
	uint32_t id;
	int64_t len;

	if (n == 0 || echo_fill(r, out, in, n, seed) < 0)
		return -EINVAL;
	if (q->is_packed) {
		id = q->packed.ring.avail_idx; /* any id < num that is not in flight */
		if (drv_packed_add(&q->packed, bufs, 2, (uint16_t)id) < 0)
			return -EINVAL;
	} else {
		drv_split_set_used_event(&q->split, q->split.ring.used_idx);
		id = (uint32_t)drv_split_add(&q->split, bufs, 2);
	}
	rig_kick(r, qi);
	len = wait_used(r, qi, id);
	if (len < 0)
		return (int)len;
	if (len != n)
		return -EIO;
	return echo_compare(r, in, n, seed);
}

int rig_echo(struct rig *r, unsigned int qi, uint32_t n, uint8_t seed)
{
	uint64_t out = r->data_gpa + qi * DATA_PER_QUEUE;

	if (n > ECHO_MAX)
		return -EINVAL;
	return rig_echo_at(r, qi, out, out + ECHO_MAX, n, seed);
}

int rig_restart(struct rig *r, unsigned int qi, uint32_t base)
{
	int ret = rig_vring_state(r, VHU_REQ_SET_VRING_BASE, qi, base);

	if (ret == 0)
		ret = rig_vring_fd(r, VHU_REQ_SET_VRING_KICK, qi, r->q[qi].kick);
	return ret;
}

/* ---- raw messages ----------------------------------------------------------- */

int rig_send_raw(int sock, const struct vhu_msg_hdr *hdr, const void *payload, size_t len,
		 const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov[2] = { { (void *)hdr, sizeof(*hdr) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (nfds > 16)
		return -EINVAL;
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
	n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(*hdr) + len ? 0 : -EIO;
}

int rig_recv(struct rig *r, struct vhu_msg *reply)
{
	return vhu_msg_recv(r->sock, reply);
}

int64_t rig_acked(struct rig *r, struct vhu_msg *msg)
{
	struct vhu_msg reply;
	int ret;

	msg->hdr.flags |= VHU_FLAG_NEED_REPLY;
	ret = rig_send_raw(r->sock, &msg->hdr, &msg->payload, msg->hdr.size, msg->fds, msg->nfds);
	if (ret == 0)
		ret = rig_recv(r, &reply);
	if (ret < 0)
		return ret;
	vhu_msg_close_fds(&reply);
	if (reply.hdr.request != msg->hdr.request || reply.hdr.size != sizeof(uint64_t) ||
	    reply.hdr.flags != (VHU_VERSION | VHU_FLAG_REPLY))
		return -EPROTO;
	return (int64_t)(reply.payload.u64 & INT64_MAX);
}

/* ---- leak counters ------------------------------------------------------------- */

unsigned int rig_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

unsigned int rig_count_memfd_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned int n = 0;
	char line[512];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

/* ---- threads ----------------------------------------------------------- */

/* Threads of this process whose name starts with @prefix. */
unsigned int rig_threads_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	unsigned int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[300], name[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && strncmp(name, prefix, strlen(prefix)) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* CPU time (clock ticks) of the threads named @prefix. */
unsigned long long rig_cpu_ticks(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	unsigned long long sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[300], buf[512];
		unsigned long long ut, st;
		char *p;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(buf, ')'); /* comm may hold spaces */
		if (!p || strncmp(strchr(buf, '(') + 1, prefix, strlen(prefix)) != 0)
			continue;
		/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
		 * majflt cmajflt utime stime */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) == 2)
			sum += ut + st;
	}
	closedir(d);
	return sum;
}
