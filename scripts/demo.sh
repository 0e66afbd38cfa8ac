#!/usr/bin/env bash
# The README's first command. Installs dependencies (apt), builds gapd, then runs the main job on the shipped
# default model data/models/batio3_default.gapd (BaTiO3, PBEsol SOAP-GAP + SA-GPR dipoles; card:
# data/models/MODEL_CARD.md):
#   - with IPI_ROOT set (an i-PI v3.3.0 checkout): a short BaTiO3 NVT run with dipoles streamed as extras
#     (ipi_inputs/dipole, 40 atoms, 300 K), then the analysis: static dielectric constant from the dipole
#     fluctuations, polarization and Ti-cell dipole histograms (scripts/analysis, PNG in demo_output/);
#   - without: how to get i-PI, then `gapd eval` of the default model on the held-out DFT structures
#     (data/batio3_pbesol_test.extxyz: errors against PBEsol) and `gapd predict` with dipoles on one cell.
# Environment: IPI_ROOT, DEMO_STEPS (MD steps, default 400), GAPD_THREADS (default: all cores).
# Outputs go to demo_output/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
PYTHON=/usr/bin/python3

bash scripts/install_deps.sh
bash scripts/build.sh

gapd=$repo/build/gapd
model=$repo/data/models/batio3_default.gapd
threads=${GAPD_THREADS:-$(nproc)}
out=$repo/demo_output
mkdir -p "$out"

echo
echo "=== gapd demo: default model data/models/batio3_default.gapd ==="
echo "BaTiO3 SOAP-GAP fitted to PBEsol (CP2K) energies, forces and stresses; its dipole part is fitted to"
echo "GPAW PBEsol Berry-phase dipoles of 5- to 40-atom cells (data/models/MODEL_CARD.md: data, errors, limits)."
echo

if [ -n "${IPI_ROOT:-}" ]; then
  steps=${DEMO_STEPS:-400}
  echo "demo: i-PI from IPI_ROOT=$IPI_ROOT: BaTiO3 NVT with dipoles, 40 atoms, 300 K, 1 fs, $steps steps"
  t0=$(date +%s.%N)
  IPI_ROOT=$IPI_ROOT STEPS=$steps RUN_DIR=$out/dipole GAPD=$gapd GAPD_THREADS=$threads \
    ADDRESS_SUFFIX=-demo-$$ DIPOLE_MODEL=$model bash ipi_inputs/dipole/run.sh "$model"
  t1=$(date +%s.%N)
  skip=$((steps / 4))
  echo
  echo "demo: NVT summary"
  "$PYTHON" - "$out/dipole/dipole.out" "$t0" "$t1" <<'PYEOF'
import re, sys
import numpy as np
cols, rows = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"#\s*column\s+(\d+)\s+-->\s+(\S+)", line)
    if m:
        cols[m.group(2)] = int(m.group(1)) - 1
    elif line.strip() and not line.startswith("#"):
        rows.append([float(x) for x in line.split()])
d = np.array(rows)
col = lambda name: d[:, cols[name]]
temp, pot, cons = col("temperature{kelvin}"), col("potential{electronvolt}"), col("conserved{electronvolt}")
n = len(temp) - 1
wall = float(sys.argv[3]) - float(sys.argv[2])
print("  steps run             %d (%.3f ps), %.1f s wall including start-up" % (n, col("time{picosecond}")[-1], wall))
print("  temperature           mean %.1f K after the first quarter (target 300 K)" % temp[n // 4:].mean())
print("  potential energy      %.4f eV per atom at the end" % (pot[-1] / 40))
print("  conserved quantity    drift %+.3f meV/atom over the run (SVR thermostat)" % ((cons[-1] - cons[0]) / 40 * 1e3))
PYEOF
  echo
  echo "demo: static dielectric constant from the dipole fluctuations (scripts/analysis/dielectric.py, first $skip steps skipped)"
  "$PYTHON" scripts/analysis/dielectric.py --dipoles "$out/dipole/dipole.dipole_0" \
    --properties "$out/dipole/dipole.out" --cell-from "$out/dipole/init.xyz" --skip "$skip" --temperature 300
  echo
  echo "demo: polarization histograms (scripts/analysis/polarization.py)"
  "$PYTHON" scripts/analysis/polarization.py --dipoles "$out/dipole/dipole.dipole_0" \
    --cell-from "$out/dipole/init.xyz" --skip "$skip" --png "$out/polarization.png" | tail -n 8
  echo
  echo "demo: Ti-centred unit-cell dipoles (scripts/analysis/cell_dipoles.py)"
  "$PYTHON" scripts/analysis/cell_dipoles.py --cell-dipoles "$out/dipole/dipole.cell_dipoles_0" \
    --template "$out/dipole/init.xyz" --skip "$skip" --png "$out/cell_dipoles.png" | tail -n 6
  echo "  plots: demo_output/polarization.png, demo_output/cell_dipoles.png; all i-PI output: demo_output/dipole/"
  echo "  (a 40-atom cell for $steps fs is far too short for a converged dielectric constant: this shows the pipeline)"
else
  cat <<'MSG'
demo: IPI_ROOT is not set, so no MD this time. To run molecular dynamics with i-PI:
        git clone --branch v3.3.0 https://github.com/i-pi/i-pi /path/to/i-pi
        IPI_ROOT=/path/to/i-pi bash scripts/demo.sh
      (i-PI needs only Python 3 with numpy; it is run as PYTHONPATH=$IPI_ROOT python3 $IPI_ROOT/bin/i-pi.
       See ipi_inputs/README files and docs/ipi.md.)

demo: instead, the default model against the held-out PBEsol structures (data/batio3_pbesol_test.extxyz):
MSG
  "$gapd" eval -m "$model" data/batio3_pbesol_test.extxyz --threads "$threads" -o "$out/test_predictions.extxyz"
  echo
  echo "demo: energy, forces and dipoles of a 40-atom cell (the start of ipi_inputs/dipole) with gapd predict:"
  "$PYTHON" scripts/make_batio3_supercell.py -n 2 --displacement 0.05 --seed 2024 --extxyz "$out/cell_40.extxyz" >/dev/null
  "$gapd" predict -m "$model" --threads "$threads" --extras dipole,cell_dipoles -o "$out/predict_40.extxyz" \
    "$out/cell_40.extxyz"
  "$PYTHON" - "$out/predict_40.extxyz" <<'PYEOF'
import sys
import numpy as np
import ase.io
a = ase.io.read(sys.argv[1])
e = a.get_potential_energy() if a.calc else a.info["energy"]
f = a.get_forces() if a.calc else a.arrays["forces"]
print("  E = %.6f eV (%.6f eV/atom), max|F| = %.4f eV/Å" % (e, e / len(a), np.linalg.norm(f, axis=1).max()))
print("  total dipole M = %s e·Å (dipole model fitted to DFT dipoles of 5- to 40-atom cells)" % np.round(a.info["dipole"], 4))
cd = a.arrays["cell_dipoles"][[s == "Ti" for s in a.get_chemical_symbols()]]
print("  Ti-centred unit-cell dipoles: %d cells, |d| from %.3f to %.3f e·Å" % (len(cd), *np.sort(np.linalg.norm(cd, axis=1))[[0, -1]]))
PYEOF
  echo "  results: demo_output/test_predictions.extxyz, demo_output/predict_40.extxyz"
fi
echo
echo "demo: done."
