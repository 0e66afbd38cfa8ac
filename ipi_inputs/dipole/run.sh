#!/usr/bin/env bash
# i-PI NVT with dipoles as extras: one `gapd serve` with a GAP and a dipole model (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [GAP_MODEL]
#
# GAP_MODEL (argument, or GAPD_MODEL): the force model, default by the rule in ipi_inputs/common.sh
# (data/models/batio3_default.gapd, else build/batio3_seed.gapd).
# DIPOLE_MODEL  dipole model (default: tests/data/dipole/synthetic_dipole.gapd, SYNTHETIC: not physics)
# EXTRAS        --extras list (default dipole,cell_dipoles; must contain both: input.xml saves both)
# INIT_XYZ      starting structure, i-PI xyz (default: init.xyz of this folder, 40 atoms; e.g. ipi_inputs/nvt/init.xyz
#               for 320 atoms); copied to RUN_DIR/init.xyz, which is also gapd's --template
# Environment otherwise: what ipi_inputs/common.sh reads (IPI_ROOT, GAPD, GAPD_THREADS (default 2 here), STEPS,
# ADDRESS_SUFFIX, RUN_DIR (default demo_output/dipole), RUN_TIMEOUT, MAX_RESTARTS, IPI_VERBOSITY, PYTHON).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ipi_inputs/common.sh
source "$here/../common.sh"

GAPD_THREADS=${GAPD_THREADS:-2}
DIPOLE_MODEL=${DIPOLE_MODEL:-$IPI_REPO/tests/data/dipole/synthetic_dipole.gapd}
ipi_init dipole
ipi_model "${1:-}"
[ -f "$DIPOLE_MODEL" ] || ipi_die "dipole model file $DIPOLE_MODEL not found"
case "$DIPOLE_MODEL" in *tests/data/*) ipi_say "NOTE: synthetic dipole model: the dipoles are not physics" ;; esac
INIT_XYZ=${INIT_XYZ:-$here/init.xyz}
[ -f "$INIT_XYZ" ] || ipi_die "INIT_XYZ=$INIT_XYZ not found"
ipi_prepare "$here/input.xml"
cp -L "$INIT_XYZ" "$RUN_DIR/init.xyz"
EXTRAS=${EXTRAS:-dipole,cell_dipoles}
# input.xml saves the 'dipole' and 'cell_dipoles' extras; i-PI stops with a KeyError if a reply lacks one.
case ",$EXTRAS," in *,dipole,*) ;; *) ipi_die "EXTRAS=$EXTRAS must contain dipole (input.xml saves it)" ;; esac
case ",$EXTRAS," in *,cell_dipoles,*) ;; *) ipi_die "EXTRAS=$EXTRAS must contain cell_dipoles (input.xml saves it)" ;; esac
ipi_add_client gapd gapd-dipole --model "$IPI_MODEL" --dipole-model "$DIPOLE_MODEL" --extras "$EXTRAS"
status=0
ipi_run || status=$?
ipi_say "dipoles (e·Bohr) in $RUN_DIR/dipole.dipole_0, Ti-centred cell dipoles in $RUN_DIR/dipole.cell_dipoles_0"
exit $status
