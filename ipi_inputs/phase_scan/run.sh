#!/usr/bin/env bash
# One temperature segment of the phase-sequence scan (README.md; scan.py calls it once per temperature):
# BaTiO3 NST at 1 atm, starting from INIT_XYZ (default: the 320-atom cube of ../nvt/init.xyz).
#
#   IPI_ROOT=/tmp/i-pi TEMPERATURE=150 STEPS=10000 INIT_XYZ=last.xyz RUN_DIR=scan/T150 ./run.sh [MODEL]
#
# Environment: what ipi_inputs/common.sh reads (IPI_ROOT, GAPD, GAPD_THREADS (default 1 here), STEPS, TIMESTEP,
# TEMPERATURE, INIT_XYZ, ADDRESS_SUFFIX, RUN_DIR (default demo_output/phase_scan), RUN_TIMEOUT, ...).
# gapd runs with --extras none: the polarization is computed afterwards from the saved frames.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-1}
ipi_init phase_scan
ipi_model "${1:-}"
ipi_prepare "$here/input.xml"
ipi_add_client gapd gapd-scan --model "$IPI_MODEL" --extras none
ipi_run
