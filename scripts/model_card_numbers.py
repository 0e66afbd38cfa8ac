#!/usr/bin/python3
"""Every number data/models/MODEL_CARD.md quotes about a model, from one command, after a refit.

    /usr/bin/python3 scripts/model_card_numbers.py [--model data/models/batio3_default.gapd] [--gapd build/gapd]
        [--test data/batio3_pbesol_test.extxyz] [--train data/batio3_pbesol_train.extxyz] [--json OUT.json]
        [--write | --check]

Prints, as markdown to paste or compare:
- identity: sha256 (first 16 hex digits), file size, sparse points per species (read_gapd_model.py);
- the data it was fitted on: training structures by cell size, MD-sampled ones, DFT dipoles (from --train);
- held-out errors: `gapd eval` on --test, overall and `--group-by natoms,config_type` (energy meV/atom, forces
  meV/Å all and per species, virial meV/atom, dipole me·Å/atom), and the dipole RMSE in e·Bohr/atom;
- Born charges of the ideal cubic 5-atom cell, a = 4.0 Å (`gapd predict --extras BEC`);
- the float32 kernel's deviation on the 320-atom bench structure (`gapd predict --precision float32`).

**Generated parts of the docs.** The numbers that change at every refit or with every new label (the dataset's
counts, --train and --test as they are now; the training set at the refit, from the ids file make_default_model.sh
writes) sit in the card (and a few other pages, GENERATED_IN) between markers

    <!-- model_card_numbers.py: NAME -->...<!-- model_card_numbers.py: end -->

(inline or as a block of lines); `--write` rewrites them from this run, `--check` exits 1 naming every part that
differs (tests/e2e/test_model_card.py runs it). NAMEs: see generated(), training_parts(), dataset_parts(), history_parts(). Two of them come from files the refit
leaves in data/models/: the training errors and training-set size from the fit's JSON report
(`batio3_default.fit_report.json`, bash scripts/make_default_model.sh), and the fit-order spread from
`batio3_default.fit_spread.json` (`scripts/fit_spread.py --json`), used only if its committed-order fit scores
what this model scores on --test (otherwise the spread belongs to another model or test split: rerun it).

**History.** data/models/history.json records every default model, newest first: its scores on a frozen test
split (data/models/history_test_split.extxyz, the test file at the refit of 91e88770503eb4e4, so that models stay
comparable as the test split grows), Born charges, float32 deviation and training-set size. `--write` adds this
model as the newest entry (dated now; its `change` field, a few words on a changed setting, is by hand) or
refreshes its numbers; `--check` fails if the entry is missing or stale. The parts `history`,
`born-charges-history` and `float32-history` are rendered from it.

The [111] double well against CP2K is not recomputed here (scripts/dft/double_well.py report, docs/physics.md).
Takes ~10 s on one core for the default model.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import ase.data
import ase.io

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import refit_scores  # noqa: E402
from read_gapd_model import model_sha256_16, read_gapd_model  # noqa: E402
BOHR_PER_ANGSTROM = 1.0 / 0.529177210903  # CODATA 2018


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"model_card_numbers.py: {' '.join(cmd)} failed: {(p.stderr or p.stdout).strip()[-400:]}")
    return p


def identity(model):
    """sha256, size and sparse points per species, read from the file (scripts/read_gapd_model.py)."""
    sha = model_sha256_16(model)
    sets = sorted(read_gapd_model(model)["sparse"].items())
    sparse = {ase.data.chemical_symbols[z]: len(s["points"]) for z, s in sets}
    return {"sha256_16": sha, "megabytes": round(os.path.getsize(model) / 1e6, 1), "sparse_points": sparse}


def dataset(frames):
    sizes = {}
    for a in frames:
        sizes[len(a)] = sizes.get(len(a), 0) + 1
    md = [a for a in frames if str(a.info.get("config_type", "")).startswith("md-")]
    return {"structures": len(frames), "by_size": dict(sorted(sizes.items())),
            "md_sampled": len(md), "md_sampled_40_or_more": sum(len(a) >= 40 for a in md),
            "dft_dipoles": sum("dipole" in a.info for a in frames)}


def training_at_fit(train_frames, ids_path, report):
    """The frames the model was fitted on: those of the training file whose structure_id is in the ids file that
    make_default_model.sh writes (the training file only grows after a refit). None if there is no ids file."""
    if not os.path.exists(ids_path):
        return None
    frames = refit_scores.frames_by_ids("model_card_numbers.py", train_frames, ids_path)
    if report and report["frames"]["training"] != len(frames):
        sys.exit(f"model_card_numbers.py: {ids_path}: {len(frames)} ids, but the fit report has "
                 f"{report['frames']['training']} training frames (rerun bash scripts/make_default_model.sh)")
    return frames


def md_by_round(frames):
    """'r1 10; r2 10 x2; ...': the MD temperatures of the MD-sampled frames (config_type md-nst-<T>K-round<R>)."""
    rounds = {}
    for a in frames:
        m = re.match(r"md-nst-(\d+)K-round(\d+)$", str(a.info.get("config_type", "")))
        if m:
            temps = rounds.setdefault(int(m.group(2)), {})
            temps[int(m.group(1))] = temps.get(int(m.group(1)), 0) + 1
    return "; ".join(f"r{r} " + ", ".join(f"{t}" + (f" x{n}" if n > 1 else "") for t, n in sorted(temps.items()))
                     for r, temps in sorted(rounds.items()))


def training_parts(frames):
    """The card's description of the training set at the refit: cells by size, the MD-sampled ones by round and
    temperature, the DFT dipoles by cell size."""
    d = dataset(frames)
    md = [a for a in frames if str(a.info.get("config_type", "")).startswith("md-")]
    rounds = sorted({int(m.group(1)) for a in md for m in [re.search(r"round(\d+)$", a.info["config_type"])] if m})
    dip = {}
    for a in frames:
        if "dipole" in a.info:
            dip[len(a)] = dip.get(len(a), 0) + 1
    over_10 = sum(n for size, n in d["by_size"].items() if size > 10)
    text = f"{d['structures']} structures: " + and_list(
        [f"{n} cells of {size} atoms" if k == 0 else f"{n} of {size}" for k, (size, n) in enumerate(d["by_size"].items())])
    if md:
        span = f"{rounds[0]}-{rounds[-1]}" if len(rounds) > 1 else f"{rounds[0]}"
        text += (f"; {len(md)} of them MD-sampled cells of active-learning rounds {span} (MD temperatures in K by "
                 f"round: {md_by_round(md)})")
    dip_text = and_list([f"{n} ({c})" for n, c in sorted(dip.items())]) + " atoms" if dip else "none"
    return {"training-data": text, "training-dipoles-by-size": dip_text, "training-md-cells": str(len(md)),
            "training-over-10-atoms": str(over_10)}


def dataset_parts(train_frames, test_frames):
    """The dataset as it is now (it grows between refits): counts the card, data/README.md and docs/physics.md quote,
    and the committed active-learning picks not labelled yet (data/active_learning/round*_selection_40.extxyz)."""
    frames = train_frames + test_frames
    d, tr, te = dataset(frames), dataset(train_frames), dataset(test_frames)
    known = {str(a.info.get("structure_id")) for a in frames}
    picks = {str(a.info.get("structure_id")) for p in sorted(glob.glob(os.path.join(REPO, "data", "active_learning",
                                                                                 "round*_selection_40.extxyz")))
             for a in ase.io.read(p, ":")}
    sizes = list(d["by_size"])
    return {"dataset-now": (f"{d['structures']} structures, {tr['structures']} train / {te['structures']} test; cells "
                            f"of {' / '.join(map(str, sizes))} atoms: {' / '.join(str(d['by_size'][n]) for n in sizes)}"),
            "dataset-structures": str(d["structures"]), "dataset-md-cells": str(d["md_sampled_40_or_more"]),
            "dataset-md-test-cells": str(te["md_sampled_40_or_more"]), "dataset-dipoles": str(d["dft_dipoles"]),
            "pending-picks": str(len(picks - known))}


def and_list(items):
    return (", ".join(items[:-1]) + " and " + items[-1]) if len(items) > 1 else "".join(items)


def held_out(model, gapd, test, tmp):
    """gapd eval's report grouped by cell size, plus the groups by cell size and origin under by_origin."""
    reports = {}
    for name, keys in (("size", "natoms"), ("origin", "natoms,config_type")):
        run([gapd, "eval", "-m", model, test, "--group-by", keys, "--report", f"{tmp}/eval_{name}"])
        with open(f"{tmp}/eval_{name}.json") as f:
            reports[name] = json.load(f)
    out = reports["size"]
    out["by_origin"] = reports["origin"]["groups"]
    return out


def born_charges(model, gapd, tmp):
    a = 4.0
    cubic = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                      cell=[a, a, a], pbc=True)
    ase.io.write(f"{tmp}/cubic.extxyz", cubic)
    run([gapd, "predict", f"{tmp}/cubic.extxyz", "-m", model, "-o", f"{tmp}/cubic_out.extxyz", "--extras", "BEC"])
    z = ase.io.read(f"{tmp}/cubic_out.extxyz").arrays["born_charges"].reshape(-1, 3, 3)
    # O at (.5,.5,0): along z is its Ti-O-Ti direction, x and y are across.
    return {"Ba": z[0, 0, 0], "Ti": z[1, 0, 0], "O_parallel": z[2, 2, 2], "O_perpendicular": z[2, 0, 0],
            "acoustic_sum_max": float(np.abs(z.sum(axis=0)).max())}


def float32_deviation(model, gapd, tmp):
    run([gapd, "bench", "--sizes", "4", "--write-structures", f"{tmp}/b4.extxyz"])
    p = run([gapd, "predict", f"{tmp}/b4.extxyz", "-m", model, "-o", f"{tmp}/b4_out.extxyz", "--precision", "float32"])
    m = re.search(r"\|dE\| ([0-9.eE+-]+) meV/atom, max \|dF\| ([0-9.eE+-]+) meV/Å", p.stderr)
    return {"dE_meV_per_atom": float(m.group(1)), "max_dF_meV_per_A": float(m.group(2))} if m else None


def frozen_split_scores(model, gapd, split, tmp):
    """The history table's numbers: held-out RMSEs on the frozen split, rounded as the card prints them."""
    run([gapd, "eval", "-m", model, split, "--group-by", "natoms", "--report", f"{tmp}/eval_history"])
    with open(f"{tmp}/eval_history.json") as f:
        h = json.load(f)
    out = {"energy": round(rmse(h["energy_per_atom"]), 2), "forces": round(rmse(h["forces"]), 1)}
    out.update({f"forces_{x}": round(species_forces(h, x), 1) for x in ("O", "Ti", "Ba")})
    out.update({"virial": round(rmse(h["virial_per_atom"]), 1), "dipole": round(rmse(h["dipole_per_atom"]), 2),
                "dipole_by_size": {str(g["group"]["natoms"]): round(rmse(g["dipole_per_atom"]), 2)
                                   for g in h["groups"]["tables"] if g["dipole_frames"]}})
    return out


def rmse(stats):
    return stats["rmse"] * 1e3 if stats and stats.get("count") else float("nan")


def species_forces(table, symbol):
    return rmse(table["forces_by_species"].get(symbol))


def group_row(name, g):
    d = f"{rmse(g['dipole_per_atom']):.2f} ({g['dipole_frames']})" if g["dipole_frames"] else "-"
    return (f"| {name} | {g['frames']} | {rmse(g['energy_per_atom']):.3f} | {rmse(g['forces']):.1f} "
            f"({species_forces(g, 'O'):.1f} / {species_forces(g, 'Ti'):.1f} / {species_forces(g, 'Ba'):.1f}) | "
            f"{rmse(g['virial_per_atom']):.2f} | {d} |")


MODELS = os.path.join(REPO, "data", "models")
# The DFT reference of the Born-charge table: GPAW PBEsol finite differences, +-0.01 Å (docs/dft_dipoles.md,
# scripts/dft/born_charge_check.py), Ba, Ti, O along Ti-O-Ti, O across.
GPAW_BEC = ("GPAW PBEsol, +-0.01 Å", 2.72, 6.94, -5.53, -2.07)
# Pages with generated parts (paths relative to the repository).
GENERATED_IN = ("data/models/MODEL_CARD.md", "README.md", "docs/physics.md", "data/README.md")
MARKER = re.compile(r"<!-- model_card_numbers\.py: ([a-z0-9-]+) -->(.*?)<!-- model_card_numbers\.py: end -->", re.S)


def fit_report(path):
    """The fit's JSON report (training frames and errors), or None if there is none."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fit_spread(path, held_out_scores):
    """fit_spread.py's summary if its committed-order fit is this model on this test split, else None."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        spread = json.load(f)
    committed = spread.get("fits", {}).get("committed", {})
    same = all(committed.get(k) is not None and abs(committed[k] - v) < 1e-6 * max(1.0, abs(v))
               for k, v in held_out_scores.items() if v is not None)
    return spread if same else None


def sizes_text(d):
    return ", ".join(f"{n} of {size}" for size, n in d["by_size"].items())


def held_out_block(out, report, spread):
    """The headline table: held-out RMSE (MAE), the fit-order spread and the training RMSE per quantity."""
    h, te = out["held_out"], out["test"]
    dip = h["dipole_per_atom"]
    tr = (report or {}).get("training", {})

    def spread_cell(key, digits):
        st = spread and spread["summary"].get(key)
        return f"{st['mean']:.{digits}f} +- {st['std']:.{digits}f}" if st else "-"

    def train_cell(stats, unit, digits=1):
        return f"{stats['rmse'] * 1e3:.{digits}f} {unit}" if stats and stats.get("count") else "-"

    n_orders = len(spread["fits"]) - 1 if spread else 0
    lines = [f"Test split: {te['structures']} structures ({sizes_text(te)} atoms; {te['md_sampled']} MD-sampled), "
             f"{h['dipole_frames']} of them with a DFT dipole.", "",
             "| quantity | held-out RMSE (MAE) | fit-order spread (" + (f"mean +- std of {n_orders} orders" if spread
                                                                      else "not measured on this test split")
             + ") | training RMSE |",
             "|---|---|---|---|",
             f"| energy | {rmse(h['energy_per_atom']):.2f} ({h['energy_per_atom']['mae'] * 1e3:.2f}) meV/atom = "
             f"{rmse(h['energy_per_formula_unit']):.1f} meV/f.u. | {spread_cell('energy', 3)} | "
             f"{train_cell(tr.get('energy_per_atom'), 'meV/atom', 2)} |",
             f"| forces, all | {rmse(h['forces']):.1f} ({h['forces']['mae'] * 1e3:.1f}) meV/Å | {spread_cell('forces', 1)} | "
             f"{train_cell(tr.get('forces'), 'meV/Å')} |",
             f"| forces O / Ti / Ba | {species_forces(h, 'O'):.1f} / {species_forces(h, 'Ti'):.1f} / "
             f"{species_forces(h, 'Ba'):.1f} meV/Å | | " + (" / ".join(
                 f"{tr['forces_by_species'][x]['rmse'] * 1e3:.1f}" for x in ("O", "Ti", "Ba"))
                 if tr.get("forces_by_species") else "-") + " |",
             f"| virial | {rmse(h['virial_per_atom']):.1f} ({h['virial_per_atom']['mae'] * 1e3:.1f}) meV/atom | "
             f"{spread_cell('virial', 1)} | {train_cell(tr.get('virial_per_atom'), 'meV/atom')} |"]
    if dip.get("count"):
        lines.append(f"| dipole vs DFT ({h['dipole_frames']} structures) | {rmse(dip):.2f} ({dip['mae'] * 1e3:.2f}) "
                     f"me·Å/atom = **{dip['rmse'] * BOHR_PER_ANGSTROM:.4f} e·Bohr/atom** | {spread_cell('dipole', 2)} | "
                     f"{train_cell(tr.get('dipole_per_atom'), 'me·Å/atom', 2)} |")
    return "\n".join(lines)


def pooled_group(groups):
    """One group table from several (RMSE and MAE pooled by their counts), for the MD-sampled row."""
    pool = refit_scores.pool_stats
    out = {k: pool([g.get(k) for g in groups]) for k in refit_scores.REPORT_KEY.values()}
    out["forces_by_species"] = {x: pool([g["forces_by_species"].get(x) for g in groups]) for x in ("O", "Ti", "Ba")}
    out["frames"] = sum(g["frames"] for g in groups)
    out["dipole_frames"] = sum(g["dipole_frames"] for g in groups)
    return out


def md_groups(out):
    """The held-out groups of MD-sampled frames (config_type md-nst-<T>K-round<R>), by round, then temperature."""
    def order(group):
        m = re.match(r"md-nst-(\d+)K-round(\d+)", group["group"]["config_type"])
        return (int(m.group(2)), int(m.group(1))) if m else (0, 0)
    return sorted((g for g in out["held_out"]["by_origin"]["tables"]
                   if str(g["group"]["config_type"]).startswith("md-")), key=order)


def by_cell_block(out):
    """Held-out RMSE by cell size, then the MD-sampled cells together and one row per MD origin (config_type
    md-nst-<T>K-round<R>)."""
    h = out["held_out"]
    rows = ["| held-out cells | frames | energy meV/atom | forces meV/Å (O / Ti / Ba) | virial meV/atom | "
            "dipole me·Å/atom (frames) |", "|---|---|---|---|---|---|"]
    rows += [group_row(f"{g['group']['natoms']} atoms", g) for g in h["groups"]["tables"]]
    md = md_groups(out)
    if md:
        rows.append(group_row("**MD-sampled, all**", pooled_group(md)))
        rows += [group_row(f"{g['group']['natoms']} atoms, {g['group']['config_type']}", g) for g in md]
    return "\n".join(rows)


def double_well_parts(path, sha):
    """The [111] well against CP2K from scripts/dft/double_well.py's JSON, if it is this model's (else {})."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        well = json.load(f)
    if well.get("model_sha256_16") != sha or "max_abs_diff_meV" not in well:
        return {}
    rows = ["| u (Å) | model (meV/f.u.) | CP2K PBEsol, 1300 Ry (meV/f.u.) |", "|---|---|---|"]
    rows += [f"| {r['u']:.2f} | {r['model_meV']:.2f} | {r['cp2k_meV']:.2f} |" for r in well["rows"]
             if r["u"] > 0 and r.get("cp2k_meV") is not None]
    return {"double-well-depth": f"{-well['model_depth_meV']:.2f}",
            "double-well": f"at most {well['max_abs_diff_meV']:.2f} meV/f.u. from CP2K, a well "
                           f"{-well['model_depth_meV']:.2f} meV/f.u. deep against CP2K's {-well['cp2k_depth_meV']:.2f}",
            "double-well-table": "\n".join(rows)}


def training_dipoles(report):
    """The number of training frames with a DFT dipole, from the fit's JSON report (0 without a dipole model)."""
    return ((report.get("dipoles") or {}).get("frames") or {}).get("training", 0)


def history_entry(out, report):
    """This model's entry of data/models/history.json (without `when` and `change`)."""
    z, f = out["born_charges"], out["float32"]
    entry = {"sha256_16": out["identity"]["sha256_16"]}
    if report:
        entry["training_structures"] = report["frames"]["training"]
        entry["training_dipoles"] = training_dipoles(report)
    entry["frozen_split"] = out["history_split"]
    entry["born_charges"] = {k: round(float(z[k]), 2) for k in ("Ba", "Ti", "O_parallel", "O_perpendicular")}
    if f:
        entry["float32"] = {"dE_meV_per_atom": float(f"{f['dE_meV_per_atom']:.3g}"),
                            "max_dF_meV_per_A": float(f"{f['max_dF_meV_per_A']:.2g}")}
    return entry


def updated_history(history, entry, path):
    """HISTORY with ENTRY as its newest model: added (dated now) if new, its numbers refreshed if known. SystemExit
    if the model is recorded but not as the newest (an older model put back needs a hand decision)."""
    models = [dict(m) for m in history.get("models", [])]
    shas = [m["sha256_16"] for m in models]
    sha = entry["sha256_16"]
    if sha in shas[1:]:
        sys.exit(f"model_card_numbers.py: {path}: model {sha} is recorded as an older model, not the newest "
                 f"({shas[0]}); edit the file by hand if an older model is shipped again")
    if shas and shas[0] == sha:
        models[0].update(entry)
    else:
        if "training_structures" not in entry:
            sys.exit(f"model_card_numbers.py: {path}: a new model's entry needs the fit's JSON report (--fit-report)")
        models.insert(0, dict(entry, when=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), change=""))
    return dict(history, models=models)


def history_parts(history):
    """The card's history table, the Born charges of earlier models and their float32 deviations."""
    models = history["models"]
    rows = ["| model | training set | energy meV/atom | forces meV/Å (O / Ti / Ba) | virial meV/atom | "
            "dipole me·Å/atom (5 / 10 / 40 atoms) |", "|---|---|---|---|---|---|"]
    for k, m in enumerate(models):
        name = f"{m['when']}, sha256 {m['sha256_16']}"
        name = f"this one ({name})" if k == 0 else f"previous ({name})" if k == 1 else name
        s = m["frozen_split"]
        by_size = " / ".join(f"{v:.2f}" for _, v in sorted(s["dipole_by_size"].items(), key=lambda kv: int(kv[0])))
        rows.append(f"| {name} | {m['training_structures']} structures, {m['training_dipoles']} DFT dipoles"
                    + (f"; {m['change']}" if m.get("change") else "")
                    + f" | {s['energy']:.2f} | {s['forces']:.1f} ({s['forces_O']:.1f} / {s['forces_Ti']:.1f} / "
                    f"{s['forces_Ba']:.1f}) | {s['virial']:.1f} | {s['dipole']:.2f} ({by_size}) |")
    bec = ["| Z* (e) | Ba | Ti | O along Ti-O-Ti | O across |", "|---|---|---|---|---|"]
    bec += [f"| {m['sha256_16']} ({m['training_dipoles']} dipoles) | " + " | ".join(
        f"{m['born_charges'][k]:.2f}" for k in ("Ba", "Ti", "O_parallel", "O_perpendicular")) + " |"
        for m in models[1:]]
    f32 = "; ".join(f"{m['float32']['dE_meV_per_atom']:g} and {m['float32']['max_dF_meV_per_A']:.2f}"
                    for m in models[1:] if m.get("float32"))
    return {"history": "\n".join(rows), "born-charges-history": "\n".join(bec), "float32-history": f32}


def energy_per_fu(h, spread):
    """'3.4 meV/f.u. for the committed order, 2.3 +- 0.5 over orders' (5 atoms per formula unit)."""
    text = f"{rmse(h['energy_per_formula_unit']):.1f} meV/f.u."
    st = spread and spread["summary"].get("energy")
    if st:
        text += f" for the committed order, {5 * st['mean']:.1f} +- {5 * st['std']:.1f} over orders"
    return text


def generated(out, report, spread, well):
    """NAME -> text of every generated part."""
    i, h, z, f = out["identity"], out["held_out"], out["born_charges"], out["float32"]
    md = md_groups(out)
    md = pooled_group(md) if md else None
    parts = {
        "sha256": i["sha256_16"],
        "held-out": held_out_block(out, report, spread),
        "held-out-by-cell": by_cell_block(out),
        "born-charges": "\n".join([
            "| Z* (e) | Ba | Ti | O along Ti-O-Ti | O across |", "|---|---|---|---|---|",
            f"| this model | {z['Ba']:.2f} | {z['Ti']:.2f} | {z['O_parallel']:.2f} | {z['O_perpendicular']:.2f} |",
            "| " + " | ".join([GPAW_BEC[0]] + [f"{v:.2f}" for v in GPAW_BEC[1:]]) + " |", "",
            f"(acoustic sum {z['acoustic_sum_max']:.2f} e)"]),
        "dipole-e-bohr": f"{h['dipole_per_atom']['rmse'] * BOHR_PER_ANGSTROM:.4f}" if h["dipole_per_atom"].get("count") else "-",
        "energy-rmse": f"{rmse(h['energy_per_atom']):.2f}",
        "energy-per-fu": energy_per_fu(h, spread),
        "forces-rmse": f"{rmse(h['forces']):.1f}",
    }
    if md:
        parts["md-held-out"] = (f"{md['frames']} MD-sampled test cells: {rmse(md['energy_per_atom']):.2f} meV/atom, "
                                f"{rmse(md['forces']):.1f} meV/Å")
        if md["dipole_frames"]:
            parts["md-dipole-e-bohr"] = (f"{md['dipole_per_atom']['rmse'] * BOHR_PER_ANGSTROM:.4f} e·Bohr/atom on the "
                                         f"{md['dipole_frames']} MD-sampled test cells with a DFT dipole")
    if f:
        parts["float32"] = f"{f['dE_meV_per_atom']:.3g} meV/atom and forces by at most {f['max_dF_meV_per_A']:.2g} meV/Å"
    if report:
        parts["training-structures"] = str(report["frames"]["training"])
        parts["training-dipoles"] = str(training_dipoles(report))
    parts.update(well)
    return parts


# Why a part can be missing: the file it comes from is absent or belongs to another model.
MISSING = {"training-structures": "needs the fit's JSON report, --fit-report (bash scripts/make_default_model.sh "
                                  "leaves it in data/models/)",
           "double-well": "needs --double-well of this model: /usr/bin/python3 scripts/dft/double_well.py report "
                          "--cp2k-json data/double_well_111.json --json data/double_well_111.json "
                          "--png docs/figures/double_well_111.png",
           "md-held-out": "needs MD-sampled frames (config_type md-...) in --test",
           "md-dipole-e-bohr": "needs MD-sampled frames with a DFT dipole in --test"}
MISSING["training-data"] = ("needs the training ids, --training-ids (bash scripts/make_default_model.sh leaves "
                             "them in data/models/)")
for name in ("training-dipoles-by-size", "training-md-cells", "training-over-10-atoms"):
    MISSING[name] = MISSING["training-data"]
MISSING["double-well-table"] = MISSING["double-well-depth"] = MISSING["double-well"]
MISSING["training-dipoles"] = MISSING["training-structures"]


def rewrite(text, parts, path):
    """TEXT with every marked part replaced; SystemExit on a NAME this script does not make."""
    def sub(m):
        name, body = m.group(1), m.group(2)
        if name not in parts:
            why = MISSING.get(name, "not a part this script makes (" + ", ".join(sorted(parts)) + ")")
            sys.exit(f"model_card_numbers.py: {path}: generated part '{name}': {why}")
        new = f"\n{parts[name]}\n" if body.startswith("\n") else parts[name]
        return f"<!-- model_card_numbers.py: {name} -->{new}<!-- model_card_numbers.py: end -->"
    return MARKER.sub(sub, text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(MODELS, "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.path.join(REPO, "build", "gapd"))
    ap.add_argument("--test", default=os.path.join(REPO, "data", "batio3_pbesol_test.extxyz"))
    ap.add_argument("--train", default=os.path.join(REPO, "data", "batio3_pbesol_train.extxyz"))
    ap.add_argument("--fit-report", default=os.path.join(MODELS, "batio3_default.fit_report.json"),
                    help="the fit's JSON report (training errors and size; default: the shipped model's)")
    ap.add_argument("--spread", default=os.path.join(MODELS, "batio3_default.fit_spread.json"),
                    help="scripts/fit_spread.py --json output for this model (default: the shipped model's)")
    ap.add_argument("--double-well", default=os.path.join(REPO, "data", "double_well_111.json"),
                    help="scripts/dft/double_well.py report --json output (used if it is this model's)")
    ap.add_argument("--training-ids", default=os.path.join(MODELS, "batio3_default.training_ids.txt"),
                    help="structure ids of the model's training frames (bash scripts/make_default_model.sh writes it)")
    ap.add_argument("--history", default=os.path.join(MODELS, "history.json"),
                    help="the default models' history, newest first (updated by --write)")
    ap.add_argument("--history-split", default=os.path.join(MODELS, "history_test_split.extxyz"),
                    help="the frozen test split the history is scored on")
    ap.add_argument("--json", help="also write everything as JSON")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the generated parts of " + ", ".join(GENERATED_IN))
    mode.add_argument("--check", action="store_true", help="exit 1 if a generated part of those pages is out of date")
    args = ap.parse_args()
    for path, what in ((args.model, "--model"), (args.gapd, "--gapd"), (args.test, "--test"), (args.train, "--train"),
                       (args.history, "--history"), (args.history_split, "--history-split")):
        if not os.path.exists(path):
            sys.exit(f"model_card_numbers.py: {what} {path} does not exist")

    train_frames, test_frames = ase.io.read(args.train, ":"), ase.io.read(args.test, ":")
    with tempfile.TemporaryDirectory() as tmp:
        out = {"identity": identity(args.model), "training": dataset(train_frames),
               "test": dataset(test_frames), "held_out": held_out(args.model, args.gapd, args.test, tmp),
               "born_charges": born_charges(args.model, args.gapd, tmp),
               "float32": float32_deviation(args.model, args.gapd, tmp),
               "history_split": frozen_split_scores(args.model, args.gapd, args.history_split, tmp)}
    report = fit_report(args.fit_report)
    with open(args.history) as f:
        history = json.load(f)
    new_history = updated_history(history, history_entry(out, report), os.path.relpath(args.history, REPO))
    spread = fit_spread(args.spread, refit_scores.scores(out["held_out"]))
    parts = generated(out, report, spread, double_well_parts(args.double_well, out["identity"]["sha256_16"]))
    parts.update(history_parts(new_history))
    fitted_on = training_at_fit(train_frames, args.training_ids, report)
    if fitted_on is not None:
        parts.update(training_parts(fitted_on))
    parts.update(dataset_parts(train_frames, test_frames))

    i, tr, te = out["identity"], out["training"], out["test"]
    print(f"model {args.model}: sha256 {i['sha256_16']}, {i['megabytes']} MB, sparse points "
          + ", ".join(f"{s} {n}" for s, n in i["sparse_points"].items()))
    for name, d in (("training", tr), ("test", te)):
        print(f"{name} set {os.path.relpath(args.train if name == 'training' else args.test, REPO)}: "
              f"{d['structures']} structures (cells " + "/".join(map(str, d["by_size"])) + " atoms = "
              + "/".join(map(str, d["by_size"].values())) + f"), {d['md_sampled']} MD-sampled "
              f"({d['md_sampled_40_or_more']} with >= 40 atoms), {d['dft_dipoles']} DFT dipoles")
    if report:
        print(f"fitted on {report['frames']['training']} structures ({os.path.relpath(args.fit_report, REPO)})")
    if not spread:
        print(f"fit-order spread: none for this model and test split in {os.path.relpath(args.spread, REPO)} "
              "(scripts/fit_spread.py --json it)")
    print("\n" + parts["held-out"] + "\n\n" + parts["held-out-by-cell"])
    print(f"\nhistory ({os.path.relpath(args.history, REPO)}, on the frozen split "
          f"{os.path.relpath(args.history_split, REPO)}):\n" + "\n".join(parts["history"].splitlines()[:4]))
    z = out["born_charges"]
    print(f"\nBorn charges, ideal cubic cell a = 4.0 Å (e): Ba {z['Ba']:.2f}, Ti {z['Ti']:.2f}, O along Ti-O-Ti "
          f"{z['O_parallel']:.2f}, O across {z['O_perpendicular']:.2f} (acoustic sum {z['acoustic_sum_max']:.2f})")
    if out["float32"]:
        print(f"float32 kernel on the 320-atom bench structure: |dE| {parts['float32']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
            fh.write("\n")

    if args.write or args.check:
        stale = []
        if new_history != history:
            if args.write:
                with open(args.history, "w") as f:
                    json.dump(new_history, f, indent=1)
                    f.write("\n")
                print(f"wrote {os.path.relpath(args.history, REPO)}")
            else:
                stale.append(f"{os.path.relpath(args.history, REPO)}: this model's entry")
        for rel in GENERATED_IN:
            path = os.path.join(REPO, rel)
            with open(path) as f:
                text = f.read()
            new = rewrite(text, parts, rel)
            if new == text:
                continue
            if args.write:
                with open(path, "w") as f:
                    f.write(new)
                print(f"wrote {rel}")
            else:
                old_parts = dict(MARKER.findall(text))
                stale += [f"{rel}: {name}" for name, body in MARKER.findall(new) if old_parts.get(name) != body]
        if stale:
            sys.exit("model_card_numbers.py: generated parts out of date (run with --write): " + "; ".join(stale))


if __name__ == "__main__":
    main()
