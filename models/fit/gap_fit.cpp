#include "models/fit/gap_fit.hpp"

#include "models/core/elements.hpp"
#include "models/core/frame_loop.hpp"
#include "models/core/openmp.hpp"
#include "models/descriptors/power_spectrum.hpp"
#include "models/fit/feature_selection.hpp"
#include "models/fit/gap_kernel_rows.hpp"
#include "models/fit/sparse_gpr.hpp"
#include "models/fit/sparse_selection.hpp"
#include "models/gap/gap_calculator.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace gapd {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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

// Hypers (species from the data), zeta and the energy baseline: least squares or the configured values.
GapModel model_skeleton(const FitConfig& config, const TrainingSplit& split) {
    GapModel model;
    model.hypers = config.soap;
    model.hypers.species = split.species;
    model.zeta = config.zeta;
    if (config.baseline_least_squares) {
        model.self_contributions = least_squares_baseline(split.train, split.species);
    } else {
        for (int z : split.species) {
            const auto it = config.baseline.find(z);
            if (it == config.baseline.end())
                throw std::runtime_error("gap.baseline: no value for " + chemical_symbol(z) + ", present in the data");
            model.self_contributions[z] = it->second;
        }
    }
    return model;
}

// Feature selection (optional): the sparse points and kernel rows then use only these features.
void select_model_features(GapModel& model, const FitConfig& config, const TrainingSplit& split, std::ostream& log) {
    if (config.feature_selection_count <= 0) return;
    std::vector<const Structure*> structures;
    for (const LabelledFrame* f : split.train) structures.push_back(&f->structure);
    model.selected_features = select_features(model, config.radial, structures, config.feature_selection_count);
    log << "gapd fit: feature selection: " << model.selected_features.size() << " of "
        << power_spectrum_size(model.hypers, PowerSpectrumLayout::Compressed) << " power-spectrum features\n";
}

// One sparse set per central species (weights zero): the environments given in gap.sparse_environments, else
// those picked (FPS or CUR) among every environment of the training split.
void add_sparse_points(GapModel& model, const FitConfig& config, const TrainingSplit& split, std::ostream& log) {
    const GapCalculator featurizer(model, config.radial);
    std::map<int, std::vector<Eigen::RowVectorXd>> chosen;
    if (!config.sparse_environments.empty()) {
        const std::vector<LabelledFrame>& frames = split.frames;
        for (const auto& [frame, atom] : config.sparse_environments) {
            if (frame < 0 || frame >= static_cast<int>(frames.size()) || atom < 0 ||
                atom >= static_cast<int>(frames[frame].structure.size()))
                throw std::runtime_error("gap.sparse_environments: [" + std::to_string(frame) + ", " +
                                         std::to_string(atom) + "] is outside the training files");
            chosen[frames[frame].structure.numbers[atom]].push_back(featurizer.features(frames[frame].structure).row(atom));
        }
    } else {
        std::map<int, std::vector<Eigen::RowVectorXd>> pool;
        for (const LabelledFrame* f : split.train) {
            const RowMatrix x = featurizer.features(f->structure);
            for (Eigen::Index i = 0; i < x.rows(); ++i) pool[f->structure.numbers[i]].push_back(x.row(i));
        }
        std::map<int, RowMatrix> candidates;
        for (auto& [z, rows] : pool) {
            RowMatrix& x = candidates[z];
            x.resize(rows.size(), rows.front().size());
            for (std::size_t k = 0; k < rows.size(); ++k) x.row(k) = rows[k];
            rows = {};
        }
        const std::map<int, std::vector<int>> picked =
            select_sparse_rows_per_species(candidates, config.sparse_points, config.selection, "gap", log);
        for (const auto& [z, rows] : picked)
            for (int k : rows) chosen[z].push_back(candidates.at(z).row(k));
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

// K_mm: block diagonal (kernels between different central species are zero).
Eigen::MatrixXd sparse_kernel(const GapModel& model, const KernelRowsBuilder& builder) {
    const int M = builder.columns();
    Eigen::MatrixXd kmm = Eigen::MatrixXd::Zero(M, M);
    for (std::size_t k = 0; k < model.sparse.size(); ++k) {
        const RowMatrix& T = model.sparse[k].points;
        const int o = builder.column_offset(k);
        kmm.block(o, o, T.rows(), T.rows()) = (T * T.transpose()).array().pow(model.zeta).matrix();
    }
    return kmm;
}

// The rows of every training structure, streamed into `solver`: a batch of structures in parallel, folded into
// the QR in order, each row scaled by its sigma. At the learning-curve checkpoints (prefixes of the shuffled
// training split, all sharing this one QR stream) the held-out errors of the solution so far go to `fit`.
void stream_rows(const FitConfig& config, const TrainingSplit& split, const KernelRowsBuilder& builder,
                 SparseGprSolver& solver, GapFit& fit, std::ostream& log) {
    const std::vector<const LabelledFrame*>& train = split.train;
    std::set<std::size_t> checkpoints;
    for (double f : config.learning_curve)
        checkpoints.insert(std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(f * train.size())), 1,
                                                   train.size()));
    const auto t_rows = Clock::now();
    auto last_report = t_rows;
    const bool gradients = config.fit_forces || config.fit_virial;
    const int threads = openmp::max_threads();
    const std::size_t batch = static_cast<std::size_t>(2 * threads);
    for (std::size_t start = 0; start < train.size(); start += batch) {
        const std::size_t stop = std::min(train.size(), start + batch);
        std::vector<KernelRows> rows(stop - start);
        std::string error;
#pragma omp parallel for schedule(dynamic, 1)
        for (std::size_t t = start; t < stop; ++t) {
            try {
                rows[t - start] = gradients ? builder.compute_with_gradients(train[t]->structure)
                                             : builder.compute(train[t]->structure);
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
                            Eigen::VectorXd::Constant(1, (f.energy - baseline_energy(f.structure, fit.model.self_contributions)) / se));
            ++fit.energy_rows;
            if (config.fit_forces && f.has_forces) {
                const Eigen::Map<const Eigen::VectorXd> target(f.forces.data(), f.forces.size());
                solver.add_rows(r.forces / config.sigma_forces, target / config.sigma_forces);
                fit.force_rows += r.forces.rows();
            }
            if (config.fit_virial && f.has_virial) {
                const double sv = config.sigma_virial * sqrt_n;
                Eigen::VectorXd target(6);
                const Eigen::Matrix3d& W = f.virial;
                target << W(0, 0), W(1, 1), W(2, 2), 0.5 * (W(1, 2) + W(2, 1)), 0.5 * (W(0, 2) + W(2, 0)),
                    0.5 * (W(0, 1) + W(1, 0));
                solver.add_rows(r.virial / sv, target / sv);
                fit.virial_rows += 6;
            }
            if (checkpoints.count(t + 1) && t + 1 < train.size()) {
                const ErrorTable e = gap_errors(with_weights(fit.model, solver.solve()), config.radial, split.test,
                                                config.formula_unit_atoms);
                fit.learning_curve.push_back({{"training_frames", t + 1}, {"held_out", e.to_json()}});
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
    fit.rows_seconds = seconds_since(t_rows);
}

}  // namespace

ErrorTable gap_errors(const GapModel& model, RadialMode mode, const std::vector<const LabelledFrame*>& frames,
                      int formula_unit_atoms) {
    const GapCalculator calc(model, mode);
    ErrorTable table;
    table.formula_unit_atoms = formula_unit_atoms;
    std::vector<GapPrediction> predictions(frames.size());
    // Small frames in batches, as gapd predict and eval evaluate them (models/core/frame_loop.hpp).
    const FramePlan plan = plan_frames(frames, [](const LabelledFrame* f) { return f->structure.size(); });
    const std::vector<FrameBatch>& batches = plan.batches;
    for_each_frame(
        batches.size(), plan.over_frames, [] { return GapWorkspace(); },
        [&](std::size_t b, GapWorkspace& w) {
            const FrameBatch batch = batches[b];
            std::vector<NeighbourList> lists;
            lists.reserve(batch.count);
            std::vector<StructureNeighbours> inputs;
            for (std::size_t k = batch.first; k < batch.first + batch.count; ++k) {
                lists.push_back(build_neighbour_list(frames[k]->structure, calc.cutoff()));
                inputs.push_back({frames[k]->structure, lists.back()});
            }
            std::vector<GapPrediction> p = calc.compute_batch_with_gradients(inputs, {nullptr, &w});
            for (std::size_t k = 0; k < batch.count; ++k) predictions[batch.first + k] = std::move(p[k]);
        });
    for (std::size_t k = 0; k < frames.size(); ++k) table.add(*frames[k], predictions[k]);
    return table;
}

GapFit fit_gap(const FitConfig& config, const TrainingSplit& split, std::ostream& log) {
    GapFit fit;
    fit.model = model_skeleton(config, split);
    const auto t_select = Clock::now();
    select_model_features(fit.model, config, split, log);
    add_sparse_points(fit.model, config, split, log);
    fit.select_seconds = seconds_since(t_select);

    const KernelRowsBuilder builder(fit.model, config.radial);
    log << "gapd fit: " << builder.columns() << " sparse points (";
    for (std::size_t k = 0; k < fit.model.sparse.size(); ++k)
        log << (k ? ", " : "") << chemical_symbol(fit.model.sparse[k].species) << ' '
            << fit.model.sparse[k].points.rows();
    log << ")\n";
    SparseGprSolver solver(sparse_kernel(fit.model, builder), config.jitter, config.delta);
    stream_rows(config, split, builder, solver, fit, log);

    const auto t_solve = Clock::now();
    const Eigen::VectorXd weights = solver.solve();
    if (!weights.allFinite()) throw std::runtime_error("sparse GPR: the solution is not finite; increase gap.jitter");
    fit.model = with_weights(std::move(fit.model), weights);
    fit.model.description = config.description.empty()
                                ? "gapd fit of " + std::to_string(split.train.size()) + " frames"
                                : config.description;
    fit.solve_seconds = seconds_since(t_solve);
    return fit;
}

}  // namespace gapd
