"""Fit a gapd configuration on a given list of frames and score the model on a test file: the one step that
scripts/active_learning/screen_labels.py (leave-one-out refits), scripts/fit_spread.py (refits in other frame
orders) and scripts/learning_curve.py (refits on subsets) repeat, with their shared options and input checks.
Everything but the training frames and the output path is the configuration's own.
"""
import json
import math
import os
import random
import re
import subprocess
import statistics
import warnings

from ase.io import read, write

from id_list import read_ids

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The held-out scores fit_and_score returns: (key, label, unit).
KEYS = (("energy", "energy", "meV/atom"), ("forces", "forces", "meV/Å"), ("virial", "virial", "meV/atom"),
        ("dipole", "dipole", "me·Å/atom"))
# Where each of them is in a gapd eval report (--report JSON).
REPORT_KEY = {"energy": "energy_per_atom", "forces": "forces", "virial": "virial_per_atom", "dipole": "dipole_per_atom"}


class RefitError(RuntimeError):
    """A gapd command failed or the configuration cannot be rewritten; the message says which."""


def with_paths(config, train, model):
    """CONFIG's text with its top-level training_files and output replaced by absolute paths (no YAML library:
    Debian's python3-yaml is not among the project's dependencies, and the rest of the file is kept verbatim)."""
    with open(config) as f:
        lines = f.read().splitlines()
    for key, value in (("training_files", f"[{json.dumps(train)}]"), ("output", json.dumps(model))):
        hits = [i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)]
        if len(hits) != 1:
            raise RefitError(f"{config}: expected one top-level '{key}:' line, found {len(hits)}")
        lines[hits[0]] = f"{key}: {value}"
    return "\n".join(lines) + "\n"


def with_overrides(text, overrides):
    """Config TEXT with the value of each "section.key" (a block line `key: value` under the top-level `section:`)
    or top-level "key" of OVERRIDES (dict: name -> value text) replaced; comments are kept. A name that is not
    such a line (missing, or inside a flow map like `soap: {...}`) raises RefitError naming it."""
    lines = text.splitlines()
    for name, value in overrides.items():
        section, _, key = name.rpartition(".")
        if "." in section:
            raise RefitError(f"{name}: only section.key or key can be overridden")
        start, stop = 0, len(lines)
        if section:
            heads = [i for i, line in enumerate(lines) if re.match(rf"{re.escape(section)}\s*:\s*(#.*)?$", line)]
            if len(heads) != 1:
                raise RefitError(f"{name}: no block section '{section}:' in the configuration")
            start = heads[0] + 1
            stop = next((i for i in range(start, len(lines)) if lines[i][:1] not in ("", " ", "#")), len(lines))
        # the section's own children only (their indentation), not a deeper block's key of the same name
        indent = next((re.match(r"\s*", lines[i]).group() for i in range(start, stop)
                       if lines[i].strip() and not lines[i].lstrip().startswith("#")), "") if section else ""
        hits = [i for i in range(start, stop) if re.match(rf"{indent}{re.escape(key)}\s*:", lines[i])]
        if len(hits) != 1:
            raise RefitError(f"{name}: expected one '{key}:' line {'under ' + section if section else 'at the top level'}"
                             f", found {len(hits)}")
        line = lines[hits[0]]
        head, rest = line.split(":", 1)
        comment = rest[rest.index("#"):] if "#" in rest else ""
        lines[hits[0]] = f"{head}: {value}" + (f"  {comment}" if comment else "")
    return "\n".join(lines) + "\n"


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RefitError(f"{' '.join(cmd)} failed: {last[0]}")
    return res


def shuffled(frames, seed):
    """FRAMES in the order random.Random(SEED) gives: the same data with another first environment, from which gapd's
    farthest-point sampling of sparse points starts (docs/fitting.md)."""
    order = list(frames)
    random.Random(seed).shuffle(order)
    return order


def write_frames(path, frames):
    with warnings.catch_warnings():  # ASE: "overwriting array forces ... with stored results": the same numbers
        warnings.simplefilter("ignore", UserWarning)
        write(path, frames, format="extxyz")


def fit(gapd, config, train_frames, workdir, tag, threads=0):
    """Fit CONFIG (a path) on TRAIN_FRAMES; returns the model's path in WORKDIR (the caller removes it)."""
    train = os.path.join(workdir, f"train_{tag}.extxyz")
    model = os.path.join(workdir, f"model_{tag}.gapd")
    write_frames(train, train_frames)
    cfg_path = os.path.join(workdir, f"fit_{tag}.yaml")
    with open(cfg_path, "w") as f:
        f.write(with_paths(config, train, model))
    try:
        run([gapd, "fit", cfg_path, "--threads", str(threads)])
    finally:
        os.unlink(train)
    return model


def evaluate(gapd, model, test_path, workdir, tag, threads=0):
    """gapd eval's report of MODEL on TEST_PATH (its --report JSON: RMSE, MAE and count per quantity, in eV, Å
    and e·Å)."""
    report = os.path.join(workdir, f"test_{tag}")
    run([gapd, "eval", "-m", model, test_path, "--report", report, "--threads", str(threads)])
    with open(report + ".json") as f:
        return json.load(f)


def scores(report):
    """The held-out RMSEs of a gapd eval report in meV and me·Å (KEYS; None where the report has none)."""
    return pooled([report])


def pool_stats(stats):
    """One {count, rmse, mae} from several of a gapd eval report's (None or count 0 skipped), each weighted by its
    count; {"count": 0} if none has any."""
    stats = [s for s in stats if s and s.get("count")]
    n = sum(s["count"] for s in stats)
    if not n:
        return {"count": 0}
    return {"count": n, "rmse": math.sqrt(sum(s["rmse"] ** 2 * s["count"] for s in stats) / n),
            "mae": sum(s["mae"] * s["count"] for s in stats) / n}


def pooled(reports):
    """RMSEs over several gapd eval reports, each weighted by its counts, in meV and me·Å (KEYS; None where no report
    has the quantity)."""
    out = {}
    for key, _, _ in KEYS:
        p = pool_stats([r.get(REPORT_KEY[key]) for r in reports])
        out[key] = 1000.0 * p["rmse"] if p["count"] else None
    return out


def fit_and_score(gapd, config, train_frames, test_path, workdir, tag, threads=0):
    """Fit CONFIG on TRAIN_FRAMES, evaluate on TEST_PATH. Held-out RMSEs in meV and me·Å: dict with energy
    (per atom), forces, virial (per atom), dipole (per atom; None without a dipole section)."""
    model = fit(gapd, config, train_frames, workdir, tag, threads)
    try:
        return scores(evaluate(gapd, model, test_path, workdir, tag, threads))
    finally:
        os.unlink(model)


def summary(values):
    """mean, std, min, max and count of the values that are not None (None if there are none)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "min": min(vals), "max": max(vals), "n": len(vals)}


def training_files(config):
    """The training_files of CONFIG (a one-line YAML list or a single path), resolved against the config's folder."""
    with open(config) as f:
        for line in f:
            if line.startswith("training_files:"):
                value = line.split(":", 1)[1].split("#")[0].strip().strip("[]")
                paths = [p.strip().strip("'\"") for p in value.split(",") if p.strip()]
                return [p if os.path.isabs(p) else os.path.normpath(os.path.join(os.path.dirname(config), p))
                        for p in paths]
    raise RefitError(f"{config}: no top-level 'training_files:' line")


def add_config_arguments(ap):
    """--config, --gapd, --threads: the options of every refit script."""
    ap.add_argument("--config", default=os.path.join(ROOT, "data", "fit_configs", "batio3_default.yaml"),
                    help="fit configuration (default: the shipped model's, data/fit_configs/batio3_default.yaml)")
    ap.add_argument("--gapd", default=os.path.join(ROOT, "build", "gapd"), help="gapd binary (default build/gapd)")
    ap.add_argument("--threads", type=int, default=0, help="gapd threads (default 0 = all cores)")


def add_fit_arguments(ap):
    """add_config_arguments plus --test, for the scripts that score on the held-out split."""
    add_config_arguments(ap)
    ap.add_argument("--test", default=os.path.join(ROOT, "data", "batio3_pbesol_test.extxyz"),
                    help="labelled test split (default data/batio3_pbesol_test.extxyz)")


def frames_by_ids(prog, frames, ids_path):
    """The frames whose structure_id is listed in IDS_PATH (one per line, '#' comments), in the file's order: the
    training set of a past fit (scripts/make_default_model.sh records the default model's). Exits naming the file
    if an id is not among the frames."""
    ids = read_ids(ids_path)
    by_id = {str(at.info.get("structure_id")): at for at in frames}
    missing = [i for i in ids if i not in by_id]
    if missing or not ids:
        raise SystemExit(f"{prog}: {ids_path}: " + (f"{len(missing)} structure ids not in the training files "
                                                     f"(first: {missing[0]})" if missing else "no structure ids"))
    return [by_id[i] for i in ids]


def load_training(prog, a):
    """(training files, their frames) of a.config, after checking that a.config, a.test (when the script has
    one), a.gapd and the training files exist; exits with `PROG: ...` naming the missing one."""
    for label, path in (("--config", a.config), ("--test", getattr(a, "test", None)), ("--gapd", a.gapd)):
        if path is None:
            continue
        if not os.path.isfile(path):
            raise SystemExit(f"{prog}: {label} {path}: no such file")
    try:
        files = training_files(a.config)
    except RefitError as e:
        raise SystemExit(f"{prog}: {e}")
    for path in files:
        if not os.path.isfile(path):
            raise SystemExit(f"{prog}: {a.config}: training file {path}: no such file")
    return files, [at for path in files for at in read(path, ":")]
