"""Readers for the i-PI 3.3.0 output files the analysis tools use (no i-PI import needed).

Formats, from i-PI 3.3.0's writers (ipi/engine/outputs.py):

* properties file (`<properties filename='out'> [ step, time{picosecond}, temperature{kelvin}, volume ] ...`),
  PropertyOutput.print_header / write: one header line per property,
      `# column   4     --> temperature{kelvin} : help text`       (one column)
      `# cols.    8-13  --> cell_h : help text`                     (several columns, 1-based, inclusive)
  then one row of whitespace-separated floats per output step. No `{unit}` = atomic units. cell_h is
  [xx, yy, zz, xy, xz, yz] of i-PI's upper-triangular cell matrix h (lattice vectors = columns); cell_abcABC is
  [a, b, c] in Bohr (always) and the angles in degrees. (The same header grammar as ipi/scripting/parsing.py's
  read_output.)
* extras trajectory (`<trajectory filename='dipole' extra_type='dipole'> extras </trajectory>`),
  TrajectoryOutput.print_traj: per frame a header ` #EXTRAS(dipole)# Step:  <step> ` followed by the array of
  that JSON key, one row per line (`dipole`: one line of 3 numbers; `cell_dipoles`: n_B lines of 3). The step
  is the same number as the properties' `step` column.
* i-PI xyz (`<file mode='xyz'>`, e.g. init.xyz): atom count, then a comment
  `# CELL(abcABC): a b c alpha beta gamma cell{angstrom} positions{angstrom}` (or `CELL(H):` with the 9 numbers
  of h row by row, lattice vectors = columns of h, as ipi/utils/io/backends/io_xyz.py reads it), then
  `symbol x y z` lines.
"""

import math
import re

import numpy as np

from cli import AnalysisError
import units

_HEADER = re.compile(r"#\s*(column|cols\.)\s+(\d+)(?:-(\d+))?\s*-->\s*([^\s\{\(:]+)(?:\{([^\}]+)\})?"
                     r"(?:\(([^\)]+)\))?(?:\{([^\}]+)\})?")
_EXTRAS = re.compile(r"^\s*#EXTRAS(?:_[A-Z_]+)?\(([^)]*)\)#\s*Step:\s*(\d+)")


def read_text_lines(path):
    """Lines of a text file; a binary file is an AnalysisError naming it."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except UnicodeDecodeError:
        raise AnalysisError("%s: not a text file" % path)


def _floats(text, path, lineno):
    try:
        return [float(x) for x in text.split()]
    except ValueError:
        raise AnalysisError("%s:%d: not a row of numbers: '%s'" % (path, lineno, text.strip()[:60]))


class Properties:
    """An i-PI properties file: `columns[name]` = (array (rows,) or (rows, k), unit string or None).

    `name` is the property as written in the header without its unit ('temperature', 'cell_h', 'step'); when a
    property appears twice with different units (volume and volume{angstrom3}) the first one is kept."""

    def __init__(self, path):
        self.path = path
        spec = []
        rows = []
        for lineno, line in enumerate(read_text_lines(path), 1):
            if line.lstrip().startswith("#"):
                m = _HEADER.match(line.strip())
                if m:
                    first = int(m.group(2))
                    last = int(m.group(3)) if m.group(3) else first
                    unit = m.group(7) or m.group(5)
                    spec.append((m.group(4), first, last, unit))
            elif line.strip():
                rows.append((lineno, _floats(line, path, lineno)))
        if not spec:
            raise AnalysisError("%s: no i-PI property header ('# column N --> name'): not an i-PI properties file"
                                % path)
        if not rows:
            raise AnalysisError("%s: no data rows" % path)
        ncol = max(last for _, _, last, _ in spec)
        for lineno, row in rows:
            if len(row) < ncol:
                raise AnalysisError("%s:%d: %d columns, the header declares %d (truncated row?)"
                                    % (path, lineno, len(row), ncol))
        data = np.array([row[:ncol] for _, row in rows])
        self.columns = {}
        for name, first, last, unit in spec:
            if name in self.columns:
                continue
            block = data[:, first - 1:last]
            self.columns[name] = (block[:, 0] if first == last else block, unit)

    def has(self, name):
        return name in self.columns

    def get(self, name):
        if name not in self.columns:
            raise AnalysisError("%s: no '%s' column (columns: %s)" % (self.path, name, ", ".join(self.columns)))
        return self.columns[name][0]

    def si(self, name, dimension):
        """Column `name` converted to SI (see units.to_si) with the unit from its header."""
        values, unit = self.get(name), self.columns[name][1]
        try:
            return values * units.to_si(dimension, unit)
        except ValueError as e:
            raise AnalysisError("%s: column '%s': %s" % (self.path, name, e))

    def volume_si(self):
        """Cell volume per row, m^3: from `volume`, else `cell_h`, else `cell_abcABC`; None if none is there."""
        if self.has("volume"):
            return self.si("volume", "volume")
        if self.has("cell_h"):
            h = self.si("cell_h", "length")      # xx, yy, zz, xy, xz, yz of an upper-triangular h
            return np.abs(h[:, 0] * h[:, 1] * h[:, 2])
        if self.has("cell_abcABC"):
            c = self.get("cell_abcABC")
            return np.array([abs(np.linalg.det(abc_to_cell(*r[:3] * units.BOHR, *r[3:]))) for r in c])
        return None


def read_extras(path, key=None):
    """i-PI extras trajectory -> (steps (n,), frames (n, ...) float array, key).

    Every frame must have the same shape; `key` (if given) must be the file's extra_type."""
    steps, frames, blocks = [], [], []
    found_key = None
    current = None
    for lineno, line in enumerate(read_text_lines(path), 1):
        m = _EXTRAS.match(line)
        if m:
            if found_key is None:
                found_key = m.group(1)
            elif m.group(1) != found_key:
                raise AnalysisError("%s:%d: extras key '%s' after '%s': one key per file"
                                    % (path, lineno, m.group(1), found_key))
            steps.append(int(m.group(2)))
            current = []
            blocks.append((lineno, current))
        elif line.strip():
            if current is None:
                raise AnalysisError("%s:%d: data before the first '#EXTRAS(...)# Step:' header: "
                                    "not an i-PI extras trajectory" % (path, lineno))
            current.append(_floats(line, path, lineno))
    if not blocks:
        raise AnalysisError("%s: no '#EXTRAS(key)# Step: N' frame: empty or not an i-PI extras trajectory" % path)
    if key is not None and found_key != key:
        raise AnalysisError("%s: holds extras '%s', expected '%s' (i-PI's extra_type)" % (path, found_key, key))
    shape = None
    for lineno, rows in blocks:
        lens = {len(r) for r in rows}
        if not rows or len(lens) != 1:
            raise AnalysisError("%s:%d: frame without numbers or with rows of different length" % (path, lineno))
        s = (len(rows), lens.pop())
        if shape is None:
            shape = s
        elif s != shape:
            raise AnalysisError("%s:%d: frame of %dx%d numbers, the first frame has %dx%d (truncated file?)"
                                % (path, lineno, s[0], s[1], shape[0], shape[1]))
        frames.append(rows)
    arr = np.array(frames, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise AnalysisError("%s: non-finite number in the extras" % path)
    if shape[0] == 1:
        arr = arr[:, 0, :]
    return np.array(steps), arr, found_key


def abc_to_cell(a, b, c, alpha, beta, gamma):
    """Cell lengths and angles (degrees) -> 3x3 matrix with the lattice vectors as ROWS (a along x, b in xy)."""
    ca, cb, cg = (math.cos(math.radians(x)) for x in (alpha, beta, gamma))
    sg = math.sin(math.radians(gamma))
    cx = c * cb
    cy = c * (ca - cb * cg) / sg
    cz = math.sqrt(max(c * c - cx * cx - cy * cy, 0.0))
    return np.array([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [cx, cy, cz]])


def read_ipi_xyz(path):
    """First frame of an i-PI xyz file -> (symbols, positions (N,3) m, cell (3,3) m, lattice vectors as rows)."""
    lines = read_text_lines(path)
    try:
        n = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise AnalysisError("%s:1: expected the atom count of an i-PI xyz file" % path)
    if len(lines) < n + 2:
        raise AnalysisError("%s: %d atom lines declared, %d present" % (path, n, max(len(lines) - 2, 0)))
    comment = lines[1]
    unit_of = dict(re.findall(r"(\w+)\{([^}]+)\}", comment))
    m = re.search(r"CELL\((abcABC|H)\):\s*([-+0-9.eE\s]+)", comment)
    if not m:
        raise AnalysisError("%s:2: no 'CELL(abcABC): ...' or 'CELL(H): ...' in the comment line" % path)
    nums = [float(x) for x in m.group(2).split()]
    try:
        lf = units.to_si("length", unit_of.get("cell"))
        pf = units.to_si("length", unit_of.get("positions"))
    except ValueError as e:
        raise AnalysisError("%s:2: %s" % (path, e))
    if m.group(1) == "abcABC":
        if len(nums) < 6:
            raise AnalysisError("%s:2: CELL(abcABC) needs 6 numbers" % path)
        cell = abc_to_cell(nums[0] * lf, nums[1] * lf, nums[2] * lf, *nums[3:6])
    else:
        if len(nums) < 9:
            raise AnalysisError("%s:2: CELL(H) needs 9 numbers" % path)
        cell = np.array(nums[:9]).reshape(3, 3).T * lf   # h has the lattice vectors as columns
    symbols, pos = [], []
    for k in range(n):
        parts = lines[2 + k].split()
        if len(parts) < 4:
            raise AnalysisError("%s:%d: expected 'symbol x y z'" % (path, 3 + k))
        symbols.append(parts[0])
        pos.append(_floats(" ".join(parts[1:4]), path, 3 + k))
    if abs(np.linalg.det(cell)) <= 0:
        raise AnalysisError("%s:2: cell volume is not positive" % path)
    return symbols, np.array(pos) * pf, cell
