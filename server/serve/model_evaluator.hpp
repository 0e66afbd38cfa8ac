#pragma once
// A GAP and/or an SA-GPR dipole model evaluated on structures by one caller (a connection of gapd serve, a thread
// of gapd predict or eval): the calculators' buffers are kept from call to call (nothing large is allocated
// once the first structure of a given size has run), and the two models share one neighbour list when their
// cutoffs are equal. Several structures can be evaluated as one batch (the GAP's kernel GEMMs over all of
// their centres).

#include "models/dipoles/dipole_calculator.hpp"
#include "models/dipoles/dipole_extras.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/gap/gap_novelty.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gapd {

// The dipole model of an evaluation and the quantities asked of it.
struct DipoleServing {
    const DipoleCalculator& calculator;
    ExtrasSelection selection;
    CellDipoleRoles roles;
};

// The models' results for one structure, in model units.
struct ModelEvaluation {
    std::optional<GapPrediction> gap;       // energy, atom energies, forces, virial; empty without a GAP
    std::optional<DipoleResults> dipoles;   // empty without a dipole model
    std::optional<Eigen::VectorXd> novelty; // per atom, if asked for (compute_novelty)
};

class ModelEvaluator {
public:
    // `gap` null: dipoles only. Throws std::invalid_argument with neither model or an empty dipole selection.
    ModelEvaluator(const GapCalculator* gap, std::optional<DipoleServing> dipoles);

    // Also the GAP novelty of every atom (models/gap/gap_novelty.hpp), from the kernel values of the GAP's own
    // evaluation (with the float64 kernel; the float32 one computes the features again). Needs a GAP.
    void compute_novelty(const GapNovelty& novelty);

    // Throws what the calculators throw (unknown species, a bad cell, a failed cell-dipole shell check).
    // By value: serve's per-request structure is moved into the batch of one, not copied.
    ModelEvaluation evaluate(Structure s);
    // The same for several structures, results in order; the GAP evaluates them as one batch
    // (GapCalculator::compute_batch_with_gradients), so they equal evaluate()'s to round-off.
    std::vector<ModelEvaluation> evaluate_batch(const std::vector<Structure>& structures);

    // evaluate_batch(), and if it throws, each structure alone, so that the error names the one at fault:
    // std::runtime_error("<label(k)>: <message>") for the first structure k that fails alone. (A batch that
    // fails only as a whole rethrows its own error.)
    std::vector<ModelEvaluation> evaluate_batch_or_name(const std::vector<Structure>& structures,
                                                        const std::function<std::string(std::size_t)>& label);

private:
    // The dipole model's results on `s`, on `gap_list` if it was built with the same cutoff.
    DipoleResults dipoles(const Structure& s, const NeighbourList* gap_list);

    const GapCalculator* gap_;
    const GapNovelty* novelty_ = nullptr;
    std::optional<DipoleServing> dipoles_;
    GapWorkspace gap_workspace_;
    DipoleWorkspace dipole_workspace_;
};

}  // namespace gapd
