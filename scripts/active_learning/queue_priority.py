#!/usr/bin/python3
"""The order in which the DFT queue should label what it still has: farthest-point sampling over every unlabelled
run directory of WORKDIR at once, against the dataset and the labels already finished there.

    /usr/bin/python3 scripts/active_learning/queue_priority.py WORKDIR [-o data/active_learning/queue_priority.txt]
        [--model data/models/batio3_default.gapd] [--gapd build/gapd]

Each active-learning round ranks its own picks (gapd select, most novel first), but the queue runs directories in
path order, so a round's least novel picks (10 K frames next to the data) would run before the next round's most
novel ones. This script ranks all pending picks together with `gapd select` (same SOAP measure as the selection,
no per-temperature quota: the quota already shaped each round's picks) against data/batio3_pbesol_{train,test}.extxyz
and every finished but not yet collected result.extxyz in WORKDIR, and writes their structure ids in that order, one
per line with rank, distance and origin as a comment (copies of a known structure, which gapd select does not
rank, last). `run_queue.py --priority FILE` runs them in that order
and reads the file again after every run, so rewriting it reorders running queues.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import ase.io

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "dft"))
sys.path.insert(0, os.path.join(REPO, "scripts"))
sys.path.insert(0, HERE)
import make_dft_dirs  # noqa: E402
import run_queue  # noqa: E402
from read_gapd_model import model_sha256_16  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("-o", "--output", default=os.path.join(REPO, "data", "active_learning", "queue_priority.txt"))
    ap.add_argument("--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.environ.get("GAPD", os.path.join(REPO, "build", "gapd")))
    ap.add_argument("--dataset", nargs="+", default=[os.path.join(REPO, "data", f"batio3_pbesol_{s}.extxyz")
                                                     for s in ("train", "test")])
    ap.add_argument("--max-atoms", type=int, default=40, help="as run_queue.py: larger cells are not queued (40)")
    a = ap.parse_args()
    for path, what in [(a.workdir, "WORKDIR"), (a.model, "--model"), (a.gapd, "--gapd")] + \
            [(p, "--dataset") for p in a.dataset]:
        if not os.path.exists(path):
            sys.exit(f"queue_priority: {what} {path} does not exist")

    known = {str(i) for i in make_dft_dirs.known_ids(a.dataset)}
    pending, finished = [], []
    for d in run_queue.run_dirs(a.workdir):
        if os.path.exists(f"{d}/failed") or not os.path.exists(f"{d}/structure.extxyz"):
            continue
        frame = ase.io.read(f"{d}/structure.extxyz")
        if os.path.exists(f"{d}/result.extxyz"):
            if str(frame.info.get("structure_id")) not in known:
                finished.append(frame)
        elif len(frame) <= a.max_atoms and str(frame.info.get("structure_id")) not in known:
            pending.append(frame)
    if not pending:
        sys.exit(f"queue_priority: nothing pending in {a.workdir}")
    ids = [str(f.info.get("structure_id", "")) for f in pending]
    if "" in ids or len(set(ids)) != len(ids):
        sys.exit("queue_priority: every pending structure.extxyz needs its own structure_id")

    with tempfile.TemporaryDirectory(prefix="queue_priority_") as tmp:
        ase.io.write(f"{tmp}/pending.extxyz", pending)
        refs = list(a.dataset)
        if finished:
            ase.io.write(f"{tmp}/finished.extxyz", finished)
            refs.append(f"{tmp}/finished.extxyz")
        cmd = [a.gapd, "select", f"{tmp}/pending.extxyz", "-m", a.model, "-r", *refs, "-n", str(len(pending)),
               "-o", f"{tmp}/order.extxyz"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"queue_priority: gapd select failed: {(p.stderr or p.stdout).strip()[-400:]}")
        order = ase.io.read(f"{tmp}/order.extxyz", ":")

    sha = model_sha256_16(a.model)
    lines = [f"# DFT queue order (scripts/active_learning/queue_priority.py, {time.strftime('%Y-%m-%d %H:%M')}): "
             f"{len(pending)} pending picks of {os.path.abspath(a.workdir)},",
             f"# ranked by gapd select (SOAP of model {sha}) against the dataset ({len(known)} structures) and "
             f"{len(finished)} finished, uncollected labels.",
             "# structure_id  # rank, distance, config_type"]
    for f in order:
        lines.append(f"{f.info['structure_id']}  # {f.info['select_rank']}, {f.info['select_distance']:.4f}, "
                     f"{f.info.get('config_type', '-')}")
    # gapd select leaves out candidates at distance 0 (copies of a known or an earlier picked structure): last.
    ranked = {str(f.info["structure_id"]) for f in order}
    lines += [f"{sid}  # -, 0 (a copy of a known structure), {f.info.get('config_type', '-')}"
              for sid, f in zip(ids, pending) if sid not in ranked]
    tmp_out = a.output + ".tmp"
    with open(tmp_out, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp_out, a.output)
    print(f"queue_priority: {len(pending)} pending picks ranked into {a.output} ({len(pending) - len(order)} at "
          f"distance 0, last); first: "
          + ", ".join(f.info["structure_id"] for f in order[:5]))


if __name__ == "__main__":
    main()
