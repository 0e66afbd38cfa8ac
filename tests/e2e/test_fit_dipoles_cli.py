#!/usr/bin/env python3
"""End-to-end: `gapd fit` with a `dipoles:` section, then `gapd eval`, `gapd predict` and parity_plot.py.

Dipole labels come from the committed synthetic dipole model (tests/data/dipole/synthetic_dipole.gapd, random
weights, NOT physics) via `gapd predict --dipole-only`. Refitting them with the synthetic model's own sparse
environments (atoms of tests/data/librascal/structures.extxyz, the first training file) must reproduce its dipoles
on unseen structures; the fitted dipole model must be in the same native file as the GAP; `gapd eval` must compare
dipoles shifted by random polarization quanta on the right branch; bad dipole labels give one-line errors naming
file and frame. Exit code 0 = pass.
"""
import argparse, json, os, tempfile, threading
import numpy as np
from ase import Atoms
from ase.io import read, write

import e2e_common as common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests/data/librascal/structures.extxyz")
SYNTHETIC = os.path.join(ROOT, "tests/data/dipole/synthetic_dipole.gapd")
POINTS_PER_SPECIES = 10  # tests/tools/synthetic_dipole_model.hpp


def random_batio3(rng, units, shear):
    a = 4.0
    strain = np.eye(3) + 0.01 * rng.normal(size=(3, 3))
    strain[1, 0] += shear
    cell = np.diag([a * units, a, a]) @ strain.T
    frac = [(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)]
    sym, pos = [], []
    for u in range(units):
        for s, f in zip(["Ba", "Ti", "O", "O", "O"], frac):
            sym.append(s)
            pos.append(np.array([(f[0] + u) / units, f[1], f[2]]) @ cell)
    pos = np.array(pos) + 0.12 * rng.normal(size=(len(sym), 3))
    return Atoms(sym, positions=pos, cell=cell, pbc=True)


def label(gapd, frames, path, tmp):
    write(f"{tmp}/unlabelled.xyz", frames)
    common.run_cli([gapd, "predict", f"{tmp}/unlabelled.xyz", "-o", f"{tmp}/dip.xyz", "--model", SYNTHETIC, "--dipole-only"])
    out = read(f"{tmp}/dip.xyz", ":")
    for a, d in zip(frames, out):
        a.info["dipole"] = np.array(d.info["dipole"], float)
        dist = a.get_all_distances(mic=True) + np.eye(len(a)) * 10
        a.info["energy"] = float(np.sum(np.exp(-dist)) - 700.0 * len(a))
    write(path, frames)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    o = ap.parse_args()
    threading.Timer(o.timeout, lambda: os._exit(3)).start()
    gapd = o.gapd
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = read(FIXTURES, ":")
        label(gapd, fixtures, f"{tmp}/fixtures.xyz", tmp)
        train = [random_batio3(rng, 1 + k % 2, 0.1 * (k % 3)) for k in range(50)]
        label(gapd, train, f"{tmp}/train.xyz", tmp)
        # The synthetic model's sparse environments, as make_synthetic_dipole_model picks them.
        envs = []
        for z in (8, 22, 56):
            atoms = [(f, i) for f, a in enumerate(fixtures) for i, n in enumerate(a.numbers) if n == z]
            envs += [atoms[len(atoms) * j // POINTS_PER_SPECIES] for j in range(POINTS_PER_SPECIES)]
        with open(f"{tmp}/fit.yaml", "w") as f:
            f.write("training_files: [fixtures.xyz, train.xyz]\noutput: both.gapd\n"
                    "soap: {max_radial: 3, max_angular: 2, cutoff: 4.5}\n"
                    "gap: {zeta: 2, sparse_points: {O: 4, Ti: 2, Ba: 2}, fit_forces: false, fit_virial: false}\n"
                    "sparse_selection: cur\n"
                    "validation: {held_out_fraction: 0.2, seed: 3}\n"
                    "dipoles:\n  sigma: 1.0e-9\n  jitter: 0\n  unwrapping: {enabled: false}\n"
                    f"  sparse_environments: {json.dumps([list(e) for e in envs])}\n")
        p = common.run_cli([gapd, "fit", f"{tmp}/fit.yaml"])
        report = json.load(open(f"{tmp}/both.gapd.report.json"))
        held = report["held_out"]["dipole_per_atom"]
        print(f"held-out dipole RMSE {held['rmse']:.3g} e*A/atom over {held['count']} components")
        assert held["count"] > 0 and held["rmse"] < 1e-8, held
        assert report["sparse_selection"] == "cur", report["sparse_selection"]
        assert "dipole per atom" in p.stdout, p.stdout
        # One file, both models: predict dipoles with it on unseen structures, compare to the synthetic model.
        unseen = [random_batio3(rng, 2, 0.15) for _ in range(6)]
        write(f"{tmp}/unseen.xyz", unseen)
        common.run_cli([gapd, "predict", f"{tmp}/unseen.xyz", "-o", f"{tmp}/fitted.xyz", "--model", f"{tmp}/both.gapd",
             "--key-prefix", "gap_"])
        common.run_cli([gapd, "predict", f"{tmp}/unseen.xyz", "-o", f"{tmp}/truth.xyz", "--model", SYNTHETIC, "--dipole-only"])
        fitted, truth = read(f"{tmp}/fitted.xyz", ":"), read(f"{tmp}/truth.xyz", ":")
        assert all("gap_energy" in a.info for a in fitted)
        dm = max(np.abs(np.array(a.info["gap_dipole"]) - np.array(b.info["dipole"])).max() for a, b in zip(fitted, truth))
        scale = max(np.abs(np.array(b.info["dipole"])).max() for b in truth)
        print(f"unseen structures: max |dM| {dm:.3g} e*A (largest |M_a| {scale:.3g} e*A)")
        assert scale > 0.1 and dm < 1e-7 * scale, (dm, scale)
        # gapd eval: labels shifted by random polarization quanta compare on the branch nearest the prediction.
        shifted = read(f"{tmp}/train.xyz", ":")
        for a in shifted:
            a.info["dipole"] = np.array(a.info["dipole"]) + rng.integers(-3, 4, size=3) @ a.cell.array
        write(f"{tmp}/shifted.xyz", shifted)
        p = common.run_cli([gapd, "eval", "-m", f"{tmp}/both.gapd", f"{tmp}/shifted.xyz", "-o", f"{tmp}/eval.xyz", "--report",
                 f"{tmp}/eval"])
        ev = json.load(open(f"{tmp}/eval.json"))["dipole_per_atom"]
        assert ev["count"] == 3 * len(shifted) and ev["rmse"] < 1e-8, ev
        common.run_cli(["/usr/bin/python3", os.path.join(ROOT, "scripts/parity_plot.py"), f"{tmp}/eval.xyz", "-o", f"{tmp}/plots"])
        assert os.path.getsize(f"{tmp}/plots/parity_dipole.png") > 1000
        # Bad inputs: one line naming the file and frame, non-zero exit.
        bad = open(f"{tmp}/train.xyz").read().split("\n")
        comment = [k for k, line in enumerate(bad) if "Lattice=" in line]
        bad[comment[2]] = bad[comment[2]].replace('dipole="', 'dipole="nan ', 1)
        open(f"{tmp}/bad.xyz", "w").write("\n".join(bad))
        with open(f"{tmp}/bad.yaml", "w") as f:
            f.write("training_files: bad.xyz\ngap: {sparse_points: {O: 2, Ti: 1, Ba: 1}, fit_forces: false}\n"
                    "soap: {max_radial: 3, max_angular: 2, cutoff: 4.5}\ndipoles: {}\n")
        p = common.run_cli([gapd, "fit", f"{tmp}/bad.yaml"], check=False)
        err = p.stderr.strip().splitlines()
        assert p.returncode != 0 and any("bad.xyz: frame 2 (0-based)" in l and "'dipole'" in l for l in err), p.stderr
        with open(f"{tmp}/nokey.yaml", "w") as f:
            f.write("training_files: train.xyz\ngap: {sparse_points: {O: 2, Ti: 1, Ba: 1}, fit_forces: false}\n"
                    "soap: {max_radial: 3, max_angular: 2, cutoff: 4.5}\ndipoles: {key: mu}\n")
        p = common.run_cli([gapd, "fit", f"{tmp}/nokey.yaml"], check=False)
        assert p.returncode != 0 and "train.xyz: frame 0 (0-based): missing info key 'mu'" in p.stderr, p.stderr
    print("PASS")
    os._exit(0)


if __name__ == "__main__":
    main()
