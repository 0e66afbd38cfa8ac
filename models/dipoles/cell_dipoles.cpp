#include "models/dipoles/cell_dipoles.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace gapd {

namespace {

double largest_shell(const CellDipoleRoles& roles) { return std::max(roles.o_shell, roles.a_shell); }

void check_inputs(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles) {
    if (partial.rows() != static_cast<Eigen::Index>(s.size()))
        throw std::invalid_argument("cell dipoles: need one partial dipole per atom");
    if (!(roles.o_shell > 0) || !(roles.a_shell > 0))
        throw std::invalid_argument("cell dipoles: shell radii must be positive");
}

CellDipoles cell_dipoles_from_list(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles,
                                   const NeighbourList& nl);

}  // namespace

bool cell_dipoles_can_use(double list_cutoff, const CellDipoleRoles& roles) {
    // A margin, so that an image at the shell radius is in the list whatever the rounding of its distance.
    return list_cutoff >= largest_shell(roles) + 1e-6;
}

CellDipoles compute_cell_dipoles(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles) {
    check_inputs(s, partial, roles);
    return cell_dipoles_from_list(s, partial, roles, build_neighbour_list(s, largest_shell(roles)));
}

CellDipoles compute_cell_dipoles(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles,
                                 const NeighbourList& nl, double list_cutoff) {
    check_inputs(s, partial, roles);
    if (!cell_dipoles_can_use(list_cutoff, roles) || nl.offsets.size() != s.size() + 1)
        throw std::invalid_argument("cell dipoles: the neighbour list does not reach the shell radii");
    return cell_dipoles_from_list(s, partial, roles, nl);
}

namespace {

// Only images closer than the shell radii count, so any list that holds them all finds the same images.
CellDipoles cell_dipoles_from_list(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles,
                                   const NeighbourList& nl) {
    const int n = static_cast<int>(s.size());
    CellDipoles out;
    for (int i = 0; i < n; ++i) {
        const int z = s.numbers[i];
        if (z == roles.b_site) {
            out.centres.push_back(i);
        } else if (z != roles.a_site && z != roles.oxygen) {
            std::ostringstream msg;
            msg << "cell dipoles: atom " << i << " has atomic number " << z << ", which is neither the B site ("
                << roles.b_site << "), the A site (" << roles.a_site << ") nor O (" << roles.oxygen << ")";
            throw std::invalid_argument(msg.str());
        }
    }
    if (out.centres.empty()) throw std::invalid_argument("cell dipoles: the structure has no B-site atom");

    std::vector<int> shared(n, 0);  // number of B-site images that claim each O / A-site atom
    out.dipoles = Matrix3N::Zero(out.centres.size(), 3);
    for (std::size_t c = 0; c < out.centres.size(); ++c) {
        const int i = out.centres[c];
        out.dipoles.row(c) = partial.row(i);
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
            const int j = nl.neighbour[e];
            const double r = nl.vectors.row(e).norm();
            double share = 0.0;
            if (s.numbers[j] == roles.oxygen && r < roles.o_shell) share = 0.5;
            if (s.numbers[j] == roles.a_site && r < roles.a_shell) share = 0.125;
            if (share == 0.0) continue;
            out.dipoles.row(c) += share * partial.row(j);
            ++shared[j];
        }
    }
    for (int j = 0; j < n; ++j) {
        const int z = s.numbers[j];
        if (z == roles.b_site) continue;
        const bool oxygen = z == roles.oxygen;
        const int expected = oxygen ? 2 : 8;
        if (shared[j] != expected) {
            std::ostringstream msg;
            msg << "cell dipoles: " << (oxygen ? "O" : "A-site") << " atom " << j << " (Z=" << z << ") is within "
                << (oxygen ? roles.o_shell : roles.a_shell) << " Å of " << shared[j] << " B-site (Z=" << roles.b_site
                << ") images, expected " << expected << "; adjust the shell radii or check the structure";
            throw std::invalid_argument(msg.str());
        }
    }
    return out;
}

}  // namespace

}  // namespace gapd
