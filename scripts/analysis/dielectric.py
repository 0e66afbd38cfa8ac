#!/usr/bin/python3
"""Static dielectric tensor from the fluctuations of the total dipole M of an MD run (i-PI output files).

    eps_ab = eps_inf delta_ab + (<M_a M_b> - <M_a><M_b>) / (eps0 <V> kB T)          (SI units)
    eps_r  = (eps_xx + eps_yy + eps_zz) / 3
           = eps_inf + (<M.M> - <M>.<M>) / (3 eps0 <V> kB T)        <- the printed isotropic value

M from the extras trajectory (e·Bohr, converted to C·m), V and T from the properties file (or --volume,
--cell-from, --temperature). Averages over the frames after --skip. Error bars: block jackknife (--blocks).
Also printed, for comparison only: the "uncentred" form eps_inf + <M.M>/(3 eps0 <V> kB T), i.e. without the
<M>.<M> term, which equals eps_r only when <M> = 0 (paraelectric phase, or a run that samples all polarization
directions); see docs/analysis.md.

  dielectric.py --dipoles sim.dipole_0 --properties sim.out --skip 1000 --cell-from init.xyz
  dielectric.py --dipoles sim.dipole_0 --properties sim.out --temperature 300 --eps-inf 5.6 --json eps.json
"""

import json
import sys

import numpy as np

import blocking
import cli
import run_data
import units


def fluctuation_tensor(M, volume, temperature):
    """(<M_a M_b> - <M_a><M_b>) / (eps0 <V> kB <T>): M (n, 3) C·m, volume (n,) m^3, temperature (n,) K."""
    dM = M - M.mean(axis=0)
    cov = dM.T @ dM / len(M)
    return cov / (units.VACUUM_PERMITTIVITY * np.mean(volume) * units.BOLTZMANN * np.mean(temperature))


def uncentred_isotropic(M, volume, temperature):
    """<M.M> / (3 eps0 <V> kB <T>)."""
    return np.mean(np.sum(M * M, axis=1)) / (
        3.0 * units.VACUUM_PERMITTIVITY * np.mean(volume) * units.BOLTZMANN * np.mean(temperature))


def analyse(run, eps_inf=1.0, blocks=10):
    """Dict with the tensor, eps_r (trace/3), the uncentred variant, their jackknife errors and run facts."""
    M, V, T = run.dipoles, run.volume, run.temperature

    def estimator(idx):
        t = fluctuation_tensor(M[idx], V[idx], T[idx])
        return np.concatenate([t.ravel(), [np.trace(t) / 3.0, uncentred_isotropic(M[idx], V[idx], T[idx])]])

    value, err = blocking.jackknife(estimator, len(M), blocks)
    tensor = eps_inf * np.eye(3) + value[:9].reshape(3, 3)
    return {
        "eps_tensor": tensor.tolist(), "eps_tensor_err": err[:9].reshape(3, 3).tolist(),
        "eps_r": eps_inf + value[9], "eps_r_err": err[9],
        "eps_uncentred": eps_inf + value[10], "eps_uncentred_err": err[10],
        "eps_inf": eps_inf, "frames": len(M), "blocks": blocks,
        "first_step": int(run.steps[0]), "last_step": int(run.steps[-1]),
        "temperature_K": float(np.mean(T)), "volume_A3": float(np.mean(V) / units.ANGSTROM ** 3),
        "mean_dipole_eA": units.si_to_e_angstrom(M.mean(axis=0)).tolist(),
    }


def main():
    p = cli.make_parser(__doc__)
    run_data.add_arguments(p)
    p.add_argument("--eps-inf", type=float, default=1.0,
                   help="electronic (high-frequency) dielectric constant added on the diagonal (default 1 = vacuum)")
    p.add_argument("--blocks", type=int, default=10, help="number of blocks for the jackknife error (default 10)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    a = p.parse_args()
    r = analyse(run_data.load(a), a.eps_inf, a.blocks)
    out = sys.stdout
    out.write("# static dielectric tensor, %d frames (steps %d..%d), <T> = %.3f K, <V> = %.4f A^3, eps_inf = %g\n"
              % (r["frames"], r["first_step"], r["last_step"], r["temperature_K"], r["volume_A3"], r["eps_inf"]))
    out.write("# <M> = %s e*A; errors: block jackknife with %d blocks\n"
              % (" ".join("%.6g" % x for x in r["mean_dipole_eA"]), r["blocks"]))
    for i, axis in enumerate("xyz"):
        out.write("eps_%s* " % axis + "  ".join("%14.6g +- %-10.3g" % (r["eps_tensor"][i][j], r["eps_tensor_err"][i][j])
                                               for j in range(3)) + "\n")
    out.write("eps_r (isotropic, trace/3, centred)  %.6g +- %.3g\n" % (r["eps_r"], r["eps_r_err"]))
    out.write("eps_uncentred (<M.M>, no <M>^2 term) %.6g +- %.3g\n" % (r["eps_uncentred"], r["eps_uncentred_err"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    cli.run(main)
