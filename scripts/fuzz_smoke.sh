#!/usr/bin/env bash
# Short, deterministic fuzzing of gapd's parsers of hostile input, for CI (docs/reliability.md, fuzz/README.md).
#
#   bash scripts/fuzz_smoke.sh [RUNS]        (default RUNS=4000 executions per target)
#
# One clang build directory (build-fuzz, -DGAPD_FUZZ=ON) holds all six libFuzzer targets and the protocol unit
# tests built against the same ASan + UBSan code (run first, ~4 s). Each target first
# replays its committed regression inputs (fuzz/regressions/<target>/: every crash, hang or huge allocation
# found so far), then fuzzes with a fixed seed for RUNS executions starting from fuzz/corpus/<target>/ (new
# inputs go to a scratch directory, the committed corpus is not modified). Any crash, sanitizer report, hang
# (> 10 s per input) or allocation above 2 GB fails the run; the reproducer is left in build-fuzz/artifacts/.
#
# Environment: JOBS (build jobs, default 2), FUZZ_BUILD (default build-fuzz), CXX (default clang++).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-4000}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}
targets="session wire native_model librascal_json extxyz yaml_config"
start=$(date +%s)

CXX=${CXX:-clang++} cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPD_FUZZ=ON -DGAPD_OPENMP=OFF \
      -DGAPD_BUILD_TESTS=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target fuzz_all -j "$jobs" > "$build.build.log" 2>&1 || { tail -40 "$build.build.log"; exit 1; }
built=$(date +%s)
echo "fuzz_smoke: build took $(( built - start )) s"

mkdir -p "$build/artifacts"
status=0
# The protocol unit tests, linked against the same ASan + UBSan build (every UB check fatal, leaks are errors).
t0=$(date +%s)
if ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 "$build/fuzz/gapd_sanitized_protocol_tests" --no-version \
     > "$build/artifacts/protocol_tests.log" 2>&1; then
  echo "fuzz_smoke: protocol unit tests under ASan + UBSan: ok ($(grep -o '[0-9]* passed' "$build/artifacts/protocol_tests.log" | head -1) test cases, $(( $(date +%s) - t0 )) s)"
else
  echo "fuzz_smoke: protocol unit tests under ASan + UBSan FAILED:"; tail -40 "$build/artifacts/protocol_tests.log"; status=1
fi
for t in $targets; do
  bin="$build/fuzz/fuzz_$t"
  dict=()
  case "$t" in native_model|librascal_json) dict=(-dict=fuzz/json.dict) ;; esac
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! "$bin" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 fuzz/regressions/$t/* \
         > "$build/artifacts/$t.regressions.log" 2>&1; then
      echo "fuzz_smoke: $t: a regression input fails again:"; tail -30 "$build/artifacts/$t.regressions.log"; status=1
      continue
    fi
  fi
  scratch=$(mktemp -d)
  t0=$(date +%s)
  if "$bin" -seed=1 -runs="$runs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_total_time=120 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "${dict[@]}" "$scratch" "fuzz/corpus/$t" \
       > "$build/artifacts/$t.log" 2>&1; then
    execs=$(grep -o 'number_of_executed_units: [0-9]*' "$build/artifacts/$t.log" | awk '{print $2}')
    echo "fuzz_smoke: $t: ok, $execs executions in $(( $(date +%s) - t0 )) s"
  else
    echo "fuzz_smoke: $t: FAILED (log: $build/artifacts/$t.log)"; grep -E 'ERROR|SUMMARY|invariant|runtime error' -A5 \
      "$build/artifacts/$t.log" | head -40; status=1
  fi
  rm -rf "$scratch"
done
echo "fuzz_smoke: $( [ $status -eq 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s" \
     "(build $(( built - start )) s, fuzzing $(( $(date +%s) - built )) s)"
exit $status
