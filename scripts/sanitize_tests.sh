#!/usr/bin/env bash
# Runs gapd's tests under sanitizers (docs/reliability.md, "Sanitizers"): the full run, by hand or nightly
# (~18 min on 2 cores). CI runs a reduced clang ASan+UBSan stage instead (scripts/fuzz_smoke.sh, "In CI").
#
#   bash scripts/sanitize_tests.sh [asan|valgrind|all]      (default: asan)
#
# asan:     a separate build (build-asan, -DGAPD_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer,
#           -O2 -g), gapd and gapd_unit_tests only; then every unit test and the protocol/CLI end-to-end tests
#           (fake i-PI fault matrix, ASE's socket server, bad files, CLI) through ctest. Any sanitizer report
#           aborts the process (halt_on_error) and fails the test.
# valgrind: a separate build (build-valgrind, no -march=native: valgrind does not decode AVX-512; no OpenMP:
#           libgomp's thread pool is reported as leaks), gapd_unit_tests only; the protocol unit tests under
#           memcheck (--error-exitcode, full leak check).
#
# Environment: JOBS (parallel build jobs, default 2), ASAN_BUILD / VALGRIND_BUILD (build directories),
# E2E_TESTS (ctest -R regex of the end-to-end tests run under ASan).
# Prints the time of each phase; exit code non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-asan}
jobs=${JOBS:-2}
asan_build=${ASAN_BUILD:-build-asan}
valgrind_build=${VALGRIND_BUILD:-build-valgrind}
e2e=${E2E_TESTS:-^(e2e_fault_matrix|e2e_ase_socketio|e2e_bad_files|e2e_cli)$}
python=${GAPD_E2E_PYTHON:-/usr/bin/python3}

phase_start=0
phase() { phase_start=$(date +%s); echo "== sanitize_tests: $1"; }
phase_done() { echo "== sanitize_tests: $1 took $(( $(date +%s) - phase_start )) s"; }

run_asan() {
  # Sanitizer runtime options: stop at the first report, with a stack trace; leaks are errors.
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:abort_on_error=0:${ASAN_OPTIONS_EXTRA:-}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS_EXTRA:-}"
  phase "configure + build $asan_build (ASan + UBSan)"
  cmake -S . -B "$asan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPD_SANITIZE=ON -DGAPD_NATIVE=ON \
        -DGAPD_E2E_PYTHON="$python" > "$asan_build.configure.log" 2>&1 || { cat "$asan_build.configure.log"; return 1; }
  cmake --build "$asan_build" --target gapd gapd_unit_tests -j "$jobs" > "$asan_build.build.log" 2>&1 \
    || { tail -50 "$asan_build.build.log"; return 1; }
  phase_done "build"
  phase "unit tests under ASan + UBSan"
  # The timing assertions of a few unit tests (model load, extxyz read speed) assume an optimised build:
  # they are excluded here (they run in the normal build).
  (cd "$asan_build" && ./tests/gapd_unit_tests --no-version --test-case-exclude='*timings*,*well under*,*speed*')
  phase_done "unit tests"
  phase "end-to-end tests under ASan + UBSan: $e2e"
  (cd "$asan_build" && ctest --output-on-failure -R "$e2e" --timeout 900)
  phase_done "end-to-end tests"
}

run_valgrind() {
  command -v valgrind > /dev/null || { echo "sanitize_tests: valgrind is not installed (apt-get install valgrind)"; return 1; }
  phase "configure + build $valgrind_build (no -march=native, no OpenMP)"
  cmake -S . -B "$valgrind_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAPD_NATIVE=OFF -DGAPD_OPENMP=OFF \
        > "$valgrind_build.configure.log" 2>&1 || { cat "$valgrind_build.configure.log"; return 1; }
  cmake --build "$valgrind_build" --target gapd_unit_tests -j "$jobs" > "$valgrind_build.build.log" 2>&1 \
    || { tail -50 "$valgrind_build.build.log"; return 1; }
  phase_done "build"
  phase "protocol unit tests under valgrind memcheck"
  # Generous per-wait limits are built into the session tests; valgrind makes everything ~30x slower.
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
           --errors-for-leak-kinds=definite,indirect --track-origins=yes --trace-children=no \
           "$valgrind_build/tests/gapd_unit_tests" --no-version --test-case='*protocol*,bad files*'
  phase_done "valgrind"
}

total_start=$(date +%s)
case "$mode" in
  asan) run_asan ;;
  valgrind) run_valgrind ;;
  all) run_asan; run_valgrind ;;
  *) echo "usage: $0 [asan|valgrind|all]"; exit 2 ;;
esac
echo "== sanitize_tests: $mode passed in $(( $(date +%s) - total_start )) s"
