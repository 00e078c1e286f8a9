#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small QMP client for the migration tests (python3 stdlib only).

  qmp.py cmd SOCK COMMAND [JSON-ARGS]   run one command, print its "return"
                                        as JSON; exit 1 on an error answer
  qmp.py wait SOCK [SECS]               until SOCK answers QMP (default 10 s)
  qmp.py status SOCK                    print the run state (query-status)
  qmp.py migrate SRC DST URI [options]  live-migrate the guest of SRC's QEMU
                                        into DST's (started with -incoming URI)
      --bandwidth BYTES   max-bandwidth (default 1 GiB/s; QEMU's is 32 MiB/s)
      --downtime MS       downtime-limit (default: QEMU's, 300 ms)
      --timeout SECS      give up (migrate_cancel) after SECS (default 120)
      --postcopy SECS     enable postcopy-ram on both sides and switch to
                          postcopy (migrate-start-postcopy) SECS seconds
                          after the migration started: with a low
                          --bandwidth, long before precopy could finish
      --postcopy-bandwidth BYTES  max-postcopy-bandwidth: how fast the pages
                          nobody asked for follow (default: QEMU's, no limit)
    It prints KEY=VALUE lines (shell-sourceable):
      mig_status=completed|failed|cancelled|timeout|refused  mig_total_ms  mig_downtime_ms
      mig_setup_ms  mig_transferred  mig_dirty_sync  mig_src_state  mig_dst_state
      mig_error (when there is one)
    and exits 0 only when the migration completed and the source is in
    "postmigrate" and the destination "running".
  qmp.py send UNIXSOCK TEXT             connect to a unix stream socket (a
                                        QEMU chardev server) and write TEXT
"""

import json
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    """One QMP connection: greeting, qmp_capabilities, then commands."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("no QMP greeting on %s: %r" % (path, greeting))
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            ans = self._read()
            if "event" in ans:
                self.events.append(ans)
                continue
            if "error" in ans:
                raise QMPError("%s: %s" % (name, ans["error"].get("desc", ans["error"])))
            return ans.get("return")

    def close(self):
        self.sock.close()


def wait_qmp(path, secs):
    end = time.monotonic() + secs
    while True:
        try:
            q = QMP(path, timeout=2.0)
            return q
        except (OSError, QMPError, ValueError):
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def run_state(q):
    return q.cmd("query-status").get("status", "?")


def migrate(argv):
    src, dst, uri = argv[0], argv[1], argv[2]
    bandwidth, downtime, timeout, postcopy = 1 << 30, None, 120.0, None
    pc_bandwidth = None
    rest = argv[3:]
    while rest:
        opt = rest.pop(0)
        if opt == "--bandwidth":
            bandwidth = int(rest.pop(0))
        elif opt == "--downtime":
            downtime = int(rest.pop(0))
        elif opt == "--timeout":
            timeout = float(rest.pop(0))
        elif opt == "--postcopy":
            postcopy = float(rest.pop(0))
        elif opt == "--postcopy-bandwidth":
            pc_bandwidth = int(rest.pop(0))
        else:
            raise SystemExit("qmp.py migrate: unknown option %s" % opt)
    out = {}

    def emit():
        for k, v in out.items():
            print("%s=%s" % (k, str(v).replace(" ", "_").replace("'", "")))
        sys.stdout.flush()

    s = wait_qmp(src, 10)
    d = wait_qmp(dst, 10)
    dstate = run_state(d)
    if dstate != "inmigrate":
        out.update(mig_status="failed", mig_error="destination is %s, not inmigrate" % dstate)
        emit()
        return 1
    params = {"max-bandwidth": bandwidth}
    if downtime is not None:
        params["downtime-limit"] = downtime
    if pc_bandwidth is not None:
        params["max-postcopy-bandwidth"] = pc_bandwidth
    s.cmd("migrate-set-parameters", **params)
    if postcopy is not None:
        caps = [{"capability": "postcopy-ram", "state": True}]
        s.cmd("migrate-set-capabilities", capabilities=caps)
        d.cmd("migrate-set-capabilities", capabilities=caps)
    t0 = time.monotonic()
    try:
        s.cmd("migrate", uri=uri)
    except QMPError as e:
        out.update(mig_status="refused", mig_error=str(e))
        emit()
        return 1
    info = {}
    switched = False
    status = "timeout"
    while time.monotonic() - t0 < timeout:
        info = s.cmd("query-migrate")
        st = info.get("status", "")
        if postcopy is not None and switched is False and st == "active" \
                and time.monotonic() - t0 >= postcopy:
            switched = True
            try:
                s.cmd("migrate-start-postcopy")
            except QMPError as e:
                out["mig_error"] = "migrate-start-postcopy: %s" % e
                switched = None
            out["mig_postcopy_after_ms"] = int((time.monotonic() - t0) * 1000)
        if st in ("completed", "failed", "cancelled"):
            status = st
            break
        time.sleep(0.05)
    if status == "timeout":
        try:
            s.cmd("migrate_cancel")
        except QMPError:
            pass
    out["mig_status"] = status
    out["mig_total_ms"] = info.get("total-time", "")
    out["mig_downtime_ms"] = info.get("downtime", "")
    out["mig_setup_ms"] = info.get("setup-time", "")
    ram = info.get("ram", {})
    out["mig_transferred"] = ram.get("transferred", "")
    out["mig_dirty_sync"] = ram.get("dirty-sync-count", "")
    if postcopy is not None:
        out["mig_postcopy"] = 1 if switched is True else 0
        out["mig_postcopy_requests"] = ram.get("postcopy-requests", "")
    if info.get("error-desc") and "mig_error" not in out:
        out["mig_error"] = info["error-desc"]
    # The destination starts the guest once the stream is in (autostart);
    # give it a moment to get there.
    sstate = run_state(s)
    for _ in range(100):
        dstate = run_state(d)
        if dstate != "inmigrate" or status != "completed":
            break
        time.sleep(0.1)
    out["mig_src_state"] = sstate
    out["mig_dst_state"] = dstate
    emit()
    ok = status == "completed" and sstate == "postmigrate" and dstate == "running"
    return 0 if ok else 1


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    op, path = argv[0], argv[1]
    try:
        if op == "cmd":
            args = json.loads(argv[3]) if len(argv) > 3 else {}
            q = QMP(path)
            print(json.dumps(q.cmd(argv[2], **args)))
        elif op == "wait":
            wait_qmp(path, float(argv[2]) if len(argv) > 2 else 10.0).close()
        elif op == "status":
            print(run_state(QMP(path)))
        elif op == "migrate":
            return migrate(argv[1:])
        elif op == "send":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
            s.sendall(argv[2].encode())
            # let the chardev take it before the connection goes away
            time.sleep(0.2)
            s.close()
        else:
            print("qmp.py: unknown operation %s" % op, file=sys.stderr)
            return 2
    except (OSError, QMPError, ValueError) as e:
        print("qmp.py %s: %s" % (op, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
