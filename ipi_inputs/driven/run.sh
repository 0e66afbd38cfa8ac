#!/usr/bin/env bash
# i-PI electric-field driven dynamics (eda-nvt) with BEC from gapd: a GAP client and a dipole-only client
# (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [GAP_MODEL]          (or, with i-pi on PATH: ./run.sh [GAP_MODEL])
#
# GAP_MODEL (argument, or GAPD_MODEL): the force model, default by the rule in ipi_inputs/common.sh
# (data/models/batio3_default.gapd, else build/batio3_seed.gapd).
# DIPOLE_MODEL  dipole model (default: the force model's own dipole section; the default model has one, fitted
#               to GPAW PBEsol dipoles of 5-atom cells, data/models/MODEL_CARD.md). A force model without a
#               dipole section (seed model, librascal JSON) needs DIPOLE_MODEL.
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), INIT_XYZ (starting
# structure, default init.xyz here, 40 atoms), GAPD, GAPD_THREADS (default 1 per client here), STEPS, TEMPERATURE,
# ADDRESS_SUFFIX, RUN_DIR (default demo_output/driven), RUN_TIMEOUT, MAX_RESTARTS, DRY_RUN, PYTHON).
# The force client runs with --extras none; the dipole client computes dipole and BEC.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-1}
ipi_init driven
ipi_model "${1:-}"
ipi_dipole_model
ipi_prepare "$here/input.xml"
ipi_add_client forces gapd-forces --model "$IPI_MODEL" --extras none
ipi_add_client dipoles gapd-dipoles --dipole-only --dipole-model "$IPI_DIPOLE_MODEL" --extras dipole,BEC
ipi_run
