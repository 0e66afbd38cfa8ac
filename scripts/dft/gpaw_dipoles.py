#!/usr/bin/python3
"""Berry-phase cell dipoles with GPAW (Debian `gpaw`) for structures that have (or will have) CP2K labels.

    nohup /usr/bin/python3 scripts/dft/gpaw_dipoles.py WORKDIR [--shard 1/2] [--max-atoms 40] [--watch 300] &

Labels every frame of the project's dataset (data/batio3_pbesol_{train,test}.extxyz, or --frames FILES) and every
finished CP2K run under WORKDIR (WORKDIR/**/result.extxyz), keyed by `structure_id`, writing
WORKDIR/dipoles/ID/dipole.json = {"dipole": [x, y, z] (e*Å), "source": ..., "seconds": t, "kpts": [...],
"settings": {...}} atomically. Smallest cells first; resumable (a structure with dipole.json, or whose dataset frame already has this route's dipole, is skipped; killing
the worker loses only the one in progress, and cells of >= 20 atoms resume their SCF from a checkpoint written
every 2 iterations: WORKDIR/dipoles/ID/scf_checkpoint.gpw, ~250 MB for 40 atoms, removed when done). `--shard K/N` splits the list between N single-core workers.

Physics: GPAW plane waves (500 eV), PBEsol with PAW setups generated locally by GPAW's own generator
(`gpaw-setup -f PBEsol Ba Ti O`, written once into WORKDIR/gpaw_setups; Debian's gpaw-data ships PBE setups
only), Fermi-Dirac 25.8 meV, the CP2K labels' ~15.5 Å Monkhorst-Pack mesh, no symmetry; then
gpaw.berryphase.get_polarization_phase gives M = sum_c phase_c/(2 pi) a_c (ionic + electronic) on an arbitrary
polarization branch (defined modulo e*a_c; `gapd fit` unwraps branches, docs/fitting.md). `--xc PBE` uses
Debian's PBE setups instead (the route of the first labels). Cost and the Born-charge check: docs/dft_dipoles.md.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time
import zlib

import numpy as np
import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp2k_input  # noqa: E402
from background import yield_cpu  # noqa: E402

SETTINGS = {"ecut_eV": 500.0, "smearing_eV": 0.0258, "density_convergence": 1e-5}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def source_name(xc):
    return f"gpaw-{xc.lower()}-berry-phase"


def ensure_setups(workdir, xc):
    """Point GPAW at locally generated setups for functionals Debian's gpaw-data lacks (PBEsol)."""
    if xc == "PBE":
        return
    setup_dir = os.path.join(workdir, "gpaw_setups")
    os.makedirs(setup_dir, exist_ok=True)
    missing = [el for el in ("Ba", "Ti", "O") if not os.path.exists(os.path.join(setup_dir, f"{el}.{xc}"))]
    if missing:
        with open(os.path.join(setup_dir, "gpaw-setup.log"), "a") as log:
            subprocess.run(["gpaw-setup", "-f", xc, *missing], cwd=setup_dir, stdout=log, stderr=log, check=True)
    os.environ["GPAW_SETUP_PATH"] = setup_dir + ":" + os.environ.get("GPAW_SETUP_PATH", "/usr/share/gpaw-setups")


def checkpoint_settings(xc, kpts):
    """What a checkpoint must have been computed with to be resumed; stored beside it as CHECKPOINT.json."""
    return dict(SETTINGS, xc=xc, kpts=list(kpts))


def open_calculator(rundir, xc, kpts, atoms, checkpoint):
    """A GPAW calculator for `atoms`: resumed from `checkpoint` (wave functions and density of an unfinished
    SCF) when it holds the same positions, cell and settings, else a fresh one (a stale checkpoint is removed)."""
    from gpaw import GPAW, PW
    settings = checkpoint_settings(xc, kpts)
    stamp = checkpoint + ".json"
    txt = open(os.path.join(rundir, "gpaw.txt"), "a")
    if os.path.exists(checkpoint):
        try:
            with open(stamp) as f:
                same_settings = json.load(f) == settings
            calc = GPAW(checkpoint, txt=txt)
            saved = calc.get_atoms()
            if (same_settings and len(saved) == len(atoms) and np.allclose(saved.positions, atoms.positions, atol=1e-8)
                    and np.allclose(saved.cell[:], atoms.cell[:], atol=1e-8)):
                print(f"  resuming the SCF from {checkpoint}", flush=True)
                return calc
        except Exception as e:  # an unreadable checkpoint (killed while writing an old version): start afresh
            print(f"  ignoring checkpoint {checkpoint}: {e}", flush=True)
        os.remove(checkpoint)
    return GPAW(mode=PW(SETTINGS["ecut_eV"]), xc=xc, kpts=tuple(kpts),
                symmetry={"point_group": False, "time_reversal": False},
                occupations={"name": "fermi-dirac", "width": SETTINGS["smearing_eV"]},
                convergence={"density": SETTINGS["density_convergence"]}, txt=txt)


def berry_phase_dipole(atoms, rundir, xc, kpts=None, checkpoint_every=0):
    """M (e*Å), the k-mesh and GPAW's energy. With checkpoint_every > 0 the SCF writes its wave functions every
    that many iterations (atomically, to rundir/scf_checkpoint.gpw) and a later call resumes from them: a 40-atom
    SCF takes hours on a shared core and survives the worker being killed."""
    from gpaw.berryphase import get_polarization_phase
    kpts = list(kpts or cp2k_input.kmesh(atoms.cell.lengths()))
    gpw = os.path.join(rundir, "gpaw.gpw")
    checkpoint = os.path.join(rundir, "scf_checkpoint.gpw")
    atoms = atoms.copy()
    calc = open_calculator(rundir, xc, kpts, atoms, checkpoint)
    if checkpoint_every > 0:
        stamp = checkpoint + ".json"
        with open(stamp + ".tmp", "w") as f:
            json.dump(checkpoint_settings(xc, kpts), f)
        os.replace(stamp + ".tmp", stamp)

        def write_checkpoint():
            calc.write(checkpoint + ".tmp", "all")
            os.replace(checkpoint + ".tmp", checkpoint)
        calc.attach(write_checkpoint, checkpoint_every)
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    atoms.calc.write(gpw, "all")
    phase_c = get_polarization_phase(gpw)
    os.remove(gpw)
    for leftover in (glob.glob(os.path.join(rundir, "*.gpw")) + glob.glob(os.path.join(rundir, "phases_*.json"))
                     + glob.glob(os.path.join(rundir, "*.gpw.json")) + glob.glob(os.path.join(rundir, "*.gpw.tmp"))):
        os.remove(leftover)
    return phase_c / (2 * np.pi) @ atoms.get_cell()[:], kpts, energy


def frames_to_label(workdir, frame_files):
    frames = {}
    for path in frame_files:
        for f in ase.io.read(path, index=":"):
            frames.setdefault(f.info["structure_id"], f)
    for path in sorted(glob.glob(os.path.join(workdir, "**", "result.extxyz"), recursive=True)):
        f = ase.io.read(path)
        frames.setdefault(f.info["structure_id"], f)
    return frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--frames", nargs="*", default=[os.path.join(REPO, "data", f"batio3_pbesol_{s}.extxyz")
                                                    for s in ("train", "test")],
                    help="extxyz files whose frames (by structure_id) get dipoles (default: the dataset)")
    ap.add_argument("--xc", default="PBEsol", choices=["PBEsol", "PBE"])
    ap.add_argument("--max-atoms", type=int, default=40, help="skip larger cells (40)")
    ap.add_argument("--shard", default="1/1", help="K/N: this worker takes every structure whose id hashes to K")
    ap.add_argument("--only", nargs="*", help="label only these structure ids")
    ap.add_argument("--nice", type=int, default=19, help="niceness of this worker and its session (19)")
    ap.add_argument("--checkpoint-atoms", type=int, default=20,
                    help="cells of at least this many atoms write an SCF checkpoint that a restarted worker resumes (20)")
    ap.add_argument("--checkpoint-every", type=int, default=2, help="SCF iterations between checkpoints (2)")
    ap.add_argument("--watch", type=float, default=0, metavar="SECONDS",
                    help="when the list is done, look again for new finished CP2K runs every SECONDS and label them "
                         "too, until killed (for a worker beside run_queue.py; 0 = stop when done)")
    args = ap.parse_args()
    yield_cpu(args.nice)
    k, n = (int(x) for x in args.shard.split("/"))
    if not 1 <= k <= n:
        raise SystemExit(f"gpaw_dipoles.py: --shard {args.shard}: want K/N with 1 <= K <= N")
    ensure_setups(args.workdir, args.xc)

    while True:
        labelled = label_pending(args, k, n)
        if args.watch <= 0:
            return
        if labelled == 0:
            time.sleep(args.watch)


def label_pending(args, k, n):
    """Labels every structure of this shard still without a dipole; returns how many it labelled."""
    frames = frames_to_label(args.workdir, args.frames)
    todo = []
    for sid, atoms in frames.items():
        if args.only and sid not in args.only:
            continue
        if len(atoms) > args.max_atoms or zlib.crc32(sid.encode()) % n != k - 1:
            continue
        # The dataset is the store: a frame already carrying this route's dipole is done, even in a fresh WORKDIR.
        if atoms.info.get("dipole_source") == source_name(args.xc):
            continue
        if not os.path.exists(os.path.join(args.workdir, "dipoles", sid, "dipole.json")):
            todo.append((len(atoms), sid))
    todo.sort()
    if todo or not args.watch:
        print(f"{time.strftime('%H:%M:%S')} {len(todo)} structures without a {args.xc} dipole (shard {args.shard})",
              flush=True)
    seconds_per_size = {}
    for count, (natoms, sid) in enumerate(todo, 1):
        d = os.path.join(args.workdir, "dipoles", sid)
        os.makedirs(d, exist_ok=True)
        start = time.time()
        every = args.checkpoint_every if natoms >= args.checkpoint_atoms else 0
        dipole, kpts, energy = berry_phase_dipole(frames[sid], d, args.xc, checkpoint_every=every)
        seconds = time.time() - start
        record = {"dipole": [float(x) for x in dipole], "source": source_name(args.xc), "seconds": round(seconds, 1),
                  "kpts": kpts, "gpaw_energy_eV": float(energy), "settings": dict(SETTINGS, xc=args.xc)}
        with open(os.path.join(d, "dipole.json.tmp"), "w") as f:
            json.dump(record, f)
        os.replace(os.path.join(d, "dipole.json.tmp"), os.path.join(d, "dipole.json"))
        seconds_per_size.setdefault(natoms, []).append(seconds)
        # Cost model for the ETA: measured mean per cell size, else the nearest measured size scaled by atoms^2.
        eta = 0.0
        for m, _ in todo[count:]:
            ref = min(seconds_per_size, key=lambda s: abs(s - m))
            eta += np.mean(seconds_per_size[ref]) * (m / ref) ** 2
        print(f"[{count}/{len(todo)}] {sid} ({natoms} atoms) {seconds:.0f} s M = {np.round(dipole, 4).tolist()} e*A; "
              f"ETA {eta / 3600:.1f} h", flush=True)
    return len(todo)


if __name__ == "__main__":
    main()
