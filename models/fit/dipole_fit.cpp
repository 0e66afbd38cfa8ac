#include "models/fit/dipole_fit.hpp"

#include "models/dipoles/dipole_calculator.hpp"
#include "models/fit/dipole_kernel_rows.hpp"
#include "models/core/elements.hpp"
#include "models/core/frame_loop.hpp"
#include "models/fit/sparse_gpr.hpp"
#include "models/fit/sparse_selection.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace gapd {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

Eigen::Vector3d unwrapped_dipole(const LabelledFrame& f, const PolarizationUnwrapping& u) {
    const Structure& s = f.structure;
    if (!u.enabled || !(s.pbc[0] && s.pbc[1] && s.pbc[2])) return f.dipole;
    try {
        Matrix3N d;
        if (u.reference_key.empty()) {
            d = perovskite_displacements(s, u.roles);
        } else {
            const auto it = f.raw.arrays.find(u.reference_key);
            if (it == f.raw.arrays.end())
                throw std::invalid_argument("missing per-atom array '" + u.reference_key + "' (dipoles.unwrapping.reference_key)");
            if (it->second.cols() != 3)
                throw std::invalid_argument("per-atom array '" + u.reference_key + "' must have 3 columns");
            d = displacements_from_reference(s, it->second);
        }
        return nearest_branch(s.cell, f.dipole, linear_dipole(s, d, u.born_charges));
    } catch (const std::exception& e) {
        throw std::runtime_error(frame_label(f) + ": dipole unwrapping: " + e.what());
    }
}

DipoleTargets dipole_targets(const DipoleFitConfig& config, const std::vector<LabelledFrame>& frames,
                             const std::vector<const LabelledFrame*>& train, const std::vector<const LabelledFrame*>& test) {
    // Every file must have at least one dipole (a typo in dipoles.key would otherwise fit nothing).
    std::map<std::string, int> with_dipole;
    for (const LabelledFrame& f : frames) with_dipole[f.file] += f.has_dipole ? 1 : 0;
    for (const auto& [file, count] : with_dipole)
        if (count == 0)
            throw std::runtime_error(file + ": frame 0 (0-based): missing info key '" + config.key +
                                     "' (no frame of this file has it; dipoles: requested)");
    DipoleTargets t;
    for (const auto* split : {&train, &test})
        for (const LabelledFrame* f : *split) {
            if (!f->has_dipole) continue;
            const Eigen::Vector3d m = unwrapped_dipole(*f, config.unwrapping);
            if ((m - f->dipole).norm() > 1e-9 * (1 + f->dipole.norm())) ++t.moved;
            t.largest_move = std::max(t.largest_move, (m - f->dipole).norm());
            t.dipole[f] = m;
        }
    return t;
}

DipoleFitResult fit_dipoles(const DipoleFitInputs& inputs, ErrorTable& train_errors, ErrorTable& test_errors,
                            std::ostream& log) {
    const DipoleFitConfig& config = inputs.config;
    const RadialMode radial = inputs.radial;
    const std::vector<LabelledFrame>& frames = inputs.frames;
    const std::vector<const LabelledFrame*>& train = inputs.train;
    const std::vector<const LabelledFrame*>& test = inputs.test;
    const DipoleTargets& targets = inputs.targets;
    const auto t_start = Clock::now();
    const auto& target = targets.dipole;
    const int shifted = targets.moved;
    const double largest_shift = targets.largest_move;
    std::vector<const LabelledFrame*> fit_frames;
    for (const LabelledFrame* f : train)
        if (f->has_dipole) fit_frames.push_back(f);
    if (fit_frames.empty()) throw std::runtime_error("dipoles: no training frame has a dipole ('" + config.key + "')");
    if (config.unwrapping.enabled)
        for (const LabelledFrame* f : fit_frames) {
            double charge = 0.0;
            for (int z : f->structure.numbers) {
                const auto it = config.unwrapping.born_charges.find(z);
                charge += it == config.unwrapping.born_charges.end() ? 0.0 : it->second;
            }
            if (std::abs(charge) > 1e-6) {
                log << "gapd fit: warning: " << frame_label(*f) << ": the Born charges sum to " << charge
                    << " e, not 0: M_lin depends on the origin\n";
                break;
            }
        }
    log << "gapd fit: dipoles: " << fit_frames.size() << " training frames with '" << config.key << "', "
        << shifted << " labels moved to another polarization branch\n";

    // --- model skeleton
    std::set<int> species_set;
    for (const LabelledFrame& f : frames) species_set.insert(f.structure.numbers.begin(), f.structure.numbers.end());
    DipoleModel model;
    model.hypers = config.soap;
    model.hypers.species.assign(species_set.begin(), species_set.end());
    model.inversion_symmetry = config.inversion_symmetry;
    model.kernel = config.kernel;
    model.zeta = config.zeta;
    model.cell_roles = config.unwrapping.roles;
    const bool scalar = config.kernel == DipoleKernel::LinearTimesScalar;

    // --- sparse environments, per species, on the lambda=1 features
    const auto t_select = Clock::now();
    const DipoleCalculator featurizer(model, radial);
    {
        std::map<int, std::vector<std::pair<Eigen::RowVectorXd, Eigen::RowVectorXd>>> chosen;  // (A, x)
        auto take = [&](const LabelledFrame& f, const RowMatrix& A, const RowMatrix& X, Eigen::Index i) {
            chosen[f.structure.numbers[i]].emplace_back(A.row(i), scalar ? Eigen::RowVectorXd(X.row(i)) : Eigen::RowVectorXd());
        };
        if (!config.sparse_environments.empty()) {
            for (const auto& [frame, atom] : config.sparse_environments) {
                if (frame < 0 || frame >= static_cast<int>(frames.size()) || atom < 0 ||
                    atom >= static_cast<int>(frames[frame].structure.size()))
                    throw std::runtime_error("dipoles.sparse_environments: [" + std::to_string(frame) + ", " +
                                             std::to_string(atom) + "] is outside the training files");
                const Structure& s = frames[frame].structure;
                take(frames[frame], featurizer.features(s), scalar ? featurizer.scalar_features(s) : RowMatrix(), atom);
            }
        } else {
            std::vector<RowMatrix> A(fit_frames.size()), X(fit_frames.size());
            for (std::size_t k = 0; k < fit_frames.size(); ++k) {
                A[k] = featurizer.features(fit_frames[k]->structure);
                if (scalar) X[k] = featurizer.scalar_features(fit_frames[k]->structure);
            }
            std::map<int, std::vector<std::pair<std::size_t, Eigen::Index>>> where;
            for (std::size_t k = 0; k < fit_frames.size(); ++k)
                for (Eigen::Index i = 0; i < A[k].rows(); ++i) where[fit_frames[k]->structure.numbers[i]].emplace_back(k, i);
            std::map<int, RowMatrix> candidates;
            for (const auto& [z, list] : where) {
                RowMatrix& x = candidates[z];
                x.resize(list.size(), featurizer.feature_size());
                for (std::size_t n = 0; n < list.size(); ++n) x.row(n) = A[list[n].first].row(list[n].second);
            }
            const std::map<int, std::vector<int>> picked =
                select_sparse_rows_per_species(candidates, config.sparse_points, config.selection, "dipoles", log);
            for (const auto& [z, rows] : picked) {
                const auto& list = where.at(z);
                for (int n : rows) take(*fit_frames[list[n].first], A[list[n].first], X[list[n].first], list[n].second);
            }
        }
        for (auto& [z, rows] : chosen) {
            DipoleSparseSet set;
            set.species = z;
            set.points.resize(rows.size(), featurizer.feature_size());
            if (scalar) set.scalar_points.resize(rows.size(), featurizer.scalar_feature_size());
            for (std::size_t k = 0; k < rows.size(); ++k) {
                set.points.row(k) = rows[k].first;
                if (scalar) set.scalar_points.row(k) = rows[k].second;
            }
            set.weights = RowMatrix::Zero(rows.size(), 3);
            model.sparse.push_back(std::move(set));
        }
    }
    const double select_seconds = seconds_since(t_select);

    // --- rows and solve
    const auto t_rows = Clock::now();
    const DipoleKernelRows builder(model);
    SparseGprSolver solver(builder.kmm(), config.jitter, config.delta);
    for (const LabelledFrame* f : fit_frames) {
        const Structure& s = f->structure;
        const double sigma = config.sigma * std::sqrt(static_cast<double>(s.size()));
        const RowMatrix A = featurizer.features(s);
        const RowMatrix X = scalar ? featurizer.scalar_features(s) : RowMatrix();
        solver.add_rows(builder.rows(s.numbers, A, X) / sigma, target.at(f) / sigma);
    }
    const Eigen::VectorXd w = solver.solve();
    if (!w.allFinite()) throw std::runtime_error("dipoles: the sparse GPR solution is not finite; increase dipoles.jitter");
    for (std::size_t k = 0; k < model.sparse.size(); ++k)
        for (Eigen::Index j = 0; j < model.sparse[k].points.rows(); ++j)
            for (int b = 0; b < 3; ++b) model.sparse[k].weights(j, b) = w[builder.column_offset(k) + 3 * j + b];
    const double rows_seconds = seconds_since(t_rows);

    // --- errors with the calculator that serves the model
    const DipoleCalculator calc(model, radial);
    for (auto [split, table] : {std::pair{&train, &train_errors}, std::pair{&test, &test_errors}}) {
        const std::vector<const LabelledFrame*>& frames = *split;
        std::vector<Eigen::Vector3d> dipoles(frames.size());
        std::size_t largest = 0;
        for (const LabelledFrame* f : frames) largest = std::max(largest, f->structure.size());
        for_each_frame(
            frames.size(), parallel_over_frames(frames.size(), largest), [] { return DipoleWorkspace(); },
            [&](std::size_t k, DipoleWorkspace& w) {
                if (frames[k]->has_dipole) dipoles[k] = calc.compute(frames[k]->structure, {nullptr, &w}).total;
            });
        for (std::size_t k = 0; k < frames.size(); ++k)
            if (frames[k]->has_dipole) table->add_dipole(*frames[k], target.at(frames[k]), dipoles[k]);
    }

    DipoleFitResult result;
    model.description = "SA-GPR dipoles fitted by gapd fit to " + std::to_string(fit_frames.size()) + " frames";
    nlohmann::json& rep = result.report;
    nlohmann::json sparse = nlohmann::json::object(), charges = nlohmann::json::object();
    for (const auto& set : model.sparse) sparse[chemical_symbol(set.species)] = set.points.rows();
    for (const auto& [z, q] : config.unwrapping.born_charges) charges[chemical_symbol(z)] = q;
    rep["key"] = config.key;
    rep["frames"] = {{"training", fit_frames.size()}, {"held_out", std::count_if(test.begin(), test.end(), [](const LabelledFrame* f) { return f->has_dipole; })}};
    rep["sparse_points"] = sparse;
    rep["selection"] = config.sparse_environments.empty() ? sparse_selection_name(config.selection) : "given";
    rep["kernel"] = config.kernel == DipoleKernel::Linear ? "Linear" : "LinearTimesScalar";
    rep["unwrapping"] = {{"enabled", config.unwrapping.enabled}, {"born_charges_e", charges},
                         {"reference", config.unwrapping.reference_key.empty() ? "perovskite" : config.unwrapping.reference_key},
                         {"labels_moved", shifted}, {"largest_move_eA", largest_shift}};
    rep["regularisation"] = {{"delta_eA", config.delta}, {"sigma_eA_per_atom", config.sigma}, {"jitter", config.jitter}};
    rep["seconds"] = {{"selection", select_seconds}, {"rows_and_solve", rows_seconds}, {"total", seconds_since(t_start)}};
    result.model = std::move(model);
    return result;
}

}  // namespace gapd
