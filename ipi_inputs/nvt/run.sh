#!/usr/bin/env bash
# Runs the BaTiO3 NVT input of this folder: starts i-PI and one `gapd serve`, supervises both (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]          (or, with i-pi on PATH: ./run.sh [MODEL])
#
# MODEL (or GAPD_MODEL): gapd native or librascal model file. Default (the rule in ipi_inputs/common.sh):
# data/models/batio3_default.gapd if it exists, else build/batio3_seed.gapd (fitted first if absent).
# Environment: what ipi_inputs/common.sh reads: IPI_ROOT (else the i-pi on PATH), INIT_XYZ (starting structure,
# default init.xyz here), GAPD, GAPD_THREADS (default 2 here), STEPS, TIMESTEP, TEMPERATURE, ADDRESS_SUFFIX,
# RUN_DIR (default demo_output/nvt), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, DRY_RUN, PYTHON.
# No dipoles: gapd serve --extras none (the default model's dipole section would otherwise run on every call).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init nvt
ipi_model "${1:-}"
ipi_prepare "$here/input.xml"
ipi_add_client gapd gapd-nvt --model "$IPI_MODEL" --extras none
ipi_run
