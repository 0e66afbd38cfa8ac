#pragma once
// An atomic structure as the models see it: Å, rows of `cell` are lattice vectors (ASE convention).
// i-PI's columns-in-Bohr convention is converted in exactly one place: client_protocol/frame_conversion.hpp.

#include <Eigen/Core>
#include <array>
#include <string>
#include <vector>

namespace gapd {

// N x 3, row-major so that positions.data() is the xyz-interleaved array of the wire and of extxyz.
using Matrix3N = Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>;

struct Structure {
    Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();  // row k = lattice vector k, Å
    std::array<bool, 3> pbc{{true, true, true}};     // periodic along lattice vector k
    Matrix3N positions;                              // Å, not necessarily wrapped into the cell
    std::vector<int> numbers;                        // atomic numbers, same order as positions

    std::size_t size() const { return numbers.size(); }
    bool any_periodic() const { return pbc[0] || pbc[1] || pbc[2]; }
};

}  // namespace gapd
