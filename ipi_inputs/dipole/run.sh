#!/usr/bin/env bash
# i-PI NVT with dipoles as extras: one `gapd serve` with a GAP and a dipole model (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [GAP_MODEL]          (or, with i-pi on PATH: ./run.sh [GAP_MODEL])
#
# GAP_MODEL (argument, or GAPD_MODEL): the force model, default by the rule in ipi_inputs/common.sh
# (data/models/batio3_default.gapd, else build/batio3_seed.gapd).
# DIPOLE_MODEL  dipole model (default: the force model's own dipole section; the default model has one, fitted
#               to GPAW PBEsol dipoles of 5-atom cells, data/models/MODEL_CARD.md). A force model without a
#               dipole section (seed model, librascal JSON) needs DIPOLE_MODEL.
# EXTRAS        --extras list (default dipole,cell_dipoles; must contain both: input.xml saves both)
# INIT_XYZ      starting structure (default: init.xyz of this folder, 40 atoms; e.g. ipi_inputs/nvt/init.xyz
#               for 320 atoms); written to RUN_DIR/init.xyz, which is also gapd's --template
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT (else the i-pi on PATH), GAPD, GAPD_THREADS
# (default 2 here), STEPS, TIMESTEP, TEMPERATURE, ADDRESS_SUFFIX, RUN_DIR (default demo_output/dipole),
# RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, DRY_RUN, PYTHON).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
ipi_init dipole
ipi_model "${1:-}"
ipi_dipole_model
EXTRAS=${EXTRAS:-dipole,cell_dipoles}
# input.xml saves the 'dipole' and 'cell_dipoles' extras; i-PI stops with a KeyError if a reply lacks one.
case ",$EXTRAS," in *,dipole,*) ;; *) ipi_die "EXTRAS=$EXTRAS must contain dipole (input.xml saves it)" ;; esac
case ",$EXTRAS," in *,cell_dipoles,*) ;; *) ipi_die "EXTRAS=$EXTRAS must contain cell_dipoles (input.xml saves it)" ;; esac
ipi_prepare "$here/input.xml"
dipole_args=()
[ "$IPI_DIPOLE_MODEL" = "$IPI_MODEL" ] || dipole_args=(--dipole-model "$IPI_DIPOLE_MODEL")
ipi_add_client gapd gapd-dipole --model "$IPI_MODEL" "${dipole_args[@]}" --extras "$EXTRAS"
status=0
ipi_run || status=$?
ipi_dry_run || ipi_say "dipoles (e·Bohr) in $RUN_DIR/dipole.dipole_0, Ti-centred cell dipoles in $RUN_DIR/dipole.cell_dipoles_0"
exit $status
