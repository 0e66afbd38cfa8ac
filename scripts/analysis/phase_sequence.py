#!/usr/bin/python3
"""Phase sequence of a BaTiO3 NST temperature scan (ipi_inputs/phase_scan/scan.py): polarization and cell shape
against temperature, each temperature classified as R, O, T or C.

    phase_sequence.py /work/phase_scan/heat [/work/phase_scan/cool] --model data/models/batio3_default.gapd \\
        --png docs/figures/phase_sequence.png --table phase_table.md --json phase_sequence.json

Per segment (OUT_DIR/T<T>K with done.json; unfinished segments are left out and listed), frames after
--equilibration ps:
- Ti-centred cell dipoles d_i of every saved frame, from `gapd predict --dipole-only --extras
  polarization,cell_dipoles` on the segment's trajectory (cached beside it as polarization.extxyz, recomputed when
  the trajectory is newer). The frame's polarization is P = sum_i d_i / V (C/m^2); it agrees with the model's
  total dipole / V up to the cells' partition of the partial dipoles.
- Order parameter: the polarization averaged over consecutive windows of --window ps (default 2 ps), its three
  components |<P_x>|, |<P_y>|, |<P_z>| per window sorted (P1 >= P2 >= P3), averaged over windows, with
  block-jackknife errors over windows (--blocks). A component is *ordered* if its mean exceeds --threshold
  (default 0.07 C/m^2, well below the ordered components of the model, 0.12-0.3 C/m^2). Phases: 3 ordered
  components = R, 2 = O, 1 = T, 0 = C. Sorting per window makes the classification blind to which axis the
  polarization picks and to 90-degree switches between windows; averaging inside a window is what tells a
  polar phase from a paraelectric one whose instantaneous polarization is large but has no direction for longer
  than a few hundred fs (near the Curie point the per-frame |P_k| of a 4x4x4 cell are 0.07-0.12 C/m^2 rms while
  their mean vanishes). The per-frame sorted components (`P_frame_sorted_C_m2`) are reported beside them.
- Cell shape: pseudo-cubic lattice parameters a, b, c = |lattice vector k| / L_k (L_k = repeats of the 4 Å cell
  along k, from the first frame) and the angles alpha, beta, gamma between lattice vectors, from the properties
  file (cell_h), averaged over the same time window without sorting (per-frame sorting would turn the cell's
  thermal fluctuations, ~0.013 Å at 300 K in 4x4x4, into a spurious spread), as the second signature of each
  phase (T: one long axis; O: two; R: equal axes, equal angles below 90). A polar axis that switches during the
  window averages out here as it does in the mean polarization vector.
- Static dielectric constant eps_r = 1 + (<M.M> - <M>.<M>) / (3 eps0 <V> kB T) of the total dipole M = P V
  (dielectric.py's formula, eps_inf = 1), jackknife errors; `--eps-table` writes it per segment for
  `curie_weiss.py --table` (T above the transition: `--eps-min-T`).
- Each segment's total dipole per saved frame goes to SEG/total_dipole.extras (i-PI extras format, e·Bohr), for
  chi(w) with `susceptibility.py --dipoles SEG/total_dipole.extras --properties SEG/scan.out --skip N`.
The figure shows the sorted components and the time-averaged lattice parameters against T for every scan given, with the
transition temperatures of the paper's model (Gigli et al. 2022, 4x4x4: R-O 18.6 K, O-T 91.4 K, T-C 182.4 K) and
of experiment (183, 278, 393 K) marked.
"""

import json
import os
import re
import subprocess

import numpy as np

import blocking
import cli
import dielectric
import ipi_files
import units

PAPER_MODEL_K = {"R-O": 18.6, "O-T": 91.4, "T-C": 182.4}
EXPERIMENT_K = {"R-O": 183.0, "O-T": 278.0, "T-C": 393.0}
E_PER_A2_IN_C_PER_M2 = 16.02176634          # 1 e/Å^2 in C/m^2
PHASES = {3: "R", 2: "O", 1: "T", 0: "C"}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def segments(scan_dir):
    """[(temperature, segment dir)] of finished segments in scan order, and the names of unfinished ones."""
    meta_path = os.path.join(scan_dir, "scan.json")
    if not os.path.exists(meta_path):
        raise cli.AnalysisError("%s: no scan.json (not a directory written by ipi_inputs/phase_scan/scan.py)" % scan_dir)
    with open(meta_path) as f:
        meta = json.load(f)
    done, missing = [], []
    for t in meta["temperatures"]:
        seg = os.path.join(scan_dir, "T%sK" % ("%g" % t).replace(".", "p"))
        if os.path.exists(os.path.join(seg, "done.json")):
            done.append((t, seg))
        else:
            missing.append("%g K" % t)
    return meta, done, missing


def frame_steps(trajectory):
    """MD step of every frame of an i-PI xyz trajectory (from the 'Step:' of its comment lines)."""
    steps = []
    lines = ipi_files.read_text_lines(trajectory)
    k = 0
    while k < len(lines):
        n = int(lines[k].split()[0])
        m = re.search(r"Step:\s*(\d+)", lines[k + 1])
        if not m:
            raise cli.AnalysisError("%s:%d: no 'Step:' in the comment line" % (trajectory, k + 2))
        steps.append(int(m.group(1)))
        k += n + 2
    return np.array(steps)


def cell_dipole_polarization(seg, model, gapd, threads, cell_shells=None):
    """Per-frame P (frames, 3) in C/m^2 from the Ti-centred cell dipoles of the segment's trajectory, the model's
    total dipole / V in the same units, and the volume (frames,) in Å^3."""
    import ase.io
    traj = os.path.join(seg, "scan.pos_0.xyz")
    cache = os.path.join(seg, "polarization.extxyz")
    if not os.path.exists(cache) or os.path.getmtime(cache) < os.path.getmtime(traj):
        cmd = [gapd, "predict", traj, "-m", model, "-o", cache, "--dipole-only", "--extras",
               "polarization,cell_dipoles", "--threads", str(threads)] + (
                   ["--cell-shells", cell_shells] if cell_shells else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise cli.AnalysisError("%s failed: %s" % (" ".join(cmd), r.stderr.strip().splitlines()[-1:]))
    frames = ase.io.read(cache, index=":")
    P = np.array([f.arrays["cell_dipoles"].sum(axis=0) / f.get_volume() for f in frames]) * E_PER_A2_IN_C_PER_M2
    P_total = np.array([f.info["polarization"] for f in frames]) * E_PER_A2_IN_C_PER_M2
    volume = np.array([f.get_volume() for f in frames])
    return P, P_total, volume


def cell_shape(seg, repeats):
    """(steps, lattice parameters (rows, 3) Å per pseudo-cubic cell, angles (rows, 3) degrees, temperature)."""
    props = ipi_files.Properties(os.path.join(seg, "scan.out"))
    steps = props.get("step")
    h = props.si("cell_h", "length") / units.ANGSTROM        # xx yy zz xy xz yz, lattice vectors = columns
    H = np.zeros((len(steps), 3, 3))
    H[:, 0, 0], H[:, 1, 1], H[:, 2, 2] = h[:, 0], h[:, 1], h[:, 2]
    H[:, 0, 1], H[:, 0, 2], H[:, 1, 2] = h[:, 3], h[:, 4], h[:, 5]
    vecs = np.transpose(H, (0, 2, 1))                        # rows = lattice vectors
    lengths = np.linalg.norm(vecs, axis=2)
    cosines = [np.sum(vecs[:, i] * vecs[:, j], axis=1) / (lengths[:, i] * lengths[:, j]) for i, j in
               ((1, 2), (0, 2), (0, 1))]
    angles = np.degrees(np.arccos(np.clip(np.array(cosines).T, -1, 1)))
    return steps, lengths / repeats, angles, props.si("temperature", "temperature")


def window_means(P, times_ps, window_ps):
    """Mean polarization vector of each complete window of window_ps (consecutive frames from the first one, at
    least one frame per window); frames after the last complete window are left out."""
    if window_ps <= 0:
        raise cli.AnalysisError("--window must be positive (got %g ps)" % window_ps)
    spacing = float(np.median(np.diff(times_ps))) if len(times_ps) > 1 else window_ps
    per_window = max(1, int(round(window_ps / spacing)))
    count = len(P) // per_window
    return P[:count * per_window].reshape(count, per_window, 3).mean(axis=1)


DIPOLE_SERIES = "total_dipole.extras"


def write_dipole_series(path, steps, M):
    """Every frame's total dipole M (C m) as an i-PI extras trajectory (e·Bohr, key 'dipole'), so that
    susceptibility.py and dielectric.py read a scan segment as they read any i-PI run (--dipoles
    SEG/total_dipole.extras --properties SEG/scan.out --skip N)."""
    with open(path + ".tmp", "w") as f:
        for step, m in zip(steps, M / units.E_BOHR):
            f.write("#EXTRAS(dipole)# Step:  %d\n%.10e %.10e %.10e\n" % (int(step), m[0], m[1], m[2]))
    os.replace(path + ".tmp", path)


def analyse_segment(t, seg, args):
    """Averages of one temperature segment after equilibration; P and lattice errors by block jackknife."""
    traj = os.path.join(seg, "scan.pos_0.xyz")
    steps = frame_steps(traj)
    P, P_total, volume = cell_dipole_polarization(seg, args.model, args.gapd, args.threads, args.cell_shells)
    if len(P) != len(steps):
        raise cli.AnalysisError("%s: %d frames in the trajectory, %d in polarization.extxyz (delete it to recompute)"
                                % (seg, len(steps), len(P)))
    _, _, first_cell = ipi_files.read_ipi_xyz(os.path.join(seg, "init.xyz"))
    repeats = np.maximum(np.rint(np.linalg.norm(first_cell, axis=1) / units.ANGSTROM / args.cubic_a), 1)
    pstep, lattice, angles, temperature = cell_shape(seg, repeats)
    with open(os.path.join(seg, "done.json")) as f:
        info = json.load(f)
    dt_ps = float(args.timestep_fs) * 1e-3
    keep = steps * dt_ps >= args.equilibration
    pkeep = pstep * dt_ps >= args.equilibration
    if keep.sum() < args.blocks or pkeep.sum() < args.blocks:
        raise cli.AnalysisError("%s: only %d frames after --equilibration %g ps (segment of %d steps); need at least --blocks of them: a longer run, a shorter --equilibration or fewer --blocks"
                                % (seg, keep.sum(), args.equilibration, info["steps"]))
    frame_sorted = -np.sort(-np.abs(P[keep]), axis=1)
    window_P = window_means(P[keep], steps[keep] * dt_ps, args.window)
    if len(window_P) < args.blocks:
        raise cli.AnalysisError("%s: %d windows of --window %g ps after --equilibration %g ps; need at least --blocks "
                                "(%d) of them: a longer run, a shorter --window or fewer --blocks"
                                % (seg, len(window_P), args.window, args.equilibration, args.blocks))
    window_sorted = -np.sort(-np.abs(window_P), axis=1)
    order, order_err = blocking.jackknife(lambda idx: window_sorted[idx].mean(axis=0), len(window_sorted), args.blocks)
    # Static dielectric constant from the fluctuations of M = P V (dielectric.py's formula, eps_inf = 1: the
    # model's dipoles carry no electronic screening), at the segment's mean kinetic temperature.
    V = volume[keep] * units.ANGSTROM ** 3
    M = P[keep] * V[:, None]
    write_dipole_series(os.path.join(seg, DIPOLE_SERIES), steps, P * (volume * units.ANGSTROM ** 3)[:, None])
    T_frames = np.full(len(M), float(temperature[pkeep].mean()))
    eps, eps_err = blocking.jackknife(
        lambda idx: 1.0 + np.trace(dielectric.fluctuation_tensor(M[idx], V[idx], T_frames[idx])) / 3.0,
        len(M), args.blocks)
    cell = lattice[pkeep]
    lat, lat_err = blocking.jackknife(lambda idx: cell[idx].mean(axis=0), len(cell), args.blocks)
    ang = angles[pkeep].mean(axis=0)
    n_ordered = int(np.sum(order > args.threshold))
    return {"temperature_K": t, "measured_temperature_K": float(temperature[pkeep].mean()),
            "frames": int(keep.sum()), "ps": float(info["steps"] * dt_ps),
            "P_sorted_C_m2": order.tolist(), "P_sorted_err": order_err.tolist(),
            "windows": len(window_P), "window_ps": args.window,
            "P_frame_sorted_C_m2": frame_sorted.mean(axis=0).tolist(),
            "P_mean_vector_C_m2": P[keep].mean(axis=0).tolist(),
            "P_total_minus_cells_rms": float(np.sqrt(np.mean((P_total[keep] - P[keep]) ** 2))),
            "eps_r": float(eps), "eps_r_err": float(eps_err),
            "lattice_A": lat.tolist(), "lattice_err": lat_err.tolist(), "angles_deg": ang.tolist(),
            "lattice_fluctuation_A": cell.std(axis=0).tolist(),
            "ordered_components": n_ordered, "phase": PHASES[n_ordered]}


def transitions(rows):
    """Temperatures (midpoints between neighbouring segments) where the phase label changes along the scan."""
    out = []
    for a, b in zip(rows, rows[1:]):
        if a["phase"] != b["phase"]:
            out.append({"between_K": [a["temperature_K"], b["temperature_K"]],
                        "midpoint_K": 0.5 * (a["temperature_K"] + b["temperature_K"]),
                        "from": a["phase"], "to": b["phase"]})
    return out


def table(name, rows):
    lines = ["| T (K) | <T> (K) | P1, P2, P3 (C/m^2) | a, b, c (Å) | alpha, beta, gamma (deg) | phase |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        p = ", ".join("%.3f(%d)" % (v, round(1000 * e)) for v, e in zip(r["P_sorted_C_m2"], r["P_sorted_err"]))
        a = ", ".join("%.4f" % v for v in r["lattice_A"])
        g = ", ".join("%.2f" % v for v in r["angles_deg"])
        lines.append("| %g | %.1f | %s | %s | %s | %s |" % (r["temperature_K"], r["measured_temperature_K"], p, a, g,
                                                           r["phase"]))
    return "**%s**\n\n" % name + "\n".join(lines) + "\n"


def plot(results, path, model, window, threshold):
    plt = cli.pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    styles = {"heat": "-", "cool": "--"}
    colors = ["C0", "C1", "C2"]
    for name, rows in results.items():
        ls = styles.get(name, ":")
        T = [r["temperature_K"] for r in rows]
        P = np.array([r["P_sorted_C_m2"] for r in rows])
        Pe = np.array([r["P_sorted_err"] for r in rows])
        L = np.array([r["lattice_A"] for r in rows])
        for k in range(3):
            axes[0].errorbar(T, P[:, k], yerr=Pe[:, k], ls=ls, marker="o", ms=4, color=colors[k],
                             label="P%d, %s" % (k + 1, name))
            axes[1].plot(T, L[:, k], ls=ls, marker="o", ms=4, color=colors[k], label="%s, %s" % ("abc"[k], name))
        for r in rows:
            axes[0].annotate(r["phase"], (r["temperature_K"], 0.0), xytext=(0, -14 if name != "cool" else -26),
                             textcoords="offset points", ha="center", fontsize=cli.MIN_FONT_SIZE)
    for ax in axes:
        for i, (label, t) in enumerate(PAPER_MODEL_K.items()):
            ax.axvline(t, color="0.4", ls=":", lw=1, label="paper model" if i == 0 and ax is axes[0] else None)
        for i, (label, t) in enumerate(EXPERIMENT_K.items()):
            if t <= max(r["temperature_K"] for rows in results.values() for r in rows) + 20:
                ax.axvline(t, color="C3", ls="-.", lw=1, label="experiment" if i == 0 and ax is axes[0] else None)
    axes[0].axhline(0, color="k", lw=0.5)
    axes[0].axhline(threshold, color="0.6", ls="--", lw=1, label="threshold")
    axes[0].set_ylabel("sorted |P_k| of %g ps means (C/m$^2$)" % window)
    axes[1].set_ylabel("pseudo-cubic a$_k$ (Å)")
    axes[1].set_xlabel("thermostat temperature (K)")
    axes[0].legend(ncol=2, loc="upper right")
    axes[1].legend(ncol=2, loc="upper left")
    frames = sum(r["frames"] for rows in results.values() for r in rows)
    axes[0].set_title("Phase sequence, NST 1 atm: " + cli.describe(atoms=320, frames=frames, model=model))
    cli.savefig(fig, path)


def main():
    ap = cli.make_parser(__doc__)
    ap.add_argument("scans", nargs="+", help="scan directories of ipi_inputs/phase_scan/scan.py")
    ap.add_argument("--model", default=os.path.join(REPO, "data", "models", "batio3_default.gapd"),
                    help="dipole model for the cell dipoles (default: the default model)")
    ap.add_argument("--gapd", default=os.path.join(REPO, "build", "gapd"), help="gapd executable")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cell-shells", metavar="BO,BA",
                    help="gapd predict --cell-shells (Å) for the cell dipoles, e.g. 3.0,4.2 when a hot frame stretches "
                         "a Ti-O bond past the model's radius; P is their sum, the total dipole, whatever the radii")
    ap.add_argument("--equilibration", type=float, default=5.0, help="ps dropped at the start of each segment")
    ap.add_argument("--timestep-fs", type=float, default=2.0, help="MD time step of the scan (fs)")
    ap.add_argument("--threshold", type=float, default=0.07, help="C/m^2 above which a component is ordered")
    ap.add_argument("--window", type=float, default=2.0,
                    help="ps over which the polarization is averaged before its components are sorted (default 2)")
    ap.add_argument("--cubic-a", type=float, default=4.0, help="Å, to count the repeats of the supercell")
    ap.add_argument("--blocks", type=int, default=5, help="jackknife blocks per segment")
    ap.add_argument("--png")
    ap.add_argument("--table")
    ap.add_argument("--json")
    ap.add_argument("--eps-table", metavar="FILE",
                    help="write 'T eps err' per segment (static dielectric constant from the fluctuations of the "
                         "total dipole, eps_inf = 1) for curie_weiss.py --table; --eps-min-T K keeps T >= K only")
    ap.add_argument("--eps-min-T", type=float, default=0.0, metavar="K")
    args = ap.parse_args()
    results, report = {}, {}
    for scan in args.scans:
        meta, done, missing = segments(scan)
        if not done:
            raise cli.AnalysisError("%s: no finished segment yet" % scan)
        rows = [analyse_segment(t, seg, args) for t, seg in done]
        name = meta["order"] if meta["order"] not in results else os.path.basename(os.path.normpath(scan))
        results[name] = rows
        report[name] = {"scan_dir": os.path.abspath(scan), "segments": rows, "unfinished": missing,
                        "transitions": transitions(rows)}
        print(table("%s (%s)%s" % (name, scan, "; unfinished: " + ", ".join(missing) if missing else ""), rows))
        for tr in report[name]["transitions"]:
            print("  %s -> %s between %g and %g K" % (tr["from"], tr["to"], *tr["between_K"]))
    report["reference"] = {"paper_model_K": PAPER_MODEL_K, "experiment_K": EXPERIMENT_K,
                           "threshold_C_m2": args.threshold, "equilibration_ps": args.equilibration,
                           "window_ps": args.window}
    if args.table:
        with open(args.table, "w") as f:
            f.write("\n".join(table(n, r) for n, r in results.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.eps_table:
        with open(args.eps_table, "w") as f:
            f.write("# T(K) eps_r err  (phase_sequence.py: fluctuations of the total dipole, eps_inf = 1, "
                    "--equilibration %g ps, --blocks %d)\n" % (args.equilibration, args.blocks))
            for name, rows in results.items():
                for r in rows:
                    if r["temperature_K"] >= args.eps_min_T:
                        f.write("%g %.6g %.6g  # %s\n" % (r["measured_temperature_K"], r["eps_r"], r["eps_r_err"], name))
    if args.png:
        plot(results, args.png, args.model, args.window, args.threshold)


if __name__ == "__main__":
    cli.run(main)
