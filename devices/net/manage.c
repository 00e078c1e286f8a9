/* SPDX-License-Identifier: MIT */
/* vhu-net's control-socket methods (manage.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage.h"

#define MAC_TABLE_MAX 16384u /* addresses one port lists at most */

/* The port named @name (its socket path, or the TAP's name); NULL if none. */
static struct net_port *find(struct net_switch *sw, const char *name)
{
	unsigned int n = __atomic_load_n(&sw->nports, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < n; i++) {
		struct net_port *p = __atomic_load_n(&sw->ports[i], __ATOMIC_ACQUIRE);

		if (p && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void describe(const struct net_port *p, struct json_writer *w)
{
	jw_object_begin(w);
	jw_key(w, "id");
	jw_uint(w, p->id);
	jw_key(w, "name");
	jw_string(w, p->name);
	jw_key(w, "kind");
	jw_string(w, p->kind == NET_PORT_TAP ? "tap" : "vhost-user");
	jw_key(w, "features");
	jw_uint(w, __atomic_load_n(&p->features, __ATOMIC_RELAXED));
	jw_key(w, "mtu");
	jw_uint(w, __atomic_load_n(&p->mtu, __ATOMIC_RELAXED));
	jw_key(w, "client");
	jw_bool(w, p->client);
	jw_key(w, "counters");
	jw_object_begin(w);
	for (unsigned int c = 0; c < NET_COUNTER_MAX; c++) {
		jw_key(w, net_counter_names[c]);
		jw_uint(w, net_counter(p, (enum net_counter)c));
	}
	jw_object_end(w);
	if (p->kind == NET_PORT_VHOST) {
		for (unsigned int dir = 0; dir < 2; dir++) {
			jw_key(w, dir ? "qp_tx_packets" : "qp_rx_packets");
			jw_array_begin(w);
			for (unsigned int q = 0; q < p->num_qp; q++)
				jw_uint(w, net_qp_chains(p, q, dir));
			jw_array_end(w);
		}
	}
	jw_object_end(w);
}

/* An array of what @each writes for every port (or the one named @name), under the lock. */
static int each_port(struct net_manage *m, const struct json_value *params,
		     void (*each)(struct net_port *p, struct json_writer *w, void *arg), void *arg,
		     struct json_writer *result, struct ctl_error *err)
{
	const char *name;
	unsigned int n;
	int ret = ctl_param_name(params, false, &name, err);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&m->lock);
	if (name && !find(m->sw, name)) {
		ret = ctl_fail(err, -ENOENT, "no port '%s'", name);
		goto out;
	}
	n = __atomic_load_n(&m->sw->nports, __ATOMIC_ACQUIRE);
	jw_array_begin(result);
	for (unsigned int i = 0; i < n; i++) {
		struct net_port *p = __atomic_load_n(&m->sw->ports[i], __ATOMIC_ACQUIRE);

		if (p && (!name || strcmp(p->name, name) == 0))
			each(p, result, arg);
	}
	jw_array_end(result);
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static void describe_each(struct net_port *p, struct json_writer *w, void *arg)
{
	(void)arg;
	describe(p, w);
}

static int m_list(void *opaque, const struct json_value *params, struct json_writer *result,
		  struct ctl_error *err)
{
	return each_port(opaque, params, describe_each, NULL, result, err);
}

static int m_add(void *opaque, const struct json_value *params, struct json_writer *result,
		 struct ctl_error *err)
{
	struct net_manage *m = opaque;
	const char *path = NULL;
	bool client = false;
	const struct ctl_param table[] = { { "socket-path", CTL_P_STRING, true, &path },
					   { "client", CTL_P_BOOL, false, &client } };
	unsigned int id;
	int ret = ctl_params(params, table, 2, err);

	if (ret < 0)
		return ret;
	if (!path[0])
		return ctl_fail(err, CTL_INVALID_PARAMS, "'socket-path' is empty");
	pthread_mutex_lock(&m->lock);
	if (find(m->sw, path))
		ret = ctl_fail(err, -EEXIST, "port '%s' exists", path);
	else
		ret = m->add(path, client, &id, err);
	if (ret == 0)
		describe(m->sw->ports[id], result);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int m_remove(void *opaque, const struct json_value *params, struct json_writer *result,
		    struct ctl_error *err)
{
	struct net_manage *m = opaque;
	struct net_port *p;
	const char *name;
	int ret = ctl_param_name(params, true, &name, err);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&m->lock);
	p = find(m->sw, name);
	if (!p)
		ret = ctl_fail(err, -ENOENT, "no port '%s'", name);
	else if (p->kind == NET_PORT_TAP)
		ret = ctl_fail(err, -EPERM, "the TAP uplink cannot be removed");
	else
		ret = m->remove(p->id, err);
	if (ret == 0)
		jw_bool(result, true);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static void mac_text(uint64_t mac, char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned int)(mac >> 40) & 0xff,
		 (unsigned int)(mac >> 32) & 0xff, (unsigned int)(mac >> 24) & 0xff,
		 (unsigned int)(mac >> 16) & 0xff, (unsigned int)(mac >> 8) & 0xff,
		 (unsigned int)mac & 0xff);
}

struct mac_buf {
	uint64_t macs[MAC_TABLE_MAX];
	uint16_t vlans[MAC_TABLE_MAX];
};

/* Each learnt address of @p and its VLAN (0: untagged); @arg: a struct mac_buf. */
static void macs_each(struct net_port *p, struct json_writer *w, void *arg)
{
	struct mac_buf *b = arg;
	unsigned int k =
		fdb_port_macs(&p->sw->fdb, p->id, net_now(), b->macs, b->vlans, MAC_TABLE_MAX);

	for (unsigned int j = 0; j < k; j++) {
		char text[18];

		mac_text(b->macs[j], text);
		jw_object_begin(w);
		jw_key(w, "mac");
		jw_string(w, text);
		jw_key(w, "vlan");
		jw_uint(w, b->vlans[j] ? __atomic_load_n(&p->sw->vlan_vid[b->vlans[j]],
							 __ATOMIC_RELAXED)
				       : 0);
		jw_key(w, "port");
		jw_uint(w, p->id);
		jw_key(w, "name");
		jw_string(w, p->name);
		jw_object_end(w);
	}
}

static int m_macs(void *opaque, const struct json_value *params, struct json_writer *result,
		  struct ctl_error *err)
{
	struct mac_buf *b = malloc(sizeof(*b));
	int ret;

	if (!b)
		return ctl_fail(err, -ENOMEM, "out of memory");
	ret = each_port(opaque, params, macs_each, b, result, err);
	free(b);
	return ret;
}

const struct ctl_method net_methods[] = {
	{ "port-add", m_add,
	  "a new vhost-user port listening on socket-path (client: connecting to it)" },
	{ "port-remove", m_remove, "take a port out of the switch and remove its socket" },
	{ "port-list", m_list, "the ports and their counters" },
	{ "mac-table", m_macs, "the learnt MAC addresses, their VLANs and ports" },
};
const size_t net_num_methods = sizeof(net_methods) / sizeof(net_methods[0]);
