#!/usr/bin/python3
"""End-to-end: the GAP novelty (models/gap/gap_novelty.hpp, docs/novelty.md) from `gapd predict --novelty` and
`gapd serve --novelty`.

1. predict, default model, on its own training set: one value per atom in [0, 1]; the smallest is ~0 (the
   model's sparse points are training environments), and the training frames are less novel than the same
   cells compressed by 10%.
2. serve --novelty (the project's fake i-PI, tests/e2e/fake_ipi.py) on 4 displaced copies of the 40-atom
   fixture: the extras key "gap_novelty" (one number per atom, dimensionless) equals predict's array on the
   structures as gapd receives them; with a dipole model the dipole extras are still there.
3. --novelty with --dipole-only (no GAP): a one-line error naming --novelty, exit 1, for serve and predict.
"""

import argparse
import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure, check_close as close
from test_dipole_serving import DIPOLES, GAP, make_frames, serve

DEFAULT_MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")
TRAIN = os.path.join(common.SOURCE_DIR, "data", "batio3_pbesol_train.extxyz")


def novelty_of(frames):
    return [np.asarray(f["arrays"]["gap_novelty"], float).ravel() for f in frames]


def run_checks(gapd, workdir):
    train = [{"symbols": f["symbols"], "positions": f["arrays"]["pos"], "cell": f["cell"]}
             for f in common.read_extxyz(TRAIN)]
    predicted = novelty_of(common.predict_frames(gapd, workdir, "train", train, ["-m", DEFAULT_MODEL, "--novelty"]))
    values = np.concatenate(predicted)
    if values.size != sum(len(f["symbols"]) for f in train) or values.min() < 0 or values.max() > 1:
        raise TestFailure("predict --novelty: %d values in [%g, %g], expected one per atom in [0, 1]"
                          % (values.size, values.min(), values.max()))
    if values.min() > 1e-8:
        raise TestFailure("predict --novelty: the smallest value on the training set is %g; the model's sparse "
                          "points are training environments, so some atom should be at ~0" % values.min())
    squeezed = []
    for f in train:
        g = {"symbols": f["symbols"], "positions": f["positions"] * 0.9, "cell": f["cell"] * 0.9}
        squeezed.append(g)
    compressed = novelty_of(common.predict_frames(gapd, workdir, "squeezed", squeezed,
                                                  ["-m", DEFAULT_MODEL, "--novelty"]))
    more = sum(c.max() > p.max() for c, p in zip(compressed, predicted))
    if more < 0.9 * len(train):
        raise TestFailure("predict --novelty: only %d of %d training frames are less novel than the same cell "
                          "compressed by 10%%" % (more, len(train)))
    print("1. predict --novelty on the %d training frames: median %.2g, max %.2g, min %.2g; compressed by 10%%: "
          "median %.2g (more novel in %d of %d frames)" % (len(train), np.median(values), values.max(), values.min(),
                                                          np.median(np.concatenate(compressed)), more, len(train)))

    frames = make_frames(4)
    template = os.path.join(workdir, "template.extxyz")
    common.write_extxyz(template, [frames[0][1]])
    args = ["-m", GAP, "--dipole-model", DIPOLES, "--extras", "dipole"]
    reference = novelty_of(common.predict_frames(gapd, workdir, "served", [seen for _, seen in frames],
                                                 args + ["--novelty"]))
    results = serve(gapd, workdir, frames, args + ["--novelty"], "novelty", template)
    worst = 0.0
    for k, (res, ref) in enumerate(zip(results, reference)):
        extras = {key: v for key, v in res[3].items() if key != "raw"}
        if sorted(extras) != ["dipole", "gap_novelty"]:
            raise TestFailure("serve --novelty frame %d: extras keys %s, expected dipole and gap_novelty"
                              % (k, sorted(extras)))
        worst = max(worst, close(np.asarray(extras["gap_novelty"], float), ref, "frame %d gap_novelty" % k, rel=1e-10))
    print("2. serve --novelty: 'gap_novelty' (%d per frame) equals predict's on %d frames (worst relative %.2g), "
          "beside the dipole" % (reference[0].size, len(frames), worst))

    r = common.run([gapd, "predict", "--dipole-only", "--dipole-model", DIPOLES, "--novelty", "-o",
                    os.path.join(workdir, "x.extxyz"), template], timeout=60)
    if r.returncode != 1 or "--novelty needs a GAP model" not in r.stderr or len(r.stderr.strip().splitlines()) != 1:
        raise TestFailure("predict --dipole-only --novelty: exit %d, stderr %r" % (r.returncode, r.stderr))
    r = common.run([gapd, "serve", "-u", "-a", "never-%d" % os.getpid(), "-t", template, "--dipole-only",
                    "--dipole-model", DIPOLES, "--novelty", "--connect-timeout", "5"], timeout=60)
    if r.returncode != 1 or "--novelty needs a GAP model" not in r.stderr:
        raise TestFailure("serve --dipole-only --novelty: exit %d, stderr %r" % (r.returncode, r.stderr))
    print("3. --novelty without a GAP: %s" % r.stderr.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    return common.run_test("test_novelty", a.timeout, lambda workdir: run_checks(a.gapd, workdir), keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
