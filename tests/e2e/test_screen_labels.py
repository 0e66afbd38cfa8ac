#!/usr/bin/python3
"""scripts/active_learning/screen_labels.py finds a bad label among new ones: the committed training split with two
of its 5-atom frames and one copy of a 5-atom training frame whose energy is 50 meV/atom too high taken as "new"
(the copy: what an SCF that settled in another state would give). The copy must be the one
flagged, by the prediction check and by leave-one-out (a fit without it does better on the test split); the
genuine frames must not be; the leave-one-out flag is confirmed by paired refits in shuffled orders (--confirm);
exit status 1 when something is flagged; a structure_id in neither split and a revision git does not know are
refused with exit status 2 and a message naming them. The confirmation's statistics are also checked without gapd,
with fits faked: a frame whose removal gains 20% in every order is confirmed, one whose gain is noise about zero
is not (its flag is dropped and the reason kept). Exit code 0 = pass.
"""
import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import warnings

import ase.io

import e2e_common as common

ROOT = common.SOURCE_DIR
SCRIPT = os.path.join(ROOT, "scripts", "active_learning", "screen_labels.py")


def screen(gapd, *args):
    return subprocess.run([sys.executable, SCRIPT, "--gapd", gapd, *args], capture_output=True, text=True, timeout=600)


def load_screen_labels():
    spec = importlib.util.spec_from_file_location("screen_labels", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_confirm_statistics(check):
    """confirm() with fit_and_score faked: held-out RMSE 1.0 with the frame; without it 0.8 (a real 20% gain) or
    1.0 + noise of +-10% (no gain)."""
    sl = load_screen_labels()
    frames = []
    for k in range(6):
        at = ase.Atoms("BaTiO3", cell=[4, 4, 4], pbc=True)
        at.info["structure_id"] = f"f{k}"
        frames.append(at)
    for name, without, expect in (("f2", lambda rng: 0.8, True), ("f3", lambda rng: 1.0 + rng.uniform(-0.1, 0.1), False)):
        rng = random.Random(5)

        def fake(gapd, config, train, test, work, tag, threads=0):
            with_frame = any(at.info["structure_id"] == name for at in train)
            v = 1.0 if with_frame else without(rng)
            return {"energy": v, "forces": 30.0 * v, "virial": 1.0, "dipole": None}
        sl.fit_and_score = fake
        args = argparse.Namespace(confirm=6, loo_threshold=0.10, gapd="gapd", config="c.yaml", test="t.extxyz", threads=1)
        row = {"structure_id": name, "flag": ""}
        text = sl.confirm(args, frames, name, row, "/nonexistent", "without it ...")
        gain = row.get("confirm", {}).get("energy", {}).get("mean_gain")
        if expect:
            check.that("confirmed over 6 paired orders" in text and abs(gain - 0.2) < 1e-12,
                       f"confirm: a 20% gain in every order is confirmed ({text!r}, gain {gain})")
        else:
            check.that(text == "" and "loo_unconfirmed" in row and abs(gain) < 0.1,
                       f"confirm: a gain that is noise about zero is not confirmed ({text!r}, {row.get('loo_unconfirmed')})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    check_confirm_statistics(check)
    train = ase.io.read(os.path.join(ROOT, "data", "batio3_pbesol_train.extxyz"), ":")
    small = [f for f in train if len(f) == 5]
    genuine = small[1:3]
    bad = small[0].copy()
    bad.calc = None
    bad.info.update(structure_id="bad0001", energy=small[0].get_potential_energy() + 0.050 * len(bad))
    bad.arrays["forces"] = small[0].get_forces().copy()
    new_ids = ["bad0001"] + [f.info["structure_id"] for f in genuine]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.extxyz")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ase.io.write(path, train + [bad], format="extxyz")
        p = screen(o.gapd, "--train", path, "--ids", *new_ids, "--leave-one-out", "--confirm", "2",
                   "--json", f"{tmp}/s.json", "--threads", "2")
        print(p.stdout[-3000:], p.stderr[-2000:])
        check.that(p.returncode == 1, f"exit status 1 when a frame is flagged (got {p.returncode})")
        rows = {r["structure_id"]: r for r in json.load(open(f"{tmp}/s.json"))["rows"]} if p.returncode in (0, 1) else {}
        flagged = sorted(k for k, r in rows.items() if r["flag"])
        check.that(flagged == ["bad0001"], f"only the corrupted copy is flagged (flagged: {flagged})")
        b = rows.get("bad0001", {})
        check.that(abs(b.get("d_energy_mev_atom", 0) + 50.0) < 5.0,
                   f"its energy error is the -50 meV/atom injected (got {b.get('d_energy_mev_atom')})")
        check.that("below the typical fit" in b.get("flag", ""),
                   "leave-one-out flags it too: the fit without it does better on the test split")
        check.that("confirmed over 2 paired orders" in b.get("flag", "") and "confirm" in b,
                   f"and paired refits in shuffled orders confirm it ({b.get('confirm')})")
        check.that(all("loo_energy_mev_atom" in rows.get(k, {}) for k in new_ids),
                   "every new training frame has a leave-one-out fit")

        p = screen(o.gapd, "--train", path, "--ids", "nosuch0001")
        check.that(p.returncode == 2 and "nosuch0001" in p.stderr, f"an unknown id is refused by name: {p.stderr.strip()}")
        p = screen(o.gapd, "--since", "no-such-revision-xyz")
        check.that(p.returncode == 2 and "no-such-revision-xyz" in p.stderr,
                   f"an unknown revision is refused by name: {p.stderr.strip()}")
        # --since-refit: --since the last commit of the model file (the refit); the same rows as that --since.
        refit = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h", "--",
                                "data/models/batio3_default.gapd"], capture_output=True, text=True).stdout.strip()
        if refit:
            a, b = screen(o.gapd, "--since-refit"), screen(o.gapd, "--since", refit)
            rows = lambda text: text[text.find("structure_id"):] if "structure_id" in text else text  # noqa: E731
            check.that(a.returncode == b.returncode and f"--since {refit}," in a.stdout and
                       rows(a.stdout.split("\n", 1)[-1]) == rows(b.stdout),
                       f"--since-refit is --since {refit}: {a.stdout[:300]!r} vs {b.stdout[:300]!r}")
        else:
            print("  (no git history of the model: --since-refit not checked)")
        p = screen(o.gapd, "--model", path, "--since-refit")
        check.that(p.returncode == 2 and "--since-refit" in p.stderr and "--since REV" in p.stderr,
                   f"--since-refit without a committed model is refused with the way out: {p.stderr.strip()}")
    check.exit_with_verdict("screen_labels")


if __name__ == "__main__":
    main()
