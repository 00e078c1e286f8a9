/* SPDX-License-Identifier: MIT */
/*
 * vhu-net: an L2 learning switch whose ports are vhost-user sockets (one
 * virtio-net device each), plus an optional TAP uplink to the host.
 *
 * Threads: main waits for signals (SIGTERM/SIGINT end it, SIGUSR1 prints
 * the counters); each port has a control thread that serves its socket;
 * the library runs one worker per running queue; the TAP has a reader
 * thread. net.h says how they share the receive queues.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "control.h"
#include "manage.h"
#include "net.h"
#include "program.h"
#include <vhu/protocol.h>

#define PROG "vhu-net"

struct net_options {
	const char *tap;
	const char *tap_offload;
	const char *queue_pairs;
	const char *queue_size;
	const char *mtu;
	const char *ageing;
	const char *poll_window;
	const char *max_macs;
	const char *port_max_macs;
	struct ctl_options ctl;
	bool poll;
	bool record_busy;
	const char *port_config[NET_PORTS_MAX + 1]; /* --port-config, in order */
	unsigned int nport_config;
};

/* One --port-config, parsed: the port it names and its settings. */
struct port_config {
	char name[256];
	struct net_policy pol;
	bool used;
};

static struct port_config port_configs[NET_PORTS_MAX + 1];
static unsigned int nport_configs;
static uint32_t port_max_macs = FDB_PORT_MAX_DEFAULT; /* --port-max-macs */

struct port_ctl {
	struct net_port port;
	struct vhu_log log;
	pthread_t thread;
	int stop_fd; /* ends this port's control thread alone (port-remove) */
	bool started;
};

static struct net_switch sw;
static struct port_ctl *ctls[NET_PORTS_MAX];
static struct net_port tap_port;
static int stop_fd = -1; /* ends the control threads */
static int done_fd = -1; /* a control thread ended: main looks */
static int usr1_fd = -1;
static unsigned int ports_done;
/* run-time management (manage.h): ports added later get these */
static struct prog_args saved_args;
static uint16_t saved_qp;
/* removed ports waiting for their grace period (net.h), by slot; under mgr.lock */
static struct port_ctl *retired[NET_PORTS_MAX];
static uint64_t retired_epoch[NET_PORTS_MAX];
static struct net_manage mgr; /* below: its callbacks come first */

static void on_usr1(int sig)
{
	int saved = errno;

	(void)sig;
	(void)eventfd_write(usr1_fd, 1); /* async-signal-safe */
	errno = saved;
}

/* One port's socket: quiesce the port around every request (net.h). */
static void *ctl_main(void *arg)
{
	struct port_ctl *c = arg;
	struct net_port *p = &c->port;

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = vhu_backend_fd(p->be), .events = POLLIN },
			{ .fd = stop_fd, .events = POLLIN },
			{ .fd = c->stop_fd, .events = POLLIN },
		};
		int ret;

		if (pfd[0].fd < 0)
			break; /* an adopted (--fd) connection ended */
		ret = poll(pfd, 3, -1);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 || pfd[1].revents || pfd[2].revents)
			break;
		if (!pfd[0].revents)
			continue;
		net_port_quiesce(p);
		ret = vhu_backend_dispatch(p->be);
		net_port_unquiesce(p);
		net_port_drain(p); /* frames kept while it was busy (behind an IOMMU) */
		if (ret < 0 && ret != -ECONNRESET && ret != -ECONNABORTED && ret != -EAGAIN &&
		    ret != -EINTR) {
			vhu_logf(&c->log, VHU_LOG_ERR, "%s", strerror(-ret));
			break;
		}
	}
	__atomic_fetch_add(&ports_done, 1, __ATOMIC_RELAXED);
	(void)eventfd_write(done_fd, 1);
	return NULL;
}

static int parse_num(const char *text, uint64_t min, uint64_t max, uint64_t def, const char *what,
		     uint64_t *out)
{
	uint64_t v = def;

	if (text && (prog_parse_u64(text, max, &v) < 0 || v < min)) {
		fprintf(stderr, PROG ": --%s: %llu..%llu\n", what, (unsigned long long)min,
			(unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* --port-config: kept as given; parsed once every option is known (parse_port_configs). */
static int opt_port_config(const char *arg, void *opaque)
{
	struct net_options *o = opaque;

	if (o->nport_config == NET_PORTS_MAX + 1)
		return -E2BIG; /* one per port at most */
	o->port_config[o->nport_config++] = arg;
	return 0;
}

static int parse_port_configs(const struct net_options *o)
{
	char err[256];

	for (unsigned int i = 0; i < o->nport_config; i++) {
		struct port_config *c = &port_configs[i];

		if (net_policy_parse(o->port_config[i], c->name, sizeof(c->name), &c->pol, err,
				     sizeof(err)) < 0) {
			fprintf(stderr, PROG ": --port-config: %s\n", err);
			return -1;
		}
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(port_configs[j].name, c->name) == 0) {
				fprintf(stderr, PROG ": --port-config: %s given twice\n", c->name);
				return -1;
			}
		if (c->pol.trunk && (!o->tap || strcmp(c->name, o->tap) != 0)) {
			fprintf(stderr, PROG ": --port-config: %s: trunks= is for the --tap only\n",
				c->name);
			return -1;
		}
		if (c->pol.client && o->tap && strcmp(c->name, o->tap) == 0) {
			fprintf(stderr,
				PROG ": --port-config: %s: client= is for vhost-user ports\n",
				c->name);
			return -1;
		}
		/* a VLAN anywhere: every port checks for guest-made tags */
		sw.vlans |= c->pol.vlan || c->pol.trunk;
		nport_configs++;
	}
	return 0;
}

/* Apply the --port-config naming @p (none: the defaults). */
static int apply_port_config(struct net_port *p)
{
	static const struct net_policy none;
	const struct net_policy *pol = &none;

	for (unsigned int i = 0; i < nport_configs; i++)
		if (strcmp(port_configs[i].name, p->name) == 0) {
			pol = &port_configs[i].pol;
			port_configs[i].used = true;
		}
	if (pol->nmacs)
		memcpy(p->mac, pol->macs[0], 6); /* the config space offers the first */
	p->client = pol->client && p->kind == NET_PORT_VHOST;
	/* the uplink fronts a whole network: only the table's limit, unless set */
	fdb_set_port_max(&sw.fdb, p->id,
			 pol->max_macs		   ? pol->max_macs
			 : p->kind == NET_PORT_TAP ? sw.fdb.max
						   : port_max_macs);
	return net_port_set_policy(p, pol);
}

static int parse_options(const struct net_options *o, uint16_t *qp, bool *tap_offload)
{
	uint64_t v[7];

	if (parse_num(o->queue_pairs, 1, NET_QP_MAX, NET_QP_DEFAULT, "queue-pairs", &v[0]) ||
	    parse_num(o->queue_size, 2, VHU_VQ_MAX_SIZE, NET_QUEUE_SIZE_DEFAULT, "queue-size",
		      &v[1]) ||
	    parse_num(o->mtu, 68, 65535, NET_MTU_DEFAULT, "mtu", &v[2]) ||
	    parse_num(o->ageing, 1, 1000000, FDB_AGEING_DEFAULT_S, "ageing", &v[3]) ||
	    parse_num(o->poll_window, 0, VHU_BACKEND_POLL_WINDOW_MAX_US,
		      VHU_BACKEND_POLL_WINDOW_DEFAULT_US, "poll-window", &v[4]) ||
	    parse_num(o->max_macs, 1, FDB_SIZE, FDB_MAX_DEFAULT, "max-macs", &v[5]) ||
	    parse_num(o->port_max_macs, 1, FDB_SIZE, FDB_PORT_MAX_DEFAULT, "port-max-macs", &v[6]))
		return -1;
	*qp = (uint16_t)v[0];
	sw.queue_size = (uint16_t)v[1];
	sw.mtu = (uint16_t)v[2];
	fdb_init(&sw.fdb, (uint32_t)v[3]);
	fdb_set_max(&sw.fdb, (uint32_t)v[5]);
	port_max_macs = (uint32_t)v[6];
	sw.poll_window_us = (uint32_t)v[4];
	sw.poll = o->poll;
	sw.record_busy = o->record_busy;
	*tap_offload = true;
	if (o->tap_offload && strcmp(o->tap_offload, "on") != 0) {
		if (strcmp(o->tap_offload, "off") != 0) {
			fprintf(stderr, PROG ": --tap-offload: on or off\n");
			return -1;
		}
		*tap_offload = false;
	}
	return parse_port_configs(o);
}

static int port_create(const struct prog_args *args, unsigned int i, uint16_t qp)
{
	const struct prog_socket *s = &args->sockets[i];
	/* struct net_qstats: a line each, so 64-byte aligned */
	struct port_ctl *c = aligned_alloc(_Alignof(struct port_ctl), sizeof(*c));
	struct net_port *p;
	struct vhu_backend_config cfg;
	char *name;
	int ret;

	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	ctls[i] = c;
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0)
		return -errno;
	p = &c->port;
	if (s->path)
		name = strdup(s->path);
	else if (asprintf(&name, "fd%d", s->fd) < 0)
		name = NULL;
	if (!name)
		return -ENOMEM;
	*p = (struct net_port){ .sw = &sw,
				.id = i,
				.kind = NET_PORT_VHOST,
				.name = name,
				.mtu = sw.mtu,
				.num_qp = qp,
				.tap_fd = -1 };
	/* locally administered, unique per process and port */
	p->mac[0] = 0x02;
	p->mac[1] = 'v';
	p->mac[2] = 'h';
	p->mac[3] = (uint8_t)(getpid() >> 8);
	p->mac[4] = (uint8_t)getpid();
	p->mac[5] = (uint8_t)i;
	ret = apply_port_config(p);
	if (ret < 0)
		return ret;
	vhu_log_init(&c->log, name);
	p->log = &c->log;
	if (args->log_level >= 0)
		c->log.level = (enum vhu_log_level)args->log_level;
	cfg = (struct vhu_backend_config){
		.name = name,
		.num_queues = (uint16_t)(2 * qp),
		.max_queue_size = sw.queue_size,
		/*
		 * No CONFIGURE_MEM_SLOTS: QEMU 7.2's vhost-user-net has one
		 * vhost_dev per queue pair, and while it sends SET_MEM_TABLE from
		 * the first only (a "one-time request"), it sends ADD_MEM_REG from
		 * every one: the second pair's regions are refused as overlaps and
		 * QEMU gives up on vhost (then aborts under TCG). SET_MEM_TABLE's
		 * 8 regions are plenty for a guest's RAM.
		 */
		.protocol_features =
			VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |
			VHU_BIT(VHU_PROTOCOL_F_CONFIG) | VHU_BIT(VHU_PROTOCOL_F_STATUS) |
			VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) | VHU_BIT(VHU_PROTOCOL_F_RARP) |
			VHU_BIT(VHU_PROTOCOL_F_NET_MTU) | VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) |
			VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE) |
			/* the channel a virtual IOMMU's misses go through (issue 17) */
			VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ),
		.flags = sw.poll ? VHU_BACKEND_F_POLL : 0,
		.ops = &net_port_ops,
		.dev = p,
		.log = &c->log,
		.poll_window_us = sw.poll_window_us,
	};
	ret = vhu_backend_create(&cfg, &p->be);
	if (ret < 0)
		return ret;
	/* forwarding threads may be running (port-add): publish it whole */
	__atomic_store_n(&sw.ports[i], p, __ATOMIC_RELEASE);
	if (i + 1 > sw.nports) /* a reused slot is below it */
		__atomic_store_n(&sw.nports, i + 1, __ATOMIC_RELEASE);
	if (p->client && !s->path) {
		fprintf(stderr, PROG ": --port-config: %s: client= needs a --socket-path\n", name);
		return -EINVAL;
	}
	if (s->path && (s->client || p->client)) {
		p->client = true;
		return vhu_backend_connect(p->be, s->path);
	}
	if (s->path)
		return vhu_backend_listen(p->be, s->path);
	return vhu_backend_adopt_fd(p->be, s->fd);
}

/* The control threads get no signal: main takes them all. */
static int start_one(struct port_ctl *c)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&c->thread, NULL, ctl_main, c);
	c->started = ret == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static int start_threads(unsigned int nvhost)
{
	sigset_t all, old;
	int ret = 0;

	for (unsigned int i = 0; i < nvhost && ret == 0; i++)
		ret = start_one(ctls[i]);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (ret == 0 && tap_port.tap_fd >= 0)
		ret = net_tap_start(&tap_port);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void wait_signals(int sig_fd, unsigned int nvhost, bool managed)
{
	while (!prog_stop_requested()) {
		struct pollfd pfd[3] = {
			{ .fd = sig_fd, .events = POLLIN },
			{ .fd = usr1_fd, .events = POLLIN },
			{ .fd = done_fd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents && eventfd_read(usr1_fd, &v) == 0) {
			pthread_mutex_lock(&mgr.lock); /* no port freed meanwhile */
			net_print_counters(&sw, PROG);
			pthread_mutex_unlock(&mgr.lock);
		}
		/* with a control socket, ports come and go: only a signal ends it */
		if (pfd[2].revents && eventfd_read(done_fd, &v) == 0 && !managed &&
		    __atomic_load_n(&ports_done, __ATOMIC_RELAXED) == nvhost)
			break; /* every port's connection ended (--fd) or failed */
	}
}

/* Stop forwarding into every port, then take each down. */
static void shutdown_all(void)
{
	(void)eventfd_write(stop_fd, 1);
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++)
		if (ctls[i] && ctls[i]->started)
			pthread_join(ctls[i]->thread, NULL);
	if (tap_port.tap_fd >= 0)
		net_port_quiesce(&tap_port);
	for (unsigned int i = 0; i < sw.nports; i++)
		if (sw.ports[i] && sw.ports[i] != &tap_port)
			net_port_quiesce(sw.ports[i]);
	net_tap_stop(&tap_port);
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++) {
		if (!ctls[i])
			continue;
		if (ctls[i]->port.be)
			vhu_backend_destroy(ctls[i]->port.be);
	}
}

static void free_ctl(struct port_ctl *c)
{
	net_port_free_queues(&c->port);
	free((void *)(uintptr_t)c->port.name);
	if (c->stop_fd > 0)
		close(c->stop_fd);
	free(c);
}

static void free_all(void)
{
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++)
		if (ctls[i])
			free_ctl(ctls[i]);
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++)
		if (retired[i])
			free_ctl(retired[i]); /* every thread has stopped */
	fdb_destroy(&sw.fdb);
}

/* ---- port-add and port-remove (manage.h) ---- */

/*
 * Free the retired ports whose grace period has passed (@wait: wait for
 * them all); their slots can be used again. Under mgr.lock.
 */
static void reclaim(bool wait)
{
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++) {
		if (!retired[i])
			continue;
		if (wait)
			net_grace_wait(retired_epoch[i]);
		else if (!net_grace_passed(retired_epoch[i]))
			continue;
		free_ctl(retired[i]);
		retired[i] = NULL;
	}
}

/* A slot for a new port: the lowest one free (never held, or reclaimed); -1 if none. */
static int free_slot(void)
{
	for (unsigned int i = 0; i < NET_PORTS_MAX; i++)
		if (!ctls[i] && !retired[i] && !__atomic_load_n(&sw.ports[i], __ATOMIC_ACQUIRE))
			return (int)i;
	return -1;
}

/*
 * Take port @id out of the switch. Its memory and slot come back after a
 * grace period (net.h): a forwarding thread may still hold its pointer.
 */
static void port_retire(unsigned int id)
{
	struct port_ctl *c = ctls[id];
	struct net_port *p = &c->port;

	if (c->started) {
		(void)eventfd_write(c->stop_fd, 1);
		pthread_join(c->thread, NULL);
		c->started = false;
	}
	if (c->stop_fd > 0) { /* only its control thread polled it: gone now */
		close(c->stop_fd);
		c->stop_fd = -1;
	}
	/* busy for ever: a forwarding thread that still holds @p drops its frames */
	net_port_quiesce(p);
	if (p->be)
		vhu_backend_destroy(p->be); /* stops its workers */
	p->be = NULL;
	__atomic_store_n(&p->features, 0, __ATOMIC_RELEASE); /* keeps no backlog now */
	__atomic_store_n(&sw.ports[id], NULL, __ATOMIC_RELEASE);
	/* a burst that looked its MACs up before ends before the slot is reused */
	fdb_flush_port(&sw.fdb, id);
	retired_epoch[id] = net_grace_start();
	ctls[id] = NULL;
	retired[id] = c;
}

static int mgr_add(const char *path, bool client, unsigned int *id, struct ctl_error *err)
{
	unsigned int slot;
	int ret;

	reclaim(false);
	ret = free_slot();
	if (ret < 0) {
		reclaim(true); /* every slot taken or in its grace period */
		ret = free_slot();
	}
	if (ret < 0)
		return ctl_fail(err, -ENOSPC, "no port slot left (%u ports)", NET_PORTS_MAX);
	slot = (unsigned int)ret;
	saved_args.sockets[slot] = (struct prog_socket){ .path = path, .fd = -1, .client = client };
	ret = port_create(&saved_args, slot, saved_qp);
	saved_args.sockets[slot].path = NULL; /* @path is the request's */
	if (ret == 0)
		ret = start_one(ctls[slot]);
	if (ret < 0) {
		if (ctls[slot])
			port_retire(slot);
		return ctl_fail(err, ret, "%s: %s", path, strerror(-ret));
	}
	vhu_logf(&ctls[slot]->log, VHU_LOG_INFO, "port %u added", slot);
	*id = slot;
	return 0;
}

static int mgr_remove(unsigned int id, struct ctl_error *err)
{
	char *path;
	bool client;

	if (id >= NET_PORTS_MAX || !ctls[id])
		return ctl_fail(err, -ENOENT, "no port %u", id);
	path = strdup(ctls[id]->port.name);
	client = ctls[id]->port.client; /* its socket is the front-end's */
	port_retire(id);
	reclaim(false);
	fprintf(stderr, PROG "[%s]: port %u removed\n", path ? path : "?", id);
	if (path && path[0] == '/' && !client)
		unlink(path);
	free(path);
	return 0;
}

static struct net_manage mgr = {
	.sw = &sw,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.add = mgr_add,
	.remove = mgr_remove,
};

static int setup_fds(void)
{
	struct sigaction sa;

	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	usr1_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0 || done_fd < 0 || usr1_fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(SIGUSR1, &sa, NULL) < 0 ? -errno : 0;
}

static int run(const struct prog_info *info, const struct prog_args *args,
	       const struct net_options *o)
{
	unsigned int nvhost = args->nsockets;
	struct ctl_server *srv = NULL;
	bool tap_offload;
	uint16_t qp;
	int sig_fd, ret, status = 1;

	if (parse_options(o, &qp, &tap_offload) < 0)
		return 1;
	sig_fd = prog_signals_init();
	if (sig_fd < 0 || setup_fds() < 0)
		return prog_error(info, "signals: %s", strerror(errno));
	tap_port = (struct net_port){ .sw = &sw, .kind = NET_PORT_TAP, .tap_fd = -1 };
	for (unsigned int i = 0; i < nvhost; i++) {
		ret = port_create(args, i, qp);
		if (ret < 0) {
			prog_error(info, "%s: %s",
				   ctls[i] && ctls[i]->port.name ? ctls[i]->port.name : "port",
				   strerror(-ret));
			goto out;
		}
	}
	if (o->tap) {
		tap_port.id = nvhost;
		tap_port.name = o->tap;
		tap_port.mtu = sw.mtu;
		tap_port.log = &ctls[0]->log;
		ret = net_tap_open(&tap_port, o->tap, tap_offload);
		if (ret == 0)
			ret = apply_port_config(&tap_port);
		if (ret < 0) {
			prog_error(info, "--tap=%s: %s", o->tap, strerror(-ret));
			goto out;
		}
		sw.ports[sw.nports++] = &tap_port;
	}
	for (unsigned int i = 0; i < nport_configs; i++)
		if (!port_configs[i].used) {
			prog_error(info,
				   "--port-config: no port is named %s (a --socket-path, "
				   "fdN for an --fd, or the --tap)",
				   port_configs[i].name);
			goto out;
		}
	ret = start_threads(nvhost);
	if (ret < 0) {
		prog_error(info, "threads: %s", strerror(-ret));
		goto out_stop;
	}
	saved_args = *args;
	saved_qp = qp;
	if (ctl_options_start(info, &o->ctl, net_methods, net_num_methods, &mgr, &srv))
		goto out_stop;
	wait_signals(sig_fd, nvhost, srv != NULL);
	status = 0;
out_stop:
	ctl_server_stop(srv); /* no port-add or port-remove after this */
	shutdown_all();
	net_print_counters(&sw, PROG);
	free_all();
	return status;
out:
	shutdown_all();
	free_all();
	return status;
}

int main(int argc, char **argv)
{
	static const char *const features[] = { NULL };
	static struct net_options o;
	const struct prog_option options[] = {
		{ "tap", PROG_ARG_REQUIRED, "IFNAME",
		  "also switch to the host through TAP IFNAME (created if missing)",
		  .str = &o.tap },
		{ "tap-offload", PROG_ARG_REQUIRED, "on|off",
		  "let the TAP carry checksum/TSO offloads (default on)", .str = &o.tap_offload },
		{ "queue-pairs", PROG_ARG_REQUIRED, "N", "queue pairs per port, 1..16 (default 4)",
		  .str = &o.queue_pairs },
		{ "queue-size", PROG_ARG_REQUIRED, "N", "largest ring accepted (default 1024)",
		  .str = &o.queue_size },
		{ "mtu", PROG_ARG_REQUIRED, "BYTES",
		  "MTU offered (VIRTIO_NET_F_MTU) and enforced until NET_SET_MTU (default 1500)",
		  .str = &o.mtu },
		{ "ageing", PROG_ARG_REQUIRED, "SECONDS",
		  "forget a MAC address not seen for this long (default 300)", .str = &o.ageing },
		{ "poll", PROG_ARG_NONE, NULL, "busy-poll the rings instead of sleeping",
		  .flag = &o.poll },
		{ "record-busy", PROG_ARG_NONE, NULL,
		  "count the time TX bursts take (busy_ns, busy_chains: the cost per frame)",
		  .flag = &o.record_busy },
		{ "port-config", PROG_ARG_REQUIRED, "NAME,KEY=VALUE,...",
		  "isolate port NAME (a --socket-path, fdN, or the --tap): vlan=N (access "
		  "VLAN; the TAP's native one with trunks=), trunks=N[-M] (the TAP carries "
		  "these VLANs tagged; repeatable), mac=MAC (it may send only from these; "
		  "repeatable), max-macs=N (addresses learnt from it), client=1 (connect to "
		  "its --socket-path, as --client does for all); repeatable",
		  .cb = opt_port_config },
		{ "max-macs", PROG_ARG_REQUIRED, "N",
		  "MAC table: at most N addresses in all, 1..8192 (default 4096)",
		  .str = &o.max_macs },
		{ "port-max-macs", PROG_ARG_REQUIRED, "N",
		  "MAC table: at most N addresses learnt from one port, unless its --port-config "
		  "says max-macs= (default 256)",
		  .str = &o.port_max_macs },
		{ "poll-window", PROG_ARG_REQUIRED, "US",
		  "adaptive polling: the longest poll window (default 32, 0: off)",
		  .str = &o.poll_window },
		CTL_PROG_OPTIONS(o.ctl),
	};
	const struct prog_info info = {
		.name = PROG,
		.description = "virtio-net vhost-user back-end: an L2 learning switch between its "
			       "ports (one socket each) and an optional TAP",
		.type = "net",
		.features = features,
		.options = options,
		.num_options = sizeof(options) / sizeof(options[0]),
		.max_sockets = NET_PORTS_MAX,
		.opaque = &o,
	};
	struct prog_args args;
	int ret;

	ret = prog_parse(&info, argc, argv, &args, stdout, stderr);
	if (ret != PROG_CONTINUE)
		return ret;
	if (ctl_options_check(&info, &o.ctl))
		return 1;
	return run(&info, &args, &o);
}
