#!/usr/bin/python3
"""Energy conservation of an NVE run (i-PI properties file): drift and fluctuation of the conserved quantity.

    drift       slope of a least-squares line through conserved(t), meV/atom/ps
    fluctuation RMS of conserved(t) about that line, meV/atom (and meV for the whole cell)

For comparison it prints the standard deviations of the potential and kinetic energies (what the integrator
exchanges every step) and conserved - kinetic_md - potential, which in NVE is a constant (no thermostat or
barostat term; only the centre-of-mass kinetic energy i-PI removes at step 0), if the file has those columns. The properties need step, time{...}, conserved{electronvolt}
(i-PI's default atomic units are also accepted for the energies).

  conservation.py demo_output/nve/nve.out --atoms 320 [--skip N] [--png nve.png] [--model batio3_default.gapd]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "analysis"))
import cli  # noqa: E402
import ipi_files  # noqa: E402
import units  # noqa: E402


def energy_ev(props, name):
    """Column `name` in eV: electronvolt, or i-PI's default (Hartree); any other unit is an error."""
    values, unit = props.get(name), props.columns[name][1]
    if unit in (None, "", "atomic_unit"):
        return values * units.HARTREE_IN_EV
    if unit == "electronvolt":
        return values
    raise cli.AnalysisError("%s: column '%s' in %s: expected electronvolt or atomic units" % (props.path, name, unit))


def linear_drift(t_ps, e_ev):
    """(slope eV/ps, intercept eV, RMS eV of the residual about the least-squares line)."""
    slope, intercept = np.polyfit(t_ps, e_ev, 1)
    residual = e_ev - (slope * t_ps + intercept)
    return slope, intercept, float(np.sqrt(np.mean(residual ** 2)))


def main():
    p = cli.make_parser(__doc__)
    p.add_argument("properties", help="i-PI properties file of an NVE run (e.g. demo_output/nve/nve.out)")
    p.add_argument("--atoms", type=int, required=True, help="number of atoms (per-atom numbers)")
    p.add_argument("--skip", type=int, default=0, help="drop the first N rows")
    p.add_argument("--model", metavar="GAPD", help="figure title: the model file the run used")
    p.add_argument("--png", help="figure: conserved, kinetic and potential energy (relative to step 0) vs time")
    a = p.parse_args()
    if a.atoms < 1:
        raise cli.AnalysisError("--atoms must be at least 1")
    props = ipi_files.Properties(a.properties)
    t_ps = props.si("time", "time")[a.skip:] * 1e12
    cons = energy_ev(props, "conserved")[a.skip:]
    if len(t_ps) < 3:
        raise cli.AnalysisError("%s: %d rows after --skip %d, need at least 3" % (a.properties, len(t_ps), a.skip))
    slope, intercept, rms = linear_drift(t_ps, cons)
    dt_fs = np.median(np.diff(t_ps)) * 1e3
    print("# NVE energy conservation: %s, %d rows, t = %.4f..%.4f ps, dt = %.3g fs, %d atoms"
          % (a.properties, len(t_ps), t_ps[0], t_ps[-1], dt_fs, a.atoms))
    print("drift        = %.4g meV/atom/ps   (%.4g meV/ps for the cell; linear fit)" % (slope * 1e3 / a.atoms, slope * 1e3))
    print("fluctuation  = %.4g meV/atom      (%.4g meV for the cell; RMS about the fit)" % (rms * 1e3 / a.atoms, rms * 1e3))
    print("max |E - E0| = %.4g meV/atom" % (np.max(np.abs(cons - cons[0])) * 1e3 / a.atoms))
    if props.has("potential") and props.has("kinetic_md"):
        pot = energy_ev(props, "potential")[a.skip:]
        kin = energy_ev(props, "kinetic_md")[a.skip:]
        print("std potential = %.4g meV/atom, std kinetic = %.4g meV/atom (exchanged by the integrator)"
              % (np.std(pot) * 1e3 / a.atoms, np.std(kin) * 1e3 / a.atoms))
        rest = cons - kin - pot
        print("conserved - kinetic - potential = %.4g meV, spread %.3g meV (NVE: constant, the centre-of-mass kinetic "
              "energy i-PI removes at step 0)" % (rest[0] * 1e3, np.ptp(rest) * 1e3))
        if a.png:
            temp = props.si("temperature", "temperature")[a.skip:] if props.has("temperature") else None
            title = "NVE, dt = %.3g fs: %s" % (dt_fs, cli.describe(temp, a.atoms, a.model, len(t_ps)))
            fig = plot(t_ps, pot, kin, cons, slope, intercept, a.atoms, title)
            cli.savefig(fig, a.png)
            print("wrote %s" % a.png)
    elif a.png:
        raise cli.AnalysisError("%s: --png needs the potential and kinetic_md columns" % a.properties)



def plot(t_ps, pot, kin, cons, slope, intercept, atoms, title):
    """Figure: energies relative to step 0, and the conserved quantity with its linear fit; returned, not saved."""
    plt = cli.pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(13, 5))
    ax[0].plot(t_ps, (pot - pot[0]) * 1e3 / atoms, label="potential")
    ax[0].plot(t_ps, (kin - kin[0]) * 1e3 / atoms, label="kinetic")
    ax[0].plot(t_ps, (cons - cons[0]) * 1e3 / atoms, label="conserved")
    ax[0].set_xlabel("t (ps)")
    ax[0].set_ylabel("E - E(0) (meV/atom)")
    ax[0].set_title("energies exchanged by the integrator")
    ax[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)     # below: the curves fill the axes
    ax[1].plot(t_ps, (cons - cons[0]) * 1e3 / atoms, lw=0.8, label="conserved")
    ax[1].plot(t_ps, (slope * t_ps + intercept - cons[0]) * 1e3 / atoms, "k--",
               label="fit: %.3g meV/atom/ps" % (slope * 1e3 / atoms))
    ax[1].set_xlabel("t (ps)")
    ax[1].set_ylabel("conserved - conserved(0) (meV/atom)")
    ax[1].set_title("conserved quantity and drift")
    ax[1].legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig

if __name__ == "__main__":
    cli.run(main)
