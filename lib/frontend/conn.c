/* SPDX-License-Identifier: MIT */
/*
 * The bare connection of include/vhu/frontend.h: a connected socket and a
 * request channel (requests.c), nothing more. SET_PROTOCOL_FEATURES is
 * remembered so that later requests ask for acks as REPLY_ACK says.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "frontend/requests.h"
#include "transport/transport.h"
#include <vhu/frontend.h>

struct vhu_frontend_conn {
	struct vhu_fe_chan ch;
	struct vhu_log log;
};

int vhu_frontend_conn_open(const char *socket_path, unsigned int timeout_ms,
			   struct vhu_frontend_conn **out)
{
	struct vhu_frontend_conn *c;
	int sock, ret;

	if (!socket_path || !out)
		return -EINVAL;
	if (!timeout_ms)
		timeout_ms = 5000;
	ret = vhu_sock_connect(socket_path, 0, &sock);
	if (ret < 0)
		return ret;
	ret = vhu_sock_set_timeouts(sock, timeout_ms);
	c = ret < 0 ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return ret < 0 ? ret : -ENOMEM;
	}
	vhu_log_init(&c->log, socket_path);
	c->ch.sock = sock;
	c->ch.log = &c->log;
	*out = c;
	return 0;
}

int vhu_frontend_conn_get_u64(struct vhu_frontend_conn *c, uint32_t request, uint64_t *value)
{
	vhu_fe_set_error(&c->ch, NULL);
	return vhu_fe_get_u64(&c->ch, request, value);
}

int vhu_frontend_conn_set_u64(struct vhu_frontend_conn *c, uint32_t request, uint64_t value)
{
	int ret;

	vhu_fe_set_error(&c->ch, NULL);
	ret = vhu_fe_set_u64(&c->ch, request, value);
	if (!ret && request == VHU_REQ_SET_PROTOCOL_FEATURES)
		c->ch.protocol_features = value;
	return ret;
}

int vhu_frontend_conn_get_config(struct vhu_frontend_conn *c, uint32_t offset, uint32_t size,
				 void *buf)
{
	vhu_fe_set_error(&c->ch, NULL);
	return vhu_fe_get_config(&c->ch, offset, size, buf);
}

const char *vhu_frontend_conn_error(const struct vhu_frontend_conn *c)
{
	return vhu_fe_last_error(&c->ch);
}

void vhu_frontend_conn_close(struct vhu_frontend_conn *c)
{
	if (!c)
		return;
	close(c->ch.sock);
	free(c);
}
