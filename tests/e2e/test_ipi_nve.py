#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): ipi_inputs/nve (BaTiO3, 320 atoms, NVE from thermal
velocities) run through its run.sh for a few steps with the small test model, then analysed with
ipi_inputs/nve/conservation.py.

Checks: i-PI and gapd exit 0 with every step in the properties file; the time step is the input's 1 fs, and
2 fs with TIMESTEP=2 (run.sh's override); the initial temperature follows the input's 300 K, and
TEMPERATURE=600 (the override of the thermal velocities); the dynamics is NVE: conserved - kinetic - potential
is the same at every step (no thermostat energy, only the centre-of-mass kinetic energy i-PI removes at step 0);
the conserved energy moves much less than the potential energy it exchanges with the kinetic energy (below
2 % of the potential's range); conservation.py runs on the file and reports a finite drift and fluctuation.

Without IPI_ROOT: prints a skip message and exits 77.
"""

import os
import re
import subprocess
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

CONSERVATION = os.path.join(common.SOURCE_DIR, "ipi_inputs", "nve", "conservation.py")
N_ATOMS = 320  # ipi_inputs/nve/init.xyz


def run_nve(gapd, workdir, name, steps, timeout, env):
    run_dir = os.path.join(workdir, name)
    _, out = common.run_ipi_input("nve", gapd, run_dir, timeout, args=[common.SMALL_MODEL],
                                  env=dict(env, STEPS=str(steps)))
    print(out.rstrip())
    columns, rows = common.read_complete_ipi_properties(os.path.join(run_dir, "nve.out"), steps, name)
    return run_dir, {k: common.ipi_column(columns, rows, k) for k in
                     ("time{picosecond}", "conserved{electronvolt}", "temperature{kelvin}",
                      "kinetic_md{electronvolt}", "potential{electronvolt}")}


def check_run(name, cols, dt_fs, temperature):
    dt = np.diff(cols["time{picosecond}"]) * 1e3
    if not np.allclose(dt, dt_fs, rtol=1e-9):
        raise TestFailure("%s: time step %s fs, expected %g" % (name, dt[:3], dt_fs))
    t0 = cols["temperature{kelvin}"][0]
    # thermal velocities for 320 atoms: relative spread sqrt(2/960) = 5 %; 25 % is far outside it
    if not abs(t0 - temperature) < 0.25 * temperature:
        raise TestFailure("%s: initial temperature %.1f K, expected about %g K" % (name, t0, temperature))
    cons, pot = cols["conserved{electronvolt}"], cols["potential{electronvolt}"]
    rest = cons - cols["kinetic_md{electronvolt}"] - pot
    print("%s: dt %g fs, T(0) %.1f K; conserved - kinetic - potential: %.6g eV, spread %.2e eV; max |dE_cons| "
          "%.3e eV, potential range %.3e eV" % (name, dt_fs, t0, rest[0], np.ptp(rest), np.max(np.abs(cons - cons[0])),
                                                 np.ptp(pot)))
    if not np.ptp(rest) <= 1e-6:
        raise TestFailure("%s: conserved - kinetic - potential varies by %.3e eV: not NVE" % (name, np.ptp(rest)))
    if not np.max(np.abs(cons - cons[0])) < 0.02 * np.ptp(pot):
        raise TestFailure("%s: conserved energy moves by %.3e eV, potential range only %.3e eV"
                          % (name, np.max(np.abs(cons - cons[0])), np.ptp(pot)))


def body(a, gapd, workdir):
    run_dir, cols = run_nve(gapd, workdir, "nve_1fs", a.steps, a.timeout * 0.4, {})
    check_run("default input", cols, 1.0, 300.0)
    _, cols2 = run_nve(gapd, workdir, "nve_2fs", a.steps // 2, a.timeout * 0.4,
                       {"TIMESTEP": "2", "TEMPERATURE": "600"})
    check_run("TIMESTEP=2 TEMPERATURE=600", cols2, 2.0, 600.0)

    r = subprocess.run([sys.executable, CONSERVATION, os.path.join(run_dir, "nve.out"), "--atoms",
                        str(N_ATOMS)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    print(r.stdout.rstrip())
    if r.returncode != 0:
        raise TestFailure("conservation.py exited %d" % r.returncode)
    m = re.search(r"drift\s+=\s+(\S+) meV/atom/ps", r.stdout)
    f = re.search(r"fluctuation\s+=\s+(\S+) meV/atom", r.stdout)
    if not (m and f and np.isfinite(float(m.group(1))) and float(f.group(1)) > 0):
        raise TestFailure("conservation.py: no finite drift / positive fluctuation in its output")
    bad = subprocess.run([sys.executable, CONSERVATION, os.path.join(run_dir, "ipi.log"), "--atoms", "320"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    if bad.returncode != 1 or len(bad.stdout.strip().splitlines()) != 1:
        raise TestFailure("conservation.py on a non-properties file: exit %d, output %r (expected one "
                          "line, exit 1)" % (bad.returncode, bad.stdout))


def main():
    return common.ipi_input_test_main("test_ipi_nve", __doc__.split("\n")[0], body, steps=20, timeout=400)


if __name__ == "__main__":
    sys.exit(main())
