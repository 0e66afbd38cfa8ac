#!/usr/bin/env python3
"""The model card describes the shipped model. scripts/model_card_numbers.py --check on
data/models/batio3_default.gapd: every generated part of the card, README and docs/physics.md (held-out tables, Born
charges, float32 deviation, training-set size, [111] well) is what the script makes now, so a refit or a new test
label that forgets `--write` fails here, and so does a refit that is not recorded in data/models/history.json (the
newest entry's frozen-split scores, Born charges and float32 deviation are recomputed). Also: the card's history names the shipped sha256 as "this one"; the
pooled MD-sampled row equals `gapd eval` on the MD-sampled test frames alone; the script refuses a generated part it
cannot make (naming the page and the part) and one of another model's [111] well. Exit code 0 = pass.
"""
import argparse, json, os, re, sys, tempfile

import ase.io

import e2e_common as common

ROOT = common.SOURCE_DIR
SCRIPT = os.path.join(ROOT, "scripts", "model_card_numbers.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    o = ap.parse_args()
    check = common.Checks()
    with tempfile.TemporaryDirectory() as tmp:
        p = common.run_cli([sys.executable, SCRIPT, "--gapd", o.gapd, "--json", f"{tmp}/card.json", "--check"],
                           check=False)
        check.that(p.returncode == 0, "the generated parts of the card and docs are up to date "
                   f"(model_card_numbers.py --check): {p.stderr.strip()[-600:]}")
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
        check.that(numbers["training"]["structures"] > 0 and numbers["test"]["structures"] > 0 and
                   sum(numbers["training"]["by_size"].values()) == numbers["training"]["structures"],
                   "model_card_numbers.py counts the data set by cell size")

        # The MD-sampled row pools per-origin groups; gapd eval on those frames alone must give the same RMSEs.
        test = ase.io.read(os.path.join(ROOT, "data", "batio3_pbesol_test.extxyz"), ":")
        md = [a for a in test if str(a.info.get("config_type", "")).startswith("md-")]
        m = re.search(r"\| \*\*MD-sampled, all\*\* \| (\d+) \| ([0-9.]+) \| ([0-9.]+) ", p.stdout)
        if md:
            ase.io.write(f"{tmp}/md.extxyz", md)
            common.run_cli([o.gapd, "eval", "-m", os.path.join(ROOT, "data", "models", "batio3_default.gapd"),
                            f"{tmp}/md.extxyz", "--report", f"{tmp}/md"])
            rep = json.load(open(f"{tmp}/md.json"))
            want = (len(md), f"{rep['energy_per_atom']['rmse'] * 1e3:.3f}", f"{rep['forces']['rmse'] * 1e3:.1f}")
            check.that(m is not None and (int(m.group(1)), m.group(2), m.group(3)) == want,
                       f"the pooled MD-sampled row {m.groups() if m else None} is gapd eval on those frames {want}")

        # Refusals: a part the script does not make, and a [111] well of another model.
        sys.path.insert(0, os.path.dirname(SCRIPT))
        import model_card_numbers
        try:
            model_card_numbers.rewrite("a <!-- model_card_numbers.py: no-such-part -->x<!-- model_card_numbers.py: end -->",
                                       {"sha256": sha}, "page.md")
            refusal = ""
        except SystemExit as e:
            refusal = str(e)
        check.that("page.md: generated part 'no-such-part'" in refusal,
                   f"an unknown generated part is refused, naming page and part: {refusal!r}")
        well = json.load(open(os.path.join(ROOT, "data", "double_well_111.json")))
        well["model_sha256_16"] = "0" * 16
        json.dump(well, open(f"{tmp}/well.json", "w"))
        r = common.run_cli([sys.executable, SCRIPT, "--gapd", o.gapd, "--double-well", f"{tmp}/well.json", "--check"],
                           check=False)
        check.that(r.returncode != 0 and "double-well" in r.stderr and "double_well.py report" in r.stderr,
                   f"another model's [111] well is not quoted for this one: {r.stderr.strip()[-300:]}")
        # The history: the shipped model is its newest entry; a refit not yet recorded is added in front, dated,
        # with the numbers --check recomputes; a model recorded as an older one is refused.
        history = json.load(open(os.path.join(ROOT, "data", "models", "history.json")))
        check.that(history["models"][0]["sha256_16"] == sha,
                   f"history.json's newest entry is the shipped model ({history['models'][0]['sha256_16']} vs {sha})")
        older = dict(history, models=history["models"][1:])
        json.dump(older, open(f"{tmp}/history.json", "w"))
        r = common.run_cli([sys.executable, SCRIPT, "--gapd", o.gapd, "--history", f"{tmp}/history.json", "--check"],
                           check=False)
        check.that(r.returncode != 0 and "history.json: this model's entry" in r.stderr,
                   f"--check fails while the shipped model is not in the history: {r.stderr.strip()[-300:]}")
        entry = {k: v for k, v in history["models"][0].items() if k not in ("when", "change")}
        added = model_card_numbers.updated_history(older, entry, "h.json")["models"]
        check.that(len(added) == len(history["models"]) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", added[0]["when"])
                   and added[0]["change"] == "" and added[0]["frozen_split"] == history["models"][0]["frozen_split"]
                   and added[1:] == older["models"], "a new model is added as the newest entry, dated, the rest kept")
        try:
            model_card_numbers.updated_history(history, dict(entry, sha256_16=history["models"][2]["sha256_16"]), "h.json")
            refusal = ""
        except SystemExit as e:
            refusal = str(e)
        check.that("h.json" in refusal and "older model" in refusal,
                   f"a model recorded as an older one is not silently made the newest: {refusal!r}")
        # The training-set description comes from the ids the refit recorded; ids the data no longer has, or another
        # count than the fit's, are refused by name.
        ids_path = os.path.join(ROOT, "data", "models", "batio3_default.training_ids.txt")
        ids = [line.strip() for line in open(ids_path) if line.strip() and not line.startswith("#")]
        fit = json.load(open(os.path.join(ROOT, "data", "models", "batio3_default.fit_report.json")))
        check.that(len(set(ids)) == len(ids) == fit["frames"]["training"],
                   f"the training ids are the fit's training frames, each once ({len(ids)} vs {fit['frames']['training']})")
        for bad, want in ((ids[:-1], "the fit report has"), (ids + ["no-such-structure"], "no-such-structure")):
            with open(f"{tmp}/ids.txt", "w") as f:
                f.write("\n".join(bad) + "\n")
            try:
                model_card_numbers.training_at_fit(
                    ase.io.read(os.path.join(ROOT, "data", "batio3_pbesol_train.extxyz"), ":"), f"{tmp}/ids.txt", fit)
                refusal = ""
            except SystemExit as e:
                refusal = str(e)
            check.that("ids.txt" in refusal and want in refusal, f"a stale training-ids file is refused: {refusal!r}")
        import refit_scores
        try:
            refit_scores.frames_by_ids("fit_spread", [], f"{tmp}/ids.txt")
            refusal = ""
        except SystemExit as e:
            refusal = str(e)
        check.that("ids.txt" in refusal and "not in the training files" in refusal,
                   f"fit_spread --training-ids refuses ids its training files lack: {refusal!r}")
        rendered = model_card_numbers.history_parts(history)
        check.that(rendered["history"].count("\n| ") == len(history["models"])
                   and rendered["born-charges-history"].count("\n| ") == len(history["models"]) - 1,
                   "the history table has a row per model, the Born-charge history one per earlier model")
    check.exit_with_verdict("model_card")


if __name__ == "__main__":
    main()
