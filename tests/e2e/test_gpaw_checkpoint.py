#!/usr/bin/python3
"""scripts/dft/gpaw_dipoles.py resumes an unfinished SCF: a worker killed after writing a checkpoint leaves
scf_checkpoint.gpw, the next call resumes from it (fewer SCF iterations) and gives the dipole of an
uninterrupted run; a checkpoint of other positions is not resumed. A 5-atom cell with light settings (PBE,
Debian's setups, 250 eV, 2x2x2 k; ~1 min). Needs Debian's gpaw (python3-gpaw): exit 77 = skipped without it.
"""
import multiprocessing
import os
import sys
import tempfile
import time

import numpy as np
import ase

import e2e_common as common

try:
    import gpaw  # noqa: F401
except ImportError:
    print("SKIP: Debian's gpaw is not installed (apt-get install gpaw)")
    sys.exit(common.SKIP)

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts", "dft"))
import gpaw_dipoles  # noqa: E402

gpaw_dipoles.SETTINGS.update(ecut_eV=250.0, density_convergence=1e-5)
KPTS = [2, 2, 2]
check = common.Checks()


def cell(shift=0.0):
    return ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .53 + shift), (.5, .5, 0), (.5, 0, .5),
                                                 (0, .5, .5)], cell=[4.0, 4.0, 4.02], pbc=True)


def run(rundir, atoms, every):
    return gpaw_dipoles.berry_phase_dipole(atoms, rundir, "PBE", kpts=KPTS, checkpoint_every=every)


def scf_iterations(rundir):
    with open(os.path.join(rundir, "gpaw.txt")) as f:
        return [line for line in f if line.startswith("iter:")]


with tempfile.TemporaryDirectory() as tmp:
    clean, resumed, stale = (os.path.join(tmp, d) for d in ("clean", "resumed", "stale"))
    for d in (clean, resumed, stale):
        os.makedirs(d)
    t0 = time.time()
    m_clean, _, e_clean = run(clean, cell(), 0)
    full = len(scf_iterations(clean))
    check.that(not [f for f in os.listdir(clean) if f.startswith("scf_checkpoint") or f.endswith(".gpw")],
               "an uninterrupted run leaves no checkpoint or .gpw: %s" % os.listdir(clean))
    print(f"uninterrupted: {full} SCF iterations, {time.time() - t0:.1f} s, M = {np.round(m_clean, 5).tolist()}")

    # A worker killed once a checkpoint exists.
    checkpoint = os.path.join(resumed, "scf_checkpoint.gpw")
    worker = multiprocessing.get_context("fork").Process(target=run, args=(resumed, cell(), 2))
    worker.start()
    while worker.is_alive() and not os.path.exists(checkpoint):
        time.sleep(0.05)
    worker.kill()
    worker.join()
    check.that(os.path.exists(checkpoint), "the killed worker left a checkpoint")
    before = len(scf_iterations(resumed))
    m_resumed, _, e_resumed = run(resumed, cell(), 2)
    after = len(scf_iterations(resumed)) - before
    print(f"killed after {before} iterations; resumed for {after} more")
    check.that(after < full, f"the resumed SCF needs fewer iterations than a fresh one ({after} < {full})")
    check.that(np.allclose(m_resumed, m_clean, atol=2e-4) and abs(e_resumed - e_clean) < 1e-4,
               f"resumed = uninterrupted: M {np.round(m_resumed, 5).tolist()}, dE {e_resumed - e_clean:.2e} eV")
    check.that(not os.path.exists(checkpoint), "the checkpoint is removed once the dipole is done")

    # A checkpoint of other positions (the structure moved) is not resumed.
    worker = multiprocessing.get_context("fork").Process(target=run, args=(stale, cell(0.02), 2))
    worker.start()
    stale_checkpoint = os.path.join(stale, "scf_checkpoint.gpw")
    while worker.is_alive() and not os.path.exists(stale_checkpoint):
        time.sleep(0.05)
    worker.kill()
    worker.join()
    m_stale, _, _ = run(stale, cell(), 2)
    check.that(np.allclose(m_stale, m_clean, atol=2e-4), "a stale checkpoint is discarded, not resumed")

check.exit_with_verdict("gpaw_checkpoint")
