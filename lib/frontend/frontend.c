/* SPDX-License-Identifier: MIT */
/*
 * The front-end: connect, negotiate, share memfd memory, set up rings, and
 * serve the back-end channel (include/vhu/frontend.h).
 *
 * Requests go out on the control thread with NEED_REPLY whenever REPLY_ACK
 * was negotiated and the request has no reply of its own, so every failure
 * is seen where it happens. A transport error (-ECONNRESET, -EPIPE, or a
 * reply that did not come within timeout_ms, after which the stream is out
 * of step) marks the front-end dead: later requests fail at once with
 * -ECONNRESET.
 *
 * The back-end channel is served by a thread of its own: see channel.c;
 * the inflight region and reconnecting to a restarted back-end are in
 * reconnect.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/guest_mem.h"
#include "frontend/internal.h"
#include "frontend/requests.h"
#include "frontend/rings.h"
#include "transport/transport.h"
#include <vhu/frontend.h>

#define DEFAULT_TIMEOUT_MS 5000u
#define DEFAULT_QUEUE_SIZE 256u
#define DEFAULT_MEM_SIZE (1ull << 20)
#define MAX_QUEUES 256u

#define F_INDIRECT_DESC (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)
#define F_RING_PACKED (1ull << 34) /* VIRTIO_F_RING_PACKED */
#define F_PROTOCOL (1ull << VHU_F_PROTOCOL_FEATURES)

/* virtio status bits (spec: "Device Status Field") */
#define S_ACKNOWLEDGE 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u

#define PF(bit) VHU_BIT(VHU_PROTOCOL_F_##bit)
/* What this front-end implements; anything else is never negotiated. */
#define PROTOCOL_SUPPORTED                                                            \
	(PF(MQ) | PF(REPLY_ACK) | PF(BACKEND_REQ) | PF(CONFIG) | PF(INFLIGHT_SHMFD) | \
	 PF(RESET_DEVICE) | PF(CONFIGURE_MEM_SLOTS) | PF(STATUS) | PF(LOG_SHMFD) |    \
	 PF(DEVICE_STATE) | PF(RARP) | PF(INBAND_NOTIFICATIONS) | PF(HOST_NOTIFIER) | \
	 PF(BACKEND_SEND_FD) | PF(SHARED_OBJECT) | PF(SHMEM))

/* ---- requests ------------------------------------------------------------ */

/* Every request's result passes here: name the failure, notice a dead peer. */
int vhu_fe_req_done(struct vhu_frontend *fe, uint32_t request, int ret)
{
	/* another thread's request (the channel thread's) may set it meanwhile */
	const char *why = vhu_fe_last_error(&fe->ch);

	if (ret >= 0)
		return ret;
	if (__atomic_load_n(&fe->ch.broken, __ATOMIC_ACQUIRE)) {
		if (__atomic_exchange_n(&fe->alive, false, __ATOMIC_ACQ_REL))
			vhu_err(&fe->log, "%s: closing the connection: %s",
				vhu_rule_name(VHU_DIR_TO_BACKEND, request),
				why ? why : "malformed reply");
		return -EPROTO;
	}
	if (ret == -EPIPE || ret == -ECONNRESET || ret == -EAGAIN) {
		if (__atomic_exchange_n(&fe->alive, false, __ATOMIC_ACQ_REL))
			vhu_err(&fe->log, "%s: the back-end %s",
				vhu_rule_name(VHU_DIR_TO_BACKEND, request),
				ret == -EAGAIN ? "did not answer in time"
					       : "closed the connection");
		return ret == -EAGAIN ? -ETIMEDOUT : -ECONNRESET;
	}
	vhu_err(&fe->log, "%s failed: %s%s%s", vhu_rule_name(VHU_DIR_TO_BACKEND, request),
		strerror(-ret), why ? ": " : "", why ? why : "");
	return ret;
}

int vhu_fe_send_req(struct vhu_frontend *fe, struct vhu_msg *req)
{
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	return vhu_fe_req_done(fe, req->hdr.request, vhu_fe_send(&fe->ch, req));
}

static int fe_get_u64(struct vhu_frontend *fe, uint32_t request, uint64_t *out)
{
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	return vhu_fe_req_done(fe, request, vhu_fe_get_u64(&fe->ch, request, out));
}

static int fe_set_u64(struct vhu_frontend *fe, uint32_t request, uint64_t value)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, 0, sizeof(uint64_t));
	req.payload.u64 = value;
	return vhu_fe_send_req(fe, &req);
}

int vhu_fe_vring_state(struct vhu_frontend *fe, uint32_t request, unsigned int index, uint32_t num)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, 0, sizeof(struct vhost_vring_state));
	req.payload.state.index = index;
	req.payload.state.num = num;
	return vhu_fe_send_req(fe, &req);
}

/* SET_VRING_KICK/CALL/ERR; in-band notifications: no fd (NOFD), the channel carries them */
static int fe_vring_fd(struct vhu_frontend *fe, uint32_t request, unsigned int index, int fd)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, 0, sizeof(uint64_t));
	req.payload.u64 = index & VHU_VRING_IDX_MASK;
	if (fe->protocol & PF(INBAND_NOTIFICATIONS)) {
		req.payload.u64 |= VHU_VRING_NOFD_MASK;
	} else {
		req.fds[0] = fd; /* still ours: send does not close it */
		req.nfds = 1;
	}
	return vhu_fe_send_req(fe, &req);
}

static bool has_protocol(const struct vhu_frontend *fe, unsigned int bit)
{
	return fe->protocol & VHU_BIT(bit);
}

/* QEMU's order: status bits are added, never taken back, until the device stops. */
static int fe_set_status(struct vhu_frontend *fe, uint8_t status)
{
	if (!has_protocol(fe, VHU_PROTOCOL_F_STATUS))
		return 0;
	return fe_set_u64(fe, VHU_REQ_SET_STATUS, status);
}

/* ---- connect ------------------------------------------------------------- */

static int accept_one(struct vhu_frontend *fe, int *out)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret = vhu_sock_listen(fe->path, &pfd.fd);

	if (ret < 0)
		return ret;
	do
		ret = poll(&pfd, 1, (int)fe->cfg.timeout_ms);
	while (ret < 0 && errno == EINTR);
	if (ret == 0)
		ret = -ETIMEDOUT;
	else if (ret > 0)
		ret = vhu_sock_accept(pfd.fd, out);
	else
		ret = -errno;
	close(pfd.fd);
	unlink(fe->path); /* one connection: nobody else should find the path */
	return ret;
}

int vhu_fe_sock_open(struct vhu_frontend *fe)
{
	int ret;

	if (fe->cfg.fd >= 0) {
		fe->sock = fe->cfg.fd;
		fe->cfg.fd = -1; /* ours now; a reconnect needs socket_path */
		ret = vhu_sock_adopt(fe->sock);
		if (ret >= 0 && ret != VHU_SOCK_CONNECTED)
			ret = -ENOTCONN;
	} else if (fe->cfg.server) {
		ret = accept_one(fe, &fe->sock);
	} else {
		ret = vhu_sock_connect(fe->path, fe->cfg.timeout_ms, &fe->sock);
	}
	if (ret < 0) {
		vhu_err(&fe->log, "%s %s: %s",
			fe->cfg.server ? "no back-end connected to" : "cannot connect to",
			fe->path ? fe->path : "the given fd", strerror(-ret));
		return ret;
	}
	/* every reply wait is bounded; SIGPIPE is avoided by the transport */
	ret = vhu_sock_set_timeouts(fe->sock, fe->cfg.timeout_ms);
	if (ret < 0)
		return ret;
	fe->ch.sock = fe->sock;
	fe->ch.log = &fe->log;
	fe->ch.protocol_features = 0; /* no acks before SET_PROTOCOL_FEATURES */
	__atomic_store_n(&fe->ch.broken, false, __ATOMIC_RELEASE);
	fe->ch.unsolicited = NULL; /* until vhost-pci is negotiated again */
	fe->mem_shared = false;	   /* a new connection has none of it */
	__atomic_store_n(&fe->alive, true, __ATOMIC_RELEASE);
	return 0;
}

/* A back-end that came back must offer all it offered before: the rings depend on it. */
static int offered_again(struct vhu_frontend *fe, const char *what, uint64_t had, uint64_t offered)
{
	if ((offered & had) == had)
		return 0;
	vhu_err(&fe->log, "the back-end came back without %s 0x%llx it had negotiated", what,
		(unsigned long long)(had & ~offered));
	return -EPROTO;
}

static int negotiate_protocol(struct vhu_frontend *fe, bool again)
{
	uint64_t offered, queues;
	int ret;

	ret = fe_get_u64(fe, VHU_REQ_GET_PROTOCOL_FEATURES, &offered);
	if (ret < 0)
		return ret;
	if (again) {
		ret = offered_again(fe, "protocol features", fe->protocol, offered);
		if (ret < 0)
			return ret;
	} else {
		/* REPLY_ACK whenever offered: every request is then confirmed;
		 * bit 4 only as VHOST_PCI, only with the opt-in (vhost_pci.c) */
		uint64_t vpci = fe->cfg.vhost_pci ? PF(VHOST_PCI) : 0;

		fe->protocol = offered & (fe->cfg.protocol_features | PF(REPLY_ACK) | vpci) &
			       (PROTOCOL_SUPPORTED | vpci);
		/* in-band only when asked for, and with what it needs (spec) */
		if (!fe->cfg.inband_notifications ||
		    (fe->protocol & (PF(BACKEND_REQ) | PF(REPLY_ACK))) !=
			    (PF(BACKEND_REQ) | PF(REPLY_ACK)))
			fe->protocol &= ~PF(INBAND_NOTIFICATIONS);
		/* host notifiers when asked for: the page comes as an fd, acked */
		if (!fe->cfg.host_notifiers ||
		    (fe->protocol &
		     (PF(BACKEND_REQ) | PF(REPLY_ACK) | PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD))) !=
			    (PF(BACKEND_REQ) | PF(REPLY_ACK) | PF(HOST_NOTIFIER) |
			     PF(BACKEND_SEND_FD)))
			fe->protocol &= ~(PF(HOST_NOTIFIER) | PF(BACKEND_SEND_FD));
		/* shared objects need a table to note them in */
		if (!fe->cfg.objects)
			fe->protocol &= ~PF(SHARED_OBJECT);
	}
	/* no NEED_REPLY yet: acks start once this request has set them up */
	ret = fe_set_u64(fe, VHU_REQ_SET_PROTOCOL_FEATURES, fe->protocol);
	if (ret < 0)
		return ret;
	fe->ch.protocol_features = fe->protocol;
	vhu_fe_vpci_init(fe);
	if (!has_protocol(fe, VHU_PROTOCOL_F_MQ))
		return 0;
	ret = fe_get_u64(fe, VHU_REQ_GET_QUEUE_NUM, &queues);
	if (ret < 0)
		return ret;
	if (fe->cfg.num_queues > queues) {
		vhu_err(&fe->log, "%u queues wanted, the back-end has %llu", fe->cfg.num_queues,
			(unsigned long long)queues);
		return -ENOTSUP;
	}
	return 0;
}

/* QEMU's order (vhost_user_backend_init, then vhost_dev_init's SET_OWNER). */
int vhu_fe_negotiate(struct vhu_frontend *fe, bool again)
{
	struct vhu_msg owner;
	uint64_t offered;
	int ret = fe_get_u64(fe, VHU_REQ_GET_FEATURES, &offered);

	if (ret < 0)
		return ret;
	if (again) {
		/* fe->offered stays the first back-end's: start and the rings were built on it */
		ret = offered_again(fe, "features", fe->features | (fe->offered & F_PROTOCOL),
				    offered);
		if (ret < 0)
			return ret;
	} else {
		fe->offered = offered;
		fe->features = offered & fe->cfg.features & ~F_PROTOCOL;
	}
	if (fe->offered & F_PROTOCOL) {
		ret = negotiate_protocol(fe, again);
		if (ret < 0)
			return ret;
	}
	if (has_protocol(fe, VHU_PROTOCOL_F_BACKEND_REQ)) {
		ret = vhu_fe_chan_open(fe);
		if (ret < 0)
			return ret;
	}
	vhu_msg_init(&owner, VHU_REQ_SET_OWNER, 0, 0);
	ret = vhu_fe_send_req(fe, &owner);
	if (ret == 0)
		ret = vhu_fe_shmem_setup(fe);
	if (ret < 0)
		return ret;
	return fe_set_status(fe, S_ACKNOWLEDGE | S_DRIVER);
}

static bool has_feature(const struct vhu_frontend *fe, uint64_t bit)
{
	return fe->features & bit;
}

/* Bytes the rings and indirect tables of every queue take, alignment included. */
static uint64_t rings_size(const struct vhu_frontend *fe)
{
	uint64_t desc, avail, used, total = 4096;
	uint16_t num = fe->cfg.queue_size;

	vhu_fe_vpci_ring_sizes(fe, has_feature(fe, F_RING_PACKED), num, &desc, &avail, &used);
	total += fe->cfg.num_queues * (desc + avail + used + 3 * 64);
	if (has_feature(fe, F_INDIRECT_DESC))
		total += fe->cfg.num_queues * ((uint64_t)num * VHU_FE_INDIRECT_MAX * 16 + 64);
	return total;
}

/* Carve each queue's ring areas first, so mem_size stays the caller's. */
static int queues_alloc(struct vhu_frontend *fe)
{
	bool packed = has_feature(fe, F_RING_PACKED), indirect = has_feature(fe, F_INDIRECT_DESC);
	uint16_t num = fe->cfg.queue_size;
	struct vhu_frontend_queue *qs = calloc(fe->cfg.num_queues, sizeof(*qs));
	uint64_t desc, avail, used;

	if (!qs)
		return -ENOMEM;
	for (unsigned int i = 0; i < fe->cfg.num_queues; i++) {
		qs[i].kick_fd = qs[i].call_fd = qs[i].err_fd = -1;
		pthread_mutex_init(&qs[i].db_lock, NULL);
	}
	/* the channel thread may look (a BACKEND_VRING_CALL): published whole */
	__atomic_store_n(&fe->queues, qs, __ATOMIC_RELEASE);
	vhu_fe_vpci_ring_sizes(fe, packed, num, &desc, &avail, &used);
	for (unsigned int i = 0; i < fe->cfg.num_queues; i++) {
		struct vhu_frontend_queue *q = &fe->queues[i];
		struct vhu_fe_ring_mem *m = &q->mem;

		q->fe = fe;
		q->index = i;
		m->desc = vhu_fe_mem_alloc(&fe->mem, desc, 64);
		m->avail = vhu_fe_mem_alloc(&fe->mem, avail, 64);
		m->used = vhu_fe_mem_alloc(&fe->mem, used, 64);
		if (indirect)
			m->tables = vhu_fe_mem_alloc(
				&fe->mem, num * VHU_FE_INDIRECT_MAX * (uint64_t)VHU_RING_DESC_SIZE,
				64);
		if (!m->desc || !m->avail || !m->used || (indirect && !m->tables))
			return -ENOMEM;
		(void)vhu_fe_mem_gpa(&fe->mem, m->desc, desc, &m->desc_gpa);
		(void)vhu_fe_mem_gpa(&fe->mem, m->avail, avail, &m->avail_gpa);
		(void)vhu_fe_mem_gpa(&fe->mem, m->used, used, &m->used_gpa);
		if (indirect)
			(void)vhu_fe_mem_gpa(&fe->mem, m->tables, 16, &m->tables_gpa);
	}
	return 0;
}

static int config_check(struct vhu_frontend_config *c)
{
	if (c->fd < 0 && (!c->socket_path || !c->socket_path[0]))
		return -EINVAL;
	if (c->timeout_ms == 0)
		c->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (c->num_queues == 0)
		c->num_queues = 1;
	if (c->queue_size == 0)
		c->queue_size = DEFAULT_QUEUE_SIZE;
	if (c->mem_size == 0)
		c->mem_size = DEFAULT_MEM_SIZE;
	if (c->num_queues > MAX_QUEUES || c->queue_size > 32768 || c->mem_size > (1ull << 40) ||
	    c->timeout_ms > INT32_MAX)
		return -EINVAL;
	return 0;
}

static int frontend_new(const struct vhu_frontend_config *config, struct vhu_frontend **out)
{
	struct vhu_frontend *fe = calloc(1, sizeof(*fe));

	if (!fe)
		return -ENOMEM;
	fe->cfg = *config;
	fe->sock = -1;
	fe->chan_fd = -1;
	fe->inflight_fd = -1;
	fe->dlog_fd = -1;
	fe->mem.fd = -1;
	vhu_fe_shared_init(fe);
	if (config->socket_path) {
		fe->path = strdup(config->socket_path);
		if (!fe->path) {
			free(fe);
			return -ENOMEM;
		}
	}
	fe->cfg.socket_path = fe->path;
	if (config->log)
		fe->log = *config->log;
	else
		vhu_log_init(&fe->log, fe->path ? fe->path : "vhu-frontend");
	*out = fe;
	return 0;
}

int vhu_frontend_connect(const struct vhu_frontend_config *config, struct vhu_frontend **out)
{
	struct vhu_frontend_config c;
	struct vhu_frontend *fe;
	int ret;

	if (!config || !out)
		return -EINVAL;
	c = *config;
	ret = config_check(&c);
	if (ret < 0) {
		if (c.fd >= 0)
			close(c.fd); /* owned from the call on, even when it fails */
		return ret;
	}
	ret = frontend_new(&c, &fe);
	if (ret < 0)
		return ret;
	ret = vhu_fe_sock_open(fe);
	if (ret == 0)
		ret = vhu_fe_negotiate(fe, false);
	if (ret == 0 && !has_feature(fe, F_RING_PACKED) && !vhu_is_pow2(c.queue_size)) {
		vhu_err(&fe->log, "a split ring of %u entries: the size must be a power of two",
			c.queue_size);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = vhu_fe_iommu_init(fe);
	if (ret == 0) {
		vhu_fe_shared_ready(fe); /* its requests are locked from now on */
		ret = vhu_fe_mem_create(&fe->mem, c.mem_size + rings_size(fe), &fe->log);
	}
	if (ret == 0) {
		vhu_fe_iommu_mem(fe); /* before the rings' addresses are taken */
		ret = queues_alloc(fe);
	}
	if (ret < 0) {
		vhu_frontend_destroy(fe);
		return ret;
	}
	*out = fe;
	return 0;
}

uint64_t vhu_frontend_features(const struct vhu_frontend *fe)
{
	return fe->features;
}

uint64_t vhu_frontend_offered_features(const struct vhu_frontend *fe)
{
	return fe->offered;
}

uint64_t vhu_frontend_protocol_features(const struct vhu_frontend *fe)
{
	return fe->protocol;
}

bool vhu_frontend_alive(struct vhu_frontend *fe)
{
	return __atomic_load_n(&fe->alive, __ATOMIC_ACQUIRE);
}

void *vhu_frontend_alloc(struct vhu_frontend *fe, uint64_t size, uint64_t align)
{
	return vhu_fe_mem_alloc(&fe->mem, size, align ? align : 1);
}

/* ---- config space ------------------------------------------------------------ */

int vhu_frontend_get_config(struct vhu_frontend *fe, uint32_t offset, void *buf, uint32_t size)
{
	if (!has_protocol(fe, VHU_PROTOCOL_F_CONFIG))
		return -ENOTSUP;
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	return vhu_fe_req_done(fe, VHU_REQ_GET_CONFIG,
			       vhu_fe_get_config(&fe->ch, offset, size, buf));
}

int vhu_frontend_set_config(struct vhu_frontend *fe, uint32_t offset, const void *buf,
			    uint32_t size)
{
	struct vhu_msg req;

	if (!has_protocol(fe, VHU_PROTOCOL_F_CONFIG))
		return -ENOTSUP;
	if (size > VHU_MAX_CONFIG_SIZE)
		return -EINVAL;
	vhu_msg_init(&req, VHU_REQ_SET_CONFIG, 0, VHU_CONFIG_HDR_SIZE + size);
	req.payload.config.offset = offset;
	req.payload.config.size = size;
	req.payload.config.flags = VHU_CONFIG_F_WRITABLE;
	memcpy(req.payload.config.region, buf, size);
	return vhu_fe_send_req(fe, &req);
}

/* ---- start and stop ------------------------------------------------------------ */

/* SET_VRING_ADDR; while logging, with the log flag and the used ring's gpa. */
int vhu_frontend_queue_addr(struct vhu_frontend *fe, struct vhu_frontend_queue *q)
{
	struct vhu_msg req;
	uint64_t used_gpa = 0;

	vhu_msg_init(&req, VHU_REQ_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
	req.payload.addr.index = q->index;
	/* behind an IOMMU the ring addresses are IOVAs too (QEMU's vhost_virtqueue_set_addr) */
	req.payload.addr.desc_user_addr = fe->iommu ? q->mem.desc_gpa : vhu_fe_mem_uva(q->mem.desc);
	req.payload.addr.avail_user_addr =
		fe->iommu ? q->mem.avail_gpa : vhu_fe_mem_uva(q->mem.avail);
	req.payload.addr.used_user_addr = fe->iommu ? q->mem.used_gpa : vhu_fe_mem_uva(q->mem.used);
	if (fe->dlog && vhu_fe_mem_gpa(&fe->mem, q->mem.used, 1, &used_gpa) == 0) {
		req.payload.addr.flags = 1u << VHOST_VRING_F_LOG;
		/* the log is of guest-physical pages, never IOVAs */
		req.payload.addr.log_guest_addr = used_gpa - fe->mem.dma_base + VHU_FE_MEM_GPA;
	}
	return vhu_fe_send_req(fe, &req);
}

/*
 * The driver's side of a fresh ring: zeroed ring memory, new bookkeeping,
 * and two eventfds (kept from an earlier start).
 */
static int queue_init(struct vhu_frontend *fe, struct vhu_frontend_queue *q)
{
	bool packed = has_feature(fe, F_RING_PACKED);
	struct vhu_fe_ring_mem m;
	uint64_t desc, avail, used;
	int ret;

	vhu_fe_ring_sizes(packed, fe->cfg.queue_size, &desc, &avail, &used);
	memset(q->mem.desc, 0, desc);
	memset(q->mem.avail, 0, avail);
	memset(q->mem.used, 0, used);
	vhu_fe_ring_fini(&q->ring);
	free(q->bufs);
	m = q->mem;
	if (!has_feature(fe, F_INDIRECT_DESC))
		m.tables = NULL; /* a vhost-pci renegotiation may drop it (vhost_pci.c) */
	ret = vhu_fe_ring_init(&q->ring, packed, has_feature(fe, F_EVENT_IDX), fe->cfg.queue_size,
			       &m);
	if (ret < 0)
		return ret;
	q->bufs = calloc(vhu_fe_ring_max_chain(&q->ring), sizeof(*q->bufs));
	q->disabled = false;
	if (q->kick_fd < 0)
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* atomic: the channel thread signals them (in-band calls) */
	if (q->call_fd < 0)
		__atomic_store_n(&q->call_fd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
				 __ATOMIC_RELEASE);
	if (q->err_fd < 0)
		__atomic_store_n(&q->err_fd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
				 __ATOMIC_RELEASE);
	else
		(void)!read(q->err_fd, &(uint64_t){ 0 }, sizeof(uint64_t)); /* a fresh ring */
	if (!q->bufs)
		return -ENOMEM;
	if (q->kick_fd < 0 || q->call_fd < 0 || q->err_fd < 0)
		return -errno;
	return 0;
}

/*
 * Hand the ring to the back-end from @base on (QEMU's vhost_virtqueue_start).
 * A resumed ring keeps its eventfds: a thread may be waiting on the call fd.
 */
static int queue_start(struct vhu_frontend *fe, struct vhu_frontend_queue *q, uint32_t base)
{
	int ret;

	ret = vhu_fe_vring_state(fe, VHU_REQ_SET_VRING_NUM, q->index, fe->cfg.queue_size);
	if (ret == 0)
		ret = vhu_fe_vring_state(fe, VHU_REQ_SET_VRING_BASE, q->index, base);
	if (ret == 0)
		ret = vhu_frontend_queue_addr(fe, q);
	if (ret == 0)
		ret = fe_vring_fd(fe, VHU_REQ_SET_VRING_KICK, q->index, q->kick_fd);
	if (ret == 0)
		ret = fe_vring_fd(fe, VHU_REQ_SET_VRING_CALL, q->index, q->call_fd);
	if (ret == 0) /* as QEMU's vhost_virtqueue_init: where the back-end says a ring broke */
		ret = fe_vring_fd(fe, VHU_REQ_SET_VRING_ERR, q->index, q->err_fd);
	return ret;
}

int vhu_fe_device_setup(struct vhu_frontend *fe, bool resume)
{
	bool protocol = fe->offered & F_PROTOCOL;
	int ret;

	/* the rings start disabled when PROTOCOL_FEATURES is on: SET_VRING_ENABLE below;
	 * with vhost-pci, the back-end may answer with a subset of these (vhost_pci.c) */
	if (has_protocol(fe, VHU_PROTOCOL_F_VHOST_PCI))
		__atomic_store_n(&fe->vpci_sent, fe->features | (protocol ? F_PROTOCOL : 0),
				 __ATOMIC_RELEASE);
	ret = fe_set_u64(fe, VHU_REQ_SET_FEATURES, fe->features | (protocol ? F_PROTOCOL : 0));
	if (ret == 0) /* QEMU adds FEATURES_OK from its SET_FEATURES (vhost_user_set_features) */
		ret = fe_set_status(fe, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
	if (ret == 0 && !fe->mem_shared) {
		ret = vhu_fe_req_done(
			fe,
			has_protocol(fe, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)
				? VHU_REQ_ADD_MEM_REG
				: VHU_REQ_SET_MEM_TABLE,
			vhu_fe_mem_share(&fe->mem, &fe->ch,
					 has_protocol(fe, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)));
		fe->mem_shared = ret == 0;
	}
	/* QEMU's order (vhost_user_blk_start): the region is set before any ring starts */
	if (ret == 0)
		ret = vhu_fe_inflight_setup(fe, resume);
	for (unsigned int i = 0; ret == 0 && i < fe->cfg.num_queues; i++) {
		struct vhu_frontend_queue *q = &fe->queues[i];

		ret = queue_start(fe, q,
				  resume ? vhu_fe_ring_resume_base(&q->ring)
					 : vhu_fe_ring_base(&q->ring));
	}
	for (unsigned int i = 0; ret == 0 && protocol && i < fe->cfg.num_queues; i++)
		ret = vhu_fe_vring_state(fe, VHU_REQ_SET_VRING_ENABLE, i, !fe->queues[i].disabled);
	if (ret == 0)
		ret = fe_set_status(fe, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return ret;
}

int vhu_frontend_start(struct vhu_frontend *fe)
{
	int ret = 0;

	if (fe->started)
		return -EALREADY;
	for (unsigned int i = 0; ret == 0 && i < fe->cfg.num_queues; i++)
		ret = queue_init(fe, &fe->queues[i]);
	/* a fresh device: a region of the last start describes rings that are gone */
	vhu_fe_inflight_drop(fe);
	if (ret == 0)
		ret = vhu_fe_device_setup(fe, false);
	if (ret == 0)
		fe->started = true;
	return ret;
}

int vhu_frontend_stop(struct vhu_frontend *fe)
{
	int ret = 0, r;

	if (!fe->started)
		return 0;
	fe->started = false;
	for (unsigned int i = 0; i < fe->cfg.num_queues; i++) {
		struct vhu_msg req, reply;

		vhu_msg_init(&req, VHU_REQ_GET_VRING_BASE, 0, sizeof(struct vhost_vring_state));
		req.payload.state.index = i;
		r = vhu_frontend_alive(fe) ? vhu_fe_request(&fe->ch, &req, &reply) : -ECONNRESET;
		if (r > 0)
			vhu_msg_close_fds(&reply);
		r = vhu_fe_req_done(fe, VHU_REQ_GET_VRING_BASE, r);
		if (ret == 0 && r < 0)
			ret = r;
		vhu_fe_notifier_drop(&fe->queues[i]); /* as QEMU: the stopped ring's page goes */
	}
	/* as QEMU's vhost_user_dev_start(false): the device is reset */
	r = fe_set_status(fe, 0);
	return ret ? ret : r;
}

int vhu_frontend_send_rarp(struct vhu_frontend *fe, const uint8_t mac[6])
{
	uint64_t v = 0;

	if (!has_protocol(fe, VHU_PROTOCOL_F_RARP))
		return -ENOTSUP;
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	/* spec: "SEND_RARP": the MAC in the first 6 bytes of the u64 */
	memcpy(&v, mac, 6);
	return fe_set_u64(fe, VHU_REQ_SEND_RARP, v);
}

int vhu_frontend_reset(struct vhu_frontend *fe)
{
	struct vhu_msg req;
	int ret = vhu_frontend_stop(fe);

	if (ret < 0)
		return ret;
	if (!vhu_frontend_alive(fe))
		return -ECONNRESET;
	/* as QEMU's vhost_user_reset_device(): RESET_OWNER without RESET_DEVICE */
	vhu_msg_init(&req,
		     has_protocol(fe, VHU_PROTOCOL_F_RESET_DEVICE) ? VHU_REQ_RESET_DEVICE
								   : VHU_REQ_RESET_OWNER,
		     0, 0);
	return vhu_fe_send_req(fe, &req);
}

void vhu_frontend_destroy(struct vhu_frontend *fe)
{
	if (!fe)
		return;
	vhu_fe_shared_close(fe); /* first: the table no longer leads other threads here */
	vhu_fe_chan_close(fe);
	vhu_close_fd(&fe->sock);
	vhu_fe_inflight_drop(fe);
	vhu_fe_log_free(fe);
	for (unsigned int i = 0; fe->queues && i < fe->cfg.num_queues; i++) {
		struct vhu_frontend_queue *q = &fe->queues[i];

		vhu_fe_ring_fini(&q->ring);
		free(q->bufs);
		vhu_close_fd(&q->kick_fd);
		vhu_close_fd(&q->call_fd);
		vhu_close_fd(&q->err_fd);
		vhu_fe_notifier_drop(q); /* the channel thread has ended */
		pthread_mutex_destroy(&q->db_lock);
	}
	free(fe->queues);
	vhu_fe_mem_destroy(&fe->mem);
	vhu_fe_iommu_fini(fe);
	vhu_fe_shared_fini(fe);
	free(fe->path);
	free(fe);
}
