#!/usr/bin/python3
"""Time QUIP/GAP and gapd on the same BaTiO3 bench structures and print the ratios (docs/benchmarks.md).

QUIP is never built or fetched here: pass --quip, the `quip` program of a locally built libAtoms/QUIP with its GAP
module, and --gap-xml, a GAP model made by QUIP's gap_fit (docs/benchmarks.md, "Side by side with QUIP/GAP", gives
the gap_fit command used for the paper's hyperparameters). Without an executable --quip the script exits with
status 1 and one line saying so.

    /usr/bin/python3 scripts/bench_quip_side_by_side.py --quip /path/to/QUIP/build/linux_x86_64_gfortran/quip \\
        --gap-xml /path/to/gap.xml --gapd build/gapd --gapd-model build/paper_synthetic.gapd --sizes 2,4,6

The structures are `gapd bench`'s supercells (`gapd bench --sizes S --write-structures`), so both programs see the
same atoms. Both run single-threaded (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1), energy + forces + virial per call.

QUIP: the `quip` program reads a model and a file of frames and computes every frame. To separate its start-up
and model loading (seconds for a large gap.xml) from the cost of a call, each size is written twice, as one frame
and as 1 + N copies of the same frame (--quip-frames N); both files are run --quip-runs times, alternately, and
one run pair gives a per-call time (t[1+N] - t[1]) / N. The table shows the median over the pairs and the start-up
(median t[1] minus the per-call time). quip's output (the frames with energy, forces, virial) goes to a pipe and
is discarded; formatting it is part of QUIP's per-call time (milliseconds, against
seconds for a call).

gapd: `gapd bench -m MODEL --sizes S --threads 1 --repeats R --no-dgemm` (one warm-up call, then R timed calls in
one process); its median ms per call.

The ratio column is QUIP's per-call time over gapd's median.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gapd_bench_table  # noqa: E402
NAME = "bench_quip_side_by_side"


def split_frames(path):
    """The frames of an extxyz file as lists of lines (count line, comment line, one line per atom)."""
    with open(path) as f:
        lines = f.read().splitlines()
    frames, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i].split()[0])
        frames.append(lines[i:i + n + 2])
        i += n + 2
    return frames


def quip_energy(stdout):
    """The energy of the first frame quip printed (its output lines carry an `energy=` key), or None."""
    m = re.search(r"\benergy=([-+0-9.eEdD]+)", stdout)
    return float(m.group(1).replace("D", "e").replace("d", "e")) if m else None


def run_quip(quip, gap_xml, xyz, env):
    """Wall seconds of one `quip E=T F=T V=T` run over all frames of `xyz`, and its stdout."""
    cmd = [quip, "E=T", "F=T", "V=T", f"atoms_filename={xyz}", f"param_filename={gap_xml}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-400:]
        raise RuntimeError(f"'{' '.join(cmd)}' failed (exit {done.returncode}): {tail}")
    return dt, done.stdout


def time_quip(quip, gap_xml, frames, n_extra, runs, tmp, env):
    """Per size: {atoms: (per-call ms median, per-call ms min, start-up ms, energy per atom eV)}."""
    out = {}
    for k, frame in enumerate(frames):
        atoms = int(frame[0].split()[0])
        one = os.path.join(tmp, f"quip_{atoms}_x1.xyz")
        many = os.path.join(tmp, f"quip_{atoms}_x{1 + n_extra}.xyz")
        with open(one, "w") as f:
            f.write("\n".join(frame) + "\n")
        with open(many, "w") as f:
            f.write(("\n".join(frame) + "\n") * (1 + n_extra))
        singles, calls, energy = [], [], None
        for _ in range(runs):
            t1, stdout = run_quip(quip, gap_xml, one, env)
            tn, _ = run_quip(quip, gap_xml, many, env)
            singles.append(t1)
            calls.append((tn - t1) / n_extra)
            if energy is None:
                energy = quip_energy(stdout)
        per_call = statistics.median(calls)
        startup = statistics.median(singles) - per_call
        out[atoms] = (1e3 * per_call, 1e3 * min(calls), 1e3 * startup, energy / atoms if energy is not None else None)
        print(f"{NAME}: QUIP {atoms} atoms: {1e3 * per_call:.1f} ms per call (pairs: "
              + ", ".join(f"{1e3 * c:.1f}" for c in calls) + f"), start-up {1e3 * startup:.0f} ms", file=sys.stderr)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quip", required=True, help="the `quip` program of a locally built QUIP with GAP (never built here)")
    p.add_argument("--gap-xml", required=True, help="GAP model for QUIP (gap_fit's gp_file)")
    p.add_argument("--gapd", default=os.path.join(HERE, "..", "build", "gapd"))
    p.add_argument("--gapd-model", required=True,
                   help="model for gapd with the same hyperparameters, e.g. `gapd convert` of the paper-size librascal model")
    p.add_argument("--sizes", default="2,4,6", help="supercell repeats, as gapd bench --sizes (2,4,6: 40, 320, 1080 atoms)")
    p.add_argument("--repeats", type=int, default=10, help="gapd bench --repeats (timed calls per size); default 10")
    p.add_argument("--quip-frames", type=int, default=4,
                   help="N: QUIP runs a file of 1 frame and one of 1 + N copies; default 4")
    p.add_argument("--quip-runs", type=int, default=3, help="run pairs per size for QUIP; default 3")
    args = p.parse_args()
    if not (os.path.isfile(args.quip) and os.access(args.quip, os.X_OK)):
        sys.exit(f"{NAME}: no executable quip at {args.quip}; build libAtoms/QUIP with GAP locally and pass its "
                 "`quip` program with --quip (this script never builds or fetches QUIP)")
    if not os.path.isfile(args.gap_xml):
        sys.exit(f"{NAME}: no GAP model at {args.gap_xml} (make one with QUIP's gap_fit; docs/benchmarks.md)")
    if not os.access(args.gapd, os.X_OK):
        sys.exit(f"{NAME}: {args.gapd} is not an executable gapd (build it or pass --gapd)")
    if not os.path.isfile(args.gapd_model):
        sys.exit(f"{NAME}: no gapd model at {args.gapd_model}")
    if args.quip_frames < 1 or args.quip_runs < 1 or args.repeats < 1:
        sys.exit(f"{NAME}: --quip-frames, --quip-runs and --repeats must be >= 1")
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        xyz = os.path.join(tmp, "bench.extxyz")
        subprocess.run([args.gapd, "bench", "--sizes", args.sizes, "--write-structures", xyz], check=True,
                       stdout=subprocess.DEVNULL)
        frames = split_frames(xyz)
        quip = time_quip(args.quip, args.gap_xml, frames, args.quip_frames, args.quip_runs, tmp, env)
    gap = gapd_bench_table.single_thread_times(args.gapd, args.gapd_model, args.sizes, args.repeats)
    print("energy+forces+virial, 1 thread, wall-clock ms per call")
    print(f"QUIP: median (min) over {args.quip_runs} pairs of runs of 1 and {1 + args.quip_frames} frames; "
          f"gapd: gapd bench median (best) of {args.repeats} calls")
    print(f"{'atoms':>6} | {'QUIP ms':>17} | {'QUIP start-up ms':>16} | {'gapd ms':>17} | {'ratio':>7} | "
          f"{'QUIP E/atom eV':>14}")
    for n, (med, best, startup, e_atom) in quip.items():
        g = gap.get(n)
        gs = f"{g[0]:8.2f} ({g[1]:6.2f})" if g else f"{'n/a':>17}"
        ratio = f"{med / g[0]:7.1f}" if g else f"{'n/a':>7}"
        es = f"{e_atom:14.4f}" if e_atom is not None else f"{'n/a':>14}"
        print(f"{n:6d} | {med:8.1f} ({best:6.1f}) | {startup:16.0f} | {gs} | {ratio} | {es}")


if __name__ == "__main__":
    main()
