#!/usr/bin/python3
"""Polarization distributions of an MD run (i-PI files), as the projections of Gigli et al., npj Comput. Mater.
8, 209 (2022), Fig. 1: histograms of the components P_x, P_y, P_z, of |P|, and the 2D projections
(P_x, P_y), (P_x, P_z), (P_y, P_z).

    P = M / V   (C/m^2; M from the extras trajectory in e·Bohr, V per frame from the properties or fixed)

A paraelectric run gives one peak at P = 0; a tetragonal / orthorhombic / rhombohedral one peaks at
|P| > 0 with 1 / 2 / 3 components non-zero (in a finite cell the sign of each component can flip).

  polarization.py --dipoles sim.dipole_0 --properties sim.out --skip 1000 --png P.png --table P_hist.dat \\
      --cell-from init.xyz --model batio3_default.gapd      # title: atoms, <T>, frames, model
"""

import numpy as np

import cli
import ipi_files
import run_data


def polarization(run):
    """(n, 3) C/m^2."""
    return run.dipoles / run.volume[:, None]


def histograms(P, bins):
    """Dict of 1D histograms (densities) on a common symmetric range: x, y, z, norm; and the edges."""
    lim = float(np.max(np.abs(P))) or 1.0
    edges = np.linspace(-lim, lim, bins + 1)
    out = {axis: np.histogram(P[:, i], edges, density=True)[0] for i, axis in enumerate("xyz")}
    norm_edges = np.linspace(0.0, float(np.max(np.linalg.norm(P, axis=1))) or 1.0, bins + 1)
    out["norm"] = np.histogram(np.linalg.norm(P, axis=1), norm_edges, density=True)[0]
    return out, edges, norm_edges


def main():
    p = cli.make_parser(__doc__)
    run_data.add_arguments(p)
    p.add_argument("--bins", type=int, default=50, help="histogram bins (default 50)")
    p.add_argument("--png", help="figure: component, |P| and 2D projection histograms")
    p.add_argument("--atoms", type=int, metavar="N", help="figure title: number of atoms (default: the atoms of --cell-from)")
    p.add_argument("--model", metavar="GAPD", help="figure title: the model file the run used")
    p.add_argument("--dt", type=float, metavar="FS",
                   help="figure: time between dipole frames in fs, when the properties have no time column")
    p.add_argument("--table", help="histogram table: P_center(C/m^2) p(Px) p(Py) p(Pz) |P|_center p(|P|)")
    a = p.parse_args()
    if a.bins < 2:
        raise cli.AnalysisError("--bins must be at least 2")
    run = run_data.load(a, need_temperature=False)
    P = polarization(run)
    norm = np.linalg.norm(P, axis=1)
    print("# polarization P = M/V (C/m^2), %d frames (steps %d..%d)" % (len(P), run.steps[0], run.steps[-1]))
    print("<P>     = %s" % " ".join("%.6g" % x for x in P.mean(axis=0)))
    print("std P   = %s" % " ".join("%.6g" % x for x in P.std(axis=0)))
    print("<|P|>   = %.6g   <|P|^2>^1/2 = %.6g" % (norm.mean(), np.sqrt(np.mean(norm ** 2))))
    print("<|P_a|> = %s  (sorted: the number of ordered components shows the phase)"
          % " ".join("%.6g" % x for x in np.sort(np.abs(P).mean(axis=0))[::-1]))
    h, edges, nedges = histograms(P, a.bins)
    if a.table:
        c = 0.5 * (edges[1:] + edges[:-1])
        nc = 0.5 * (nedges[1:] + nedges[:-1])
        np.savetxt(a.table, np.column_stack([c, h["x"], h["y"], h["z"], nc, h["norm"]]), fmt="%.8g",
                   header="P_center_C/m2 p(Px) p(Py) p(Pz) |P|_center_C/m2 p(|P|)  (densities, 1/(C/m^2))")
        print("wrote %s" % a.table)
    if a.png:
        atoms = a.atoms if a.atoms is not None else (len(ipi_files.read_ipi_xyz(a.cell_from)[0]) if a.cell_from else None)
        if run.time is not None:
            t, tlabel = (run.time - run.time[0]) * 1e12, "time since first used frame (ps)"
        elif a.dt is not None:
            t, tlabel = np.arange(len(P)) * cli.positive(a.dt, "--dt") * 1e-3, "time since first used frame (ps)"
        else:
            t, tlabel = run.steps, "MD step (no time column: give --dt FS)"
        title = "Polarization P = M/V: " + cli.describe(run.temperature, atoms, a.model, len(P))
        fig = plot(P, h, edges, nedges, t, tlabel, a.bins, title)
        cli.savefig(fig, a.png)
        print("wrote %s" % a.png)


def plot(P, h, edges, nedges, t, tlabel, bins, title):
    """Figure: component and |P| densities, P(t), and the 2-D projections (with colorbars); returned, not saved."""
    plt = cli.pyplot()
    fig, ax = plt.subplots(2, 3, figsize=(15, 9))
    c = 0.5 * (edges[1:] + edges[:-1])
    for axis in "xyz":
        ax[0, 0].plot(c, h[axis], label="$P_%s$" % axis)
    ax[0, 0].set_xlabel("$P_a$ (C/m$^2$)")
    ax[0, 0].set_ylabel("probability density (m$^2$/C)")
    ax[0, 0].set_title("components")
    ax[0, 0].legend(loc="best")
    ax[0, 1].plot(0.5 * (nedges[1:] + nedges[:-1]), h["norm"])
    ax[0, 1].set_xlabel("|P| (C/m$^2$)")
    ax[0, 1].set_ylabel("probability density (m$^2$/C)")
    ax[0, 1].set_title("magnitude")
    for i, axis in enumerate("xyz"):
        ax[0, 2].plot(t, P[:, i], lw=0.8, label="$P_%s$" % axis)
    ax[0, 2].set_xlabel(tlabel)
    ax[0, 2].set_ylabel("P (C/m$^2$)")
    ax[0, 2].set_title("time series")
    ax[0, 2].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for k, (i, j) in enumerate(((0, 1), (0, 2), (1, 2))):
        *_, im = ax[1, k].hist2d(P[:, i], P[:, j], bins=bins, range=[[edges[0], edges[-1]]] * 2, cmap="viridis")
        cli.colorbar(fig, ax[1, k], im, "frames per bin")
        ax[1, k].set_xlabel("$P_%s$ (C/m$^2$)" % "xyz"[i])
        ax[1, k].set_ylabel("$P_%s$ (C/m$^2$)" % "xyz"[j])
        ax[1, k].set_title("($P_%s$, $P_%s$) projection" % ("xyz"[i], "xyz"[j]))
        ax[1, k].set_aspect("equal")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    cli.run(main)
