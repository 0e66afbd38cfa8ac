#!/usr/bin/python3
"""End-to-end: `gapd serve` with an SA-GPR dipole model, driven by the project's fake i-PI (tests/e2e/fake_ipi.py;
ASE 3.22's SocketIOCalculator cannot read >= 2 bytes of extras).

Model: the small librascal GAP of tests/data/librascal and the SYNTHETIC dipole model of tests/data/dipole.
Structures: 5 randomly displaced copies of the 40-atom cubic BaTiO3 fixture, sent in i-PI's units.

Checks, frame by frame, against `gapd predict` on the structures exactly as gapd receives them:
  1. GAP + --dipole-model, all extras: dipole (e·Bohr), polarization (e/Bohr^2), partial_dipoles, cell_dipoles
     (e·Bohr), BEC (e, (3N, 3)) equal predict's (e·Å, e/Å^2, e) after unit conversion; energy too; the key set
     is the same in every reply; BEC satisfies i-PI's acoustic-sum-rule check.
  2. one native file with both sections (`gapd convert --dipole-model`): default extras = {"dipole"} only.
  3. --dipole-only (no --model): zero energy, forces, virial; same dipoles.
  4. cell dipoles with shells that fail: gapd reports the atom, closes cleanly and exits 1.
"""

import argparse
import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import BOHR_2018, HARTREE_2018, TestFailure, check_close as close
from fake_ipi import FakeIpi, Request, structure_request

DATA = os.path.join(common.SOURCE_DIR, "tests", "data")
GAP = os.path.join(DATA, "librascal", "model_small_zeta2_exact.json")
DIPOLES = os.path.join(DATA, "dipole", "synthetic_dipole.gapd")
ALL = "dipole,polarization,partial_dipoles,cell_dipoles,BEC"


def make_frames(nframes):
    base = common.read_extxyz(os.path.join(DATA, "librascal", "structures.extxyz"))[1]  # bto_40atom_cubic
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(nframes):
        pos = base["arrays"]["pos"] + rng.normal(0, 0.05, base["arrays"]["pos"].shape)
        h, ih, q = structure_request(base["cell"], pos)
        # What gapd computes with: wire values times gapd's Bohr (client_protocol/frame_conversion).
        seen = {"symbols": base["symbols"], "positions": q.reshape(-1, 3) * BOHR_2018, "cell": h.T * BOHR_2018}
        frames.append(((h, ih, q), seen))
    return frames


def serve(gapd, workdir, frames, extra_args, tag, template):
    name = "gapd-dip-%d-%s" % (os.getpid(), tag)
    log = os.path.join(workdir, "%s_serve.log" % tag)
    with FakeIpi(name, "unix") as ipi:
        proc = common.start_process([gapd, "serve", "-u", "-a", name, "-t", template, "--threads", "1",
                                     "--connect-timeout", "30"] + extra_args, log)
        try:
            results = []
            for k, ((h, ih, q), _) in enumerate(frames):
                req = Request(0, h, ih, q)
                ipi.run([req], 60, until=lambda: proc.poll() is not None)
                if req.result is None:
                    raise TestFailure("%s: gapd exited (code %s) at frame %d:\n%s"
                                      % (tag, proc.poll(), k, common.tail(log)))
                results.append(req.result)
        finally:
            ipi.close()  # EXIT to gapd
            code = common.wait_process(proc, 30, "gapd serve (%s)" % tag)
    if code != 0:
        raise TestFailure("%s: gapd serve exited %d:\n%s" % (tag, code, common.tail(log)))
    return results


def check_all_extras(results, predicted):
    keys = None
    worst = 0.0
    for k, (res, pred) in enumerate(zip(results, predicted)):
        energy, forces, virial, extras = res
        extras = dict(extras)
        extras.pop("raw")  # added by i-PI's parse_extra
        if keys is None:
            keys = sorted(extras)
            if keys != sorted(ALL.split(",")):
                raise TestFailure("extras keys %s, expected %s" % (keys, ALL))
        elif sorted(extras) != keys:
            raise TestFailure("frame %d: key set changed to %s" % (k, sorted(extras)))
        n = len(pred["symbols"])
        worst = max(worst, close(energy, float(pred["info"]["energy"]) / HARTREE_2018, "frame %d energy" % k))
        worst = max(worst, close(extras["dipole"], common.info_floats(pred, "dipole") / BOHR_2018,
                                 "frame %d dipole" % k))
        worst = max(worst, close(extras["polarization"],
                                 common.info_floats(pred, "polarization") * BOHR_2018 ** 2, "frame %d polarization" % k))
        worst = max(worst, close(extras["partial_dipoles"], pred["arrays"]["partial_dipoles"] / BOHR_2018,
                                 "frame %d partial_dipoles" % k))
        cells = pred["arrays"]["cell_dipoles"]
        ti = [i for i, s in enumerate(pred["symbols"]) if s == "Ti"]
        worst = max(worst, close(extras["cell_dipoles"], cells[ti] / BOHR_2018, "frame %d cell_dipoles" % k))
        # born_charges row i = BEC rows 3i..3i+2 flattened
        bec = np.asarray(extras["BEC"], float)
        worst = max(worst, close(bec, pred["arrays"]["born_charges"].reshape(3 * n, 3), "frame %d BEC" % k))
        # i-PI's driven_dynamics check (asr_threshold 1e-8 per atom)
        asr = bec.reshape(n, 3, 3).sum(axis=0) / n
        if not np.allclose(asr, 0, atol=1e-8 * n):
            raise TestFailure("frame %d: BEC violates the acoustic sum rule: %s" % (k, asr.ravel()))
        if np.abs(np.asarray(extras["cell_dipoles"]).sum(axis=0) - extras["dipole"]).max() > 1e-10:
            raise TestFailure("frame %d: cell dipoles do not sum to the dipole" % k)
    return worst


def run_checks(gapd, workdir):
    frames = make_frames(5)
    template = os.path.join(workdir, "template.extxyz")
    common.write_extxyz(template, [frames[0][1]])

    predicted = common.predict_frames(gapd, workdir, "all", [seen for _, seen in frames],
                                      ["-m", GAP, "--dipole-model", DIPOLES, "--extras", ALL])
    results = serve(gapd, workdir, frames, ["-m", GAP, "--dipole-model", DIPOLES, "--extras", ALL], "all",
                    template)
    worst = check_all_extras(results, predicted)
    print("1. GAP + dipoles, all extras: %d frames, worst relative difference to predict %.2g" %
          (len(frames), worst))

    both = os.path.join(workdir, "both.gapd")
    r = common.run([gapd, "convert", "-m", GAP, "-o", both, "--dipole-model", DIPOLES], timeout=60)
    if r.returncode != 0:
        raise TestFailure("gapd convert --dipole-model failed:\n" + r.stderr)
    results = serve(gapd, workdir, frames, ["-m", both], "both", template)
    for k, (res, pred) in enumerate(zip(results, predicted)):
        extras = {key: v for key, v in res[3].items() if key != "raw"}
        if sorted(extras) != ["dipole"]:
            raise TestFailure("combined file: default extras %s, expected only dipole" % sorted(extras))
        close(extras["dipole"], common.info_floats(pred, "dipole") / BOHR_2018, "combined frame %d" % k)
        close(res[0], float(pred["info"]["energy"]) / HARTREE_2018, "combined frame %d energy" % k)
    print("2. one file with GAP and dipole sections: default extras {'dipole'}, same numbers")

    results = serve(gapd, workdir, frames, ["--dipole-only", "--dipole-model", DIPOLES], "only", template)
    for k, (res, pred) in enumerate(zip(results, predicted)):
        energy, forces, virial, extras = res
        if energy != 0 or np.any(forces != 0) or np.any(virial != 0):
            raise TestFailure("dipole-only frame %d: non-zero energy/forces/virial" % k)
        close(extras["dipole"], common.info_floats(pred, "dipole") / BOHR_2018, "dipole-only frame %d" % k)
    print("3. --dipole-only: zero energy/forces/virial, same dipoles")

    name = "gapd-dip-%d-bad" % os.getpid()
    log = os.path.join(workdir, "bad_serve.log")
    with FakeIpi(name, "unix") as ipi:
        proc = common.start_process([gapd, "serve", "-u", "-a", name, "-t", template, "--threads", "1",
                                     "--dipole-only", "--dipole-model", DIPOLES, "--extras", "cell_dipoles",
                                     "--cell-shells", "1.0,4.2", "--no-reconnect"], log)
        try:
            req = Request(0, *frames[0][0])
            ipi.run([req], 60, until=lambda: proc.poll() is not None)
            code = common.wait_process(proc, 30, "gapd serve (bad shells)")
        finally:
            common.kill_process(proc)
    text = open(log).read()
    if code != 1 or "cell dipoles" not in text or req.result is not None:
        raise TestFailure("bad shells: expected exit 1 with a cell-dipole error, got %s:\n%s" % (code, text))
    print("4. failing cell-dipole shells: exit 1, message: %s" %
          [l for l in text.splitlines() if "cell dipoles" in l][0].strip())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    return common.run_test("test_dipole_serving", a.timeout, lambda workdir: run_checks(a.gapd, workdir), keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
