#include "models/fit/gap_fit.hpp"

#include "models/core/elements.hpp"
#include "models/core/openmp.hpp"
#include "models/fit/dipole_fit.hpp"
#include "models/fit/feature_selection.hpp"
#include "models/fit/gap_kernel_rows.hpp"
#include "models/fit/sparse_gpr.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/descriptors/power_spectrum.hpp"

#include <Eigen/QR>
#include <algorithm>
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

// e0(Z): mean energy per atom plus the minimum-norm least-squares correction per species, so that frames
// with a single composition (where per-species values are not identifiable) get the same e0 for all species.
std::map<int, double> least_squares_baseline(const std::vector<const LabelledFrame*>& frames,
                                             const std::vector<int>& species) {
    const Eigen::Index n = static_cast<Eigen::Index>(frames.size()), s = static_cast<Eigen::Index>(species.size());
    Eigen::MatrixXd counts = Eigen::MatrixXd::Zero(n, s);
    Eigen::VectorXd energy(n);
    double total_energy = 0, total_atoms = 0;
    for (Eigen::Index f = 0; f < n; ++f) {
        for (int z : frames[f]->structure.numbers)
            counts(f, std::lower_bound(species.begin(), species.end(), z) - species.begin()) += 1.0;
        energy[f] = frames[f]->energy;
        total_energy += energy[f];
        total_atoms += static_cast<double>(frames[f]->structure.size());
    }
    const double mean = total_energy / total_atoms;
    const Eigen::VectorXd residual = energy - counts.rowwise().sum() * mean;
    const Eigen::VectorXd correction = counts.completeOrthogonalDecomposition().solve(residual);
    std::map<int, double> out;
    for (Eigen::Index k = 0; k < s; ++k) out[species[k]] = mean + correction[k];
    return out;
}

double baseline_energy(const Structure& s, const std::map<int, double>& e0) {
    double e = 0.0;
    for (int z : s.numbers) e += e0.at(z);
    return e;
}

GapModel with_weights(GapModel model, const Eigen::VectorXd& w) {
    Eigen::Index offset = 0;
    for (SparseSet& set : model.sparse) {
        set.weights = w.segment(offset, set.points.rows());
        offset += set.points.rows();
    }
    return model;
}

ErrorTable evaluate(const GapModel& model, RadialMode mode, const std::vector<const LabelledFrame*>& frames,
                    int formula_unit_atoms) {
    const GapCalculator calc(model, mode);
    ErrorTable table;
    table.formula_unit_atoms = formula_unit_atoms;
    for (const LabelledFrame* f : frames) table.add(*f, calc.compute_with_gradients(f->structure));
    return table;
}

}  // namespace

FitResult fit_gap(const FitConfig& config, std::ostream& log) {
    const auto t_start = Clock::now();
    // --- data
    std::vector<LabelledFrame> frames;
    PropertyKeys keys = config.keys;
    keys.dipole = config.dipoles ? config.dipoles->key : "";  // dipoles are read (and checked) only when fitted
    for (const auto& path : config.training_files) {
        auto part = read_labelled_frames(path, keys, config.fit_forces);
        for (auto& f : part) frames.push_back(std::move(f));
    }
    std::set<int> species_set;
    for (const auto& f : frames) species_set.insert(f.structure.numbers.begin(), f.structure.numbers.end());
    const std::vector<int> species(species_set.begin(), species_set.end());

    const std::vector<std::size_t> order = shuffled_indices(frames.size(), config.seed);
    const std::size_t n_test = static_cast<std::size_t>(std::llround(config.held_out_fraction * frames.size()));
    if (n_test >= frames.size())
        throw std::runtime_error("validation.held_out_fraction leaves no training frames (" +
                                 std::to_string(frames.size()) + " frames)");
    std::vector<const LabelledFrame*> test, train;
    for (std::size_t k = 0; k < order.size(); ++k) (k < n_test ? test : train).push_back(&frames[order[k]]);
    log << "gapd fit: " << frames.size() << " frames (" << train.size() << " training, " << test.size()
        << " held out), species";
    for (int z : species) log << ' ' << chemical_symbol(z);
    log << "\n";
    std::optional<DipoleTargets> dipoles;  // checked and unwrapped before any fitting: bad labels stop the run at once
    if (config.dipoles) dipoles = dipole_targets(*config.dipoles, frames, train, test);

    // --- model skeleton: hypers, baseline
    GapModel model;
    model.hypers = config.soap;
    model.hypers.species = species;
    model.zeta = config.zeta;
    if (config.baseline_least_squares) {
        model.self_contributions = least_squares_baseline(train, species);
    } else {
        for (int z : species) {
            const auto it = config.baseline.find(z);
            if (it == config.baseline.end())
                throw std::runtime_error("gap.baseline: no value for " + chemical_symbol(z) + ", present in the data");
            model.self_contributions[z] = it->second;
        }
    }

    // --- feature selection (optional): the sparse points and kernel rows below then use only these features
    const auto t_select = Clock::now();
    if (config.feature_selection_count > 0) {
        std::vector<const Structure*> structures;
        for (const LabelledFrame* f : train) structures.push_back(&f->structure);
        model.selected_features = select_features(model, config.radial, structures, config.feature_selection_count);
        log << "gapd fit: feature selection: " << model.selected_features.size() << " of "
            << power_spectrum_size(model.hypers, PowerSpectrumLayout::Compressed) << " power-spectrum features\n";
    }

    // --- sparse environments
    {
        const GapCalculator featurizer(model, config.radial);
        std::map<int, std::vector<Eigen::RowVectorXd>> chosen;
        if (!config.sparse_environments.empty()) {
            for (const auto& [frame, atom] : config.sparse_environments) {
                if (frame < 0 || frame >= static_cast<int>(frames.size()) || atom < 0 ||
                    atom >= static_cast<int>(frames[frame].structure.size()))
                    throw std::runtime_error("gap.sparse_environments: [" + std::to_string(frame) + ", " +
                                             std::to_string(atom) + "] is outside the training files");
                chosen[frames[frame].structure.numbers[atom]].push_back(featurizer.features(frames[frame].structure).row(atom));
            }
        } else {
            std::map<int, std::vector<Eigen::RowVectorXd>> pool;
            for (const LabelledFrame* f : train) {
                const RowMatrix x = featurizer.features(f->structure);
                for (Eigen::Index i = 0; i < x.rows(); ++i) pool[f->structure.numbers[i]].push_back(x.row(i));
            }
            for (auto& [z, rows] : pool) {
                const auto want = config.sparse_points.find(z);
                if (want == config.sparse_points.end())
                    throw std::runtime_error("gap.sparse_points: no count for " + chemical_symbol(z) +
                                             ", present in the data");
                RowMatrix x(rows.size(), rows.front().size());
                for (std::size_t k = 0; k < rows.size(); ++k) x.row(k) = rows[k];
                rows.clear();
                const std::vector<int> picked = select_sparse_rows(x, want->second, config.selection);
                if (static_cast<int>(picked.size()) < want->second)
                    log << "gapd fit: warning: " << chemical_symbol(z) << ": " << picked.size()
                        << " sparse points instead of " << want->second << " (the training split has only "
                        << x.rows() << " environments"
                        << (static_cast<Eigen::Index>(picked.size()) < x.rows() ? ", the others add nothing new" : "")
                        << ")\n";
                for (int k : picked) chosen[z].push_back(x.row(k));
            }
        }
        for (auto& [z, rows] : chosen) {
            SparseSet set;
            set.species = z;
            set.points.resize(rows.size(), rows.front().size());
            for (std::size_t k = 0; k < rows.size(); ++k) set.points.row(k) = rows[k];
            set.weights = Eigen::VectorXd::Zero(rows.size());
            model.sparse.push_back(std::move(set));
        }
    }
    const double select_seconds = seconds_since(t_select);

    // --- K_mm: block diagonal (kernels between different central species are zero)
    const KernelRowsBuilder builder(model, config.radial);
    const int M = builder.columns();
    Eigen::MatrixXd kmm = Eigen::MatrixXd::Zero(M, M);
    for (std::size_t k = 0; k < model.sparse.size(); ++k) {
        const RowMatrix& T = model.sparse[k].points;
        const int o = builder.column_offset(k);
        kmm.block(o, o, T.rows(), T.rows()) = (T * T.transpose()).array().pow(config.zeta).matrix();
    }
    log << "gapd fit: " << M << " sparse points (";
    for (std::size_t k = 0; k < model.sparse.size(); ++k)
        log << (k ? ", " : "") << chemical_symbol(model.sparse[k].species) << ' ' << model.sparse[k].points.rows();
    log << ")\n";
    SparseGprSolver solver(kmm, config.jitter, config.delta);

    // --- learning-curve checkpoints: prefixes of the (shuffled) training split share one QR stream
    std::set<std::size_t> checkpoints;
    for (double f : config.learning_curve)
        checkpoints.insert(std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(f * train.size())), 1,
                                                   train.size()));
    nlohmann::json curve = nlohmann::json::array();

    // --- rows, streamed: a batch of structures in parallel, folded into the QR in order
    const auto t_rows = Clock::now();
    auto last_report = t_rows;
    const bool gradients = config.fit_forces || config.fit_virial;
    const int threads = openmp::max_threads();
    const std::size_t batch = static_cast<std::size_t>(2 * threads);
    long energy_rows = 0, force_rows = 0, virial_rows = 0;
    for (std::size_t start = 0; start < train.size(); start += batch) {
        const std::size_t stop = std::min(train.size(), start + batch);
        std::vector<KernelRows> rows(stop - start);
        std::string error;
#pragma omp parallel for schedule(dynamic, 1)
        for (std::size_t t = start; t < stop; ++t) {
            try {
                rows[t - start] = builder.compute(train[t]->structure, gradients);
            } catch (const std::exception& e) {
#pragma omp critical
                error = frame_label(*train[t]) + ": " + e.what();
            }
        }
        if (!error.empty()) throw std::runtime_error(error);
        for (std::size_t t = start; t < stop; ++t) {
            const LabelledFrame& f = *train[t];
            const KernelRows& r = rows[t - start];
            const double sqrt_n = std::sqrt(static_cast<double>(f.structure.size()));
            const double se = config.sigma_energy * sqrt_n;
            solver.add_rows(r.energy.transpose() / se,
                            Eigen::VectorXd::Constant(1, (f.energy - baseline_energy(f.structure, model.self_contributions)) / se));
            ++energy_rows;
            if (config.fit_forces && f.has_forces) {
                const Eigen::Map<const Eigen::VectorXd> target(f.forces.data(), f.forces.size());
                solver.add_rows(r.forces / config.sigma_forces, target / config.sigma_forces);
                force_rows += r.forces.rows();
            }
            if (config.fit_virial && f.has_virial) {
                const double sv = config.sigma_virial * sqrt_n;
                Eigen::VectorXd target(6);
                const Eigen::Matrix3d& W = f.virial;
                target << W(0, 0), W(1, 1), W(2, 2), 0.5 * (W(1, 2) + W(2, 1)), 0.5 * (W(0, 2) + W(2, 0)),
                    0.5 * (W(0, 1) + W(1, 0));
                solver.add_rows(r.virial / sv, target / sv);
                virial_rows += 6;
            }
            if (checkpoints.count(t + 1) && t + 1 < train.size()) {
                const ErrorTable e = evaluate(with_weights(model, solver.solve()), config.radial, test,
                                              config.formula_unit_atoms);
                curve.push_back({{"training_frames", t + 1}, {"held_out", e.to_json()}});
            }
        }
        const double elapsed = seconds_since(t_rows);
        if (seconds_since(last_report) > 2.0 || stop == train.size()) {
            last_report = Clock::now();
            char line[160];
            std::snprintf(line, sizeof line, "gapd fit: kernel rows %zu/%zu structures, %.1f s, ETA %.1f s\n", stop,
                          train.size(), elapsed, elapsed / stop * (train.size() - stop));
            log << line << std::flush;
        }
    }
    const double rows_seconds = seconds_since(t_rows);

    const auto t_solve = Clock::now();
    const Eigen::VectorXd weights = solver.solve();
    if (!weights.allFinite()) throw std::runtime_error("sparse GPR: the solution is not finite; increase gap.jitter");
    model = with_weights(std::move(model), weights);
    model.description = config.description.empty() ? "gapd fit of " + std::to_string(train.size()) + " frames"
                                                    : config.description;
    const double solve_seconds = seconds_since(t_solve);

    FitResult result;
    result.train_errors = evaluate(model, config.radial, train, config.formula_unit_atoms);
    result.test_errors = evaluate(model, config.radial, test, config.formula_unit_atoms);
    if (config.dipoles) {
        DipoleFitResult d = fit_dipoles(*config.dipoles, config.radial, frames, train, test, *dipoles,
                                        result.train_errors, result.test_errors, log);
        result.dipole_model = std::move(d.model);
        result.report["dipoles"] = std::move(d.report);
    }
    if (!checkpoints.empty())
        curve.push_back({{"training_frames", train.size()}, {"held_out", result.test_errors.to_json()}});

    nlohmann::json& rep = result.report;
    rep["training_files"] = config.training_files;
    rep["frames"] = {{"training", train.size()}, {"held_out", test.size()}};
    rep["rows"] = {{"energy", energy_rows}, {"forces", force_rows}, {"virial", virial_rows}};
    nlohmann::json sparse = nlohmann::json::object(), baseline = nlohmann::json::object();
    for (const auto& set : model.sparse) sparse[chemical_symbol(set.species)] = set.points.rows();
    for (const auto& [z, e0] : model.self_contributions) baseline[chemical_symbol(z)] = e0;
    rep["sparse_points"] = sparse;
    rep["sparse_selection"] = config.sparse_environments.empty() ? sparse_selection_name(config.selection) : "given";
    rep["baseline_eV_per_atom"] = baseline;
    rep["regularisation"] = {{"delta", config.delta}, {"sigma_energy_eV_per_atom", config.sigma_energy},
                             {"sigma_forces_eV_per_A", config.sigma_forces},
                             {"sigma_virial_eV_per_atom", config.sigma_virial}, {"jitter", config.jitter}};
    rep["seconds"] = {{"selection", select_seconds}, {"kernel_rows_and_qr", rows_seconds}, {"solve", solve_seconds},
                      {"total", seconds_since(t_start)}};
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
    result.model = std::move(model);
    return result;
}

}  // namespace gapd
