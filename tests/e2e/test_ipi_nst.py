#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): ipi_inputs/nst (BaTiO3, 320 atoms, fully flexible cell at zero
stress) run through its run.sh for a few steps with the small test model, once per barostat:
BAROSTAT=anisotropic (i-PI's NST, RGB barostat) and BAROSTAT=flexible (MTTK, NPT with a flexible cell).

Checks, for each: i-PI and gapd exit 0 and every step is in the properties file; the cell really moves in all
six components (diagonal and shear), i.e. gapd's virial drives a flexible cell; and the final potential energy
i-PI printed equals `gapd predict` on the final positions and cell from i-PI's RESTART checkpoint (so gapd used
the cell of every request, not a cached one). Tolerance 1e-6 relative: i-PI prints 9 digits and converts eV
with 8-digit constants; a stale cell would be off by far more (the volume changes by percents).

Also the reliability rule of ipi_inputs/common.sh: a stale socket file on the run's address (nobody listening)
is removed and the run proceeds; a live listener on the address makes run.sh refuse (exit 2) and leaves it alone.

Without IPI_ROOT: prints a skip message and exits 77.
"""

import os
import socket
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

E_REL_TOL = 1e-6


def check_run(gapd, run_dir, steps, workdir, label):
    columns, rows = common.read_complete_ipi_properties(os.path.join(run_dir, "nst.out"), steps, label)
    h = common.ipi_column(columns, rows, "cell_h{angstrom}")  # xx yy zz xy xz yz
    vol = common.ipi_column(columns, rows, "volume{angstrom3}")
    cons = common.ipi_column(columns, rows, "conserved{electronvolt}")
    pot = common.ipi_column(columns, rows, "potential{electronvolt}")
    moved = np.abs(h[-1] - h[0])
    if not np.all(moved > 1e-6):
        raise TestFailure("%s: cell components did not all move: |h_end - h_0| = %s Å" % (label, moved))
    symbols = common.template_symbols(os.path.join(run_dir, "init.xyz"))
    frame = common.read_ipi_checkpoint_frame(os.path.join(run_dir, "RESTART"), symbols)
    e_gapd = common.gapd_predict_energy(gapd, common.SMALL_MODEL, frame, workdir, "final_" + label)
    rel = abs(pot[-1] - e_gapd) / abs(e_gapd)
    print("%s: %d steps; cell xx yy zz %s -> %s Å, shear xy xz yz -> %s Å; volume %.2f -> %.2f Å^3 (%+.2f%%)"
          % (label, steps, np.round(h[0, :3], 4), np.round(h[-1, :3], 4), np.round(h[-1, 3:], 4), vol[0], vol[-1],
             100 * (vol[-1] / vol[0] - 1)))
    print("%s: conserved %.6f -> %.6f eV (drift %.2e eV/atom/step); final potential i-PI %.6f eV, gapd predict on "
          "RESTART %.6f eV: rel %.1e" % (label, cons[0], cons[-1], (cons[-1] - cons[0]) / len(symbols) / steps,
                                        pot[-1], e_gapd, rel))
    if not rel <= E_REL_TOL:
        raise TestFailure("%s: final potential differs from gapd predict by %.2e relative" % (label, rel))


def stale_socket(path):
    """A UNIX socket file nobody listens on (as a killed i-PI leaves it)."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()


def check_socket_rules(gapd, workdir):
    suffix = "-e2e-sock-%d" % os.getpid()
    path = "/tmp/ipi_gapd-nst" + suffix
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(path)
        listener.listen(1)
        code, out = common.run_ipi_input("nst", gapd, os.path.join(workdir, "live"), 120, args=[common.SMALL_MODEL],
                                         env={"ADDRESS_SUFFIX": suffix, "STEPS": "1"}, check=False)
        if code != 2 or "already listening" not in out or not os.path.exists(path):
            raise TestFailure("live listener on %s: run.sh exit %d (expected 2, socket kept):\n%s" % (path, code, out))
        print("live listener: run.sh refused (exit 2) and left %s alone" % path)
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)
    stale_socket(path)
    code, out = common.run_ipi_input("nst", gapd, os.path.join(workdir, "stale"), 180, args=[common.SMALL_MODEL],
                                     env={"ADDRESS_SUFFIX": suffix, "STEPS": "2"}, check=False)
    if code != 0 or "removing stale socket" not in out:
        raise TestFailure("stale socket %s: run.sh exit %d (expected 0 after removing it):\n%s" % (path, code, out))
    if os.path.exists(path):
        raise TestFailure("run.sh left its socket %s behind" % path)
    print("stale socket: removed, run completed (exit 0), nothing left behind")


def body(a, gapd, workdir):
    for barostat in ("anisotropic", "flexible"):
        run_dir = os.path.join(workdir, barostat)
        _, out = common.run_ipi_input("nst", gapd, run_dir, a.timeout / 3, args=[common.SMALL_MODEL],
                                      env={"STEPS": str(a.steps), "BAROSTAT": barostat})
        print(out.rstrip())
        check_run(gapd, run_dir, a.steps, workdir, barostat)
    check_socket_rules(gapd, workdir)


def main():
    return common.ipi_input_test_main("test_ipi_nst", __doc__.split("\n")[0], body, steps=20, timeout=500)


if __name__ == "__main__":
    sys.exit(main())
