#!/usr/bin/python3
"""Heating or cooling scan of BaTiO3 in NST: one i-PI + gapd segment per temperature (run.sh), each starting from
the last frame of the previous one; resumable, with progress and ETA (README.md).

    IPI_ROOT=/tmp/i-pi ipi_inputs/phase_scan/scan.py OUT_DIR --order heat     # 10, 30, ..., 290, 300 K
    IPI_ROOT=/tmp/i-pi ipi_inputs/phase_scan/scan.py OUT_DIR --order cool --temperatures 300:10:20

OUT_DIR/T<temperature>K/ holds each segment's i-PI output (scan.out, scan.pos_0.xyz, logs), last.xyz (its final
frame, the next segment's start) and done.json once the segment ran all its steps. Rerunning the same command
skips finished segments and restarts an unfinished one from the previous segment's last frame (a killed scan loses
only the segment in progress). Analysis: scripts/analysis/phase_sequence.py OUT_DIR.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def temperature_list(text, order):
    """'10:300:20' -> 10, 30, ..., 290, 300 (the end is always included); '10,50,90' as given."""
    try:
        return _temperature_list(text, order)
    except ValueError:
        sys.exit(f"scan.py: --temperatures {text}: not numbers (START:END:STEP or a comma-separated list, K)")


def _temperature_list(text, order):
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            sys.exit(f"scan.py: --temperatures {text}: expected START:END:STEP or a comma-separated list")
        start, end, step = (float(p) for p in parts)
        if step <= 0:
            sys.exit(f"scan.py: --temperatures {text}: STEP must be positive")
        direction = 1 if end >= start else -1
        temps, t = [], start
        while (t - end) * direction < -1e-9:
            temps.append(t)
            t += direction * step
        temps.append(end)
    else:
        temps = [float(p) for p in text.split(",") if p.strip()]
    if not temps or min(temps) <= 0:
        sys.exit(f"scan.py: --temperatures {text}: temperatures must be positive")
    if order == "heat" and temps != sorted(temps):
        sys.exit(f"scan.py: --order heat needs rising temperatures, got {text}")
    if order == "cool" and temps != sorted(temps, reverse=True):
        sys.exit(f"scan.py: --order cool needs falling temperatures, got {text}")
    return temps


def segment_name(t):
    return "T%sK" % (("%g" % t).replace(".", "p"))


def last_frame(trajectory, out_path):
    """Copies the final frame of an i-PI xyz trajectory to out_path (atomically)."""
    with open(trajectory) as f:
        lines = f.readlines()
    if not lines:
        raise RuntimeError(f"{trajectory} is empty")
    n = int(lines[0])
    frame = lines[-(n + 2):]
    if int(frame[0]) != n or len(frame) != n + 2:
        raise RuntimeError(f"{trajectory}: last frame incomplete")
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(frame)
    os.replace(tmp, out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--order", choices=["heat", "cool"], default="heat")
    ap.add_argument("--temperatures", help="START:END:STEP (end included) or a list, K (default 10:300:20 "
                    "heating, 300:10:20 cooling)")
    ap.add_argument("--steps", type=int, default=10000, help="MD steps per temperature (default 10000 = 20 ps at 2 fs)")
    ap.add_argument("--init", default=os.path.join(HERE, "init.xyz"),
                    help="structure of the first segment (default: the 320-atom 4x4x4 cube)")
    ap.add_argument("--model", default="", help="gapd model (default: the shared rule of ipi_inputs/common.sh)")
    ap.add_argument("--threads", type=int, default=1, help="gapd threads (default 1)")
    args = ap.parse_args()
    temps = temperature_list(args.temperatures or ("10:300:20" if args.order == "heat" else "300:10:20"), args.order)
    if args.steps <= 0:
        sys.exit("scan.py: --steps must be positive")
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "scan.json"), "w") as f:
        json.dump({"order": args.order, "temperatures": temps, "steps": args.steps, "model": args.model or "default",
                   "init": os.path.abspath(args.init)}, f, indent=1)

    start = os.path.abspath(args.init)
    seconds = []
    for k, t in enumerate(temps):
        seg = os.path.join(os.path.abspath(args.out_dir), segment_name(t))
        done = os.path.join(seg, "done.json")
        if os.path.exists(done):
            with open(done) as f:
                info = json.load(f)
            if info.get("steps") == args.steps:
                start = os.path.join(seg, "last.xyz")
                print(f"[{k + 1}/{len(temps)}] {t:g} K: done earlier ({info['seconds']:.0f} s)", flush=True)
                continue
        env = dict(os.environ, TEMPERATURE="%g" % t, STEPS=str(args.steps), INIT_XYZ=start, RUN_DIR=seg,
                   GAPD_THREADS=str(args.threads), ADDRESS_SUFFIX="-%s-%d" % (args.order, os.getpid()),
                   RUN_TIMEOUT=os.environ.get("RUN_TIMEOUT", "36000"))
        remaining = len(temps) - k
        eta = "" if not seconds else " (ETA %.0f min for %d segments)" % (sum(seconds) / len(seconds) * remaining / 60,
                                                                          remaining)
        print(f"[{k + 1}/{len(temps)}] {t:g} K: {args.steps} steps from {start}{eta}", flush=True)
        t0 = time.time()
        cmd = [os.path.join(HERE, "run.sh")] + ([args.model] if args.model else [])
        with open(os.path.join(args.out_dir, "scan.log"), "a") as log:
            rc = subprocess.call(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            sys.exit(f"scan.py: segment {t:g} K failed (run.sh exit {rc}; see {args.out_dir}/scan.log and {seg}/)")
        last_frame(os.path.join(seg, "scan.pos_0.xyz"), os.path.join(seg, "last.xyz"))
        dt = time.time() - t0
        seconds.append(dt)
        with open(done + ".tmp", "w") as f:
            json.dump({"temperature": t, "steps": args.steps, "seconds": dt, "start": start}, f)
        os.replace(done + ".tmp", done)
        start = os.path.join(seg, "last.xyz")
        print(f"[{k + 1}/{len(temps)}] {t:g} K: finished in {dt:.0f} s ({1000 * dt / args.steps:.1f} ms/step)",
              flush=True)
    print("scan.py: all segments done; analyse with scripts/analysis/phase_sequence.py " + args.out_dir)


if __name__ == "__main__":
    main()
