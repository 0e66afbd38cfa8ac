#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): ipi_inputs/phase_scan/scan.py runs a two-temperature heating
scan of the 320-atom cube (100 steps each, the default model) and scripts/analysis/phase_sequence.py classifies it.

Checks: both segments finish (done.json, every properties row); the second segment starts from the first one's
last frame (its init.xyz has last.xyz's positions) and i-PI's <h0> of the second segment is that frame's cell;
the input really is NST at 1 atm on the diagonal and the temperatures are the scan's; rerunning the same command
skips both segments (nothing rewritten); the analysis writes a row per temperature.

Without IPI_ROOT: prints a skip message and exits 77.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

SCAN = os.path.join(common.SOURCE_DIR, "ipi_inputs", "phase_scan", "scan.py")
ANALYSIS = os.path.join(common.SOURCE_DIR, "scripts", "analysis", "phase_sequence.py")
DIPOLE_MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")


def positions(path):
    lines = open(path).read().splitlines()
    n = int(lines[0])
    return np.array([[float(x) for x in l.split()[1:4]] for l in lines[2:2 + n]]), lines[1]


def body(a, gapd, workdir):
    out_dir = os.path.join(workdir, "heat")
    cmd = [sys.executable, SCAN, out_dir, "--order", "heat", "--temperatures", "10,30", "--steps", str(a.steps),
           "--model", DIPOLE_MODEL]
    env = dict(os.environ, GAPD=gapd)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=a.timeout / 2)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        raise TestFailure("scan.py exited %d:\n%s\n%s" % (r.returncode, r.stdout, common.tail(os.path.join(out_dir, "scan.log"))))
    for t in (10, 30):
        seg = os.path.join(out_dir, "T%dK" % t)
        columns, rows = common.read_ipi_properties(os.path.join(seg, "scan.out"))
        steps = common.ipi_column(columns, rows, "step")
        if steps[-1] != a.steps or not np.all(np.diff(steps) == 10):
            raise TestFailure("%s/scan.out: steps %s, expected every 10th up to %d" % (seg, steps.tolist(), a.steps))
        with open(os.path.join(seg, "done.json")) as f:
            if json.load(f)["steps"] != a.steps:
                raise TestFailure("%s/done.json: wrong step count" % seg)
        text = open(os.path.join(seg, "input.xml")).read()
        if not re.search(r"<temperature units='kelvin'>\s*%d(\.0*)?\s*</temperature>" % t, text):
            raise TestFailure("%s/input.xml: ensemble temperature is not %d K" % (seg, t))
        if "<dynamics mode='nst'>" not in text or "1.01325e-4, 0, 0, 0, 1.01325e-4" not in text:
            raise TestFailure("%s/input.xml: not NST at 1 atm" % seg)
    last, last_comment = positions(os.path.join(out_dir, "T10K", "last.xyz"))
    start, _ = positions(os.path.join(out_dir, "T30K", "init.xyz"))
    if not np.allclose(last, start, atol=1e-5):
        raise TestFailure("the 30 K segment did not start from the 10 K segment's last frame")
    abc = [float(x) for x in re.search(r"CELL\(abcABC\):\s*([-0-9.eE\s]+?)\s+Step", last_comment).group(1).split()]
    h0 = re.search(r"<h0 units='angstrom'>\s*\[([^\]]*)\]", open(os.path.join(out_dir, "T30K", "input.xml")).read())
    h0 = np.array([float(x) for x in h0.group(1).split(",")])
    if not np.allclose(np.sort(np.abs(h0[[0, 4, 8]])), np.sort(abc[:3]), rtol=1e-3):
        raise TestFailure("h0 of the 30 K segment %s is not the 10 K segment's last cell %s" % (h0, abc))
    stamp = os.path.getmtime(os.path.join(out_dir, "T30K", "done.json"))
    r2 = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=60)
    if r2.returncode != 0 or r2.stdout.count("done earlier") != 2 or \
            os.path.getmtime(os.path.join(out_dir, "T30K", "done.json")) != stamp:
        raise TestFailure("a rerun did not skip the finished segments:\n" + r2.stdout)
    report = os.path.join(workdir, "ps.json")
    r3 = subprocess.run([sys.executable, ANALYSIS, out_dir, "--gapd", gapd, "--model", DIPOLE_MODEL,
                         "--equilibration", "0", "--window", "0.1", "--blocks", "2", "--json", report],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=a.timeout / 2)
    print(r3.stdout.rstrip())
    if r3.returncode != 0:
        raise TestFailure("phase_sequence.py exited %d: %s" % (r3.returncode, r3.stdout))
    with open(report) as f:
        rows = json.load(f)["heat"]["segments"]
    if [row["temperature_K"] for row in rows] != [10, 30]:
        raise TestFailure("analysis rows: %s" % [row["temperature_K"] for row in rows])


def main():
    return common.ipi_input_test_main("test_ipi_phase_scan", __doc__.split("\n")[0], body, steps=100, timeout=500)


if __name__ == "__main__":
    sys.exit(main())
