#!/usr/bin/python3
"""Berry-phase cell dipoles with GPAW (Debian `gpaw`, `gpaw-data`) for structures labelled by CP2K.

    nohup /usr/bin/python3 scripts/dft/gpaw_dipoles.py WORKDIR [--seed-file data/batio3_pbesol_seed.extxyz] &

For every WORKDIR/gNNNN/ that has result.extxyz (and, with --seed-file, for every seed frame, in WORKDIR/seed/sNNNN/)
and no dipole.json yet: a GPAW plane-wave calculation (PBE: Debian's gpaw-data ships only PBE PAW setups;
500 eV, Fermi-Dirac 300 K, the same ~15.5 Å Monkhorst-Pack mesh as the CP2K labels, no symmetry) followed by
gpaw.berryphase.get_polarization_phase, giving the cell dipole M = sum_c phase_c/(2 pi) a_c in e*Å, ionic +
electronic, on an arbitrary polarization branch (defined modulo e*a_c; `gapd fit` unwraps branches, see
docs/fitting.md). Writes dipole.json = {"dipole": [x, y, z], "seconds": t, "settings": {...}} atomically and
deletes the large .gpw wavefunction file. Resumable like run_queue.py; progress on stdout.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp2k_input  # noqa: E402

SETTINGS = {"xc": "PBE", "ecut_eV": 500.0, "smearing_eV": 0.0258, "density_convergence": 1e-5}


def berry_phase_dipole(atoms, rundir):
    from gpaw import GPAW, PW
    from gpaw.berryphase import get_polarization_phase
    kpts = cp2k_input.kmesh(atoms.cell.lengths())
    gpw = os.path.join(rundir, "gpaw.gpw")
    atoms = atoms.copy()
    atoms.calc = GPAW(mode=PW(SETTINGS["ecut_eV"]), xc=SETTINGS["xc"], kpts=tuple(kpts),
                      symmetry={"point_group": False, "time_reversal": False},
                      occupations={"name": "fermi-dirac", "width": SETTINGS["smearing_eV"]},
                      convergence={"density": SETTINGS["density_convergence"]},
                      txt=os.path.join(rundir, "gpaw.txt"))
    atoms.get_potential_energy()
    atoms.calc.write(gpw, "all")
    phase_c = get_polarization_phase(gpw)
    os.remove(gpw)
    return phase_c / (2 * np.pi) @ atoms.get_cell()[:], kpts


def jobs(workdir, seed_file):
    out = []
    for d in sorted(glob.glob(os.path.join(workdir, "g*"))):
        if os.path.exists(os.path.join(d, "result.extxyz")):
            out.append((d, lambda d=d: ase.io.read(os.path.join(d, "result.extxyz"))))
    if seed_file:
        for index, frame in enumerate(ase.io.read(seed_file, index=":")):
            d = os.path.join(workdir, "seed", frame.info["structure_id"])
            os.makedirs(d, exist_ok=True)
            out.append((d, lambda frame=frame: frame))
    return [(d, load) for d, load in out if not os.path.exists(os.path.join(d, "dipole.json"))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--seed-file", help="also label the frames of this extxyz (structure_id -> WORKDIR/seed/ID)")
    ap.add_argument("--max-atoms", type=int, default=10)
    args = ap.parse_args()
    todo = jobs(args.workdir, args.seed_file)
    print(f"{len(todo)} structures without a dipole", flush=True)
    for count, (d, load) in enumerate(todo, 1):
        atoms = load()
        if len(atoms) > args.max_atoms:
            continue
        start = time.time()
        dipole, kpts = berry_phase_dipole(atoms, d)
        seconds = time.time() - start
        record = {"dipole": list(map(float, dipole)), "seconds": round(seconds, 1), "kpts": kpts,
                  "settings": SETTINGS}
        with open(os.path.join(d, "dipole.json.tmp"), "w") as f:
            json.dump(record, f)
        os.replace(os.path.join(d, "dipole.json.tmp"), os.path.join(d, "dipole.json"))
        print(f"[{count}/{len(todo)}] {os.path.basename(d)} ({len(atoms)} atoms) {seconds:.0f} s "
              f"M = {np.round(dipole, 4).tolist()} e*A", flush=True)


if __name__ == "__main__":
    main()
