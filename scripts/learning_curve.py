#!/usr/bin/python3
"""Learning curve: held-out errors of a fit configuration trained on random subsets of its training frames.

Is more DFT worth it? Fit the configuration on random subsets of n training frames (several subsets per n, each in
its own random order, so the spread includes the luck of the farthest-point sparse set, scripts/fit_spread.py),
score every fit on the test split, and fit a power law err ~ n^-b to the mean errors of the largest sizes: the
gain to expect from doubling the data, if the curve goes on as it did.

    /usr/bin/python3 scripts/learning_curve.py --png docs/figures/learning_curve.png --json curve.json   # ~3 min
    /usr/bin/python3 scripts/learning_curve.py --sizes 20 40 80 --subsets 6
    /usr/bin/python3 scripts/learning_curve.py --config my_fit.yaml --test my_test.extxyz

Sizes larger than the training split are refused; the full split (always the last point) is fitted in --subsets
orders. Small subsets have few of the rarer frames (MD-sampled 40-atom cells are ~15% of the BaTiO3 split), so the
curve measures this dataset's mix, not a designed sequence.
"""
import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time

from ase.io import read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from refit_scores import KEYS, RefitError, add_fit_arguments, fit_and_score, load_training, shuffled, summary  # noqa: E402


def power_law(sizes, means):
    """Least-squares slope b of log(err) = a - b log(n); None with fewer than two points."""
    pts = [(math.log(n), math.log(m)) for n, m in zip(sizes, means) if m and m > 0]
    if len(pts) < 2:
        return None
    mx = statistics.mean(x for x, _ in pts)
    my = statistics.mean(y for _, y in pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return -sum((x - mx) * (y - my) for x, y in pts) / sxx


def slope_spread(fits, sizes, key, draws=500, seed=0):
    """Bootstrap standard deviation of the power-law exponent: the subsets of each size resampled with replacement."""
    rng = random.Random(seed)
    per_size = [[f[key] for f in fits if f["n"] == n and f[key] is not None] for n in sizes]
    if any(len(v) < 2 for v in per_size):
        return None
    slopes = [power_law(sizes, [statistics.mean(rng.choices(v, k=len(v))) for v in per_size]) for _ in range(draws)]
    return statistics.stdev(slopes)


def plot(path, curve, slopes, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    keys = [(k, lbl, unit) for k, lbl, unit in KEYS if any(row[k] for row in curve)]
    cols = 2 if len(keys) > 2 else len(keys)
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    sizes = [row["n"] for row in curve]
    for ax, (key, label, unit) in zip(axes.flat, keys):
        pts = [(row["n"], row[key]["mean"], row[key]["std"]) for row in curve if row[key]]
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt="o-", capsize=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not 10^x, and no labels on the minor ticks
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.set_yticks([t for t in (0.3, 0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200)
                       if min(p[1] - p[2] for p in pts) * 0.8 <= t <= max(p[1] + p[2] for p in pts) * 1.2])
        ax.set_xlabel("training structures")
        ax.set_ylabel(f"held-out {label} RMSE ({unit})")
        if slopes.get(key) is not None:
            ax.set_title(f"{label}: slope of the last sizes n^-{slopes[key]:.2f}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fit_arguments(ap)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 80],
                    help="subset sizes below the full training split (default 20 40 80; the full split is added)")
    ap.add_argument("--subsets", type=int, default=4, help="random subsets (orders, for the full split) per size (4)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the first subset (default 1)")
    ap.add_argument("--fit-last", type=int, default=3,
                    help="sizes (the largest) the power law is fitted to (default 3; the curve bends as it flattens, "
                         "so this is the recent slope, not one for all n)")
    ap.add_argument("--json", help="write every fit's scores and the curve here")
    ap.add_argument("--png", help="draw the curve (log-log, mean +- std over the subsets) here")
    a = ap.parse_args()
    if a.subsets < 2:
        raise SystemExit("learning_curve: --subsets must be at least 2 for a spread")
    files, frames = load_training("learning_curve", a)
    bad = [n for n in a.sizes if n < 2 or n >= len(frames)]
    if bad:
        raise SystemExit(f"learning_curve: --sizes {bad[0]}: must be between 2 and {len(frames) - 1} "
                         f"(the training split has {len(frames)} frames and is always the last point)")
    sizes = sorted(set(a.sizes)) + [len(frames)]

    fits = []
    total = len(sizes) * a.subsets
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="learning_curve_") as work:
        for n in sizes:
            for k in range(a.subsets):
                seed = a.seed + k
                subset = shuffled(frames, seed)[:n]
                try:
                    s = fit_and_score(a.gapd, a.config, subset, a.test, work, f"n{n}_s{seed}", a.threads)
                except RefitError as e:
                    raise SystemExit(f"learning_curve: {n} frames, seed {seed}: {e}")
                fits.append({"n": n, "seed": seed, **s})
                done = len(fits)
                scores = "  ".join(f"{label} {s[key]:.3f}" for key, label, _ in KEYS if s[key] is not None)
                print(f"[{done}/{total}] {n:>4} frames, seed {seed}: {scores}; "
                      f"ETA {(time.time() - t0) / done * (total - done) / 60:.1f} min", flush=True)

    curve = [{"n": n, **{key: summary(f[key] for f in fits if f["n"] == n) for key, _, _ in KEYS}} for n in sizes]
    last = curve[-a.fit_last:]
    slopes = {key: power_law([r["n"] for r in last if r[key]], [r[key]["mean"] for r in last if r[key]])
              for key, _, _ in KEYS}
    spreads = {key: slope_spread(fits, [r["n"] for r in last], key) if slopes[key] is not None else None
               for key, _, _ in KEYS}
    print(f"\n{len(frames)} training frames from {', '.join(os.path.relpath(p) for p in files)}; "
          f"test {os.path.relpath(a.test)}; {a.subsets} random subsets per size (seeds {a.seed}-{a.seed + a.subsets - 1})")
    print(f"  {'frames':>6}  " + "  ".join(f"{label + ' (' + unit + ')':>22}" for _, label, unit in KEYS))
    for row in curve:
        cells = [f"{row[k]['mean']:>12.3f} +- {row[k]['std']:<6.3f}" if row[k] else f"{'-':>22}" for k, _, _ in KEYS]
        print(f"  {row['n']:>6}  " + "  ".join(cells))
    for key, label, _ in KEYS:
        b = slopes[key]
        if b is not None:
            db = spreads[key]
            print(f"  {label}: err ~ n^-({b:.2f}" + (f" +- {db:.2f})" if db is not None else ")") +
                  f" over the largest {len(last)} sizes; doubling the data: x{2 ** -b:.2f} "
                  f"({100 * (1 - 2 ** -b):.0f}% lower)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"config": a.config, "test": a.test, "frames": len(frames), "fits": fits, "curve": curve,
                       "power_law_exponent": slopes, "power_law_exponent_bootstrap_std": spreads}, f, indent=1)
    if a.png:
        plot(a.png, curve, slopes, f"{os.path.basename(a.config)}: {len(frames)} training structures, test "
             f"{os.path.basename(a.test)} ({len(read(a.test, ':'))}); mean +- std of {a.subsets} random subsets")
        print(f"wrote {a.png}")


if __name__ == "__main__":
    main()
