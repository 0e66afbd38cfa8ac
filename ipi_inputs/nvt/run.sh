#!/usr/bin/env bash
# Runs the BaTiO3 NVT input of this folder: starts i-PI and one `gapd serve`, supervises both (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#
# MODEL (or GAPD_MODEL): gapd native or librascal model file. Default (the rule in ipi_inputs/common.sh):
# data/models/batio3_default.gapd if it exists, else build/batio3_seed.gapd (fitted first if absent).
# Environment: what ipi_inputs/common.sh reads: IPI_ROOT, GAPD, GAPD_THREADS (default 2 here), STEPS,
# ADDRESS_SUFFIX, RUN_DIR (default demo_output/nvt), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, PYTHON.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init nvt
ipi_model "${1:-}"
ipi_prepare "$here/input.xml" "$here/init.xyz"
ipi_add_client gapd gapd-nvt --model "$IPI_MODEL"
ipi_run
