#!/usr/bin/python3
"""Fault matrix: the real gapd against fake_ipi.py (i-PI 3.3.0's server side, failure modes included).

Each row injects one fault and compares what happens with what must happen; the output ends with a table
(row, expected, observed, PASS/FAIL). Rows:

  modes_fused_legacy     default (fused) and legacy sequences give bit-identical results; exit 0 on EXIT
  sigterm_mid_request    SIGTERM while computing: the reply is still sent, then a clean close, exit 0
  sigkill_mid_request    SIGKILL while computing (default mode): GETFORCE was already consumed, so i-PI sees a
                         clean end of stream (not a reset) and re-queues; a second gapd completes the request
  sigkill_legacy         the same in legacy mode: the STATUS i-PI sent is unread, so i-PI sees a reset, but in
                         its status read, which it survives; re-queued and completed
  control_reset          (self-test of the fake) a client that closes with GETFORCE unread: the fake must
                         report that real i-PI would hang
  gapd_before_ipi        gapd started 1.5 s before i-PI: it retries, connects, serves, exit 0
  ipi_restart_idle       i-PI vanishes without EXIT between requests, a new i-PI on the same address: gapd
                         reconnects and serves it, exit 0 on its EXIT
  ipi_restart_mid_request  i-PI vanishes while gapd computes: gapd's reply fails, it reconnects, serves the
                         new i-PI, exit 0
  remd_one_client_dies   two gapd, two replicas per round; one gapd is SIGKILLed mid-round: its replica is
                         re-queued to the other, the round completes with the same numbers as before
  timeout_exit           i-PI <timeout> shorter than gapd's computation: the slow gapd is sent EXIT, its request
                         re-queued to a fast gapd; the slow one's late reply fails, it reconnects, exits 0 at the end
  exit_on_disconnect     with exit_on_disconnect, a gapd that stops ends the i-PI run (SoftExit), gapd exit 0
  natoms_change          a frame with another atom count: one clear error line naming both counts, clean close,
                         exit 1
  nan_position / inf_position / nan_cell   non-finite input: clear error naming atom/component, clean close, exit 1
  overlapping_atoms      two atoms at the same place: clear error naming both atoms, clean close, exit 1
  singular_cell          coplanar lattice vectors: clear error 'singular cell', clean close, exit 1
  inverted_cell          a left-handed cell (a3 -> -a3: the same lattice) is legal: same energy, forces, virial
  large_frame_unix / large_frame_tcp   34,295 atoms (823 KB POSDATA, several socket buffers) under i-PI's 0.1 s
                         send timeout: drained at once, no timeout, correct reply
  control_slow_reader    (self-test of the fake) a client that does not read its POSDATA for 1 s is dropped by
                         the 0.1 s send timeout

With --real-ipi the key rows run against a real i-PI 3.3.0 instead ($IPI_ROOT: an i-PI checkout; without it
the script prints SKIP and exits 77):
  ipi_sigterm            SIGTERM to a computing gapd: reply sent, clean close; a second gapd finishes the run
  ipi_sigkill_timeout    SIGKILL to a computing gapd (<timeout> set): i-PI re-queues, a second gapd finishes
  ipi_double_sigterm     two SIGTERMs to a computing gapd: the reply is dropped whole (not a byte sent), clean
                         close, gapd exit 1; i-PI re-queues the request and a second gapd finishes the run
  ipi_restart            i-PI SIGKILLed mid-run, restarted from its checkpoint: gapd reconnects, run completes
  ipi_natoms_change      gapd's template has 40 atoms, i-PI's system 320: clear error, exit 1, i-PI survives and
                         completes with a correct gapd

Usage: test_fault_matrix.py --gapd build/gapd [--real-ipi] [--only ROW,...] [--timeout 300] [--workdir DIR]
Exit 0 = every row passed. Every wait is bounded; all child processes are killed in `finally`.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
import fake_ipi
from fake_ipi import FakeIpi, Request, WouldHang, SoftExit, structure_request, unsent_bytes
from make_batio3_supercell import build_supercell, extxyz_text

ROWS = []
CRASH_MARKERS = ("terminate called", "what():", "Aborted", "Segmentation fault", "core dumped", "AddressSanitizer",
                 "runtime error:", "LeakSanitizer")


class Abort(Exception):
    """Raised from a tick hook to leave FakeIpi.run()."""


# ---------------------------------------------------------------------------------------------------------
# Environment: model, structures, gapd processes

class Gapd:
    def __init__(self, env, tag, args):
        self.env = env
        self.tag = tag
        self.log_path = os.path.join(env.workdir, "gapd_%s.log" % tag)
        self.proc = common.start_process([env.gapd, "serve"] + args, self.log_path)
        env.procs.append(self.proc)

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout):
        return common.wait_process(self.proc, timeout, "gapd (%s)" % self.tag)

    def running(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def error_lines(self):
        return [l for l in self.log().splitlines() if "error" in l.lower()]

    def check_no_crash(self):
        text = self.log()
        for m in CRASH_MARKERS:
            if m in text:
                raise TestFailure("gapd (%s) log shows a crash/sanitizer report (%r):\n%s" % (self.tag, m, text[-2000:]))


class Env:
    def __init__(self, args):
        self.gapd = os.path.abspath(args.gapd)
        self.workdir = args.workdir
        self.prefix = os.path.join(self.workdir, "ipi_")
        self.procs = []
        self.naddr = 0
        self.t_slow = None
        data = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal")
        self.model = os.path.join(self.workdir, "small.gapd")
        r = common.run([self.gapd, "convert", "-m", os.path.join(data, "model_small_zeta2_exact.json"), "-o", self.model], 120)
        if r.returncode != 0:
            raise TestFailure("gapd convert failed: %s" % r.stderr)
        self.structures = {}
        self.templates = {}
        for n, seed in ((2, 1), (4, 1), (19, 1)):
            symbols, positions, cell = build_supercell(n, displacement=0.05, seed=seed)
            natoms = len(symbols)
            self.structures[natoms] = (np.array(cell), np.array(positions), symbols)
            path = os.path.join(self.workdir, "template_%d.extxyz" % natoms)
            with open(path, "w") as f:
                f.write(extxyz_text(symbols, positions, cell))
            self.templates[natoms] = path

    def address(self, tag):
        self.naddr += 1
        return "%s%d" % (tag[:12], self.naddr)

    def start_gapd(self, tag, address, natoms, radial="spline", threads=1, tcp_port=None, extra=()):
        args = ["-m", self.model, "-t", self.templates[natoms], "--threads", str(threads), "--radial", radial,
                "--connect-timeout", "20", "-v"]
        if tcp_port is None:
            args += ["-u", "-a", address, "-S", self.prefix]
        else:
            args += ["-a", "127.0.0.1", "-p", str(tcp_port)]
        return Gapd(self, tag, args + list(extra))

    def fake(self, address, **kw):
        kw.setdefault("status_wait", 20.0)
        kw.setdefault("hang_after", 30.0)
        return FakeIpi(address, "unix", self.prefix, **kw).open()

    def request(self, natoms, rid=0, displacement=0.0, seed=0, cell=None, edit=None):
        cell0, pos0, _ = self.structures[natoms]
        pos = pos0.copy()
        if displacement:
            pos += np.random.default_rng(seed).normal(0.0, displacement, pos.shape)
        if edit is not None:
            pos = edit(pos)
        h, ih, p = structure_request(cell0 if cell is None else cell, pos)
        return Request(rid, h, ih, p)

    def cleanup(self):
        for p in self.procs:
            common.kill_process(p, grace=2.0)


def same_result(a, b):
    return (a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2]))


def close_result(a, b, rel=1e-9):
    scale = max(1.0, abs(a[0]))
    return (abs(a[0] - b[0]) <= rel * scale and np.allclose(a[1], b[1], rtol=0, atol=rel * max(1.0, np.abs(a[1]).max()))
            and np.allclose(a[2], b[2], rtol=0, atol=rel * max(1.0, np.abs(a[2]).max())))


def client_ends(ipi):
    return {e[2]: e[3] for e in ipi.events if e[1] == "client_end"}


def peer_pid(sock):
    """The pid of the process at the other end of a UNIX socket (SO_PEERCRED)."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[0]
    except OSError:
        return None


def killer(ipi, gapd, sig, delay, then=None, drained=True):
    """A tick hook: once the request in flight on `gapd` has been running `delay` s and (if `drained`) its
    POSDATA (+GETFORCE) has been read completely by gapd, record that and send `sig` to gapd; then call `then`
    once. In legacy mode the STATUS that follows POSDATA stays unread while gapd computes: drained=False."""
    state = {"fired": False}

    def tick():
        if state["fired"]:
            return
        mine = [j for j in ipi.jobs if peer_pid(j[1].sock) == gapd.proc.pid]
        if not mine:
            return
        r, c = mine[0][0], mine[0][1]
        if r.start <= 0 or time.time() - r.start < delay:
            return
        state["unsent"] = unsent_bytes(c.sock)
        if drained and state["unsent"] != 0:
            return
        readable, _, _ = fake_ipi.select.select([c.sock], [], [], 0)
        state["reply_already_there"] = bool(readable)
        state["client"] = c.name
        state["at"] = time.time() - r.start
        gapd.signal(sig)
        state["fired"] = True
        if then is not None:
            then()
    return tick, state


def expect_clean_error(g, ipi, must_mention):
    """gapd exited 1 with one error line mentioning every string; i-PI saw an orderly end of stream."""
    code = g.wait(15)
    g.check_no_crash()
    errors = [l for l in g.log().splitlines() if l.startswith("gapd: error:")]
    if code != 1:
        raise TestFailure("gapd exit code %s, expected 1; log:\n%s" % (code, g.log()[-1500:]))
    if len(errors) != 1:
        raise TestFailure("expected one 'gapd: error:' line, got %r" % errors)
    for m in must_mention:
        if m.lower() not in errors[0].lower():
            raise TestFailure("error line does not mention %r: %s" % (m, errors[0]))
    ends = client_ends(ipi)
    if list(ends.values()) != ["eof"]:
        raise TestFailure("i-PI saw the connection end as %r, expected an orderly end of stream ('eof')" % ends)
    return "exit 1, i-PI saw 'eof': %s" % errors[0][len("gapd: error: "):]


def run_bad_frame(env, tag, request, must_mention):
    addr = env.address(tag)
    with env.fake(addr) as ipi:
        g = env.start_gapd(tag, addr, 40)
        ok = env.request(40, rid=0)
        ipi.run([ok], 30)
        bad = request
        bad.id = 1
        ended = lambda: not g.running() and not any(c.status & fake_ipi.St.UP for c in ipi.clients)  # noqa: E731
        ipi.run([bad], 30, until=ended)
        return expect_clean_error(g, ipi, must_mention)


# ---------------------------------------------------------------------------------------------------------
# Rows

def row_modes_fused_legacy(env):
    results = {}
    for mode in ("fused", "legacy"):
        addr = env.address(mode)
        with env.fake(addr, consolidate=(mode == "fused")) as ipi:
            g = env.start_gapd(mode, addr, 40)
            reqs = [env.request(40, rid=k, displacement=0.02, seed=k) for k in range(3)]
            ipi.run(reqs, 30)
            results[mode] = [r.result for r in reqs]
        if g.wait(10) != 0:
            raise TestFailure("%s: gapd exit %s after EXIT" % (mode, g.proc.returncode))
        g.check_no_crash()
        if "i-PI uses the %s" % ("default (fused)" if mode == "fused" else "legacy") not in g.log():
            raise TestFailure("gapd did not detect the %s sequence" % mode)
    for a, b in zip(results["fused"], results["legacy"]):
        if not same_result(a, b):
            raise TestFailure("fused and legacy results differ")
    return "3 requests each, identical numbers, both exit 0, modes detected"


def measure_slow(env, ipi, g, req):
    ipi.run([req], 60)
    t = req.finished - req.start
    env.t_slow = t if env.t_slow is None else min(env.t_slow, t)
    return t


def row_sigterm_mid_request(env):
    addr = env.address("sigterm")
    with env.fake(addr) as ipi:
        g = env.start_gapd("sigterm", addr, 320, radial="exact")
        warm = env.request(320, rid=0)
        t = measure_slow(env, ipi, g, warm)
        req = env.request(320, rid=0)
        ipi.tick, st = killer(ipi, g, signal.SIGTERM, 0.25 * t)
        ipi.run([req], 60)
        ipi.tick = None
        if not st["fired"]:
            raise TestFailure("SIGTERM was never sent")
        if st["reply_already_there"]:
            raise TestFailure("gapd had already replied when SIGTERM was sent (request took %.3f s)" % t)
        if not same_result(req.result, warm.result):
            raise TestFailure("the reply sent after SIGTERM differs from the same request before")
        code = g.wait(15)
        ends = client_ends(ipi)
    g.check_no_crash()
    if code != 0:
        raise TestFailure("gapd exit %s after SIGTERM, expected 0" % code)
    if ends.get(st["client"]) != "eof":
        raise TestFailure("i-PI saw %r, expected an orderly close ('eof')" % ends)
    if "stop requested" not in g.log():
        raise TestFailure("gapd log does not say it stopped on request")
    return ("SIGTERM %.2f s into a %.2f s request: reply received (same numbers), then 'eof', exit 0"
            % (st["at"], t))


def row_sigkill_mid_request(env, consolidate=True):
    tag = "sigkill" if consolidate else "sigkill_leg"
    addr = env.address(tag)
    with env.fake(addr, consolidate=consolidate) as ipi:
        a = env.start_gapd(tag + "_a", addr, 320, radial="exact")
        warm = env.request(320, rid=0)
        t = measure_slow(env, ipi, a, warm)
        req = env.request(320, rid=0)
        holder = {}
        ipi.tick, st = killer(ipi, a, signal.SIGKILL, 0.25 * t,
                              then=lambda: holder.setdefault("b", env.start_gapd(tag + "_b", addr, 320)),
                              drained=consolidate)
        try:
            ipi.run([req], 60)
        except WouldHang as e:
            raise TestFailure("real i-PI would hang: %s" % e)
        ipi.tick = None
        ends = client_ends(ipi)
        requeued = ipi.count("requeue")
    b = holder.get("b")
    if not st.get("fired"):
        raise TestFailure("SIGKILL was never sent")
    if st["reply_already_there"]:
        raise TestFailure("gapd had already replied when it was killed (request took %.3f s)" % t)
    if b is None or b.wait(10) != 0:
        raise TestFailure("the second gapd did not exit 0 after EXIT")
    if len(req.served_by) != 2 or requeued < 1:
        raise TestFailure("request not re-queued to the second gapd (served by %r)" % req.served_by)
    if not close_result(req.result, warm.result, 1e-6):
        raise TestFailure("re-queued result differs from the first computation")
    if consolidate:
        if st["unsent"] != 0:
            raise TestFailure("%d bytes (GETFORCE) still unread by gapd when it was killed" % st["unsent"])
        if ends.get(st["client"]) != "eof":
            raise TestFailure("i-PI saw %r for the killed gapd, expected 'eof' (a reset hangs i-PI 3.3.0)" % ends)
        return ("SIGKILL %.2f s into a %.2f s request, 0 bytes unread: i-PI saw 'eof', re-queued, served by the "
                "second gapd" % (st["at"], t))
    return ("SIGKILL %.2f s into a %.2f s request: i-PI saw %r in its STATUS read (survivable there), "
            "re-queued, served by the second gapd" % (st["at"], t, ends.get(st["client"])))


def row_sigkill_legacy(env):
    return row_sigkill_mid_request(env, consolidate=False)


def raw_client(path, behaviour, result):
    """A misbehaving driver written in Python: handshake, then 'reset' (close with GETFORCE unread) or
    'slow_reader' (do not read the POSDATA for 1 s)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        for _ in range(100):
            try:
                s.connect(path)
                break
            except OSError:
                time.sleep(0.05)

        def recv_exact(n):
            buf = b""
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise EOFError
                buf += chunk
            return buf
        initialized = False
        while True:
            h = recv_exact(12)
            if h == fake_ipi.msg("STATUS"):
                if initialized and behaviour == "slow_reader":
                    s.sendall(fake_ipi.msg("READY"))
                    time.sleep(1.0)
                    result["slept"] = True
                    return
                s.sendall(fake_ipi.msg("READY" if initialized else "NEEDINIT"))
            elif h == fake_ipi.msg("INIT"):
                _, n = struct.unpack("<ii", recv_exact(8))
                recv_exact(n)
                initialized = True
            elif h == fake_ipi.msg("POSDATA"):
                body = recv_exact(144 + 4)
                natoms = struct.unpack_from("<i", body, 144)[0]
                recv_exact(24 * natoms)
                result["posdata_read"] = True
                return  # close with GETFORCE unread
            else:
                return
    except (OSError, EOFError) as e:
        result["error"] = repr(e)
    finally:
        s.close()


def row_control_reset(env):
    addr = env.address("ctlreset")
    with env.fake(addr) as ipi:
        result = {}
        t = threading.Thread(target=raw_client, args=(ipi.path, "reset", result), daemon=True)
        t.start()
        try:
            ipi.run([env.request(40)], 20)
        except WouldHang as e:
            t.join(5)
            if "reset" not in str(e):
                raise TestFailure("WouldHang without 'reset': %s" % e)
            return "fake reports: %s" % str(e)[:90]
        raise TestFailure("the fake did not detect a reset with GETFORCE unread (result %r)" % result)


def row_control_slow_reader(env):
    addr = env.address("ctlslow")
    with env.fake(addr) as ipi:
        result = {}
        t = threading.Thread(target=raw_client, args=(ipi.path, "slow_reader", result), daemon=True)
        t.start()
        req = env.request(19 ** 3 * 5)
        ended = lambda: ipi.count("send_timeout") > 0 and ipi.count("requeue") > 0  # noqa: E731
        ipi.run([req], 20, until=ended)
        t.join(5)
        if ipi.count("send_timeout") == 0:
            raise TestFailure("no send timeout for a client that did not read 823 KB for 1 s")
        detail = [e[3] for e in ipi.events if e[1] == "send_timeout"][0]
    return "send timeout (%s), request re-queued" % detail


def row_gapd_before_ipi(env):
    addr = env.address("before")
    g = env.start_gapd("before", addr, 40)
    time.sleep(1.5)
    if not g.running():
        raise TestFailure("gapd exited while waiting for i-PI: %s" % g.log())
    with env.fake(addr) as ipi:
        reqs = [env.request(40, rid=0, displacement=0.02, seed=k) for k in range(3)]
        for r in reqs:
            ipi.run([r], 30)
    code = g.wait(10)
    g.check_no_crash()
    if code != 0:
        raise TestFailure("exit %s" % code)
    return "waited 1.5 s, connected, 3 requests, exit 0"


def row_ipi_restart_idle(env):
    addr = env.address("restart")
    g = env.start_gapd("restart", addr, 40)
    ipi = env.fake(addr)
    try:
        ipi.run([env.request(40, rid=0)], 30)
        ipi.run([env.request(40, rid=0, displacement=0.02, seed=1)], 30)
    finally:
        ipi.crash()
    time.sleep(1.0)
    with env.fake(addr) as ipi2:
        ipi2.run([env.request(40, rid=0, displacement=0.02, seed=2)], 30)
        ipi2.run([env.request(40, rid=0, displacement=0.02, seed=3)], 30)
    code = g.wait(10)
    g.check_no_crash()
    log = g.log()
    if code != 0 or "reconnected" not in log:
        raise TestFailure("exit %s, reconnected in log: %s" % (code, "reconnected" in log))
    return "i-PI gone without EXIT after 2 requests; new i-PI 1 s later: reconnected, 2 requests, exit 0"


def row_ipi_restart_mid_request(env):
    addr = env.address("restartmid")
    g = env.start_gapd("restartmid", addr, 320, radial="exact")
    ipi = env.fake(addr)
    state = {}

    def tick():
        if ipi.jobs and unsent_bytes(ipi.jobs[0][1].sock) == 0 and time.time() - ipi.jobs[0][0].start > 0.05:
            readable, _, _ = fake_ipi.select.select([ipi.jobs[0][1].sock], [], [], 0)
            state["reply_already_there"] = bool(readable)
            ipi.crash()
            raise Abort()
    try:
        ipi.run([env.request(320, rid=0)], 30)  # warm-up: handshake done
        ipi.tick = tick
        try:
            ipi.run([env.request(320, rid=0, displacement=0.02, seed=1)], 30)
        except Abort:
            pass
    finally:
        if ipi.server is not None:
            ipi.crash()
    if state.get("reply_already_there"):
        raise TestFailure("gapd had already replied when i-PI vanished")
    time.sleep(0.5)
    with env.fake(addr) as ipi2:
        r = env.request(320, rid=0, displacement=0.02, seed=1)
        ipi2.run([r], 30)
    code = g.wait(10)
    g.check_no_crash()
    log = g.log()
    if code != 0 or "reconnected" not in log:
        raise TestFailure("exit %s, reconnected in log: %s\n%s" % (code, "reconnected" in log, log[-1500:]))
    lost = [l for l in log.splitlines() if "failed" in l or "closed the connection" in l]
    return "i-PI vanished mid-computation; gapd: %r; reconnected, served the new i-PI, exit 0" % (
        lost[0][6:70] if lost else "?")


def row_remd_one_client_dies(env):
    addr = env.address("remd")
    with env.fake(addr) as ipi:
        a = env.start_gapd("remd_a", addr, 320, radial="exact")
        b = env.start_gapd("remd_b", addr, 320, radial="exact")
        ipi.wait_for_clients(2, 20)
        round1 = [env.request(320, rid=k, displacement=0.03, seed=10 + k) for k in range(2)]
        ipi.run(round1, 60)
        by_client = {r.served_by[-1]: r.id for r in round1}
        if len(by_client) != 2:
            raise TestFailure("round 1 did not use both clients: %r" % [r.served_by for r in round1])
        t = max(env.t_slow or 0.0, 0.2)
        round2 = [env.request(320, rid=k, displacement=0.03, seed=10 + k) for k in range(2)]
        ipi.tick, st = killer(ipi, a, signal.SIGKILL, 0.25 * t)
        try:
            ipi.run(round2, 60)
        except WouldHang as e:
            raise TestFailure("real i-PI would hang: %s" % e)
        ipi.tick = None
        ends = client_ends(ipi)
    if b.wait(10) != 0:
        raise TestFailure("surviving gapd did not exit 0")
    killed = st.get("client")
    moved = [r for r in round2 if len(r.served_by) > 1]
    if not st.get("fired") or st.get("reply_already_there") or not moved:
        raise TestFailure("no request was re-queued (kill state %r, served_by %r)" % (st, [r.served_by for r in round2]))
    if ends.get(killed) != "eof":
        raise TestFailure("i-PI saw %r for the killed gapd, expected 'eof'" % ends)
    for r1, r2 in zip(round1, round2):
        if not same_result(r1.result, r2.result):
            raise TestFailure("replica %d: round-2 result differs from round 1" % r1.id)
    return ("2 replicas; %s killed mid-round ('eof'); replica %d re-queued to %s; round completed, numbers "
            "identical to round 1" % (killed, moved[0].id, moved[0].served_by[-1]))


def row_timeout_exit(env):
    addr = env.address("timeout")
    t = env.t_slow or 0.6
    limit = max(0.1, min(0.3 * t, 1.0))
    with env.fake(addr, timeout=limit) as ipi:
        a = env.start_gapd("timeout_a", addr, 320, radial="exact")
        ipi.wait_for_clients(1, 20)
        holder = {}

        def tick():
            if "b" not in holder:
                holder["b"] = env.start_gapd("timeout_b", addr, 320)
        ipi.tick = tick
        req = env.request(320, rid=0)
        ipi.run([req], 60)
        ipi.tick = None
        # Keep serving until the slow gapd has come back (its late reply fails: it reconnects).
        deadline = time.monotonic() + 20
        while ipi._nclients < 3 and time.monotonic() < deadline:
            ipi.pool_update()
            time.sleep(0.01)
        timeouts = ipi.count("timeout")
        exits = [e for e in ipi.events if e[1] == "exit_sent" and e[3] == "timeout_exit"]
        served = list(req.served_by)
    b = holder["b"]
    codes = (a.wait(15), b.wait(15))
    a.check_no_crash()
    b.check_no_crash()
    if timeouts < 1 or not exits:
        raise TestFailure("no <timeout> fired (limit %.2f s, slow request %.2f s)" % (limit, t))
    if len(served) != 2 or served[0] == served[1]:
        raise TestFailure("request not re-queued to the fast gapd: %r" % served)
    if codes != (0, 0):
        raise TestFailure("exit codes %r, expected (0, 0); slow gapd log:\n%s" % (codes, a.log()[-1500:]))
    if "reconnected" not in a.log():
        raise TestFailure("the slow gapd did not reconnect after its late reply failed:\n%s" % a.log()[-1500:])
    return ("<timeout> %.2f s < %.2f s request: EXIT sent to the slow gapd, re-queued to the fast one; the slow "
            "one's late reply failed, it reconnected; both exit 0" % (limit, t))


def row_exit_on_disconnect(env):
    addr = env.address("eod")
    with env.fake(addr, exit_on_disconnect=True) as ipi:
        g = env.start_gapd("eod", addr, 40)
        ipi.run([env.request(40)], 30)
        g.signal(signal.SIGTERM)
        if g.wait(10) != 0:
            raise TestFailure("gapd exit %s after SIGTERM while idle" % g.proc.returncode)
        try:
            ipi.run([env.request(40, displacement=0.01, seed=4)], 20)
        except SoftExit as e:
            return "gapd stopped (SIGTERM, idle, exit 0); i-PI run ended: %s" % e
    raise TestFailure("the run did not end although exit_on_disconnect is set")


def row_natoms_change(env):
    def bigger():
        cell, pos, _ = env.structures[40]
        pos = np.vstack([pos, [[1.0, 1.0, 1.0]]])
        h, ih, p = structure_request(cell, pos)
        return Request(1, h, ih, p)
    return run_bad_frame(env, "natoms", bigger(), ["41", "40"])


def row_nan_position(env):
    def edit(p):
        p[7, 1] = np.nan
        return p
    return run_bad_frame(env, "nanpos", env.request(40, edit=edit), ["non-finite position", "atom 7", "y"])


def row_inf_position(env):
    def edit(p):
        p[3, 2] = np.inf
        return p
    return run_bad_frame(env, "infpos", env.request(40, edit=edit), ["non-finite position", "atom 3", "z"])


def row_nan_cell(env):
    cell = env.structures[40][0].copy()
    cell[1, 1] = np.nan
    return run_bad_frame(env, "nancell", env.request(40, cell=cell), ["non-finite cell"])


def row_overlapping_atoms(env):
    def edit(p):
        p[5] = p[0]
        return p
    return run_bad_frame(env, "overlap", env.request(40, edit=edit), ["overlap", "atoms 0 and 5"])


def row_singular_cell(env):
    cell = env.structures[40][0].copy()
    cell[2] = cell[0] + cell[1]
    return run_bad_frame(env, "singular", env.request(40, cell=cell), ["singular cell"])


def row_inverted_cell(env):
    addr = env.address("inverted")
    cell = env.structures[40][0]
    left = cell.copy()
    left[2] = -left[2]
    if not np.linalg.det(left) < 0:
        raise TestFailure("test setup: the cell is not left-handed")
    with env.fake(addr) as ipi:
        g = env.start_gapd("inverted", addr, 40)
        right_req = env.request(40, rid=0, displacement=0.02, seed=5)
        h_left, ih_left, _ = structure_request(left, right_req.pos.reshape(-1, 3))
        left_req = Request(0, h_left, ih_left, right_req.pos)
        ipi.run([right_req], 30)
        ipi.run([left_req], 30)
    code = g.wait(10)
    g.check_no_crash()
    if code != 0:
        raise TestFailure("exit %s" % code)
    a, b = right_req.result, left_req.result
    de = abs(a[0] - b[0]) / abs(a[0])
    df = np.abs(a[1] - b[1]).max()
    dv = np.abs(a[2] - b[2]).max()
    if de > 1e-12 or df > 1e-10 or dv > 1e-10:
        raise TestFailure("left-handed cell gives other numbers: dE/E %.1e, dF %.1e, dW %.1e" % (de, df, dv))
    return "accepted; same lattice -> |dE/E| %.0e, max|dF| %.0e Ha/Bohr, max|dW| %.0e Ha" % (de, df, dv)


def large_frame(env, tcp):
    natoms = 19 ** 3 * 5
    if tcp:
        port = common.free_tcp_port()
        ipi = FakeIpi("127.0.0.1", "inet", port=port, status_wait=20.0, hang_after=60.0).open()
        g = env.start_gapd("large_tcp", None, natoms, threads=2, tcp_port=ipi.port)
    else:
        addr = env.address("large")
        ipi = env.fake(addr, hang_after=60.0)
        g = env.start_gapd("large_unix", addr, natoms, threads=2)
    with ipi:
        ipi.wait_for_clients(1, 30)
        state = {}

        def tick():
            if "drained" not in state and ipi.jobs and unsent_bytes(ipi.jobs[0][1].sock) == 0:
                state["drained"] = time.time() - ipi.jobs[0][0].start
        ipi.tick = tick
        req = env.request(natoms, rid=0, displacement=0.01, seed=6)
        t0 = time.time()
        ipi.run([req], 120)
        t = time.time() - t0
        timeouts = ipi.count("send_timeout")
        send_time = ipi.send_durations[-1] if ipi.send_durations else None
    code = g.wait(15)
    g.check_no_crash()
    if timeouts or send_time is None or send_time >= fake_ipi.SEND_TIMEOUT:
        raise TestFailure("POSDATA of %d atoms not taken within i-PI's 0.1 s (send %s, timeouts %d)"
                          % (natoms, send_time, timeouts))
    if code != 0 or req.result is None or not np.isfinite(req.result[1]).all():
        raise TestFailure("exit %s / no finite result" % code)
    size = len(req.posdata()) + 12
    return ("%d atoms (%d KB): sent in %.1f ms (limit 100), drained after %s ms, reply after %.2f s, exit 0"
            % (natoms, size // 1024, 1e3 * send_time,
               "%.1f" % (1e3 * state["drained"]) if "drained" in state else "?", t))


def row_large_frame_unix(env):
    return large_frame(env, tcp=False)


def row_large_frame_tcp(env):
    return large_frame(env, tcp=True)


# ---------------------------------------------------------------------------------------------------------
# Real i-PI rows (--real-ipi)

IPI_INPUT = """<simulation verbosity='medium' safe_stride='1' sockets_prefix='{prefix}'>
  <output prefix='sim'>
    <properties stride='1' filename='out'> [ step, time{{picosecond}}, potential{{electronvolt}} ] </properties>
    <checkpoint stride='1' overwrite='{overwrite}'/>
  </output>
  <total_steps> {steps} </total_steps>
  <prng><seed> 31415 </seed></prng>
  <ffsocket name='gapd' mode='unix' pbc='false'>
    <address> {address} </address>{timeout}
  </ffsocket>
  <system>
    <initialize nbeads='1'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces><force forcefield='gapd'> </force></forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 2.0 </timestep>
        <thermostat mode='svr'><tau units='femtosecond'> 100 </tau></thermostat>
      </dynamics>
    </motion>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
  </system>
</simulation>
"""


class RealIpi:
    """One i-PI run in its own directory (input.xml, init.xyz, sim.out, sim.restart, ipi.log)."""

    def __init__(self, env, tag, natoms, steps, timeout=None, numbered_checkpoints=False):
        from make_batio3_supercell import ipi_xyz_text
        self.env = env
        self.dir = os.path.join(env.workdir, tag)
        os.makedirs(self.dir)
        self.address = env.address(tag)
        self.steps = steps
        cell, pos, symbols = env.structures[natoms]
        with open(os.path.join(self.dir, "init.xyz"), "w") as f:
            f.write(ipi_xyz_text(symbols, pos.tolist(), cell.tolist()))
        with open(os.path.join(self.dir, "input.xml"), "w") as f:
            f.write(IPI_INPUT.format(prefix=env.prefix, steps=steps, address=self.address,
                                     overwrite="false" if numbered_checkpoints else "true",
                                     timeout="" if timeout is None else "\n    <timeout> %g </timeout>" % timeout))
        self.proc = None
        self.nstart = 0

    def start(self, input_file="input.xml"):
        self.nstart += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = self.env.ipi_root + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.log_path = os.path.join(self.dir, "ipi_%d.log" % self.nstart)
        self.proc = common.start_process([sys.executable, os.path.join(self.env.ipi_root, "bin", "i-pi"), input_file],
                                         self.log_path, cwd=self.dir, env=env)
        self.env.procs.append(self.proc)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def last_step(self):
        try:
            with open(os.path.join(self.dir, "sim.out")) as f:
                rows = [l.split() for l in f if l.strip() and not l.startswith("#")]
            return int(float(rows[-1][0])) if rows else -1
        except (OSError, ValueError, IndexError):
            return -1

    def newest_complete_checkpoint(self):
        """sim.restart_<step> files (overwrite='false'): the newest that is complete XML. i-PI rewrites a
        checkpoint in place (no temporary file): a kill during the write leaves it truncated."""
        import xml.etree.ElementTree as ET
        found = []
        for name in os.listdir(self.dir):
            if name.startswith("sim.restart_"):
                try:
                    found.append((int(name.rsplit("_", 1)[1]), name))
                except ValueError:
                    pass
        for step, name in sorted(found, reverse=True):
            try:
                ET.parse(os.path.join(self.dir, name))
                return step, name
            except ET.ParseError:
                continue
        raise TestFailure("no complete checkpoint in %s" % self.dir)

    def wait_done(self, timeout):
        code = common.wait_process(self.proc, timeout, "i-PI")
        text = self.log()
        if code != 0 or "Traceback" in text:
            raise TestFailure("i-PI exit %s; log tail:\n%s" % (code, text[-2000:]))
        if self.last_step() != self.steps:
            raise TestFailure("i-PI ended at step %d of %d" % (self.last_step(), self.steps))
        return code


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TestFailure("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def request_lines(g):
    return [l for l in g.log().splitlines() if l.startswith("gapd: request ")]


def ipi_kill_mid_request(env, tag, sig, timeout, twice=False):
    run = RealIpi(env, tag, 320, steps=8, timeout=timeout).start()
    a = env.start_gapd(tag + "_a", run.address, 320, radial="exact")
    wait_for(lambda: len(request_lines(a)) >= 2 or not a.running(), 60, "two requests served by gapd")
    last = request_lines(a)[-1]
    t = float(last.split(" in ")[1].split()[0]) / 1e3
    n_before = len(request_lines(a))
    time.sleep(0.25 * t)
    a.signal(sig)
    if twice:
        time.sleep(0.05 * t)
        a.signal(sig)
    code_a = a.wait(20)
    n_after = len(request_lines(a))
    b = env.start_gapd(tag + "_b", run.address, 320)
    run.wait_done(120)
    code_b = b.wait(20)
    b.check_no_crash()
    if code_b != 0:
        raise TestFailure("second gapd exit %s" % code_b)
    return run, a, code_a, n_before, n_after, t


def row_ipi_sigterm(env):
    run, a, code, n_before, n_after, t = ipi_kill_mid_request(env, "ipi_sigterm", signal.SIGTERM, None)
    a.check_no_crash()
    if code != 0 or "stop requested" not in a.log():
        raise TestFailure("gapd exit %s after SIGTERM; log:\n%s" % (code, a.log()[-1500:]))
    if n_after != n_before + 1:
        raise TestFailure("the request in progress was not finished: %d requests before SIGTERM, %d after"
                          % (n_before, n_after))
    return ("SIGTERM %.2f s into request %d (%.2f s): reply sent, gapd exit 0; i-PI continued with a second gapd, "
            "all %d steps, exit 0" % (0.25 * t, n_before + 1, t, run.steps))


def row_ipi_double_sigterm(env):
    run, a, code, n_before, n_after, t = ipi_kill_mid_request(env, "ipi_double_sigterm", signal.SIGTERM, None,
                                                              twice=True)
    a.check_no_crash()
    if code != 1 or "was not sent" not in a.log():
        raise TestFailure("gapd exit %s after two SIGTERMs; log:\n%s" % (code, a.log()[-1500:]))
    return ("two SIGTERMs %.2f and %.2f s into request %d (%.2f s): reply dropped before its first byte, gapd exit "
            "1; i-PI re-queued it, a second gapd finished all %d steps, i-PI exit 0"
            % (0.25 * t, 0.30 * t, n_before + 1, t, run.steps))


def row_ipi_sigkill_timeout(env):
    run, a, code, n_before, n_after, t = ipi_kill_mid_request(env, "ipi_sigkill", signal.SIGKILL, 30)
    if code != -signal.SIGKILL:
        raise TestFailure("gapd was not killed (exit %s)" % code)
    lost = "died or got unresponsive" in run.log() or "Client" in run.log()
    return ("SIGKILL %.2f s into request %d (%.2f s): i-PI re-queued it (%s), a second gapd finished all %d steps, "
            "i-PI exit 0" % (0.25 * t, n_before + 1, t, "client removal logged" if lost else "silently", run.steps))


def row_ipi_restart(env):
    run = RealIpi(env, "ipi_restart", 40, steps=300, numbered_checkpoints=True).start()
    g = env.start_gapd("ipi_restart", run.address, 40)
    wait_for(lambda: run.last_step() >= 60 or run.proc.poll() is not None, 60, "60 i-PI steps")
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(10)
    killed_at = run.last_step()
    time.sleep(1.0)
    if not g.running():
        raise TestFailure("gapd exited when i-PI died: %s" % g.log()[-800:])
    # A killed i-PI leaves its socket file behind; a restarted i-PI refuses to bind over it.
    stale = env.prefix + run.address
    if os.path.exists(stale):
        os.unlink(stale)
    step, checkpoint = run.newest_complete_checkpoint()
    run.start(checkpoint)
    run.wait_done(120)
    code = g.wait(20)
    g.check_no_crash()
    if code != 0 or "reconnected" not in g.log():
        raise TestFailure("gapd exit %s, reconnected: %s" % (code, "reconnected" in g.log()))
    return ("i-PI SIGKILLed at step %d, restarted from %s (newest complete checkpoint): gapd reconnected, run "
            "completed (%d steps), gapd exit 0" % (killed_at, checkpoint, run.steps))


def row_ipi_natoms_change(env):
    run = RealIpi(env, "ipi_natoms", 320, steps=5).start()
    bad = env.start_gapd("ipi_natoms_bad", run.address, 40)
    code = bad.wait(60)
    bad.check_no_crash()
    errors = [l for l in bad.log().splitlines() if l.startswith("gapd: error:")]
    if code != 1 or len(errors) != 1 or "320" not in errors[0] or "40" not in errors[0]:
        raise TestFailure("exit %s, errors %r" % (code, errors))
    if run.proc.poll() is not None:
        raise TestFailure("i-PI died after the bad client left: %s" % run.log()[-1500:])
    good = env.start_gapd("ipi_natoms_good", run.address, 320)
    run.wait_done(120)
    if good.wait(20) != 0:
        raise TestFailure("correct gapd exit %s" % good.proc.returncode)
    return "exit 1: %s; i-PI survived and finished with a correct gapd" % errors[0][len("gapd: error: "):]


IPI_ROWS = [
    ("ipi_sigterm", "reply sent, gapd exit 0; i-PI finishes with another gapd", row_ipi_sigterm),
    ("ipi_sigkill_timeout", "i-PI re-queues; another gapd finishes; i-PI exit 0", row_ipi_sigkill_timeout),
    ("ipi_double_sigterm", "reply dropped whole, gapd exit 1; i-PI re-queues; another gapd finishes",
     row_ipi_double_sigterm),
    ("ipi_restart", "gapd reconnects to the restarted i-PI; run completes; exit 0", row_ipi_restart),
    ("ipi_natoms_change", "clear error, exit 1; i-PI survives", row_ipi_natoms_change),
]


ALL_ROWS = [
    ("modes_fused_legacy", "same numbers in both sequences, exit 0 on EXIT", row_modes_fused_legacy),
    ("sigterm_mid_request", "reply sent, then clean close ('eof'), exit 0", row_sigterm_mid_request),
    ("sigkill_mid_request", "GETFORCE consumed; i-PI sees 'eof' (no reset), re-queues, request completes",
     row_sigkill_mid_request),
    ("sigkill_legacy", "re-queued and completed (reset only in i-PI's STATUS read, which it survives)",
     row_sigkill_legacy),
    ("control_reset", "fake reports 'real i-PI would hang' for a reset with GETFORCE unread", row_control_reset),
    ("gapd_before_ipi", "gapd retries, connects, serves, exit 0", row_gapd_before_ipi),
    ("ipi_restart_idle", "reconnect to the new i-PI, serve, exit 0 on EXIT", row_ipi_restart_idle),
    ("ipi_restart_mid_request", "late reply fails, reconnect, serve the new i-PI, exit 0",
     row_ipi_restart_mid_request),
    ("remd_one_client_dies", "killed client's replica re-queued to the other; round completes, same numbers",
     row_remd_one_client_dies),
    ("timeout_exit", "slow gapd gets EXIT, request re-queued; slow gapd reconnects; both exit 0", row_timeout_exit),
    ("exit_on_disconnect", "gapd stop ends the i-PI run (SoftExit); gapd exit 0", row_exit_on_disconnect),
    ("natoms_change", "one error line naming 41 and 40, clean close, exit 1", row_natoms_change),
    ("nan_position", "error naming atom 7, y; clean close; exit 1", row_nan_position),
    ("inf_position", "error naming atom 3, z; clean close; exit 1", row_inf_position),
    ("nan_cell", "error 'non-finite cell'; clean close; exit 1", row_nan_cell),
    ("overlapping_atoms", "error naming atoms 0 and 5; clean close; exit 1", row_overlapping_atoms),
    ("singular_cell", "error 'singular cell'; clean close; exit 1", row_singular_cell),
    ("inverted_cell", "legal: same energy/forces/virial as the right-handed cell", row_inverted_cell),
    ("large_frame_unix", "34,295 atoms drained within i-PI's 0.1 s send timeout; reply; exit 0",
     row_large_frame_unix),
    ("large_frame_tcp", "same over TCP", row_large_frame_tcp),
    ("control_slow_reader", "fake drops a client that does not read 823 KB within 0.1 s", row_control_slow_reader),
]


def print_table():
    w = max(len(r[0]) for r in ROWS)
    print("\nFault matrix (gapd vs %s):" % ("i-PI 3.3.0" if ROWS and ROWS[0][0].startswith("ipi_") else
                                           "fake i-PI 3.3.0"))
    print("| %-*s | %-6s | expected | observed |" % (w, "row", "result"))
    print("|%s|--------|----------|----------|" % ("-" * (w + 2)))
    for name, expected, observed, ok, secs in ROWS:
        print("| %-*s | %-6s | %s | %s (%.1f s) |" % (w, name, "PASS" if ok else "FAIL", expected,
                                                      observed.replace("\n", " ")[:400], secs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--only", help="comma-separated row names")
    parser.add_argument("--timeout", type=float, default=300, help="global watchdog, seconds")
    parser.add_argument("--workdir", help="keep files here (default: temporary, removed on success)")
    parser.add_argument("--real-ipi", action="store_true",
                        help="run the key rows against the real i-PI in $IPI_ROOT (exit 77 if it is not set)")
    args = parser.parse_args()
    all_rows = ALL_ROWS
    ipi_root = os.environ.get("IPI_ROOT", "")
    if args.real_ipi:
        if not ipi_root or not os.path.isfile(os.path.join(ipi_root, "bin", "i-pi")):
            print("SKIP test_fault_matrix --real-ipi: IPI_ROOT is not set to an i-PI checkout (v3.3.0). To run it: "
                  "git clone --branch v3.3.0 https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi "
                  "ctest -R e2e_fault_matrix_ipi")
            return common.SKIP
        all_rows = IPI_ROWS
    keep = bool(args.workdir)
    # UNIX socket paths must fit 108 bytes: a short directory under /tmp.
    args.workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="gapd_fm_", dir="/tmp")
    os.makedirs(args.workdir, exist_ok=True)
    rows = all_rows
    if args.only:
        wanted = args.only.split(",")
        rows = [r for r in all_rows if r[0] in wanted]
        if len(rows) != len(wanted):
            print("unknown row in --only; rows: %s" % ", ".join(r[0] for r in all_rows))
            return 2
    env = None
    failed = True
    try:
        with common.Watchdog(args.timeout, "test_fault_matrix"):
            env = Env(args)
            env.ipi_root = ipi_root
            for name, expected, fn in rows:
                t0 = time.monotonic()
                try:
                    observed = fn(env)
                    ok = True
                except TimeoutError:
                    raise  # the global watchdog: stop everything
                except Exception as e:  # noqa: BLE001 - any other error fails this row, the next rows still run
                    observed = "%s: %s" % (type(e).__name__, e)
                    if not isinstance(e, (TestFailure, fake_ipi.FakeIpiError)):
                        traceback.print_exc()
                    ok = False
                finally:
                    for p in env.procs:
                        common.kill_process(p, grace=2.0)
                    env.procs = []
                ROWS.append((name, expected, observed, ok, time.monotonic() - t0))
                print("  %-4s %-24s %5.1f s  %s" % ("ok" if ok else "FAIL", name, ROWS[-1][4], observed[:300]),
                      flush=True)
        print_table()
        failed = any(not r[3] for r in ROWS)
        print("%s test_fault_matrix: %d rows, %d failed (work dir %s)"
              % ("FAIL" if failed else "PASS", len(ROWS), sum(1 for r in ROWS if not r[3]), args.workdir))
        return 1 if failed else 0
    except Exception as e:  # noqa: BLE001 - the watchdog or anything unexpected is a failure
        traceback.print_exc()
        if ROWS:
            print_table()
        print("FAIL test_fault_matrix: %s (files in %s)" % (e, args.workdir))
        return 1
    finally:
        if env is not None:
            env.cleanup()
        if not failed and not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
