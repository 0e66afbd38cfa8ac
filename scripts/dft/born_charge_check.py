#!/usr/bin/python3
"""Measure the Born effective charge Z*_zz of Ti in cubic BaTiO3 by finite differences of the cell dipole, with
the two dipole routes of docs/dft_dipoles.md, to compare their cost and accuracy (literature: ~7.1-7.3 e).

    /usr/bin/python3 scripts/dft/born_charge_check.py gpaw  WORKDIR [--kpts 4] [--ecut 500]
    /usr/bin/python3 scripts/dft/born_charge_check.py cp2k  WORKDIR [--replica 2] [--cutoff 1300]

gpaw: k-point Berry phase (gpaw.berryphase) on the 5-atom cell, PW mode, PBE (Debian's gpaw-data ships only PBE
      setups, so this route cannot use PBEsol), no symmetry.
cp2k: Berry-phase dipole (&MOMENTS PERIODIC) of an NxNxN replica at the Gamma point with OT (no smearing),
      PBEsol and the dataset's basis/pseudopotentials; Z* = dM / (N^3 * 2u).
Ti is displaced by +-u (0.01 A) along z in every unit cell; a = 4.00 A. Prints Z*_zz and wall time per run.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import ase

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp2k_input  # noqa: E402
import parse_cp2k  # noqa: E402

A = 4.00
U = 0.01


def unit_cell(dz):
    atoms = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                      cell=[A, A, A], pbc=True)
    atoms.positions[1, 2] += dz
    return atoms


def gpaw_dipole(atoms, workdir, tag, kpts, ecut):
    """Cell dipole (e*A) on the Berry-phase branch reported by GPAW: M = sum_c phase_c / (2 pi) a_c."""
    from gpaw import GPAW, PW
    from gpaw.berryphase import get_polarization_phase
    name = os.path.join(workdir, f"gpaw_{tag}.gpw")
    if not os.path.exists(name):
        atoms.calc = GPAW(mode=PW(ecut), xc="PBE", kpts=(kpts, kpts, kpts),
                          symmetry={"point_group": False, "time_reversal": False},
                          occupations={"name": "fermi-dirac", "width": 0.0258},
                          convergence={"density": 1e-6}, txt=os.path.join(workdir, f"gpaw_{tag}.txt"))
        atoms.get_potential_energy()
        atoms.calc.write(name, "all")
    phase_c = get_polarization_phase(name)
    return phase_c / (2 * np.pi) @ atoms.get_cell()[:]


def cp2k_dipole(atoms, workdir, tag, cutoff):
    """Berry-phase cell dipole (e*A) from CP2K's moments output."""
    d = os.path.join(workdir, f"cp2k_{tag}")
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "cp2k.out")):
        with open(os.path.join(d, "cp2k.inp"), "w") as f:
            f.write(cp2k_input.cp2k_input(atoms, None, cutoff_ry=cutoff, berry_phase=True))
        subprocess.run(["nice", "-n", "19", "mpirun", "--allow-run-as-root", "-np", "2", "cp2k.psmp", "-i",
                        "cp2k.inp", "-o", "cp2k.out"], cwd=d, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return parse_cp2k.berry_phase_dipole(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("route", choices=["gpaw", "cp2k"])
    ap.add_argument("workdir")
    ap.add_argument("--kpts", type=int, default=4)
    ap.add_argument("--ecut", type=float, default=500.0)
    ap.add_argument("--replica", type=int, default=2)
    ap.add_argument("--cutoff", type=int, default=1300)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    dipoles, seconds = [], []
    for sign in (+1, -1):
        atoms = unit_cell(sign * U)
        start = time.time()
        if args.route == "gpaw":
            tag = f"k{args.kpts}_e{int(args.ecut)}_{'p' if sign > 0 else 'm'}"
            m = gpaw_dipole(atoms, args.workdir, tag, args.kpts, args.ecut)
            ncell = 1
        else:
            n = args.replica
            tag = f"n{n}_c{args.cutoff}_{'p' if sign > 0 else 'm'}"
            m = cp2k_dipole(atoms.repeat((n, n, n)), args.workdir, tag, args.cutoff)
            ncell = n ** 3
        seconds.append(time.time() - start)
        dipoles.append(np.asarray(m) / ncell)
    dm = dipoles[0] - dipoles[1]
    dm -= np.round(dm / A) * A  # the polarization quantum of the unit cell is e*a along each axis
    result = {"route": args.route, "Z_Ti_zz": dm[2] / (2 * U), "dM": dm.tolist(), "seconds": seconds,
              "settings": vars(args)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
