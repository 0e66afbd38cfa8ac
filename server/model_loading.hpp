#pragma once
// Loading a model file for any command, and the --radial choice shared by serve/predict/bench.

#include "models/gap_calculator.hpp"

#include <memory>
#include <string>

namespace gapd {

// "spline" (default: gapd's accurate spline), "exact" (1F1 for every neighbour, slow reference),
// "librascal-spline" (librascal's own spline, to reproduce splined librascal numbers).
RadialMode parse_radial_mode(const std::string& name);
const char* radial_mode_help();
// --precision of serve/predict/bench (KernelPrecision, models/gap_calculator.hpp).
const char* kernel_precision_help();

// Reads a native gapd model or a librascal dump_obj JSON (.json/.json.gz), prints one progress line to
// stderr for slow (librascal) files, and builds the calculator.
std::unique_ptr<GapCalculator> load_calculator(const std::string& path, RadialMode mode);

// Sets the OpenMP thread count (0 = OpenMP's default: OMP_NUM_THREADS or all cores).
void set_thread_count(int threads);
int current_thread_count();

}  // namespace gapd
