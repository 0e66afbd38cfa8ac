#!/usr/bin/env python3
"""Parity plots (PNG) of predictions against references from `gapd eval -o` (or `gapd predict --key-prefix gap_`)
output: energy per atom, force components per species, virial per atom and, when the frames have predicted
dipoles (gap_dipole, written by `gapd eval` for a model with a dipole section), dipole components per atom.

  python3 scripts/parity_plot.py eval.xyz -o plots/            # references: energy, forces, virial/stress
  python3 scripts/parity_plot.py pred.xyz --reference ref.xyz  # predictions in one file, references in another
  python3 scripts/parity_plot.py eval.xyz -m data/models/batio3_default.gapd -o plots/   # model named in the titles
"""
import argparse, os, sys
import numpy as np
from ase.io import read

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis"))
import cli  # noqa: E402  (shared figure style: fonts >= 11 pt, 150 dpi)


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
    ax.plot(ref, pred, ".", ms=4)
    rmse = np.sqrt(np.mean((pred - ref) ** 2))
    ax.set_title(f"{title}\nRMSE {rmse:.4g} {unit}, {ref.size} values")
    ax.set_xlabel(f"reference ({unit})")
    ax.set_ylabel(f"prediction ({unit})")


# ASE may move energy/forces into a SinglePointCalculator; read from there when info/arrays lack them.
def info(a, k):
    if k in a.info:
        return a.info[k]
    return a.calc.results[k] if a.calc is not None and k in a.calc.results else None


def array(a, k):
    if k in a.arrays:
        return a.arrays[k]
    return a.calc.results[k] if a.calc is not None and k in a.calc.results else None


def describe(frames, model, predictions):
    """Title naming the model (else the predictions file), the frame count and the atom counts."""
    n = sorted({len(a) for a in frames})
    atoms = "%d atoms" % n[0] if len(n) == 1 else "%d-%d atoms" % (n[0], n[-1])
    source = "model %s" % os.path.basename(model) if model else "predictions %s" % os.path.basename(predictions)
    return "%s: %d structures of %s" % (source, len(frames), atoms)


def figures(pred, ref, o, suptitle):
    """{file name: Figure} of the parity plots; `o` holds the key options of main()."""
    plt = cli.pyplot()
    p = o.prefix
    figs = {}
    e_ref = [info(r, o.energy_key) / len(r) for r in ref]
    e_pred = [info(q, p + "energy") / len(q) for q in pred]
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    parity(ax, e_ref, e_pred, "energy per atom", "eV/atom")
    fig.suptitle(suptitle)
    fig.tight_layout()
    figs["parity_energy.png"] = fig

    species = sorted({s for r in ref for s in r.get_chemical_symbols()})
    fig, axes = plt.subplots(1, len(species), figsize=(5.5 * len(species), 5.5), squeeze=False)
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
    fig.suptitle(suptitle)
    fig.tight_layout()
    figs["parity_forces.png"] = fig

    vr, vp = [], []
    for r, q in zip(ref, pred):
        a, b = virial(r, o.virial_key, o.stress_key), virial(q, p + "virial", p + "stress")
        if a is not None and b is not None:
            vr.append(a.ravel() / len(r))
            vp.append(b.ravel() / len(q))
    if vr:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        parity(ax, np.concatenate(vr), np.concatenate(vp), "virial per atom", "eV/atom")
        fig.suptitle(suptitle)
        fig.tight_layout()
        figs["parity_virial.png"] = fig
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
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        parity(ax, np.concatenate(dr), np.concatenate(dp), "dipole components per atom", "e·Å/atom")
        fig.suptitle(suptitle)
        fig.tight_layout()
        figs["parity_dipole.png"] = fig
    return figs


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
    ap.add_argument("-m", "--model", help="model file, named in the figure titles (default: the predictions file name)")
    ap.add_argument("-o", "--output", default=".", help="output directory")
    o = ap.parse_args()
    pred = read(o.predictions, ":")
    ref = read(o.reference, ":") if o.reference else pred
    if len(ref) != len(pred):
        raise SystemExit(f"parity_plot: {len(ref)} reference frames but {len(pred)} predicted frames")
    os.makedirs(o.output, exist_ok=True)
    suptitle = describe(pred, o.model, o.predictions)
    for name, fig in figures(pred, ref, o, suptitle).items():
        cli.savefig(fig, os.path.join(o.output, name))
    print(f"parity_plot: wrote PNGs to {o.output}")


if __name__ == "__main__":
    main()
