#!/usr/bin/python3
"""scripts/dft helpers that need no DFT code: the CP2K output parser (units and ASE stress sign against the
shared seed frame s0001, whose CP2K numbers are in tests/data/dft/), the Born-charge surrogate dipoles (ideal
lattice -> 0; one Ti moved by u -> Z*(Ti) u; an O moved along its chain -> Z*_par u; a rigid translation -> 0;
supercells and strained cells), the k-mesh rule, the 80/20 split being a fixed function of the id, and the
structure generator (deterministic, minimum interatomic distance, atoms on their perovskite sites).
"""
import os
import sys

import numpy as np
import ase
import ase.io

import e2e_common as common

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts", "dft"))
import born_charge_dipoles  # noqa: E402
import collect  # noqa: E402
import cp2k_input  # noqa: E402
import generate_structures  # noqa: E402
import parse_cp2k  # noqa: E402

check = common.Checks()


def cubic(reps=(1, 1, 1), a=4.0):
    return ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                     cell=[a, a, a], pbc=True).repeat(reps)


# CP2K parser: the seed frame s0001 recomputed with cp2k_input.py (tests/data/dft/s0001_cp2k_excerpt.out).
data = os.path.join(common.SOURCE_DIR, "tests", "data", "dft")
seed = ase.io.read(os.path.join(common.SOURCE_DIR, "data", "batio3_pbesol_seed.extxyz"), index=1)
with open(os.path.join(data, "s0001_cp2k_excerpt.out")) as f:
    energy, forces, stress = parse_cp2k.parse_output(f.read(), 5)
check.that(abs(energy - seed.get_potential_energy()) < 1e-6, f"CP2K energy in eV (d = {energy - seed.get_potential_energy():.2e})")
check.that(np.abs(forces - seed.get_forces()).max() < 1e-6, "CP2K forces in eV/Å")
check.that(np.abs(stress - seed.info.get("stress", seed.get_stress(voigt=False))).max() < 1e-8,
      "CP2K stress in eV/Å^3 with ASE's sign")
try:
    parse_cp2k.parse_output("  *** SCF run NOT converged ***\n", 5)
    check.that(False, "unconverged SCF is refused")
except parse_cp2k.ParseError:
    check.that(True, "unconverged SCF is refused")

# Born-charge surrogate dipoles.
for reps in [(1, 1, 1), (2, 1, 1), (2, 2, 2)]:
    at = cubic(reps)
    check.that(np.abs(born_charge_dipoles.born_charge_dipole(at)).max() < 1e-12, f"ideal {reps} lattice: M = 0")
    ti = [i for i, s in enumerate(at.get_chemical_symbols()) if s == "Ti"][-1]
    at.positions[ti] += [0.0, 0.05, 0.1]
    m = born_charge_dipoles.born_charge_dipole(at)
    check.that(np.allclose(m, 7.16 * np.array([0, 0.05, 0.1]), atol=1e-12), f"{reps}: Ti moved by u gives Z*(Ti) u")
    at.positions += [0.37, -0.21, 0.9]
    check.that(np.allclose(born_charge_dipoles.born_charge_dipole(at), m, atol=1e-12), f"{reps}: translation invariant")
at = cubic()
at.positions[2] += [0.0, 0.0, 0.1]  # O on the z face: chain axis z
at.positions[3] += [0.0, 0.0, 0.1]  # O on the y face: z is across its chain
check.that(np.allclose(born_charge_dipoles.born_charge_dipole(at), [0, 0, 0.1 * (-5.69 - 2.11)], atol=1e-12),
      "O tensors: parallel along the chain, perpendicular across it")
strained = cubic((2, 1, 1), 4.05)
strained.set_cell(strained.cell[:] @ (np.eye(3) + [[0.01, 0.005, 0], [0.005, -0.01, 0], [0, 0, 0.008]]),
                  scale_atoms=True)
check.that(np.abs(born_charge_dipoles.born_charge_dipole(strained)).max() < 1e-12, "strained ideal supercell: M = 0")

# k-mesh and split.
check.that(cp2k_input.kmesh([4.0, 8.0, 16.0]) == [4, 2, 1], "k-mesh ~15.5 Å per direction")
check.that(collect.is_test("s0004") == collect.is_test("s0004") and
      0.1 < np.mean([collect.is_test(f"g{i:04d}") for i in range(400)]) < 0.3, "split: fixed, about 20% test")

# Generator: deterministic, sane distances, every atom near its ideal site (surrogate dipole finite).
a1, _ = generate_structures.make_structure(7, np.random.default_rng([2026, 7]))
a2, _ = generate_structures.make_structure(7, np.random.default_rng([2026, 7]))
check.that(np.array_equal(a1.positions, a2.positions) and len(a1) == 40, "generator is deterministic (40-atom cell)")
for i in range(20):
    at, kpts = generate_structures.make_structure(i, np.random.default_rng([2026, i]))
    d = at.get_all_distances(mic=True)[np.triu_indices(len(at), 1)]
    if d.min() < 1.5:
        check.that(False, f"structure {i}: atoms {d.min():.2f} Å apart")
check.that(True, "generated structures: no two atoms closer than 1.5 Å")

check.exit_with_verdict("dft_scripts")
