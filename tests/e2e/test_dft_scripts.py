#!/usr/bin/python3
"""scripts/dft helpers that need no DFT code: the CP2K output parser (units and ASE stress sign against the
shared seed frame s0001, whose CP2K numbers are in tests/data/dft/), the Born-charge surrogate dipoles (ideal
lattice -> 0; one Ti moved by u -> Z*(Ti) u; an O moved along its chain -> Z*_par u; a rigid translation -> 0;
supercells and strained cells), the k-mesh rule, the 80/20 split being a fixed function of the id, and the
structure generator (deterministic, minimum interatomic distance, atoms on their perovskite sites); the
active-learning chain without CP2K or i-PI: md_pool.py's cell/explosion checks, make_dft_dirs.py (CP2K
directories like the generator's, idempotent, known ids skipped), run_queue.py finding run directories at any
depth, and collect.py keeping the dataset as the store (stored frames unchanged, new results added once, dipoles
from WORKDIR/dipoles/<id>/dipole.json with their source, an existing dipole kept, the fixed split), and
gpaw_dipoles.py's passes (GPAW faked) labelling each finished run once, including runs that finish later.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import ase
import ase.io

import e2e_common as common

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts", "dft"))
import born_charge_dipoles  # noqa: E402
import collect  # noqa: E402
import cp2k_input  # noqa: E402
import generate_structures  # noqa: E402
import parse_cp2k  # noqa: E402
import run_queue  # noqa: E402
import structure_checks  # noqa: E402

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts", "active_learning"))
import md_pool  # noqa: E402

check = common.Checks()


def cubic(reps=(1, 1, 1), a=4.0):
    return ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                     cell=[a, a, a], pbc=True).repeat(reps)


# CP2K parser: the seed frame s0001 recomputed with cp2k_input.py (tests/data/dft/s0001_cp2k_excerpt.out).
data = os.path.join(common.SOURCE_DIR, "tests", "data", "dft")
seed = ase.io.read(os.path.join(common.SOURCE_DIR, "data", "batio3_pbesol_seed.extxyz"), index=1)
with open(os.path.join(data, "s0001_cp2k_excerpt.out")) as f:
    energy, forces, stress = parse_cp2k.parse_output(f.read(), 5)
check.that(abs(energy - seed.get_potential_energy()) < 1e-6, f"CP2K energy in eV (d = {energy - seed.get_potential_energy():.2e})")
check.that(np.abs(forces - seed.get_forces()).max() < 1e-6, "CP2K forces in eV/Å")
check.that(np.abs(stress - seed.info.get("stress", seed.get_stress(voigt=False))).max() < 1e-8,
      "CP2K stress in eV/Å^3 with ASE's sign")
try:
    parse_cp2k.parse_output("  *** SCF run NOT converged ***\n", 5)
    check.that(False, "unconverged SCF is refused")
except parse_cp2k.ParseError:
    check.that(True, "unconverged SCF is refused")

# Born-charge surrogate dipoles.
for reps in [(1, 1, 1), (2, 1, 1), (2, 2, 2)]:
    at = cubic(reps)
    check.that(np.abs(born_charge_dipoles.born_charge_dipole(at)).max() < 1e-12, f"ideal {reps} lattice: M = 0")
    ti = [i for i, s in enumerate(at.get_chemical_symbols()) if s == "Ti"][-1]
    at.positions[ti] += [0.0, 0.05, 0.1]
    m = born_charge_dipoles.born_charge_dipole(at)
    check.that(np.allclose(m, 7.16 * np.array([0, 0.05, 0.1]), atol=1e-12), f"{reps}: Ti moved by u gives Z*(Ti) u")
    at.positions += [0.37, -0.21, 0.9]
    check.that(np.allclose(born_charge_dipoles.born_charge_dipole(at), m, atol=1e-12), f"{reps}: translation invariant")
at = cubic()
at.positions[2] += [0.0, 0.0, 0.1]  # O on the z face: chain axis z
at.positions[3] += [0.0, 0.0, 0.1]  # O on the y face: z is across its chain
check.that(np.allclose(born_charge_dipoles.born_charge_dipole(at), [0, 0, 0.1 * (-5.69 - 2.11)], atol=1e-12),
      "O tensors: parallel along the chain, perpendicular across it")
strained = cubic((2, 1, 1), 4.05)
strained.set_cell(strained.cell[:] @ (np.eye(3) + [[0.01, 0.005, 0], [0.005, -0.01, 0], [0, 0, 0.008]]),
                  scale_atoms=True)
check.that(np.abs(born_charge_dipoles.born_charge_dipole(strained)).max() < 1e-12, "strained ideal supercell: M = 0")

# k-mesh and split.
check.that(cp2k_input.kmesh([4.0, 8.0, 16.0]) == [4, 2, 1], "k-mesh ~15.5 Å per direction")
check.that(collect.is_test("s0004") == collect.is_test("s0004") and
      0.1 < np.mean([collect.is_test(f"g{i:04d}") for i in range(400)]) < 0.3, "split: fixed, about 20% test")

# A frame that already carries a dipole (a DFT label) gets the surrogate, not its old value back.
with tempfile.TemporaryDirectory() as d:
    at = ase.Atoms("BaTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .53), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                   cell=[4.0] * 3, pbc=True)
    at.info["dipole"] = np.array([70.0, 71.0, 72.0])
    ase.io.write(os.path.join(d, "in.extxyz"), at, format="extxyz")
    common.run_cli([sys.executable, os.path.join(common.SOURCE_DIR, "scripts", "dft", "born_charge_dipoles.py"),
                    os.path.join(d, "in.extxyz"), os.path.join(d, "out.extxyz")])
    back = ase.io.read(os.path.join(d, "out.extxyz"))
    got = back.info.get("dipole", back.calc.results.get("dipole") if back.calc else None)
    check.that(got is not None and np.allclose(got, born_charge_dipoles.born_charge_dipole(at)),
               f"surrogate labels replace a stored dipole (got {got})")

# Generator: deterministic, sane distances, every atom near its ideal site (surrogate dipole finite).
a1, _ = generate_structures.make_structure(7, np.random.default_rng([2026, 7]))
a2, _ = generate_structures.make_structure(7, np.random.default_rng([2026, 7]))
check.that(np.array_equal(a1.positions, a2.positions) and len(a1) == 40, "generator is deterministic (40-atom cell)")
for i in range(20):
    at, kpts = generate_structures.make_structure(i, np.random.default_rng([2026, i]))
    d = at.get_all_distances(mic=True)[np.triu_indices(len(at), 1)]
    if d.min() < 1.5:
        check.that(False, f"structure {i}: atoms {d.min():.2f} Å apart")
check.that(True, "generated structures: no two atoms closer than 1.5 Å")

# md_pool.py: start structure, i-PI cell_h <-> cell rows, the explosion watch.
start, par = md_pool.ipi_frame(md_pool.ideal_start(2, 4.0, 0.05, seed=[2026, 2]))
check.that(len(start) == 40 and np.allclose(par, [8, 8, 8, 90, 90, 90]), "md_pool: 2x2x2 start, 40 atoms, 8 Å cube")
h = np.array([[8.1, 0.1, -0.2], [0.0, 7.9, 0.05], [0.0, 0.0, 8.2]])  # columns = vectors (i-PI)
check.that(np.allclose(md_pool.h_from_cell_h([8.1, 7.9, 8.2, 0.1, -0.2, 0.05]), h.T), "md_pool: cell_h -> cell rows")
row = [10, 0.02, -1.0, 150.0, -2.0, 0.1, 520.0, 8.1, 7.9, 8.2, 0.1, -0.2, 0.05]
check.that(md_pool.watch_reason(np.array([row]), 150.0, par) == (None, None), "md_pool: a sane step passes")
hot = list(row); hot[3] = 2000.0
squashed = list(row); squashed[7] = 6.0
sheared = list(row); sheared[10] = 4.0
check.that(all(md_pool.watch_reason(np.array([row, r]), 150.0, par)[0] == 10 for r in (hot, squashed, sheared)),
           "md_pool: overheating, a collapsed cell length and a large shear are explosions")
check.that(md_pool.frame_checks(start, par) is None, "md_pool: start frame passes the frame checks")

# md_pool.py's novelty column: gapd predict --novelty on the pool, the largest value per frame into its info.
if "--gapd" in sys.argv:
    gapd_binary = sys.argv[sys.argv.index("--gapd") + 1]
    squeezed = start.copy()
    squeezed.set_cell(start.cell * 0.9, scale_atoms=True)
    pool_frames = [start.copy(), squeezed]
    pool_dir = tempfile.mkdtemp()
    try:
        pool_path = os.path.join(pool_dir, "pool.extxyz")
        ase.io.write(pool_path, pool_frames, format="extxyz")
        md_pool.add_novelty(pool_path, pool_frames, argparse.Namespace(
            gapd=gapd_binary, model=os.path.join(common.SOURCE_DIR, "data", "models", "batio3_default.gapd"),
            threads=1))
        values = [f.info.get("gap_novelty_max") for f in pool_frames]
        check.that(None not in values and 0 <= values[0] < values[1] <= 1 and os.listdir(pool_dir) == ["pool.extxyz"],
                   f"md_pool: gap_novelty_max per pool frame, the compressed cell more novel, no file left ({values})")
    finally:
        shutil.rmtree(pool_dir, ignore_errors=True)
close = start.copy(); close.positions[1] = close.positions[0] + [1.0, 0, 0]
check.that("apart" in (md_pool.frame_checks(close, par) or ""), "md_pool: atoms 1 Å apart are refused")

# Active-learning chain: selection -> make_dft_dirs -> (fake CP2K results) -> run_queue.pending -> collect.
py = sys.executable
tmp = tempfile.mkdtemp(prefix="gapd_dft_scripts_")
try:
    sel = []
    for k, step in enumerate((1000, 1050)):
        at = start.copy()
        at.positions += 0.01 * k
        at.info.update(config_type="md-nst-150K-round1", md_temperature=150.0, md_step=step,
                       structure_id=f"r1-40-T150-s{step:06d}", energy=-1.0)  # energy: a prediction, dropped
        sel.append(at)
    known = ase.io.read(os.path.join(common.SOURCE_DIR, "data", "batio3_pbesol_train.extxyz"), index=0)
    sel.append(known)
    ase.io.write(os.path.join(tmp, "selection.extxyz"), sel, format="extxyz")
    work = os.path.join(tmp, "work")
    out = os.path.join(tmp, "data")
    os.makedirs(out)
    for name in ("batio3_pbesol_train.extxyz", "batio3_pbesol_test.extxyz"):
        shutil.copy(os.path.join(common.SOURCE_DIR, "data", name), out)
    make = [py, os.path.join(common.SOURCE_DIR, "scripts", "active_learning", "make_dft_dirs.py"),
            os.path.join(tmp, "selection.extxyz"), os.path.join(work, "round1"),
            "--dataset", os.path.join(out, "batio3_pbesol_train.extxyz")]
    p1 = common.run_cli(make)
    d0 = os.path.join(work, "round1", "r1-40-T150-s001000")
    s0 = ase.io.read(os.path.join(d0, "structure.extxyz"))
    with open(os.path.join(d0, "cp2k.inp")) as f:
        inp = f.read()
    gen, _ = generate_structures.make_structure(7, np.random.default_rng([2026, 7]))
    check.that("2 new directories" in p1.stdout and "1 already in the dataset" in p1.stdout,
               "make_dft_dirs: one directory per new frame, known ids skipped")
    check.that(inp == cp2k_input.cp2k_input(s0, [2, 2, 2]) and list(s0.info["kpts"]) == [2, 2, 2]
               and s0.info["config_type"] == "md-nst-150K-round1" and "energy" not in s0.info
               and np.allclose(s0.positions, sel[0].positions),
               "make_dft_dirs: structure.extxyz + cp2k.inp as the generator writes them (k-mesh 2x2x2 for 8 Å)")
    p2 = common.run_cli(make)
    check.that("0 new directories" in p2.stdout and "2 already there" in p2.stdout, "make_dft_dirs: idempotent")
    ranked = [sel[1].copy(), sel[0].copy()]
    ranked[0].info["select_rank"] = 1
    ranked[1].info["select_rank"] = 2
    ase.io.write(os.path.join(tmp, "ranked.extxyz"), ranked, format="extxyz")
    rank_work = os.path.join(tmp, "rank_work")
    common.run_cli([py, make[1], os.path.join(tmp, "ranked.extxyz"), rank_work, "--rank-dirs", "--dataset"])
    check.that(sorted(os.path.relpath(d, rank_work) for d, _ in run_queue.pending(rank_work, 40)) ==
               [os.path.join("rank01", "r1-40-T150-s001050"), os.path.join("rank02", "r1-40-T150-s001000")],
               "make_dft_dirs --rank-dirs: WORKDIR/rankNN/<id>/ by select_rank, so the queue runs the most novel first")
    shutil.rmtree(rank_work)

    # Another layout: a gNNNN directory directly under WORKDIR and one three levels down.
    for sub in ("g0999", os.path.join("deep", "x", "g0998")):
        d = os.path.join(work, sub)
        os.makedirs(d)
        at = gen.copy()
        at.info["structure_id"] = os.path.basename(sub)
        ase.io.write(os.path.join(d, "structure.extxyz"), at, format="extxyz")
        with open(os.path.join(d, "cp2k.inp"), "w") as f:
            f.write(cp2k_input.cp2k_input(at, [2, 2, 2]))
    os.makedirs(os.path.join(work, "dipoles", "g0999"))  # gpaw_dipoles.py's tree: no cp2k.inp, never a run
    names = [os.path.relpath(d, work) for d, _ in run_queue.pending(work, 40)]
    check.that(names == [os.path.join("deep", "x", "g0998"), "g0999", os.path.join("round1", "r1-40-T150-s001000"),
                         os.path.join("round1", "r1-40-T150-s001050")], f"run_queue: run directories at any depth, "
               f"in path order ({names})")
    # --priority: the listed ids first, in the file's order (ids not pending are ignored), the rest after in --order.
    found = run_queue.pending(work, 40)
    first = ["r1-40-T150-s001050", "no-such-id", "g0999"]
    names = [os.path.relpath(d, work) for d, _ in run_queue.ordered(found, "path", first)]
    check.that(names == [os.path.join("round1", "r1-40-T150-s001050"), "g0999", os.path.join("deep", "x", "g0998"),
                         os.path.join("round1", "r1-40-T150-s001000")],
               f"run_queue --priority: listed ids first in the file's order, the rest in path order ({names})")
    prio_file = os.path.join(tmp, "priority.txt")
    with open(prio_file, "w") as f:
        f.write("# comment\n\ng0999  # rank 1\nr1-40-T150-s001000\n")
    prio = run_queue.Priority(prio_file)
    check.that(prio.current() == ["g0999", "r1-40-T150-s001000"], "run_queue --priority: comments and blank lines skipped")
    with open(prio_file, "w") as f:
        f.write("r1-40-T150-s001050\n")
    check.that(prio.current() == ["r1-40-T150-s001050"], "run_queue --priority: the file is read again at every scan")
    os.remove(prio_file)
    check.that(prio.current() == ["r1-40-T150-s001050"], "run_queue --priority: a file gone at a scan keeps the last order")
    r = subprocess.run([py, os.path.join(common.SOURCE_DIR, "scripts", "dft", "run_queue.py"), work, "--priority",
                        prio_file], capture_output=True, text=True, timeout=60)
    check.that(r.returncode != 0 and "--priority" in r.stderr and "priority.txt" in r.stderr and not r.stdout,
               f"run_queue: a missing --priority file stops the queue before it runs anything ({r.stderr.strip()})")
    # WORKDIR/stop: a queue exits before claiming anything, the directories untouched.
    open(os.path.join(work, "stop"), "w").close()
    before = sorted(d for d, _ in run_queue.pending(work, 40))
    r = subprocess.run([py, os.path.join(common.SOURCE_DIR, "scripts", "dft", "run_queue.py"), work, "--np", "1"],
                       capture_output=True, text=True, timeout=60)
    check.that(r.returncode == 0 and "stop" in r.stdout and f"{len(before)} structures left" in r.stdout and
               sorted(d for d, _ in run_queue.pending(work, 40)) == before and
               not glob.glob(os.path.join(work, "**", "running"), recursive=True),
               f"run_queue: with WORKDIR/stop the queue exits at once, nothing claimed or run ({r.stdout.strip()})")
    os.remove(os.path.join(work, "stop"))
    if "--gapd" in sys.argv:
        # queue_priority.py ranks the pending directories (not the failed, not the finished) with gapd select.
        qp = os.path.join(tmp, "queue_priority.txt")
        small = os.path.join(tmp, "small_dataset.extxyz")  # a few known frames keep gapd select quick
        ase.io.write(small, ase.io.read(os.path.join(out, "batio3_pbesol_train.extxyz"), ":3"), format="extxyz")
        r = common.run_cli([py, os.path.join(common.SOURCE_DIR, "scripts", "active_learning", "queue_priority.py"),
                            work, "-o", qp, "--gapd", gapd_binary, "--dataset", small])
        ids = run_queue.read_ids(qp)
        check.that(sorted(ids) == sorted(os.path.basename(d) for d, _ in found) and "ranked" in r.stdout,
                   f"queue_priority.py: every pending directory ranked once ({ids})")
    # resume_dft.sh --no-start: a run directory for every committed pick not in the dataset, idempotent.
    resume = ["bash", os.path.join(common.SOURCE_DIR, "scripts", "active_learning", "resume_dft.sh"),
              os.path.join(tmp, "resume"), "--no-start"]
    r1, r2 = common.run_cli(resume), common.run_cli(resume)
    picks = [f for p in sorted(glob.glob(os.path.join(common.SOURCE_DIR, "data", "active_learning",
                                                       "round*_selection_40.extxyz"))) for f in ase.io.read(p, ":")]
    dataset_ids = {str(f.info["structure_id"]) for n in ("train", "test") for f in
                   ase.io.read(os.path.join(common.SOURCE_DIR, "data", f"batio3_pbesol_{n}.extxyz"), ":")}
    want = sorted({str(f.info["structure_id"]) for f in picks} - dataset_ids)
    made = sorted(os.path.basename(d) for d in run_queue.run_dirs(os.path.join(tmp, "resume")))
    check.that(made == want and " 0 new directories" in r2.stdout and "new directories" in r1.stdout,
               f"resume_dft.sh --no-start: one run directory per committed pick not yet labelled ({len(made)} of "
               f"{len(want)}), none added the second time")
    # The start path (logs queue.log, queue2.log; nothing installed or started with --dry-run).
    open(os.path.join(tmp, "resume", "stop"), "w").close()
    r3 = common.run_cli(resume[:-1] + ["--dry-run", "--queues", "2"])
    check.that("would remove" in r3.stdout and os.path.exists(os.path.join(tmp, "resume", "stop")),
               f"resume_dft.sh --dry-run: names the stop file it would remove, removes nothing ({r3.stdout.strip()})")
    logs = [line.rsplit(">> ", 1)[-1] for line in r3.stdout.splitlines() if " would run: " in line]
    check.that(logs == [os.path.join(tmp, "resume", "queue.log"), os.path.join(tmp, "resume", "queue2.log")]
               and "--priority data/active_learning/queue_priority.txt" in r3.stdout,
               f"resume_dft.sh --dry-run --queues 2: two queue commands, logs queue.log and queue2.log ({logs})")
    shutil.rmtree(os.path.join(tmp, "resume"))
    with open(os.path.join(work, "g0999", "failed"), "w") as f:
        f.write("test\n")
    check.that(len(run_queue.pending(work, 40)) == 3 and len(run_queue.pending(work, 20)) == 0,
               "run_queue: failed runs and cells over --max-atoms are skipped")
    # Two queues on one WORKDIR: a directory claimed by a live queue is skipped, a dead queue's claim is taken over,
    # and a claim file nobody holds (a queue of an older version, a recycled pid) does not block.
    d998 = os.path.join(work, "deep", "x", "g0998")
    other = subprocess.Popen([py, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); import run_queue; "
                              "print(run_queue.claim(sys.argv[2]), flush=True); time.sleep(60)",
                              os.path.join(common.SOURCE_DIR, "scripts", "dft"), d998], stdout=subprocess.PIPE, text=True)
    try:
        held = other.stdout.readline().strip() == "True"
        check.that(held and d998 not in [d for d, _ in run_queue.pending(work, 40)] and not run_queue.claim(d998)
                   and open(os.path.join(d998, "running")).read().strip() == str(other.pid),
                   "run_queue: a directory another live queue claimed is neither pending nor claimable")
    finally:
        other.kill()
        other.wait()
        other.stdout.close()
    check.that(d998 in [d for d, _ in run_queue.pending(work, 40)], "run_queue: a killed queue's claim is stale")
    check.that(run_queue.claim(d998) and open(os.path.join(d998, "running")).read().strip() == str(os.getpid()),
               "run_queue: a stale claim is taken over")
    check.that(not run_queue.claimed_by_other(d998) and d998 in [d for d, _ in run_queue.pending(work, 40)],
               "run_queue: the queue's own claim does not hide the directory from itself")
    run_queue.release(d998)
    with open(os.path.join(d998, "running"), "w") as f:
        f.write(f"{os.getppid()}\n")  # a live pid, but nobody holds the lock
    check.that(run_queue.claim(d998), "run_queue: a claim file nobody has locked is stale")
    run_queue.release(d998)
    check.that(not os.path.exists(os.path.join(d998, "running")), "run_queue: release removes the claim")
    g999 = os.path.join(work, "g0999")  # has `failed` (above): another queue finished it after our scan
    check.that(not run_queue.claim(g999) and not os.path.exists(os.path.join(g999, "running")),
               "run_queue: a directory that got `failed` or a result since the scan is not claimed, and no claim "
               "file is left")
    for name in ("batio3-RESTART.kp", "batio3-RESTART.kp.bak-1", "batio3-RESTART.wfn", "cp2k.out"):
        open(os.path.join(d998, name), "w").close()
    run_queue.drop_restart_files(d998)
    check.that(sorted(os.listdir(d998)) == ["cp2k.inp", "cp2k.out", "structure.extxyz"],
               f"run_queue: CP2K's restart files are deleted after a run, its output kept ({sorted(os.listdir(d998))})")
    os.remove(os.path.join(d998, "cp2k.out"))
    mixed = [("a", 40), ("b", 5), ("c", 10), ("d", 5)]
    check.that([d for d, _ in run_queue.ordered(mixed, "size")] == ["b", "d", "c", "a"] and
               run_queue.ordered(mixed, "path") == mixed, "run_queue --order size: smallest first, path order within a size")

    # Fake CP2K results for the two round-1 frames and g0998; dipoles for one new frame and a stored one.
    train0 = ase.io.read(os.path.join(out, "batio3_pbesol_train.extxyz"), index=":")
    test0 = ase.io.read(os.path.join(out, "batio3_pbesol_test.extxyz"), index=":")
    for d in (d0, os.path.join(work, "round1", "r1-40-T150-s001050"), os.path.join(work, "deep", "x", "g0998")):
        at = ase.io.read(os.path.join(d, "structure.extxyz"))
        at.arrays["forces"] = np.zeros((len(at), 3))
        at.info.update(energy=-1000.0, stress=np.zeros((3, 3)), virial=np.zeros((3, 3)), cp2k_seconds=1.0)
        ase.io.write(os.path.join(d, "result.extxyz"), at, format="extxyz")
    stored_id = next(f.info["structure_id"] for f in train0 if "dipole" not in f.info)
    with_dipole = next((f for f in train0 + test0 if "dipole" in f.info), None)
    for sid, m in (("r1-40-T150-s001000", [1.0, 2.0, 3.0]), (stored_id, [0.5, -0.5, 0.25])):
        os.makedirs(os.path.join(work, "dipoles", sid), exist_ok=True)
        with open(os.path.join(work, "dipoles", sid, "dipole.json"), "w") as f:
            json.dump({"dipole": m, "source": "gpaw-pbesol-berry-phase", "seconds": 1.0}, f)
    # An unphysical cell (two atoms 1.2 Å apart) that CP2K labelled anyway: collect keeps it out and says so.
    squeezed = os.path.join(work, "g0997")
    os.makedirs(squeezed)
    at = gen.copy()
    at.positions[1] = at.positions[0] + [1.2, 0.0, 0.0]
    at.info["structure_id"] = "g0997"
    at.arrays["forces"] = np.zeros((len(at), 3))
    at.info.update(energy=-1000.0, stress=np.zeros((3, 3)), virial=np.zeros((3, 3)))
    ase.io.write(os.path.join(squeezed, "result.extxyz"), at, format="extxyz")
    check.that(structure_checks.too_close(at) is not None and structure_checks.too_close(gen) is None,
               "structure_checks: 1.2 Å apart is refused, a generated cell passes")
    collect_cmd = [py, os.path.join(common.SOURCE_DIR, "scripts", "dft", "collect.py"), work, "--out", out]
    p3 = common.run_cli(collect_cmd)
    check.that("left out, atoms too close:" in p3.stdout and "g0997 (atoms 1.20 Å apart" in p3.stdout, "collect: an unphysical "
               "result is left out of the dataset and named")
    shutil.rmtree(squeezed)
    all1 = {f.info["structure_id"]: f for name in ("train", "test")
            for f in ase.io.read(os.path.join(out, f"batio3_pbesol_{name}.extxyz"), index=":")}
    test1 = ase.io.read(os.path.join(out, "batio3_pbesol_test.extxyz"), index=":")
    check.that(len(all1) == len(train0) + len(test0) + 3 and {"r1-40-T150-s001000", "r1-40-T150-s001050", "g0998"}
               <= set(all1), f"collect: the stored frames plus the 3 new results ({len(all1)} frames)")
    check.that(all(collect.is_test(f.info["structure_id"]) for f in test1)
               and not any(collect.is_test(sid) for sid in all1 if all1[sid] not in test1),
               "collect: the split is the crc32 rule")
    old = {f.info["structure_id"]: f for f in train0 + test0}
    check.that(all(np.array_equal(all1[k].positions, f.positions) and
                   all1[k].get_potential_energy() == f.get_potential_energy() for k, f in old.items()),
               "collect: stored frames keep their geometry and energy")
    new = all1["r1-40-T150-s001000"]
    check.that(np.allclose(new.info["dipole"], [1, 2, 3]) and new.info["dipole_source"] == "gpaw-pbesol-berry-phase"
               and new.info["config_type"] == "md-nst-150K-round1" and "cp2k_seconds" not in new.info,
               "collect: a new frame gets its dipole.json (dipole + source) and keeps its config_type")
    check.that(np.allclose(all1[stored_id].info["dipole"], [0.5, -0.5, 0.25]),
               "collect: a stored frame gets a newly computed dipole")
    if with_dipole is not None:
        sid = with_dipole.info["structure_id"]
        check.that(np.allclose(all1[sid].info["dipole"], with_dipole.info["dipole"]) and
                   all1[sid].info["dipole_source"] == with_dipole.info["dipole_source"],
                   "collect: a stored dipole without a json is kept")
    with open(os.path.join(out, "batio3_pbesol_train.extxyz")) as f:
        text = f.read()
    check.that("_JSON" not in text, "collect: dipoles written as dipole=\"x y z\"")
    # Again: nothing new, byte-identical files (results already stored are not added twice).
    before = [open(os.path.join(out, f"batio3_pbesol_{n}.extxyz")).read() for n in ("train", "test")]
    p4 = common.run_cli(collect_cmd)
    after = [open(os.path.join(out, f"batio3_pbesol_{n}.extxyz")).read() for n in ("train", "test")]
    check.that(before == after and "0 new of 3" in p4.stdout, "collect: re-running changes nothing")
    # A stored dipole replaced by a newer dipole.json (e.g. PBEsol after PBE): ASE reads a stored dipole as a
    # calculator result and writes that back over info, so the new value must reach both.
    with open(os.path.join(work, "dipoles", "r1-40-T150-s001000", "dipole.json"), "w") as f:
        json.dump({"dipole": [4.0, 5.0, 6.0], "source": "gpaw-pbesol-berry-phase", "seconds": 1.0}, f)
    common.run_cli(collect_cmd)
    again = {f.info["structure_id"]: f for name in ("train", "test")
             for f in ase.io.read(os.path.join(out, f"batio3_pbesol_{name}.extxyz"), index=":")}
    replaced = again["r1-40-T150-s001000"]
    stored = replaced.info.get("dipole", replaced.calc.results.get("dipole") if replaced.calc else None)
    check.that(stored is not None and np.allclose(stored, [4, 5, 6]),
               f"collect: a newer dipole.json replaces a stored dipole (got {stored})")

    # gpaw_dipoles.py --watch: each pass labels the finished runs still without a dipole.json, once (GPAW faked).
    sys.path.insert(0, os.path.join(common.SOURCE_DIR, "scripts", "dft"))
    import gpaw_dipoles  # noqa: E402
    calls = []

    def fake_dipole(atoms, rundir, xc, checkpoint_every=0):
        calls.append(os.path.basename(rundir))
        return np.array([0.1, 0.2, 0.3]), [1, 1, 1], -1.0

    gpaw_dipoles.berry_phase_dipole = fake_dipole
    opts = argparse.Namespace(workdir=work, frames=[], xc="PBEsol", max_atoms=40, only=None, shard="1/1",
                              checkpoint_atoms=20, checkpoint_every=2, watch=1.0)
    first = gpaw_dipoles.label_pending(opts, 1, 1)
    second = gpaw_dipoles.label_pending(opts, 1, 1)
    check.that(first == 2 and sorted(calls) == ["g0998", "r1-40-T150-s001050"] and second == 0,
               f"gpaw_dipoles: a pass labels the 2 results without a dipole, the next pass none ({first}, {second}, "
               f"{calls})")
    d = os.path.join(work, "late", "g0997")
    os.makedirs(d)
    at = ase.io.read(os.path.join(work, "deep", "x", "g0998", "result.extxyz"))
    at.info["structure_id"] = "g0997"
    ase.io.write(os.path.join(d, "result.extxyz"), at, format="extxyz")
    third = gpaw_dipoles.label_pending(opts, 1, 1)
    with open(os.path.join(work, "dipoles", "g0997", "dipole.json")) as f:
        late = json.load(f)
    check.that(third == 1 and calls[-1] == "g0997" and np.allclose(late["dipole"], [0.1, 0.2, 0.3]),
               "gpaw_dipoles: a run that finishes later is labelled by the next pass")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

check.exit_with_verdict("dft_scripts")
