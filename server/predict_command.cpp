// gapd predict: evaluate a model on every frame of an extxyz file, write extxyz with ASE-convention results.

#include "models/extxyz.hpp"
#include "server/commands.hpp"
#include "server/model_loading.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/LU>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

namespace gapd {

namespace {

struct PredictOptions {
    std::string model, input, output, radial = "spline", prefix;
    int threads = 0;
};

std::string format_numbers(const double* v, int n) {
    std::ostringstream out;
    char buf[32];
    for (int k = 0; k < n; ++k) {
        std::snprintf(buf, sizeof buf, "%.17g", v[k]);
        out << (k ? " " : "") << buf;
    }
    return out.str();
}

int run_predict(const PredictOptions& o) {
    set_thread_count(o.threads);
    std::unique_ptr<GapCalculator> calculator = load_calculator(o.model, parse_radial_mode(o.radial));
    std::vector<ExtxyzFrame> frames = read_extxyz(o.input);
    const std::string k_energy = o.prefix + "energy", k_forces = o.prefix + "forces", k_stress = o.prefix + "stress",
                      k_virial = o.prefix + "virial";
    auto last_report = std::chrono::steady_clock::now();
    for (std::size_t f = 0; f < frames.size(); ++f) {
        ExtxyzFrame& frame = frames[f];
        GapPrediction p;
        try {
            p = calculator->compute(frame.structure, /*gradients=*/true);
        } catch (const std::exception& e) {
            throw std::runtime_error(o.input + ": frame " + std::to_string(f) + " (0-based): " + e.what());
        }
        frame.info[k_energy] = format_numbers(&p.energy, 1);
        frame.arrays[k_forces] = p.forces;
        // Stress and virial only mean something for a fully periodic cell with a volume.
        const double volume = frame.structure.cell.determinant();
        const bool periodic = frame.structure.pbc[0] && frame.structure.pbc[1] && frame.structure.pbc[2];
        if (periodic && std::abs(volume) > 0) {
            Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial = p.virial;
            Eigen::Matrix<double, 3, 3, Eigen::RowMajor> stress = -p.virial / std::abs(volume);
            frame.info[k_virial] = format_numbers(virial.data(), 9);
            frame.info[k_stress] = format_numbers(stress.data(), 9);
        } else {
            frame.info.erase(k_virial);
            frame.info.erase(k_stress);
        }
        const auto now = std::chrono::steady_clock::now();
        if (std::chrono::duration<double>(now - last_report).count() > 2.0) {
            std::cerr << "gapd: predicted " << f + 1 << "/" << frames.size() << " frames\n";
            last_report = now;
        }
    }
    write_extxyz(o.output, frames);
    std::cerr << "gapd: wrote " << frames.size() << " frames to " << o.output << "\n";
    return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<PredictOptions>();
    CLI::App* cmd = app.add_subcommand(
        "predict",
        "Evaluate a model on every frame of an extxyz file and write an extxyz file with the results in ASE "
        "conventions: energy (eV), forces (eV/Å), stress (eV/Å^3, ASE sign: (1/V) dE/d(strain)) and virial "
        "(eV, -stress*V, i-PI's sign). Keys of the input with the same names are replaced.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("input", o->input, "Input extxyz file (species and positions; cell and pbc if periodic)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-m,--model", o->model, "Model file: gapd native or librascal JSON (.json, .json.gz)")
        ->required();
    cmd->add_option("-o,--output", o->output, "Output extxyz file (written atomically)")->required();
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--radial", o->radial, radial_mode_help());
    cmd->add_option("--key-prefix", o->prefix,
                    "Prefix for the result keys (e.g. 'gap_' keeps the input's DFT energy/forces untouched)");
    cmd->callback([o, &exit_code]() { exit_code = run_predict(*o); });
}

}  // namespace gapd
