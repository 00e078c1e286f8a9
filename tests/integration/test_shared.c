/* SPDX-License-Identifier: MIT */
/*
 * Shared objects and VIRTIO shared memory, vhu front-end against vhu
 * back-end (protocol features SHARED_OBJECT and SHMEM): two back-ends, one
 * exports a memfd under a UUID and the other looks it up through the
 * front-ends' shared table; a back-end maps a memfd into a shared memory
 * region and the front-end reads its bytes. Then every refusal the
 * front-end owes a hostile back-end (raw messages on the back-end channel),
 * each failing alone, with open fds and memfd mappings counted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/leakcheck.h"
#include "backend/backend.h"
#include "transport/transport.h"
#include <vhu/backend.h>
#include <vhu/frontend.h>

#define MEMFD_NAME "vhu-shared-test"
#define REGION0 (1u << 20)
#define REGION2 (64u << 10)
#define PAGE 4096u

static const uint8_t uuid_a[16] = { 0xa1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uuid_b[16] = { 0xb2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uuid_self[16] = { 0x5e, 1 };

struct dev {
	struct vhu_backend *be;
	pthread_t thread;
	char dir[64], path[128];
	int object_fd;	   /* what shared_object_get exports under uuid_a (-1: nothing) */
	int deadlock_ret;  /* a channel request from the op, on the control thread */
	unsigned int gets; /* shared_object_get calls (atomic) */
	struct vhu_frontend *fe;
};

static void quiet(void *opaque, enum vhu_log_level level, const char *prefix, const char *text)
{
	(void)opaque;
	(void)level;
	if (getenv("VHU_TEST_VERBOSE"))
		fprintf(stderr, "[%s] %s\n", prefix, text);
}

static const struct vhu_log quiet_log = { .fn = quiet, .level = VHU_LOG_DEBUG };

static uint64_t dev_features(void *dev)
{
	(void)dev;
	return 1ull << 32; /* VERSION_1 */
}

static void dev_kick(void *dev, struct vhu_vq *vq)
{
	(void)dev;
	(void)vq;
}

static int dev_object_get(void *opaque, const uint8_t uuid[16], int *fd)
{
	struct dev *d = opaque;
	int self;

	__atomic_fetch_add(&d->gets, 1, __ATOMIC_RELAXED);
	if (memcmp(uuid, uuid_self, 16) == 0) {
		/* the control thread may not wait on the channel: refused at once */
		d->deadlock_ret = vhu_backend_shared_object_lookup(d->be, uuid_a, &self);
		return -ENOENT;
	}
	if (memcmp(uuid, uuid_a, 16) != 0 || d->object_fd < 0)
		return -ENOENT;
	*fd = dup(d->object_fd);
	return *fd < 0 ? -errno : 0;
}

static const struct vhu_device_ops dev_ops = {
	.get_features = dev_features,
	.queue_kick = dev_kick,
	.shared_object_get = dev_object_get,
};

static const uint64_t shmem_sizes[] = { REGION0, 0, REGION2 };

static void *run_thread(void *arg)
{
	struct dev *d = arg;

	(void)vhu_backend_run(d->be);
	return NULL;
}

static void dev_start(struct dev *d, uint64_t protocol)
{
	struct vhu_backend_config cfg = {
		.name = "shared",
		.num_queues = 1,
		.max_queue_size = 256,
		.protocol_features = protocol,
		.ops = &dev_ops,
		.dev = d,
		.log = &quiet_log,
	};

	if (protocol & VHU_BIT(VHU_PROTOCOL_F_SHMEM)) {
		cfg.shmem_sizes = shmem_sizes;
		cfg.shmem_num = 3;
	}
	d->object_fd = -1;
	assert_int_equal(vhu_backend_create(&cfg, &d->be), 0);
	snprintf(d->dir, sizeof(d->dir), "/tmp/vhu-shared.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/sock", d->dir);
	assert_int_equal(vhu_backend_listen(d->be, d->path), 0);
	assert_int_equal(pthread_create(&d->thread, NULL, run_thread, d), 0);
}

static void fe_connect(struct dev *d, struct vhu_frontend_objects *objs, uint64_t protocol)
{
	struct vhu_frontend_config cfg = {
		.socket_path = d->path,
		.fd = -1,
		.features = 1ull << 32,
		.protocol_features = protocol,
		.num_queues = 1,
		.queue_size = 64,
		.mem_size = 1u << 20,
		.log = &quiet_log,
		.objects = objs,
	};

	assert_int_equal(vhu_frontend_connect(&cfg, &d->fe), 0);
}

static void dev_stop(struct dev *d)
{
	vhu_frontend_destroy(d->fe);
	d->fe = NULL;
	vhu_backend_stop(d->be);
	pthread_join(d->thread, NULL);
	vhu_backend_destroy(d->be);
	if (d->object_fd >= 0)
		close(d->object_fd);
	unlink(d->path);
	rmdir(d->dir);
}

static int memfd_with(const char *text, size_t size)
{
	int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(pwrite(fd, text, strlen(text), 0), (ssize_t)strlen(text));
	return fd;
}

#define PF(bit) VHU_BIT(VHU_PROTOCOL_F_##bit)
#define BASE (PF(REPLY_ACK) | PF(BACKEND_REQ))

/* The spec's flow: A exports, B looks up, the front-ends fetch A's object for B. */
static void test_objects(void **state)
{
	struct dev a = { 0 }, b = { 0 };
	struct vhu_frontend_objects *objs;
	int fds = leak_count_fds(), fd = -1;
	char buf[16] = { 0 };

	(void)state;
	assert_int_equal(vhu_frontend_objects_create(&objs), 0);
	dev_start(&a, BASE | PF(SHARED_OBJECT));
	dev_start(&b, BASE | PF(SHARED_OBJECT));
	fe_connect(&a, objs, ~0ull);
	fe_connect(&b, objs, ~0ull);
	assert_true(vhu_frontend_protocol_features(a.fe) & PF(SHARED_OBJECT));
	a.object_fd = memfd_with("exported by A", PAGE);

	assert_int_equal(vhu_backend_shared_object_add(a.be, uuid_a), 0);
	assert_int_equal(vhu_frontend_objects_count(objs), 1);
	assert_int_equal(vhu_backend_shared_object_lookup(b.be, uuid_a, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 13, 0), 13);
	assert_string_equal(buf, "exported by A");
	close(fd);
	/* the process itself, through the table, and straight from A */
	assert_int_equal(vhu_frontend_objects_get(objs, uuid_a, &fd), 0);
	close(fd);
	assert_int_equal(vhu_frontend_shared_object_get(a.fe, uuid_a, &fd), 0);
	close(fd);

	/* refusals, each alone: the table and the connections are as before */
	assert_int_equal(vhu_backend_shared_object_add(b.be, uuid_a), -EIO);	/* taken */
	assert_int_equal(vhu_backend_shared_object_add(a.be, uuid_a), -EIO);	/* again */
	assert_int_equal(vhu_backend_shared_object_remove(b.be, uuid_a), -EIO); /* not B's */
	assert_int_equal(vhu_backend_shared_object_remove(b.be, uuid_b), -EIO); /* unknown */
	assert_int_equal(vhu_backend_shared_object_lookup(b.be, uuid_b, &fd), -EIO);
	assert_int_equal(fd, -1);
	assert_int_equal(vhu_frontend_objects_get(objs, uuid_b, &fd), -ENOENT);
	assert_int_equal(vhu_frontend_shared_object_get(b.fe, uuid_a, &fd), -EIO); /* B has none */
	/* on the control thread (an op) a channel request could only deadlock */
	assert_int_equal(vhu_frontend_shared_object_get(a.fe, uuid_self, &fd), -EIO);
	assert_int_equal(a.deadlock_ret, -EDEADLK);
	/* B adds uuid_b, which A's device does not know: the lookup fails at the exporter */
	assert_int_equal(vhu_backend_shared_object_add(b.be, uuid_b), 0);
	assert_int_equal(vhu_backend_shared_object_lookup(a.be, uuid_b, &fd), -EIO);
	assert_int_equal(vhu_frontend_objects_count(objs), 2);
	assert_true(vhu_frontend_alive(a.fe) && vhu_frontend_alive(b.fe));

	assert_int_equal(vhu_backend_shared_object_remove(a.be, uuid_a), 0);
	assert_int_equal(vhu_backend_shared_object_lookup(b.be, uuid_a, &fd), -EIO);
	/* B's entry goes with B's connection */
	dev_stop(&b);
	assert_int_equal(vhu_frontend_objects_count(objs), 0);
	assert_int_equal(vhu_backend_shared_object_lookup(a.be, uuid_b, &fd), -EIO);
	dev_stop(&a);
	vhu_frontend_objects_destroy(objs);
	assert_int_equal(leak_count_fds(), fds);
}

/* Without a table the front-end does not negotiate it; the back-end's calls say so. */
static void test_objects_not_negotiated(void **state)
{
	struct dev a = { 0 };
	int fds = leak_count_fds(), fd;

	(void)state;
	dev_start(&a, BASE | PF(SHARED_OBJECT));
	fe_connect(&a, NULL, ~0ull);
	assert_false(vhu_frontend_protocol_features(a.fe) & PF(SHARED_OBJECT));
	assert_int_equal(vhu_backend_shared_object_add(a.be, uuid_a), -ENOTSUP);
	assert_int_equal(vhu_backend_shared_object_lookup(a.be, uuid_a, &fd), -ENOTSUP);
	assert_int_equal(vhu_frontend_shared_object_get(a.fe, uuid_a, &fd), -ENOTSUP);
	dev_stop(&a);
	assert_int_equal(leak_count_fds(), fds);
}

/* A back-end maps a memfd into region 0; the front-end reads what it wrote. */
static void test_shmem(void **state)
{
	struct dev a = { 0 };
	int fds = leak_count_fds(), maps = leak_count_memfd_maps(MEMFD_NAME), fd;
	char buf[PAGE];

	(void)state;
	dev_start(&a, BASE | PF(SHMEM));
	fe_connect(&a, NULL, ~0ull);
	assert_true(vhu_frontend_protocol_features(a.fe) & PF(SHMEM));
	assert_int_equal(vhu_frontend_shmem_size(a.fe, 0), REGION0);
	assert_int_equal(vhu_frontend_shmem_size(a.fe, 1), 0);
	assert_int_equal(vhu_frontend_shmem_size(a.fe, 2), REGION2);
	fd = memfd_with("mapped by the back-end", 4 * PAGE);

	assert_int_equal(vhu_backend_shmem_map(a.be, 0, 8 * PAGE, fd, 0, 2 * PAGE, false), 0);
	assert_int_equal(vhu_frontend_shmem_maps(a.fe), 1);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), maps + 1);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 0, 8 * PAGE, buf, 22), 0);
	assert_memory_equal(buf, "mapped by the back-end", 22);
	/* shared: what the back-end writes later shows */
	assert_int_equal(pwrite(fd, "MAPPED", 6, 0), 6);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 0, 8 * PAGE, buf, 6), 0);
	assert_memory_equal(buf, "MAPPED", 6);
	/* a second mapping, read-write at the end of region 2, adjacent reads cross nothing */
	assert_int_equal(vhu_backend_shmem_map(a.be, 2, REGION2 - PAGE, fd, 2 * PAGE, PAGE, true),
			 0);
	assert_int_equal(vhu_frontend_shmem_maps(a.fe), 2);
	/* not mapped: refused, nothing copied */
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 0, 7 * PAGE, buf, PAGE + 1), -EFAULT);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 0, 10 * PAGE, buf, 1), -EFAULT);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 1, 0, buf, 1), -ENOENT);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 2, REGION2 - 1, buf, 2), -EFAULT);

	assert_int_equal(vhu_backend_shmem_unmap(a.be, 0, 8 * PAGE, 2 * PAGE), 0);
	assert_int_equal(vhu_frontend_shmem_maps(a.fe), 1);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 0, 8 * PAGE, buf, 1), -EFAULT);
	/* the back-end's own checks, before anything is sent */
	assert_int_equal(vhu_backend_shmem_map(a.be, 1, 0, fd, 0, PAGE, false), -EINVAL);
	assert_int_equal(vhu_backend_shmem_map(a.be, 3, 0, fd, 0, PAGE, false), -EINVAL);
	assert_int_equal(vhu_backend_shmem_map(a.be, 0, 1, fd, 0, PAGE, false), -EINVAL);
	assert_int_equal(vhu_backend_shmem_map(a.be, 0, REGION0, fd, 0, PAGE, false), -EINVAL);
	/* the last mapping goes with the connection; a new one reserves the regions again */
	assert_int_equal(vhu_frontend_reconnect(a.fe), 0);
	assert_int_equal(vhu_frontend_shmem_maps(a.fe), 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), maps);
	assert_int_equal(vhu_frontend_shmem_size(a.fe, 2), REGION2);
	assert_int_equal(vhu_backend_shmem_map(a.be, 2, 0, fd, 0, PAGE, false), 0);
	assert_int_equal(vhu_frontend_shmem_read(a.fe, 2, 0, buf, 6), 0);
	assert_memory_equal(buf, "MAPPED", 6);
	close(fd);
	dev_stop(&a);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), maps);
	assert_int_equal(leak_count_fds(), fds);
}

/* Send @m (with @nfd: one fd) raw on @be's channel with NEED_REPLY; the ack's u64. */
static int64_t raw(struct vhu_backend *be, uint32_t request, const void *payload, uint32_t size,
		   int nfd)
{
	struct vhu_msg msg, reply;
	int64_t ret = -1;

	vhu_msg_init(&msg, request, VHU_FLAG_NEED_REPLY, size);
	memcpy(msg.payload.raw, payload, size);
	if (nfd >= 0) {
		msg.fds[0] = nfd;
		msg.nfds = 1;
	}
	vhu_lock_acquire(&be->chan_lock);
	if (vhu_msg_send(be->chan_fd, &msg) == 0 && vhu_msg_recv(be->chan_fd, &reply) == 0) {
		ret = (int64_t)reply.payload.u64;
		if (reply.nfds)
			ret = -2; /* a refusal carries no fd */
		vhu_msg_close_fds(&reply);
	}
	vhu_lock_release(&be->chan_lock);
	return ret;
}

static int64_t raw_map(struct vhu_backend *be, uint32_t request, uint8_t shmid, uint64_t shm_offset,
		       uint64_t fd_offset, uint64_t len, uint64_t flags, int fd)
{
	struct vhu_shmem_map m = { .shmid = shmid,
				   .fd_offset = fd_offset,
				   .shm_offset = shm_offset,
				   .len = len,
				   .flags = flags };

	return raw(be, request, &m, sizeof(m), fd);
}

/* What a hostile back-end may send: each refused alone, nothing mapped, nothing kept. */
static void test_shmem_hostile(void **state)
{
	const uint32_t MAP = VHU_BACKEND_REQ_SHMEM_MAP, UNMAP = VHU_BACKEND_REQ_SHMEM_UNMAP;
	struct dev a = { 0 };
	int fds = leak_count_fds(), maps = leak_count_memfd_maps(MEMFD_NAME), fd, sock;

	(void)state;
	dev_start(&a, BASE | PF(SHMEM) | PF(SHARED_OBJECT));
	fe_connect(&a, NULL, ~0ull);
	fd = memfd_with("hostile", 4 * PAGE);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock >= 0);
	assert_int_equal(raw_map(a.be, MAP, 0, 0, 0, PAGE, 0, fd), 0); /* one good one */

	assert_int_not_equal(raw_map(a.be, MAP, 1, 0, 0, PAGE, 0, fd), 0);    /* size-0 region */
	assert_int_not_equal(raw_map(a.be, MAP, 200, 0, 0, PAGE, 0, fd), 0);  /* undeclared */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 0, PAGE, 2, fd), 0); /* flags */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 0, 0, 0, fd), 0);    /* empty */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE + 1, 0, PAGE, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 1, PAGE, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 0, PAGE + 1, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, -(uint64_t)PAGE, 0, 2 * PAGE, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, REGION0 - PAGE, 0, 2 * PAGE, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, -(uint64_t)PAGE, 2 * PAGE, 0, fd), 0);
	assert_int_not_equal(raw_map(a.be, MAP, 0, 0, 0, PAGE, 0, fd), 0); /* overlap */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 2 * PAGE, 4 * PAGE, 0, fd), 0); /* short */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 0, PAGE, 0, sock), 0); /* not mappable */
	assert_int_not_equal(raw_map(a.be, MAP, 0, PAGE, 0, PAGE, 0, -1), 0);	/* no fd */
	assert_int_not_equal(raw_map(a.be, UNMAP, 0, 0, 0, PAGE, 0, fd), 0);	/* an fd too many */
	assert_int_not_equal(raw_map(a.be, UNMAP, 0, PAGE, 0, PAGE, 0, -1), 0); /* not mapped */
	assert_int_not_equal(raw_map(a.be, UNMAP, 0, 0, 0, 2 * PAGE, 0, -1), 0); /* not as mapped */
	assert_int_not_equal(raw_map(a.be, UNMAP, 7, 0, 0, PAGE, 0, -1), 0);
	/* shared objects were not negotiated (no table): refused too */
	assert_int_not_equal(raw(a.be, VHU_BACKEND_REQ_SHARED_OBJECT_ADD, uuid_a, 16, -1), 0);
	assert_int_equal(vhu_frontend_shmem_maps(a.fe), 1);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), maps + 1);
	assert_true(vhu_frontend_alive(a.fe));
	assert_int_equal(raw_map(a.be, UNMAP, 0, 0, 0, PAGE, 0, -1), 0);
	assert_int_equal(leak_count_memfd_maps(MEMFD_NAME), maps);
	close(sock);
	close(fd);
	dev_stop(&a);
	assert_int_equal(leak_count_fds(), fds);
}

/* A front-end that did not ask for SHMEM refuses the requests. */
static void test_shmem_not_negotiated(void **state)
{
	struct dev a = { 0 };
	int fds = leak_count_fds(), fd;

	(void)state;
	dev_start(&a, BASE | PF(SHMEM));
	fe_connect(&a, NULL, BASE);
	assert_false(vhu_frontend_protocol_features(a.fe) & PF(SHMEM));
	assert_int_equal(vhu_frontend_shmem_size(a.fe, 0), 0);
	fd = memfd_with("x", PAGE);
	assert_int_equal(vhu_backend_shmem_map(a.be, 0, 0, fd, 0, PAGE, false), -ENOTSUP);
	assert_int_not_equal(raw_map(a.be, VHU_BACKEND_REQ_SHMEM_MAP, 0, 0, 0, PAGE, 0, fd), 0);
	close(fd);
	dev_stop(&a);
	assert_int_equal(leak_count_fds(), fds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_objects_not_negotiated),
		cmocka_unit_test(test_shmem),
		cmocka_unit_test(test_shmem_hostile),
		cmocka_unit_test(test_shmem_not_negotiated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
