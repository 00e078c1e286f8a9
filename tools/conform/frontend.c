/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform frontend: listen as a back-end, answer a front-end as a
 * minimal device would (no rings are processed), record every request, and
 * check what the front-end sent: order, gating, REPLY_ACK use, and what it
 * does after a request is refused (--nack).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"
#include <vhu/names.h>
#include <vhu/version.h>

#define FE_QUEUES 8u
#define FE_MAX_MSGS 4096u
#define SEC_COMM "vhost-user.rst: Communication"

/* What we offer: enough for QEMU's and vhu's front-ends to go on. */
#define FE_FEATURES                                                       \
	(VHU_BIT(VIRTIO_F_VERSION_1) | VHU_BIT(VHU_F_PROTOCOL_FEATURES) | \
	 VHU_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VHU_BIT(VIRTIO_RING_F_EVENT_IDX))
#define FE_PFEATURES                                                      \
	(VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) | \
	 VHU_BIT(VHU_PROTOCOL_F_CONFIG))

struct fe_opts {
	const char *listen, *name;
	uint32_t nack; /* refuse this request (0: none) */
	unsigned int timeout_s;
	bool json, markdown;
};

struct rec {
	uint32_t req, flags, size, nfds;
	uint64_t u64;	    /* the payload's first 8 bytes */
	uint64_t features;  /* virtio features negotiated when it came */
	uint64_t pfeatures; /* protocol features negotiated when it came */
	bool offered_pf;    /* GET_FEATURES had answered bit 30 by then */
};

struct fe {
	struct rec *recs;
	size_t n;
	bool closed;	   /* the front-end closed (not our timeout) */
	size_t nack_at;	   /* index of the refused request + 1 (0: none) */
	bool nack_unasked; /* the request to refuse came without need_reply */
};

static void fe_usage(FILE *out)
{
	fprintf(out,
		"Usage: vhu-conform frontend --listen=PATH [--nack=REQUEST] [--json | --markdown]\n"
		"                            [--name=TEXT] [--timeout=SECONDS]\n"
		"\n"
		"Listen as a vhost-user back-end, answer one front-end as a minimal device\n"
		"would (features VERSION_1, PROTOCOL_FEATURES, INDIRECT_DESC, EVENT_IDX;\n"
		"protocol features MQ, REPLY_ACK, CONFIG; 8 queues; a config space of zeros\n"
		"but a virtio-blk capacity of 2048 sectors; rings are not processed), record\n"
		"what it sends until it leaves or goes\n"
		"quiet, and check it against the spec: order, gating, REPLY_ACK use.\n"
		"\n"
		"  --listen=PATH       the socket the front-end connects to\n"
		"  --nack=REQUEST      refuse this request (a name like SET_VRING_ADDR, or an\n"
		"                      id) with a non-zero ack, and check what comes after\n"
		"  --json              one JSON object on stdout\n"
		"  --markdown          a markdown table on stdout\n"
		"  --name=TEXT         the front-end's name in the report\n"
		"  --timeout=SECONDS   wait this long for the front-end, and stop when it has\n"
		"                      been quiet this long (default 3)\n");
}

static int parse_nack(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*end && v > 0 && v < VHU_REQ_MAX) {
		*out = (uint32_t)v;
		return 0;
	}
	for (uint32_t r = 1; r < VHU_REQ_MAX; r++) {
		const char *n = vhu_request_name(r);

		if (!strcmp(n, s) || (!strncmp(n, "VHOST_USER_", 11) && !strcmp(n + 11, s))) {
			*out = r;
			return 0;
		}
	}
	return -EINVAL;
}

static int fe_options(int argc, char **argv, struct fe_opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "nack", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'N' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	int c;

	*o = (struct fe_opts){ .timeout_s = 3 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			if (parse_nack(optarg, &o->nack) < 0) {
				fprintf(stderr, "vhu-conform: --nack=%s: no such request\n",
					optarg);
				return -1;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'm':
			o->markdown = true;
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'T':
			o->timeout_s = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !o->timeout_s || o->timeout_s > 3600) {
				fprintf(stderr, "vhu-conform: --timeout: 1..3600 seconds\n");
				return -1;
			}
			break;
		case 'h':
			fe_usage(stdout);
			exit(0);
		default:
			fe_usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !o->listen) {
		fprintf(stderr, "vhu-conform frontend: --listen=PATH is required\n");
		return -1;
	}
	return 0;
}

/* Answer one request as a minimal device; return the reply's size or -1 for none. */
static int answer(const struct vhu_msg *m, struct vhu_msg *r, uint64_t pf, bool refuse)
{
	bool ack = (pf & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)) && (m->hdr.flags & VHU_FLAG_NEED_REPLY);

	r->hdr = (struct vhu_msg_hdr){ .request = m->hdr.request,
				       .flags = VHU_VERSION | VHU_FLAG_REPLY };
	switch (m->hdr.request) {
	case VHU_REQ_GET_FEATURES:
		r->payload.u64 = FE_FEATURES;
		return 8;
	case VHU_REQ_GET_PROTOCOL_FEATURES:
		r->payload.u64 = FE_PFEATURES;
		return 8;
	case VHU_REQ_GET_QUEUE_NUM:
		r->payload.u64 = FE_QUEUES;
		return 8;
	case VHU_REQ_GET_VRING_BASE:
		r->payload.state = (struct vhost_vring_state){ .index = m->payload.state.index };
		return 8;
	case VHU_REQ_GET_CONFIG: {
		uint32_t size = m->payload.config.size;

		r->payload.config = (struct vhu_config){ .offset = m->payload.config.offset };
		if (refuse || size > VHU_MAX_CONFIG_SIZE)
			return VHU_CONFIG_HDR_SIZE; /* size 0: failure */
		r->payload.config.size = size;
		/* a virtio-blk capacity of 2048 sectors, so that a blk driver goes on */
		if (m->payload.config.offset == 0 && size >= 8)
			memcpy(r->payload.config.region, &(uint64_t){ 2048 }, 8);
		return (int)(VHU_CONFIG_HDR_SIZE + size);
	}
	default:
		if (!ack)
			return -1;
		r->payload.u64 = refuse ? 1 : 0;
		return 8;
	}
}

static int record(struct fe *f, int sock, const struct fe_opts *o)
{
	uint64_t features = 0, pf = 0;
	bool offered_pf = false;
	struct pollfd p = { .fd = sock, .events = POLLIN };

	for (;;) {
		struct vhu_msg m, r;
		struct rec *rc;
		int size, ret;

		ret = poll(&p, 1, (int)o->timeout_s * 1000);
		if (ret <= 0)
			return 0; /* quiet: the conversation is what it is */
		ret = vhu_msg_recv(sock, &m);
		if (ret == -ECONNRESET) {
			f->closed = true;
			return 0;
		}
		if (ret < 0 && ret != -EBADMSG)
			return ret;
		if (ret == 0)
			vhu_msg_close_fds(&m);
		if (f->n == FE_MAX_MSGS)
			return -E2BIG;
		rc = &f->recs[f->n++];
		*rc = (struct rec){ .req = m.hdr.request,
				    .flags = m.hdr.flags,
				    .size = m.hdr.size,
				    .nfds = m.nfds,
				    .features = features,
				    .pfeatures = pf,
				    .offered_pf = offered_pf };
		if (m.hdr.size >= 8)
			rc->u64 = m.payload.u64;
		if (m.hdr.request == VHU_REQ_GET_FEATURES)
			offered_pf = true;
		if (m.hdr.request == VHU_REQ_SET_FEATURES && m.hdr.size == 8)
			features = m.payload.u64;
		if (m.hdr.request == VHU_REQ_SET_PROTOCOL_FEATURES && m.hdr.size == 8)
			pf = m.payload.u64;
		bool refuse = o->nack && m.hdr.request == o->nack && !f->nack_at;

		size = answer(&m, &r, pf, refuse);
		/* a refusal is told only through a reply: without one, none was seen */
		if (refuse && size >= 0)
			f->nack_at = f->n;
		else if (refuse)
			f->nack_unasked = true;
		if (size >= 0) {
			r.hdr.size = (uint32_t)size;
			r.nfds = 0;
			if (vhu_msg_send(sock, &r) < 0) {
				f->closed = true;
				return 0;
			}
		}
	}
}

/* ---- the checks on the record ------------------------------------------- */

enum fe_check {
	FE_ORDER_PF,
	FE_SUBSET,
	FE_GATED,
	FE_FLAGS,
	FE_OWNER,
	FE_RINGS,
	FE_INDEX,
	FE_NACK,
	FE_NCHECKS
};

static const struct check fe_checks[FE_NCHECKS] = {
	[FE_ORDER_PF] = { "fe-protocol-order", "negotiation",
			  "vhost-user.rst: VHOST_USER_GET_PROTOCOL_FEATURES",
			  "GET/SET_PROTOCOL_FEATURES only after GET_FEATURES showed "
			  "VHOST_USER_F_PROTOCOL_FEATURES",
			  NULL, 0 },
	[FE_SUBSET] = { "fe-features-offered", "negotiation", SEC_COMM,
			"SET_FEATURES and SET_PROTOCOL_FEATURES set only bits the back-end offered",
			NULL, 0 },
	[FE_GATED] = { "fe-gated", "negotiation", SEC_COMM,
		       "a request gated by a protocol feature is sent only once it is negotiated",
		       NULL, 0 },
	[FE_FLAGS] = { "fe-need-reply", "reply-ack",
		       "vhost-user.rst: VHOST_USER_PROTOCOL_F_REPLY_ACK",
		       "flags carry version 1 and never REPLY; need_reply only with REPLY_ACK "
		       "negotiated",
		       NULL, 0 },
	[FE_OWNER] = { "fe-owner-first", "order", "vhost-user.rst: VHOST_USER_SET_OWNER",
		       "SET_OWNER is issued when a connection is established: before any memory "
		       "or ring request",
		       NULL, 0 },
	[FE_RINGS] = { "fe-ring-order", "order", "vhost-user.rst: Ring states",
		       "a ring's size and addresses (translated through the memory table) come "
		       "before the kick that starts it",
		       NULL, 0 },
	[FE_INDEX] = { "fe-queue-index", "order", "vhost-user.rst: Multiple queue support",
		       "ring indices stay below what GET_QUEUE_NUM answered (queue pairs for net: "
		       "twice as many rings)",
		       NULL, 0 },
	[FE_NACK] = { "fe-error-reaction", "errors",
		      "vhost-user.rst: VHOST_USER_PROTOCOL_F_REPLY_ACK",
		      "after a refused request (--nack) the front-end does not go on to start "
		      "rings as if it had succeeded",
		      NULL, 0 },
};

static const struct {
	uint32_t req;
	int bit; /* protocol bit, or -1: virtio bit 30 */
} fe_gates[] = {
	{ VHU_REQ_GET_PROTOCOL_FEATURES, -1 },
	{ VHU_REQ_SET_PROTOCOL_FEATURES, -1 },
	{ VHU_REQ_SET_VRING_ENABLE, -1 },
	{ VHU_REQ_GET_QUEUE_NUM, VHU_PROTOCOL_F_MQ },
	{ VHU_REQ_GET_CONFIG, VHU_PROTOCOL_F_CONFIG },
	{ VHU_REQ_SET_CONFIG, VHU_PROTOCOL_F_CONFIG },
	{ VHU_REQ_SEND_RARP, VHU_PROTOCOL_F_RARP },
	{ VHU_REQ_NET_SET_MTU, VHU_PROTOCOL_F_NET_MTU },
	{ VHU_REQ_SET_BACKEND_REQ_FD, VHU_PROTOCOL_F_BACKEND_REQ },
	{ VHU_REQ_SET_VRING_ENDIAN, VHU_PROTOCOL_F_CROSS_ENDIAN },
	{ VHU_REQ_GET_INFLIGHT_FD, VHU_PROTOCOL_F_INFLIGHT_SHMFD },
	{ VHU_REQ_SET_INFLIGHT_FD, VHU_PROTOCOL_F_INFLIGHT_SHMFD },
	{ VHU_REQ_RESET_DEVICE, VHU_PROTOCOL_F_RESET_DEVICE },
	{ VHU_REQ_VRING_KICK, VHU_PROTOCOL_F_INBAND_NOTIFICATIONS },
	{ VHU_REQ_GET_MAX_MEM_SLOTS, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS },
	{ VHU_REQ_ADD_MEM_REG, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS },
	{ VHU_REQ_REM_MEM_REG, VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS },
	{ VHU_REQ_SET_STATUS, VHU_PROTOCOL_F_STATUS },
	{ VHU_REQ_GET_STATUS, VHU_PROTOCOL_F_STATUS },
	{ VHU_REQ_POSTCOPY_ADVISE, VHU_PROTOCOL_F_PAGEFAULT },
	{ VHU_REQ_POSTCOPY_LISTEN, VHU_PROTOCOL_F_PAGEFAULT },
	{ VHU_REQ_POSTCOPY_END, VHU_PROTOCOL_F_PAGEFAULT },
	{ VHU_REQ_SET_DEVICE_STATE_FD, VHU_PROTOCOL_F_DEVICE_STATE },
	{ VHU_REQ_CHECK_DEVICE_STATE, VHU_PROTOCOL_F_DEVICE_STATE },
};

static const char *short_name(uint32_t req)
{
	const char *n = vhu_request_name(req);

	return strncmp(n, "VHOST_USER_", 11) ? n : n + 11;
}

static bool is_ring_req(uint32_t req)
{
	return req == VHU_REQ_SET_VRING_NUM || req == VHU_REQ_SET_VRING_ADDR ||
	       req == VHU_REQ_SET_VRING_BASE || req == VHU_REQ_SET_VRING_KICK ||
	       req == VHU_REQ_SET_VRING_CALL || req == VHU_REQ_SET_VRING_ERR ||
	       req == VHU_REQ_SET_VRING_ENABLE || req == VHU_REQ_GET_VRING_BASE;
}

static unsigned int ring_of(const struct rec *r)
{
	if (r->req == VHU_REQ_SET_VRING_KICK || r->req == VHU_REQ_SET_VRING_CALL ||
	    r->req == VHU_REQ_SET_VRING_ERR)
		return (unsigned int)(r->u64 & VHU_VRING_IDX_MASK);
	return (unsigned int)(uint32_t)r->u64; /* state.index, addr.index */
}

static void check_record(struct ctx *cx, enum fe_check k, const struct fe *f,
			 const struct fe_opts *o)
{
	bool mem = false, owner = false, seen[256][2] = { { false } };
	unsigned int kicks = 0, rings = 0;

	for (size_t i = 0; i < f->n; i++) {
		const struct rec *r = &f->recs[i];
		bool pf_on = r->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES) || r->pfeatures;

		switch (k) {
		case FE_ORDER_PF:
			if ((r->req == VHU_REQ_GET_PROTOCOL_FEATURES ||
			     r->req == VHU_REQ_SET_PROTOCOL_FEATURES) &&
			    !r->offered_pf)
				fail(cx, "message %zu: %s before GET_FEATURES", i + 1,
				     short_name(r->req));
			break;
		case FE_SUBSET:
			if (r->req == VHU_REQ_SET_FEATURES && (r->u64 & ~FE_FEATURES))
				fail(cx, "SET_FEATURES 0x%llx: bits 0x%llx not offered",
				     (unsigned long long)r->u64,
				     (unsigned long long)(r->u64 & ~FE_FEATURES));
			if (r->req == VHU_REQ_SET_PROTOCOL_FEATURES && (r->u64 & ~FE_PFEATURES))
				fail(cx, "SET_PROTOCOL_FEATURES 0x%llx: bits 0x%llx not offered",
				     (unsigned long long)r->u64,
				     (unsigned long long)(r->u64 & ~FE_PFEATURES));
			break;
		case FE_GATED:
			for (size_t g = 0; g < sizeof(fe_gates) / sizeof(fe_gates[0]); g++) {
				if (fe_gates[g].req != r->req)
					continue;
				if (fe_gates[g].bit < 0
					    ? (r->req == VHU_REQ_SET_VRING_ENABLE && !pf_on)
					    : !(r->pfeatures & VHU_BIT(fe_gates[g].bit)))
					fail(cx, "message %zu: %s while %s is not negotiated",
					     i + 1, short_name(r->req),
					     fe_gates[g].bit < 0
						     ? "VHOST_USER_F_PROTOCOL_FEATURES"
						     : vhu_protocol_feature_name(
							       (unsigned int)fe_gates[g].bit));
			}
			break;
		case FE_FLAGS:
			if ((r->flags & VHU_FLAG_VERSION_MASK) != VHU_VERSION ||
			    (r->flags & VHU_FLAG_REPLY))
				fail(cx, "message %zu (%s): flags 0x%x", i + 1, short_name(r->req),
				     r->flags);
			else if ((r->flags & VHU_FLAG_NEED_REPLY) &&
				 !(r->pfeatures & VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK)))
				fail(cx, "message %zu (%s): need_reply without REPLY_ACK", i + 1,
				     short_name(r->req));
			break;
		case FE_OWNER:
			if (r->req == VHU_REQ_SET_OWNER)
				owner = true;
			else if (!owner &&
				 (is_ring_req(r->req) || r->req == VHU_REQ_SET_MEM_TABLE ||
				  r->req == VHU_REQ_ADD_MEM_REG))
				fail(cx, "message %zu: %s before SET_OWNER", i + 1,
				     short_name(r->req));
			break;
		case FE_RINGS: {
			unsigned int q = ring_of(r) & 0xff;

			if (r->req == VHU_REQ_SET_MEM_TABLE || r->req == VHU_REQ_ADD_MEM_REG)
				mem = true;
			if (r->req == VHU_REQ_SET_VRING_ADDR) {
				if (!mem)
					fail(cx,
					     "message %zu: SET_VRING_ADDR %u before any memory "
					     "table",
					     i + 1, q);
				seen[q][1] = true;
				rings++;
			}
			if (r->req == VHU_REQ_SET_VRING_NUM)
				seen[q][0] = true;
			if (r->req == VHU_REQ_SET_VRING_KICK) {
				kicks++;
				if (!seen[q][0] || !seen[q][1])
					fail(cx, "message %zu: SET_VRING_KICK %u before its %s",
					     i + 1, q,
					     seen[q][0] ? "SET_VRING_ADDR" : "SET_VRING_NUM");
			}
			break;
		}
		case FE_INDEX:
			if (is_ring_req(r->req) && ring_of(r) >= 2 * FE_QUEUES)
				fail(cx, "message %zu: %s for ring %u, %u queues answered", i + 1,
				     short_name(r->req), ring_of(r), FE_QUEUES);
			break;
		case FE_NACK:
			if (f->nack_at && i >= f->nack_at &&
			    (r->req == VHU_REQ_SET_VRING_KICK ||
			     r->req == VHU_REQ_SET_VRING_ENABLE))
				fail(cx, "after %s was refused (message %zu), message %zu: %s",
				     short_name(o->nack), f->nack_at, i + 1, short_name(r->req));
			break;
		default:
			break;
		}
	}
	if (k == FE_RINGS && !kicks)
		return na(cx, "no ring was started (%u ring addresses sent)", rings);
	if (k == FE_NACK && !o->nack)
		return na(cx, "no --nack given");
	if (k == FE_NACK && !f->nack_at && f->nack_unasked)
		return na(cx, "%s came without need_reply: a refusal cannot be told",
			  short_name(o->nack));
	if (k == FE_NACK && !f->nack_at)
		return na(cx, "the front-end never sent %s", short_name(o->nack));
	if (k == FE_NACK)
		return pass(cx, "%s refused: the front-end %s", short_name(o->nack),
			    f->closed ? "closed the connection" : "did not start rings after it");
	pass(cx, "%zu messages", f->n);
}

int conform_frontend_main(int argc, char **argv)
{
	struct peer_info pi = { 0 };
	struct run runs[FE_NCHECKS];
	struct fe f = { 0 };
	struct fe_opts o;
	int ls, sock, ret, failed = 0;
	struct pollfd p;

	if (fe_options(argc, argv, &o) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	f.recs = calloc(FE_MAX_MSGS, sizeof(*f.recs));
	if (!f.recs)
		return 2;
	ret = vhu_sock_listen(o.listen, &ls);
	if (ret < 0) {
		fprintf(stderr, "vhu-conform: listen on %s: %s\n", o.listen, strerror(-ret));
		free(f.recs);
		return 2;
	}
	p = (struct pollfd){ .fd = ls, .events = POLLIN };
	if (poll(&p, 1, (int)o.timeout_s * 10000) <= 0 || (sock = accept(ls, NULL, NULL)) < 0) {
		fprintf(stderr, "vhu-conform: no front-end connected to %s\n", o.listen);
		close(ls);
		unlink(o.listen);
		free(f.recs);
		return 2;
	}
	close(ls);
	unlink(o.listen);
	ret = record(&f, sock, &o);
	close(sock);
	if (ret < 0)
		fprintf(stderr, "vhu-conform: the conversation: %s\n", strerror(-ret));
	for (unsigned int k = 0; k < FE_NCHECKS; k++) {
		struct ctx cx = { .res = &runs[k].res };

		runs[k].check = &fe_checks[k];
		runs[k].res = (struct result){ .verdict = V_PASS };
		if (!f.n)
			fail(&cx, "the front-end sent nothing");
		else
			check_record(&cx, (enum fe_check)k, &f, &o);
		failed |= runs[k].res.verdict == V_FAIL;
	}
	pi.name = o.name ? o.name : o.listen;
	pi.features = FE_FEATURES;
	pi.pfeatures = FE_PFEATURES;
	pi.num_queues = FE_QUEUES;
	pi.type = "front-end";
	if (o.json)
		report_json(stdout, &pi, runs, FE_NCHECKS);
	else if (o.markdown)
		report_markdown(stdout, &pi, runs, FE_NCHECKS);
	else
		report_text(stdout, &pi, runs, FE_NCHECKS);
	free(f.recs);
	return failed ? 1 : 0;
}
