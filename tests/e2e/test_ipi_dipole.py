#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): the two committed dipole inputs, shortened.

1. ipi_inputs/dipole (one gapd: GAP + dipole extras, NVT): the dipoles i-PI saves with
   <trajectory extra_type='dipole'> equal, frame by frame, `gapd predict`'s dipole (e·Å, converted to e·Bohr
   with gapd's CODATA 2018 Bohr) on the positions and cell i-PI saved at the same step (format='bin', full
   precision, atomic units). Both exits are 0.
2. ipi_inputs/driven (eda-nvt electric-field driven dynamics; a GAP client and a --dipole-only client sending
   dipole and BEC): i-PI completes every step with BEC taken from the driver, all three processes exit 0.

Without i-PI (IPI_ROOT, or an i-pi on PATH): prints a skip message and exits 77.
"""

import argparse
import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import BOHR_2018, TestFailure

REL = 1e-10


SYNTHETIC_DIPOLE = os.path.join(common.SOURCE_DIR, "tests", "data", "dipole", "synthetic_dipole.gapd")


def run_input(name, gapd, workdir, steps, timeout):
    # The small test force model has no dipole section, so the dipole model is given (run.sh's default is the
    # force model's own dipole section).
    run_dir = os.path.join(workdir, name)
    _, out = common.run_ipi_input(name, gapd, run_dir, timeout, args=[common.SMALL_MODEL],
                                  env={"STEPS": str(steps), "DIPOLE_MODEL": SYNTHETIC_DIPOLE})
    print(out)
    return run_dir


def read_extras_dipoles(path):
    """i-PI's extras trajectory: '#EXTRAS(dipole)# Step: N Bead: 0' then the three numbers."""
    steps, values = [], []
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    for k, line in enumerate(lines):
        if line.lstrip().startswith("#EXTRAS"):
            steps.append(int(line.split("Step:")[1].split()[0]))
            values.append([float(x) for x in lines[k + 1].split()])
    return steps, np.array(values)


def read_ipi_bin(path, nframes, symbols):
    """i-PI's format='bin' trajectory (ipi/utils/io/backends/io_binary.py): per frame 9 float64 h (Bohr, columns =
    lattice vectors), int64 natoms, 3 natoms float64 positions (Bohr), then names and a title of fixed width:
    every frame has the same size."""
    data = open(path, "rb").read()
    if nframes == 0 or len(data) % nframes:
        raise TestFailure("%s: %d bytes do not split into %d equal frames" % (path, len(data), nframes))
    size = len(data) // nframes
    frames = []
    for k in range(nframes):
        h = np.frombuffer(data, "<f8", 9, k * size).reshape(3, 3)
        n = int(np.frombuffer(data, "<i8", 1, k * size + 72)[0])
        if n != len(symbols):
            raise TestFailure("%s: frame %d has %d atoms, expected %d" % (path, k, n, len(symbols)))
        q = np.frombuffer(data, "<f8", 3 * n, k * size + 80).reshape(n, 3)
        frames.append({"symbols": symbols, "positions": q * BOHR_2018, "cell": h.T * BOHR_2018})
    return frames


def check_dipole_run(gapd, run_dir, workdir):
    steps, dipoles = read_extras_dipoles(os.path.join(run_dir, "dipole.dipole_0"))
    if len(steps) < 2 or steps != list(range(len(steps))):
        raise TestFailure("extras trajectory steps %s" % steps)
    with open(os.path.join(run_dir, "init.xyz")) as f:
        symbols = [line.split()[0] for line in f.read().splitlines()[2:] if line.strip()]
    # What gapd received: i-PI's Bohr values times gapd's Bohr, as in client_protocol/frame_conversion.
    frames = read_ipi_bin(os.path.join(run_dir, "dipole.pos_0.bin"), len(steps), symbols)
    predicted = common.predict_frames(gapd, workdir, "ipi_frames", frames,
                                      ["--dipole-only", "--dipole-model", SYNTHETIC_DIPOLE])
    expected = np.array([common.info_floats(f, "dipole") for f in predicted]) / BOHR_2018
    err = common.check_close(dipoles, expected, "i-PI's dipole trajectory against gapd predict", REL)
    return len(steps), err


def run_checks(gapd, workdir, nsteps, timeout):
    run_dir = run_input("dipole", gapd, workdir, nsteps, timeout / 2)
    n, err = check_dipole_run(gapd, run_dir, workdir)
    print("1. dipole NVT: %d frames of i-PI's dipole trajectory equal gapd predict (max relative %.2g)"
          % (n, err))
    run_dir = run_input("driven", gapd, workdir, nsteps, timeout / 2)
    rows = [l for l in open(os.path.join(run_dir, "driven.out")) if l.strip() and not l.startswith("#")]
    if len(rows) != nsteps + 1:
        raise TestFailure("driven run: %d property rows, expected %d" % (len(rows), nsteps + 1))
    steps, dipoles = read_extras_dipoles(os.path.join(run_dir, "driven.dipole_0"))
    if len(steps) != nsteps + 1 or not np.all(np.isfinite(dipoles)):
        raise TestFailure("driven run: dipole trajectory has %d frames" % len(steps))
    print("2. driven eda-nvt with BEC from a --dipole-only gapd: %d steps completed" % nsteps)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=500)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    if not common.ipi_available():
        print("SKIP: set IPI_ROOT to an i-PI checkout (v3.3.0), or put i-pi on PATH, to run this test")
        return common.SKIP
    return common.run_test("test_ipi_dipole", a.timeout,
                           lambda workdir: run_checks(a.gapd, workdir, a.steps, a.timeout), keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
