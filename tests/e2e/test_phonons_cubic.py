#!/usr/bin/python3
"""End-to-end: examples/phonons_cubic.py (cubic BaTiO3 phonons with phonopy and the gapd ASE calculator) with a 2x2x2
supercell and --cp2k WORKDIR --no-run (no CP2K needed).

Checks: with an empty WORKDIR it runs, prints the model's lattice constant and the Gamma frequencies, writes the
figure and no CP2K input; a WORKDIR whose gamma_disp00/cp2k.inp is another cell's input (another model's lattice
constant) is refused by name instead of its forces being used for this cell.

Skips (77) without phonopy (Debian python3-phonopy) or without gapd's Python module (PYTHONPATH=build/python).
"""
import importlib.util
import os
import sys

import e2e_common as common
from e2e_common import TestFailure

SCRIPT = os.path.join(common.SOURCE_DIR, "examples", "phonons_cubic.py")


def body(workdir):
    work, figure = os.path.join(workdir, "cp2k"), os.path.join(workdir, "phonons.png")
    cmd = [sys.executable, SCRIPT, "--supercell", "2", "--cp2k", work, "--no-run", "--figure", figure,
           "--table", os.path.join(workdir, "gamma.md")]
    r = common.run(cmd, timeout=300)
    if r.returncode != 0 or "model lattice constant a = " not in r.stdout or "G (2x2x2 supercell)" not in r.stdout:
        raise TestFailure(f"phonons_cubic.py with an empty --cp2k WORKDIR: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    if not os.path.getsize(figure) or any(os.path.exists(os.path.join(work, d, "cp2k.inp")) for d in os.listdir(work)):
        raise TestFailure("no figure, or a CP2K input written with --no-run")
    stale = os.path.join(work, "gamma_disp00")
    os.makedirs(stale, exist_ok=True)
    with open(os.path.join(stale, "cp2k.inp"), "w") as f:
        f.write("&GLOBAL\n  PROJECT another_cell\n&END GLOBAL\n")
    with open(os.path.join(stale, "cp2k.out"), "w") as f:
        f.write("not this cell's forces\n")
    r = common.run(cmd, timeout=300)
    if r.returncode == 0 or "gamma_disp00/cp2k.inp is not this cell's input" not in r.stderr:
        raise TestFailure(f"a WORKDIR of another cell was not refused: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return "empty WORKDIR runs; another cell's WORKDIR refused"


def main():
    for module, why in (("phonopy", "phonopy is not installed (apt-get install python3-phonopy)"),
                        ("gapd", "gapd's Python module is not on PYTHONPATH (build/python)")):
        if importlib.util.find_spec(module) is None:
            print(f"SKIP test_phonons_cubic: {why}")
            return common.SKIP
    return common.run_test("test_phonons_cubic", 600, body)


if __name__ == "__main__":
    sys.exit(main())
