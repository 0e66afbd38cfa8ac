#!/usr/bin/env bash
# Short, deterministic fuzzing of gapd's parsers of hostile input and the sanitized unit tests, for CI
# (docs/reliability.md, fuzz/README.md).
#
#   bash scripts/fuzz_smoke.sh [RUNS]        everything below in one go (default RUNS=4000 executions per target)
#   bash scripts/fuzz_smoke.sh build         configure + build the clang tree only
#   bash scripts/fuzz_smoke.sh unit          the sanitized unit tests (needs `build` first)
#   bash scripts/fuzz_smoke.sh fuzz TARGET [RUNS]   one target: regressions, then RUNS fixed-seed executions
#   bash scripts/fuzz_smoke.sh probe         exit 77 if clang + libFuzzer are missing (CTest's fuzz_smoke test)
#
# One clang build directory (FUZZ_BUILD, default build-fuzz; -DGAPD_FUZZ=ON, -O1) holds the six libFuzzer
# targets and gapd_sanitized_unit_tests: the protocol, extxyz, native model, librascal JSON and bad-files (YAML
# config, templates, atomic writes) unit tests linked against the same ASan + UBSan code. CTest runs the three
# steps as separate tests (sanitized_build, sanitized_unit_tests, fuzz_smoke_<target>; tests/CMakeLists.txt).
# Each target first replays its committed regression inputs (fuzz/regressions/<target>/: every crash, hang or
# huge allocation found so far), then fuzzes with -seed=1 for RUNS executions starting from fuzz/corpus/<target>/
# (made from tests/data by fuzz/make_seeds.py) plus, for the protocol targets, seeds made from
# ../shared/protocol/captures/*.bin when that directory exists. New inputs go to a scratch directory: the
# committed corpus is not modified. Any crash, sanitizer report, hang (> 10 s per input) or allocation above
# 2 GB fails the run; the reproducer is left in FUZZ_BUILD/artifacts/.
#
# Exit 77 (= skipped for CTest) when clang or libFuzzer is missing (Debian: apt-get install clang libclang-rt-dev).
# Environment: JOBS (build jobs, default 2), FUZZ_BUILD (default build-fuzz), CXX (default clang++),
# CMAKE_CXX_COMPILER_LAUNCHER (e.g. ccache, passed to the clang tree).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=$(realpath -m "${FUZZ_BUILD:-build-fuzz}")
jobs=${JOBS:-2}
cxx=${CXX:-clang++}
targets="session wire native_model librascal_json extxyz yaml_config"
tests_exclude='*timings*,*well under*,*speed*,*paper-size*'

need_clang() {
  local probe
  probe=$(mktemp -d)
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' > "$probe/p.cpp"
  if ! command -v "$cxx" > /dev/null || ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" \
       > /dev/null 2>&1; then
    rm -rf "$probe"
    echo "fuzz_smoke: skipped: $cxx with libFuzzer + ASan + UBSan is not available (apt-get install clang libclang-rt-dev)"
    exit 77
  fi
  rm -rf "$probe"
}

do_build() {
  local t0
  t0=$(date +%s)
  launcher=()
  [ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
  CXX=$cxx cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPD_FUZZ=ON -DGAPD_OPENMP=OFF \
        -DGAPD_BUILD_TESTS=OFF "${launcher[@]}" > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
  cmake --build "$build" --target fuzz_all -j "$jobs" > "$build.build.log" 2>&1 || { tail -40 "$build.build.log"; exit 1; }
  echo "fuzz_smoke: build ($build) took $(( $(date +%s) - t0 )) s"
}

# The unit tests linked against the ASan + UBSan build (every UB check fatal, leaks are errors). The timing
# assertions assume an optimised build, and the paper-size model (reading 1000 sparse points of JSON) is slow
# under ASan: both are left to the normal build.
do_unit() {
  local t0 log
  t0=$(date +%s)
  mkdir -p "$build/artifacts"
  log="$build/artifacts/unit_tests.log"
  if ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$build/fuzz/gapd_sanitized_unit_tests" --no-version --test-case-exclude="$tests_exclude" > "$log" 2>&1; then
    echo "fuzz_smoke: unit tests under ASan + UBSan: ok ($(grep -E '^\[doctest\] test cases' "$log" | tr -s ' '), $(( $(date +%s) - t0 )) s)"
  else
    echo "fuzz_smoke: unit tests under ASan + UBSan FAILED:"; tail -60 "$log"; return 1
  fi
}

# Seeds from ../shared/protocol/captures (when present) for the session and wire targets.
shared_seeds() {
  local captures="$root/../shared/protocol/captures"
  if ls "$captures"/*.bin > /dev/null 2>&1; then
    /usr/bin/python3 fuzz/make_seeds.py --protocol-only --captures "$captures" --out "$build/shared_seeds" > /dev/null
  fi
}

do_fuzz() {
  local t=$1 runs=$2 bin dict scratch t0 execs corpus
  bin="$build/fuzz/fuzz_$t"
  mkdir -p "$build/artifacts"
  dict=()
  case "$t" in native_model|librascal_json) dict=(-dict=fuzz/json.dict) ;; esac
  corpus=("fuzz/corpus/$t")
  case "$t" in session|wire)
    shared_seeds
    [ -d "$build/shared_seeds/$t" ] && corpus+=("$build/shared_seeds/$t") ;;
  esac
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    if ! "$bin" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 fuzz/regressions/$t/* \
         > "$build/artifacts/$t.regressions.log" 2>&1; then
      echo "fuzz_smoke: $t: a regression input fails again:"; tail -30 "$build/artifacts/$t.regressions.log"; return 1
    fi
  fi
  scratch=$(mktemp -d)
  t0=$(date +%s)
  if "$bin" -seed=1 -runs="$runs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_total_time=300 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "${dict[@]}" "$scratch" "${corpus[@]}" \
       > "$build/artifacts/$t.log" 2>&1; then
    execs=$(grep -o 'number_of_executed_units: [0-9]*' "$build/artifacts/$t.log" | awk '{print $2}')
    rm -rf "$scratch"
    echo "fuzz_smoke: $t: ok, $execs executions in $(( $(date +%s) - t0 )) s (seed 1, corpus: ${corpus[*]})"
  else
    rm -rf "$scratch"
    echo "fuzz_smoke: $t: FAILED (log: $build/artifacts/$t.log)"; grep -E 'ERROR|SUMMARY|invariant|runtime error' -A5 \
      "$build/artifacts/$t.log" | head -40; return 1
  fi
}

mode=${1:-all}
case "$mode" in
  build) need_clang; do_build ;;
  probe)  # for CTest when cmake found no clang: still missing = skipped; installed since = re-run cmake
    need_clang
    echo "fuzz_smoke: $cxx with libFuzzer is available now: re-run cmake to register the sanitizer and fuzz tests"
    exit 1 ;;
  unit) need_clang; do_unit ;;
  fuzz)
    [ $# -ge 2 ] || { echo "usage: $0 fuzz TARGET [RUNS]"; exit 2; }
    need_clang; do_fuzz "$2" "${3:-4000}" ;;
  all|[0-9]*)
    runs=4000
    [ "$mode" != all ] && runs=$mode
    need_clang
    start=$(date +%s)
    do_build
    built=$(date +%s)
    status=0
    do_unit || status=1
    for t in $targets; do do_fuzz "$t" "$runs" || status=1; done
    echo "fuzz_smoke: $( [ $status -eq 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s" \
         "(build $(( built - start )) s, tests and fuzzing $(( $(date +%s) - built )) s)"
    exit $status ;;
  *) echo "usage: $0 [RUNS | build | unit | fuzz TARGET [RUNS] | probe]"; exit 2 ;;
esac
