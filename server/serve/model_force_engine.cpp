#include "server/serve/model_force_engine.hpp"

#include "models/descriptors/neighbour_list.hpp"

#include <Eigen/LU>

#include <cmath>
#include <stdexcept>

namespace gapd {

ModelForceEngine::ModelForceEngine(const GapCalculator& calculator, std::vector<int> numbers)
    : ModelForceEngine(&calculator, std::move(numbers), std::nullopt) {}

ModelForceEngine::ModelForceEngine(const GapCalculator* gap, std::vector<int> numbers,
                                   std::optional<DipoleServing> dipoles)
    : calculator_(gap), numbers_(std::move(numbers)), dipoles_(std::move(dipoles)) {
    if (!calculator_ && !dipoles_) throw std::invalid_argument("ModelForceEngine: neither a GAP nor a dipole model");
    if (dipoles_ && !dipoles_->selection.any())
        throw std::invalid_argument("ModelForceEngine: a dipole model with no extras selected");
}

ForceResult ModelForceEngine::compute(const Frame& frame) {
    Structure s;
    s.cell = frame.cell;
    s.pbc = {{true, true, true}};  // i-PI always simulates a periodic cell
    s.positions = frame.positions;
    s.numbers = numbers_;
    ForceResult r;
    std::optional<NeighbourList> gap_list;
    if (calculator_) {
        gap_list = build_neighbour_list(s, calculator_->cutoff());
        GapPrediction p = calculator_->compute_with_gradients(s, *gap_list, {nullptr, &gap_workspace_});
        r.energy = p.energy;
        r.forces = std::move(p.forces);
        r.virial = p.virial;
    } else {
        r.forces = Matrix3N::Zero(static_cast<Eigen::Index>(numbers_.size()), 3);  // dipole-only mode
    }
    if (dipoles_) {
        const DipoleCalculator& dipole = dipoles_->calculator;
        // Shared only for equal cutoffs: a longer list would reorder the expansion's sums (see the calculators).
        std::optional<NeighbourList> dipole_list;
        if (!gap_list || dipole.cutoff() != calculator_->cutoff())
            dipole_list = build_neighbour_list(s, dipole.cutoff());
        const NeighbourList& nl = dipole_list ? *dipole_list : *gap_list;
        const DipoleResults d = compute_dipole_results(dipole, s, dipoles_->selection, dipoles_->roles, nl,
                                                       {nullptr, &dipole_workspace_});
        r.extras = dipole_extras(dipoles_->selection, d, std::abs(frame.cell.determinant()));
    }
    return r;
}

}  // namespace gapd
