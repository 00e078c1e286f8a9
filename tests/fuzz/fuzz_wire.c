/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire: any bytes decode to a checked message or a clean error, never a
 * crash, and never a leaked or double-closed fd.
 *
 * Input: byte 0 picks the direction (bit 0) and how many fds the harness
 * creates for the message ((byte >> 1) % (VHU_MAX_FDS + 3), so also one and
 * two more than a message may carry); the rest is header + payload for
 * vhu_msg_decode(). A decoded message is then put through everything else
 * that reads a message: vhu_reply_check() with the REPLY flag set, the queue
 * index, the name functions, fd taking and vhu_msg_close_fds().
 *
 * Oracles (abort on violation): a decoded message fits its row; a reply that
 * passes answers the request it was checked against; a queue index is in
 * range; every fd the harness created is closed when the input is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/util.h"
#include "wire/wire.h"
#include <vhu/names.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FDS (VHU_MAX_FDS + 2)

/* Requests whose reply rows differ: ALWAYS, CONDITIONAL, ACK, replies with fds. */
static const uint32_t reply_probes[] = {
	VHU_REQ_GET_FEATURES,	     VHU_REQ_SET_FEATURES,    VHU_REQ_SET_MEM_TABLE,
	VHU_REQ_SET_LOG_BASE,	     VHU_REQ_GET_VRING_BASE,  VHU_REQ_GET_CONFIG,
	VHU_REQ_POSTCOPY_ADVISE,     VHU_REQ_GET_INFLIGHT_FD, VHU_REQ_ADD_MEM_REG,
	VHU_REQ_SET_DEVICE_STATE_FD,
};

static void check_fits_row(const struct vhu_rule *rule, const struct vhu_msg *msg)
{
	if (msg->hdr.size < rule->min_size || msg->hdr.size > rule->max_size)
		abort();
	if (msg->nfds < rule->min_fds || msg->nfds > rule->max_fds || msg->nfds > VHU_MAX_FDS)
		abort();
	if ((msg->hdr.flags & VHU_FLAG_VERSION_MASK) != VHU_VERSION ||
	    (msg->hdr.flags & (VHU_FLAG_REPLY | VHU_FLAG_RESERVED_MASK)))
		abort();
}

static void check_queue(const struct vhu_rule *rule, const struct vhu_msg *msg)
{
	int64_t q = vhu_msg_queue_index(rule, msg);

	if (rule->queue == VHU_QUEUE_NONE) {
		if (q != -ENOENT)
			abort();
		return;
	}
	if (q < 0 || q > (int64_t)UINT32_MAX)
		abort();
	if ((rule->queue == VHU_QUEUE_IN_U64 || rule->queue == VHU_QUEUE_IN_AREA) && q > 0xff)
		abort();
}

/* Read the message back as if it were a reply: flip REPLY on, check, restore. */
static void check_as_reply(enum vhu_dir dir, struct vhu_msg *msg)
{
	uint32_t flags = msg->hdr.flags;

	msg->hdr.flags |= VHU_FLAG_REPLY;
	for (unsigned int i = 0; i <= ARRAY_SIZE(reply_probes); i++) {
		uint32_t request =
			i < ARRAY_SIZE(reply_probes) ? reply_probes[i] : msg->hdr.request;

		for (int need_reply = 0; need_reply < 2; need_reply++) {
			int ret = vhu_reply_check(dir, request, need_reply, msg);

			if (ret == 0 && msg->hdr.request != request)
				abort();
			if (ret != 0 && ret != -EPROTO && ret != -EMSGSIZE && ret != -EBADMSG)
				abort();
		}
	}
	msg->hdr.flags = flags;
}

static void touch(const char *s)
{
	/* names are static strings: reading them must be safe */
	volatile size_t n = s ? strlen(s) : 0;

	(void)n;
}

static void exercise(enum vhu_dir dir, struct vhu_msg *msg, uint8_t ctl)
{
	const struct vhu_rule *rule = vhu_rule_find(dir, msg->hdr.request);
	uint64_t word = msg->hdr.size >= sizeof(uint64_t) ? msg->payload.u64 : 0;

	if (!rule)
		abort(); /* decode accepted an id without a row */
	check_fits_row(rule, msg);
	check_queue(rule, msg);
	check_as_reply(dir, msg);

	touch(vhu_rule_name(dir, msg->hdr.request));
	touch(vhu_request_name(msg->hdr.request));
	touch(vhu_backend_request_name(msg->hdr.request));
	touch(vhu_protocol_feature_name((unsigned int)(word & 0x7f)));
	touch(vhu_feature_name((uint32_t)(word >> 32), (unsigned int)(word & 0x7f)));
	touch(vhu_device_type_name((uint32_t)(word >> 32)));

	/* a handler keeps some fds: take one, then let close_fds free the rest */
	if (msg->nfds > 0 && (ctl & 0x80)) {
		unsigned int i = (unsigned int)(word % msg->nfds);
		int fd = vhu_msg_take_fd(msg, i);

		if (fd < 0 || vhu_msg_take_fd(msg, i) != -1)
			abort();
		close(fd);
	}
}

/*
 * vhu_msg_format() (vhu-trace) on the raw bytes, whatever they hold: any id,
 * flags, size (a payload shorter than hdr.size included) and fd count. It
 * must stay inside the message and the buffer, end the text with a NUL, and
 * report the length the whole text needs; JSON braces and quotes balance.
 */
static void check_format(enum vhu_dir dir, const uint8_t *data, size_t size, uint8_t ctl)
{
	static char big[65536], small[16];
	struct vhu_msg m = { .nfds = ctl % (VHU_MAX_FDS + 1) };
	size_t n, have = size > sizeof(m.hdr) ? size - sizeof(m.hdr) : 0;

	memcpy(&m.hdr, data, size < sizeof(m.hdr) ? size : sizeof(m.hdr));
	memcpy(&m.payload, data + sizeof(m.hdr) * (size >= sizeof(m.hdr)),
	       have < sizeof(m.payload) ? have : sizeof(m.payload));
	for (int json = 0; json < 2; json++) {
		int depth = 0;
		bool quoted = false;

		n = vhu_msg_format(dir, &m, json, big, sizeof(big));
		if (n >= sizeof(big) || strlen(big) != n)
			abort();
		if (vhu_msg_format(dir, &m, json, small, sizeof(small)) != n ||
		    strlen(small) != (n < sizeof(small) ? n : sizeof(small) - 1))
			abort();
		for (size_t i = 0; json && i < n; i++) {
			if (big[i] == '"')
				quoted = !quoted;
			else if (!quoted && (big[i] == '{' || big[i] == '['))
				depth++;
			else if (!quoted && (big[i] == '}' || big[i] == ']'))
				depth--;
			if (depth < 0)
				abort();
		}
		if (json && (depth != 0 || quoted))
			abort();
	}
}

static bool fd_is_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[FUZZ_MAX_FDS];
	struct vhu_msg msg;
	enum vhu_dir dir;
	unsigned int nfds;

	if (size < 1)
		return 0;
	memset(fds, 0xff, sizeof(fds)); /* -1 */
	dir = (data[0] & 1) ? VHU_DIR_TO_FRONTEND : VHU_DIR_TO_BACKEND;
	nfds = (unsigned int)(data[0] >> 1) % (FUZZ_MAX_FDS + 1);
	for (unsigned int i = 0; i < nfds; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0)
			abort();
	}

	if (vhu_msg_decode(dir, data + 1, size - 1, fds, nfds, &msg) == 0) {
		exercise(dir, &msg, data[0]);
		vhu_msg_close_fds(&msg);
		if (msg.nfds != 0)
			abort();
	}

	if (size > 1) {
		check_format(dir, data + 1, size - 1, data[0]);
		check_format(VHU_DIR_GPU, data + 1, size - 1, data[0]);
	}

	/* Nothing opened an fd since: each number must be free, not reused. */
	for (unsigned int i = 0; i < nfds; i++)
		if (!fd_is_closed(fds[i]))
			abort();
	return 0;
}
