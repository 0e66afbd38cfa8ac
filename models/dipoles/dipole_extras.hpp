#pragma once
// Dipole quantities of an SA-GPR model for one structure, and the JSON extras string i-PI receives with them
// (docs/dipoles.md, "Serving dipoles"). The set of quantities is chosen once (flags / YAML) and fixed for the
// life of the daemon: i-PI aborts if a key it saves disappears from one reply.

#include "models/dipoles/cell_dipoles.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/core/structure.hpp"

#include <optional>
#include <string>
#include <vector>

namespace gapd {

// Which quantities are computed and sent. Names are the JSON keys.
struct ExtrasSelection {
    bool dipole = false;           // "dipole": M, e·Bohr
    bool polarization = false;     // "polarization": M / V, e/Bohr^2
    bool partial_dipoles = false;  // "partial_dipoles": mu_i, N x 3, e·Bohr
    bool cell_dipoles = false;     // "cell_dipoles": one row per B-site atom (ascending index), e·Bohr
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
DipoleResults compute_dipole_results(const DipoleCalculator& calculator, const Structure& s,
                                     const ExtrasSelection& selection, const CellDipoleRoles& roles,
                                     DipolePhaseTimes* times = nullptr);

// The extras JSON object in i-PI's atomic units; `volume` in Å^3 (used only for "polarization", which must be
// positive then). Numbers in shortest round-trip form. Throws std::runtime_error naming the key if a value is
// not finite (JSON has no NaN; i-PI would choke or integrate garbage).
std::string dipole_extras_json(const ExtrasSelection& selection, const DipoleResults& results, double volume);

// Species of `numbers` the dipole model cannot handle, and, if cell dipoles are selected, atoms that are
// none of the three roles: checked at start-up against the template. Throws std::invalid_argument.
void check_dipole_template(const DipoleCalculator& calculator, const std::vector<int>& numbers,
                           const ExtrasSelection& selection, const CellDipoleRoles& roles,
                           const std::string& template_path);

}  // namespace gapd
