#!/usr/bin/python3
"""scripts/speed_modes_study.py end to end on a small teacher (tests/data/librascal/model_small_zeta4_exact.json,
20 sparse points per species): labels frames, fits students with all features and with a selection, and checks
that every student reproduces the teacher it learned from, that float32 stays within 1e-3 meV/atom of float64,
and that the table and JSON are written; and scripts/bench_ab.py, which reads the same bench table. Timings are printed, never asserted (docs/benchmarks.md).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import e2e_common as common

p = argparse.ArgumentParser()
p.add_argument("--gapd", required=True)
args = p.parse_args()

teacher = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal", "model_small_zeta4_exact.json")
check = common.Checks()


with tempfile.TemporaryDirectory() as wd:
    subprocess.run([sys.executable, os.path.join(common.SOURCE_DIR, "scripts", "speed_modes_study.py"), "--gapd",
                    args.gapd, "--teacher", teacher, "--workdir", wd, "--train", "12", "--test", "3", "--counts", "150",
                    "--repeats", "1", "--threads", "2"], check=True, timeout=600)
    with open(os.path.join(wd, "speed_modes.json")) as f:
        result = json.load(f)
    check.that(os.path.exists(os.path.join(wd, "speed_modes.md")), "speed_modes.md written")
    names = [r["name"] for r in result["students"]]
    check.that(names == ["all features", "150 selected"], "students: %s" % names)
    for r in result["students"]:
        e64, f64 = r["vs_teacher64"]
        e32, _ = r["f32_vs_f64"]
        print("%s: %.4f meV/atom, %.2f meV/Å vs the teacher; float32 %.2e meV/atom; %.2f / %.2f ms" %
              (r["name"], e64, f64, e32, r["ms64"], r["ms32"]))
        check.that(math.isfinite(e64) and e64 < 5.0, "%s reproduces the teacher's energies (< 5 meV/atom)" % r["name"])
        check.that(math.isfinite(f64) and f64 < 100.0, "%s reproduces the teacher's forces (< 100 meV/Å)" % r["name"])
        check.that(0.0 < e32 < 1e-3, "%s: float32 within 1e-3 meV/atom of float64, and not identical" % r["name"])
        check.that(r["ms64"] > 0 and r["ms32"] > 0, "%s timed" % r["name"])

# scripts/bench_ab.py reads the same table (scripts/gapd_bench_table.py): one round of a build against itself.
ab = subprocess.run([sys.executable, os.path.join(common.SOURCE_DIR, "scripts", "bench_ab.py"), args.gapd, args.gapd,
                     teacher, "1", "--sizes", "2", "--repeats", "1"], capture_output=True, text=True, timeout=120)
print(ab.stdout.strip())
check.that(ab.returncode == 0 and "median of per-round ratios" in ab.stdout, "bench_ab.py compares two runs")
bad = subprocess.run([sys.executable, os.path.join(common.SOURCE_DIR, "scripts", "bench_ab.py"), args.gapd,
                      "/nonexistent/gapd", teacher, "1", "--sizes", "2", "--repeats", "1"], capture_output=True,
                     text=True, timeout=120)
check.that(bad.returncode != 0 and "cannot run /nonexistent/gapd" in bad.stderr,
           "bench_ab.py names a missing binary: %s" % bad.stderr.strip()[-200:])

check.exit_with_verdict("speed_modes_study")
