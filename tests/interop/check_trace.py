#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a vhu-trace --json file: every line decodes, and the conversation
a front-end must have had with a working back-end is there, decoded right.

  check_trace.py TRACE [--queues N] [--backend-channel] [--ring-view]
                 [--gpu WxH [--scanouts N] [--edid]]

--ring-view: the trace also has vhu-trace --ring-view lines, and they show
each ring read from the mapped memory, in bounds, and moving.
--gpu: the conversation is vhu-gpu-draw's (tools/gpu) with a vhost-user-gpu
back-end on scanouts of WxH: the GPU socket's messages are there, decoded
with the values the drawing used.

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


def check_gpu(lines, size, scanouts, edid):
    """vhu-gpu-draw's drawing, seen on the GPU socket (tools/gpu/driver.c)."""
    width, height = (int(v) for v in size.split("x"))
    gpu = [e for e in lines if e["channel"] == "gpu"]

    def msgs(name, reply=False):
        frm = "front-end" if reply else "back-end"
        return [e for e in gpu if e["msg"]["request"] == "VHOST_USER_GPU_" + name
                and e["from"] == frm and e["msg"]["reply"] == reply]

    sock = [e for e in lines if e["channel"] == "main"
            and e["msg"]["request"] == "VHOST_USER_GPU_SET_SOCKET"]
    if not sock or sock[0]["msg"]["nfds"] != 1:
        fail("no VHOST_USER_GPU_SET_SOCKET with its fd on the main socket")
    if not gpu:
        fail("no message from the GPU socket in the trace")
    got = msgs("GET_PROTOCOL_FEATURES", True)
    if not msgs("GET_PROTOCOL_FEATURES") or not got or "latency_us" not in got[0]:
        fail("no GET_PROTOCOL_FEATURES and its reply with a latency")
    info = msgs("GET_DISPLAY_INFO", True)
    if not info:
        fail("no GET_DISPLAY_INFO reply")
    shown = info[0]["msg"]["fields"].get("scanouts", [])
    if len(shown) != scanouts or any(
            (s["width"], s["height"]) != (width, height) for s in shown):
        fail(f"GET_DISPLAY_INFO reply decoded as {shown}, not {scanouts} of {size}")
    for s in range(scanouts):
        sc = [e["msg"]["fields"] for e in msgs("SCANOUT")
              if e["msg"]["fields"].get("scanout_id") == s]
        if not sc or (sc[0]["width"], sc[0]["height"]) != (width, height):
            fail(f"SCANOUT of scanout {s} decoded as {sc}")
        up = [e["msg"] for e in msgs("UPDATE") if e["msg"]["fields"].get("scanout_id") == s]
        full = [m for m in up if (m["fields"]["width"], m["fields"]["height"]) == (width, height)]
        if not full:
            fail(f"no full-screen UPDATE of scanout {s}: {[m['fields'] for m in up]}")
        for m in up:
            f = m["fields"]
            if not f["pixels_fit"] or f["pixel_bytes"] != f["width"] * f["height"] * 4 \
                    or m["size"] != 20 + f["pixel_bytes"]:
                fail(f"UPDATE decoded wrong: {m}")
    cur = msgs("CURSOR_UPDATE")
    if not cur or (cur[0]["msg"]["fields"]["hot_x"], cur[0]["msg"]["fields"]["hot_y"]) != (3, 4):
        fail(f"no CURSOR_UPDATE with the hot spot (3,4): {cur[:1]}")
    pos = [e["msg"]["fields"] for e in msgs("CURSOR_POS")]
    if not any((p["x"], p["y"]) == (30, 40) for p in pos):
        fail(f"no CURSOR_POS to (30,40): {pos}")
    if edid:
        e = msgs("GET_EDID", True)
        if not msgs("GET_EDID") or not e:
            fail("no GET_EDID and its reply")
        f = e[0]["msg"]["fields"]
        if f.get("edid_size", 0) < 128 or not f["edid"].startswith("00ffffffffffff00"):
            fail(f"GET_EDID reply decoded as {f}")
    print(f"check_trace: GPU socket: {len(gpu)} messages, "
          f"largest {max(e['msg']['size'] for e in gpu)} bytes")


def main():
    args = sys.argv[1:]
    if not args:
        fail("usage: check_trace.py TRACE [--queues N] [--backend-channel]")
    path, args = args[0], args[1:]
    queues = 1
    channel = False
    ring_view = False
    gpu = None
    scanouts = 1
    edid = False
    while args:
        a = args.pop(0)
        if a == "--queues":
            queues = int(args.pop(0))
        elif a == "--backend-channel":
            channel = True
        elif a == "--ring-view":
            ring_view = True
        elif a == "--gpu":
            gpu = args.pop(0)
        elif a == "--scanouts":
            scanouts = int(args.pop(0))
        elif a == "--edid":
            edid = True
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
    if gpu:
        check_gpu(lines, gpu, scanouts, edid)
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
