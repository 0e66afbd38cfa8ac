#!/usr/bin/python3
"""`gapd select` end to end: picks from a candidate file against a reference, keeps every key of the picked
frames, never picks a copy of a reference structure, honours --per-group, and refuses bad input with one line."""
import argparse
import os
import sys

import numpy as np
import ase
import ase.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import SOURCE_DIR, TestFailure, run_cli, run_test  # noqa: E402

MODEL = os.path.join(SOURCE_DIR, "data", "models", "batio3_default.gapd")
TRAIN = os.path.join(SOURCE_DIR, "data", "batio3_pbesol_train.extxyz")


def candidates(reference):
    """Copies of two reference frames plus perturbed cells at three 'temperatures' (noise levels)."""
    rng = np.random.default_rng(5)
    out = []
    for k, f in enumerate(reference[:2]):
        c = ase.Atoms(f.get_chemical_symbols(), positions=f.positions, cell=f.cell, pbc=True)
        c.info = {"structure_id": f"copy{k}", "config_type": "copy"}
        out.append(c)
    base = [f for f in reference if len(f) == 10][0]
    for t, noise in (("T10", 0.01), ("T100", 0.05), ("T400", 0.15)):
        for k in range(4):
            c = ase.Atoms(base.get_chemical_symbols(), positions=base.positions + rng.normal(0, noise, base.positions.shape),
                          cell=base.cell, pbc=True)
            c.info = {"structure_id": f"{t}-{k}", "config_type": f"md-{t}", "md_temperature": noise}
            out.append(c)
    return out


def body(workdir, gapd):
    reference = ase.io.read(TRAIN, index=":")
    pool = os.path.join(workdir, "pool.extxyz")
    ase.io.write(pool, candidates(reference), format="extxyz")
    out = os.path.join(workdir, "picks.extxyz")
    p = run_cli([gapd, "select", pool, "-m", MODEL, "-r", TRAIN, "-n", "6", "-o", out, "--threads", "1"])
    picks = ase.io.read(out, index=":")
    ids = [f.info["structure_id"] for f in picks]
    if len(picks) != 6 or any(i.startswith("copy") for i in ids):
        raise TestFailure(f"expected 6 picks without the reference copies, got {ids}")
    if not ids[0].startswith("T400"):
        raise TestFailure(f"the noisiest cell should be the most novel, got {ids}")
    d = [float(f.info["select_distance"]) for f in picks]
    if any(b > a + 1e-12 for a, b in zip(d, d[1:])) or [f.info["select_rank"] for f in picks] != list(range(1, 7)):
        raise TestFailure(f"distances must not increase and ranks run 1..6: {d}")
    if "T400-0" not in p.stdout and not any(i in p.stdout for i in ids):
        raise TestFailure("the table on stdout names the picks")
    if any("config_type" not in f.info or "md_temperature" not in f.info for f in picks):
        raise TestFailure("picked frames must keep their info keys")

    q = run_cli([gapd, "select", pool, "-m", MODEL, "-r", TRAIN, "-n", "6", "--per-group", "2", "-o", out,
                 "--threads", "1"])
    groups = [f.info["config_type"] for f in ase.io.read(out, index=":")]
    if sorted(groups) != ["md-T10"] * 2 + ["md-T100"] * 2 + ["md-T400"] * 2:
        raise TestFailure(f"--per-group 2 over three groups should give two each, got {groups}")

    bad = run_cli([gapd, "select", pool, "-m", MODEL, "-n", "3", "-o", out, "--per-group", "1",
                   "--group-key", "nonexistent"], check=False)
    if bad.returncode == 0 or "nonexistent" not in bad.stderr or len(bad.stderr.strip().splitlines()) > 4:
        raise TestFailure(f"a missing group key must be a short error naming it: {bad.stderr}")
    return f"picks {ids}; per-group {sorted(set(groups))} ({q.returncode == 0})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    return run_test("select_cli", args.timeout, lambda w: body(w, args.gapd))


if __name__ == "__main__":
    sys.exit(main())
