// gapd fit: train a sparse SOAP-GAP model from labelled extxyz files (docs/fitting.md).

#include "models/core/openmp.hpp"
#include "models/core/atomic_file_write.hpp"
#include "models/core/same_file.hpp"
#include "models/fit/run_fit.hpp"
#include "models/formats/native_model_file.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/option_checks.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace gapd {

namespace {

struct FitOptions {
    std::string config;
    int threads = -1;
};

int fit_command(const FitOptions& o) {
    FitConfig config = read_fit_config(o.config);
    // Before the (long) fit: none of the outputs may be the config or a training file.
    std::vector<std::string> inputs = config.training_files;
    inputs.push_back(o.config);
    refuse_output_over_input(config.output, inputs);
    refuse_output_over_input(config.report + ".json", inputs);
    refuse_output_over_input(config.report + ".txt", inputs);
    set_thread_count(o.threads >= 0 ? o.threads : config.threads);
    const FitResult result = run_fit(config, std::cerr);
    // One file: the GAP and, when fitted, the dipole model as its "dipole" section (docs/fitting.md).
    ModelFileContents contents;
    contents.gap = result.model;
    contents.dipole = result.dipole_model;
    write_native_model(config.output, contents);
    write_file_atomically(config.report + ".json", [&](std::ostream& out) { out << result.report.dump(1) << "\n"; });
    write_file_atomically(config.report + ".txt", [&](std::ostream& out) { out << result.text; });
    std::cout << result.text;
    std::cerr << "gapd fit: wrote " << config.output << ", " << config.report << ".json, " << config.report
              << ".txt (" << result.report["seconds"]["total"].get<double>() << " s)\n";
    return 0;
}

}  // namespace

void add_fit_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<FitOptions>();
    CLI::App* cmd = app.add_subcommand(
        "fit", "Fit a sparse SOAP-GAP model (energies, forces, virials) and, with a `dipoles:` section, an SA-GPR "
               "dipole model to labelled extxyz files; writes one gapd native model (GAP + dipole section) and an "
               "error report (JSON + text). Configuration keys: docs/fitting.md.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("config,--config", o->config, "YAML fit configuration (docs/fitting.md); positional or --config")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: the config's threads, else all cores)")
        ->check(non_negative_integer());
    cmd->callback([o, &exit_code]() { exit_code = fit_command(*o); });
}

}  // namespace gapd
