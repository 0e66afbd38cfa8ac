#!/usr/bin/python3
"""Cost per call of gapd from Python (gapd.Model and the ASE calculator) against `gapd serve` answering i-PI
requests, on the same 320-atom BaTiO3 cell (energy, forces, virial, and the dipole when the model has one).

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench_python_api.py --gapd build/gapd
        [--model data/models/batio3_default.gapd] [--threads 2] [--calls 30] [--rounds 3] [--no-dipoles]

Each call moves every atom by a random 0.01 Å, so nothing is cached. `gapd serve` is timed from the i-PI side
of the socket by a minimal i-PI server in this script (the messages of tests/e2e/fake_ipi.py): POSDATA +
GETFORCE sent, FORCEREADY read, i.e. per request what i-PI waits for, including the socket and unit conversion.
The three set-ups run in rounds (serve, Model, ASE, serve, ...) so that a change of the machine's load hits all
alike; the report gives the median ms per call of each round and the ratio to serve. Not an assertion.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from fake_ipi import Request, msg, structure_request  # noqa: E402


def bench_cell(seed=12345):
    import ase
    from ase.build import make_supercell
    base = ase.Atoms("BaTiO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                     cell=np.eye(3) * 4.0, pbc=True)
    atoms = make_supercell(base, np.eye(3, dtype=int) * 4)
    atoms.positions += np.random.default_rng(seed).normal(0, 0.08, atoms.positions.shape)
    return atoms


def recv_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("gapd serve closed the connection")
        buf += chunk
    return bytes(buf)


class MiniIpi:
    """i-PI's server side, just enough for timing: handshake, then POSDATA + GETFORCE -> FORCEREADY."""

    def __init__(self, path):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.conn = None

    def accept(self, timeout=60):
        self.server.settimeout(timeout)
        self.conn, _ = self.server.accept()
        self.conn.settimeout(120)
        self.conn.sendall(msg("STATUS"))
        if recv_exact(self.conn, 12).strip() == b"NEEDINIT":
            self.conn.sendall(msg("INIT") + np.int32(0).tobytes() + np.int32(1).tobytes() + b" ")
            self.conn.sendall(msg("STATUS"))
            assert recv_exact(self.conn, 12).strip() == b"READY"

    def request(self, cell, positions):
        r = Request(0, *structure_request(cell, positions))
        self.conn.sendall(r.posdata() + msg("GETFORCE"))
        head = recv_exact(self.conn, 12).strip()
        assert head == b"FORCEREADY", head
        energy = np.frombuffer(recv_exact(self.conn, 8), np.float64)[0]
        natoms = int(np.frombuffer(recv_exact(self.conn, 4), np.int32)[0])
        recv_exact(self.conn, 8 * (3 * natoms + 9))
        n_extra = int(np.frombuffer(recv_exact(self.conn, 4), np.int32)[0])
        extras = recv_exact(self.conn, n_extra)
        return energy, extras

    def close(self):
        if self.conn:
            self.conn.sendall(msg("EXIT"))
            self.conn.close()
        self.server.close()


def timed_calls(fn, atoms, calls, rng):
    times = []
    for _ in range(calls):
        positions = atoms.positions + rng.normal(0, 0.01, atoms.positions.shape)
        t0 = time.perf_counter()
        fn(positions)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1e3  # the first call sizes the buffers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gapd", default=os.path.join(ROOT, "build", "gapd"))
    ap.add_argument("--model", default=os.path.join(ROOT, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-dipoles", action="store_true", help="energy, forces and virial only (--extras none)")
    args = ap.parse_args()
    import ase.io
    import gapd
    from gapd.ase import GapdCalculator

    atoms = bench_cell()
    dipoles = not args.no_dipoles
    model = gapd.Model(args.model, threads=args.threads, dipoles=dipoles)
    calc = GapdCalculator(model)
    rng = np.random.default_rng(0)
    cell = atoms.cell[:]

    def via_model(positions):
        model.compute_with_gradients(positions, atoms.numbers, cell)

    work = atoms.copy()
    work.calc = calc

    def via_ase(positions):
        work.positions = positions
        work.get_forces()
        if dipoles:
            work.get_dipole_moment()

    with tempfile.TemporaryDirectory(prefix="gapd_bench_") as tmp:
        template = os.path.join(tmp, "init.extxyz")
        ase.io.write(template, atoms, format="extxyz")
        name = f"gapd_bench_{os.getpid()}"
        path = f"/tmp/ipi_{name}"
        ipi = MiniIpi(path)
        serve_cmd = [args.gapd, "serve", "-u", "-a", name, "--model", args.model, "--template", template,
                     "--threads", str(args.threads)]
        if not dipoles:
            serve_cmd += ["--extras", "none"]
        log = open(os.path.join(tmp, "serve.log"), "w")
        proc = subprocess.Popen(serve_cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            ipi.accept()
            _, extras = ipi.request(cell, atoms.positions)

            def via_serve(positions):
                ipi.request(cell, positions)

            rows = []
            for k in range(args.rounds):
                row = {name: timed_calls(fn, atoms, args.calls, rng)
                       for name, fn in (("serve", via_serve), ("Model", via_model), ("ASE", via_ase))}
                rows.append(row)
                print(f"round {k + 1}: " + ", ".join(f"{n} {v:.1f} ms" for n, v in row.items())
                      + f"; ASE/serve {row['ASE'] / row['serve']:.3f}, Model/serve {row['Model'] / row['serve']:.3f}",
                      flush=True)
        finally:
            ipi.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if os.path.exists(path):
                os.unlink(path)
    med = {n: statistics.median(r[n] for r in rows) for n in rows[0]}
    print(f"{len(atoms)} atoms, {args.threads} threads, dipoles {'on (extras ' + extras.decode()[:40] + ')' if dipoles else 'off'}: "
          f"median ms/call serve {med['serve']:.1f}, gapd.Model {med['Model']:.1f} ({med['Model'] / med['serve']:.3f}x), "
          f"GapdCalculator {med['ASE']:.1f} ({med['ASE'] / med['serve']:.3f}x)")


if __name__ == "__main__":
    main()
