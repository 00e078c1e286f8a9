/* SPDX-License-Identifier: MIT */
/*
 * fuzz_backend_blk: fuzz_backend's sessions against vhu-blk's device
 * (devices/blk/device.c and its io_uring engine) instead of the echo
 * device. Input format and oracles: fuzz_backend.c.
 */
#define FUZZ_BACKEND_BLK 1
#include "fuzz_backend.c"
