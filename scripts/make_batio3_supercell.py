#!/usr/bin/env python3
"""Write an n x n x n supercell of cubic perovskite BaTiO3.

Unit cell (lattice constant a): Ba at the corner (0,0,0), Ti at the body centre (1/2,1/2,1/2), O at the face
centres (1/2,1/2,0), (1/2,0,1/2), (0,1/2,1/2). Atoms are ordered cell by cell (i, j, k loops, k fastest), each
cell as Ba, Ti, O, O, O, so the file is 5 n^3 atoms. Optional Gaussian displacements (standard deviation per
Cartesian component, in Å) with a fixed seed give a reproducible distorted structure.

Outputs (at least one):
  --extxyz FILE   ASE extended xyz (Lattice=..., Properties=species:S:1:pos:R:3, pbc="T T T")
  --ipi-xyz FILE  i-PI xyz, comment line "# CELL(abcABC): a b c alpha beta gamma cell{angstrom} positions{angstrom}"

Pure Python (no numpy/ASE needed). Positions are not wrapped back into the cell after displacement (both
i-PI and gapd apply periodic images themselves). Example:
  python3 scripts/make_batio3_supercell.py -n 4 --displacement 0.05 --seed 1 --ipi-xyz init.xyz
"""

import argparse
import random
import sys

FRACTIONAL_BASIS = [
    ("Ba", (0.0, 0.0, 0.0)),
    ("Ti", (0.5, 0.5, 0.5)),
    ("O", (0.5, 0.5, 0.0)),
    ("O", (0.5, 0.0, 0.5)),
    ("O", (0.0, 0.5, 0.5)),
]


def build_supercell(n, a=4.0, displacement=0.0, seed=0):
    """Returns (symbols, positions, cell): positions as a list of [x, y, z] in Å, cell as 3 row vectors (Å)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    if not a > 0:
        raise ValueError("the lattice constant must be > 0")
    if displacement < 0:
        raise ValueError("the displacement must be >= 0")
    rng = random.Random(seed)
    symbols, positions = [], []
    for i in range(n):
        for j in range(n):
            for k in range(n):
                for symbol, (fx, fy, fz) in FRACTIONAL_BASIS:
                    r = [(i + fx) * a, (j + fy) * a, (k + fz) * a]
                    if displacement > 0:
                        r = [x + rng.gauss(0.0, displacement) for x in r]
                    symbols.append(symbol)
                    positions.append(r)
    length = n * a
    cell = [[length, 0.0, 0.0], [0.0, length, 0.0], [0.0, 0.0, length]]
    return symbols, positions, cell


def _fmt(x):
    # 10 decimals in Å (1e-10 Å) and no "-0.0000000000": exact enough to be the reference structure.
    s = "%.10f" % x
    return "0.0000000000" if s == "-0.0000000000" else s


def extxyz_text(symbols, positions, cell, comment=""):
    lattice = " ".join(repr(float(x)) for row in cell for x in row)
    extra = (" " + comment) if comment else ""
    lines = [str(len(symbols)),
             'Lattice="%s" Properties=species:S:1:pos:R:3 pbc="T T T"%s' % (lattice, extra)]
    for s, r in zip(symbols, positions):
        lines.append("%-2s %18s %18s %18s" % (s, _fmt(r[0]), _fmt(r[1]), _fmt(r[2])))
    return "\n".join(lines) + "\n"


def ipi_xyz_text(symbols, positions, cell):
    # Only orthogonal cells are written by this script, so (a, b, c, 90, 90, 90) describes the cell exactly.
    for p in range(3):
        for q in range(3):
            if p != q and cell[p][q] != 0.0:
                raise ValueError("ipi_xyz_text: only orthogonal cells are supported")
    a, b, c = cell[0][0], cell[1][1], cell[2][2]
    lines = [str(len(symbols)),
             "# CELL(abcABC): %.10f %.10f %.10f 90.00000 90.00000 90.00000 cell{angstrom} positions{angstrom}"
             % (a, b, c)]
    for s, r in zip(symbols, positions):
        lines.append("%-2s %18s %18s %18s" % (s, _fmt(r[0]), _fmt(r[1]), _fmt(r[2])))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write an n x n x n cubic BaTiO3 supercell (Ba corner, Ti body centre, O face centres; "
                    "5 n^3 atoms) as ASE extxyz and/or i-PI xyz, optionally with Gaussian displacements.",
        epilog="Example: %(prog)s -n 4 --displacement 0.05 --seed 1 --ipi-xyz init.xyz --extxyz init.extxyz")
    parser.add_argument("-n", "--repeat", type=int, default=4, help="supercell repeats per axis (default 4)")
    parser.add_argument("-a", "--lattice-constant", type=float, default=4.0,
                        help="cubic lattice constant in Å (default 4.0)")
    parser.add_argument("--displacement", type=float, default=0.0,
                        help="standard deviation of Gaussian displacements per Cartesian component, Å (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the displacements (default 0)")
    parser.add_argument("--extxyz", metavar="FILE", help="write ASE extended xyz here")
    parser.add_argument("--ipi-xyz", metavar="FILE", help="write i-PI xyz (CELL(abcABC) comment line) here")
    args = parser.parse_args(argv)
    if not args.extxyz and not args.ipi_xyz:
        parser.error("give at least one of --extxyz FILE, --ipi-xyz FILE")
    try:
        symbols, positions, cell = build_supercell(args.repeat, args.lattice_constant, args.displacement,
                                                   args.seed)
    except ValueError as e:
        parser.error(str(e))
    if args.extxyz:
        with open(args.extxyz, "w") as f:
            f.write(extxyz_text(symbols, positions, cell))
    if args.ipi_xyz:
        with open(args.ipi_xyz, "w") as f:
            f.write(ipi_xyz_text(symbols, positions, cell))
    print("make_batio3_supercell: %d atoms (%dx%dx%d, a = %g Å, displacement %g Å, seed %d)"
          % (len(symbols), args.repeat, args.repeat, args.repeat, args.lattice_constant, args.displacement,
             args.seed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
