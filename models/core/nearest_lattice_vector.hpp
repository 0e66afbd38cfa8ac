#pragma once
// The lattice point closest to a vector, exact for any (triclinic, skewed) basis.
//
// Rounding fractional coordinates gives the closest lattice point only for orthogonal bases; for a skewed
// cell the closest point can be a neighbouring integer triple (or further away for very skewed cells). The
// search here is exact: with f = x L^-1 the fractional coordinates and d0 the distance to the rounded point,
// every lattice point n L within d0 of x has |n_k - f_k| <= d0 ||column k of L^-1||, and all integer
// triples in that box are tried (ties: the rounded triple, else the first in lexicographic order: deterministic).

#include <Eigen/Core>

namespace gapd {

// n minimising |x - sum_k n_k L.row(k)|; L rows are the lattice vectors (any units, same as x). Throws
// std::invalid_argument for a singular or non-finite basis, std::runtime_error if the search box would
// exceed 10^6 triples (a basis that is degenerate for practical purposes).
Eigen::Vector3i nearest_lattice_vector(const Eigen::Matrix3d& L, const Eigen::Vector3d& x);

}  // namespace gapd
