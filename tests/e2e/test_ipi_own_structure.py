#!/usr/bin/python3
"""End-to-end with a real i-PI: a user's own structure and an i-PI found on PATH (docs/own_system.md).

1. ipi_inputs/nst/run.sh with INIT_XYZ = a 40-atom BaTiO3 cell with a general (sheared, rotated) lattice in
   extxyz: run.sh converts it to an i-PI xyz, sets the RGB barostat's h0 to its cell and gapd's template follows
   (40 atoms). i-PI and gapd exit 0, every step is written, and the cell i-PI reports at step 0 is h0.
2. ipi_inputs/nvt/run.sh with IPI_ROOT unset and an `i-pi` on PATH (a two-line wrapper that runs the checkout
   in $IPI_ROOT, standing in for a pip-installed i-PI), with INIT_XYZ = the 40-atom i-PI xyz of ipi_inputs/dipole.

Small test model, a few steps. Without i-PI (IPI_ROOT, or an i-pi on PATH): prints a skip message and exits 77.
"""

import math
import os
import shutil
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

SMALL_XYZ = os.path.join(common.SOURCE_DIR, "ipi_inputs", "dipole", "init.xyz")


def general_extxyz(path):
    """The 40-atom cube of ipi_inputs/dipole, sheared by a few per cent and rotated, as extxyz."""
    lines = open(SMALL_XYZ).read().splitlines()
    n = int(lines[0])
    symbols = [l.split()[0] for l in lines[2:2 + n]]
    q = np.array([[float(x) for x in l.split()[1:4]] for l in lines[2:2 + n]])
    frac = (q / 8.0) % 1.0
    L = np.array([[8.05, 0.15, 0.0], [0.1, 7.95, 0.12], [0.05, -0.1, 8.1]])
    t = 0.5
    rot = np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0], [-math.sin(t), 0, math.cos(t)]])
    L = L @ rot.T
    pos = frac @ L
    with open(path, "w") as f:
        f.write("%d\nLattice=\"%s\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                % (n, " ".join("%.10f" % x for x in L.ravel())))
        for s, p in zip(symbols, pos):
            f.write("%s %.10f %.10f %.10f\n" % (s, p[0], p[1], p[2]))
    return L


def read_h0(input_xml):
    import re
    m = re.search(r"<h0 units='angstrom'>\s*\[([^\]]*)\]", open(input_xml).read())
    if not m:
        raise TestFailure("no <h0 units='angstrom'> in %s" % input_xml)
    return np.array([float(x) for x in m.group(1).split(",")]).reshape(3, 3)


def run_checks(gapd, workdir, steps, timeout):
    env_run = {"STEPS": str(steps)}
    # 1. NST from an extxyz with a general cell
    src = os.path.join(workdir, "general.extxyz")
    L = general_extxyz(src)
    run_dir = os.path.join(workdir, "nst")
    _, out = common.run_ipi_input("nst", gapd, run_dir, timeout / 2, args=[common.SMALL_MODEL],
                                  env=dict(env_run, INIT_XYZ=src))
    print(out)
    h0 = read_h0(os.path.join(run_dir, "input.xml"))
    if np.max(np.abs(h0.T @ h0 - L @ L.T)) > 1e-8:
        raise TestFailure("h0 %s is not the extxyz cell" % h0)
    columns, rows = common.read_complete_ipi_properties(os.path.join(run_dir, "nst.out"), steps, "nst")
    cell_h = common.ipi_column(columns, rows, "cell_h{angstrom}")  # xx yy zz xy xz yz
    first = cell_h[0]
    expected = [h0[0, 0], h0[1, 1], h0[2, 2], h0[0, 1], h0[0, 2], h0[1, 2]]
    if np.max(np.abs(np.array(first) - expected)) > 1e-6:
        raise TestFailure("i-PI's cell at step 0 %s, h0 %s" % (first, expected))
    if "for 40 atoms" not in open(os.path.join(run_dir, "gapd.log")).read():
        raise TestFailure("gapd.log does not say 40 atoms")
    print("1. NST from a general-cell extxyz: %d steps, i-PI's step-0 cell = h0 (%s)" % (steps, np.round(expected, 4)))

    # 2. i-PI from PATH
    root = common.ipi_root_or_none()
    env = {"INIT_XYZ": SMALL_XYZ, "STEPS": str(steps)}
    if root:
        bin_dir = os.path.join(workdir, "bin")
        os.makedirs(bin_dir)
        wrapper = os.path.join(bin_dir, "i-pi")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nPYTHONPATH=%s exec /usr/bin/python3 %s \"$@\"\n"
                    % (root, os.path.join(root, "bin", "i-pi")))
        os.chmod(wrapper, 0o755)
        env["PATH"] = bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin")
    run_dir = os.path.join(workdir, "nvt")
    saved = os.environ.pop("IPI_ROOT", None)
    try:
        _, out = common.run_ipi_input("nvt", gapd, run_dir, timeout / 2, args=[common.SMALL_MODEL], env=env)
    finally:
        if saved is not None:
            os.environ["IPI_ROOT"] = saved
    print(out)
    common.read_complete_ipi_properties(os.path.join(run_dir, "nvt.out"), steps, "nvt")
    print("2. NVT with i-PI from PATH (IPI_ROOT unset), 40-atom INIT_XYZ: %d steps" % steps)


def main():
    return common.ipi_input_test_main("test_ipi_own_structure", __doc__.split("\n")[0],
                                      lambda a, gapd, workdir: run_checks(gapd, workdir, a.steps, a.timeout),
                                      steps=5, timeout=300)


if __name__ == "__main__":
    sys.exit(main())
