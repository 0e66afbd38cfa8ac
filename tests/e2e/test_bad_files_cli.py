#!/usr/bin/python3
"""Bad input files at the command line: one clear error line naming the file (and field), a non-zero exit
code (no crash, no signal, no sanitizer report), and nothing half-written: a failing `gapd convert` /
`gapd predict` leaves no output file and no temporary file, and an existing output file is left untouched.

Cases: truncated / corrupted / hostile-size native and librascal models, a model that is a structure file,
extxyz garbage (absurd Properties count, truncated frame, non-UTF-8), a frame with an element the model lacks
in the middle of a predict run, an output directory that does not exist, garbage / non-UTF-8 / non-mapping
YAML configs, a serve template with an element the model lacks, SIGTERM during a long predict.
Exit 0 = pass. See docs/reliability.md.
"""

import argparse
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import e2e_common as common
from e2e_common import TestFailure
from make_batio3_supercell import build_supercell, extxyz_text

INFO_PREFIXES = ("gapd: reading", "gapd: model loaded", "gapd: wrote", "gapd: serving", "gapd: predicted",
                 "Run with --help for more information.")
check = common.Checks()  # every named check of this script


def listing(d):
    return sorted(os.listdir(d))


def expect_error(ctx, args, must_mention, out_dir=None, timeout=120):
    """Non-zero exit without a crash, exactly one error line mentioning every string; out_dir unchanged."""
    def fn():
        before = listing(out_dir) if out_dir else None
        snapshot = {}
        if out_dir:
            for name in before:
                with open(os.path.join(out_dir, name), "rb") as f:
                    snapshot[name] = f.read()
        r = run_bytes([ctx.gapd] + args, timeout, ctx.workdir)
        line = common.one_error_line(r, must_mention, INFO_PREFIXES)
        if out_dir:
            after = listing(out_dir)
            if after != before:
                raise TestFailure("files changed in %s: before %r, after %r" % (out_dir, before, after))
            for name, data in snapshot.items():
                with open(os.path.join(out_dir, name), "rb") as f:
                    if f.read() != data:
                        raise TestFailure("%s was modified by a failing run" % name)
        return "exit %d: %s" % (r.returncode, line[:160])
    return fn


class Ctx:
    pass


def run_bytes(args, timeout, cwd):
    """Like common.run, but output decoded leniently: error messages may quote non-UTF-8 input bytes."""
    try:
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=cwd,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TestFailure("timed out after %g s: %s" % (timeout, " ".join(args)))
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def native_with_header(good, edit):
    """A native model file with its JSON header edited (CRC fixed, arrays moved if the header grows)."""
    size = struct.unpack_from("<Q", good, 12)[0]
    header = json.loads(good[24:24 + size])
    edit(header)
    shift = 0
    while True:
        moved = json.loads(json.dumps(header))
        for a in moved["arrays"]:
            a["offset"] += shift
        text = json.dumps(moved).encode()
        if len(text) + 1 <= size + shift:
            break
        shift = (len(text) + 1 - size + 63) // 64 * 64
    text = text.ljust(size + shift)
    return good[:12] + struct.pack("<QI", size + shift, zlib.crc32(text)) + text + good[24 + size:]


def run_checks(ctx, w):
    ctx.workdir = w
    procs = []  # processes to kill whatever happens
    data = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal")
    json_model = os.path.join(data, "model_small_zeta2_exact.json")
    structures = os.path.join(data, "structures.extxyz")
    try:
        out = os.path.join(w, "out")  # output directory: must stay as it is after every failure
        os.makedirs(out)
        with open(os.path.join(out, "existing.gapd"), "wb") as f:
            f.write(b"previous output, must survive\n")
        with open(os.path.join(out, "existing.extxyz"), "w") as f:
            f.write("previous output, must survive\n")
        native = os.path.join(w, "good.gapd")
        r = common.run([ctx.gapd, "convert", "-m", json_model, "-o", native], 60)
        if r.returncode != 0:
            raise TestFailure("convert of the good model failed: %s" % r.stderr)
        good = open(native, "rb").read()
        text = open(json_model, "rb").read()

        def put(name, data):
            path = os.path.join(w, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        put("truncated.json", text[:len(text) // 2])
        put("truncated.json.gz", gzip.compress(text)[:50000])
        put("garbage.json", bytes((k * 2654435761 >> 13) & 0xff for k in range(5000)))
        put("truncated.gapd", good[:len(good) - 100])
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0x20
        put("flipped.gapd", bytes(flipped))
        put("hostile_shape.gapd", native_with_header(good, lambda h: h["arrays"][1].update(shape=[10 ** 13])))
        put("hostile_species.gapd", native_with_header(good, lambda h: h["soap"].update(
            species=list(range(1, 120)), max_radial=100, max_angular=100)))
        doc = json.loads(text)
        doc["init_params"]["X_train"]["data"]["sparse_points"]["counters"][8][1] = 10 ** 12
        put("hostile_counters.json", json.dumps(doc).encode())
        doc = json.loads(text)
        del doc["init_params"]["kernel"]["init_params"]["zeta"]
        put("missing_zeta.json", json.dumps(doc).encode())
        doc = json.loads(text)
        doc["init_params"]["X_train"]["data"]["sparse_points"]["inner_size"] = 48
        put("inconsistent_inner.json", json.dumps(doc).encode())

        print("models (gapd convert, output directory must stay untouched):")
        for name, mention in (("truncated.json", ["truncated.json", "invalid JSON"]),
                              ("truncated.json.gz", ["truncated.json.gz", "gzip"]),
                              ("garbage.json", ["garbage.json"]),
                              ("truncated.gapd", ["truncated.gapd", "truncated"]),
                              ("flipped.gapd", ["flipped.gapd", "checksum"]),
                              ("hostile_shape.gapd", ["hostile_shape.gapd", "'arrays[1] ('weights_8').nbytes'"]),
                              ("hostile_species.gapd", ["hostile_species.gapd", "features per environment"]),
                              ("hostile_counters.json", ["hostile_counters.json", "counters", "exceeds"]),
                              ("missing_zeta.json", ["missing_zeta.json", "zeta"]),
                              ("inconsistent_inner.json", ["inconsistent_inner.json", "inner_size"]),
                              (structures, ["structures.extxyz"])):
            check("convert %s" % os.path.basename(name),
                  expect_error(ctx, ["convert", "-m", name, "-o", os.path.join(out, "existing.gapd")], mention, out))
        check("convert into a missing directory",
              expect_error(ctx, ["convert", "-m", json_model, "-o", os.path.join(w, "no", "such", "m.gapd")],
                           ["no/such/m.gapd"], out))

        print("structures (gapd predict):")
        put("huge_columns.extxyz", b"2\nProperties=species:S:1:pos:R:3:x:R:333333333333333333\nO 0 0 0 1\nO 1 1 1 1\n")
        put("truncated.extxyz", open(structures, "rb").read()[:3000])
        put("not_utf8.extxyz", b"1\n\n\xff\xfe 0 0 0\n")
        frames = open(structures).read().split("\n")
        # The 3rd frame gets an element the model lacks: the first two are computed, then it fails.
        symbols, positions, cell = build_supercell(2, displacement=0.05, seed=3)
        bad_frame = extxyz_text(["H"] + symbols[1:], positions, cell)
        put("bad_third_frame.extxyz", ("\n".join(frames).rstrip("\n") + "\n" + bad_frame).encode())
        for name, mention in (("huge_columns.extxyz", ["huge_columns.extxyz", "Properties"]),
                              ("truncated.extxyz", ["truncated.extxyz", "truncated"]),
                              ("not_utf8.extxyz", ["not_utf8.extxyz"]),
                              ("bad_third_frame.extxyz", ["bad_third_frame.extxyz", "frame 5", "atomic number 1"])):
            check("predict %s" % name,
                  expect_error(ctx, ["predict", "-m", native, "-o", os.path.join(out, "existing.extxyz"),
                                     "--threads", "1", os.path.join(w, name)], mention, out))
        check("predict into a missing directory",
              expect_error(ctx, ["predict", "-m", native, "-o", os.path.join(w, "nope", "o.extxyz"), structures],
                           ["nope/o.extxyz"], out))

        print("configs and templates (gapd serve):")
        serve_tail = ["-u", "-a", "badcli%d" % os.getpid(), "-S", os.path.join(w, "ipi_"), "--connect-timeout", "0"]
        put("garbage.yaml", b"{{{{ [[[ : : :\n")
        put("not_a_map.yaml", b"- model\n- m.gapd\n")
        put("complex_key.yaml", b"? [a, b]\n: c\n")
        put("nested.yaml", b"model: [a, b]\n")
        put("binary.yaml", bytes(range(256)))
        template = os.path.join(w, "template.extxyz")
        shutil.copy(structures, template)
        for name, mention in (("garbage.yaml", ["garbage.yaml"]), ("not_a_map.yaml", ["not_a_map.yaml", "mapping"]),
                              ("complex_key.yaml", ["complex_key.yaml", "line 1"]),
                              ("nested.yaml", ["nested.yaml", "model"]), ("binary.yaml", ["binary.yaml"])):
            check("serve --config %s" % name,
                  expect_error(ctx, ["serve", "--config", os.path.join(w, name), "-m", native, "-t", template]
                               + serve_tail, mention))
        put("with_h.extxyz", extxyz_text(["H"] + symbols[1:], positions, cell).encode())
        check("serve template with an element the model lacks",
              expect_error(ctx, ["serve", "-m", native, "-t", os.path.join(w, "with_h.extxyz")] + serve_tail,
                           ["with_h.extxyz", "atomic number 1"]))

        print("signals:")

        def sigterm_predict():
            symbols, positions, cell = build_supercell(6, displacement=0.05, seed=4)
            big = put("big.extxyz", (extxyz_text(symbols, positions, cell) * 20).encode())
            target = os.path.join(out, "existing.extxyz")
            before = open(target, "rb").read()
            p = common.start_process([ctx.gapd, "predict", "-m", native, "--radial", "exact", "-o", target,
                                      "--threads", "1", big], os.path.join(w, "sigterm_predict.log"))
            procs.append(p)
            time.sleep(1.5)
            if p.poll() is not None:
                raise TestFailure("predict finished before SIGTERM (exit %s)" % p.returncode)
            p.send_signal(signal.SIGTERM)
            code = common.wait_process(p, 20, "gapd predict")
            if open(target, "rb").read() != before:
                raise TestFailure("the output file was modified")
            leftovers = [n for n in listing(out) if ".tmp-" in n]
            if leftovers:
                raise TestFailure("temporary files left: %r" % leftovers)
            return "exit %d (signal), existing output untouched, no temporary file" % code
        check("SIGTERM during a long predict", sigterm_predict)

        leftovers = [n for n in listing(out) + listing(w) if ".tmp-" in n]
        if leftovers:
            check.fail("no temporary files left", repr(leftovers))
    finally:
        for p in procs:
            common.kill_process(p)
    return check.verdict()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    ctx = Ctx()
    ctx.gapd = os.path.abspath(args.gapd)
    return common.run_test("test_bad_files_cli", args.timeout, lambda workdir: run_checks(ctx, workdir),
                           workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
