/* SPDX-License-Identifier: MIT */
/*
 * vhu-net's switching core: the MAC table (learning, moves, ageing,
 * flushing, a full table), frame parsing and header checks (the bad frames
 * the switch drops), and the software offloads (checksum completion and TCP
 * segmentation, checked by validating every checksum and reassembling the
 * payload).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "fdb.h"
#include "frame.h"
#include "offload.h"
#include "policy.h"

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 0, 0xb };

/* ---- FDB ---- */

/* A locally administered unicast address from @i. */
static void mac_of(uint8_t mac[6], unsigned int i)
{
	mac[0] = 2;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(i >> 24);
	mac[3] = (uint8_t)(i >> 16);
	mac[4] = (uint8_t)(i >> 8);
	mac[5] = (uint8_t)i;
}

/* One address in two VLANs is two stations; neither is found in a third. */
static void fdb_keys_by_vlan(void **state)
{
	static struct fdb fdb;

	(void)state;
	fdb_init(&fdb, 300);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 3, 10), FDB_LEARNT);
	assert_int_equal(fdb_learn(&fdb, mac_a, 2, 4, 10), FDB_LEARNT);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 1, 10), 3);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 2, 10), 4);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 10), FDB_PORT_NONE);
	assert_int_equal(fdb_lookup(&fdb, mac_a, FDB_VLANS - 1, 10), FDB_PORT_NONE);
	assert_int_equal(fdb_learn(&fdb, mac_a, 1, 3, 11), FDB_KNOWN);
	assert_int_equal(fdb_count(&fdb, 11), 2);
	fdb_destroy(&fdb);
}

/* A port at its max learns no more, until its own entries age out; others are not affected. */
static void fdb_port_limit(void **state)
{
	static struct fdb fdb;
	uint8_t mac[6];

	(void)state;
	fdb_init(&fdb, 300);
	fdb_set_port_max(&fdb, 1, 4);
	for (unsigned int i = 0; i < 10; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_learn(&fdb, mac, 0, 1, 10), i < 4 ? FDB_LEARNT : FDB_LIMITED);
	}
	assert_int_equal(fdb_port_count(&fdb, 1, 10), 4);
	mac_of(mac, 3);
	assert_int_equal(fdb_learn(&fdb, mac, 0, 1, 11), FDB_KNOWN); /* known ones refresh */
	mac_of(mac, 9);
	assert_int_equal(fdb_lookup(&fdb, mac, 0, 11), FDB_PORT_NONE); /* flooded */
	assert_int_equal(fdb_learn(&fdb, mac, 0, 2, 11), FDB_LEARNT);  /* port 2 has room */
	/* a station moving onto the full port is not taken either */
	assert_int_equal(fdb_learn(&fdb, mac, 0, 1, 11), FDB_LIMITED);
	assert_int_equal(fdb_lookup(&fdb, mac, 0, 11), 2);
	/* 0..2 aged out at 310, 3 (refreshed at 11) not: room for 3 more */
	for (unsigned int i = 20; i < 25; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_learn(&fdb, mac, 0, 1, 310),
				 i < 23 ? FDB_LEARNT : FDB_LIMITED);
	}
	fdb_flush_port(&fdb, 1);
	assert_int_equal(fdb_port_count(&fdb, 1, 310), 0);
	assert_int_equal(fdb_learn(&fdb, mac, 0, 1, 310), FDB_LEARNT);
	fdb_destroy(&fdb);
}

/* The table at --max-macs learns nothing new, from any port. */
static void fdb_table_limit(void **state)
{
	static struct fdb fdb;
	uint8_t mac[6];

	(void)state;
	fdb_init(&fdb, 300);
	fdb_set_max(&fdb, 8);
	for (unsigned int i = 0; i < 12; i++) {
		mac_of(mac, i);
		assert_int_equal(fdb_learn(&fdb, mac, 0, i % 3, 10), i < 8 ? FDB_LEARNT : FDB_FULL);
	}
	assert_int_equal(fdb_count(&fdb, 10), 8);
	fdb_destroy(&fdb);
}

/*
 * A port sending from ever new addresses, even with no limit of its own,
 * never replaces another port's live entry: every other station stays.
 */
static void fdb_flood_evicts_no_other_port(void **state)
{
	static struct fdb fdb;
	uint8_t mac[6];
	unsigned int full = 0;

	(void)state;
	fdb_init(&fdb, 300);
	fdb_set_max(&fdb, FDB_SIZE);
	fdb_set_port_max(&fdb, 1, FDB_SIZE);
	for (unsigned int i = 0; i < 200; i++) {
		mac_of(mac, 1000000 + i);
		assert_int_equal(fdb_learn(&fdb, mac, 0, 0, 1), FDB_LEARNT);
	}
	for (unsigned int i = 0; i < 4 * FDB_SIZE; i++) {
		mac_of(mac, i * 2654435761u);
		full += fdb_learn(&fdb, mac, 0, 1, 2 + i / 4096) == FDB_FULL;
	}
	assert_true(full > 0); /* the flood did fill windows */
	for (unsigned int i = 0; i < 200; i++) {
		mac_of(mac, 1000000 + i);
		assert_int_equal(fdb_lookup(&fdb, mac, 0, 20), 0);
	}
	assert_int_equal(fdb_port_count(&fdb, 0, 20), 200);
	fdb_destroy(&fdb);
}

/* --port-config: what it accepts and what it refuses. */
static void policy_parsing(void **state)
{
	static const char *const bad[] = {
		"",
		"p,vlan=0",
		"p,vlan=4095",
		"p,vlan=x",
		"p,vlan=",
		"p,trunks=20-10",
		"p,trunks=5000",
		"p,mac=01:00:5e:00:00:01", /* a group address */
		"p,mac=02:00:00:00:00",
		"p,mac=02:00:00:00:00:0g",
		"p,max-macs=0",
		"p,max-macs=99999",
		"p,client=2",
		"p,client=",
		"p,colour=blue",
		"p,vlan",
		"vlan=10",
	};
	struct net_policy pol;
	char name[64], err[128];

	(void)state;
	assert_int_equal(net_policy_parse("/tmp/a.sock,vlan=10,mac=02:00:00:00:00:0A,"
					  "mac=02:00:00:00:00:0b,max-macs=64,client=1",
					  name, sizeof(name), &pol, err, sizeof(err)),
			 0);
	assert_string_equal(name, "/tmp/a.sock");
	assert_int_equal(pol.vlan, 10);
	assert_false(pol.trunk);
	assert_int_equal(pol.nmacs, 2);
	assert_int_equal(pol.max_macs, 64);
	assert_true(pol.client);
	assert_true(net_policy_allows(&pol, mac_a));
	assert_true(net_policy_allows(&pol, mac_b));
	assert_false(net_policy_allows(&pol, (const uint8_t[6]){ 2, 0, 0, 0, 0, 0xc }));
	assert_int_equal(net_policy_parse("tap0,trunks=10,trunks=20-22", name, sizeof(name), &pol,
					  err, sizeof(err)),
			 0);
	assert_true(pol.trunk);
	assert_true(net_policy_trunks(&pol, 10) && net_policy_trunks(&pol, 21));
	assert_false(net_policy_trunks(&pol, 11) || net_policy_trunks(&pol, 23) ||
		     net_policy_trunks(&pol, 0) || net_policy_trunks(&pol, 4095));
	assert_true(net_policy_allows(&pol, mac_a)); /* no mac=: any source */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (net_policy_parse(bad[i], name, sizeof(name), &pol, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != '\0');
	}
}

static void fdb_learns_and_moves(void **state)
{
	static struct fdb fdb;

	(void)state;
	fdb_init(&fdb, 300);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 10), FDB_PORT_NONE);
	fdb_learn(&fdb, mac_a, 0, 3, 10);
	fdb_learn(&fdb, mac_b, 0, 0, 10);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 11), 3);
	assert_int_equal(fdb_lookup(&fdb, mac_b, 0, 11), 0);
	fdb_learn(&fdb, mac_a, 0, 5, 12); /* the station moved */
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 12), 5);
	assert_int_equal(fdb_count(&fdb, 12), 2);
	fdb_destroy(&fdb);
}

static void fdb_ages_out(void **state)
{
	static struct fdb fdb;

	(void)state;
	fdb_init(&fdb, 300);
	fdb_learn(&fdb, mac_a, 0, 1, 100);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 399), 1);
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 400), FDB_PORT_NONE); /* flood again */
	fdb_learn(&fdb, mac_a, 0, 1, 400);				  /* seen again */
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 600), 1);
	assert_int_equal(fdb_count(&fdb, 1000), 0);
	fdb_destroy(&fdb);
}

static void fdb_ignores_group_sources_and_flushes(void **state)
{
	static struct fdb fdb;
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };

	(void)state;
	fdb_init(&fdb, 300);
	fdb_learn(&fdb, bcast, 0, 1, 1);
	fdb_learn(&fdb, mcast, 0, 1, 1);
	assert_int_equal(fdb_count(&fdb, 1), 0);
	fdb_learn(&fdb, mac_a, 0, 1, 1);
	fdb_learn(&fdb, mac_b, 0, 2, 1);
	fdb_flush_port(&fdb, 1); /* port 1's front-end left */
	assert_int_equal(fdb_lookup(&fdb, mac_a, 0, 1), FDB_PORT_NONE);
	assert_int_equal(fdb_lookup(&fdb, mac_b, 0, 1), 2);
	fdb_destroy(&fdb);
}

static void fdb_full_table_keeps_working(void **state)
{
	static struct fdb fdb;
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 0 };
	unsigned int found = 0;

	(void)state;
	fdb_init(&fdb, 300);
	fdb_set_max(&fdb, FDB_SIZE);
	for (unsigned int i = 0; i < 7; i++)
		fdb_set_port_max(&fdb, i, FDB_SIZE);
	/* twice as many stations as slots: the rest is not learnt, lookups stay right */
	for (unsigned int i = 0; i < 2 * FDB_SIZE; i++) {
		mac[3] = (uint8_t)(i >> 16);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		fdb_learn(&fdb, mac, 0, i % 7, 1 + i / 1000);
	}
	for (unsigned int i = 0; i < 2 * FDB_SIZE; i++) {
		int port;

		mac[3] = (uint8_t)(i >> 16);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		port = fdb_lookup(&fdb, mac, 0, 10);
		if (port != FDB_PORT_NONE) {
			assert_int_equal(port, (int)(i % 7));
			found++;
		}
	}
	assert_true(found > FDB_SIZE / 2);
	assert_true(found <= FDB_SIZE);
	fdb_destroy(&fdb);
}

/* ---- frames ---- */

/* Ethernet + IPv4 or IPv6 + TCP (20-byte header) + @payload bytes of a pattern. */
static size_t build_tcp(uint8_t *buf, int ipv, size_t payload)
{
	size_t l3 = 14, l4 = ipv == 4 ? 34 : 54, len = l4 + 20 + payload;
	uint16_t csum;

	memset(buf, 0, len);
	memcpy(buf, mac_b, 6);
	memcpy(buf + 6, mac_a, 6);
	if (ipv == 4) {
		buf[12] = 0x08;
		buf[l3] = 0x45;
		buf[l3 + 2] = (uint8_t)((len - l3) >> 8);
		buf[l3 + 3] = (uint8_t)(len - l3);
		buf[l3 + 4] = 0x12; /* id 0x1234 */
		buf[l3 + 5] = 0x34;
		buf[l3 + 8] = 64;
		buf[l3 + 9] = 6;
		memcpy(buf + l3 + 12, (const uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
		csum = (uint16_t)~net_csum_fold(net_csum_buf(0, buf + l3, 20));
		buf[l3 + 10] = (uint8_t)(csum >> 8);
		buf[l3 + 11] = (uint8_t)csum;
	} else {
		buf[12] = 0x86;
		buf[13] = 0xdd;
		buf[l3] = 0x60;
		buf[l3 + 4] = (uint8_t)((len - l4) >> 8);
		buf[l3 + 5] = (uint8_t)(len - l4);
		buf[l3 + 6] = 6;
		buf[l3 + 7] = 64;
		buf[l3 + 8] = 0xfd;
		buf[l3 + 23] = 1;
		buf[l3 + 24] = 0xfd;
		buf[l3 + 39] = 2;
	}
	buf[l4] = 0x30; /* ports 12345 -> 80 */
	buf[l4 + 1] = 0x39;
	buf[l4 + 3] = 80;
	buf[l4 + 4] = 0xaa; /* seq 0xaabbccdd */
	buf[l4 + 5] = 0xbb;
	buf[l4 + 6] = 0xcc;
	buf[l4 + 7] = 0xdd;
	buf[l4 + 12] = 5 << 4;
	buf[l4 + 13] = 0x80 | 0x10 | 0x08 | 0x01; /* CWR ACK PSH FIN */
	for (size_t i = 0; i < payload; i++)
		buf[l4 + 20 + i] = (uint8_t)(i * 7 + 3);
	return len;
}

static void frame_from(struct net_frame *f, const uint8_t *buf, size_t len)
{
	f->len = (uint32_t)len;
	f->head_len = len < NET_HEAD_MAX ? (uint32_t)len : NET_HEAD_MAX;
	memcpy(f->head, buf, f->head_len);
	net_frame_parse(f);
}

/* The TCP/IP checksums of a flat frame are right. */
static void assert_checksums(const uint8_t *p, size_t len)
{
	const struct net_frame *f;
	static struct net_frame fr;
	uint32_t sum;
	size_t tcp_len;

	frame_from(&fr, p, len);
	f = &fr;
	assert_int_not_equal(f->l4_off, 0);
	tcp_len = len - f->l4_off;
	if (f->ip_version == 4) {
		assert_int_equal(net_csum_fold(net_csum_buf(0, p + 14, 20)), 0xffff);
		sum = net_csum_buf(0, p + 26, 8);
	} else {
		sum = net_csum_buf(0, p + 22, 32);
	}
	sum = net_csum_add(sum, 6 + (uint32_t)tcp_len);
	sum = net_csum_buf(sum, p + f->l4_off, tcp_len);
	assert_int_equal(net_csum_fold(sum), 0xffff);
}

static void parses_ip_and_vlan(void **state)
{
	static struct net_frame f;
	uint8_t buf[200], tagged[204];
	size_t len = build_tcp(buf, 4, 10);

	(void)state;
	frame_from(&f, buf, len);
	assert_int_equal(f.ip_version, 4);
	assert_int_equal(f.l3_off, 14);
	assert_int_equal(f.l4_off, 34);
	assert_int_equal(f.l4_proto, 6);
	assert_int_equal(f.l4_hlen, 20);

	/* one 802.1Q tag moves everything by 4 */
	memcpy(tagged, buf, 12);
	tagged[12] = 0x81;
	tagged[13] = 0x00;
	tagged[14] = 0;
	tagged[15] = 5;
	memcpy(tagged + 16, buf + 12, len - 12);
	frame_from(&f, tagged, len + 4);
	assert_int_equal(f.l3_off, 18);
	assert_int_equal(f.l4_off, 38);

	len = build_tcp(buf, 6, 10);
	frame_from(&f, buf, len);
	assert_int_equal(f.ip_version, 6);
	assert_int_equal(f.l4_off, 54);

	/* an IPv4 header cut short is "not IP", not an error */
	frame_from(&f, buf, 20);
	assert_int_equal(f.l3_off, 0);
	assert_int_equal(f.l4_off, 0);
}

static void flow_hash_separates_flows(void **state)
{
	static struct net_frame f1, f2;
	uint8_t buf[200];
	size_t len = build_tcp(buf, 4, 10);
	uint32_t h1;

	(void)state;
	frame_from(&f1, buf, len);
	frame_from(&f2, buf, len);
	assert_int_equal(net_frame_hash(&f1),
			 net_frame_hash(&f2)); /* the same flow, the same queue */
	h1 = net_frame_hash(&f1);
	buf[35] = 0x3a; /* another source port */
	frame_from(&f2, buf, len);
	assert_int_not_equal(h1, net_frame_hash(&f2));

	/* a frame switched unparsed (no offload asked for) is parsed to hash:
	 * the ports still count */
	f2.parsed = false;
	f2.l3_off = f2.l4_off = 0;
	f2.ip_version = 0;
	assert_int_not_equal(h1, net_frame_hash(&f2));
	assert_true(f2.parsed);
	assert_int_equal(f2.l4_off, 34);
}

static void header_checks(void **state)
{
	static struct net_frame f;
	uint8_t buf[2000];
	size_t len = build_tcp(buf, 4, 1000);
	struct net_hdr h = { 0 };

	(void)state;
	frame_from(&f, buf, len);
	assert_int_equal(net_hdr_check(&h, &f), 0);

	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	assert_int_equal(net_hdr_check(&h, &f), 0);
	h.csum_start = (uint16_t)(len - 17); /* the field would end past the frame */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.csum_start = 0xfff0; /* CVE-2024-11614 */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.csum_start = 300; /* inside the frame but past the parsed head */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);

	h.csum_start = 34;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 500;
	assert_int_equal(net_hdr_check(&h, &f), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* not the frame's IP version */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* UFO is never offered */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.gso_size = 500;
	h.flags = 0; /* GSO without NEEDS_CSUM */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	frame_from(&f, buf, 54); /* headers only: nothing to segment */
	assert_int_equal(net_hdr_check(&h, &f), -EBADMSG);
}

static void header_codec(void **state)
{
	struct net_hdr h = { .flags = 1,
			     .gso_type = 4,
			     .hdr_len = 66,
			     .gso_size = 1448,
			     .csum_start = 54,
			     .csum_offset = 16,
			     .num_buffers = 3 },
		       g;
	uint8_t b[12];

	(void)state;
	net_hdr_write(&h, b, 12);
	assert_int_equal(b[4] | b[5] << 8, 1448);
	net_hdr_read(&g, b, 12);
	assert_memory_equal(&g, &h, sizeof(h));
	net_hdr_read(&g, b, 10);
	assert_int_equal(g.num_buffers, 1);
}

/* @buf cut into iovecs of the sizes in @cuts (0-terminated; the rest in one). */
static unsigned int scatter(uint8_t *buf, size_t len, const size_t *cuts, struct iovec *iov)
{
	unsigned int n = 0;
	size_t off = 0;

	for (; cuts[n] && off + cuts[n] < len; n++) {
		iov[n] = (struct iovec){ buf + off, cuts[n] };
		off += cuts[n];
	}
	iov[n++] = (struct iovec){ buf + off, len - off };
	return n;
}

static void read_src(const struct net_src *src, uint8_t *out)
{
	struct net_cur c;

	net_cur_init(&c, src);
	assert_int_equal(net_cur_read(&c, out, src->len), src->len);
}

static void checksum_completed_in_software(void **state)
{
	static const size_t cuts[] = { 5, 13, 1, 40, 3, 0 };
	static uint8_t chain[12 + 3000], pre[NET_HEAD_MAX], out[3000];
	static struct net_frame f;
	struct iovec iov[8];
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			     .csum_start = 34,
			     .csum_offset = 16 };
	struct net_src src, done;
	size_t len;
	uint32_t pseudo;

	(void)state;
	for (int odd = 0; odd < 2; odd++) {
		len = build_tcp(chain + 12, 4, 1001 + (size_t)odd * 500);
		/* the driver's part: the pseudo-header sum in the field */
		pseudo = net_csum_add(net_csum_buf(0, chain + 12 + 26, 8), 6 + (uint32_t)len - 34);
		chain[12 + 50] = (uint8_t)(net_csum_fold(pseudo) >> 8);
		chain[12 + 51] = (uint8_t)net_csum_fold(pseudo);
		frame_from(&f, chain + 12, len);
		assert_int_equal(net_hdr_check(&h, &f), 0);
		src = (struct net_src){ .iov = iov,
					.niov = scatter(chain, 12 + len, cuts, iov),
					.off = 12,
					.len = (uint32_t)len };
		net_csum_complete(&f, &h, &src, pre, &done);
		read_src(&done, out);
		assert_checksums(out, len);
		/* the sender's buffer was not written */
		assert_int_equal(chain[12 + 50], (uint8_t)(net_csum_fold(pseudo) >> 8));
	}
}

static void segments(int ipv, bool partial)
{
	static const size_t cuts[] = { 12, 7, 100, 1, 999, 2, 0 };
	static uint8_t chain[12 + 8000], hdrs[NET_HEAD_MAX], seg[2000], payload[8000];
	static struct net_frame f;
	struct iovec iov[10];
	struct net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_size = 1448 }, oh;
	struct net_seg_iter it;
	struct net_src src, s;
	size_t len = build_tcp(chain + 12, ipv, 5000), got = 0, hlen = ipv == 4 ? 54 : 74;
	unsigned int n = 0;

	h.gso_type = ipv == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	h.csum_start = (uint16_t)(hlen - 20);
	h.csum_offset = 16;
	frame_from(&f, chain + 12, len);
	assert_int_equal(net_hdr_check(&h, &f), 0);
	src = (struct net_src){ .iov = iov,
				.niov = scatter(chain, 12 + len, cuts, iov),
				.off = 12,
				.len = (uint32_t)len };
	net_seg_init(&it, &f, &h, &src);
	while (net_seg_next(&it, partial, hdrs, &s, &oh)) {
		size_t plen = s.len - hlen;
		uint32_t seq;

		read_src(&s, seg);
		assert_true(plen <= 1448);
		seq = (uint32_t)seg[hlen - 16] << 24 | (uint32_t)seg[hlen - 15] << 16 |
		      (uint32_t)seg[hlen - 14] << 8 | seg[hlen - 13];
		assert_int_equal(seq, 0xaabbccddu + got);
		/* FIN and PSH on the last only, CWR on the first only */
		assert_int_equal(!!(seg[hlen - 7] & 0x01), got + plen == 5000);
		assert_int_equal(!!(seg[hlen - 7] & 0x80), n == 0);
		if (partial) {
			assert_int_equal(oh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
			assert_int_equal(oh.csum_start, hlen - 20);
		} else {
			assert_int_equal(oh.flags, 0);
			assert_checksums(seg, s.len);
		}
		assert_int_equal(oh.gso_type, 0);
		memcpy(payload + got, seg + hlen, plen);
		got += plen;
		n++;
	}
	assert_int_equal(n, 4); /* 5000 = 3 * 1448 + 656 */
	assert_int_equal(got, 5000);
	assert_memory_equal(payload, chain + 12 + hlen, 5000);
}

static void tso4_segmented(void **state)
{
	(void)state;
	segments(4, false);
	segments(4, true);
}

static void tso6_segmented(void **state)
{
	(void)state;
	segments(6, false);
	segments(6, true);
}

static void rarp_frame(void **state)
{
	uint8_t f[60];

	(void)state;
	assert_int_equal(net_rarp_build(f, mac_a), 60);
	assert_int_equal(f[0], 0xff);
	assert_memory_equal(f + 6, mac_a, 6);
	assert_int_equal(f[12] << 8 | f[13], NET_ETHERTYPE_RARP);
	assert_int_equal(f[21], 3); /* reverse request */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fdb_learns_and_moves),
		cmocka_unit_test(fdb_ages_out),
		cmocka_unit_test(fdb_ignores_group_sources_and_flushes),
		cmocka_unit_test(fdb_full_table_keeps_working),
		cmocka_unit_test(fdb_keys_by_vlan),
		cmocka_unit_test(fdb_port_limit),
		cmocka_unit_test(fdb_table_limit),
		cmocka_unit_test(fdb_flood_evicts_no_other_port),
		cmocka_unit_test(policy_parsing),
		cmocka_unit_test(parses_ip_and_vlan),
		cmocka_unit_test(flow_hash_separates_flows),
		cmocka_unit_test(header_checks),
		cmocka_unit_test(header_codec),
		cmocka_unit_test(checksum_completed_in_software),
		cmocka_unit_test(tso4_segmented),
		cmocka_unit_test(tso6_segmented),
		cmocka_unit_test(rarp_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
