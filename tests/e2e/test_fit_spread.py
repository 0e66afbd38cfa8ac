#!/usr/bin/python3
"""scripts/fit_spread.py (the held-out errors' spread over the training frames' order) on the cheap seed config:
its fit in the committed order scores exactly what `gapd fit` + `gapd eval` of the config itself score (the
config rewrite changes nothing but the paths), the shuffled orders give other models (the sparse points move), the
summary is consistent (min <= mean <= max over --orders fits), and bad input is refused with a message naming it.
Exit code 0 = pass.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import e2e_common as common

ROOT = common.SOURCE_DIR
SCRIPT = os.path.join(ROOT, "scripts", "fit_spread.py")
CONFIG = os.path.join(ROOT, "data", "fit_configs", "batio3_seed_cheap.yaml")
TEST = os.path.join(ROOT, "data", "batio3_pbesol_test.extxyz")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, SCRIPT, "--gapd", o.gapd, "--config", CONFIG, "--orders", "3",
                            "--json", f"{tmp}/s.json", "--threads", "1"], capture_output=True, text=True, timeout=300)
        print(p.stdout[-2000:], p.stderr[-2000:])
        check.that(p.returncode == 0, f"fit_spread.py runs (exit {p.returncode})")
        res = json.load(open(f"{tmp}/s.json")) if p.returncode == 0 else {"fits": {}, "summary": {}}

        # The same config fit directly, only its output moved into tmp.
        text = open(CONFIG).read().replace("training_files: [../batio3_pbesol_seed.extxyz]",
                                           f"training_files: [{ROOT}/data/batio3_pbesol_seed.extxyz]")
        text = "\n".join(f"output: {tmp}/direct.gapd" if line.startswith("output:") else line
                         for line in text.splitlines()) + "\n"
        open(f"{tmp}/direct.yaml", "w").write(text)
        common.run_cli([o.gapd, "fit", f"{tmp}/direct.yaml", "--threads", "1"])
        common.run_cli([o.gapd, "eval", "-m", f"{tmp}/direct.gapd", TEST, "--report", f"{tmp}/direct", "--threads", "1"])
        direct = json.load(open(f"{tmp}/direct.json"))
        committed = res["fits"].get("committed", {})
        check.that(committed and abs(committed["energy"] - 1000 * direct["energy_per_atom"]["rmse"]) < 1e-9 and
                   abs(committed["forces"] - 1000 * direct["forces"]["rmse"]) < 1e-9,
                   f"the committed order scores what gapd fit + eval of the config score ({committed} vs direct "
                   f"{1000 * direct['energy_per_atom']['rmse']:.6f}, {1000 * direct['forces']['rmse']:.6f})")
        shuffled = [v for k, v in res["fits"].items() if k != "committed"]
        check.that(len(shuffled) == 3 and any(abs(v["energy"] - committed.get("energy", 0)) > 1e-6 for v in shuffled),
                   "three shuffled fits, and another order gives another model")
        e = res["summary"].get("energy") or {}
        check.that(e.get("n") == 3 and e["min"] <= e["mean"] <= e["max"] and e["std"] > 0,
                   f"the summary is over the shuffled fits: {e}")
        check.that("note:" in p.stdout and "held_out_fraction" in p.stdout,
                   "a config that holds out frames itself gets the note that the order changes those too")

        p = subprocess.run([sys.executable, SCRIPT, "--gapd", o.gapd, "--config", CONFIG, "--orders", "1"],
                           capture_output=True, text=True)
        check.that(p.returncode != 0 and "--orders" in p.stderr, f"--orders 1 is refused: {p.stderr.strip()}")
        p = subprocess.run([sys.executable, SCRIPT, "--gapd", o.gapd, "--test", f"{tmp}/nosuch.extxyz"],
                           capture_output=True, text=True)
        check.that(p.returncode != 0 and "nosuch.extxyz" in p.stderr, f"a missing test file is named: {p.stderr.strip()}")
    check.exit_with_verdict("fit_spread")


if __name__ == "__main__":
    main()
