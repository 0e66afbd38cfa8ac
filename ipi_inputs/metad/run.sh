#!/usr/bin/env bash
# BaTiO3 well-tempered metadynamics through PLUMED (i-PI <ffplumed>) with one `gapd serve` (see README.md).
# UNTESTED: needs PLUMED's Python module (`import plumed`), which Debian does not package.
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]          (or, with i-pi on PATH: ./run.sh [MODEL])
#
# MODEL (or GAPD_MODEL): default by the rule in ipi_inputs/common.sh (data/models/batio3_default.gapd, else
# build/batio3_seed.gapd, fitted first if absent).
# INIT_XYZ      starting structure (default init.xyz here); with INIT_XYZ or TEMPERATURE, plumed.dat is written
#               for it by make_plumed_dat.py (orthorhombic CELL(abcABC) in Å), else the committed plumed.dat is used
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), GAPD, GAPD_THREADS
# (default 2 here), STEPS, TEMPERATURE, ADDRESS_SUFFIX, RUN_DIR (default demo_output/metad), RUN_TIMEOUT,
# MAX_RESTARTS, IPI_VERBOSITY, DRY_RUN, PYTHON). No dipoles: gapd serve --extras none.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init metad
if ! "$IPI_PYTHON" -c "import plumed; plumed.Plumed()" 2>/dev/null; then
  msg="$IPI_PYTHON cannot load PLUMED (import plumed; plumed.Plumed()): install PLUMED 2 with its Python module and set PLUMED_KERNEL (see README.md)"
  if ipi_dry_run; then ipi_say "DRY_RUN: $msg"; else ipi_die "$msg"; fi
fi
ipi_model "${1:-}"
if [ -n "${INIT_XYZ:-}" ] || [ -n "${TEMPERATURE:-}" ]; then
  ipi_prepare "$here/input.xml"
  "$PYTHON" "$here/make_plumed_dat.py" "$RUN_DIR/init.xyz" -o "$RUN_DIR/plumed.dat" \
    --temperature "${TEMPERATURE:-250}" >/dev/null || ipi_die "cannot write plumed.dat for $RUN_DIR/init.xyz (above)"
  ipi_say "plumed.dat written for $RUN_DIR/init.xyz at ${TEMPERATURE:-250} K (make_plumed_dat.py)"
else
  ipi_prepare "$here/input.xml" "$here/plumed.dat"
fi
ipi_add_client gapd gapd-metad --model "$IPI_MODEL" --extras none
ipi_run
