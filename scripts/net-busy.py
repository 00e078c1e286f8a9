#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# What a packet device under test spent per frame while it had frames,
# whatever the senders' rate: with the generator as the bottleneck the
# device idles part of the time, and packets per second then say more about
# the generator than about the device.
#
#   net-busy.py vhu LOG    vhu-net run with --record-busy and sent SIGUSR1
#                          twice: busy_ns / busy_chains between the two
#                          counter dumps, summed over the ports
#   net-busy.py dpdk LOG   testpmd run with "set record-core-cycles on" and
#                          given "show fwd stats all": its first
#                          "CPU cycles/packet=C ... at M MHz" as C / M µs
#
# Prints nanoseconds per frame with one decimal, or "nan" when the log has
# no such figures.
import re
import sys


def vhu(path):
    dumps, cur = [], {}
    for line in open(path, errors="replace"):
        m = re.search(r"port (\d+) .* busy_ns=(\d+) busy_chains=(\d+)", line)
        if not m:
            continue
        port = int(m.group(1))
        if port in cur:  # a port seen again: the next dump begins
            dumps.append(cur)
            cur = {}
        cur[port] = (int(m.group(2)), int(m.group(3)))
    if cur:
        dumps.append(cur)
    if len(dumps) < 2:
        return None
    a, b = dumps[0], dumps[1]
    ns = sum(b[p][0] - a.get(p, (0, 0))[0] for p in b)
    chains = sum(b[p][1] - a.get(p, (0, 0))[1] for p in b)
    return ns / chains if chains else None


def dpdk(path):
    for line in open(path, errors="replace"):
        m = re.search(r"CPU cycles/packet=([0-9.]+) .* at (\d+) MHz", line)
        if m and float(m.group(2)) > 0:
            return float(m.group(1)) * 1000.0 / float(m.group(2))
    return None


if len(sys.argv) != 3 or sys.argv[1] not in ("vhu", "dpdk"):
    sys.exit("usage: net-busy.py vhu|dpdk LOG")
v = (vhu if sys.argv[1] == "vhu" else dpdk)(sys.argv[2])
print("nan" if v is None else f"{v:.1f}")
