#pragma once
// From the gradient of a scalar Q with respect to every neighbour vector r_ij = r_j - r_i (one 3-vector per
// neighbour-list entry) to dQ/dr_k of every atom and dQ/d(strain): the one scatter used by the GAP energy
// (forces = -dE/dr, virial = -dE/d(strain)), each dipole component (Born charges, dM/d(strain)) and the fit's
// kernel rows. Serial and in neighbour-list order, so results do not depend on the thread count.
//
//   dQ/dr_j += g_ij,  dQ/dr_i -= g_ij,  dQ/d(eps_bc) += g_b r_c   (for r -> (1 + eps) r)

#include "models/descriptors/neighbour_list.hpp"

#include <Eigen/Core>

namespace gapd {

// `atom_gradient(k, b)` returns a reference to dQ/dr_{k,b} (any layout: a force matrix, one column of the Born
// charges, a kernel-row block); `strain` accumulates dQ/d(eps).
template <class AtomGradient>
void scatter_pair_gradients(const NeighbourList& nl, const double* pair_gradients, AtomGradient&& atom_gradient,
                            Eigen::Matrix3d& strain) {
    const std::size_t n_centres = nl.offsets.empty() ? 0 : nl.offsets.size() - 1;
    for (std::size_t i = 0; i < n_centres; ++i) {
        for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
            const double* g = pair_gradients + 3 * e;
            const double* r = nl.vectors.data() + 3 * e;
            const int j = nl.neighbour[e];
            for (int b = 0; b < 3; ++b) {
                atom_gradient(j, b) += g[b];
                atom_gradient(static_cast<int>(i), b) -= g[b];
                for (int c = 0; c < 3; ++c) strain(b, c) += g[b] * r[c];
            }
        }
    }
}

}  // namespace gapd
