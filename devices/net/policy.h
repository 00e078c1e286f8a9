/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_NET_POLICY_H
#define VHU_DEVICES_NET_POLICY_H

/*
 * Concepts
 *
 * What an operator sets per port to keep tenants apart (--port-config):
 *
 * - vlan=N: an access port of 802.1Q VLAN N (1..4094). Its frames belong
 *   to VLAN N inside the switch; they reach only ports of that VLAN and
 *   leave them untagged. A port without vlan= is in the untagged domain
 *   (VLAN key 0), which is all vhu-net had before VLANs.
 * - trunks=N[-M] (the TAP only, repeatable): the TAP carries VLANs N..M
 *   tagged. Untagged frames on it are its vlan= (its native VLAN), or the
 *   untagged domain.
 * - mac=MAC (repeatable): the port may send only from these source
 *   addresses (anti-spoofing); no mac=: any.
 * - max-macs=N: at most N addresses learnt from this port (the MAC-table
 *   limit; fdb.h).
 * - client=1 (vhost-user ports only; client=0 is the default): connect to
 *   the port's socket path, where the front-end listens (QEMU server=on,
 *   OVS's dpdkvhostuserclient), and reconnect with back-off.
 *   Not isolation, but a per-port setting all the same.
 *
 * This file only parses and answers membership questions; switch.c and
 * tap.c apply them.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_VID_MAX 4094u     /* 802.1Q VIDs 1..4094; 0 and 4095 are reserved */
#define NET_PORT_MACS_MAX 16u /* mac= per port */
#define NET_CONFIG_TEXT_MAX 4096u

struct net_policy {
	uint16_t vlan;	     /* access (or native) VID, 0: untagged domain */
	bool trunk;	     /* trunks= given */
	uint64_t trunks[64]; /* bit v: VID v carried tagged */
	unsigned int nmacs;  /* allowed sources; 0: any */
	uint8_t macs[NET_PORT_MACS_MAX][6];
	uint32_t max_macs; /* 0: not set (the switch's default) */
	bool client;	   /* client=1 */
};

/**
 * net_mac_parse() - "xx:xx:xx:xx:xx:xx" (hex, case-insensitive) into @mac.
 * Return: 0, or -EINVAL.
 */
int net_mac_parse(const char *text, uint8_t mac[6]);

/**
 * net_policy_parse() - "NAME,key=value,..." (--port-config) into @name
 * (@name_size bytes, NUL-terminated) and @pol. On error @err gets one line
 * saying why.
 * Return: 0, or -EINVAL.
 */
int net_policy_parse(const char *text, char *name, size_t name_size, struct net_policy *pol,
		     char *err, size_t err_size);

/** net_policy_trunks() - whether @pol carries VID @vid tagged. */
static inline bool net_policy_trunks(const struct net_policy *pol, unsigned int vid)
{
	return vid <= NET_VID_MAX && (pol->trunks[vid / 64] >> (vid % 64) & 1);
}

/** net_policy_allows() - whether @pol lets a port send from source @mac. */
bool net_policy_allows(const struct net_policy *pol, const uint8_t mac[6]);

#endif /* VHU_DEVICES_NET_POLICY_H */
