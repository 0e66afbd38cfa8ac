#pragma once
// Structures derived from a fixture for the derivative tests: homogeneous strain and a small triclinic cell.

#include "models/core/structure.hpp"

#include <Eigen/Dense>
#include <vector>

namespace gapd::testing {

// Applies the deformation (1 + eps) to cell and positions (rows are vectors: r -> r (1 + eps)^T).
inline Structure strained(Structure s, const Eigen::Matrix3d& eps) {
    const Eigen::Matrix3d F = Eigen::Matrix3d::Identity() + eps;
    s.cell = s.cell * F.transpose();
    s.positions = s.positions * F.transpose();
    return s;
}

// The 5-atom cubic fixture `cubic` in a triclinic cell whose lattice vectors are all much shorter than the
// cutoff (same fractional coordinates).
inline Structure skewed_small_cell(Structure s) {
    Eigen::Matrix3d cell;
    cell << 3.9, 0.0, 0.0, 0.6, 4.1, 0.0, -0.4, 0.5, 3.8;
    s.positions = s.positions * (s.cell.inverse() * cell);
    s.cell = cell;
    return s;
}

// Atom i of the result is atom order[i] of s (positions and species; cell unchanged).
inline Structure permuted(const Structure& s, const std::vector<int>& order) {
    Structure out = s;
    for (std::size_t i = 0; i < order.size(); ++i) {
        out.positions.row(i) = s.positions.row(order[i]);
        out.numbers[i] = s.numbers[order[i]];
    }
    return out;
}

}  // namespace gapd::testing
