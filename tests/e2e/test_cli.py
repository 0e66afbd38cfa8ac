#!/usr/bin/python3
"""End-to-end tests of gapd's command line: help texts, error messages, convert, --config.

Checks
  * `gapd --help`, `gapd --version` and `gapd COMMAND --help` for every subcommand exit 0 and print usage.
  * Bad input fails with a non-zero exit code (not a crash/signal) and ONE clear error line naming the culprit
    (informational "gapd: reading ..."/"model loaded" lines and CLI11's "Run with --help" hint are allowed):
    missing model file, a text file as model, a truncated native model, a template with an unknown element,
    a predict input with an element the model lacks, `--radial nonsense`, a missing --config file.
  * `gapd convert` librascal JSON -> native (and native -> native, byte-identical); `gapd predict` with the JSON
    and the native file gives identical numbers.
  * `--config` YAML with the long option names works for predict (model, output, threads, radial), and options
    on the command line override the file.
  * `--threads 2` in a process bound to one CPU (`taskset -c CPU`, as mpirun binds a rank by default) warns once,
    naming the affinity and `--bind-to none`, and still gives the numbers of `--threads 1`.
Exit code 0 = pass.
"""

import argparse
import os
import shutil
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

INFO_PREFIXES = ("gapd: reading", "gapd: model loaded", "gapd: wrote", "gapd: serving",
                 "Run with --help for more information.")
check = common.Checks()  # every named check of this script


def gapd(args, ctx, timeout=60):
    return common.run([ctx.gapd] + args, timeout=timeout, cwd=ctx.workdir)


def expect_help(ctx, args):
    def fn():
        r = gapd(args, ctx)
        if r.returncode != 0:
            raise TestFailure("exit %d: %s" % (r.returncode, r.stderr.strip()[:200]))
        text = r.stdout + r.stderr
        if args[-1] == "--version":
            if not text.strip():
                raise TestFailure("no version printed")
            return text.strip()
        if "Usage" not in text:
            raise TestFailure("no 'Usage' in the help text")
        return "%d lines" % len(text.splitlines())
    return fn


def expect_error(ctx, args, must_mention, timeout=60, code=None):
    """Non-zero exit (no signal, no crash text), exactly one error line, mentioning every string given."""
    def fn():
        r = gapd(args, ctx, timeout=timeout)
        if code is not None and r.returncode != code:
            raise TestFailure("exit %d, expected %d: %s" % (r.returncode, code, (r.stderr + r.stdout).strip()[:300]))
        line = common.one_error_line(r, must_mention, INFO_PREFIXES, ignore_case=True)
        return "exit %d: %s" % (r.returncode, line)
    return fn


def predict_numbers(path):
    frames = common.read_extxyz(path)
    out = []
    for fr in frames:
        out.append((float(fr["info"]["energy"]), fr["arrays"]["forces"], common.info_floats(fr, "stress"),
                    common.info_floats(fr, "virial")))
    return out


def same_numbers(a, b):
    """Exact equality of every number; returns (equal, max abs difference)."""
    if len(a) != len(b):
        return False, float("inf")
    worst = 0.0
    for fa, fb in zip(a, b):
        for x, y in zip(fa, fb):
            x, y = np.asarray(x, float), np.asarray(y, float)
            if x.shape != y.shape:
                return False, float("inf")
            worst = max(worst, float(np.max(np.abs(x - y))) if x.size else 0.0)
    return worst == 0.0, worst


def run_predict(ctx, args, output):
    r = gapd(["predict"] + args, ctx, timeout=120)
    if r.returncode != 0:
        raise TestFailure("gapd predict %s failed (exit %d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    path = os.path.join(ctx.workdir, output)
    if not os.path.exists(path):
        raise TestFailure("gapd predict exited 0 but did not write %s" % output)
    return predict_numbers(path)


def test_convert(ctx):
    def fn():
        json_model, native = ctx.model, os.path.join(ctx.workdir, "small.gapd")
        r = gapd(["convert", "-m", json_model, "-o", native], ctx)
        if r.returncode != 0:
            raise TestFailure("convert failed (exit %d): %s" % (r.returncode, r.stderr.strip()))
        native2 = os.path.join(ctx.workdir, "small_again.gapd")
        r = gapd(["convert", "-m", native, "-o", native2], ctx)
        if r.returncode != 0:
            raise TestFailure("native -> native convert failed (exit %d): %s" % (r.returncode, r.stderr.strip()))
        with open(native, "rb") as f1, open(native2, "rb") as f2:
            if f1.read() != f2.read():
                raise TestFailure("converting the native file again changed its bytes")
        a = run_predict(ctx, ["-m", json_model, "-o", "pred_json.extxyz", "--threads", "1", ctx.structures],
                        "pred_json.extxyz")
        b = run_predict(ctx, ["-m", native, "-o", "pred_native.extxyz", "--threads", "1", ctx.structures],
                        "pred_native.extxyz")
        equal, worst = same_numbers(a, b)
        if not equal:
            raise TestFailure("JSON and native model give different numbers (max |diff| %.3e)" % worst)
        ctx.reference = a
        return "%d frames, energies/forces/stress/virial identical" % len(a)
    return fn


def test_config(ctx):
    def fn():
        if ctx.reference is None:
            raise TestFailure("needs the convert test's reference predictions")
        cfg = os.path.join(ctx.workdir, "predict.yaml")
        with open(cfg, "w") as f:
            f.write("# gapd predict options, keys = long option names\n")
            f.write("model: %s\noutput: from_config.extxyz\nthreads: 1\nradial: spline\n" % ctx.model)
        got = run_predict(ctx, ["--config", cfg, ctx.structures], "from_config.extxyz")
        equal, worst = same_numbers(got, ctx.reference)
        if not equal:
            raise TestFailure("--config run differs from the flag run (max |diff| %.3e)" % worst)

        # Command line wins: the file names another model and output, the flags the reference ones.
        cfg2 = os.path.join(ctx.workdir, "predict_other.yaml")
        with open(cfg2, "w") as f:
            f.write("model: %s\noutput: should_not_exist.extxyz\nthreads: 1\n" % ctx.other_model)
        other = run_predict(ctx, ["--config", cfg2, ctx.structures, "-o", "other_model.extxyz"],
                            "other_model.extxyz")
        if same_numbers(other, ctx.reference)[0]:
            raise TestFailure("the config's model was not used (zeta4 and zeta2 models gave identical numbers)")
        got = run_predict(ctx, ["--config", cfg2, "-m", ctx.model, "-o", "overridden.extxyz", ctx.structures],
                          "overridden.extxyz")
        if os.path.exists(os.path.join(ctx.workdir, "should_not_exist.extxyz")):
            raise TestFailure("-o on the command line did not override 'output:' from the config")
        equal, worst = same_numbers(got, ctx.reference)
        if not equal:
            raise TestFailure("-m on the command line did not override 'model:' (max |diff| %.3e)" % worst)
        return "config keys work; -m/-o override model:/output:"
    return fn


class Context:
    pass


def test_threads_above_affinity(ctx):
    def fn():
        taskset = shutil.which("taskset")  # util-linux: on every Debian system
        if not taskset:
            raise TestFailure("no taskset on PATH (util-linux)")
        one = run_predict(ctx, ["-m", ctx.model, "-o", "t1.extxyz", "--threads", "1", ctx.structures], "t1.extxyz")
        cpu = str(min(os.sched_getaffinity(0)))  # one CPU this test may use (a CI container may not have CPU 0)
        r = common.run([taskset, "-c", cpu, ctx.gapd, "predict", "-m", ctx.model, "-o", "t2.extxyz", "--threads", "2",
                        ctx.structures], timeout=120, cwd=ctx.workdir)
        if r.returncode != 0:
            raise TestFailure("taskset -c %s gapd predict --threads 2 failed (exit %d): %s"
                              % (cpu, r.returncode, r.stderr.strip()))
        warnings = [l for l in r.stderr.splitlines() if "CPU affinity" in l]
        if len(warnings) != 1 or "--threads 2" not in warnings[0] or "--bind-to none" not in warnings[0]:
            raise TestFailure("expected one warning naming --threads 2, the affinity and --bind-to none; stderr: %r"
                              % r.stderr)
        equal, worst = same_numbers(one, predict_numbers(os.path.join(ctx.workdir, "t2.extxyz")))
        if not equal:  # predict's numbers do not depend on the thread count (docs/cli.md)
            raise TestFailure("--threads 2 on one CPU differs from --threads 1 by %g" % worst)
        r = gapd(["predict", "-m", ctx.model, "-o", "t3.extxyz", "--threads", "1", ctx.structures], ctx, timeout=120)
        if "CPU affinity" in r.stderr:
            raise TestFailure("--threads 1 warned about the affinity: %r" % r.stderr)
    return fn


def run_checks(ctx, w):
    ctx.workdir = w
    # Fixture files for the error cases.
    with open(os.path.join(w, "not_a_model.txt"), "w") as f:
        f.write("This is a text file, not a model.\n")
    with open(os.path.join(w, "unknown_element.xyz"), "w") as f:
        f.write("3\nLattice=\"8 0 0 0 8 0 0 0 8\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                "Ba 0 0 0\nTi 2 2 2\nXx 2 2 0\n")
    with open(os.path.join(w, "with_hydrogen.extxyz"), "w") as f:
        f.write("3\nLattice=\"8 0 0 0 8 0 0 0 8\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n"
                "Ba 0 0 0\nTi 2 2 2\nH 2 2 0\n")
    good_template = os.path.join(w, "template.extxyz")
    shutil.copy(ctx.structures, good_template)
    serve_tail = ["-u", "-a", "gapd-e2e-cli-%d" % os.getpid(), "--connect-timeout", "0"]

    print("help texts:")
    for a in (["--help"], ["--version"], ["serve", "--help"], ["predict", "--help"],
              ["convert", "--help"], ["bench", "--help"]):
        check("gapd " + " ".join(a), expect_help(ctx, a))
    check("gapd (no command) fails", expect_error(ctx, [], []))

    print("errors:")
    check("predict: missing model file",
          expect_error(ctx, ["predict", "-m", "missing_model.gapd", "-o", "o.extxyz", ctx.structures],
                       ["missing_model.gapd"]))
    check("serve: missing model file",
          expect_error(ctx, ["serve", "-m", "missing_model.gapd", "-t", good_template] + serve_tail,
                       ["missing_model.gapd"]))
    check("predict: text file as model",
          expect_error(ctx, ["predict", "-m", "not_a_model.txt", "-o", "o.extxyz", ctx.structures],
                       ["not_a_model.txt"]))
    check("predict: model is a structure file",
          expect_error(ctx, ["predict", "-m", ctx.structures, "-o", "o.extxyz", ctx.structures],
                       ["structures.extxyz"]))
    check("predict: missing input file",
          expect_error(ctx, ["predict", "-m", ctx.model, "-o", "o.extxyz", "missing_input.extxyz"],
                       ["missing_input.extxyz"]))
    check("serve: template with unknown element",
          expect_error(ctx, ["serve", "-m", ctx.model, "-t", "unknown_element.xyz"] + serve_tail,
                       ["unknown_element.xyz", "Xx"]))
    check("predict: input with unknown element",
          expect_error(ctx, ["predict", "-m", ctx.model, "-o", "o.extxyz", "unknown_element.xyz"],
                       ["Xx"]))
    check("predict: element the model lacks",
          expect_error(ctx, ["predict", "-m", ctx.model, "-o", "o.extxyz", "with_hydrogen.extxyz"],
                       ["with_hydrogen.extxyz", "model"]))
    check("predict: --radial nonsense",
          expect_error(ctx, ["predict", "-m", ctx.model, "-o", "o.extxyz", "--radial", "nonsense",
                             ctx.structures], ["nonsense"]))
    check("serve: --radial nonsense",
          expect_error(ctx, ["serve", "-m", ctx.model, "-t", good_template, "--radial", "nonsense"]
                       + serve_tail, ["nonsense"]))
    check("serve: no i-PI listening (exit 2)",
          expect_error(ctx, ["serve", "-m", ctx.model, "-t", good_template] + serve_tail,
                       ["/tmp/ipi_gapd-e2e-cli-%d" % os.getpid()], code=2))
    check("predict: missing --config file",
          expect_error(ctx, ["predict", "--config", "missing.yaml", ctx.structures], ["missing.yaml"]))
    if os.path.exists(os.path.join(w, "o.extxyz")):
        check.fail("no output on error", "o.extxyz was written by a failing run")

    print("convert and config:")
    check("convert JSON -> native, same predictions", test_convert(ctx))
    # A truncated native file (needs the converted file from the previous check).
    native = os.path.join(w, "small.gapd")
    if os.path.exists(native):
        with open(native, "rb") as f:
            head = f.read(3000)
        with open(os.path.join(w, "truncated.gapd"), "wb") as f:
            f.write(head)
        check("predict: truncated native model",
              expect_error(ctx, ["predict", "-m", "truncated.gapd", "-o", "o.extxyz", ctx.structures],
                           ["truncated.gapd"]))
    check("--config YAML for predict, flags override", test_config(ctx))
    check("--threads above the CPU affinity: one warning, same numbers", test_threads_above_affinity(ctx))
    return check.verdict()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True, help="gapd executable")
    parser.add_argument("--workdir", help="keep files here (default: a temporary directory, removed on success)")
    parser.add_argument("--timeout", type=float, default=300, help="global watchdog, seconds (default 300)")
    args = parser.parse_args()
    data = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal")
    ctx = Context()
    ctx.gapd = os.path.abspath(args.gapd)
    ctx.model = os.path.join(data, "model_small_zeta2_exact.json")
    ctx.other_model = os.path.join(data, "model_small_zeta4_exact.json")
    ctx.structures = os.path.join(data, "structures.extxyz")
    ctx.reference = None
    return common.run_test("test_cli", args.timeout, lambda workdir: run_checks(ctx, workdir), workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
