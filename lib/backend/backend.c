/* SPDX-License-Identifier: MIT */
/*
 * The back-end object and a connection's life: create, listen or adopt a
 * socket, accept, receive and dispatch messages, and on disconnect put
 * everything back as it was before the front-end came (then accept again).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/util.h"
#include "transport/transport.h"

static int config_check(const struct vhu_backend_config *c)
{
	const struct vhu_device_ops *ops = c ? c->ops : NULL;

	if (!ops || !ops->get_features || !ops->queue_kick)
		return -EINVAL;
	if (c->num_queues == 0 || c->num_queues > VHU_BACKEND_MAX_QUEUES)
		return -EINVAL;
	if (c->max_queue_size == 0 || c->max_queue_size > VHU_VQ_MAX_SIZE)
		return -EINVAL;
	if (c->protocol_features & ~VHU_BACKEND_PROTOCOL_FEATURES)
		return -EINVAL;
	/* GET_CONFIG could only ever fail */
	if ((c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_CONFIG)) && !ops->get_config)
		return -EINVAL;
	if ((c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_RARP)) && !ops->net_send_rarp)
		return -EINVAL;
	if ((c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_NET_MTU)) && !ops->net_set_mtu)
		return -EINVAL;
	/* one bit, two meanings: with the vhost-pci opt-in bit 4 is VHOST_PCI */
	if (c->vhost_pci && (c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_NET_MTU)))
		return -EINVAL;
	if ((c->protocol_features & VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE)) &&
	    (!ops->state_save || !ops->state_load))
		return -EINVAL;
	if (c->flags & ~VHU_BACKEND_F_POLL)
		return -EINVAL;
	if (vhu_be_shmem_config_check(c) < 0)
		return -EINVAL;
	if (c->reconnect_max_ms && (c->reconnect_max_ms < VHU_BACKEND_RECONNECT_MIN_MS ||
				    c->reconnect_max_ms > VHU_BACKEND_RECONNECT_LIMIT_MS))
		return -EINVAL;
	if (c->poll_window_us > VHU_BACKEND_POLL_WINDOW_MAX_US ||
	    c->poll_inflight_us > VHU_BACKEND_POLL_WINDOW_MAX_US ||
	    (ops->queue_pending && !ops->queue_event) ||
	    (ops->queue_inflight && !ops->queue_pending))
		return -EINVAL;
	return 0;
}

static void workers_fini(struct vhu_backend *be, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		vhu_be_worker_fini(&be->queues[i].worker);
}

static void log_setup(struct vhu_backend *be, const struct vhu_backend_config *config)
{
	if (config->name)
		snprintf(be->name, sizeof(be->name), "%s", config->name);
	if (config->log)
		be->log = *config->log;
	else
		vhu_log_init(&be->log, config->name);
	be->config.name = be->name;
	be->config.log = &be->log;
}

static int queues_init(struct vhu_backend *be)
{
	for (unsigned int i = 0; i < be->num_queues; i++) {
		struct vhu_queue *q = &be->queues[i];
		int ret = vhu_be_worker_init(&q->worker);

		if (ret < 0) {
			workers_fini(be, i);
			return ret;
		}
		vhu_vq_init(&q->vq, i, &be->mem, &be->log);
		q->be = be;
		q->hn.fd = -1;
	}
	return 0;
}

VHU_API int vhu_backend_create(const struct vhu_backend_config *config, struct vhu_backend **out)
{
	struct vhu_backend *be;
	int ret = config_check(config);

	if (ret < 0)
		return ret;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->config = *config;
	vhu_be_shmem_config_copy(be);
	be->num_queues = config->num_queues;
	be->listen_fd = be->conn_fd = be->chan_fd = be->retry_fd = -1;
	be->lp.epfd = be->lp.fd = -1;
	be->vpci.fd = -1;
	ret = -pthread_mutex_init(&be->chan_lock.m, NULL);
	if (ret < 0)
		goto err_free;
	ret = -pthread_mutex_init(&be->vpci.lock.m, NULL);
	if (ret < 0)
		goto err_chan_lock;
	be->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (be->stop_fd < 0) {
		ret = -errno;
		goto err_mutex;
	}
	ret = -ENOMEM;
	be->queues = calloc(be->num_queues, sizeof(*be->queues));
	if (!be->queues)
		goto err_stop_fd;
	log_setup(be, config);
	vhu_mem_init(&be->mem, 0);
	vhu_dlog_init(&be->dlog);
	be->state.fd = be->state.cancel_fd = -1;
	be->pc.uffd = -1;
	ret = queues_init(be);
	if (ret < 0)
		goto err_queues;
	vhu_be_iotlb_init(be);
	*out = be;
	return 0;

err_queues:
	free(be->queues);
err_stop_fd:
	vhu_close_fd(&be->stop_fd);
err_mutex:
	pthread_mutex_destroy(&be->vpci.lock.m);
err_chan_lock:
	pthread_mutex_destroy(&be->chan_lock.m);
err_free:
	free(be);
	return ret;
}

static int socket_set(struct vhu_backend *be)
{
	return be->listen_fd >= 0 || be->conn_fd >= 0 || be->client_path ? -EBUSY : 0;
}

VHU_API int vhu_backend_listen(struct vhu_backend *be, const char *path)
{
	int ret = socket_set(be);

	if (ret == 0)
		ret = vhu_sock_listen(path, &be->listen_fd);
	if (ret == 0)
		vhu_info(&be->log, "listening on %s", path);
	return ret;
}

VHU_API int vhu_backend_adopt_fd(struct vhu_backend *be, int fd)
{
	int ret = socket_set(be), flags;

	if (ret < 0)
		return ret;
	ret = vhu_sock_adopt(fd);
	if (ret < 0)
		return ret;
	if (ret == VHU_SOCK_LISTENING) {
		be->listen_fd = fd;
		return 0;
	}
	/* the transport reads whole messages: an inherited O_NONBLOCK would tear them */
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	be->conn_fd = fd;
	vhu_info(&be->log, "front-end connected (fd %d)", fd);
	return 0;
}

VHU_API int vhu_backend_fd(const struct vhu_backend *be)
{
	if (be->conn_fd >= 0)
		return be->conn_fd;
	return be->listen_fd >= 0 ? be->listen_fd : be->retry_fd;
}

/*
 * On a vhu_loop (loop.c), the connection is about to be closed by the
 * thread dispatching @be: it leaves @be's epoll set while the number is
 * still @be's. Once closed, the number may be another thread's new fd at
 * once, and the loop must not touch it (an epoll_ctl() on it is harmless
 * to the kernel, but a use of a closed fd all the same).
 */
static void loop_unwatch(struct vhu_backend *be, int fd)
{
	if (be->lp.epfd < 0 || fd < 0 || be->lp.fd != fd)
		return;
	(void)epoll_ctl(be->lp.epfd, EPOLL_CTL_DEL, fd, NULL);
	be->lp.fd = -1;
}

void vhu_be_disconnect(struct vhu_backend *be)
{
	const struct vhu_device_ops *ops = be->config.ops;

	/* paused: threads of the device's that use shared queues wait meanwhile */
	vhu_be_queues_pause_all(be);
	vhu_be_queues_stop_all(be);
	for (unsigned int i = 0; i < be->num_queues; i++) {
		struct vhu_queue *q = &be->queues[i];

		vhu_vq_reset(&q->vq);
		q->vq.inband = NULL; /* the next front-end negotiates anew */
		q->inband_call = q->inband_err = false;
		q->enabled = false;
		q->hn.refused = false; /* the next front-end may map pages */
	}
	vhu_be_inflight_clear(be);
	vhu_iotlb_clear(&be->iotlb);
	vhu_be_log_clear(be);
	vhu_be_state_clear(be);
	vhu_be_postcopy_clear(be);
	vhu_be_mem_clear(be);
	if (ops->reset)
		ops->reset(be->config.dev);
	vhu_be_queues_resume_all(be);
	vhu_be_chan_close(be);
	vhu_be_vpci_reset(be, true);
	be->features = 0;
	be->protocol_features = 0;
	be->status = 0;
	be->owner = false;
	be->config_change_pending = false;
	loop_unwatch(be, be->conn_fd);
	vhu_close_fd(&be->conn_fd);
}

static int accept_one(struct vhu_backend *be)
{
	int ret = vhu_sock_accept(be->listen_fd, &be->conn_fd);

	if (ret < 0) {
		be->conn_fd = -1;
		return ret;
	}
	vhu_info(&be->log, "front-end connected");
	return 0;
}

/* Receive and handle one message; on any end of the connection, disconnect. */
static int serve_one(struct vhu_backend *be)
{
	struct vhu_msg msg;
	int ret = vhu_msg_recv(be->conn_fd, &msg);

	if (ret == 0 || ret == -EBADMSG) {
		be->served = true;
		ret = vhu_be_dispatch_msg(be, &msg, ret);
		if (ret == 0)
			return 0;
		vhu_err(&be->log, "closing the connection: reply to %s failed: %s",
			vhu_rule_name(VHU_DIR_TO_BACKEND, msg.hdr.request), strerror(-ret));
	} else if (ret == -ECONNRESET) {
		vhu_info(&be->log, "front-end left");
	} else if (ret == -EMSGSIZE) {
		vhu_err(&be->log, "closing the connection: %s with a %u-byte payload (limit %u)",
			vhu_rule_name(VHU_DIR_TO_BACKEND, msg.hdr.request), msg.hdr.size,
			VHU_MAX_PAYLOAD);
	} else {
		vhu_err(&be->log, "closing the connection: receive failed: %s", strerror(-ret));
	}
	vhu_be_disconnect(be);
	vhu_be_client_lost(be);
	return -ECONNRESET;
}

VHU_API int vhu_backend_dispatch(struct vhu_backend *be)
{
	if (be->conn_fd >= 0)
		return serve_one(be);
	if (be->listen_fd >= 0)
		return accept_one(be);
	if (be->client_path)
		return vhu_be_client_retry(be);
	return -ENOTCONN;
}

/* Errors after which vhu_backend_run() goes on: the connection, not the back-end, failed. */
bool vhu_be_run_goes_on(int err)
{
	return err == -ECONNRESET || err == -EINTR || err == -EAGAIN || err == -ECONNABORTED ||
	       err == -EPROTO;
}

VHU_API int vhu_backend_run(struct vhu_backend *be)
{
	int ret = 0;

	while (!__atomic_load_n(&be->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd[2] = { { .fd = vhu_backend_fd(be), .events = POLLIN },
					 { .fd = be->stop_fd, .events = POLLIN } };

		if (pfd[0].fd < 0)
			break; /* an adopted connection ended: nothing more to serve */
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (pfd[1].revents) {
			uint64_t v;

			(void)eventfd_read(be->stop_fd, &v);
			continue;
		}
		if (!pfd[0].revents)
			continue;
		ret = vhu_backend_dispatch(be);
		if (ret < 0 && !vhu_be_run_goes_on(ret))
			break;
		ret = 0;
	}
	__atomic_store_n(&be->stop, false, __ATOMIC_RELEASE);
	return ret;
}

VHU_API void vhu_backend_stop(struct vhu_backend *be)
{
	int saved = errno;
	uint64_t one = 1;

	__atomic_store_n(&be->stop, true, __ATOMIC_RELEASE);
	/* write(2) is async-signal-safe; a full counter (EAGAIN) already wakes the loop */
	(void)!write(be->stop_fd, &one, sizeof(one));
	errno = saved;
}

VHU_API void vhu_backend_destroy(struct vhu_backend *be)
{
	if (!be)
		return;
	if (be->conn_fd >= 0)
		vhu_be_disconnect(be);
	vhu_close_fd(&be->listen_fd);
	vhu_be_client_fini(be);
	vhu_close_fd(&be->stop_fd);
	workers_fini(be, be->num_queues);
	pthread_mutex_destroy(&be->vpci.lock.m);
	pthread_mutex_destroy(&be->chan_lock.m);
	vhu_iotlb_fini(&be->iotlb);
	free(be->queues);
	free(be);
}
