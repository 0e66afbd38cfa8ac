#!/usr/bin/python3
"""End-to-end: `gapd predict` and `gapd eval` evaluate consecutive small frames as batches (models/core/frame_loop.hpp,
kFrameBatchAtoms): the results equal those of the frames evaluated one per file (to round-off), do not depend on
the thread count (byte-identical files), and a bad frame inside a batch is named by its own index.

Data: 120 displaced 5-atom BaTiO3 cells and 6 of 40 atoms, mixed, with the default model (GAP + dipoles).
"""

import argparse
import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")
SITES = [(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)]


def cell_frame(reps, rng, a=4.0, sigma=0.06):
    symbols, frac = [], []
    for i in range(reps):
        for j in range(reps):
            for k in range(reps):
                for s, f in zip(["Ba", "Ti", "O", "O", "O"], SITES):
                    symbols.append(s)
                    frac.append([(f[0] + i) / reps, (f[1] + j) / reps, (f[2] + k) / reps])
    cell = np.eye(3) * a * reps
    pos = np.array(frac) @ cell + rng.normal(0, sigma, (len(symbols), 3))
    return {"symbols": symbols, "positions": pos, "cell": cell}


def energies(frames):
    return np.array([float(f["info"]["energy"]) for f in frames])


def run_checks(gapd, workdir):
    rng = np.random.default_rng(11)
    frames = [cell_frame(2 if k % 21 == 5 else 1, rng) for k in range(126)]
    path = os.path.join(workdir, "mixed.extxyz")
    common.write_extxyz(path, frames)
    outs = {}
    for threads in (1, 2):
        outs[threads] = os.path.join(workdir, "out%d.extxyz" % threads)
        r = common.run([gapd, "predict", path, "-m", MODEL, "--threads", str(threads), "-o", outs[threads]], 300)
        if r.returncode != 0:
            raise TestFailure("predict --threads %d failed: %s" % (threads, r.stderr))
    if open(outs[1], "rb").read() != open(outs[2], "rb").read():
        raise TestFailure("predict: 1 and 2 threads wrote different files")
    batched = common.read_extxyz(outs[1])
    alone = []
    for k in (0, 5, 6, 47, 125):  # the first frame, a 40-atom one, frames inside and at the end of batches
        alone += common.predict_frames(gapd, workdir, "alone%d" % k, [frames[k]], ["-m", MODEL])
    picked = [batched[k] for k in (0, 5, 6, 47, 125)]
    common.check_close(energies(picked), energies(alone), "batched vs single-frame energies", 1e-12)
    for b, a in zip(picked, alone):
        common.check_close(b["arrays"]["forces"], a["arrays"]["forces"], "batched vs single-frame forces", 1e-9)
        common.check_close(common.info_floats(b, "dipole"), common.info_floats(a, "dipole"), "dipoles", 1e-12)
    print("1. predict, %d mixed frames: 1 and 2 threads byte-identical; 5 frames equal their single-frame "
          "predictions (energies 1e-12 relative, forces 1e-9)" % len(frames))

    bad = [dict(f) for f in frames]
    pos = np.array(bad[17]["positions"])
    pos[2] = pos[1] + 1e-8
    bad[17] = dict(bad[17], positions=pos)
    bad_path = os.path.join(workdir, "bad.extxyz")
    common.write_extxyz(bad_path, bad)
    for threads in (1, 2):
        r = common.run([gapd, "predict", bad_path, "-m", MODEL, "--threads", str(threads), "-o",
                        os.path.join(workdir, "bad_out.extxyz")], 300)
        lines = [l for l in r.stderr.splitlines() if "error" in l]
        if r.returncode != 1 or len(lines) != 1 or "frame 17 (0-based)" not in lines[0] or "overlap" not in lines[0]:
            raise TestFailure("predict with a bad frame 17 (--threads %d): exit %d, stderr %r"
                              % (threads, r.returncode, r.stderr))
    print("2. a bad frame inside a batch: %s" % lines[0].strip())

    labelled = os.path.join(workdir, "labelled.extxyz")
    r = common.run([gapd, "predict", path, "-m", MODEL, "--threads", "1", "-o", labelled], 300)
    out1, out2 = os.path.join(workdir, "eval1.extxyz"), os.path.join(workdir, "eval2.extxyz")
    texts = []
    for threads, out in ((1, out1), (2, out2)):
        r = common.run([gapd, "eval", labelled, "-m", MODEL, "--threads", str(threads), "-o", out], 300)
        if r.returncode != 0:
            raise TestFailure("eval --threads %d failed: %s" % (threads, r.stderr))
        texts.append(r.stdout)
    if open(out1, "rb").read() != open(out2, "rb").read() or texts[0] != texts[1]:
        raise TestFailure("eval: 1 and 2 threads differ")
    evaluated = common.read_extxyz(out1)
    common.check_close(np.array([float(f["info"]["gap_energy"]) for f in evaluated]), energies(batched),
                       "eval's predictions vs predict's", 1e-12)
    print("3. eval on predict's labels: 1 and 2 threads identical, predictions equal predict's")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    return common.run_test("test_predict_batches", a.timeout, lambda workdir: run_checks(a.gapd, workdir),
                           keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
