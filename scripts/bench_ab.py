#!/usr/bin/python3
"""Compare two gapd builds on a noisy machine: alternate `gapd bench` runs of BASE and NEW (320 atoms, 1 thread),
ROUNDS times, and print each round's medians, the median of the per-round ratios BASE/NEW, the ratio of the best
calls of all rounds, and the median descriptor share of each build.

Alternating keeps slow spells of the machine from landing on one build only; compare the ratios, not the absolute
times, across runs. Example (docs/benchmarks.md, issue 15 item 3):

    /usr/bin/python3 scripts/bench_ab.py /path/to/base/gapd build/gapd data/models/batio3_default.gapd 10
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gapd_bench_table  # noqa: E402


def bench(binary, model, sizes, repeats):
    """Median ms, best ms and desc% of the 5 sizes^3-atom row, 1 thread."""
    try:
        row = gapd_bench_table.row_for(gapd_bench_table.run(binary, model, sizes, 1, repeats), 5 * sizes ** 3)
    except RuntimeError as e:
        sys.exit(f"bench_ab.py: {e}")
    return row["median_ms"], row["best_ms"], row["desc_percent"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="gapd executable of the reference build")
    ap.add_argument("new", help="gapd executable of the build to compare")
    ap.add_argument("model", help="model file both builds read (the same file for both)")
    ap.add_argument("rounds", type=int, help="alternations (each runs both builds once)")
    ap.add_argument("--sizes", type=int, default=4, help="supercell repeats n (5 n^3 atoms; default 4 = 320)")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per bench run (default 10)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("rounds must be at least 1")
    base_runs, new_runs, ratios = [], [], []
    for k in range(args.rounds):
        b = bench(args.base, args.model, args.sizes, args.repeats)
        n = bench(args.new, args.model, args.sizes, args.repeats)
        base_runs.append(b)
        new_runs.append(n)
        ratios.append(b[0] / n[0])
        print(f"round {k + 1}/{args.rounds}: base {b[0]:.2f} ms (best {b[1]:.2f}, desc {b[2]:.1f}%)  "
              f"new {n[0]:.2f} ms (best {n[1]:.2f}, desc {n[2]:.1f}%)  ratio {b[0] / n[0]:.3f}", flush=True)
    print(f"median of per-round ratios {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
          f"best-call ratio {min(r[1] for r in base_runs) / min(r[1] for r in new_runs):.3f}; "
          f"median desc% base {statistics.median(r[2] for r in base_runs):.1f}, "
          f"new {statistics.median(r[2] for r in new_runs):.1f}")


if __name__ == "__main__":
    main()
