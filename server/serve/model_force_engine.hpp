#pragma once
// The bridge between the i-PI protocol (client_protocol/ForceEngine, Å/eV frames) and gapd's models:
// attaches the template's species to each frame and returns energy, forces and virial of the GAP, and the
// dipole extras (models/dipoles/dipole_extras.hpp) of an SA-GPR model if one is served, in model units, and
// optionally the GAP's per-atom novelty.

#include "client_protocol/force_engine.hpp"
#include "server/serve/model_evaluator.hpp"

#include <optional>
#include <vector>

namespace gapd {

class ModelForceEngine : public ForceEngine {
public:
    // `numbers`: atomic numbers of the template structure, in i-PI's atom order.
    ModelForceEngine(const GapCalculator& calculator, std::vector<int> numbers);
    // `gap` null: dipole-only mode (zero energy, forces and virial; `dipoles` required).
    ModelForceEngine(const GapCalculator* gap, std::vector<int> numbers, std::optional<DipoleServing> dipoles);

    std::size_t natoms() const override { return numbers_.size(); }
    // One neighbour list per structure when the GAP and the dipole model have the same cutoff (else one each;
    // cell dipoles reuse the dipole model's list when it reaches their shells).
    ForceResult compute(const Frame& frame) override;
    // A batched request: the GAP evaluates its structures as one batch (kernel GEMMs over all their centres).
    std::vector<ForceResult> compute_batch(const std::vector<Frame>& frames) override;
    // Also send the per-atom GAP novelty (models/gap/gap_novelty.hpp) as the extras key "gap_novelty": one number
    // per atom, dimensionless. `novelty` outlives the engine; it is only read.
    void send_novelty(const GapNovelty& novelty) { evaluator_.compute_novelty(novelty); }

private:
    Structure structure(const Frame& frame) const;
    ForceResult result(ModelEvaluation evaluation, const Frame& frame) const;

    std::vector<int> numbers_;
    std::optional<ExtrasSelection> selection_;  // the dipole extras sent, if a dipole model is served
    ModelEvaluator evaluator_;                  // reused by every request of this connection
};

}  // namespace gapd
