#!/usr/bin/python3
"""A test peer that plays i-PI 3.3.0's socket *server* side, including its failure modes.

Written for gapd's reliability tests (test_fault_matrix.py, scripts/soak.py) from the behaviour described in
shared/protocol/IPI_PROTOCOL.md and observed in i-PI 3.3.0's ipi/interfaces/sockets.py (this is an independent
re-implementation; no i-PI code is copied). What it reproduces:

  * listening on a UNIX socket `<prefix><address>` (default prefix /tmp/ipi_) or on TCP; a client may
    connect at any time; after an accept it keeps accepting for 0.5 s before dispatching;
  * the handshake of a new client: STATUS (-> NEEDINIT), STATUS, INIT(rid, text), STATUS (-> READY);
  * default mode (consolidate_messages=true): POSDATA + cell + atoms + GETFORCE in ONE sendall, the
    FORCEREADY payload collected with select(), then STATUS; legacy mode (consolidate_messages=false): one
    worker thread per request doing STATUS, POSDATA, STATUS (-> HAVEDATA), GETFORCE, FORCEREADY, STATUS;
  * every client socket has i-PI's 0.1 s timeout: a POSDATA that is not fully accepted by the kernel within
    0.1 s (a client that does not drain a frame larger than the socket buffer) drops the client, re-queues the
    request and doubles the timeout for clients that connect later;
  * a clean close (end of stream, nothing unread) re-queues the request to another client;
  * `<timeout>`: a request running longer is re-queued and the slow client is sent EXIT and closed;
  * `exit_on_disconnect`: any client disconnect ends the run (SoftExit);
  * request dispatch prefers the client that served the same request id before (REMD replicas);
  * end of run: EXIT to every client, then close; `crash()` instead vanishes without EXIT (i-PI killed).

Where real i-PI 3.3.0 would hang -- a reset (ECONNRESET) while it reads the force payload, a FORCEREADY with
the wrong atom count, extras that are not UTF-8 or are a JSON non-object or carry a 'raw' key (each kills its
polling thread), or an in-flight request that never completes with no <timeout> set -- the fake raises
WouldHang instead, so a test fails with a message rather than hanging. Every wait is bounded.

Positions and cells are in Bohr, i-PI's h has the lattice vectors as columns (structure_request() converts
from Å and ASE rows). Results: energy (Hartree), forces (n x 3, Hartree/Bohr), virial (3 x 3, Hartree), extras
(dict, as i-PI parses it).

Command line (a manual peer for gapd; runs STEPS rounds, then EXIT):
  fake_ipi.py --unix NAME --structure init.extxyz --steps 100 [--replicas 2] [--legacy] [--timeout 5]
"""

import argparse
import errno
import fcntl
import json
import os
import select
import socket
import struct
import sys
import termios
import threading
import time

import numpy as np

HDRLEN = 12
SEND_TIMEOUT = 0.1  # i-PI's per-client socket timeout (sockets.py TIMEOUT)
NTIMEOUT = 20  # i-PI gives up a partly received payload after this many consecutive 0.1 s timeouts
SERVERTIMEOUT = 0.5  # i-PI's accept wait when it has no clients / after a new client
UPDATEFREQ = 10  # i-PI looks for new and dead clients every UPDATEFREQ polls
BOHR_IN_ANGSTROM = 0.529177210903  # CODATA 2018, as gapd


def msg(name):
    return name.encode().ljust(HDRLEN)


class FakeIpiError(Exception):
    pass


class WouldHang(FakeIpiError):
    """Real i-PI 3.3.0 would hang here (its polling thread dies, or it waits forever)."""


class RunTimeout(FakeIpiError):
    """The fake's own time limit for run() passed."""


class SoftExit(FakeIpiError):
    """exit_on_disconnect: a client disconnected, i-PI ends the run (restartable)."""


class Disconnected(Exception):
    pass


class St:
    DISCONNECTED = 0
    UP = 1
    READY = 2
    NEEDSINIT = 4
    HASDATA = 8
    BUSY = 16
    TIMEOUT = 32


def structure_request(cell_rows_angstrom, positions_angstrom):
    """(h, h_inv, positions) in i-PI's convention (Bohr, lattice vectors as columns) from ASE's."""
    h = np.ascontiguousarray(np.asarray(cell_rows_angstrom, float).T / BOHR_IN_ANGSTROM)
    try:
        ih = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        ih = np.zeros((3, 3))
    pos = np.ascontiguousarray(np.asarray(positions_angstrom, float).reshape(-1) / BOHR_IN_ANGSTROM)
    return h, ih, pos


class Request:
    """One force evaluation (a bead or replica of one step). rid is i-PI's request id (= replica index
    within a round here, like i-PI's per-system/bead request ids)."""

    def __init__(self, rid, h, ih, pos, pars=" "):
        self.id = rid
        self.h = np.ascontiguousarray(h, dtype=np.float64)
        self.ih = np.ascontiguousarray(ih, dtype=np.float64)
        self.pos = np.ascontiguousarray(pos, dtype=np.float64).reshape(-1)
        self.pars = pars
        self.status = "Queued"
        self.start = -1.0
        self.result = None
        self.finished = -1.0  # time.time() when the result was received
        self.served_by = []  # names of the clients it was dispatched to, in order

    @property
    def natoms(self):
        return len(self.pos) // 3

    def posdata(self):
        return (msg("POSDATA") + self.h.tobytes() + self.ih.tobytes() + np.int32(self.natoms).tobytes()
                + self.pos.tobytes())


def parse_extra(text):
    """i-PI 3.3.0's parse_extra (behaviour): errors here kill its polling thread."""
    if not text or text.isspace():
        return {}
    try:
        d = json.loads(text)
    except Exception:
        d = {}
    if "raw" in d:
        raise ValueError("'raw' cannot be used as a field in a JSON-formatted extra string")
    d["raw"] = text  # TypeError for a JSON array, number, string...
    return d


def unsent_bytes(sock):
    """Bytes written to sock that the peer has not read yet (SIOCOUTQ; for UNIX sockets: not yet consumed)."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


class Client:
    """One connected driver, as i-PI's Driver sees it."""

    def __init__(self, ipi, sock, name):
        self.ipi = ipi
        self.sock = sock
        self.name = name
        self.status = St.UP
        self.lastreq = None
        self.locked = False
        self.waitstatus = False
        self.end = None  # how the connection ended: 'eof', 'reset', 'send_timeout', 'timeout_exit', 'exit', ...
        sock.settimeout(ipi.send_timeout)

    def note_end(self, how):
        if self.end is None:
            self.end = how
            self.ipi.event("client_end", self.name, how)

    # -- STATUS --------------------------------------------------------------------------------------------
    def _status_once(self):
        if not self.waitstatus:
            try:
                _, w, _ = select.select([], [self.sock], [], 1.0)
                if not w:
                    return St.BUSY
                self.sock.sendall(msg("STATUS"))
                self.waitstatus = True
            except (OSError, ValueError) as e:
                self.note_end("reset" if isinstance(e, ConnectionResetError) else "send_error")
                return St.DISCONNECTED
        try:
            r, _, _ = select.select([self.sock], [], [], 1.0)
            if not r:
                return St.BUSY  # i-PI: "Couldn't find readable socket", tries again
            reply = self.sock.recv(HDRLEN)  # exactly one recv, as i-PI: a split reply drops the client
            self.waitstatus = False
        except socket.timeout:
            return St.UP | St.BUSY | St.TIMEOUT
        except (OSError, ValueError) as e:  # ValueError: the socket was closed by i-PI itself meanwhile
            self.note_end("reset" if isinstance(e, ConnectionResetError) else "error")
            return St.DISCONNECTED
        if len(reply) != HDRLEN:
            self.note_end("eof" if reply == b"" else "short_status_reply")
            return St.DISCONNECTED
        if reply == msg("READY"):
            return St.UP | St.READY
        if reply == msg("NEEDINIT"):
            return St.UP | St.NEEDSINIT
        if reply == msg("HAVEDATA"):
            return St.UP | St.HASDATA
        self.ipi.event("bad_status_reply", self.name, repr(reply))
        return St.UP

    def get_status(self):
        deadline = time.monotonic() + self.ipi.status_wait
        while True:
            st = self._status_once()
            if not st & St.BUSY:
                break
            if time.monotonic() > deadline:
                raise WouldHang("%s never answered STATUS within %g s (i-PI would wait forever)"
                                % (self.name, self.ipi.status_wait))
        self.status = st
        return st

    def initialize(self, rid, pars):
        try:
            self.sock.sendall(msg("INIT") + np.int32(rid).tobytes() + np.int32(len(pars)).tobytes() + pars.encode())
            self.ipi.event("init", self.name, "rid %d" % rid)
        except OSError:
            self.get_status()

    def _prepare(self, r):
        """STATUS / INIT as needed; True if the client is READY for POSDATA."""
        if not self.status & St.READY:
            self.get_status()
        if self.status & St.NEEDSINIT:
            self.initialize(r.id, r.pars)
            self.get_status()
        return bool(self.status & St.READY)

    def _send(self, data, r):
        """sendall with i-PI's socket timeout. Returns 'ok', 'timeout' or 'error'."""
        t0 = time.monotonic()
        try:
            self.sock.sendall(data)
        except socket.timeout:
            self.ipi.event("send_timeout", self.name, "%d atoms, %.3f s, %d bytes not taken"
                           % (r.natoms, time.monotonic() - t0, len(data)))
            self.note_end("send_timeout")
            self.ipi.send_timeout *= 2
            return "timeout"
        except OSError as e:
            self.ipi.event("send_error", self.name, str(e))
            self.note_end("reset" if isinstance(e, ConnectionResetError) else "send_error")
            return "error"
        self.ipi.event("sent", self.name, "request %d, %d atoms, %.4f s" % (r.id, r.natoms, time.monotonic() - t0))
        self.ipi.send_durations.append(time.monotonic() - t0)
        return "ok"

    # -- default (consolidated) mode -------------------------------------------------------------------------
    def dispatch_send(self, r):
        if not self.status & St.UP:
            return False
        if not self._prepare(r):
            return False
        r.start = time.time()
        outcome = self._send(r.posdata() + msg("GETFORCE"), r)
        if outcome == "timeout":
            self.status = St.TIMEOUT
            return False
        if outcome == "error":
            self.status = St.DISCONNECTED
            return False
        self.status = St.UP | St.HASDATA
        return True

    def _recv_exact(self, n):
        """i-PI's receive loop: 0.1 s timeouts, give up after NTIMEOUT of them in a row; EOF -> Disconnected.
        Any other socket error propagates (in i-PI it kills the polling thread)."""
        buf = bytearray(n)
        view = memoryview(buf)
        pos, ntimeout = 0, 0
        while pos < n:
            try:
                got = self.sock.recv_into(view[pos:], n - pos)
            except socket.timeout:
                ntimeout += 1
                if ntimeout > NTIMEOUT:
                    self.note_end("stalled")
                    raise Disconnected()
                continue
            if got == 0:
                self.note_end("eof")
                raise Disconnected()
            pos += got
        return bytes(buf)

    def _recv_payload_body(self, natoms, head):
        """Parses FORCEREADY [energy, natoms, forces, virial, extras length] + extras."""
        energy = struct.unpack_from("<d", head, 0)[0]
        mlen = struct.unpack_from("<i", head, 8)[0]
        if mlen != natoms:
            raise WouldHang("%s sent forces for %d atoms, i-PI expected %d (InvalidSize kills i-PI's polling "
                            "thread)" % (self.name, mlen, natoms))
        forces = np.frombuffer(head, np.float64, 3 * natoms, 12).reshape(natoms, 3).copy()
        virial = np.frombuffer(head, np.float64, 9, 12 + 24 * natoms).reshape(3, 3).copy()
        xlen = struct.unpack_from("<i", head, 12 + 24 * natoms + 72)[0]
        text = self._recv_exact(xlen).decode("utf-8") if xlen > 0 else ""
        return [energy, forces, virial, parse_extra(text)]

    def recv_forces_bulk(self, natoms):
        data = self._recv_exact(HDRLEN + 8 + 4 + 24 * natoms + 72 + 4)
        if data[:HDRLEN] != msg("FORCEREADY"):
            self.ipi.event("bad_getforce_reply", self.name, repr(data[:HDRLEN]))
            self.note_end("bad_reply")
            raise Disconnected()
        return self._recv_payload_body(natoms, data[HDRLEN:])

    def dispatch_recv(self, r):
        try:
            r.result = self._guard_fatal(lambda: self.recv_forces_bulk(r.natoms), r)
        except Disconnected:
            self.status = St.DISCONNECTED
            return False
        r.finished = time.time()
        self.lastreq = r.id
        self.get_status()
        r.status = "Done"
        self.ipi.event("done", self.name, "request %d" % r.id)
        return True

    def _guard_fatal(self, fn, r):
        """Runs fn; exceptions that kill i-PI 3.3.0's polling/worker thread become WouldHang."""
        try:
            return fn()
        except (Disconnected, WouldHang):
            raise
        except ConnectionResetError as e:
            self.note_end("reset")
            raise WouldHang("%s reset the connection while i-PI was reading its reply to request %d (%s): "
                            "real i-PI 3.3.0's polling thread dies here and the run hangs" % (self.name, r.id, e))
        except OSError as e:
            if e.errno == errno.EBADF:  # i-PI itself closed this client meanwhile (<timeout>)
                raise Disconnected()
            self.note_end("error")
            raise WouldHang("socket error reading %s's reply (%s): i-PI 3.3.0 would hang" % (self.name, e))
        except (UnicodeDecodeError, ValueError, TypeError) as e:
            raise WouldHang("%s sent extras i-PI 3.3.0 cannot digest (%s: %s): its polling thread dies"
                            % (self.name, type(e).__name__, e))

    # -- legacy mode (consolidate_messages=false), on a worker thread ----------------------------------------
    def dispatch_legacy(self, r):
        if not self.status & St.UP:
            return
        self.get_status()
        if self.status & St.NEEDSINIT:
            self.initialize(r.id, r.pars)
            self.get_status()
        if not self.status & St.READY:
            self.ipi.event("inconsistent_state", self.name, "not READY before POSDATA")
            return
        r.start = time.time()
        outcome = self._send(r.posdata(), r)
        if outcome == "timeout":
            self.status = St.TIMEOUT
        elif outcome == "error":
            self.status = St.DISCONNECTED
            return
        else:
            self.status = St.UP | St.BUSY
        self.get_status()
        if not self.status & St.HASDATA:
            self.ipi.event("inconsistent_state", self.name, "no HAVEDATA after POSDATA")
            return
        try:
            self.sock.sendall(msg("GETFORCE"))
            reply = self._recv_forceready()
            r.result = self._guard_fatal(lambda: self._recv_legacy_payload(r.natoms, reply), r)
        except Disconnected:
            self.status = St.DISCONNECTED
            return
        r.finished = time.time()
        self.lastreq = r.id
        self.get_status()
        r.status = "Done"
        self.ipi.event("done", self.name, "request %d" % r.id)

    def _recv_forceready(self):
        try:
            reply = self._recv_exact(HDRLEN)
        except Disconnected:
            raise
        except OSError:
            self.note_end("reset")
            raise Disconnected()
        if reply != msg("FORCEREADY"):
            self.ipi.event("bad_getforce_reply", self.name, repr(reply))
            raise Disconnected()
        return reply

    def _recv_legacy_payload(self, natoms, _):
        head = self._recv_exact(8 + 4)
        mlen = struct.unpack_from("<i", head, 8)[0]
        if mlen != natoms:
            raise WouldHang("%s sent forces for %d atoms, i-PI expected %d" % (self.name, mlen, natoms))
        rest = self._recv_exact(24 * natoms + 72 + 4)
        return self._recv_payload_body(natoms, head + rest)

    # -- ending --------------------------------------------------------------------------------------------
    def shutdown(self, reason):
        """i-PI's Driver.shutdown: EXIT (best effort, 0.1 s timeout), shutdown(RDWR), close."""
        if self.ipi.exit_on_disconnect and not self.ipi.closing:
            self.ipi.softexit = "client %s disconnected (%s)" % (self.name, reason)
        try:
            self.sock.sendall(msg("EXIT"))
            self.ipi.event("exit_sent", self.name, reason)
        except OSError as e:
            self.ipi.event("exit_not_sent", self.name, "%s (%s)" % (reason, e))
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.status = St.DISCONNECTED
        self.note_end(reason)


class FakeIpi:
    def __init__(self, address, mode="unix", prefix="/tmp/ipi_", port=0, consolidate=True, timeout=0.0,
                 exit_on_disconnect=False, status_wait=30.0, hang_after=60.0, verbose=False, log=None):
        """timeout: i-PI's <timeout> (0 = none). status_wait / hang_after: how long the fake waits where real
        i-PI would wait forever before it raises WouldHang."""
        self.address = address
        self.mode = mode
        self.prefix = prefix
        self.port = port
        self.consolidate = consolidate
        self.timeout = timeout
        self.exit_on_disconnect = exit_on_disconnect
        self.status_wait = status_wait
        self.hang_after = hang_after
        self.verbose = verbose
        self.log = log or sys.stderr
        self.send_timeout = SEND_TIMEOUT
        self.clients = []
        self.jobs = []  # [request, client, worker thread or None, worker outcome holder]
        self.events = []
        self.send_durations = []
        self.softexit = None
        self.closing = False
        self.server = None
        self.t0 = time.monotonic()
        self._nclients = 0
        self.poll_iter = UPDATEFREQ
        self.tick = None  # called every ~10 ms while requests are in flight (tests use it to inject faults)

    # -- events --------------------------------------------------------------------------------------------
    def event(self, kind, who="", detail=""):
        t = time.monotonic() - self.t0
        self.events.append((t, kind, who, detail))
        if self.verbose:
            self.log.write("fake-ipi %8.3f %-18s %-10s %s\n" % (t, kind, who, detail))
            self.log.flush()

    def count(self, kind, who=None):
        return sum(1 for e in self.events if e[1] == kind and (who is None or e[2] == who))

    # -- socket ------------------------------------------------------------------------------------------------
    @property
    def path(self):
        return self.prefix + self.address

    def open(self):
        if self.mode == "unix":
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.server.bind(self.path)
            except OSError as e:
                self.server.close()
                raise FakeIpiError("cannot bind %s (%s): remove it if unused" % (self.path, e))
        else:
            self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.server.bind((self.address, self.port))
            self.port = self.server.getsockname()[1]
        self.server.listen(8)
        self.server.settimeout(SERVERTIMEOUT)
        self.event("listening", "", self.path if self.mode == "unix" else "%s:%d" % (self.address, self.port))
        return self

    def _unlink(self):
        if self.mode == "unix":
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self):
        """End of run: EXIT to every client, then close."""
        self.closing = True
        for c in self.clients:
            if c.status != St.DISCONNECTED or c.end is None:
                c.shutdown("exit")
        self.clients = []
        self._join_workers()
        if self.server is not None:
            self.server.close()
            self.server = None
        self._unlink()
        self.event("closed")

    def crash(self):
        """i-PI killed: every socket closed at once, no EXIT, socket file removed."""
        self.closing = True
        for c in self.clients:
            c.sock.close()
            c.status = St.DISCONNECTED
            c.note_end("ipi_crashed")
        self.clients = []
        if self.server is not None:
            self.server.close()
            self.server = None
        self._unlink()
        self.event("crashed")

    def _join_workers(self):
        for job in self.jobs:
            if job[2] is not None:
                job[2].join(timeout=5)

    def __enter__(self):
        return self.open() if self.server is None else self

    def __exit__(self, *exc):
        if self.server is not None or self.clients:
            self.close()
        return False

    # -- client pool -----------------------------------------------------------------------------------------
    def accept_clients(self, wait):
        """Accepts pending connections; after each new client keeps looking for SERVERTIMEOUT more."""
        search = wait
        while True:
            r, _, _ = select.select([self.server], [], [], search)
            if not r:
                return
            sock, _ = self.server.accept()
            self._nclients += 1
            c = Client(self, sock, "client%d" % self._nclients)
            self.event("accept", c.name)
            c.get_status()
            self.clients.append(c)
            search = SERVERTIMEOUT

    def pool_update(self):
        for c in self.clients[:]:
            if not c.status & St.UP:
                c.shutdown(c.end or "dead")
                self.clients.remove(c)
                for job in self.jobs[:]:
                    r, jc, worker, outcome = job
                    if worker is not None:
                        worker.join(timeout=self.status_wait)
                        if worker.is_alive():
                            raise WouldHang("worker thread of %s still blocked after %g s" % (c.name, self.status_wait))
                        if outcome:
                            raise outcome[0]
                    if jc is c:
                        self.jobs.remove(job)
                        self._requeue(r, "client %s gone (%s)" % (c.name, c.end))
        if self.softexit:
            raise SoftExit(self.softexit)
        self.accept_clients(SERVERTIMEOUT if not self.clients else 0.0)

    def _requeue(self, r, why):
        r.status = "Queued"
        r.start = -1
        self.event("requeue", "", "request %d: %s" % (r.id, why))

    # -- dispatch ------------------------------------------------------------------------------------------------
    def _free_clients(self):
        busy = {id(j[1]) for j in self.jobs}
        return [c for c in self.clients if id(c) not in busy and c.status & St.UP and not c.status & St.HASDATA]

    def _pick(self, fc, queued):
        """i-PI's 'auto' matching: same request id as last time, then fresh clients, then unlocked, then any."""
        for rule in ("match", "none", "free", "any"):
            for r in queued:
                if rule == "match" and fc.lastreq != r.id:
                    continue
                if rule == "none" and fc.lastreq is not None:
                    continue
                if rule == "free" and fc.locked:
                    continue
                return r
        return None

    def distribute(self, requests):
        queued = [r for r in requests if r.status == "Queued"]
        for fc in self._free_clients():
            if not queued:
                break
            r = self._pick(fc, queued)
            if r is None:
                continue
            queued.remove(r)
            fc.locked = fc.lastreq == r.id
            r.status = "Running"
            r.served_by.append(fc.name)
            self.event("dispatch", fc.name, "request %d (%d atoms)" % (r.id, r.natoms))
            if self.consolidate:
                if not fc.dispatch_send(r):
                    self._requeue(r, "dispatch to %s failed" % fc.name)
                    fc.status = St.DISCONNECTED
                    self.poll_iter = UPDATEFREQ
                    continue
                self.jobs.append([r, fc, None, None])
            else:
                outcome = []

                def work(c=fc, req=r, out=outcome):
                    try:
                        c.dispatch_legacy(req)
                    except Exception as e:  # noqa: BLE001 - i-PI's worker dies with it
                        out.append(e if isinstance(e, FakeIpiError) else
                                   WouldHang("legacy worker for %s died: %r" % (c.name, e)))

                t = threading.Thread(target=work, daemon=True)
                self.jobs.append([r, fc, t, outcome])
                t.start()

    def collect(self):
        """Default mode: wait (select) for every in-flight reply, as i-PI's poll thread does."""
        while self.jobs:
            socks = [j[1].sock for j in self.jobs]
            readable, _, _ = select.select(socks, [], [], 0.01)
            if self.tick is not None:
                self.tick()
            for job in self.jobs[:]:
                r, c, _, _ = job
                if c.sock in readable:
                    self.jobs.remove(job)
                    if not c.dispatch_recv(r):
                        self._requeue(r, "%s disconnected before replying (%s)" % (c.name, c.end))
                        c.status = St.DISCONNECTED
                        self.poll_iter = UPDATEFREQ
            self._check_timeouts()
            self._check_stuck()
            if self.softexit:
                raise SoftExit(self.softexit)

    def _check_timeouts(self):
        if not self.timeout > 0:
            return
        now = time.time()
        for job in self.jobs[:]:
            r, c = job[0], job[1]
            if r.start > 0 and now - r.start > self.timeout and r.status == "Running":
                self.event("timeout", c.name, "request %d running for %.2f s" % (r.id, now - r.start))
                c.shutdown("timeout_exit")
                if job[2] is None:
                    self.jobs.remove(job)
                    self._requeue(r, "<timeout> on %s" % c.name)
                self.poll_iter = UPDATEFREQ

    def _check_stuck(self):
        now = time.time()
        for r, c, _, _ in self.jobs:
            if r.start > 0 and now - r.start > self.hang_after and not self.timeout > 0:
                raise WouldHang("request %d has been in flight on %s for %.0f s with no <timeout>: i-PI 3.3.0 would "
                                "wait forever" % (r.id, c.name, now - r.start))

    def _reap_legacy(self):
        for job in self.jobs[:]:
            r, c, worker, outcome = job
            if outcome:
                raise outcome[0]
            if worker is not None and r.status == "Done":
                worker.join(timeout=self.status_wait)  # it only has the final STATUS left
                if outcome:
                    raise outcome[0]
                self.jobs.remove(job)

    def poll_legacy(self):
        self._reap_legacy()
        if self.tick is not None:
            self.tick()
        self._check_timeouts()
        self._check_stuck()

    def poll(self, requests):
        if self.poll_iter >= UPDATEFREQ or not self.clients or not self.clients[0].status & St.UP:
            self.poll_iter = 0
            self.pool_update()
        self.poll_iter += 1
        if self.consolidate:
            self.distribute(requests)
            self.collect()
        else:
            self.distribute(requests)
            self.poll_legacy()

    def run(self, requests, time_limit, until=None):
        """Serves `requests` until all are Done (or until() turns true). Raises WouldHang, SoftExit or
        RunTimeout (after time_limit seconds)."""
        end = time.monotonic() + time_limit
        while not all(r.status == "Done" for r in requests):
            if until is not None and until():
                return False
            if time.monotonic() > end:
                states = ", ".join("%d:%s" % (r.id, r.status) for r in requests)
                raise RunTimeout("requests not done within %g s (%s); clients: %s"
                                 % (time_limit, states, ", ".join(c.name for c in self.clients) or "none"))
            self.poll(requests)
            time.sleep(1e-3)
        self._reap_legacy()
        return True

    def wait_for_clients(self, n, time_limit):
        end = time.monotonic() + time_limit
        while len([c for c in self.clients if c.status & St.UP]) < n:
            if time.monotonic() > end:
                raise RunTimeout("only %d of %d clients connected within %g s" % (len(self.clients), n, time_limit))
            self.pool_update()


# ---------------------------------------------------------------------------------------------------------
# Command line: a manual i-PI stand-in.

def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import e2e_common as common

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--unix", metavar="NAME", help="UNIX socket <prefix>NAME")
    g.add_argument("--inet", metavar="HOST:PORT", help="TCP address")
    p.add_argument("--prefix", default="/tmp/ipi_", help="UNIX socket prefix (default /tmp/ipi_)")
    p.add_argument("--structure", required=True, help="extxyz file: the structure sent (first frame)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--replicas", type=int, default=1, help="requests per round (REMD replicas / beads)")
    p.add_argument("--displacement", type=float, default=0.02, help="random displacement per step, Å")
    p.add_argument("--legacy", action="store_true", help="consolidate_messages=false")
    p.add_argument("--timeout", type=float, default=0.0, help="i-PI <timeout> in s (default none)")
    p.add_argument("--exit-on-disconnect", action="store_true")
    p.add_argument("--time-limit", type=float, default=600)
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    frame = common.read_extxyz(a.structure)[0]
    pos0 = frame["arrays"]["pos"]
    rng = np.random.default_rng(0)
    if a.unix:
        ipi = FakeIpi(a.unix, "unix", a.prefix, consolidate=not a.legacy, timeout=a.timeout,
                      exit_on_disconnect=a.exit_on_disconnect, verbose=a.verbose)
    else:
        host, port = a.inet.rsplit(":", 1)
        ipi = FakeIpi(host, "inet", port=int(port), consolidate=not a.legacy, timeout=a.timeout,
                      exit_on_disconnect=a.exit_on_disconnect, verbose=a.verbose)
    t0 = time.monotonic()
    with ipi:
        for step in range(a.steps):
            reqs = [Request(k, *structure_request(frame["cell"], pos0 + rng.normal(0, a.displacement, pos0.shape)))
                    for k in range(a.replicas)]
            ipi.run(reqs, a.time_limit)
            e = [r.result[0] for r in reqs]
            print("step %d: energies (Ha) %s" % (step, " ".join("%.10f" % x for x in e)))
    print("%d steps x %d replicas in %.2f s" % (a.steps, a.replicas, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
