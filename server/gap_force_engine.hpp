#pragma once
// The bridge between the i-PI protocol (client_protocol/ForceEngine, Å/eV frames) and a GAP calculator:
// attaches the template's species to each frame and returns energy, forces and virial.

#include "client_protocol/force_engine.hpp"
#include "models/gap_calculator.hpp"

#include <vector>

namespace gapd {

class GapForceEngine : public ForceEngine {
public:
    // `numbers`: atomic numbers of the template structure, in i-PI's atom order.
    GapForceEngine(const GapCalculator& calculator, std::vector<int> numbers);

    std::size_t natoms() const override { return numbers_.size(); }
    ForceResult compute(const Frame& frame) override;

private:
    const GapCalculator& calculator_;
    std::vector<int> numbers_;
    GapWorkspace workspace_;  // reused by every request of this connection
};

}  // namespace gapd
