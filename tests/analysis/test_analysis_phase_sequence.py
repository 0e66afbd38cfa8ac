#!/usr/bin/python3
"""phase_sequence.py and ipi_inputs/phase_scan/scan.py: a synthetic scan whose four temperatures hold R, O, T
and C structures (Ti displaced along [111], [011], [001] or not at all, with cells strained to match) is
classified R, O, T, C by the default model's cell dipoles, with the transitions where they are; a directory
that is not a scan is one error line; scan.py's temperature lists are what its help says.

    test_analysis_phase_sequence.py --gapd build/gapd
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile

import numpy as np

import analysis_common as common

MODEL = os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd")
PHASE_DISPLACEMENT = {"R": (1, 1, 1), "O": (0, 1, 1), "T": (0, 0, 1), "C": (0, 0, 0)}
CELL_STRAIN = {"R": (1.0, 1.0, 1.0), "O": (1.0, 1.004, 1.004), "T": (1.0, 1.0, 1.01), "C": (1.0, 1.0, 1.0),
               "F": (1.0, 1.0, 1.0)}
# A paraelectric state whose instantaneous polarization is large but has no direction: every frame displaces
# all Ti along one axis, the axis and sign cycling through +x, +y, +z, -x, -y, -z from frame to frame.
FLUCTUATING = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (-1, 0, 0), (0, -1, 0), (0, 0, -1)]
GAPD = None


def write_segment(seg, phase, temperature, rng, frames=12, repeats=2, a=4.0):
    """A finished scan segment: i-PI xyz trajectory (Ti displaced 0.1 Å per ordered axis, 0.01 Å noise),
    properties file with the matching cell, init.xyz and done.json."""
    os.makedirs(seg)
    basis = [("Ba", (0, 0, 0)), ("Ti", (0.5, 0.5, 0.5)), ("O", (0.5, 0.5, 0)), ("O", (0.5, 0, 0.5)),
             ("O", (0, 0.5, 0.5))]
    lengths = a * repeats * np.array(CELL_STRAIN[phase])
    with open(os.path.join(seg, "scan.pos_0.xyz"), "w") as traj:
        for k in range(frames):
            shift = 0.1 * np.array(FLUCTUATING[k % 6] if phase == "F" else PHASE_DISPLACEMENT[phase], dtype=float)
            lines = []
            for i in range(repeats):
                for j in range(repeats):
                    for m in range(repeats):
                        for el, f in basis:
                            r = (np.array(f) + (i, j, m)) * lengths / repeats + 0.01 * rng.standard_normal(3)
                            if el == "Ti":
                                r = r + shift
                            lines.append("%s %.8f %.8f %.8f" % (el, *r))
            comment = ("# CELL(abcABC): %.5f %.5f %.5f 90.00000 90.00000 90.00000 Step: %d Bead: 0 "
                       "positions{angstrom} cell{angstrom}" % (*lengths, 50 * k))
            traj.write("%d\n%s\n%s\n" % (len(lines), comment, "\n".join(lines)))
            if k == 0:
                with open(os.path.join(seg, "init.xyz"), "w") as f:
                    f.write("%d\n%s\n%s\n" % (len(lines), comment, "\n".join(lines)))
    with open(os.path.join(seg, "scan.out"), "w") as out:
        out.write("# column   1     --> step : The current simulation time step.\n"
                  "# column   2     --> temperature{kelvin} : The current temperature.\n"
                  "# cols.    3-8   --> cell_h{angstrom} : The simulation cell.\n")
        for k in range(frames * 5):
            out.write("%d %.3f %.6f %.6f %.6f 0 0 0\n" % (10 * k, temperature, *lengths))
    with open(os.path.join(seg, "done.json"), "w") as f:
        json.dump({"temperature": temperature, "steps": 300, "seconds": 1.0}, f)


def make_scan(root, phases, temperatures):
    os.makedirs(root)
    with open(os.path.join(root, "scan.json"), "w") as f:
        json.dump({"order": "heat", "temperatures": temperatures + [999.0], "steps": 300}, f)
    rng = np.random.default_rng(3)
    for phase, t in zip(phases, temperatures):
        write_segment(os.path.join(root, "T%gK" % t), phase, t, rng)


def test_four_phases_classified():
    with tempfile.TemporaryDirectory() as tmp:
        scan = os.path.join(tmp, "heat")
        make_scan(scan, ["R", "O", "T", "C", "F"], [10.0, 50.0, 120.0, 250.0, 300.0])
        report = os.path.join(tmp, "ps.json")
        # frames every 0.1 ps: windows of 0.6 ps hold one full cycle of the fluctuating segment
        rc, out, err = common.tool("phase_sequence", scan, "--gapd", GAPD, "--model", MODEL, "--equilibration", "0",
                                   "--window", "0.6", "--blocks", "2", "--json", report,
                                   "--png", os.path.join(tmp, "ps.png"), "--eps-table", os.path.join(tmp, "eps.dat"),
                                   "--eps-min-T", "200")
        assert rc == 0, err
        with open(report) as f:
            r = json.load(f)["heat"]
        assert [s["phase"] for s in r["segments"]] == ["R", "O", "T", "C", "C"], \
            [s["P_sorted_C_m2"] for s in r["segments"]]
        assert r["unfinished"] == ["999 K"], r["unfinished"]
        assert [(t["from"], t["to"], t["midpoint_K"]) for t in r["transitions"]] == \
            [("R", "O", 30.0), ("O", "T", 85.0), ("T", "C", 185.0)], r["transitions"]
        # per frame the fluctuating segment looks tetragonal; only the window means show it has no direction
        fluctuating = r["segments"][4]
        assert fluctuating["windows"] == 2 and fluctuating["P_frame_sorted_C_m2"][0] > 0.1, fluctuating
        assert fluctuating["P_sorted_C_m2"][0] < 0.02, fluctuating
        # eps_r from the cached cell dipoles, written out here: M = sum of cell dipoles, SI units, T of scan.out
        import ase.io
        frames = ase.io.read(os.path.join(scan, "T300K", "polarization.extxyz"), index=":")
        M = np.array([f.arrays["cell_dipoles"].sum(axis=0) for f in frames]) * 1.602176634e-19 * 1e-10
        V = np.mean([f.get_volume() for f in frames]) * 1e-30
        dM = M - M.mean(axis=0)
        expected = 1 + np.mean(np.sum(dM * dM, axis=1)) / (3 * 8.8541878128e-12 * V * 1.380649e-23 * 300.0)
        assert abs(fluctuating["eps_r"] - expected) < 1e-9 * expected, (fluctuating["eps_r"], expected)
        assert fluctuating["eps_r"] > 100, fluctuating["eps_r"]
        # the segment's total dipole series, read back by dielectric.py as any i-PI run: the same eps_r
        series = os.path.join(scan, "T300K", "total_dipole.extras")
        rc, out_d, err_d = common.tool("dielectric", "--dipoles", series, "--properties",
                                       os.path.join(scan, "T300K", "scan.out"), "--blocks", "2",
                                       "--json", os.path.join(tmp, "eps300.json"))
        assert rc == 0, err_d
        with open(os.path.join(tmp, "eps300.json")) as f:
            from_series = json.load(f)["eps_r"]
        assert abs(from_series - expected) < 1e-7 * expected, (from_series, expected)
        with open(os.path.join(tmp, "eps.dat")) as f:
            rows = [line.split() for line in f if not line.startswith("#")]
        assert [float(r[0]) for r in rows] == [250.0, 300.0], rows
        assert abs(float(rows[1][1]) - expected) < 1e-5 * expected, rows
        tetragonal = r["segments"][2]
        assert np.allclose(tetragonal["lattice_A"], [4.0, 4.0, 4.04], atol=1e-6), tetragonal["lattice_A"]
        # the ordered component is what the model's Born charges say: Z*(Ti) ~ 7 e times 0.1 Å over 64 Å^3
        assert 0.1 < tetragonal["P_sorted_C_m2"][0] < 0.4 and tetragonal["P_sorted_C_m2"][1] < 0.07
        assert tetragonal["P_total_minus_cells_rms"] < 0.02
        assert os.path.getsize(os.path.join(tmp, "ps.png")) > 10000
        assert "R -> O between 10 and 50 K" in out, out


def test_window_longer_than_the_segment_is_one_error_line():
    with tempfile.TemporaryDirectory() as tmp:
        scan = os.path.join(tmp, "heat")
        make_scan(scan, ["T"], [100.0])
        common.expect_error("phase_sequence", [scan, "--gapd", GAPD, "--model", MODEL, "--equilibration", "0",
                                               "--window", "5"], "--window 5 ps", "T100K")


def test_not_a_scan_is_one_error_line():
    with tempfile.TemporaryDirectory() as tmp:
        common.expect_error("phase_sequence", [tmp, "--gapd", GAPD], "scan.json", tmp)


def test_scan_temperature_lists():
    spec = importlib.util.spec_from_file_location(
        "scan", os.path.join(common.SOURCE_DIR, "ipi_inputs", "phase_scan", "scan.py"))
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    heat = scan.temperature_list("10:300:20", "heat")
    assert heat[0] == 10 and heat[-1] == 300 and heat[-2] == 290 and len(heat) == 16
    assert max(np.diff(heat)) <= 20
    assert scan.temperature_list("300:10:20", "cool") == heat[::-1][:1] + [280 - 20 * k for k in range(14)] + [10]
    assert scan.temperature_list("10,50,90", "heat") == [10, 50, 90]
    for bad, order in (("10:300:0", "heat"), ("300:10:20", "heat"), ("0,10", "heat"), ("10:20", "heat")):
        try:
            scan.temperature_list(bad, order)
        except SystemExit as e:
            assert "scan.py" in str(e), e
        else:
            raise AssertionError("accepted %s (%s)" % (bad, order))
    assert scan.segment_name(12.5) == "T12p5K" and scan.segment_name(300.0) == "T300K"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--gapd", required=True)
    GAPD = ap.parse_args().gapd
    common.main(globals())
