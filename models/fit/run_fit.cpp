#include "models/fit/run_fit.hpp"

#include "models/core/elements.hpp"
#include "models/fit/dipole_fit.hpp"
#include "models/fit/gap_fit.hpp"
#include "models/fit/sparse_selection.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <stdexcept>

namespace gapd {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Fisher-Yates with mt19937_64 draws: the same split on every platform (std::shuffle is implementation-defined).
std::vector<std::size_t> shuffled_indices(std::size_t n, unsigned long long seed) {
    std::vector<std::size_t> idx(n);
    for (std::size_t k = 0; k < n; ++k) idx[k] = k;
    std::mt19937_64 rng(seed);
    for (std::size_t k = n; k > 1; --k) std::swap(idx[k - 1], idx[rng() % k]);
    return idx;
}

// Every frame of the training files, split by the seeded shuffle: the first held_out_fraction are held out.
TrainingSplit read_training_split(const FitConfig& config, std::ostream& log) {
    TrainingSplit split;
    LabelledReadOptions read;
    read.keys = config.keys;
    read.keys.dipole = config.dipoles ? config.dipoles->key : "";  // dipoles are read (and checked) only when fitted
    read.require_forces = config.fit_forces;
    for (const auto& path : config.training_files) {
        auto part = read_labelled_frames(path, read);
        for (auto& f : part) split.frames.push_back(std::move(f));
    }
    const std::vector<LabelledFrame>& frames = split.frames;
    std::set<int> species_set;
    for (const auto& f : frames) species_set.insert(f.structure.numbers.begin(), f.structure.numbers.end());
    split.species.assign(species_set.begin(), species_set.end());

    const std::vector<std::size_t> order = shuffled_indices(frames.size(), config.seed);
    const std::size_t n_test = static_cast<std::size_t>(std::llround(config.held_out_fraction * frames.size()));
    if (n_test >= frames.size())
        throw std::runtime_error("validation.held_out_fraction leaves no training frames (" +
                                 std::to_string(frames.size()) + " frames)");
    for (std::size_t k = 0; k < order.size(); ++k) (k < n_test ? split.test : split.train).push_back(&frames[order[k]]);
    log << "gapd fit: " << frames.size() << " frames (" << split.train.size() << " training, " << split.test.size()
        << " held out), species";
    for (int z : split.species) log << ' ' << chemical_symbol(z);
    log << "\n";
    return split;
}

// The report of the GAP part (JSON) and both reports' text.
void write_reports(const FitConfig& config, const TrainingSplit& split, const GapFit& fit, nlohmann::json curve,
                   double total_seconds, FitResult& result) {
    nlohmann::json& rep = result.report;
    const GapModel& model = result.model;
    rep["training_files"] = config.training_files;
    rep["frames"] = {{"training", split.train.size()}, {"held_out", split.test.size()}};
    rep["rows"] = {{"energy", fit.energy_rows}, {"forces", fit.force_rows}, {"virial", fit.virial_rows}};
    nlohmann::json sparse = nlohmann::json::object(), baseline = nlohmann::json::object();
    for (const auto& set : model.sparse) sparse[chemical_symbol(set.species)] = set.points.rows();
    for (const auto& [z, e0] : model.self_contributions) baseline[chemical_symbol(z)] = e0;
    rep["sparse_points"] = sparse;
    rep["sparse_selection"] = config.sparse_environments.empty() ? sparse_selection_name(config.selection) : "given";
    rep["baseline_eV_per_atom"] = baseline;
    rep["regularisation"] = {{"delta", config.delta}, {"sigma_energy_eV_per_atom", config.sigma_energy},
                             {"sigma_forces_eV_per_A", config.sigma_forces},
                             {"sigma_virial_eV_per_atom", config.sigma_virial}, {"jitter", config.jitter}};
    rep["seconds"] = {{"selection", fit.select_seconds}, {"kernel_rows_and_qr", fit.rows_seconds},
                      {"solve", fit.solve_seconds}, {"total", total_seconds}};
    rep["training"] = result.train_errors.to_json();
    rep["held_out"] = result.test_errors.to_json();
    if (!curve.empty()) rep["learning_curve"] = curve;

    result.text = result.test_errors.to_text("held-out errors") + result.train_errors.to_text("training errors");
    if (!curve.empty()) {
        result.text += "learning curve (held-out RMSE: energy meV/atom, forces meV/Å)\n";
        for (const auto& p : curve) {
            char line[160];
            const auto& h = p["held_out"];
            auto val = [](const nlohmann::json& s) { return s["rmse"].is_null() ? NAN : s["rmse"].get<double>() * 1e3; };
            std::snprintf(line, sizeof line, "  %6zu frames  %10.4f  %10.4f\n", p["training_frames"].get<std::size_t>(),
                          val(h["energy_per_atom"]), val(h["forces"]));
            result.text += line;
        }
    }
}

}  // namespace

FitResult run_fit(const FitConfig& config, std::ostream& log) {
    const auto t_start = Clock::now();
    const TrainingSplit split = read_training_split(config, log);
    std::optional<DipoleTargets> dipoles;  // checked and unwrapped before any fitting: bad labels stop the run at once
    if (config.dipoles) dipoles = dipole_targets(*config.dipoles, split.frames, split.train, split.test);

    GapFit fit = fit_gap(config, split, log);
    FitResult result;
    result.train_errors = gap_errors(fit.model, config.radial, split.train, config.formula_unit_atoms);
    result.test_errors = gap_errors(fit.model, config.radial, split.test, config.formula_unit_atoms);
    if (config.dipoles) {
        const DipoleFitInputs inputs{*config.dipoles, config.radial, split.frames, split.train, split.test, *dipoles};
        DipoleFitResult d = fit_dipoles(inputs, result.train_errors, result.test_errors, log);
        result.dipole_model = std::move(d.model);
        result.report["dipoles"] = std::move(d.report);
    }
    nlohmann::json curve = std::move(fit.learning_curve);
    if (!config.learning_curve.empty())
        curve.push_back({{"training_frames", split.train.size()}, {"held_out", result.test_errors.to_json()}});
    result.model = std::move(fit.model);
    write_reports(config, split, fit, std::move(curve), seconds_since(t_start), result);
    return result;
}

}  // namespace gapd
