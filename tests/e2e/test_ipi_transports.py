#!/usr/bin/python3
"""gapd serve over i-PI 3.3.0's shared-memory (<ffsocket mode='shm'>) and MPI (<ffmpi>) transports, with a real
i-PI from $IPI_ROOT, next to the UNIX socket (40-atom BaTiO3, small model, NVT):

  nvt_unix, nvt_shm, nvt_mpi   each run completes (i-PI exit 0, every step in its properties), gapd exits 0 after
                               EXIT; the step-0 potential and virial of shm and MPI equal the UNIX-socket run's
                               (they carry the same doubles: equal to the last bit); no ipi_shm_* segment is left
  shm_gapd_killed              SIGKILL to gapd --shm in the middle of a request (320 atoms, as the socket fault
                               matrix): i-PI re-queues it, a second gapd --shm finishes the run, i-PI exit 0, no
                               segment left
  mpi_gapd_killed              SIGKILL to the gapd rank mid-run: mpirun ends the whole job (i-PI included) within
                               60 s, exit non-zero; nothing left running (an MPI job cannot lose a rank and go on)
  mpi_sigterm                  SIGTERM to mpirun mid-run: i-PI and gapd leave, no process is left behind (OpenMPI
                               4.1's mpirun kills the ranks ~2 s later, before i-PI's soft exit reaches EXIT)
  mpi_exit_file                i-PI's soft exit (a file EXIT in its directory): i-PI sends EXIT, gapd leaves the
                               job, mpirun exit 0 -- the clean way to end an MPI run early

Without IPI_ROOT: exit 77 (skipped). The MPI rows are skipped (and said so) without mpirun, mpi4py, or a gapd built
with MPI.
"""

import argparse
import glob
import os
import shutil
import signal
import sys
import time

import numpy as np

import e2e_common as common
from e2e_common import TestFailure
from make_batio3_supercell import build_supercell, ipi_xyz_text

FORCEFIELDS = {
    "unix": "<ffsocket name='gapd' mode='unix' pbc='false'><address> {address} </address></ffsocket>",
    "shm": "<ffsocket name='gapd' mode='shm' pbc='false'><address> {address} </address></ffsocket>",
    "mpi": "<ffmpi name='gapd' pbc='false'> </ffmpi>",
}

INPUT = """<simulation verbosity='medium' safe_stride='1' floatformat='%.17e'>
  <output prefix='sim'>
    <properties stride='1' filename='out'> [ step, time{{picosecond}}, potential{{atomic_unit}}, virial_md{{atomic_unit}}, temperature{{kelvin}} ] </properties>
  </output>
  <total_steps> {steps} </total_steps>
  <prng><seed> 31415 </seed></prng>
  {forcefield}
  <system>
    <initialize nbeads='1'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces><force forcefield='gapd'> </force></forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> 2.0 </timestep>
        <thermostat mode='svr'><tau units='femtosecond'> 100 </tau></thermostat>
      </dynamics>
    </motion>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
  </system>
</simulation>
"""


class Env:
    def __init__(self, args, ipi_root, workdir):
        self.gapd, self.ipi_root, self.workdir = args.gapd, ipi_root, workdir
        self.procs = []
        symbols, pos, cell = build_supercell(2, 4.0, displacement=0.05, seed=2024)
        self.init_text = ipi_xyz_text(symbols, pos, cell)
        symbols, pos, cell = build_supercell(4, 4.0, displacement=0.05, seed=2024)
        self.init_text_320 = ipi_xyz_text(symbols, pos, cell)

    def run_dir(self, tag, mode, steps, init_text=None):
        d = os.path.join(self.workdir, tag)
        os.makedirs(d)
        address = "gapd-tr-%s-%d" % (tag, os.getpid())
        with open(os.path.join(d, "init.xyz"), "w") as f:
            f.write(init_text or self.init_text)
        with open(os.path.join(d, "input.xml"), "w") as f:
            f.write(INPUT.format(steps=steps, forcefield=FORCEFIELDS[mode].format(address=address)))
        if os.path.exists("/tmp/ipi_" + address):
            os.unlink("/tmp/ipi_" + address)
        return d, address

    def ipi_cmd(self):
        return [sys.executable, os.path.join(self.ipi_root, "bin", "i-pi"), "input.xml"]

    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = self.ipi_root + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def gapd_cmd(self, d, route, address=None, extra=()):
        cmd = [self.gapd, "serve", "-m", common.SMALL_MODEL, "-t", os.path.join(d, "init.xyz"), "--threads", "1",
               "-v"] + list(extra)
        if route == "mpi":
            return cmd + ["--mpi"]
        return cmd + ["--connect-timeout", "60", "-a", address] + (["--shm"] if route == "shm" else ["-u"])

    def start(self, args, log, cwd=None):
        p = common.start_process(args, log, cwd=cwd, env=self.env())
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            common.kill_process(p, grace=2.0)


def mpirun_prefix():
    extra = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    return ["mpirun", "--oversubscribe"] + extra + ["--mca", "btl", "self,vader,tcp"]


def step0(d, steps):
    columns, rows = common.read_complete_ipi_properties(os.path.join(d, "sim.out"), steps, d)
    return (common.ipi_column(columns, rows, "potential{atomic_unit}")[0],
            np.array(common.ipi_column(columns, rows, "virial_md{atomic_unit}")[0]))


def leftover_segments(pid):
    return glob.glob("/dev/shm/ipi_shm_%d_*" % pid)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def run_nvt(env, route, steps):
    d, address = env.run_dir("nvt_" + route, route, steps)
    t0 = time.time()
    if route == "mpi":
        job = env.start(mpirun_prefix() + ["-n", "1"] + env.ipi_cmd() + [":", "-n", "1"] + env.gapd_cmd(d, "mpi"),
                        os.path.join(d, "job.log"), cwd=d)
        code = common.wait_process(job, 240, "mpirun (i-PI + gapd)")
        text = read(os.path.join(d, "job.log"))
        if code != 0 or "I-PI reports success" not in text or "i-PI sent EXIT" not in text:
            raise TestFailure("MPI job exit %d; log tail:\n%s" % (code, text[-2000:]))
        ipi_pid = None
    else:
        ipi = env.start(env.ipi_cmd(), os.path.join(d, "ipi.log"), cwd=d)
        gapd = env.start(env.gapd_cmd(d, route, address), os.path.join(d, "gapd.log"))
        code = common.wait_process(ipi, 240, "i-PI")
        gcode = common.wait_process(gapd, 30, "gapd after i-PI's EXIT")
        text = read(os.path.join(d, "ipi.log"))
        if code != 0 or "I-PI reports success" not in text:
            raise TestFailure("i-PI exit %d; log tail:\n%s" % (code, text[-2000:]))
        if gcode != 0 or "i-PI sent EXIT" not in read(os.path.join(d, "gapd.log")):
            raise TestFailure("gapd exit %d; log tail:\n%s" % (gcode, read(os.path.join(d, "gapd.log"))[-1500:]))
        ipi_pid = ipi.pid
    wall = time.time() - t0
    pot, vir = step0(d, steps)
    if ipi_pid is not None and leftover_segments(ipi_pid):
        raise TestFailure("segments left in /dev/shm: %s" % leftover_segments(ipi_pid))
    return pot, vir, wall


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TestFailure("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def last_step(d):
    try:
        with open(os.path.join(d, "sim.out")) as f:
            rows = [l.split() for l in f if l.strip() and not l.startswith("#")]
        return int(float(rows[-1][0])) if rows else -1
    except (OSError, ValueError, IndexError):
        return -1


def request_times(log_path):
    return [float(l.split(" in ")[1].split()[0]) / 1e3 for l in read(log_path).splitlines()
            if l.startswith("gapd: request ")]


def row_shm_killed(env):
    """As the socket fault matrix (test_fault_matrix.py, ipi_sigkill_timeout): the kill lands a quarter into a
    long request (320 atoms, --radial exact), when gapd has read POSDATA and GETFORCE. A kill while a request sits
    unread in gapd's socket makes the kernel reset the connection, and i-PI 3.3.0 hangs on a reset whatever the
    transport (docs/ipi.md)."""
    steps = 12
    d, address = env.run_dir("shm_killed", "shm", steps, env.init_text_320)
    ipi = env.start(env.ipi_cmd(), os.path.join(d, "ipi.log"), cwd=d)
    slow = ["--radial", "exact"]
    a_log = os.path.join(d, "gapd_a.log")
    a = env.start(env.gapd_cmd(d, "shm", address, slow), a_log)
    wait_for(lambda: len(request_times(a_log)) >= 2 or ipi.poll() is not None, 120, "two requests served")
    t = request_times(a_log)[-1]
    time.sleep(0.25 * t)
    a.send_signal(signal.SIGKILL)
    a.wait(10)
    killed_at = last_step(d)
    b = env.start(env.gapd_cmd(d, "shm", address), os.path.join(d, "gapd_b.log"))
    code = common.wait_process(ipi, 240, "i-PI after the first gapd was killed")
    bcode = common.wait_process(b, 30, "second gapd")
    if code != 0 or last_step(d) != steps:
        raise TestFailure("i-PI exit %d at step %d of %d; log tail:\n%s" % (code, last_step(d), steps,
                                                                          read(os.path.join(d, "ipi.log"))[-1500:]))
    if bcode != 0:
        raise TestFailure("second gapd exit %d" % bcode)
    if leftover_segments(ipi.pid):
        raise TestFailure("segments left in /dev/shm: %s" % leftover_segments(ipi.pid))
    return ("gapd --shm SIGKILLed %.2f s into a %.2f s request (step %d, 320 atoms): a second gapd --shm finished all "
            "%d steps, i-PI and gapd exit 0, no segment left" % (0.25 * t, t, killed_at, steps))


def pids_with(marker):
    """PIDs of this user's processes whose command line mentions marker (a path unique to one row)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(entry))
            except OSError:
                pass
    return [p for p in out if p != os.getpid()]


def start_mpi_job(env, tag, steps):
    d, _ = env.run_dir(tag, "mpi", steps)
    job = env.start(mpirun_prefix() + ["-n", "1"] + env.ipi_cmd() + [":", "-n", "1"] + env.gapd_cmd(d, "mpi"),
                    os.path.join(d, "job.log"), cwd=d)
    wait_for(lambda: last_step(d) >= 20 or job.poll() is not None, 120, "20 i-PI steps over MPI")
    if job.poll() is not None:
        raise TestFailure("MPI job ended early: %s" % read(os.path.join(d, "job.log"))[-1500:])
    return d, job


def gapd_rank_pid(env, d):
    pids = [p for p in pids_with(os.path.join(d, "init.xyz")) if "serve" in open("/proc/%d/cmdline" % p).read()
            and open("/proc/%d/comm" % p).read().strip() == "gapd"]
    if len(pids) != 1:
        raise TestFailure("expected one gapd rank, found %r" % pids)
    return pids[0]


def row_mpi_killed(env):
    d, job = start_mpi_job(env, "mpi_killed", 5000)
    os.kill(gapd_rank_pid(env, d), signal.SIGKILL)
    killed_at = last_step(d)
    t0 = time.time()
    code = common.wait_process(job, 60, "mpirun after its gapd rank was killed")
    wait_for(lambda: not pids_with(d), 20, "every process of the job to end")
    return ("gapd rank SIGKILLed at step %d: mpirun ended the job in %.1f s (exit %d), i-PI included; nothing left "
            "running" % (killed_at, time.time() - t0, code))


def row_mpi_sigterm(env):
    d, job = start_mpi_job(env, "mpi_sigterm", 5000)
    job.send_signal(signal.SIGTERM)
    at = last_step(d)
    t0 = time.time()
    code = common.wait_process(job, 60, "mpirun after SIGTERM")
    wait_for(lambda: not pids_with(d), 20, "every process of the job to end")
    text = read(os.path.join(d, "job.log"))
    how = "gapd saw i-PI's EXIT" if "i-PI sent EXIT" in text else "no EXIT reached gapd (mpirun ended the ranks)"
    return "SIGTERM to mpirun at step %d: job ended in %.1f s, exit %d; %s" % (at, time.time() - t0, code, how)


def row_mpi_exit_file(env):
    """i-PI's own soft exit (a file named EXIT in its directory): the clean way to stop an MPI job early."""
    d, job = start_mpi_job(env, "mpi_exit_file", 5000)
    open(os.path.join(d, "EXIT"), "w").close()
    at = last_step(d)
    code = common.wait_process(job, 60, "mpirun after i-PI's soft exit")
    text = read(os.path.join(d, "job.log"))
    if code != 0 or "i-PI sent EXIT" not in text:
        raise TestFailure("mpirun exit %d, gapd saw EXIT: %s; log tail:\n%s" % (code, "i-PI sent EXIT" in text,
                                                                            text[-1500:]))
    return "EXIT file at step %d: i-PI sent EXIT, gapd left the job, mpirun exit 0" % at


def mpi_state(gapd):
    r = common.run([gapd, "serve", "--mpi", "-m", common.SMALL_MODEL, "-t", "/nonexistent.xyz"], 60)
    if "built without MPI" in r.stderr:
        return "gapd built without MPI"
    if not shutil.which("mpirun"):
        return "no mpirun"
    if common.run([sys.executable, "-c", "import mpi4py"], 60).returncode != 0:
        return "no mpi4py"
    return "ok"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gapd", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    args.gapd = os.path.abspath(args.gapd)
    ipi_root = os.environ.get("IPI_ROOT", "")
    if not ipi_root or not os.path.isfile(os.path.join(ipi_root, "bin", "i-pi")):
        print("SKIP test_ipi_transports: IPI_ROOT is not set to an i-PI checkout (v3.3.0). To run it: git clone "
              "--branch v3.3.0 https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi ctest -R "
              "e2e_ipi_transports")
        return common.SKIP
    ipi_root = os.path.abspath(ipi_root)

    def body(workdir):
        env = Env(args, ipi_root, workdir)
        checks = common.Checks()
        state = mpi_state(args.gapd)
        results = {}
        try:
            def nvt(route):
                def run():
                    pot, vir, wall = run_nvt(env, route, args.steps)
                    results[route] = (pot, vir)
                    text = "step-0 potential %.17e Ha, %d steps in %.1f s wall" % (pot, args.steps, wall)
                    if route != "unix":
                        if "unix" not in results:
                            raise TestFailure("no UNIX-socket run to compare with")
                        if pot != results["unix"][0] or not np.array_equal(vir, results["unix"][1]):
                            raise TestFailure("%s: step-0 potential %.17e, virial %s differ from the UNIX socket's "
                                              "%.17e, %s" % (route, pot, vir, results["unix"][0], results["unix"][1]))
                        text += ", identical to the UNIX socket's (potential and virial)"
                    return text
                return run

            checks("nvt_unix", nvt("unix"))
            checks("nvt_shm", nvt("shm"))
            checks("shm_gapd_killed", lambda: row_shm_killed(env))
            for name, fn in (("nvt_mpi", nvt("mpi")), ("mpi_gapd_killed", lambda: row_mpi_killed(env)),
                             ("mpi_sigterm", lambda: row_mpi_sigterm(env)),
                             ("mpi_exit_file", lambda: row_mpi_exit_file(env))):
                checks(name, fn if state == "ok" else (lambda: "SKIPPED (%s)" % state))
        finally:
            env.cleanup()
        return checks.verdict()

    return common.run_test("test_ipi_transports", args.timeout, body, workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
