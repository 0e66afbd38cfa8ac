#!/usr/bin/python3
"""Ti-centred unit-cell dipoles of an MD run: histograms and spatial correlations.

Input: the i-PI extras trajectory of gapd's `cell_dipoles` key (`gapd serve --extras dipole,cell_dipoles`,
`<trajectory filename='cd' extra_type='cell_dipoles'> extras </trajectory>`; one row per B-site atom in
ascending atom index, e·Bohr) and the template (i-PI xyz, e.g. init.xyz) that says where the B-site atoms sit.

Lattice: the B-site atoms of the template are put on an L1 x L2 x L3 grid (L_k = |a_k| / nearest B-B distance,
rounded); the supercell vectors must be (nearly) along x, y, z (pseudo-cubic cell), so that grid axis k is
Cartesian axis k. Correlation of component a between cells n steps apart along axis b (periodic):

    C_ab(n) = < d_a(i) d_a(i + n e_b) > / < d_a^2 >                 (raw)
    G_ab(n) = < dd_a(i) dd_a(i + n e_b) > / < dd_a^2 >,  dd = d - <d>   (connected: mean over cells and frames
                                                                         subtracted)

averaged over cells i and frames. "Along" the dipole component: b = a (chains: d_x correlated with the next cell
along x); "across": b != a. The summary prints the nearest-neighbour (n = 1) values averaged over a (and over
the two b != a for across). In BaTiO3 the along correlation is the strong one (needle-like, chain
correlations of the Ti displacements).

  cell_dipoles.py --cell-dipoles sim.cd_0 --template init.xyz --skip 1000 --png cd.png --table cd_corr.dat \\
      --properties sim.out --model batio3_default.gapd        # title: atoms, <T>, frames, cells, model
"""

import numpy as np

import cli
import ipi_files
import units


def lattice_indices(positions, cell):
    """Grid (L (3,), idx (n, 3)) of B-site positions (n, 3) in a cell (lattice vectors = rows)."""
    n = len(positions)
    lengths = np.linalg.norm(cell, axis=1)
    for k in range(3):
        if abs(cell[k, k]) < 0.95 * lengths[k]:
            raise cli.AnalysisError("lattice vector %d %s is not along the %s axis: the correlation along/across "
                                    "needs a pseudo-cubic supercell aligned with x, y, z" % (k + 1, cell[k], "xyz"[k]))
    frac = positions @ np.linalg.inv(cell)
    if n == 1:
        return np.ones(3, dtype=int), np.zeros((1, 3), dtype=int)
    d = frac[:, None, :] - frac[None, :, :]
    d -= np.round(d)
    dist = np.linalg.norm(d @ cell, axis=2)
    a0 = np.min(dist[np.triu_indices(n, 1)])
    L = np.maximum(np.round(lengths / a0).astype(int), 1)
    if np.prod(L) != n:
        raise cli.AnalysisError("%d B-site atoms do not fill a %dx%dx%d grid (cell lengths / B-B distance %.3g)"
                                % (n, L[0], L[1], L[2], a0))
    grid = (frac - frac[0]) * L
    idx = np.round(grid).astype(int) % L
    if np.max(np.abs(grid - np.round(grid))) > 0.3 or len({tuple(i) for i in idx}) != n:
        raise cli.AnalysisError("B-site atoms are not on a %dx%dx%d grid (off-lattice or duplicate sites)" % tuple(L))
    return L, idx


def correlations(d, L, idx):
    """d (frames, n, 3) -> raw C[a, b, n], connected G[a, b, n] for n = 0..max(L)//2 (NaN where n > L_b//2)."""
    nmax = int(max(L) // 2)
    grid = np.zeros((d.shape[0], L[0], L[1], L[2], 3))
    grid[:, idx[:, 0], idx[:, 1], idx[:, 2], :] = d
    delta = grid - d.reshape(-1, 3).mean(axis=0)
    C = np.full((3, 3, nmax + 1), np.nan)
    G = np.full((3, 3, nmax + 1), np.nan)
    for a in range(3):
        raw, con = grid[..., a], delta[..., a]
        r0, c0 = np.mean(raw * raw), np.mean(con * con)
        for b in range(3):
            for s in range(L[b] // 2 + 1):
                C[a, b, s] = np.mean(raw * np.roll(raw, -s, axis=1 + b)) / r0 if r0 > 0 else np.nan
                G[a, b, s] = np.mean(con * np.roll(con, -s, axis=1 + b)) / c0 if c0 > 0 else np.nan
    return C, G


def along_across(M, s=1):
    """Mean over a of M[a, a, s] (along) and over a, b != a of M[a, b, s] (across); NaN entries ignored."""
    along = np.nanmean([M[a, a, s] for a in range(3)])
    across = np.nanmean([M[a, b, s] for a in range(3) for b in range(3) if b != a])
    return along, across


def main():
    p = cli.make_parser(__doc__)
    p.add_argument("--cell-dipoles", required=True, metavar="FILE",
                   help="i-PI extras trajectory with extra_type='cell_dipoles' (e·Bohr)")
    p.add_argument("--template", required=True, metavar="XYZ", help="i-PI xyz with the same atoms (init.xyz)")
    p.add_argument("--b-site", default="Ti", help="symbol of the B-site atoms (default Ti)")
    p.add_argument("--skip", type=int, default=0, help="equilibration: drop the first N frames")
    p.add_argument("--bins", type=int, default=50, help="histogram bins (default 50)")
    p.add_argument("--png", help="figure: histograms and correlations along/across")
    p.add_argument("--properties", metavar="FILE", help="figure title: mean temperature from this i-PI properties file")
    p.add_argument("--temperature", type=float, metavar="K", help="figure title: temperature (instead of --properties)")
    p.add_argument("--model", metavar="GAPD", help="figure title: the model file the run used")
    p.add_argument("--table", help="correlation table: n component axis raw connected")
    a = p.parse_args()
    steps, d, _ = ipi_files.read_extras(a.cell_dipoles, "cell_dipoles")
    if d.ndim == 2:
        d = d[:, None, :]
    if d.shape[-1] != 3:
        raise cli.AnalysisError("%s: rows have %d numbers, expected 3" % (a.cell_dipoles, d.shape[-1]))
    symbols, pos, cell = ipi_files.read_ipi_xyz(a.template)
    b_pos = pos[[i for i, s in enumerate(symbols) if s == a.b_site]]
    if len(b_pos) != d.shape[1]:
        raise cli.AnalysisError("%s has %d '%s' atoms, %s has %d cell dipoles per frame"
                                % (a.template, len(b_pos), a.b_site, a.cell_dipoles, d.shape[1]))
    if a.skip < 0 or a.skip >= len(d):
        raise cli.AnalysisError("--skip %d leaves no frame of the %d in %s" % (a.skip, len(d), a.cell_dipoles))
    if a.bins < 2:
        raise cli.AnalysisError("--bins must be at least 2")
    steps, d = steps[a.skip:], units.si_to_e_angstrom(units.e_bohr_to_si(d[a.skip:]))   # e·Å
    L, idx = lattice_indices(b_pos, cell)
    C, G = correlations(d, L, idx)
    flat = d.reshape(-1, 3)
    print("# cell dipoles (e*A): %d frames x %d cells (%dx%dx%d grid), steps %d..%d"
          % (d.shape[0], d.shape[1], L[0], L[1], L[2], steps[0], steps[-1]))
    print("<d>        = %s" % " ".join("%.6g" % x for x in flat.mean(axis=0)))
    print("std d      = %s" % " ".join("%.6g" % x for x in flat.std(axis=0)))
    print("<|d|>      = %.6g" % np.linalg.norm(flat, axis=1).mean())
    if max(L) >= 2:
        for name, M in (("raw", C), ("connected", G)):
            al, ac = along_across(M)
            print("nearest-neighbour correlation (%s): along %.6g  across %.6g" % (name, al, ac))
    else:
        print("one cell: no spatial correlation")
    if a.table:
        rows = [[s, i, j, C[i, j, s], G[i, j, s]] for s in range(C.shape[2]) for i in range(3) for j in range(3)
                if np.isfinite(C[i, j, s])]
        np.savetxt(a.table, rows, fmt=["%d", "%d", "%d", "%.8g", "%.8g"],
                   header="n component(0=x) separation_axis(0=x) raw connected   (along: component == axis)")
        print("wrote %s" % a.table)
    if a.png:
        temp = a.temperature if a.temperature is not None else mean_temperature(a.properties, steps)
        title = ("Ti-centred cell dipoles: " + cli.describe(temp, len(symbols), a.model, d.shape[0],
                                                           "%d cells (%dx%dx%d)" % (d.shape[1], L[0], L[1], L[2])))
        fig = plot(flat, C, G, a.bins, title)
        cli.savefig(fig, a.png)
        print("wrote %s" % a.png)


def mean_temperature(properties, steps):
    """Mean temperature (K) of the properties rows at `steps` (all rows without a step column); None without
    a file or a temperature column."""
    if properties is None:
        return None
    props = ipi_files.Properties(properties)
    if not props.has("temperature"):
        return None
    temp = props.si("temperature", "temperature")
    if props.has("step"):
        used = np.isin(np.round(props.get("step")).astype(int), steps)
        temp = temp[used] if np.any(used) else temp
    return float(np.mean(temp))


def plot(flat, C, G, bins, title):
    """Figure: component and |d| histograms, the (d_x, d_y) map (with colorbar), correlations; returned, not saved."""
    plt = cli.pyplot()
    fig, ax = plt.subplots(1, 4, figsize=(22, 5.5))
    lim = float(np.max(np.abs(flat))) or 1.0
    for i, axis in enumerate("xyz"):
        ax[0].hist(flat[:, i], bins=bins, range=(-lim, lim), density=True, histtype="step", label="$d_%s$" % axis)
    ax[0].set_xlabel("cell dipole component (e·Å)")
    ax[0].set_ylabel("probability density (1/(e·Å))")
    ax[0].set_title("components")
    ax[0].legend(loc="best")
    ax[1].hist(np.linalg.norm(flat, axis=1), bins=bins, density=True, histtype="step")
    ax[1].set_xlabel("|d| (e·Å)")
    ax[1].set_ylabel("probability density (1/(e·Å))")
    ax[1].set_title("magnitude")
    *_, im = ax[2].hist2d(flat[:, 0], flat[:, 1], bins=bins, range=[[-lim, lim]] * 2)
    cli.colorbar(fig, ax[2], im, "cell dipoles per bin")
    ax[2].set_xlabel("$d_x$ (e·Å)")
    ax[2].set_ylabel("$d_y$ (e·Å)")
    ax[2].set_title("($d_x$, $d_y$) projection")
    ax[2].set_aspect("equal")
    s = np.arange(C.shape[2])
    for name, M, style in (("raw", C, "-"), ("connected", G, "--")):
        al = [along_across(M, k)[0] for k in s]
        ac = [along_across(M, k)[1] for k in s]
        ax[3].plot(s, al, "o" + style, label="along (%s)" % name)
        ax[3].plot(s, ac, "s" + style, label="across (%s)" % name)
    ax[3].set_xlabel("separation (cells)")
    ax[3].set_ylabel("correlation (normalized)")
    ax[3].set_title("spatial correlation")
    ax[3].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    cli.run(main)
