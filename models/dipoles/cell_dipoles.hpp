#pragma once
// Ti-centred unit-cell dipoles of an ABO3 perovskite from partial (atomic) dipoles:
//
//   d_B = mu_B + 1/2 sum_{O images within o_shell of B} mu_O + 1/8 sum_{A images within a_shell of B} mu_A
//
// Periodic images count with multiplicity (in a 5-atom cell the B-site sees two images of each O and eight
// of the A-site, so its cell dipole is the total dipole). Every O must be shared by exactly two B-site images
// and every A-site atom by eight; then the cell dipoles sum to M.

#include "models/dipoles/dipole_model.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/core/structure.hpp"

#include <vector>

namespace gapd {

struct CellDipoles {
    std::vector<int> centres;  // indices of the B-site atoms, ascending
    Matrix3N dipoles;          // one row per centre, e Å
};

// Throws std::invalid_argument if partial_dipoles is not N x 3, a shell radius is not positive, an atom is
// none of the three roles, there is no B-site atom, or an O / A-site atom is not shared by exactly 2 / 8
// B-site images (the message names the atom and the count).
CellDipoles compute_cell_dipoles(const Structure& s, const Matrix3N& partial_dipoles, const CellDipoleRoles& roles);

// The same on a neighbour list of `s` the caller already has (e.g. the dipole model's), built with
// `list_cutoff`; a list shorter than the shells (see cell_dipoles_can_use) is refused with std::invalid_argument.
// The images within the shells are the same, only their summation order may differ (in the last bits).
CellDipoles compute_cell_dipoles(const Structure& s, const Matrix3N& partial_dipoles, const CellDipoleRoles& roles,
                                 const NeighbourList& nl, double list_cutoff);

// Whether a neighbour list built with `list_cutoff` holds every image within the roles' shells.
bool cell_dipoles_can_use(double list_cutoff, const CellDipoleRoles& roles);

}  // namespace gapd
