#!/usr/bin/python3
"""What one structure costs in `gapd serve` (a minimal i-PI server in this script feeds it), in batched
requests, and in `gapd predict` / `gapd eval`, on the same structures and the same machine state.

  /usr/bin/python3 scripts/bench_serve_requests.py --gapd build/gapd --model data/models/batio3_default.gapd \\
      --structures FRAMES.extxyz [--batch 1,8] [--rounds 3] [--threads 1] [--extras none] [--predict] [--eval]

Serve: for every --batch size B, one `gapd serve -u` answers requests of B structures (i-PI's batched POSDATA
when B > 1, announced by "batch_size:B" in INIT, as i-PI sends it), cycling through the frames of --structures
--rounds times. Reported per structure: the median wall time of a request divided by B, and gapd's CPU
time (user + sys from /proc/PID/stat, over all requests after a warm-up one) divided by the structures served.
The batch sizes run alternately (1 8 8 1 ...) over --repeat passes, so a change in the machine's load hits all
alike; the table gives the median over passes. The results of every batch size are compared with those of the
first (energies, forces, virials: largest difference).

--predict / --eval: `gapd predict` (and `gapd eval`) on the same file, CPU (user, sys) per frame from the
child's rusage, whole command (start-up, reading and writing included) divided by the frame count.

Structures of one run must share species and atom order (one template): e.g. frames of
scripts/make_batio3_supercell.py with different --seed.
"""

import argparse
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from ase.io import read as ase_read

BOHR_IN_ANGSTROM = 0.529177210903  # CODATA 2018, as gapd
HDRLEN = 12


def msg(name):
    return name.encode().ljust(HDRLEN)


def ipi_structure(atoms):
    """(h, h_inv, positions) in i-PI's convention: Bohr, lattice vectors as columns, C-order bytes."""
    h = np.ascontiguousarray(np.asarray(atoms.cell[:], float).T / BOHR_IN_ANGSTROM)
    return h, np.linalg.inv(h), np.ascontiguousarray(atoms.positions.reshape(-1) / BOHR_IN_ANGSTROM)


def posdata(structures):
    """POSDATA + GETFORCE, i-PI's default (consolidated) sequence; batched layout for more than one structure."""
    natoms = len(structures[0][2]) // 3
    if len(structures) == 1:
        h, ih, pos = structures[0]
        body = h.tobytes() + ih.tobytes() + struct.pack("<i", natoms) + pos.tobytes()
    else:
        body = struct.pack("<i", natoms)
        body += b"".join(h.tobytes() + ih.tobytes() for h, ih, _ in structures)
        body += b"".join(pos.tobytes() for _, _, pos in structures)
    return msg("POSDATA") + body + msg("GETFORCE")


def recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise RuntimeError("gapd closed the connection")
        got += k
    return bytes(buf)


def recv_forceready(sock, natoms, batch):
    """[(energy, forces (n x 3), virial (3 x 3))] in atomic units."""
    head = recv_exact(sock, HDRLEN)
    if head != msg("FORCEREADY"):
        raise RuntimeError("expected FORCEREADY, got %r" % head)
    energies = struct.unpack("<%dd" % batch, recv_exact(sock, 8 * batch))
    if struct.unpack("<i", recv_exact(sock, 4))[0] != natoms:
        raise RuntimeError("FORCEREADY atom count differs")
    forces = np.frombuffer(recv_exact(sock, 24 * natoms * batch), np.float64).reshape(batch, natoms, 3)
    virials = np.frombuffer(recv_exact(sock, 72 * batch), np.float64).reshape(batch, 3, 3)
    for _ in range(batch):
        recv_exact(sock, struct.unpack("<i", recv_exact(sock, 4))[0])  # extras
    return [(energies[b], forces[b], virials[b]) for b in range(batch)]


def cpu_seconds(pid):
    """user + sys CPU of a running process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_serve(args, frames, batch, workdir, tag):
    """Serves every frame --rounds times in requests of `batch`; returns (ms per structure wall median,
    ms CPU per structure, results of the first round in frame order)."""
    name = "bench_%d_%s" % (os.getpid(), tag)
    path = "/tmp/ipi_" + name
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    log = open(os.path.join(workdir, "serve_%s.log" % tag), "w")
    cmd = [args.gapd, "serve", "-u", "-a", name, "-m", args.model, "--template", args.template,
           "--threads", str(args.threads)] + (["--extras", args.extras] if args.extras else [])
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        server.settimeout(60)
        sock, _ = server.accept()
        sock.settimeout(600)
        sock.sendall(msg("STATUS"))
        if recv_exact(sock, HDRLEN) != msg("NEEDINIT"):
            raise RuntimeError("gapd did not ask for INIT")
        text = (" batch_size:%d" % batch if batch > 1 else " ").encode()
        sock.sendall(msg("INIT") + struct.pack("<ii", 0, len(text)) + text)
        sock.sendall(msg("STATUS"))
        if recv_exact(sock, HDRLEN) != msg("READY"):
            raise RuntimeError("gapd is not READY after INIT")
        natoms = len(frames[0][2]) // 3
        order = [k % len(frames) for k in range(args.rounds * len(frames))]
        requests = [order[k:k + batch] for k in range(0, len(order) - len(order) % batch, batch)]
        results = {}
        sock.sendall(posdata([frames[k] for k in requests[0]]))  # warm-up: first-call allocations
        recv_forceready(sock, natoms, batch)
        cpu0, walls = cpu_seconds(proc.pid), []
        for req in requests:
            t0 = time.perf_counter()
            sock.sendall(posdata([frames[k] for k in req]))
            out = recv_forceready(sock, natoms, batch)
            walls.append(time.perf_counter() - t0)
            for k, r in zip(req, out):
                results.setdefault(k, r)
        cpu = cpu_seconds(proc.pid) - cpu0
        sock.sendall(msg("EXIT"))
        proc.wait(timeout=60)
        sock.close()
        served = sum(len(r) for r in requests)
        return 1e3 * statistics.median(walls) / batch, 1e3 * cpu / served, [results[k] for k in sorted(results)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        server.close()
        if os.path.exists(path):
            os.unlink(path)


def run_command_cpu(cmd, nframes, workdir):
    """(user ms, sys ms) per frame of a whole gapd command, from the child's rusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (1e3 * (after.ru_utime - before.ru_utime) / nframes, 1e3 * (after.ru_stime - before.ru_stime) / nframes)


def largest_difference(a, b):
    de = max(abs(x[0] - y[0]) for x, y in zip(a, b))
    df = max(np.abs(x[1] - y[1]).max() for x, y in zip(a, b))
    dv = max(np.abs(x[2] - y[2]).max() for x, y in zip(a, b))
    return de, df, dv


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gapd", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--structures", required=True, help="extxyz, every frame with the same species order")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1)")
    p.add_argument("--rounds", type=int, default=3, help="passes over the frames per serve run (default 3)")
    p.add_argument("--repeat", type=int, default=2, help="alternating passes over the batch sizes (default 2)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--extras", default="none", help="gapd serve --extras (default none: GAP only)")
    p.add_argument("--predict", action="store_true", help="also time gapd predict on the same file")
    p.add_argument("--eval", action="store_true", help="also time gapd eval (needs energy/forces labels)")
    args = p.parse_args()
    args.gapd, args.model, args.structures = (os.path.abspath(x) for x in (args.gapd, args.model, args.structures))
    batches = [int(b) for b in args.batch.split(",")]
    atoms = ase_read(args.structures, ":")
    frames = [ipi_structure(a) for a in atoms]
    with tempfile.TemporaryDirectory(prefix="gapd_bench_serve_") as workdir:
        args.template = os.path.join(workdir, "template.extxyz")
        atoms[0].write(args.template, format="extxyz")
        walls, cpus, reference = {b: [] for b in batches}, {b: [] for b in batches}, {}
        for rep in range(args.repeat):
            for b in (batches if rep % 2 == 0 else batches[::-1]):
                wall, cpu, results = run_serve(args, frames, b, workdir, "b%d" % b)
                walls[b].append(wall)
                cpus[b].append(cpu)
                reference.setdefault(b, results)
        print("%d structures of %d atoms from %s, --threads %d, --extras %s, %d rounds, %d passes"
              % (len(frames), len(atoms[0]), args.structures, args.threads, args.extras, args.rounds, args.repeat))
        print("%8s %14s %14s %10s   %s" % ("batch", "wall_ms/struct", "cpu_ms/struct", "speed-up",
                                           "largest |diff| vs batch %d (E Ha, F Ha/Bohr, W Ha)" % batches[0]))
        base = statistics.median(walls[batches[0]])
        for b in batches:
            w = statistics.median(walls[b])
            de, df, dv = largest_difference(reference[batches[0]], reference[b])
            print("%8d %14.2f %14.2f %9.2fx   %.2e %.2e %.2e" % (b, w, statistics.median(cpus[b]), base / w, de, df, dv))
        model_args = ["-m", args.model, "--threads", str(args.threads)]
        extras = ["--extras", args.extras] if args.extras else []
        if args.predict:
            user, sys_ = run_command_cpu([args.gapd, "predict", args.structures, "-o", "out.extxyz"] + model_args
                                         + extras, len(frames), workdir)
            print("gapd predict: CPU per frame %.2f ms (user %.2f, sys %.2f)" % (user + sys_, user, sys_))
        if args.eval:
            user, sys_ = run_command_cpu([args.gapd, "eval", args.structures] + model_args, len(frames), workdir)
            print("gapd eval: CPU per frame %.2f ms (user %.2f, sys %.2f)" % (user + sys_, user, sys_))
    return 0


if __name__ == "__main__":
    sys.exit(main())
