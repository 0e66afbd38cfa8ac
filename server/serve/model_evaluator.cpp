#include "server/serve/model_evaluator.hpp"

#include "models/descriptors/neighbour_list.hpp"

#include <stdexcept>

namespace gapd {

ModelEvaluator::ModelEvaluator(const GapCalculator* gap, std::optional<DipoleServing> dipoles)
    : gap_(gap), dipoles_(std::move(dipoles)) {
    if (!gap_ && !dipoles_) throw std::invalid_argument("ModelEvaluator: neither a GAP nor a dipole model");
    if (dipoles_ && !dipoles_->selection.any())
        throw std::invalid_argument("ModelEvaluator: a dipole model with no extras selected");
}

DipoleResults ModelEvaluator::dipoles(const Structure& s, const NeighbourList* gap_list) {
    const DipoleCalculator& dipole = dipoles_->calculator;
    const DipoleComputeOptions options{nullptr, &dipole_workspace_};
    // Shared only for equal cutoffs: a longer list would reorder the expansion's sums (see the calculators).
    if (gap_list && dipole.cutoff() == gap_->cutoff())
        return compute_dipole_results(dipole, s, dipoles_->selection, dipoles_->roles, *gap_list, options);
    return compute_dipole_results(dipole, s, dipoles_->selection, dipoles_->roles,
                                  build_neighbour_list(s, dipole.cutoff()), options);
}

void ModelEvaluator::compute_novelty(const GapNovelty& novelty) {
    if (!gap_) throw std::invalid_argument("ModelEvaluator: novelty needs a GAP model");
    novelty_ = &novelty;
}

ModelEvaluation ModelEvaluator::evaluate(Structure s) {
    // The GAP evaluates a single structure as a batch of one, so this equals evaluate_batch exactly.
    std::vector<Structure> one;
    one.push_back(std::move(s));
    return std::move(evaluate_batch(one).front());
}

std::vector<ModelEvaluation> ModelEvaluator::evaluate_batch(const std::vector<Structure>& structures) {
    std::vector<ModelEvaluation> r(structures.size());
    std::vector<NeighbourList> lists;
    if (gap_) {
        lists.reserve(structures.size());
        std::vector<StructureNeighbours> batch;
        for (const Structure& s : structures) {
            lists.push_back(build_neighbour_list(s, gap_->cutoff()));
            batch.push_back({s, lists.back()});
        }
        GapKernelCapture kernel;
        std::vector<GapPrediction> p = gap_->compute_batch_with_gradients(
            batch, {nullptr, &gap_workspace_, novelty_ ? novelty_->capture_target(kernel) : nullptr});
        for (std::size_t k = 0; k < structures.size(); ++k) r[k].gap = std::move(p[k]);
        if (novelty_) {
            std::vector<Eigen::VectorXd> v = novelty_->of_batch(batch, kernel);
            for (std::size_t k = 0; k < structures.size(); ++k) r[k].novelty = std::move(v[k]);
        }
    }
    if (dipoles_)
        for (std::size_t k = 0; k < structures.size(); ++k)
            r[k].dipoles = dipoles(structures[k], gap_ ? &lists[k] : nullptr);
    return r;
}

std::vector<ModelEvaluation> ModelEvaluator::evaluate_batch_or_name(
    const std::vector<Structure>& structures, const std::function<std::string(std::size_t)>& label) {
    try {
        return evaluate_batch(structures);
    } catch (const std::exception&) {
        for (std::size_t k = 0; k < structures.size(); ++k) {
            try {
                evaluate(structures[k]);
            } catch (const std::exception& e) {
                throw std::runtime_error(label(k) + ": " + e.what());
            }
        }
        throw;
    }
}

}  // namespace gapd
