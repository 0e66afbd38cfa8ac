#!/usr/bin/python3
"""CP2K run directories for a selection of frames (active learning), exactly as scripts/dft/generate_structures.py
makes them, so scripts/dft/run_queue.py runs them and scripts/dft/collect.py collects them.

    /usr/bin/python3 scripts/active_learning/make_dft_dirs.py SELECTION.extxyz WORKDIR [--max-atoms 40]

For every frame of SELECTION (each needs a `structure_id`; `config_type` and the md_* provenance of md_pool.py are
kept): WORKDIR/<structure_id>/structure.extxyz (geometry, pbc, every info key of the frame except labels or
predictions (energy, free_energy, stress, virial, dipole), plus `kpts` and `supercell`) and
WORKDIR/<structure_id>/cp2k.inp (scripts/dft/cp2k_input.py: the dataset's settings; k-mesh ~15.5 Å per
direction by cp2k_input.kmesh). Idempotent: a directory that already has cp2k.inp is left alone (a different
geometry under the same id is reported as a conflict and not overwritten). Frames whose structure_id is already
in the dataset (data/batio3_pbesol_{train,test}.extxyz, --dataset) are skipped, as are frames with more than
--max-atoms atoms (CP2K cost; the dataset's largest cells have 40).
"""
import argparse
import os
import sys

import numpy as np
import ase
import ase.io

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "dft"))
import cp2k_input  # noqa: E402

LABEL_KEYS = {"energy", "free_energy", "stress", "virial", "dipole", "dipole_source"}
A_CUBIC = 4.0


def structure_for_dft(frame):
    """A clean copy (no calculator, no per-atom labels) with the generator's provenance keys."""
    atoms = ase.Atoms(frame.get_chemical_symbols(), positions=frame.get_positions(), cell=frame.get_cell()[:],
                      pbc=True)
    atoms.info.update({k: v for k, v in frame.info.items() if k not in LABEL_KEYS})
    kpts = cp2k_input.kmesh(atoms.cell.lengths())
    atoms.info["kpts"] = np.array(kpts)
    atoms.info["supercell"] = np.rint(atoms.cell.lengths() / A_CUBIC).astype(int)
    return atoms, kpts


def known_ids(paths):
    ids = set()
    for p in paths:
        if os.path.exists(p):
            ids.update(f.info.get("structure_id") for f in ase.io.read(p, index=":"))
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("selection", help="extxyz with the frames to label (each with structure_id)")
    ap.add_argument("workdir")
    ap.add_argument("--max-atoms", type=int, default=40)
    ap.add_argument("--rank-dirs", action="store_true",
                    help="WORKDIR/rankNN/<structure_id>/ instead of WORKDIR/<structure_id>/, NN = the frame's "
                         "select_rank (gapd select) or its 1-based position in SELECTION, so that run_queue.py "
                         "(path order) labels the most novel frames first")
    ap.add_argument("--dataset", nargs="*", default=[os.path.join(REPO, "data", f"batio3_pbesol_{s}.extxyz")
                                                     for s in ("train", "test")],
                    help="extxyz files whose structure ids are already labelled (default: the project dataset)")
    args = ap.parse_args()

    frames = ase.io.read(args.selection, index=":")
    known = known_ids(args.dataset)
    os.makedirs(args.workdir, exist_ok=True)
    created = existing = labelled = too_big = conflicts = 0
    seen = set()
    for n, frame in enumerate(frames):
        sid = frame.info.get("structure_id")
        if not sid:
            sys.exit(f"make_dft_dirs.py: frame {n} of {args.selection} has no structure_id")
        if sid in seen:
            sys.exit(f"make_dft_dirs.py: structure_id {sid} twice in {args.selection}")
        seen.add(sid)
        if sid in known:
            labelled += 1
            continue
        if len(frame) > args.max_atoms:
            too_big += 1
            continue
        atoms, kpts = structure_for_dft(frame)
        d = os.path.join(args.workdir, sid)
        if args.rank_dirs:
            rank = int(frame.info.get("select_rank", n + 1))
            d = os.path.join(args.workdir, f"rank{rank:02d}", sid)
        if os.path.exists(os.path.join(d, "cp2k.inp")):
            old = ase.io.read(os.path.join(d, "structure.extxyz"))
            same = (len(old) == len(atoms) and np.allclose(old.positions, atoms.positions, atol=1e-6)
                    and np.allclose(old.cell[:], atoms.cell[:], atol=1e-6))
            if same:
                existing += 1
            else:
                conflicts += 1
                print(f"CONFLICT: {d} holds a different structure under id {sid}; left alone", flush=True)
            continue
        os.makedirs(d, exist_ok=True)
        ase.io.write(os.path.join(d, "structure.extxyz"), atoms, format="extxyz")
        with open(os.path.join(d, "cp2k.inp.tmp"), "w") as f:
            f.write(cp2k_input.cp2k_input(atoms, kpts))
        os.replace(os.path.join(d, "cp2k.inp.tmp"), os.path.join(d, "cp2k.inp"))  # cp2k.inp last: complete dir
        created += 1
        if created % 20 == 0:
            print(f"  {n + 1}/{len(frames)} frames, {created} directories created", flush=True)
    print(f"{len(frames)} frames in {args.selection}: {created} new directories in {args.workdir}, {existing} "
          f"already there, {labelled} already in the dataset, {too_big} over {args.max_atoms} atoms, "
          f"{conflicts} conflicts")
    return 1 if conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
