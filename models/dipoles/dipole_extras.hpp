#pragma once
// Dipole quantities of an SA-GPR model for one structure, and the extras i-PI receives with them, in model units
// (docs/dipoles.md, "Serving dipoles"; the i-PI client converts them to atomic units). The set of quantities is
// chosen once (flags / YAML) and fixed for the life of the daemon: i-PI aborts if a key it saves disappears
// from one reply.

#include "models/dipoles/cell_dipoles.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/core/extras.hpp"
#include "models/core/structure.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gapd {

// Which quantities are computed and sent. Names are the extras' keys; units as the model gives them (on the
// wire: e·Bohr, e/Bohr^2 and e).
struct ExtrasSelection {
    bool dipole = false;           // "dipole": M, e·Å
    bool polarization = false;     // "polarization": M / V, e/Å^2
    bool partial_dipoles = false;  // "partial_dipoles": mu_i, N x 3, e·Å
    bool cell_dipoles = false;     // "cell_dipoles": one row per B-site atom (ascending index), e·Å
    bool bec = false;              // "BEC": 3N x 3, BEC[3i+b][a] = dM_a/dr_{i,b}, e

    bool any() const { return dipole || polarization || partial_dipoles || cell_dipoles || bec; }
};

// "dipole,BEC,cell_dipoles" -> selection. Throws std::invalid_argument naming an unknown or repeated key, or
// for an empty list.
ExtrasSelection parse_extras_selection(const std::string& list);
std::string extras_selection_names(const ExtrasSelection& selection);  // "dipole,BEC", in key order

// Everything the selection asks for, in model units (e Å, e).
struct DipoleResults {
    DipolePrediction prediction;      // born_charges filled only if selection.bec
    std::optional<CellDipoles> cells;  // only if selection.cell_dipoles
};

// Throws std::invalid_argument (unknown species, cell-dipole shell check failed: the message names the atom).
// Born charges only if selection.bec.
DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     const DipoleComputeOptions& options = {});
// The same on the caller's neighbour list of `s`, built with build_neighbour_list(s, calculator.cutoff()); the
// cell dipoles use it too when it reaches their shells (else they build their own).
DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     const NeighbourList& nl, const DipoleComputeOptions& options = {});

// The selected quantities as extras in model units, in key order dipole, polarization, partial_dipoles,
// cell_dipoles, BEC; `volume` in Å^3 (used only for "polarization", which must be positive then: throws
// std::runtime_error otherwise).
Extras dipole_extras(const ExtrasSelection& selection, const DipoleResults& results, double volume);

// Species of `numbers` the dipole model cannot handle, and, if cell dipoles are selected, atoms that are
// none of the three roles: checked at start-up against the template. Throws std::invalid_argument.
void check_dipole_template(const DipoleCalculator& calculator, const std::vector<int>& numbers,
                           const ExtrasSelection& selection, const CellDipoleRoles& roles,
                           const std::string& template_path);

}  // namespace gapd
