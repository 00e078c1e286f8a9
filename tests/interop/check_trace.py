#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a vhu-trace --json file: every line decodes, and the conversation
a front-end must have had with a working back-end is there, decoded right.

  check_trace.py TRACE [--queues N] [--backend-channel] [--ring-view]

--ring-view: the trace also has vhu-trace --ring-view lines, and they show
each ring read from the mapped memory, in bounds, and moving.

Exit 0 with a summary, or 1 naming what is missing or wrong."""
import json
import statistics
import sys


def fail(why):
    print(f"check_trace: FAIL: {why}")
    sys.exit(1)


def check_rings(rings, queues):
    """Each ring was shown from memory while running, in bounds, and it moved."""
    for q in range(queues):
        mine = [e["ring"] for e in rings if e["ring"]["queue"] == q and e["ring"]["running"]]
        if not mine:
            fail(f"no ring view line for running ring {q}")
        bad = [g for g in mine if "error" in g]
        if len(bad) == len(mine):
            fail(f"ring {q} never read from memory: {bad[0]['error']}")
        good = [g for g in mine if "error" not in g]
        for g in good:
            n = g.get("outstanding", g.get("descs_avail"))
            if n is None or n > g["num"]:
                fail(f"ring {q}: outstanding out of bounds: {g}")
        if good[0]["layout"] == "split":
            used = {g["used_idx"] for g in good}
            if len(used) < 2 and len(good) > 2:
                fail(f"ring {q}: used index never moved in {len(good)} views: {used}")
            rates = [g["used_per_s"] for g in good if "used_per_s" in g]
            if rates and max(rates) <= 0:
                fail(f"ring {q}: no progress per second shown: {rates}")
    print(f"check_trace: ring view: {len(rings)} lines")


def main():
    args = sys.argv[1:]
    if not args:
        fail("usage: check_trace.py TRACE [--queues N] [--backend-channel]")
    path, args = args[0], args[1:]
    queues = 1
    channel = False
    ring_view = False
    while args:
        a = args.pop(0)
        if a == "--queues":
            queues = int(args.pop(0))
        elif a == "--backend-channel":
            channel = True
        elif a == "--ring-view":
            ring_view = True
        else:
            fail(f"unknown option {a}")
    lines = []
    rings = []
    with open(path, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            try:
                e = json.loads(text)
                if "ring" in e:
                    g = e["ring"]
                    for k in ("queue", "layout", "running", "num"):
                        g[k]
                    e["t"]
                    rings.append(e)
                    continue
                m = e["msg"]
                for k in ("request", "id", "flags", "reply", "size", "nfds", "fits", "fields"):
                    m[k]
                e["t"], e["from"], e["channel"], e["relay_us"]
            except (ValueError, KeyError, TypeError) as err:
                fail(f"{path}:{n}: not a trace line ({err}): {text[:120]!r}")
            lines.append(e)
    if not lines:
        fail("the trace is empty")

    def reqs(name, frm="front-end", reply=False):
        return [e for e in lines if e["msg"]["request"] == "VHOST_USER_" + name
                and e["from"] == frm and e["msg"]["reply"] == reply]

    bad = [e for e in lines if not e["msg"]["fits"]]
    if bad:
        fail(f"{len(bad)} messages do not fit their row, first: {bad[0]}")
    got = reqs("GET_FEATURES", "back-end", True)
    if not reqs("GET_FEATURES") or not got:
        fail("no GET_FEATURES and its reply")
    feat = int(got[0]["msg"]["fields"]["features"], 16)
    if not feat & (1 << 32):
        fail(f"GET_FEATURES reply decoded as {hex(feat)}: no VIRTIO_F_VERSION_1")
    if "latency_us" not in got[0]:
        fail("the GET_FEATURES reply has no latency")
    if not reqs("SET_FEATURES"):
        fail("no SET_FEATURES")
    mem = reqs("SET_MEM_TABLE") + reqs("ADD_MEM_REG")
    if not mem:
        fail("no SET_MEM_TABLE or ADD_MEM_REG")
    for e in mem:
        f = e["msg"]["fields"]
        regions = f.get("regions", [f])
        if e["msg"]["nfds"] != len(regions) or not regions:
            fail(f"memory message with {e['msg']['nfds']} fds for {len(regions)} regions: {e}")
        for r in regions:
            if int(r["memory_size"], 16) == 0:
                fail(f"a region of size 0 decoded: {e}")
    for q in range(queues):
        addr = [e for e in reqs("SET_VRING_ADDR") if e["msg"]["fields"]["index"] == q]
        if not addr:
            fail(f"no SET_VRING_ADDR for ring {q}")
        f = addr[-1]["msg"]["fields"]
        if 0 in (int(f["desc_user_addr"], 16), int(f["avail_user_addr"], 16),
                 int(f["used_user_addr"], 16)):
            fail(f"SET_VRING_ADDR of ring {q} decoded with a zero address: {f}")
        for name in ("SET_VRING_KICK", "SET_VRING_CALL"):
            m = [e for e in reqs(name) if e["msg"]["fields"]["index"] == q]
            if not m:
                fail(f"no {name} for ring {q}")
            if not m[-1]["msg"]["fields"]["nofd"] and m[-1]["msg"]["nfds"] != 1:
                fail(f"{name} of ring {q} without its eventfd: {m[-1]}")
    if channel:
        ch = reqs("SET_BACKEND_REQ_FD")
        if not ch or ch[0]["msg"]["nfds"] != 1:
            fail("no SET_BACKEND_REQ_FD with its fd")
    if ring_view:
        check_rings(rings, queues)
    elif rings:
        fail("ring view lines without --ring-view")
    lat = [e["latency_us"] for e in lines if "latency_us" in e]
    relay = [e["relay_us"] for e in lines]
    names = {e["msg"]["request"] for e in lines}
    print(f"check_trace: OK: {len(lines)} messages, {len(names)} kinds, "
          f"reply latency median {statistics.median(lat):.1f} us, "
          f"relay median {statistics.median(relay):.1f} us (max {max(relay):.1f})")


if __name__ == "__main__":
    main()
