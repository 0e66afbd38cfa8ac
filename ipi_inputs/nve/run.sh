#!/usr/bin/env bash
# Runs the BaTiO3 NVE input of this folder (energy conservation): i-PI and one `gapd serve` (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#   IPI_ROOT=/tmp/i-pi TIMESTEP=2 RUN_DIR=demo_output/nve_2fs ./run.sh     # the same at 2 fs
#
# MODEL (or GAPD_MODEL): gapd native or librascal model file. Default (the rule in ipi_inputs/common.sh):
# data/models/batio3_default.gapd if it exists, else build/batio3_seed.gapd (fitted first if absent).
# Environment: what ipi_inputs/common.sh reads: IPI_ROOT (else the i-pi on PATH), INIT_XYZ (starting structure,
# default init.xyz here), GAPD, GAPD_THREADS (default 2 here), STEPS, TIMESTEP, TEMPERATURE (of the initial
# velocities), ADDRESS_SUFFIX, RUN_DIR (default demo_output/nve), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY,
# DRY_RUN, PYTHON. No dipoles: gapd serve --extras none.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init nve
ipi_model "${1:-}"
ipi_prepare "$here/input.xml"
ipi_add_client gapd gapd-nve --model "$IPI_MODEL" --extras none
ipi_run
