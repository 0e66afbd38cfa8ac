#!/usr/bin/python3
"""CP2K PBEsol cell + position relaxations of the BaTiO3 phases, with the dataset's CP2K settings
(scripts/dft/cp2k_input.py), to compare with the model's (examples/relax_phases.py).

    /usr/bin/python3 examples/relax_phases_cp2k.py WORKDIR [--start data/phases/model_relaxed.extxyz]
                                                   [--phases C5,T5,R5,O5] [--relax C5,...] [--single-points]
                                                   [--status]

One directory per phase (WORKDIR/C5, ...), run one after the other, one CP2K process (`nice -n 19`,
OMP_NUM_THREADS=1). Resumable: a finished phase (GEOMETRY OPTIMIZATION COMPLETED) is only parsed again; an
interrupted one restarts from CP2K's last restart file (cell, positions, step count). `--start`: the
model-relaxed structures (frames with info 'label') as starting points, which saves most of the BFGS steps; without
it, the guesses of examples/batio3_phases.py at a = 4.0 Å. The cell keeps the phase's symmetry (CP2K KEEP_SYMMETRY;
the orthorhombic 5-atom cell has none in CP2K's list, there the symmetric forces keep it). Writes
WORKDIR/<label>/relaxed.extxyz (energy eV, cell, positions, converged) for every finished phase, and
WORKDIR/summary.json ("relaxed": per phase; "single_points": see below).

--single-points: first one ENERGY_FORCE run per phase at its starting structure (WORKDIR/sp_<label>/): CP2K's
energy, pressure and largest force at the model-relaxed structures, a comparison that costs one SCF per phase
where a relaxation costs ten or more.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import ase.io

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "dft"))
sys.path.insert(0, HERE)
import cp2k_input  # noqa: E402
import batio3_phases  # noqa: E402

HARTREE_EV = 27.211386245988
PROJECT = "batio3"
CELL_SYMMETRY = {"C": "CUBIC", "T": "TETRAGONAL_AB", "R": "RHOMBOHEDRAL", "O": None}
DONE = "GEOMETRY OPTIMIZATION COMPLETED"


def cell_opt_input(atoms, phase):
    kpts = cp2k_input.kmesh(atoms.cell.lengths())
    text = cp2k_input.cp2k_input(atoms, kpts, project=PROJECT)
    text = text.replace("RUN_TYPE ENERGY_FORCE", "RUN_TYPE CELL_OPT")
    symmetry = CELL_SYMMETRY[phase]
    if symmetry:
        text = text.replace("      PERIODIC XYZ", f"      PERIODIC XYZ\n      SYMMETRY {symmetry}")
    motion = ["&MOTION", "  &CELL_OPT", "    TYPE DIRECT_CELL_OPT", "    OPTIMIZER BFGS", "    MAX_ITER 60",
              "    EXTERNAL_PRESSURE [bar] 0.0", "    PRESSURE_TOLERANCE [bar] 100.0",
              "    MAX_FORCE 3.0E-4", "    RMS_FORCE 1.5E-4", "    MAX_DR 1.0E-2", "    RMS_DR 5.0E-3"]
    if symmetry:
        motion.append("    KEEP_SYMMETRY .TRUE.")
    motion += ["  &END CELL_OPT", "&END MOTION", ""]
    return text + "\n".join(motion)


def outputs(rundir):
    return sorted(glob.glob(os.path.join(rundir, "cp2k*.out")), key=lambda p: (len(p), p))


def finished(rundir):
    return any(DONE in open(p, errors="replace").read() for p in outputs(rundir))


def parse_restart(path):
    """Cell rows (Å) and (symbol, position) pairs from a CP2K restart file."""
    text = open(path).read()
    cell_block = re.search(r"&CELL\n(.*?)&END CELL", text, re.S).group(1)
    cell = []
    for name in "ABC":
        m = re.search(rf"^\s*{name}\s+(\S+)\s+(\S+)\s+(\S+)", cell_block, re.M)
        cell.append([float(x) for x in m.groups()])
    coord = re.search(r"&COORD\n(.*?)&END COORD", text, re.S).group(1)
    symbols, positions = [], []
    for line in coord.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0][0].isalpha() and parts[0].upper() != "UNIT":
            symbols.append(parts[0])
            positions.append([float(x) for x in parts[1:4]])
    return np.array(cell), symbols, np.array(positions)


def last_energy(rundir):
    energy = None
    for p in outputs(rundir):
        for line in open(p, errors="replace"):
            if line.startswith(" ENERGY| Total FORCE_EVAL"):
                energy = float(line.split()[-1]) * HARTREE_EV
    return energy


def run_phase(rundir, atoms, phase):
    os.makedirs(rundir, exist_ok=True)
    restart = os.path.join(rundir, f"{PROJECT}-1.restart")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if os.path.exists(restart):
        # CP2K's restart file is a complete input at the last finished step; run a copy of it.
        name = "restart.inp"
        with open(restart) as src, open(os.path.join(rundir, name), "w") as dst:
            dst.write(src.read())
        out = f"cp2k_{len(outputs(rundir)) + 1}.out"
    else:
        name = "cp2k.inp"
        with open(os.path.join(rundir, name), "w") as f:
            f.write(cell_opt_input(atoms, phase))
        out = "cp2k.out"
    print(f"relax_phases_cp2k: {rundir}: cp2k.psmp -i {name} -o {out}", flush=True)
    subprocess.run(["nice", "-n", "19", "cp2k.psmp", "-i", name, "-o", out], cwd=rundir, env=env, check=False)


def collect(rundir, label, phase):
    restart = os.path.join(rundir, f"{PROJECT}-1.restart")
    if not os.path.exists(restart):
        return None
    cell, symbols, positions = parse_restart(restart)
    atoms = ase.Atoms(symbols, positions=positions, cell=cell, pbc=True)
    energy = last_energy(rundir)
    atoms.info.update(label=label, phase=phase, energy=energy, converged=finished(rundir),
                      steps=sum(open(p, errors="replace").read().count("OPTIMIZATION STEP:") for p in outputs(rundir)))
    ase.io.write(os.path.join(rundir, "relaxed.extxyz"), atoms, format="extxyz")
    return atoms


def single_point(workdir, label, atoms, run):
    """CP2K energy, stress and forces at `atoms` (WORKDIR/sp_<label>/), or None if not finished and not `run`."""
    import parse_cp2k
    rundir = os.path.join(workdir, f"sp_{label}")
    out = os.path.join(rundir, "cp2k.out")
    try:
        energy, forces, stress = parse_cp2k.parse_output(open(out).read(), len(atoms))
    except (OSError, parse_cp2k.ParseError):
        if not run:
            return None
        os.makedirs(rundir, exist_ok=True)
        with open(os.path.join(rundir, "cp2k.inp"), "w") as f:
            f.write(cp2k_input.cp2k_input(atoms, cp2k_input.kmesh(atoms.cell.lengths()), project=PROJECT))
        print(f"relax_phases_cp2k: {rundir}: cp2k.psmp -i cp2k.inp -o cp2k.out", flush=True)
        subprocess.run(["nice", "-n", "19", "cp2k.psmp", "-i", "cp2k.inp", "-o", "cp2k.out"], cwd=rundir,
                       env=dict(os.environ, OMP_NUM_THREADS="1"), check=False)
        energy, forces, stress = parse_cp2k.parse_output(open(out).read(), len(atoms))
    return dict(energy=energy, natoms=len(atoms), max_force=float(np.abs(forces).max()),
                pressure_gpa=float(-np.trace(stress) / 3 * parse_cp2k.EV_PER_A3_IN_GPA),
                stress=np.asarray(stress).tolist())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--start", help="extxyz of model-relaxed structures (info 'label': C5, T5, O5, R5)")
    ap.add_argument("--phases", default="C5,T5,R5,O5")
    ap.add_argument("--relax", help="the phases to relax (default: --phases; '' = none)")
    ap.add_argument("--single-points", action="store_true",
                    help="first a single point per phase at its starting structure (WORKDIR/sp_<label>)")
    ap.add_argument("--status", action="store_true", help="only collect what has finished; run nothing")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    starts = {label: atoms for label, _, atoms in batio3_phases.starting_structures()}
    if args.start and os.path.exists(args.start):
        for atoms in ase.io.read(args.start, ":"):
            starts[atoms.info["label"]] = atoms
    summary = {"relaxed": {}, "single_points": {}}
    summary_path = os.path.join(args.workdir, "summary.json")
    if os.path.exists(summary_path):  # earlier invocations' phases stay
        summary.update(json.load(open(summary_path)))
    if args.single_points or args.status:
        for label in args.phases.split(","):
            sp = single_point(args.workdir, label, starts[label], run=not args.status)
            if sp is not None:
                summary["single_points"][label] = sp
                print(f"relax_phases_cp2k: {label} single point: E {sp['energy']:.6f} eV, P "
                      f"{sp['pressure_gpa']:.3f} GPa, max |F| {sp['max_force']:.4f} eV/Å", flush=True)
        with open(summary_path, "w") as f:
            json.dump(summary, f, indent=1)
    relax = args.phases if args.relax is None else args.relax
    for label in filter(None, relax.split(",")):
        phase = label[0]
        rundir = os.path.join(args.workdir, label)
        if not args.status and not finished(rundir):
            run_phase(rundir, starts[label], phase)
        atoms = collect(rundir, label, phase)
        if atoms is not None:
            lengths_angles, volume = batio3_phases.pseudo_cubic_parameters(atoms)
            summary["relaxed"][label] = dict(energy=atoms.info["energy"], natoms=len(atoms), converged=atoms.info["converged"],
                                  steps=atoms.info["steps"], cellpar=list(lengths_angles), volume_per_fu=volume)
            print(f"relax_phases_cp2k: {label}: {summary['relaxed'][label]}", flush=True)
        with open(summary_path, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
