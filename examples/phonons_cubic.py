#!/usr/bin/python3
"""Phonon dispersion of cubic BaTiO3 with phonopy (Debian's python3-phonopy) and a gapd model through ASE, at the
model's own lattice constant; Gamma-point frequencies against CP2K PBEsol finite differences of the same cell.

    PYTHONPATH=build/python /usr/bin/python3 examples/phonons_cubic.py [--model data/models/batio3_default.gapd]
        [--supercell 4] [--cp2k WORKDIR [--no-run]] [--figure docs/figures/batio3_cubic_phonons.png]

The lattice constant comes from relaxing the 5-atom cubic cell with the model (ExpCellFilter). Force constants:
phonopy's symmetric displacements (0.01 Å) in an N x N x N supercell. Frequencies in THz; phonopy gives an
imaginary frequency as a negative number, and so does the figure: the unstable polar (soft) modes of the cubic
phase are the branches below zero at Gamma, X, M and R. No long-range dipole-dipole correction (the model has
no Born-charge-based NAC term), so LO and TO are not split at Gamma: the Gamma table compares the analytic
force-constant frequencies, which is what the CP2K finite differences in the 5-atom cell give too.

--cp2k WORKDIR: the Gamma-point displacements of the 5-atom cell, one CP2K ENERGY_FORCE run each with the
dataset's settings (scripts/dft/cp2k_input.py) in WORKDIR/gamma_dispNN/ (nice -n 19, OMP_NUM_THREADS=1, one
at a time, resumable: a finished run is only parsed; a WORKDIR whose inputs are another cell's, e.g. another
model's lattice constant, is refused); --no-run uses only finished runs.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import ase
from ase.constraints import ExpCellFilter
from ase.optimize import BFGS
try:
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms
except ImportError:
    sys.exit("phonons_cubic.py: needs phonopy for /usr/bin/python3: apt-get install python3-phonopy")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "dft"))
import batio3_phases  # noqa: E402
from gapd.ase import GapdCalculator  # noqa: E402

PATH = [["G", "X", "M", "G", "R", "X"], ["M", "R"]]
POINTS = {"G": [0, 0, 0], "X": [0, 0.5, 0], "M": [0.5, 0.5, 0], "R": [0.5, 0.5, 0.5]}
LABELS = {"G": "Γ"}


def to_phonopy(atoms):
    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:],
                        scaled_positions=atoms.get_scaled_positions())


def to_ase(cell):
    return ase.Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)


def model_forces(phonon, calc):
    forces = []
    for supercell in phonon.supercells_with_displacements:
        atoms = to_ase(supercell)
        atoms.calc = calc
        forces.append(atoms.get_forces().copy())
    return np.array(forces)


def cp2k_forces(phonon, workdir, run):
    """Forces of each displaced 5-atom cell from CP2K; None for runs not finished (with --no-run)."""
    import cp2k_input
    import parse_cp2k
    forces = []
    for k, supercell in enumerate(phonon.supercells_with_displacements):
        atoms = to_ase(supercell)
        rundir = os.path.join(workdir, f"gamma_disp{k:02d}")
        out, inp_path = os.path.join(rundir, "cp2k.out"), os.path.join(rundir, "cp2k.inp")
        os.makedirs(rundir, exist_ok=True)
        inp = cp2k_input.cp2k_input(atoms, cp2k_input.kmesh(atoms.cell.lengths()))
        if os.path.exists(inp_path) and open(inp_path).read() != inp:
            # a run of another lattice constant (another model) or other settings: its forces would be wrong here
            sys.exit(f"phonons_cubic: {inp_path} is not this cell's input (another model's lattice constant "
                     f"or other CP2K settings): use a new --cp2k WORKDIR")
        try:
            forces.append(parse_cp2k.parse_output(open(out).read(), len(atoms))[1])
            continue
        except (OSError, parse_cp2k.ParseError):
            pass
        if not run:
            return None
        with open(inp_path, "w") as f:
            f.write(inp)
        print(f"phonons_cubic: CP2K {rundir}", flush=True)
        subprocess.run(["nice", "-n", "19", "cp2k.psmp", "-i", "cp2k.inp", "-o", "cp2k.out"], cwd=rundir,
                       env=dict(os.environ, OMP_NUM_THREADS="1"), check=False)
        forces.append(parse_cp2k.parse_output(open(out).read(), len(atoms))[1])
    return np.array(forces)


def gamma_frequencies(unitcell, forces_of):
    phonon = Phonopy(unitcell, supercell_matrix=np.eye(3, dtype=int))
    phonon.generate_displacements(distance=0.01)
    forces = forces_of(phonon)
    if forces is None:
        return None
    phonon.forces = forces
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon.get_frequencies([0, 0, 0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "data/models/batio3_default.gapd"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--supercell", type=int, default=4)
    ap.add_argument("--cp2k", help="work directory of the CP2K Gamma-point finite differences")
    ap.add_argument("--no-run", action="store_true", help="with --cp2k: use finished CP2K runs only")
    ap.add_argument("--figure", default=os.path.join(ROOT, "docs/figures/batio3_cubic_phonons.png"))
    ap.add_argument("--table", default=os.path.join(ROOT, "data/phases/cubic_gamma_frequencies.md"))
    args = ap.parse_args()
    calc = GapdCalculator(args.model, threads=args.threads)

    cubic = batio3_phases.five_atom_cell("C")
    cubic.calc = calc
    BFGS(ExpCellFilter(cubic), logfile=None).run(fmax=1e-5, steps=200)
    a = float(np.cbrt(cubic.get_volume()))
    print(f"phonons_cubic: model lattice constant a = {a:.5f} Å", flush=True)
    unitcell = to_phonopy(batio3_phases.five_atom_cell("C", a))

    n = args.supercell
    phonon = Phonopy(unitcell, supercell_matrix=np.eye(3, dtype=int) * n)
    phonon.generate_displacements(distance=0.01)
    phonon.forces = model_forces(phonon, calc)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    qpoints, connections, ticks = [], [], []
    for segment in PATH:
        for start, end in zip(segment[:-1], segment[1:]):
            qpoints.append(np.linspace(POINTS[start], POINTS[end], 51))
            connections.append(end != segment[-1] or segment is PATH[-1])
    phonon.run_band_structure(qpoints, path_connections=connections)
    bands = phonon.get_band_structure_dict()
    for point in ("G", "X", "M", "R"):
        f = phonon.get_frequencies(POINTS[point])
        print(f"phonons_cubic: {point} ({n}x{n}x{n} supercell): " + " ".join(f"{x:.2f}" for x in f) + " THz")

    gamma_model = gamma_frequencies(unitcell, lambda p: model_forces(p, calc))
    gamma_dft = gamma_frequencies(unitcell, lambda p: cp2k_forces(p, args.cp2k, not args.no_run)) if args.cp2k else None
    lines = [f"Cubic BaTiO3 at the model's a = {a:.4f} Å, Gamma point of the 5-atom cell (force constants from "
             "0.01 Å displacements, no LO-TO splitting), THz (negative = imaginary):", "",
             "| mode | gapd default model | CP2K PBEsol |", "|---|---|---|"]
    for k, f in enumerate(gamma_model):
        dft = "" if gamma_dft is None else f"{gamma_dft[k]:.2f}"
        lines.append(f"| {k + 1} | {f:.2f} | {dft} |")
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(args.table)), exist_ok=True)
    with open(args.table, "w") as f:
        f.write(table + "\n")
    plot(bands, a, n, gamma_model, gamma_dft, args.figure)


def plot(bands, a, n, gamma_model, gamma_dft, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    name = lambda point: LABELS.get(point, point)  # noqa: E731
    x0, ticks, labels, k = 0.0, [0.0], [], 0
    for si, segment in enumerate(PATH):
        if si == 0:
            labels.append(name(segment[0]))
        else:
            labels[-1] += "|" + name(segment[0])
        for end in segment[1:]:
            d, f = bands["distances"][k], bands["frequencies"][k]
            k += 1
            x = d - d[0] + x0
            ax.plot(x, f, color="C0", lw=1.2)
            x0 = x[-1]
            ticks.append(x0)
            labels.append(name(end))
    ax.axhline(0, color="k", lw=0.6)
    for t in ticks:
        ax.axvline(t, color="0.7", lw=0.6)
    if gamma_dft is not None:
        for j, t in enumerate(t for t, label in zip(ticks, labels) if label == "Γ"):
            ax.plot(np.full_like(gamma_dft, t), gamma_dft, "o", mfc="none", color="C3", clip_on=False, zorder=3,
                    label="CP2K PBEsol, Γ (5-atom cell)" if j == 0 else None)
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xticks(ticks, labels)
    ax.set_xlim(0, x0)
    ax.set_ylabel("frequency (THz; imaginary plotted negative)")
    ax.set_title(f"Cubic BaTiO$_3$, gapd default model, a = {a:.3f} Å ({n}×{n}×{n} supercell)", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"phonons_cubic: wrote {path}")


if __name__ == "__main__":
    main()
