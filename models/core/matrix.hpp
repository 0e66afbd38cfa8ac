#pragma once
// Dense matrix types shared by every layer: row-major so that a row is one centre's (or one frame's) contiguous
// vector, as the kernels, the file formats and the wire all lay them out.

#include <Eigen/Core>

namespace gapd {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace gapd
