"""Helpers for the tests of scripts/analysis (tests/analysis/test_*.py, run by ctest with label 'analysis').

Each test file lists functions named test_*; `main(globals())` runs them all, prints one line per test and
'N passed, N failed', and exits 1 if any failed. Only numpy/scipy/matplotlib (Debian's /usr/bin/python3).
"""

import os
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
TOOLS = os.path.join(SOURCE_DIR, "scripts", "analysis")
DATA = os.path.join(SOURCE_DIR, "tests", "data", "analysis")
sys.path.insert(0, TOOLS)


def tool(name, *args, cwd=None, timeout=300):
    """Run scripts/analysis/NAME.py with args; returns (returncode, stdout, stderr)."""
    r = subprocess.run([sys.executable, "-B", os.path.join(TOOLS, name + ".py")] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def expect_error(name, args, *words):
    """The tool must exit 1 with exactly one stderr line '<tool>.py: error: ...' containing every word."""
    rc, out, err = tool(name, *args)
    lines = err.strip().splitlines()
    assert rc == 1, "%s %s: exit %d, expected 1 (stderr %r)" % (name, args, rc, err)
    assert len(lines) == 1 and lines[0].startswith(name + ".py: error: "), "not one error line: %r" % err
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])
    return lines[0]


def close(a, b, rel, what):
    assert abs(a - b) <= rel * abs(b), "%s: %.12g vs expected %.12g (rel %.2g > %.2g)" % (
        what, a, b, abs(a - b) / abs(b) if b else float("inf"), rel)


def main(namespace):
    tests = sorted((k, v) for k, v in namespace.items() if k.startswith("test_") and callable(v))
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            print("PASS %s" % name)
            passed += 1
        except Exception:
            print("FAIL %s\n%s" % (name, traceback.format_exc()))
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
