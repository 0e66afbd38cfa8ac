#!/usr/bin/python3
"""susceptibility.py: the one-sided transform against the exact Laplace transform of an exponential, the FFT
autocorrelation against the direct sum, and an Ornstein-Uhlenbeck dipole series (exponential C(t)) against
the Debye susceptibility chi(w) = (eps_r - 1) / (1 + i w tau)."""

import numpy as np

import analysis_common as common
import run_data
import susceptibility
import units


def test_transform_of_exponential_is_exact_laplace():
    dt, tau = 1.0, 20.0
    w, L = susceptibility.one_sided_transform(np.exp(-np.arange(4000) * dt / tau), dt)
    exact = tau / (1 + 1j * w * tau)
    assert np.max(np.abs(L - exact)) < 1e-3 * tau
    # 1 - i w L -> Debye over the whole grid, up to Nyquist (a plain trapezoid sum fails this at high w)
    assert np.max(np.abs((1 - 1j * w * L) - 1 / (1 + 1j * w * tau))) < 1e-3
    assert abs(w[-1] - np.pi / dt) < 1e-12


def test_transform_of_linear_function():
    # g(t) = 1 - t/T on [0, T] is its own linear interpolant: the result is exact to rounding
    m, dt = 101, 0.5
    T = (m - 1) * dt
    w, L = susceptibility.one_sided_transform(1 - np.arange(m) * dt / T, dt, pad=8)
    wn = w[1:]
    exact = 1 / (1j * wn) + (1 - np.exp(-1j * wn * T)) / (wn ** 2 * T)
    assert np.max(np.abs(L[1:] - exact)) < 1e-10 * T
    assert abs(L[0] - T / 2) < 1e-12


def test_fft_autocorrelation_equals_direct_sum():
    x = np.random.default_rng(1).standard_normal((500, 3))
    direct = np.array([np.sum(x[:500 - k] * x[k:]) / (500 - k) for k in range(500)])
    assert np.max(np.abs(susceptibility.pieces_autocorrelation(x, np.arange(500), 500) - direct)) < 1e-12


def ou_run(n, tau_frames, sigma_ebohr, seed):
    rng = np.random.default_rng(seed)
    a = np.exp(-1.0 / tau_frames)
    x = np.empty((n, 3))
    x[0] = rng.standard_normal(3) * sigma_ebohr
    noise = rng.standard_normal((n, 3)) * sigma_ebohr * np.sqrt(1 - a * a)
    for k in range(1, n):
        x[k] = a * x[k - 1] + noise[k]
    dt = 1e-15
    return run_data.Run(np.arange(n), units.e_bohr_to_si(x), np.full(n, 300.0), np.full(n, 512e-30),
                        dt * np.arange(n)), dt


def test_ornstein_uhlenbeck_gives_debye():
    tau = 25.0
    run, dt = ou_run(1 << 17, tau, 2.0, 5)
    for window, tol in (("hann", 0.04), ("none", 0.06)):       # a sharp cut rings more
        r = susceptibility.analyse(run, dt, tmax=20 * tau * dt, window_kind=window, blocks=16)
        t = r["t"] / dt
        assert np.max(np.abs(r["C"][t < 3 * tau] - np.exp(-t[t < 3 * tau] / tau))) < 0.03
        debye = 1 / (1 + 1j * r["omega"] * tau * dt)
        dev = np.abs(r["chi"] / (r["eps_r"] - 1) - debye)
        assert np.max(dev) < tol, (window, np.max(dev), r["omega"][np.argmax(dev)] * tau * dt)
        assert abs(r["chi"][0] - (r["eps_r"] - 1)) < 1e-12 * r["eps_r"]
        loss = -r["chi"].imag
        peak = r["omega"][np.argmax(loss)] * tau * dt           # Debye loss peak at w tau = 1
        assert 0.8 < peak < 1.25, peak
    # and eps_r itself: sigma^2 = 4 (e*Bohr)^2 per component
    exact = 1 + 4.0 * units.E_BOHR ** 2 / (units.VACUUM_PERMITTIVITY * 512e-30 * units.BOLTZMANN * 300.0)
    assert abs(r["eps_r"] - exact) < 4 * r["eps_r_err"], (r["eps_r"], exact, r["eps_r_err"])


def test_pieces_autocorrelation_pairs_only_within_runs():
    # Frames 0-9 and 15-29 of a series (block 10-14 left out): lag k sums pairs (i, i + k) inside each run only.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 3))
    idx = np.concatenate([np.arange(10), np.arange(15, 30)])
    got = susceptibility.pieces_autocorrelation(x[idx], idx, 8)
    for k in range(8):
        pairs = [(i, i + k) for run in (range(10), range(15, 30)) for i in run if i + k in run]
        want = np.mean([x[i] @ x[j] for i, j in pairs])
        assert abs(got[k] - want) < 1e-12, (k, got[k], want)
    # one run: the plain unbiased autocorrelation
    plain = np.array([np.sum(x[:30 - k] * x[k:]) / (30 - k) for k in range(8)])
    assert np.allclose(susceptibility.pieces_autocorrelation(x, np.arange(30), 8), plain)


def test_jackknife_band_matches_the_scatter_of_independent_runs():
    # 60 independent Debye (OU) runs: the mean block-jackknife error of chi' and chi'' at w tau = 0.3, 1, 3 is the
    # standard deviation of chi over the runs (to the ~9% a 60-sample standard deviation carries, and the
    # jackknife's own bias at 10 blocks).
    tau, chis, errs = 20.0, [], []
    for seed in range(60):
        run, dt = ou_run(1 << 13, tau, 2.0, 100 + seed)
        r = susceptibility.analyse(run, dt, tmax=10 * tau * dt, blocks=10)
        wt = r["omega"] * tau * dt
        pick = [int(np.argmin(np.abs(wt - x))) for x in (0.3, 1.0, 3.0)]
        chis.append(r["chi"][pick])
        errs.append(r["chi_err"][pick])
        assert r["chi_err"][0].imag == 0 and abs(r["chi_err"][0].real - r["eps_r_err"]) < 1e-9 * r["eps_r_err"]
    chis, errs = np.array(chis), np.array(errs)
    for part in ("real", "imag"):
        ratio = getattr(errs, part).mean(axis=0) / getattr(chis, part).std(axis=0, ddof=1)
        assert np.all((ratio > 0.7) & (ratio < 1.5)), (part, ratio)


def test_eps_inf_shifts_only_the_constant():
    run, dt = ou_run(4096, 10.0, 1.0, 2)
    a = susceptibility.analyse(run, dt, blocks=8)
    b = susceptibility.analyse(run, dt, eps_inf=4.0, blocks=8)
    # eps_r is the same (eps_inf cancels in eps_r - eps_inf); chi gains eps_inf - 1 = 3 at every frequency
    assert abs(b["eps_r"] - 3.0 - a["eps_r"]) < 1e-12 * a["eps_r"]
    assert np.allclose(b["chi"] - 3.0, a["chi"], rtol=0, atol=1e-9 * a["eps_r"])



def test_ir_absorption_is_omega_chi_loss_over_c():
    # Debye loss chi'' = (eps_r - 1) w tau / (1 + (w tau)^2): alpha n = w chi''/c, in cm^-1, by hand at w tau = 1.
    tau, eps_r = 1e-13, 50.0
    w = 1.0 / tau
    loss = (eps_r - 1) * 0.5
    by_hand = w * loss / 299792458.0 / 100.0
    assert abs(susceptibility.ir_absorption(w, loss) - by_hand) < 1e-12 * by_hand
    assert np.all(susceptibility.ir_absorption(np.array([0.0, 1e13]), np.array([3.0, 0.0])) == 0.0)


if __name__ == "__main__":
    common.main(globals())
