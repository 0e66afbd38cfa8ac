#!/usr/bin/env python3
"""Parity plots (PNG) of predictions against references from `gapd eval -o` (or `gapd predict --key-prefix gap_`)
output: energy per atom, force components per species, virial per atom and, when the frames have predicted
dipoles (gap_dipole, written by `gapd eval` for a model with a dipole section), dipole components per atom.

  python3 scripts/parity_plot.py eval.xyz -o plots/            # references: energy, forces, virial/stress
  python3 scripts/parity_plot.py pred.xyz --reference ref.xyz  # predictions in one file, references in another
"""
import argparse, os
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from ase.io import read


def virial(a, key_virial, key_stress):
    if key_virial in a.info:
        return np.asarray(a.info[key_virial], float).reshape(3, 3)
    if key_stress in a.info:
        s = np.asarray(a.info[key_stress], float)
        if s.size == 6:
            from ase.constraints import voigt_6_to_full_3x3_stress
            s = voigt_6_to_full_3x3_stress(s)
        return -np.reshape(s, (3, 3)) * a.get_volume()
    return None


def parity(ax, ref, pred, title, unit):
    ref, pred = np.asarray(ref), np.asarray(pred)
    lo, hi = min(ref.min(), pred.min()), max(ref.max(), pred.max())
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.plot(ref, pred, ".", ms=3)
    rmse = np.sqrt(np.mean((pred - ref) ** 2))
    ax.set_title(f"{title}\nRMSE {rmse:.4g} {unit}")
    ax.set_xlabel(f"reference ({unit})")
    ax.set_ylabel(f"prediction ({unit})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("predictions")
    ap.add_argument("--reference", help="file with the references (default: the predictions file)")
    ap.add_argument("--key-prefix", "--prefix", dest="prefix", default="gap_",
                    help="prefix of the prediction keys (default gap_, as gapd eval --key-prefix)")
    ap.add_argument("--energy-key", default="energy")
    ap.add_argument("--forces-key", default="forces")
    ap.add_argument("--stress-key", default="stress")
    ap.add_argument("--virial-key", default="virial")
    ap.add_argument("--dipole-key", default="dipole",
                    help="reference total dipole, e*Å (default dipole; gapd eval's PREFIXdipole_reference, the reference "
                         "on the polarization branch nearest the prediction, is used when present)")
    ap.add_argument("-o", "--output", default=".", help="output directory")
    o = ap.parse_args()
    pred = read(o.predictions, ":")
    ref = read(o.reference, ":") if o.reference else pred
    if len(ref) != len(pred):
        raise SystemExit(f"parity_plot: {len(ref)} reference frames but {len(pred)} predicted frames")
    os.makedirs(o.output, exist_ok=True)
    p = o.prefix
    # ASE may move energy/forces into a SinglePointCalculator; read from there when info/arrays lack them.
    def info(a, k):
        if k in a.info:
            return a.info[k]
        return a.calc.results[k] if a.calc is not None and k in a.calc.results else None
    def array(a, k):
        if k in a.arrays:
            return a.arrays[k]
        return a.calc.results[k] if a.calc is not None and k in a.calc.results else None

    e_ref = [info(r, o.energy_key) / len(r) for r in ref]
    e_pred = [info(q, p + "energy") / len(q) for q in pred]
    fig, ax = plt.subplots(figsize=(4, 4))
    parity(ax, e_ref, e_pred, "energy per atom", "eV/atom")
    fig.tight_layout()
    fig.savefig(os.path.join(o.output, "parity_energy.png"), dpi=120)

    species = sorted({s for r in ref for s in r.get_chemical_symbols()})
    fig, axes = plt.subplots(1, len(species), figsize=(4 * len(species), 4), squeeze=False)
    for ax, s in zip(axes[0], species):
        fr, fp = [], []
        for r, q in zip(ref, pred):
            mask = np.array(r.get_chemical_symbols()) == s
            a, b = array(r, o.forces_key), array(q, p + "forces")
            if a is not None and b is not None:
                fr.append(a[mask].ravel())
                fp.append(b[mask].ravel())
        if fr:
            parity(ax, np.concatenate(fr), np.concatenate(fp), f"force components on {s}", "eV/Å")
    fig.tight_layout()
    fig.savefig(os.path.join(o.output, "parity_forces.png"), dpi=120)

    vr, vp = [], []
    for r, q in zip(ref, pred):
        a, b = virial(r, o.virial_key, o.stress_key), virial(q, p + "virial", p + "stress")
        if a is not None and b is not None:
            vr.append(a.ravel() / len(r))
            vp.append(b.ravel() / len(q))
    if vr:
        fig, ax = plt.subplots(figsize=(4, 4))
        parity(ax, np.concatenate(vr), np.concatenate(vp), "virial per atom", "eV/atom")
        fig.tight_layout()
        fig.savefig(os.path.join(o.output, "parity_virial.png"), dpi=120)
    dr, dp = [], []
    for r, q in zip(ref, pred):
        b = info(q, p + "dipole")
        a = info(q, p + "dipole_reference")
        if a is None:
            a = info(r, o.dipole_key)
        if a is not None and b is not None:
            dr.append(np.asarray(a, float).ravel() / len(r))
            dp.append(np.asarray(b, float).ravel() / len(q))
    if dr:
        fig, ax = plt.subplots(figsize=(4, 4))
        parity(ax, np.concatenate(dr), np.concatenate(dp), "dipole components per atom", "e·Å/atom")
        fig.tight_layout()
        fig.savefig(os.path.join(o.output, "parity_dipole.png"), dpi=120)
    print(f"parity_plot: wrote PNGs to {o.output}")


if __name__ == "__main__":
    main()
