#!/usr/bin/env python3
"""The model card describes the shipped model: scripts/model_card_numbers.py on data/models/batio3_default.gapd,
and data/models/MODEL_CARD.md must name that file's sha256 (first 16 hex digits) as "this one" in its history and
quote its Born charges (ideal cubic cell) to the two decimals it prints. A refit that forgets the card fails here.
Exit code 0 = pass.
"""
import argparse, json, os, re, subprocess, sys, tempfile

import e2e_common as common

ROOT = common.SOURCE_DIR


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    with tempfile.TemporaryDirectory() as tmp:
        p = common.run_cli([sys.executable, os.path.join(ROOT, "scripts", "model_card_numbers.py"), "--gapd", o.gapd,
                            "--json", f"{tmp}/card.json"])
        numbers = json.load(open(f"{tmp}/card.json"))
    card = open(os.path.join(ROOT, "data", "models", "MODEL_CARD.md")).read()
    sha = numbers["identity"]["sha256_16"]
    check.that(re.search(r"\| this one \([^|]*sha256 " + sha, card) is not None,
               f"MODEL_CARD.md's history names the shipped model ({sha}) as 'this one'")
    z = numbers["born_charges"]
    row = re.search(r"\| this model \| ([-0-9.]+) \| ([-0-9.]+) \| ([-0-9.]+) \| ([-0-9.]+) \|", card)
    quoted = [float(v) for v in row.groups()] if row else None
    check.that(quoted == [round(z[k], 2) for k in ("Ba", "Ti", "O_parallel", "O_perpendicular")],
               f"MODEL_CARD.md quotes the model's Born charges ({quoted} vs script {z})")
    check.that("| held-out cells |" in p.stdout and "dipole vs DFT" in p.stdout and "float32 kernel" in p.stdout,
               "model_card_numbers.py prints the held-out tables, the dipole row and the float32 deviation")
    check.that(numbers["training"]["structures"] > 0 and numbers["test"]["structures"] > 0 and
               sum(numbers["training"]["by_size"].values()) == numbers["training"]["structures"],
               "model_card_numbers.py counts the data set by cell size")
    check.exit_with_verdict("model_card")


if __name__ == "__main__":
    main()
