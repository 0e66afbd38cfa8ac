#pragma once
// The bridge between the i-PI protocol (client_protocol/ForceEngine, Å/eV frames) and gapd's models:
// attaches the template's species to each frame and returns energy, forces and virial of the GAP, and the
// dipole extras (models/dipoles/dipole_extras.hpp) of an SA-GPR model if one is served, in model units.

#include "client_protocol/force_engine.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/gap/gap_calculator.hpp"
#include "models/dipoles/dipole_extras.hpp"

#include <optional>
#include <vector>

namespace gapd {

// What a served dipole model sends with every reply.
struct DipoleServing {
    const DipoleCalculator& calculator;
    ExtrasSelection selection;
    CellDipoleRoles roles;
};

class ModelForceEngine : public ForceEngine {
public:
    // `numbers`: atomic numbers of the template structure, in i-PI's atom order.
    ModelForceEngine(const GapCalculator& calculator, std::vector<int> numbers);
    // `gap` null: dipole-only mode (zero energy, forces and virial; `dipoles` required).
    ModelForceEngine(const GapCalculator* gap, std::vector<int> numbers, std::optional<DipoleServing> dipoles);

    std::size_t natoms() const override { return numbers_.size(); }
    // One neighbour list per request when the GAP and the dipole model have the same cutoff (else one each;
    // cell dipoles reuse the dipole model's list when it reaches their shells).
    ForceResult compute(const Frame& frame) override;

private:
    const GapCalculator* calculator_;
    std::vector<int> numbers_;
    std::optional<DipoleServing> dipoles_;
    // Reused by every request of this connection.
    GapWorkspace gap_workspace_;
    DipoleWorkspace dipole_workspace_;
};

}  // namespace gapd
