#!/usr/bin/python3
"""Per-step overhead of i-PI's transports with gapd: UNIX socket vs shared memory (<ffsocket mode='shm'>), and
<ffmpi> when mpirun, mpi4py and a gapd built with MPI are there. 40-atom BaTiO3 NVT by default.

Per route and run: i-PI's own t/step ("Average timings at MD step N. t/step: X" at verbosity='medium', every 100
steps; the line of step 0 is the start-up and is dropped) and gapd's compute time per request (the mean of the
"gapd: request K: ... in X ms" lines of `gapd serve -v`). overhead = t/step - compute: the time of a step spent
outside the model (i-PI's integrator and bookkeeping, and the transport). The routes are run in rotation
(unix shm mpi, shm mpi unix, ...) so that a change of the machine's load hits all alike; medians are reported.

  IPI_ROOT=/tmp/i-pi /usr/bin/python3 scripts/bench_transports.py --gapd build/gapd \\
      [--model M] [--repeat 2] [--steps 500] [--runs 3] [--threads 1] [--routes unix,shm,mpi]

Without IPI_ROOT (an i-PI checkout, v3.3.0) it prints SKIP and exits 77.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
sys.path.insert(0, HERE)

import e2e_common as common  # noqa: E402
from bench_connections import TIMING  # noqa: E402
from make_batio3_supercell import build_supercell, ipi_xyz_text  # noqa: E402

FORCEFIELD = {
    "unix": "<ffsocket name='gapd' mode='unix' pbc='false'> <address> {address} </address> </ffsocket>",
    "shm": "<ffsocket name='gapd' mode='shm' pbc='false'> <address> {address} </address> </ffsocket>",
    "mpi": "<ffmpi name='gapd' pbc='false'> </ffmpi>",
}

INPUT = """<simulation verbosity='medium' safe_stride='1000000'>
  <output prefix='bench'>
    <properties stride='100' filename='out'> [ step, potential{{electronvolt}} ] </properties>
  </output>
  <total_steps> {steps} </total_steps>
  <prng> <seed> 12345 </seed> </prng>
  {forcefield}
  <system>
    <initialize nbeads='1'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces> <force forcefield='gapd'> </force> </forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 1.0 </timestep>
        <thermostat mode='svr'> <tau units='femtosecond'> 100 </tau> </thermostat>
      </dynamics>
    </motion>
    <ensemble> <temperature units='kelvin'> 300 </temperature> </ensemble>
  </system>
</simulation>
"""

REQUEST = re.compile(r"gapd: request \d+: .* in ([0-9.eE+-]+) ms")


def one_run(args, workdir, route, index):
    """(t/step, compute per request) in ms for one i-PI run over `route`."""
    rundir = os.path.join(workdir, "%s_%d" % (route, index))
    os.makedirs(rundir)
    address = "gbt%d_%s%d" % (os.getpid() % 10000, route, index)
    with open(os.path.join(rundir, "input.xml"), "w") as f:
        f.write(INPUT.format(steps=args.steps, forcefield=FORCEFIELD[route].format(address=address)))
    shutil.copy(os.path.join(workdir, "init.xyz"), rundir)
    env = dict(os.environ, PYTHONPATH=args.ipi_root)
    ipi = [sys.executable, os.path.join(args.ipi_root, "bin", "i-pi"), "input.xml"]
    serve = [args.gapd, "serve", "-m", args.model, "-t", "init.xyz", "--threads", str(args.threads), "-v"]
    procs = []
    try:
        if route == "mpi":
            root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
            job = common.start_process(["mpirun", "--oversubscribe"] + root + ["--mca", "btl", "self,vader,tcp", "-n",
                                        "1"] + ipi + [":", "-n", "1"] + serve + ["--mpi"],
                                       os.path.join(rundir, "ipi.log"), cwd=rundir, env=env)
            procs.append(job)
            code = common.wait_process(job, args.run_timeout, "mpirun")
            gapd_log = os.path.join(rundir, "ipi.log")  # one log for the job
        else:
            procs.append(common.start_process(ipi, os.path.join(rundir, "ipi.log"), cwd=rundir, env=env))
            flag = ["--shm"] if route == "shm" else ["-u"]
            procs.append(common.start_process(serve + flag + ["-a", address, "--connect-timeout", "60"],
                                              os.path.join(rundir, "gapd.log"), cwd=rundir))
            code = common.wait_process(procs[0], args.run_timeout, "i-PI")
            common.wait_process(procs[1], 30, "gapd")
            gapd_log = os.path.join(rundir, "gapd.log")
        if code != 0:
            raise common.TestFailure("%s run exited %d; see %s" % (route, code, rundir))
    finally:
        for p in procs:
            common.kill_process(p)
    with open(os.path.join(rundir, "ipi.log"), errors="replace") as f:
        blocks = {int(m.group(1)): float(m.group(2)) for m in TIMING.finditer(f.read())}
    blocks = [t for step, t in sorted(blocks.items()) if step >= 100]
    with open(gapd_log, errors="replace") as f:
        compute = [float(x) for x in REQUEST.findall(f.read())]
    if not blocks or not compute:
        raise common.TestFailure("no i-PI timings or gapd request lines in %s" % rundir)
    return 1e3 * statistics.mean(blocks), statistics.mean(compute[1:] or compute)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True)
    p.add_argument("--model", default=common.SMALL_MODEL)
    p.add_argument("--repeat", type=int, default=2, help="n x n x n cubic BaTiO3 cells (5 n^3 atoms; default 2 = 40)")
    p.add_argument("--steps", type=int, default=500, help="i-PI steps per run (timed from step 100; default 500)")
    p.add_argument("--runs", type=int, default=3, help="runs per route, rotated (default 3)")
    p.add_argument("--threads", type=int, default=1, help="gapd --threads (default 1)")
    p.add_argument("--routes", default="unix,shm,mpi", help="comma-separated: unix, shm, mpi (default all three)")
    p.add_argument("--run-timeout", type=float, default=900)
    p.add_argument("--workdir", help="keep the runs here (default: a temporary directory, removed)")
    args = p.parse_args()
    args.ipi_root = os.environ.get("IPI_ROOT", "")
    if not args.ipi_root or not os.path.isfile(os.path.join(args.ipi_root, "bin", "i-pi")):
        print("SKIP bench_transports: IPI_ROOT is not set to an i-PI checkout (v3.3.0)")
        return common.SKIP
    args.gapd, args.model = os.path.abspath(args.gapd), os.path.abspath(args.model)
    routes = [r for r in args.routes.split(",") if r]
    if "mpi" in routes and not shutil.which("mpirun"):
        print("note: no mpirun, the mpi route is left out")
        routes.remove("mpi")
    workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="gapd_bt_", dir="/tmp")
    os.makedirs(workdir, exist_ok=True)
    symbols, positions, cell = build_supercell(args.repeat, displacement=0.05, seed=3)
    with open(os.path.join(workdir, "init.xyz"), "w") as f:
        f.write(ipi_xyz_text(symbols, positions, cell))
    print("NVT, %d atoms, model %s, gapd --threads %d, %d steps per run; load average %s"
          % (len(symbols), os.path.basename(args.model), args.threads, args.steps,
             " ".join(open("/proc/loadavg").read().split()[:3])))
    results = {r: [] for r in routes}
    for k in range(args.runs):
        for route in routes[k % len(routes):] + routes[:k % len(routes)]:
            step, compute = one_run(args, workdir, route, k)
            results[route].append((step, compute))
            print("run %d  %-5s t/step %7.3f ms  compute %7.3f ms  overhead %7.3f ms"
                  % (k + 1, route, step, compute, step - compute), flush=True)
    print("| route | t/step (ms) | gapd compute (ms) | overhead per step (ms) |")
    print("|---|---|---|---|")
    for route in routes:
        steps = statistics.median(s for s, _ in results[route])
        computes = statistics.median(c for _, c in results[route])
        overhead = statistics.median(s - c for s, c in results[route])
        print("| %s | %.3f | %.3f | %.3f |" % (route, steps, computes, overhead))
    print("load average now %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
