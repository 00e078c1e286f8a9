/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user-gpu socket: its rows in lib/wire (ids, sizes, fds, reply
 * rules as vhost-user-gpu.rst gives them), sending and receiving through
 * lib/transport, and the display's handling of each message in
 * lib/frontend (gpu_display.c), hostile messages included.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "common/util.h"
#include "frontend/gpu.h"
#include "wire/wire.h"
#include <vhu/gpu.h>

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
	int now = leak_count_fds(), before = *baseline;

	free(baseline);
	if (now != before) {
		print_error("fd leak: %d open before the test, %d after\n", before, now);
		return -1;
	}
	return 0;
}

static int hdr_check(uint32_t request, uint32_t flags, uint32_t size, unsigned int nfds, bool reply)
{
	struct vhu_msg_hdr h = { .request = request, .flags = flags, .size = size };

	return vhu_gpu_hdr_check(&h, nfds, reply);
}

/* spec: "Message types": ids 1..12, their request and reply payloads */
static void rows_follow_the_spec(void **state)
{
	static const struct {
		uint32_t id;
		const char *name;
		uint32_t size, reply_size;
		uint8_t reply;
	} rows[] = {
		{ 1, "VHOST_USER_GPU_GET_PROTOCOL_FEATURES", 0, 8, VHU_REPLY_ALWAYS },
		{ 2, "VHOST_USER_GPU_SET_PROTOCOL_FEATURES", 8, 0, VHU_REPLY_ACK },
		{ 3, "VHOST_USER_GPU_GET_DISPLAY_INFO", 0, 408, VHU_REPLY_ALWAYS },
		{ 4, "VHOST_USER_GPU_CURSOR_POS", 12, 0, VHU_REPLY_ACK },
		{ 5, "VHOST_USER_GPU_CURSOR_POS_HIDE", 12, 0, VHU_REPLY_ACK },
		{ 6, "VHOST_USER_GPU_CURSOR_UPDATE", 16404, 0, VHU_REPLY_ACK },
		{ 7, "VHOST_USER_GPU_SCANOUT", 12, 0, VHU_REPLY_ACK },
		{ 8, "VHOST_USER_GPU_UPDATE", 20, 0, VHU_REPLY_ACK },
		{ 9, "VHOST_USER_GPU_DMABUF_SCANOUT", 40, 0, VHU_REPLY_ACK },
		{ 10, "VHOST_USER_GPU_DMABUF_UPDATE", 20, 0, VHU_REPLY_ALWAYS },
		{ 11, "VHOST_USER_GPU_GET_EDID", 4, 1056, VHU_REPLY_ALWAYS },
		{ 12, "VHOST_USER_GPU_DMABUF_SCANOUT2", 48, 0, VHU_REPLY_ACK },
	};

	(void)state;
	assert_int_equal(vhu_rule_count(VHU_DIR_GPU), 13);
	for (unsigned int i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct vhu_rule *r = vhu_rule_find(VHU_DIR_GPU, rows[i].id);

		assert_non_null(r);
		assert_string_equal(r->name, rows[i].name);
		assert_string_equal(vhu_gpu_request_name(rows[i].id), rows[i].name);
		assert_int_equal(r->min_size, rows[i].size);
		assert_int_equal(r->reply, rows[i].reply);
		if (rows[i].reply == VHU_REPLY_ALWAYS)
			assert_int_equal(r->reply_max_size, rows[i].reply_size);
		/* exactly its size (UPDATE: at least its header) */
		assert_int_equal(hdr_check(rows[i].id, 0, rows[i].size, 0, false), 0);
		if (rows[i].id != VHU_GPU_REQ_UPDATE)
			assert_int_equal(hdr_check(rows[i].id, 0, rows[i].size + 1, 0, false),
					 -EMSGSIZE);
		if (rows[i].size)
			assert_int_equal(hdr_check(rows[i].id, 0, rows[i].size - 1, 0, false),
					 -EMSGSIZE);
	}
	assert_int_equal(vhu_rule_find(VHU_DIR_GPU, VHU_GPU_REQ_GET_EDID)->gate_protocol,
			 VHU_BIT(VHU_GPU_PROTOCOL_F_EDID));
	assert_int_equal(vhu_rule_find(VHU_DIR_GPU, VHU_GPU_REQ_DMABUF_SCANOUT2)->gate_protocol,
			 VHU_BIT(VHU_GPU_PROTOCOL_F_DMABUF2));
	for (uint32_t id = 0; id < 20; id += (id == 0 ? 13 : 1)) {
		assert_null(vhu_rule_find(VHU_DIR_GPU, id));
		assert_int_equal(hdr_check(id, 0, 0, 0, false), -ENOTSUP);
	}
	assert_string_equal(vhu_gpu_request_name(99), "VHOST_USER_GPU_UNKNOWN");
}

static void sizes_fds_and_flags(void **state)
{
	(void)state;
	/* UPDATE: header plus up to VHU_GPU_MAX_UPDATE_PIXELS pixels */
	assert_int_equal(hdr_check(VHU_GPU_REQ_UPDATE, 0, (uint32_t)VHU_GPU_MAX_PAYLOAD, 0, false),
			 0);
	assert_int_equal(
		hdr_check(VHU_GPU_REQ_UPDATE, 0, (uint32_t)VHU_GPU_MAX_PAYLOAD + 1, 0, false),
		-EMSGSIZE);
	assert_int_equal(hdr_check(VHU_GPU_REQ_UPDATE, 0, 0xffffffffu, 0, false), -EMSGSIZE);
	/* the dmabuf fd is optional; one at most; nothing else carries one */
	assert_int_equal(hdr_check(VHU_GPU_REQ_DMABUF_SCANOUT, 0, 40, 1, false), 0);
	assert_int_equal(hdr_check(VHU_GPU_REQ_DMABUF_SCANOUT, 0, 40, 0, false), 0);
	assert_int_equal(hdr_check(VHU_GPU_REQ_DMABUF_SCANOUT, 0, 40, 2, false), -EBADMSG);
	assert_int_equal(hdr_check(VHU_GPU_REQ_SCANOUT, 0, 12, 1, false), -EBADMSG);
	/* a request's flags are not looked at (QEMU's UPDATE carries garbage) */
	assert_int_equal(hdr_check(VHU_GPU_REQ_UPDATE, 0xfe5eea, 20, 0, false), 0);
	/* a reply needs the REPLY bit and the row's reply size */
	assert_int_equal(
		hdr_check(VHU_GPU_REQ_GET_PROTOCOL_FEATURES, VHU_GPU_FLAG_REPLY, 8, 0, true), 0);
	assert_int_equal(hdr_check(VHU_GPU_REQ_GET_PROTOCOL_FEATURES, 0, 8, 0, true), -EPROTO);
	assert_int_equal(
		hdr_check(VHU_GPU_REQ_GET_PROTOCOL_FEATURES, VHU_GPU_FLAG_REPLY, 4, 0, true),
		-EMSGSIZE);
	assert_int_equal(hdr_check(VHU_GPU_REQ_DMABUF_UPDATE, VHU_GPU_FLAG_REPLY, 0, 0, true), 0);
	assert_int_equal(hdr_check(VHU_GPU_REQ_SCANOUT, VHU_GPU_FLAG_REPLY, 8, 0, true), -EMSGSIZE);
	/* vhu_gpu_msg_fits() tells by the flag */
	assert_int_equal(
		vhu_gpu_msg_fits(
			&(struct vhu_msg_hdr){ VHU_GPU_REQ_GET_EDID, VHU_GPU_FLAG_REPLY, 1056 }, 0),
		0);
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void send_and_receive(void **state)
{
	struct vhu_gpu_update u = { .scanout_id = 0, .width = 512, .height = 256 };
	size_t size = (size_t)u.width * u.height * 4;
	uint8_t *pixels = malloc(size);
	struct vhu_gpu_msg m;
	int sv[2], efd = eventfd(0, EFD_CLOEXEC);
	struct vhu_gpu_dmabuf_scanout ds = { .scanout_id = 1 };
	pid_t child;
	int status;

	(void)state;
	assert_non_null(pixels);
	for (size_t i = 0; i < size; i++)
		pixels[i] = (uint8_t)(i * 7);
	pair(sv);
	/* a dmabuf scanout: its fd comes along */
	assert_int_equal(vhu_gpu_msg_send(sv[0], VHU_GPU_REQ_DMABUF_SCANOUT, 0, &ds, sizeof(ds),
					  NULL, 0, efd),
			 0);
	assert_int_equal(vhu_gpu_msg_recv(sv[1], false, &m), 0);
	assert_int_equal(m.hdr.request, VHU_GPU_REQ_DMABUF_SCANOUT);
	assert_int_equal(m.hdr.size, sizeof(ds));
	assert_true(m.fd >= 0);
	vhu_gpu_msg_free(&m);
	assert_int_equal(m.fd, -1);
	child = fork();
	if (child == 0) {
		int ret = vhu_gpu_msg_send(sv[0], VHU_GPU_REQ_UPDATE, 0, &u, sizeof(u), pixels,
					   size, -1);

		free(pixels); /* under valgrind the child's exit is checked for leaks too */
		_exit(ret == 0 ? 0 : 1);
	}
	assert_true(child > 0);
	assert_int_equal(vhu_gpu_msg_recv(sv[1], false, &m), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(m.hdr.size, sizeof(u) + size);
	assert_memory_equal(m.payload + sizeof(u), pixels, size);
	vhu_gpu_msg_free(&m);
	/* too large to send */
	assert_int_equal(vhu_gpu_msg_send(sv[0], VHU_GPU_REQ_UPDATE, 0, &u, sizeof(u), pixels,
					  VHU_GPU_MAX_PAYLOAD, -1),
			 -EMSGSIZE);
	close(sv[0]);
	assert_int_equal(vhu_gpu_msg_recv(sv[1], false, &m), -ECONNRESET);
	close(sv[1]);
	close(efd);
	free(pixels);
}

static void recv_rejects_before_allocating(void **state)
{
	struct vhu_msg_hdr h = { .request = VHU_GPU_REQ_UPDATE, .size = 0xfffffff0u };
	struct vhu_gpu_msg m;
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vhu_gpu_msg_recv(sv[1], false, &m), -EMSGSIZE);
	assert_null(m.payload);
	h = (struct vhu_msg_hdr){ .request = 77, .size = 4 };
	assert_int_equal(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vhu_gpu_msg_recv(sv[1], false, &m), -ENOTSUP);
	/* a reply without its REPLY flag */
	h = (struct vhu_msg_hdr){ .request = VHU_GPU_REQ_GET_PROTOCOL_FEATURES, .size = 8 };
	assert_int_equal(write(sv[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vhu_gpu_msg_recv(sv[1], true, &m), -EPROTO);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the display (lib/frontend/gpu_display.c) --------------------------- */

struct disp {
	struct vhu_frontend_gpu g;
	int peer; /* the back-end's end */
};

static void disp_open(struct disp *d, uint64_t protocol)
{
	struct vhu_frontend_gpu_config cfg = { .num_scanouts = 2, .protocol_features = protocol };
	int sv[2];

	pair(sv);
	cfg.modes[0].width = 64;
	cfg.modes[0].height = 32;
	assert_int_equal(vhu_fe_gpu_init(&d->g, &cfg, NULL, sv[0]), 0);
	d->peer = sv[1];
}

static void disp_close(struct disp *d)
{
	close(d->g.sock);
	close(d->peer);
	vhu_fe_gpu_fini(&d->g);
}

/* Send a request from the back-end's side and let the display handle it. */
static int disp_send(struct disp *d, uint32_t request, const void *p, size_t size, const void *tail,
		     size_t tail_size)
{
	assert_int_equal(vhu_gpu_msg_send(d->peer, request, 0, p, size, tail, tail_size, -1), 0);
	return vhu_fe_gpu_serve_one(&d->g);
}

static void reply_of(struct disp *d, uint32_t request, void *out, size_t size)
{
	struct vhu_gpu_msg m;

	assert_int_equal(vhu_gpu_msg_recv(d->peer, true, &m), 0);
	assert_int_equal(m.hdr.request, request);
	assert_int_equal(m.hdr.size, size);
	if (size)
		memcpy(out, m.payload, size);
	vhu_gpu_msg_free(&m);
}

static void display_serves(void **state)
{
	struct disp d;
	uint64_t u64 = 0;
	struct virtio_gpu_resp_display_info info;
	struct virtio_gpu_resp_edid edid;
	struct vhu_gpu_edid_request er = { 0 };
	struct vhu_gpu_scanout s = { .scanout_id = 0, .width = 64, .height = 32 };
	struct vhu_gpu_update u = { .scanout_id = 0, .x = 4, .y = 2, .width = 2, .height = 2 };
	uint32_t px[4] = { 1, 2, 3, 4 };
	uint8_t sum = 0;

	(void)state;
	disp_open(&d, VHU_BIT(VHU_GPU_PROTOCOL_F_EDID));
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_GET_PROTOCOL_FEATURES, &u64, sizeof(u64));
	assert_int_equal(u64, VHU_BIT(VHU_GPU_PROTOCOL_F_EDID));
	/* EDID before SET_PROTOCOL_FEATURES chose it: an error response, still answered */
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_GET_EDID, &er, sizeof(er), NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_GET_EDID, &edid, sizeof(edid));
	assert_int_equal(edid.hdr.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* features that were not offered are refused */
	u64 = VHU_BIT(VHU_GPU_PROTOCOL_F_DMABUF2);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SET_PROTOCOL_FEATURES, &u64, 8, NULL, 0), 0);
	assert_int_equal(d.g.stats.errors, 2);
	u64 = VHU_BIT(VHU_GPU_PROTOCOL_F_EDID);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SET_PROTOCOL_FEATURES, &u64, 8, NULL, 0), 0);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_GET_EDID, &er, sizeof(er), NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_GET_EDID, &edid, sizeof(edid));
	assert_int_equal(edid.hdr.type, VIRTIO_GPU_RESP_OK_EDID);
	assert_int_equal(edid.size, 128);
	for (unsigned int i = 0; i < 128; i++)
		sum = (uint8_t)(sum + edid.edid[i]);
	assert_int_equal(sum, 0);
	assert_int_equal(edid.edid[56], 64); /* the preferred width's low byte */
	er.scanout_id = 2;
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_GET_EDID, &er, sizeof(er), NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_GET_EDID, &edid, sizeof(edid));
	assert_int_equal(edid.hdr.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_GET_DISPLAY_INFO, NULL, 0, NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_GET_DISPLAY_INFO, &info, sizeof(info));
	assert_int_equal(info.pmodes[0].r.width, 64);
	assert_int_equal(info.pmodes[1].r.width, 1024); /* the default mode */
	assert_int_equal(info.pmodes[2].enabled, 0);
	/* a scanout, an update drawn where it says */
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SCANOUT, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_UPDATE, &u, sizeof(u), px, sizeof(px)), 0);
	assert_int_equal(d.g.scanout[0].fb[2 * 64 + 4], 1);
	assert_int_equal(d.g.scanout[0].fb[3 * 64 + 5], 4);
	assert_int_equal(d.g.stats.errors, 3);
	assert_int_equal(d.g.stats.updates, 1);
	disp_close(&d);
}

static void display_refuses(void **state)
{
	struct disp d;
	struct vhu_gpu_scanout s = { .scanout_id = 0, .width = 64, .height = 32 };
	struct vhu_gpu_update u = { .scanout_id = 0, .x = 63, .y = 0, .width = 2, .height = 1 };
	struct vhu_gpu_cursor_pos pos = { .scanout_id = 5 };
	struct vhu_gpu_dmabuf_scanout ds = { 0 };
	uint32_t px[4] = { 0 };
	uint64_t errors = 0;

	(void)state;
	disp_open(&d, 0);
	/* an update before any scanout */
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_UPDATE, &u, sizeof(u), px, 8), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SCANOUT, &s, sizeof(s), NULL, 0), 0);
	/* outside the scanout, x + width past its edge */
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_UPDATE, &u, sizeof(u), px, 8), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	/* x + width wrapping */
	u.x = 0xffffffffu;
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_UPDATE, &u, sizeof(u), px, 8), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	/* pixel bytes that do not match the rectangle */
	u.x = 0;
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_UPDATE, &u, sizeof(u), px, 12), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	/* a scanout too large, or on a scanout that does not exist */
	s.width = 16385;
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SCANOUT, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	s = (struct vhu_gpu_scanout){ .scanout_id = 2, .width = 8, .height = 8 };
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_SCANOUT, &s, sizeof(s), NULL, 0), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_CURSOR_POS, &pos, sizeof(pos), NULL, 0), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	/* dmabufs: refused; DMABUF_UPDATE still answered, or the back-end would wait */
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_DMABUF_SCANOUT, &ds, sizeof(ds), NULL, 0), 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	assert_int_equal(disp_send(&d, VHU_GPU_REQ_DMABUF_UPDATE, &u, sizeof(u), NULL, 0), 0);
	reply_of(&d, VHU_GPU_REQ_DMABUF_UPDATE, NULL, 0);
	assert_int_equal(d.g.stats.errors, ++errors);
	/* a message that fits no row ends the socket */
	assert_int_equal(disp_send(&d, 42, NULL, 0, NULL, 0), -ENOTSUP);
	assert_int_equal(d.g.stats.messages, errors + 1);
	disp_close(&d);
}

/* vhu_msg_format(VHU_DIR_GPU) (vhu-trace): fields named, a 64 MiB UPDATE
 * decoded from its first bytes, replies by their body */
static void format_decodes(void **state)
{
	struct vhu_gpu_update u = {
		.scanout_id = 1, .x = 2, .y = 3, .width = 4096, .height = 4096
	};
	struct vhu_msg m = { .hdr = { .request = VHU_GPU_REQ_UPDATE,
				      .size = (uint32_t)VHU_GPU_MAX_PAYLOAD } };
	struct virtio_gpu_resp_display_info info = { .hdr.type = VIRTIO_GPU_RESP_OK_DISPLAY_INFO };
	char text[2048];

	(void)state;
	memcpy(m.payload.raw, &u, sizeof(u));
	vhu_msg_format(VHU_DIR_GPU, &m, false, text, sizeof(text));
	assert_string_equal(text, "VHOST_USER_GPU_UPDATE size=67108884 fds=0 fields={ scanout_id=1 "
				  "x=2 y=3 width=4096 height=4096 pixel_bytes=67108864 "
				  "pixels_fit=true }");
	m.hdr.size -= 4; /* a pixel short */
	vhu_msg_format(VHU_DIR_GPU, &m, true, text, sizeof(text));
	assert_non_null(strstr(text, "\"pixels_fit\": false"));
	assert_non_null(strstr(text, "\"fits\": true"));
	/* past the row: said so, and still decoded */
	m.hdr.size = (uint32_t)VHU_GPU_MAX_PAYLOAD + 4;
	vhu_msg_format(VHU_DIR_GPU, &m, false, text, sizeof(text));
	assert_non_null(strstr(text, "[does not fit its row: payload size]"));
	/* a reply: the display's scanouts, only the enabled ones */
	info.pmodes[1] = (struct virtio_gpu_display_one){ .r = { 0, 0, 640, 480 }, .enabled = 1 };
	m.hdr = (struct vhu_msg_hdr){ .request = VHU_GPU_REQ_GET_DISPLAY_INFO,
				      .flags = VHU_GPU_FLAG_REPLY,
				      .size = sizeof(info) };
	memcpy(m.payload.raw, &info, sizeof(info));
	vhu_msg_format(VHU_DIR_GPU, &m, false, text, sizeof(text));
	assert_string_equal(text, "VHOST_USER_GPU_GET_DISPLAY_INFO reply size=408 fds=0 fields={ "
				  "type=4353 scanouts=[{ scanout_id=1 x=0 y=0 width=640 "
				  "height=480 flags=0x0 }] }");
	/* QEMU's UPDATE with uninitialised flags: still a request (id 8 has no reply) */
	m.hdr = (struct vhu_msg_hdr){ .request = VHU_GPU_REQ_UPDATE,
				      .flags = 0x8f8f8f8f,
				      .size = sizeof(u) + 4 };
	memcpy(m.payload.raw, &u, sizeof(u));
	u.width = u.height = 1;
	memcpy(m.payload.raw, &u, sizeof(u));
	vhu_msg_format(VHU_DIR_GPU, &m, true, text, sizeof(text));
	assert_non_null(strstr(text, "\"reply\": false, \"need_reply\": false"));
	assert_non_null(strstr(text, "\"fits\": true"));
	assert_non_null(strstr(text, "\"pixels_fit\": true"));
	/* a reply of 8 bytes is a body here, never an ack */
	m.hdr = (struct vhu_msg_hdr){ .request = VHU_GPU_REQ_GET_PROTOCOL_FEATURES,
				      .flags = VHU_GPU_FLAG_REPLY,
				      .size = 8 };
	m.payload.u64 = 3;
	vhu_msg_format(VHU_DIR_GPU, &m, false, text, sizeof(text));
	assert_string_equal(text, "VHOST_USER_GPU_GET_PROTOCOL_FEATURES reply size=8 fds=0 "
				  "fields={ features=0x3 }");
	/* an unknown id: its bytes */
	m.hdr = (struct vhu_msg_hdr){ .request = 77, .size = 2 };
	vhu_msg_format(VHU_DIR_GPU, &m, false, text, sizeof(text));
	assert_string_equal(text, "VHOST_USER_GPU_UNKNOWN size=2 fds=0 [does not fit its row: "
				  "unknown request] fields={ payload=0300 }");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, leak_setup, leak_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(rows_follow_the_spec), T(sizes_fds_and_flags),
		T(send_and_receive),	 T(recv_rejects_before_allocating),
		T(display_serves),	 T(display_refuses),
		T(format_decodes),
	};

	return cmocka_run_group_tests_name("gpu_wire", tests, NULL, NULL);
}
