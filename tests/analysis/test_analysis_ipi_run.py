#!/usr/bin/python3
"""End to end with a real i-PI ($IPI_ROOT, v3.3.0) and gapd: ipi_inputs/dipole (40-atom BaTiO3 NVT, SYNTHETIC
models), with the input copied and changed in a temporary directory only (total_steps, socket address; the
input itself saves volume and cell_h in the properties and the cell_dipoles extras next to the dipole, which
this test checks). Then every analysis tool runs
on the files i-PI wrote, and:
  - the sum of the Ti-centred cell dipoles equals the total dipole in every frame (two i-PI trajectories,
    docs/dipoles.md: sum_Ti d_Ti = M);
  - the eps tensor with the volume from i-PI's properties (Bohr^3) equals the one with the volume from init.xyz
    (Å^3) to i-PI's 8-digit unit table (relative 1e-7).
Without IPI_ROOT: prints a skip message and exits 77.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import traceback

import numpy as np

import analysis_common as common

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "tests", "e2e"))
import e2e_common  # noqa: E402  (process helpers shared with the other end-to-end tests)
import ipi_files  # noqa: E402


def make_input(src_dir, run_dir, steps, address):
    xml = open(os.path.join(src_dir, "input.xml")).read()
    edits = [
        ("<total_steps> 50 </total_steps>", "<total_steps> %d </total_steps>" % steps),
        ("<address> gapd-dipole </address>", "<address> %s </address>" % address),
        # ipi_inputs/dipole/input.xml itself saves volume, cell_h and the cell_dipoles extras (checked here).
        ("potential{electronvolt}, volume, cell_h ]", "potential{electronvolt}, volume, cell_h ]"),
        ("<trajectory filename='cell_dipoles' stride='1' extra_type='cell_dipoles'> extras </trajectory>",
         "<trajectory filename='cell_dipoles' stride='1' extra_type='cell_dipoles'> extras </trajectory>"),
    ]
    for old, new in edits:
        if old not in xml:
            raise e2e_common.TestFailure("ipi_inputs/dipole/input.xml no longer contains %r: update this test" % old)
        xml = xml.replace(old, new)
    open(os.path.join(run_dir, "input.xml"), "w").write(xml)
    shutil.copy(os.path.join(src_dir, "init.xyz"), run_dir)


def run_md(gapd, run_dir, timeout):
    address = "gapd-ana-%d" % os.getpid()
    make_input(os.path.join(common.SOURCE_DIR, "ipi_inputs", "dipole"), run_dir, 60, address)
    sock = "/tmp/ipi_" + address
    if os.path.exists(sock):
        os.remove(sock)
    ipi_root = os.environ["IPI_ROOT"]
    env = dict(os.environ, PYTHONPATH=ipi_root)
    ipi = e2e_common.start_process([sys.executable, os.path.join(ipi_root, "bin", "i-pi"), "input.xml"],
                                   os.path.join(run_dir, "ipi.log"), cwd=run_dir, env=env)
    gp = None
    try:
        data = os.path.join(common.SOURCE_DIR, "tests", "data")
        gp = e2e_common.start_process(
            [gapd, "serve", "-u", "-a", address, "-m", os.path.join(data, "librascal", "model_small_zeta2_exact.json"),
             "--dipole-model", os.path.join(data, "dipole", "synthetic_dipole.gapd"), "--extras", "dipole,cell_dipoles",
             "-t", os.path.join(run_dir, "init.xyz"), "--threads", "1", "--no-reconnect"],
            os.path.join(run_dir, "gapd.log"))
        rc_ipi = e2e_common.wait_process(ipi, timeout, "i-PI")
        rc_gapd = e2e_common.wait_process(gp, 60, "gapd")
        if rc_ipi != 0 or rc_gapd != 0:
            raise e2e_common.TestFailure("i-PI exit %d, gapd exit %d\n%s%s" % (
                rc_ipi, rc_gapd, e2e_common.tail(os.path.join(run_dir, "ipi.log")),
                e2e_common.tail(os.path.join(run_dir, "gapd.log"))))
    finally:
        e2e_common.kill_process(gp)
        e2e_common.kill_process(ipi)
        if os.path.exists(sock):
            os.remove(sock)


def check(run_dir):
    f = lambda name: os.path.join(run_dir, name)
    steps, M, _ = ipi_files.read_extras(f("dipole.dipole_0"), "dipole")
    steps_cd, cd, _ = ipi_files.read_extras(f("dipole.cell_dipoles_0"), "cell_dipoles")
    assert np.array_equal(steps, steps_cd) and cd.shape == (len(steps), 8, 3), cd.shape
    err = np.max(np.abs(cd.sum(axis=1) - M)) / np.max(np.abs(M))
    assert err < 1e-12, "sum of cell dipoles != dipole: %g" % err
    print("sum of 8 cell dipoles = total dipole in %d frames (max relative difference %.2g)" % (len(steps), err))
    eps = []
    for extra in (["--properties", f("dipole.out")], ["--properties", f("dipole.out"), "--cell-from", f("init.xyz")]):
        js = f("eps%d.json" % len(eps))
        rc, out, errtxt = common.tool("dielectric", "--dipoles", f("dipole.dipole_0"), "--skip", 10, "--blocks", 5,
                                      "--json", js, *extra)
        assert rc == 0, errtxt
        print(out)
        eps.append(json.load(open(js)))
    common.close(eps[0]["volume_A3"], 512.0, 1e-7, "volume from i-PI's properties (Bohr^3) in A^3")
    common.close(eps[0]["eps_r"], eps[1]["eps_r"], 1e-7, "eps_r, volume from properties vs init.xyz")
    assert eps[0]["frames"] == 51 and 50 < eps[0]["temperature_K"] < 1000
    base = ["--dipoles", f("dipole.dipole_0"), "--properties", f("dipole.out"), "--skip", 10]
    for name, args in (("susceptibility", base + ["--blocks", 5, "-o", f("chi.dat"), "--png", f("chi.png")]),
                       ("polarization", base + ["--png", f("P.png"), "--table", f("P.dat")]),
                       ("cell_dipoles", ["--cell-dipoles", f("dipole.cell_dipoles_0"), "--template", f("init.xyz"), "--skip", 10,
                                         "--png", f("cd.png"), "--table", f("cd.dat")])):
        rc, out, errtxt = common.tool(name, *args)
        assert rc == 0, (name, errtxt)
        print(out)
    chi = np.loadtxt(f("chi.dat"))
    common.close(chi[0, 2], eps[0]["eps_r"] - 1, 1e-6, "chi(0) = eps_r - 1")
    assert np.all(np.isfinite(chi[:, 5:])) and np.all(chi[:, 5:] >= 0) and chi[0, 5] > 0, "jackknife band of chi"
    for png in ("chi.png", "P.png", "cd.png"):
        assert os.path.getsize(f(png)) > 1000, png


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--timeout", type=float, default=400)
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    a = p.parse_args()
    if not os.environ.get("IPI_ROOT") or not os.path.isfile(os.path.join(os.environ["IPI_ROOT"], "bin", "i-pi")):
        print("SKIP: set IPI_ROOT to an i-PI checkout (v3.3.0) to run this test")
        return e2e_common.SKIP
    run_dir = tempfile.mkdtemp(prefix="gapd_analysis_ipi_")
    ok = False
    try:
        with e2e_common.Watchdog(a.timeout, "test_analysis_ipi_run"):
            run_md(a.gapd, run_dir, a.timeout / 2)
            check(run_dir)
        ok = True
        print("1 passed, 0 failed")
        return 0
    except Exception as e:
        traceback.print_exc()
        print("FAIL: %s (files in %s)" % (e, run_dir))
        print("0 passed, 1 failed")
        return 1
    finally:
        if ok and not a.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
