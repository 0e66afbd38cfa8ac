#!/usr/bin/python3
"""scripts/learning_curve.py on the cheap seed config (38 frames): subsets of 12 and 24 frames plus the full split,
two subsets each; the curve in the JSON is the mean/std of its own fits, small subsets score worse on forces than
the full split, the power-law exponent is what a log-log least-squares line through the curve gives (and
power_law() recovers an exact n^-0.5), the PNG is written, and sizes outside 2..N-1 are refused by name.
Exit code 0 = pass.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

import e2e_common as common

ROOT = common.SOURCE_DIR
SCRIPT = os.path.join(ROOT, "scripts", "learning_curve.py")
CONFIG = os.path.join(ROOT, "data", "fit_configs", "batio3_seed_cheap.yaml")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import learning_curve  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    check.that(abs(learning_curve.power_law([10, 20, 40], [10 * n ** -0.5 for n in (10, 20, 40)]) - 0.5) < 1e-12,
               "power_law recovers the exponent of an exact power law")
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, SCRIPT, "--gapd", o.gapd, "--config", CONFIG, "--sizes", "24", "12",
                            "--subsets", "2", "--json", f"{tmp}/c.json", "--png", f"{tmp}/c.png", "--threads", "1"],
                           capture_output=True, text=True, timeout=300)
        print(p.stdout[-2500:], p.stderr[-2000:])
        check.that(p.returncode == 0, f"learning_curve.py runs (exit {p.returncode})")
        res = json.load(open(f"{tmp}/c.json")) if p.returncode == 0 else {"fits": [], "curve": [], "frames": 0}
        check.that([r["n"] for r in res["curve"]] == [12, 24, res["frames"]] and res["frames"] == 38,
                   f"sizes sorted, the full split last ({[r['n'] for r in res['curve']]}, {res['frames']} frames)")
        check.that(len(res["fits"]) == 6 and all(f["energy"] > 0 and f["forces"] > 0 for f in res["fits"]),
                   "two fits per size, each scored")
        ok = True
        for row in res["curve"]:
            vals = [f["forces"] for f in res["fits"] if f["n"] == row["n"]]
            ok &= abs(row["forces"]["mean"] - statistics.mean(vals)) < 1e-9 and row["forces"]["n"] == 2
        check.that(ok, "the curve is the mean of its own fits")
        curve = res["curve"]
        if curve:
            check.that(curve[0]["forces"]["mean"] > curve[-1]["forces"]["mean"],
                       f"12 frames score worse on forces than 38 ({curve[0]['forces']['mean']:.1f} vs "
                       f"{curve[-1]['forces']['mean']:.1f} meV/Å)")
            xs = [math.log(r["n"]) for r in curve]
            ys = [math.log(r["energy"]["mean"]) for r in curve]
            mx, my = statistics.mean(xs), statistics.mean(ys)
            b = -sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            check.that(abs(res["power_law_exponent"]["energy"] - b) < 1e-9,
                       f"the exponent is the log-log slope of the curve ({res['power_law_exponent']['energy']} vs {b})")
        check.that(os.path.getsize(f"{tmp}/c.png") > 10000 if os.path.exists(f"{tmp}/c.png") else False, "PNG written")

        p = subprocess.run([sys.executable, SCRIPT, "--gapd", o.gapd, "--config", CONFIG, "--sizes", "38"],
                           capture_output=True, text=True)
        check.that(p.returncode != 0 and "--sizes 38" in p.stderr and "38 frames" in p.stderr,
                   f"a size as large as the split is refused: {p.stderr.strip()}")
    check.exit_with_verdict("learning_curve")


if __name__ == "__main__":
    main()
