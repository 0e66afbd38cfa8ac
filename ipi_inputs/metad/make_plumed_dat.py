#!/usr/bin/env python3
"""Write the PLUMED input of ipi_inputs/metad: the mean Ti off-centring of a BaTiO3 cell as collective variables.

For every Ti, its six nearest O (minimum image) define its octahedron; the off-centring d_i is the vector from the
octahedron's centre to the Ti (PLUMED: CENTER of the six O, DISTANCE ... COMPONENTS, both with periodic images).
The collective variables are the components of the mean over all Ti, px, py, pz (Å): a proxy for the
polarization (P ~ Z*_Ti e n_Ti <d> / V, ignoring the O and Ba displacements). Well-tempered metadynamics biases
pz; px, py and the bias are printed to COLVAR.

Reads an i-PI xyz file with a "# CELL(abcABC): a b c 90 90 90 ..." line (orthorhombic cells only) in Å, as
written by scripts/make_batio3_supercell.py. Atom numbers in the output are 1-based (PLUMED), in file order, which
is the order i-PI sends. Pure Python. Example (the committed plumed.dat):
  python3 ipi_inputs/metad/make_plumed_dat.py ipi_inputs/nvt/init.xyz -o ipi_inputs/metad/plumed.dat
"""

import argparse
import math
import re
import sys

# Sanity limits for a perovskite octahedron (Å): the 6th-nearest O of a Ti must be closer than NEAR_MAX and
# the 7th farther than FAR_MIN, else the structure is not a (moderately distorted) perovskite.
NEAR_MAX = 2.6
FAR_MIN = 3.0

METAD = """\
# Well-tempered metadynamics on pz. SIGMA: a few times the thermal spread of the mean off-centring of 64 Ti;
# HEIGHT and PACE (PLUMED calls = MD steps): a slow deposition. Tune for your cell size and temperature.
metad: METAD ARG=pz SIGMA=0.005 HEIGHT=0.01 PACE=50 BIASFACTOR=10 TEMP={temp} FILE=HILLS GRID_MIN=-0.5 GRID_MAX=0.5 GRID_BIN=1000

PRINT ARG=px,py,pz,metad.bias STRIDE=10 FILE=COLVAR
FLUSH STRIDE=100
"""


def read_ipi_xyz(path):
    with open(path) as f:
        lines = f.read().splitlines()
    try:
        n = int(lines[0])
    except (IndexError, ValueError):
        sys.exit("%s: first line must be the atom count" % path)
    m = re.search(r"CELL\(abcABC\):\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", lines[1] if len(lines) > 1 else "")
    if not m:
        sys.exit("%s: line 2 has no '# CELL(abcABC): a b c A B C'" % path)
    abc = [float(x) for x in m.groups()]
    if any(abs(angle - 90.0) > 1e-6 for angle in abc[3:]):
        sys.exit("%s: CELL(abcABC) angles %s: only orthorhombic cells are supported" % (path, abc[3:]))
    if "positions{angstrom}" not in lines[1]:
        sys.exit("%s: line 2 must say positions{angstrom}" % path)
    if len(lines) < n + 2:
        sys.exit("%s: %d atoms announced, %d atom lines" % (path, n, len(lines) - 2))
    symbols, positions = [], []
    for k, line in enumerate(lines[2:n + 2]):
        parts = line.split()
        try:
            symbols.append(parts[0])
            positions.append([float(x) for x in parts[1:4]])
        except (IndexError, ValueError):
            sys.exit("%s: atom line %d is not 'symbol x y z'" % (path, k + 1))
    return symbols, positions, abc[:3]


def octahedra(symbols, positions, lengths):
    """For every Ti (0-based index): its six nearest O (0-based indices), sorted; checks the perovskite shape."""
    oxygens = [k for k, s in enumerate(symbols) if s == "O"]
    result = []
    for t, s in enumerate(symbols):
        if s != "Ti":
            continue
        dist = []
        for o in oxygens:
            d2 = 0.0
            for c in range(3):
                d = positions[o][c] - positions[t][c]
                d -= lengths[c] * round(d / lengths[c])
                d2 += d * d
            dist.append((math.sqrt(d2), o))
        dist.sort()
        if len(dist) < 7 or dist[5][0] > NEAR_MAX or dist[6][0] < FAR_MIN:
            sys.exit("Ti atom %d: O distances %s do not form an octahedron (6 below %g Å, the 7th above %g Å)"
                     % (t + 1, ["%.2f" % d for d, _ in dist[:7]], NEAR_MAX, FAR_MIN))
        result.append((t, sorted(o for _, o in dist[:6])))
    if not result:
        sys.exit("no Ti atoms")
    return result


def plumed_dat(octs, temp):
    out = ["# Mean Ti off-centring of BaTiO3 (written by ipi_inputs/metad/make_plumed_dat.py; atom numbers 1-based).",
           "UNITS LENGTH=A ENERGY=eV", ""]
    for k, (t, os_) in enumerate(octs, 1):
        out.append("c%d: CENTER ATOMS=%s" % (k, ",".join(str(o + 1) for o in os_)))
        out.append("d%d: DISTANCE ATOMS=%d,c%d COMPONENTS" % (k, t + 1, k))
    w = ",".join(["%.17g" % (1.0 / len(octs))] * len(octs))
    for axis in "xyz":
        args = ",".join("d%d.%s" % (k, axis) for k in range(1, len(octs) + 1))
        out.append("p%s: COMBINE ARG=%s COEFFICIENTS=%s PERIODIC=NO" % (axis, args, w))
    out.append("")
    return "\n".join(out) + "\n" + METAD.format(temp=temp)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("structure", help="i-PI xyz file (orthorhombic CELL(abcABC), positions in Å)")
    p.add_argument("-o", "--output", required=True, help="PLUMED input to write")
    p.add_argument("--temperature", type=float, default=250.0, help="K, for the well-tempered METAD (default 250)")
    a = p.parse_args(argv)
    symbols, positions, lengths = read_ipi_xyz(a.structure)
    octs = octahedra(symbols, positions, lengths)
    text = plumed_dat(octs, "%g" % a.temperature)
    with open(a.output, "w") as f:
        f.write(text)
    print("%s: %d Ti octahedra, collective variables px, py, pz (mean Ti off-centring, Å)" % (a.output, len(octs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
