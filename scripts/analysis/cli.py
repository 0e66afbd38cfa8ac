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


# Figures (every plotting tool of the repository): legible on a slide (labels and ticks >= 11 pt), 150 dpi.
FONT_SIZE = 12
MIN_FONT_SIZE = 11
DPI = 150
RC_PARAMS = {"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
             "xtick.labelsize": MIN_FONT_SIZE, "ytick.labelsize": MIN_FONT_SIZE, "legend.fontsize": MIN_FONT_SIZE,
             "figure.titlesize": FONT_SIZE + 1, "savefig.dpi": DPI}


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed) with the shared RC_PARAMS applied."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update(RC_PARAMS)
    return plt


def legible(fig):
    """Raise every text of `fig` (labels, ticks, legends, titles) smaller than MIN_FONT_SIZE to it."""
    import matplotlib.text
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_text() and t.get_fontsize() < MIN_FONT_SIZE:
            t.set_fontsize(MIN_FONT_SIZE)


def colorbar(fig, ax, mappable, label):
    """Labelled colorbar for a 2-D map (hist2d: pass its 4th return value; imshow/pcolormesh: the image)."""
    cb = fig.colorbar(mappable, ax=ax)
    cb.set_label(label)
    return cb


def describe(temperature_K=None, atoms=None, model=None, frames=None, extra=None):
    """Title fragment naming what a figure shows, e.g. '320 atoms, <T> = 101 K, 5000 frames, model m.gapd';
    parts that are None are left out."""
    import numpy as np
    parts = []
    if atoms is not None:
        parts.append("%d atoms" % atoms)
    if temperature_K is not None:
        t = np.asarray(temperature_K, dtype=float)
        parts.append("T = %.0f K" % t.ravel()[0] if t.size == 1 or np.ptp(t) == 0 else "<T> = %.0f K" % t.mean())
    if frames is not None:
        parts.append("%d frames" % frames)
    if model:
        parts.append("model %s" % os.path.basename(model))
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def savefig(fig, path):
    """Write a matplotlib figure as PNG (DPI, texts raised to MIN_FONT_SIZE, nothing clipped), creating the
    directory."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    legible(fig)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
