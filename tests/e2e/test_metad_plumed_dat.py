#!/usr/bin/python3
"""ipi_inputs/metad/make_plumed_dat.py (the PLUMED input of the untested metadynamics example; PLUMED itself is not
needed here): the committed plumed.dat is what the script writes for ipi_inputs/nvt/init.xyz; every Ti octahedron
has six distinct O, each O belongs to exactly two octahedra (corner-sharing perovskite) and lies 1.7-2.3 Å from
its Ti, the atom numbers are 1-based and name the right elements, the averaging coefficients sum to 1; a
structure with a Ti pushed out of its octahedron and a non-orthorhombic cell are refused with an error.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections import Counter

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

SCRIPT = os.path.join(common.SOURCE_DIR, "ipi_inputs", "metad", "make_plumed_dat.py")
INIT = os.path.join(common.SOURCE_DIR, "ipi_inputs", "nvt", "init.xyz")
COMMITTED = os.path.join(common.SOURCE_DIR, "ipi_inputs", "metad", "plumed.dat")


def generate(structure, out):
    return subprocess.run([sys.executable, SCRIPT, structure, "-o", out], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def main():
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="gapd_e2e_metad_") as tmp:
            out = os.path.join(tmp, "plumed.dat")
            r = generate(INIT, out)
            if r.returncode != 0:
                raise TestFailure("make_plumed_dat.py failed: %s" % r.stderr)
            text = open(out).read()
            if text != open(COMMITTED).read():
                raise TestFailure("committed plumed.dat differs from the script's output; regenerate it")
            lines = open(INIT).read().splitlines()
            symbols = common.template_symbols(INIT)
            pos = np.array([[float(x) for x in l.split()[1:4]] for l in lines[2:2 + len(symbols)]])
            box = np.array([float(x) for x in re.search(r"CELL\(abcABC\):\s+(\S+)\s+(\S+)\s+(\S+)", lines[1]).groups()])
            centers = dict(re.findall(r"^c(\d+): CENTER ATOMS=(\S+)$", text, re.M))
            dists = dict(re.findall(r"^d(\d+): DISTANCE ATOMS=(\d+),c\d+ COMPONENTS$", text, re.M))
            n_ti = symbols.count("Ti")
            if len(centers) != n_ti or len(dists) != n_ti:
                raise TestFailure("%d CENTER and %d DISTANCE lines for %d Ti" % (len(centers), len(dists), n_ti))
            use = Counter()
            for k, atoms in centers.items():
                os_ = [int(x) for x in atoms.split(",")]
                ti = int(dists[k])
                if len(set(os_)) != 6 or any(symbols[o - 1] != "O" for o in os_) or symbols[ti - 1] != "Ti":
                    raise TestFailure("octahedron %s: Ti %d, O %s: wrong elements or count" % (k, ti, os_))
                d = pos[[o - 1 for o in os_]] - pos[ti - 1]
                d -= box * np.round(d / box)
                r_ = np.linalg.norm(d, axis=1)
                if not (r_.min() > 1.7 and r_.max() < 2.3):
                    raise TestFailure("octahedron %s: Ti-O distances %s Å" % (k, np.round(r_, 3)))
                use.update(os_)
            if set(use.values()) != {2} or len(use) != symbols.count("O"):
                raise TestFailure("O atoms are not each in exactly two octahedra: %s" % Counter(use.values()))
            for axis in "xyz":
                m = re.search(r"^p%s: COMBINE ARG=(\S+) COEFFICIENTS=(\S+) PERIODIC=NO$" % axis, text, re.M)
                if not m or len(m.group(1).split(",")) != n_ti or abs(sum(map(float, m.group(2).split(","))) - 1) > 1e-12:
                    raise TestFailure("p%s: COMBINE line missing or not a mean over %d Ti" % (axis, n_ti))
            print("plumed.dat: %d octahedra, %d O each in two, Ti-O 1.7-2.3 Å, px/py/pz means; equals the committed file"
                  % (n_ti, len(use)))

            bad = os.path.join(tmp, "bad.xyz")
            ti = symbols.index("Ti")
            moved = pos.copy()
            moved[ti] += [0.0, 0.0, 1.5]
            with open(bad, "w") as f:
                f.write("%s\n%s\n" % (lines[0], lines[1]))
                for s, p in zip(symbols, moved):
                    f.write("%s %.10f %.10f %.10f\n" % (s, p[0], p[1], p[2]))
            r = generate(bad, os.path.join(tmp, "bad.dat"))
            if r.returncode == 0 or "Ti atom %d" % (ti + 1) not in r.stderr or os.path.exists(os.path.join(tmp, "bad.dat")):
                raise TestFailure("a Ti out of its octahedron was accepted (exit %d): %s" % (r.returncode, r.stderr))
            tri = os.path.join(tmp, "tri.xyz")
            with open(tri, "w") as f:
                f.write(lines[0] + "\n" + lines[1].replace("90.00000 90.00000 90.00000", "90.00000 90.00000 60.00000")
                        + "\n" + "\n".join(lines[2:]) + "\n")
            r = generate(tri, os.path.join(tmp, "tri.dat"))
            if r.returncode == 0 or "orthorhombic" not in r.stderr:
                raise TestFailure("a non-orthorhombic cell was accepted (exit %d): %s" % (r.returncode, r.stderr))
            print("refused: %s | %s" % (r.stderr.strip().splitlines()[-1], "Ti pushed out of its octahedron"))
        print("PASS")
        return 0
    except Exception as e:  # noqa: BLE001 - any error is a failure
        traceback.print_exc()
        print("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
