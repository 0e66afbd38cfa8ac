#!/usr/bin/python3
"""Hostile input, second round (issue #18), at the command line and on the socket, without i-PI.

1. an output that is an input (same path, other spellings, symbolic and hard links) is refused by predict, eval,
   convert and select, and the input is untouched; a replaced output keeps its mode; a read-only one is refused.
2. a cell of 0.1 or 1 Bohr is refused at once with one line naming the cell and the limit (predict, serve).
3. two SIGTERMs while gapd sends a reply larger than the socket buffers: the reply arrives whole; two SIGTERMs
   during the computation: not a byte of it, exit 1.
4. a FIFO or a directory as model or template: one error line naming it, at once.
5. an 18 MB garbage line in a template or extxyz: one short error line (excerpt, line number, length).
6. a POSDATA that stops half-way: error after --message-timeout; one SIGTERM ends the wait (exit 1).
8. "EXIT" read as a coordinate, a second INIT, a float32 template the extxyz reader rejects: what is wrong.
9. an atom 1e14 cells away: refused, naming the atom.

A minimal i-PI server side is played here with raw sockets (fake_ipi.py models a well-behaved i-PI; these
peers are broken on purpose). Exit 0 = pass. See docs/reliability.md ("Hostile input").
"""

import argparse
import os
import signal
import socket
import stat
import struct
import sys
import time

import e2e_common as common
from e2e_common import BOHR_2018, TestFailure
from make_batio3_supercell import build_supercell, extxyz_text

INFO_PREFIXES = ("gapd: reading", "gapd: model loaded", "gapd: wrote", "gapd: serving", "gapd: predicted",
                 "gapd: connected", "gapd: float32", "gapd: i-PI uses", "gapd: request",
                 "Run with --help for more information.")
check = common.Checks()


def header(name):
    return name.encode().ljust(12)


def posdata(cell_rows_angstrom, positions_angstrom):
    """POSDATA (header included), i-PI's layout: h with lattice vectors as columns, Bohr."""
    h = [cell_rows_angstrom[j][i] / BOHR_2018 for i in range(3) for j in range(3)]
    flat = [x / BOHR_2018 for r in positions_angstrom for x in r]
    return (header("POSDATA") + struct.pack("<9d", *h) + struct.pack("<9d", *([0.0] * 9)) +
            struct.pack("<i", len(positions_angstrom)) + struct.pack("<%dd" % len(flat), *flat))


class Peer:
    """i-PI's side of one UNIX connection, every wait bounded."""

    def __init__(self, path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.conn = None

    def accept(self, timeout=60):
        self.listener.settimeout(timeout)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(30)

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            if not chunk:
                raise TestFailure("gapd closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def handshake(self):
        self.conn.sendall(header("STATUS"))
        if self.recv_exact(12) != header("NEEDINIT"):
            raise TestFailure("no NEEDINIT")
        self.conn.sendall(header("INIT") + struct.pack("<ii", 0, 1) + b" ")
        self.conn.sendall(header("STATUS"))
        if self.recv_exact(12) != header("READY"):
            raise TestFailure("no READY")

    def read_forceready(self):
        """The whole reply; TestFailure if it is cut."""
        if self.recv_exact(12) != header("FORCEREADY"):
            raise TestFailure("no FORCEREADY")
        _, natoms = struct.unpack("<di", self.recv_exact(12))
        forces = self.recv_exact(24 * natoms)
        self.recv_exact(72)
        (length,) = struct.unpack("<i", self.recv_exact(4))
        self.recv_exact(length)
        return natoms, forces

    def bytes_until_eof(self, timeout=20):
        """Everything gapd still sends before it closes."""
        self.conn.settimeout(timeout)
        data = b""
        while True:
            chunk = self.conn.recv(1 << 16)
            if not chunk:
                return data
            data += chunk

    def close(self):
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Ctx:
    pass


def put(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def error_run(ctx, args, mention, timeout=60):
    r = common.run([ctx.gapd] + args, timeout, cwd=ctx.w)
    return common.one_error_line(r, mention, INFO_PREFIXES)


def serve(ctx, name, args, template=None):
    """Starts gapd serve on a fresh UNIX address; returns (process, peer, log path)."""
    peer = Peer(os.path.join(ctx.w, "ipi_" + name))
    log = os.path.join(ctx.w, name + ".log")
    p = common.start_process([ctx.gapd, "serve", "-u", "-a", name, "-S", os.path.join(ctx.w, "ipi_"),
                              "-m", ctx.native, "-t", template or ctx.template, "--threads", "1"] + args, log)
    ctx.procs.append(p)
    peer.accept()
    return p, peer, log


def finish(p, peer, log, want_code, mention, timeout=30):
    code = common.wait_process(p, timeout, "gapd serve")
    peer.close()
    text = open(log, errors="replace").read()
    if code != want_code:
        raise TestFailure("exit %d, expected %d; log: %s" % (code, want_code, text.strip()[-500:]))
    for m in mention:
        if m not in text:
            raise TestFailure("log does not mention %r: %s" % (m, text.strip()[-500:]))
    return text


def data_loss_checks(ctx):
    w = ctx.w
    os.makedirs(os.path.join(w, "dir", "sub"))
    labelled = put(os.path.join(w, "dir", "IN.extxyz"), open(ctx.structures, "rb").read())
    original = open(labelled, "rb").read()
    os.symlink(labelled, os.path.join(w, "link.extxyz"))
    os.link(labelled, os.path.join(w, "hard.extxyz"))
    spellings = {"same path": labelled, "../dir/./IN": os.path.join(w, "dir", "sub", "..", ".", "IN.extxyz"),
                 "symbolic link": os.path.join(w, "link.extxyz"), "hard link": os.path.join(w, "hard.extxyz")}

    def unchanged():
        if open(labelled, "rb").read() != original:
            raise TestFailure("the input was modified")

    for what, out in spellings.items():
        def fn(out=out):
            line = error_run(ctx, ["predict", "-m", ctx.native, "--threads", "1", "-o", out, labelled],
                             ["refusing to write over the input file"])
            unchanged()
            return line[:120]
        check("predict -o IN (%s)" % what, fn)

    def other_commands():
        error_run(ctx, ["eval", "-m", ctx.native, labelled, "-o", os.path.join(w, "hard.extxyz"), "--threads", "1"],
                  ["refusing to write over the input file"])
        error_run(ctx, ["select", labelled, "-m", ctx.native, "-n", "1", "-o", os.path.join(w, "link.extxyz")],
                  ["refusing to write over the input file"])
        model_copy = put(os.path.join(w, "model_copy.gapd"), open(ctx.native, "rb").read())
        before = open(model_copy, "rb").read()
        error_run(ctx, ["convert", "-m", model_copy, "-o", os.path.join(w, ".", "model_copy.gapd")],
                  ["refusing to write over the input file"])
        if open(model_copy, "rb").read() != before:
            raise TestFailure("convert modified its input")
        unchanged()
        return "eval -o, select -o, convert refused"
    check("eval / select / convert onto an input", other_commands)

    def modes():
        out = put(os.path.join(w, "private.extxyz"), "old\n")
        os.chmod(out, 0o600)
        r = common.run([ctx.gapd, "predict", "-m", ctx.native, "--threads", "1", "-o", out, ctx.structures], 120)
        if r.returncode != 0:
            raise TestFailure("predict failed: %s" % r.stderr)
        mode = stat.S_IMODE(os.stat(out).st_mode)
        if mode != 0o600:
            raise TestFailure("mode %o after replacing a 0600 file" % mode)
        ro = put(os.path.join(w, "readonly.extxyz"), "old\n")
        os.chmod(ro, 0o444)
        line = error_run(ctx, ["predict", "-m", ctx.native, "--threads", "1", "-o", ro, ctx.structures],
                         ["readonly.extxyz", "read-only (mode 0444)"], timeout=120)
        if open(ro).read() != "old\n" or stat.S_IMODE(os.stat(ro).st_mode) != 0o444:
            raise TestFailure("the read-only file was replaced")
        return "0600 kept; " + line[:80]
    check("replaced output keeps its mode; 0444 refused", modes)


def dense_cell_checks(ctx):
    for edge_bohr in (0.1, 1.0):
        def fn(edge_bohr=edge_bohr):
            a = edge_bohr * BOHR_2018
            symbols, positions, _ = build_supercell(2)
            positions = [[x * a / 8.0 for x in r] for r in positions]
            cell = [[a, 0, 0], [0, a, 0], [0, 0, a]]
            path = put(os.path.join(ctx.w, "dense_%g.extxyz" % edge_bohr), extxyz_text(symbols, positions, cell))
            t0 = time.time()
            line = error_run(ctx, ["predict", "-m", ctx.native, "--threads", "1", "-o",
                                   os.path.join(ctx.w, "dense_out.extxyz"), path],
                             ["far too dense", "40 atoms in a cell with edges", "--max-pairs"])
            return "%.1f s: %s" % (time.time() - t0, line[:100])
        check("predict: cubic cell of %g Bohr" % edge_bohr, fn)

    def on_socket():
        p, peer, log = serve(ctx, "dense%d" % os.getpid(), [])
        peer.handshake()
        a = 0.1 * BOHR_2018
        peer.conn.sendall(posdata([[a, 0, 0], [0, a, 0], [0, 0, a]],
                                  [[a * k / 10, a * k / 20, a * k / 30] for k in range(5)]) + header("GETFORCE"))
        finish(p, peer, log, 1, ["far too dense", "5 atoms in a cell with edges"])
        return "one error line, exit 1"
    check("serve: cubic cell of 0.1 Bohr from i-PI", on_socket)


def reply_checks(ctx):
    # 20,480 atoms: a 492 KB reply, more than the UNIX socket buffers hold (i-PI's side receives little).
    symbols, positions, cell = build_supercell(16, displacement=0.05, seed=5)
    big = put(os.path.join(ctx.w, "big.extxyz"), extxyz_text(symbols, positions, cell))

    def double_sigterm_mid_reply():
        p, peer, log = serve(ctx, "reply%d" % os.getpid(), [], template=big)
        peer.conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.handshake()
        peer.conn.sendall(posdata(cell, positions) + header("GETFORCE"))
        peer.conn.settimeout(120)
        first = peer.conn.recv(12, socket.MSG_PEEK)  # the reply has begun (and cannot fit the buffers)
        if not first:
            raise TestFailure("gapd closed instead of replying")
        p.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # gapd's write loop sees both signals before i-PI reads on
        peer.conn.settimeout(30)
        natoms, _ = peer.read_forceready()
        rest = peer.bytes_until_eof()
        if natoms != len(symbols) or rest:
            raise TestFailure("reply for %d atoms, then %d more bytes" % (natoms, len(rest)))
        finish(p, peer, log, 0, ["stop requested"])
        return "whole reply (%d atoms), orderly close, exit 0" % natoms
    check("two SIGTERMs while a large reply is sent", double_sigterm_mid_reply)

    def double_sigterm_mid_compute():
        # --radial exact on 625 atoms: ~12 s of computing on one idle core (2,560 atoms took ~50 s, which under
        # CI's load came past the 60 s the checks below wait), so the signals land inside it.
        symbols8, positions8, cell8 = build_supercell(5, displacement=0.05, seed=6)
        tmpl = put(os.path.join(ctx.w, "mid.extxyz"), extxyz_text(symbols8, positions8, cell8))
        p, peer, log = serve(ctx, "compute%d" % os.getpid(), ["--radial", "exact"], template=tmpl)
        peer.handshake()
        peer.conn.sendall(posdata(cell8, positions8) + header("GETFORCE"))
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        rest = peer.bytes_until_eof(60)
        if rest:
            raise TestFailure("gapd sent %d bytes of a reply it was told to drop" % len(rest))
        finish(p, peer, log, 1, ["was not sent"], timeout=60)
        return "not a byte sent, exit 1"
    check("two SIGTERMs during the computation", double_sigterm_mid_compute)


def non_regular_checks(ctx):
    fifo = os.path.join(ctx.w, "model.fifo")
    os.mkfifo(fifo)
    tail = ["-u", "-a", "nr%d" % os.getpid(), "-S", os.path.join(ctx.w, "ipi_"), "--connect-timeout", "0"]
    for what, args, mention in (
            ("serve --model FIFO", ["serve", "-m", fifo, "-t", ctx.template] + tail,
             [fifo, "is a FIFO (named pipe)"]),
            ("serve --model directory", ["serve", "-m", ctx.w, "-t", ctx.template] + tail,
             [ctx.w, "is a directory"]),
            ("serve --template FIFO", ["serve", "-m", ctx.native, "-t", fifo] + tail,
             [fifo, "template structure file", "FIFO"]),
            ("predict FIFO", ["predict", "-m", ctx.native, "-o", os.path.join(ctx.w, "o.extxyz"), fifo],
             [fifo, "FIFO"]),
            ("convert FIFO", ["convert", "-m", fifo, "-o", os.path.join(ctx.w, "o.gapd")], [fifo, "FIFO"])):
        check(what, lambda args=args, mention=mention: error_run(ctx, args, mention, timeout=20)[:110])


def long_line_checks(ctx):
    garbage = "\x01garbage\xff" * 2_000_000  # 18 MB on one line
    cases = (("template", ["serve", "-m", ctx.native, "-t", "%s", "-u", "-a", "ll", "-S",
                           os.path.join(ctx.w, "ipi_"), "--connect-timeout", "0"], "line 1"),
             ("extxyz", ["predict", "-m", ctx.native, "-o", os.path.join(ctx.w, "o.extxyz"), "%s"], "line 1"))
    for what, args, where in cases:
        def fn(what=what, args=args, where=where):
            path = put(os.path.join(ctx.w, "long_%s.xyz" % what), b"1\x01" + garbage.encode("latin-1") + b"\n")
            r = common.run([ctx.gapd] + [a % path if a == "%s" else a for a in args], 60, cwd=ctx.w)
            out = r.stderr + r.stdout
            if len(out) > 2000:
                raise TestFailure("%d bytes of output" % len(out))
            line = common.one_error_line(r, [path, where, "bytes"], INFO_PREFIXES)
            if "\x01" in line:
                raise TestFailure("raw control bytes in the error line")
            return "%d-byte error: %s" % (len(line), line[-90:])
        check("18 MB garbage line in a %s" % what, fn)


def stalled_peer_checks(ctx):
    def truncated():
        p, peer, log = serve(ctx, "stall%d" % os.getpid(), ["--message-timeout", "1"])
        peer.handshake()
        msg = posdata([[8, 0, 0], [0, 8, 0], [0, 0, 8]], [[k, k, k] for k in range(5)])
        peer.conn.sendall(msg[:len(msg) // 2])
        finish(p, peer, log, 1, ["sent nothing more of the POSDATA message for 1 s (--message-timeout)"])
        return "exit 1 after the timeout"
    check("POSDATA stops half-way (--message-timeout 1)", truncated)

    def one_sigterm():
        p, peer, log = serve(ctx, "stall1%d" % os.getpid(), [])
        peer.handshake()
        msg = posdata([[8, 0, 0], [0, 8, 0], [0, 0, 8]], [[k, k, k] for k in range(5)])
        peer.conn.sendall(msg[:len(msg) // 2])
        time.sleep(0.5)  # gapd has begun reading it (a signal while still idle is a plain stop, exit 0)
        p.send_signal(signal.SIGTERM)
        finish(p, peer, log, 1, ["stop requested while waiting for the POSDATA message", "abandoned"])
        return "one SIGTERM: exit 1"
    check("POSDATA stops half-way, one SIGTERM", one_sigterm)


def message_checks(ctx):
    def exit_in_posdata():
        p, peer, log = serve(ctx, "sync%d" % os.getpid(), [])
        peer.handshake()
        msg = bytearray(posdata([[8, 0, 0], [0, 8, 0], [0, 0, 8]], [[k, k, k] for k in range(5)]))
        at = 12 + 144 + 4 + 8 * 4  # atom 1, y
        msg[at:at + 8] = b"    EXIT"  # 1e98 as a double
        peer.conn.sendall(bytes(msg) + header("GETFORCE"))
        text = finish(p, peer, log, 1, ["absurd position (atom 1, y)", "out of sync"])
        if "overlap" in text:
            raise TestFailure("still reported as overlapping atoms")
        return "named as an out-of-sync stream"
    check("'EXIT' inside POSDATA", exit_in_posdata)

    def second_init():
        p, peer, log = serve(ctx, "init%d" % os.getpid(), [])
        peer.handshake()
        peer.conn.sendall(header("INIT") + struct.pack("<ii", 0, 12) + b"batch_size:2")
        finish(p, peer, log, 1, ["INIT on a connection already initialised", "out of sync"])
        return "refused"
    check("unsolicited second INIT", second_init)

    def float32_template():
        # Plain xyz with an extra column: the template reader takes the species, the extxyz reader refuses.
        lines = open(ctx.template).read().splitlines()
        tmpl = put(os.path.join(ctx.w, "extra_column.xyz"),
                   "\n".join(lines[:2] + [l + " 1.0" for l in lines[2:7]]) + "\n")
        p, peer, log = serve(ctx, "f32%d" % os.getpid(), ["--precision", "float32"], template=tmpl)
        peer.conn.sendall(header("EXIT"))
        text = finish(p, peer, log, 0, ["not readable as extxyz", "expected 4 columns"])
        if "not an extxyz with a Lattice" in text:
            raise TestFailure("the misleading message is still there")
        return "says why"
    check("float32 template the extxyz reader rejects", float32_template)


def far_atom_checks(ctx):
    lines = open(ctx.template).read().splitlines()[:7]
    words = lines[3].split()
    words[1] = repr(float(words[1]) + 4.0e14)  # 1e14 cells of 4 Å along x
    lines[3] = " ".join(words)
    path = put(os.path.join(ctx.w, "far.extxyz"), "\n".join(lines) + "\n")
    check("atom 1e14 cells away", lambda: error_run(
        ctx, ["predict", "-m", ctx.native, "--threads", "1", "-o", os.path.join(ctx.w, "far_out.extxyz"), path],
        ["atom 1 is", "cells away along lattice vector 0", "wrap the positions"])[:120])


def run_checks(ctx, w):
    ctx.w = w
    ctx.procs = []
    data = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal")
    ctx.structures = os.path.join(data, "structures.extxyz")
    ctx.native = os.path.join(w, "model.gapd")
    r = common.run([ctx.gapd, "convert", "-m", os.path.join(data, "model_small_zeta2_exact.json"), "-o", ctx.native], 60)
    if r.returncode != 0:
        raise TestFailure("convert failed: %s" % r.stderr)
    ctx.template = put(os.path.join(w, "template.extxyz"), "\n".join(open(ctx.structures).read().splitlines()[:7]) + "\n")
    try:
        print("1. outputs that are inputs, file modes:")
        data_loss_checks(ctx)
        print("2. cells far too dense:")
        dense_cell_checks(ctx)
        print("3. signals during a reply:")
        reply_checks(ctx)
        print("4. non-regular files:")
        non_regular_checks(ctx)
        print("5. oversized lines:")
        long_line_checks(ctx)
        print("6. stalled peer:")
        stalled_peer_checks(ctx)
        print("8. messages:")
        message_checks(ctx)
        print("9. atoms far from their cell:")
        far_atom_checks(ctx)
    finally:
        for p in ctx.procs:
            common.kill_process(p)
    return check.verdict()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--timeout", type=float, default=240)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    ctx = Ctx()
    ctx.gapd = os.path.abspath(args.gapd)
    return common.run_test("test_hostile_input", args.timeout, lambda workdir: run_checks(ctx, workdir),
                           workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
