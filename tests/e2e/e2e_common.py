"""Helpers shared by gapd's end-to-end tests (tests/e2e/test_*.py).

Everything here is bounded in time: child processes are started in their own process group and killed
(SIGTERM, then SIGKILL) by `kill_process`; `Watchdog` turns a global deadline into an exception in the main
thread. Only numpy is needed (Debian's /usr/bin/python3).
"""

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "scripts"))

# gapd's unit constants (models/core/units.hpp, CODATA 2018). gapd multiplies wire values by these on
# the way in and divides by them on the way out.
BOHR_2018 = 0.529177210903  # Å
HARTREE_2018 = 27.211386245988  # eV
HARTREE_PER_BOHR_2018 = HARTREE_2018 / BOHR_2018  # eV/Å, computed once as in units.hpp

SKIP = 77  # CTest SKIP_RETURN_CODE


class TestFailure(Exception):
    pass


class Watchdog:
    """Raises TimeoutError in the main thread after `seconds` (SIGALRM), so a hang fails the test."""

    def __init__(self, seconds, what="test"):
        self.seconds = int(seconds)
        self.what = what

    def _fire(self, signum, frame):
        raise TimeoutError("%s did not finish within %d s (watchdog)" % (self.what, self.seconds))

    def __enter__(self):
        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old)
        return False


def start_process(args, log_path, cwd=None, env=None):
    """Starts args with stdout+stderr to log_path, in a new session (own process group)."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True)
    finally:
        log.close()


def kill_process(proc, grace=5.0):
    """Ends proc (and its process group) if still running: SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_process(proc, timeout, what):
    """Waits for proc to exit; raises TestFailure (after killing it) if it does not within timeout."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process(proc)
        raise TestFailure("%s did not exit within %g s (killed)" % (what, timeout))


def run(args, timeout, cwd=None, env=None):
    """Runs a command to completion with a timeout; returns CompletedProcess (text, stdout/stderr captured)."""
    try:
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                              cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TestFailure("timed out after %g s: %s" % (timeout, " ".join(map(str, args))))


def run_cli(args, check=True):
    """Runs a command to completion (text output captured) for scripts without a run_test frame; with check, a
    non-zero exit ends the script with "FAIL <command>" and the command's output."""
    p = subprocess.run(args, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)}\n{p.stdout}\n{p.stderr}")
    return p


def run_test(name, timeout, body, workdir=None, keep=False):
    """The frame of every end-to-end script: runs body(workdir) under a Watchdog of `timeout` s in `workdir` (a
    new temporary directory gapd_<name>_* unless given). body returns a summary line (printed after "PASS <name>")
    or raises; any exception is a failure, printed with its traceback. A temporary directory is removed after a
    pass (unless keep), kept after a failure. Returns the exit code: 0 pass, 1 fail."""
    own = workdir is None
    workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="gapd_%s_" % name))
    os.makedirs(workdir, exist_ok=True)
    ok = False
    try:
        with Watchdog(timeout, name):
            summary = body(workdir)
        ok = True
        print("PASS %s%s" % (name, ": " + summary if summary else ""))
        return 0
    except Exception as e:  # noqa: BLE001 - any error is a failure, reported with its traceback
        traceback.print_exc()
        print("FAIL %s: %s (files kept in %s)" % (name, e, workdir))
        return 1
    finally:
        if ok and own and not keep:
            shutil.rmtree(workdir, ignore_errors=True)


class Checks:
    """Named checks that do not stop at the first failure: checks(name, fn) runs fn (returns a detail text or
    raises TestFailure), prints an "ok"/"FAIL" line and records the outcome; verdict() at the end."""

    def __init__(self):
        self.results = []  # (name, passed, detail)

    def __call__(self, name, fn):
        try:
            detail = fn()
        except TestFailure as e:
            self.fail(name, str(e))
            return
        self.results.append((name, True, detail or ""))
        print("  ok   %-46s %s" % (name, detail or ""), flush=True)

    def fail(self, name, detail):
        self.results.append((name, False, detail))
        print("  FAIL %-46s %s" % (name, detail), flush=True)

    def that(self, ok, name, detail=""):
        """The boolean form: records `name` as passed if ok, else as failed."""
        if ok:
            self.results.append((name, True, detail))
            print("  ok   %-46s %s" % (name, detail), flush=True)
        else:
            self.fail(name, detail)

    def exit_with_verdict(self, test_name):
        """For scripts without a run_test frame: prints PASS/FAIL with the verdict and exits 0/1."""
        try:
            print("PASS %s: %s" % (test_name, self.verdict()))
        except TestFailure as e:
            print("FAIL %s: %s" % (test_name, e))
            sys.exit(1)
        sys.exit(0)

    def verdict(self):
        """A summary line if every check passed, else TestFailure naming the failed ones."""
        failed = [r[0] for r in self.results if not r[1]]
        if failed:
            raise TestFailure("%d of %d checks failed: %s" % (len(failed), len(self.results), ", ".join(failed)))
        return "%d checks" % len(self.results)


# What a crashed or sanitizer-stopped gapd leaves in its output.
CRASH_MARKERS = ("terminate called", "what():", "Aborted", "Segmentation fault", "core dumped", "AddressSanitizer",
                 "runtime error:", "std::bad_alloc", "Traceback")


def one_error_line(r, must_mention, info_prefixes, ignore_case=False):
    """gapd's contract for bad input, on a finished run r (text output): a non-zero exit that is no signal, no
    crash text, and exactly one line besides those starting with info_prefixes, mentioning every string of
    must_mention. Returns that line; raises TestFailure otherwise."""
    out = r.stderr + r.stdout
    if r.returncode == 0:
        raise TestFailure("exit 0, expected an error; output: %s" % out.strip()[:300])
    if r.returncode < 0 or r.returncode >= 128:
        raise TestFailure("killed by a signal / crashed (exit %d): %s" % (r.returncode, out.strip()[:300]))
    for marker in CRASH_MARKERS:
        if marker in out:
            raise TestFailure("crash text %r in the output: %s" % (marker, out.strip()[:500]))
    lines = [l for l in out.splitlines() if l.strip() and not l.startswith(info_prefixes)]
    if len(lines) != 1:
        raise TestFailure("expected one error line, got %d: %r" % (len(lines), lines[:5]))
    fold = (lambda t: t.lower()) if ignore_case else (lambda t: t)
    for m in must_mention:
        if fold(m) not in fold(lines[0]):
            raise TestFailure("error line does not mention %r: %r" % (m, lines[0]))
    return lines[0]


def predict_frames(gapd, workdir, tag, frames, args):
    """`gapd predict --threads 1 ARGS` on frames (dicts for write_extxyz), through workdir/<tag>_in.extxyz and
    <tag>_out.extxyz; returns read_extxyz of the output, raises TestFailure if gapd fails."""
    inp = os.path.join(workdir, "%s_in.extxyz" % tag)
    out = os.path.join(workdir, "%s_out.extxyz" % tag)
    write_extxyz(inp, frames)
    r = run([gapd, "predict", "--threads", "1", "-o", out, inp] + list(args), timeout=120)
    if r.returncode != 0:
        raise TestFailure("gapd predict %s failed (exit %d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return read_extxyz(out)


def check_close(a, b, what, rel=1e-12):
    """max |a - b| / max |b| <= rel (same shapes), else TestFailure naming `what`; returns that relative error."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise TestFailure("%s: shape %s, expected %s" % (what, a.shape, b.shape))
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    if not err <= rel:
        raise TestFailure("%s: relative difference %.3g > %g\n got %s\nwant %s" % (what, err, rel, a.ravel()[:6],
                                                                                   b.ravel()[:6]))
    return err


def free_tcp_port():
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=30):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log at %s)\n" % path


# ---------------------------------------------------------------------------------------------------------
# Minimal extxyz reader/writer (full precision, no ASE needed).

def write_extxyz(path, frames):
    """frames: list of dicts with symbols, positions (n x 3, Å), cell (3 x 3, rows = lattice vectors, Å)."""
    with open(path, "w") as f:
        for fr in frames:
            cell = np.asarray(fr["cell"], float)
            pos = np.asarray(fr["positions"], float)
            f.write("%d\n" % len(fr["symbols"]))
            f.write('Lattice="%s" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                    % " ".join("%.17g" % x for x in cell.ravel()))
            for s, r in zip(fr["symbols"], pos):
                f.write("%s %.17g %.17g %.17g\n" % (s, r[0], r[1], r[2]))


def read_extxyz(path):
    """Returns a list of frames: dict(symbols, info (str values), arrays (name -> np.ndarray), cell)."""
    frames = []
    with open(path) as f:
        lines = f.read().splitlines()
    k = 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        n = int(lines[k])
        info = {}
        for token in shlex.split(lines[k + 1]):
            key, _, value = token.partition("=")
            info[key] = value
        props = info.get("Properties", "species:S:1:pos:R:3").split(":")
        columns = []
        for p in range(0, len(props), 3):
            columns.append((props[p], props[p + 1], int(props[p + 2])))
        rows = [lines[k + 2 + i].split() for i in range(n)]
        arrays = {}
        col = 0
        for name, kind, width in columns:
            values = [r[col:col + width] for r in rows]
            if kind == "R":
                arrays[name] = np.array(values, float).reshape(n, width)
            else:
                arrays[name] = [v[0] if width == 1 else v for v in values]
            col += width
        frame = {"symbols": arrays.get("species"), "info": info, "arrays": arrays}
        if "Lattice" in info:
            frame["cell"] = np.array(info["Lattice"].split(), float).reshape(3, 3)
        frames.append(frame)
        k += n + 2
    return frames


def info_floats(frame, key):
    return np.array(frame["info"][key].split(), float)


# ---------------------------------------------------------------------------------------------------------
# i-PI: the committed ipi_inputs/*/run.sh, i-PI's output files.

SMALL_MODEL = os.path.join(SOURCE_DIR, "tests", "data", "librascal", "model_small_zeta2_exact.json")


def ipi_root_or_none():
    """$IPI_ROOT if it is an i-PI checkout (has bin/i-pi), else None (the caller skips)."""
    root = os.environ.get("IPI_ROOT", "")
    if root and os.path.isfile(os.path.join(root, "bin", "i-pi")):
        return os.path.abspath(root)
    return None


def ipi_available():
    """True if the ipi_inputs/*/run.sh scripts can find i-PI: $IPI_ROOT (a checkout), or else an `i-pi` on PATH."""
    if os.environ.get("IPI_ROOT"):
        return ipi_root_or_none() is not None
    return shutil.which("i-pi") is not None


def ipi_input_test_main(name, description, body, steps, timeout=500):
    """main() of a test that runs an ipi_inputs/ input with a real i-PI: options --gapd, --timeout, --steps,
    --keep; skips (exit 77) without i-PI (IPI_ROOT or an i-pi on PATH); then run_test(name, ...) on
    body(args, gapd, workdir)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=timeout)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--keep", action="store_true", help="keep the run directory after a pass")
    a = p.parse_args()
    if not ipi_available():
        print("SKIP: set IPI_ROOT to an i-PI checkout (v3.3.0), or put i-pi on PATH, to run this test")
        return SKIP
    gapd = os.path.abspath(a.gapd)
    return run_test(name, a.timeout, lambda workdir: body(a, gapd, workdir), keep=a.keep)


def run_ipi_input(name, gapd, run_dir, timeout, args=(), env=None, check=True):
    """Runs ipi_inputs/NAME/run.sh ARGS with GAPD=gapd, RUN_DIR=run_dir, a private ADDRESS_SUFFIX and one gapd
    thread, plus `env`. Returns (exit code, stdout+stderr). check: raise TestFailure unless the exit code is 0."""
    full_env = dict(os.environ, GAPD=gapd, RUN_DIR=run_dir, GAPD_THREADS="1",
                    ADDRESS_SUFFIX="-e2e-%s-%d" % (name, os.getpid()))
    full_env.update(env or {})
    script = os.path.join(SOURCE_DIR, "ipi_inputs", name, "run.sh")
    try:
        r = subprocess.run(["bash", script] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s/run.sh did not finish within %g s" % (name, timeout))
    if check and r.returncode != 0:
        logs = ""
        if os.path.isdir(run_dir):
            logs = "".join("--- %s\n%s" % (f, tail(os.path.join(run_dir, f)))
                           for f in sorted(os.listdir(run_dir)) if f.endswith(".log"))
        raise TestFailure("%s/run.sh exited %d\n%s\n%s" % (name, r.returncode, r.stdout, logs))
    return r.returncode, r.stdout


def read_ipi_properties(path):
    """i-PI properties file -> (dict name -> (first column, width), rows as an array)."""
    columns = {}
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                parts = line[1:].split("-->")
                if len(parts) < 2:
                    continue
                head, name = parts[0].split(), parts[1].split(":")[0].strip()
                if head[0] == "column":
                    columns[name] = (int(head[1]) - 1, 1)
                elif head[0].startswith("cols"):
                    a, b = head[1].split("-")
                    columns[name] = (int(a) - 1, int(b) - int(a) + 1)
            elif line.strip():
                rows.append([float(x) for x in line.split()])
    return columns, np.array(rows)


def read_complete_ipi_properties(path, steps, label):
    """read_ipi_properties, checked: one row per step 0..steps and every number finite; TestFailure naming
    `label` otherwise."""
    columns, rows = read_ipi_properties(path)
    step = ipi_column(columns, rows, "step")
    if step.tolist() != list(range(steps + 1)):
        raise TestFailure("%s: properties file has steps %s, expected 0..%d" % (label, step.tolist(), steps))
    if not np.all(np.isfinite(rows)):
        raise TestFailure("%s: non-finite numbers in %s" % (label, os.path.basename(path)))
    return columns, rows


def ipi_column(columns, rows, name):
    if name not in columns:
        raise TestFailure("i-PI's properties file has no column %r (has %s)" % (name, sorted(columns)))
    c, w = columns[name]
    return rows[:, c] if w == 1 else rows[:, c:c + w]


def read_ipi_checkpoint_frame(path, symbols):
    """The structure of system 0 in an i-PI checkpoint (RESTART): positions q and cell h (Bohr, lattice vectors
    as columns) converted with gapd's Bohr, as gapd received them (to the checkpoint's float format)."""
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    system = root.find("system")
    if system is None:
        raise TestFailure("%s: no <system>" % path)

    def array(elem, what):
        if elem is None:
            raise TestFailure("%s: no %s" % (path, what))
        return np.array([float(x) for x in elem.text.replace("[", " ").replace("]", " ").replace(",", " ").split()])

    q = array(system.find("beads/q"), "<beads><q>").reshape(-1, 3)
    h = array(system.find("cell"), "<cell>").reshape(3, 3)
    if len(q) != len(symbols):
        raise TestFailure("%s: %d atoms, expected %d" % (path, len(q), len(symbols)))
    return {"symbols": symbols, "positions": q * BOHR_2018, "cell": h.T * BOHR_2018}


def gapd_predict_energy(gapd, model, frame, workdir, tag="frame"):
    """gapd predict's energy (eV) of one frame (dict symbols/positions/cell in Å)."""
    return float(predict_frames(gapd, workdir, tag, [frame], ["-m", model])[0]["info"]["energy"])


def template_symbols(path):
    """Element symbols of an i-PI xyz file, in order."""
    with open(path) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    return [line.split()[0] for line in lines[2:n + 2]]


def gapd_request_count(log_path):
    """Requests one `gapd serve -v` answered, from its log's 'EXIT from i-PI after N requests' line(s), summed
    over reconnections; None if the log has no such line."""
    total, found = 0, False
    with open(log_path, errors="replace") as f:
        for line in f:
            if "EXIT from i-PI after" in line:
                total += int(line.split("after")[1].split()[0])
                found = True
    return total if found else None
