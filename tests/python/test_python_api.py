#!/usr/bin/python3
"""The Python module gapd and its ASE calculator (docs/python.md) against `gapd predict` and ASE.

    PYTHONPATH=build/python /usr/bin/python3 tests/python/test_python_api.py --gapd build/gapd
    /usr/bin/python3 tests/python/test_python_api.py --skip "reason"     # exit 77 (ctest SKIP)

Checks: GapdCalculator equals `gapd predict` to 1e-12 relative (energy, forces, stress, dipole, novelty, partial dipoles,
cell dipoles, Born charges) on a distorted 40-atom and 320-atom cell of the default model; ASE's numerical
forces and stress agree with the analytic ones; energies are invariant and forces, dipoles, partial dipoles and
Born charges rotate as vectors / tensors through the Python path; thread counts give the same numbers; results
are numpy views (no copy); clear errors for unknown species, a periodic structure without a cell, and dipole
properties without a dipole model. Prints 'N passed, N failed'; exit 0 = all passed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "data", "models", "batio3_default.gapd")
SKIP = 77
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def distorted_cell(n, seed, a=4.0, sigma=0.08):
    """n x n x n BaTiO3 with Gaussian displacements and a small general strain (a triclinic cell)."""
    from ase.build import bulk, make_supercell
    import ase
    rng = np.random.default_rng(seed)
    base = ase.Atoms("BaTiO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                     cell=np.eye(3) * a, pbc=True)
    atoms = make_supercell(base, np.eye(3, dtype=int) * n)
    strain = np.eye(3) + 0.01 * rng.standard_normal((3, 3))
    atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
    atoms.positions += sigma * rng.standard_normal(atoms.positions.shape)
    return atoms


def assert_close(name, got, want, rel=1e-12):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape} != {want.shape}")
    scale = max(np.abs(want).max(), 1e-300)
    err = np.abs(got - want).max() / scale
    if not err <= rel:
        raise AssertionError(f"{name}: max relative deviation {err:.3g} > {rel:g}")
    return err


def predict(gapd, atoms, extras="dipole,partial_dipoles,cell_dipoles,BEC"):
    """(the structure as gapd predict read it, predict's results). ASE writes extxyz with 8 decimals, so the
    comparison must use the written positions and cell, not the original ones."""
    import ase.io
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.extxyz"), os.path.join(tmp, "out.extxyz")
        ase.io.write(src, atoms, format="extxyz")
        subprocess.run([gapd, "predict", src, "-m", MODEL, "-o", out, "--extras", extras, "--novelty"], check=True,
                       stderr=subprocess.DEVNULL)
        written = ase.io.read(src, format="extxyz")
        written.calc = None
        return written, ase.io.read(out, format="extxyz")


@test
def calculator_equals_gapd_predict(args):
    import ase.io  # noqa: F401
    from gapd.ase import GapdCalculator
    calc = GapdCalculator(MODEL, threads=2)
    for n, seed in ((2, 1), (4, 2)):
        atoms, ref = predict(args.gapd, distorted_cell(n, seed))
        atoms.calc = calc
        names = ["energy", "forces", "stress", "dipole", "partial_dipoles", "cell_dipoles", "born_charges", "novelty"]
        got = {k: calc.get_property(k, atoms) for k in names}
        worst = max(
            assert_close(f"{len(atoms)} atoms energy", got["energy"], ref.info["energy"]),
            assert_close(f"{len(atoms)} atoms forces", got["forces"], ref.arrays["forces"]),
            assert_close(f"{len(atoms)} atoms stress", got["stress"],
                         np.asarray(ref.info["stress"]).reshape(3, 3)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]),
            assert_close(f"{len(atoms)} atoms dipole", got["dipole"], ref.info["dipole"]),
            assert_close(f"{len(atoms)} atoms partial dipoles", got["partial_dipoles"], ref.arrays["partial_dipoles"]),
            assert_close(f"{len(atoms)} atoms cell dipoles", got["cell_dipoles"], ref.arrays["cell_dipoles"]),
            # predict's column 3b+a is dM_a/dr_{k,b}; the calculator's [k, a, b].
            assert_close(f"{len(atoms)} atoms Born charges", got["born_charges"],
                         ref.arrays["born_charges"].reshape(-1, 3, 3).transpose(0, 2, 1)),
            assert_close(f"{len(atoms)} atoms novelty", got["novelty"], ref.arrays["gap_novelty"].ravel()))
        assert abs(got["energy"] - calc.get_property("energies", atoms).sum()) <= 1e-9 * abs(got["energy"])
        assert calc.get_property("free_energy", atoms) == got["energy"]
        print(f"  {len(atoms)} atoms: worst relative deviation from gapd predict {worst:.2g}")


@test
def numerical_forces_and_stress(args):
    from gapd.ase import GapdCalculator
    atoms = distorted_cell(1, 3)
    atoms = atoms.repeat((2, 1, 1))
    atoms.calc = GapdCalculator(MODEL)
    numerical = atoms.calc.calculate_numerical_forces(atoms, d=1e-4)
    analytic = atoms.get_forces()
    err = np.abs(numerical - analytic).max()
    assert err < 2e-5, f"numerical vs analytic forces: max deviation {err:.3g} eV/Å"
    numerical_stress = atoms.calc.calculate_numerical_stress(atoms, d=1e-5)
    stress_err = np.abs(numerical_stress - atoms.get_stress()).max()
    assert stress_err < 2e-6, f"numerical vs analytic stress: max deviation {stress_err:.3g} eV/Å^3"
    print(f"  forces {err:.2g} eV/Å, stress {stress_err:.2g} eV/Å^3")


@test
def rotations(args):
    from scipy.spatial.transform import Rotation
    from gapd.ase import GapdCalculator
    calc = GapdCalculator(MODEL)
    atoms = distorted_cell(2, 4)
    names = ["energy", "forces", "dipole", "partial_dipoles", "born_charges"]
    base = {k: np.array(calc.get_property(k, atoms)) for k in names}
    for seed in range(3):
        R = Rotation.random(random_state=seed).as_matrix()
        rotated = atoms.copy()
        rotated.set_cell(atoms.cell[:] @ R.T, scale_atoms=True)  # positions r -> R r, lattice rows a -> R a
        got = {k: np.array(calc.get_property(k, rotated)) for k in names}
        assert_close("energy", got["energy"], base["energy"], 1e-10)
        assert_close("forces", got["forces"], base["forces"] @ R.T, 1e-9)
        assert_close("dipole", got["dipole"], R @ base["dipole"], 1e-9)
        assert_close("partial dipoles", got["partial_dipoles"], base["partial_dipoles"] @ R.T, 1e-9)
        assert_close("Born charges", got["born_charges"], R @ base["born_charges"] @ R.T, 1e-9)


@test
def model_api_views_threads_and_gil(args):
    import gapd
    model = gapd.Model(MODEL, threads=1)
    atoms = distorted_cell(2, 5)
    pos = np.ascontiguousarray(atoms.positions)
    r1 = model.compute_with_gradients(pos, atoms.numbers, atoms.cell[:], atoms.pbc)
    model.threads = 2
    assert model.threads == 2
    r2 = model.compute_with_gradients(pos, atoms.numbers, atoms.cell[:], atoms.pbc)
    for key in ("energy", "forces", "virial", "stress", "dipole"):
        assert_close(f"threads 1 vs 2: {key}", r2[key], r1[key], 1e-13)
    for key in ("forces", "energies", "dipole", "stress"):
        assert not r2[key].flags.owndata and r2[key].base is not None, f"{key} is a copy, not a view"
    e = model.compute(pos, atoms.numbers, atoms.cell[:], atoms.pbc)
    assert "forces" not in e and abs(e["energy"] - r1["energy"]) <= 1e-12 * abs(r1["energy"])
    assert sorted(model.species) == [8, 22, 56] and model.has_dipole_model and model.cutoff > 0
    # Two Python threads evaluate at once: the GIL is released inside compute, so the calls overlap; results stay
    # those of one call (the model serialises its buffers).
    import threading
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        model.compute_with_gradients(pos, atoms.numbers, atoms.cell[:], atoms.pbc)["energy"])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [r2["energy"]] * 4, results
    model.precision = "float32"
    assert model.precision == "float32"
    f32 = model.compute(pos, atoms.numbers, atoms.cell[:], atoms.pbc)["energy"]
    assert abs(f32 - r1["energy"]) / len(atoms) < 1e-4
    print(f"  float32 - float64: {1e3 * (f32 - r1['energy']) / len(atoms):.2g} meV/atom")


def expect_error(kind, fragment, fn):
    try:
        fn()
    except kind as e:
        if fragment not in str(e):
            raise AssertionError(f"error message {str(e)!r} lacks {fragment!r}")
        print(f"  {type(e).__name__}: {e}")
        return
    raise AssertionError(f"no {getattr(kind, '__name__', kind)} raised (expected one mentioning {fragment!r})")


@test
def errors(args):
    import ase
    import gapd
    from ase.calculators.calculator import PropertyNotImplementedError
    from gapd.ase import GapdCalculator
    calc = GapdCalculator(MODEL)
    atoms = distorted_cell(1, 6)
    bad = atoms.copy()
    bad.numbers[3] = 6
    bad.calc = calc
    expect_error(ValueError, "species C not in the model (atom 3", bad.get_potential_energy)
    model = gapd.Model(MODEL)
    expect_error(ValueError, "species", lambda: model.compute(bad.positions, bad.numbers, bad.cell[:]))
    no_cell = ase.Atoms(atoms.symbols, positions=atoms.positions, pbc=True)
    no_cell.calc = calc
    expect_error(ValueError, "periodic along cell vector 0, which is zero", no_cell.get_potential_energy)
    cluster = ase.Atoms(atoms.symbols, positions=atoms.positions, pbc=False)
    cluster.calc = calc
    assert np.isfinite(cluster.get_forces()).all()
    expect_error(PropertyNotImplementedError, "stress needs a periodic cell", cluster.get_stress)
    expect_error(ValueError, "precision must be", lambda: gapd.Model(MODEL, precision="float16"))
    expect_error(ValueError, "shape (N, 3)", lambda: model.compute(atoms.positions[:, :2], atoms.numbers))
    gap_only = GapdCalculator(MODEL)
    gap_only.model = gapd.Model(MODEL, dipoles=False)
    atoms.calc = gap_only
    expect_error(PropertyNotImplementedError, "need(s) a dipole model", atoms.get_dipole_moment)
    expect_error(ValueError, "partial dipoles, cell dipoles and Born charges need a dipole model",
                 lambda: gap_only.model.compute(atoms.positions, atoms.numbers, atoms.cell[:], partial_dipoles=True))
    expect_error((OSError, RuntimeError, ValueError), "missing.gapd", lambda: gapd.Model("missing.gapd"))
    # A file with only a dipole section loads as a dipole-only model: dipoles, zero energy, no novelty.
    dipoles_only = gapd.Model(os.path.join(ROOT, "tests", "data", "dipole", "synthetic_dipole.gapd"))
    assert not dipoles_only.has_gap and dipoles_only.has_dipole_model
    r = dipoles_only.compute(atoms.positions, atoms.numbers, atoms.cell[:])
    assert r["energy"] == 0 and np.isfinite(r["dipole"]).all(), r
    expect_error(ValueError, "novelty needs a GAP model",
                 lambda: dipoles_only.compute(atoms.positions, atoms.numbers, atoms.cell[:], novelty=True))
    atoms.calc = GapdCalculator(dipoles_only)
    expect_error(PropertyNotImplementedError, "novelty needs a GAP model", lambda: atoms.calc.get_property("novelty", atoms))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gapd", help="the gapd executable (for gapd predict)")
    ap.add_argument("--skip", help="exit 77 (ctest SKIP) with this reason")
    args = ap.parse_args()
    if args.skip:
        print(f"SKIPPED: {args.skip}")
        return SKIP
    passed = failed = 0
    for fn in TESTS:
        try:
            fn(args)
            passed += 1
            print(f"PASS {fn.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
