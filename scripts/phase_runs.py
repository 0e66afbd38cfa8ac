#!/usr/bin/python3
"""The MD behind docs/phase_sequence.md for one model, in one resumable command: NST cooling and heating scans of
the 4x4x4 cell, 50 ps cubic-phase runs for the dielectric constant, and their analyses.

    IPI_ROOT=/tmp/i-pi /usr/bin/python3 scripts/phase_runs.py [WORKDIR] [--model data/models/batio3_default.gapd]
    /usr/bin/python3 scripts/phase_runs.py [WORKDIR] --status        # what is done, what is left, nothing started

WORKDIR (default /work/phase_runs_<sha256 of the model, 8 hex digits>) gets a frozen copy of the model
(model.gapd; a WORKDIR made for another model is refused) and three scans of ipi_inputs/phase_scan/scan.py, run
on two cores, one gapd thread each (~3 h in all on a 2-core machine with nothing else running):
- core 1: `cool`, 300 K down to 10 K in 20 K steps, 20 ps each, from the ideal cube (~2 h); then `eps`, 400, 350,
  300 and 250 K, 50 ps each, cooling from the ideal cube (~1 h);
- core 2: `heat`, 10 K up to 300 K in 20 K steps, 20 ps each (~2.7 h), from the frozen model's own
  rhombohedral minimum: R5 of data/phases/model_relaxed.extxyz relaxed again with model.gapd (cell and positions,
  R3m held, as examples/relax_phases.py does) and repeated 4x4x4 into WORKDIR/init_R.extxyz, so the 10 K segment
  starts where this model, not an earlier one, puts the R phase (needs the Python module next to --gapd:
  build/python).
Every scan resumes after its finished segments (scan.py), so rerunning the same command after an interruption
(a session's end) loses only the segments in progress. Progress: one status line per minute, and each scan's
log (WORKDIR/<scan>.log, with scan.py's per-segment ETA).

When all three are done, the analyses run (each a few minutes; outputs named by the model's sha, 8 digits):
- scripts/analysis/phase_sequence.py on cool and on heat: data/phases/phase_sequence_{cool,heat}_<sha>.json,
  docs/figures/phase_sequence_{cool,heat}_<sha>.png;
- on eps: data/phases/eps_cool_50ps_<sha>.json and WORKDIR/eps.dat, then scripts/analysis/curie_weiss.py with
  eps_inf fixed at 90 (the paper's 4x4x4 value): data/phases/curie_weiss_cool_50ps_<sha>.txt and
  docs/figures/curie_weiss_cool_50ps_<sha>.png;
- scripts/analysis/susceptibility.py at 300 K: data/phases/chi_300K_<sha>.dat, docs/figures/chi_300K_<sha>.png.
The reading (which transitions, at which temperatures, against the paper) is by hand, in docs/phase_sequence.md.

--steps-scale, --cool/--heat/--eps-temperatures, --equilibration, --window, --blocks, --scan-blocks, --chi-tmax and --results
(the analyses' directory) exist for a quick trial of the whole chain
(the e2e test runs it with a few steps); the defaults are the runs of docs/phase_sequence.md.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from read_gapd_model import model_sha256_16  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "ipi_inputs", "phase_scan"))
import scan as phase_scan  # noqa: E402  (its temperature lists and segment names)

SCAN = os.path.join(REPO, "ipi_inputs", "phase_scan", "scan.py")
ANALYSIS = os.path.join(REPO, "scripts", "analysis")
PY = "/usr/bin/python3"
COOL = "300,280,260,240,220,200,180,160,140,120,100,80,60,40,20,10"
HEAT = "10,30,50,70,90,110,130,150,170,190,210,230,250,270,290,300"
EPS = "400,350,300,250"


def scans(args, init_r=None):
    """name -> the scan's order, temperatures (text as given, and the list scan.py makes of it), steps per
    segment and starting structure (None: scan.py's ideal cube; INIT_R for the heating scan). A list scan.py
    would refuse stops here, naming the flag."""
    steps = lambda ps: max(1, round(ps * 500 * args.steps_scale))  # noqa: E731 (2 fs steps)
    plan = {"cool": ("cool", args.cool_temperatures, steps(20), None),
            "heat": ("heat", args.heat_temperatures, steps(20), init_r),
            "eps": ("cool", args.eps_temperatures, steps(50), None)}
    out = {}
    for name, (order, text, n, init) in plan.items():
        try:
            temps = phase_scan.temperature_list(text, order)
        except SystemExit as e:
            sys.exit(f"phase_runs.py: --{name}-temperatures: {e}")
        out[name] = {"order": order, "text": text, "temperatures": temps, "steps": n, "init": init}
    return out


def scan_arguments(scan):
    """scan.py's options for one scan of the plan (without the directory)."""
    return (["--order", scan["order"], "--temperatures", scan["text"], "--steps", str(scan["steps"])]
            + (["--init", scan["init"]] if scan["init"] else []))


CORES = (("cool", "eps"), ("heat",))


def segment_status(workdir, name, scan):
    """(segments done with the scan's step count, segments in all)."""
    done = 0
    for t in scan["temperatures"]:
        path = os.path.join(workdir, name, phase_scan.segment_name(t), "done.json")
        if os.path.exists(path):
            with open(path) as f:
                done += json.load(f).get("steps") == scan["steps"]
    return done, len(scan["temperatures"])


def freeze_model(workdir, model):
    """WORKDIR/model.gapd, a copy of MODEL; SystemExit if WORKDIR holds another model's runs."""
    frozen = os.path.join(workdir, "model.gapd")
    sha = model_sha256_16(model)
    if os.path.exists(frozen):
        have = model_sha256_16(frozen)
        if have != sha:
            sys.exit(f"phase_runs.py: {workdir} holds the runs of model {have}, not of {model} ({sha}): "
                     f"use another WORKDIR")
    else:
        os.makedirs(workdir, exist_ok=True)
        shutil.copyfile(model, frozen + ".tmp")
        os.replace(frozen + ".tmp", frozen)
    return frozen, sha


def relaxed_r_start(out, frozen, gapd):
    """OUT (the heating scan's start, WORKDIR/init_R.extxyz), made once: the frozen model's relaxed rhombohedral
    5-atom cell repeated 4x4x4. SystemExit naming what is missing if it cannot be made."""
    if os.path.exists(out):
        return
    module = os.path.join(os.path.dirname(os.path.abspath(gapd)), "python")
    if not os.path.isdir(os.path.join(module, "gapd")):
        sys.exit(f"phase_runs.py: the heating scan starts from the model's relaxed R cell, which needs gapd's "
                 f"Python module next to --gapd ({module}/gapd is missing: bash scripts/build.sh)")
    sys.path.insert(0, module)
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import ase.io
    from gapd.ase import GapdCalculator
    from relax_phases import relax
    start = os.path.join(REPO, "data", "phases", "model_relaxed.extxyz")
    r5 = [a for a in ase.io.read(start, ":") if a.info.get("label") == "R5"]
    if not r5:
        sys.exit(f"phase_runs.py: {start} has no frame with label=R5 (examples/relax_phases.py writes it)")
    cell = relax(r5[0], GapdCalculator(frozen, threads=1), fmax=1e-4)
    cell.set_constraint()
    a, _, _, alpha, _, _ = cell.cell.cellpar()
    big = cell.repeat((4, 4, 4))
    big.info = {"config_type": f"R5 relaxed with {os.path.basename(frozen)} ({cell.info['steps']} BFGS steps) x 4x4x4"}
    ase.io.write(out + ".tmp", big, format="extxyz")
    os.replace(out + ".tmp", out)
    print(f"phase_runs: heating start {out}: the model's R cell a = {a:.4f} Å, alpha = {alpha:.3f} deg, "
          f"{cell.info['steps']} BFGS steps", flush=True)


def status_line(workdir, plan):
    parts = []
    for name, scan in plan.items():
        done, total = segment_status(workdir, name, scan)
        parts.append(f"{name} {done}/{total}")
    return ", ".join(parts)


def run_scans(workdir, frozen, plan, threads):
    """Both cores' queues of scans, polled once a minute; SystemExit naming the log of a failed scan."""
    env = dict(os.environ)
    queues = [list(core) for core in CORES]
    running = {}

    def start_next(k):
        while queues[k]:
            name = queues[k].pop(0)
            done, total = segment_status(workdir, name, plan[name])
            if done == total:
                continue
            log = open(os.path.join(workdir, f"{name}.log"), "a")
            cmd = [PY, SCAN, os.path.join(workdir, name), *scan_arguments(plan[name]), "--model", frozen,
                   "--threads", str(threads)]
            running[k] = (name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log)
            print(f"phase_runs: {name} started ({done}/{total} segments done earlier; log {workdir}/{name}.log)",
                  flush=True)
            return

    for k in range(len(queues)):
        start_next(k)
    last = None
    while running:
        time.sleep(1 if os.environ.get("PHASE_RUNS_POLL_FAST") else 60)
        for k in list(running):
            name, proc, log = running[k]
            if proc.poll() is None:
                continue
            log.close()
            del running[k]
            if proc.returncode != 0:
                for other in running.values():
                    other[1].terminate()
                sys.exit(f"phase_runs.py: scan {name} failed (exit {proc.returncode}); see {workdir}/{name}.log")
            start_next(k)
        line = status_line(workdir, plan)
        if line != last:
            print(f"phase_runs: {time.strftime('%H:%M')} segments done: {line}", flush=True)
            last = line


def run(cmd, out=None):
    print("phase_runs: " + " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"phase_runs.py: {os.path.basename(cmd[1])} failed: {(p.stderr or p.stdout).strip()[-500:]}")
    if out:
        with open(out, "w") as f:
            f.write(p.stdout)
    return p


def analyse(workdir, frozen, sha, args):
    tag = sha[:8]
    if args.results:
        phases = figures = os.path.abspath(args.results)
        os.makedirs(phases, exist_ok=True)
    else:
        phases, figures = os.path.join(REPO, "data", "phases"), os.path.join(REPO, "docs", "figures")
    common = ["--model", frozen, "--gapd", args.gapd, "--cell-shells", "3.0,4.2", "--equilibration", str(args.equilibration),
              "--window", str(args.window)]
    for name in ("cool", "heat"):
        run([PY, os.path.join(ANALYSIS, "phase_sequence.py"), os.path.join(workdir, name), *common,
             "--blocks", str(args.scan_blocks),
             "--json", os.path.join(phases, f"phase_sequence_{name}_{tag}.json"),
             "--png", os.path.join(figures, f"phase_sequence_{name}_{tag}.png"),
             "--table", os.path.join(workdir, f"table_{name}.md")])
    eps = os.path.join(workdir, "eps.dat")
    run([PY, os.path.join(ANALYSIS, "phase_sequence.py"), os.path.join(workdir, "eps"), *common,
         "--blocks", str(args.blocks), "--eps-table", eps, "--json", os.path.join(phases, f"eps_cool_50ps_{tag}.json")])
    run([PY, os.path.join(ANALYSIS, "curie_weiss.py"), "--table", eps, "--fix-eps-inf", "90", "--atoms", "320",
         "--model", frozen, "--png", os.path.join(figures, f"curie_weiss_cool_50ps_{tag}.png")],
        out=os.path.join(phases, f"curie_weiss_cool_50ps_{tag}.txt"))
    seg = os.path.join(workdir, "eps", phase_scan.segment_name(300))
    if os.path.isdir(seg):
        skip = round(args.equilibration * 1000 / (2 * 50))  # input.xml saves a frame every 50 steps of 2 fs
        run([PY, os.path.join(ANALYSIS, "susceptibility.py"), "--dipoles", os.path.join(seg, "total_dipole.extras"),
             "--properties", os.path.join(seg, "scan.out"), "--skip", str(skip), "--tmax", str(args.chi_tmax),
             "--blocks", str(args.blocks), "-o", os.path.join(phases, f"chi_300K_{tag}.dat"),
             "--png", os.path.join(figures, f"chi_300K_{tag}.png")])
    print(f"phase_runs: analyses written ({phases}/*_{tag}.*, {figures}/*_{tag}.png); tables of the scans: "
          f"{workdir}/table_cool.md, {workdir}/table_heat.md; the reading goes into docs/phase_sequence.md")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", nargs="?", help="default /work/phase_runs_<model sha, 8 digits>")
    ap.add_argument("--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.path.join(REPO, "build", "gapd"), help="gapd executable (build/gapd)")
    ap.add_argument("--status", action="store_true", help="print what is done and left; start nothing")
    ap.add_argument("--threads", type=int, default=1, help="gapd threads per scan (default 1: two scans, two cores)")
    ap.add_argument("--cool-temperatures", default=COOL, help=f"K (default {COOL})")
    ap.add_argument("--heat-temperatures", default=HEAT, help=f"K (default {HEAT})")
    ap.add_argument("--eps-temperatures", default=EPS, help=f"K (default {EPS})")
    ap.add_argument("--steps-scale", type=float, default=1.0,
                    help="multiplies every scan's steps (default 1: 20 ps per scan temperature, 50 ps per eps run)")
    ap.add_argument("--equilibration", type=float, default=5.0, help="ps dropped at the start of each segment (5)")
    ap.add_argument("--chi-tmax", type=float, default=3.0, help="ps, the window of chi(w) at 300 K (3)")
    ap.add_argument("--window", type=float, default=2.0, help="ps, phase_sequence.py's polarization window (2)")
    ap.add_argument("--blocks", type=int, default=10, help="jackknife blocks of eps_r and chi(w), 50 ps runs (10)")
    ap.add_argument("--scan-blocks", type=int, default=5,
                    help="jackknife blocks of each cool/heat temperature (5: a 20 ps segment has 7 windows of 2 ps "
                         "after 5 ps of equilibration)")
    ap.add_argument("--results", metavar="DIR", help="write the analyses into DIR instead of data/phases and "
                    "docs/figures (a trial)")
    args = ap.parse_args()
    if not args.steps_scale > 0:
        sys.exit("phase_runs.py: --steps-scale must be positive")
    if not os.path.exists(args.model):
        sys.exit(f"phase_runs.py: --model {args.model} does not exist")
    sha = model_sha256_16(args.model)
    workdir = os.path.abspath(args.workdir or f"/work/phase_runs_{sha[:8]}")
    plan = scans(args, os.path.join(workdir, "init_R.extxyz"))
    if args.status:
        print(f"phase_runs: {workdir}, model {sha}: segments done: {status_line(workdir, plan)}")
        return
    ipi = os.environ.get("IPI_ROOT")
    if not (os.path.isfile(os.path.join(ipi, "bin", "i-pi")) if ipi else shutil.which("i-pi")):
        sys.exit("phase_runs.py: needs i-PI: IPI_ROOT=<an i-PI v3.3.0 checkout> (e.g. /tmp/i-pi), or an i-pi on PATH"
                 + (f" (IPI_ROOT={ipi} has no bin/i-pi)" if ipi else ""))
    if not os.access(args.gapd, os.X_OK):
        sys.exit(f"phase_runs.py: --gapd {args.gapd} is not an executable (bash scripts/build.sh)")
    os.environ["GAPD"] = os.path.abspath(args.gapd)  # the scans' run.sh (ipi_inputs/common.sh)
    frozen, sha = freeze_model(workdir, args.model)
    relaxed_r_start(plan["heat"]["init"], frozen, args.gapd)
    print(f"phase_runs: {workdir}, model {sha}; segments done: {status_line(workdir, plan)}", flush=True)
    run_scans(workdir, frozen, plan, args.threads)
    analyse(workdir, frozen, sha, args)


if __name__ == "__main__":
    main()
