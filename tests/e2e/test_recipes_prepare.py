#!/usr/bin/python3
"""The logic of ipi_inputs/common.sh and every ipi_inputs/*/run.sh, without i-PI: DRY_RUN=1 prepares RUN_DIR
(input.xml, init.xyz) and prints the i-PI and gapd commands instead of starting them.

Checks:
  1. dipole/driven take their dipoles from the force model's own dipole section by default (the default model
     has one), DIPOLE_MODEL still wins, and a force model without a dipole section stops with a clear error;
  2. TEMPERATURE is refused (exit 2, one line saying why) for the REMD input's temperature ladder, and still
     applied to a single-temperature input;
  3. i-PI is found from IPI_ROOT (which wins) or else from an `i-pi` on PATH (a stand-in script here, also
     started for real by run.sh), and a missing i-PI is a two-line error naming both;
  4. INIT_XYZ works for every run.sh: RUN_DIR/init.xyz (i-PI's file and gapd's --template) has the given
     structure's atoms; an extxyz is converted to an i-PI xyz in i-PI's orientation; the NST barostat's h0 is
     the structure's cell (CELL(abcABC), CELL{H}, Bohr units, extxyz); bad structures are refused without
     touching an earlier run;
  5. the recipes that do not use dipoles run gapd with --extras none; the dipole recipes do not.
Needs numpy and gapd (--gapd; only for the DRY_RUN's existence check and one template check).
"""

import argparse
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
INPUTS = os.path.join(SOURCE_DIR, "ipi_inputs")
DEFAULT_MODEL = os.path.join(SOURCE_DIR, "data", "models", "batio3_default.gapd")
SYNTHETIC_DIPOLE = os.path.join(SOURCE_DIR, "tests", "data", "dipole", "synthetic_dipole.gapd")
LIBRASCAL_MODEL = os.path.join(SOURCE_DIR, "tests", "data", "librascal", "model_small_zeta2_exact.json")
RECIPES = ["nvt", "nve", "nst", "remd", "mts", "metad", "dipole", "driven"]
NO_DIPOLE_RECIPES = ["nvt", "nve", "nst", "remd", "mts", "metad"]
BOHR_IPI = 1.8897261  # i-PI 3.3.0's Bohr per Å


class Failure(Exception):
    pass


def path_without_ipi():
    """PATH with every directory that holds an `i-pi` removed (so the tests control where i-PI comes from)."""
    dirs = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(":")
            if d and not os.path.exists(os.path.join(d, "i-pi"))]
    return ":".join(dirs)


class Runner:
    def __init__(self, gapd, workdir):
        self.gapd = gapd
        self.workdir = workdir
        self.count = 0

    def run(self, recipe, args=(), env=None, dry=True, run_dir=None):
        """Runs ipi_inputs/RECIPE/run.sh; returns (exit code, stdout, stderr, run_dir)."""
        self.count += 1
        run_dir = run_dir or os.path.join(self.workdir, "%s_%d" % (recipe, self.count))
        full = {k: v for k, v in os.environ.items()
                if k not in ("IPI_ROOT", "INIT_XYZ", "DIPOLE_MODEL", "GAPD_MODEL", "TEMPERATURE", "STEPS",
                             "TIMESTEP", "CHEAP_MODEL", "EXTRAS", "GAPD_EXTRA_ARGS", "DRY_RUN")}
        full.update(GAPD=self.gapd, RUN_DIR=run_dir, PATH=path_without_ipi(),
                    ADDRESS_SUFFIX="-prep-%d-%d" % (os.getpid(), self.count))
        if dry:
            full["DRY_RUN"] = "1"
        full.update(env or {})
        r = subprocess.run(["bash", os.path.join(INPUTS, recipe, "run.sh")] + list(args), env=full,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr, run_dir

    def ok(self, recipe, args=(), env=None, **kw):
        rc, out, err, run_dir = self.run(recipe, args, env, **kw)
        if rc != 0:
            raise Failure("%s/run.sh exited %d\n%s%s" % (recipe, rc, out, err))
        return out, run_dir

    def refused(self, recipe, args=(), env=None, expect=(), **kw):
        rc, out, err, run_dir = self.run(recipe, args, env, **kw)
        if rc != 2:
            raise Failure("%s/run.sh: expected exit 2, got %d\n%s%s" % (recipe, rc, out, err))
        for text in expect:
            if text not in err:
                raise Failure("%s/run.sh: %r not in its error output:\n%s" % (recipe, text, err))
        return err


def gapd_commands(out):
    """{client label: argument list} from the DRY_RUN listing."""
    cmds = {}
    for line in out.splitlines():
        if line.startswith("  gapd"):
            label, cmd = line.strip().split(": ", 1)
            cmds[label] = cmd.split()
    return cmds


def ipi_command(out):
    for line in out.splitlines():
        if line.startswith("  i-PI: "):
            return line[len("  i-PI: "):].split()
    raise Failure("no i-PI command in\n" + out)


def option(cmd, name):
    values = [cmd[k + 1] for k, a in enumerate(cmd[:-1]) if a == name]
    return values[-1] if values else None


def natoms(path):
    with open(path) as f:
        return int(f.readline())


def read_h0(input_xml):
    import re
    text = open(input_xml).read()
    m = re.search(r"<h0 units='([^']*)'>\s*\[([^\]]*)\]\s*</h0>", text)
    if not m:
        raise Failure("no <h0> in %s" % input_xml)
    return m.group(1), np.array([float(x) for x in m.group(2).split(",")]).reshape(3, 3)


def abc2h(a, b, c, alpha, beta, gamma):
    """i-PI's mathtools.abc2h, angles in degrees (independent of ipi_inputs/init_structure.py)."""
    al, be, ga = (math.radians(x) for x in (alpha, beta, gamma))
    h = np.zeros((3, 3))
    h[0, 0] = a
    h[0, 1] = b * math.cos(ga)
    h[0, 2] = c * math.cos(be)
    h[1, 1] = b * math.sin(ga)
    h[1, 2] = (b * c * math.cos(al) - h[0, 1] * h[0, 2]) / h[1, 1]
    h[2, 2] = math.sqrt(c ** 2 - h[0, 2] ** 2 - h[1, 2] ** 2)
    return h


def atoms_of(path, skip=2):
    lines = open(path).read().splitlines()
    n = int(lines[0])
    rows = [l.split() for l in lines[skip:skip + n]]
    return [r[0] for r in rows], np.array([[float(x) for x in r[1:4]] for r in rows])


def write_xyz(path, comment, symbols, positions):
    with open(path, "w") as f:
        f.write("%d\n%s\n" % (len(symbols), comment))
        for s, p in zip(symbols, positions):
            f.write("%s %.10f %.10f %.10f\n" % (s, p[0], p[1], p[2]))


# --- 1. dipole models --------------------------------------------------------------------------------------

def check_dipole_defaults(r):
    out, _ = r.ok("dipole")
    cmd = gapd_commands(out)["gapd"]
    if option(cmd, "--model") != DEFAULT_MODEL or "--dipole-model" in cmd:
        raise Failure("dipole: expected the default model's own dipole section, got %s" % cmd)
    if "synthetic" in out:
        raise Failure("dipole: output still mentions a synthetic model:\n" + out)
    out, _ = r.ok("driven")
    cmds = gapd_commands(out)
    if option(cmds["gapd dipoles"], "--dipole-model") != DEFAULT_MODEL:
        raise Failure("driven: dipole client should use the default model's dipole section: %s" % cmds)
    for recipe in ("dipole", "driven"):
        out, _ = r.ok(recipe, env={"DIPOLE_MODEL": SYNTHETIC_DIPOLE})
        if SYNTHETIC_DIPOLE not in " ".join(" ".join(c) for c in gapd_commands(out).values()):
            raise Failure("%s: DIPOLE_MODEL not used: %s" % (recipe, out))
        r.refused(recipe, [LIBRASCAL_MODEL], expect=["has no dipole section", "DIPOLE_MODEL"])
        out, _ = r.ok(recipe, [LIBRASCAL_MODEL], env={"DIPOLE_MODEL": SYNTHETIC_DIPOLE})
    print("1. dipole/driven: default model's dipole section by default, DIPOLE_MODEL wins, a model without "
          "dipoles is refused")


# --- 2. temperature ladder ---------------------------------------------------------------------------------

def check_temperature(r):
    _, earlier = r.ok("remd")
    before = open(os.path.join(earlier, "input.xml")).read()
    err = r.refused("remd", env={"TEMPERATURE": "300"}, run_dir=earlier,
                    expect=["TEMPERATURE=300 refused", "temperature ladder", "250, 265, 280, 295 K", "<instance>"])
    lines = [l for l in err.splitlines() if l.strip() and "DRY_RUN" not in l]
    if len(lines) != 1:
        raise Failure("remd TEMPERATURE refusal: expected one line, got %r" % lines)
    if open(os.path.join(earlier, "input.xml")).read() != before:
        raise Failure("remd: the refused TEMPERATURE changed the earlier run's input.xml")
    _, run_dir = r.ok("nvt", env={"TEMPERATURE": "412"})
    text = open(os.path.join(run_dir, "input.xml")).read()
    if "<temperature units='kelvin'> 412.0 </temperature>" not in text or "> 412.0 </velocities>" not in text:
        raise Failure("nvt: TEMPERATURE=412 not applied")
    print("2. TEMPERATURE refused for the REMD ladder (%s), applied to NVT" % lines[0][:60])


# --- 3. finding i-PI ---------------------------------------------------------------------------------------

def make_fake_ipi(directory):
    """An `i-pi` stand-in: records its working directory and arguments, then exits 0."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "i-pi")
    with open(path, "w") as f:
        f.write("#!/bin/sh\npwd > ipi_called.txt\necho \"$@\" >> ipi_called.txt\nexit 0\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_fake_gapd(directory):
    path = os.path.join(directory, "gapd")
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/gapd_called.txt\"\nexit 0\n")
    os.chmod(path, 0o755)
    return path


def check_find_ipi(r):
    bin_dir = os.path.join(r.workdir, "bin")
    fake = make_fake_ipi(bin_dir)
    path = bin_dir + ":" + path_without_ipi()
    out, _ = r.ok("nvt", env={"PATH": path})
    if ipi_command(out) != [fake, "input.xml"]:
        raise Failure("i-pi on PATH not used: %s" % ipi_command(out))
    checkout = os.path.join(r.workdir, "checkout")
    make_fake_ipi(os.path.join(checkout, "bin"))
    out, _ = r.ok("nvt", env={"PATH": path, "IPI_ROOT": checkout})
    cmd = ipi_command(out)
    if cmd[-2:] != [os.path.join(checkout, "bin", "i-pi"), "input.xml"] or "PYTHONPATH=%s" % checkout not in cmd:
        raise Failure("IPI_ROOT should win over PATH: %s" % cmd)
    r.refused("nvt", env={"IPI_ROOT": os.path.join(r.workdir, "nowhere")}, dry=False,
              expect=["is not an i-PI checkout"])
    err = r.refused("nvt", dry=False, expect=["i-PI not found", "IPI_ROOT", "i-pi on PATH"])
    # A real (not dry) run through the PATH: run.sh starts the stand-in i-pi in RUN_DIR, and a stand-in gapd.
    gapd_dir = os.path.join(r.workdir, "fakegapd")
    os.makedirs(gapd_dir)
    rc, out, err2, run_dir = r.run("nvt", env={"PATH": path, "GAPD": make_fake_gapd(gapd_dir)}, dry=False)
    called = os.path.join(run_dir, "ipi_called.txt")
    if rc != 0 or not os.path.exists(called):
        raise Failure("run.sh with i-pi on PATH: exit %d, i-pi called: %s\n%s%s" % (rc, os.path.exists(called), out, err2))
    lines = open(called).read().split("\n")
    if os.path.realpath(lines[0]) != os.path.realpath(run_dir) or lines[1].strip() != "input.xml":
        raise Failure("i-pi called as %r" % lines)
    print("3. i-PI from IPI_ROOT (wins) or the i-pi on PATH (started for real); missing: %s"
          % err.splitlines()[0][:70])


# --- 4. INIT_XYZ -------------------------------------------------------------------------------------------

def check_init_xyz(r):
    small = os.path.join(INPUTS, "dipole", "init.xyz")  # 40 atoms, 8 Å cube
    for recipe in RECIPES:
        out, run_dir = r.ok(recipe, env={"INIT_XYZ": small})
        if natoms(os.path.join(run_dir, "init.xyz")) != 40:
            raise Failure("%s: INIT_XYZ not used" % recipe)
        for label, cmd in gapd_commands(out).items():
            if option(cmd, "--template") != os.path.join(run_dir, "init.xyz"):
                raise Failure("%s %s: template is not RUN_DIR/init.xyz: %s" % (recipe, label, cmd))
        if recipe == "metad":
            text = open(os.path.join(run_dir, "plumed.dat")).read()
            if text.count("DISTANCE") != 8:  # one off-centring per Ti: 8 Ti in the 2x2x2 cell (64 in the default)
                raise Failure("metad: plumed.dat not written for the 40-atom structure")
    # nvt's default structure: the committed file, unchanged
    _, run_dir = r.ok("nvt")
    if open(os.path.join(run_dir, "init.xyz")).read() != open(os.path.join(INPUTS, "nvt", "init.xyz")).read():
        raise Failure("nvt: default init.xyz not copied unchanged")

    # h0 of the NST input from the structure's cell
    symbols, q = atoms_of(small)
    unit, h0 = read_h0(os.path.join(r.ok("nst")[1], "input.xml"))
    if unit != "angstrom" or not np.array_equal(h0, 16 * np.eye(3)):
        raise Failure("nst default h0: %s %s" % (unit, h0))
    abc = (8.1, 7.9, 8.3, 88.0, 91.5, 93.0)
    path = os.path.join(r.workdir, "tri.xyz")
    write_xyz(path, "# CELL(abcABC): %g %g %g %g %g %g cell{angstrom} positions{angstrom}" % abc, symbols, q)
    _, run_dir = r.ok("nst", env={"INIT_XYZ": path})
    unit, h0 = read_h0(os.path.join(run_dir, "input.xml"))
    if unit != "angstrom" or np.max(np.abs(h0 - abc2h(*abc))) > 1e-12:
        raise Failure("nst: h0 %s, expected %s" % (h0, abc2h(*abc)))
    if open(os.path.join(run_dir, "init.xyz")).read() != open(path).read():
        raise Failure("nst: an i-PI xyz should be copied unchanged")
    # CELL{H}, and a cell in Bohr (i-PI's default units): h0 converted to the input's Å with i-PI's factor
    h = np.array([[8.0, 0.3, -0.2], [0.0, 7.9, 0.1], [0.0, 0.0, 8.2]])
    path = os.path.join(r.workdir, "cellh.xyz")
    write_xyz(path, "# CELL{H}: %s cell{atomic_unit} positions{atomic_unit}" % " ".join("%g" % x for x in h.ravel()),
              symbols, q)
    unit, h0 = read_h0(os.path.join(r.ok("nst", env={"INIT_XYZ": path})[1], "input.xml"))
    if np.max(np.abs(h0 - h / BOHR_IPI)) > 1e-12:
        raise Failure("nst CELL{H} in Bohr: h0 %s, expected %s" % (h0, h / BOHR_IPI))
    # extxyz with a rotated, general cell: converted to i-PI's frame (a along x, b in xy), same fractional coords
    L = np.array([[8.1, 0.2, 0.1], [0.3, 7.9, -0.2], [0.1, 0.4, 8.3]])
    t = 0.4
    rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    L = L @ rot.T
    frac = np.linalg.solve(np.diag([8.0] * 3), q.T).T % 1.0
    pos = frac @ L
    path = os.path.join(r.workdir, "general.extxyz")
    lat = " ".join("%.10f" % x for x in L.ravel())
    write_xyz(path, 'Lattice="%s" Properties=species:S:1:pos:R:3 pbc="T T T"' % lat, symbols, pos)
    out, run_dir = r.ok("nst", env={"INIT_XYZ": path})
    unit, h0 = read_h0(os.path.join(run_dir, "input.xml"))
    if np.max(np.abs(h0.T @ h0 - L @ L.T)) > 1e-8 or abs(h0[1, 0]) + abs(h0[2, 0]) + abs(h0[2, 1]) != 0:
        raise Failure("extxyz: h0 %s is not the upper-triangular form of %s" % (h0, L))
    sym2, q2 = atoms_of(os.path.join(run_dir, "init.xyz"))
    if sym2 != symbols or np.max(np.abs(np.linalg.solve(h0, q2.T).T - frac)) > 1e-8:
        raise Failure("extxyz: converted positions do not keep the species and fractional coordinates")
    # the converted file is a valid gapd template (40 atoms): gapd starts, finds no i-PI, exits 2
    cmd = gapd_commands(out)["gapd"] + ["--connect-timeout", "0.2"]
    g = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    if g.returncode != 2 or "for 40 atoms" not in g.stdout:
        raise Failure("gapd on the converted template: exit %d\n%s" % (g.returncode, g.stdout))
    # refusals, and an earlier run is kept
    before = open(os.path.join(run_dir, "input.xml")).read()
    bad_h = os.path.join(r.workdir, "bad_h.xyz")
    write_xyz(bad_h, "# CELL{H}: 8 0 0 0.5 8 0 0 0 8 cell{angstrom} positions{angstrom}", symbols, q)
    no_cell = os.path.join(r.workdir, "no_cell.xyz")
    write_xyz(no_cell, "just a comment", symbols, q)
    short = os.path.join(r.workdir, "short.xyz")
    with open(short, "w") as f:
        f.write("40\n# CELL(abcABC): 8 8 8 90 90 90 cell{angstrom} positions{angstrom}\nBa 0 0 0\n")
    for bad, text in ((bad_h, "upper triangular"), (no_cell, "no '# CELL(abcABC)"), (short, "1 atom lines follow"),
                      (os.path.join(r.workdir, "missing.xyz"), "not found")):
        r.refused("nst", env={"INIT_XYZ": bad}, run_dir=run_dir, expect=[text])
    if open(os.path.join(run_dir, "input.xml")).read() != before:
        raise Failure("a refused INIT_XYZ changed the earlier run")
    print("4. INIT_XYZ for all %d recipes; h0 from CELL(abcABC), CELL{H} (Bohr), extxyz (converted, gapd reads "
          "it); bad structures refused" % len(RECIPES))


# --- 5. --extras none --------------------------------------------------------------------------------------

def check_extras(r):
    for recipe in NO_DIPOLE_RECIPES + ["driven"]:
        out, _ = r.ok(recipe)
        for label, cmd in gapd_commands(out).items():
            if label == "gapd dipoles":
                continue
            if option(cmd, "--extras") != "none":
                raise Failure("%s %s: expected --extras none: %s" % (recipe, label, " ".join(cmd)))
    out, _ = r.ok("dipole")
    if option(gapd_commands(out)["gapd"], "--extras") not in ("dipole,cell_dipoles", "dipole\\,cell_dipoles"):
        raise Failure("dipole: extras %s" % out)
    print("5. --extras none for %s and driven's force client" % ", ".join(NO_DIPOLE_RECIPES))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    workdir = tempfile.mkdtemp(prefix="gapd_recipes_")
    r = Runner(os.path.abspath(a.gapd), workdir)
    passed = failed = 0
    for check in (check_dipole_defaults, check_temperature, check_find_ipi, check_init_xyz, check_extras):
        try:
            check(r)
            passed += 1
        except Failure as e:
            failed += 1
            print("FAIL %s: %s" % (check.__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    if failed == 0 and not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print("work directory kept: %s" % workdir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
