#!/usr/bin/python3
"""dielectric.py: Gaussian dipoles with a known covariance give the known eps tensor within the jackknife error
bars; the error bars match the analytic standard error; --skip removes an equilibration transient."""

import numpy as np

import analysis_common as common
import dielectric
import run_data
import units

V_A3, T_K = 4096.0, 350.0
SIGMA = np.array([[4.0, 1.2, -0.5], [1.2, 2.5, 0.3], [-0.5, 0.3, 1.0]])   # covariance of M, (e*Bohr)^2
MEAN = np.array([3.0, -1.0, 0.5])                                         # e*Bohr


def expected_tensor(eps_inf=1.0):
    return eps_inf * np.eye(3) + SIGMA * units.E_BOHR ** 2 / (
        units.VACUUM_PERMITTIVITY * V_A3 * 1e-30 * units.BOLTZMANN * T_K)


def make_run(M_ebohr):
    n = len(M_ebohr)
    return run_data.Run(np.arange(n), units.e_bohr_to_si(M_ebohr), np.full(n, T_K), np.full(n, V_A3 * 1e-30), None)


def gaussian(n, seed):
    return np.random.default_rng(seed).multivariate_normal(MEAN, SIGMA, size=n)


def test_known_covariance_within_error_bars():
    n = 20000
    r = dielectric.analyse(make_run(gaussian(n, 1)), eps_inf=2.0, blocks=20)
    exp = expected_tensor(2.0)
    got, err = np.array(r["eps_tensor"]), np.array(r["eps_tensor_err"])
    assert np.all(np.abs(got - exp) < 4 * err), (got, exp, err)
    # the jackknife error equals the standard error of a Gaussian covariance, sqrt((S_aa S_bb + S_ab^2) / n)
    scale = units.E_BOHR ** 2 / (units.VACUUM_PERMITTIVITY * V_A3 * 1e-30 * units.BOLTZMANN * T_K)
    analytic = np.sqrt((np.outer(np.diag(SIGMA), np.diag(SIGMA)) + SIGMA ** 2) / n) * scale
    ratio = err / analytic
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    iso = np.trace(exp) / 3
    assert abs(r["eps_r"] - iso) < 4 * r["eps_r_err"], (r["eps_r"], iso, r["eps_r_err"])
    # uncentred form = centred + |<M>|^2 / (3 eps0 V kB T)
    m = np.array(r["mean_dipole_eA"]) / units.BOHR_IN_ANGSTROM
    common.close(r["eps_uncentred"] - r["eps_r"], scale * (m @ m) / 3, 1e-9, "uncentred - centred")


def test_error_bar_coverage():
    # over many independent runs, |eps_r - exact| < 1 sigma about 68 % of the time
    exact = np.trace(expected_tensor()) / 3
    hits = [abs((r := dielectric.analyse(make_run(gaussian(2000, 100 + k)), blocks=10))["eps_r"] - exact)
            < r["eps_r_err"] for k in range(150)]
    frac = np.mean(hits)
    assert 0.55 < frac < 0.82, frac


def test_skip_removes_transient():
    M = gaussian(6000, 7)
    M[:1000] += 50.0                       # a far-off "equilibration" segment
    biased = dielectric.analyse(make_run(M), blocks=10)
    run = make_run(M)
    cut = run_data.Run(run.steps[1000:], run.dipoles[1000:], run.temperature[1000:], run.volume[1000:], None)
    clean = dielectric.analyse(cut, blocks=10)
    exp = np.trace(expected_tensor()) / 3
    assert abs(clean["eps_r"] - exp) < 4 * clean["eps_r_err"]
    assert biased["eps_r"] > 10 * exp


def test_correlated_series_has_larger_error():
    # AR(1) with tau = 20 frames: the jackknife error with long blocks is ~sqrt(2 tau) larger than for i.i.d.
    rng = np.random.default_rng(3)
    n, a = 40000, np.exp(-1 / 20)
    x = np.zeros((n, 3))
    noise = rng.standard_normal((n, 3)) * np.sqrt(1 - a * a)
    for k in range(1, n):
        x[k] = a * x[k - 1] + noise[k]
    corr = dielectric.analyse(make_run(x), blocks=20)["eps_r_err"]
    iid = dielectric.analyse(make_run(rng.standard_normal((n, 3))), blocks=20)["eps_r_err"]
    # variance of a sample variance of AR(1): factor (1 + a^2) / (1 - a^2) ~ 2 tau = 40 -> sqrt ~ 6.3
    assert 4.0 < corr / iid < 9.0, corr / iid


if __name__ == "__main__":
    common.main(globals())
