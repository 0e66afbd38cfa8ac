#!/usr/bin/env bash
# i-PI electric-field driven dynamics (eda-nvt) with BEC from gapd: a GAP client and a dipole-only client
# (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh
#
# Environment (all optional except IPI_ROOT):
#   GAPD          gapd executable (default: build/gapd of this repository)
#   GAP_MODEL     GAP model (default: tests/data/librascal/model_small_zeta2_exact.json, SYNTHETIC)
#   DIPOLE_MODEL  dipole model (default: tests/data/dipole/synthetic_dipole.gapd, SYNTHETIC)
#   STEPS         override <total_steps>; RUN_DIR (default demo_output/driven); ADDRESS_PREFIX (default gapd)
#   PYTHON        Python with numpy for i-PI (default /usr/bin/python3); GAPD_THREADS (default 1 per client)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${IPI_ROOT:-}" ] || [ ! -f "${IPI_ROOT}/bin/i-pi" ]; then
  echo "run.sh: set IPI_ROOT to an i-PI checkout (v3.3.0)" >&2
  exit 2
fi
PYTHON=${PYTHON:-/usr/bin/python3}
GAPD=${GAPD:-$repo/build/gapd}
GAP_MODEL=${GAP_MODEL:-$repo/tests/data/librascal/model_small_zeta2_exact.json}
DIPOLE_MODEL=${DIPOLE_MODEL:-$repo/tests/data/dipole/synthetic_dipole.gapd}
PREFIX=${ADDRESS_PREFIX:-gapd}
RUN_DIR=${RUN_DIR:-$repo/demo_output/driven}
THREADS=${GAPD_THREADS:-1}
echo "run.sh: NOTE: the default models are SYNTHETIC: the numbers are not physics"

if [ -d "$RUN_DIR" ] && [ -n "$(ls -A "$RUN_DIR")" ] && [ ! -f "$RUN_DIR/input.xml" ]; then
  echo "run.sh: RUN_DIR=$RUN_DIR is not empty and holds no earlier run; not wiping it" >&2
  exit 2
fi
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
rm -f "/tmp/ipi_$PREFIX-forces" "/tmp/ipi_$PREFIX-dipoles"
cp "$here/init.xyz" "$RUN_DIR/"
sed -e "s|<address> gapd-forces </address>|<address> $PREFIX-forces </address>|" \
    -e "s|<address> gapd-dipoles </address>|<address> $PREFIX-dipoles </address>|" \
    -e "s|<total_steps> 50 </total_steps>|<total_steps> ${STEPS:-50} </total_steps>|" "$here/input.xml" >"$RUN_DIR/input.xml"

(cd "$RUN_DIR" && exec env PYTHONPATH="$IPI_ROOT" "$PYTHON" "$IPI_ROOT/bin/i-pi" input.xml) >"$RUN_DIR/ipi.log" 2>&1 &
ipi_pid=$!
"$GAPD" serve -u -a "$PREFIX-forces" -m "$GAP_MODEL" -t "$RUN_DIR/init.xyz" --threads "$THREADS" \
  --no-reconnect >"$RUN_DIR/gapd_forces.log" 2>&1 &
forces_pid=$!
"$GAPD" serve -u -a "$PREFIX-dipoles" --dipole-only --dipole-model "$DIPOLE_MODEL" --extras dipole,BEC \
  -t "$RUN_DIR/init.xyz" --threads "$THREADS" --no-reconnect >"$RUN_DIR/gapd_dipoles.log" 2>&1 &
dipoles_pid=$!
trap 'kill -TERM $forces_pid $dipoles_pid 2>/dev/null; kill -INT $ipi_pid 2>/dev/null' INT TERM
ipi_status=0; wait $ipi_pid || ipi_status=$?
forces_status=0; wait $forces_pid || forces_status=$?
dipoles_status=0; wait $dipoles_pid || dipoles_status=$?
rm -f "/tmp/ipi_$PREFIX-forces" "/tmp/ipi_$PREFIX-dipoles"
echo "run.sh: i-PI exit $ipi_status, gapd (forces) exit $forces_status, gapd (dipoles) exit $dipoles_status"
tail -n 2 "$RUN_DIR/ipi.log" | sed 's/^/  i-PI: /'
[ "$ipi_status" -eq 0 ] && [ "$forces_status" -eq 0 ] && [ "$dipoles_status" -eq 0 ]
