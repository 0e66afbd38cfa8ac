#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): ipi_inputs/mts (BaTiO3, 320 atoms, multiple time stepping
<nmts> [1, 4]: a cheap model on the inner level, the full model's correction on the outer level) run through its
run.sh for a few outer steps. Test models: full = tests/data/librascal/model_small_zeta4_exact.json, cheap =
model_small_zeta2_exact.json (both synthetic, same training data), two `gapd serve -v` clients.

Checks: i-PI and both gapd exit 0, every outer step in the properties file; the full client answered exactly
steps + 1 requests and the cheap one 4 x steps + 1 (one call per inner step; i-PI reuses the cheap force at the
outer level's positions); the potential i-PI reports is the full model's (pot_component_raw(0)) at every step,
i.e. the weights [1, 0] and [-1, 1] cancel the cheap model; and the final potentials of both components equal
`gapd predict` with the full and the cheap model on the final structure of i-PI's RESTART (1e-6 relative, i-PI's
9 printed digits). Prints the conserved-quantity drift.

Without IPI_ROOT: prints a skip message and exits 77.
"""

import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

NMTS = 4  # <nmts> [ 1, 4 ] of ipi_inputs/mts/input.xml
E_REL_TOL = 1e-6
FULL = os.path.join(common.SOURCE_DIR, "tests", "data", "librascal", "model_small_zeta4_exact.json")
CHEAP = common.SMALL_MODEL


def body(a, gapd, workdir):
    run_dir = os.path.join(workdir, "mts")
    _, out = common.run_ipi_input("mts", gapd, run_dir, a.timeout * 0.8, args=[FULL, CHEAP],
                                  env={"STEPS": str(a.steps), "GAPD_EXTRA_ARGS": "-v"})
    print(out.rstrip())
    n_full = common.gapd_request_count(os.path.join(run_dir, "gapd_full.log"))
    n_cheap = common.gapd_request_count(os.path.join(run_dir, "gapd_cheap.log"))
    print("requests: full %s (expected %d), cheap %s (expected %d)"
          % (n_full, a.steps + 1, n_cheap, NMTS * a.steps + 1))
    if n_full != a.steps + 1 or n_cheap != NMTS * a.steps + 1:
        raise TestFailure("request counts full %s, cheap %s" % (n_full, n_cheap))

    columns, rows = common.read_complete_ipi_properties(os.path.join(run_dir, "mts.out"), a.steps, "mts")
    pot = common.ipi_column(columns, rows, "potential{electronvolt}")
    pot_full = common.ipi_column(columns, rows, "pot_component_raw(0){electronvolt}")
    pot_cheap = common.ipi_column(columns, rows, "pot_component_raw(1){electronvolt}")
    cons = common.ipi_column(columns, rows, "conserved{electronvolt}")
    if not np.max(np.abs(pot - pot_full)) <= 1e-9 * np.max(np.abs(pot_full)):
        raise TestFailure("potential is not the full model's: max |potential - full| = %.3g eV"
                          % np.max(np.abs(pot - pot_full)))

    symbols = common.template_symbols(os.path.join(run_dir, "init.xyz"))
    frame = common.read_ipi_checkpoint_frame(os.path.join(run_dir, "RESTART"), symbols)
    e_full = common.gapd_predict_energy(gapd, FULL, frame, workdir, "final_full")
    e_cheap = common.gapd_predict_energy(gapd, CHEAP, frame, workdir, "final_cheap")
    rel_full = abs(pot_full[-1] - e_full) / abs(e_full)
    rel_cheap = abs(pot_cheap[-1] - e_cheap) / abs(e_cheap)
    print("final step: full i-PI %.6f / gapd predict %.6f eV (rel %.1e); cheap i-PI %.6f / gapd predict "
          "%.6f eV (rel %.1e); full - cheap = %.4f eV" % (pot_full[-1], e_full, rel_full, pot_cheap[-1],
                                                       e_cheap, rel_cheap, e_full - e_cheap))
    print("conserved: %.6f -> %.6f eV over %d outer steps (%d fs): %.2e eV/atom/ps"
          % (cons[0], cons[-1], a.steps, 4 * a.steps,
             (cons[-1] - cons[0]) / len(symbols) / (4e-3 * a.steps)))
    if not (rel_full <= E_REL_TOL and rel_cheap <= E_REL_TOL):
        raise TestFailure("final potentials differ from gapd predict: full %.2e, cheap %.2e relative"
                          % (rel_full, rel_cheap))


def main():
    return common.ipi_input_test_main("test_ipi_mts", __doc__.split("\n")[0], body, steps=20, timeout=500)


if __name__ == "__main__":
    sys.exit(main())
