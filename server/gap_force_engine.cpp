#include "server/gap_force_engine.hpp"

namespace gapd {

GapForceEngine::GapForceEngine(const GapCalculator& calculator, std::vector<int> numbers)
    : calculator_(calculator), numbers_(std::move(numbers)) {}

ForceResult GapForceEngine::compute(const Frame& frame) {
    Structure s;
    s.cell = frame.cell;
    s.pbc = {{true, true, true}};  // i-PI always simulates a periodic cell
    s.positions = frame.positions;
    s.numbers = numbers_;
    GapPrediction p = calculator_.compute(s, /*gradients=*/true, nullptr, &workspace_);
    ForceResult r;
    r.energy = p.energy;
    r.forces = std::move(p.forces);
    r.virial = p.virial;
    // No extras: one space, as i-PI's own Fortran driver sends (i-PI reads blank extras as {}). A JSON "{}"
    // would do for i-PI but crashes ASE 3.22's SocketIOCalculator, which reads >= 2 bytes of extras wrongly.
    r.extras = " ";
    return r;
}

}  // namespace gapd
