#!/usr/bin/python3
"""Figures a scientist can show: every plotting entry point (polarization.py, cell_dipoles.py, curie_weiss.py,
susceptibility.py (through its main()), scripts/parity_plot.py, ipi_inputs/nve/conservation.py) on small synthetic data. Each figure: a title naming
what is shown, every axes with x and y labels and a title, every 2-D map (hist2d / imshow / pcolormesh) with a
labelled colorbar, texts >= cli.MIN_FONT_SIZE once saved; the command lines write their PNGs."""

import contextlib
import importlib.util
import io
import os
import tempfile

import numpy as np

import analysis_common as common
import cli

D = lambda name: os.path.join(common.DATA, name)   # noqa: E731


def load_script(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(common.SOURCE_DIR, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_figure(fig, *title_words):
    """Suptitle with every word; axes labelled and titled; 2-D maps with a labelled colorbar; fonts legible."""
    from matplotlib.collections import QuadMesh
    from matplotlib.image import AxesImage
    import matplotlib.text
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    for w in title_words:
        assert w in title, "%r not in the figure title %r" % (w, title)
    every = [m for ax in fig.axes for m in ax.get_children() if isinstance(m, (QuadMesh, AxesImage))]
    colorbar_axes = {m.colorbar.ax for m in every if m.colorbar is not None}
    maps = [m for m in every if m.axes not in colorbar_axes]     # a colorbar draws itself as a mesh
    for m in maps:
        assert m.colorbar is not None, "a 2-D map without a colorbar in %r" % title
        assert m.colorbar.ax.get_ylabel() or m.colorbar.ax.get_xlabel(), "colorbar without a label in %r" % title
    plots = [ax for ax in fig.axes if ax not in colorbar_axes]
    assert plots, "no axes"
    for ax in plots:
        where = "%r, axes %r" % (title, ax.get_title())
        assert ax.get_xlabel().strip(), "no x label: " + where
        assert ax.get_ylabel().strip(), "no y label: " + where
        assert ax.get_title().strip(), "no axes title: " + where
        assert "step" not in ax.get_xlabel(), "time axis in steps, not ps: " + where
    with tempfile.TemporaryDirectory() as d:
        cli.savefig(fig, os.path.join(d, "f.png"))
        assert os.path.getsize(os.path.join(d, "f.png")) > 1000
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(matplotlib.text.Text)
             if t.get_text() and t.get_fontsize() < cli.MIN_FONT_SIZE]
    assert not small, "texts below %s pt: %r" % (cli.MIN_FONT_SIZE, small[:3])
    return len(maps)


def test_shared_style():
    assert cli.DPI >= 150 and cli.MIN_FONT_SIZE >= 11
    plt = cli.pyplot()
    for key in ("font.size", "axes.labelsize", "axes.titlesize", "xtick.labelsize", "ytick.labelsize",
                "legend.fontsize"):
        size = plt.rcParams[key]
        assert not isinstance(size, str) and size >= 11, (key, size)
    assert "T = 300 K" in cli.describe(np.full(4, 300.0)) and "<T> = 301 K" in cli.describe([300.0, 302.0])
    assert cli.describe(None, 320, "/a/b/m.gapd", 10) == "320 atoms, 10 frames, model m.gapd"


def test_polarization_figure():
    import polarization
    rng = np.random.default_rng(1)
    P = 0.2 * rng.standard_normal((200, 3))
    h, edges, nedges = polarization.histograms(P, 20)
    t = np.arange(200) * 0.01
    fig = polarization.plot(P, h, edges, nedges, t, "time (ps)", 20,
                            "Polarization: " + cli.describe(np.full(200, 300.0), 320, "m.gapd", 200))
    assert check_figure(fig, "320 atoms", "300 K", "m.gapd") == 3


def test_cell_dipoles_figure():
    import cell_dipoles
    rng = np.random.default_rng(2)
    L = np.array([2, 2, 2])
    idx = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)])
    d = 0.1 * rng.standard_normal((30, 8, 3))
    C, G = cell_dipoles.correlations(d, L, idx)
    fig = cell_dipoles.plot(d.reshape(-1, 3), C, G, 20, "cells: " + cli.describe(100.0, 40, "m.gapd", 30))
    assert check_figure(fig, "40 atoms", "100 K", "m.gapd") == 1


def test_curie_weiss_figure():
    import curie_weiss
    T = np.linspace(420.0, 700.0, 6)
    eps = curie_weiss.curie_weiss(T, 1.2e5, 390.0, 5.0)
    r = curie_weiss.fit(T, eps, 0.02 * eps)
    fig = curie_weiss.plot(T, eps, 0.02 * eps, r, "Curie-Weiss: " + cli.describe(atoms=320, model="m.gapd"))
    check_figure(fig, "320 atoms", "m.gapd")


def test_conservation_figure():
    cons = load_script("ipi_inputs/nve/conservation.py", "conservation")
    t = np.linspace(0.0, 1.0, 50)
    pot = np.sin(10 * t)
    kin = -pot + 1e-4 * t
    fig = cons.plot(t, pot, kin, pot + kin, 1e-4, 0.0, 40, "NVE: " + cli.describe(300.0, 40, "m.gapd"))
    check_figure(fig, "40 atoms", "m.gapd")


def synthetic_eval(path):
    """Three 5-atom frames with references and gap_ predictions (energy, forces, stress, dipole)."""
    from ase import Atoms
    from ase.io import write
    rng = np.random.default_rng(3)
    frames = []
    for k in range(3):
        a = Atoms("BaTiO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                  cell=[4.0] * 3, pbc=True)
        a.rattle(0.05, seed=k)
        f = rng.standard_normal((5, 3))
        v = rng.standard_normal((3, 3))
        a.info.update({"energy": -10.0 + k, "gap_energy": -10.01 + k, "virial": v + v.T,
                       "gap_virial": v + v.T + 0.01, "dipole": rng.standard_normal(3),
                       "gap_dipole": rng.standard_normal(3)})
        a.arrays["forces"] = f
        a.arrays["gap_forces"] = f + 0.01 * rng.standard_normal((5, 3))
        frames.append(a)
    write(path, frames, format="extxyz")


def test_parity_plot_figures():
    pp = load_script("scripts/parity_plot.py", "parity_plot")
    from ase.io import read
    with tempfile.TemporaryDirectory() as d:
        synthetic_eval(os.path.join(d, "eval.xyz"))
        frames = read(os.path.join(d, "eval.xyz"), ":")

        class Options:
            prefix, energy_key, forces_key, stress_key, virial_key, dipole_key = \
                "gap_", "energy", "forces", "stress", "virial", "dipole"
        title = pp.describe(frames, "data/models/m.gapd", "eval.xyz")
        figs = pp.figures(frames, frames, Options, title)
        assert sorted(figs) == ["parity_dipole.png", "parity_energy.png", "parity_forces.png", "parity_virial.png"]
        for fig in figs.values():
            check_figure(fig, "m.gapd", "3 structures", "5 atoms")


def run_main(module, argv):
    """Run module.main() in this process with argv, catching the Figure it hands to cli.savefig."""
    import sys
    caught = []
    saved_argv, saved_savefig = sys.argv, cli.savefig
    sys.argv = [module.__name__ + ".py"] + [str(x) for x in argv]
    cli.savefig = lambda fig, path: caught.append(fig)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            module.main()
    finally:
        sys.argv, cli.savefig = saved_argv, saved_savefig
    assert len(caught) == 1, "%s: %d figures" % (module.__name__, len(caught))
    return caught[0]


def write_run(d, n=400):
    """Synthetic i-PI run: properties (step, time in ps every 1 fs, temperature ~300 K, volume) and dipoles."""
    rng = np.random.default_rng(4)
    props, dip = os.path.join(d, "sim.out"), os.path.join(d, "sim.dipole_0")
    with open(props, "w") as f:
        f.write("# column   1     --> step : step\n# column   2     --> time{picosecond} : time\n"
                "# column   3     --> temperature{kelvin} : T\n# column   4     --> volume{angstrom3} : V\n")
        for i in range(n):
            f.write("%d %.6f %.3f 2560.0\n" % (i, 0.001 * i, 300.0 + rng.standard_normal()))
    x = np.zeros(3)
    with open(dip, "w") as f:
        for i in range(n):
            x = 0.9 * x + rng.standard_normal(3)
            f.write(" #EXTRAS(dipole)# Step:  %d \n%.8f %.8f %.8f\n" % (i, x[0], x[1], x[2]))
    return props, dip


def test_command_line_figures_carry_the_run():
    """Through each tool's main(): the title takes T from the properties, atoms from the xyz, the model name."""
    import cell_dipoles
    import curie_weiss
    import polarization
    import susceptibility
    with tempfile.TemporaryDirectory() as d:
        props, dip = write_run(d)
        fig = run_main(polarization, ["--dipoles", dip, "--properties", props, "--cell-from", D("init.xyz"),
                                      "--model", "data/models/m.gapd", "--png", "P.png"])
        assert check_figure(fig, "40 atoms", "<T> = 300 K", "400 frames", "m.gapd") == 3
        fig = run_main(cell_dipoles, ["--cell-dipoles", D("nvt.cd_0"), "--template", D("init.xyz"),
                                      "--properties", D("nvt.out"), "--model", "m.gapd", "--png", "cd.png"])
        assert check_figure(fig, "40 atoms", "T = 300 K", "m.gapd", "8 cells") == 1
        table = os.path.join(d, "eps.dat")
        T = np.linspace(420.0, 700.0, 6)
        eps = curie_weiss.curie_weiss(T, 1.2e5, 390.0, 5.0)
        np.savetxt(table, np.column_stack([T, eps, 0.02 * eps]))
        check_figure(run_main(curie_weiss, ["--table", table, "--atoms", 320, "--model", "m.gapd", "--png", "cw.png"]),
                     "6 temperatures", "320 atoms", "m.gapd")
        fig = run_main(susceptibility, ["--dipoles", dip, "--properties", props, "--tmax", 0.05,
                                        "-o", os.path.join(d, "chi.dat"), "--png", "chi.png"])
        check_figure(fig, "300 K")


def test_command_lines_write_pngs():
    import subprocess
    import sys
    with tempfile.TemporaryDirectory() as d:
        png = lambda name: os.path.join(d, name)   # noqa: E731
        rc, out, err = common.tool("polarization", "--dipoles", D("nvt.dipole_0"), "--properties", D("nvt.out"),
                                   "--cell-from", D("init.xyz"), "--model", "m.gapd", "--png", png("P.png"))
        assert rc == 0 and os.path.getsize(png("P.png")) > 1000, err
        rc, out, err = common.tool("cell_dipoles", "--cell-dipoles", D("nvt.cd_0"), "--template", D("init.xyz"),
                                   "--properties", D("nvt.out"), "--png", png("cd.png"))
        assert rc == 0 and os.path.getsize(png("cd.png")) > 1000, err
        props = png("nve.out")
        with open(props, "w") as f:
            f.write("# column   1     --> step : step\n# column   2     --> time{picosecond} : time\n"
                    "# column   3     --> conserved{electronvolt} : c\n# column   4     --> temperature{kelvin} : T\n"
                    "# column   5     --> potential{electronvolt} : p\n# column   6     --> kinetic_md{electronvolt} : k\n")
            for i in range(20):
                p = np.sin(0.5 * i)
                f.write("%d %.6f %.9f 300.0 %.9f %.9f\n" % (i, 0.001 * i, 1e-6 * i, p, -p + 1e-6 * i))
        r = subprocess.run([sys.executable, "-B", os.path.join(common.SOURCE_DIR, "ipi_inputs", "nve", "conservation.py"),
                            props, "--atoms", "5", "--png", png("nve.png")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and os.path.getsize(png("nve.png")) > 1000, r.stderr
        synthetic_eval(png("eval.xyz"))
        r = subprocess.run([sys.executable, "-B", os.path.join(common.SOURCE_DIR, "scripts", "parity_plot.py"),
                            png("eval.xyz"), "-m", "m.gapd", "-o", png("plots")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        for name in ("parity_energy.png", "parity_forces.png", "parity_virial.png", "parity_dipole.png"):
            assert os.path.getsize(os.path.join(png("plots"), name)) > 1000, name


if __name__ == "__main__":
    common.main(globals())
