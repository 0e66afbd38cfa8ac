#!/usr/bin/python3
"""Steps per second of a real i-PI run in which one i-PI hands out 4 force requests per step (PIMD with 4 beads),
served either by ONE `gapd serve --connections 4 --threads T1` or by FOUR `gapd serve --threads T4` processes
(docs/serving.md). The two set-ups are run alternately (A B B A A B ...) so that a change in the machine's load
hits both alike; the report gives every run and the median per set-up.

Timing comes from i-PI itself: with verbosity='medium' it prints "Average timings at MD step N. t/step: X"
at steps 0, 100, 200, ... (each the mean over the steps since the previous line); the line of step 0 (start-up,
clients connecting) is dropped and steps/s = 1 / mean(t/step) of the others.

  IPI_ROOT=/tmp/i-pi /usr/bin/python3 scripts/bench_connections.py --gapd build/gapd \\
      --model MODEL.gapd [--repeat 2] [--steps 300] [--runs 5] [--threads-one 2] [--threads-each 1]

Without IPI_ROOT (an i-PI checkout, v3.3.0) it prints SKIP and exits 77.

Sessions matter on a loaded Linux machine: with autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled)
the CPU is shared fairly between *sessions*, so four gapd processes in four sessions of their own get four
shares against the other users' jobs, and one gapd process (whatever its thread count) one share. By default
i-PI and all gapd processes run in this script's session, as when one shell script starts them all;
--separate-sessions starts each in its own, to show the effect.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
sys.path.insert(0, HERE)

import e2e_common as common  # noqa: E402
from make_batio3_supercell import build_supercell, ipi_xyz_text  # noqa: E402

SKIP = 77

INPUT = """<simulation verbosity='medium' safe_stride='1000000'>
  <output prefix='bench'>
    <properties stride='100' filename='out'> [ step, potential{{electronvolt}} ] </properties>
  </output>
  <total_steps> {steps} </total_steps>
  <prng> <seed> 12345 </seed> </prng>
  <ffsocket name='gapd' mode='unix' pbc='false'>
    <address> {address} </address>
    <timeout> 120 </timeout>
  </ffsocket>
  <system>
    <initialize nbeads='{beads}'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces> <force forcefield='gapd'> </force> </forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 1.0 </timestep>
        <thermostat mode='pile_l'> <tau units='femtosecond'> 100 </tau> </thermostat>
      </dynamics>
    </motion>
    <ensemble> <temperature units='kelvin'> 300 </temperature> </ensemble>
  </system>
</simulation>
"""

TIMING = re.compile(r"Average timings at MD step\s+(\d+)\. t/step:\s+([0-9.eE+-]+)")


def start(args, argv, log_path, cwd, env=None):
    """Starts a process in this script's session (default) or in a session of its own (--separate-sessions)."""
    if args.separate_sessions:
        return common.start_process(argv, log_path, cwd=cwd, env=env)
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env)


def one_run(args, workdir, setup, run_index):
    """Runs i-PI once with `setup` ('one' or 'four'); returns steps/s from i-PI's own timings."""
    rundir = os.path.join(workdir, "%s_%d" % (setup, run_index))
    os.makedirs(rundir)
    address = "gbench%d_%s%d" % (os.getpid() % 10000, setup, run_index)
    with open(os.path.join(rundir, "input.xml"), "w") as f:
        f.write(INPUT.format(steps=args.steps, address=address, beads=args.beads))
    shutil.copy(os.path.join(workdir, "init.xyz"), rundir)
    env = dict(os.environ, PYTHONPATH=args.ipi_root)
    ipi = start(args, [sys.executable, os.path.join(args.ipi_root, "bin", "i-pi"), "input.xml"],
                os.path.join(rundir, "ipi.log"), rundir, env)
    procs = [ipi]
    try:
        serve = [args.gapd, "serve", "-u", "-a", address, "-m", args.model, "-t", "init.xyz", "--connect-timeout", "60"]
        if setup == "one":
            procs.append(start(args, serve + ["--connections", str(args.beads), "--threads", str(args.threads_one)],
                               os.path.join(rundir, "gapd.log"), rundir))
        else:
            for k in range(args.beads):
                procs.append(start(args, serve + ["--threads", str(args.threads_each)],
                                   os.path.join(rundir, "gapd%d.log" % k), rundir))
        code = common.wait_process(ipi, args.run_timeout, "i-PI (%s)" % setup)
        for p in procs[1:]:
            if common.wait_process(p, 30, "gapd (%s)" % setup) != 0:
                raise common.TestFailure("gapd exited %s in %s" % (p.returncode, rundir))
        if code != 0:
            raise common.TestFailure("i-PI exited %d; see %s" % (code, os.path.join(rundir, "ipi.log")))
    finally:
        for p in procs:
            common.kill_process(p)
    with open(os.path.join(rundir, "ipi.log"), errors="replace") as f:
        blocks = {int(m.group(1)): float(m.group(2)) for m in TIMING.finditer(f.read())}  # printed twice at the end
    blocks = [t for step, t in sorted(blocks.items()) if step >= 100]  # step 0's line times the start-up step
    if not blocks:
        raise common.TestFailure("no i-PI timings from step 100 on in %s (use --steps > 100)" % rundir)
    return 1.0 / statistics.mean(blocks)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--repeat", type=int, default=2, help="n x n x n cubic BaTiO3 cells (5 n^3 atoms; default 2)")
    p.add_argument("--beads", type=int, default=4, help="requests per step = gapd connections/processes (default 4)")
    p.add_argument("--steps", type=int, default=300, help="i-PI steps per run (timed: steps 1 to the last multiple of 100; default 300)")
    p.add_argument("--runs", type=int, default=5, help="runs per set-up, interleaved (default 5)")
    p.add_argument("--threads-one", type=int, default=2, help="--threads of the single gapd (default 2)")
    p.add_argument("--threads-each", type=int, default=1, help="--threads of each of the separate gapd (default 1)")
    p.add_argument("--separate-sessions", action="store_true",
                   help="start i-PI and every gapd in a session of its own (default: all in this script's session)")
    p.add_argument("--run-timeout", type=float, default=900)
    p.add_argument("--workdir", help="keep the runs here (default: a temporary directory, removed)")
    args = p.parse_args()
    args.ipi_root = os.environ.get("IPI_ROOT", "")
    if not args.ipi_root or not os.path.isfile(os.path.join(args.ipi_root, "bin", "i-pi")):
        print("SKIP bench_connections: IPI_ROOT is not set to an i-PI checkout (v3.3.0)")
        return SKIP
    args.gapd = os.path.abspath(args.gapd)
    args.model = os.path.abspath(args.model)
    keep = bool(args.workdir)
    workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="gapd_bc_", dir="/tmp")
    os.makedirs(workdir, exist_ok=True)
    symbols, positions, cell = build_supercell(args.repeat, displacement=0.05, seed=3)
    with open(os.path.join(workdir, "init.xyz"), "w") as f:
        f.write(ipi_xyz_text(symbols, positions, cell))
    print("PIMD, %d beads, %d atoms, model %s, %d steps per run, %s; load average %s"
          % (args.beads, len(symbols), os.path.basename(args.model), args.steps,
             "each process in its own session" if args.separate_sessions else "all processes in one session",
             " ".join(open("/proc/loadavg").read().split()[:3])))
    one_label = "1 gapd --connections %d --threads %d" % (args.beads, args.threads_one)
    four_label = "%d gapd --threads %d" % (args.beads, args.threads_each)
    rates = {"one": [], "four": []}
    for r in range(args.runs):
        order = ("one", "four") if r % 2 == 0 else ("four", "one")
        for setup in order:
            t0 = time.monotonic()
            rate = one_run(args, workdir, setup, r)
            rates[setup].append(rate)
            print("run %d  %-34s %7.2f steps/s  (%.0f s wall)"
                  % (r + 1, one_label if setup == "one" else four_label, rate, time.monotonic() - t0), flush=True)
    print("median  %-34s %7.2f steps/s" % (one_label, statistics.median(rates["one"])))
    print("median  %-34s %7.2f steps/s" % (four_label, statistics.median(rates["four"])))
    print("ratio one/four (medians): %.3f; load average now %s"
          % (statistics.median(rates["one"]) / statistics.median(rates["four"]),
             " ".join(open("/proc/loadavg").read().split()[:3])))
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
