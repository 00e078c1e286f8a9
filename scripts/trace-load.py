#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Control-plane load for `make bench` PARTS=trace: one front-end that sends
GET_FEATURES and GET_PROTOCOL_FEATURES, alternately, each waiting for its
reply, for SECONDS, on a back-end's socket (directly, or through vhu-trace).

  trace-load.py SOCKET SECONDS

Prints one JSON object: round trips, their rate, and the median and 99th
percentile round-trip time in microseconds."""
import json
import socket
import struct
import sys
import time

GET_FEATURES, GET_PROTOCOL_FEATURES = 1, 15


def main():
    path, secs = sys.argv[1], float(sys.argv[2])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(100):
        try:
            s.connect(path)
            break
        except OSError:
            time.sleep(0.05)
    reqs = [struct.pack("<III", r, 0x1, 0) for r in (GET_FEATURES, GET_PROTOCOL_FEATURES)]
    buf = bytearray(20)
    view = memoryview(buf)
    rtts = []
    clock = time.perf_counter_ns
    end = clock() + int(secs * 1e9)
    n = 0
    while True:
        t = clock()
        if t >= end:
            break
        s.sendall(reqs[n & 1])
        got = 0
        while got < 20:  # header + u64
            k = s.recv_into(view[got:], 20 - got)
            if not k:
                sys.exit("trace-load: the back-end closed the connection")
            got += k
        rtts.append(clock() - t)
        n += 1
    s.close()
    rtts.sort()
    total = sum(rtts) / 1e9
    print(json.dumps({"round_trips": n, "rate": round(n / total) if total else 0,
                      "p50_us": round(rtts[len(rtts) // 2] / 1e3, 2),
                      "p99_us": round(rtts[len(rtts) * 99 // 100] / 1e3, 2)}))


if __name__ == "__main__":
    main()
