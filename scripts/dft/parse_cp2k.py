#!/usr/bin/python3
"""Parse one CP2K ENERGY_FORCE output into an extxyz frame (eV, eV/A, ASE stress sign, virial in eV).

    /usr/bin/python3 scripts/dft/parse_cp2k.py RUNDIR     # reads RUNDIR/structure.extxyz + RUNDIR/cp2k.out

Units: CODATA 2018, the same constants as models/core/units.hpp. CP2K prints its stress tensor in GPa with
the opposite sign to ASE (positive = compressed), so stress_ASE = -stress_CP2K / 160.2176634.
"""
import sys

import numpy as np
import ase.io

HARTREE_EV = 27.211386245988
BOHR_A = 0.529177210903
EV_PER_A3_IN_GPA = 160.2176634


class ParseError(RuntimeError):
    pass


def parse_output(text, natoms):
    if "SCF run NOT converged" in text:
        raise ParseError("SCF not converged")
    energy = None
    for line in text.splitlines():
        if line.startswith(" ENERGY| Total FORCE_EVAL"):
            energy = float(line.split()[-1]) * HARTREE_EV
    if energy is None:
        raise ParseError("no 'ENERGY| Total FORCE_EVAL' line (run did not finish)")
    lines = text.splitlines()
    forces = None
    stress = None
    for n, line in enumerate(lines):
        if "ATOMIC FORCES in [a.u.]" in line:
            rows = []
            for row in lines[n + 3:n + 3 + natoms]:
                rows.append([float(x) for x in row.split()[3:6]])
            forces = np.array(rows) * HARTREE_EV / BOHR_A
        if "STRESS| Analytical stress tensor [GPa]" in line:
            rows = [[float(x) for x in lines[n + 2 + k].split()[2:5]] for k in range(3)]
            stress = -np.array(rows) / EV_PER_A3_IN_GPA
    if forces is None or forces.shape != (natoms, 3):
        raise ParseError("no complete ATOMIC FORCES table")
    if stress is None:
        raise ParseError("no analytical stress tensor")
    if not (np.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()):
        raise ParseError("non-finite numbers in the output")
    return energy, forces, stress


def labelled_frame(rundir):
    atoms = ase.io.read(f"{rundir}/structure.extxyz")
    with open(f"{rundir}/cp2k.out") as f:
        energy, forces, stress = parse_output(f.read(), len(atoms))
    atoms.arrays["forces"] = forces
    atoms.info["energy"] = energy
    atoms.info["stress"] = stress
    atoms.info["virial"] = -stress * atoms.get_volume()
    return atoms


if __name__ == "__main__":
    frame = labelled_frame(sys.argv[1])
    ase.io.write(sys.stdout, frame, format="extxyz")


def berry_phase_dipole(rundir):
    """Total (ionic + electronic) Berry-phase dipole in e*A from CP2K's `&MOMENTS PERIODIC` output file."""
    import glob
    files = glob.glob(f"{rundir}/*moments.dat")
    if not files:
        raise ParseError(f"{rundir}: no *moments.dat (was &MOMENTS printed?)")
    with open(files[0]) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines):
        if "Dipole vector [a.u.]" in line or "Dipole moment [a.u.]" in line:
            numbers = [float(x) for x in line.split(":")[-1].split()[:3]] if ":" in line else []
            if len(numbers) == 3:
                return np.array(numbers) * BOHR_A
    raise ParseError(f"{files[0]}: no dipole vector line")
