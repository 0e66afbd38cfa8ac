#!/usr/bin/python3
"""Run CP2K on every structure directory of WORKDIR that has no result yet (resumable, one at a time).

    nohup /usr/bin/python3 scripts/dft/run_queue.py WORKDIR [--np 2] [--nice 19] [--max-atoms 40] [--order size]
        [--priority IDS.txt] &

For every directory under WORKDIR, at any depth (gNNNN/ of generate_structures.py, <structure_id>/ of
scripts/active_learning/make_dft_dirs.py, round2/<structure_id>/, ...), that has cp2k.inp and structure.extxyz
and neither result.extxyz nor failed, in name order of its path relative to WORKDIR (`--order size`: smallest
cells first; `--priority FILE`: the structure ids it lists before all others, in its order), with at most --max-atoms
atoms: runs
`nice -n NICE mpirun --bind-to none -np NP cp2k.psmp -i cp2k.inp -o cp2k.out` with OMP_NUM_THREADS=1 (the queue's whole session
is lowered to NICE too: background.py), parses the output
(parse_cp2k.py), writes result.extxyz atomically and deletes CP2K's wavefunction restart files (0.5 GB each for a
40-atom cell). A run that fails (SCF not converged, CP2K error) gets a
`failed` file with the reason and is not retried; delete it to retry. A structure with two atoms closer than 1.5 Å
(structure_checks.py) is not run: it gets a `failed` file saying so. Killing the queue loses at most the
structure in progress: restart the same command and it continues. WORKDIR is scanned again after every run, so
directories added while the queue runs are picked up. Progress and ETA go to stdout.

Several queues may work on one WORKDIR (one per free core, `--np 1` each): a queue claims a directory by holding
an flock on `running` in it (the file shows the queue's pid), removes it when the run ends, and skips directories
whose `running` another process has locked. The kernel drops the lock of a killed queue, so its claim is stale and
is taken over.

To stop the queues without losing a run: `touch WORKDIR/stop`. Each queue finishes the structure it is running,
then exits (0) instead of starting another; a queue started while the file exists exits at once. Remove the file
before restarting (scripts/active_learning/resume_dft.sh does, and says so).
"""
import argparse
import fcntl
import glob
import os
import subprocess
import sys
import time

import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parse_cp2k  # noqa: E402
import structure_checks  # noqa: E402
from background import yield_cpu  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from id_list import read_ids  # noqa: E402  (the priority file's format)


def run_dirs(workdir):
    """Every directory under workdir (any depth, workdir itself included) holding a cp2k.inp, in path order."""
    found = []
    for root, dirs, files in os.walk(workdir):
        dirs.sort()
        if "cp2k.inp" in files:
            found.append(root)
    return sorted(found, key=lambda d: os.path.relpath(d, workdir).split(os.sep))


# The claim is an flock on d/running, held for as long as the queue runs d: the kernel drops it when the queue
# exits or is killed, so a stale claim needs no pid bookkeeping (pids are recycled, and /proc is not the same in
# every sandbox). The pid written into the file is for people reading the directory.
_held = {}  # directory -> open fd of the running file this queue holds


def _try_lock(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def finished(d):
    """d has its label or gave up (result.extxyz or failed): nothing left to run."""
    return os.path.exists(f"{d}/result.extxyz") or os.path.exists(f"{d}/failed")


def claimed_by_other(d):
    """True if another live process holds d's claim (another queue is running d)."""
    if d in _held:
        return False
    try:
        fd = os.open(f"{d}/running", os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # closing drops the probe lock


def claim(d):
    """Take d for this queue: lock d/running (creating it; a file nobody locks is a stale claim and is taken over).
    False if another live queue holds it, or d got its result or `failed` meanwhile."""
    if d in _held:
        return True
    for _ in range(3):
        fd = os.open(f"{d}/running", os.O_CREAT | os.O_RDWR, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            return False
        try:  # the holder may have released (unlinked) the file between our open and our lock: lock the new one
            same = os.path.samestat(os.fstat(fd), os.stat(f"{d}/running"))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        if finished(d):
            os.remove(f"{d}/running")  # done by another queue since the scan: nothing to hold
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[d] = fd
        return True
    return False


def release(d):
    """Give d up: remove the claim file, then drop the lock."""
    try:
        os.remove(f"{d}/running")
    except FileNotFoundError:
        pass
    fd = _held.pop(d, None)
    if fd is not None:
        os.close(fd)


def pending(workdir, max_atoms):
    """(directory, atoms) of every run still to do that no other live queue is running."""
    out = []
    for d in run_dirs(workdir):
        if finished(d) or claimed_by_other(d):
            continue
        if not os.path.exists(f"{d}/structure.extxyz"):
            print(f"skipping {d}: cp2k.inp but no structure.extxyz", flush=True)
            continue
        natoms = len(ase.io.read(f"{d}/structure.extxyz"))
        if natoms <= max_atoms:
            out.append((d, natoms))
    return out


def ordered(todo, order, priority=()):
    """pending()'s list in run order: the directories named (by structure id, the directory's name) in PRIORITY
    first, in its order; then the rest as found ('path') or smallest cells first, path order within a size
    ('size')."""
    rank = {sid: i for i, sid in enumerate(priority)}
    first = sorted((item for item in todo if os.path.basename(item[0]) in rank),
                   key=lambda item: rank[os.path.basename(item[0])])
    rest = [item for item in todo if os.path.basename(item[0]) not in rank]
    return first + (sorted(rest, key=lambda item: item[1]) if order == "size" else rest)


def stop_requested(workdir):
    """The stop file's path if it exists (see the module text), else None."""
    path = os.path.join(workdir, "stop")
    return path if os.path.exists(path) else None


class Priority:
    """--priority FILE, read again at every scan so that a new order reaches running queues; if the file cannot be
    read at a scan, the last order read stays (said once in the log)."""

    def __init__(self, path):
        self.path, self.ids, self.warned = path, [], False
        if path:
            self.ids = read_ids(path)  # at start, a missing file is an error (a typo in the command line)

    def current(self):
        if self.path:
            try:
                self.ids, self.warned = read_ids(self.path), False
            except OSError as e:
                if not self.warned:
                    print(f"--priority {self.path}: {e.strerror}; keeping the order read before", flush=True)
                self.warned = True
        return self.ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--np", type=int, default=2, help="MPI ranks (default 2)")
    ap.add_argument("--nice", type=int, default=19, help="niceness, so interactive work keeps the CPU (19)")
    ap.add_argument("--max-atoms", type=int, default=40, help="skip structures with more atoms (40)")
    ap.add_argument("--order", choices=["path", "size"], default="path",
                    help="'path' (default): directory order; 'size': smallest cells first (path order within a "
                         "size), so that a session that ends early has finished as many labels as it could")
    ap.add_argument("--priority", metavar="FILE",
                    help="structure ids (one per line, # comments) to run first, in this order, before the "
                         "--order of the rest; read again at every scan (e.g. data/active_learning/queue_priority.txt, "
                         "made by scripts/active_learning/queue_priority.py)")
    args = ap.parse_args()
    try:
        priority = Priority(args.priority)
    except OSError as e:
        sys.exit(f"run_queue: --priority {args.priority}: {e.strerror}")
    yield_cpu(args.nice)

    env = dict(os.environ, OMP_NUM_THREADS="1")
    seconds_per_atom = {}  # rough cost model for the ETA, per cell size
    todo = ordered(pending(args.workdir, args.max_atoms), args.order, priority.current())
    print(f"{len(todo)} structures to run in {args.workdir}", flush=True)
    count = 0
    while todo:
        stop = stop_requested(args.workdir)
        if stop:
            print(f"{stop} exists: stopping with {len(todo)} structures left (remove it and restart to go on)",
                  flush=True)
            break
        d, natoms = todo[0]
        if not claim(d):  # another queue took it since the scan
            todo = ordered(pending(args.workdir, args.max_atoms), args.order, priority.current())
            continue
        count += 1
        name = os.path.relpath(d, args.workdir)
        try:
            reason = structure_checks.too_close(ase.io.read(f"{d}/structure.extxyz"))
            if reason:  # not a physical sample: no label (scripts/dft/structure_checks.py)
                with open(f"{d}/failed", "w") as f:
                    f.write(f"not labelled: {reason}\n")
                progress = f"{name}: not labelled, {reason}"
            else:
                elapsed, status = run_cp2k(d, args, env)
                seconds_per_atom.setdefault(natoms, []).append(elapsed)
                progress = f"{name} ({natoms} atoms) {elapsed:.0f} s {status}"
        finally:
            release(d)
        # Scanned again after every structure: directories added meanwhile (a new active-learning round) join the
        # queue without a restart, and ones labelled elsewhere leave it.
        todo = ordered(pending(args.workdir, args.max_atoms), args.order, priority.current())
        print(f"[{count}, {len(todo)} left] {progress}; ETA {eta_text(todo, seconds_per_atom, natoms)}", flush=True)


def run_cp2k(d, args, env):
    """CP2K on directory d; writes result.extxyz, or `failed` with the reason. Returns (seconds, status text)."""
    start = time.time()
    # --bind-to none: OpenMPI binds a job of <= 2 ranks to cores counted from core 0, so two queues (or a queue
    # beside another MPI job) would share core 0 and leave the other core idle.
    cmd = ["nice", "-n", str(args.nice), "mpirun", "--allow-run-as-root", "--bind-to", "none", "-np", str(args.np),
           "cp2k.psmp", "-i", "cp2k.inp", "-o", "cp2k.out"]
    proc = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.time() - start
    drop_restart_files(d)
    try:
        if proc.returncode != 0:
            raise parse_cp2k.ParseError(f"cp2k exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        frame = parse_cp2k.labelled_frame(d)
        frame.info["cp2k_seconds"] = round(elapsed, 1)
        ase.io.write(f"{d}/result.extxyz.tmp", frame, format="extxyz")
        os.replace(f"{d}/result.extxyz.tmp", f"{d}/result.extxyz")
        return elapsed, f"E = {frame.info['energy']:.6f} eV"
    except parse_cp2k.ParseError as err:
        with open(f"{d}/failed", "w") as f:
            f.write(str(err) + "\n")
        return elapsed, f"FAILED: {err}"


def drop_restart_files(d):
    """Remove CP2K's wavefunction restart files (~0.5 GB per 40-atom k-point run, plus a .bak copy): a finished
    single point never reads them again, and a rerun starts from the atomic guess (a neighbouring structure's
    wavefunction was tried as the guess and converged more slowly)."""
    for path in glob.glob(f"{d}/*-RESTART.kp*") + glob.glob(f"{d}/*-RESTART.wfn*"):
        os.remove(path)


def eta_text(todo, seconds_per_atom, natoms):
    """Hours left: the mean time of each measured cell size; other sizes scaled as atoms^2 from natoms's (or, if
    natoms was not measured, from any measured size)."""
    if not seconds_per_atom:
        return "unknown"
    ref = natoms if natoms in seconds_per_atom else next(iter(seconds_per_atom))
    mean = {n: sum(t) / len(t) for n, t in seconds_per_atom.items()}
    eta = sum(mean[n] if n in mean else mean[ref] * (n / ref) ** 2 for _, n in todo)
    return f"{eta / 3600:.1f} h"

if __name__ == "__main__":
    main()
