#!/usr/bin/python3
"""The PBEsol [111] double well of BaTiO3: CP2K (the dataset's settings) against a gapd model, per formula unit.

    /usr/bin/python3 scripts/dft/double_well.py make WORKDIR              # CP2K inputs, one directory per u
    nohup /usr/bin/python3 scripts/dft/run_queue.py WORKDIR --np 1 &      # the CP2K runs (resumable)
    /usr/bin/python3 scripts/dft/double_well.py report WORKDIR [-m MODEL] [--png FIG] [--json OUT]
    /usr/bin/python3 scripts/dft/double_well.py report --cp2k-json data/double_well_111.json -m NEW.gapd
                                      # a new model against the CP2K points of an earlier report, no WORKDIR

Structure: the cubic 5-atom cell (a = 4.00 Å) with a polar displacement along [111] as in the seed data's cutoff
study (../shared/data/README.md): Ti +u, Ba +0.3u, O -0.55u, u the Ti displacement (Å) along (1,1,1)/sqrt(3).
`report` evaluates the model on every u (`gapd predict`), takes E(u) - E(0) per formula unit for the model and for
every finished CP2K run, prints the table, the depth of both curves and the largest difference, and draws them.
The model's curve covers every u; CP2K points appear as the queue finishes them (a 5-atom run: ~1 min on an idle
core, far more at nice 19 on a busy machine).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import ase
import ase.io
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import cp2k_input  # noqa: E402
from read_gapd_model import model_sha256_16  # noqa: E402

A_CUBIC = 4.00
U_VALUES = [0.0, 0.04, 0.06, 0.08, 0.10, 0.12, 0.16]  # Å
PATTERN = {"Ba": 0.3, "Ti": 1.0, "O": -0.55}


def displaced_cell(u):
    a = A_CUBIC
    atoms = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5),
                                                  (0, 0.5, 0.5)], cell=[a, a, a], pbc=True)
    direction = np.ones(3) / np.sqrt(3.0)
    atoms.positions += np.array([PATTERN[s] * u * direction for s in atoms.get_chemical_symbols()])
    atoms.info.update({"structure_id": "dw_u%.3f" % u, "config_type": "double-well-111", "gen_u": u})
    return atoms


def run_dir(workdir, u):
    return os.path.join(workdir, "dw_u%.3f" % u)


def make(workdir):
    for u in U_VALUES:
        d = run_dir(workdir, u)
        if os.path.exists(os.path.join(d, "cp2k.inp")):
            continue
        os.makedirs(d, exist_ok=True)
        atoms = displaced_cell(u)
        kpts = cp2k_input.kmesh(atoms.cell.lengths())
        atoms.info["kpts"] = np.array(kpts)
        ase.io.write(os.path.join(d, "structure.extxyz"), atoms, format="extxyz")
        with open(os.path.join(d, "cp2k.inp.tmp"), "w") as f:
            f.write(cp2k_input.cp2k_input(atoms, kpts))
        os.replace(os.path.join(d, "cp2k.inp.tmp"), os.path.join(d, "cp2k.inp"))
    print("double_well: %d CP2K directories in %s; run scripts/dft/run_queue.py %s" % (len(U_VALUES), workdir, workdir))


def model_energies(gapd, model):
    with tempfile.TemporaryDirectory() as tmp:
        ase.io.write(os.path.join(tmp, "in.extxyz"), [displaced_cell(u) for u in U_VALUES], format="extxyz")
        subprocess.run([gapd, "predict", os.path.join(tmp, "in.extxyz"), "-m", model, "-o",
                        os.path.join(tmp, "out.extxyz"), "--extras", "none", "--threads", "1"], check=True,
                       stderr=subprocess.DEVNULL)
        return [f.info["energy"] for f in ase.io.read(os.path.join(tmp, "out.extxyz"), ":")]


def report(args):
    model = model_energies(args.gapd, args.model)
    # CP2K E(u) - E(0) in meV/f.u., from the finished runs of WORKDIR or from an earlier report's rows.
    dft_rel = {}
    if args.cp2k_json:
        with open(args.cp2k_json) as f:
            stored = json.load(f)
        dft_rel = {round(r["u"], 6): r["cp2k_meV"] for r in stored["rows"] if r.get("cp2k_meV") is not None}
    else:
        dft = {}
        for u in U_VALUES:
            path = os.path.join(run_dir(args.workdir, u), "result.extxyz")
            if os.path.exists(path):
                dft[u] = ase.io.read(path).info["energy"]
        if 0.0 in dft:
            dft_rel = {round(u, 6): 1e3 * (e - dft[0.0]) for u, e in dft.items()}
    m0 = model[0]
    rows = []
    print("u (Å)   model E-E0 (meV/f.u.)   CP2K E-E0 (meV/f.u.)   diff")
    for u, e in zip(U_VALUES, model):
        dm = 1e3 * (e - m0)
        dd = dft_rel.get(round(u, 6))
        rows.append({"u": u, "model_meV": dm, "cp2k_meV": dd})
        print("%.3f   %10.3f   %s   %s" % (u, dm, "%10.3f" % dd if dd is not None else "   (pending)",
                                            "%7.3f" % (dm - dd) if dd is not None else ""))
    both = [r for r in rows if r["cp2k_meV"] is not None]
    model_path = os.path.abspath(args.model)
    if model_path.startswith(REPO + os.sep):
        model_path = os.path.relpath(model_path, REPO)
    # The sha lets scripts/model_card_numbers.py tell whether the stored well is the shipped model's.
    summary = {"model": model_path, "model_sha256_16": model_sha256_16(args.model), "rows": rows, "cp2k_points": len(both),
               "model_depth_meV": min(r["model_meV"] for r in rows)}
    if both:
        summary["cp2k_depth_meV"] = min(r["cp2k_meV"] for r in both)
        summary["max_abs_diff_meV"] = max(abs(r["model_meV"] - r["cp2k_meV"]) for r in both)
        print("depth: model %.2f meV/f.u., CP2K %.2f meV/f.u. (min over the computed u); max |diff| %.2f meV/f.u. "
              "over %d CP2K points" % (summary["model_depth_meV"], summary["cp2k_depth_meV"],
                                       summary["max_abs_diff_meV"], len(both)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.rcParams.update({"font.size": 12})
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.plot(U_VALUES, [r["model_meV"] for r in rows], "o-", label="gapd model")
        if both:
            ax.plot([r["u"] for r in both], [r["cp2k_meV"] for r in both], "s", ms=9, mfc="none",
                    label="CP2K PBEsol (1300 Ry)")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("Ti displacement u along [111] (Å)  (Ba 0.3u, O -0.55u)")
        ax.set_ylabel("E(u) - E(0) (meV per formula unit)")
        ax.set_title("BaTiO$_3$ [111] double well, cubic a = 4.00 Å\n%s" % os.path.basename(args.model),
                     fontsize=11)
        ax.legend(loc="best")
        fig.tight_layout()
        fig.savefig(args.png, dpi=150)
        print("wrote %s" % args.png)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["make", "report"])
    ap.add_argument("workdir", nargs="?", help="directory of the CP2K runs (make: created; report: read)")
    ap.add_argument("-m", "--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.path.join(REPO, "build", "gapd"))
    ap.add_argument("--png")
    ap.add_argument("--json")
    ap.add_argument("--cp2k-json", help="report: CP2K points from this earlier --json output instead of WORKDIR")
    args = ap.parse_args()
    if args.workdir is None and not (args.action == "report" and args.cp2k_json):
        ap.error("WORKDIR is required (report can take --cp2k-json instead)")
    if args.action == "make":
        make(args.workdir)
    else:
        report(args)


if __name__ == "__main__":
    main()
