// gapd predict: evaluate a model on every frame of an extxyz file, write extxyz with ASE-convention results
// (and the dipole quantities of an SA-GPR model, in e·Å and e, chosen by the same flags as gapd serve).

#include "models/core/frame_loop.hpp"
#include "models/core/openmp.hpp"
#include "models/formats/extxyz.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/common_options.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/dipole_options.hpp"
#include "server/cli/model_loading.hpp"
#include "server/cli/yaml_config.hpp"
#include "server/cli/pair_limit_option.hpp"
#include "models/gap/gap_novelty.hpp"
#include "server/serve/model_evaluator.hpp"
#include "models/core/same_file.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/LU>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

namespace gapd {

namespace {

struct PredictOptions {
    std::string model, input, output, radial = "spline", prefix, precision = "float64";
    int threads = 0;
    bool clusters = false, novelty = false;
    DipoleOptions dipoles;
};

void write_gap_results(const GapPrediction& p, ExtxyzFrame& frame, const std::string& prefix) {
    const std::string k_energy = prefix + "energy", k_forces = prefix + "forces", k_stress = prefix + "stress",
                      k_virial = prefix + "virial";
    frame.info[k_energy] = format_info_numbers(&p.energy, 1);
    frame.arrays[k_forces] = p.forces;
    // Stress and virial only mean something for a fully periodic cell with a volume.
    const double volume = frame.structure.cell.determinant();
    const bool periodic = frame.structure.pbc[0] && frame.structure.pbc[1] && frame.structure.pbc[2];
    if (periodic && std::abs(volume) > 0) {
        Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial = p.virial;
        Eigen::Matrix<double, 3, 3, Eigen::RowMajor> stress = -p.virial / std::abs(volume);
        frame.info[k_virial] = format_info_numbers(virial.data(), 9);
        frame.info[k_stress] = format_info_numbers(stress.data(), 9);
    } else {
        frame.info.erase(k_virial);
        frame.info.erase(k_stress);
    }
}

// The extras gapd serve sends, in the model's units (e·Å, e/Å^2, e) as ASE reads them: vectors as info, rows
// per atom as arrays. Two keys are laid out per atom for extxyz: cell_dipoles puts each cell dipole on its
// B-site atom's row (zeros elsewhere), and BEC becomes born_charges, row i = BEC rows 3i..3i+2 flattened
// ([dM_x/dr_ix, dM_y/dr_ix, dM_z/dr_ix, dM_x/dr_iy, ...]).
void write_dipole_results(const DipoleResults& d, const ExtrasSelection& selection, ExtxyzFrame& frame,
                          const std::string& prefix) {
    const Extras extras = dipole_extras(selection, d, std::abs(frame.structure.cell.determinant()));
    const Eigen::Index n = static_cast<Eigen::Index>(frame.structure.size());
    for (const ExtraArray& extra : extras.arrays) {
        if (extra.shape == ExtraArray::Shape::Vector) {
            frame.info[prefix + extra.key] = format_info_numbers(extra.values.data(), static_cast<int>(extra.values.cols()));
        } else if (extra.key == "cell_dipoles") {
            RowMatrix cells = RowMatrix::Zero(n, extra.values.cols());
            for (std::size_t k = 0; k < d.cells->centres.size(); ++k)
                cells.row(d.cells->centres[k]) = extra.values.row(static_cast<Eigen::Index>(k));
            frame.arrays[prefix + extra.key] = cells;
        } else if (extra.key == "BEC") {
            // Row-major 3N x 3 -> N x 9 is the same memory.
            frame.arrays[prefix + "born_charges"] = Eigen::Map<const RowMatrix>(extra.values.data(), n, 9);
        } else {
            frame.arrays[prefix + extra.key] = extra.values;
        }
    }
}

int run_predict(const PredictOptions& o) {
    // Before any work: `predict IN -o IN` would replace IN's labels by predictions.
    refuse_output_over_input(o.output, {o.input, o.model, o.dipoles.dipole_model});
    set_thread_count(o.threads);
    const LoadedModels models = load_models(o.model, o.dipoles, parse_radial_mode(o.radial));
    if (models.gap) models.gap->set_kernel_precision(parse_kernel_precision(o.precision));
    std::vector<ExtxyzFrame> frames = read_extxyz(o.input);
    if (!o.clusters) require_periodicity_given(frames, o.input);
    if (models.gap && o.precision == "float32" && !frames.empty())
        report_float32_deviation(*models.gap, frames.front().structure, o.input + " frame 0");
    std::optional<DipoleServing> dipoles;
    if (models.dipole) dipoles.emplace(DipoleServing{*models.dipole, models.selection, models.roles});
    if (o.novelty && !models.gap)
        throw std::invalid_argument("--novelty needs a GAP model (it measures environments against the GAP's "
                                    "sparse points); --dipole-only has none");
    const std::unique_ptr<GapNovelty> novelty = o.novelty ? std::make_unique<GapNovelty>(*models.gap) : nullptr;
    const FramePlan plan = plan_frames(frames, [](const ExtxyzFrame& f) { return f.structure.size(); });
    const std::vector<FrameBatch>& batches = plan.batches;
    auto last_report = std::chrono::steady_clock::now();
    std::atomic<std::size_t> done{0};
    for_each_frame(
        batches.size(), plan.over_frames,
        [&] {
            ModelEvaluator evaluator(models.gap.get(), dipoles);
            if (novelty) evaluator.compute_novelty(*novelty);
            return evaluator;
        },
        [&](std::size_t b, ModelEvaluator& evaluator) {
            const FrameBatch batch = batches[b];
            const auto label = [&](std::size_t k) {
                return o.input + ": frame " + std::to_string(batch.first + k) + " (0-based)";
            };
            std::vector<Structure> structures;
            for (std::size_t k = 0; k < batch.count; ++k) structures.push_back(frames[batch.first + k].structure);
            const std::vector<ModelEvaluation> results = evaluator.evaluate_batch_or_name(structures, label);
            for (std::size_t k = 0; k < batch.count; ++k) {
                ExtxyzFrame& frame = frames[batch.first + k];
                const ModelEvaluation& e = results[k];
                try {
                    if (e.gap) write_gap_results(*e.gap, frame, o.prefix);
                    if (e.dipoles) write_dipole_results(*e.dipoles, models.selection, frame, o.prefix);
                    if (e.novelty) frame.arrays[o.prefix + "gap_novelty"] = RowMatrix(*e.novelty);
                } catch (const std::exception& error) {
                    throw std::runtime_error(label(k) + ": " + error.what());
                }
            }
            const std::size_t finished = done += batch.count;
            if (openmp::thread_num() != 0) return;  // one thread reports
            const auto now = std::chrono::steady_clock::now();
            if (std::chrono::duration<double>(now - last_report).count() > 2.0) {
                std::cerr << "gapd: predicted " << finished << "/" << frames.size() << " frames\n";
                last_report = now;
            }
        });
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
    cmd->add_option("input,--input", o->input,
                    "Input structures: extxyz (Lattice= for the cell) or an i-PI xyz file (# CELL(abcABC): ... "
                    "comment; lengths in its {unit} hints, atomic units without one, as i-PI reads it)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-m,--model", o->model,
                    "Model file: gapd native (a GAP, a dipole model or both) or librascal JSON (.json, .json.gz). "
                    "Required unless --dipole-only --dipole-model");
    cmd->add_option("-o,--output", o->output,
                    "Output extxyz file (written atomically; never one of the inputs; a replaced file keeps its "
                    "mode, a read-only one is refused)")
        ->required();
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
        ->check(non_negative_integer());
    cmd->add_option("--radial", o->radial, radial_mode_help());
    cmd->add_option("--precision", o->precision, kernel_precision_help())->check(CLI::IsMember({"float64", "float32"}));
    cmd->add_option("--key-prefix", o->prefix,
                    "Prefix for the result keys (e.g. 'gap_' keeps the input's DFT energy/forces untouched)");
    add_max_pairs_option(cmd);
    cmd->add_flag("--novelty", o->novelty,
                  "Also write the per-atom array 'gap_novelty': how far each environment lies outside what the GAP's "
                  "sparse points span (0 = spanned, 1 = orthogonal; docs/novelty.md)");
    add_dipole_options(cmd, o->dipoles);
    add_clusters_flag(cmd, o->clusters);
    add_config_option(cmd);
    cmd->footer(
        "Dipoles (with a dipole model): info 'dipole' (e·Å) and 'polarization' (e/Å^2), per-atom arrays\n"
        "'partial_dipoles' (e·Å), 'cell_dipoles' (e·Å, on B-site atoms, zeros elsewhere) and 'born_charges'\n"
        "(e, 9 columns: row i = BEC rows 3i..3i+2, i.e. dM_a/dr_ib at column 3b+a), as chosen by --extras.");
    cmd->callback([o, &exit_code]() { exit_code = run_predict(*o); });
}

}  // namespace gapd
