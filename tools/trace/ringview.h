/* SPDX-License-Identifier: MIT */
#ifndef VHU_TOOLS_TRACE_RINGVIEW_H
#define VHU_TOOLS_TRACE_RINGVIEW_H

/*
 * vhu-trace --ring-view: a live view of the rings of the conversation being
 * relayed. The memory fds that pass (SET_MEM_TABLE, ADD_MEM_REG) are mapped
 * read-only, the ring messages (SET_FEATURES, SET_VRING_NUM/ADDR/BASE/KICK,
 * GET_VRING_BASE, resets) say where each ring is, and a periodic line per
 * ring shows its state. Split: avail->idx, used->idx, the requests
 * outstanding (the difference) and used entries per second. Packed: the
 * descriptors whose flags say available and not used (every descriptor of
 * a chain counts, and with IN_ORDER the ones the device skipped count until
 * the driver reuses them: packed rings keep no index in memory). Nothing is written to the memory,
 * and the data plane still never passes through the tracer.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vhu/wire.h>

struct ringview;

/* Return: a view with no memory and no rings, or NULL (ENOMEM). */
struct ringview *ringview_new(void);
/* Unmap everything and free @rv (NULL: nothing). */
void ringview_free(struct ringview *rv);
/* A new conversation: forget the memory and the rings. */
void ringview_reset(struct ringview *rv);

/*
 * A front-end request that the back-end was sent, fds still open. Messages
 * that do not fit their row, or carry values out of range, change nothing.
 */
void ringview_observe(struct ringview *rv, const struct vhu_msg *m);

/* One line per known ring, at @t seconds (text, or JSON lines with @json). */
void ringview_print(struct ringview *rv, FILE *out, bool json, double t, uint64_t now_ns);

#endif /* VHU_TOOLS_TRACE_RINGVIEW_H */
