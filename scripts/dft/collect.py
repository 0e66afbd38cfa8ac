#!/usr/bin/python3
"""Collect DFT labels into the project's dataset, which is itself the persistent store; split 80/20 by structure id.

    /usr/bin/python3 scripts/dft/collect.py WORKDIR [--seed-file data/batio3_pbesol_seed.extxyz] [--out data]

Starts from the frames already in OUT/batio3_pbesol_{train,test}.extxyz plus the seed file (a structure id is
taken once: dataset first, then seed), then adds every WORKDIR/**/result.extxyz (any depth: gNNNN from
generate_structures.py, active-learning frames from scripts/active_learning/make_dft_dirs.py, ...) whose
`structure_id` is not in the dataset yet. A result whose id is already stored is left out (the stored frame is
kept; the count is printed). So run directories can be deleted once collected, and WORKDIR may hold only new runs.

Cell dipoles: WORKDIR/dipoles/<structure_id>/dipole.json (scripts/dft/gpaw_dipoles.py: {"dipole": [x, y, z] in
e*Å, "source": e.g. "gpaw-pbesol-berry-phase", ...}) sets the frame's `dipole` (written as dipole="x y z") and
`dipole_source`; a frame without a json keeps the dipole it already has in the dataset (if any). Older json
files without "source" get `gpaw-pbe-berry-phase` (the first labels' route).

Writes OUT/batio3_pbesol_train.extxyz and OUT/batio3_pbesol_test.extxyz (atomically). The split is a fixed
function of `structure_id` (crc32 % 5 == 0 -> test), so adding structures never moves old ones between the
sets and the held-out set stays held out as the dataset grows. Frames are sorted by structure id. Prints counts
per cell size and config type. A frame with two atoms closer than 1.5 Å (structure_checks.py) is left out of
the dataset, stored or new, and named in the output.
"""
import argparse
import collections
import glob
import os
import json
import sys
import zlib

import numpy as np
import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import structure_checks  # noqa: E402


def is_test(structure_id):
    return zlib.crc32(structure_id.encode()) % 5 == 0


def write_atomic(path, frames):
    tmp = path + ".tmp"
    ase.io.write(tmp, frames, format="extxyz")
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--seed-file", default=os.path.join(repo, "data", "batio3_pbesol_seed.extxyz"))
    ap.add_argument("--out", default=os.path.join(repo, "data"))
    args = ap.parse_args()

    frames, seen, left_out = [], set(), []

    def add(frame, origin):
        sid = frame.info.get("structure_id")
        if sid is None:
            raise SystemExit(f"collect.py: a frame of {origin} has no structure_id")
        if sid in seen:
            return False
        seen.add(sid)
        reason = structure_checks.too_close(frame)
        if reason:  # an unphysical sample stays out of the dataset, stored or new (structure_checks.py)
            left_out.append(f"{sid} ({reason})")
            return False
        frames.append(frame)
        return True

    stored = 0
    for name in ("batio3_pbesol_train.extxyz", "batio3_pbesol_test.extxyz"):
        path = os.path.join(args.out, name)
        if os.path.exists(path):
            for f in ase.io.read(path, index=":"):
                if f.info.get("structure_id") in seen:
                    raise SystemExit(f"collect.py: structure id {f.info['structure_id']} twice in the dataset")
                stored += add(f, path)
    seed = sum(add(f, args.seed_file) for f in ase.io.read(args.seed_file, index=":"))
    results = sorted(glob.glob(os.path.join(args.workdir, "**", "result.extxyz"), recursive=True))
    new = 0
    for path in results:
        new += add(ase.io.read(path), path)
    print(f"{stored} frames from the dataset, {seed} more from the seed file, {new} new of {len(results)} "
          f"result.extxyz under {args.workdir} ({len(results) - new} already stored or left out)")
    if left_out:
        print(f"left out, atoms too close: {', '.join(left_out)}")

    attached = 0
    for f in frames:
        sid = f.info["structure_id"]
        path = os.path.join(args.workdir, "dipoles", sid, "dipole.json")
        if os.path.exists(path):
            with open(path) as fh:
                record = json.load(fh)
            f.info["dipole"] = np.array(record["dipole"], dtype=float)
            f.info["dipole_source"] = record.get("source", "gpaw-pbe-berry-phase")
            # ASE's reader turns a stored `dipole` into a calculator result, which its writer puts back over
            # info: the new value must replace it there too.
            if f.calc is not None and "dipole" in f.calc.results:
                f.calc.results["dipole"] = f.info["dipole"].copy()
            attached += 1
        elif "dipole" in f.info:  # kept from the dataset; a list (older files: dipole="_JSON [...]") -> "x y z"
            f.info["dipole"] = np.array(f.info["dipole"], dtype=float).reshape(3)
    print(f"{attached} dipoles from {os.path.join(args.workdir, 'dipoles')}")
    ids = [f.info["structure_id"] for f in frames]
    duplicates = [k for k, v in collections.Counter(ids).items() if v > 1]
    if duplicates:
        raise SystemExit(f"collect.py: duplicate structure ids {duplicates[:5]}")
    frames.sort(key=lambda f: f.info["structure_id"])
    for f in frames:
        f.info.pop("cp2k_seconds", None)  # machine-dependent, not a label
    train = [f for f in frames if not is_test(f.info["structure_id"])]
    test = [f for f in frames if is_test(f.info["structure_id"])]
    write_atomic(os.path.join(args.out, "batio3_pbesol_train.extxyz"), train)
    write_atomic(os.path.join(args.out, "batio3_pbesol_test.extxyz"), test)
    sizes = collections.Counter(len(f) for f in frames)
    kinds = collections.Counter(f.info.get("config_type", "?") for f in frames)
    print(f"{len(frames)} structures: {len(train)} train, {len(test)} test; "
          f"{sum('dipole' in f.info for f in frames)} with a DFT dipole")
    print("atoms per cell:", dict(sorted(sizes.items())))
    print("config types:", dict(sorted(kinds.items())))


if __name__ == "__main__":
    main()
