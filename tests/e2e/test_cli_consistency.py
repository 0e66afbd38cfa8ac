#!/usr/bin/env python3
"""End-to-end: the first-hour CLI behaviours (docs/cli.md).

1. `gapd predict` on an i-PI xyz file (`# CELL(abcABC): ...`, ipi_inputs/dipole/init.xyz) equals predict on the
   same structure written as extxyz: periodic, with stress, no junk info keys.
2. A frame without Lattice/pbc/i-PI cell is refused by predict, eval and select with one line naming file and
   frame; `--clusters` computes it as a cluster.
3. `-m/--model` and `--config` work in every command: eval and convert from a YAML config; config mistakes are one
   line naming file, line and key; `--threads abc` says what it wants in a few words.
4. A template/i-PI atom-count mismatch names the template file (unit-tested in test_cli_config.cpp for configs).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as common  # noqa: E402

MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")
INIT = os.path.join(common.SOURCE_DIR, "ipi_inputs", "dipole", "init.xyz")
TEST_SET = os.path.join(common.SOURCE_DIR, "data", "batio3_pbesol_test.extxyz")


def body_for(gapd):
    def body(w):
        # 1. i-PI xyz == the same structure as extxyz (cell from abcABC, Å from the {angstrom} hints).
        lines = open(INIT).read().splitlines()
        n = int(lines[0])
        abc = [float(x) for x in lines[1].split(":")[1].split()[:6]]
        assert abc[3:] == [90.0, 90.0, 90.0], abc  # the recipe's cell is orthorhombic: the extxyz is diagonal
        symbols = [l.split()[0] for l in lines[2:2 + n]]
        positions = np.array([[float(x) for x in l.split()[1:4]] for l in lines[2:2 + n]])
        common.write_extxyz(os.path.join(w, "same.extxyz"),
                            [{"symbols": symbols, "positions": positions, "cell": np.diag(abc[:3])}])
        outs = {}
        for tag, path in (("ipi", INIT), ("extxyz", os.path.join(w, "same.extxyz"))):
            out = os.path.join(w, tag + "_pred.extxyz")
            r = common.run([gapd, "predict", path, "-m", MODEL, "-o", out, "--threads", "1", "--extras", "none"], 300)
            if r.returncode != 0:
                raise common.TestFailure("predict %s failed: %s" % (tag, r.stderr))
            outs[tag] = common.read_extxyz(out)[0]
        a, b = outs["ipi"], outs["extxyz"]
        common.check_close(float(a["info"]["energy"]), float(b["info"]["energy"]), "energy, i-PI xyz vs extxyz")
        common.check_close(a["arrays"]["forces"], b["arrays"]["forces"], "forces, i-PI xyz vs extxyz")
        common.check_close(common.info_floats(a, "stress"), common.info_floats(b, "stress"), "stress")
        junk = [k for k in a["info"] if k.startswith("#") or "CELL" in k]
        assert not junk, junk

        # 2. no cell: refused by name; --clusters computes it.
        nocell = os.path.join(w, "nocell.xyz")
        with open(nocell, "w") as f:
            f.write("5\nBaTiO3 written by hand\nBa 0 0 0\nTi 2 2 2\nO 2 2 0\nO 2 0 2\nO 0 2 2\n")
        r = common.run([gapd, "predict", nocell, "-m", MODEL, "-o", os.path.join(w, "x.extxyz")], 120)
        common.one_error_line(r, [nocell, "frame 0", "no cell", "--clusters"], ("gapd: reading", "gapd: model"))
        r = common.run([gapd, "select", nocell, "-m", MODEL, "-o", os.path.join(w, "s.extxyz")], 120)
        common.one_error_line(r, [nocell, "frame 0", "no cell"], ("gapd: reading", "gapd: model"))
        labelled = os.path.join(w, "nocell_labelled.xyz")
        with open(labelled, "w") as f:
            f.write("5\nenergy=-1000.0\nBa 0 0 0\nTi 2 2 2\nO 2 2 0\nO 2 0 2\nO 0 2 2\n")
        r = common.run([gapd, "eval", "-m", MODEL, labelled], 120)
        common.one_error_line(r, [labelled, "frame 0", "no cell"], ("gapd: reading", "gapd: model"))
        r = common.run([gapd, "predict", nocell, "-m", MODEL, "-o", os.path.join(w, "c.extxyz"), "--clusters",
                        "--extras", "none"], 120)
        if r.returncode != 0:
            raise common.TestFailure("predict --clusters failed: " + r.stderr)
        cluster = common.read_extxyz(os.path.join(w, "c.extxyz"))[0]
        assert "stress" not in cluster["info"], cluster["info"]

        # 3. one CLI: eval and convert from configs; config mistakes named.
        cfg = os.path.join(w, "eval.yaml")
        with open(cfg, "w") as f:
            f.write("model: %s\ndata: %s\nthreads: 1\nkey_prefix: p_\noutput: %s\n"
                    % (MODEL, TEST_SET, os.path.join(w, "eval_out.extxyz")))
        r = common.run([gapd, "eval", "--config", cfg], 300)
        if r.returncode != 0:
            raise common.TestFailure("gapd eval --config failed: " + r.stderr)
        assert "p_energy" in common.read_extxyz(os.path.join(w, "eval_out.extxyz"))[0]["info"]
        cfg2 = os.path.join(w, "convert.yaml")
        with open(cfg2, "w") as f:
            f.write("model: %s\noutput: %s\n" % (MODEL, os.path.join(w, "copy.gapd")))
        r = common.run([gapd, "convert", "--config", cfg2], 120)
        if r.returncode != 0 or open(MODEL, "rb").read() != open(os.path.join(w, "copy.gapd"), "rb").read():
            raise common.TestFailure("gapd convert --config: %s" % r.stderr)
        bad = os.path.join(w, "bad.yaml")
        with open(bad, "w") as f:
            f.write("template: init.xyz\nadress: batio3\n")
        r = common.run([gapd, "serve", "--config", bad, "-m", MODEL], 60)
        common.one_error_line(r, [bad, "line 2", "'adress'", "did you mean 'address'"], ())
        r = common.run([gapd, "predict", INIT, "-m", MODEL, "-o", os.path.join(w, "t.extxyz"), "--threads", "abc"], 60)
        line = common.one_error_line(r, ["--threads", "integer >= 0", "'abc'"], ("Run with --help",))
        assert len(line) < 120, line
        return "i-PI xyz == extxyz to %.1e; no-cell refusals; eval/convert via --config" % abs(
            float(a["info"]["energy"]) - float(b["info"]["energy"]))
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    sys.exit(common.run_test("e2e_cli_consistency", args.timeout, body_for(args.gapd)))


if __name__ == "__main__":
    main()
