#!/usr/bin/python3
"""Frequency-dependent dielectric susceptibility from the dipole autocorrelation of an MD run (i-PI files).

    chi(w) = (eps_inf - 1) + (eps_r - eps_inf) (1 - i w L(w)),   L(w) = Integral_0^tmax C(t) W(t) e^{-i w t} dt
    C(t)   = <dM(0).dM(t)> / <dM.dM>,  dM = M - <M>     (normalized; --component x|y|z uses one component)

With the default eps_inf = 1 this is chi(w) = (eps_r - 1)(1 - i w L(w)); chi(0) = eps_r - 1 exactly. eps_r
comes from the same fluctuation formula as dielectric.py (trace/3 for iso, eps_aa for one component). For
C(t) = exp(-t/tau) (Debye): chi = (eps_r - 1) / (1 + i w tau). Sign convention e^{-i w t}: the loss
chi'' = -Im chi is >= 0 and is what the table and plot show.

C(t): FFT autocorrelation (zero-padded to >= 2n, no wrap-around), unbiased (lag k divided by n - k).
Window W(t) on [0, tmax]: hann (default) W = cos^2(pi t / (2 tmax)), 1 at t = 0 and 0 at tmax, damping the
noisy tail; none: W = 1 up to tmax (a sharp cut: ringing in chi). L(w): exact integral of the linear
interpolant of C W (Filon-trapezoid), evaluated for all frequencies with one FFT zero-padded to --pad x the
window length; this keeps 1 - i w L -> 0 at high w, which a plain trapezoid sum does not.

IR absorption: with eps'' = chi'', the absorption coefficient times the refractive index is
    alpha(w) n(w) = w eps''(w) / c        (cm^-1; classical line shape, as the MD is classical)
which is what an IR (or THz) transmission experiment measures up to n(w); the soft polar modes of BaTiO3 sit
at a few THz (tens to ~200 cm^-1), the stiffer Ti-O and O modes at ~5-20 THz.

Error bars: block jackknife (--blocks B contiguous blocks; each sample is the run without one block, with its own
<dM^2>, eps_r and C(t), pairs never spanning the gap), so the band of chi', chi'' and alpha n includes the
uncertainty of eps_r (chi(0) = eps_r - 1 carries exactly eps_r's error). Blocks must be much longer than the
dipole's correlation time, and the run without a block longer than --tmax.

Output: a table (THz, cm^-1, chi', chi'', alpha n in cm^-1, then the errors of chi', chi'' and alpha n) and a PNG
with C(t) W(t), chi' and chi'' with their error bands, and the IR absorption against wavenumber.

  susceptibility.py --dipoles sim.dipole_0 --properties sim.out --cell-from init.xyz --skip 1000 \\
      --tmax 2 -o chi.dat --png chi.png
"""

import math
import sys

import numpy as np

import blocking
import cli
import dielectric
import run_data
import units

_COMPONENTS = {"iso": None, "x": 0, "y": 1, "z": 2}


def _lag_sums(x):
    """sum_i x_i . x_{i+k} for lags k = 0..n-1 of the rows of x (n, k) (FFT, zero-padded: no wrap-around)."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    size = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(x, n=size, axis=0)
    return np.fft.irfft(np.sum(np.abs(f) ** 2, axis=1), n=size)[:n]


def pieces_autocorrelation(x, idx, nlag):
    """Unbiased autocorrelation, lags 0..nlag-1, of the rows of x, which are the frames idx of a run, pairing
    frames only within runs of consecutive indices (a jackknife sample leaves a block out: no pair spans the gap)."""
    cuts = np.nonzero(np.diff(idx) != 1)[0] + 1
    sums, counts = np.zeros(nlag), np.zeros(nlag)
    for piece in np.split(np.arange(len(idx)), cuts):
        m = min(len(piece), nlag)
        sums[:m] += _lag_sums(x[piece])[:m]
        counts[:m] += len(piece) - np.arange(m)
    if counts[-1] == 0:
        raise TooShortForBlocks("--tmax is longer than the run left when one of the --blocks is taken out")
    return sums / counts


class TooShortForBlocks(cli.AnalysisError):
    """A jackknife sample is shorter than the correlation window: chi has no error band."""


def window(kind, nlag):
    """Window values for lags 0..nlag-1 (tmax at lag nlag - 1)."""
    if kind == "none":
        return np.ones(nlag)
    if kind == "hann":
        return np.cos(0.5 * math.pi * np.arange(nlag) / (nlag - 1)) ** 2
    raise cli.AnalysisError("unknown --window '%s' (hann, none)" % kind)


def _half_hat(theta):
    """Integral_0^1 (1 - u) e^{-i theta u} du, stable at small theta."""
    theta = np.asarray(theta, dtype=float)
    re = 0.5 * np.sinc(theta / (2 * math.pi)) ** 2        # 2 sin^2(theta/2) / theta^2
    small = np.abs(theta) < 1e-2
    t = np.where(small, 1.0, theta)
    im = np.where(small, -theta / 6 + theta ** 3 / 120, (np.sin(t) - t) / t ** 2)
    return re + 1j * im


def one_sided_transform(g, dt, pad=4):
    """L(w_j) = Integral_0^{(m-1) dt} g(t) e^{-i w_j t} dt for the linear interpolant of the samples g (m,),
    w_j = 2 pi j / (size dt), j = 0..size/2, size = power of two >= pad * m. Returns (w (rad/s), L)."""
    m = len(g)
    size = 1 << int(math.ceil(math.log2(max(pad, 1) * m)))
    theta = 2 * math.pi * np.arange(size // 2 + 1) / size
    s = np.fft.fft(g, n=size)[: size // 2 + 1]
    full = np.sinc(theta / (2 * math.pi)) ** 2              # interior hat functions
    h0 = _half_hat(theta)                                    # first node: half hat [0, dt]
    hk = np.conj(h0) * np.exp(-1j * theta * (m - 1))         # last node: half hat [(m-2) dt, (m-1) dt]
    L = dt * (full * s + g[0] * (h0 - full) + g[-1] * (hk - full * np.exp(-1j * theta * (m - 1))))
    return theta / dt, L


def analyse(run, dt, tmax=None, window_kind="hann", component="iso", eps_inf=1.0, blocks=10, pad=4):
    """Dict: t (s), C, W, omega (rad/s), chi (complex), chi_err (complex: the block-jackknife errors of chi' and
    chi''), eps_r (of the component), eps_r_err. chi, eps_r and their errors are one estimator: each jackknife
    sample (the run without one of the blocks) gives its own eps_r and C(t)."""
    if component not in _COMPONENTS:
        raise cli.AnalysisError("unknown --component '%s' (iso, x, y, z)" % component)
    n = len(run)
    nlag = n // 4 if tmax is None else int(round(tmax / dt)) + 1
    if nlag < 3 or nlag > n:
        raise cli.AnalysisError("--tmax gives %d lags; need 3..%d (the run has %d frames of %g fs)"
                                % (nlag, n, n, dt * 1e15))
    c = _COMPONENTS[component]
    M, V, T = run.dipoles, run.volume, run.temperature
    W = window(window_kind, nlag)

    def estimate(idx):
        """eps_r - eps_inf, C(t) and chi(w) of the frames idx."""
        tensor = dielectric.fluctuation_tensor(M[idx], V[idx], T[idx])
        strength = np.trace(tensor) / 3.0 if c is None else tensor[c, c]
        dM = M[idx] - M[idx].mean(axis=0)
        acf = pieces_autocorrelation(dM if c is None else dM[:, c], idx, nlag)
        if not acf[0] > 0:
            raise cli.AnalysisError("the dipole does not fluctuate (<dM^2> = 0): no susceptibility")
        C = acf / acf[0]
        omega, L = one_sided_transform(C * W, dt, pad)
        return strength, C, omega, (eps_inf - 1.0) + strength * (1.0 - 1j * omega * L)

    strength, C, omega, chi = estimate(np.arange(n))

    def flat(idx):
        s, _, _, x = estimate(idx)
        return np.concatenate([[s], x.real, x.imag])

    nw, note = len(omega), None
    try:
        _, err = blocking.jackknife(flat, n, blocks)
    except TooShortForBlocks as e:
        # chi itself is fine; only its band needs the shorter samples. eps_r's error needs no window.
        eps = dielectric.analyse(run, eps_inf, blocks)
        eps_err = eps["eps_r_err"] if c is None else eps["eps_tensor_err"][c][c]
        err = np.concatenate([[eps_err], np.full(2 * nw, np.nan)])
        note = f"no error band for chi(w): {e} (fewer --blocks or a shorter --tmax give one)"
    return {"t": dt * np.arange(nlag), "C": C, "W": W, "omega": omega, "chi": chi,
            "chi_err": err[1:1 + nw] + 1j * err[1 + nw:], "eps_r": eps_inf + strength, "eps_r_err": err[0],
            "tmax": dt * (nlag - 1), "frames": n, "blocks": blocks, "error_note": note}


def ir_absorption(omega, chi_loss):
    """alpha(w) n(w) = w chi''(w) / c in cm^-1 (omega in rad/s)."""
    return np.asarray(omega) * np.asarray(chi_loss) / units.SPEED_OF_LIGHT / 100.0


def main():
    p = cli.make_parser(__doc__)
    run_data.add_arguments(p)
    p.add_argument("--dt", type=float, metavar="FS",
                   help="time between dipole frames in fs (default: from the properties' time column)")
    p.add_argument("--tmax", type=float, metavar="PS", help="correlation window length in ps (default: run/4)")
    p.add_argument("--window", default="hann", help="hann (default) or none")
    p.add_argument("--component", default="iso", help="iso (default: all three, eps_r = trace/3), x, y or z")
    p.add_argument("--eps-inf", type=float, default=1.0, help="electronic dielectric constant (default 1)")
    p.add_argument("--blocks", type=int, default=10,
                   help="jackknife blocks for the errors of eps_r and chi(w) (default 10; each much longer than the "
                        "dipole's correlation time)")
    p.add_argument("--pad", type=int, default=4, help="zero padding factor of the frequency grid (default 4)")
    p.add_argument("--fmax", type=float, metavar="THZ", help="highest frequency written (default: Nyquist)")
    p.add_argument("-o", "--output", default="susceptibility.dat", help="table (default susceptibility.dat)")
    p.add_argument("--png", help="plot file (PNG)")
    a = p.parse_args()
    run = run_data.load(a)
    dt = run.timestep(a.dt)
    r = analyse(run, dt, None if a.tmax is None else cli.positive(a.tmax, "--tmax") * 1e-12, a.window,
                a.component, a.eps_inf, a.blocks, a.pad)
    thz = units.angular_frequency_to_thz(r["omega"])
    keep = thz <= (a.fmax if a.fmax is not None else np.inf)
    header = ("susceptibility chi(w), component %s, %d frames, dt %.6g fs, tmax %.6g ps, window %s\n"
              "eps_r = %.6g +- %.3g (eps_inf %g); chi'' = -Im chi (loss, convention e^{-i w t})\n"
              "errors: %s\n"
              "freq_THz  wavenumber_cm-1  chi_real  chi_loss  ir_alpha_n_cm-1 (= w chi''/c)  chi_real_err  "
              "chi_loss_err  ir_alpha_n_err"
              % (a.component, r["frames"], dt * 1e15, r["tmax"] * 1e12, a.window, r["eps_r"], r["eps_r_err"],
                 a.eps_inf, r["error_note"] or "block jackknife with %d blocks" % r["blocks"]))
    table = np.column_stack([thz, units.angular_frequency_to_wavenumber(r["omega"]), r["chi"].real,
                             -r["chi"].imag, ir_absorption(r["omega"], -r["chi"].imag), r["chi_err"].real,
                             r["chi_err"].imag, ir_absorption(r["omega"], r["chi_err"].imag)])[keep]
    np.savetxt(a.output, table, header=header, fmt="%.8g")
    print("wrote %s (%d frequencies); eps_r = %.6g +- %.3g, chi(0) = %.6g"
          % (a.output, len(table), r["eps_r"], r["eps_r_err"], r["chi"][0].real))
    if r["error_note"]:
        print("susceptibility.py: " + r["error_note"], file=sys.stderr)
    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.rcParams.update({"font.size": 12})
        fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5))
        ax1.plot(r["t"] * 1e12, r["C"], label="C(t)")
        ax1.plot(r["t"] * 1e12, r["C"] * r["W"], label="C(t) W(t)")
        ax1.set_xlabel("t (ps)")
        ax1.set_ylabel("normalized dipole autocorrelation")
        ax1.set_title("dipole autocorrelation")
        ax1.legend(loc="best")
        f = table[1:, 0]
        for col, label in ((2, "chi'"), (3, "chi''")):
            line, = ax2.semilogx(f, table[1:, col], label=label)
            ax2.fill_between(f, table[1:, col] - table[1:, col + 3], table[1:, col] + table[1:, col + 3],
                             color=line.get_color(), alpha=0.25, linewidth=0)
        ax2.set_xlabel("frequency (THz)")
        ax2.set_ylabel("susceptibility (dimensionless)")
        ax2.set_title("chi(w), eps_r = %.3g +- %.2g (bands: jackknife)" % (r["eps_r"], r["eps_r_err"]))
        ax2.legend(loc="best")
        ax3.plot(table[1:, 1], table[1:, 4])
        ax3.fill_between(table[1:, 1], table[1:, 4] - table[1:, 7], table[1:, 4] + table[1:, 7], alpha=0.25,
                         linewidth=0)
        ax3.set_xlabel("wavenumber (cm$^{-1}$)")
        ax3.set_ylabel(r"IR absorption $\alpha n = \omega \chi''/c$ (cm$^{-1}$)")
        ax3.set_title("IR absorption (classical)")
        # Show the band where the model absorbs: up to 1.5x the last wavenumber above 1% of the peak.
        absorbing = np.nonzero(table[1:, 4] > 0.01 * table[1:, 4].max())[0] if table[1:, 4].max() > 0 else []
        top = 1.5 * table[1 + absorbing[-1], 1] if len(absorbing) else table[-1, 1]
        ax3.set_xlim(0, min(top, table[-1, 1]))
        temperature = float(np.mean(run.temperature)) if run.temperature is not None else float("nan")
        fig.suptitle("%s: %d frames of %.3g fs, T = %.0f K, component %s, window %s to %.3g ps"
                     % (a.dipoles, r["frames"], dt * 1e15, temperature, a.component, a.window, r["tmax"] * 1e12))
        fig.tight_layout()
        cli.savefig(fig, a.png)
        print("wrote %s" % a.png)


if __name__ == "__main__":
    cli.run(main)
