#!/usr/bin/python3
"""Label BaTiO3 frames with linear Born-charge dipoles M_lin = sum_i Z*_i (r_i - r_i^ref) (e*Å).

    /usr/bin/python3 scripts/dft/born_charge_dipoles.py IN.extxyz OUT.extxyz

These are SURROGATE dipole labels (linear response around the cubic reference), used to train the default
model's dipole part until enough DFT Berry-phase dipoles exist (data/models/MODEL_CARD.md says so). Every frame
gets info `dipole` (e*Å) and `dipole_source=linear-born-charges-ZKV1994`, replacing any dipole it had.

Charges: Zhong, King-Smith and Vanderbilt, PRL 72, 3618 (1994), cubic BaTiO3: Z*(Ba) = 2.75, Z*(Ti) = 7.16,
O tensor -5.69 along its Ti-O-Ti chain and -2.11 across it (sum over a formula unit: 0 to 0.01 e, so the result
does not depend on where the origin is). Our own GPAW check of Z*(Ti): docs/dft_dipoles.md.
Reference sites: the ideal perovskite lattice of the frame's own cell, n_k = round(|a_k| / 4 Å) unit cells along
each lattice vector, Ba on the corners, Ti at the centres, O on the faces; each atom's site is the nearest one of
its sublattice, and an O's chain axis is the lattice direction along which it sits on an integer plane.
"""
import sys

import numpy as np
import ase.io

Z_BA, Z_TI, Z_O_PARALLEL, Z_O_PERP = 2.75, 7.16, -5.69, -2.11
A_CUBIC = 4.0


def born_charge_dipole(atoms):
    cell = atoms.get_cell()[:]
    reps = np.rint(np.linalg.norm(cell, axis=1) / A_CUBIC)
    if np.any(reps < 1):
        raise ValueError("cell vector shorter than half a perovskite cell")
    s = np.linalg.solve(cell.T, atoms.get_positions().T).T * reps  # positions in unit-cell units
    dipole = np.zeros(3)
    for symbol, si, r in zip(atoms.get_chemical_symbols(), s, atoms.get_positions()):
        if symbol == "Ba":
            site = np.rint(si)
        elif symbol == "Ti":
            site = np.floor(si) + 0.5
        elif symbol == "O":
            frac_dist = np.abs(si - np.rint(si))
            axis = int(np.argmin(frac_dist))  # the coordinate on an integer plane = the Ti-O-Ti chain axis
            site = np.floor(si) + 0.5
            site[axis] = np.rint(si[axis])
        else:
            raise ValueError(f"species {symbol} is not Ba, Ti or O")
        u = r - (site / reps) @ cell
        if symbol == "O":
            e = cell[axis] / np.linalg.norm(cell[axis])
            z = Z_O_PERP * np.eye(3) + (Z_O_PARALLEL - Z_O_PERP) * np.outer(e, e)
            dipole += z @ u
        else:
            dipole += (Z_BA if symbol == "Ba" else Z_TI) * u
    return dipole


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    frames = ase.io.read(sys.argv[1], index=":")
    for n, f in enumerate(frames):
        try:
            f.info["dipole"] = born_charge_dipole(f)
        except ValueError as err:
            sys.exit(f"{sys.argv[1]}: frame {n}: {err}")
        f.info["dipole_source"] = "linear-born-charges-ZKV1994"
        # ASE reads a stored dipole (e.g. a DFT one) as a calculator result and writes it back over info.
        if f.calc is not None:
            f.calc.results.pop("dipole", None)
    ase.io.write(sys.argv[2], frames, format="extxyz")
    print(f"{len(frames)} frames labelled with linear Born-charge dipoles -> {sys.argv[2]}")


if __name__ == "__main__":
    main()
