/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_H
#define VHU_FRONTEND_H

/*
 * The driver side of vhost-user: a userspace virtio driver in a plain
 * process, no VM and no hugepages. The front-end connects to a back-end (or
 * waits for one), negotiates, shares memfd-backed "guest" memory, sets up
 * split or packed rings in it, and then submits buffer chains and collects
 * completions like a virtio driver does.
 *
 * Threads: one front-end is used from one thread at a time, except that
 * different queues may be driven from different threads once started
 * (each queue from one thread).
 *
 * A back-end may die and be restarted on the same socket path (spec:
 * "Inflight I/O tracking"): the queue calls then return -ECONNRESET, and
 * vhu_frontend_reconnect() resumes every ring with the new back-end, the
 * chains in flight included when the back-end keeps an inflight region.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vhu/log.h>
#include <vhu/version.h>

struct vhu_frontend;
struct vhu_frontend_queue;

struct vhu_frontend_config {
	const char *socket_path; /* connect to it (client), or listen (server) */
	bool server;		 /* listen on socket_path and wait for the back-end */
	int fd;			 /* or an already connected socket (>= 0: used, owned) */
	unsigned int timeout_ms; /* connect retry / accept wait / reply wait (0: 5000) */
	uint64_t features;	 /* virtio bits wanted; intersected with the offer */
	/* VHU_PROTOCOL_F_* wanted; intersected with the offer and with what the
	 * front-end implements (MQ, REPLY_ACK, BACKEND_REQ, CONFIG,
	 * INFLIGHT_SHMFD, RESET_DEVICE, CONFIGURE_MEM_SLOTS, STATUS,
	 * LOG_SHMFD, DEVICE_STATE, RARP, INBAND_NOTIFICATIONS, SHMEM,
	 * SHARED_OBJECT with a table in objects, HOST_NOTIFIER and
	 * BACKEND_SEND_FD only with host_notifiers); ~0: all of those */
	uint64_t protocol_features;
	uint16_t num_queues; /* rings to set up (<= the back-end's GET_QUEUE_NUM; 0: 1) */
	uint16_t queue_size; /* entries per ring (split: a power of two; 0: 256) */
	/* bytes for vhu_frontend_alloc() (0: 1 MiB); the rings and indirect
	 * tables are allocated on top of it */
	uint64_t mem_size;
	const struct vhu_log *log; /* NULL: stderr at INFO, prefixed with socket_path */
	/* back-end requests: BACKEND_CONFIG_CHANGE_MSG (optional). Called on the
	 * front-end's channel thread, not the caller's. */
	void (*config_changed)(void *opaque);
	void *opaque;
	/*
	 * The IOMMU role: with VIRTIO_F_ACCESS_PLATFORM (bit 33) wanted and
	 * offered, the front-end plays the guest's IOMMU. Rings and buffers are
	 * given to the back-end as IOVAs, which differ from the memory's gpa and
	 * from our addresses, and none is mapped until the back-end misses on it
	 * (BACKEND_IOTLB_MSG MISS, served on the channel thread): then an
	 * IOTLB_MSG UPDATE maps the iotlb_page bytes around it (0: 4096) for
	 * reading and writing. It needs BACKEND_REQ and REPLY_ACK (as QEMU).
	 */
	uint32_t iotlb_page;
	/* most entries mapped at once (0: no bound); past it the oldest is
	 * invalidated first. Must hold what one request needs at once: the
	 * ring areas, a table and its buffers, page by page. */
	uint32_t iotlb_window;
	/*
	 * In-band notifications (spec: "In-band notifications"), for setups
	 * without eventfds: when the back-end offers INBAND_NOTIFICATIONS (with
	 * BACKEND_REQ and REPLY_ACK, which it needs), the rings get no kick,
	 * call or err fd (SET_VRING_* with NOFD), vhu_frontend_queue_kick()
	 * sends VRING_KICK and waits for its ack, and the back-end's
	 * BACKEND_VRING_CALL / _ERR wake vhu_frontend_queue_wait() and
	 * vhu_frontend_queue_broken(). Off by default: a message per kick and
	 * per call costs far more than an eventfd.
	 */
	bool inband_notifications;
	/*
	 * Host notifiers (spec: "Host notifiers"): when the back-end offers
	 * HOST_NOTIFIER and BACKEND_SEND_FD (with BACKEND_REQ and REPLY_ACK),
	 * both are negotiated and each BACKEND_VRING_HOST_NOTIFIER_MSG maps a
	 * page the back-end polls: vhu_frontend_queue_kick() then stores the
	 * ring's index into it instead of writing the kick eventfd, until the
	 * back-end takes it back (NOFD) or the ring stops. The page must be one
	 * page of a file sealed against shrinking (F_SEAL_SHRINK), else it is
	 * refused. Off by default (protocol_features ~0 does not ask for it).
	 */
	bool host_notifiers;
	/*
	 * Shared objects (protocol feature SHARED_OBJECT, negotiated only with
	 * a table here): the back-end's BACKEND_SHARED_OBJECT_ADD / _REMOVE
	 * note or drop this front-end as the exporter of a UUID in @objects,
	 * and its _LOOKUP is answered with the object's fd, fetched with
	 * GET_SHARED_OBJECT from whichever front-end of the table exported it
	 * (QEMU's process-wide table, here one the caller shares between the
	 * front-ends it wants to share objects). See vhu_frontend_objects_create().
	 */
	struct vhu_frontend_objects *objects;
	/*
	 * EXPERIMENTAL (the unmerged vhost-pci revision of the spec; off in a
	 * zeroed config): protocol bit 4 is asked for as VHOST_PCI (upstream
	 * and QEMU read it as NET_MTU: only for a back-end that opted in too,
	 * vhu_backend_config.vhost_pci). When negotiated, the back-end may
	 * send SET_FEATURES on the main socket once the front-end set its
	 * features; it is read wherever it comes (also between a request and
	 * its reply) and applied by vhu_frontend_poll(). Rings are laid out
	 * so that either format fits after a renegotiation.
	 */
	bool vhost_pci;
	/* vhost-pci: the device was reset and set up with @features (bit 30
	 * included) by vhu_frontend_poll(), on the caller's thread (optional) */
	void (*features_changed)(void *opaque, uint64_t features);
};

/**
 * vhu_frontend_connect() - connect and negotiate, ready to start.
 * @config: copied
 * @out:    the new front-end
 *
 * Connects (retrying until timeout_ms), asks GET_FEATURES, negotiates
 * protocol features (always adding REPLY_ACK when offered, so every request
 * is confirmed), SET_OWNER, checks num_queues against GET_QUEUE_NUM (with MQ),
 * opens the back-end request channel when BACKEND_REQ was negotiated, and
 * allocates the shared memory (memfd; fails clearly if it cannot be shared).
 *
 * Transport errors of any request (the back-end closed: -ECONNRESET, also
 * for -EPIPE; or no reply within timeout_ms: -ETIMEDOUT, as the stream is
 * then out of step) mark the front-end dead (vhu_frontend_alive()); every
 * later request fails at once with -ECONNRESET.
 *
 * Return: 0, -EINVAL (bad @config; a split queue_size not a power of two),
 * -ENOENT/-ECONNREFUSED/-ETIMEDOUT (no back-end; the log names the path),
 * -EPROTO (a reply that does not fit its row), -EIO (the back-end refused a
 * request), -ENOTSUP (num_queues over the back-end's), -ENOMEM, or the
 * errno of memfd_create/ftruncate/mmap (logged). @config->fd, when >= 0, is
 * owned from the call on, also when it fails.
 */
VHU_API int vhu_frontend_connect(const struct vhu_frontend_config *config,
				 struct vhu_frontend **out);

/** vhu_frontend_features() - the virtio features negotiated (offered & wanted). */
VHU_API uint64_t vhu_frontend_features(const struct vhu_frontend *fe);

/** vhu_frontend_offered_features() - what the back-end offered (GET_FEATURES). */
VHU_API uint64_t vhu_frontend_offered_features(const struct vhu_frontend *fe);

/** vhu_frontend_protocol_features() - the protocol features negotiated. */
VHU_API uint64_t vhu_frontend_protocol_features(const struct vhu_frontend *fe);

/**
 * vhu_frontend_get_config() / vhu_frontend_set_config() - device config space.
 *
 * Return: 0, -ENOTSUP (CONFIG not negotiated), -EIO (the back-end refused),
 * or a transport error.
 */
VHU_API int vhu_frontend_get_config(struct vhu_frontend *fe, uint32_t offset, void *buf,
				    uint32_t size);
VHU_API int vhu_frontend_set_config(struct vhu_frontend *fe, uint32_t offset, const void *buf,
				    uint32_t size);

/**
 * vhu_frontend_alloc() - carve @size bytes aligned to @align (a power of two)
 * out of the shared memory, for request headers and data buffers.
 *
 * Return: the pointer, or NULL when the memory is exhausted. Freed only with
 * the front-end.
 */
VHU_API void *vhu_frontend_alloc(struct vhu_frontend *fe, uint64_t size, uint64_t align);

/**
 * vhu_frontend_start() - SET_FEATURES, share the memory (ADD_MEM_REG when
 * CONFIGURE_MEM_SLOTS was negotiated, else SET_MEM_TABLE), with
 * INFLIGHT_SHMFD ask the back-end's inflight region (GET_INFLIGHT_FD) and
 * set it (SET_INFLIGHT_FD; a region of size 0 means none, and the start
 * goes on without), create each ring in it (SET_VRING_NUM/BASE/ADDR, kick
 * and call eventfds), and enable it.
 *
 * Return: 0, or the first request that failed (its errno; the log names it).
 */
VHU_API int vhu_frontend_start(struct vhu_frontend *fe);

/** vhu_frontend_queue() - ring @index once started; NULL if out of range. */
VHU_API struct vhu_frontend_queue *vhu_frontend_queue(struct vhu_frontend *fe, unsigned int index);

/**
 * vhu_frontend_queue_enable() - enable or disable a started ring at run time
 * (SET_VRING_ENABLE; dynamic multiqueue, as a guest changing its number of
 * queue pairs makes QEMU do). A disabled ring keeps its chains: the back-end
 * takes none until it is enabled again, then goes on where it stopped. The
 * choice survives vhu_frontend_reconnect(); vhu_frontend_start() enables
 * every ring.
 * @q:      from vhu_frontend_queue()
 * @enable: true to enable
 *
 * Return: 0; -ENOTSUP (VHOST_USER_F_PROTOCOL_FEATURES not offered: rings are
 * then always enabled); -ECONNRESET; -EIO (the back-end refused); -EPROTO.
 */
VHU_API int vhu_frontend_queue_enable(struct vhu_frontend_queue *q, bool enable);

/**
 * vhu_frontend_queue_broken() - whether the back-end said the ring broke.
 * Every ring is given an error eventfd (SET_VRING_ERR, as QEMU does); a
 * back-end signals it when it finds the ring unusable (a driver error),
 * after which it takes nothing more from it. The signal stays until the
 * ring is set up again (vhu_frontend_start()).
 * @q: from vhu_frontend_queue()
 *
 * Return: true once the back-end signalled the ring's error eventfd.
 */
VHU_API bool vhu_frontend_queue_broken(struct vhu_frontend_queue *q);

/**
 * vhu_frontend_queue_add() - make one buffer chain available (not yet published).
 * @q:     the ring
 * @out:   device-readable buffers (pointers from vhu_frontend_alloc memory)
 * @nout:  how many
 * @in:    device-writable buffers
 * @nin:   how many
 * @token: returned with the completion
 *
 * A chain of more than one descriptor goes through an indirect table (of at
 * most 64 entries) when VIRTIO_RING_F_INDIRECT_DESC was negotiated. Split
 * rings publish at vhu_frontend_queue_kick(); a packed chain is visible to the
 * device at once (the layout has no separate index), the kick only wakes it.
 *
 * Return: 0, -ENOSPC (the ring is full: collect completions first),
 * -EFAULT (a buffer outside the shared memory), -EINVAL (no buffers, or more
 * than the ring can ever hold) or -EIO (the ring broke: see get).
 */
VHU_API int vhu_frontend_queue_add(struct vhu_frontend_queue *q, const struct iovec *out,
				   unsigned int nout, const struct iovec *in, unsigned int nin,
				   void *token);

/**
 * vhu_frontend_queue_kick() - publish what was added and kick the back-end, unless
 * it asked not to be (event idx or flags).
 *
 * Return: 1 if the back-end was kicked (the kick eventfd written, its host
 * notifier page stored into, or VRING_KICK acked), 0 if suppressed, or -errno.
 */
VHU_API int vhu_frontend_queue_kick(struct vhu_frontend_queue *q);

/**
 * vhu_frontend_queue_has_doorbell() - whether kicks of @q go to the back-end's
 * host notifier page now (config.host_notifiers), rather than its eventfd.
 */
VHU_API bool vhu_frontend_queue_has_doorbell(struct vhu_frontend_queue *q);

/**
 * vhu_frontend_queue_get() - take one completion.
 * @token: the token given to vhu_frontend_queue_add()
 * @len:   bytes the back-end says it wrote
 *
 * Completions the back-end wrote before it died are still returned; once
 * there are none, a dead back-end is reported.
 *
 * Return: 1 with a completion, 0 if none, -ECONNRESET if none and the
 * back-end is gone (vhu_frontend_reconnect()), -EPROTO if the back-end
 * returned an id that is not in flight (the ring is then unusable).
 */
VHU_API int vhu_frontend_queue_get(struct vhu_frontend_queue *q, void **token, uint32_t *len);

/**
 * vhu_frontend_queue_wait() - sleep until the back-end signals the call eventfd
 * (after re-enabling interrupts and re-checking the used ring), up to
 * @timeout_ms (-1: forever).
 *
 * Return: 1 when completions may be there, 0 on timeout, -ECONNRESET if the
 * back-end went away (at once when it is already known to be gone), or -errno.
 */
VHU_API int vhu_frontend_queue_wait(struct vhu_frontend_queue *q, int timeout_ms);

/**
 * vhu_frontend_queue_ring_mem() - the ring's three areas in the shared memory:
 * [0] the descriptors, [1] the driver area (split: avail ring; packed:
 * driver event), [2] the device area (split: used ring; packed: device
 * event). A split device writes [2]; a packed one [0] and [2].
 */
VHU_API void vhu_frontend_queue_ring_mem(const struct vhu_frontend_queue *q, struct iovec areas[3]);

/** vhu_frontend_queue_num_free() - descriptors free for vhu_frontend_queue_add(). */
VHU_API unsigned int vhu_frontend_queue_num_free(const struct vhu_frontend_queue *q);

/**
 * vhu_frontend_stop() - GET_VRING_BASE every ring (the back-end stops them).
 *
 * Return: 0 or the first error.
 */
VHU_API int vhu_frontend_stop(struct vhu_frontend *fe);

/**
 * vhu_frontend_reset() - reset the device, as a guest's virtio reset makes
 * QEMU do: vhu_frontend_stop() if started, then RESET_DEVICE when it was
 * negotiated, else RESET_OWNER (deprecated by the spec, but what QEMU sends
 * then). The back-end forgets the negotiated features, the rings and its
 * inflight region; the connection, its protocol features and the memory
 * stay. vhu_frontend_start() sets the device up again from fresh rings.
 *
 * Return: 0; -ECONNRESET (no back-end); -EIO (it refused); -EPROTO (a reply
 * that does not fit: the connection is closed); or an error of the stop.
 */
VHU_API int vhu_frontend_reset(struct vhu_frontend *fe);

/**
 * vhu_frontend_poll() - EXPERIMENTAL (vhost-pci): the front-end's
 * asynchronous read of its main socket. Waits up to @timeout_ms (0: does
 * not wait) for a message of the back-end's, reads it, and applies a
 * SET_FEATURES from the back-end (read now or stashed by an earlier call
 * that found it before its reply): its bits must all be among those the
 * front-end set, with bit 30, and ACCESS_PLATFORM as it was; then, unless
 * they are the features already set, the device is reset
 * (vhu_frontend_reset(): RESET_DEVICE, or RESET_OWNER without it), the
 * features become those bits (vhu_frontend_features()), and a started
 * device starts again from fresh rings (vhu_frontend_start(): the chains
 * in flight are dropped, as by a guest's reset); then features_changed is
 * called. Anything else the back-end sends, a SET_FEATURES before the
 * front-end's own or with other bits, flags or size, is a protocol error:
 * logged, and the connection is shut down (-EPROTO, as a malformed reply).
 *
 * Return: 1 when the device was renegotiated; 0 when nothing was to do;
 * -ENOTSUP (vhost_pci not negotiated); -ECONNRESET; -EPROTO; or an error
 * of the reset or the start.
 */
VHU_API int vhu_frontend_poll(struct vhu_frontend *fe, int timeout_ms);

/**
 * vhu_frontend_send_rarp() - SEND_RARP: after a migration, have a network
 * back-end announce the guest's @mac (a RARP broadcast, so that switches
 * learn where it went), as QEMU does for a guest without GUEST_ANNOUNCE.
 *
 * Return: 0; -ENOTSUP (RARP not negotiated); -ECONNRESET; -EIO (refused).
 */
VHU_API int vhu_frontend_send_rarp(struct vhu_frontend *fe, const uint8_t mac[6]);

/**
 * vhu_frontend_alive() - false once the back-end closed the connection, or
 * once a reply did not fit its row (wrong size, fds, request or flags): the
 * stream is then out of step, so the front-end shuts the connection down
 * itself, the call that got the reply returns -EPROTO, and
 * vhu_frontend_reconnect() may follow.
 */
VHU_API bool vhu_frontend_alive(struct vhu_frontend *fe);

/**
 * vhu_frontend_reconnect() - carry on with a new back-end after the old one
 * died (vhu_frontend_alive() false), or when the caller decides to.
 * @fe: a front-end made with a socket_path (an adopted fd cannot be reopened)
 *
 * Closes the old connection and its back-end channel, connects again to
 * socket_path (retrying until timeout_ms while the back-end restarts; in
 * server mode, listens and waits that long for it), and negotiates the same
 * features and protocol features as before, then SET_OWNER. If the front-end
 * was started: SET_FEATURES, the same memory shared again, SET_INFLIGHT_FD
 * with the region kept from vhu_frontend_start() (no new GET), and every
 * ring restarted where it stands (SET_VRING_NUM; SET_VRING_BASE: split, the
 * used index in the used ring, as QEMU sends after a crash; packed, the
 * slot and wrap counter of the device's next used descriptor, both halves;
 * a back-end with an inflight region takes its own position from it;
 * SET_VRING_ADDR; the same kick and call eventfds), enabled, and kicked.
 *
 * Chains in flight stay in flight: the driver's tokens and free descriptors
 * are untouched, and a back-end with inflight tracking resubmits them, so
 * their completions arrive through vhu_frontend_queue_get() as usual. Without a
 * region, chains the old back-end had taken may never complete. Chains
 * added since the last vhu_frontend_queue_kick() are published by the next one,
 * as always: call it after reconnecting.
 *
 * Threads: the control thread, while no other thread is inside a
 * vhu_frontend_queue_*() call of this front-end (park the queue threads when they
 * see -ECONNRESET). After a failure the front-end is dead again and the call
 * may be repeated.
 *
 * Return: 0; -ENOTSUP (no socket_path); -ENOENT/-ECONNREFUSED/-ETIMEDOUT (no
 * back-end came back in time); -ECONNRESET (the new back-end died too);
 * -EPROTO (it offers less than was negotiated, or a reply that does not fit
 * its row); -EIO (it refused a request); or -errno.
 */
VHU_API int vhu_frontend_reconnect(struct vhu_frontend *fe);

/* ---- live migration ------------------------------------------------------ */

/**
 * vhu_frontend_log_start() - start dirty-page logging (as QEMU does when a
 * migration starts): a log covering the shared memory (a sealed memfd),
 * SET_LOG_BASE, SET_FEATURES with VHOST_F_LOG_ALL, and every ring's
 * addresses again with VHOST_VRING_F_LOG.
 *
 * Needs LOG_SHMFD among the protocol features asked for and offered, and a
 * started front-end.
 *
 * Return: 0, -ENOTSUP (LOG_SHMFD or VHOST_F_LOG_ALL not negotiated/offered),
 * -EINVAL (not started), -EALREADY, or a request's error.
 */
VHU_API int vhu_frontend_log_start(struct vhu_frontend *fe);

/**
 * vhu_frontend_log_read() - take the pages marked since the last read.
 * @bitmap: one bit per 4 KiB page of the shared memory (vhu_frontend_alloc()'s
 *          and the rings'), bit (page % 8) of byte page / 8, page 0 at
 *          vhu_frontend_mem_base(); marks are ORed in
 * @bytes:  its size; pages past it are cleared from the log but not reported
 *
 * Each word of the log is exchanged with 0 atomically, so a mark the
 * back-end sets meanwhile is either taken now or by the next read.
 *
 * Return: the number of pages marked (>= 0), or -EINVAL without a log.
 */
VHU_API long vhu_frontend_log_read(struct vhu_frontend *fe, uint8_t *bitmap, size_t bytes);

/**
 * vhu_frontend_log_stop() - VHOST_F_LOG_ALL off, the rings without the log
 * flag; the log is freed (read it first).
 * Return: 0 or a request's error (the log is freed anyway).
 */
VHU_API int vhu_frontend_log_stop(struct vhu_frontend *fe);

/**
 * vhu_frontend_mem_base() / vhu_frontend_mem_size() - the shared memory, as
 * the log's pages count it.
 */
VHU_API void *vhu_frontend_mem_base(const struct vhu_frontend *fe);
VHU_API uint64_t vhu_frontend_mem_size(const struct vhu_frontend *fe);

/**
 * vhu_frontend_migrate() - hand the running device to another back-end
 * instance (the switch-over of a migration): GET_VRING_BASE on every ring
 * (the back-end stops them, finishing what it holds), then connect to
 * @socket_path, negotiate the same features, share the same memory and
 * start every ring at the base the old back-end returned, and kick each.
 * With DEVICE_STATE negotiated, the device's own state moves too
 * (SET_DEVICE_STATE_FD SAVE and CHECK_DEVICE_STATE on the source once its
 * rings stopped, LOAD and CHECK on the destination before they start).
 * The old connection is closed; logging, if on, ends with it.
 *
 * Return: 0; -EINVAL (not started, or no path); -ENOTSUP (the front-end was
 * made from an fd); errors as vhu_frontend_reconnect(). After a failure the
 * front-end is dead (vhu_frontend_reconnect() tries the new path again).
 */
VHU_API int vhu_frontend_migrate(struct vhu_frontend *fe, const char *socket_path);

/* ---- behind a virtual IOMMU (issue 17) ----------------------------------- */

/* What the IOMMU role did (vhu_frontend_iotlb_stats). */
struct vhu_frontend_iotlb_stats {
	uint64_t misses;       /* BACKEND_IOTLB_MSG MISS received */
	uint64_t unanswered;   /* misses left unanswered (vhu_frontend_iotlb_answer, bad iova) */
	uint64_t updates;      /* UPDATEs sent */
	uint64_t invalidates;  /* INVALIDATEs sent */
	uint64_t access_fails; /* BACKEND_IOTLB_MSG ACCESS_FAIL received */
};

/** vhu_frontend_iommu() - whether the front-end plays the IOMMU (ACCESS_PLATFORM negotiated). */
VHU_API bool vhu_frontend_iommu(const struct vhu_frontend *fe);

/**
 * vhu_frontend_iotlb_map() - map [p, p + size) of the shared memory now.
 * @perm: VHOST_ACCESS_RO, _WO or _RW (a wrong one is sent as is: tests)
 *
 * The range's IOVA is mapped to it with @perm (one UPDATE), as if the
 * back-end had missed on it; counts toward iotlb_window.
 * Return: 0, -EINVAL (not the IOMMU role), -EFAULT (not in the memory) or
 * the request's error (-EIO: the back-end refused it).
 */
VHU_API int vhu_frontend_iotlb_map(struct vhu_frontend *fe, const void *p, uint64_t size,
				   uint8_t perm);

/**
 * vhu_frontend_iotlb_invalidate() - IOTLB_MSG INVALIDATE of [iova, iova + size).
 * @size: 0: from @iova to the end of the space
 *
 * May be called at any time, from any thread, while queues run. Once it
 * returns, the back-end fetches nothing more through that range without
 * missing again.
 * Return: 0, -EINVAL (not the IOMMU role) or the request's error.
 */
VHU_API int vhu_frontend_iotlb_invalidate(struct vhu_frontend *fe, uint64_t iova, uint64_t size);

/** vhu_frontend_iova() - the IOVA (or, without the IOMMU role, the gpa) of @p; 0 if outside. */
VHU_API uint64_t vhu_frontend_iova(const struct vhu_frontend *fe, const void *p);

/**
 * vhu_frontend_iotlb_answer() - answer misses (the default), or hold them.
 *
 * Held misses (up to 64; more are dropped) are answered when answering is
 * turned on again: a late answer. A miss dropped is never answered.
 */
VHU_API void vhu_frontend_iotlb_answer(struct vhu_frontend *fe, bool answer);

/** vhu_frontend_iotlb_stats() - what the IOMMU role did so far. */
VHU_API void vhu_frontend_iotlb_stats(struct vhu_frontend *fe,
				      struct vhu_frontend_iotlb_stats *out);

/* ---- the vhost-user-gpu display (issue 18) ------------------------------- */

/*
 * The front-end plays the display of a GPU back-end as a VMM does: it hands
 * the back-end a socket (VHOST_USER_GPU_SET_SOCKET) and serves it on a
 * thread of its own: protocol features, display info, EDIDs, scanouts,
 * updates and the cursor (<vhu/gpu.h>). The pixels of each scanout are kept
 * here, in PIXMAN_x8r8g8b8, for the caller to look at.
 */
struct vhu_frontend_gpu;

/* The most bytes one scanout may take here: a SCANOUT asking for more fails. */
#define VHU_FRONTEND_GPU_MAX_SCANOUT_BYTES (256u << 20)

struct vhu_frontend_gpu_config {
	uint32_t num_scanouts; /* displays, 1..16 (0: 1) */
	/* each display's preferred size (GET_DISPLAY_INFO, the EDID); 0: 1024x768 */
	struct {
		uint32_t width, height;
	} modes[16];
	/* VHU_GPU_PROTOCOL_F_* offered: EDID (DMABUF2 is not implemented) */
	uint64_t protocol_features;
};

/* A copy of one scanout. */
struct vhu_frontend_gpu_image {
	uint32_t width, height; /* 0: disabled */
	uint32_t *pixels;	/* width * height, PIXMAN_x8r8g8b8; the caller frees it */
	uint64_t updates;	/* UPDATEs that drew into it */
};

struct vhu_frontend_gpu_cursor {
	bool defined; /* a CURSOR_UPDATE came */
	bool visible; /* the last message was not CURSOR_POS_HIDE */
	uint32_t scanout_id, x, y, hot_x, hot_y;
	uint32_t data[64 * 64];	 /* PIXMAN_a8r8g8b8 */
	uint64_t moves, updates; /* CURSOR_POS(_HIDE) and CURSOR_UPDATE messages */
};

struct vhu_frontend_gpu_stats {
	uint64_t messages;	    /* requests handled */
	uint64_t updates;	    /* UPDATE messages drawn */
	uint64_t update_bytes;	    /* their pixel bytes */
	uint64_t errors;	    /* requests refused (logged) */
	uint64_t protocol_features; /* what SET_PROTOCOL_FEATURES chose */
	bool protocol_set;	    /* SET_PROTOCOL_FEATURES came */
	bool closed;		    /* the socket ended (peer gone, or a malformed message) */
};

/**
 * vhu_frontend_gpu_attach() - give the back-end its GPU socket and serve it.
 * @fe:     a connected front-end whose back-end is a GPU; before
 *          vhu_frontend_start(), as QEMU does before it starts the rings
 * @config: the display
 * @out:    the display, until vhu_frontend_gpu_detach()
 *
 * Return: 0, -EINVAL (@config), -ENOMEM, or the error of
 * VHOST_USER_GPU_SET_SOCKET (-ENOTSUP: not a GPU back-end, with REPLY_ACK).
 */
VHU_API int vhu_frontend_gpu_attach(struct vhu_frontend *fe,
				    const struct vhu_frontend_gpu_config *config,
				    struct vhu_frontend_gpu **out);

/**
 * vhu_frontend_gpu_sync() - wait until every message the back-end has sent
 * so far is handled (call it after the command's response came).
 * @timeout_ms: at most this long
 *
 * Return: 0, -ETIMEDOUT, or -ECONNRESET once the socket has ended.
 */
VHU_API int vhu_frontend_gpu_sync(struct vhu_frontend_gpu *g, int timeout_ms);

/**
 * vhu_frontend_gpu_scanout() - a copy of what scanout @id shows.
 *
 * Return: 0, -EINVAL (no such scanout) or -ENOMEM.
 */
VHU_API int vhu_frontend_gpu_scanout(struct vhu_frontend_gpu *g, uint32_t id,
				     struct vhu_frontend_gpu_image *out);

/** vhu_frontend_gpu_cursor() - the cursor as the back-end last set it. */
VHU_API void vhu_frontend_gpu_cursor(struct vhu_frontend_gpu *g,
				     struct vhu_frontend_gpu_cursor *out);

/** vhu_frontend_gpu_stats() - what the display served so far. */
VHU_API void vhu_frontend_gpu_stats(struct vhu_frontend_gpu *g, struct vhu_frontend_gpu_stats *out);

/** vhu_frontend_gpu_detach() - stop serving, close the socket, free @g (NULL: nothing). */
VHU_API void vhu_frontend_gpu_detach(struct vhu_frontend_gpu *g);

/** vhu_frontend_destroy() - close everything and unmap the memory. */
VHU_API void vhu_frontend_destroy(struct vhu_frontend *fe);

/*
 * Shared objects (spec: "GET_SHARED_OBJECT", "BACKEND_SHARED_OBJECT_*").
 * A table maps a UUID to the front-end whose back-end exported it; entries
 * come and go with the back-ends' ADD and REMOVE (a REMOVE by another
 * back-end than the exporter fails), and a front-end's entries go when its
 * connection does (disconnect, reconnect, destroy). The table is locked: its
 * front-ends' channel threads use it at once.
 */
struct vhu_frontend_objects;

/* The most UUIDs one table holds; an ADD past it fails. */
#define VHU_FRONTEND_OBJECTS_MAX 4096u

/** vhu_frontend_objects_create() - an empty table. Return: 0 or -ENOMEM. */
VHU_API int vhu_frontend_objects_create(struct vhu_frontend_objects **out);

/** vhu_frontend_objects_destroy() - free @objs (NULL: nothing), once no front-end uses it. */
VHU_API void vhu_frontend_objects_destroy(struct vhu_frontend_objects *objs);

/** vhu_frontend_objects_count() - how many UUIDs @objs holds now. */
VHU_API unsigned int vhu_frontend_objects_count(struct vhu_frontend_objects *objs);

/**
 * vhu_frontend_objects_get() - an fd of the object exported under @uuid:
 * GET_SHARED_OBJECT to the back-end that exported it.
 * @fd: on success, owned by the caller
 *
 * Return: 0, -ENOENT (no such UUID), -EIO (the exporter refused), or an
 * error of the request (-ECONNRESET, -ETIMEDOUT, -EPROTO).
 */
VHU_API int vhu_frontend_objects_get(struct vhu_frontend_objects *objs, const uint8_t uuid[16],
				     int *fd);

/**
 * vhu_frontend_shared_object_get() - GET_SHARED_OBJECT of @uuid to @fe's back-end.
 *
 * Return: as vhu_frontend_objects_get(); -ENOTSUP without SHARED_OBJECT.
 */
VHU_API int vhu_frontend_shared_object_get(struct vhu_frontend *fe, const uint8_t uuid[16],
					   int *fd);

/*
 * VIRTIO shared memory (spec: "GET_SHMEM_CONFIG", "BACKEND_SHMEM_MAP"; the
 * SHMEM protocol feature, wanted in protocol_features: bit 22 as in QEMU
 * master). After negotiation the front-end asks GET_SHMEM_CONFIG and
 * reserves each region in its address space (PROT_NONE, no memory). The
 * back-end's BACKEND_SHMEM_MAP maps its fd over part of a region (MAP_FIXED,
 * after checking shmid, flags, page alignment, overflow, bounds, overlap
 * with what is mapped, and a regular file's size), BACKEND_SHMEM_UNMAP
 * returns exactly one such mapping to the reservation; every region goes
 * with the connection.
 */

/* The most bytes of shared memory regions a back-end may make us reserve. */
#define VHU_FRONTEND_SHMEM_MAX_SIZE (1ull << 36)
/* The most mappings at once, over every region; a MAP past it fails. */
#define VHU_FRONTEND_SHMEM_MAX_MAPS 1024u

/**
 * vhu_frontend_shmem_size() - the size of region @shmid (0: none).
 */
VHU_API uint64_t vhu_frontend_shmem_size(struct vhu_frontend *fe, uint8_t shmid);

/** vhu_frontend_shmem_maps() - how many mappings the back-end has in place now. */
VHU_API unsigned int vhu_frontend_shmem_maps(struct vhu_frontend *fe);

/**
 * vhu_frontend_shmem_read() - copy @len bytes at @offset of region @shmid.
 *
 * Return: 0, or -EFAULT when any byte is not mapped by the back-end now
 * (-ENOENT: no such region).
 */
VHU_API int vhu_frontend_shmem_read(struct vhu_frontend *fe, uint8_t shmid, uint64_t offset,
				    void *buf, size_t len);

/*
 * A bare connection: one request at a time, exactly what the caller asks,
 * nothing negotiated or set up behind its back. For tools that question a
 * back-end without driving it (vhu-probe) and for conformance checks. Each
 * reply is checked against the request's row of the wire table before the
 * caller sees it. Not for a device: use vhu_frontend_connect().
 */
struct vhu_frontend_conn;

/**
 * vhu_frontend_conn_open() - connect to @socket_path (one attempt).
 * @timeout_ms: the longest wait for each reply (0: 5000)
 * Return: 0 and *@out, or the connect error (-ENOENT, -ECONNREFUSED, ...),
 * -ENOMEM.
 */
VHU_API int vhu_frontend_conn_open(const char *socket_path, unsigned int timeout_ms,
				   struct vhu_frontend_conn **out);

/**
 * vhu_frontend_conn_get_u64() - a request with no payload that answers a u64
 * (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS).
 * Return: 0, -EINVAL (@request answers no u64), -EAGAIN (no reply in time),
 * -ECONNRESET/-EPIPE (the back-end closed), -EPROTO/-EBADMSG (a reply that
 * does not fit the request).
 */
VHU_API int vhu_frontend_conn_get_u64(struct vhu_frontend_conn *c, uint32_t request,
				      uint64_t *value);

/**
 * vhu_frontend_conn_set_u64() - a request whose payload is one u64
 * (SET_FEATURES, SET_PROTOCOL_FEATURES ...), acked when REPLY_ACK was set
 * with SET_PROTOCOL_FEATURES on this connection.
 * Return: 0, -EINVAL (@request takes no u64), -EIO (a non-zero ack), or an
 * error of vhu_frontend_conn_get_u64().
 */
VHU_API int vhu_frontend_conn_set_u64(struct vhu_frontend_conn *c, uint32_t request,
				      uint64_t value);

/**
 * vhu_frontend_conn_get_config() - GET_CONFIG of @size bytes at @offset.
 * Return: 0, -EINVAL (size over VHU_MAX_CONFIG_SIZE), -EIO (the back-end
 * reported failure), or an error as above.
 */
VHU_API int vhu_frontend_conn_get_config(struct vhu_frontend_conn *c, uint32_t offset,
					 uint32_t size, void *buf);

/** vhu_frontend_conn_error() - what the last failed request found wrong, or NULL. */
VHU_API const char *vhu_frontend_conn_error(const struct vhu_frontend_conn *c);

/** vhu_frontend_conn_close() - close the connection and free @c (NULL: nothing). */
VHU_API void vhu_frontend_conn_close(struct vhu_frontend_conn *c);

#endif /* VHU_FRONTEND_H */
