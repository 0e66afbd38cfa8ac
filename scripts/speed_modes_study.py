#!/usr/bin/env python3
"""Measure gapd's opt-in speed modes (feature selection, float32 kernel) against the exact mode.

A feature-selected model is a different fit, so its "deviation" needs a reference that does not depend on DFT
noise or on how little data we have. This study uses a *teacher*: the paper-size model (default: the librascal
model in ../shared, M = 1000 sparse points, 2100 compressed features), whose exact-mode numbers define the truth.

  1. Generate BaTiO3 40-atom cells (random strain, Gaussian displacements; fixed seed) and label them with the
     teacher (`gapd predict`): train and test sets.
  2. Fit students with the teacher's hypers and sparse-point counts (`gapd fit`), with all features and with
     `gap.feature_selection: {count: K}` for each K.
  3. Per student: energy/force RMSE against the teacher on the test set (float64 and float32 kernels), and the
     float32-vs-float64 deviation of the student itself.
  4. Per student and precision: `gapd bench` time per 320-atom energy+forces+virial call (1 thread), and the
     speed-up over the teacher in its exact mode (float64, all features).

Everything goes under --workdir (default build/speed_modes); the table is printed and written as
<workdir>/speed_modes.md (and .json). Needs /usr/bin/python3 with numpy and ASE. Takes ~10-20 min on 2 cores (the fits).

    /usr/bin/python3 scripts/speed_modes_study.py --gapd build/gapd --counts 600,300,150
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TEACHER = os.path.join(HERE, "..", "..", "shared", "reference", "librascal", "paper_hypers_M1000_zeta4.json.gz")


def log(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, text=True, **kw)


def make_frames(count, seed, repeats=2, a=4.0):
    """count BaTiO3 n^3 supercells: cubic a, random symmetric strain (sd 1%), displacements sd 0.05-0.12 Å."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    basis = [("Ba", (0, 0, 0)), ("Ti", (0.5, 0.5, 0.5)), ("O", (0.5, 0.5, 0)), ("O", (0.5, 0, 0.5)), ("O", (0, 0.5, 0.5))]
    frames = []
    for _ in range(count):
        symbols, frac = [], []
        for i in range(repeats):
            for j in range(repeats):
                for k in range(repeats):
                    for s, f in basis:
                        symbols.append(s)
                        frac.append((np.array(f) + (i, j, k)) / repeats)
        strain = rng.normal(0.0, 0.01, (3, 3))
        cell = repeats * a * (np.eye(3) + 0.5 * (strain + strain.T))
        atoms = Atoms(symbols, scaled_positions=np.array(frac), cell=cell, pbc=True)
        atoms.positions += rng.normal(0.0, rng.uniform(0.05, 0.12), atoms.positions.shape)
        frames.append(atoms)
    return frames


def read_labels(path):
    from ase.io import read

    out = []
    for atoms in read(path, ":"):
        # ASE moves the energy and forces keys of extxyz into a SinglePointCalculator
        out.append((atoms.get_potential_energy(), np.array(atoms.get_forces()), len(atoms)))
    return out


def deviation(a, b):
    """RMSE of energy per atom (meV/atom) and of force components (meV/Å) between two label lists."""
    de = [(x[0] - y[0]) / x[2] for x, y in zip(a, b)]
    df = np.concatenate([(x[1] - y[1]).ravel() for x, y in zip(a, b)])
    return 1e3 * float(np.sqrt(np.mean(np.square(de)))), 1e3 * float(np.sqrt(np.mean(np.square(df))))


def predict(gapd, model, inp, out, precision, threads):
    run([gapd, "predict", "-m", model, "-o", out, "--threads", str(threads), "--precision", precision, inp],
        stdout=subprocess.DEVNULL)
    return read_labels(out)


def bench_ms(gapd, model, precision, repeats):
    """Median ms per 320-atom call, 1 thread, from gapd bench's table."""
    sys.path.insert(0, HERE)
    import gapd_bench_table  # noqa: E402

    rows = gapd_bench_table.run(gapd, model, 4, 1, repeats, ["--precision", precision])
    return gapd_bench_table.row_for(rows, 320)["median_ms"]


def teacher_model(gapd, teacher, workdir):
    """A native copy of the teacher (gapd convert) and its contents (read_gapd_model.py)."""
    native = teacher
    if teacher.endswith((".json", ".json.gz")):
        native = os.path.join(workdir, "teacher.gapd")
        if not os.path.exists(native):
            run([gapd, "convert", "-m", teacher, "-o", native], stdout=subprocess.DEVNULL)
    sys.path.insert(0, HERE)
    from read_gapd_model import read_gapd_model  # noqa: E402

    return native, read_gapd_model(native)


SYMBOLS = {8: "O", 22: "Ti", 56: "Ba"}


def write_config(path, train, output, model, count):
    """gapd fit config with the teacher's SOAP hypers, zeta and sparse-point counts (docs/fitting.md)."""
    soap, cut = model["soap"], model["soap"]["cutoff_function"]
    sparse = ", ".join(f"{SYMBOLS.get(z, z)}: {v['points'].shape[0]}" for z, v in sorted(model["sparse"].items()))
    lines = [
        "# written by scripts/speed_modes_study.py",
        f"training_files: [{train}]",
        f"output: {output}",
        'description: "student of the paper-size teacher (speed-modes study)"',
        "soap:",
        f"  cutoff: {cut['cutoff']}",
        f"  max_radial: {soap['max_radial']}",
        f"  max_angular: {soap['max_angular']}",
        f"  gaussian_sigma: {soap['gaussian_sigma']}",
        f"  cutoff_function: {cut['type']}",
        f"  smooth_width: {cut['smooth_width']}",
    ]
    if cut["type"] == "RadialScaling":
        lines += [f"  rate: {cut['rate']}", f"  scale: {cut['scale']}", f"  exponent: {cut['exponent']}"]
    lines += [
        f"  normalize: {'true' if soap['normalize'] else 'false'}",
        "gap:",
        f"  zeta: {model['zeta']}",
        "  sparse_points: {" + sparse + "}",
        "  sigma_energy: 0.001",
        "  sigma_forces: 0.02",
        "  sigma_virial: 0.01",
    ]
    if count:
        lines.append(f"  feature_selection: {{count: {count}}}")
    lines += ["validation:", "  held_out_fraction: 0"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gapd", default=os.path.join(HERE, "..", "build", "gapd"))
    p.add_argument("--teacher", default=DEFAULT_TEACHER, help="exact-mode reference model (librascal JSON or native)")
    p.add_argument("--workdir", default=os.path.join(HERE, "..", "build", "speed_modes"))
    p.add_argument("--train", type=int, default=60, help="training frames (40 atoms each)")
    p.add_argument("--test", type=int, default=10, help="test frames (40 atoms each)")
    p.add_argument("--counts", default="600,300", help="feature-selection counts K, comma-separated")
    p.add_argument("--threads", type=int, default=0, help="threads for predict/fit (0: all cores)")
    p.add_argument("--repeats", type=int, default=15, help="gapd bench repeats")
    p.add_argument("--skip-fit", action="store_true", help="reuse the students already in --workdir")
    args = p.parse_args()
    gapd = os.path.abspath(args.gapd)
    os.makedirs(args.workdir, exist_ok=True)
    wd = os.path.abspath(args.workdir)
    threads = args.threads or os.cpu_count()
    counts = [int(c) for c in args.counts.split(",") if c.strip()]

    from ase.io import write

    teacher, info = teacher_model(gapd, args.teacher, wd)
    train_in, test_in = os.path.join(wd, "train_structures.extxyz"), os.path.join(wd, "test_structures.extxyz")
    train, test = os.path.join(wd, "train.extxyz"), os.path.join(wd, "test.extxyz")
    if not os.path.exists(train):
        log(f"[1/4] labelling {args.train} + {args.test} frames with the teacher")
        write(train_in, make_frames(args.train, seed=1))
        write(test_in, make_frames(args.test, seed=2))
        predict(gapd, teacher, train_in, train, "float64", threads)
        predict(gapd, teacher, test_in, test, "float64", threads)
    truth = read_labels(test)

    students = [("all features", 0)] + [(f"{k} selected", k) for k in counts]
    rows = []
    for name, count in students:
        model = os.path.join(wd, f"student_{count or 'all'}.gapd")
        if not (args.skip_fit and os.path.exists(model)):
            log(f"[2/4] fitting the student with {name}")
            cfg = os.path.join(wd, f"student_{count or 'all'}.yaml")
            write_config(cfg, train, model, info, count)
            run([gapd, "fit", "--threads", str(threads), cfg], stdout=subprocess.DEVNULL)
        log(f"[3/4] errors of the student with {name}")
        p64 = predict(gapd, model, test, os.path.join(wd, "pred64.extxyz"), "float64", threads)
        p32 = predict(gapd, model, test, os.path.join(wd, "pred32.extxyz"), "float32", threads)
        rows.append({"name": name, "model": model, "vs_teacher64": deviation(p64, truth),
                     "vs_teacher32": deviation(p32, truth), "f32_vs_f64": deviation(p32, p64)})

    log("[4/4] timing (gapd bench, 320 atoms, 1 thread)")
    t_exact = bench_ms(gapd, teacher, "float64", args.repeats)
    for r in rows:
        r["ms64"] = bench_ms(gapd, r["model"], "float64", args.repeats)
        r["ms32"] = bench_ms(gapd, r["model"], "float32", args.repeats)

    out = [f"Teacher (exact mode: float64, all features): {os.path.basename(args.teacher)}, {t_exact:.2f} ms per "
           f"320-atom call (1 thread). Students: {args.train} training / {args.test} test frames of 40 atoms "
           "labelled by the teacher. Errors are RMSE against the teacher on the test frames; speed-ups are over the "
           "teacher's time.",
           "",
           "| student | kernel | ms (320 atoms) | speed-up vs exact | energy meV/atom | forces meV/Å | float32 vs float64 of the same student (meV/atom, meV/Å) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        for prec, ms, key in (("float64", r["ms64"], "vs_teacher64"), ("float32", r["ms32"], "vs_teacher32")):
            e, f = r[key]
            extra = "%.3f, %.2f" % r["f32_vs_f64"] if prec == "float32" else ""
            out.append(f"| {r['name']} | {prec} | {ms:.2f} | {t_exact / ms:.2f}x | {e:.3f} | {f:.1f} | {extra} |")
    text = "\n".join(out)
    print("\n" + text)
    with open(os.path.join(wd, "speed_modes.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(wd, "speed_modes.json"), "w") as f:
        json.dump({"teacher_ms": t_exact, "students": rows}, f, indent=1)


if __name__ == "__main__":
    main()
