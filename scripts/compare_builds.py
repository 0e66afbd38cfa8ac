#!/usr/bin/python3
"""Compare two gapd builds number by number: `gapd predict` with every extra (energy, forces, stress, virial,
dipole, partial dipoles, cell dipoles, Born charges) on the same structures and models, max |difference| per key.

    /usr/bin/python3 scripts/compare_builds.py REF_GAPD NEW_GAPD [--models M1.gapd ...] [--structures F.extxyz]

Default models: the default model (GAP + dipoles) and the paper-size synthetic model (converted once from
../shared into the NEW binary's directory); default structures: BaTiO3 cells of 5 to 320 atoms from the
dataset and a 4x4x4 cell. Used to show that a refactoring leaves every number unchanged (exit 1 if any
difference exceeds --tolerance, relative to the value's scale).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import ase.io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def predict(gapd, model, structures, out, extras, threads):
    cmd = [gapd, "predict", structures, "-m", model, "-o", out, "--threads", str(threads)]
    if extras:
        cmd += ["--extras", extras]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ase.io.read(out, index=":")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref")
    ap.add_argument("new")
    ap.add_argument("--models", nargs="*")
    ap.add_argument("--structures")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-12, help="relative to max |value| per key (1e-12)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gapd_compare_")
    models = args.models
    if not models:
        paper = os.path.join(os.path.dirname(os.path.abspath(args.new)), "paper_synthetic.gapd")
        if not os.path.exists(paper):
            subprocess.run([args.new, "convert", "-m", os.path.join(REPO, "..", "shared", "reference", "librascal",
                                                                    "paper_hypers_M1000_zeta4.json.gz"), "-o", paper],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        models = [os.path.join(REPO, "data", "models", "batio3_default.gapd"), paper]
    structures = args.structures
    if not structures:
        frames = ase.io.read(os.path.join(REPO, "data", "batio3_pbesol_test.extxyz"), index=":")
        # The 320-atom i-PI start structure (its cell is in the i-PI comment line: a 16 Å cube).
        big = ase.io.read(os.path.join(REPO, "ipi_inputs", "nvt", "init.xyz"), format="xyz")
        frames.append(ase.Atoms(big.get_chemical_symbols(), positions=big.positions, cell=[16.0] * 3, pbc=True))
        for f in frames:
            f.info = {}
            f.arrays = {k: v for k, v in f.arrays.items() if k in ("numbers", "positions")}
        structures = os.path.join(tmp, "structures.extxyz")
        ase.io.write(structures, frames, format="extxyz")
    worst = 0.0
    for model in models:
        extras = "dipole,polarization,partial_dipoles,cell_dipoles,BEC" if "default" in os.path.basename(model) else None
        a = predict(args.ref, model, structures, os.path.join(tmp, "ref.extxyz"), extras, args.threads)
        b = predict(args.new, model, structures, os.path.join(tmp, "new.extxyz"), extras, args.threads)
        diffs = {}
        for fa, fb in zip(a, b):
            for key in set(fa.info) | set(fb.info):
                va, vb = np.atleast_1d(fa.info.get(key)), np.atleast_1d(fb.info.get(key))
                if va.dtype.kind in "fi":
                    d = np.max(np.abs(va - vb)) / max(np.max(np.abs(va)), 1e-300)
                    diffs[key] = max(diffs.get(key, 0.0), d)
            for key in set(fa.arrays) | set(fb.arrays):
                if key in ("numbers", "positions"):
                    continue
                va, vb = fa.arrays[key], fb.arrays[key]
                d = np.max(np.abs(va - vb)) / max(np.max(np.abs(va)), 1e-300)
                diffs[key] = max(diffs.get(key, 0.0), d)
        print(f"{os.path.basename(model)}: {len(a)} frames; max relative difference per key:")
        for key in sorted(diffs):
            print(f"  {key:18s} {diffs[key]:.3g}")
            worst = max(worst, diffs[key])
    print(f"worst {worst:.3g} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
