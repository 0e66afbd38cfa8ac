#!/usr/bin/env python3
"""Time librascal and gapd on the same BaTiO3 bench structures and print both (docs/benchmarks.md).

librascal is never built here: point LIBRASCAL_PATH at a locally built librascal (the directory holding the
`rascal` Python package, e.g. librascal/build_b or an install's site-packages). Without it, or if `import
rascal` fails there, the script exits with status 1 and says so.

    LIBRASCAL_PATH=/opt/librascal/build scripts/bench_librascal_side_by_side.py \
        --gapd build/gapd --sizes 2,4,6 --repeats 3

Both codes use the same model: the librascal JSON (--librascal-model, default the paper-size model in
../shared) for librascal, and the same file (or --gapd-model, e.g. its native conversion) for gapd. Timings are
wall-clock per energy+forces+stress call, single-threaded (OMP_NUM_THREADS=1 for both); librascal's CPU time
per call (this process, which runs only librascal then) is printed too, as a check on a loaded machine. The
ratio column is librascal's median wall time over gapd's.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gapd_bench_table  # noqa: E402
DEFAULT_MODEL = os.path.join(HERE, "..", "..", "shared", "reference", "librascal", "paper_hypers_M1000_zeta4.json.gz")


def import_librascal():
    path = os.environ.get("LIBRASCAL_PATH", "")
    if not path:
        sys.exit("bench_librascal_side_by_side: LIBRASCAL_PATH is not set; point it at a locally built librascal "
                 "(the directory containing the 'rascal' Python package). This script never builds librascal.")
    if not os.path.isdir(path):
        sys.exit(f"bench_librascal_side_by_side: LIBRASCAL_PATH={path} is not a directory")
    sys.path.insert(0, path)
    try:
        from rascal.models.asemd import ASEMLCalculator  # noqa: F401
        from rascal.utils import load_obj  # noqa: F401
    except Exception as e:  # ImportError, or a broken build raising something else
        sys.exit(f"bench_librascal_side_by_side: cannot import librascal from LIBRASCAL_PATH={path}: {e}")
    return ASEMLCalculator, load_obj


def load_librascal_model(path, load_obj, tmp):
    """rascal.utils.load_obj reads a .json file; a .json.gz is decompressed to `tmp` first."""
    if path.endswith(".gz"):
        import gzip
        import shutil
        plain = os.path.join(tmp, "model.json")
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = plain
    return load_obj(path)


def time_librascal(atoms_list, model_path, repeats, tmp):
    ASEMLCalculator, load_obj = import_librascal()
    model = load_librascal_model(model_path, load_obj, tmp)
    rows = []
    for atoms in atoms_list:
        times, cpu = [], []
        for r in range(repeats + 1):  # first call is a warm-up
            a = atoms.copy()
            a.calc = ASEMLCalculator(model, model.get_representation_calculator())
            t0, c0 = time.perf_counter(), time.process_time()
            a.get_potential_energy()
            a.get_forces()
            a.get_stress()
            if r > 0:
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        times.sort()
        cpu.sort()
        rows.append((len(atoms), 1e3 * times[len(times) // 2], 1e3 * times[0], 1e3 * cpu[len(cpu) // 2]))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gapd", default=os.path.join(HERE, "..", "build", "gapd"))
    p.add_argument("--librascal-model", default=DEFAULT_MODEL)
    p.add_argument("--gapd-model", help="model for gapd (default: --librascal-model)")
    p.add_argument("--sizes", default="2,4,6", help="supercell repeats, as gapd bench --sizes (2,4,6: 40, 320, 1080 atoms)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    import_librascal()  # fail fast, before any work
    if not os.access(args.gapd, os.X_OK):
        sys.exit(f"bench_librascal_side_by_side: {args.gapd} is not an executable gapd (build it or pass --gapd)")
    import ase.io
    with tempfile.TemporaryDirectory() as tmp:
        xyz = os.path.join(tmp, "bench.extxyz")
        subprocess.run([args.gapd, "bench", "--sizes", args.sizes, "--write-structures", xyz], check=True)
        atoms_list = ase.io.read(xyz, index=":")
        lib = time_librascal(atoms_list, args.librascal_model, args.repeats, tmp)
    gap = gapd_bench_table.single_thread_times(args.gapd, args.gapd_model or args.librascal_model, args.sizes, args.repeats)
    print("energy+forces+stress, 1 thread, ms per call: wall-clock median / best; librascal CPU median")
    print(f"{'atoms':>6} | {'librascal wall':>19} | {'librascal CPU':>13} | {'gapd wall':>19} | {'ratio':>7}")
    for n, med, best, cpu in lib:
        g = gap.get(n)
        gs = f"{g[0]:9.2f} / {g[1]:7.2f}" if g else f"{'n/a':>19}"
        sp = f"{med / g[0]:7.1f}" if g else f"{'n/a':>7}"
        print(f"{n:6d} | {med:9.1f} / {best:7.1f} | {cpu:13.1f} | {gs} | {sp}")


if __name__ == "__main__":
    main()
