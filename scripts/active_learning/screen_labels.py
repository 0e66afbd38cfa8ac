#!/usr/bin/python3
"""Screen new DFT labels before a refit: which of them does the current model find surprising, and which make the
refitted model worse on the held-out split?

One bad label can spoil a refit. In round 4 a generated 5-atom cell with two atoms 1.47 Å apart (+0.5 eV/atom,
forces of 16 eV/Å) raised the held-out energy error from 0.78 to 1.05 meV/atom; the close contact is now caught by
structure_checks.py, but a label can be wrong in other ways (an SCF that converged to another state, a cell from
another setting). Two checks, both on the frames added since a git revision (or named with --ids):

  1. prediction (seconds): the model that has not seen them predicts every new frame; per frame the energy error
     per atom, the force RMSE and the shortest distance, flagged when an error is --flag-factor times the
     batch's median (and above a floor: a batch of near-perfect predictions flags nothing);
  2. --leave-one-out (one fit per new training frame, ~6 s each for the default config): fit on the whole training
     split, then once without each new training frame; every fit is evaluated on the test split. A frame whose
     removal puts the held-out energy or force RMSE more than --loo-threshold (relative) below the median of all
     these fits is flagged (the median, because the sparse points picked change with any one frame and move the
     held-out errors by up to ~10% by themselves; with few new frames the check is weaker);
  3. confirmation of each leave-one-out flag (--confirm N, default 8; ~2 min per flagged frame): N paired fits
     with and without the frame, the training frames shuffled by seeds 1..N (the same order in both fits of a pair,
     scripts/fit_spread.py), so that the luck of the sparse set cancels; the mean gain and its standard error are
     reported, and the flag stands only if the gain is above --loo-threshold by more than two standard errors.
     A confirmed flag says the test split scores better without the frame, not that its label is wrong: look at
     the label (SCF, geometry, energy against its neighbours) before leaving it out.

    /usr/bin/python3 scripts/active_learning/screen_labels.py --since b1a361e
    /usr/bin/python3 scripts/active_learning/screen_labels.py --since b1a361e --leave-one-out --json screen.json
    /usr/bin/python3 scripts/active_learning/screen_labels.py --since-refit --leave-one-out   # since the model's commit
    /usr/bin/python3 scripts/active_learning/screen_labels.py --ids g0109 g0110 --leave-one-out

Frames are matched by their `structure_id`. Exit status 0 when nothing is flagged, 1 when something is (the table
says what), 2 on bad input.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from ase.io import read

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "dft"))
from structure_checks import too_close  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from refit_scores import RefitError, add_fit_arguments, fit_and_score, run, shuffled, write_frames  # noqa: E402

TRAIN, MODEL = "data/batio3_pbesol_train.extxyz", "data/models/batio3_default.gapd"  # relative to the repository
# Below these the batch's errors are all within the model's noise: nothing is flagged however small the median is.
FLOOR_ENERGY_MEV = 5.0    # meV/atom
FLOOR_FORCES_MEV = 200.0  # meV/Å


def fail(msg):
    print(f"screen_labels: {msg}", file=sys.stderr)
    sys.exit(2)


def sid(atoms):
    return atoms.info.get("structure_id")


def frames_at(revision, path):
    """The frames of PATH as committed at REVISION (an empty list if the file did not exist then)."""
    res = subprocess.run(["git", "-C", ROOT, "show", f"{revision}:{path}"], capture_output=True, text=True)
    if res.returncode != 0:
        if "exists on disk, but not in" in res.stderr or "does not exist in" in res.stderr:
            return []
        fail(f"git show {revision}:{path}: {res.stderr.strip()}")
    with tempfile.NamedTemporaryFile("w", suffix=".extxyz", delete=False) as f:
        f.write(res.stdout)
    try:
        return read(f.name, ":") if res.stdout.strip() else []
    finally:
        os.unlink(f.name)


def predict(gapd, model, frames, workdir, threads):
    """The model's energy, forces and dipole on FRAMES (gapd eval -o), in the frames' order."""
    src = os.path.join(workdir, "new.extxyz")
    out = os.path.join(workdir, "new_pred.extxyz")
    write_frames(src, frames)
    run([gapd, "eval", "-m", model, src, "-o", out, "--threads", str(threads)])
    return read(out, ":")


def prediction_rows(frames, predicted):
    rows = []
    for ref, pred in zip(frames, predicted):
        n = len(ref)
        e_ref = ref.get_potential_energy() if ref.calc is not None else ref.info.get("energy")
        row = {"structure_id": sid(ref), "natoms": n, "config_type": ref.info.get("config_type", ""),
               "d_energy_mev_atom": 1000.0 * (pred.info["gap_energy"] - e_ref) / n}
        f_ref = ref.get_forces() if ref.calc is not None else ref.arrays["forces"]
        df = pred.arrays["gap_forces"] - f_ref
        row["forces_rmse_mev"] = 1000.0 * float(np.sqrt(np.mean(df ** 2)))
        row["max_ref_force_ev"] = float(np.abs(f_ref).max())
        d = ref.get_all_distances(mic=bool(ref.pbc.any()))[np.triu_indices(n, 1)]
        row["min_distance_A"] = float(d.min()) if len(d) else float("nan")
        row["close_contact"] = too_close(ref)
        if "dipole" in ref.info and "gap_dipole" in pred.info:
            dd = np.asarray(pred.info["gap_dipole"], float) - np.asarray(ref.info["dipole"], float)
            row["d_dipole_me_A_atom"] = 1000.0 * float(np.linalg.norm(dd)) / n
        rows.append(row)
    return rows


def flag_predictions(rows, factor):
    med_e = statistics.median(abs(r["d_energy_mev_atom"]) for r in rows)
    med_f = statistics.median(r["forces_rmse_mev"] for r in rows)
    for r in rows:
        why = []
        if abs(r["d_energy_mev_atom"]) > max(factor * med_e, FLOOR_ENERGY_MEV):
            why.append(f"energy error {r['d_energy_mev_atom']:+.1f} meV/atom > {factor:g}x median {med_e:.2f}")
        if r["forces_rmse_mev"] > max(factor * med_f, FLOOR_FORCES_MEV):
            why.append(f"force RMSE {r['forces_rmse_mev']:.0f} meV/Å > {factor:g}x median {med_f:.0f}")
        if r["close_contact"]:
            why.append(r["close_contact"])
        r["flag"] = "; ".join(why)
    return med_e, med_f


def leave_one_out(a, train, new_train, rows, work):
    """One fit on all of TRAIN, one without each of NEW_TRAIN, all scored on the test split; flags ROWS."""
    t0 = time.time()
    base = fit_and_score(a.gapd, a.config, train, a.test, work, "all", a.threads)
    per_fit = time.time() - t0
    print(f"fit on all {len(train)} training frames: held-out E {base['energy']:.3f} meV/atom, F {base['forces']:.1f} meV/Å"
          + (f", dipole {base['dipole']:.2f} me·Å/atom" if base["dipole"] is not None else "")
          + f" ({per_fit:.0f} s; {len(new_train)} leave-one-out fits, ETA {per_fit * len(new_train) / 60:.1f} min)")
    loo = {"all": base}
    for k, name in enumerate(new_train, 1):
        res = fit_and_score(a.gapd, a.config, [at for at in train if sid(at) != name], a.test, work, name, a.threads)
        loo[name] = res
        row = next(r for r in rows if r["structure_id"] == name)
        row.update(loo_energy_mev_atom=res["energy"], loo_forces_mev=res["forces"], loo_dipole_me_A_atom=res["dipole"])
        elapsed = time.time() - t0
        print(f"  [{k}/{len(new_train)}] without {name}: E {res['energy']:.3f} F {res['forces']:.1f}; "
              f"ETA {elapsed / (k + 1) * (len(new_train) - k) / 60:.1f} min", flush=True)
    # Against the typical fit, not the fit on everything: farthest-point sampling starts from the first
    # environment, so the sparse points change with any one frame (or the frames' order), and that alone moves the
    # held-out energy RMSE by ~10% (scripts/fit_spread.py). All six labels of one batch "improved" it by 10-13%
    # against an unlucky fit on everything, by 0-2% against the median.
    ref_e = statistics.median(v["energy"] for v in loo.values())
    ref_f = statistics.median(v["forces"] for v in loo.values())
    print(f"typical fit (median of the {len(loo)} above): held-out E {ref_e:.3f} meV/atom, F {ref_f:.1f} meV/Å")
    for name in new_train:
        row = next(r for r in rows if r["structure_id"] == name)
        gain_e, gain_f = 1 - loo[name]["energy"] / ref_e, 1 - loo[name]["forces"] / ref_f
        if max(gain_e, gain_f) > a.loo_threshold:
            why = f"without it the held-out E/F RMSE is {100 * gain_e:.0f}% / {100 * gain_f:.0f}% below the typical fit's"
            if a.confirm:
                why = confirm(a, train, name, row, work, why)
            row["flag"] = "; ".join(x for x in (row["flag"], why) if x)
    return loo


def confirm(a, train, name, row, work, why):
    """A --confirm N pairs of fits (seeded orders of the training frames, with and without NAME); returns the flag
    text: WHY with the paired mean gain, or an empty string when the gain is not above --loo-threshold by two
    standard errors."""
    gains = {"energy": [], "forces": []}
    t0 = time.time()
    for k in range(1, a.confirm + 1):
        order = shuffled(train, k)
        both = fit_and_score(a.gapd, a.config, order, a.test, work, f"{name}_with{k}", a.threads)
        without = fit_and_score(a.gapd, a.config, [at for at in order if sid(at) != name], a.test, work,
                                f"{name}_without{k}", a.threads)
        for key in gains:
            gains[key].append(1 - without[key] / both[key])
        print(f"    confirm {name} [{k}/{a.confirm}]: E {both['energy']:.3f} -> {without['energy']:.3f}, "
              f"F {both['forces']:.1f} -> {without['forces']:.1f}; "
              f"ETA {(time.time() - t0) / k * (a.confirm - k) / 60:.1f} min", flush=True)
    stats = {}
    for key, g in gains.items():
        se = statistics.stdev(g) / len(g) ** 0.5 if len(g) > 1 else float("inf")
        stats[key] = (statistics.mean(g), se)
    row["confirm"] = {key: {"mean_gain": m, "stderr": se, "gains": gains[key]} for key, (m, se) in stats.items()}
    text = ", ".join(f"{lbl} {100 * m:+.1f} +- {100 * se:.1f}%" for lbl, (m, se) in
                     (("E", stats["energy"]), ("F", stats["forces"])))
    if any(m - 2 * se > a.loo_threshold for m, se in stats.values()):
        return f"{why}; confirmed over {a.confirm} paired orders (gain {text})"
    print(f"    {name}: not confirmed over {a.confirm} paired orders (gain {text}): not above "
          f"{100 * a.loo_threshold:.0f}% by two standard errors")
    row["loo_unconfirmed"] = f"gain {text} over {a.confirm} paired orders"
    return ""


def last_commit_of(path):
    """The last commit that changed PATH (the refit of a model file); exit 2 if git knows none."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    p = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h", "--", rel], capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        fail(f"--since-refit: git has no commit of {rel} ({(p.stderr or 'not committed').strip()}); give --since REV")
    return p.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--since", metavar="REV", help="screen the frames added to the train/test files since this git revision")
    which.add_argument("--since-refit", action="store_true",
                       help="--since the last commit that changed --model (the refit the new labels have not been in)")
    which.add_argument("--ids", nargs="+", metavar="ID", help="screen these structure_ids")
    ap.add_argument("--model", default=os.path.join(ROOT, MODEL), help=f"the model that has not seen the new frames (default {MODEL})")
    ap.add_argument("--train", default=os.path.join(ROOT, TRAIN), help=f"training split (default {TRAIN})")
    add_fit_arguments(ap)  # --config (the fit for --leave-one-out), --test, --gapd, --threads
    ap.add_argument("--flag-factor", type=float, default=5.0, help="flag a prediction error this many times the batch median (default 5)")
    ap.add_argument("--leave-one-out", action="store_true", help="also refit once without each new training frame")
    ap.add_argument("--loo-threshold", type=float, default=0.10,
                    help="flag a frame without which the held-out energy or force RMSE is this fraction below the median fit's (default 0.10)")
    ap.add_argument("--confirm", type=int, default=8, metavar="N",
                    help="paired refits in N shuffled orders for each leave-one-out flag; the flag stands if the mean "
                         "gain exceeds --loo-threshold by two standard errors (default 8; 0: no confirmation)")
    ap.add_argument("--json", help="write the rows here")
    a = ap.parse_args()

    if a.confirm < 0 or a.confirm == 1:
        fail(f"--confirm {a.confirm}: 0 (off) or at least 2 pairs of fits for a standard error")
    for label, path in (("--train", a.train), ("--test", a.test), ("--model", a.model), ("--gapd", a.gapd)):
        if not os.path.isfile(path):
            fail(f"{label} {path}: no such file")
    train, test = read(a.train, ":"), read(a.test, ":")
    for label, frames, path in (("train", train, a.train), ("test", test, a.test)):
        missing = [i for i, at in enumerate(frames) if sid(at) is None]
        if missing:
            fail(f"{path}: frame {missing[0]} has no structure_id")
    if a.since_refit:
        a.since = last_commit_of(a.model)
        print(f"screen_labels: --since {a.since}, the last commit that changed {os.path.relpath(a.model, ROOT)}")
    if a.since:
        committed = []
        for label, path in (("--train", a.train), ("--test", a.test)):
            rel = os.path.relpath(os.path.abspath(path), ROOT)
            if rel.startswith(".."):
                fail(f"--since compares with the committed {label} file: {path} is outside the repository")
            committed.append(rel)
        old = {sid(at) for p in committed for at in frames_at(a.since, p)}
        new_ids = [sid(at) for at in train + test if sid(at) not in old]
        if not new_ids:
            print(f"screen_labels: no frames added since {a.since}")
            return 0
    else:
        known = {sid(at) for at in train + test}
        unknown = [i for i in a.ids if i not in known]
        if unknown:
            fail(f"--ids: {', '.join(unknown)} in neither {a.train} nor {a.test}")
        new_ids = a.ids
    wanted = set(new_ids)
    new_frames = [at for at in train + test if sid(at) in wanted]
    split = {sid(at): "train" for at in train}
    split.update({sid(at): "test" for at in test})

    with tempfile.TemporaryDirectory(prefix="screen_labels_") as work:
        t0 = time.time()
        try:
            predicted = predict(a.gapd, a.model, new_frames, work, a.threads)
        except RefitError as e:
            fail(str(e))
        rows = prediction_rows(new_frames, predicted)
        for r in rows:
            r["split"] = split[r["structure_id"]]
        med_e, med_f = flag_predictions(rows, a.flag_factor)
        print(f"{len(rows)} new frames ({sum(r['split'] == 'train' for r in rows)} train, "
              f"{sum(r['split'] == 'test' for r in rows)} test); predicted by {a.model} in {time.time() - t0:.1f} s; "
              f"median |dE| {med_e:.2f} meV/atom, median force RMSE {med_f:.0f} meV/Å")

        loo = None
        if a.leave_one_out:
            try:
                loo = leave_one_out(a, train, [r["structure_id"] for r in rows if r["split"] == "train"], rows, work)
            except RefitError as e:
                fail(str(e))

    hdr = f"{'structure_id':<22} {'split':<5} {'N':>3} {'dE meV/at':>9} {'F rmse':>7} {'dmin Å':>6}"
    if loo:
        hdr += f" {'LOO E':>7} {'LOO F':>6}"
    print(hdr + "  flag")
    for r in sorted(rows, key=lambda r: -abs(r["d_energy_mev_atom"])):
        line = (f"{r['structure_id']:<22} {r['split']:<5} {r['natoms']:>3} {r['d_energy_mev_atom']:>+9.2f} "
                f"{r['forces_rmse_mev']:>7.0f} {r['min_distance_A']:>6.2f}")
        if loo:
            line += (f" {r['loo_energy_mev_atom']:>7.3f} {r['loo_forces_mev']:>6.1f}" if "loo_energy_mev_atom" in r
                     else f" {'':>7} {'':>6}")
        print(line + ("  " + r["flag"] if r["flag"] else ""))
    flagged = [r["structure_id"] for r in rows if r["flag"]]
    print(f"flagged: {', '.join(flagged) if flagged else 'none'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "rows": rows, "leave_one_out": loo}, f, indent=1)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
