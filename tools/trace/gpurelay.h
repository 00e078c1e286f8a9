/* SPDX-License-Identifier: MIT */
#ifndef VHU_TOOLS_TRACE_GPURELAY_H
#define VHU_TOOLS_TRACE_GPURELAY_H

/*
 * vhu-trace on the vhost-user-gpu socket: one direction of it. An UPDATE
 * carries up to 64 MiB of pixels, so a message is never held whole: the
 * header is read, then the payload is streamed through a fixed buffer with
 * non-blocking reads and writes, and only its first VHU_MAX_PAYLOAD bytes
 * are kept for the decode. The main socket is served between the chunks, so
 * a peer that waits on the main socket while the other streams pixels does
 * not stall the tracer. The fds of a message go out with its first bytes.
 */

#include <stdbool.h>
#include <stdint.h>

#include <vhu/wire.h>

#define GPU_RELAY_BUF (64u * 1024)

struct gpu_relay {
	int src, dst; /* not owned */
	bool in_msg;  /* the header is whole: relaying its payload */
	uint8_t hdr[sizeof(struct vhu_msg_hdr)];
	uint32_t hdr_got;
	uint64_t left;	/* payload bytes not yet read from src */
	uint64_t at_ns; /* when the header was whole */
	/* header, the payload's first bytes (hdr.size: the whole), nfds: the
	 * fds the message came with (the numbers are not kept: see fds) */
	struct vhu_msg m;
	uint32_t kept;	      /* payload bytes in m.payload */
	int fds[VHU_MAX_FDS]; /* received, not yet sent on */
	unsigned int nfds;
	bool fds_lost;		    /* more than VHU_MAX_FDS came: the rest were closed */
	uint8_t buf[GPU_RELAY_BUF]; /* read from src, not yet written to dst */
	uint32_t off, len;
};

/* A message has gone through whole: @r->m and @r->at_ns describe it. */
typedef void gpu_relay_done_fn(void *ctx, struct gpu_relay *r, uint64_t done_ns);

void gpu_relay_init(struct gpu_relay *r, int src, int dst);
/* Close the fds still waiting to be sent on (the sockets are the caller's). */
void gpu_relay_clear(struct gpu_relay *r);

/* The poll events this direction waits for on its src and its dst. */
short gpu_relay_src_events(const struct gpu_relay *r);
short gpu_relay_dst_events(const struct gpu_relay *r);

/*
 * Move what can move without blocking, at most a few buffers' worth, and
 * call @done for each message that went through whole. Return: > 0 when
 * something moved, 0 when nothing could, or a negative errno when this
 * direction is over (-ECONNRESET: src closed between messages or in one).
 */
int gpu_relay_step(struct gpu_relay *r, uint64_t (*now)(void), gpu_relay_done_fn *done, void *ctx);

#endif /* VHU_TOOLS_TRACE_GPURELAY_H */
