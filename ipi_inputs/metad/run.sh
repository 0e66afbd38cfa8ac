#!/usr/bin/env bash
# BaTiO3 well-tempered metadynamics through PLUMED (i-PI <ffplumed>) with one `gapd serve` (see README.md).
# UNTESTED: needs PLUMED's Python module (`import plumed`), which Debian does not package.
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#
# MODEL (or GAPD_MODEL): default by the rule in ipi_inputs/common.sh (data/models/batio3_default.gapd, else
# build/batio3_seed.gapd, fitted first if absent).
# Environment: what ipi_inputs/common.sh reads (IPI_ROOT, GAPD, GAPD_THREADS (default 2 here), STEPS,
# ADDRESS_SUFFIX, RUN_DIR (default demo_output/metad), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, PYTHON).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init metad
if ! "$PYTHON" -c "import plumed; plumed.Plumed()" 2>/dev/null; then
  ipi_die "$PYTHON cannot load PLUMED (import plumed; plumed.Plumed()): install PLUMED 2 with its Python module and set PLUMED_KERNEL (see README.md)"
fi
ipi_model "${1:-}"
ipi_prepare "$here/input.xml" "$here/init.xyz" "$here/plumed.dat"
ipi_add_client gapd gapd-metad --model "$IPI_MODEL"
ipi_run
