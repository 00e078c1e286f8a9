/* SPDX-License-Identifier: MIT */
#ifndef VHU_BLK_DISK_H
#define VHU_BLK_DISK_H

/*
 * The disk behind a vhu-blk export, as the request engine (blkdev.c) and
 * the code that opens and sizes it (disk.c) both see it. Private to those
 * two: the rest of vhu-blk uses blkdev.h.
 */
#include <stdbool.h>
#include <stdint.h>

#include "blkdev.h"

struct blkdev {
	int fd; /* -1 for the null disk */
	bool null_backend;
	bool read_only;
	bool direct;	    /* O_DIRECT */
	uint64_t capacity;  /* 512-byte sectors */
	uint32_t blk_size;  /* logical block size, bytes */
	uint32_t phys_size; /* physical block size, bytes */
	uint16_t num_queues;
	uint32_t delay_us;	     /* blkdev_options.delay_us */
	bool mem_backed;	     /* a file in memory (tmpfs, memfd): small I/O done inline */
	char serial[BLK_SERIAL_MAX]; /* zero padded, not NUL terminated when full */
};

#endif
