#!/usr/bin/python3
"""gapd serve --shm and --mpi against test peers playing i-PI 3.3's side (no i-PI needed, so CI runs them).

  shm_single, shm_batched   a Python peer creates i-PI's six shared-memory segments (multiprocessing.shared_memory,
                            as i-PI's SHMDriver), does the UNIX-socket handshake and the POSDATA/GETFORCE triggers;
                            energies, forces and virials read from the segments equal `gapd predict` (1e-10)
  shm_ipi_not_shm           gapd --shm against a socket-layout POSDATA: one error line naming mode='shm', exit 1
  shm_gapd_not_shm          gapd without --shm against a shm-layout POSDATA: one error line naming --shm, exit 1
  mpi_batched               mpirun -n 1 fake_ffmpi.py : -n 1 gapd serve --mpi: a batch of 2 through <ffmpi>'s
                            messages equals `gapd predict`; gapd exit 0 after EXIT (skipped: no mpirun/mpi4py, or
                            a gapd built without MPI, which must then refuse --mpi with one line)
  mpi_not_under_mpirun      gapd serve --mpi alone (rank 0 of a singleton job): one error line, non-zero exit
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
from make_batio3_supercell import build_supercell

HDR = 12
KINDS = ("pos", "h", "ih", "pot", "force", "vir")


def msg(name):
    return name.encode().ljust(HDR)


def structures(n):
    """n 40-atom BaTiO3 cells (Å, ASE rows) and the same in i-PI's wire form (Bohr, h with columns)."""
    frames, wire = [], []
    for k in range(n):
        symbols, pos, cell = build_supercell(2, 4.0, displacement=0.05, seed=100 + k)
        pos, cell = np.array(pos, float), np.array(cell, float)
        frames.append({"symbols": symbols, "positions": pos, "cell": cell})
        h = cell.T / common.BOHR_2018
        wire.append((h, np.linalg.inv(h), pos.ravel() / common.BOHR_2018))
    return frames, wire


def expected(gapd, workdir, frames):
    out = common.predict_frames(gapd, workdir, "expected", frames, ["-m", common.SMALL_MODEL])
    e = np.array([float(f["info"]["energy"]) for f in out]) / common.HARTREE_2018
    forces = np.array([np.asarray(f["arrays"]["forces"], float).ravel() for f in out]) / common.HARTREE_PER_BOHR_2018
    vir = np.array([common.info_floats(f, "virial").reshape(3, 3) for f in out]) / common.HARTREE_2018
    return e, forces, vir


class ShmPeer:
    """i-PI's mode='shm' server side for one client."""

    def __init__(self, address, natoms, batch, layout="shm"):
        self.path = "/tmp/ipi_" + address
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.server.settimeout(60)
        self.batch, self.natoms, self.layout = batch, natoms, layout
        self.shm = {}
        shapes = {"pos": batch * 3 * natoms, "h": batch * 9, "ih": batch * 9, "pot": batch,
                  "force": batch * 3 * natoms, "vir": batch * 9}
        for kind in KINDS:
            self.shm[kind] = shared_memory.SharedMemory(create=True, size=8 * shapes[kind],
                                                        name="ipi_shm_%d_test_%s" % (os.getpid(), kind))
        self.view = {k: np.ndarray((self.shm[k].size // 8,), np.float64, buffer=self.shm[k].buf) for k in KINDS}
        self.first = True

    def accept(self):
        self.sock, _ = self.server.accept()
        self.sock.settimeout(30)

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise EOFError("gapd closed the connection")
            buf += part
        return buf

    def status(self):
        self.sock.sendall(msg("STATUS"))
        return self.recv(HDR).decode().strip()

    def handshake(self):
        if self.status() != "NEEDINIT":
            raise TestFailure("no NEEDINIT")
        text = ("batch_size:%d" % self.batch).encode() if self.batch > 1 else b" "
        self.sock.sendall(msg("INIT") + struct.pack("<ii", 0, len(text)) + text)
        if self.status() != "READY":
            raise TestFailure("no READY after INIT")

    def request(self, wire):
        n = self.natoms
        if self.layout == "socket":  # what i-PI in mode='unix' sends
            h, ih, pos = wire[0]
            self.sock.sendall(msg("POSDATA") + h.tobytes() + ih.tobytes() + struct.pack("<i", n) + pos.tobytes()
                              + msg("GETFORCE"))
            return None
        for i, (h, ih, pos) in enumerate(wire):
            self.view["pos"][i * 3 * n:(i + 1) * 3 * n] = pos
            self.view["h"][i * 9:(i + 1) * 9] = h.ravel()
            self.view["ih"][i * 9:(i + 1) * 9] = ih.ravel()
        payload = msg("POSDATA") + struct.pack("<i", n)
        if self.first:
            for kind in KINDS:
                name = self.shm[kind].name.encode()
                payload += struct.pack("<i", len(name)) + name
            self.first = False
        self.sock.sendall(payload + msg("GETFORCE"))
        if self.recv(HDR).decode().strip() != "FORCEREADY":
            raise TestFailure("no FORCEREADY")
        extras = []
        for _ in range(self.batch):
            (length,) = struct.unpack("<i", self.recv(4))
            extras.append(self.recv(length).decode())
        b = self.batch
        return (self.view["pot"].copy(), self.view["force"].reshape(b, 3 * n).copy(),
                self.view["vir"].reshape(b, 3, 3).copy(), extras)

    def exit(self):
        self.sock.sendall(msg("EXIT"))

    def close(self):
        for s in self.shm.values():
            s.close()
            s.unlink()
        for s in (getattr(self, "sock", None), self.server):
            if s is not None:
                s.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def template(workdir, frames):
    path = os.path.join(workdir, "template.extxyz")
    common.write_extxyz(path, frames[:1])
    return path


def serve_shm(args, workdir, tag, batch, gapd_shm=True, layout="shm"):
    frames, wire = structures(batch)
    address = "gapd-fake-shm-%s-%d" % (tag, os.getpid())
    peer = ShmPeer(address, 40, batch, layout)
    log = os.path.join(workdir, tag + ".log")
    cmd = [args.gapd, "serve", "-a", address, "-m", common.SMALL_MODEL, "-t", template(workdir, frames),
           "--threads", "1", "--no-reconnect"] + (["--shm"] if gapd_shm else ["-u"])
    gapd = common.start_process(cmd, log)
    try:
        peer.accept()
        peer.handshake()
        got = peer.request(wire)
        if got is not None:
            peer.exit()
        code = common.wait_process(gapd, 60, "gapd serve")
        return frames, got, code, open(log, errors="replace").read()
    finally:
        common.kill_process(gapd)
        peer.close()


def check_numbers(args, workdir, frames, pot, force, vir, what):
    e, f, v = expected(args.gapd, workdir, frames)
    common.check_close(pot, e, what + " energies", rel=1e-10)
    common.check_close(force, f, what + " forces", rel=1e-10)
    common.check_close(vir, v, what + " virials", rel=1e-10)
    return "E[0] = %.12f Ha" % pot[0]


def row_shm(args, workdir, batch):
    frames, got, code, log = serve_shm(args, workdir, "shm%d" % batch, batch)
    pot, force, vir, extras = got
    if code != 0 or "i-PI sent EXIT" not in log:
        raise TestFailure("gapd exit %d; log:\n%s" % (code, log[-1500:]))
    return check_numbers(args, workdir, frames, pot, force, vir, "shm batch %d" % batch) + ", extras %r" % extras


def expect_one_error(code, log, must):
    errors = [l for l in log.splitlines() if l.startswith("gapd: error:")]
    if code != 1 or len(errors) != 1 or must not in errors[0]:
        raise TestFailure("exit %s, errors %r (wanted one naming %r)" % (code, errors, must))
    for marker in common.CRASH_MARKERS:
        if marker in log:
            raise TestFailure("crash marker %r in %s" % (marker, log))
    return errors[0]


def row_shm_ipi_not_shm(args, workdir):
    _, _, code, log = serve_shm(args, workdir, "ipinotshm", 1, gapd_shm=True, layout="socket")
    return expect_one_error(code, log, "mode='shm'")


def row_shm_gapd_not_shm(args, workdir):
    frames, wire = structures(1)
    address = "gapd-fake-noshm-%d" % os.getpid()
    peer = ShmPeer(address, 40, 1)
    log_path = os.path.join(workdir, "gapdnotshm.log")
    gapd = common.start_process([args.gapd, "serve", "-u", "-a", address, "-m", common.SMALL_MODEL, "-t",
                                 template(workdir, frames), "--threads", "1", "--no-reconnect"], log_path)
    try:
        peer.accept()
        peer.handshake()
        try:
            peer.request(wire)
            raise TestFailure("gapd answered a shm POSDATA without --shm")
        except (EOFError, ConnectionError):
            pass
        code = common.wait_process(gapd, 30, "gapd serve")
    finally:
        common.kill_process(gapd)
        peer.close()
    return expect_one_error(code, open(log_path, errors="replace").read(), "--shm")


def mpi_state(args):
    """'ok', or why the MPI rows cannot run here (and, for a build without MPI, check its refusal)."""
    r = common.run([args.gapd, "serve", "--mpi", "-m", common.SMALL_MODEL, "-t", "/nonexistent.xyz"], 60)
    if "built without MPI" in r.stderr:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        if r.returncode == 0 or len(lines) != 1:
            raise TestFailure("a gapd without MPI must refuse --mpi with one line: %r" % r.stderr)
        return "gapd built without MPI (refused --mpi with one line)"
    if not shutil.which("mpirun"):
        return "no mpirun"
    if common.run([sys.executable, "-c", "import mpi4py"], 60).returncode != 0:
        return "no mpi4py"
    return "ok"


def mpirun_prefix():
    extra = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    return ["mpirun", "--oversubscribe"] + extra + ["--mca", "btl", "self,vader,tcp"]


def row_mpi_batched(args, workdir, state):
    if state != "ok":
        return "SKIPPED (%s)" % state
    frames, wire = structures(2)
    req = os.path.join(workdir, "request.npz")
    res = os.path.join(workdir, "result.npz")
    np.savez(req, h=np.array([w[0] for w in wire]), ih=np.array([w[1] for w in wire]),
             pos=np.array([w[2] for w in wire]), init="batch_size:2")
    log = os.path.join(workdir, "mpi.log")
    cmd = mpirun_prefix() + ["-n", "1", sys.executable, os.path.join(common.HERE, "fake_ffmpi.py"), req, res, ":",
                             "-n", "1", args.gapd, "serve", "--mpi", "-m", common.SMALL_MODEL, "-t",
                             template(workdir, frames), "--threads", "1", "-v"]
    job = common.start_process(cmd, log)
    code = common.wait_process(job, 120, "mpirun (fake ffmpi + gapd)")
    text = open(log, errors="replace").read()
    if code != 0 or "i-PI sent EXIT after 1 requests" not in text:
        raise TestFailure("mpirun exit %d; log:\n%s" % (code, text[-2000:]))
    out = np.load(res)
    return check_numbers(args, workdir, frames, out["pot"], out["force"], out["vir"], "ffmpi batch 2")


def row_mpi_alone(args, workdir, state):
    if state != "ok":
        return "SKIPPED (%s)" % state
    frames, _ = structures(1)
    r = common.run([args.gapd, "serve", "--mpi", "-m", common.SMALL_MODEL, "-t", template(workdir, frames),
                    "--threads", "1"], 60)
    errors = [l for l in r.stderr.splitlines() if l.startswith("gapd: error:")]
    if r.returncode == 0 or len(errors) != 1 or "rank 0" not in errors[0]:
        raise TestFailure("exit %d, stderr %r" % (r.returncode, r.stderr[-1500:]))
    return errors[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()
    args.gapd = os.path.abspath(args.gapd)

    def body(workdir):
        checks = common.Checks()
        checks("shm_single", lambda: row_shm(args, workdir, 1))
        checks("shm_batched", lambda: row_shm(args, workdir, 3))
        checks("shm_ipi_not_shm", lambda: row_shm_ipi_not_shm(args, workdir))
        checks("shm_gapd_not_shm", lambda: row_shm_gapd_not_shm(args, workdir))
        state = mpi_state(args)
        checks("mpi_batched", lambda: row_mpi_batched(args, workdir, state))
        checks("mpi_not_under_mpirun", lambda: row_mpi_alone(args, workdir, state))
        return checks.verdict()

    return common.run_test("test_transports_fake", args.timeout, body)


if __name__ == "__main__":
    sys.exit(main())
