#include "server/cli/model_loading.hpp"

#include "models/formats/model_file.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
namespace gapd {

RadialMode parse_radial_mode(const std::string& name) {
    if (name == "spline") return RadialMode::Spline;
    if (name == "exact") return RadialMode::Exact;
    if (name == "librascal-spline") return RadialMode::LibrascalSpline;
    throw std::invalid_argument("--radial must be spline, exact or librascal-spline (got '" + name + "')");
}

const char* radial_mode_help() {
    return "Radial integrals: 'spline' (default; gapd's accurate spline, error far below 1e-8 eV/atom), "
           "'exact' (1F1 for every neighbour; slow reference), 'librascal-spline' (librascal's own spline with "
           "its interval quirk, to reproduce numbers of a librascal Spline-mode model exactly)";
}

const char* kernel_precision_help() {
    return "Kernel GEMM precision: 'float64' (default) or 'float32' (opt-in: the two kernel GEMMs in single "
           "precision on mean-centred features, descriptors and sums in double; ~1.5x faster kernel, typically "
           "< 0.01 meV/atom off; deviations in docs/benchmarks.md)";
}

std::unique_ptr<GapCalculator> load_calculator(const std::string& path, RadialMode mode) {
    const auto start = std::chrono::steady_clock::now();
    const bool native = is_native_model_file(path);
    // Say why a file cannot be read before announcing a load that will not happen.
    if (!std::ifstream(path, std::ios::binary))
        throw std::runtime_error(path + ": cannot open model file: " + std::strerror(errno));
    if (!native) std::cerr << "gapd: reading " << path << " (a librascal JSON model takes up to a few seconds)\n";
    GapModel model = read_model_file(path);
    if (mode == RadialMode::LibrascalSpline && !(model.hypers.librascal_spline_accuracy > 0))
        throw std::invalid_argument(path + ": --radial librascal-spline needs a model fitted with librascal's "
                                           "Spline optimization; this one is exact-mode");
    auto calculator = std::make_unique<GapCalculator>(std::move(model), mode);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!native || seconds > 1.0) std::cerr << "gapd: model loaded in " << seconds << " s\n";
    return calculator;
}

KernelPrecisionDeviation deviation(const GapPrediction& a, const GapPrediction& ref) {
    KernelPrecisionDeviation d;
    const double n = static_cast<double>(ref.atom_energies.size());
    d.energy_per_atom = std::abs(a.energy - ref.energy) / n;
    if (ref.forces.rows() > 0) {
        const Matrix3N diff = a.forces - ref.forces;
        d.max_force = diff.cwiseAbs().maxCoeff();
        d.rms_force = std::sqrt(diff.squaredNorm() / (3.0 * n));
    }
    return d;
}

KernelPrecisionDeviation float32_deviation(GapCalculator& calculator, const Structure& structure, bool forces) {
    const KernelPrecision was = calculator.kernel_precision();
    calculator.set_kernel_precision(KernelPrecision::Float64);
    auto predict = [&] { return forces ? calculator.compute_with_gradients(structure) : calculator.compute(structure); };
    const GapPrediction reference = predict();
    calculator.set_kernel_precision(KernelPrecision::Float32);
    const GapPrediction single = predict();
    calculator.set_kernel_precision(was);
    return deviation(single, reference);
}

void report_float32_deviation(GapCalculator& calculator, const Structure& structure, const std::string& what) {
    const KernelPrecisionDeviation d = float32_deviation(calculator, structure);
    std::fprintf(stderr, "gapd: float32 kernel vs float64 on %s: |dE| %.3g meV/atom, max |dF| %.3g meV/Å\n",
                 what.c_str(), 1e3 * d.energy_per_atom, 1e3 * d.max_force);
    if (d.energy_per_atom > 1e-3)
        std::fprintf(stderr, "gapd: warning: float32 changes this model's energy by more than 1 meV/atom; "
                             "use --precision float64 for production runs (docs/benchmarks.md)\n");
}

}  // namespace gapd
