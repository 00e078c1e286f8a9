/* SPDX-License-Identifier: MIT */
#ifndef VHU_FRONTEND_INTERNAL_H
#define VHU_FRONTEND_INTERNAL_H

/*
 * Concepts
 *
 * The front-end's state, shared by frontend.c (connect, negotiate, start,
 * stop), queue.c (each ring's driver side), channel.c (the back-end request channel, served by a
 * thread of its own: see channel.c) and reconnect.c (the inflight region and
 * vhu_frontend_reconnect).
 *
 * A reconnect replaces what belongs to the connection (the socket, the
 * back-end channel, the negotiation with the new back-end) and keeps what
 * belongs to the driver: the shared memory, each ring's memory and
 * bookkeeping (tokens, free descriptors), the kick and call eventfds and
 * the inflight region's fd. The back-end holds none of these in a way that
 * outlives it except through those fds, which we send again.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "frontend/guest_mem.h"
#include "frontend/requests.h"
#include "frontend/rings.h"
#include <vhu/frontend.h>

struct vhu_frontend_queue {
	struct vhu_frontend *fe;
	unsigned int index;
	struct vhu_fe_ring ring;
	struct vhu_fe_ring_mem mem; /* allocated at connect */
	struct vhu_fe_buf *bufs;    /* [max chain]: vhu_frontend_queue_add's scratch */
	int kick_fd, call_fd;
	int err_fd;    /* SET_VRING_ERR: the back-end signals a broken ring */
	bool disabled; /* vhu_frontend_queue_enable(false); kept across a reconnect */
	/* the back-end's host notifier page (notifier.c), NULL: none; swapped by
	 * the channel thread, stored into by the kicking thread, both under db_lock */
	pthread_mutex_t db_lock;
	uint16_t *doorbell;
};

struct vhu_frontend {
	struct vhu_frontend_config cfg;
	char *path; /* cfg.socket_path, copied */
	struct vhu_log log;
	int sock;
	struct vhu_fe_chan ch;
	uint64_t offered, features, protocol;
	bool alive; /* atomic */
	bool started;
	/* the memory went to the back-end on this connection: it keeps it
	 * across a stop and a RESET_DEVICE, and ADD_MEM_REG of a region it
	 * has is an overlap (QEMU diffs against its shadow table) */
	bool mem_shared;
	struct vhu_fe_mem mem;
	struct vhu_frontend_queue *queues;
	int chan_fd; /* our end of the back-end channel */
	pthread_t chan_thread;
	bool chan_running;
	/* GET_INFLIGHT_FD's region (-1: none), kept for SET_INFLIGHT_FD after a
	 * reconnect; never mapped here: only the back-end reads it */
	int inflight_fd;
	struct vhu_inflight inflight; /* as sent with SET_INFLIGHT_FD */

	/* the dirty log while logging (migrate.c), else NULL; dlog_fd its memfd */
	uint64_t *dlog;
	uint64_t dlog_size; /* bytes */
	int dlog_fd;

	/* the IOMMU role (iommu.c): ACCESS_PLATFORM negotiated */
	bool iommu;
	bool locks_init;
	pthread_mutex_t req_lock;   /* ch.lock: the caller's requests and the channel thread's */
	pthread_mutex_t iotlb_lock; /* what follows */
	bool iotlb_no_answer;
	uint64_t held[64]; /* misses held while not answering (vhu_frontend_iotlb_answer) */
	unsigned int nheld;
	struct vhu_fe_map *win; /* FIFO of what is mapped, iotlb_window entries */
	unsigned int win_n, win_head;
	struct vhu_frontend_iotlb_stats stats;

	/* vhost-pci (vhost_pci.c; atomics: the hook may run on the channel
	 * thread): the last SET_FEATURES sent (0: none on this connection), and
	 * the back-end's SET_FEATURES not yet applied (0: none) */
	uint64_t vpci_sent, vpci_pending;

	/* shared objects and memory (shared.c) */
	bool shared_ready;		 /* atomic: requests may come from other threads */
	pthread_mutex_t shm_lock;	 /* what follows; the channel thread maps */
	struct vhu_fe_shm_region *shm;	 /* [VHU_FE_SHM_REGIONS] with SHMEM, else NULL */
	struct vhu_fe_shm_map *shm_maps; /* [VHU_FRONTEND_SHMEM_MAX_MAPS] */
	unsigned int shm_nmaps;
};

/* A VIRTIO shared memory region: reserved at base (NULL: none). */
#define VHU_FE_SHM_REGIONS 256u
struct vhu_fe_shm_region {
	uint8_t *base;
	uint64_t size;
};

/* One BACKEND_SHMEM_MAP in place. */
struct vhu_fe_shm_map {
	uint64_t offset, len;
	uint8_t shmid;
};

/* One range mapped in the back-end's IOTLB (the window). */
struct vhu_fe_map {
	uint64_t iova, size;
};

/* vhost_pci.c: after SET_PROTOCOL_FEATURES: read the back-end's SET_FEATURES if negotiated */
void vhu_fe_vpci_init(struct vhu_frontend *fe);
/* Ring area sizes that fit both formats when a renegotiation may change it. */
void vhu_fe_vpci_ring_sizes(const struct vhu_frontend *fe, bool packed, uint16_t num,
			    uint64_t *desc, uint64_t *avail, uint64_t *used);

/* After negotiation: take the IOMMU role if ACCESS_PLATFORM was negotiated. 0 or -errno. */
int vhu_fe_iommu_init(struct vhu_frontend *fe);
/* After the memory exists: addresses given to the back-end become IOVAs. */
void vhu_fe_iommu_mem(struct vhu_frontend *fe);
void vhu_fe_iommu_fini(struct vhu_frontend *fe);
/* A BACKEND_IOTLB_MSG (channel thread). Return: 0 or why it was refused. */
int vhu_fe_iommu_msg(struct vhu_frontend *fe, const struct vhost_iotlb_msg *m);

/* SET_VRING_ADDR of @q (with the log flag while logging). */
int vhu_frontend_queue_addr(struct vhu_frontend *fe, struct vhu_frontend_queue *q);
/* Unmap and close the log (no-op without one). */
void vhu_fe_log_free(struct vhu_frontend *fe);
/* Forget the connection (socket, channel); the driver's state stays (reconnect.c). */
void vhu_fe_connection_close(struct vhu_frontend *fe);
/* Kick every ring (reconnect.c). */
int vhu_fe_kick_all(struct vhu_frontend *fe);

/* Every request's result: log a failure, and turn a transport error into a dead peer. */
int vhu_fe_req_done(struct vhu_frontend *fe, uint32_t request, int ret);

/* A request with a vring state payload (@index, @num), acked; 0 or -errno. */
int vhu_fe_vring_state(struct vhu_frontend *fe, uint32_t request, unsigned int index, uint32_t num);

/* Send @req through the front-end (NEED_REPLY when acks are on); 0 or -errno. */
int vhu_fe_send_req(struct vhu_frontend *fe, struct vhu_msg *req);

/* SET_BACKEND_REQ_FD with one end of a socketpair; start the thread serving ours. */
int vhu_fe_chan_open(struct vhu_frontend *fe);
/* Stop the thread and close our end (no-op when never opened). */
void vhu_fe_chan_close(struct vhu_frontend *fe);

/* Connect (or accept) on the configured path or fd; the front-end is alive after. */
int vhu_fe_sock_open(struct vhu_frontend *fe);
/*
 * GET_FEATURES .. SET_OWNER. With @again, the features and protocol features
 * negotiated before must all be offered again (else -EPROTO) and are set as
 * they were.
 */
int vhu_fe_negotiate(struct vhu_frontend *fe, bool again);
/*
 * SET_FEATURES, memory, inflight region, rings, enable, DRIVER_OK. With
 * @resume, each ring restarts where the driver's ring memory says the
 * device stood, and the kept inflight region is set without a new GET.
 */
int vhu_fe_device_setup(struct vhu_frontend *fe, bool resume);

/*
 * The inflight region (spec: "Inflight I/O tracking"), when INFLIGHT_SHMFD
 * was negotiated: GET_INFLIGHT_FD unless @resume (a region already kept),
 * then SET_INFLIGHT_FD. A back-end that answers mmap_size 0 has none: 0,
 * and nothing is set. Return: 0 or the request's error.
 */
int vhu_fe_inflight_setup(struct vhu_frontend *fe, bool resume);
/* Close the kept region (no-op without one). */
void vhu_fe_inflight_drop(struct vhu_frontend *fe);

/* notifier.c: BACKEND_VRING_HOST_NOTIFIER_MSG (channel thread). Return: 0 or -errno. */
int vhu_fe_notifier_msg(struct vhu_frontend *fe, struct vhu_msg *msg);
/* notifier.c: a kick into the ring's doorbell page. Return: false if none is mapped. */
bool vhu_fe_notifier_kick(struct vhu_frontend_queue *q);
/* notifier.c: unmap the ring's doorbell page (the ring stopped, or the back-end left). */
void vhu_fe_notifier_drop(struct vhu_frontend_queue *q);
/* shared.c: the lock (frontend_new) and its end (destroy). */
void vhu_fe_shared_init(struct vhu_frontend *fe);
void vhu_fe_shared_fini(struct vhu_frontend *fe);
/* Connected: the front-end takes requests from other threads (shared objects). */
void vhu_fe_shared_ready(struct vhu_frontend *fe);
/* With SHMEM: GET_SHMEM_CONFIG, reserve the regions. 0 or -errno (logged). */
int vhu_fe_shmem_setup(struct vhu_frontend *fe);
/* The connection ends: unmap the regions, drop the table's entries of @fe. */
void vhu_fe_shared_close(struct vhu_frontend *fe);
/*
 * A BACKEND_SHARED_OBJECT_* or BACKEND_SHMEM_* request (channel thread),
 * checked against its row. *@fd: an fd for the answer (LOOKUP), else -1.
 * Return: 0 or why it was refused (logged).
 */
int vhu_fe_chan_shared(struct vhu_frontend *fe, struct vhu_msg *msg, int *fd);

#endif /* VHU_FRONTEND_INTERNAL_H */
