/* SPDX-License-Identifier: MIT */
#ifndef VHU_BACKEND_BACKEND_H
#define VHU_BACKEND_BACKEND_H

/*
 * Concepts
 *
 * The device side of the protocol (include/vhu/backend.h is the contract).
 * A back-end serves one connection at a time; everything a connection
 * negotiated (features, memory, rings, the back-end channel) is forgotten
 * when it ends, and the next connection on the same listening socket starts
 * from scratch.
 *
 * Dispatch (dispatch.c): each received message is checked against its wire
 * row (vhu_msg_check), then its gate (virtio bit offered / protocol bit
 * negotiated), then its queue index; the queues the row says it pauses are
 * paused, the handler runs, they are resumed, the message's fds are closed,
 * and the reply rule of the row is applied. Handlers (negotiate.c, mem.c,
 * vring.c, config.c, channel.c) only make semantic checks.
 *
 * Queue states (spec: "Ring states"), per queue:
 *   kick_set - the ring is "started" in the spec's sense: SET_VRING_KICK came
 *              and no GET_VRING_BASE since;
 *   enabled  - SET_VRING_ENABLE 1 (always true without
 *              VHOST_USER_F_PROTOCOL_FEATURES negotiated);
 *   running  - what the device sees: vhu_vq_start() done, ops->queue_start
 *              returned 0, and a worker thread exists. A queue runs iff it
 *              is started, enabled and has a size and addresses
 *              (vhu_be_queue_update() keeps this true). A started but
 *              disabled ring is left alone: not processing it has no side
 *              effects, which is what the spec asks of that state.
 *
 * Threads (worker.c, pool.c): the control thread owns struct vhu_backend
 * and every queue that is not running. A running queue's vq belongs to the
 * worker thread that serves it (its own, or one of a pool's, which serves
 * the queues of many back-ends), except while the queue is paused: pause
 * returns only once that thread has parked the queue (it runs none of its
 * ops and reads none of its ring until resumed), and the control thread
 * then may change the vq until it resumes it. Pauses nest (a counter per
 * queue). Stopping a queue detaches it from its thread (and joins an own
 * thread), so a stopped queue has no other thread at all. The device's
 * watched fd (worker.watch_fd) follows the same rule without a lock: it is
 * written by the control thread only while the queue is not attached
 * (queue_start, queue_stop: attach and detach order those writes) and
 * otherwise only by the serving thread, inside the queue's ops.
 *
 * fds: a message's fds belong to it until a handler takes one; dispatch
 * closes the rest on every path. A queue owns its kick/call/err fds (vq),
 * the back-end owns its sockets, the stop eventfd and the channel socket.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "memory/iotlb.h"
#include "memory/memtable.h"
#include "virtq/virtq.h"
#include "wire/wire.h"
#include <vhu/backend.h>
#include <vhu/log.h>

/* Most queues a device may have: kick/call/err name a queue in 8 bits. */
#define VHU_BACKEND_MAX_QUEUES 256u

/* How long a queue waits for the UPDATE that answers its IOTLB miss. */
#define VHU_BACKEND_IOTLB_TIMEOUT_MS 5000u

/* How long the back-end channel waits for an ack (and for a send to go out). */
#define VHU_BACKEND_CHAN_TIMEOUT_MS 5000u

/* The protocol features the library implements (GET_PROTOCOL_FEATURES offers
 * the intersection with the device's config, CONFIG only with ops->get_config). */
#define VHU_BACKEND_PROTOCOL_FEATURES                                                       \
	(VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_REPLY_ACK) |                   \
	 VHU_BIT(VHU_PROTOCOL_F_CONFIG) | VHU_BIT(VHU_PROTOCOL_F_BACKEND_REQ) |             \
	 VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | VHU_BIT(VHU_PROTOCOL_F_STATUS) |     \
	 VHU_BIT(VHU_PROTOCOL_F_RESET_DEVICE) | VHU_BIT(VHU_PROTOCOL_F_RARP) |              \
	 VHU_BIT(VHU_PROTOCOL_F_NET_MTU) | VHU_BIT(VHU_PROTOCOL_F_INFLIGHT_SHMFD) |         \
	 VHU_BIT(VHU_PROTOCOL_F_LOG_SHMFD) | VHU_BIT(VHU_PROTOCOL_F_DEVICE_STATE) |         \
	 VHU_BIT(VHU_PROTOCOL_F_PAGEFAULT) | VHU_BIT(VHU_PROTOCOL_F_INBAND_NOTIFICATIONS) | \
	 VHU_BIT(VHU_PROTOCOL_F_HOST_NOTIFIER) | VHU_BIT(VHU_PROTOCOL_F_BACKEND_SEND_FD) |  \
	 VHU_BIT(VHU_PROTOCOL_F_SHARED_OBJECT) | VHU_BIT(VHU_PROTOCOL_F_SHMEM))

/* The largest device state a LOAD accepts (state.c). */
#define VHU_STATE_MAX_BYTES (16u << 20)

/* ---- clang -Wthread-safety annotations (DPDK's __rte_* style) ----------- */

#if defined(__clang__)
#define VHU_TSA(x) __attribute__((x))
#else
#define VHU_TSA(x)
#endif
#define VHU_CAPABILITY(name) VHU_TSA(capability(name))
#define VHU_REQUIRES(lock) VHU_TSA(requires_capability(lock))
#define VHU_ACQUIRE(lock) VHU_TSA(acquire_capability(lock))
#define VHU_RELEASE(lock) VHU_TSA(release_capability(lock))
#define VHU_EXCLUDES(lock) VHU_TSA(locks_excluded(lock))
#define VHU_NO_TSA VHU_TSA(no_thread_safety_analysis)

/* A mutex the analysis knows about. */
struct VHU_CAPABILITY("mutex") vhu_lock {
	pthread_mutex_t m;
};

void vhu_lock_acquire(struct vhu_lock *l) VHU_ACQUIRE(*l);
void vhu_lock_release(struct vhu_lock *l) VHU_RELEASE(*l);

/* ---- workers (worker.c, pool.c) ----------------------------------------- */

struct vhu_queue;
struct vhu_wthread;

/* What an epoll event of a worker thread names: a queue's kick or watched fd. */
struct vhu_worker_ep {
	struct vhu_queue *q;
	bool kick; /* else the watched fd */
};

struct vhu_worker {
	/* control thread only */
	bool alive;		  /* attached to a worker thread (detached on stop) */
	unsigned int pause_count; /* nesting of vhu_be_queue_pause() */
	struct vhu_wthread *wt;	  /* the thread that serves the queue while alive */
	/* the device's fd (vhu_vq_watch_fd), -1: none; not owned. Written by
	 * the control thread while the queue is not alive, else by its worker
	 * thread only (inside the queue's ops) */
	int watch_fd;
	bool watch_changed; /* the worker thread registers watch_fd anew */

	struct vhu_lock lock;
	pthread_cond_t cond;
	/* under lock */
	bool pause_req; /* the control thread wants the queue parked */
	bool exit;	/* the queue leaves its worker thread */
	bool parked;	/* its thread runs none of its ops until pause_req clears */
	bool detached;	/* its thread has let it go (after exit) */

	/* vhu_vq_share(): other threads use the vq under user_lock, and so does
	 * the worker. Set in queue_start (no thread yet), cleared after stop. */
	bool shared;
	/*
	 * vhu_vq_lock(). Held by the control thread from the first pause to the
	 * last resume (taken after the queue parked, so a worker inside an op
	 * is never waited for while it is held), by the worker of a shared
	 * queue around its ops, and by device threads around their use. A plain
	 * mutex: its holds span functions, which the analysis cannot follow.
	 */
	pthread_mutex_t user_lock;

	/* the worker thread's own, while the queue is attached to it */
	struct vhu_queue *next;	  /* the thread's incoming list (its lock) */
	unsigned int due;	  /* ops the next round runs (DUE_*) */
	bool again;		  /* vhu_vq_run_again() in the op that runs */
	bool held;		  /* parked, as the thread last saw it */
	bool spinning;		  /* in this round's poll window */
	bool kick_bad, watch_bad; /* an fd reported an error: not watched until a pause */
	int reg_kick, reg_watch;  /* fds in the thread's epoll set, -1: none */
	struct vhu_worker_ep ep_kick, ep_watch;
	uint64_t tlb_since, tlb_iova; /* an IOTLB miss waited on since, at */
	uint64_t tlb_wake;	      /* when to fetch again (0: not waiting) */
};

/* ---- queues ------------------------------------------------------------- */

struct vhu_queue {
	struct vhu_vq vq;
	struct vhu_backend *be;
	bool kick_set; /* spec "started": SET_VRING_KICK, no GET_VRING_BASE since */
	bool enabled;  /* SET_VRING_ENABLE */
	bool running;  /* vq started, ops->queue_start done, worker alive */
	bool log_flag; /* SET_VRING_ADDR's VHOST_VRING_F_LOG (log.c) */
	/* SET_VRING_CALL / _ERR came with NOFD under INBAND_NOTIFICATIONS: the
	 * front-end wants BACKEND_VRING_CALL / _ERR (never for a ring that
	 * merely has no fd yet: QEMU sets the call fd after the kick fd) */
	bool inband_call, inband_err;
	struct vhu_worker worker;
	/* the host notifier (notifier.c): the worker's while the queue is
	 * attached (want set before), the control thread's while it is
	 * stopped; page is read by vhu_backend_queue_kicks() (relaxed), and
	 * kicks_* are relaxed counters */
	struct {
		int fd;		/* the doorbell page's memfd, -1: none */
		uint16_t *page; /* our mapping, while the front-end acked it */
		bool want;	/* the ring started: its worker sends a page */
		bool refused;	/* the front-end refused one: not again this connection */
		uint64_t kicks_eventfd, kicks_doorbell;
	} hn;
};

/* ---- device state transfer (state.c) ------------------------------------ */

struct vhu_be_state {
	bool active;	   /* SET_DEVICE_STATE_FD succeeded, no CHECK yet */
	bool load;	   /* LOAD (else SAVE) */
	bool thread_alive; /* the transfer thread exists (joined by CHECK or a clear) */
	pthread_t thread;
	int fd;	       /* the pipe end the front-end sent; the thread closes it */
	int cancel_fd; /* eventfd: ends the thread early */
	void *buf;     /* SAVE: the device's state; LOAD: what was read */
	size_t len;    /* SAVE: bytes to write; LOAD: bytes read (when done) */
	size_t done;   /* bytes moved so far */
	int result;    /* the thread's: 0 or -errno */
};

/* ---- the back-end ------------------------------------------------------- */

/* The last SET_MEM_TABLE that was applied, to recognise it when it comes again. */
struct vhu_be_table_id {
	bool valid; /* false after ADD/REM_MEM_REG or a clear */
	uint32_t nregions;
	struct vhu_mem_region regions[VHU_MEM_TABLE_MAX_REGIONS];
	uint64_t file[VHU_MEM_TABLE_MAX_REGIONS][2]; /* st_dev, st_ino of each fd */
};

struct vhu_backend {
	struct vhu_backend_config config; /* .name points at name[] */
	char name[96];
	struct vhu_log log;

	int listen_fd; /* -1: none */
	int conn_fd;   /* -1: not connected */
	int stop_fd;   /* eventfd: vhu_backend_stop() wakes vhu_backend_run() */
	bool stop;     /* atomic: set by vhu_backend_stop() */

	/* on a vhu_loop (loop.c): the loop's lock guards busy and removing */
	struct {
		struct vhu_loop *loop; /* NULL: not on one */
		vhu_loop_end_fn end;
		void *opaque;
		int epfd;      /* watches fd; in the loop's epoll set (oneshot) */
		int fd;	       /* vhu_backend_fd() when last looked; -1: none */
		bool busy;     /* a loop thread handles a message of this back-end */
		bool removing; /* vhu_loop_remove() runs: not armed again */
	} lp;

	/* client mode (vhu_backend_connect(), client.c); control thread */
	char *client_path;   /* NULL: not in client mode */
	int retry_fd;	     /* timerfd: the next connect attempt is due */
	uint32_t backoff_ms; /* the last delay; 0: the next is the shortest */
	uint64_t attempts;   /* failed attempts in a row */
	bool served;	     /* this connection carried a message */

	/* negotiated on this connection (control thread) */
	uint64_t features;	    /* SET_FEATURES, as sent (bit 30 included) */
	uint64_t protocol_features; /* SET_PROTOCOL_FEATURES */
	uint8_t status;		    /* SET_STATUS */
	bool owner;		    /* SET_OWNER */
	bool config_change_pending; /* vhu_backend_config_changed() during dispatch */
	char why[160];		    /* why the current request failed (vhu_be_fail) */
	/* the ring the current request names, checked by the dispatcher (its one
	 * decode, vhu_msg_view); NULL when the request names none */
	struct vhu_queue *msg_queue;

	/* the back-end channel (SET_BACKEND_REQ_FD); any thread, under chan_lock */
	struct vhu_lock chan_lock;
	int chan_fd;
	bool chan_reply_ack;	     /* REPLY_ACK negotiated: wait for acks */
	bool chan_config;	     /* CONFIG negotiated: CONFIG_CHANGE_MSG allowed */
	unsigned int chan_acks_owed; /* host notifier acks a worker stopped waiting for */
	uint64_t chan_protocol;	     /* protocol_features, for the senders' gates (shared.c) */
	/* a handler found the connection unusable: it ends after the reply
	 * (SET_PROTOCOL_FEATURES with INBAND_NOTIFICATIONS alone) */
	bool close_conn;

	/*
	 * vhost-pci (vhost_pci.c, config.vhost_pci): what the back-end may send
	 * on the main socket. Under lock; the control thread writes them.
	 */
	struct {
		struct vhu_lock lock;
		int fd;		 /* the main socket once bit 4 was negotiated; -1: not */
		bool acked_set;	 /* a SET_FEATURES came since the connect or a reset */
		bool busy;	 /* a request is being handled: its reply goes first */
		bool pending;	 /* queued while busy */
		uint64_t acked;	 /* that SET_FEATURES */
		uint64_t queued; /* the features to send once not busy */
	} vpci;

	struct vhu_mem mem;
	struct vhu_be_table_id table_id;
	/* the device IOTLB (iotlb.c); changed only with every queue paused */
	struct vhu_iotlb iotlb;
	uint32_t iotlb_timeout_ms; /* a miss unanswered this long breaks its queue */
	struct vhu_dirty_log dlog; /* SET_LOG_BASE, SET_LOG_FD (log.c) */
	struct vhu_be_state state; /* SET_DEVICE_STATE_FD (state.c) */
	struct {
		int uffd;	 /* POSTCOPY_ADVISE's userfaultfd; -1: none */
		bool advised;	 /* POSTCOPY_ADVISE done, no POSTCOPY_END since */
		bool listening;	 /* POSTCOPY_LISTEN: memory tables are postcopy ones */
		bool unanswered; /* a postcopy table or region waits for our addresses */
	} pc;			 /* postcopy.c */
	bool force_reply;	 /* the handler filled a reply body that must go out */
	void *inflight_map;	 /* SET_INFLIGHT_FD's region; NULL: none */
	size_t inflight_len;
	unsigned int num_queues;
	struct vhu_queue *queues;
	/* config.shmem_sizes, copied (shared.c); config.shmem_sizes points here */
	uint64_t shmem_sizes[VHU_BACKEND_SHMEM_MAX_REGIONS];
};

static inline bool vhu_be_has_protocol(const struct vhu_backend *be, unsigned int bit)
{
	return be->protocol_features & VHU_BIT(bit);
}

/* ---- backend.c ---------------------------------------------------------- */

/* Errors after which a loop goes on: the connection, not the back-end, failed. */
bool vhu_be_run_goes_on(int err);

/* End the connection: stop and reset everything it set up (Concepts). */
void vhu_be_disconnect(struct vhu_backend *be);

/* client.c: after a disconnect, schedule the next attempt (client mode only) */
void vhu_be_client_lost(struct vhu_backend *be);
/* client.c: the retry timer fired: try to connect; 0 or -EAGAIN (not yet) */
int vhu_be_client_retry(struct vhu_backend *be);
/* client.c: forget client mode (destroy) */
void vhu_be_client_fini(struct vhu_backend *be);

/* ---- shared.c: shared objects and VIRTIO shared memory ------------------- */

/* The config's shmem regions are valid (protocol feature SHMEM: some). 0 or -EINVAL. */
int vhu_be_shmem_config_check(const struct vhu_backend_config *c);
/* Copy the config's region sizes into @be (create). */
void vhu_be_shmem_config_copy(struct vhu_backend *be);
int vhu_be_get_shared_object(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_get_shmem_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);

/* ---- dispatch.c --------------------------------------------------------- */

/*
 * Handle one received message. @recv_err is 0, or -EBADMSG when the
 * transport dropped its fds (only that request fails).
 * Return: 0, or a negative errno when the connection must be closed (the
 * reply could not be sent, or no valid reply exists).
 */
int vhu_be_dispatch_msg(struct vhu_backend *be, struct vhu_msg *msg, int recv_err);

/* True while @be is handling a message on the calling thread. */
bool vhu_be_in_dispatch(const struct vhu_backend *be);

/* Record why the current request fails (logged once by dispatch). Return: @err. */
int vhu_be_fail(struct vhu_backend *be, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A u64 reply body (GET_FEATURES ...). Return: 0. */
static inline int vhu_be_reply_u64(struct vhu_msg *reply, uint64_t v)
{
	reply->hdr.size = sizeof(uint64_t);
	reply->payload.u64 = v;
	return 0;
}

/*
 * A handler. @reply is pre-set to answer @msg with an empty body; handlers of
 * VHU_REPLY_ALWAYS rows fill reply->payload and reply->hdr.size.
 * Return: 0 or a negative errno (fails the request).
 */
typedef int (*vhu_handler_fn)(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);

/* negotiate.c */
int vhu_be_get_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_features(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_owner(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_reset_owner(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_get_protocol_features(struct vhu_backend *be, struct vhu_msg *msg,
				 struct vhu_msg *reply);
int vhu_be_set_protocol_features(struct vhu_backend *be, struct vhu_msg *msg,
				 struct vhu_msg *reply);
int vhu_be_get_queue_num(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_reset_device(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_status(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_get_status(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_net_set_mtu(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_gpu_set_socket(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_send_rarp(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);

/* vhost_pci.c: the negotiation's steps (control thread) */
void vhu_be_vpci_protocol(struct vhu_backend *be, uint64_t protocol_features);
void vhu_be_vpci_features(struct vhu_backend *be, uint64_t features);
void vhu_be_vpci_reset(struct vhu_backend *be, bool gone);
/* A request is handled from now on / its reply went out (send what was queued). */
void vhu_be_vpci_busy(struct vhu_backend *be);
void vhu_be_vpci_idle(struct vhu_backend *be, bool send);

/* Virtio features the back-end offers: the device's plus PROTOCOL_FEATURES. */
uint64_t vhu_be_offered_features(const struct vhu_backend *be);
/* Protocol features the back-end offers. */
uint64_t vhu_be_offered_protocol(const struct vhu_backend *be);

/* mem.c */
int vhu_be_set_mem_table(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_get_max_mem_slots(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_add_mem_reg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_rem_mem_reg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* Unmap every region (disconnect). */
void vhu_be_mem_clear(struct vhu_backend *be);

/* vring.c */
int vhu_be_set_vring_num(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_addr(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_get_vring_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_kick(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_call(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_err(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_vring_kick(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_vring_enable(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);

/*
 * Run the queue iff it is started, enabled and set up (Concepts): start or
 * stop it as needed. Return: 0, or the error of a start that failed (the
 * queue is then not running).
 */
int vhu_be_queue_update(struct vhu_backend *be, struct vhu_queue *q);
/* Stop a running queue: worker joined, ops->queue_stop, vhu_vq_stop. */
void vhu_be_queue_stop(struct vhu_backend *be, struct vhu_queue *q);
/* Stop every running queue and forget the spec's "started" state (kick). */
void vhu_be_queues_stop_all(struct vhu_backend *be);
/* Remap every queue after a memory table change; queues that lost their ring stop. */
void vhu_be_queues_remap(struct vhu_backend *be);
/* Stop every running ring before memory under it is unmapped; restart after. */
void vhu_be_queues_drain(struct vhu_backend *be);
void vhu_be_queues_restart(struct vhu_backend *be);

/* inflight.c */
int vhu_be_get_inflight_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_inflight_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* Forget the region (disconnect, reset): every queue stopped. */
void vhu_be_inflight_clear(struct vhu_backend *be);

/* iotlb.c */
int vhu_be_iotlb_msg(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* Set up the IOTLB and hand it to every queue (create). */
void vhu_be_iotlb_init(struct vhu_backend *be);
/* The memory table changed: resolve the IOTLB's entries again (control thread, paused). */
void vhu_be_iotlb_remap(struct vhu_backend *be);

/* log.c */
int vhu_be_set_log_base(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_log_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* Give every queue (or @only) the log (LOG_ALL and a log mapped) or none; those queues paused. */
void vhu_be_log_apply(struct vhu_backend *be, struct vhu_queue *only);
/* Unmap the log and close its fd (disconnect); queues stopped. */
void vhu_be_log_clear(struct vhu_backend *be);

/* postcopy.c */
int vhu_be_postcopy_advise(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_postcopy_listen(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_postcopy_end(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* SET_MEM_TABLE while listening: answer our addresses, wait for the go-ahead, register. */
int vhu_be_postcopy_table(struct vhu_backend *be, const struct vhu_msg *msg);
/* ADD_MEM_REG while listening: register the region, answer with our address. */
int vhu_be_postcopy_region(struct vhu_backend *be, const struct vhu_msg *msg,
			   struct vhu_msg *reply);
/* True for the go-ahead QEMU sends after a postcopy run of ADD_MEM_REG. */
bool vhu_be_postcopy_go_ahead(struct vhu_backend *be, const struct vhu_msg *msg);
/* Close the userfaultfd and forget postcopy (disconnect, reset, END). */
void vhu_be_postcopy_clear(struct vhu_backend *be);

/* state.c */
int vhu_be_set_device_state_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_check_device_state(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* End a transfer in flight and forget it (disconnect, reset). */
void vhu_be_state_clear(struct vhu_backend *be);

/* config.c */
int vhu_be_get_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
int vhu_be_set_config(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);

/* channel.c */
int vhu_be_set_backend_req_fd(struct vhu_backend *be, struct vhu_msg *msg, struct vhu_msg *reply);
/* Update what the channel may do after SET_PROTOCOL_FEATURES. */
void vhu_be_chan_update(struct vhu_backend *be);
/* Close the channel (disconnect). */
void vhu_be_chan_close(struct vhu_backend *be);
/* Send what vhu_backend_config_changed() deferred while a request was handled. */
void vhu_be_chan_flush(struct vhu_backend *be);
/*
 * BACKEND_IOTLB_MSG (MISS or ACCESS_FAIL) from any thread. Never asks for an
 * ack: QEMU answers a miss with an UPDATE on the main socket first, which
 * needs the queues paused, so the sender must not wait.
 * Return: 0, -ENOTCONN (no channel), -ENOTSUP (ACCESS_PLATFORM not
 * negotiated) or a send error.
 */
int vhu_be_chan_iotlb(struct vhu_backend *be, uint8_t type, uint64_t iova, uint8_t perm);
/*
 * vq->inband of every ring while INBAND_NOTIFICATIONS is negotiated:
 * BACKEND_VRING_CALL (@err false) or BACKEND_VRING_ERR for a ring whose
 * SET_VRING_CALL / _ERR came with NOFD (inband_call, inband_err), acked
 * (REPLY_ACK comes with the feature, see negotiate.c).
 */
void vhu_be_chan_vring(struct vhu_vq *vq, bool err);
/*
 * BACKEND_VRING_HOST_NOTIFIER_MSG for @q from its worker: @fd a page of
 * @size bytes (-1: NOFD, remove it), with NEED_REPLY; the ack is waited for
 * while the control thread does not call the worker. Return: 0, -ENOTCONN,
 * -EIO (refused), -EINTR (the control thread called: the ack is left owed),
 * or a channel error (the channel is then closed).
 */
int vhu_be_chan_host_notifier(struct vhu_backend *be, struct vhu_queue *q, int fd, uint64_t size);

/* ---- notifier.c --------------------------------------------------------- */

/* The doorbell's value while no kick waits in it (a 16-bit queue index never is). */
#define VHU_DOORBELL_IDLE 0xffffu

/* The ring starts (before its worker): its worker sends it a page if usable. */
void vhu_be_notifier_want(struct vhu_backend *be, struct vhu_queue *q);
/* The worker, in a round of @q that wants a page: make it, send it, wait for the ack. */
void vhu_be_notifier_map(struct vhu_queue *q);
/* The ring stopped (no worker): unmap and close its page. */
void vhu_be_notifier_drop(struct vhu_queue *q);

/* ---- worker.c, pool.c -------------------------------------------------- */

/* Initialise / destroy the queue's lock and condvars (once per queue). */
int vhu_be_worker_init(struct vhu_worker *w);
void vhu_be_worker_fini(struct vhu_worker *w);
/*
 * Hand the queue to a worker thread: one of the back-end's pool
 * (config.pool), else a thread of its own, created here. Parked from the
 * start if the queue is paused. Return 0 or -errno.
 */
int vhu_be_worker_start(struct vhu_queue *q);
/* Take the queue back from its thread (also when it is parked); an own thread is joined. */
void vhu_be_worker_stop(struct vhu_queue *q);
/* Forget the device's watched fd (the queue stopped). */
void vhu_be_worker_unwatch(struct vhu_queue *q);

/* Park @q (nesting); returns once its thread runs none of its ops. */
void vhu_be_queue_pause(struct vhu_queue *q);
void vhu_be_queue_resume(struct vhu_queue *q);
/* The same for every queue. */
void vhu_be_queues_pause_all(struct vhu_backend *be);
void vhu_be_queues_resume_all(struct vhu_backend *be);

#endif /* VHU_BACKEND_BACKEND_H */
