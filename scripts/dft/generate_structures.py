#!/usr/bin/python3
"""Generate random BaTiO3 structures for DFT labelling, one directory per structure.

    /usr/bin/python3 scripts/dft/generate_structures.py WORKDIR [--count 400] [--seed 2026] [--start 0]

Each WORKDIR/gNNNN/ gets structure.extxyz (geometry + provenance in the info dict) and cp2k.inp. Existing
directories are left alone, so the command can be re-run with a larger --count to extend the plan.

Recipe (extends the shared seed's, see data/README.md): cubic perovskite cells a = 3.94-4.06 A, random symmetric
strain (sigma 0.008), supercells 1x1x1 / 2x1x1 / 2x2x1 / 2x2x2 (5, 10, 20, 40 atoms). Every unit cell c gets its
own Ti off-centring u_c (order-disorder picture: along a <111> diagonal, amplitude 0.06-0.16 A, or a random
direction); the phase (config_type) sets how the diagonals are correlated between cells:
  cubic         every sign random                      (no net polarization)
  tetragonal    z sign shared, x/y random              (net P along <001>)
  orthorhombic  y and z signs shared                   (net P along <011>)
  rhombohedral  all signs shared                       (net P along <111>)
  random-polar  one random direction for all cells, amplitude 0-0.14 A (the seed's soft-mode pattern)
  disordered    random direction and amplitude per cell
O and Ba follow the local soft mode: each O moves by -0.55 x the mean u of its two Ti neighbours, each Ba by
+0.3 x the mean u of its eight. Polar phases get up to 1.2% elongation along their polar axis. Finally Gaussian
thermal-like noise (sigma from {0.02, 0.04, 0.06, 0.09, 0.12} A) on every atom, centre of mass fixed.
"""
import argparse
import os
import sys

import numpy as np
import ase
import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp2k_input  # noqa: E402

# Repeats in plan order: small cells are cheap, 40-atom cells cost ~50x a 5-atom one, so they come one in ten.
SIZE_PATTERN = [(1, 1, 1), (2, 1, 1), (1, 1, 1), (2, 2, 1), (1, 1, 1), (1, 2, 1), (1, 1, 1), (2, 2, 2),
                (1, 1, 2), (1, 1, 1)]
PHASES = ["cubic", "tetragonal", "orthorhombic", "rhombohedral", "random-polar", "disordered"]
NOISE = [0.02, 0.04, 0.06, 0.09, 0.12]
# Fractional positions in the 5-atom cell: Ba corner, Ti body centre, O face centres (O1 on z face, ...).
BASIS = [("Ba", (0.0, 0.0, 0.0)), ("Ti", (0.5, 0.5, 0.5)),
         ("O", (0.5, 0.5, 0.0)), ("O", (0.5, 0.0, 0.5)), ("O", (0.0, 0.5, 0.5))]


def polar_axis_and_signs(phase, rng):
    """Shared diagonal signs for the phase: an array of 3 entries in {+1, -1, 0}; 0 = random per cell."""
    signs = rng.choice([-1.0, 1.0], size=3)
    perm = rng.permutation(3)
    shared = np.zeros(3)
    if phase == "tetragonal":
        shared[perm[0]] = signs[0]
    elif phase == "orthorhombic":
        shared[perm[:2]] = signs[:2]
    elif phase == "rhombohedral":
        shared[:] = signs
    return shared


def make_structure(index, rng):
    reps = SIZE_PATTERN[index % len(SIZE_PATTERN)]
    phase = PHASES[rng.integers(len(PHASES))]
    a = rng.uniform(3.94, 4.06)
    ncell = int(np.prod(reps))
    cells = [(i, j, k) for i in range(reps[0]) for j in range(reps[1]) for k in range(reps[2])]

    # Ti displacement per unit cell.
    u_cell = np.zeros((ncell, 3))
    shared = polar_axis_and_signs(phase, rng)
    common_dir = rng.normal(size=3)
    common_dir /= np.linalg.norm(common_dir)
    common_amp = rng.uniform(0.0, 0.14)
    for c in range(ncell):
        if phase == "random-polar":
            u_cell[c] = common_amp * common_dir
        elif phase == "disordered":
            d = rng.normal(size=3)
            u_cell[c] = rng.uniform(0.0, 0.16) * d / np.linalg.norm(d)
        else:
            s = np.where(shared != 0.0, shared, rng.choice([-1.0, 1.0], size=3))
            u_cell[c] = rng.uniform(0.06, 0.16) * s / np.sqrt(3.0)
    net = u_cell.mean(axis=0)

    # Ideal supercell positions; remember which unit cell each atom belongs to.
    symbols, frac, owner = [], [], []
    for c, (i, j, k) in enumerate(cells):
        for s, f in BASIS:
            symbols.append(s)
            frac.append(((i + f[0]) / reps[0], (j + f[1]) / reps[1], (k + f[2]) / reps[2]))
            owner.append(c)
    frac = np.array(frac)
    disp = np.zeros((len(symbols), 3))
    index_of = {cell: n for n, cell in enumerate(cells)}

    def cell_u(i, j, k):
        return u_cell[index_of[(i % reps[0], j % reps[1], k % reps[2])]]

    for n, (s, c) in enumerate(zip(symbols, owner)):
        i, j, k = cells[c]
        if s == "Ti":
            disp[n] = u_cell[c]
        elif s == "Ba":  # corner: shared by the 8 cells (i-1..i, j-1..j, k-1..k)
            disp[n] = 0.3 * np.mean([cell_u(i - di, j - dj, k - dk)
                                     for di in (0, 1) for dj in (0, 1) for dk in (0, 1)], axis=0)
        else:  # O on a face: shared by this cell and its neighbour across that face
            f = frac[n] * np.array(reps) - np.array([i, j, k])
            axis = int(np.argmin(np.abs(f - 0.0)))  # the coordinate that is 0 (the face normal)
            step = [0, 0, 0]
            step[axis] = -1
            disp[n] = -0.55 * 0.5 * (u_cell[c] + cell_u(i + step[0], j + step[1], k + step[2]))

    # Cell: cubic * reps, symmetric random strain, elongation along the net polar axis.
    strain = rng.normal(scale=0.008, size=(3, 3))
    strain = 0.5 * (strain + strain.T)
    if np.linalg.norm(net) > 1e-3 and phase != "cubic":
        p = net / np.linalg.norm(net)
        strain += rng.uniform(0.0, 0.012) * np.outer(p, p)
    cell0 = a * np.diag(reps).astype(float)
    cell = cell0 @ (np.eye(3) + strain)
    positions = (frac @ cell0 + disp) @ (np.eye(3) + strain)

    sigma = NOISE[rng.integers(len(NOISE))]
    noise = rng.normal(scale=sigma, size=positions.shape)
    noise -= noise.mean(axis=0)  # centre of mass (equal-weight) fixed, as in the seed
    positions += noise

    atoms = ase.Atoms(symbols=symbols, positions=positions, cell=cell, pbc=True)
    kpts = cp2k_input.kmesh(atoms.cell.lengths())
    atoms.info.update(config_type=phase, gen_u=float(np.mean(np.linalg.norm(u_cell, axis=1))), gen_sigma=sigma,
                      kpts=np.array(kpts), supercell=np.array(reps), structure_id=f"g{index:04d}")
    return atoms, kpts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    created = 0
    for index in range(args.count):
        # One generator per structure: extending --count never changes existing structures.
        rng = np.random.default_rng([args.seed, index])
        atoms, kpts = make_structure(index, rng)
        d = os.path.join(args.workdir, atoms.info["structure_id"])
        if os.path.exists(os.path.join(d, "cp2k.inp")):
            continue
        os.makedirs(d, exist_ok=True)
        ase.io.write(os.path.join(d, "structure.extxyz"), atoms, format="extxyz")
        with open(os.path.join(d, "cp2k.inp.tmp"), "w") as f:
            f.write(cp2k_input.cp2k_input(atoms, kpts))
        os.replace(os.path.join(d, "cp2k.inp.tmp"), os.path.join(d, "cp2k.inp"))
        created += 1
    print(f"{created} new structure directories in {args.workdir} ({args.count} planned)")


if __name__ == "__main__":
    main()
