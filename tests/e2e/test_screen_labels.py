#!/usr/bin/python3
"""scripts/active_learning/screen_labels.py finds a bad label among new ones: the committed training split with two
of its 5-atom frames and one copy of a 5-atom training frame whose energy is 50 meV/atom too high taken as "new"
(the copy: what an SCF that settled in another state would give). The copy must be the one
flagged, by the prediction check and by leave-one-out (a fit without it does better on the test split); the
genuine frames must not be; exit status 1 when something is flagged; a structure_id in neither split and a
revision git does not know are refused with exit status 2 and a message naming them. Exit code 0 = pass.
"""
import argparse
import json
import os
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
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
        p = screen(o.gapd, "--train", path, "--ids", *new_ids, "--leave-one-out", "--json", f"{tmp}/s.json",
                   "--threads", "2")
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
        check.that(all("loo_energy_mev_atom" in rows.get(k, {}) for k in new_ids),
                   "every new training frame has a leave-one-out fit")

        p = screen(o.gapd, "--train", path, "--ids", "nosuch0001")
        check.that(p.returncode == 2 and "nosuch0001" in p.stderr, f"an unknown id is refused by name: {p.stderr.strip()}")
        p = screen(o.gapd, "--since", "no-such-revision-xyz")
        check.that(p.returncode == 2 and "no-such-revision-xyz" in p.stderr,
                   f"an unknown revision is refused by name: {p.stderr.strip()}")
    check.exit_with_verdict("screen_labels")


if __name__ == "__main__":
    main()
