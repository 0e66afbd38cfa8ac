#pragma once
// Reusable chunk buffers: a matrix grown to at least `rows` rows of `cols` columns and never shrunk, of which
// callers use topRows() / middleRows(), so that calls after the first of a given size allocate nothing.

#include <Eigen/Core>

#include <algorithm>

namespace gapd {

template <class Matrix>
void reserve_rows(Matrix& m, Eigen::Index rows, Eigen::Index cols) {
    if (m.rows() < rows || m.cols() != cols) m.resize(std::max(rows, m.cols() == cols ? m.rows() : 0), cols);
}

}  // namespace gapd
