/* SPDX-License-Identifier: MIT */
/*
 * fuzz_inflight: inflight tracking (lib/virtq/inflight.c) over an area and a
 * ring that are both the fuzzer's input, split or packed (byte 0 bit 2):
 * the repair and resubmission at every start, the bookkeeping of every pop
 * and push, and pushes cut short at any step. Whatever the front-end left in
 * the area, nothing outside the area or guest memory is touched and
 * resubmitted requests are as checked as fresh ones. Harness: fuzz_ring.h.
 */
#define FUZZ_RING_PACKED (-1)
#define FUZZ_RING_INFLIGHT 1
#include "fuzz_ring.h"
