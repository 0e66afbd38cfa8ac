#!/usr/bin/env bash
# The refit of the default model and everything generated from it, in order (docs/active_learning.md, step 6),
# after scripts/dft/collect.py and scripts/active_learning/screen_labels.py --since-refit:
#   bash scripts/active_learning/refit.sh [WORKDIR]      (WORKDIR: the DFT queue's, for the priority; /work/dft_al)
# 1. scripts/make_default_model.sh: model, fit and test reports, training ids (~1 min)
# 2. scripts/fit_spread.py --json: the fit-order spread of the card (~2-5 min)
# 3. scripts/dft/double_well.py report: the [111] well against CP2K, JSON and figure
# 4. scripts/model_card_numbers.py --write: the card's generated parts and its history entry
# 5. scripts/active_learning/queue_priority.py WORKDIR: the pending picks re-ranked with the new model (skipped
#    if WORKDIR does not exist; running queues read the file at their next scan)
# Left by hand: the prose about the refit (data/models/MODEL_CARD.md, docs/physics.md), the `change` field of the
# new entry in data/models/history.json if a fit setting changed, and the cubic phonons (examples/phonons_cubic.py
# --cp2k DIR, docs/python.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; -*) echo "refit.sh: unknown option $1 (see --help)" >&2; exit 2 ;; esac
workdir=${1:-/work/dft_al}
py=/usr/bin/python3
[ -x build/gapd ] || { echo "refit.sh: no build/gapd (bash scripts/build.sh)" >&2; exit 2; }
model_sha() { $py -c "import sys; sys.path.insert(0, 'scripts'); from read_gapd_model import model_sha256_16 as s; print(s('data/models/batio3_default.gapd'))"; }
before=$(model_sha)

step() { echo "refit.sh: [$1/5] $2"; }
step 1 "gapd fit data/fit_configs/batio3_default.yaml"
bash scripts/make_default_model.sh
step 2 "fit-order spread"
$py scripts/fit_spread.py --training-ids data/models/batio3_default.training_ids.txt \
    --json data/models/batio3_default.fit_spread.json
step 3 "[111] double well against CP2K"
$py scripts/dft/double_well.py report --cp2k-json data/double_well_111.json --json data/double_well_111.json \
    --png docs/figures/double_well_111.png
step 4 "generated parts of the card and docs, history entry"
$py scripts/model_card_numbers.py --write
if [ -d "$workdir" ]; then
  step 5 "queue priority of the pending picks in $workdir"
  $py scripts/active_learning/queue_priority.py "$workdir"
else
  step 5 "skipped: no $workdir (queue_priority.py WORKDIR when the queue runs)"
fi
after=$(model_sha)
echo "refit.sh: model $before -> $after; left by hand: the refit's prose (MODEL_CARD.md, docs/physics.md), the"
echo "  history entry's 'change' if a setting changed, cubic phonons (examples/phonons_cubic.py --cp2k DIR)"
