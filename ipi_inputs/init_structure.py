#!/usr/bin/env python3
"""Check a starting structure for ipi_inputs/*/run.sh and write it as the run's init.xyz (i-PI xyz).

    python3 ipi_inputs/init_structure.py SRC DST

SRC is either
  * an i-PI xyz file: line 2 holds `# CELL(abcABC): a b c alpha beta gamma`, `# CELL{H}: h11 h12 h13 h21 ...`
    (i-PI's upper-triangular h, row by row, columns = lattice vectors) or `# CELL{GENH}: ...` (any h, lattice
    vectors as rows), with `cell{UNIT}` and `positions{UNIT}` (i-PI's default without them: atomic units, Bohr);
    it is copied unchanged; or
  * an extended xyz file (ASE's extxyz: `Lattice="ax ay az bx by bz cx cy cz"`, positions in Å): it is written as
    an i-PI xyz in Å, rotated as i-PI itself would (a along x, b in the xy plane), so that the cell is i-PI's
    upper-triangular h. Species and atom order are kept.
DST becomes the run's init.xyz: i-PI's <file mode='xyz'> and gapd's --template.

Prints one JSON line: {"natoms": N, "h": [9 numbers, i-PI's upper-triangular h row by row], "cell_units": "angstrom"
or "atomic_unit", "converted": true if SRC was extxyz}. The cell is computed as i-PI's xyz reader computes it
(ipi/utils/io/backends/io_xyz.py, ipi/utils/mathtools.abc2h), so run.sh can set a barostat's reference cell h0
to the starting cell. Pure Python (no numpy, no ASE). Errors: one line on stderr, exit 1.
"""

import json
import math
import re
import shlex
import shutil
import sys

CELL_RE = {
    "abcABC": re.compile(r"CELL[\(\[\{]abcABC[\)\]\}]: ([-+0-9\.Ee ]*)"),
    "H": re.compile(r"CELL[\(\[\{]H[\)\]\}]: ([-+0-9\.?Ee ]*)"),
    "GENH": re.compile(r"CELL[\(\[\{]GENH[\)\]\}]: ([-+0-9\.?Ee ]*)"),
}
UNIT_RE = re.compile(r"cell\{([A-Za-z_]*)\}")
LENGTH_UNITS = ("atomic_unit", "angstrom")  # the length units run.sh converts between (i-PI's unit table)
DEG2RAD = math.pi / 180.0  # as i-PI's io_xyz


class Error(Exception):
    pass


def abc2h(a, b, c, alpha, beta, gamma):
    """i-PI's mathtools.abc2h (angles in radians): upper-triangular h, columns = lattice vectors."""
    h = [[0.0] * 3 for _ in range(3)]
    h[0][0] = a
    h[0][1] = b * math.cos(gamma)
    h[0][2] = c * math.cos(beta)
    h[1][1] = b * math.sin(gamma)
    h[1][2] = (b * c * math.cos(alpha) - h[0][1] * h[0][2]) / h[1][1]
    h[2][2] = math.sqrt(c ** 2 - h[0][2] ** 2 - h[1][2] ** 2)
    return h


def dot(u, v):
    return sum(x * y for x, y in zip(u, v))


def vectors_to_abc(rows):
    """Lattice vectors (rows) -> a, b, c, alpha, beta, gamma (radians), as i-PI's genh2abc."""
    a, b, c = (math.sqrt(dot(v, v)) for v in rows)
    if min(a, b, c) <= 0:
        raise Error("a lattice vector has zero length")
    gamma = math.acos(dot(rows[0], rows[1]) / (a * b))
    beta = math.acos(dot(rows[0], rows[2]) / (a * c))
    alpha = math.acos(dot(rows[2], rows[1]) / (b * c))
    return a, b, c, alpha, beta, gamma


def numbers(text, count, what):
    try:
        values = [float(x) for x in text.split()[:count]]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(x) for x in values):
        raise Error("%s: expected %d numbers, got %r" % (what, count, text.strip()))
    return values


def atom_lines(lines, path):
    try:
        n = int(lines[0].split()[0])
    except (IndexError, ValueError):
        raise Error("%s: line 1 must be the number of atoms" % path)
    if n <= 0:
        raise Error("%s: %d atoms" % (path, n))
    if len(lines) < n + 2:
        raise Error("%s: %d atoms announced on line 1, %d atom lines follow" % (path, n, max(len(lines) - 2, 0)))
    return n, lines[2:n + 2]


def read_ipi_xyz(path, lines):
    comment = lines[1]
    n, body = atom_lines(lines, path)
    for k, line in enumerate(body):
        parts = line.split()
        if len(parts) < 4 or not parts[0][:1].isalpha():
            raise Error("%s: atom line %d is not 'symbol x y z': %r" % (path, k + 1, line))
        numbers(" ".join(parts[1:4]), 3, "%s: atom line %d" % (path, k + 1))
    unit = UNIT_RE.search(comment)
    unit = unit.group(1) if unit else "atomic_unit"
    if unit in ("", "automatic"):
        unit = "atomic_unit"
    if unit not in LENGTH_UNITS:
        raise Error("%s: cell{%s}: run.sh handles cells in angstrom or atomic_unit; write cell{angstrom}" % (path, unit))
    m = CELL_RE["abcABC"].search(comment)
    if m:
        a, b, c, alpha, beta, gamma = numbers(m.group(1), 6, "%s: CELL(abcABC)" % path)
        h = abc2h(a, b, c, alpha * DEG2RAD, beta * DEG2RAD, gamma * DEG2RAD)
    elif CELL_RE["H"].search(comment):
        v = numbers(CELL_RE["H"].search(comment).group(1), 9, "%s: CELL{H}" % path)
        h = [v[0:3], v[3:6], v[6:9]]
        scale = max(abs(x) for x in v)
        if max(abs(h[1][0]), abs(h[2][0]), abs(h[2][1])) > 1e-10 * scale:
            raise Error("%s: CELL{H} must be upper triangular (i-PI's h, row by row: h21 = h31 = h32 = 0); "
                        "write a general cell as CELL{GENH} (lattice vectors as rows) or CELL(abcABC)" % path)
    elif CELL_RE["GENH"].search(comment):
        v = numbers(CELL_RE["GENH"].search(comment).group(1), 9, "%s: CELL{GENH}" % path)
        h = abc2h(*vectors_to_abc([v[0:3], v[3:6], v[6:9]]))
    else:
        raise Error("%s: line 2 has no '# CELL(abcABC): a b c alpha beta gamma' (nor CELL{H} / CELL{GENH}): "
                    "i-PI would put the atoms in a unit box; see docs/own_system.md" % path)
    if not (h[0][0] > 0 and h[1][1] > 0 and h[2][2] > 0):
        raise Error("%s: the cell has a non-positive diagonal %s (i-PI needs a right-handed upper-triangular h)"
                    % (path, [h[0][0], h[1][1], h[2][2]]))
    return n, h, unit


def extxyz_fields(comment):
    """key=value pairs of an extxyz comment line (values may be quoted)."""
    fields = {}
    for token in shlex.split(comment, posix=True):
        if "=" in token:
            key, value = token.split("=", 1)
            fields[key.strip().lower()] = value
    return fields


def read_extxyz(path, lines):
    n, body = atom_lines(lines, path)
    try:
        fields = extxyz_fields(lines[1])
    except ValueError as e:
        raise Error("%s: cannot parse the comment line as extxyz key=value pairs: %s" % (path, e))
    rows = numbers(fields["lattice"], 9, "%s: Lattice" % path)
    rows = [rows[0:3], rows[3:6], rows[6:9]]
    pbc = fields.get("pbc", "T T T").replace(",", " ").split()
    if any(p.upper() not in ("T", "TRUE", "1") for p in pbc):
        raise Error("%s: pbc=\"%s\": i-PI and gapd's server need a periodic cell in all three directions"
                    % (path, fields.get("pbc")))
    props = fields.get("properties", "species:S:1:pos:R:3").split(":")
    columns, col = {}, 0
    for k in range(0, len(props) - 2, 3):
        name, width = props[k], int(props[k + 2])
        columns[name] = col
        col += width
    if "species" not in columns or "pos" not in columns:
        raise Error("%s: Properties=%s has no species and pos" % (path, fields.get("properties")))
    symbols, positions = [], []
    for k, line in enumerate(body):
        parts = line.split()
        if len(parts) < col:
            raise Error("%s: atom line %d has %d columns, Properties needs %d" % (path, k + 1, len(parts), col))
        symbols.append(parts[columns["species"]])
        p = columns["pos"]
        positions.append(numbers(" ".join(parts[p:p + 3]), 3, "%s: atom line %d" % (path, k + 1)))
    a, b, c, alpha, beta, gamma = vectors_to_abc(rows)
    # i-PI's frame: fractional coordinates (rows: r = f . L) times the upper-triangular h (columns = vectors).
    det = (rows[0][0] * (rows[1][1] * rows[2][2] - rows[1][2] * rows[2][1])
           - rows[0][1] * (rows[1][0] * rows[2][2] - rows[1][2] * rows[2][0])
           + rows[0][2] * (rows[1][0] * rows[2][1] - rows[1][1] * rows[2][0]))
    if det <= 0:
        raise Error("%s: Lattice is left-handed or singular (determinant %g); i-PI needs a right-handed cell" % (path, det))
    inv = [[(rows[(j + 1) % 3][(i + 1) % 3] * rows[(j + 2) % 3][(i + 2) % 3]
             - rows[(j + 1) % 3][(i + 2) % 3] * rows[(j + 2) % 3][(i + 1) % 3]) / det for j in range(3)]
           for i in range(3)]  # inverse of the row matrix L
    text = "%.12f %.12f %.12f %.12f %.12f %.12f" % (a, b, c, alpha / DEG2RAD, beta / DEG2RAD, gamma / DEG2RAD)
    # h from the numbers as written, exactly as i-PI will compute it when it reads the file.
    h = abc2h(*(float(x) * (DEG2RAD if k >= 3 else 1.0) for k, x in enumerate(text.split())))
    out = ["%d" % n, "# CELL(abcABC): %s cell{angstrom} positions{angstrom} (converted from extxyz)" % text]
    for s, r in zip(symbols, positions):
        f = [sum(r[j] * inv[j][i] for j in range(3)) for i in range(3)]
        q = [sum(h[i][j] * f[j] for j in range(3)) for i in range(3)]
        out.append("%-3s %20.12f %20.12f %20.12f" % (s, q[0], q[1], q[2]))
    return n, h, "angstrom", "\n".join(out) + "\n"


def clean(h):
    """Rounding noise of abc2h (e.g. 16 cos 90deg = 1e-15) -> 0, so h0 of a cubic cell reads [16, 0, 0, ...]."""
    scale = max(abs(x) for row in h for x in row)
    return [0.0 if abs(x) < 1e-12 * scale else x for row in h for x in row]


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    try:
        try:
            with open(src) as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise Error("%s: cannot read: %s" % (src, e))
        if len(lines) < 2:
            raise Error("%s: not an xyz file (fewer than two lines)" % src)
        if re.search(r"(^|\s)Lattice\s*=", lines[1], re.IGNORECASE):
            n, h, unit, text = read_extxyz(src, lines)
            with open(dst, "w") as f:
                f.write(text)
            converted = True
        else:
            n, h, unit = read_ipi_xyz(src, lines)
            shutil.copyfile(src, dst)
            converted = False
    except Error as e:
        sys.stderr.write("run.sh: INIT_XYZ: %s\n" % e)
        return 1
    print(json.dumps({"natoms": n, "h": clean(h), "cell_units": unit, "converted": converted}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
