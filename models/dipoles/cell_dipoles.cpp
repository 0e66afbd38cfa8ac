#include "models/dipoles/cell_dipoles.hpp"

#include "models/descriptors/neighbour_list.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace gapd {

CellDipoles compute_cell_dipoles(const Structure& s, const Matrix3N& partial, const CellDipoleRoles& roles) {
    const int n = static_cast<int>(s.size());
    if (partial.rows() != n) throw std::invalid_argument("cell dipoles: need one partial dipole per atom");
    if (!(roles.o_shell > 0) || !(roles.a_shell > 0))
        throw std::invalid_argument("cell dipoles: shell radii must be positive");
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

    const NeighbourList nl = build_neighbour_list(s, std::max(roles.o_shell, roles.a_shell));
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

}  // namespace gapd
