#!/usr/bin/python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ from the repository's fixtures.

  session         i-PI -> client byte streams of the captured i-PI 3.3.0 sessions (tests/data/captures/*.bin,
                  'S' records concatenated); the capture whose client never asked for INIT gets the
                  STATUS/INIT handshake i-PI has with clients that do (as test_protocol_replay.cpp does).
  wire            selector byte + batch byte + message body: every header, the captured INIT, POSDATA and
                  FORCEREADY bodies, batch_size texts, extras strings.
  librascal_json  a tiny but complete librascal dump_obj model (nmax 2, lmax 1, 2 species), built from the
                  layout of tests/data/librascal/model_small_zeta2_exact.json, plain and gzip-compressed.
  native_model    the same tiny model converted by `gapd convert` (needs --gapd).
  extxyz          tests/data/librascal/structures.extxyz and small variants (Z column, extra arrays, flags).
  yaml_config     small `--config` files.
  (hostile)       issue #18 shapes: session streams that stall in the middle of a message, between messages
                  and with a legacy result pending, and requests with one or two stop signals during the
                  computation (fuzz_session.cpp reads these from the stream's last byte); extxyz files with
                  64 KB garbage lines; a librascal JSON with an unterminated 64 KB string.

Usage: /usr/bin/python3 fuzz/make_seeds.py --gapd build-rel/gapd
       /usr/bin/python3 fuzz/make_seeds.py --protocol-only --captures ../shared/protocol/captures --out DIR
         (session and wire seeds only, from other captures into DIR/<target>/: scripts/fuzz_smoke.sh adds them to
          the committed corpus when ../shared is present)
"""

import argparse
import copy
import glob
import gzip
import json
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CAPTURES = os.path.join(ROOT, "tests", "data", "captures")
LIBRASCAL = os.path.join(ROOT, "tests", "data", "librascal")
OUT = os.path.join(HERE, "corpus")  # seeds go to OUT/<target>/ (--out)


def header(name):
    return name.encode().ljust(12)


def records(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        direction = data[i:i + 1].decode()
        _, n = struct.unpack("<dI", data[i + 1:i + 13])
        out.append((direction, data[i + 13:i + 13 + n]))
        i += 13 + n
    return out


def init_message(rid, text):
    return header("INIT") + struct.pack("<ii", rid, len(text)) + text.encode()


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def session_and_wire_seeds(captures):
    for path in sorted(glob.glob(os.path.join(captures, "*.bin"))):
        name = os.path.basename(path)[:-4]
        recs = records(path)
        server = [p for d, p in recs if d == "S"]
        client = b"".join(p for d, p in recs if d == "C")
        stream = b"".join(server)
        if not any(p.startswith(header("INIT")) for p in server):
            # consolidated_harm3d: insert NEEDINIT/INIT before the first POSDATA.
            stream = header("STATUS") + init_message(0, " ") + stream
        write("session", name, stream)
        # Batch size for the wire seeds of this capture.
        batch = 1
        for p in server:
            if p.startswith(header("INIT")):
                text = p[20:].decode()
                write("wire", "init_" + name, bytes([1, 0]) + p[12:])
                write("wire", "batchtext_" + name, bytes([2, 0]) + text.encode())
                if "batch_size:" in text:
                    batch = int(text.split("batch_size:")[1].split(",")[0])
        batch_byte = {1: 0, 2: 1, 3: 2, 4: 3}[batch]
        for k, p in enumerate(p for p in server if p.startswith(header("POSDATA"))):
            body = p[12:]
            if body.endswith(header("GETFORCE")):
                body = body[:-12]
            write("wire", "posdata_%s_%d" % (name, k), bytes([3, batch_byte]) + body)
            if k >= 1:
                break
        # FORCEREADY bodies: the client stream split at the FORCEREADY headers.
        parts = client.split(header("FORCEREADY"))
        for k, part in enumerate(parts[1:3]):
            body = part
            for h in ("READY", "HAVEDATA", "NEEDINIT"):
                cut = body.find(header(h))
                if cut >= 0:
                    body = body[:cut]
            write("wire", "forceready_%s_%d" % (name, k), bytes([4, batch_byte]) + body)
    for h in ("STATUS", "READY", "NEEDINIT", "HAVEDATA", "INIT", "POSDATA", "GETFORCE", "FORCEREADY", "EXIT"):
        write("wire", "header_" + h.lower(), bytes([0, 0]) + header(h))
    for k, text in enumerate([" batch_size:4", "alpha : 1.5 , batch_size : 1024", "batch_size:0", "x:y,batch_size:2,"]):
        write("wire", "batchtext_%d" % k, bytes([2, 0]) + text.encode())
    for k, extras in enumerate(['{}', '{"dipole": [0.1, 0.2, NaN]}', '[1, 2]', '{"raw": 1}', 'plain text',
                                b'\xff\xfe'.decode("latin-1"), '{"a": Infinity}']):
        write("wire", "extras_%d" % k, bytes([5, 0]) + extras.encode("utf-8", "surrogateescape"))
    # Short sessions: handshake + one fused request with 2 atoms, and the legacy form of it.
    cell = struct.pack("<9d", 10, 0, 0, 0, 10, 0, 0, 0, 10) + struct.pack("<9d", 0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.1)
    pos = struct.pack("<i6d", 2, 0.1, 0.2, 0.3, 1.5, 1.6, 1.7)
    hand = header("STATUS") + header("STATUS") + init_message(3, " ") + header("STATUS")
    write("session", "fused_2atoms", hand + header("POSDATA") + cell + pos + header("GETFORCE") + header("STATUS")
          + header("EXIT"))
    write("session", "legacy_2atoms", hand + header("POSDATA") + cell + pos + header("STATUS") + header("GETFORCE")
          + header("STATUS") + header("EXIT"))
    batched = struct.pack("<i", 2) + cell + cell + struct.pack("<12d", *([0.5] * 12))
    write("session", "batched_2x2atoms", header("STATUS") + init_message(1, " batch_size:2") + header("STATUS")
          + header("POSDATA") + batched + header("GETFORCE") + header("EXIT"))


def tiny_librascal_model():
    """A complete dump_obj model with nmax 2, lmax 1, species O and Ti: 2 sparse points of each."""
    src = json.load(open(os.path.join(LIBRASCAL, "model_small_zeta2_exact.json")))
    m = copy.deepcopy(src)
    p = m["init_params"]
    nmax, lmax = 2, 1
    inner = nmax * nmax * (lmax + 1)
    for rep in (p["kernel"]["init_params"]["representation"], p["X_train"]["init_params"]["representation"]):
        cpp = rep["data"]["cpp_representation"]
        cpp["max_radial"], cpp["max_angular"] = nmax, lmax
        rep["init_params"]["max_radial"], rep["init_params"]["max_angular"] = nmax, lmax
    sp = p["X_train"]["data"]["sparse_points"]
    species = [8, 22]
    keys = [[8, 8], [8, 22], [22, 22]]
    sp["center_species"] = species
    sp["inner_size"] = inner
    sp["keys"] = keys
    sp["keys_sp"] = [[s, keys] for s in species]
    sp["counters"] = [[s, 2] for s in species]
    sp["indices"] = [[s, [[k, [0, 1]] for k in keys]] for s in species]
    value = 0.125
    values = []
    for s in species:
        per_key = []
        for k in keys:
            block = []
            for _ in range(2 * inner):
                block.append(value)
                value = round(value * 1.37 % 1.0, 6)
            per_key.append([k, block])
        values.append([s, per_key])
    sp["values"] = values
    p["self_contributions"] = {"8": -2.0, "22": -5.0}
    p["weights"] = ["npy", [0.5, -1.25, 2.0, 0.75]]
    return json.dumps(m, separators=(",", ":")).encode()


def model_seeds(gapd):
    tiny = tiny_librascal_model()
    write("librascal_json", "tiny_model.json", tiny)
    write("librascal_json", "tiny_model.json.gz", gzip.compress(tiny, mtime=0))
    if gapd:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "tiny.json")
            dst = os.path.join(tmp, "tiny.gapd")
            with open(src, "wb") as f:
                f.write(tiny)
            subprocess.run([gapd, "convert", "-m", src, "-o", dst], check=True, stderr=subprocess.DEVNULL)
            native = open(dst, "rb").read()
            write("native_model", "tiny_model.gapd", native)
            # The header form of fuzz_native_model: JSON only, arrays rebased to the harness's data start.
            hsize = struct.unpack_from("<Q", native, 12)[0]
            head = json.loads(native[24:24 + hsize])
            first = min(a["offset"] for a in head["arrays"])
            for a in head["arrays"]:
                a["offset"] = 65536 + a["offset"] - first
            write("native_model", "tiny_model_header.json", json.dumps(head).encode())
    else:
        print("no --gapd: native_model seeds not regenerated")


# fuzz_session.cpp's control bits, carried by the stream's last byte.
STALL = 0x08        # keep the stream open after the input, then request a stop
TWO_STOPS = 0x04    # two stop requests during the first computation
ONE_STOP = 0x02


def hostile_seeds():
    cell = struct.pack("<9d", 10, 0, 0, 0, 10, 0, 0, 0, 10) + struct.pack("<9d", 0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.1)
    pos = struct.pack("<i6d", 2, 0.1, 0.2, 0.3, 1.5, 1.6, 1.7)
    hand = header("STATUS") + init_message(0, " ") + header("STATUS")
    posdata = header("POSDATA") + cell + pos
    # Stalls: the last byte is data gapd reads (a position byte, a header byte, INIT text) and the control.
    half = bytearray(hand + posdata[:12 + len(posdata[12:]) // 2])
    half[-1] = STALL
    write("session", "stalled_mid_posdata", bytes(half))
    write("session", "stalled_mid_header", hand + b"POSDATA" + bytes([STALL]))
    write("session", "stalled_between_messages", header("STATUS") + init_message(0, "x" + chr(STALL)))
    legacy = bytearray(hand + posdata)  # legacy request, then nothing: a result waits for a GETFORCE
    legacy[-1] = STALL
    write("session", "stalled_legacy_result_pending", bytes(legacy))
    fused = hand + posdata + header("GETFORCE")
    write("session", "double_signal_mid_compute", fused + header("EXIT") + bytes([TWO_STOPS]))
    write("session", "single_signal_mid_compute", fused + header("EXIT") + bytes([ONE_STOP]))
    write("session", "double_signal_then_stall", fused + bytes([TWO_STOPS | STALL]))
    # Garbage where numbers belong, "EXIT" inside POSDATA, and an unsolicited second INIT.
    exit_inside = bytearray(fused)
    at = len(hand) + 12 + 144 + 4 + 8
    exit_inside[at:at + 8] = b"    EXIT"
    write("session", "exit_inside_posdata", bytes(exit_inside))
    write("session", "second_init", hand + init_message(0, "batch_size:2") + posdata + header("GETFORCE"))
    garbage = bytes((k * 2654435761 >> 11) & 0xff for k in range(65536)).replace(b"\n", b"\x01")
    write("extxyz", "oversized_count_line.extxyz", garbage + b"\nO 0 0 0\n")
    write("extxyz", "oversized_number.extxyz",
          b'1\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nO 0 ' + garbage + b" 0\n")
    write("extxyz", "oversized_comment_key.extxyz", b"1\n" + b"k" * 65536 + b"=\nO 0 0 0\n")
    write("librascal_json", "unterminated_string.json", b'{"class_name": "' + b"x" * 65536)


def text_seeds():
    write("extxyz", "structures.extxyz", open(os.path.join(LIBRASCAL, "structures.extxyz"), "rb").read())
    write("extxyz", "z_column.extxyz",
          b'2\nLattice="4 0 0 0 4 0 0 0 4" Properties=Z:I:1:pos:R:3:forces:R:3 energy=-1.5 pbc="T T F"\n'
          b"8 0 0 0 0.1 0.2 0.3\n22 2 2 2 -0.1 -0.2 -0.3\n")
    write("extxyz", "flags_quotes.extxyz",
          b"1\nProperties=species:S:1:pos:R:3:fixed:L:1:tag:S:1 flag name=\"a b\" arr=[1 2 3] q='x y' e = 2\n"
          b"Ba +1.0 -2.5e-3 3 T tag\n")
    write("extxyz", "ipi_xyz.xyz",
          b"2\n# CELL(abcABC): 8.0 8.0 8.0 90.0 90.0 90.0 cell{angstrom} positions{angstrom}\n"
          b"O 0 0 0\nTi 1 1 1\n")
    write("yaml_config", "serve.yaml", b"model: m.gapd\ntemplate: init.xyz\nunix: true\naddress: batio3\nthreads: 2\n")
    write("yaml_config", "predict.yaml", b"# comment\nmodel: 'a b.json'\noutput: \"o.extxyz\"\nradial: spline\n"
          b"verbose: false\n")
    write("yaml_config", "nested.yaml", b"model: [1, 2]\n")
    write("yaml_config", "complex_key.yaml", b"? [a, b]\n: c\n")
    write("yaml_config", "not_a_map.yaml", b"- a\n- b\n")
    write("yaml_config", "anchors.yaml", b"a: &x 1\nb: *x\n")


def main():
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", help="gapd executable, to convert the tiny model to the native format")
    parser.add_argument("--captures", default=CAPTURES, help="directory of i-PI capture *.bin files "
                        "(default tests/data/captures)")
    parser.add_argument("--out", default=OUT, help="corpus root, seeds go to OUT/<target>/ (default fuzz/corpus)")
    parser.add_argument("--protocol-only", action="store_true", help="only the session and wire seeds")
    args = parser.parse_args()
    OUT = os.path.abspath(args.out)
    session_and_wire_seeds(args.captures)
    if not args.protocol_only:
        model_seeds(args.gapd)
        text_seeds()
        hostile_seeds()
    for d in sorted(glob.glob(os.path.join(OUT, "*"))):
        files = os.listdir(d)
        print("%-40s %3d files, %7d bytes" % (os.path.relpath(d, ROOT), len(files),
                                             sum(os.path.getsize(os.path.join(d, f)) for f in files)))


if __name__ == "__main__":
    main()
