#!/usr/bin/python3
"""Choose a fit setting by K-fold cross-validation on the training split, so that the test split stays a test.

    /usr/bin/python3 scripts/cross_validate.py --variant gap.sigma_energy=0.0005 --variant gap.sigma_energy=0.00025
    /usr/bin/python3 scripts/cross_validate.py --folds 5 --seeds 7 11 23 \\
        --variant "gap.sigma_energy=0.0005,gap.sigma_virial=0.01" --json cv.json

The configuration as it is (the baseline) and every --variant (comma-separated overrides of `section.key` or
top-level `key` lines of the YAML; refit_scores.with_overrides) are fit on the same K-1 folds and scored by
`gapd eval` on the K-th (the config's own validation.held_out_fraction is set to 0: the folds are the validation), for every fold and every seed of the fold split. Per seed the K folds' errors are pooled
into one RMSE per quantity (energy and virial per atom, force components, dipole per atom); the table shows the
mean over seeds and, for each variant, its paired change against the baseline (mean over seeds +- standard
error): the same folds and frame orders for every variant, so the difference is the setting's and not the luck of
the split. A change smaller than two standard errors is not resolved.

With the CP2K points of the PBEsol [111] double well (--double-well, default data/double_well_111.json;
scripts/dft/double_well.py), every variant is also fit once on the whole training split and its well is compared
with CP2K's (largest difference and depth, meV/f.u.): a physical check that no fold scores.

Cost: (variants + 1) x (K x seeds + 1) fits; ~8 s each for the default config on 2 cores (~6 min for two
variants, 5 folds, 3 seeds). Progress and ETA on stdout.
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from refit_scores import (KEYS, RefitError, add_config_arguments, evaluate, fit, load_training,  # noqa: E402
                          pooled, scores, with_overrides, write_frames)

DOUBLE_WELL = os.path.join(ROOT, "data", "double_well_111.json")


def split_top_level(text):
    """'a=1,b={x: 1, y: 2}' -> ['a=1', 'b={x: 1, y: 2}']: commas inside {} or [] belong to a YAML flow value."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c in "{[") - (c in "}]")
        if c == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return items + [text[start:]]


def parse_variant(text):
    """'a.b=1,c=2' -> {'a.b': '1', 'c': '2'} (a value may be a flow map or list: 'gap.sparse_points={O: 400, Ti:
    300}'); SystemExit naming the bad item."""
    out = {}
    for item in split_top_level(text):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SystemExit(f"cross_validate: --variant {text!r}: '{item}' is not KEY=VALUE")
        out[name.strip()] = value.strip()
    return out


def without_inner_validation(text):
    """Config TEXT with validation.held_out_fraction 0: the folds are the validation, and gapd fit's own hold-out
    (default 0.2) would train every fold's model on fewer frames."""
    try:
        return with_overrides(text, {"validation.held_out_fraction": "0"})
    except RefitError:
        lines = text.splitlines()
        heads = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == "validation:"]
        if heads:
            lines.insert(heads[0] + 1, "  held_out_fraction: 0")
        else:
            lines += ["validation:", "  held_out_fraction: 0"]
        return "\n".join(lines) + "\n"


def folds_of(n, k, seed):
    """K disjoint folds of range(n): a seeded shuffle dealt round-robin (sizes differ by at most one)."""
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[j::k] for j in range(k)]


def double_well(gapd, model, cp2k_json, workdir, tag):
    """(largest |model - CP2K|, model depth, CP2K depth) of the [111] well in meV/f.u. (double_well.py report)."""
    out = os.path.join(workdir, f"well_{tag}.json")
    cmd = [sys.executable, os.path.join(ROOT, "scripts", "dft", "double_well.py"), "report", "--cp2k-json", cp2k_json,
           "-m", model, "--gapd", gapd, "--json", out]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RefitError(f"double_well.py report failed: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    with open(out) as f:
        w = json.load(f)
    return w["max_abs_diff_meV"], w["model_depth_meV"], w["cp2k_depth_meV"]


def paired_change(base, other):
    """Relative change of OTHER against BASE per seed (lists of equal length): (mean, standard error) in %."""
    rel = [100.0 * (o / b - 1.0) for b, o in zip(base, other) if b and o is not None]
    if not rel:
        return None
    se = statistics.stdev(rel) / math.sqrt(len(rel)) if len(rel) > 1 else float("nan")
    return statistics.mean(rel), se


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(ap)
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="a setting to compare with the config as it is (repeat for several)")
    ap.add_argument("--folds", type=int, default=5, help="K of K-fold (default 5)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23], help="seeds of the fold splits (7 11 23)")
    ap.add_argument("--double-well", default=DOUBLE_WELL, metavar="JSON",
                    help="CP2K [111] well points (double_well.py report --json); 'none' to skip "
                         "(default data/double_well_111.json)")
    ap.add_argument("--json", help="write every fold's scores and the summary here")
    a = ap.parse_args()
    if not a.variant:
        raise SystemExit("cross_validate: give at least one --variant to compare with the configuration")
    if a.folds < 2:
        raise SystemExit(f"cross_validate: --folds {a.folds}: need at least 2")
    well = None if a.double_well == "none" else a.double_well
    if well and not os.path.isfile(well):
        raise SystemExit(f"cross_validate: --double-well {well}: no such file ('none' to skip)")
    files, frames = load_training("cross_validate", a)
    if len(frames) < a.folds:
        raise SystemExit(f"cross_validate: {len(frames)} training frames for {a.folds} folds")
    with open(a.config) as f:
        base_text = f.read()
    variants = {"config": {}}
    for text in a.variant:
        variants[text] = parse_variant(text)

    try:  # every override is checked before the first fit
        texts = {name: without_inner_validation(with_overrides(base_text, ov)) for name, ov in variants.items()}
    except RefitError as e:
        raise SystemExit(f"cross_validate: {a.config}: {e}")

    results = {name: {"overrides": ov, "seeds": {}} for name, ov in variants.items()}
    total = len(variants) * (len(a.seeds) * a.folds + (1 if well else 0))
    done, t0 = 0, time.time()

    def tick(what):
        nonlocal done
        done += 1
        eta = (time.time() - t0) / done * (total - done)
        print(f"[{done}/{total}] {what}; ETA {eta / 60:.1f} min", flush=True)

    with tempfile.TemporaryDirectory(prefix="cross_validate_") as work:
        try:
            for vi, (name, ov) in enumerate(variants.items()):
                config = os.path.join(work, f"variant{vi}.yaml")
                with open(config, "w") as f:
                    f.write(texts[name])
                for seed in a.seeds:
                    reports = []
                    for j, held in enumerate(folds_of(len(frames), a.folds, seed)):
                        held_set = set(held)
                        train = [at for i, at in enumerate(frames) if i not in held_set]
                        test = os.path.join(work, "fold.extxyz")
                        write_frames(test, [frames[i] for i in held])
                        tag = f"v{vi}_s{seed}_f{j}"
                        model = fit(a.gapd, config, train, work, tag, a.threads)
                        reports.append(evaluate(a.gapd, model, test, work, tag, a.threads))
                        os.unlink(model)
                        tick(f"{name} seed {seed} fold {j + 1}/{a.folds}")
                    results[name]["seeds"][seed] = pooled(reports)
                    results[name].setdefault("folds", {})[seed] = [scores(r) for r in reports]
                if well:
                    model = fit(a.gapd, config, frames, work, f"v{vi}_full", a.threads)
                    diff, depth, cp2k_depth = double_well(a.gapd, model, well, work, f"v{vi}")
                    os.unlink(model)
                    results[name]["double_well"] = {"max_abs_diff_meV": diff, "model_depth_meV": depth,
                                                    "cp2k_depth_meV": cp2k_depth}
                    tick(f"{name} on the whole split: [111] well")
        except RefitError as e:
            raise SystemExit(f"cross_validate: {e}")

    print(f"\n{len(frames)} training frames from {', '.join(os.path.relpath(p) for p in files)}; {a.folds}-fold, "
          f"seeds {' '.join(map(str, a.seeds))}; pooled held-out RMSE, mean over seeds "
          f"(change against the config: mean +- standard error over the seeds)")
    base = results["config"]["seeds"]
    for key, label, unit in KEYS:
        if all(s[key] is None for s in base.values()):
            continue
        print(f"  {label} ({unit})")
        for name, r in results.items():
            vals = [r["seeds"][s][key] for s in a.seeds]
            line = f"    {name:<40} {statistics.mean(vals):9.3f}"
            if name != "config":
                ch = paired_change([base[s][key] for s in a.seeds], vals)
                r.setdefault("change_percent", {})[key] = ch
                if ch:
                    line += f"   {ch[0]:+6.1f} +- {ch[1]:.1f} %"
            print(line)
    if well:
        print("  [111] double well against CP2K (meV/f.u.): largest difference, depth (CP2K "
              f"{results['config']['double_well']['cp2k_depth_meV']:.2f})")
        for name, r in results.items():
            w = r["double_well"]
            print(f"    {name:<40} {w['max_abs_diff_meV']:9.2f} {w['model_depth_meV']:9.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"config": a.config, "frames": len(frames), "folds": a.folds, "seeds": a.seeds,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
