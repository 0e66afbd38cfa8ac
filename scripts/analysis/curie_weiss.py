#!/usr/bin/python3
"""Curie-Weiss fit of the static dielectric constant against temperature (paraelectric side, T > Tc):

    eps(T) = C / (T - Tc) + eps_inf_T          (C in K, Tc in K, eps_inf_T dimensionless)

Weighted least squares (scipy.optimize.curve_fit, sigma = the eps error bars, absolute_sigma=True): the
parameter errors are the square roots of the covariance diagonal, i.e. they assume the error bars are right;
chi^2/dof is printed to check that (>> 1: error bars too small or the model does not fit). Tc is bounded
below min(T). Needs more points than free parameters (3, or 2 with --fix-eps-inf).

Input, either
  --table FILE                 columns T(K) eps err (whitespace, '#' comments; e.g. from several dielectric.py
                               runs), or
  --run PROPS:DIPOLES[:T] ...  several i-PI runs; eps_r and its jackknife error as in dielectric.py (with
                               --skip, --blocks, --eps-inf, --cell-from/--volume applied to every run;
                               T = the optional third field, else the mean kinetic temperature).

  curie_weiss.py --table eps_vs_T.dat --png cw.png
  curie_weiss.py --run T300/sim.out:T300/sim.dipole_0:300 --run T350/sim.out:T350/sim.dipole_0:350 \\
      --run T400/sim.out:T400/sim.dipole_0:400 --run T450/sim.out:T450/sim.dipole_0:450 --skip 1000 --png cw.png
"""

import numpy as np
from scipy.optimize import curve_fit

import cli
import dielectric
import ipi_files
import run_data


def curie_weiss(T, C, Tc, eps_inf):
    return C / (T - Tc) + eps_inf


def fit(T, eps, err, fix_eps_inf=None):
    """Dict with C, Tc, eps_inf, their errors, covariance, chi2, dof. Raises AnalysisError on bad data."""
    T, eps, err = (np.asarray(x, dtype=float) for x in (T, eps, err))
    npar = 2 if fix_eps_inf is not None else 3
    if len(T) <= npar:
        raise cli.AnalysisError("%d points for %d parameters: need at least %d temperatures" % (len(T), npar, npar + 1))
    cli.positive(T, "temperature")
    cli.positive(err, "eps error bar")
    if not np.all(np.isfinite(eps)):
        raise cli.AnalysisError("non-finite eps value")
    if len(np.unique(T)) < npar:
        raise cli.AnalysisError("fewer distinct temperatures than parameters")
    e0 = 0.0 if fix_eps_inf is None else fix_eps_inf
    # start: straight line 1/(eps - e0) = (T - Tc)/C through the points (robust for data that follow the law)
    y = eps - e0 if np.all(eps - e0 > 0) else eps - eps.min() + 1.0
    slope, icpt = np.polyfit(T, 1.0 / y, 1, w=y ** 2 / err)
    C0 = 1.0 / slope if slope > 0 else np.ptp(T) * eps.max()
    Tc0 = min(-icpt * C0, T.min() - 1e-3 * np.ptp(T) - 1e-6) if slope > 0 else T.min() - np.ptp(T)
    upper_tc = T.min() - 1e-9 * max(T.min(), 1.0)
    if fix_eps_inf is None:
        f = curie_weiss
        p0, lo, hi = [C0, Tc0, e0], [-np.inf, -np.inf, -np.inf], [np.inf, upper_tc, np.inf]
    else:
        def f(T, C, Tc):
            return curie_weiss(T, C, Tc, fix_eps_inf)
        p0, lo, hi = [C0, Tc0], [-np.inf, -np.inf], [np.inf, upper_tc]
    try:
        popt, pcov = curve_fit(f, T, eps, p0=p0, sigma=err, absolute_sigma=True, bounds=(lo, hi), max_nfev=20000)
    except (RuntimeError, ValueError) as e:
        raise cli.AnalysisError("Curie-Weiss fit failed: %s" % e)
    if not np.all(np.isfinite(pcov)):
        raise cli.AnalysisError("Curie-Weiss fit: parameters undetermined (infinite covariance); more temperatures?")
    resid = (eps - f(T, *popt)) / err
    perr = np.sqrt(np.diag(pcov))
    out = {"C": popt[0], "C_err": perr[0], "Tc": popt[1], "Tc_err": perr[1],
           "eps_inf": popt[2] if fix_eps_inf is None else fix_eps_inf,
           "eps_inf_err": perr[2] if fix_eps_inf is None else 0.0, "covariance": pcov,
           "chi2": float(resid @ resid), "dof": len(T) - npar,
           "tc_at_bound": bool(popt[1] >= upper_tc - 1e-6 * abs(upper_tc))}
    return out


def read_table(path):
    rows = []
    for lineno, line in enumerate(ipi_files.read_text_lines(path), 1):
        s = line.split("#")[0].split()
        if not s:
            continue
        if len(s) < 3:
            raise cli.AnalysisError("%s:%d: expected 'T eps err', found %d column(s)" % (path, lineno, len(s)))
        try:
            rows.append([float(x) for x in s[:3]])
        except ValueError:
            raise cli.AnalysisError("%s:%d: not numbers: '%s'" % (path, lineno, line.strip()[:60]))
    if not rows:
        raise cli.AnalysisError("%s: no data rows" % path)
    a = np.array(rows)
    for col, name in ((0, "temperature (column 1)"), (2, "error bar (column 3)")):
        cli.positive(a[:, col], "%s: %s" % (path, name))
    return a[:, 0], a[:, 1], a[:, 2]


def eps_of_runs(specs, args):
    T, eps, err = [], [], []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise cli.AnalysisError("--run '%s': expected PROPERTIES:DIPOLES[:T]" % spec)
        temp = float(parts[2]) if len(parts) == 3 else None
        run = run_data.load_files(parts[1], properties=parts[0], temperature=temp, volume_a3=args.volume,
                                  cell_from=args.cell_from, skip=args.skip)
        r = dielectric.analyse(run, args.eps_inf, args.blocks)
        T.append(r["temperature_K"])
        eps.append(r["eps_r"])
        err.append(r["eps_r_err"])
        print("# run %s: T = %.3f K, eps_r = %.6g +- %.3g" % (spec, T[-1], eps[-1], err[-1]))
    return np.array(T), np.array(eps), np.array(err)


def main():
    p = cli.make_parser(__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--table", metavar="FILE", help="T(K) eps err table")
    src.add_argument("--run", action="append", metavar="PROPS:DIPOLES[:T]", help="an i-PI run (repeat)")
    p.add_argument("--skip", type=int, default=0, help="--run: equilibration frames to drop in every run")
    p.add_argument("--blocks", type=int, default=10, help="--run: jackknife blocks (default 10)")
    p.add_argument("--eps-inf", type=float, default=1.0, help="--run: eps_inf of the fluctuation formula (default 1)")
    p.add_argument("--volume", type=float, metavar="A3", help="--run: fixed volume for every run, Å^3")
    p.add_argument("--cell-from", metavar="XYZ", help="--run: fixed cell for every run from an i-PI xyz file")
    p.add_argument("--fix-eps-inf", type=float, metavar="E", help="fix eps_inf_T (fit only C and Tc)")
    p.add_argument("--atoms", type=int, metavar="N", help="figure title: number of atoms of the simulated cell")
    p.add_argument("--model", metavar="GAPD", help="figure title: the model file the runs used")
    p.add_argument("--png", help="plot of eps(T) with the fit and 1/eps(T)")
    a = p.parse_args()
    T, eps, err = read_table(a.table) if a.table else eps_of_runs(a.run, a)
    r = fit(T, eps, err, a.fix_eps_inf)
    print("Curie-Weiss eps(T) = C/(T - Tc) + eps_inf_T over %d temperatures %.6g..%.6g K" % (len(T), T.min(), T.max()))
    print("C         = %.6g +- %.3g K" % (r["C"], r["C_err"]))
    print("Tc        = %.6g +- %.3g K%s" % (r["Tc"], r["Tc_err"], "  (AT THE BOUND min(T): no divergence below the data)"
                                            if r["tc_at_bound"] else ""))
    print("eps_inf_T = %.6g +- %.3g%s" % (r["eps_inf"], r["eps_inf_err"], " (fixed)" if a.fix_eps_inf is not None else ""))
    print("chi2/dof  = %.4g / %d" % (r["chi2"], r["dof"]))
    if a.png:
        title = "Curie-Weiss fit, %d temperatures %.0f-%.0f K" % (len(T), T.min(), T.max())
        what = cli.describe(atoms=a.atoms, model=a.model)
        fig = plot(T, eps, err, r, title + (": " + what if what else ""))
        cli.savefig(fig, a.png)
        print("wrote %s" % a.png)


def plot(T, eps, err, r, title):
    """Figure: eps(T) with the fit, and 1/eps(T); returned, not saved."""
    plt = cli.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    tt = np.linspace(max(T.min() - 0.05 * np.ptp(T), r["Tc"] + 0.02 * np.ptp(T)), T.max() + 0.05 * np.ptp(T), 200)
    fit_eps = curie_weiss(tt, r["C"], r["Tc"], r["eps_inf"])
    ax1.errorbar(T, eps, err, fmt="o", label="data")
    ax1.plot(tt, fit_eps, "-", label="C/(T-Tc)+eps_inf:\nC=%.3g K, Tc=%.4g K" % (r["C"], r["Tc"]))
    ax1.set_xlabel("T (K)")
    ax1.set_ylabel("static dielectric constant $\\varepsilon_r$")
    ax1.set_title("$\\varepsilon_r(T)$")
    ax1.legend(loc="best")
    ax2.errorbar(T, 1 / eps, err / eps ** 2, fmt="o", label="data")
    ax2.plot(tt, 1 / fit_eps, "-", label="fit")
    ax2.set_xlabel("T (K)")
    ax2.set_ylabel("$1/\\varepsilon_r$")
    ax2.set_title("inverse: linear in T for $\\varepsilon_\\infty = 0$")
    ax2.legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    cli.run(main)
