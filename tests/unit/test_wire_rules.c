/* SPDX-License-Identifier: MIT */
/*
 * lib/wire: the request rows, vhu_msg_check(), vhu_reply_check(),
 * vhu_msg_decode() and the fd ownership rules, plus the name tables.
 *
 * The table-driven tests walk every row of both directions and derive the
 * edges from the row itself; the spot checks compare single rows with facts
 * taken from the spec (docs/interop/vhost-user.rst), not from rules.c.
 * Every test runs between a setup and a teardown that count /proc/self/fd, so
 * a leaked fd fails the test that leaked it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_ids.h>

#include "../support/leakcheck.h"
#include "common/util.h"
#include "wire/wire.h"
#include <vhu/names.h>

#define HDR_SIZE ((uint32_t)sizeof(struct vhu_msg_hdr))
/* More fds than any message may carry, so the "one too many" cases have real fds. */
#define FD_POOL (VHU_MAX_FDS + 2)

static const enum vhu_dir dirs[] = { VHU_DIR_TO_BACKEND, VHU_DIR_TO_FRONTEND };

/* ---- fd helpers --------------------------------------------------------- */

static bool fd_is_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void make_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
}

static void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(close(fds[i]), 0);
}

/* Every test: no fd may outlive it. */
static int leak_setup(void **state)
{
	int *baseline = malloc(sizeof(*baseline));

	if (!baseline)
		return -1;
	*baseline = leak_count_fds();
	*state = baseline;
	return 0;
}

static int leak_teardown(void **state)
{
	int *baseline = *state;
	int now = leak_count_fds();
	int ret = 0;

	if (now != *baseline) {
		print_error("fd leak: %d open before the test, %d after\n", *baseline, now);
		ret = -1;
	}
	free(baseline);
	return ret;
}

/* ---- building messages -------------------------------------------------- */

static void msg_setup(struct vhu_msg *msg, uint32_t request, uint32_t flags, uint32_t size)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.request = request;
	msg->hdr.flags = flags;
	msg->hdr.size = size;
	for (unsigned int i = 0; i < VHU_MAX_FDS; i++)
		msg->fds[i] = -1;
}

/* Give @msg @nfds real fds (the count may exceed what the array holds). */
static void msg_add_fds(struct vhu_msg *msg, unsigned int nfds)
{
	make_fds(msg->fds, VHU_MIN(nfds, VHU_MAX_FDS));
	msg->nfds = nfds;
}

/*
 * vhu_msg_check() on a message with real fds: the check must not close
 * them, vhu_msg_close_fds() must. Return what the check said.
 */
static int check_msg(enum vhu_dir dir, uint32_t request, uint32_t flags, uint32_t size,
		     unsigned int nfds)
{
	const struct vhu_rule *want_rule = vhu_rule_find(dir, request);
	const struct vhu_rule *rule = NULL;
	unsigned int real = VHU_MIN(nfds, VHU_MAX_FDS);
	int saved[VHU_MAX_FDS];
	struct vhu_msg msg;
	int ret;

	msg_setup(&msg, request, flags, size);
	msg_add_fds(&msg, nfds);
	memcpy(saved, msg.fds, sizeof(saved));

	ret = vhu_msg_check(dir, &msg, &rule);
	if (ret != -ENOTSUP)
		assert_ptr_equal(rule, want_rule); /* set on success and on every other error */
	for (unsigned int i = 0; i < real; i++)
		assert_true(fd_is_open(saved[i]));

	vhu_msg_close_fds(&msg);
	assert_int_equal(msg.nfds, 0);
	for (unsigned int i = 0; i < real; i++)
		assert_true(fd_is_closed(saved[i]));
	return ret;
}

/*
 * vhu_msg_decode() of header + @size zero bytes with @nfds real fds: on
 * success the message owns exactly those fds, on error all are closed.
 */
static int decode_msg(enum vhu_dir dir, uint32_t request, uint32_t flags, uint32_t size,
		      unsigned int nfds)
{
	static uint8_t buf[sizeof(struct vhu_msg_hdr) + VHU_MAX_PAYLOAD + 16];
	struct vhu_msg_hdr hdr = { .request = request, .flags = flags, .size = size };
	struct vhu_msg msg;
	int fds[FD_POOL];
	int ret;

	assert_true(size <= VHU_MAX_PAYLOAD + 16 && nfds <= FD_POOL);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &hdr, sizeof(hdr));
	memset(fds, 0xff, sizeof(fds)); /* -1 */
	make_fds(fds, nfds);

	ret = vhu_msg_decode(dir, buf, HDR_SIZE + size, fds, nfds, &msg);
	if (ret == 0) {
		assert_int_equal(msg.nfds, nfds);
		for (unsigned int i = 0; i < nfds; i++) {
			assert_int_equal(msg.fds[i], fds[i]);
			assert_true(fd_is_open(fds[i]));
		}
		vhu_msg_close_fds(&msg);
	}
	for (unsigned int i = 0; i < nfds; i++)
		assert_true(fd_is_closed(fds[i]));
	return ret;
}

/* Both entry points must agree on @want. */
static void expect(enum vhu_dir dir, uint32_t request, uint32_t flags, uint32_t size,
		   unsigned int nfds, int want)
{
	int got = check_msg(dir, request, flags, size, nfds);

	if (got != want)
		print_error("dir %d request %u (%s) flags %#x size %u nfds %u: check %d, want %d\n",
			    dir, request, vhu_rule_name(dir, request), flags, size, nfds, got,
			    want);
	assert_int_equal(got, want);
	got = decode_msg(dir, request, flags, size, nfds);
	if (got != want)
		print_error(
			"dir %d request %u (%s) flags %#x size %u nfds %u: decode %d, want %d\n",
			dir, request, vhu_rule_name(dir, request), flags, size, nfds, got, want);
	assert_int_equal(got, want);
}

/* ---- every row, both directions ----------------------------------------- */

static void row_is_consistent(enum vhu_dir dir, uint32_t id, const struct vhu_rule *rule)
{
	const char *prefix = dir == VHU_DIR_TO_BACKEND ? "VHOST_USER_" : "VHOST_USER_BACKEND_";

	assert_non_null(rule->name);
	assert_int_equal(strncmp(rule->name, prefix, strlen(prefix)), 0);
	assert_string_equal(vhu_rule_name(dir, id), rule->name);
	assert_true(rule->min_size <= rule->max_size);
	assert_true(rule->max_size <= VHU_MAX_PAYLOAD);
	assert_true(rule->min_fds <= rule->max_fds);
	assert_true(rule->max_fds <= VHU_MAX_FDS);
	assert_true(rule->queue <= VHU_QUEUE_IN_AREA);
	assert_true(rule->reply <= VHU_REPLY_CONDITIONAL);
	assert_true(rule->reply_min_size <= rule->reply_max_size);
	assert_true(rule->reply_max_size <= VHU_MAX_PAYLOAD);
	assert_true(rule->reply_max_fds <= VHU_MAX_FDS);
	if (rule->reply == VHU_REPLY_ACK) {
		/* an ack is a bare u64: a row without a body has no body sizes */
		assert_int_equal(rule->reply_max_size, 0);
		assert_int_equal(rule->reply_max_fds, 0);
	}
}

static void row_edges(enum vhu_dir dir, uint32_t id, const struct vhu_rule *rule)
{
	const uint32_t ok = VHU_VERSION;
	const uint32_t min = rule->min_size, max = rule->max_size;
	const unsigned int min_fds = rule->min_fds, max_fds = rule->max_fds;

	/* the corners of the row are accepted */
	expect(dir, id, ok, min, min_fds, 0);
	expect(dir, id, ok, max, max_fds, 0);
	expect(dir, id, ok, min, max_fds, 0);
	expect(dir, id, ok, max, min_fds, 0);
	/* one byte outside */
	if (min > 0)
		expect(dir, id, ok, min - 1, min_fds, -EMSGSIZE);
	expect(dir, id, ok, max + 1, min_fds, -EMSGSIZE);
	/* one fd outside */
	expect(dir, id, ok, min, max_fds + 1, -EBADMSG);
	if (min_fds > 0)
		expect(dir, id, ok, min, min_fds - 1, -EBADMSG);

	/* flags: version must be 1, no REPLY, no reserved bit; NEED_REPLY is fine */
	expect(dir, id, 0, min, min_fds, -EPROTO);
	expect(dir, id, 2, min, min_fds, -EPROTO);
	expect(dir, id, 3, min, min_fds, -EPROTO);
	expect(dir, id, ok | VHU_FLAG_REPLY, min, min_fds, -EPROTO);
	expect(dir, id, ok | VHU_FLAG_REPLY | VHU_FLAG_NEED_REPLY, min, min_fds, -EPROTO);
	expect(dir, id, ok | (1u << 4), min, min_fds, -EPROTO);
	expect(dir, id, ok | (1u << 31), min, min_fds, -EPROTO);
	expect(dir, id, ok | VHU_FLAG_NEED_REPLY, min, min_fds, 0);
	expect(dir, id, ok | VHU_FLAG_NEED_REPLY, max, max_fds, 0);
}

static void every_row_in_both_directions(void **state)
{
	(void)state;
	for (unsigned int d = 0; d < ARRAY_SIZE(dirs); d++) {
		enum vhu_dir dir = dirs[d];
		unsigned int known = 0;

		for (uint32_t id = 0; id < vhu_rule_count(dir) + 5; id++) {
			const struct vhu_rule *rule = vhu_rule_find(dir, id);

			if (!rule) {
				expect(dir, id, VHU_VERSION, 0, 0, -ENOTSUP);
				expect(dir, id, VHU_VERSION, 8, 1, -ENOTSUP);
				continue;
			}
			known++;
			row_is_consistent(dir, id, rule);
			row_edges(dir, id, rule);
		}
		/* ids 1..MAX-1 all have a row (the Front-end and Back-end tables have no holes) */
		assert_int_equal(known, vhu_rule_count(dir) - 1);
	}
}

static void unknown_ids_are_not_supported(void **state)
{
	static const uint32_t to_backend[] = { 0, VHU_REQ_MAX, VHU_REQ_MAX + 1, 0x80000000u,
					       0xffffffffu };
	static const uint32_t to_frontend[] = { 0, VHU_BACKEND_REQ_MAX, VHU_BACKEND_REQ_MAX + 1,
						0xffffffffu };

	(void)state;
	assert_int_equal(vhu_rule_count(VHU_DIR_TO_BACKEND), VHU_REQ_MAX);
	assert_int_equal(vhu_rule_count(VHU_DIR_TO_FRONTEND), VHU_BACKEND_REQ_MAX);
	for (unsigned int i = 0; i < ARRAY_SIZE(to_backend); i++) {
		assert_null(vhu_rule_find(VHU_DIR_TO_BACKEND, to_backend[i]));
		expect(VHU_DIR_TO_BACKEND, to_backend[i], VHU_VERSION, 0, 0, -ENOTSUP);
		/* the check judges the id before flags, size and fds */
		assert_int_equal(check_msg(VHU_DIR_TO_BACKEND, to_backend[i], 0, 5000, 1),
				 -ENOTSUP);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(to_frontend); i++) {
		assert_null(vhu_rule_find(VHU_DIR_TO_FRONTEND, to_frontend[i]));
		expect(VHU_DIR_TO_FRONTEND, to_frontend[i], VHU_VERSION, 0, 0, -ENOTSUP);
	}
}

static void every_id_has_a_row(void **state)
{
	(void)state;
	for (uint32_t id = 1; id < VHU_REQ_MAX; id++) {
		if (!vhu_rule_find(VHU_DIR_TO_BACKEND, id))
			print_error("front-end request %u has no row\n", id);
		assert_non_null(vhu_rule_find(VHU_DIR_TO_BACKEND, id));
		assert_string_not_equal(vhu_request_name(id), "VHOST_USER_UNKNOWN");
	}
	for (uint32_t id = 1; id < VHU_BACKEND_REQ_MAX; id++) {
		if (!vhu_rule_find(VHU_DIR_TO_FRONTEND, id))
			print_error("back-end request %u has no row\n", id);
		assert_non_null(vhu_rule_find(VHU_DIR_TO_FRONTEND, id));
		assert_string_not_equal(vhu_backend_request_name(id), "VHOST_USER_BACKEND_UNKNOWN");
	}
	for (unsigned int bit = 0; bit < VHU_PROTOCOL_F_MAX; bit++) {
		if (!vhu_protocol_feature_name(bit))
			print_error("protocol feature bit %u has no name\n", bit);
		assert_non_null(vhu_protocol_feature_name(bit));
	}
}

/* ---- spot checks against the spec -------------------------------------- */

static const struct vhu_rule *req(uint32_t id)
{
	const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_BACKEND, id);

	assert_non_null(rule);
	return rule;
}

static const struct vhu_rule *backend_req(uint32_t id)
{
	const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_FRONTEND, id);

	assert_non_null(rule);
	return rule;
}

static void assert_sizes(const struct vhu_rule *rule, uint32_t min, uint32_t max,
			 unsigned int min_fds, unsigned int max_fds)
{
	if (rule->min_size != min || rule->max_size != max || rule->min_fds != min_fds ||
	    rule->max_fds != max_fds)
		print_error("%s: size %u..%u fds %u..%u, spec says size %u..%u fds %u..%u\n",
			    rule->name, rule->min_size, rule->max_size, rule->min_fds,
			    rule->max_fds, min, max, min_fds, max_fds);
	assert_int_equal(rule->min_size, min);
	assert_int_equal(rule->max_size, max);
	assert_int_equal(rule->min_fds, min_fds);
	assert_int_equal(rule->max_fds, max_fds);
}

static void spec_get_features(void **state)
{
	const struct vhu_rule *rule = req(VHU_REQ_GET_FEATURES);

	(void)state;
	assert_string_equal(rule->name, "VHOST_USER_GET_FEATURES");
	assert_sizes(rule, 0, 0, 0, 0);
	assert_int_equal(rule->reply, VHU_REPLY_ALWAYS);
	assert_int_equal(rule->reply_min_size, 8);
	assert_int_equal(rule->reply_max_size, 8);
	assert_int_equal(rule->reply_max_fds, 0);
	assert_int_equal(rule->gate_features, 0);
	assert_int_equal(rule->gate_protocol, 0);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_GET_FEATURES, VHU_VERSION, 0, 0, 0);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_GET_FEATURES, VHU_VERSION, 8, 0, -EMSGSIZE);
}

static void spec_set_mem_table(void **state)
{
	const struct vhu_rule *rule = req(VHU_REQ_SET_MEM_TABLE);

	(void)state;
	/* nregions + padding, then up to 8 regions of 32 bytes, one fd each */
	assert_sizes(rule, 8, 8 + 8 * 32, 0, 8);
	assert_true(rule->pauses_queues);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_MEM_TABLE, VHU_VERSION, 8 + 2 * 32, 2, 0);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_MEM_TABLE, VHU_VERSION, 264, 8, 0);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_MEM_TABLE, VHU_VERSION, 265, 8, -EMSGSIZE);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_MEM_TABLE, VHU_VERSION, 264, 9, -EBADMSG);
}

static void spec_vring_kick_call_err(void **state)
{
	static const uint32_t ids[] = { VHU_REQ_SET_VRING_KICK, VHU_REQ_SET_VRING_CALL,
					VHU_REQ_SET_VRING_ERR };

	(void)state;
	assert_string_equal(req(VHU_REQ_SET_VRING_KICK)->name, "VHOST_USER_SET_VRING_KICK");
	for (unsigned int i = 0; i < ARRAY_SIZE(ids); i++) {
		const struct vhu_rule *rule = req(ids[i]);

		assert_sizes(rule, 8, 8, 0, 1);
		assert_int_equal(rule->queue, VHU_QUEUE_IN_U64);
		assert_int_equal(rule->reply, VHU_REPLY_ACK);
		expect(VHU_DIR_TO_BACKEND, ids[i], VHU_VERSION, 8, 1, 0);
		expect(VHU_DIR_TO_BACKEND, ids[i], VHU_VERSION, 8, 0, 0); /* NOFD */
		expect(VHU_DIR_TO_BACKEND, ids[i], VHU_VERSION, 8, 2, -EBADMSG);
		expect(VHU_DIR_TO_BACKEND, ids[i], VHU_VERSION, 4, 1, -EMSGSIZE);
	}
}

static void spec_get_vring_base(void **state)
{
	const struct vhu_rule *rule = req(VHU_REQ_GET_VRING_BASE);

	(void)state;
	assert_sizes(rule, 8, 8, 0, 0);
	assert_int_equal(rule->queue, VHU_QUEUE_IN_STATE);
	assert_int_equal(rule->reply, VHU_REPLY_ALWAYS);
	assert_int_equal(rule->reply_min_size, sizeof(struct vhost_vring_state));
	assert_int_equal(rule->reply_max_size, sizeof(struct vhost_vring_state));
	assert_true(rule->pauses_queues); /* it stops the ring */
}

static void spec_config(void **state)
{
	const struct vhu_rule *get = req(VHU_REQ_GET_CONFIG);
	const struct vhu_rule *set = req(VHU_REQ_SET_CONFIG);

	(void)state;
	/* offset, size, flags, then up to 256 bytes of config space */
	assert_sizes(get, 12, 268, 0, 0);
	assert_sizes(set, 12, 268, 0, 0);
	assert_int_equal(get->reply, VHU_REPLY_ALWAYS);
	assert_int_equal(get->reply_min_size, 12); /* a 12-byte reply reports failure */
	assert_int_equal(get->reply_max_size, 268);
	assert_int_equal(get->gate_protocol, VHU_BIT(9)); /* CONFIG */
	assert_int_equal(set->gate_protocol, VHU_BIT(9));
}

static void spec_mem_slots(void **state)
{
	const struct vhu_rule *add = req(VHU_REQ_ADD_MEM_REG);
	const struct vhu_rule *rem = req(VHU_REQ_REM_MEM_REG);

	(void)state;
	/* 8 bytes of padding, then one 32-byte region; exactly one fd */
	assert_sizes(add, 40, 40, 1, 1);
	assert_int_equal(add->gate_protocol, VHU_BIT(15)); /* CONFIGURE_MEM_SLOTS */
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_ADD_MEM_REG, VHU_VERSION, 40, 0, -EBADMSG);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_ADD_MEM_REG, VHU_VERSION, 40, 2, -EBADMSG);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_ADD_MEM_REG, VHU_VERSION, 32, 1, -EMSGSIZE);
	/* REM_MEM_REG: no fd, but a back-end may accept one and close it */
	assert_int_equal(rem->min_size, 40);
	assert_int_equal(rem->max_size, 40);
	assert_int_equal(rem->min_fds, 0);
	assert_int_equal(req(VHU_REQ_GET_MAX_MEM_SLOTS)->reply, VHU_REPLY_ALWAYS);
}

static void spec_inflight(void **state)
{
	const struct vhu_rule *set = req(VHU_REQ_SET_INFLIGHT_FD);
	const struct vhu_rule *get = req(VHU_REQ_GET_INFLIGHT_FD);

	(void)state;
	/* mmap_size, mmap_offset, num_queues, queue_size + 4 bytes padding */
	assert_sizes(set, 24, 24, 1, 1);
	assert_int_equal(set->gate_protocol, VHU_BIT(12)); /* INFLIGHT_SHMFD */
	assert_sizes(get, 24, 24, 0, 0);
	assert_int_equal(get->reply, VHU_REPLY_ALWAYS);
	assert_int_equal(get->reply_min_size, 24);
	assert_int_equal(get->reply_max_size, 24);
	assert_int_equal(get->reply_max_fds, 1);
}

static void spec_backend_req_fd(void **state)
{
	const struct vhu_rule *rule = req(VHU_REQ_SET_BACKEND_REQ_FD);

	(void)state;
	assert_int_equal(VHU_REQ_SET_SLAVE_REQ_FD, 21);
	assert_sizes(rule, 0, 0, 1, 1);
	assert_int_equal(rule->gate_protocol, VHU_BIT(5)); /* BACKEND_REQ */
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_BACKEND_REQ_FD, VHU_VERSION, 0, 0, -EBADMSG);
	expect(VHU_DIR_TO_BACKEND, VHU_REQ_SET_BACKEND_REQ_FD, VHU_VERSION, 0, 1, 0);
}

static void spec_protocol_features_gate(void **state)
{
	(void)state;
	/* gated by virtio bit 30, VHOST_USER_F_PROTOCOL_FEATURES, not by a protocol bit */
	assert_int_equal(req(VHU_REQ_GET_PROTOCOL_FEATURES)->gate_features, VHU_BIT(30));
	assert_int_equal(req(VHU_REQ_GET_PROTOCOL_FEATURES)->gate_protocol, 0);
	assert_int_equal(req(VHU_REQ_GET_PROTOCOL_FEATURES)->reply, VHU_REPLY_ALWAYS);
	assert_int_equal(req(VHU_REQ_GET_PROTOCOL_FEATURES)->reply_max_size, 8);
	assert_int_equal(req(VHU_REQ_SET_PROTOCOL_FEATURES)->gate_features, VHU_BIT(30));
	assert_sizes(req(VHU_REQ_SET_PROTOCOL_FEATURES), 8, 8, 0, 0);
	assert_int_equal(req(VHU_REQ_SET_VRING_ENABLE)->gate_features, VHU_BIT(30));
	/* NET_SET_MTU is gated by bit 4, NET_MTU */
	assert_int_equal(req(VHU_REQ_NET_SET_MTU)->gate_protocol, VHU_BIT(4));
}

static void spec_backend_rows(void **state)
{
	const struct vhu_rule *notifier = backend_req(VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG);
	const struct vhu_rule *change = backend_req(VHU_BACKEND_REQ_CONFIG_CHANGE_MSG);

	(void)state;
	/* u64 index/flags, size, offset; the fd is optional */
	assert_sizes(notifier, 24, 24, 0, 1);
	assert_int_equal(notifier->queue, VHU_QUEUE_IN_AREA);
	assert_int_equal(notifier->gate_protocol, VHU_BIT(11)); /* HOST_NOTIFIER */
	assert_sizes(change, 0, 0, 0, 0);
	assert_sizes(backend_req(VHU_BACKEND_REQ_IOTLB_MSG), 32, 32, 0, 0);
	assert_sizes(backend_req(VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP), 16, 16, 0, 0);
	expect(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG, VHU_VERSION, 24, 1, 0);
	expect(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG, VHU_VERSION, 16, 0,
	       -EMSGSIZE);
	expect(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_CONFIG_CHANGE_MSG, VHU_VERSION, 0, 0, 0);
	/* the same id means another request in the other direction */
	expect(VHU_DIR_TO_BACKEND, 3, VHU_VERSION, 24, 1, -EMSGSIZE); /* SET_OWNER */
}

static void spec_queue_rows(void **state)
{
	static const char prefix[] = "VHOST_USER_SET_VRING_";
	unsigned int n = 0;

	(void)state;
	for (uint32_t id = 0; id < vhu_rule_count(VHU_DIR_TO_BACKEND); id++) {
		const struct vhu_rule *rule = vhu_rule_find(VHU_DIR_TO_BACKEND, id);

		if (!rule)
			continue;
		if (strncmp(rule->name, prefix, strlen(prefix)) != 0 &&
		    strcmp(rule->name, "VHOST_USER_GET_VRING_BASE") != 0)
			continue;
		if (rule->queue == VHU_QUEUE_NONE)
			print_error("%s names no queue\n", rule->name);
		assert_int_not_equal(rule->queue, VHU_QUEUE_NONE);
		n++;
	}
	/* NUM ADDR BASE KICK CALL ERR ENABLE ENDIAN + GET_VRING_BASE */
	assert_int_equal(n, 9);
	assert_int_equal(req(VHU_REQ_SET_VRING_ADDR)->queue, VHU_QUEUE_IN_ADDR);
	assert_int_equal(req(VHU_REQ_VRING_KICK)->queue, VHU_QUEUE_IN_STATE);
	assert_int_equal(backend_req(VHU_BACKEND_REQ_VRING_CALL)->queue, VHU_QUEUE_IN_STATE);
	assert_int_equal(req(VHU_REQ_GET_FEATURES)->queue, VHU_QUEUE_NONE);
}

/* ---- names -------------------------------------------------------------- */

static void names(void **state)
{
	(void)state;
	assert_string_equal(vhu_request_name(12), "VHOST_USER_SET_VRING_KICK");
	assert_string_equal(vhu_request_name(21), "VHOST_USER_SET_BACKEND_REQ_FD");
	assert_string_equal(vhu_request_name(1), "VHOST_USER_GET_FEATURES");
	assert_string_equal(vhu_request_name(0), "VHOST_USER_UNKNOWN");
	assert_string_equal(vhu_request_name(VHU_REQ_MAX), "VHOST_USER_UNKNOWN");
	assert_string_equal(vhu_request_name(0xffffffffu), "VHOST_USER_UNKNOWN");
	assert_string_equal(vhu_backend_request_name(2), "VHOST_USER_BACKEND_CONFIG_CHANGE_MSG");
	assert_string_equal(vhu_backend_request_name(3),
			    "VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG");
	assert_string_equal(vhu_backend_request_name(0), "VHOST_USER_BACKEND_UNKNOWN");
	assert_string_equal(vhu_backend_request_name(VHU_BACKEND_REQ_MAX),
			    "VHOST_USER_BACKEND_UNKNOWN");

	assert_string_equal(vhu_protocol_feature_name(0), "VHOST_USER_PROTOCOL_F_MQ");
	assert_string_equal(vhu_protocol_feature_name(4), "VHOST_USER_PROTOCOL_F_NET_MTU");
	assert_string_equal(vhu_protocol_feature_name(5), "VHOST_USER_PROTOCOL_F_BACKEND_REQ");
	for (unsigned int bit = 0; bit <= 23; bit++)
		assert_non_null(vhu_protocol_feature_name(bit));
	assert_null(vhu_protocol_feature_name(24));
	assert_null(vhu_protocol_feature_name(63));
	assert_null(vhu_protocol_feature_name(64));
	assert_null(vhu_protocol_feature_name(~0u));

	assert_string_equal(vhu_feature_name(VIRTIO_ID_BLOCK, 32), "VIRTIO_F_VERSION_1");
	assert_string_equal(vhu_feature_name(VIRTIO_ID_NET, 15), "VIRTIO_NET_F_MRG_RXBUF");
	assert_string_equal(vhu_feature_name(VIRTIO_ID_BLOCK, 6), "VIRTIO_BLK_F_BLK_SIZE");
	assert_string_equal(vhu_feature_name(VIRTIO_ID_NET, 30), "VHOST_USER_F_PROTOCOL_FEATURES");
	assert_string_equal(vhu_feature_name(VIRTIO_ID_BLOCK, 26), "VHOST_F_LOG_ALL");
	assert_null(vhu_feature_name(VIRTIO_ID_BLOCK, 64));
	assert_null(vhu_feature_name(VIRTIO_ID_NET, ~0u));
	assert_null(vhu_feature_name(0xdead, 3)); /* unknown device, device bit */

	assert_int_equal(vhu_device_type_id("blk"), 2);
	assert_int_equal(vhu_device_type_id("block"), 2);
	assert_int_equal(vhu_device_type_id("net"), VIRTIO_ID_NET);
	assert_int_equal(vhu_device_type_id("nope"), -EINVAL);
	assert_int_equal(vhu_device_type_id(""), -EINVAL);
	assert_int_equal(vhu_device_type_id(NULL), -EINVAL);
	assert_string_equal(vhu_device_type_name(VIRTIO_ID_BLOCK), "blk");
	assert_null(vhu_device_type_name(0xdead));
}

/* ---- replies ------------------------------------------------------------ */

/* vhu_reply_check() on a reply with @nfds real fds, which it must not close. */
static int reply(enum vhu_dir dir, uint32_t request, bool need_reply, uint32_t reply_request,
		 uint32_t flags, uint32_t size, unsigned int nfds)
{
	struct vhu_msg msg;
	int ret;

	msg_setup(&msg, reply_request, flags, size);
	msg_add_fds(&msg, nfds);
	ret = vhu_reply_check(dir, request, need_reply, &msg);
	for (unsigned int i = 0; i < msg.nfds; i++)
		assert_true(fd_is_open(msg.fds[i]));
	vhu_msg_close_fds(&msg);
	return ret;
}

#define R (VHU_VERSION | VHU_FLAG_REPLY)
#define TB VHU_DIR_TO_BACKEND

static void reply_to_get_features(void **state)
{
	const uint32_t id = VHU_REQ_GET_FEATURES;

	(void)state;
	assert_int_equal(reply(TB, id, false, id, R, 8, 0), 0);
	assert_int_equal(reply(TB, id, true, id, R, 8, 0), 0);
	assert_int_equal(reply(TB, id, false, id, VHU_VERSION, 8, 0), -EPROTO); /* no REPLY */
	assert_int_equal(reply(TB, id, false, VHU_REQ_SET_FEATURES, R, 8, 0), -EPROTO);
	assert_int_equal(reply(TB, id, false, id, R, 0, 0), -EMSGSIZE);
	assert_int_equal(reply(TB, id, false, id, R, 16, 0), -EMSGSIZE);
	assert_int_equal(reply(TB, id, false, id, VHU_FLAG_REPLY, 8, 0), -EPROTO); /* version 0 */
	assert_int_equal(reply(TB, id, false, id, R | (1u << 4), 8, 0), -EPROTO);
	assert_int_equal(reply(TB, id, false, id, R | (1u << 31), 8, 0), -EPROTO);
	/* DPDK clears NEED_REPLY in its replies, libvhost-user keeps it: both are fine */
	assert_int_equal(reply(TB, id, true, id, R | VHU_FLAG_NEED_REPLY, 8, 0), 0);
	assert_int_equal(reply(TB, id, false, id, R | VHU_FLAG_NEED_REPLY, 8, 0), 0);
	/* the row allows no fds on this reply */
	assert_int_equal(reply(TB, id, false, id, R, 8, 1), -EBADMSG);
	/* a reply to something that does not exist */
	assert_int_equal(reply(TB, 0, false, 0, R, 8, 0), -EPROTO);
	assert_int_equal(reply(TB, VHU_REQ_MAX, false, VHU_REQ_MAX, R, 8, 0), -EPROTO);
}

/* The dirty log: SET_LOG_FD carries its eventfd; DPDK answers SET_LOG_BASE empty. */
static void spec_dirty_log(void **state)
{
	const uint32_t base = VHU_REQ_SET_LOG_BASE;

	(void)state;
	assert_sizes(vhu_rule_find(TB, VHU_REQ_SET_LOG_FD), 0, 8, 1, 1);
	assert_sizes(vhu_rule_find(TB, base), 8, 16, 0, 1);
	assert_int_equal(reply(TB, base, false, base, R, 0, 0), 0); /* DPDK */
	assert_int_equal(reply(TB, base, false, base, R, 8, 0), 0); /* libvhost-user */
	assert_int_equal(reply(TB, base, false, base, R, 16, 0), -EMSGSIZE);
}

static void reply_ack(void **state)
{
	const uint32_t id = VHU_REQ_SET_FEATURES;

	(void)state;
	/* a u64 ack exists only if the request asked for one */
	assert_int_equal(reply(TB, id, true, id, R, VHU_ACK_SIZE, 0), 0);
	assert_int_equal(reply(TB, id, false, id, R, VHU_ACK_SIZE, 0), -EMSGSIZE);
	assert_int_equal(reply(TB, id, true, id, R, 0, 0), -EMSGSIZE);
	assert_int_equal(reply(TB, id, true, id, R, 4, 0), -EMSGSIZE);
	assert_int_equal(reply(TB, id, true, id, R, VHU_ACK_SIZE, 1), -EBADMSG);
	assert_int_equal(reply(TB, id, true, id, R | VHU_FLAG_NEED_REPLY, VHU_ACK_SIZE, 0), 0);
	/* the back-end channel: CONFIG_CHANGE_MSG is acked the same way */
	assert_int_equal(reply(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_CONFIG_CHANGE_MSG, true,
			       VHU_BACKEND_REQ_CONFIG_CHANGE_MSG, R, VHU_ACK_SIZE, 0),
			 0);
	assert_int_equal(reply(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_CONFIG_CHANGE_MSG, false,
			       VHU_BACKEND_REQ_CONFIG_CHANGE_MSG, R, VHU_ACK_SIZE, 0),
			 -EMSGSIZE);
	/* a conditional row (SET_MEM_TABLE): an ack, or the postcopy body */
	assert_int_equal(reply(TB, VHU_REQ_SET_MEM_TABLE, true, VHU_REQ_SET_MEM_TABLE, R, 8, 0), 0);
	assert_int_equal(
		reply(TB, VHU_REQ_SET_MEM_TABLE, false, VHU_REQ_SET_MEM_TABLE, R, 8 + 2 * 32, 0),
		0);
}

static void reply_bodies_with_fds(void **state)
{
	(void)state;
	/* GET_INFLIGHT_FD: the inflight description and the shared memory fd */
	assert_int_equal(
		reply(TB, VHU_REQ_GET_INFLIGHT_FD, false, VHU_REQ_GET_INFLIGHT_FD, R, 24, 1), 0);
	assert_int_equal(
		reply(TB, VHU_REQ_GET_INFLIGHT_FD, false, VHU_REQ_GET_INFLIGHT_FD, R, 24, 2),
		-EBADMSG);
	assert_int_equal(
		reply(TB, VHU_REQ_GET_INFLIGHT_FD, false, VHU_REQ_GET_INFLIGHT_FD, R, 16, 1),
		-EMSGSIZE);
	/* GET_CONFIG: 12 bytes is a failure report, up to 12 + 256 a config */
	assert_int_equal(reply(TB, VHU_REQ_GET_CONFIG, false, VHU_REQ_GET_CONFIG, R, 12, 0), 0);
	assert_int_equal(reply(TB, VHU_REQ_GET_CONFIG, false, VHU_REQ_GET_CONFIG, R, 12 + 60, 0),
			 0);
	assert_int_equal(reply(TB, VHU_REQ_GET_CONFIG, false, VHU_REQ_GET_CONFIG, R, 268, 0), 0);
	assert_int_equal(reply(TB, VHU_REQ_GET_CONFIG, false, VHU_REQ_GET_CONFIG, R, 269, 0),
			 -EMSGSIZE);
	assert_int_equal(reply(TB, VHU_REQ_GET_CONFIG, false, VHU_REQ_GET_CONFIG, R, 11, 0),
			 -EMSGSIZE);
	/* GET_VRING_BASE: a vring state */
	assert_int_equal(reply(TB, VHU_REQ_GET_VRING_BASE, false, VHU_REQ_GET_VRING_BASE, R, 8, 0),
			 0);
	/* POSTCOPY_ADVISE: no payload, the userfaultfd */
	assert_int_equal(
		reply(TB, VHU_REQ_POSTCOPY_ADVISE, false, VHU_REQ_POSTCOPY_ADVISE, R, 0, 1), 0);
	/* SHARED_OBJECT_LOOKUP (back-end channel): u64 and an optional dma-buf fd */
	assert_int_equal(reply(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP, false,
			       VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP, R, 8, 1),
			 0);
	assert_int_equal(reply(VHU_DIR_TO_FRONTEND, VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP, false,
			       VHU_BACKEND_REQ_SHARED_OBJECT_LOOKUP, R, 8, 0),
			 0);
}

/* ---- decode ------------------------------------------------------------- */

/* Decode @len bytes of @buf with @nfds fresh fds; expect @want and, on error, closed fds. */
static void decode_expect(const void *buf, size_t len, unsigned int nfds, int want)
{
	struct vhu_msg msg;
	int fds[FD_POOL];
	int ret;

	memset(fds, 0xff, sizeof(fds)); /* -1 */
	make_fds(fds, nfds);
	ret = vhu_msg_decode(VHU_DIR_TO_BACKEND, buf, len, fds, nfds, &msg);
	assert_int_equal(ret, want);
	if (ret == 0)
		vhu_msg_close_fds(&msg);
	for (unsigned int i = 0; i < nfds; i++)
		assert_true(fd_is_closed(fds[i]));
}

static void decode_rejects_bad_lengths(void **state)
{
	uint8_t buf[HDR_SIZE + VHU_MAX_PAYLOAD + 8];
	struct vhu_msg_hdr hdr = { VHU_REQ_SET_FEATURES, VHU_VERSION, 8 };

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &hdr, sizeof(hdr));
	/* shorter than a header */
	decode_expect(buf, 0, 2, -EMSGSIZE);
	decode_expect(buf, HDR_SIZE - 1, 2, -EMSGSIZE);
	/* hdr.size says 8 */
	decode_expect(buf, HDR_SIZE, 1, -EMSGSIZE);
	decode_expect(buf, HDR_SIZE + 7, 1, -EMSGSIZE);
	decode_expect(buf, HDR_SIZE + 9, 1, -EMSGSIZE);
	decode_expect(buf, HDR_SIZE + 8, 0, 0);
	/* more than any payload */
	hdr.request = VHU_REQ_CREATE_CRYPTO_SESSION; /* its row goes up to VHU_MAX_PAYLOAD */
	hdr.size = VHU_MAX_PAYLOAD + 1;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, HDR_SIZE + VHU_MAX_PAYLOAD + 1, 3, -EMSGSIZE);
	hdr.size = VHU_MAX_PAYLOAD;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, HDR_SIZE + VHU_MAX_PAYLOAD, 0, 0);
	/* a size that would wrap a 32-bit "12 + size" */
	hdr.size = 0xfffffff4u;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, HDR_SIZE, 1, -EMSGSIZE);
	hdr.size = 0xffffffffu;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, sizeof(buf), 1, -EMSGSIZE);
}

static void decode_rejects_too_many_fds(void **state)
{
	struct vhu_msg_hdr hdr = { VHU_REQ_SET_MEM_TABLE, VHU_VERSION, 8 };
	uint8_t buf[HDR_SIZE + 8];

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, sizeof(buf), VHU_MAX_FDS, 0);
	decode_expect(buf, sizeof(buf), VHU_MAX_FDS + 1, -EBADMSG);
	decode_expect(buf, sizeof(buf), VHU_MAX_FDS + 2, -EBADMSG);
	/* and the check's own errors close them too */
	hdr.flags = VHU_VERSION | VHU_FLAG_REPLY;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, sizeof(buf), 3, -EPROTO);
	hdr.flags = VHU_VERSION;
	hdr.request = 0;
	memcpy(buf, &hdr, sizeof(hdr));
	decode_expect(buf, sizeof(buf), 3, -ENOTSUP);
}

static void decode_good_message_owns_fds(void **state)
{
	uint8_t buf[HDR_SIZE + 8 + 2 * 32];
	struct vhu_mem_table table = { .nregions = 2 };
	struct vhu_msg_hdr hdr = { VHU_REQ_SET_MEM_TABLE, VHU_VERSION | VHU_FLAG_NEED_REPLY,
				   8 + 2 * 32 };
	int before = leak_count_fds();
	struct vhu_msg msg;
	int fds[2];

	(void)state;
	table.regions[0] = (struct vhu_mem_region){ 0, 0x100000, 0x7f0000000000, 0 };
	table.regions[1] = (struct vhu_mem_region){ 0x100000, 0x200000, 0x7f1000000000, 4096 };
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + HDR_SIZE, &table, 8 + 2 * 32);
	make_fds(fds, 2);
	assert_int_equal(leak_count_fds(), before + 2);

	memset(&msg, 0xa5, sizeof(msg)); /* decode must not depend on a clean struct */
	assert_int_equal(vhu_msg_decode(VHU_DIR_TO_BACKEND, buf, sizeof(buf), fds, 2, &msg), 0);
	assert_int_equal(msg.hdr.request, VHU_REQ_SET_MEM_TABLE);
	assert_int_equal(msg.hdr.flags, VHU_VERSION | VHU_FLAG_NEED_REPLY);
	assert_int_equal(msg.hdr.size, 8 + 2 * 32);
	assert_int_equal(msg.payload.mem_table.nregions, 2);
	assert_memory_equal(&msg.payload.mem_table.regions[1], &table.regions[1], 32);
	/* the payload past hdr.size reads as zeros, not as stale bytes */
	for (size_t i = 8 + 2 * 32; i < 512; i++)
		assert_int_equal(msg.payload.raw[i], 0);
	assert_int_equal(msg.nfds, 2);
	assert_int_equal(msg.fds[0], fds[0]);
	assert_int_equal(msg.fds[1], fds[1]);
	assert_int_equal(leak_count_fds(), before + 2); /* owned, not closed, not dup'ed */

	vhu_msg_close_fds(&msg);
	assert_int_equal(msg.nfds, 0);
	assert_true(fd_is_closed(fds[0]));
	assert_true(fd_is_closed(fds[1]));
	assert_int_equal(leak_count_fds(), before);
	vhu_msg_close_fds(&msg); /* twice is harmless */
	assert_int_equal(leak_count_fds(), before);
}

/* ---- queue index, fd ownership, init ------------------------------------ */

static int64_t queue_of(enum vhu_dir dir, struct vhu_msg *msg)
{
	const struct vhu_rule *rule = NULL;

	assert_int_equal(vhu_msg_check(dir, msg, &rule), 0);
	return vhu_msg_queue_index(rule, msg);
}

static void queue_index_locations(void **state)
{
	struct vhu_msg msg;

	(void)state;
	vhu_msg_init(&msg, VHU_REQ_SET_VRING_NUM, 0, sizeof(struct vhost_vring_state));
	msg.payload.state = (struct vhost_vring_state){ .index = 7, .num = 256 };
	assert_int_equal(queue_of(TB, &msg), 7);
	msg.payload.state.index = 0xffffffffu; /* not truncated, not negative */
	assert_int_equal(queue_of(TB, &msg), 0xffffffffll);

	vhu_msg_init(&msg, VHU_REQ_SET_VRING_ADDR, 0, sizeof(struct vhost_vring_addr));
	msg.payload.addr.index = 3;
	msg.payload.addr.desc_user_addr = 0x1000;
	assert_int_equal(queue_of(TB, &msg), 3);

	vhu_msg_init(&msg, VHU_REQ_SET_VRING_KICK, 0, sizeof(uint64_t));
	msg.payload.u64 = 5 | VHU_VRING_NOFD_MASK;
	assert_int_equal(queue_of(TB, &msg), 5);
	msg.payload.u64 = 0xffffffffffffff42ull; /* only bits 0-7 */
	assert_int_equal(queue_of(TB, &msg), 0x42);

	vhu_msg_init(&msg, VHU_BACKEND_REQ_VRING_HOST_NOTIFIER_MSG, 0,
		     sizeof(struct vhu_vring_area));
	msg.payload.area.u64 = 9 | VHU_VRING_NOFD_MASK;
	msg.payload.area.size = 4096;
	assert_int_equal(queue_of(VHU_DIR_TO_FRONTEND, &msg), 9);

	vhu_msg_init(&msg, VHU_BACKEND_REQ_VRING_CALL, 0, sizeof(struct vhost_vring_state));
	msg.payload.state.index = 1;
	assert_int_equal(queue_of(VHU_DIR_TO_FRONTEND, &msg), 1);

	vhu_msg_init(&msg, VHU_REQ_GET_FEATURES, 0, 0);
	assert_int_equal(queue_of(TB, &msg), -ENOENT);
	vhu_msg_init(&msg, VHU_REQ_SET_MEM_TABLE, 0, 8);
	assert_int_equal(queue_of(TB, &msg), -ENOENT);
}

static void take_fd_survives_close_fds(void **state)
{
	struct vhu_msg msg;
	int fds[3], taken;

	(void)state;
	vhu_msg_init(&msg, VHU_REQ_SET_MEM_TABLE, 0, 8 + 3 * 32);
	make_fds(fds, 3);
	memcpy(msg.fds, fds, sizeof(fds));
	msg.nfds = 3;

	taken = vhu_msg_take_fd(&msg, 1);
	assert_int_equal(taken, fds[1]);
	assert_int_equal(msg.fds[1], -1);
	assert_int_equal(vhu_msg_take_fd(&msg, 1), -1); /* already taken */
	assert_int_equal(vhu_msg_take_fd(&msg, 3), -1); /* past nfds */
	assert_int_equal(vhu_msg_take_fd(&msg, 1000), -1);

	vhu_msg_close_fds(&msg);
	assert_true(fd_is_closed(fds[0]));
	assert_true(fd_is_closed(fds[2]));
	assert_true(fd_is_open(taken));
	assert_int_equal(vhu_msg_take_fd(&msg, 0), -1); /* nothing left */
	close_all(&taken, 1);
}

static void init_message(void **state)
{
	struct vhu_msg msg;

	(void)state;
	memset(&msg, 0xff, sizeof(msg));
	vhu_msg_init(&msg, VHU_REQ_SET_VRING_ADDR, VHU_FLAG_NEED_REPLY,
		     sizeof(struct vhost_vring_addr));
	assert_int_equal(msg.hdr.request, VHU_REQ_SET_VRING_ADDR);
	assert_int_equal(msg.hdr.flags, VHU_VERSION | VHU_FLAG_NEED_REPLY);
	assert_int_equal(msg.hdr.size, 40);
	assert_int_equal(msg.nfds, 0);
	for (size_t i = 0; i < 40; i++)
		assert_int_equal(msg.payload.raw[i], 0);
	/* and what it builds passes the check */
	msg.payload.addr.index = 0;
	assert_int_equal(check_msg(TB, msg.hdr.request, msg.hdr.flags, msg.hdr.size, 0), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, leak_setup, leak_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(every_row_in_both_directions),
		T(unknown_ids_are_not_supported),
		T(every_id_has_a_row),
		T(spec_get_features),
		T(spec_set_mem_table),
		T(spec_vring_kick_call_err),
		T(spec_get_vring_base),
		T(spec_config),
		T(spec_mem_slots),
		T(spec_inflight),
		T(spec_backend_req_fd),
		T(spec_protocol_features_gate),
		T(spec_backend_rows),
		T(spec_queue_rows),
		T(names),
		T(reply_to_get_features),
		T(spec_dirty_log),
		T(reply_ack),
		T(reply_bodies_with_fds),
		T(decode_rejects_bad_lengths),
		T(decode_rejects_too_many_fds),
		T(decode_good_message_owns_fds),
		T(queue_index_locations),
		T(take_fd_survives_close_fds),
		T(init_message),
	};

	return cmocka_run_group_tests_name("wire_rules", tests, NULL, NULL);
}
