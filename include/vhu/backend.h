/* SPDX-License-Identifier: MIT */
#ifndef VHU_BACKEND_H
#define VHU_BACKEND_H

/*
 * The device side of vhost-user. A device fills struct vhu_device_ops and
 * never sees a message: the library negotiates, maps guest memory, runs the
 * rings and calls the ops. One back-end serves one front-end connection at a
 * time; when the front-end leaves, its state is reset and the next
 * connection on the same socket is served.
 *
 * Threads: the back-end's control thread (the caller of vhu_backend_run() or
 * vhu_backend_dispatch(), or a thread of a vhu_loop_create() loop that
 * serves many back-ends) runs every op except queue_kick and queue_event,
 * which run on the queue's worker thread, with every signal blocked. By
 * default that is one thread per running queue, created when the ring
 * starts and joined when it stops; with a pool (vhu_pool_create(),
 * vhu_backend_config.pool) it is one of the pool's fixed set of threads,
 * each of which serves many queues of any number of back-ends. The
 * control thread pauses a queue before any request that changes what its
 * worker reads (memory table, ring addresses, base, enable, fds, features,
 * reset) and resumes it after; a pause waits for queue_kick or queue_event
 * to return, so neither may block indefinitely. The library starts no
 * other thread (a pool's threads are the pool's). The log callback may be
 * called from any of these threads.
 *
 * Asynchronous devices: a worker sleeps on the ring's kick eventfd and, if
 * the device asked for it with vhu_vq_watch_fd(), on one more fd of the
 * device's (an io_uring's eventfd, a tap): queue_event runs when that fd is
 * readable, so queue_kick can submit work and return, and completions are
 * pushed when they come, with requests from many kicks in flight at once.
 * A pause does not wait for that work: requests in flight keep their
 * pointers into guest memory across it. A request that would unmap guest
 * memory (a SET_MEM_TABLE that really changes, REM_MEM_REG) therefore first
 * stops every running ring, so queue_stop lets the device finish what it
 * holds while its buffers are still mapped, and starts them again after
 * (queue_start, queue_kick). The same table sent again changes nothing.
 *
 * Ring states (spec "Ring states"): a ring is started by SET_VRING_KICK and
 * stopped by GET_VRING_BASE; with VHOST_USER_F_PROTOCOL_FEATURES negotiated
 * it also needs SET_VRING_ENABLE 1, without it a started ring is enabled. The
 * device sees a ring (queue_start, then queue_kick calls, then queue_stop)
 * only while it is started, enabled and has a size and addresses.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhu/log.h>
#include <vhu/version.h>
#include <vhu/virtq.h>

struct vhu_backend;
struct vhu_pool;

/*
 * Ops return 0 or a negative errno; an error fails the request that caused
 * it (reply-ack carries it), not the connection. The ops table and dev must
 * outlive the back-end.
 */
struct vhu_device_ops {
	/* Device and transport feature bits offered (required). The library adds
	 * VHOST_USER_F_PROTOCOL_FEATURES itself, and VHOST_F_LOG_ALL when the
	 * device allows LOG_SHMFD (dirty logging is the library's: pushes log
	 * what they complete; see vhu_vq_log_write() for other writes). */
	uint64_t (*get_features)(void *dev);
	/* The features the driver accepted (a subset of get_features, without
	 * VHOST_USER_F_PROTOCOL_FEATURES); every worker is paused meanwhile. */
	int (*set_features)(void *dev, uint64_t features);
	/* Config space reads and writes (CONFIG protocol feature); offset + size
	 * is within VHU_MAX_CONFIG_SIZE and size is never 0. Bytes get_config
	 * leaves alone read as 0. */
	int (*get_config)(void *dev, void *buf, uint32_t offset, uint32_t size);
	int (*set_config)(void *dev, const void *buf, uint32_t offset, uint32_t size);
	/* A queue is about to run: vhu_vq_start() is done, its worker not yet
	 * created. An error keeps the ring stopped and fails the request. */
	int (*queue_start)(void *dev, struct vhu_vq *vq);
	/* A queue stops (GET_VRING_BASE, SET_VRING_ENABLE 0, reset, disconnect):
	 * its worker has returned; the ring still runs until this op returns, so
	 * the device may complete requests it has in flight (push, notify). */
	void (*queue_stop)(void *dev, struct vhu_vq *vq);
	/* The driver made buffers available (required; worker thread). Also
	 * called once when a ring starts, and after every pause: buffers may
	 * wait from before. */
	void (*queue_kick)(void *dev, struct vhu_vq *vq);
	/* The fd of vhu_vq_watch_fd() is readable (worker thread; required by
	 * vhu_vq_watch_fd()). The device drains it: epoll is level-triggered,
	 * so an fd left readable brings queue_event back at once. Runs before
	 * queue_kick when both are due. While the worker busy-polls
	 * (VHU_BACKEND_F_POLL, or a ring without a kick fd) it runs in every
	 * round, before queue_kick, without the fd being looked at: it must
	 * cope with nothing being ready, and need not drain the fd then. Not
	 * called on a broken ring (queue_stop still is). Also called, without
	 * the fd being looked at, when queue_pending says so (poll window). */
	void (*queue_event)(void *dev, struct vhu_vq *vq);
	/* Optional, with vhu_vq_watch_fd(): whether queue_event has work now
	 * (e.g. an io_uring's completion queue is not empty), answered from
	 * memory without a system call; false when unsure. Called on the
	 * worker thread, over and over, while it spins in its poll window
	 * (vhu_backend_config.poll_window_us). Without it the worker looks at
	 * the watched fds with epoll every few microseconds of the window. */
	bool (*queue_pending)(void *dev, struct vhu_vq *vq);
	/* Optional, with queue_pending: whether the device has work in flight
	 * on this queue that will complete through the watched fd (an I/O
	 * submitted and not yet reaped), answered from memory. When the worker
	 * runs out of work while a queue says so, it waits for a completion,
	 * not for the driver: its window is then sized separately, up to
	 * vhu_backend_config.poll_inflight_us, since a completion is sure to
	 * come and a wake-up costs tens of microseconds on a VM. */
	bool (*queue_inflight)(void *dev, struct vhu_vq *vq);
	/* The front-end left or reset the device (RESET_DEVICE): forget
	 * per-connection state. Every queue has stopped by then. */
	void (*reset)(void *dev);
	/* NET_SET_MTU (protocol feature NET_MTU, which needs this op): the MTU
	 * the front-end configured for the device, 68..65535. */
	int (*net_set_mtu)(void *dev, uint16_t mtu);
	/* SEND_RARP (protocol feature RARP, which needs this op): the guest
	 * migrated here; broadcast a RARP for @mac so switches learn where it is. */
	int (*net_send_rarp)(void *dev, const uint8_t mac[6]);
	/* Migration of the device's own state (protocol feature DEVICE_STATE,
	 * which needs both): every ring is stopped when they are called, on the
	 * control thread. state_save returns a malloc'd buffer (the library
	 * frees it) of at most 16 MiB; state_load gets what a state_save wrote,
	 * possibly by another process or version, and from an untrusted
	 * front-end: check everything, return -EINVAL for what does not fit. */
	int (*state_save)(void *dev, void **buf, size_t *len);
	int (*state_load)(void *dev, const void *buf, size_t len);
	/* VHOST_USER_GPU_SET_SOCKET (vhost-user-gpu; without this op the request
	 * fails with -ENOTSUP): the vhost-user-gpu socket (<vhu/gpu.h>), which
	 * the device owns from then on, even when it returns an error. The
	 * front-end may still be busy with the main socket: send, but do not
	 * wait here for an answer on @fd. Control thread. */
	int (*gpu_set_socket)(void *dev, int fd);
	/* GET_SHARED_OBJECT (protocol feature SHARED_OBJECT, see
	 * vhu_backend_shared_object_add()): export the object the device added
	 * under @uuid as a new fd (a dma-buf, a memfd), which the library sends
	 * and closes. -ENOENT for a UUID the device does not know. Without this
	 * op the request fails. Control thread; @uuid is the front-end's. */
	int (*shared_object_get)(void *dev, const uint8_t uuid[16], int *fd);
};

/* The most VIRTIO shared memory regions a device may declare (shmid 0..255). */
#define VHU_BACKEND_SHMEM_MAX_REGIONS 256u

/* struct vhu_backend_config.flags */
/*
 * Workers busy-poll their rings instead of sleeping. One that has seen 512
 * rounds in a row move nothing yields the CPU (sched_yield) every round
 * after, until one moves: busy queues that share a CPU with idle ones get it.
 */
#define VHU_BACKEND_F_POLL (1u << 0)

/*
 * Host notifiers (spec: "Host notifiers", BACKEND_VRING_HOST_NOTIFIER_MSG):
 * a device that busy-polls (VHU_BACKEND_F_POLL) and lists
 * VHU_PROTOCOL_F_HOST_NOTIFIER and VHU_PROTOCOL_F_BACKEND_SEND_FD in
 * protocol_features, with BACKEND_REQ and REPLY_ACK, has them offered. When
 * the front-end negotiates them, each ring that starts gets a doorbell page
 * of its own (a memfd page) right after the request that started it was
 * answered, and the front-end's ack is waited for: QEMU maps the page over
 * the ring's slot of the virtio-pci notify area (page-per-vq=on), so the
 * guest's kicks become stores into it instead of eventfd writes. A busy-
 * polling worker never sleeps on the kick eventfd, so no kick can be lost
 * while a page is mapped; it leaves the driver's kicks on in such a ring
 * (a store costs the driver no exit and us nothing) and counts them in the
 * page (vhu_backend_queue_kicks()). A refused page is not offered again on
 * that connection; a stopped ring's page is unmapped and closed.
 */

/* A longest poll window that suits most devices (QEMU's poll-max-ns is 32 us). */
#define VHU_BACKEND_POLL_WINDOW_DEFAULT_US 32u
/* The largest poll_window_us accepted. */
#define VHU_BACKEND_POLL_WINDOW_MAX_US 1000000u
/* A good poll_inflight_us: an SSD's read answers within it, a wake-up on a
 * VM costs about a fifth of it. */
#define VHU_BACKEND_POLL_INFLIGHT_DEFAULT_US 256u

/* Client mode's back-off: the first wait, the default longest, the largest allowed. */
#define VHU_BACKEND_RECONNECT_MIN_MS 10u
#define VHU_BACKEND_RECONNECT_MAX_MS 1000u
#define VHU_BACKEND_RECONNECT_LIMIT_MS 60000u

struct vhu_backend_config {
	const char *name;	    /* log prefix, e.g. the socket path */
	uint16_t num_queues;	    /* queues the device has (GET_QUEUE_NUM); 1..256 */
	uint16_t max_queue_size;    /* largest SET_VRING_NUM accepted (<= 32768) */
	uint64_t protocol_features; /* VHU_PROTOCOL_F_* the device allows */
	uint32_t flags;		    /* VHU_BACKEND_F_* */
	const struct vhu_device_ops *ops;
	void *dev;		   /* first argument of every op */
	const struct vhu_log *log; /* NULL: stderr at INFO, prefixed with name */
	/*
	 * Adaptive polling: the longest poll window, microseconds; 0 (the
	 * default of a zeroed config): none, workers sleep as soon as they run
	 * out of work. After a round of ops that moved the ring (or after a
	 * wake-up), a worker spins up to its window before it sleeps in
	 * epoll_wait(), looking at the ring (vhu_vq_has_avail(), only while the
	 * device has notifications on: off means "don't kick me") and at the
	 * device's pending work (ops->queue_pending, or epoll on the watched
	 * fd), and calls queue_kick / queue_event directly when it sees some:
	 * a request that comes within the window costs no wake-up. Each
	 * queue's window adapts between 0 and this, as QEMU's poll-max-ns
	 * does: work that came just after the window closed doubles it (from
	 * 4 us), a wait longer than the maximum halves it (to 0 under 4 us),
	 * so a queue whose work comes too far apart for polling to pay sleeps
	 * at once and an idle one costs no CPU. While the worker spins, the
	 * ring asks the driver for no kicks (VRING_USED_F_NO_NOTIFY; with
	 * event idx, avail_event left behind, so at most one kick comes);
	 * before it sleeps, kicks are turned back on and the ring looked at
	 * once more. A pause or stop is seen at once; a broken ring, or one
	 * without a kick fd or with VHU_BACKEND_F_POLL (which poll without
	 * end, kicks off), gets no window. At most
	 * VHU_BACKEND_POLL_WINDOW_MAX_US. VHU_BACKEND_POLL_WINDOW_DEFAULT_US
	 * is a good value.
	 */
	uint32_t poll_window_us;
	/*
	 * The longest poll window while a queue has work in flight
	 * (ops->queue_inflight), microseconds: the wait is for the device's
	 * completion, and adapts on its own (a disk that answers within it is
	 * polled, a slower one is slept on). 0: poll_window_us. Only with
	 * poll_window_us > 0; at most VHU_BACKEND_POLL_WINDOW_MAX_US.
	 * VHU_BACKEND_POLL_INFLIGHT_DEFAULT_US is a good value.
	 */
	uint32_t poll_inflight_us;
	/*
	 * Client mode (vhu_backend_connect()): the longest wait between two
	 * connect attempts, milliseconds; 0: VHU_BACKEND_RECONNECT_MAX_MS.
	 * Waits start at VHU_BACKEND_RECONNECT_MIN_MS and double after each
	 * failed attempt up to this; at least VHU_BACKEND_RECONNECT_MIN_MS,
	 * at most VHU_BACKEND_RECONNECT_LIMIT_MS.
	 */
	uint32_t reconnect_max_ms;
	/*
	 * The worker threads that run the queues (vhu_pool_create()); NULL
	 * (the default of a zeroed config): a thread of its own per running
	 * queue. Must outlive the back-end. See vhu_pool_create() for what
	 * the device's ops must then respect.
	 */
	struct vhu_pool *pool;
	/*
	 * VIRTIO shared memory regions (protocol feature SHMEM, offered only
	 * with shmem_num > 0 and the bit in protocol_features): the size in
	 * bytes of region shmid i is shmem_sizes[i] (0: no such region; else a
	 * multiple of the page size), reported by GET_SHMEM_CONFIG; the device
	 * maps fds into them with vhu_backend_shmem_map(). shmem_num <=
	 * VHU_BACKEND_SHMEM_MAX_REGIONS; the sizes are copied.
	 */
	const uint64_t *shmem_sizes;
	unsigned int shmem_num;
	/*
	 * EXPERIMENTAL (the unmerged vhost-pci revision of the spec; off in a
	 * zeroed config): protocol bit 4 is offered as VHOST_PCI, never as
	 * NET_MTU (so protocol_features may not hold NET_MTU, and NET_SET_MTU
	 * is refused), and vhu_backend_send_features() may narrow the
	 * features the front-end set. Only for a front-end that opted in too
	 * (vhu_frontend_config.vhost_pci): QEMU reads bit 4 as NET_MTU.
	 */
	bool vhost_pci;
};

/* The most threads a pool may have. */
#define VHU_POOL_MAX_THREADS 1024u

/**
 * vhu_pool_create() - a fixed set of worker threads to run the queues of
 * many back-ends (a daemon that serves many devices: threads and memory
 * that do not grow with the number of queues).
 * @threads: how many; 0: one per online CPU
 * @out:     the new pool
 *
 * A queue of a back-end created with this pool is handed, when it starts,
 * to the pool thread that serves the fewest queues, and stays there until
 * it stops. Each thread waits with epoll on the kick and watched fds of
 * its queues and runs the ops of those that have work, one after the
 * other; its poll window (vhu_backend_config.poll_window_us, the largest
 * among its queues) adapts as a queue's own thread's does, and while it
 * spins it looks at every ring it serves, so work on any of them costs no
 * wake-up, and a thread whose queues are all idle sleeps. A queue with
 * VHU_BACKEND_F_POLL or without a kick fd keeps its thread busy-polling
 * (its other queues are looked at between rounds). Pause, stop, IOTLB
 * waits and shared queues behave as with a thread of its own.
 *
 * What the ops must respect: a pool thread runs one op at a time, so an
 * op that blocks holds up every queue of that thread; queue_kick and
 * queue_event should submit and return (as with vhu_vq_watch_fd()). And
 * since a queue parks only between two ops of its thread, an op must never
 * wait for something a paused queue holds: no vhu_vq_lock() of another
 * queue (a shared one's lock is held by its control thread while it is
 * paused, and the pause of a queue on the same thread would wait for the
 * op that waits for the lock). Devices that forward between queues (a
 * switch) therefore use threads of their own.
 *
 * The threads are named "vhu-wN" and block every signal.
 *
 * Return: 0, -EINVAL (@threads over VHU_POOL_MAX_THREADS), -ENOMEM, or the
 * errno of epoll_create1, eventfd or pthread_create.
 */
VHU_API int vhu_pool_create(unsigned int threads, struct vhu_pool **out);

/** vhu_pool_threads() - how many threads @pool has. */
VHU_API unsigned int vhu_pool_threads(const struct vhu_pool *pool);

/**
 * vhu_pool_destroy() - stop and join the threads, free @pool (NULL: nothing).
 *
 * Only once every back-end that uses it has been destroyed.
 */
VHU_API void vhu_pool_destroy(struct vhu_pool *pool);

/**
 * vhu_vq_watch_fd() - have the queue's worker also wait on @fd.
 * @vq: a queue the back-end handed to an op (queue_start ...)
 * @fd: an fd to poll for readability (POLLIN), or -1 to stop watching;
 *      the device keeps owning it and keeps it open while it is watched
 *
 * When @fd is readable the worker calls ops->queue_event (see there). One fd
 * per queue: a second call replaces the first. Callable from queue_start and
 * queue_stop (no worker exists then) and from the queue's own worker
 * (queue_kick, queue_event); a change made by the worker takes effect when
 * the op returns. The watch ends with the queue: after queue_stop it is
 * forgotten, and the next queue_start begins without one. An fd that
 * reports an error (EPOLLERR, EPOLLHUP) gets one queue_event, a
 * logged warning, and is not watched until the worker is next paused.
 *
 * Return: 0; -EINVAL if ops->queue_event is missing or @fd < -1; -EBUSY
 * from any other thread while the worker runs.
 */
VHU_API int vhu_vq_watch_fd(struct vhu_vq *vq, int fd);

/**
 * vhu_vq_run_again() - have queue_kick called again in the worker's next round.
 * @vq: the queue whose op is running on this thread
 *
 * For a device that stops after a budget of work while more waits in the
 * ring (so that a pause of this queue, or the other queues of its thread,
 * get their turn): the worker acts on pending control calls, runs its
 * other queues' due ops, then calls queue_kick on @vq again, without a
 * system call and without sleeping in between. Only from queue_kick or
 * queue_event on the queue's worker.
 *
 * Return: 0, or -EBUSY from any other thread.
 */
VHU_API int vhu_vq_run_again(struct vhu_vq *vq);

/**
 * vhu_vq_share() - let threads other than the queue's worker use @vq.
 *
 * A switch forwards from one port's worker into another port's receive
 * queue; a tap reader pushes into a guest's queue. Called from queue_start
 * (before the worker exists); the queue stays shared until queue_stop.
 * While it is shared:
 *  - any thread that is not the queue's worker calls vhu_vq_lock() before
 *    it uses @vq (pop, push, notify, has_avail, enable_notify, ...) and
 *    vhu_vq_unlock() after; the queue may have stopped meanwhile (pop and
 *    push then return -EAGAIN: the ring is the front-end's again);
 *  - the worker holds the lock around queue_kick and queue_event, so these
 *    ops use @vq without taking it, and the worker does not spin in a poll
 *    window (the ring moves under other threads) nor busy-poll with
 *    VHU_BACKEND_F_POLL: it sleeps until the driver kicks (a ring without
 *    a kick fd is still polled), because the threads that share the queue
 *    are the ones that work on it;
 *  - the library holds the lock while it changes the queue: from before a
 *    request that pauses it to after, which includes queue_start and
 *    queue_stop (they must not take it either) and memory table changes.
 * Hold the lock briefly, never sleep with it held, and hold at most one
 * queue's lock at a time (queue_kick of a shared queue holds its own: it
 * must not take another). Queues that are not shared need none of this.
 *
 * Return: 0, or -EBUSY when called while the worker runs.
 */
VHU_API int vhu_vq_share(struct vhu_vq *vq);
VHU_API void vhu_vq_lock(struct vhu_vq *vq);
VHU_API void vhu_vq_unlock(struct vhu_vq *vq);

/**
 * vhu_backend_create() - a back-end for one device, not yet connected.
 * @config: device description; copied
 * @out:    the new back-end
 *
 * The protocol features the library implements: MQ, REPLY_ACK, CONFIG (which
 * needs ops->get_config), BACKEND_REQ, CONFIGURE_MEM_SLOTS, STATUS,
 * RESET_DEVICE, RARP (needs ops->net_send_rarp) and NET_MTU (needs
 * ops->net_set_mtu); with config.vhost_pci, bit 4 is VHOST_PCI instead.
 *
 * Return: 0, -EINVAL for a bad @config (no get_features or queue_kick,
 * num_queues 0 or over 256 (kick/call/err name a queue in 8 bits),
 * max_queue_size 0 or over 32768, a protocol feature the library does not
 * implement, CONFIG without get_config, RARP or NET_MTU without their op,
 * NET_MTU with vhost_pci,
 * an unknown flag, poll_window_us
 * over VHU_BACKEND_POLL_WINDOW_MAX_US, queue_pending without queue_event,
 * reconnect_max_ms outside its bounds),
 * -ENOMEM, or the
 * errno of eventfd or pthread_mutex_init.
 */
VHU_API int vhu_backend_create(const struct vhu_backend_config *config, struct vhu_backend **out);

/**
 * vhu_backend_listen() - serve front-ends that connect to @path (server mode).
 *
 * One front-end is served at a time; the next is accepted when it leaves.
 *
 * Return: 0, -EBUSY (a socket is already set) or an error of the socket
 * layer (-EADDRINUSE ...).
 */
VHU_API int vhu_backend_listen(struct vhu_backend *be, const char *path);

/**
 * vhu_backend_adopt_fd() - serve an inherited fd (--fd=N): listening or connected.
 *
 * On success the back-end owns @fd (O_CLOEXEC is set; a connected socket is
 * made blocking); on error it is left as it was.
 *
 * Return: 0, -EBUSY (a socket is already set), -EBADF, -ENOTSOCK,
 * -EPROTOTYPE or -ENOTCONN.
 */
VHU_API int vhu_backend_adopt_fd(struct vhu_backend *be, int fd);

/**
 * vhu_backend_connect() - connect to a front-end listening at @path (client
 * mode: QEMU's `-chardev socket,server=on`, Open vSwitch's
 * dpdkvhostuserclient ports, DPDK's RTE_VHOST_USER_CLIENT).
 *
 * One attempt is made at once. While the front-end is not there (no path,
 * nobody listening, a full backlog, any connect error), and whenever the
 * connection ends later, the back-end tries again with exponential back-off:
 * VHU_BACKEND_RECONNECT_MIN_MS, doubling after each failed attempt up to
 * config.reconnect_max_ms. A connection that carried a message starts the
 * next round of waits from the shortest again. Each connection starts from
 * nothing, exactly as a front-end accepted on a listening socket does (the
 * front-end resends the memory table, rings and its inflight region).
 * Waiting is part of the loop: vhu_backend_fd() is then a timer that
 * becomes readable when the next attempt is due, and vhu_backend_dispatch()
 * makes it.
 *
 * Return: 0 (connected or retrying), -EBUSY (a socket is already set),
 * -EINVAL (an empty @path), -ENAMETOOLONG, -ENOMEM, or the errno of
 * timerfd_create.
 */
VHU_API int vhu_backend_connect(struct vhu_backend *be, const char *path);

/**
 * vhu_backend_fd() - the fd to poll for readability in the caller's own loop.
 *
 * Return: the listening or connected socket, whichever is waited on now; in
 * client mode while not connected, the timer of the next connect attempt;
 * or -1 when there is none (an adopted connection ended).
 */
VHU_API int vhu_backend_fd(const struct vhu_backend *be);

/**
 * vhu_backend_dispatch() - handle what made vhu_backend_fd() readable:
 * accept a connection, or receive and handle one message.
 *
 * A request that fails is answered as its reply rule says and the
 * connection stays; the connection ends only when the front-end leaves or
 * the stream cannot go on (a payload over VHU_MAX_PAYLOAD, a failed send).
 *
 * In client mode, while not connected: make the connect attempt that is
 * due (vhu_backend_connect()).
 *
 * Return: 0; -ECONNRESET when the connection ended (state was reset; with a
 * listening socket the next call accepts again, in client mode a connect
 * attempt is scheduled); -EAGAIN in client mode when the attempt failed or
 * was not due yet (the next is scheduled); -ENOTCONN when there is no
 * socket; or an error of accept (-EAGAIN, -ECONNABORTED, -EMFILE ...).
 */
VHU_API int vhu_backend_dispatch(struct vhu_backend *be);

/**
 * vhu_backend_run() - the ready-made loop: dispatch until vhu_backend_stop().
 *
 * Connections come and go; the loop goes on. An adopted connected socket is
 * served until its front-end leaves.
 *
 * Return: 0 after a stop or when an adopted connection ended, or a fatal
 * error (of poll or accept, e.g. -EMFILE).
 */
VHU_API int vhu_backend_run(struct vhu_backend *be);

/* ---- many back-ends' control channels on a few threads ---------------- */

struct vhu_loop;

/* The most threads a loop may have, and what 0 asks for. */
#define VHU_LOOP_MAX_THREADS 1024u
#define VHU_LOOP_THREADS_DEFAULT 64u
/* How long a spare loop thread waits for work before it ends, ms. */
#define VHU_LOOP_LINGER_MS 1000u

/*
 * Called on a loop thread when a back-end can no longer be served: an
 * adopted connection ended (@err 0) or dispatching failed in a way
 * vhu_backend_run() would return (@err: -EMFILE ...). The back-end stays
 * attached, unwatched, until vhu_loop_remove(). It must not call
 * vhu_loop_remove() itself.
 */
typedef void (*vhu_loop_end_fn)(struct vhu_backend *be, int err, void *opaque);

/**
 * vhu_loop_create() - an event loop that serves the control channels
 * (vhost-user messages, accepts, client-mode reconnects) of many back-ends
 * on a few threads, instead of a vhu_backend_run() thread per back-end.
 * @max_threads: the most threads it may use; 0: VHU_LOOP_THREADS_DEFAULT
 * @out:         the new loop
 *
 * One thread at a time waits with epoll on the sockets and reconnect timers
 * of every back-end attached to it (the leader); when one is ready, the
 * leader hands the waiting to a spare thread (starting one if there is
 * none) and dispatches that back-end's message itself. So a message whose
 * handling blocks (waiting for a queue's worker to park or a device's
 * queue_stop to finish its I/O, a migration state transfer, a front-end
 * that stops in the middle of a message) holds up that back-end alone:
 * the others go on being served by the other threads. A back-end is
 * dispatched by one thread at a time, in the order its messages come, as
 * by vhu_backend_run(). Spare threads end after VHU_LOOP_LINGER_MS without
 * work, so an idle loop has one thread whatever the number of back-ends,
 * and a busy one as many as the back-ends whose messages are being handled
 * at once, plus one, at most @max_threads (beyond it, a back-end's message
 * waits for a thread). The threads are named "vhu-cN" and block every
 * signal.
 *
 * Return: 0, -EINVAL (@max_threads over VHU_LOOP_MAX_THREADS), -ENOMEM, or
 * the errno of epoll_create1, eventfd or pthread_create.
 */
VHU_API int vhu_loop_create(unsigned int max_threads, struct vhu_loop **out);

/**
 * vhu_loop_add() - serve @be's control channel on @loop from now on.
 * @end:    called when @be can no longer be served (NULL: nothing); see
 *          vhu_loop_end_fn
 * @opaque: passed to @end
 *
 * @be must have its socket (vhu_backend_listen(), vhu_backend_connect() or
 * vhu_backend_adopt_fd()) and must not be run by vhu_backend_run() nor
 * dispatched by the caller meanwhile.
 *
 * Return: 0, -EBUSY (@be is on a loop already), -ENOTCONN (@be has no
 * socket), -ENOMEM, or the errno of epoll_create1 or epoll_ctl.
 */
VHU_API int vhu_loop_add(struct vhu_loop *loop, struct vhu_backend *be, vhu_loop_end_fn end,
			 void *opaque);

/**
 * vhu_loop_remove() - stop serving @be: it is no longer watched, and once
 * the message a loop thread may be handling for it is done, no loop thread
 * touches it. Then it may be destroyed (vhu_backend_destroy()) or run
 * otherwise. A back-end not on @loop: nothing.
 *
 * The wait is the handling of that one message: a front-end that stops in
 * the middle of a message holds it until it sends the rest or hangs up.
 */
VHU_API void vhu_loop_remove(struct vhu_loop *loop, struct vhu_backend *be);

/** vhu_loop_threads() - how many threads @loop has now (they come and go). */
VHU_API unsigned int vhu_loop_threads(struct vhu_loop *loop);

/**
 * vhu_loop_destroy() - end and join the threads, free @loop (NULL: nothing).
 *
 * Only once every back-end has been removed.
 */
VHU_API void vhu_loop_destroy(struct vhu_loop *loop);

/**
 * vhu_backend_stop() - make vhu_backend_run() return; async-signal-safe and
 * callable from any thread. A stop before vhu_backend_run() makes it return
 * at once.
 */
VHU_API void vhu_backend_stop(struct vhu_backend *be);

/**
 * vhu_backend_config_changed() - tell the front-end the config space changed
 * (BACKEND_CONFIG_CHANGE_MSG on the back-end channel, when negotiated).
 *
 * Any thread may call it, but not queue_kick (a pause would wait for it).
 * With REPLY_ACK the front-end's ack is waited for, at most 5 s. Called from
 * an op while the control thread handles a request, the message goes out
 * right after that request's reply (the front-end is waiting for the reply
 * and would not serve the channel before), and 0 means it was queued.
 *
 * Return: 0; -ENOTCONN (no channel), -ENOTSUP (CONFIG not negotiated),
 * -EIO (the front-end answered failure), -ETIMEDOUT (no ack in time), or a
 * send error. After -ETIMEDOUT or a send error the channel is closed: it is
 * out of step.
 */
VHU_API int vhu_backend_config_changed(struct vhu_backend *be);

/* What vhu_backend_queue_kicks() counts, since the back-end was created. */
struct vhu_kick_counts {
	uint64_t eventfd;  /* kicks read from the ring's kick eventfd */
	uint64_t doorbell; /* kicks found in the ring's host notifier page */
	bool mapped;	   /* the front-end acked a doorbell page for the running ring */
};

/**
 * vhu_backend_queue_kicks() - how the driver's kicks of a queue arrived.
 * @be:    the back-end
 * @index: the queue
 * @out:   filled; counts are cumulative over connections
 *
 * Any thread, at any time (relaxed counters). A busy-polled queue's kick
 * eventfd is read every few rounds to count; a doorbell page holds the last
 * kick until the worker's next round, so kicks that come faster than rounds
 * count as one.
 *
 * Return: 0, or -EINVAL (@index out of range).
 */
VHU_API int vhu_backend_queue_kicks(struct vhu_backend *be, unsigned int index,
				    struct vhu_kick_counts *out);
/*
 * Shared objects and shared memory (spec: "Back-end message types"
 * BACKEND_SHARED_OBJECT_*, BACKEND_SHMEM_*): requests on the back-end
 * channel that wait for the front-end's answer (at most 5 s), so they may
 * not be called from an op on the control thread (-EDEADLK: the front-end
 * waits for our reply and would not serve the channel) nor from queue_kick
 * (a pause would wait for them). Without REPLY_ACK negotiated only LOOKUP,
 * whose answer is always due, reports the front-end's verdict; the others
 * return 0 once sent. After -ETIMEDOUT or a send error the channel is
 * closed: it is out of step.
 *
 * Return (each): 0; -ENOTCONN (no channel); -ENOTSUP (SHARED_OBJECT or
 * SHMEM not negotiated); -EDEADLK (see above); -EIO (the front-end
 * refused); -ETIMEDOUT; -EPROTO (an answer that does not fit); or a send
 * error.
 */

/**
 * vhu_backend_shared_object_add() - BACKEND_SHARED_OBJECT_ADD: the device
 * exports an object under @uuid; the front-end notes this back-end as its
 * exporter and other back-ends may then look it up (the front-end fetches
 * it with GET_SHARED_OBJECT, answered by ops->shared_object_get).
 */
VHU_API int vhu_backend_shared_object_add(struct vhu_backend *be, const uint8_t uuid[16]);

/** vhu_backend_shared_object_remove() - BACKEND_SHARED_OBJECT_REMOVE of @uuid. */
VHU_API int vhu_backend_shared_object_remove(struct vhu_backend *be, const uint8_t uuid[16]);

/**
 * vhu_backend_shared_object_lookup() - BACKEND_SHARED_OBJECT_LOOKUP: an fd
 * of the object exported under @uuid (by any back-end of the front-end).
 * @fd: on success the object's fd, owned by the caller
 *
 * Return: as above; -EIO also when the front-end knows no such object.
 */
VHU_API int vhu_backend_shared_object_lookup(struct vhu_backend *be, const uint8_t uuid[16],
					     int *fd);

/**
 * vhu_backend_shmem_map() - BACKEND_SHMEM_MAP: map @len bytes of @fd from
 * @fd_offset at @shm_offset of shared memory region @shmid, read-write with
 * @writable (VHU_SHMEM_MAP_RW), else read-only.
 * @fd: stays the caller's
 *
 * Checked here first: @shmid declared, @len > 0, offsets and @len page
 * aligned, the range inside the region (-EINVAL).
 */
VHU_API int vhu_backend_shmem_map(struct vhu_backend *be, uint8_t shmid, uint64_t shm_offset,
				  int fd, uint64_t fd_offset, uint64_t len, bool writable);

/**
 * vhu_backend_shmem_unmap() - BACKEND_SHMEM_UNMAP of what one
 * vhu_backend_shmem_map() mapped (same @shmid, @shm_offset and @len).
 */
VHU_API int vhu_backend_shmem_unmap(struct vhu_backend *be, uint8_t shmid, uint64_t shm_offset,
				    uint64_t len);

/**
 * vhu_backend_send_features() - EXPERIMENTAL (vhost-pci): tell the
 * front-end the features the device and its driver settled on, a subset of
 * those the front-end set (SET_FEATURES from the back-end on the main
 * socket, u64 payload, no NEED_REPLY). A front-end that opted in then
 * resets the device and sets them (RESET_DEVICE or RESET_OWNER,
 * SET_FEATURES, the rings again).
 * @features: must hold VHOST_USER_F_PROTOCOL_FEATURES (bit 30) and only
 *            bits of the front-end's last SET_FEATURES
 *
 * Any thread may call it (an op too). The message never goes out between a
 * request the back-end is handling and its reply: then it is queued and
 * sent right after that reply (0 means queued; a later call replaces a
 * queued one). A request the front-end sent meanwhile is answered as
 * usual: the front-end reads whatever comes (the spec's "asynchronous
 * socket read").
 *
 * Return: 0; -ENOTSUP (config.vhost_pci is off, or the front-end set its
 * features without negotiating bit 4); -EAGAIN (not connected, or no
 * SET_FEATURES from the front-end since it connected or reset the device); -EINVAL
 * (bits the front-end did not set, or bit 30 missing); or a send error.
 */
VHU_API int vhu_backend_send_features(struct vhu_backend *be, uint64_t features);

/**
 * vhu_backend_destroy() - stop every queue, close every fd, free @be.
 *
 * Not while vhu_backend_run() runs in another thread: stop it and wait first.
 * The listening socket's path is left in place (vhu_backend_listen() replaces
 * a stale one).
 */
VHU_API void vhu_backend_destroy(struct vhu_backend *be);

#endif /* VHU_BACKEND_H */
