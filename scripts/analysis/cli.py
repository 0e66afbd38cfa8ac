"""Command-line plumbing shared by the analysis tools: one-line errors and a non-zero exit for bad input."""

import argparse
import os
import sys


class AnalysisError(Exception):
    """Bad input: the message names the file and field; the tool prints it on one line and exits 1."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line ('tool: error: ...', exit 2) instead of usage + error."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see --help)\n" % (self.prog, message))


def make_parser(doc):
    """Parser whose --help shows the module docstring `doc` verbatim."""
    return OneLineParser(prog=os.path.basename(sys.argv[0]), description=doc,
                         formatter_class=argparse.RawDescriptionHelpFormatter)


def run(main):
    """Call main(); AnalysisError, OSError (missing/unreadable file) and a binary input become one line, exit 1."""
    prog = os.path.basename(sys.argv[0])
    try:
        main()
    except AnalysisError as e:
        sys.stderr.write("%s: error: %s\n" % (prog, " ".join(str(e).split())))
        sys.exit(1)
    except OSError as e:
        sys.stderr.write("%s: error: %s: %s\n" % (prog, e.filename or "", e.strerror or e))
        sys.exit(1)
    except UnicodeDecodeError:
        sys.stderr.write("%s: error: an input file is not text (binary file given?)\n" % prog)
        sys.exit(1)


def positive(value, what):
    """`value` (scalar or array) must be finite and > 0; `what` names the file and field for the message."""
    import numpy as np
    v = np.asarray(value, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        bad = v[~(np.isfinite(v) & (v > 0))] if v.size else v
        raise AnalysisError("%s must be positive and finite (found %s)"
                            % (what, bad.ravel()[0] if bad.size else "no value"))
    return value


def savefig(fig, path):
    """Write a matplotlib figure as PNG, creating the directory."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fig.savefig(path, dpi=120)
