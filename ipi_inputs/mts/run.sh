#!/usr/bin/env bash
# BaTiO3 NVT with multiple time stepping: i-PI with two gapd clients, the full model (outer level, every 4 fs)
# and a cheap model (inner level, every 1 fs) (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL [CHEAP_MODEL]]
#
# MODEL (or GAPD_MODEL): the full model, default by the rule in ipi_inputs/common.sh
# (data/models/batio3_default.gapd, else build/batio3_seed.gapd, fitted first if absent).
# CHEAP_MODEL (argument or environment): the inner-level model, default build/batio3_seed_cheap.gapd, fitted
# first with `gapd fit data/fit_configs/batio3_seed_cheap.yaml` if absent. Fit it to the same data as MODEL.
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), INIT_XYZ (starting
# structure, default init.xyz here), GAPD, GAPD_THREADS (default 1 per client here), STEPS (outer steps),
# TEMPERATURE, ADDRESS_SUFFIX, RUN_DIR (default demo_output/mts), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY,
# DRY_RUN, PYTHON). No dipoles: both clients run with --extras none.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-1}
ipi_init mts
ipi_model "${1:-}"
cheap=${2:-${CHEAP_MODEL:-}}
if [ -z "$cheap" ]; then
  cheap=$IPI_REPO/build/batio3_seed_cheap.gapd
  ipi_fit_if_absent "$cheap" "$IPI_REPO/data/fit_configs/batio3_seed_cheap.yaml"
  [ "$IPI_MODEL" = "$IPI_SEED_MODEL" ] \
    || ipi_say "NOTE: the default cheap model is fitted to the seed data; fit one to MODEL's data (CHEAP_MODEL)"
fi
[ -f "$cheap" ] || ipi_dry_run || ipi_die "cheap model file $cheap not found"
ipi_prepare "$here/input.xml"
ipi_add_client full gapd-full --model "$IPI_MODEL" --extras none
ipi_add_client cheap gapd-cheap --model "$cheap" --extras none
ipi_run
