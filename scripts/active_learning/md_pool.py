#!/usr/bin/python3
"""NST molecular dynamics with i-PI + `gapd serve` at a list of temperatures -> a pool of candidate frames for
active learning (the loop of Gigli et al., npj Comput. Mater. 8, 209 (2022)).

    /usr/bin/python3 scripts/active_learning/md_pool.py OUTDIR [--supercell 2] [--temperatures 10 30 ...]
        [--round 1] [--equil-steps 1000] [--prod-steps 5000] [--stride 50] [--jobs 2] [--model M.gapd]

For every temperature T: OUTDIR/<natoms>/T<T>K/ gets init.xyz, input.xml (i-PI NST: <dynamics mode='nst'>,
anisotropic Raiteri-Gale-Bussi barostat at zero stress with h0 = the starting cell, SVR thermostat, 2 fs),
ipi.log, gapd.log, md.out (properties every 10 steps), md.pos_0.extxyz (positions every --stride steps, full
precision) and, when the run has ended, status.json ({"status": "done" | "exploded" | "timeout" | "failed",
"reason", "steps", "wall_seconds", ...}). A run with status.json is skipped (resumable; --retry re-runs the ones
that did not end "done"); a run interrupted before status.json is started again from scratch (runs are minutes).
Each run uses its own UNIX socket (/tmp/ipi_al-<natoms>-T<T>-<pid>), a gapd with --threads 1 --extras none, a
per-run --timeout, and ends with gapd SIGTERM + i-PI SIGINT (then SIGKILL after 10 s if needed).

Sanity watch while a run goes (every 2 s, on md.out): a non-finite number, a temperature above 2T + 500 K, a
cell length outside 0.85-1.2x its starting value or a cell angle more than 12 degrees from the start stop the
run as "exploded"; the frames before it are kept only if they pass the frame checks below.

Pool: OUTDIR/pool_<natoms>.extxyz (rewritten from all runs of OUTDIR/<natoms>/ every time, also those of
earlier invocations with other --temperatures; atomically) = the frames of every run at
steps >= --equil-steps, every --stride steps, that pass the frame checks (all interatomic distances >= 1.5 Å,
cell as above). Positions in Å (wrapped into the cell), Lattice = cell rows, pbc, and info: config_type =
md-nst-<T>K-round<R>, md_temperature, md_step, md_natoms, md_run_status, structure_id = r<R>-<natoms>-T<T>-s<step:06d>
(unique across rounds, sizes and temperatures), md_model (file name), md_model_sha256 (first 16 hex digits) and
gap_novelty_max (the frame's largest per-atom GAP novelty under --model, `gapd predict --novelty`,
docs/novelty.md). A summary per run (status, mean temperature, mean lattice parameters per perovskite cell
a/b/c, angles, mean |P| from the Born-charge surrogate of scripts/dft/born_charge_dipoles.py, drift of i-PI's
conserved quantity, pool frames, the median and largest gap_novelty_max, wall time) goes to
stdout and OUTDIR/summary_<natoms>.tsv.

Default start: ideal cubic BaTiO3, a = 4.0 Å, repeated --supercell times (2 -> 40 atoms, 4 -> 320), every atom
displaced by a Gaussian of --displacement (0.05 Å) with a fixed seed; --start FILE takes any structure instead.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import ase
import ase.io
from ase.geometry import cell_to_cellpar, cellpar_to_cell

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "dft"))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import born_charge_dipoles  # noqa: E402
from read_gapd_model import model_sha256_16  # noqa: E402
import structure_checks  # noqa: E402

DEFAULT_TEMPERATURES = [10, 30, 60, 100, 150, 200, 250, 300, 400]
E_PER_A2_TO_C_PER_M2 = 16.021766  # 1 e/Å^2 in C/m^2
LENGTH_RANGE = (0.85, 1.2)
MAX_ANGLE_CHANGE_DEG = 12.0
STATUS_DONE = "done"

INPUT_TEMPLATE = """<!-- written by scripts/active_learning/md_pool.py: BaTiO3 NST, {natoms} atoms, {temperature} K -->
<simulation verbosity='low' safe_stride='100'>
  <output prefix='md'>
    <properties stride='10' filename='out'>
      [ step, time{{picosecond}}, conserved{{electronvolt}}, temperature{{kelvin}}, potential{{electronvolt}},
        pressure_md{{gigapascal}}, volume{{angstrom3}}, cell_h{{angstrom}} ]
    </properties>
    <trajectory filename='pos' stride='{stride}' format='ase'> positions </trajectory>
    <checkpoint stride='{checkpoint}' overwrite='true'/>
  </output>
  <total_steps> {steps} </total_steps>
  <prng> <seed> {seed} </seed> </prng>
  <ffsocket name='gapd' mode='unix' pbc='false'>
    <address> {address} </address>
    <timeout> 120 </timeout>
  </ffsocket>
  <system>
    <initialize nbeads='1'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> {temperature} </velocities>
    </initialize>
    <forces> <force forcefield='gapd'> </force> </forces>
    <motion mode='dynamics'>
      <dynamics mode='nst'>
        <timestep units='femtosecond'> {timestep} </timestep>
        <thermostat mode='svr'> <tau units='femtosecond'> 100 </tau> </thermostat>
        <barostat mode='anisotropic'>
          <tau units='femtosecond'> 500 </tau>
          <thermostat mode='langevin'> <tau units='femtosecond'> 100 </tau> </thermostat>
          <h0 units='angstrom'> [ {h0} ] </h0>
        </barostat>
      </dynamics>
    </motion>
    <ensemble>
      <temperature units='kelvin'> {temperature} </temperature>
      <stress units='gigapascal'> [ 0, 0, 0, 0, 0, 0, 0, 0, 0 ] </stress>
    </ensemble>
  </system>
</simulation>
"""


def say(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def tlabel(t):
    """150 -> '150', 12.5 -> '12.5' (directory names, config_type, structure_id)."""
    return f"{t:g}"


def ideal_start(supercell, a, displacement, seed):
    unit = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                     cell=[a, a, a], pbc=True)
    atoms = unit.repeat((supercell,) * 3)
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=displacement, size=atoms.positions.shape)
    atoms.positions += noise - noise.mean(axis=0)
    return atoms


def ipi_frame(atoms):
    """The structure in i-PI's orientation: cell upper-triangular in columns (a along x, b in the xy plane)."""
    par = cell_to_cellpar(atoms.cell)
    cell = cellpar_to_cell(par)  # ASE: rows, a along x, b in xy = i-PI's abc2h transposed
    out = ase.Atoms(atoms.get_chemical_symbols(), scaled_positions=atoms.get_scaled_positions(wrap=False),
                    cell=cell, pbc=True)
    return out, par


def write_ipi_xyz(path, atoms, par):
    with open(path, "w") as f:
        f.write(f"{len(atoms)}\n# CELL(abcABC): {par[0]:.10f} {par[1]:.10f} {par[2]:.10f} {par[3]:.8f} "
                f"{par[4]:.8f} {par[5]:.8f} cell{{angstrom}} positions{{angstrom}}\n")
        for s, p in zip(atoms.get_chemical_symbols(), atoms.positions):
            f.write(f"{s:2s} {p[0]:18.10f} {p[1]:18.10f} {p[2]:18.10f}\n")


def cell_checks(cell, ref_par):
    """None if the cell (rows) is sane next to the starting cell parameters, else the reason."""
    par = cell_to_cellpar(cell)
    ratio = par[:3] / ref_par[:3]
    if not np.all(np.isfinite(par)):
        return "non-finite cell"
    if np.any(ratio < LENGTH_RANGE[0]) or np.any(ratio > LENGTH_RANGE[1]):
        return "cell length ratio " + " ".join(f"{r:.3f}" for r in ratio)
    dang = np.abs(par[3:] - ref_par[3:])
    if np.any(dang > MAX_ANGLE_CHANGE_DEG):
        return "cell angles " + " ".join(f"{x:.1f}" for x in par[3:])
    return None


def frame_checks(atoms, ref_par):
    reason = cell_checks(atoms.cell[:], ref_par)
    if reason:
        return reason
    if not np.all(np.isfinite(atoms.positions)):
        return "non-finite positions"
    return structure_checks.too_close(atoms)


def h_from_cell_h(v):
    """i-PI's cell_h property [xx, yy, zz, xy, xz, yz] (upper triangle of h, columns = vectors) -> rows."""
    xx, yy, zz, xy, xz, yz = v
    h = np.array([[xx, xy, xz], [0.0, yy, yz], [0.0, 0.0, zz]])
    return h.T


def read_properties(path):
    """md.out -> array (rows: step, time, conserved, T, potential, pressure, volume, cell_h x6); tolerant of a
    partially written last line."""
    rows = []
    if not os.path.exists(path):
        return np.zeros((0, 13))
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 13:
                continue
            try:
                rows.append([float(x) for x in parts])
            except ValueError:
                continue
    return np.array(rows).reshape(-1, 13)


def watch_reason(props, temperature, ref_par):
    """Why the run must be stopped (explosion), from the properties so far, or None."""
    if len(props) == 0:
        return None, None
    bad = ~np.all(np.isfinite(props), axis=1)
    for row, b in zip(props, bad):
        step = int(row[0]) if np.isfinite(row[0]) else -1
        if b:
            return step, "non-finite property"
        if row[3] > 2 * temperature + 500:
            return step, f"temperature {row[3]:.0f} K"
        reason = cell_checks(h_from_cell_h(row[7:13]), ref_par)
        if reason:
            return step, reason
    return None, None


class Runner:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.procs = set()

    def kill_all(self):
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            stop_process(p, signal.SIGTERM)

    def run(self, rundir, temperature, start_atoms, par, round_):
        args = self.args
        natoms = len(start_atoms)
        steps = args.equil_steps + args.prod_steps
        address = f"al-r{round_}-{natoms}-T{tlabel(temperature)}-{os.getpid()}"
        socket_path = "/tmp/ipi_" + address
        # a previous, interrupted attempt: start again from scratch
        if os.path.isdir(rundir):
            shutil.rmtree(rundir)
        os.makedirs(rundir)
        write_ipi_xyz(os.path.join(rundir, "init.xyz"), start_atoms, par)
        h = start_atoms.cell[:].T  # columns = lattice vectors, upper triangular
        seed = 1000 * round_ + int(round(temperature * 10)) + 7 * natoms
        with open(os.path.join(rundir, "input.xml"), "w") as f:
            f.write(INPUT_TEMPLATE.format(natoms=natoms, temperature=tlabel(temperature), stride=args.stride,
                                          checkpoint=max(args.stride, 500), steps=steps, seed=seed,
                                          address=address, timestep=args.timestep,
                                          h0=", ".join(f"{x:.10f}" for x in h.flatten())))
        if os.path.exists(socket_path):
            os.remove(socket_path)  # the address carries our pid: a leftover of a dead run with our pid
        env = dict(os.environ, PYTHONPATH=args.ipi_root + (":" + os.environ["PYTHONPATH"]
                                                            if os.environ.get("PYTHONPATH") else ""))
        env["OMP_NUM_THREADS"] = "1"
        start = time.time()
        status = {"status": "failed", "reason": "", "temperature": temperature, "natoms": natoms,
                  "steps_planned": steps, "equil_steps": args.equil_steps, "stride": args.stride,
                  "timestep_fs": args.timestep, "round": round_, "model": os.path.abspath(args.model),
                  "model_sha256": model_sha256_16(args.model), "socket": socket_path}
        with open(os.path.join(rundir, "ipi.log"), "w") as ipi_log, \
                open(os.path.join(rundir, "gapd.log"), "w") as gapd_log:
            ipi = subprocess.Popen([args.python, os.path.join(args.ipi_root, "bin", "i-pi"), "input.xml"],
                                   cwd=rundir, env=env, stdout=ipi_log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
            gapd = subprocess.Popen([args.gapd, "serve", "-u", "-a", address, "--template", "init.xyz",
                                     "--model", os.path.abspath(args.model), "--threads", str(args.threads),
                                     "--extras", "none", "--connect-timeout", "120"],
                                    cwd=rundir, env=env, stdout=gapd_log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            with self.lock:
                self.procs.update([ipi, gapd])
            try:
                last_check = 0.0
                last_report = start
                while True:
                    time.sleep(0.5)
                    if self.stop.is_set():
                        status.update(status="failed", reason="interrupted")
                        break
                    if ipi.poll() is not None:
                        break
                    if gapd.poll() is not None and gapd.returncode != 0:
                        status.update(status="failed", reason=f"gapd exited {gapd.returncode} while i-PI ran")
                        break
                    now = time.time()
                    if now - start > args.timeout:
                        status.update(status="timeout", reason=f"not finished after {args.timeout:.0f} s")
                        break
                    if now - last_check > 2.0:
                        last_check = now
                        props = read_properties(os.path.join(rundir, "md.out"))
                        step, reason = watch_reason(props, temperature, par)
                        if len(props) and now - last_report > args.report_every:
                            last_report = now
                            done = int(props[-1, 0])
                            rate = done / max(now - start, 1e-9)
                            say(f"  {natoms} atoms T = {tlabel(temperature)} K: step {done}/{steps}, "
                                f"T {props[-1, 3]:.0f} K, {1000 * (now - start) / max(done, 1):.0f} ms/step, "
                                f"run ETA {(steps - done) / max(rate, 1e-9) / 60:.1f} min")
                        if reason:
                            status.update(status="exploded", reason=f"step {step}: {reason}", exploded_step=step)
                            break
            finally:
                stop_process(gapd, signal.SIGTERM)
                stop_process(ipi, signal.SIGINT)
                with self.lock:
                    self.procs.difference_update([ipi, gapd])
                if os.path.exists(socket_path):
                    try:
                        os.remove(socket_path)
                    except OSError:
                        pass
        props = read_properties(os.path.join(rundir, "md.out"))
        done_steps = int(props[-1, 0]) if len(props) else 0
        if not status["reason"]:
            if ipi.returncode == 0 and done_steps >= steps:
                status["status"] = STATUS_DONE
            else:
                status["reason"] = f"i-PI exited {ipi.returncode} at step {done_steps}"
        if status["status"] == STATUS_DONE:  # a late look at the last lines the watcher may not have seen
            step, reason = watch_reason(props, temperature, par)
            if reason:
                status.update(status="exploded", reason=f"step {step}: {reason}", exploded_step=step)
        status["steps"] = done_steps
        status["wall_seconds"] = round(time.time() - start, 1)
        if status["reason"] != "interrupted":
            tmp = os.path.join(rundir, "status.json.tmp")
            with open(tmp, "w") as f:
                json.dump(status, f, indent=1)
            os.replace(tmp, os.path.join(rundir, "status.json"))
        return status


def stop_process(p, sig, grace=10.0):
    if p.poll() is not None:
        return
    try:
        p.send_signal(sig)
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    except ProcessLookupError:
        pass


def run_frames(rundir, stride):
    """(step, atoms) for every frame of md.pos_0.extxyz; i-PI writes a frame at every step % stride == 0."""
    path = os.path.join(rundir, "md.pos_0.extxyz")
    if not os.path.exists(path):
        return []
    out = []
    try:
        frames = ase.io.read(path, index=":")
    except Exception:  # a truncated last frame of an interrupted run: read what is complete
        frames = []
        with open(path) as f:
            text = f.read()
        lines = text.splitlines()
        i = 0
        import io
        while i < len(lines):
            n = int(lines[i])
            if i + 2 + n > len(lines):
                break
            frames.append(ase.io.read(io.StringIO("\n".join(lines[i:i + 2 + n]) + "\n"), format="extxyz"))
            i += 2 + n
    for atoms in frames:
        m = re.search(r"Step:\s*(\d+)", str(atoms.info.get("ipi_comment", "")))
        out.append((int(m.group(1)) if m else None, atoms))
    if out and out[0][0] is None:  # no step in the comment: frame k is step k*stride
        out = [(k * stride, a) for k, (_, a) in enumerate(out)]
    return out


def add_novelty(pool_path, pool, args):
    """info gap_novelty_max of every pool frame: the largest per-atom GAP novelty (docs/novelty.md) under
    --model, by `gapd predict --novelty` on the pool file; left out, with a note, if that fails."""
    out = pool_path + ".novelty.extxyz"
    try:
        r = subprocess.run([args.gapd, "predict", pool_path, "-m", args.model, "--novelty", "--threads",
                            str(args.threads), "-o", out], capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            say(f"note: no novelty column (gapd predict --novelty failed: {r.stderr.strip()[-300:]})")
            return
        for frame, scored in zip(pool, ase.io.read(out, index=":")):
            frame.info["gap_novelty_max"] = float(np.max(scored.arrays["gap_novelty"]))
    finally:
        if os.path.exists(out):
            os.remove(out)


def summarize_and_pool(outdir, natoms, temperatures, args, ref_par, reps, model_sha):
    size_dir = os.path.join(outdir, str(natoms))
    pool, rows = [], []
    # every run of this size in OUTDIR, also those of earlier invocations with other --temperatures
    found = [float(m.group(1)) for m in (re.fullmatch(r"T([0-9.]+)K", n) for n in os.listdir(size_dir)) if m]
    for t in sorted(set(temperatures) | set(found)):
        rundir = os.path.join(size_dir, f"T{tlabel(t)}K")
        sp = os.path.join(rundir, "status.json")
        if not os.path.exists(sp):
            rows.append({"T": t, "status": "not run"})
            continue
        with open(sp) as f:
            st = json.load(f)
        # the run's own settings (an earlier invocation may have used other ones)
        equil, stride, round_ = st.get("equil_steps", args.equil_steps), st.get("stride", args.stride), \
            st.get("round", args.round)
        model = os.path.basename(st.get("model", args.model))
        sha = st.get("model_sha256", model_sha)
        props = read_properties(os.path.join(rundir, "md.out"))
        prod = props[props[:, 0] >= equil] if len(props) else props
        if st["status"] == "exploded":
            prod = prod[prod[:, 0] < st.get("exploded_step", 1e18)]
        row = {"T": t, "status": st["status"], "reason": st.get("reason", ""), "steps": st.get("steps", 0),
               "wall_s": st.get("wall_seconds", 0.0)}
        if len(prod):
            pars = np.array([cell_to_cellpar(h_from_cell_h(r[7:13])) for r in prod])
            row.update(T_mean=float(prod[:, 3].mean()),
                       abc=(pars[:, :3].mean(axis=0) / reps).tolist(),
                       abc_std=(pars[:, :3].std(axis=0) / reps).tolist(),
                       angles=pars[:, 3:].mean(axis=0).tolist(),
                       vol_per_cell=float(prod[:, 6].mean() / (natoms / 5)))
            if len(prod) > 2:  # drift of i-PI's conserved quantity (meV/atom/ps): integration quality
                row["drift"] = float(np.polyfit(prod[:, 1], prod[:, 2], 1)[0] * 1000 / natoms)
        kept, rejected, pvals = 0, 0, []
        for step, atoms in run_frames(rundir, stride):
            if step is None or step < equil or step % stride:
                continue
            if st["status"] == "exploded" and step >= st.get("exploded_step", 1e18):
                continue
            atoms.pbc = True
            if frame_checks(atoms, ref_par):
                rejected += 1
                continue
            try:
                m = born_charge_dipoles.born_charge_dipole(atoms)
                pvals.append(m / atoms.get_volume() * E_PER_A2_TO_C_PER_M2)
            except ValueError:
                pass
            atoms.wrap()
            frame = ase.Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell[:],
                              pbc=True)
            frame.info.update(config_type=f"md-nst-{tlabel(t)}K-round{round_}", md_temperature=float(t),
                              md_step=int(step), md_natoms=natoms, md_run_status=st["status"],
                              structure_id=f"r{round_}-{natoms}-T{tlabel(t)}-s{step:06d}",
                              md_model=model, md_model_sha256=sha)
            pool.append(frame)
            kept += 1
        row.update(pool=kept, rejected=rejected)
        if pvals:
            p = np.array(pvals)
            row.update(P_abs=float(np.linalg.norm(p, axis=1).mean()), P_mean=p.mean(axis=0).tolist(),
                       P_abs_comp=np.abs(p).mean(axis=0).tolist())
        rows.append(row)
    path = os.path.join(outdir, f"pool_{natoms}.extxyz")
    if pool:
        ase.io.write(path + ".tmp", pool, format="extxyz")
        add_novelty(path + ".tmp", pool, args)
        ase.io.write(path + ".tmp", pool, format="extxyz")
        os.replace(path + ".tmp", path)
        for r in rows:
            values = [f.info["gap_novelty_max"] for f in pool
                      if "gap_novelty_max" in f.info and f.info["md_temperature"] == r["T"]]
            if values:
                r.update(novelty_median=float(np.median(values)), novelty_max=float(np.max(values)))
    header = ("T_K\tstatus\tsteps\twall_s\tT_mean\ta\tb\tc\talpha\tbeta\tgamma\tV_cell_A3\t|P|_C/m2\t"
              "<|Px|,|Py|,|Pz|>\tdrift_meV/atom/ps\tpool\trejected\tnovelty_median\tnovelty_max\treason")
    lines = [header]
    for r in rows:
        if r["status"] == "not run":
            lines.append(f"{tlabel(r['T'])}\tnot run")
            continue
        abc = r.get("abc", [float("nan")] * 3)
        ang = r.get("angles", [float("nan")] * 3)
        pc = r.get("P_abs_comp", [float("nan")] * 3)
        lines.append(f"{tlabel(r['T'])}\t{r['status']}\t{r['steps']}\t{r['wall_s']:.0f}\t{r.get('T_mean', float('nan')):.1f}\t"
                     + "\t".join(f"{x:.4f}" for x in abc) + "\t" + "\t".join(f"{x:.2f}" for x in ang)
                     + f"\t{r.get('vol_per_cell', float('nan')):.2f}\t{r.get('P_abs', float('nan')):.3f}\t"
                     + ",".join(f"{x:.3f}" for x in pc) + f"\t{r.get('drift', float('nan')):.3f}"
                     + f"\t{r.get('pool', 0)}\t{r.get('rejected', 0)}"
                     + f"\t{r.get('novelty_median', float('nan')):.2e}\t{r.get('novelty_max', float('nan')):.2e}"
                     + f"\t{r.get('reason', '')}")
    with open(os.path.join(outdir, f"summary_{natoms}.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(outdir, f"summary_{natoms}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n".join(lines), flush=True)
    say(f"pool: {len(pool)} frames -> {path}" if pool else "pool: no frames yet")
    return pool, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--supercell", type=int, default=2, help="repeats of the 5-atom cell per direction (2 -> 40 "
                    "atoms, 4 -> 320); ignored with --start")
    ap.add_argument("--start", help="starting structure (any ASE-readable file, last frame); default: ideal cubic")
    ap.add_argument("--lattice", type=float, default=4.0, help="cubic lattice parameter of the default start (Å)")
    ap.add_argument("--displacement", type=float, default=0.05, help="Gaussian displacement of the default "
                    "start (Å)")
    ap.add_argument("--temperatures", type=float, nargs="+",
                    help="kelvin (default: " + " ".join(map(str, DEFAULT_TEMPERATURES)) + "; with --pool-only: "
                    "the runs found)")
    ap.add_argument("--round", type=int, default=1, help="active-learning round (config_type, structure_id)")
    ap.add_argument("--equil-steps", type=int, default=1000, help="steps before the pool starts (1000 = 2 ps)")
    ap.add_argument("--prod-steps", type=int, default=5000, help="steps sampled into the pool (5000 = 10 ps)")
    ap.add_argument("--stride", type=int, default=50, help="pool every STRIDE steps (50 = 100 fs)")
    ap.add_argument("--timestep", type=float, default=2.0, help="fs")
    ap.add_argument("--jobs", type=int, default=2, help="runs at the same time (each: i-PI + one gapd)")
    ap.add_argument("--threads", type=int, default=1, help="gapd --threads per run")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is stopped")
    ap.add_argument("--report-every", type=float, default=120, help="seconds between progress lines per run")
    ap.add_argument("--retry", action="store_true", help="re-run runs whose status is not 'done'")
    ap.add_argument("--pool-only", action="store_true", help="only (re)write the pool and summary")
    ap.add_argument("--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"))
    ap.add_argument("--gapd", default=os.environ.get("GAPD", os.path.join(REPO, "build", "gapd")))
    ap.add_argument("--ipi-root", default=os.environ.get("IPI_ROOT", "/tmp/i-pi"))
    ap.add_argument("--python", default=os.environ.get("PYTHON", "/usr/bin/python3"), help="Python for i-PI")
    args = ap.parse_args()
    if args.temperatures is None:
        args.temperatures = [] if args.pool_only else DEFAULT_TEMPERATURES

    if args.start:
        start = ase.io.read(args.start, index=-1)
        start.pbc = True
    else:
        start = ideal_start(args.supercell, args.lattice, args.displacement, seed=[2026, args.supercell])
    start, par = ipi_frame(start)
    natoms = len(start)
    reps = np.rint(par[:3] / 4.0)  # perovskite cells along each vector (for lattice parameters per cell)
    if not args.pool_only:
        for path, what in [(args.gapd, "gapd executable (--gapd or GAPD)"), (args.model, "model (--model)"),
                           (os.path.join(args.ipi_root, "bin", "i-pi"), "i-PI (--ipi-root or IPI_ROOT)")]:
            if not os.path.exists(path):
                sys.exit(f"md_pool.py: no {what} at {path}")
    model_sha = model_sha256_16(args.model) if os.path.exists(args.model) else ""
    size_dir = os.path.join(args.outdir, str(natoms))
    os.makedirs(size_dir, exist_ok=True)

    todo = []
    for t in args.temperatures:
        rundir = os.path.join(size_dir, f"T{tlabel(t)}K")
        sp = os.path.join(rundir, "status.json")
        if os.path.exists(sp):
            with open(sp) as f:
                st = json.load(f)
            if st["status"] == STATUS_DONE or not args.retry:
                say(f"T = {tlabel(t)} K: already {st['status']} ({st.get('reason') or 'ok'}), skipped")
                continue
        todo.append((t, rundir))
    if args.pool_only:
        todo = []
    steps = args.equil_steps + args.prod_steps
    say(f"{natoms} atoms, {len(todo)} run(s) to do of {len(args.temperatures)}: {steps} steps each "
        f"({steps * args.timestep / 1000:.1f} ps, pool from step {args.equil_steps} every {args.stride}), "
        f"{args.jobs} at a time, model {args.model}")

    runner = Runner(args)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum, frame):
        say(f"signal {signum}: stopping the runs in progress (they restart from scratch next time)")
        runner.stop.set()

    for s in previous:
        signal.signal(s, on_signal)
    t0 = time.time()
    finished = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futures = {ex.submit(runner.run, rundir, t, start, par, args.round): t for t, rundir in todo}
            for fut in concurrent.futures.as_completed(futures):
                t = futures[fut]
                st = fut.result()
                finished.append(st["wall_seconds"])
                left = len(todo) - len(finished)
                eta = np.mean(finished) * left / max(1, args.jobs) if left else 0.0
                say(f"[{len(finished)}/{len(todo)}] {natoms} atoms T = {tlabel(t)} K: {st['status']} "
                    f"{st.get('reason', '')} ({st['steps']} steps, {st['wall_seconds']:.0f} s); "
                    f"elapsed {(time.time() - t0) / 60:.1f} min, ETA {eta / 60:.1f} min")
    finally:
        interrupted = runner.stop.is_set()
        runner.stop.set()
        runner.kill_all()
        for s, h in previous.items():
            signal.signal(s, h)
    summarize_and_pool(args.outdir, natoms, args.temperatures, args, par, reps, model_sha)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
