#!/usr/bin/env bash
# The README's first command. Installs dependencies (apt), builds gapd, makes the default model, then
#   - with IPI_ROOT set (an i-PI v3.3.0 checkout): a short BaTiO3 NVT run (ipi_inputs/nvt, 320 atoms) with a
#     summary (steps, temperature, potential energy, conserved-quantity drift, speed);
#   - without: how to get i-PI, and `gapd predict` on the bundled BaTiO3 structures (energy per atom, max
#     force, time per structure).
# Environment: IPI_ROOT, DEMO_STEPS (MD steps, default 50), GAPD_THREADS (default: all cores).
# Outputs go to demo_output/ (git-ignored).
# The default model is SYNTHETIC (paper-size hyperparameters, trained on a made-up pair potential): its
# numbers are not physics.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
PYTHON=/usr/bin/python3

bash scripts/install_deps.sh
bash scripts/build.sh

gapd=$repo/build/gapd
model=$repo/build/paper_synthetic.gapd
shared_model=$repo/../shared/reference/librascal/paper_hypers_M1000_zeta4.json.gz
model_label="paper-size synthetic model (1000 sparse environments, zeta 4, rc 5.5 Å)"
if [ ! -f "$model" ]; then
  if [ -f "$shared_model" ]; then
    echo "demo: converting $shared_model -> build/paper_synthetic.gapd"
    "$gapd" convert "$shared_model" "$model"
  else
    echo "demo: ../shared (beside this checkout) is absent, so the paper-size synthetic model"
    echo "      ../shared/reference/librascal/paper_hypers_M1000_zeta4.json.gz is not available."
    echo "      Falling back to the small bundled test model tests/data/librascal/model_small_zeta2_exact.json."
    model=$repo/tests/data/librascal/model_small_zeta2_exact.json
    model_label="small bundled test model (synthetic, 60 sparse environments, zeta 2, rc 5.0 Å)"
  fi
fi
threads=${GAPD_THREADS:-$(nproc)}
out=$repo/demo_output
mkdir -p "$out"

echo
echo "=== gapd demo: synthetic model: numbers are not physics ==="
echo "model: $model_label"
echo

if [ -n "${IPI_ROOT:-}" ]; then
  steps=${DEMO_STEPS:-50}
  echo "demo: i-PI from IPI_ROOT=$IPI_ROOT: BaTiO3 NVT, 320 atoms, 300 K, 2 fs, $steps steps, gapd on $threads thread(s)"
  t0=$(date +%s.%N)
  IPI_ROOT=$IPI_ROOT STEPS=$steps RUN_DIR=$out/nvt GAPD=$gapd GAPD_THREADS=$threads ADDRESS_SUFFIX=-demo-$$ \
    bash ipi_inputs/nvt/run.sh "$model"
  "$PYTHON" - "$out/nvt/nvt.out" "$out/nvt/ipi.log" "$t0" <<'EOF'
import re, sys, time
import numpy as np
wall = time.time() - float(sys.argv[3])
cols, rows = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"#\s*column\s+(\d+)\s+-->\s+(\S+)", line)
    if m:
        cols[m.group(2)] = int(m.group(1)) - 1
    elif line.strip() and not line.startswith("#"):
        rows.append([float(x) for x in line.split()])
d = np.array(rows)
col = lambda name: d[:, cols[name]]
step, temp, pot = col("step"), col("temperature{kelvin}"), col("potential{electronvolt}")
cons = col("conserved{electronvolt}")
natoms = int(open(sys.argv[1].replace("nvt.out", "init.xyz")).readline())
n = len(step) - 1
drift = (cons[-1] - cons[0]) / max(n, 1) / natoms * 1e6
print()
print("NVT summary (synthetic model: numbers are not physics)")
print("  steps run             %d (%.3f ps)" % (n, col("time{picosecond}")[-1]))
print("  temperature           start %.1f K, mean %.1f K, last %.1f K (target 300 K)" % (temp[0], temp[1:].mean() if n else temp[0], temp[-1]))
print("  potential energy      start %.4f eV, last %.4f eV (%.5f eV/atom)" % (pot[0], pot[-1], pot[-1] / natoms))
print("  conserved quantity    %.4f -> %.4f eV (%+.2f micro-eV/atom/step)" % (cons[0], cons[-1], drift))
if wall > 0:
    print("  wall time             %.1f s including i-PI's start-up (%.1f steps/s overall)" % (wall, n / wall))
print("  output                demo_output/nvt/ (nvt.out, nvt.pos_0.xyz, nvt.for_0.xyz, ipi.log, gapd.log)")
EOF
else
  cat <<'EOF'
demo: IPI_ROOT is not set, so no MD this time. To run molecular dynamics with i-PI:
        git clone --branch v3.3.0 https://github.com/i-pi/i-pi /path/to/i-pi
        IPI_ROOT=/path/to/i-pi bash scripts/demo.sh
      (i-PI needs only Python 3 with numpy; it is run as PYTHONPATH=$IPI_ROOT python3 $IPI_ROOT/bin/i-pi.
       See ipi_inputs/nvt/README.md and docs/ipi.md.)

demo: instead, gapd predict on the bundled BaTiO3 structures (tests/data/librascal/structures.extxyz):
EOF
  "$PYTHON" - "$gapd" "$model" "$repo/tests/data/librascal/structures.extxyz" "$out" "$threads" <<'EOF'
import os, shlex, subprocess, sys, time
import numpy as np
gapd, model, structures, out, threads = sys.argv[1:6]

def frames_of(path):
    lines = open(path).read().splitlines()
    k, frames = 0, []
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        n = int(lines[k])
        frames.append(lines[k:k + n + 2])
        k += n + 2
    return frames

def predict(frame_lines, repeat, tag):
    inp = os.path.join(out, "predict_%s_input.extxyz" % tag)
    res = os.path.join(out, "predict_%s_output.extxyz" % tag)
    with open(inp, "w") as f:
        f.write(("\n".join(frame_lines) + "\n") * repeat)
    t0 = time.perf_counter()
    subprocess.run([gapd, "predict", "-m", model, "-o", res, "--threads", threads, inp], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - t0, res

# Energies and forces of all structures in one call; the output file stays in demo_output/.
_, allres = predict(sum(frames_of(structures), []), 1, "all")
results = frames_of(allres)
print("  %-28s %6s %14s %13s %12s" % ("structure", "atoms", "E/atom (eV)", "max|F| (eV/Å)", "ms/structure"))
for i, (fr, lines) in enumerate(zip(frames_of(structures), results)):
    # Time per structure without the model loading: (21 copies - 1 copy) / 20, best of 3 runs each.
    t1 = min(predict(fr, 1, "timing")[0] for _ in range(3))
    t21 = min(predict(fr, 21, "timing")[0] for _ in range(3))
    per = max(t21 - t1, 0.0) / 20 * 1e3
    n = int(lines[0])
    info = dict(t.partition("=")[::2] for t in shlex.split(lines[1]))
    name = info.get("name", "frame %d" % i)
    props = info["Properties"].split(":")
    col, fcol = 0, None
    for p in range(0, len(props), 3):
        if props[p] == "forces":
            fcol = col
        col += int(props[p + 2])
    forces = np.array([[float(x) for x in l.split()[fcol:fcol + 3]] for l in lines[2:2 + n]])
    print("  %-28s %6d %14.6f %13.4f %12.2f" % (name, n, float(info["energy"]) / n,
                                                np.linalg.norm(forces, axis=1).max(), per))
print("  (synthetic model: numbers are not physics; %s thread(s); all results: %s)" % (threads, allres))
EOF
fi
echo
echo "demo: done (synthetic model: numbers are not physics)."
