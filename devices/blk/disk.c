/* SPDX-License-Identifier: MIT */
/*
 * The disk of a vhu-blk export: opening the file or block device (or the
 * null disk), its size and block sizes, resizing it, and the virtio-blk
 * features and config space it gives. The requests are blkdev.c's.
 */
#include "disk.h"
#include "blkdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* ---- the disk ---- */

static int open_file(struct blkdev *dev, const struct blkdev_options *opts)
{
	int flags = (opts->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	uint64_t size;

	if (opts->direct)
		flags |= O_DIRECT;
	dev->direct = opts->direct;
	dev->fd = open(opts->path, flags);
	if (dev->fd < 0)
		return -errno;
	if (fstat(dev->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		struct statfs sf;

		size = (uint64_t)st.st_size;
		/*
		 * io_uring hands every read or write of a tmpfs file to an io-wq
		 * thread (it cannot try them without blocking: RWF_NOWAIT says
		 * "not supported" there), two context switches a request; a copy
		 * from memory never waits for a device, so it is done inline.
		 */
		dev->mem_backed = !opts->direct && fstatfs(dev->fd, &sf) == 0 &&
				  (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC ||
				   sf.f_type == HUGETLBFS_MAGIC);
		dev->blk_size = BLK_SECTOR_SIZE;
		dev->phys_size = BLK_SECTOR_SIZE;
		if (st.st_blksize >= 512 && st.st_blksize <= 65536 &&
		    (st.st_blksize & (st.st_blksize - 1)) == 0)
			dev->phys_size = (uint32_t)st.st_blksize;
	} else if (S_ISBLK(st.st_mode)) {
		int lbs = 0;
		unsigned int pbs = 0;

		if (ioctl(dev->fd, BLKGETSIZE64, &size) < 0 ||
		    ioctl(dev->fd, BLKSSZGET, &lbs) < 0 || ioctl(dev->fd, BLKPBSZGET, &pbs) < 0)
			return -errno;
		if (lbs < 512 || lbs > 65536 || (lbs & (lbs - 1)) != 0)
			return -EINVAL;
		dev->blk_size = (uint32_t)lbs;
		dev->phys_size =
			pbs >= (unsigned int)lbs && (pbs & (pbs - 1)) == 0 ? pbs : (uint32_t)lbs;
	} else {
		return -EINVAL;
	}
	/* Whole logical blocks only: a partial tail block is not exposed. */
	dev->capacity = (size / dev->blk_size) * (dev->blk_size >> BLK_SECTOR_SHIFT);
	return 0;
}

int blkdev_open(const struct blkdev_options *opts, struct blkdev **out)
{
	struct blkdev *dev;
	size_t serial_len = opts->serial ? strlen(opts->serial) : 0;
	int ret;

	if (serial_len > BLK_SERIAL_MAX || opts->num_queues > BLK_QUEUES_MAX)
		return -EINVAL;
	if (opts->null_backend ? opts->null_size < BLK_SECTOR_SIZE : opts->path == NULL)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = -1;
	dev->read_only = opts->read_only;
	dev->delay_us = opts->delay_us;
	dev->num_queues = opts->num_queues ? opts->num_queues : 1;
	if (serial_len)
		memcpy(dev->serial, opts->serial, serial_len);
	if (opts->null_backend) {
		dev->null_backend = true;
		dev->blk_size = BLK_SECTOR_SIZE;
		dev->phys_size = BLK_SECTOR_SIZE;
		dev->capacity = opts->null_size >> BLK_SECTOR_SHIFT;
	} else {
		ret = open_file(dev, opts);
		if (ret < 0)
			goto err;
	}
	/* Offsets are sector << 9 in an off_t: keep them representable. */
	if (dev->capacity > (uint64_t)INT64_MAX >> BLK_SECTOR_SHIFT) {
		ret = -EFBIG;
		goto err;
	}
	*out = dev;
	return 0;
err:
	blkdev_close(dev);
	return ret;
}

void blkdev_close(struct blkdev *dev)
{
	if (!dev)
		return;
	if (dev->fd >= 0)
		close(dev->fd);
	free(dev);
}

uint64_t blkdev_capacity(const struct blkdev *dev)
{
	return __atomic_load_n(&dev->capacity, __ATOMIC_RELAXED);
}

int blkdev_resize(struct blkdev *dev, uint64_t size)
{
	bool grow;

	if (size < dev->blk_size || size % dev->blk_size)
		return -EINVAL;
	if (size >> BLK_SECTOR_SHIFT > (uint64_t)INT64_MAX >> BLK_SECTOR_SHIFT)
		return -EFBIG;
	if (!dev->null_backend) {
		struct stat st;

		if (dev->read_only)
			return -EROFS;
		if (fstat(dev->fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -ENOTSUP; /* a block device's size is its own */
	}
	/* grow: the file first, then the capacity; shrink: the other way round */
	grow = size > blkdev_capacity(dev) << BLK_SECTOR_SHIFT;
	if (!dev->null_backend && grow && ftruncate(dev->fd, (off_t)size) < 0)
		return -errno;
	__atomic_store_n(&dev->capacity, size >> BLK_SECTOR_SHIFT, __ATOMIC_RELAXED);
	if (!dev->null_backend && !grow && ftruncate(dev->fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

uint64_t blkdev_features(const struct blkdev *dev)
{
	uint64_t f = 0;

	f |= 1ull << VIRTIO_BLK_F_SIZE_MAX;
	f |= 1ull << VIRTIO_BLK_F_SEG_MAX;
	f |= 1ull << VIRTIO_BLK_F_BLK_SIZE;
	f |= 1ull << VIRTIO_BLK_F_FLUSH;
	f |= 1ull << VIRTIO_BLK_F_TOPOLOGY;
	f |= 1ull << VIRTIO_BLK_F_MQ;
	if (dev->read_only) {
		f |= 1ull << VIRTIO_BLK_F_RO;
	} else {
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	}
	/*
	 * Not offered: CONFIG_WCE (the cache mode is not switchable: we are
	 * always writeback and honour FLUSH), GEOMETRY, SECURE_ERASE, ZONED.
	 */
	f |= 1ull << VIRTIO_F_VERSION_1;
	f |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	f |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	f |= 1ull << VIRTIO_F_RING_PACKED;
	return f;
}

static uint8_t log2_u32(uint32_t v)
{
	uint8_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

void blkdev_fill_config(const struct blkdev *dev, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(blkdev_capacity(dev));
	cfg->size_max = htole32(BLK_SIZE_MAX);
	cfg->seg_max = htole32(BLK_SEG_MAX);
	cfg->blk_size = htole32(dev->blk_size);
	cfg->physical_block_exp = log2_u32(dev->phys_size / dev->blk_size);
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16((uint16_t)(dev->phys_size / dev->blk_size));
	cfg->opt_io_size = htole32(0);
	cfg->wce = 1; /* writeback; FLUSH makes writes durable */
	cfg->num_queues = htole16(dev->num_queues);
	if (!dev->read_only) {
		cfg->max_discard_sectors = htole32(BLK_DWZ_SECTORS_MAX);
		cfg->max_discard_seg = htole32(BLK_DWZ_SEG_MAX);
		cfg->discard_sector_alignment = htole32(dev->blk_size >> BLK_SECTOR_SHIFT);
		cfg->max_write_zeroes_sectors = htole32(BLK_DWZ_SECTORS_MAX);
		cfg->max_write_zeroes_seg = htole32(BLK_DWZ_SEG_MAX);
		cfg->write_zeroes_may_unmap = 0;
	}
}

bool blkdev_direct(const struct blkdev *dev)
{
	return dev->direct;
}
