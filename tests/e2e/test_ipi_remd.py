#!/usr/bin/python3
"""End-to-end with a real i-PI ($IPI_ROOT, v3.3.0): ipi_inputs/remd (replica exchange, four BaTiO3 replicas of
320 atoms at 250-295 K) run through its run.sh for a few steps with the small test model and two `gapd serve`
instances on one UNIX socket (REMD_CLIENTS=2, gapd -v, i-PI verbosity high).

Checks: i-PI and both gapd exit 0; every replica's properties file has every step; the two gapd instances
together answered exactly 4 x (steps + 1) requests (the forces of every replica at every step, none lost or
repeated); exchanges were attempted (ipi.log: one line per attempt); and every replica's ensemble temperature
follows the permutations i-PI logged in remd.remd_idx (replica k runs at temperature number i_k from the step
after an accepted exchange), so the README's reading of these files is right. Prints the exchange acceptance
and how the requests were split between the clients.

Without IPI_ROOT: prints a skip message and exits 77.
"""

import os
import sys

import numpy as np

import e2e_common as common
from e2e_common import TestFailure

TEMPERATURES = [250.0, 265.0, 280.0, 295.0]  # the <instance> lines of ipi_inputs/remd/input.xml
CLIENTS = 2


def check_run(run_dir, steps):
    temps = []
    for k in range(len(TEMPERATURES)):
        columns, rows = common.read_complete_ipi_properties(os.path.join(run_dir, "%d_remd.out" % k), steps,
                                                            "replica %d" % k)
        temps.append(common.ipi_column(columns, rows, "ensemble_temperature{kelvin}"))
    temps = np.array(temps)  # replica x step

    log = open(os.path.join(run_dir, "ipi.log"), errors="replace").read()
    accepted, rejected = log.count("@ PT:  SWAPPING replicas"), log.count("SWAP REJECTED BETWEEN replicas")
    if accepted + rejected == 0:
        raise TestFailure("no exchange attempt in ipi.log (verbosity high)")

    # Expected ensemble temperatures from remd.remd_idx: "step i0 i1 i2 i3" written after the exchanges of
    # that step; the properties of step+1 show them.
    perm = list(range(len(TEMPERATURES)))
    changes = {}
    idx_path = os.path.join(run_dir, "remd.remd_idx")
    if os.path.exists(idx_path):
        for line in open(idx_path):
            if line.strip():
                v = [int(x) for x in line.split()]
                changes[v[0]] = v[1:]
    if len(changes) > accepted:
        raise TestFailure("%d permutation changes in remd.remd_idx but only %d accepted exchanges" % (len(changes), accepted))
    for s in range(steps + 1):
        expected = [TEMPERATURES[i] for i in perm]
        if not np.allclose(temps[:, s], expected, rtol=0, atol=1e-3):
            raise TestFailure("step %d: ensemble temperatures %s, expected %s from remd.remd_idx"
                              % (s, temps[:, s].tolist(), expected))
        if s in changes:
            perm = changes[s]
    return accepted, rejected, len(changes)


def body(a, gapd, workdir):
    run_dir = os.path.join(workdir, "remd")
    _, out = common.run_ipi_input("remd", gapd, run_dir, a.timeout * 0.8, args=[common.SMALL_MODEL],
                                  env={"STEPS": str(a.steps), "REMD_CLIENTS": str(CLIENTS),
                                       "IPI_VERBOSITY": "high", "GAPD_EXTRA_ARGS": "-v"})
    print(out.rstrip())
    counts = []
    for k in range(1, CLIENTS + 1):
        n = common.gapd_request_count(os.path.join(run_dir, "gapd_%d.log" % k))
        if n is None:
            raise TestFailure("gapd %d: no 'EXIT from i-PI after N requests' in its log" % k)
        counts.append(n)
    expected = len(TEMPERATURES) * (a.steps + 1)
    print("requests served by the %d gapd instances: %s (total %d, expected %d)"
          % (CLIENTS, counts, sum(counts), expected))
    if sum(counts) != expected:
        raise TestFailure("the gapd instances answered %d requests, expected %d" % (sum(counts), expected))
    accepted, rejected, changes = check_run(run_dir, a.steps)
    print("exchanges: %d attempted, %d accepted (%.0f%%), permutation changed at %d steps; ensemble "
          "temperatures of all replicas follow remd.remd_idx"
          % (accepted + rejected, accepted, 100.0 * accepted / (accepted + rejected), changes))


def main():
    return common.ipi_input_test_main("test_ipi_remd", __doc__.split("\n")[0], body, steps=30, timeout=500)


if __name__ == "__main__":
    sys.exit(main())
