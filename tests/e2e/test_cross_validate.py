#!/usr/bin/python3
"""scripts/cross_validate.py on the cheap seed config: one fold's score is what `gapd fit` on the other folds +
`gapd eval` on it score (with the config's own 20% hold-out switched off); a variant that sets a value to what the
config already has changes nothing (the comparison is paired: same folds, same orders); a variant that changes
the energy sigma a hundredfold changes the errors; the [111] well of every variant is reported; bad input is
refused with a message naming it. Exit code 0 = pass.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import e2e_common as common

ROOT = common.SOURCE_DIR
SCRIPT = os.path.join(ROOT, "scripts", "cross_validate.py")
CONFIG = os.path.join(ROOT, "data", "fit_configs", "batio3_seed_cheap.yaml")
SEED_DATA = os.path.join(ROOT, "data", "batio3_pbesol_seed.extxyz")


def cv(gapd, *args):
    return subprocess.run([sys.executable, SCRIPT, "--gapd", gapd, "--config", CONFIG, "--threads", "1", *args],
                          capture_output=True, text=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import cross_validate
    from ase.io import read, write

    with tempfile.TemporaryDirectory() as tmp:
        p = cv(o.gapd, "--folds", "3", "--seeds", "5", "6", "--variant", "gap.sigma_energy=0.001",
               "--variant", "gap.sigma_energy=0.1", "--json", f"{tmp}/cv.json")
        print(p.stdout[-3000:], p.stderr[-2000:])
        check.that(p.returncode == 0, f"cross_validate.py runs (exit {p.returncode})")
        res = json.load(open(f"{tmp}/cv.json"))["results"] if p.returncode == 0 else {}
        base, same, loose = (res.get(k, {}) for k in ("config", "gap.sigma_energy=0.001", "gap.sigma_energy=0.1"))

        # Fold 0 of seed 5, fit directly: the config minus its own hold-out, trained on folds 1 and 2.
        frames = read(SEED_DATA, ":")
        held = cross_validate.folds_of(len(frames), 3, 5)[0]
        write(f"{tmp}/train.extxyz", [f for i, f in enumerate(frames) if i not in set(held)], format="extxyz")
        write(f"{tmp}/held.extxyz", [frames[i] for i in held], format="extxyz")
        text = open(CONFIG).read().replace("training_files: [../batio3_pbesol_seed.extxyz]",
                                           f"training_files: [{tmp}/train.extxyz]")
        text = text.replace("held_out_fraction: 0.2", "held_out_fraction: 0")
        text = "\n".join(f"output: {tmp}/direct.gapd" if line.startswith("output:") else line
                         for line in text.splitlines()) + "\n"
        open(f"{tmp}/direct.yaml", "w").write(text)
        common.run_cli([o.gapd, "fit", f"{tmp}/direct.yaml", "--threads", "1"])
        common.run_cli([o.gapd, "eval", "-m", f"{tmp}/direct.gapd", f"{tmp}/held.extxyz", "--report", f"{tmp}/direct",
                        "--threads", "1"])
        direct = json.load(open(f"{tmp}/direct.json"))
        fold0 = (base.get("folds") or {}).get("5", [{}])[0]
        check.that(fold0 and abs(fold0["energy"] - 1000 * direct["energy_per_atom"]["rmse"]) < 1e-9 and
                   abs(fold0["forces"] - 1000 * direct["forces"]["rmse"]) < 1e-9,
                   f"fold 1 of seed 5 scores what gapd fit on the other folds + eval score ({fold0} vs "
                   f"{1000 * direct['energy_per_atom']['rmse']:.6f}, {1000 * direct['forces']['rmse']:.6f})")

        change = same.get("change_percent", {})
        check.that(change and all(v is not None and abs(v[0]) < 1e-9 for v in change.values()),
                   f"a variant equal to the config changes nothing (paired folds and orders): {change}")
        loose_change = loose.get("change_percent", {}).get("energy")
        check.that(loose_change is not None and abs(loose_change[0]) > 1.0,
                   f"a hundredfold energy sigma changes the energy error ({loose_change})")
        w = [r.get("double_well", {}) for r in (base, same, loose)]
        check.that(all("max_abs_diff_meV" in x for x in w) and abs(w[0]["max_abs_diff_meV"] - w[1]["max_abs_diff_meV"]) < 1e-9
                   and abs(w[0]["cp2k_depth_meV"] - w[2]["cp2k_depth_meV"]) < 1e-12,
                   f"every variant's [111] well is reported against the same CP2K points ({w})")
        check.that("+-" in p.stdout and "[111] double well" in p.stdout, "the table shows paired changes and the well")

    for args, needle, what in (
            (["--variant", "gap.nosuch=1"], "gap.nosuch", "an override of a key the config does not have"),
            (["--variant", "sigma"], "KEY=VALUE", "a variant that is not KEY=VALUE"),
            ([], "--variant", "no variant"),
            (["--variant", "gap.zeta=2", "--folds", "1"], "--folds", "one fold"),
            (["--variant", "gap.zeta=2", "--double-well", "/nonexistent.json"], "/nonexistent.json", "a missing well file")):
        p = cv(o.gapd, *args)
        check.that(p.returncode != 0 and needle in p.stderr and "Traceback" not in p.stderr,
                   f"{what} is refused: {p.stderr.strip()[-200:]}")
    check.exit_with_verdict("cross_validate")


if __name__ == "__main__":
    main()
