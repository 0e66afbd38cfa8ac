#!/usr/bin/python3
"""Compare two gapd builds on a noisy machine: alternate `gapd bench` runs of BASE and NEW (320 atoms, 1 thread),
ROUNDS times, and print each round's medians, the median of the per-round ratios BASE/NEW, the ratio of the best
calls of all rounds, and the median descriptor share of each build.

Alternating keeps slow spells of the machine from landing on one build only; compare the ratios, not the absolute
times, across runs. Example (docs/benchmarks.md, issue 15 item 3):

    /usr/bin/python3 scripts/bench_ab.py /path/to/base/gapd build/gapd data/models/batio3_default.gapd 10
"""
import argparse
import statistics
import subprocess
import sys


def bench(binary, model, sizes, repeats):
    cmd = [binary, "bench", "-m", model, "--sizes", str(sizes), "--repeats", str(repeats), "--no-dgemm"]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"bench_ab.py: cannot run {binary}: {e.strerror}")
    rows = [line for line in run.stdout.splitlines() if line.strip() and line.split()[0] == str(5 * sizes ** 3)]
    if run.returncode != 0 or not rows:
        sys.exit(f"bench_ab.py: '{' '.join(cmd)}' failed (exit {run.returncode}): {run.stderr.strip()[-300:]}")
    fields = rows[0].replace("|", " ").split()
    return float(fields[2]), float(fields[3]), float(fields[-3])  # median ms, best ms, desc%


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
