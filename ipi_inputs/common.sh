# shellcheck shell=bash
# ipi_inputs/common.sh -- sourced (bash) by every ipi_inputs/*/run.sh. The one copy of: finding i-PI and gapd,
# the default-model rule, preparing the run directory and the input, claiming the UNIX sockets, starting i-PI
# and the gapd clients, supervising them, cleaning up, and the final report.
#
# A run.sh does (see ipi_inputs/nvt/run.sh):
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   source "$here/../common.sh"
#   ipi_init nvt                                 # finds i-PI and gapd; RUN_DIR defaults to demo_output/nvt
#   ipi_model "${1:-}"                           # sets IPI_MODEL by the shared default-model rule (below)
#   ipi_prepare "$here/input.xml"                # RUN_DIR wiped (an earlier run only), init.xyz and input written
#   ipi_add_client gapd gapd-nvt --model "$IPI_MODEL" --extras none   # one `gapd serve` on the address gapd-nvt
#   ipi_run                                      # starts everything, supervises, reports; returns 0 or 1
#
# Environment read here (all optional; i-PI must be found):
#   IPI_ROOT        i-PI checkout (v3.3.0), run as PYTHONPATH=$IPI_ROOT $PYTHON $IPI_ROOT/bin/i-pi input.xml.
#                   If IPI_ROOT is unset: the `i-pi` on PATH (e.g. pip-installed), run as `i-pi input.xml`
#   PYTHON          Python with numpy for i-PI from IPI_ROOT and for run.sh's helpers (default /usr/bin/python3)
#   INIT_XYZ        starting structure (default: init.xyz of the input's folder): an i-PI xyz (CELL(abcABC),
#                   CELL{H} or CELL{GENH} comment) or an extxyz (Lattice=...); written to RUN_DIR/init.xyz by
#                   ipi_inputs/init_structure.py. It is i-PI's initial structure and gapd's --template (atom
#                   count, species), and a barostat's reference cell <h0> is set to its cell
#   DRY_RUN         1: prepare RUN_DIR (input.xml, init.xyz) and print the i-PI and gapd commands, start
#                   nothing (i-PI need not be installed)
#   GAPD            gapd executable (default: build/gapd of this repository)
#   GAPD_MODEL      force model when run.sh gets no MODEL argument (see ipi_model)
#   GAPD_THREADS    OpenMP threads per gapd client (each run.sh sets its own default)
#   GAPD_EXTRA_ARGS more `gapd serve` options for every client, split at blanks (e.g. "-v": one log line per call)
#   STEPS           override <total_steps>
#   TIMESTEP        override <timestep> (femtoseconds; the input's must be in femtosecond units)
#   TEMPERATURE     override the ensemble temperature and the thermal initial velocities (kelvin; every
#                   <temperature units='kelvin'> and <velocities mode='thermal' units='kelvin'> of the input).
#                   Refused (exit 2) for an input with a temperature ladder (REMD), which it would flatten
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
ipi_dry_run() { [ -n "${DRY_RUN:-}" ] && [ "${DRY_RUN}" != 0 ]; }

# ipi_find_ipi: sets IPI_CMD (the i-PI command, without the input file) and IPI_PYTHON (the Python that runs
# i-PI). IPI_ROOT wins if set (and must then be a checkout); else the i-pi on PATH.
ipi_find_ipi() {
  if [ -n "${IPI_ROOT:-}" ]; then
    [ -f "$IPI_ROOT/bin/i-pi" ] \
      || ipi_die "IPI_ROOT=$IPI_ROOT is not an i-PI checkout (no bin/i-pi); fix it, or unset it to use the i-pi on PATH"
    IPI_CMD=(env "PYTHONPATH=$IPI_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$IPI_ROOT/bin/i-pi")
    IPI_PYTHON=$PYTHON
  elif command -v i-pi >/dev/null 2>&1; then
    IPI_CMD=("$(command -v i-pi)")
    IPI_PYTHON=$PYTHON
    local shebang
    shebang=$(head -n 1 "${IPI_CMD[0]}" 2>/dev/null || true)
    case "$shebang" in "#!/"*python*) IPI_PYTHON=${shebang#??}; IPI_PYTHON=${IPI_PYTHON%% *} ;; esac
  elif ipi_dry_run; then
    IPI_CMD=(i-pi)
    IPI_PYTHON=$PYTHON
    ipi_say "DRY_RUN: i-PI not found (neither IPI_ROOT nor an i-pi on PATH); a real run needs one"
  else
    echo "run.sh: i-PI not found: set IPI_ROOT to an i-PI checkout (v3.3.0) or put i-pi on PATH (pip install ipi), e.g." >&2
    echo "  git clone --branch v3.3.0 https://github.com/i-pi/i-pi /tmp/i-pi && IPI_ROOT=/tmp/i-pi $0" >&2
    exit 2
  fi
}

# ipi_init NAME: finds i-PI and gapd, sets the common variables.
ipi_init() {
  IPI_NAME=$1
  PYTHON=${PYTHON:-/usr/bin/python3}
  ipi_find_ipi
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
  if ipi_dry_run; then
    ipi_say "DRY_RUN: a real run fits $model first (gapd fit $config)"
    return 0
  fi
  ipi_say "fitting $model (gapd fit $config; less than a minute)"
  mkdir -p "$(dirname "$model")"
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

# ipi_has_dipoles MODEL: true if MODEL is a gapd native file with a dipole section (docs/model_format.md).
ipi_has_dipoles() {
  "$PYTHON" -c '
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(24)
    if head[:8] != b"GAPDMODL":
        sys.exit(1)
    header = json.loads(f.read(struct.unpack("<Q", head[12:20])[0]))
sys.exit(0 if "dipole" in header else 1)' "$1" 2>/dev/null
}

# ipi_dipole_model: sets IPI_DIPOLE_MODEL: DIPOLE_MODEL if set, else the force model IPI_MODEL when it has a
# dipole section (the default model data/models/batio3_default.gapd has one); stops otherwise.
ipi_dipole_model() {
  if [ -n "${DIPOLE_MODEL:-}" ]; then
    [ -f "$DIPOLE_MODEL" ] || ipi_die "dipole model file $DIPOLE_MODEL not found"
    ipi_has_dipoles "$DIPOLE_MODEL" || ipi_die "DIPOLE_MODEL=$DIPOLE_MODEL is not a gapd model with a dipole section"
    IPI_DIPOLE_MODEL=$DIPOLE_MODEL
  elif ipi_has_dipoles "$IPI_MODEL"; then
    IPI_DIPOLE_MODEL=$IPI_MODEL
  else
    ipi_die "the force model $IPI_MODEL has no dipole section: set DIPOLE_MODEL to a gapd model with one (e.g. data/models/batio3_default.gapd)"
  fi
  case "$IPI_DIPOLE_MODEL" in
    "$IPI_DEFAULT_MODEL")
      ipi_say "NOTE: dipoles from the default model, fitted to GPAW PBEsol dipoles of 5-atom cells only so far (data/models/MODEL_CARD.md)" ;;
    *tests/data/*)
      ipi_say "NOTE: synthetic dipole model: the dipoles are not physics" ;;
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

# ipi_prepare INPUT.xml [FILE...]: writes the starting structure (INIT_XYZ, default the init.xyz next to INPUT)
# as RUN_DIR/init.xyz and RUN_DIR/input.xml: INPUT with STEPS, TIMESTEP, TEMPERATURE, IPI_VERBOSITY and
# ADDRESS_SUFFIX applied and a barostat's <h0> set to the structure's cell; copies FILE... RUN_DIR is wiped first
# (only an empty one or an earlier run). Sets IPI_NATOMS; collects the UNIX socket paths of the input and claims
# them.
ipi_prepare() {
  local input=$1
  shift
  local structure=${INIT_XYZ:-$(dirname "$input")/init.xyz}
  [ -f "$structure" ] || ipi_die "INIT_XYZ=$structure not found"
  if [ -d "$RUN_DIR" ] && [ -n "$(ls -A "$RUN_DIR")" ] && [ ! -f "$RUN_DIR/input.xml" ]; then
    ipi_die "RUN_DIR=$RUN_DIR is not empty and holds no earlier run (no input.xml); not wiping it"
  fi
  # A run in progress there (its run.sh wrote its pid to .run_sh.pid) is never wiped: the socket check below
  # would stop this launch, but only after the wipe had destroyed the live run's files.
  if [ -f "$RUN_DIR/.run_sh.pid" ] && ipi_alive "$(cat "$RUN_DIR/.run_sh.pid")"; then
    ipi_die "RUN_DIR=$RUN_DIR belongs to a run in progress (run.sh pid $(cat "$RUN_DIR/.run_sh.pid")); choose another RUN_DIR"
  fi
  # Structure and input go to a scratch directory first: a bad INIT_XYZ or override leaves RUN_DIR untouched.
  local scratch cell
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/gapd_run_sh.XXXXXX")
  cell=$("$PYTHON" "$IPI_REPO/ipi_inputs/init_structure.py" "$structure" "$scratch/init.xyz") \
    || { rm -rf "$scratch"; exit 2; }
  local addresses
  addresses=$("$PYTHON" - "$input" "$scratch/input.xml" "${STEPS:-}" "${ADDRESS_SUFFIX:-}" "${IPI_VERBOSITY:-}" \
    "${TIMESTEP:-}" "${TEMPERATURE:-}" "$cell" "$structure" <<'EOF'
import json, re, sys
src, dst, steps, suffix, verbosity, timestep, temperature, cell, structure = sys.argv[1:10]
text = open(src).read()
cell = json.loads(cell)
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
    # A temperature ladder (REMD: <system_template> with a TEMP label, or several systems at different
    # temperatures) cannot take one TEMPERATURE: every replica would run at the same temperature.
    def number(v):
        try:
            return float(v)
        except ValueError:
            return None
    values = [v.strip() for v in re.findall(r"<temperature[^>]*>([^<]*)</temperature>", text)]
    if any(number(v) is None for v in values) or len(set(number(v) for v in values)) > 1:
        ladder = [number(v) for v in values if number(v) is not None]
        labels = re.search(r"<labels>\s*\[([^\]]*)\]", text)
        if labels:
            names = [x.strip() for x in labels.group(1).split(",")]
            for v in values:
                if v in names:
                    k = names.index(v)
                    ladder += [float(i.split(",")[k]) for i in re.findall(r"<instance>\s*\[([^\]]*)\]", text)]
        sys.exit("run.sh: TEMPERATURE=%s refused: %s has a temperature ladder (%s K) and one TEMPERATURE would run "
                 "every replica at %g K; edit the ladder in the input (its <instance> lines) instead"
                 % (temperature, src, ", ".join("%g" % x for x in sorted(set(ladder))), t))
    text, n1 = re.subn(r"<temperature units=(['\"])kelvin\1>[^<]*</temperature>",
                       "<temperature units='kelvin'> %r </temperature>" % t, text)
    text, n2 = re.subn(r"<velocities mode=(['\"])thermal\1 units=(['\"])kelvin\2>[^<]*</velocities>",
                       "<velocities mode='thermal' units='kelvin'> %r </velocities>" % t, text)
    if n1 + n2 == 0:
        sys.exit("run.sh: %s: no <temperature units='kelvin'> or thermal <velocities> to override (TEMPERATURE)" % src)
# A barostat's reference cell (<h0>, i-PI's anisotropic/RGB barostat) = the starting structure's cell: i-PI's
# upper-triangular h row by row, in the units the input gives for h0 (converted with i-PI's own factor).
BOHR_PER = {"atomic_unit": 1.0, "angstrom": 1.8897261}  # i-PI 3.3.0, ipi/utils/units.py
def set_h0(m):
    unit = m.group(2)
    if unit not in BOHR_PER:
        sys.exit("run.sh: %s: <h0 units='%s'>: run.sh writes h0 in angstrom or atomic_unit only" % (src, unit))
    scale = 1.0 if unit == cell["cell_units"] else BOHR_PER[cell["cell_units"]] / BOHR_PER[unit]
    h0 = ", ".join(repr(x * scale) if x else "0" for x in cell["h"])
    return "<h0 units=%s%s%s> [ %s ] </h0>   <!-- run.sh: the cell of %s -->" % (
        m.group(1), unit, m.group(1), h0, structure.replace("--", "- -"))
text = re.sub(r"<h0 units=(['\"])([^'\"]*)\1>[^<]*</h0>", set_h0, text)
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
) || { rm -rf "$scratch"; exit 2; }
  IPI_NATOMS=$("$PYTHON" -c "import json, sys; print(json.loads(sys.argv[1])['natoms'])" "$cell")
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR"
  echo $$ >"$RUN_DIR/.run_sh.pid"
  mv "$scratch/init.xyz" "$scratch/input.xml" "$RUN_DIR/"
  rm -rf "$scratch"
  local f
  for f in "$@"; do cp -L "$f" "$RUN_DIR/"; done
  case "$cell" in *'"converted": true'*) ipi_say "INIT_XYZ=$structure (extxyz) written as i-PI xyz to $RUN_DIR/init.xyz" ;; esac
  local a
  for a in $addresses; do
    IPI_SOCKETS+=("/tmp/ipi_$a")
    ipi_dry_run || ipi_claim_socket "/tmp/ipi_$a"
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
  if ipi_dry_run; then
    ipi_say "DRY_RUN: prepared $RUN_DIR (input.xml, init.xyz: $IPI_NATOMS atoms); would run, in $RUN_DIR:"
    echo "  i-PI: $(printf '%q ' "${IPI_CMD[@]}")input.xml"
    for k in "${!IPI_CLIENT_NAMES[@]}"; do
      echo "  $(ipi_client_label "${IPI_CLIENT_NAMES[$k]}"): ${IPI_CLIENT_CMDS[$k]}"
    done
    rm -f "$RUN_DIR/.run_sh.pid"
    return 0
  fi
  ipi_say "i-PI in $RUN_DIR (log: ipi.log); gapd client(s):$clients with ${GAPD_THREADS:-1} thread(s) each"
  (cd "$RUN_DIR" && exec "${IPI_CMD[@]}" input.xml) >"$RUN_DIR/ipi.log" 2>&1 &
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
