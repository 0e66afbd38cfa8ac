#!/usr/bin/python3
"""Soak test: one `gapd serve` answering the fake i-PI (tests/e2e/fake_ipi.py) in a loop for --duration seconds,
sampling gapd's resident memory (VmRSS), open file descriptors and threads from /proc every --sample seconds,
and reporting whether they stay flat.

The loop exercises more than the steady state: random displacements on every request, two replicas per
round, a reference structure re-sent every 50 rounds (its result must stay bit-identical: no state leaks
between requests), and every --restart-every rounds the fake i-PI vanishes without EXIT and comes back on the
same address, alternating default (fused) and legacy mode, so that reconnections are soaked too.

Verdict (exit 0 = flat): after a warm-up (the first 10 % of the run), RSS may not grow by more than
max(4 MiB, 5 %) between the first and the last quarter of the samples, and the fd and thread counts
(sampled while connected) may not change at all.

  /usr/bin/python3 scripts/soak.py --gapd build/gapd --duration 600 --sample 10 [--report soak.txt]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, HERE)

import e2e_common as common  # noqa: E402
from fake_ipi import FakeIpi, Request, structure_request  # noqa: E402
from make_batio3_supercell import build_supercell, extxyz_text  # noqa: E402


def proc_stats(pid):
    """(VmRSS in KiB, open fds, threads) of a live process."""
    rss = threads = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds, threads


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gapd", required=True, help="gapd executable")
    p.add_argument("--duration", type=float, default=3600, help="seconds (default 3600)")
    p.add_argument("--sample", type=float, default=10, help="seconds between samples (default 10)")
    p.add_argument("--model", help="model file (default: the small librascal fixture, converted)")
    p.add_argument("--repeat", type=int, default=2, help="BaTiO3 supercell repeats: 5 n^3 atoms (default 2: 40)")
    p.add_argument("--threads", type=int, default=1, help="gapd --threads (default 1)")
    p.add_argument("--restart-every", type=int, default=2000, help="rounds between i-PI restarts (default 2000)")
    p.add_argument("--report", help="also write the samples and the verdict to this file")
    p.add_argument("--workdir", help="keep files here (default: a temporary directory)")
    a = p.parse_args()

    workdir = os.path.abspath(a.workdir or tempfile.mkdtemp(prefix="gapd_soak_", dir="/tmp"))
    os.makedirs(workdir, exist_ok=True)
    model = a.model
    if not model:
        model = os.path.join(workdir, "small.gapd")
        src = os.path.join(ROOT, "tests", "data", "librascal", "model_small_zeta2_exact.json")
        r = common.run([a.gapd, "convert", "-m", src, "-o", model], 120)
        if r.returncode != 0:
            print("soak: gapd convert failed: %s" % r.stderr)
            return 2
    symbols, positions, cell = build_supercell(a.repeat, displacement=0.05, seed=7)
    template = os.path.join(workdir, "template.extxyz")
    with open(template, "w") as f:
        f.write(extxyz_text(symbols, positions, cell))
    pos0, cell0 = np.array(positions), np.array(cell)
    prefix = os.path.join(workdir, "ipi_")
    address = "soak"
    log_path = os.path.join(workdir, "gapd.log")
    gapd = common.start_process([a.gapd, "serve", "-u", "-a", address, "-S", prefix, "-m", model, "-t", template,
                                 "--threads", str(a.threads), "--connect-timeout", "60"], log_path)
    rng = np.random.default_rng(1)
    samples = []  # (t, rounds, requests, rss KiB, fds, threads)
    lines = []

    def out(text):
        print(text, flush=True)
        lines.append(text)

    ipi = None
    code = 1
    try:
        reference = Request(0, *structure_request(cell0, pos0))
        ref_result = None
        t0 = time.monotonic()
        next_sample = 0.0
        rounds = requests = restarts = 0
        legacy = False
        ipi = FakeIpi(address, "unix", prefix, consolidate=True, status_wait=30, hang_after=60).open()
        out("soak: gapd pid %d, %d atoms, model %s, %g s, sample every %g s, workdir %s"
            % (gapd.pid, len(symbols), model, a.duration, a.sample, workdir))
        out("%8s %8s %9s %10s %5s %8s" % ("t_s", "rounds", "requests", "rss_kib", "fds", "threads"))
        while time.monotonic() - t0 < a.duration:
            if gapd.poll() is not None:
                raise RuntimeError("gapd exited (code %s):\n%s" % (gapd.returncode, common.tail(log_path)))
            if rounds and rounds % a.restart_every == 0:
                ipi.crash()
                legacy = not legacy
                ipi = FakeIpi(address, "unix", prefix, consolidate=not legacy, status_wait=30, hang_after=60).open()
                restarts += 1
            if rounds % 50 == 0:
                req = Request(0, reference.h, reference.ih, reference.pos)
                ipi.run([req], 60)
                requests += 1
                if ref_result is None:
                    ref_result = req.result
                elif not (req.result[0] == ref_result[0] and np.array_equal(req.result[1], ref_result[1])
                          and np.array_equal(req.result[2], ref_result[2])):
                    raise RuntimeError("round %d: the reference structure gave other numbers than at the start"
                                       % rounds)
            reqs = [Request(k, *structure_request(cell0, pos0 + rng.normal(0, 0.03, pos0.shape))) for k in range(2)]
            ipi.run(reqs, 60)
            for r in reqs:
                if not np.isfinite(r.result[0]) or not np.isfinite(r.result[1]).all():
                    raise RuntimeError("non-finite result in round %d" % rounds)
            rounds += 1
            requests += 2
            t = time.monotonic() - t0
            if t >= next_sample:
                rss, fds, threads = proc_stats(gapd.pid)
                samples.append((t, rounds, requests, rss, fds, threads))
                out("%8.1f %8d %9d %10d %5d %8d" % samples[-1])
                next_sample += a.sample
        elapsed = time.monotonic() - t0
        ipi.close()
        ipi = None
        exit_code = common.wait_process(gapd, 30, "gapd")

        # Verdict.
        warm = [s for s in samples if s[0] >= 0.1 * a.duration]
        if len(warm) < 4:
            out("soak: too few samples after warm-up (%d) for a verdict" % len(warm))
            return 2
        q = max(1, len(warm) // 4)
        first = np.mean([s[3] for s in warm[:q]])
        last = np.mean([s[3] for s in warm[-q:]])
        growth = last - first
        tt = np.array([s[0] for s in warm])
        slope = np.polyfit(tt, np.array([s[3] for s in warm], float), 1)[0] * 3600.0  # KiB per hour
        fds = sorted(set(s[4] for s in warm))
        threads = sorted(set(s[5] for s in warm))
        rss_ok = growth <= max(4096.0, 0.05 * first)
        flat = rss_ok and len(fds) == 1 and len(threads) == 1 and exit_code == 0
        out("soak: %.0f s, %d rounds, %d requests (%.0f/s), %d i-PI restarts, gapd exit %d"
            % (elapsed, rounds, requests, requests / elapsed, restarts, exit_code))
        out("soak: RSS first quarter %.0f KiB, last quarter %.0f KiB, growth %+.0f KiB (limit %.0f), trend %+.0f KiB/h; "
            "min %d max %d KiB" % (first, last, growth, max(4096.0, 0.05 * first), slope,
                                  min(s[3] for s in warm), max(s[3] for s in warm)))
        out("soak: RSS first sample %d KiB (t=%.0f s), last sample %d KiB, max %d KiB over the whole run"
            % (samples[0][3], samples[0][0], samples[-1][3], max(s[3] for s in samples)))
        out("soak: open fds first sample %d, last sample %d; threads first %d, last %d"
            % (samples[0][4], samples[-1][4], samples[0][5], samples[-1][5]))
        out("soak: fds %s, threads %s (after warm-up)" % (fds, threads))
        out("soak: %s" % ("FLAT (pass)" if flat else "NOT FLAT (fail)"))
        code = 0 if flat else 1
        return code
    except Exception as e:  # noqa: BLE001
        out("soak: FAIL: %s" % e)
        return 1
    finally:
        if ipi is not None:
            ipi.crash()
        common.kill_process(gapd)
        if a.report:
            with open(a.report, "w") as f:
                f.write("\n".join(lines) + "\n")
        if code == 0 and not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
