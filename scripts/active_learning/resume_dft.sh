#!/usr/bin/env bash
# The first minute of a session: the DFT labels of the active-learning picks running again in the background, on
# this machine or a fresh one.
#   bash scripts/active_learning/resume_dft.sh [WORKDIR] [--queues N] [--no-start | --dry-run]
# WORKDIR (default /work/dft_al) gets a CP2K run directory for every pick in data/active_learning/round*_selection_40.extxyz
# that is not in the dataset yet (make_dft_dirs.py --rank-dirs: idempotent, existing directories are kept), then
# N (default: one per core) niced run_queue.py queues run them in the order of data/active_learning/queue_priority.txt
# (the rest after it, in path order); queues already running on WORKDIR count towards N. Logs: WORKDIR/queue*.log.
# Installs CP2K and OpenMPI with gapd's own dependencies if missing (scripts/install_deps.sh: apt, root or sudo).
# --no-start: directories only. --dry-run: directories, then print the queue commands without installing or starting.
# A stop request of run_queue.py (WORKDIR/stop) is removed before the queues start.
set -euo pipefail
cd "$(dirname "$0")/../.."
workdir=/work/dft_al
queues=$(nproc)
start=1
dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --queues) queues="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "resume_dft: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) workdir="$1"; shift ;;
  esac
done
case "$queues" in ''|*[!0-9]*) echo "resume_dft: --queues needs a whole number, got '$queues'" >&2; exit 2 ;; esac
py=/usr/bin/python3
mkdir -p "$workdir"

for sel in data/active_learning/round*_selection_40.extxyz; do
  round=$(basename "$sel" | sed 's/_selection_40.extxyz//')
  $py scripts/active_learning/make_dft_dirs.py "$sel" "$workdir/$round" --rank-dirs | tail -n 1 | sed "s|^|resume_dft: $round: |"
done
[ "$start" -eq 1 ] || exit 0
if [ -e "$workdir/stop" ]; then  # run_queue.py's stop request of an earlier session
  if [ "$dry" -eq 1 ]; then echo "resume_dft: would remove $workdir/stop (queues exit while it exists)"
  else rm -f "$workdir/stop"; echo "resume_dft: removed $workdir/stop (an earlier stop request)"; fi
fi

[ "$dry" -eq 1 ] || bash scripts/install_deps.sh cp2k openmpi-bin

running=$(pgrep -fc "run_queue.py $workdir( |$)" || true)
priority=data/active_learning/queue_priority.txt
for ((k = running + 1; k <= queues; k++)); do
  suffix=""; [ "$k" -eq 1 ] || suffix=$k  # queue.log, queue2.log, ...
  log="$workdir/queue$suffix.log"
  cmd=("$py" scripts/dft/run_queue.py "$workdir" --np 1 --priority "$priority")
  if [ "$dry" -eq 1 ]; then
    echo "resume_dft: queue $k would run: ${cmd[*]} >> $log"
    continue
  fi
  setsid nohup "${cmd[@]}" >> "$log" 2>&1 < /dev/null &
  echo "resume_dft: queue $k started (pid $!, log $log)"
  sleep 2  # lets the first queue claim its directory before the next one scans
done
[ "$running" -ge "$queues" ] && echo "resume_dft: $running queue(s) already running on $workdir"
echo "resume_dft: follow with: tail -f $workdir/queue*.log"
