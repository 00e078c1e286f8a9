/* SPDX-License-Identifier: MIT */
/*
 * fuzz_iommu: a running ring (split or packed, byte 0 bit 2) behind the
 * device IOTLB (issue 17). The script interleaves IOTLB UPDATEs and
 * INVALIDATEs (well-formed and hostile: size 0, wrapping, unaligned,
 * unknown permission bits, memory that is not there, past the table's
 * bound) with pops, pushes, notifications and ring restarts over
 * descriptors whose IOVAs may miss or lack the permission they need. Every
 * buffer handed out must lie in an entry of the table as it is at the pop
 * that allows the access; the queue reports only MISS and ACCESS_FAIL and
 * fails only by waiting or breaking. The input format is in fuzz_ring.h.
 */
#define FUZZ_RING_PACKED (-1)
#define FUZZ_RING_IOMMU 1
#include "fuzz_ring.h"
