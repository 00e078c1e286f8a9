/* SPDX-License-Identifier: MIT */
/* Per-port isolation settings (--port-config): parsing and membership, see policy.h. */

#include "policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdb.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *text, uint8_t mac[6])
{
	for (unsigned int i = 0; i < 6; i++) {
		const char *s = text + 3 * i;
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (hi < 0 || lo < 0 || s[2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A decimal number in [min, max] spanning all of @text. */
static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v = 0;

	if (!*text)
		return -EINVAL;
	for (const char *s = text; *s; s++) {
		if (*s < '0' || *s > '9' || v > max)
			return -EINVAL;
		v = v * 10 + (unsigned int)(*s - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "N" or "N-M": set those VIDs in @pol->trunks. */
static int parse_trunks(struct net_policy *pol, const char *v)
{
	char lo[8], *dash = strchr(v, '-');
	uint32_t a, b;
	size_t n = dash ? (size_t)(dash - v) : strlen(v);

	if (n >= sizeof(lo))
		return -EINVAL;
	memcpy(lo, v, n);
	lo[n] = '\0';
	if (parse_u32(lo, 1, NET_VID_MAX, &a) < 0 ||
	    parse_u32(dash ? dash + 1 : lo, a, NET_VID_MAX, &b) < 0)
		return -EINVAL;
	for (uint32_t vid = a; vid <= b; vid++)
		pol->trunks[vid / 64] |= 1ull << (vid % 64);
	pol->trunk = true;
	return 0;
}

static int parse_pair(struct net_policy *pol, const char *key, const char *v, char *err,
		      size_t err_size)
{
	uint32_t n;

	if (strcmp(key, "vlan") == 0) {
		if (parse_u32(v, 1, NET_VID_MAX, &n) < 0)
			return fail(err, err_size, "vlan=%s: a VLAN id, 1..%u", v, NET_VID_MAX);
		pol->vlan = (uint16_t)n;
	} else if (strcmp(key, "trunks") == 0) {
		if (parse_trunks(pol, v) < 0)
			return fail(err, err_size, "trunks=%s: a VLAN id or a range N-M, 1..%u", v,
				    NET_VID_MAX);
	} else if (strcmp(key, "mac") == 0) {
		uint8_t *m = pol->macs[pol->nmacs];

		if (pol->nmacs == NET_PORT_MACS_MAX)
			return fail(err, err_size, "at most %u mac= per port", NET_PORT_MACS_MAX);
		if (net_mac_parse(v, m) < 0 || (m[0] & 1))
			return fail(err, err_size, "mac=%s: a unicast address, xx:xx:xx:xx:xx:xx",
				    v);
		pol->nmacs++;
	} else if (strcmp(key, "max-macs") == 0) {
		if (parse_u32(v, 1, FDB_SIZE, &n) < 0)
			return fail(err, err_size, "max-macs=%s: 1..%u", v, FDB_SIZE);
		pol->max_macs = n;
	} else if (strcmp(key, "client") == 0) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return fail(err, err_size, "client=%s: 0 or 1", v);
		pol->client = v[0] == '1';
	} else {
		return fail(err, err_size, "unknown key '%s' (vlan, trunks, mac, max-macs, client)",
			    key);
	}
	return 0;
}

int net_policy_parse(const char *text, char *name, size_t name_size, struct net_policy *pol,
		     char *err, size_t err_size)
{
	char buf[NET_CONFIG_TEXT_MAX], *save = NULL, *tok;
	size_t len = strlen(text);
	int ret = 0;

	memset(pol, 0, sizeof(*pol));
	if (len >= sizeof(buf))
		return fail(err, err_size, "longer than %u bytes", NET_CONFIG_TEXT_MAX - 1);
	memcpy(buf, text, len + 1);
	tok = strtok_r(buf, ",", &save);
	if (!tok || buf[0] == ',' || strchr(tok, '=') || strlen(tok) >= name_size)
		return fail(err, err_size,
			    "'%s': NAME,key=value,... (NAME: a --socket-path or "
			    "the --tap)",
			    text);
	memcpy(name, tok, strlen(tok) + 1);
	while (ret == 0 && (tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return fail(err, err_size, "'%s': key=value wanted", tok);
		*eq = '\0';
		ret = parse_pair(pol, tok, eq + 1, err, err_size);
	}
	return ret;
}

bool net_policy_allows(const struct net_policy *pol, const uint8_t mac[6])
{
	if (!pol->nmacs)
		return true;
	for (unsigned int i = 0; i < pol->nmacs; i++)
		if (memcmp(pol->macs[i], mac, 6) == 0)
			return true;
	return false;
}
