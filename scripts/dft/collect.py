#!/usr/bin/python3
"""Collect the seed data and every finished CP2K run into the project's dataset, split 80/20 by structure id.

    /usr/bin/python3 scripts/dft/collect.py WORKDIR [--seed-file data/batio3_pbesol_seed.extxyz] [--out data]

Cell dipoles from scripts/dft/gpaw_dipoles.py (WORKDIR/dipoles/ID/dipole.json; the older layout
WORKDIR/gNNNN/dipole.json, WORKDIR/seed/sNNNN/dipole.json is still read) are attached as the per-frame `dipole`
(e*Å, GPAW Berry phase, arbitrary polarization branch) with `dipole_source` = the record's `source`
(`gpaw-pbesol-berry-phase`, or `gpaw-pbe-berry-phase` for records written before the PBEsol setups, which carry
no `source`); frames without one carry no `dipole` key.

Writes OUT/batio3_pbesol_train.extxyz and OUT/batio3_pbesol_test.extxyz (atomically). The split is a fixed
function of `structure_id` (crc32 % 5 == 0 -> test), so adding structures never moves old ones between the
sets and the held-out set stays held out as the dataset grows. Frames are sorted by structure id. Prints counts
per cell size and config type.
"""
import argparse
import collections
import glob
import os
import json
import zlib

import ase.io


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

    frames = list(ase.io.read(args.seed_file, index=":"))
    for path in sorted(glob.glob(os.path.join(args.workdir, "g*", "result.extxyz"))):
        frames.append(ase.io.read(path))
    for f in frames:
        sid = f.info["structure_id"]
        sub = "seed" if sid.startswith("s") else ""
        for path in (os.path.join(args.workdir, "dipoles", sid, "dipole.json"),
                     os.path.join(args.workdir, sub, sid, "dipole.json")):
            if os.path.exists(path):
                with open(path) as fh:
                    record = json.load(fh)
                f.info["dipole"] = record["dipole"]
                f.info["dipole_source"] = record.get("source", "gpaw-pbe-berry-phase")
                break
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
