/* SPDX-License-Identifier: MIT */
/*
 * fuzz_packed: the packed ring engine over guest memory that is the fuzzer's input.
 * Whatever the ring holds, pop/push/notify never touch memory outside the
 * guest regions, hand out only bounded, checked requests, and fail only by
 * breaking the queue. The input format and harness are in fuzz_ring.h.
 */
#define FUZZ_RING_PACKED 1
#include "fuzz_ring.h"
