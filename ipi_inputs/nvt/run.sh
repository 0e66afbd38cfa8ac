#!/usr/bin/env bash
# Runs the BaTiO3 NVT input of this folder: starts i-PI and one `gapd serve`, waits for both.
#
#   IPI_ROOT=/tmp/i-pi ./run.sh [MODEL]
#
# MODEL (or GAPD_MODEL): gapd native or librascal model file. Default: build/paper_synthetic.gapd, made with
# `gapd convert` from ../shared/reference/librascal/paper_hypers_M1000_zeta4.json.gz if absent
# (SYNTHETIC model: the numbers are not physics).
# Environment (all optional except IPI_ROOT):
#   IPI_ROOT       i-PI checkout (v3.3.0), run as PYTHONPATH=$IPI_ROOT python3 $IPI_ROOT/bin/i-pi
#   GAPD           gapd executable (default: build/gapd of this repository)
#   GAPD_THREADS   OpenMP threads for gapd (default 2)
#   NVT_STEPS      override <total_steps> (default: the input's 500)
#   NVT_ADDRESS    override the UNIX socket name (default gapd-nvt -> /tmp/ipi_gapd-nvt)
#   RUN_DIR        where i-PI writes its files (default: demo_output/nvt of this repository; an earlier run
#                  there is wiped first, a non-empty directory without input.xml is refused)
#   NVT_TIMEOUT    seconds before the whole run is stopped (default 3600)
#   PYTHON         Python with numpy for i-PI (default /usr/bin/python3)
#   MAX_RESTARTS   how often a gapd that ends while i-PI still runs is replaced (default 5)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -z "${IPI_ROOT:-}" ] || [ ! -f "${IPI_ROOT}/bin/i-pi" ]; then
  echo "run.sh: set IPI_ROOT to an i-PI checkout (v3.3.0), e.g." >&2
  echo "  git clone --branch v3.3.0 https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi $0" >&2
  exit 2
fi
PYTHON=${PYTHON:-/usr/bin/python3}
GAPD=${GAPD:-$repo/build/gapd}
THREADS=${GAPD_THREADS:-2}
ADDRESS=${NVT_ADDRESS:-gapd-nvt}
RUN_DIR=${RUN_DIR:-$repo/demo_output/nvt}
TIMEOUT=${NVT_TIMEOUT:-3600}
default_model=$repo/build/paper_synthetic.gapd
MODEL=${1:-${GAPD_MODEL:-$default_model}}

if [ ! -x "$GAPD" ]; then
  echo "run.sh: no gapd executable at $GAPD (build it: bash scripts/build.sh)" >&2
  exit 2
fi
if [ ! -f "$MODEL" ]; then
  if [ "$MODEL" != "$default_model" ]; then
    echo "run.sh: model file $MODEL not found" >&2
    exit 2
  fi
  synthetic=$repo/../shared/reference/librascal/paper_hypers_M1000_zeta4.json.gz
  if [ ! -f "$synthetic" ]; then
    echo "run.sh: no model given and $synthetic is absent; pass a model: $0 MODEL" >&2
    exit 2
  fi
  echo "run.sh: converting the synthetic paper-size model to $default_model"
  mkdir -p "$(dirname "$default_model")"
  "$GAPD" convert "$synthetic" "$default_model"
fi
case "$MODEL" in
  *paper_hypers_M1000_zeta4* | *paper_synthetic*)
    echo "run.sh: NOTE: synthetic model (trained on a made-up pair potential): numbers are not physics" ;;
esac

socket=/tmp/ipi_$ADDRESS
if [ -S "$socket" ] || [ -e "$socket" ]; then
  # A socket file left by a killed i-PI makes i-PI fail to bind. Remove it only if nobody listens on it.
  if "$PYTHON" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])" \
      "$socket" 2>/dev/null; then
    echo "run.sh: something is already listening on $socket (another i-PI?); set NVT_ADDRESS" >&2
    exit 2
  fi
  echo "run.sh: removing stale socket $socket"
  rm -f "$socket"
fi

# Wipe RUN_DIR only if it looks like an earlier run (or is empty): never a directory of other files.
if [ -d "$RUN_DIR" ] && [ -n "$(ls -A "$RUN_DIR")" ] && [ ! -f "$RUN_DIR/input.xml" ]; then
  echo "run.sh: RUN_DIR=$RUN_DIR is not empty and holds no earlier run (no input.xml); not wiping it" >&2
  exit 2
fi
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
cp "$here/init.xyz" "$RUN_DIR/"
"$PYTHON" - "$here/input.xml" "$RUN_DIR/input.xml" "$ADDRESS" "${NVT_STEPS:-}" <<'EOF'
import re, sys
src, dst, address, steps = sys.argv[1:5]
text = open(src).read()
text = re.sub(r"<address>[^<]*</address>", "<address> %s </address>" % address, text, count=1)
if steps:
    text = re.sub(r"<total_steps>[^<]*</total_steps>", "<total_steps> %d </total_steps>" % int(steps), text, count=1)
open(dst, "w").write(text)
EOF

ipi_pid=""
gapd_pid=""
cleanup() {
  # Stop whatever is still running (only the two processes this script started): politely, then for good.
  [ -n "$gapd_pid" ] && kill -TERM "$gapd_pid" 2>/dev/null || true
  [ -n "$ipi_pid" ] && kill -INT "$ipi_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    { [ -n "$gapd_pid" ] && kill -0 "$gapd_pid" 2>/dev/null; } || { [ -n "$ipi_pid" ] && kill -0 "$ipi_pid" 2>/dev/null; } || break
    sleep 0.1
  done
  [ -n "$gapd_pid" ] && kill -KILL "$gapd_pid" 2>/dev/null || true
  [ -n "$ipi_pid" ] && kill -KILL "$ipi_pid" 2>/dev/null || true
  rm -f "$socket" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted"; exit 130' INT TERM

echo "run.sh: i-PI in $RUN_DIR (log: $RUN_DIR/ipi.log), gapd on $socket with $THREADS thread(s) (log: $RUN_DIR/gapd.log)"
(cd "$RUN_DIR" && exec env PYTHONPATH="$IPI_ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  "$PYTHON" "$IPI_ROOT/bin/i-pi" input.xml) >"$RUN_DIR/ipi.log" 2>&1 &
ipi_pid=$!  # the i-PI Python process itself (exec chain), so signals reach it directly
start_gapd() {
  # gapd retries until i-PI's socket exists (--connect-timeout), so the start order does not matter.
  "$GAPD" serve -u -a "$ADDRESS" --model "$MODEL" --template "$RUN_DIR/init.xyz" --threads "$THREADS" \
    --connect-timeout 120 >>"$RUN_DIR/gapd.log" 2>&1 &
  gapd_pid=$!
}
start_gapd
start=$(date +%s)

# Supervise: if gapd ends while i-PI is still running (a crash, or i-PI's <timeout> sent it EXIT), i-PI has
# re-queued the request and waits for a client: start a new gapd (at most MAX_RESTARTS times).
MAX_RESTARTS=${MAX_RESTARTS:-5}
restarts=0
gapd_status=0
stopped_early=""
while kill -0 "$ipi_pid" 2>/dev/null; do
  if [ $(( $(date +%s) - start )) -gt "$TIMEOUT" ]; then
    echo "run.sh: NVT_TIMEOUT ($TIMEOUT s) reached; stopping i-PI (it writes RESTART and sends gapd EXIT)" >&2
    stopped_early="NVT_TIMEOUT reached"
    break
  fi
  if [ -n "$gapd_pid" ] && ! kill -0 "$gapd_pid" 2>/dev/null; then
    gapd_status=0
    wait "$gapd_pid" || gapd_status=$?
    gapd_pid=""
    # Exit 0 = gapd got EXIT: normally the end of the run, and i-PI ends within a few seconds; give it 15 s
    # before deciding that it was i-PI's <timeout> instead. A crash (non-zero) is replaced at once.
    if [ "$gapd_status" -eq 0 ]; then
      for _ in $(seq 1 150); do
        kill -0 "$ipi_pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    if kill -0 "$ipi_pid" 2>/dev/null; then
      if [ "$restarts" -ge "$MAX_RESTARTS" ]; then
        echo "run.sh: gapd ended (exit $gapd_status) $restarts times while i-PI runs; giving up" >&2
        stopped_early="gapd kept ending"
        break
      fi
      restarts=$((restarts + 1))
      echo "run.sh: gapd ended (exit $gapd_status) while i-PI is running; starting a new gapd ($restarts/$MAX_RESTARTS)"
      start_gapd
    fi
  fi
  sleep 0.5
done
if kill -0 "$ipi_pid" 2>/dev/null; then
  kill -INT "$ipi_pid" 2>/dev/null || true  # i-PI's soft exit: finishes the step, writes RESTART
  for _ in $(seq 1 300); do
    kill -0 "$ipi_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$ipi_pid" 2>/dev/null || true
fi
ipi_status=0
wait "$ipi_pid" || ipi_status=$?
ipi_pid=""
elapsed=$(( $(date +%s) - start ))
if [ -n "$gapd_pid" ]; then
  # After the last step i-PI sends EXIT; gapd should be gone within seconds.
  for _ in $(seq 1 300); do
    kill -0 "$gapd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$gapd_pid" 2>/dev/null; then
    echo "run.sh: gapd still running 30 s after i-PI finished; stopping it" >&2
    kill -TERM "$gapd_pid" 2>/dev/null || true
  fi
  gapd_status=0
  wait "$gapd_pid" || gapd_status=$?
  gapd_pid=""
fi

echo "run.sh: i-PI exit $ipi_status, gapd exit $gapd_status, ${elapsed} s wall, $restarts gapd restart(s)"
tail -n 3 "$RUN_DIR/ipi.log" | sed 's/^/  i-PI: /'
tail -n 2 "$RUN_DIR/gapd.log" | sed 's/^/  gapd: /'
if [ -n "$stopped_early" ]; then
  echo "run.sh: run stopped early: $stopped_early" >&2
  exit 1
fi
if [ "$ipi_status" -ne 0 ] || [ "$gapd_status" -ne 0 ]; then
  exit 1
fi
