#include "server/serve/model_force_engine.hpp"

#include <Eigen/LU>

#include <cmath>
#include <stdexcept>

namespace gapd {

GapForceEngine::GapForceEngine(const GapCalculator& calculator, std::vector<int> numbers)
    : GapForceEngine(&calculator, std::move(numbers), std::nullopt) {}

GapForceEngine::GapForceEngine(const GapCalculator* gap, std::vector<int> numbers,
                               std::optional<DipoleServing> dipoles)
    : calculator_(gap), numbers_(std::move(numbers)), dipoles_(std::move(dipoles)) {
    if (!calculator_ && !dipoles_) throw std::invalid_argument("GapForceEngine: neither a GAP nor a dipole model");
    if (dipoles_ && !dipoles_->selection.any())
        throw std::invalid_argument("GapForceEngine: a dipole model with no extras selected");
}

ForceResult GapForceEngine::compute(const Frame& frame) {
    Structure s;
    s.cell = frame.cell;
    s.pbc = {{true, true, true}};  // i-PI always simulates a periodic cell
    s.positions = frame.positions;
    s.numbers = numbers_;
    ForceResult r;
    if (calculator_) {
        GapPrediction p = calculator_->compute(s, /*gradients=*/true, nullptr, &workspace_);
        r.energy = p.energy;
        r.forces = std::move(p.forces);
        r.virial = p.virial;
    } else {
        r.forces = Matrix3N::Zero(static_cast<Eigen::Index>(numbers_.size()), 3);  // dipole-only mode
    }
    if (dipoles_) {
        const DipoleResults d = compute_dipole_results(dipoles_->calculator, s, dipoles_->selection, dipoles_->roles);
        r.extras = dipole_extras_json(dipoles_->selection, d, std::abs(frame.cell.determinant()));
    } else {
        // No extras: one space, as i-PI's own Fortran driver sends (i-PI reads blank extras as {}). A JSON "{}"
        // would do for i-PI but crashes ASE 3.22's SocketIOCalculator, which reads >= 2 bytes of extras wrongly.
        r.extras = " ";
    }
    return r;
}

}  // namespace gapd
