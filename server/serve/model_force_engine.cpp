#include "server/serve/model_force_engine.hpp"

#include <Eigen/LU>

#include <cmath>
#include <stdexcept>

namespace gapd {

ModelForceEngine::ModelForceEngine(const GapCalculator& calculator, std::vector<int> numbers)
    : ModelForceEngine(&calculator, std::move(numbers), std::nullopt) {}

ModelForceEngine::ModelForceEngine(const GapCalculator* gap, std::vector<int> numbers,
                                   std::optional<DipoleServing> dipoles)
    : numbers_(std::move(numbers)),
      selection_(dipoles ? std::optional<ExtrasSelection>(dipoles->selection) : std::nullopt),
      evaluator_(gap, std::move(dipoles)) {}

Structure ModelForceEngine::structure(const Frame& frame) const {
    Structure s;
    s.cell = frame.cell;
    s.pbc = {{true, true, true}};  // i-PI always simulates a periodic cell
    s.positions = frame.positions;
    s.numbers = numbers_;
    return s;
}

ForceResult ModelForceEngine::result(ModelEvaluation evaluation, const Frame& frame) const {
    ForceResult r;
    if (evaluation.gap) {
        r.energy = evaluation.gap->energy;
        r.forces = std::move(evaluation.gap->forces);
        r.virial = evaluation.gap->virial;
    } else {
        r.forces = Matrix3N::Zero(static_cast<Eigen::Index>(numbers_.size()), 3);  // dipole-only mode
    }
    if (evaluation.dipoles) r.extras = dipole_extras(*selection_, *evaluation.dipoles, std::abs(frame.cell.determinant()));
    if (evaluation.novelty) r.extras.add_vector("gap_novelty", ExtraUnit::Dimensionless, evaluation.novelty->transpose());
    return r;
}

ForceResult ModelForceEngine::compute(const Frame& frame) {
    return result(evaluator_.evaluate(structure(frame)), frame);
}

std::vector<ForceResult> ModelForceEngine::compute_batch(const std::vector<Frame>& frames) {
    std::vector<Structure> structures;
    structures.reserve(frames.size());
    for (const Frame& frame : frames) structures.push_back(structure(frame));
    std::vector<ModelEvaluation> evaluations = evaluator_.evaluate_batch(structures);
    std::vector<ForceResult> results;
    results.reserve(frames.size());
    for (std::size_t k = 0; k < frames.size(); ++k) results.push_back(result(std::move(evaluations[k]), frames[k]));
    return results;
}

}  // namespace gapd
