#!/usr/bin/env bash
# i-PI NVT with dipoles as extras: one `gapd serve` with a GAP and a dipole model (see README.md).
#
#   IPI_ROOT=/tmp/i-pi ./run.sh
#
# Environment (all optional except IPI_ROOT):
#   GAPD          gapd executable (default: build/gapd of this repository)
#   GAP_MODEL     GAP model (default: tests/data/librascal/model_small_zeta2_exact.json, SYNTHETIC)
#   DIPOLE_MODEL  dipole model (default: tests/data/dipole/synthetic_dipole.gapd, SYNTHETIC)
#   EXTRAS        --extras list (default dipole)
#   STEPS         override <total_steps>; RUN_DIR (default demo_output/dipole); ADDRESS (default gapd-dipole)
#   PYTHON        Python with numpy for i-PI (default /usr/bin/python3); GAPD_THREADS (default 2)
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
EXTRAS=${EXTRAS:-dipole}
ADDRESS=${ADDRESS:-gapd-dipole}
RUN_DIR=${RUN_DIR:-$repo/demo_output/dipole}
echo "run.sh: NOTE: the default models are SYNTHETIC: the numbers are not physics"

if [ -d "$RUN_DIR" ] && [ -n "$(ls -A "$RUN_DIR")" ] && [ ! -f "$RUN_DIR/input.xml" ]; then
  echo "run.sh: RUN_DIR=$RUN_DIR is not empty and holds no earlier run; not wiping it" >&2
  exit 2
fi
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
rm -f "/tmp/ipi_$ADDRESS"
cp "$here/init.xyz" "$RUN_DIR/"
sed -e "s|<address> gapd-dipole </address>|<address> $ADDRESS </address>|" \
    -e "s|<total_steps> 50 </total_steps>|<total_steps> ${STEPS:-50} </total_steps>|" "$here/input.xml" >"$RUN_DIR/input.xml"

(cd "$RUN_DIR" && exec env PYTHONPATH="$IPI_ROOT" "$PYTHON" "$IPI_ROOT/bin/i-pi" input.xml) >"$RUN_DIR/ipi.log" 2>&1 &
ipi_pid=$!
"$GAPD" serve -u -a "$ADDRESS" -m "$GAP_MODEL" --dipole-model "$DIPOLE_MODEL" --extras "$EXTRAS" \
  -t "$RUN_DIR/init.xyz" --threads "${GAPD_THREADS:-2}" --no-reconnect >"$RUN_DIR/gapd.log" 2>&1 &
gapd_pid=$!
trap 'kill -TERM $gapd_pid 2>/dev/null; kill -INT $ipi_pid 2>/dev/null; rm -f /tmp/ipi_$ADDRESS' INT TERM
ipi_status=0; wait $ipi_pid || ipi_status=$?
gapd_status=0; wait $gapd_pid || gapd_status=$?
echo "run.sh: i-PI exit $ipi_status, gapd exit $gapd_status; dipoles (e·Bohr) in $RUN_DIR/dipole.dipole_0"
tail -n 2 "$RUN_DIR/ipi.log" | sed 's/^/  i-PI: /'
tail -n 2 "$RUN_DIR/gapd.log" | sed 's/^/  gapd: /'
[ "$ipi_status" -eq 0 ] && [ "$gapd_status" -eq 0 ]
