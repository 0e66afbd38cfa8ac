#!/usr/bin/env bash
# BaTiO3 NST (fully flexible cell, zero stress, 250 K): starts i-PI and one `gapd serve` (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#
# MODEL (or GAPD_MODEL): default by the rule in ipi_inputs/common.sh (data/models/batio3_default.gapd, else
# build/batio3_seed.gapd, fitted first if absent).
# BAROSTAT      anisotropic (default: input.xml, i-PI's NST with the RGB barostat) or flexible
#               (input_flexible.xml: MTTK flexible cell at zero pressure)
# INIT_XYZ      starting structure (default init.xyz here, the 320-atom cube); the anisotropic barostat's
#               reference cell <h0> is set to its cell
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), GAPD, GAPD_THREADS
# (default 2 here), STEPS, TIMESTEP, TEMPERATURE, ADDRESS_SUFFIX, RUN_DIR (default demo_output/nst), RUN_TIMEOUT,
# MAX_RESTARTS, IPI_VERBOSITY, DRY_RUN, PYTHON). No dipoles: gapd serve --extras none.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
case "${BAROSTAT:-anisotropic}" in
  anisotropic) input=$here/input.xml ;;
  flexible) input=$here/input_flexible.xml ;;
  *) ipi_die "BAROSTAT=$BAROSTAT: expected anisotropic or flexible" ;;
esac
ipi_init nst
ipi_model "${1:-}"
ipi_prepare "$input"
ipi_add_client gapd gapd-nst --model "$IPI_MODEL" --extras none
ipi_run
