#!/usr/bin/python3
"""Every number data/models/MODEL_CARD.md quotes about a model, from one command, after a refit.

    /usr/bin/python3 scripts/model_card_numbers.py [--model data/models/batio3_default.gapd] [--gapd build/gapd]
        [--test data/batio3_pbesol_test.extxyz] [--train data/batio3_pbesol_train.extxyz] [--json OUT.json]

Prints, as markdown to paste or compare:
- identity: sha256 (first 16 hex digits), file size, sparse points per species (read_gapd_model.py);
- the data it was fitted on: training structures by cell size, MD-sampled ones, DFT dipoles (from --train);
- held-out errors: `gapd eval` on --test, overall and `--group-by natoms,config_type` (energy meV/atom, forces
  meV/Å all and per species, virial meV/atom, dipole me·Å/atom), and the dipole RMSE in e·Bohr/atom;
- Born charges of the ideal cubic 5-atom cell, a = 4.0 Å (`gapd predict --extras BEC`);
- the float32 kernel's deviation on the 320-atom bench structure (`gapd predict --precision float32`).

The [111] double well against CP2K is not recomputed here (scripts/dft/double_well.py report, docs/physics.md).
Takes ~10 s on one core for the default model.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import ase.data
import ase.io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from read_gapd_model import read_gapd_model  # noqa: E402
BOHR_PER_ANGSTROM = 1.0 / 0.529177210903  # CODATA 2018


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"model_card_numbers.py: {' '.join(cmd)} failed: {(p.stderr or p.stdout).strip()[-400:]}")
    return p


def identity(model):
    """sha256, size and sparse points per species, read from the file (scripts/read_gapd_model.py)."""
    with open(model, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:16]
    sets = sorted(read_gapd_model(model)["sparse"].items())
    sparse = {ase.data.chemical_symbols[z]: len(s["points"]) for z, s in sets}
    return {"sha256_16": sha, "megabytes": round(os.path.getsize(model) / 1e6, 1), "sparse_points": sparse}


def dataset(path):
    frames = ase.io.read(path, ":")
    sizes = {}
    for a in frames:
        sizes[len(a)] = sizes.get(len(a), 0) + 1
    md = [a for a in frames if str(a.info.get("config_type", "")).startswith("md-")]
    return {"structures": len(frames), "by_size": dict(sorted(sizes.items())),
            "md_sampled": len(md), "md_sampled_40_or_more": sum(len(a) >= 40 for a in md),
            "dft_dipoles": sum("dipole" in a.info for a in frames)}


def held_out(model, gapd, test, tmp):
    """gapd eval's report grouped by cell size, plus the groups by cell size and origin under by_origin."""
    reports = {}
    for name, keys in (("size", "natoms"), ("origin", "natoms,config_type")):
        run([gapd, "eval", "-m", model, test, "--group-by", keys, "--report", f"{tmp}/eval_{name}"])
        with open(f"{tmp}/eval_{name}.json") as f:
            reports[name] = json.load(f)
    out = reports["size"]
    out["by_origin"] = reports["origin"]["groups"]
    return out


def born_charges(model, gapd, tmp):
    a = 4.0
    cubic = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                      cell=[a, a, a], pbc=True)
    ase.io.write(f"{tmp}/cubic.extxyz", cubic)
    run([gapd, "predict", f"{tmp}/cubic.extxyz", "-m", model, "-o", f"{tmp}/cubic_out.extxyz", "--extras", "BEC"])
    z = ase.io.read(f"{tmp}/cubic_out.extxyz").arrays["born_charges"].reshape(-1, 3, 3)
    # O at (.5,.5,0): along z is its Ti-O-Ti direction, x and y are across.
    return {"Ba": z[0, 0, 0], "Ti": z[1, 0, 0], "O_parallel": z[2, 2, 2], "O_perpendicular": z[2, 0, 0],
            "acoustic_sum_max": float(np.abs(z.sum(axis=0)).max())}


def float32_deviation(model, gapd, tmp):
    run([gapd, "bench", "--sizes", "4", "--write-structures", f"{tmp}/b4.extxyz"])
    p = run([gapd, "predict", f"{tmp}/b4.extxyz", "-m", model, "-o", f"{tmp}/b4_out.extxyz", "--precision", "float32"])
    m = re.search(r"\|dE\| ([0-9.eE+-]+) meV/atom, max \|dF\| ([0-9.eE+-]+) meV/Å", p.stderr)
    return {"dE_meV_per_atom": float(m.group(1)), "max_dF_meV_per_A": float(m.group(2))} if m else None


def rmse(stats):
    return stats["rmse"] * 1e3 if stats and stats.get("count") else float("nan")


def species_forces(table, symbol):
    return rmse(table["forces_by_species"].get(symbol))


def group_row(name, g):
    d = f"{rmse(g['dipole_per_atom']):.2f} ({g['dipole_frames']})" if g["dipole_frames"] else "-"
    return (f"| {name} | {g['frames']} | {rmse(g['energy_per_atom']):.3f} | {rmse(g['forces']):.1f} "
            f"({species_forces(g, 'O'):.1f} / {species_forces(g, 'Ti'):.1f} / {species_forces(g, 'Ba'):.1f}) | "
            f"{rmse(g['virial_per_atom']):.2f} | {d} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.path.join(REPO, "build", "gapd"))
    ap.add_argument("--test", default=os.path.join(REPO, "data", "batio3_pbesol_test.extxyz"))
    ap.add_argument("--train", default=os.path.join(REPO, "data", "batio3_pbesol_train.extxyz"))
    ap.add_argument("--json", help="also write everything as JSON")
    args = ap.parse_args()
    for path, what in ((args.model, "--model"), (args.gapd, "--gapd"), (args.test, "--test"), (args.train, "--train")):
        if not os.path.exists(path):
            sys.exit(f"model_card_numbers.py: {what} {path} does not exist")

    with tempfile.TemporaryDirectory() as tmp:
        out = {"identity": identity(args.model), "training": dataset(args.train),
               "test": dataset(args.test), "held_out": held_out(args.model, args.gapd, args.test, tmp),
               "born_charges": born_charges(args.model, args.gapd, tmp),
               "float32": float32_deviation(args.model, args.gapd, tmp)}

    i, tr, te, h = out["identity"], out["training"], out["test"], out["held_out"]
    print(f"model {args.model}: sha256 {i['sha256_16']}, {i['megabytes']} MB, sparse points "
          + ", ".join(f"{s} {n}" for s, n in i["sparse_points"].items()))
    for name, d in (("training", tr), ("test", te)):
        print(f"{name} set {os.path.relpath(args.train if name == 'training' else args.test, REPO)}: "
              f"{d['structures']} structures (cells " + "/".join(map(str, d["by_size"])) + " atoms = "
              + "/".join(map(str, d["by_size"].values())) + f"), {d['md_sampled']} MD-sampled "
              f"({d['md_sampled_40_or_more']} with >= 40 atoms), {d['dft_dipoles']} DFT dipoles")
    dip = h["dipole_per_atom"]
    print("\n| quantity | held-out RMSE (MAE) |\n|---|---|")
    print(f"| energy | {rmse(h['energy_per_atom']):.2f} ({h['energy_per_atom']['mae'] * 1e3:.2f}) meV/atom = "
          f"{rmse(h['energy_per_formula_unit']):.1f} meV/f.u. |")
    print(f"| forces, all | {rmse(h['forces']):.1f} ({h['forces']['mae'] * 1e3:.1f}) meV/Å |")
    print(f"| forces O / Ti / Ba | {species_forces(h, 'O'):.1f} / {species_forces(h, 'Ti'):.1f} / "
          f"{species_forces(h, 'Ba'):.1f} meV/Å |")
    print(f"| virial | {rmse(h['virial_per_atom']):.1f} ({h['virial_per_atom']['mae'] * 1e3:.1f}) meV/atom |")
    if dip.get("count"):
        print(f"| dipole vs DFT ({h['dipole_frames']} structures) | {rmse(dip):.2f} ({dip['mae'] * 1e3:.2f}) me·Å/atom "
              f"= {dip['rmse'] * BOHR_PER_ANGSTROM:.4f} e·Bohr/atom |")
    header = ("| frames | energy meV/atom | forces meV/Å (O / Ti / Ba) | virial meV/atom | dipole me·Å/atom |\n"
              "|---|---|---|---|---|---|")
    print("\n| held-out cells " + header)
    for g in h["groups"]["tables"]:
        print(group_row(f"{g['group']['natoms']} atoms", g))
    print("\n| held-out cells, origin " + header)
    for g in h["by_origin"]["tables"]:
        print(group_row(f"{g['group']['natoms']} atoms, {g['group']['config_type']}", g))
    z = out["born_charges"]
    print(f"\nBorn charges, ideal cubic cell a = 4.0 Å (e): Ba {z['Ba']:.2f}, Ti {z['Ti']:.2f}, O along Ti-O-Ti "
          f"{z['O_parallel']:.2f}, O across {z['O_perpendicular']:.2f} (acoustic sum {z['acoustic_sum_max']:.2f})")
    if out["float32"]:
        f = out["float32"]
        print(f"float32 kernel on the 320-atom bench structure: |dE| {f['dE_meV_per_atom']} meV/atom, "
              f"max |dF| {f['max_dF_meV_per_A']} meV/Å")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
            fh.write("\n")


if __name__ == "__main__":
    main()
