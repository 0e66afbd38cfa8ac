#!/usr/bin/python3
"""Relax the four BaTiO3 phases (cubic, tetragonal, orthorhombic, rhombohedral; 5-atom cells and the 10-atom
orthorhombic cell) with a gapd model through ASE, and compare with CP2K PBEsol relaxations of the same phases.

    PYTHONPATH=build/python /usr/bin/python3 examples/relax_phases.py [--model data/models/batio3_default.gapd]
        [--cp2k WORKDIR/summary.json] [--out data/phases] [--figure docs/figures/batio3_phases.png]

Cell and positions relax together (ase.constraints.ExpCellFilter, BFGS to 1e-4 eV/Å and the matching stress)
with the phase's space group held (ase.constraints.FixSymmetry): the T and O phases are saddle points of the
energy surface, which an unconstrained relaxation would leave for R. Writes OUT/model_relaxed.extxyz (the
relaxed cells; the starting points of examples/relax_phases_cp2k.py) and OUT/phases_table.md (lattice
parameters, volume and E - E_cubic per formula unit, dipole; with --cp2k the CP2K numbers beside them), and the
figure (E - E_C and volume per formula unit, model vs CP2K).
"""
import argparse
import json
import os
import sys

import numpy as np
import ase.io
from ase.constraints import ExpCellFilter
from ase.spacegroup.symmetrize import FixSymmetry, check_symmetry
from ase.optimize import BFGS

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import batio3_phases  # noqa: E402
from gapd.ase import GapdCalculator  # noqa: E402

ROOT = os.path.join(HERE, "..")
NAMES = {"C": "cubic Pm-3m", "T": "tetragonal P4mm", "O": "orthorhombic Amm2", "R": "rhombohedral R3m"}


def relax(atoms, calc, fmax):
    atoms = atoms.copy()
    atoms.calc = calc
    atoms.set_constraint(FixSymmetry(atoms, symprec=1e-3))
    opt = BFGS(ExpCellFilter(atoms), logfile=None, maxstep=0.05)
    opt.run(fmax=fmax, steps=500)
    atoms.info["steps"] = opt.get_number_of_steps()
    return atoms


def describe(atoms):
    (a, b, c, alpha, beta, gamma), volume = batio3_phases.pseudo_cubic_parameters(atoms)
    return dict(a=a, b=b, c=c, alpha=alpha, beta=beta, gamma=gamma, volume_per_fu=volume)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "data/models/batio3_default.gapd"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fmax", type=float, default=1e-4, help="eV/Å (and the stress in ExpCellFilter's units)")
    ap.add_argument("--cp2k", help="summary.json of examples/relax_phases_cp2k.py")
    ap.add_argument("--out", default=os.path.join(ROOT, "data/phases"))
    ap.add_argument("--figure", default=os.path.join(ROOT, "docs/figures/batio3_phases.png"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    calc = GapdCalculator(args.model, threads=args.threads)

    relaxed = []
    for label, phase, start in batio3_phases.starting_structures():
        atoms = relax(start, calc, args.fmax)
        n_fu = len(atoms) // 5
        e = atoms.get_potential_energy()
        dipole = atoms.get_dipole_moment() if calc.model.has_dipole_model else np.zeros(3)
        atoms.info.update(label=label, phase=phase, energy=e, energy_per_fu=e / n_fu,
                          dipole_per_fu=dipole / n_fu, max_force=np.abs(atoms.get_forces()).max(),
                          max_stress=np.abs(atoms.get_stress()).max())
        atoms.calc = None
        atoms.set_constraint()
        relaxed.append(atoms)
        print(f"relax_phases: {label}: {atoms.info['steps']} steps, E = {e / n_fu:.6f} eV/f.u., "
              f"{describe(atoms)}", flush=True)
    ase.io.write(os.path.join(args.out, "model_relaxed.extxyz"), relaxed, format="extxyz")

    cp2k = {"relaxed": {}, "single_points": {}}
    if args.cp2k and os.path.exists(args.cp2k):
        cp2k.update(json.load(open(args.cp2k)))
    e_cubic = next(a.info["energy_per_fu"] for a in relaxed if a.info["label"] == "C5")
    lines = ["| phase | cell | a, b, c (Å) | α, β, γ (°) | V/f.u. (Å³) | E − E_C (meV/f.u.) | |M|/f.u. (e·Å) |",
             "|---|---|---|---|---|---|---|"]
    rows = []
    for atoms in relaxed:
        label, d = atoms.info["label"], describe(atoms)
        de = 1e3 * (atoms.info["energy_per_fu"] - e_cubic)
        rows.append(dict(label=label, phase=atoms.info["phase"], model_de=de, model_v=d["volume_per_fu"]))
        lines.append(f"| {NAMES[atoms.info['phase']]} | {len(atoms)} atoms | {d['a']:.4f}, {d['b']:.4f}, {d['c']:.4f} | "
                     f"{d['alpha']:.2f}, {d['beta']:.2f}, {d['gamma']:.2f} | {d['volume_per_fu']:.3f} | {de:.1f} | "
                     f"{np.linalg.norm(atoms.info['dipole_per_fu']):.4f} |")
    lines += ["", comparison_table(rows, cp2k)]
    table = "\n".join(lines)
    with open(os.path.join(args.out, "phases_table.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    plot(rows, args.figure)


def comparison_table(rows, cp2k):
    """Model vs CP2K: CP2K at the model's structures (single points) and CP2K's own relaxations, where done."""
    sp, rel = cp2k.get("single_points", {}), cp2k.get("relaxed", {})
    per_fu = lambda d: d["energy"] / (d["natoms"] // 5)  # noqa: E731
    sp_c = per_fu(sp["C5"]) if "C5" in sp else None
    rel_c = per_fu(rel["C5"]) if "C5" in rel and rel["C5"]["converged"] else None
    lines = ["| phase | model E − E_C | CP2K E − E_C at the model's structures | CP2K pressure there (GPa) | "
             "CP2K max force there (eV/Å) | CP2K relaxed a, b, c (Å), α (°) | CP2K relaxed V/f.u. (Å³) | "
             "CP2K relaxed E − E_C |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        label = r["label"]
        if label not in sp and label not in rel:
            continue
        cols = [f"{r['model_de']:.1f}", "", "", "", "", "", ""]
        if label in sp:
            s = sp[label]
            n_fu = s["natoms"] // 5
            if sp_c is not None:
                r["dft_sp_de"] = 1e3 * (s["energy"] / n_fu - sp_c)
                cols[1] = f"{r['dft_sp_de']:.1f}"
            cols[2], cols[3] = f"{s['pressure_gpa']:.2f}", f"{s['max_force']:.3f}"
        if label in rel:
            d = rel[label]
            a, b, c, alpha = d["cellpar"][:4]
            note = "" if d["converged"] else f" (not converged after {d['steps']} steps)"
            cols[4] = f"{a:.4f}, {b:.4f}, {c:.4f}, {alpha:.2f}{note}"
            cols[5] = f"{d['volume_per_fu']:.3f}"
            r["dft_v"] = d["volume_per_fu"] if d["converged"] else None
            if rel_c is not None and d["converged"]:
                r["dft_de"] = 1e3 * (d["energy"] / (d["natoms"] // 5) - rel_c)
                cols[6] = f"{r['dft_de']:.1f}"
        lines.append(f"| {label} | " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n\n(energies in meV per formula unit)"


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(len(rows))
    labels = [r["label"] for r in rows]
    for ax, key, ylabel in ((axes[0], "de", "E − E$_C$ (meV/f.u.)"), (axes[1], "v", "V per f.u. (Å$^3$)")):
        series = [("model", "gapd default model", "C0")]
        if key == "de":
            series.append(("dft_sp", "CP2K PBEsol at the model's structures", "C1"))
        series.append(("dft", "CP2K PBEsol relaxed", "C2"))
        present = [s for s in series if any(r.get(f"{s[0]}_{key}") is not None for r in rows)]
        width = 0.8 / len(present)
        for j, (k, name, color) in enumerate(present):
            values = [np.nan if r.get(f"{k}_{key}") is None else r[f"{k}_{key}"] for r in rows]
            ax.bar(x + (j - (len(present) - 1) / 2) * width, values, width, label=name, color=color)
        ax.set_xticks(x, labels)
        ax.set_ylabel(ylabel)
    axes[1].set_ylim(min(r["model_v"] for r in rows) - 1.0, max(r["model_v"] for r in rows) + 1.0)
    low = min(min(r.get(k, 0) or 0 for k in ("model_de", "dft_sp_de", "dft_de")) for r in rows)
    axes[0].set_ylim(1.45 * low, 0)  # room for the legend below the bars
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("BaTiO$_3$ phases relaxed (cell + positions, symmetry fixed)", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"relax_phases: wrote {path}")


if __name__ == "__main__":
    main()
