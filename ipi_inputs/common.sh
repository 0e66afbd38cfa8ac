# shellcheck shell=bash
# ipi_inputs/common.sh -- sourced (bash) by every ipi_inputs/*/run.sh. The one copy of: finding i-PI and gapd,
# the default-model rule, preparing the run directory and the input, claiming the UNIX sockets, starting i-PI
# and the gapd clients, supervising them, cleaning up, and the final report.
#
# A run.sh does (see ipi_inputs/nvt/run.sh):
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   source "$here/../common.sh"
#   ipi_init nvt                                 # checks IPI_ROOT and gapd; RUN_DIR defaults to demo_output/nvt
#   ipi_model "${1:-}"                           # sets IPI_MODEL by the shared default-model rule (below)
#   ipi_prepare "$here/input.xml" "$here/init.xyz"   # RUN_DIR wiped (an earlier run only), input rewritten
#   ipi_add_client gapd gapd-nvt --model "$IPI_MODEL"   # one `gapd serve` on the input's address gapd-nvt
#   ipi_run                                      # starts everything, supervises, reports; returns 0 or 1
#
# Environment read here (all optional except IPI_ROOT):
#   IPI_ROOT        i-PI checkout (v3.3.0), run as PYTHONPATH=$IPI_ROOT $PYTHON $IPI_ROOT/bin/i-pi input.xml
#   PYTHON          Python with numpy for i-PI (default /usr/bin/python3)
#   GAPD            gapd executable (default: build/gapd of this repository)
#   GAPD_MODEL      force model when run.sh gets no MODEL argument (see ipi_model)
#   GAPD_THREADS    OpenMP threads per gapd client (each run.sh sets its own default)
#   GAPD_EXTRA_ARGS more `gapd serve` options for every client, split at blanks (e.g. "-v": one log line per call)
#   STEPS           override <total_steps>
#   TIMESTEP        override <timestep> (femtoseconds; the input's must be in femtosecond units)
#   TEMPERATURE     override the ensemble temperature and the thermal initial velocities (kelvin; every
#                   <temperature units='kelvin'> and <velocities mode='thermal' units='kelvin'> of the input)
#   ADDRESS_SUFFIX  appended to every socket address of the input (e.g. -$$ to run several copies at once)
#   IPI_VERBOSITY   override <simulation verbosity=...> (e.g. high: REMD logs every exchange attempt)
#   RUN_DIR         where i-PI writes (default demo_output/<input>; an earlier run there is wiped first, a
#                   non-empty directory without input.xml is refused)
#   RUN_TIMEOUT     seconds before the whole run is stopped (default 3600)
#   MAX_RESTARTS    how often, in total, a gapd that ends while i-PI still runs is replaced (default 5)

IPI_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The default-model rule, the one place it is written. MODEL argument, else $GAPD_MODEL, else the project's
# default model data/models/batio3_default.gapd if it exists, else build/batio3_seed.gapd, which is fitted first
# (`gapd fit data/fit_configs/batio3_seed.yaml` on the 38-frame PBEsol seed set; 16 s on a loaded 2-core
# machine) when absent.
IPI_DEFAULT_MODEL=$IPI_REPO/data/models/batio3_default.gapd
IPI_SEED_MODEL=$IPI_REPO/build/batio3_seed.gapd
IPI_SEED_CONFIG=$IPI_REPO/data/fit_configs/batio3_seed.yaml

ipi_say() { echo "run.sh: $*"; }
ipi_die() { echo "run.sh: $*" >&2; exit 2; }

# ipi_init NAME: checks i-PI and gapd, sets the common variables.
ipi_init() {
  IPI_NAME=$1
  if [ -z "${IPI_ROOT:-}" ] || [ ! -f "${IPI_ROOT}/bin/i-pi" ]; then
    echo "run.sh: set IPI_ROOT to an i-PI checkout (v3.3.0), e.g." >&2
    echo "  git clone --branch v3.3.0 https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi $0" >&2
    exit 2
  fi
  PYTHON=${PYTHON:-/usr/bin/python3}
  GAPD=${GAPD:-$IPI_REPO/build/gapd}
  [ -x "$GAPD" ] || ipi_die "no gapd executable at $GAPD (build it: bash scripts/build.sh)"
  RUN_DIR=${RUN_DIR:-$IPI_REPO/demo_output/$IPI_NAME}
  RUN_TIMEOUT=${RUN_TIMEOUT:-3600}
  MAX_RESTARTS=${MAX_RESTARTS:-5}
  IPI_SOCKETS=()
  IPI_CLIENT_NAMES=()
  IPI_CLIENT_CMDS=()
  IPI_CLIENT_PIDS=()
  IPI_CLIENT_STATUS=()
  IPI_PID=""
  trap ipi_cleanup EXIT
  trap 'echo "run.sh: interrupted"; exit 130' INT TERM
}

# ipi_fit_if_absent MODEL CONFIG: fits MODEL with `gapd fit CONFIG` (whose output: must be MODEL) if absent.
ipi_fit_if_absent() {
  local model=$1 config=$2
  [ -f "$model" ] && return 0
  ipi_say "fitting $model (gapd fit $config; less than a minute)"
  "$GAPD" fit "$config" >"$model.fit.log" 2>&1 \
    || { tail -n 5 "$model.fit.log" >&2; ipi_die "gapd fit $config failed (log: $model.fit.log)"; }
  [ -f "$model" ] || ipi_die "gapd fit $config did not write $model (check its output: key)"
}

# ipi_model [MODEL]: sets IPI_MODEL by the default-model rule above (fitting the seed model if needed).
ipi_model() {
  local given=${1:-${GAPD_MODEL:-}}
  if [ -n "$given" ]; then
    [ -f "$given" ] || ipi_die "model file $given not found"
    IPI_MODEL=$given
  elif [ -f "$IPI_DEFAULT_MODEL" ]; then
    IPI_MODEL=$IPI_DEFAULT_MODEL
  else
    IPI_MODEL=$IPI_SEED_MODEL
    ipi_fit_if_absent "$IPI_SEED_MODEL" "$IPI_SEED_CONFIG"
  fi
  case "$IPI_MODEL" in
    "$IPI_SEED_MODEL")
      ipi_say "NOTE: seed model (fitted to 30 PBEsol frames of 5-10 atoms: smoke-test quality, not a production model)" ;;
    *paper_hypers_M1000_zeta4* | *paper_synthetic* | *tests/data/*)
      ipi_say "NOTE: synthetic model: the numbers are not physics" ;;
  esac
  return 0
}

# ipi_socket_live PATH: true if a process accepts connections on the UNIX socket PATH.
ipi_socket_live() {
  "$PYTHON" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])" \
    "$1" 2>/dev/null
}

# ipi_claim_socket PATH: a socket file left by a killed i-PI makes i-PI fail to bind. Removes it only if nobody
# listens on it; refuses to start if someone does (another run on the same address).
ipi_claim_socket() {
  local socket=$1
  if [ -e "$socket" ] || [ -S "$socket" ]; then
    if ipi_socket_live "$socket"; then
      ipi_die "something is already listening on $socket (another i-PI?); set ADDRESS_SUFFIX (e.g. ADDRESS_SUFFIX=-\$\$)"
    fi
    ipi_say "removing stale socket $socket"
    rm -f "$socket"
  fi
}

# ipi_prepare INPUT.xml FILE...: wipes RUN_DIR (only an empty one or an earlier run), copies FILE... into it
# and writes RUN_DIR/input.xml: INPUT with STEPS, TIMESTEP, TEMPERATURE, IPI_VERBOSITY and ADDRESS_SUFFIX applied. Collects the UNIX
# socket paths of the input and claims them.
ipi_prepare() {
  local input=$1
  shift
  if [ -d "$RUN_DIR" ] && [ -n "$(ls -A "$RUN_DIR")" ] && [ ! -f "$RUN_DIR/input.xml" ]; then
    ipi_die "RUN_DIR=$RUN_DIR is not empty and holds no earlier run (no input.xml); not wiping it"
  fi
  # A run in progress there (its run.sh wrote its pid to .run_sh.pid) is never wiped: the socket check below
  # would stop this launch, but only after the wipe had destroyed the live run's files.
  if [ -f "$RUN_DIR/.run_sh.pid" ] && ipi_alive "$(cat "$RUN_DIR/.run_sh.pid")"; then
    ipi_die "RUN_DIR=$RUN_DIR belongs to a run in progress (run.sh pid $(cat "$RUN_DIR/.run_sh.pid")); choose another RUN_DIR"
  fi
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR"
  echo $$ >"$RUN_DIR/.run_sh.pid"
  local f
  for f in "$@"; do cp -L "$f" "$RUN_DIR/"; done  # -L: init.xyz may be a symlink
  local addresses
  addresses=$("$PYTHON" - "$input" "$RUN_DIR/input.xml" "${STEPS:-}" "${ADDRESS_SUFFIX:-}" "${IPI_VERBOSITY:-}" \
    "${TIMESTEP:-}" "${TEMPERATURE:-}" <<'EOF'
import re, sys
src, dst, steps, suffix, verbosity, timestep, temperature = sys.argv[1:8]
text = open(src).read()
if steps:
    if not steps.isdigit():
        sys.exit("run.sh: STEPS=%s: expected a non-negative integer" % steps)
    text, n = re.subn(r"<total_steps>[^<]*</total_steps>", "<total_steps> %d </total_steps>" % int(steps), text, count=1)
    if n != 1:
        sys.exit("run.sh: %s: no <total_steps> to override" % src)
def positive(name, value):
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not x > 0 or x == float("inf"):
        sys.exit("run.sh: %s=%s: expected a positive number" % (name, value))
    return x
if timestep:
    dt = positive("TIMESTEP", timestep)
    text, n = re.subn(r"<timestep units=(['\"])femtosecond\1>[^<]*</timestep>",
                      "<timestep units='femtosecond'> %r </timestep>" % dt, text)
    if n == 0:
        sys.exit("run.sh: %s: no <timestep units='femtosecond'> to override (TIMESTEP)" % src)
if temperature:
    t = positive("TEMPERATURE", temperature)
    text, n1 = re.subn(r"<temperature units=(['\"])kelvin\1>[^<]*</temperature>",
                       "<temperature units='kelvin'> %r </temperature>" % t, text)
    text, n2 = re.subn(r"<velocities mode=(['\"])thermal\1 units=(['\"])kelvin\2>[^<]*</velocities>",
                       "<velocities mode='thermal' units='kelvin'> %r </velocities>" % t, text)
    if n1 + n2 == 0:
        sys.exit("run.sh: %s: no <temperature units='kelvin'> or thermal <velocities> to override (TEMPERATURE)" % src)
if verbosity:
    text, n = re.subn(r"<simulation([^>]*?)verbosity=(['\"])[^'\"]*\2", r"<simulation\1verbosity='%s'" % verbosity, text, count=1)
    if n != 1:
        text = text.replace("<simulation", "<simulation verbosity='%s'" % verbosity, 1)
addresses = []
def rename(m):
    address = m.group(1).strip() + suffix
    addresses.append(address)
    return "<address> %s </address>" % address
text = re.sub(r"<address>([^<]*)</address>", rename, text)
if re.search(r"sockets_prefix", text):
    sys.exit("run.sh: %s: sockets_prefix is not supported by run.sh (sockets are /tmp/ipi_<address>)" % src)
open(dst, "w").write(text)
print("\n".join(addresses))
EOF
)
  local a
  for a in $addresses; do
    IPI_SOCKETS+=("/tmp/ipi_$a")
    ipi_claim_socket "/tmp/ipi_$a"
  done
}

# ipi_add_client NAME ADDRESS GAPD_SERVE_ARGS...: registers one `gapd serve -u -a ADDRESS$ADDRESS_SUFFIX` with
# the run's init.xyz as template, GAPD_THREADS threads and the given extra arguments (model etc.).
# Log: RUN_DIR/gapd_NAME.log (or gapd.log for NAME=gapd).
ipi_add_client() {
  local name=$1 address=$2
  shift 2
  local cmd
  cmd=$(printf '%q ' "$GAPD" serve -u -a "$address${ADDRESS_SUFFIX:-}" --template "$RUN_DIR/init.xyz" \
    --threads "${GAPD_THREADS:-1}" --connect-timeout 120 "$@")
  local extra
  for extra in ${GAPD_EXTRA_ARGS:-}; do cmd+=" $(printf '%q' "$extra")"; done
  IPI_CLIENT_NAMES+=("$name")
  IPI_CLIENT_CMDS+=("$cmd")
  IPI_CLIENT_PIDS+=("")
  IPI_CLIENT_STATUS+=(0)
}

ipi_client_label() {  # "gapd" for the client named gapd, "gapd NAME" otherwise
  if [ "$1" = gapd ]; then echo gapd; else echo "gapd $1"; fi
}

ipi_client_log() {
  if [ "$1" = gapd ]; then echo "$RUN_DIR/gapd.log"; else echo "$RUN_DIR/gapd_$1.log"; fi
}

ipi_start_client() {
  local k=$1
  # exec: the recorded pid is gapd itself (not a subshell), so signals reach it
  eval "exec ${IPI_CLIENT_CMDS[$k]}" >>"$(ipi_client_log "${IPI_CLIENT_NAMES[$k]}")" 2>&1 &
  IPI_CLIENT_PIDS[k]=$!
}

ipi_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

ipi_wait_gone() {  # ipi_wait_gone PID TENTHS: waits up to TENTHS/10 s for PID to end
  local _
  for _ in $(seq 1 "$2"); do ipi_alive "$1" || return 0; sleep 0.1; done
  ! ipi_alive "$1"
}

# Stops whatever is still running (only the processes this script started): politely, then for good; removes
# the sockets of this run if nobody listens on them any more.
ipi_cleanup() {
  local k p
  for p in "${IPI_CLIENT_PIDS[@]}"; do if ipi_alive "$p"; then kill -TERM "$p" 2>/dev/null || true; fi; done
  if ipi_alive "$IPI_PID"; then kill -INT "$IPI_PID" 2>/dev/null || true; fi
  for k in $(seq 1 50); do
    local any=""
    for p in "${IPI_CLIENT_PIDS[@]}" "$IPI_PID"; do if ipi_alive "$p"; then any=1; fi; done
    [ -z "$any" ] && break
    sleep 0.1
  done
  for p in "${IPI_CLIENT_PIDS[@]}" "$IPI_PID"; do if ipi_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
  for p in "${IPI_SOCKETS[@]}"; do
    if [ -e "$p" ] && ! ipi_socket_live "$p"; then rm -f "$p" 2>/dev/null || true; fi
  done
  return 0
}

# ipi_run: starts i-PI and every client, supervises, reports. Returns 0 if i-PI and every gapd exited 0.
# Supervision: if a gapd ends while i-PI is still running (a crash, or i-PI's <timeout> sent it EXIT), i-PI has
# re-queued the request and waits for a client: a new gapd is started (at most MAX_RESTARTS times in total).
ipi_run() {
  local clients="" k
  for k in "${!IPI_CLIENT_NAMES[@]}"; do clients+=" ${IPI_CLIENT_NAMES[$k]}"; done
  ipi_say "i-PI in $RUN_DIR (log: ipi.log); gapd client(s):$clients with ${GAPD_THREADS:-1} thread(s) each"
  (cd "$RUN_DIR" && exec env PYTHONPATH="$IPI_ROOT${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" "$IPI_ROOT/bin/i-pi" input.xml) >"$RUN_DIR/ipi.log" 2>&1 &
  IPI_PID=$!  # the i-PI Python process itself (exec chain), so signals reach it directly
  # gapd retries until i-PI's socket exists (--connect-timeout), so the start order does not matter.
  for k in "${!IPI_CLIENT_NAMES[@]}"; do ipi_start_client "$k"; done
  local start restarts=0 stopped_early="" status
  start=$(date +%s)
  while ipi_alive "$IPI_PID"; do
    if [ $(( $(date +%s) - start )) -gt "$RUN_TIMEOUT" ]; then
      echo "run.sh: RUN_TIMEOUT ($RUN_TIMEOUT s) reached; stopping i-PI (it writes RESTART and sends EXIT)" >&2
      stopped_early="RUN_TIMEOUT reached"
      break
    fi
    for k in "${!IPI_CLIENT_NAMES[@]}"; do
      local pid=${IPI_CLIENT_PIDS[$k]}
      if [ -n "$pid" ] && ! ipi_alive "$pid"; then
        status=0
        wait "$pid" || status=$?
        IPI_CLIENT_STATUS[k]=$status
        IPI_CLIENT_PIDS[k]=""
        # Exit 0 = gapd got EXIT: normally the end of the run, and i-PI ends within a few seconds; give it 15 s
        # before deciding that it was i-PI's <timeout> instead. A crash (non-zero) is replaced at once.
        if [ "$status" -eq 0 ]; then ipi_wait_gone "$IPI_PID" 150 || true; fi
        if ipi_alive "$IPI_PID"; then
          if [ "$restarts" -ge "$MAX_RESTARTS" ]; then
            echo "run.sh: gapd clients ended $restarts times while i-PI runs; giving up" >&2
            stopped_early="gapd kept ending"
            break 2
          fi
          restarts=$((restarts + 1))
          ipi_say "$(ipi_client_label "${IPI_CLIENT_NAMES[$k]}") ended (exit $status) while i-PI is running; starting a new one ($restarts/$MAX_RESTARTS)"
          ipi_start_client "$k"
        fi
      fi
    done
    sleep 0.5
  done
  if ipi_alive "$IPI_PID"; then
    kill -INT "$IPI_PID" 2>/dev/null || true  # i-PI's soft exit: finishes the step, writes RESTART
    ipi_wait_gone "$IPI_PID" 300 || kill -KILL "$IPI_PID" 2>/dev/null || true
  fi
  local ipi_status=0
  wait "$IPI_PID" || ipi_status=$?
  IPI_PID=""
  local elapsed=$(( $(date +%s) - start ))
  for k in "${!IPI_CLIENT_NAMES[@]}"; do
    local pid=${IPI_CLIENT_PIDS[$k]}
    [ -n "$pid" ] || continue
    # After the last step i-PI sends EXIT; gapd should be gone within seconds.
    if ! ipi_wait_gone "$pid" 300; then
      echo "run.sh: $(ipi_client_label "${IPI_CLIENT_NAMES[$k]}") still running 30 s after i-PI finished; stopping it" >&2
      kill -TERM "$pid" 2>/dev/null || true
    fi
    status=0
    wait "$pid" || status=$?
    IPI_CLIENT_STATUS[k]=$status
    IPI_CLIENT_PIDS[k]=""
  done
  local summary="i-PI exit $ipi_status" failed=""
  [ "$ipi_status" -eq 0 ] || failed=1
  for k in "${!IPI_CLIENT_NAMES[@]}"; do
    summary+=", $(ipi_client_label "${IPI_CLIENT_NAMES[$k]}") exit ${IPI_CLIENT_STATUS[$k]}"
    [ "${IPI_CLIENT_STATUS[$k]}" -eq 0 ] || failed=1
  done
  ipi_say "$summary; ${elapsed} s wall, $restarts gapd restart(s)"
  tail -n 3 "$RUN_DIR/ipi.log" | sed 's/^/  i-PI: /'
  for k in "${!IPI_CLIENT_NAMES[@]}"; do
    tail -n 1 "$(ipi_client_log "${IPI_CLIENT_NAMES[$k]}")" | sed "s/^/  $(ipi_client_label "${IPI_CLIENT_NAMES[$k]}"): /"
  done
  if [ -n "$stopped_early" ]; then
    echo "run.sh: run stopped early: $stopped_early" >&2
    return 1
  fi
  [ -z "$failed" ]
}
