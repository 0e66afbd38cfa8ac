#!/usr/bin/env bash
# i-PI electric-field driven dynamics (eda-nvt) with BEC from gapd: a GAP client and a dipole-only client
# (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [GAP_MODEL]
#
# GAP_MODEL (argument, or GAPD_MODEL): the force model, default by the rule in ipi_inputs/common.sh
# (data/models/batio3_default.gapd, else build/batio3_seed.gapd).
# DIPOLE_MODEL  dipole model (default: tests/data/dipole/synthetic_dipole.gapd, SYNTHETIC: not physics)
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT, GAPD, GAPD_THREADS (default 1 per client
# here), STEPS, ADDRESS_SUFFIX, RUN_DIR (default demo_output/driven), RUN_TIMEOUT, MAX_RESTARTS, PYTHON).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-1}
DIPOLE_MODEL=${DIPOLE_MODEL:-$IPI_REPO/tests/data/dipole/synthetic_dipole.gapd}
ipi_init driven
ipi_model "${1:-}"
[ -f "$DIPOLE_MODEL" ] || ipi_die "dipole model file $DIPOLE_MODEL not found"
case "$DIPOLE_MODEL" in *tests/data/*) ipi_say "NOTE: synthetic dipole model: the dipoles are not physics" ;; esac
ipi_prepare "$here/input.xml" "$here/init.xyz"
ipi_add_client forces gapd-forces --model "$IPI_MODEL"
ipi_add_client dipoles gapd-dipoles --dipole-only --dipole-model "$DIPOLE_MODEL" --extras dipole,BEC
ipi_run
