#!/usr/bin/python3
"""MD without i-PI, two ways: ASE's Langevin integrator with (1) `gapd serve` behind ASE's SocketIOCalculator (the
i-PI socket protocol, as i-PI would drive it) and (2) the in-process GapdCalculator; same start, same seed, so the
trajectories agree up to the unit conversion of the socket (gapd uses CODATA 2018 constants, ASE 3.22 CODATA 2014:
energies differ by 8.3e-9 relative).

    PYTHONPATH=build/python /usr/bin/python3 examples/ase_socketio_md.py [--gapd build/gapd] [--steps 50]
        [--model data/models/batio3_default.gapd] [--temperature 300]

ASE 3.22's SocketIOCalculator fails on extras of two bytes or more, so gapd serve runs with `--extras none`
(energies and forces; the GapdCalculator side gives the dipole as well).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import ase.io
from ase import units
from ase.build import make_supercell
from ase.calculators.socketio import SocketIOCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, HERE)
import batio3_phases  # noqa: E402
from gapd.ase import GapdCalculator  # noqa: E402


def run_md(atoms, calc, steps, temperature, log):
    atoms = atoms.copy()
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(1))
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=temperature, friction=0.01, rng=np.random.default_rng(2))
    energies = []
    dyn.attach(lambda: energies.append((atoms.get_potential_energy(), atoms.get_kinetic_energy())), interval=1)
    dyn.run(steps)
    for k, (epot, ekin) in enumerate(energies[::10]):
        print(f"{log}: step {10 * k:4d}  Epot {epot:.6f} eV  T {ekin / (1.5 * units.kB * len(atoms)):.1f} K")
    return atoms, np.array(energies)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gapd", default=os.path.join(ROOT, "build", "gapd"))
    ap.add_argument("--model", default=os.path.join(ROOT, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--temperature", type=float, default=300.0)
    args = ap.parse_args()
    atoms = make_supercell(batio3_phases.five_atom_cell("C", 3.9923), np.eye(3, dtype=int) * 2)  # 40 atoms

    with tempfile.TemporaryDirectory(prefix="gapd_md_") as tmp:
        template = os.path.join(tmp, "init.extxyz")
        ase.io.write(template, atoms, format="extxyz")
        name = f"gapd_md_{os.getpid()}"
        with SocketIOCalculator(unixsocket=name, timeout=120) as calc:
            serve = subprocess.Popen([args.gapd, "serve", "-u", "-a", name, "--model", args.model, "--template",
                                      template, "--threads", "1", "--extras", "none"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"), "w"))
            try:
                _, socket_energies = run_md(atoms, calc, args.steps, args.temperature, "gapd serve + SocketIO")
            finally:
                # ASE 3.22 does not send EXIT on close (i-PI does); without it gapd serve waits to reconnect.
                if calc.server is not None and calc.server.protocol is not None:
                    calc.server.protocol.end()
                    calc.server.protocol = None
                calc.close()
                try:
                    serve.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    serve.kill()
    _, local_energies = run_md(atoms, GapdCalculator(args.model, threads=1), args.steps, args.temperature,
                               "GapdCalculator")
    rel = np.abs(socket_energies[:, 0] / local_energies[:, 0] - 1).max()
    # gapd converts with CODATA 2018 (client_protocol/units.hpp), ASE 3.22's socket side with CODATA 2014: the
    # Hartree differs by 8.3e-9 relative, which the socket run's energies carry.
    print(f"max relative |Epot(socket) / Epot(GapdCalculator) - 1| over {args.steps} steps: {rel:.2e} "
          "(CODATA 2014 Hartree in ASE vs 2018 in gapd: 8.3e-9)")


if __name__ == "__main__":
    main()
