#!/usr/bin/python3
"""End-to-end with a real i-PI: a short version of ipi_inputs/nvt/input.xml (40-atom BaTiO3 cell, small model,
20 steps) run by i-PI from $IPI_ROOT with one `gapd serve` over a UNIX socket.

Checks: i-PI completes (exit 0, all steps in its properties file), gapd exits 0 after i-PI's EXIT, and the
step-0 potential energy and virial that i-PI prints (atomic units, printed with 17 digits) equal
`gapd predict`'s on the initial structure as i-PI holds it.

Units: i-PI converts the Å in init.xyz with its own constant (1 Å = 1.8897261 Bohr, 8 digits), gapd converts
Bohr back with CODATA 2018 (0.529177210903 Å), so gapd sees the structure scaled by 1 - 1.3e-8. The expected
values are therefore computed on the structure read with i-PI's own reader (ipi.utils.io.read_file, exactly
what i-PI's initializer calls) and converted with gapd's constants: positions_Å = q_Bohr * 0.529177210903,
E_Ha = E_eV / 27.211386245988. i-PI's potential{electronvolt} uses 1 eV = 0.036749326 Ha (8 digits), so it
differs from gapd's eV by ~1e-7 relative; that column is printed for information only.

Without IPI_ROOT: prints a skip message and exits 77 (registered with SKIP_RETURN_CODE 77).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
from make_batio3_supercell import build_supercell, ipi_xyz_text

E_REL_TOL = 1e-9
VIR_REL_TOL = 1e-9
EXTRA_PROPERTIES = ["potential{atomic_unit}", "virial_md{atomic_unit}"]


def make_input(src, dst, address, steps):
    """The committed NVT input with: fewer steps, a private socket name, 17-digit floats, extra columns."""
    tree = ET.parse(src)
    root = tree.getroot()
    root.set("floatformat", "%.17e")
    root.find("total_steps").text = " %d " % steps
    ff = root.find("ffsocket")
    if ff is None or ff.get("mode") != "unix":
        raise TestFailure("%s: expected an <ffsocket mode='unix'>" % src)
    ff.find("address").text = " %s " % address
    props = root.find("output/properties")
    names = [p.strip() for p in props.text.strip().strip("[]").split(",") if p.strip()]
    props.text = " [ " + ", ".join(names + EXTRA_PROPERTIES) + " ] "
    init = root.find("system/initialize/file")
    if init is None or init.text.strip() != "init.xyz":
        raise TestFailure("%s: expected <file mode='xyz'> init.xyz </file>" % src)
    tree.write(dst)
    return props.get("filename", "out"), root.find("output").get("prefix", "simulation")


def expected_from_ipi_reader(ipi_root, gapd, model, workdir, init_path):
    sys.path.insert(0, ipi_root)
    try:
        from ipi.utils.io import read_file
    except ImportError as e:
        raise TestFailure("cannot import i-PI from IPI_ROOT=%s: %s" % (ipi_root, e))
    with open(init_path) as f:
        r = read_file("xyz", f)
    q = np.array(r["atoms"].q).reshape(-1, 3)  # Bohr
    h = np.array(r["cell"].h)  # Bohr, lattice vectors as columns
    names = list(r["atoms"].names)
    frame = {"symbols": names, "positions": q * common.BOHR_2018, "cell": h.T * common.BOHR_2018}
    fr = common.predict_frames(gapd, workdir, "initial_as_ipi_holds_it", [frame], ["-m", model])[0]
    energy_ev = float(fr["info"]["energy"])
    virial_ev = common.info_floats(fr, "virial").reshape(3, 3)
    volume_bohr3 = abs(np.linalg.det(h))
    vir_au = virial_ev / common.HARTREE_2018 / volume_bohr3
    # i-PI's virial_md: [xx, yy, zz, xy, xz, yz] of vir/V, from the upper triangle.
    vir6 = np.array([vir_au[0, 0], vir_au[1, 1], vir_au[2, 2], vir_au[0, 1], vir_au[0, 2], vir_au[1, 2]])
    return energy_ev, energy_ev / common.HARTREE_2018, vir6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True, help="gapd executable")
    parser.add_argument("--model", default=os.path.join(common.SOURCE_DIR, "tests", "data", "librascal",
                                                        "model_small_zeta2_exact.json"))
    parser.add_argument("--input", default=os.path.join(common.SOURCE_DIR, "ipi_inputs", "nvt", "input.xml"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2, help="supercell n (5 n^3 atoms; default 2 = 40 atoms)")
    parser.add_argument("--workdir", help="keep files here (default: a temporary directory, removed on success)")
    parser.add_argument("--timeout", type=float, default=300, help="global watchdog, seconds (default 300)")
    args = parser.parse_args()

    ipi_root = os.environ.get("IPI_ROOT", "")
    if not ipi_root:
        print("SKIP test_ipi_nvt: IPI_ROOT is not set. To run it: git clone --branch v3.3.0 "
              "https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi ctest -R e2e_ipi_nvt")
        return common.SKIP
    ipi_root = os.path.abspath(ipi_root)
    ipi_bin = os.path.join(ipi_root, "bin", "i-pi")
    if not os.path.isfile(ipi_bin):
        print("FAIL test_ipi_nvt: IPI_ROOT=%s has no bin/i-pi" % ipi_root)
        return 1

    gapd = os.path.abspath(args.gapd)
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="gapd_e2e_ipi_"))
    os.makedirs(workdir, exist_ok=True)
    address = "gapd-e2e-nvt-%d" % os.getpid()
    sock_path = "/tmp/ipi_" + address
    ipi_log, gapd_log = os.path.join(workdir, "ipi.log"), os.path.join(workdir, "gapd.log")
    ipi = served = None
    ok = False
    try:
        with common.Watchdog(args.timeout, "test_ipi_nvt"):
            symbols, pos, cell = build_supercell(args.repeat, 4.0, displacement=0.05, seed=2024)
            init_path = os.path.join(workdir, "init.xyz")
            with open(init_path, "w") as f:
                f.write(ipi_xyz_text(symbols, pos, cell))
            props_name, prefix = make_input(args.input, os.path.join(workdir, "input.xml"), address, args.steps)
            if os.path.exists(sock_path):
                os.unlink(sock_path)

            env = dict(os.environ)
            env["PYTHONPATH"] = ipi_root + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            t0 = time.time()
            ipi = common.start_process([sys.executable, ipi_bin, "input.xml"], ipi_log, cwd=workdir, env=env)
            served = common.start_process([gapd, "serve", "-u", "-a", address, "-m", args.model, "-t", init_path,
                                           "--threads", "1", "--connect-timeout", "60", "-v"], gapd_log)
            ipi_code = common.wait_process(ipi, args.timeout * 0.8, "i-PI")
            wall = time.time() - t0
            gapd_code = common.wait_process(served, 30, "gapd serve after i-PI finished")
            ipi_text = open(ipi_log, errors="replace").read()
            if ipi_code != 0 or "I-PI reports success" not in ipi_text:
                raise TestFailure("i-PI did not complete (exit %d)" % ipi_code)
            if gapd_code != 0:
                raise TestFailure("gapd serve exited with %d, expected 0 after i-PI's EXIT" % gapd_code)
            if "i-PI sent EXIT" not in open(gapd_log, errors="replace").read():
                raise TestFailure("gapd's log does not show i-PI's EXIT")

            columns, rows = common.read_complete_ipi_properties(
                os.path.join(workdir, "%s.%s" % (prefix, props_name)), args.steps, "nvt")
            pot_au = common.ipi_column(columns, rows, "potential{atomic_unit}")[0]
            pot_ev_ipi = common.ipi_column(columns, rows, "potential{electronvolt}")[0]
            vir_ipi = common.ipi_column(columns, rows, "virial_md{atomic_unit}")[0]
            conserved = common.ipi_column(columns, rows, "conserved{electronvolt}")
            temperature = common.ipi_column(columns, rows, "temperature{kelvin}")

            e_ev, e_au, vir_exp = expected_from_ipi_reader(ipi_root, gapd, args.model, workdir, init_path)
            rel_e = abs(pot_au - e_au) / abs(e_au)
            rel_v = float(np.max(np.abs(vir_ipi - vir_exp)) / np.max(np.abs(vir_exp)))
            print("i-PI %s, %d atoms, %d steps in %.1f s wall (incl. start-up); gapd exit %d after EXIT"
                  % (ipi_root, len(symbols), args.steps, wall, gapd_code))
            print("step 0 potential: i-PI %.17g Ha, gapd predict %.17g Ha (%.17g eV): |d|/|E| = %.1e"
                  % (pot_au, e_au, e_ev, rel_e))
            print("step 0 virial/V (xx yy zz xy xz yz, Ha/Bohr^3): i-PI %s" % " ".join("%.10e" % x for x in vir_ipi))
            print("                                    gapd predict %s : max rel diff %.1e"
                  % (" ".join("%.10e" % x for x in vir_exp), rel_v))
            print("i-PI's potential{electronvolt} %.12f vs gapd %.12f eV (i-PI's 8-digit eV constant: %.1e rel.)"
                  % (pot_ev_ipi, e_ev, abs(pot_ev_ipi - e_ev) / abs(e_ev)))
            print("conserved: %.6f -> %.6f eV over %d steps; temperature %.1f -> %.1f K"
                  % (conserved[0], conserved[-1], args.steps, temperature[0], temperature[-1]))
            print("---- tail of the i-PI log ----\n" + common.tail(ipi_log, 6).rstrip())
            print("---- tail of the gapd log ----\n" + common.tail(gapd_log, 3).rstrip())
            if not rel_e <= E_REL_TOL:
                raise TestFailure("step-0 potential differs by %.3e relative (> %g)" % (rel_e, E_REL_TOL))
            if not rel_v <= VIR_REL_TOL:
                raise TestFailure("step-0 virial differs by %.3e relative (> %g)" % (rel_v, VIR_REL_TOL))
            ok = True
            print("PASS test_ipi_nvt: i-PI completed %d steps, gapd exited 0, step-0 energy matches to %.1e"
                  % (args.steps, rel_e))
            return 0
    except Exception as e:  # noqa: BLE001 - any error is a failure
        traceback.print_exc()
        sys.stdout.write("---- i-PI log tail ----\n" + common.tail(ipi_log))
        sys.stdout.write("---- gapd log tail ----\n" + common.tail(gapd_log))
        print("FAIL test_ipi_nvt: %s (files kept in %s)" % (e, workdir))
        return 1
    finally:
        common.kill_process(served)
        common.kill_process(ipi, grace=10)
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        if ok and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
