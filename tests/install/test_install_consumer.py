#!/usr/bin/python3
"""`cmake --install` of the build tree into a temporary prefix, then a separate CMake project (tests/install/consumer)
that finds it with find_package(gapd), links gapd::gapd, and must print the numbers `gapd predict` gives for the
same structure (1e-12 relative). With the Python module built, the installed package must import too.

    /usr/bin/python3 tests/install/test_install_consumer.py --build-dir build [--python-module]

Exit 0 = pass.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = os.path.join(ROOT, "data", "models", "batio3_default.gapd")


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def structure(seed=7):
    import ase
    from ase.build import make_supercell
    rng = np.random.default_rng(seed)
    base = ase.Atoms("BaTiO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                     cell=np.eye(3) * 4.0, pbc=True)
    atoms = make_supercell(base, np.diag([2, 2, 2]))
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + 0.01 * rng.standard_normal((3, 3))), scale_atoms=True)
    atoms.positions += 0.08 * rng.standard_normal(atoms.positions.shape)
    return atoms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--python-module", action="store_true", help="the build has the Python module: import it")
    args = ap.parse_args()
    import ase.io
    with tempfile.TemporaryDirectory(prefix="gapd_install_") as tmp:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", args.build_dir, "--prefix", prefix], stdout=subprocess.DEVNULL)
        consumer_build = os.path.join(tmp, "consumer")
        env = dict(os.environ)
        env.pop("CMAKE_PREFIX_PATH", None)
        run(["cmake", "-S", os.path.join(HERE, "consumer"), "-B", consumer_build, "-DCMAKE_BUILD_TYPE=Release",
             f"-DCMAKE_PREFIX_PATH={prefix}"], env=env, stdout=subprocess.DEVNULL)
        run(["cmake", "--build", consumer_build], env=env, stdout=subprocess.DEVNULL)

        # Through extxyz first: gapd predict reads the structure from it (ASE writes 8 decimals), so both programs
        # must see the written numbers.
        xyz, predicted = os.path.join(tmp, "in.extxyz"), os.path.join(tmp, "out.extxyz")
        ase.io.write(xyz, structure(), format="extxyz")
        atoms = ase.io.read(xyz, format="extxyz")
        text = [str(len(atoms)), " ".join(f"{x:.17g}" for x in atoms.cell[:].ravel())]
        text += [f"{z} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}" for z, p in zip(atoms.numbers, atoms.positions)]
        src = os.path.join(tmp, "structure.txt")
        with open(src, "w") as f:
            f.write("\n".join(text) + "\n")
        out = run([os.path.join(consumer_build, "gapd_consumer"), MODEL, src], capture_output=True, text=True).stdout
        values = {}
        for line in out.splitlines():
            key, value = line.split()
            values.setdefault(key, []).append(value)
        got = {k: np.array([float(x) for x in v]) for k, v in values.items() if k != "version"}

        # The same structure through the installed gapd executable's predict.
        run([os.path.join(prefix, "bin", "gapd"), "predict", xyz, "-m", MODEL, "-o", predicted, "--threads", "1",
             "--extras", "dipole,BEC"], stderr=subprocess.DEVNULL)
        ref = ase.io.read(predicted, format="extxyz")
        want = {"energy": np.array([ref.info["energy"]]), "force": ref.arrays["forces"].ravel(),
                "stress": np.asarray(ref.info["stress"], dtype=float).ravel(), "dipole": np.asarray(ref.info["dipole"]),
                "born_charge": ref.arrays["born_charges"].reshape(-1, 3, 3).transpose(0, 2, 1).ravel()}
        worst = 0.0
        for key, w in want.items():
            g = got[key]
            assert g.shape == w.shape, f"{key}: {g.shape} values, gapd predict has {w.shape}"
            err = np.abs(g - w).max() / np.abs(w).max()
            assert err <= 1e-12, f"{key}: relative deviation {err:.3g} from gapd predict"
            worst = max(worst, err)
        print(f"consumer program (gapd {values['version'][0]}) equals gapd predict: worst relative deviation "
              f"{worst:.2g}")

        if args.python_module:
            modules = glob.glob(os.path.join(prefix, "**", "gapd", "_gapd*.so"), recursive=True)
            assert modules, "the Python module was not installed"
            package_parent = os.path.dirname(os.path.dirname(modules[0]))
            env = dict(os.environ, PYTHONPATH=package_parent)
            code = ("import gapd, sys; m = gapd.Model(sys.argv[1]); print(gapd.__file__, gapd.__version__, "
                    "m.has_dipole_model)")
            out = run([sys.executable, "-c", code, MODEL], env=env, capture_output=True, text=True,
                      cwd=tmp).stdout.strip()
            assert out.startswith(prefix), f"imported gapd from {out}, not from the installed prefix"
            print(f"installed Python package imports: {out}")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
