#pragma once
// Loading a model file for any command, and the --radial choice shared by serve/predict/bench.

#include "models/gap/gap_calculator.hpp"

#include <memory>
#include <string>

namespace gapd {

// "spline" (default: gapd's accurate spline), "exact" (1F1 for every neighbour, slow reference),
// "librascal-spline" (librascal's own spline, to reproduce splined librascal numbers).
RadialMode parse_radial_mode(const std::string& name);
const char* radial_mode_help();
// --precision of serve/predict/bench (KernelPrecision, models/gap/gap_calculator.hpp).
const char* kernel_precision_help();

// float32 vs float64 kernel on one structure (the calculator's precision is restored afterwards).
struct KernelPrecisionDeviation {
    double energy_per_atom = 0, max_force = 0, rms_force = 0;  // eV/atom, eV/Å, eV/Å
};
KernelPrecisionDeviation deviation(const GapPrediction& prediction, const GapPrediction& reference);
KernelPrecisionDeviation float32_deviation(GapCalculator& calculator, const Structure& structure, bool forces = true);
// With --precision float32: measures the deviation on `structure` (named `what` in the message), prints it to
// stderr, and warns when it exceeds 1 meV/atom (models with large weights lose more in single precision).
void report_float32_deviation(GapCalculator& calculator, const Structure& structure, const std::string& what);

// Reads a native gapd model or a librascal dump_obj JSON (.json/.json.gz), prints one progress line to
// stderr for slow (librascal) files, and builds the calculator.
std::unique_ptr<GapCalculator> load_calculator(const std::string& path, RadialMode mode);

}  // namespace gapd
