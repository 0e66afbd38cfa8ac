#!/usr/bin/env bash
# BaTiO3 replica exchange: i-PI with four temperature replicas and REMD_CLIENTS `gapd serve` instances on one
# UNIX socket (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#
# MODEL (or GAPD_MODEL): default by the rule in ipi_inputs/common.sh (data/models/batio3_default.gapd, else
# build/batio3_seed.gapd, fitted first if absent).
# REMD_CLIENTS  number of gapd instances (default 2); keep REMD_CLIENTS x GAPD_THREADS <= cores
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), INIT_XYZ (starting
# structure of every replica, default init.xyz here), GAPD, GAPD_THREADS (default 1 here), STEPS, TIMESTEP,
# ADDRESS_SUFFIX, RUN_DIR (default demo_output/remd), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, DRY_RUN, PYTHON).
# TEMPERATURE is refused: the input has a temperature ladder (edit its <instance> lines). No dipoles: --extras none.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-1}
clients=${REMD_CLIENTS:-2}
case "$clients" in ''|*[!0-9]*|0) ipi_die "REMD_CLIENTS=$clients: expected a positive integer" ;; esac
ipi_init remd
ipi_model "${1:-}"
ipi_prepare "$here/input.xml"
for k in $(seq 1 "$clients"); do
  ipi_add_client "$k" gapd-remd --model "$IPI_MODEL" --extras none
done
status=0
ipi_run || status=$?
if [ -f "$RUN_DIR/remd.remd_idx" ]; then
  ipi_say "exchanges accepted at $(wc -l <"$RUN_DIR/remd.remd_idx") step(s) (remd.remd_idx)"
fi
exit $status
