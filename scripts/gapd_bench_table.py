#!/usr/bin/python3
"""Run `gapd bench` and read its table: one dict per (atoms, threads) row. Shared by the benchmark scripts
(bench_ab.py, bench_librascal_side_by_side.py, bench_quip_side_by_side.py, speed_modes_study.py) so that the
table's layout is parsed in one place; `gapd bench --help` and docs/benchmarks.md describe the columns.
"""
import subprocess

PHASES = ["neigh", "expand", "powspec", "kernel", "kgrad", "ps_adj", "exp_adj", "scatter"]


def parse_rows(stdout):
    """The GAP table's rows: atoms, threads, median_ms, best_ms, the phases (ms), desc_percent, kernel_gflops,
    memory_mb. Lines of other tables (the dipole table has fewer columns) are skipped."""
    rows = []
    for line in stdout.splitlines():
        parts = line.replace("|", " ").split()
        if "|" not in line or len(parts) != 4 + len(PHASES) + 3 or not parts[0].isdigit():
            continue
        values = [float(p) for p in parts[2:]]
        row = {"atoms": int(parts[0]), "threads": int(parts[1]), "median_ms": values[0], "best_ms": values[1]}
        row.update(zip(PHASES, values[2:2 + len(PHASES)]))
        row["desc_percent"], row["kernel_gflops"], row["memory_mb"] = values[2 + len(PHASES):]
        rows.append(row)
    return rows


def run(gapd, model, sizes, threads=1, repeats=5, extra=()):
    """`gapd bench` on supercell repeats `sizes` (int or "2,4,6") without the DGEMM reference; its rows.
    Raises RuntimeError naming the command if it fails or prints no row."""
    cmd = [gapd, "bench", "-m", model, "--sizes", str(sizes), "--threads", str(threads), "--repeats", str(repeats),
           "--no-dgemm", *extra]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(f"cannot run {gapd}: {e.strerror}") from e
    rows = parse_rows(done.stdout)
    if done.returncode != 0 or not rows:
        raise RuntimeError(f"'{' '.join(cmd)}' failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return rows


def row_for(rows, atoms, threads=1):
    """The row of `atoms` atoms and `threads` threads; RuntimeError if absent."""
    for row in rows:
        if row["atoms"] == atoms and row["threads"] == threads:
            return row
    raise RuntimeError(f"gapd bench printed no row for {atoms} atoms, {threads} thread(s)")


def single_thread_times(gapd, model, sizes, repeats):
    """{atoms: (median ms, best ms)} per call, 1 thread: what the side-by-side scripts compare other engines with."""
    rows = run(gapd, model, sizes, 1, repeats)
    return {row["atoms"]: (row["median_ms"], row["best_ms"]) for row in rows if row["threads"] == 1}
