/* SPDX-License-Identifier: MIT */
#ifndef VHU_TESTS_INTEGRATION_RIG_H
#define VHU_TESTS_INTEGRATION_RIG_H

/*
 * Concepts
 *
 * A back-end (lib/backend) serving a small "echo" device on its own thread
 * (vhu_backend_run), and a test front-end on the calling thread: requests
 * through lib/frontend/requests.h, or raw messages for the hostile tests,
 * guest memory from memfds (the layout of tests/support/fake_guest.h, whose
 * driver-side rings are used as they are), and eventfds for kick, call and
 * err.
 *
 * The echo device: on every queue, each request's readable bytes are copied
 * into its writable bytes, and the request completes with the bytes written.
 * It can also have its workers watch an eventfd of the test's (queue_event).
 * Its ops count their calls (atomics: the test thread reads them while the
 * back-end's threads write them).
 *
 * The back-end listens on a socket in a fresh temporary directory
 * (RIG_LISTEN) or serves one end of a socketpair (RIG_SOCKETPAIR). All its
 * log lines are kept (rig_log_has) and printed when VHU_TEST_VERBOSE is set.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../support/fake_guest.h"
#include "frontend/requests.h"
#include "wire/wire.h"
#include <vhu/backend.h>

#define RIG_QUEUES 2u
#define RIG_MAX_QUEUE_SIZE 256u
#define RIG_TIMEOUT_MS 5000

/* What the echo device offers. */
#define F_VERSION_1 (1ull << 32)
#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_RING_PACKED (1ull << 34)
#define F_PROTOCOL (1ull << 30)
#define ECHO_FEATURES (F_VERSION_1 | F_INDIRECT | F_EVENT_IDX | F_RING_PACKED)
#define F_ACCESS_PLATFORM (1ull << 33)
/* What GET_FEATURES answers: the library adds bit 30 and ACCESS_PLATFORM. */
#define RIG_OFFERED (ECHO_FEATURES | F_PROTOCOL | F_ACCESS_PLATFORM)

#define PF(bit) VHU_BIT(VHU_PROTOCOL_F_##bit)
#define RIG_PROTOCOL                                                                       \
	(PF(MQ) | PF(REPLY_ACK) | PF(CONFIG) | PF(BACKEND_REQ) | PF(CONFIGURE_MEM_SLOTS) | \
	 PF(STATUS) | PF(RESET_DEVICE) | PF(INFLIGHT_SHMFD))

struct echo_dev {
	/* counters: atomics */
	unsigned int queue_starts, queue_stops, kicks, resets, completed, set_features_calls;
	uint64_t acked_features;
	int set_features_ret; /* what set_features returns (tests of refusal) */
	/* vhost-pci: set_features sends these bits (of those set) back; its result */
	uint64_t narrow_to;
	int narrow_ret;
	bool config_change_on_set; /* set_config calls vhu_backend_config_changed */
	int config_change_ret;	   /* what that call returned */
	pthread_mutex_t lock;	   /* config[] */
	uint8_t config[VHU_MAX_CONFIG_SIZE];
	struct vhu_backend *be;
	struct vhu_req *req[RIG_QUEUES];
	/* vhu_vq_watch_fd (atomics): queue_start watches watch_fd[i] (-1: none,
	 * the default); queue_event reads 8 bytes from it, counts its calls and
	 * the reads that got something, and with unwatch_on_event stops watching */
	int watch_fd[RIG_QUEUES];
	bool unwatch_on_event;
	unsigned int event_calls, events;
	/* device state: state_size > 0 saves that many pattern bytes; a load
	 * sets loaded_size (and loaded_completed for an "ECHO" state) */
	size_t state_size, loaded_size;
	unsigned int loaded_completed;
	/* queue_stop sleeps this long (a device finishing slow I/O); atomic */
	unsigned int stop_delay_ms;
	/* vhu_vq_run_again (atomics): queue_kick completes one request, turns
	 * kicks off and asks to run again while the ring has more (one_per_kick),
	 * or always (again_forever) */
	bool one_per_kick, again_forever;
	/* echo_io_ops: queue 0 holds each request io_delay_us as a disk would,
	 * its completion signalled by io_timer (a timerfd, the watched fd);
	 * io_pending_hits counts the completions queue_pending found (the
	 * worker was spinning), io_event_done those queue_event completed */
	int io_timer;
	uint32_t io_delay_us;
	bool io_held;
	uint64_t io_due_ns;
	unsigned int io_pending_hits, io_event_done;
};

/* The echo device's ops (echo.c); dev is a struct echo_dev. */
extern const struct vhu_device_ops echo_ops;
/* The same with completions that come later, through a watched fd (queue 0). */
extern const struct vhu_device_ops echo_io_ops;

enum rig_mode { RIG_LISTEN, RIG_SOCKETPAIR };

struct rig_queue {
	int kick, call, err; /* the front-end's ends: the eventfds it sent */
	struct drv_split split;
	struct drv_packed packed;
	bool is_packed;
};

struct rig {
	enum rig_mode mode;
	struct echo_dev dev;
	struct vhu_backend *be;
	pthread_t thread;
	bool thread_running;
	int run_ret;
	char dir[64], path[128]; /* RIG_LISTEN */
	int sock;		 /* the front-end's end */
	struct vhu_fe_chan ch;
	struct fake_guest fg;
	int memfd[FG_MAX_REGIONS];
	uint64_t data_gpa; /* 64 KiB for buffers */
	struct rig_queue q[RIG_QUEUES];
	uint64_t features;	   /* what rig_negotiate() set */
	uint32_t backend_flags;	   /* vhu_backend_config.flags; set before rig_start() */
	uint64_t backend_protocol; /* the back-end's protocol_features (0: RIG_PROTOCOL); ditto */
	/* vhu_backend_config.pool; set before rig_start(). NULL: a pool of
	 * $VHU_TEST_POOL threads if that is set (the rig's own), else none */
	struct vhu_pool *pool;
	bool own_pool;
	/* a vhu_loop that serves the back-end's messages instead of a thread
	 * of the rig's (vhu_backend_run); set before rig_start(). NULL: a loop
	 * of the rig's own if $VHU_TEST_LOOP is set, else the thread */
	struct vhu_loop *loop;
	bool own_loop, on_loop;
	uint32_t poll_window_us;	  /* vhu_backend_config.poll_window_us; ditto */
	uint32_t poll_inflight_us;	  /* vhu_backend_config.poll_inflight_us; ditto */
	const struct vhu_device_ops *ops; /* NULL: echo_ops; ditto */

	pthread_mutex_t log_lock;
	char log[64 * 1024];
	size_t log_len;
};

/* Create the device and back-end, start its thread, connect. Return: 0 or -errno. */
int rig_start(struct rig *r, enum rig_mode mode);
/* Close the front-end, stop and destroy the back-end, free the guest. */
void rig_stop(struct rig *r);
/* Stop serving the back-end's messages (its thread or loop), and start again. */
void rig_serve_stop(struct rig *r);
int rig_serve_start(struct rig *r);
/* Connect again (RIG_LISTEN) after closing the current socket. */
int rig_reconnect(struct rig *r);

/* true if a log line containing @text was written since the last rig_log_clear(). */
bool rig_log_has(struct rig *r, const char *text);
void rig_log_clear(struct rig *r);

/* Guest memory of @nregions memfd regions (fake_guest layout), rings allocated later. */
int rig_guest_init(struct rig *r, unsigned int nregions);
/* The region as SET_MEM_TABLE / ADD_MEM_REG describe it. */
void rig_region(unsigned int i, struct vhu_mem_region *out);

/* GET/SET_FEATURES and GET/SET_PROTOCOL_FEATURES. Return: 0 or an error. */
int rig_negotiate(struct rig *r, uint64_t features, uint64_t protocol);
/* SET_MEM_TABLE with regions [0, n). */
int rig_set_mem_table(struct rig *r, unsigned int n);
/* Set up ring @qi (num, base 0, addresses, kick/call/err eventfds, enable). */
int rig_setup_split(struct rig *r, unsigned int qi, uint16_t num);
int rig_setup_packed(struct rig *r, unsigned int qi, uint16_t num);
/* SET_VRING_ADDR again for ring @qi as set up, with @flags and log_guest_addr @log_gpa. */
int rig_ring_addr_log(struct rig *r, unsigned int qi, uint32_t flags, uint64_t log_gpa);
/* Everything above for queues [0, nq) with split rings of @num. */
int rig_bringup(struct rig *r, uint64_t features, unsigned int nq, uint16_t num);

/* A request with a vring state payload; acked when REPLY_ACK was negotiated. */
int rig_vring_state(struct rig *r, uint32_t request, uint32_t index, uint32_t num);
/* SET_VRING_KICK/CALL/ERR of @u64 with @fd (-1: none). Acked as above. */
int rig_vring_fd(struct rig *r, uint32_t request, uint64_t u64, int fd);
/* GET_VRING_BASE. Return: 0 with *base, or an error. */
int rig_get_vring_base(struct rig *r, uint32_t index, uint32_t *base);

/* Kick queue @qi (its kick eventfd). */
void rig_kick(struct rig *r, unsigned int qi);
/* Wait for @fd (call/err eventfd) to be signalled and drain it. Return: 1, or 0 on timeout. */
int rig_wait_fd(int fd, int timeout_ms);

/*
 * Echo round trip on a split/packed queue: @n bytes of pattern @seed out,
 * @n bytes back. Return: 0 when the completion came and the bytes match.
 */
int rig_echo(struct rig *r, unsigned int qi, uint32_t n, uint8_t seed);
/* The same with the buffers at @out and @in (gpa). */
int rig_echo_at(struct rig *r, unsigned int qi, uint64_t out, uint64_t in, uint32_t n,
		uint8_t seed);
/* After GET_VRING_BASE: SET_VRING_BASE @base and SET_VRING_KICK again. */
int rig_restart(struct rig *r, unsigned int qi, uint32_t base);

/*
 * Raw messages for hostile tests: @hdr as is, then @len payload bytes (which
 * need not be hdr->size), with up to 16 fds. Return: 0 or -errno.
 */
int rig_send_raw(int sock, const struct vhu_msg_hdr *hdr, const void *payload, size_t len,
		 const int *fds, unsigned int nfds);
/* Receive one reply (SO_RCVTIMEO bounds it). Return: 0 or the transport error. */
int rig_recv(struct rig *r, struct vhu_msg *reply);
/*
 * Send @msg raw with NEED_REPLY and read the u64 ack (REPLY_ACK must be
 * negotiated). Return: the ack value (0 success), or a negative error.
 */
int64_t rig_acked(struct rig *r, struct vhu_msg *msg);

/* Open fds and memfd mappings of this process, for leak checks. */
unsigned int rig_count_fds(void);
unsigned int rig_count_memfd_maps(void);

/* Threads of this process whose name starts with @prefix, and their CPU
 * time in clock ticks. */
unsigned int rig_threads_named(const char *prefix);
unsigned long long rig_cpu_ticks(const char *prefix);

/* A fresh eventfd (non-blocking, cloexec). */
int rig_eventfd(void);

/* Counters of the echo device. */
static inline unsigned int echo_count(const unsigned int *counter)
{
	return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

/* Wait until @counter reaches @value. Return: true if it did in time. */
bool echo_wait_count(const unsigned int *counter, unsigned int value, int timeout_ms);

#endif /* VHU_TESTS_INTEGRATION_RIG_H */
