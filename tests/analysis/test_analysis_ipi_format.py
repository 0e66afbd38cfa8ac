#!/usr/bin/python3
"""The analysis CLIs on hand-written files in i-PI 3.3.0's output formats (tests/data/analysis/README.md says
where each format comes from): the hand values come out, rows are matched by step, and bad input gives one
error line and exit 1."""

import json
import os
import tempfile

import numpy as np

import analysis_common as common
from analysis_common import DATA, close, expect_error, tool

D = lambda name: os.path.join(DATA, name)
UNIT = 1.960062          # (1 e*Bohr)^2 / (eps0 * 1000 A^3 * kB * 300 K), see the README


def test_help_of_every_tool():
    for name in ("dielectric", "susceptibility", "curie_weiss", "polarization", "cell_dipoles"):
        rc, out, err = tool(name, "--help")
        assert rc == 0 and "usage:" in out, (name, err)


def test_dielectric_hand_values():
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "eps.json")
        rc, out, err = tool("dielectric", "--dipoles", D("nvt.dipole_0"), "--properties", D("nvt.out"), "--blocks", 2,
                            "--json", js)
        assert rc == 0, err
        r = json.load(open(js))
    eps = np.array(r["eps_tensor"])
    close(eps[0, 0], 1 + 2 * UNIT, 1e-6, "eps_xx")
    close(eps[1, 1], 1 + 0.5 * UNIT, 1e-6, "eps_yy")
    assert eps[2, 2] == 1.0 and np.all(eps[~np.eye(3, dtype=bool)] == 0)
    close(r["eps_r"], 1 + 2.5 * UNIT / 3, 1e-6, "eps_r")
    close(r["temperature_K"], 300.0, 1e-15, "T of the matched (even) steps only")
    close(r["volume_A3"], 1000.0, 1e-12, "V")
    assert r["frames"] == 4 and r["first_step"] == 0 and r["last_step"] == 6
    assert "eps_r (isotropic, trace/3, centred)" in out


def test_volume_sources_agree():
    base = ["--dipoles", D("nvt.dipole_0"), "--blocks", 2]
    outs = [tool("dielectric", *base, *extra)[1].splitlines()[-2]
            for extra in (["--properties", D("nvt.out")], ["--properties", D("nvt_cellh.out")],
                          ["--properties", D("nvt_cellh.out"), "--cell-from", D("init.xyz")],
                          ["--temperature", 300, "--volume", 1000])]
    vals = [float(o.split()[-3]) for o in outs]
    assert max(vals) - min(vals) < 1e-9 * vals[0], outs


def test_skip_and_susceptibility():
    rc, out, _ = tool("dielectric", "--dipoles", D("nvt.dipole_0"), "--properties", D("nvt.out"), "--blocks", 2,
                      "--skip", 1)
    assert rc == 0
    eps_r = float(out.split("centred)")[1].split()[0])
    # steps 2, 4, 6 left: var M_x = 4/3 - 4/9 = 8/9, var M_y = 2/3 -> eps_r = 1 + (14/9) / 3 UNIT
    close(eps_r, 1 + 14 / 27 * UNIT, 1e-6, "eps_r of the last three frames")
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = tool("susceptibility", "--dipoles", D("nvt.dipole_0"), "--properties", D("nvt.out"),
                            "--blocks", 2, "--tmax", 0.004, "-o", os.path.join(d, "chi.dat"), "--png",
                            os.path.join(d, "chi.png"))
        assert rc == 0, err
        table = np.loadtxt(os.path.join(d, "chi.dat"))
        close(table[0, 2], 2.5 * UNIT / 3, 1e-6, "chi(0) = eps_r - 1")
        # 3 frames cannot give a 3-lag window without one of 2 blocks: chi, but no band, and the reason said.
        assert "no error band" in err and np.all(np.isnan(table[:, 5:])), err
        close(table[1, 0], 1 / (16 * 2e-15) / 1e12, 1e-9, "first frequency 1/(16 dt): 3 lags, pad 4 -> 16 points")
        assert os.path.getsize(os.path.join(d, "chi.png")) > 1000


def test_polarization_and_cell_dipoles():
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = tool("polarization", "--dipoles", D("nvt.dipole_0"), "--properties", D("nvt.out"),
                            "--png", os.path.join(d, "p.png"), "--table", os.path.join(d, "p.dat"), "--bins", 4)
        assert rc == 0, err
        std = [float(x) for x in out.split("std P   =")[1].split()[:3]]
        close(std[0], 0.0169567 / np.sqrt(2), 1e-5, "std P_x (C/m^2): P_x = +-0.0169567, 0, 0")
        h = np.loadtxt(os.path.join(d, "p.dat"))
        width = h[1, 0] - h[0, 0]
        close(float(np.sum(h[:, 1]) * width), 1.0, 1e-6, "P_x histogram normalized (table has 8 digits)")
        rc, out, err = tool("cell_dipoles", "--cell-dipoles", D("nvt.cd_0"), "--template", D("init.xyz"),
                            "--png", os.path.join(d, "cd.png"), "--table", os.path.join(d, "cd.dat"))
        assert rc == 0, err
        assert "2x2x2 grid" in out
        line = [l for l in out.splitlines() if "(raw)" in l][0].split()
        assert float(line[-3]) == 1.0 and float(line[-1]) == -1.0, line
        assert os.path.getsize(os.path.join(d, "cd.png")) > 1000


def test_bad_input_one_line_errors():
    with tempfile.TemporaryDirectory() as d:
        def write(name, text):
            p = os.path.join(d, name)
            open(p, "w").write(text)
            return p
        props = open(D("nvt.out")).read()
        dip = ["--dipoles", D("nvt.dipole_0")]
        expect_error("dielectric", dip + ["--properties", write("empty.out", "")], "empty.out")
        expect_error("dielectric", ["--dipoles", write("empty.dip", ""), "--properties", D("nvt.out")], "empty.dip")
        no_t = "\n".join(l for l in props.splitlines() if "temperature" not in l) + "\n"
        expect_error("dielectric", dip + ["--properties", write("no_t.out", no_t)], "no_t.out", "temperature")
        expect_error("dielectric", dip + ["--properties", D("nvt.out"), "--temperature", 0], "--temperature",
                     "positive")
        expect_error("dielectric", dip + ["--properties", D("nvt.out"), "--volume", -1], "--volume", "positive")
        zero_t = props.replace("3.00000000000000000e+02", "0.00000000000000000e+00")
        expect_error("dielectric", dip + ["--properties", write("zero_t.out", zero_t)], "zero_t.out", "temperature")
        trunc = props.rstrip("\n").rsplit(" ", 8)[0] + "\n"
        expect_error("dielectric", dip + ["--properties", write("trunc.out", trunc)], "trunc.out", "columns")
        expect_error("dielectric", ["--dipoles", D("nvt.cd_0"), "--properties", D("nvt.out")], "cell_dipoles")
        short = open(D("nvt.dipole_0")).read().replace("0.00000000000000000e+00 1.00000000000000000e+00", "0.0")
        expect_error("dielectric", ["--dipoles", write("short.dip", short), "--properties", D("nvt.out")],
                     "short.dip")
        expect_error("dielectric", ["--dipoles", write("sparse.dip", open(D("nvt.dipole_0")).read().replace(
            "Step:           6", "Step:          17")), "--properties", D("nvt.out")], "step 17")
        expect_error("dielectric", dip + ["--properties", D("nvt.out"), "--skip", 3], "--skip")
        expect_error("dielectric", dip + ["--properties", D("nvt.out"), "--blocks", 5], "blocks")
        expect_error("dielectric", dip + ["--temperature", 300], "no volume")
        expect_error("cell_dipoles", ["--cell-dipoles", D("nvt.cd_0"), "--template", D("nvt.out")], "nvt.out")
        binary = os.path.join(d, "binary.dat")
        open(binary, "wb").write(bytes(range(128, 256)) * 4)
        expect_error("dielectric", ["--dipoles", binary, "--temperature", 300, "--volume", 1000], "binary.dat",
                     "not a text file")
        rc, _, err = tool("dielectric", "--properties", D("nvt.out"))
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "--dipoles" in err, err


if __name__ == "__main__":
    common.main(globals())
