#!/usr/bin/env python3
"""Make the feature-sparsified librascal fixture (tests/data/librascal_subselection, its README).

librascal is never built here: LIBRASCAL_PATH must point at a locally built librascal (the directory holding the
`rascal` Python package, e.g. librascal/build). Run with Debian's Python (numpy, scipy, ase):

    LIBRASCAL_PATH=/path/to/librascal/build /usr/bin/python3 scripts/make_librascal_subselection_fixture.py \
        --out tests/data/librascal_subselection

Steps, all with librascal's own code except the farthest-point sampling (skmatter, which librascal's FPSFilter
wraps, is not in Debian; `ColumnFPS` below implements the same greedy max-min rule with the selector interface
librascal's `Filter` expects):
1. paper hypers (nmax 8, lmax 6, rc 5.5 Å, sigma 0.5 Å, RadialScaling(1, 3.5, 4), smooth width 0.5 Å, normalized,
   exact radial integrals), full power spectra of data/batio3_pbesol_train.extxyz (61 frames);
2. feature selection: librascal `Filter(act_on="feature")` with FPS over the 2688 feature columns -> --features
   entries of `coefficient_subselection` (librascal's own index mapping);
3. sparse points: `Filter(act_on="sample per species")` with FPS on the selected features, --sparse per species;
4. GAP fit with `rascal.models.train_gap_model` (zeta 4) on energies and forces; self contributions = the mean
   DFT energy per atom for every species (BaTiO3 data has one stoichiometry);
5. `dump_obj` -> model_paper_hypers_subselection<F>_zeta4_exact.json (gzipped);
6. predictions of librascal's ASE calculator (energy, forces, stress; virial = -stress V) on a 5-atom, a 40-atom
   and a 320-atom cell. The 5-atom cell is shorter than the cutoff, where librascal's forces miss the self-image
   terms (tests/data/README.md): for it `forces_selfimage_corrected` = 4th-order central finite differences of
   librascal's energy (h = 2e-3 Å), the reference gapd must match.
"""
import argparse
import gzip
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

HYPERS = dict(
    soap_type="PowerSpectrum",
    interaction_cutoff=5.5,
    max_radial=8,
    max_angular=6,
    gaussian_sigma_constant=0.5,
    gaussian_sigma_type="Constant",
    cutoff_function_type="RadialScaling",
    cutoff_smooth_width=0.5,
    cutoff_function_parameters=dict(rate=1.0, scale=3.5, exponent=4),
    radial_basis="GTO",
    normalize=True,
    optimization={},
    compute_gradients=False,
    expansion_by_species_method="environment wise",
)


def import_librascal():
    path = os.environ.get("LIBRASCAL_PATH", "")
    if not path or not os.path.isdir(path):
        sys.exit("make_librascal_subselection_fixture: set LIBRASCAL_PATH to a locally built librascal (the "
                 "directory containing the 'rascal' Python package); this script never builds librascal.")
    sys.path.insert(0, path)
    import rascal  # noqa: F401
    return rascal


class ColumnFPS:
    """Greedy farthest-point sampling with the selector interface of librascal's Filter (fit, get_support).

    selection_type "feature": points are the columns of X; "sample": the rows. First point: the one of largest
    norm; then each step takes the point farthest (Euclidean) from all chosen ones, ties to the lowest index."""

    def __init__(self, selection_type, n_to_select):
        self.selection_type = selection_type
        self.n_to_select = n_to_select
        self.selected = None

    def fit(self, X):
        P = np.asarray(X, dtype=float)
        if self.selection_type == "feature":
            P = P.T
        sq = np.einsum("ij,ij->i", P, P)
        chosen = [int(np.argmax(sq))]
        d2 = sq + sq[chosen[0]] - 2 * P @ P[chosen[0]]
        for _ in range(1, self.n_to_select):
            k = int(np.argmax(d2))
            chosen.append(k)
            d2 = np.minimum(d2, sq + sq[k] - 2 * P @ P[k])
        self.selected = np.array(chosen, dtype=int)
        return self

    def get_support(self, indices=True, ordered=True):
        return self.selected


def make_filter(representation, n_select, selector, act_on):
    from rascal.utils.filter import Filter

    class FPSFilter(Filter):
        def __init__(self):
            self._check_set_mode(act_on)
            super().__init__(representation=representation, Nselect=n_select, selector=selector, act_on=act_on)

    return FPSFilter()


def structures():
    """5-atom and 40-atom cells of the librascal reference set, and a 320-atom 4x4x4 cell (a = 4.0 Å, 0.08 Å
    Gaussian noise, seed 7)."""
    import ase.io
    ref = ase.io.read(os.path.join(ROOT, "tests", "data", "librascal", "structures.extxyz"), index=":")
    by_name = {a.info.get("name", str(i)): a for i, a in enumerate(ref)}
    five = by_name["bto_5atom_cubic"]
    forty = by_name["bto_40atom_triclinic"]
    from ase import Atoms
    cell = Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                 cell=np.eye(3) * 4.0, pbc=True).repeat((4, 4, 4))
    rng = np.random.default_rng(7)
    cell.positions += rng.normal(scale=0.08, size=cell.positions.shape)
    cell.wrap(eps=1e-12)
    return [("bto_5atom_cubic", five), ("bto_40atom_triclinic", forty), ("bto_320atom_cubic_noise0.08", cell)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "librascal_subselection"))
    p.add_argument("--features", type=int, default=300)
    p.add_argument("--sparse", type=int, default=30, help="sparse points per species")
    p.add_argument("--lambdas", default="0.005,0.05", help="energy (eV/atom) and force (eV/Å) regularizers")
    args = p.parse_args()
    import_librascal()
    import ase.io
    from rascal.representations import SphericalInvariants
    from rascal.models import Kernel, train_gap_model, compute_KNM
    from rascal.models.asemd import ASEMLCalculator
    from rascal.utils import dump_obj, load_obj

    frames = ase.io.read(os.path.join(ROOT, "data", "batio3_pbesol_train.extxyz"), index=":")
    for f in frames:
        f.wrap(eps=1e-12)

    # 2. feature selection on the full power spectrum
    full = SphericalInvariants(**HYPERS)
    managers = full.transform(frames)
    feature_filter = make_filter(full, args.features, ColumnFPS("feature", args.features), "feature")
    selection = feature_filter.select_and_filter(managers)["coefficient_subselection"]

    # 3. sparse points on the selected features
    hypers = dict(HYPERS, coefficient_subselection=selection)
    soap = SphericalInvariants(**hypers)
    managers = soap.transform(frames)
    species = sorted({int(z) for f in frames for z in f.numbers})
    n_sparse = {z: args.sparse for z in species}
    sample_filter = make_filter(soap, n_sparse, {z: ColumnFPS("sample", n) for z, n in n_sparse.items()},
                                "sample per species")
    X_sparse = sample_filter.select_and_filter(managers)

    # 4. fit on energies and forces (gradients on for the kernel's representation)
    soap_grad = SphericalInvariants(**dict(hypers, compute_gradients=True))
    kernel = Kernel(soap_grad, name="GAP", zeta=4, target_type="Structure", kernel_type="Sparse")
    energies = np.array([f.info["energy"] for f in frames])
    natoms = sum(len(f) for f in frames)
    e0 = float(energies.sum() / natoms)
    self_contributions = {z: e0 for z in species}
    forces = np.concatenate([f.get_array("forces") for f in frames])
    KNM = compute_KNM(frames, X_sparse, kernel, soap_grad)
    lambdas = [float(x) for x in args.lambdas.split(",")]
    model = train_gap_model(kernel, frames, KNM, X_sparse, energies, self_contributions,
                            grad_train=-forces, lambdas=lambdas, jitter=1e-8)

    os.makedirs(args.out, exist_ok=True)
    stem = f"paper_hypers_subselection{args.features}_zeta4_exact"
    model_json = os.path.join(args.out, f"model_{stem}.json")
    dump_obj(model_json, model)
    model = load_obj(model_json)  # predictions from the file as saved
    with open(model_json, "rb") as src, gzip.GzipFile(model_json + ".gz", "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    os.remove(model_json)

    # 6. predictions
    def energy_of(atoms):
        a = atoms.copy()
        a.wrap(eps=1e-12)
        a.calc = ASEMLCalculator(model, model.get_representation_calculator())
        return a.get_potential_energy()

    out = {"model": f"model_{stem}.json.gz", "coefficient_subselection_entries": len(selection["a"]),
           "structures": []}
    for name, atoms in structures():
        a = atoms.copy()
        a.calc = ASEMLCalculator(model, model.get_representation_calculator())
        entry = {"name": name, "numbers": a.numbers.tolist(), "cell": a.cell.array.tolist(),
                 "positions": a.positions.tolist(), "pbc": a.pbc.tolist(),
                 "energy": float(a.get_potential_energy()), "forces": a.get_forces().tolist()}
        stress = a.get_stress(voigt=False)
        entry["stress"] = stress.tolist()
        entry["virial"] = (-stress * a.get_volume()).tolist()
        widths = [a.get_volume() / np.linalg.norm(np.cross(a.cell[(i + 1) % 3], a.cell[(i + 2) % 3]))
                  for i in range(3)]
        if min(widths) < HYPERS["interaction_cutoff"]:
            h = 2e-3
            fd = np.zeros((len(a), 3))
            for i in range(len(a)):
                for c in range(3):
                    e = {}
                    for k in (-2, -1, 1, 2):
                        b = atoms.copy()
                        b.positions[i, c] += k * h
                        e[k] = energy_of(b)
                    fd[i, c] = -(-e[2] + 8 * e[1] - 8 * e[-1] + e[-2]) / (12 * h)
            entry["forces_selfimage_corrected"] = fd.tolist()
            entry["note"] = ("cell shorter than the cutoff: librascal's 'forces' miss self-image terms; "
                             "'forces_selfimage_corrected' = 4th-order central differences of its energy, h = 2e-3")
        out["structures"].append(entry)
        print(f"{name}: {len(a)} atoms, E = {entry['energy']:.10f} eV", flush=True)
    with open(os.path.join(args.out, f"predictions_{stem}.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"{len(selection['a'])} selected features, {sum(n_sparse.values())} sparse points -> {args.out}")


if __name__ == "__main__":
    main()
