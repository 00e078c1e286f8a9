/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_MANAGE_H
#define VHU_DEVICES_NET_MANAGE_H

/*
 * Concepts: vhu-net's run-time management on the control socket that
 * vhu-blk shares (devices/common/control.h): port-add, port-remove,
 * port-list (with each port's counters) and mac-table. manage.c checks the
 * params and writes the replies; main.c, which owns the ports' threads,
 * creates and removes them (struct net_manage's callbacks).
 *
 * A removed port is taken out of the switch: it is marked busy (so a
 * forwarding thread that still holds its pointer drops what it has for
 * it), its slot is emptied and its MACs forgotten. Its memory is freed and
 * its slot given to the next port-add after a grace period (net.h): once
 * every forwarding thread has ended the burst it was in. Ports can be
 * added and removed for ever; at most NET_PORTS_MAX at once. Calls are
 * serialized by one mutex, which also keeps a port from being freed while
 * a method (or SIGUSR1's counters) reads it: a port-remove waits for a
 * port-add on another client to finish.
 */

#include <pthread.h>

#include "control.h"
#include "net.h"

struct net_manage {
	struct net_switch *sw;
	pthread_mutex_t lock;
	/* main.c: a new port listening on @path (@client: connecting to it);
	 * its slot in *id */
	int (*add)(const char *path, bool client, unsigned int *id, struct ctl_error *err);
	/* main.c: stop and unpublish port @id */
	int (*remove)(unsigned int id, struct ctl_error *err);
};

extern const struct ctl_method net_methods[];
extern const size_t net_num_methods;

#endif /* VHU_DEVICES_NET_MANAGE_H */
