#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): scripts/phase_runs.py runs its whole chain at a few steps per
segment (cooling and heating scans of two temperatures, a three-temperature eps scan, then phase_sequence.py,
curie_weiss.py and susceptibility.py) into a temporary WORKDIR and --results directory.

Checks: the heating scan starts from the model's own relaxed R cell (WORKDIR/init_R.extxyz, 320 atoms, a
rhombohedral cell with a and alpha within 0.01 Å and 0.05 deg of the committed R5 cell,
data/phases/model_relaxed.extxyz); every segment
finishes and every analysis output exists (named by the model's sha, 8 digits); --status
counts the segments; a rerun skips every finished segment (nothing rewritten) and redoes the analyses; a WORKDIR
made for another model is refused by name; nothing is written into the repository's data/phases or docs/figures.

Without i-PI: prints a skip message and exits 77.
"""
import glob
import json
import os
import subprocess
import sys

import e2e_common as common
from e2e_common import TestFailure

SCRIPT = os.path.join(common.SOURCE_DIR, "scripts", "phase_runs.py")
MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")
TRIAL = ["--steps-scale", "0.01", "--cool-temperatures", "300,150", "--heat-temperatures", "150,300",
         "--eps-temperatures", "400,350,300", "--equilibration", "0.02", "--window", "0.05", "--blocks", "2", "--scan-blocks", "2",
         "--chi-tmax", "0.2"]


def check_heating_start(init_r, first_segment):
    import ase.io
    import numpy as np
    if not os.path.exists(init_r):
        raise TestFailure(f"no {init_r}: the heating scan did not start from the model's relaxed R cell")
    big = ase.io.read(init_r)
    a, b, c, alpha, beta, gamma = big.cell.cellpar()
    if len(big) != 320 or max(a, b, c) - min(a, b, c) > 1e-6 or max(alpha, beta, gamma) - min(alpha, beta, gamma) > 1e-6:
        raise TestFailure(f"{init_r}: not a 4x4x4 rhombohedral cell: {len(big)} atoms, {big.cell.cellpar()}")
    # the R5 cell this model relaxes to (examples/relax_phases.py, committed): a ~4.018 Å, alpha ~89.82 deg
    r5 = [f for f in ase.io.read(os.path.join(common.SOURCE_DIR, "data", "phases", "model_relaxed.extxyz"), ":")
          if f.info.get("label") == "R5"][0]
    ra, _, _, ralpha, _, _ = r5.cell.cellpar()
    if abs(a / 4 - ra) > 0.01 or abs(alpha - ralpha) > 0.05 or not 89.5 < alpha < 89.95:
        raise TestFailure(f"{init_r}: a/4 = {a / 4:.4f} Å, alpha = {alpha:.3f} deg; the committed R5: {ra:.4f}, {ralpha:.3f}")
    with open(os.path.join(first_segment, "done.json")) as f:
        start = json.load(f)["start"]
    if os.path.abspath(start) != os.path.abspath(init_r):
        raise TestFailure(f"the first heating segment started from {start}, not from {init_r}")


def body(a, gapd, workdir):
    sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts"))
    from read_gapd_model import model_sha256_16
    tag = model_sha256_16(MODEL)[:8]
    runs, results = os.path.join(workdir, "runs"), os.path.join(workdir, "results")
    repo_outputs = set(glob.glob(os.path.join(common.SOURCE_DIR, "data", "phases", "*")) +
                       glob.glob(os.path.join(common.SOURCE_DIR, "docs", "figures", "*")))
    cmd = [sys.executable, SCRIPT, runs, "--gapd", gapd, "--results", results] + TRIAL
    env = dict(os.environ, PHASE_RUNS_POLL_FAST="1")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=a.timeout)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        logs = "".join(common.tail(os.path.join(runs, f"{n}.log")) for n in ("cool", "heat", "eps")
                       if os.path.exists(os.path.join(runs, f"{n}.log")))
        raise TestFailure(f"phase_runs.py exited {r.returncode}:\n{r.stdout}\n{logs}")
    for name, temps in (("cool", (300, 150)), ("heat", (150, 300)), ("eps", (400, 350, 300))):
        for t in temps:
            with open(os.path.join(runs, name, f"T{t}K", "done.json")) as f:
                if json.load(f)["steps"] != (100 if name != "eps" else 250):
                    raise TestFailure(f"{name} T{t}K: not the scaled step count")
    check_heating_start(os.path.join(runs, "init_R.extxyz"), os.path.join(runs, "heat", "T150K"))
    want = [f"phase_sequence_cool_{tag}.json", f"phase_sequence_cool_{tag}.png", f"phase_sequence_heat_{tag}.json",
            f"phase_sequence_heat_{tag}.png", f"eps_cool_50ps_{tag}.json", f"curie_weiss_cool_50ps_{tag}.txt",
            f"curie_weiss_cool_50ps_{tag}.png", f"chi_300K_{tag}.dat", f"chi_300K_{tag}.png"]
    missing = [w for w in want if not (os.path.exists(os.path.join(results, w)) and
                                       os.path.getsize(os.path.join(results, w)) > 0)]
    if missing:
        raise TestFailure(f"analysis outputs missing or empty: {missing}")
    with open(os.path.join(results, f"phase_sequence_cool_{tag}.json")) as f:
        rows = json.load(f)["cool"]["segments"]
    if [row["temperature_K"] for row in rows] != [300, 150]:
        raise TestFailure(f"cooling analysis rows: {[row['temperature_K'] for row in rows]}")

    s = subprocess.run([sys.executable, SCRIPT, runs, "--status"] + TRIAL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    if "cool 2/2, heat 2/2, eps 3/3" not in s.stdout:
        raise TestFailure(f"--status: {s.stdout}")
    # A segment of a non-integer temperature is counted under scan.py's own name for it (T12p5K).
    odd = os.path.join(workdir, "odd")
    os.makedirs(os.path.join(odd, "cool", "T12p5K"))
    with open(os.path.join(odd, "cool", "T12p5K", "done.json"), "w") as f:
        json.dump({"steps": 100}, f)
    s2 = subprocess.run([sys.executable, SCRIPT, odd, "--status"] + TRIAL + ["--cool-temperatures", "300,12.5"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    if "cool 1/2" not in s2.stdout:
        raise TestFailure(f"--status with a 12.5 K segment done: {s2.stdout}")
    stamp = os.path.getmtime(os.path.join(runs, "heat", "T300K", "done.json"))
    r2 = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=a.timeout)
    if r2.returncode != 0 or " started " in r2.stdout or "analyses written" not in r2.stdout or \
            os.path.getmtime(os.path.join(runs, "heat", "T300K", "done.json")) != stamp:
        raise TestFailure("a rerun did not skip the finished scans (or did not redo the analyses):\n" + r2.stdout)

    other = os.path.join(workdir, "other.gapd")
    with open(MODEL, "rb") as src, open(other, "wb") as dst:
        dst.write(src.read() + b"\n")
    r3 = subprocess.run([sys.executable, SCRIPT, runs, "--gapd", gapd, "--model", other] + TRIAL,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    if r3.returncode == 0 or "use another WORKDIR" not in r3.stdout:
        raise TestFailure(f"a WORKDIR of another model was not refused: {r3.stdout}")
    now = set(glob.glob(os.path.join(common.SOURCE_DIR, "data", "phases", "*")) +
              glob.glob(os.path.join(common.SOURCE_DIR, "docs", "figures", "*")))
    if now != repo_outputs:
        raise TestFailure(f"--results ignored: wrote {sorted(now - repo_outputs)} into the repository")


def main():
    return common.ipi_input_test_main("test_phase_runs", __doc__.split("\n")[0], body, steps=0, timeout=400)


if __name__ == "__main__":
    sys.exit(main())
