/* SPDX-License-Identifier: MIT */
#ifndef VHU_CONFORM_H
#define VHU_CONFORM_H

/*
 * vhu-conform: a catalogue of checks, each tied to a rule of the spec
 * (QEMU docs/interop/vhost-user.rst), run against a back-end.
 *
 * Concepts:
 * - A check talks to the peer through its own connections (struct conn),
 *   built on the public wire API (vhu/wire.h): the raw messages a hostile
 *   front-end would send are sent as they are, not through a driver that
 *   would refuse them.
 * - Each check ends with a verdict: pass, fail, or n/a with the reason
 *   (a feature the peer does not offer, a device type we cannot drive).
 * - After every check the runner asks whether the peer still lives and
 *   answers a fresh GET_FEATURES: a check can pass only if it does.
 * - With --exec the peer is started afresh for each check and stopped with
 *   SIGTERM after it; its exit status counts too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <vhu/protocol.h>
#include <vhu/wire.h>

enum verdict { V_PASS, V_NA, V_FAIL };

struct result {
	enum verdict verdict;
	char detail[768];
};

struct options;

/* What the runner learnt of the peer, and the state of the current check. */
struct ctx {
	const struct options *opt;
	const char *path;	 /* the peer's socket path for this check */
	pid_t pid;		 /* the peer's process (0: unknown) */
	uint64_t features;	 /* virtio features offered */
	uint64_t pfeatures;	 /* protocol features offered (0 without bit 30) */
	unsigned int num_queues; /* GET_QUEUE_NUM, or 1 without MQ */
	const char *type; /* "blk", "net", "rng", "input", "gpu" or NULL: no data queue checks */
	unsigned int timeout_ms; /* per reply */
	struct result *res;
};

struct check {
	const char *id;
	const char *category;
	const char *section; /* the section of vhost-user.rst (or the CVE) */
	const char *rule;    /* what the spec says, briefly */
	void (*run)(struct ctx *cx);
	unsigned int flags;
};

#define CHECK_EXEC_ONLY 0x1u /* needs a command to start, not a socket */
#define CHECK_OWN_PEER 0x2u  /* starts and stops its own peer: no after-check */

extern const struct check conform_checks_proto[];
extern const struct check conform_checks_ring[];
extern const struct check conform_checks_bounds[];
extern const struct check conform_checks_prog[];
extern const struct check conform_checks_dev[];
extern const struct check conform_checks_packed[];

/* Verdicts: a failure sticks; a pass or n/a given after one is ignored. */
void pass(struct ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(struct ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void na(struct ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append "; text" to the detail without changing the verdict. */
void note(struct ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline bool offered_pf(const struct ctx *cx, unsigned int bit)
{
	return cx->pfeatures & VHU_BIT(bit);
}

/* ---- the options and the peer's process (main.c, exec.c) --------------- */

struct options {
	const char *socket_path; /* the peer listens here */
	const char *exec;	 /* or: a command with {socket}, started for each check */
	const char *type;	 /* device type (blk, net, rng); else asked from the program */
	const char *only;	 /* comma-separated ids or id prefixes to run */
	const char *name;	 /* the peer's name in the report */
	const char *peer_log;	 /* where the started peers' output goes */
	pid_t pid;		 /* with socket_path: the peer's process (0: unknown) */
	unsigned int timeout_s;
	long rss_limit_kib; /* resource-rss: the growth allowed */
	bool json, markdown;
};

/* A started peer: its process and the socket it listens on (or was given). */
struct spawn {
	pid_t pid;
	char sock[108];
};

/*
 * spawn_peer() - start the --exec command with {socket} replaced by @sock.
 * @args: appended to the command (NULL: none)
 * @fd:   >= 0: given to the child as fd 3, and "--socket-path={socket}"
 *        (or "--socket-path {socket}") in the command becomes "--fd=3";
 *        -ENOTSUP when the command has no such option
 * @out:  where the child's stdout goes (-1: the peer log)
 */
int spawn_peer(const struct options *opt, const char *sock, const char *args, int fd, int out,
	       struct spawn *sp);
/* Wait until the spawned peer accepts on its socket: 0, or -errno (it exited: -ECHILD). */
int spawn_wait_socket(struct spawn *sp, unsigned int ms);
/*
 * The same, keeping the connection that found it accepting in *@fd: the
 * check's first conn_open() takes it (conn_keep_ready), so a peer that
 * serves a single connection (QEMU 7.2's virtiofsd) is not used up by
 * the wait.
 */
int spawn_wait_socket_keep(struct spawn *sp, unsigned int ms, int *fd);
/* Wait up to @ms for it to exit: 1 and *@status (waitpid's), or 0. */
int spawn_wait_exit(struct spawn *sp, unsigned int ms, int *status);
/* SIGTERM, wait up to @ms, then SIGKILL: the waitpid status, or -1 if it was killed. */
int spawn_stop(struct spawn *sp, unsigned int ms);
const char *spawn_dir(void);
void spawn_log(const struct options *opt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --print-capabilities (check_prog.c): run it; parse its JSON */
int conform_capabilities(const struct options *opt, char *buf, size_t size, int *status);
int conform_parse_caps(const char *text, char *type, size_t size, char *why, size_t wsize);

/* ---- the report (report.c) ---------------------------------------------- */

struct run {
	const struct check *check;
	struct result res;
};

struct peer_info {
	const char *name;
	uint64_t features, pfeatures;
	unsigned int num_queues;
	const char *type;
};

void report_text(FILE *f, const struct peer_info *p, const struct run *runs, size_t n);
void report_json(FILE *f, const struct peer_info *p, const struct run *runs, size_t n);
void report_markdown(FILE *f, const struct peer_info *p, const struct run *runs, size_t n);

/* vhu-conform frontend ... (frontend.c) */
int conform_frontend_main(int argc, char **argv);

/* ---- one connection (peer.c) -------------------------------------------- */

struct conn {
	int fd;
	bool ack;	    /* REPLY_ACK negotiated on it */
	uint64_t features;  /* virtio features set */
	uint64_t pfeatures; /* protocol features set */
};

int conn_open(struct ctx *cx, struct conn *c);
/* The next conn_open() uses @fd (connected to the peer) instead of connecting (-1: none). */
void conn_keep_ready(int fd);
void conn_close(struct conn *c);
/* Send one message as given (flags include the version). */
int conn_send(struct conn *c, uint32_t req, uint32_t flags, const void *p, uint32_t size,
	      const int *fds, unsigned int nfds);
/* Write raw bytes (torn or lying messages). */
int conn_raw(struct conn *c, const void *buf, size_t len);
/* Receive one message (fds closed); -ECONNRESET when closed, -EAGAIN on timeout. */
int conn_recv(struct conn *c, struct vhu_msg *m);
/* Send @req and take its reply: it must be a reply to @req. */
int conn_call(struct conn *c, uint32_t req, const void *p, uint32_t size, struct vhu_msg *reply);
/* Send @req with NEED_REPLY and return its u64 ack in *@v. */
int conn_ack(struct conn *c, uint32_t req, const void *p, uint32_t size, const int *fds,
	     unsigned int nfds, uint64_t *v);
/* A setting: acked and checked when REPLY_ACK is on, else sent. -EIO: refused. */
int conn_set(struct conn *c, uint32_t req, const void *p, uint32_t size, const int *fds,
	     unsigned int nfds);
int conn_get_u64(struct conn *c, uint32_t req, uint64_t *v);
/* Wait up to @ms for the peer to close the connection: 1 closed, 0 not. */
int conn_wait_closed(struct conn *c, unsigned int ms);

/*
 * conn_negotiate() - GET_FEATURES, (GET_)SET_PROTOCOL_FEATURES with
 * @pfeatures & offered (only when bit 30 is offered and in @features),
 * SET_OWNER, SET_FEATURES with @features & offered, and a GET_FEATURES as
 * a barrier. Return: 0 or the failing step's error (the detail says which).
 */
int conn_negotiate(struct ctx *cx, struct conn *c, uint64_t features, uint64_t pfeatures);

/* The default: VERSION_1 and bit 30 if offered; MQ, REPLY_ACK, CONFIG. */
int conn_default(struct ctx *cx, struct conn *c);

/* The peer still lives and a fresh connection's GET_FEATURES is answered. */
bool peer_answers(struct ctx *cx, char *why, size_t size);
bool peer_alive(const struct ctx *cx);
/* open fds of the peer (-1: unknown) and its CPU time in clock ticks */
int peer_nfds(const struct ctx *cx);
long peer_cputicks(const struct ctx *cx);
/* -errno as text, naming a closed connection and a timeout plainly */
const char *err_text(int err);
void sleep_ms(unsigned int ms);

/* ---- a split ring in shared memory (rig.c) ------------------------------ */

#define RIG_MEM_SIZE (1u << 20)
#define RIG_QSIZE 16u
#define RIG_UVA 0x7f0000000000ull      /* the "front-end address" of the memory */
#define RIG_BUF_OFF 0x10000u	       /* request buffers: a 4 KiB slot per descriptor */
#define RIG_COMPANION_BUF_OFF 0x40000u /* the companion ring's buffers */

struct rig {
	struct conn c;
	int memfd, kick, call, err;
	int kick2; /* the kick of the other ring of a net queue pair */
	uint8_t *mem;
	unsigned int q; /* the data queue */
	uint16_t avail; /* driver's avail idx */
	unsigned int posted;
	uint32_t wlen[RIG_QSIZE]; /* bytes of the writable buffer in each slot (rig_written) */
	/* a packed ring (RIG_PACKED): the driver's next slot and wrap counter, the
	 * next used slot and its wrap counter, the descriptors of each buffer id */
	bool packed;
	uint16_t pk_next, pk_used;
	bool pk_wrap, pk_used_wrap;
	uint8_t pk_len[RIG_QSIZE];
	uint16_t pk_done; /* buffers the device has used */
};

enum rig_flags {
	RIG_ENABLE = 0x1,    /* SET_VRING_ENABLE 1 (when bit 30 was negotiated) */
	RIG_NO_PF = 0x2,     /* negotiate no protocol features, not even bit 30 */
	RIG_INDIRECT = 0x4,  /* also negotiate VIRTIO_RING_F_INDIRECT_DESC */
	RIG_NO_KICKFD = 0x8, /* stop before SET_VRING_KICK */
	RIG_PACKED = 0x10,   /* negotiate VIRTIO_F_RING_PACKED: the rings are packed */
};

/* One buffer of a packed chain: guest address, length, VRING_DESC_F_* flags. */
struct rig_seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags; /* VRING_DESC_F_WRITE, _INDIRECT; NEXT is set between segments */
};

/* The data queue of the device type (blk 0, rng 0, net 1 = TX), or -1. */
int rig_queue(const struct ctx *cx);
int rig_setup(struct ctx *cx, struct rig *r, unsigned int flags, uint16_t base);
/* rig_setup() on the data queue, or n/a (and -1) when the device type has none we drive. */
int rig_data(struct ctx *cx, struct rig *r, unsigned int flags, uint16_t base);
void rig_close(struct rig *r);
/* Post one well-formed request of the device type; return its head. */
int rig_post(struct rig *r, const char *type);
/*
 * Make a chain of @n buffers available at the packed ring's next slots, with
 * buffer id @id (its first flags written last). @next_on_last: NEXT on the
 * last one too (a chain that runs on into slots not made available).
 */
void rig_packed_chain(struct rig *r, const struct rig_seg *segs, unsigned int n, uint16_t id,
		      bool next_on_last);
/* Publish a raw chain head in the avail ring (hostile rings). */
void rig_publish(struct rig *r, uint16_t head);
void rig_desc(struct rig *r, unsigned int i, uint64_t gpa, uint32_t len, uint16_t flags,
	      uint16_t next);
void rig_kick(struct rig *r);
uint16_t rig_used_idx(struct rig *r);
/* The slot of data queue request buffer @i (request @head uses @head, @head + 1 ...). */
static inline uint8_t *rig_slot(struct rig *r, unsigned int i)
{
	return r->mem + RIG_BUF_OFF + (uint64_t)i * 0x1000u;
}
/* The companion ring (net RX, input's event queue): post @n writable buffers and kick. */
void rig_companion_post(struct rig *r, unsigned int n, uint32_t len);
/* Its used entry @n (0, 1, ...): the buffer and the length written, or NULL if not yet. */
const uint8_t *rig_companion_used(const struct rig *r, uint16_t n, uint32_t *len);
/* Wait until used idx reaches @want: 0, or -ETIMEDOUT. */
int rig_wait_used(struct rig *r, uint16_t want, unsigned int ms);
/* Did the device write any of the buffers of the requests posted so far? */
bool rig_written(const struct rig *r);
/* guest address of a rig offset */
static inline uint64_t rig_gpa(uint64_t off)
{
	return off;
}

#endif /* VHU_CONFORM_H */
