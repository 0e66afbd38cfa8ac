#pragma once
// The design matrix of the SA-GPR dipole fit: for weights w (one 3-vector per sparse environment), the total
// dipole the model of models/dipoles/dipole_model.hpp predicts is linear in w,
//   M_a = sum_i sum_{j in set(Z_i)} sum_b K_ab(A_i, J_j) w_jb = sum_{(j,b)} row_a[(j,b)] w_jb,
//   row_a[(j,b)] = sum_{i: Z_i = Z_j} sum_q A_i[3q+a] J_j[3q+b] (x_i . t_j)^(zeta-1)   (factor 1 for Linear)
// (the 3x3 kernel blocks of SA-GPR summed over the atoms of the frame), and the prior uses the 3M x 3M block
// K_mm[(j,b),(k,c)] = K_bc(J_j, J_k). Columns: set k, point j, component b -> column_offset(k) + 3j + b.
// Same kernel as DipoleCalculator evaluates: tested as rows * w == DipoleCalculator's total dipole.

#include "models/dipoles/dipole_model.hpp"

#include <Eigen/Core>
#include <vector>

namespace gapd {

class DipoleKernelRows {
public:
    // Uses the sparse sets' points (and scalar points for LinearTimesScalar); weights are ignored.
    explicit DipoleKernelRows(const DipoleModel& model);

    int columns() const { return columns_; }
    int column_offset(std::size_t k) const { return offsets_[k]; }

    // Block-diagonal K_mm (sets of different species do not interact), columns() x columns().
    Eigen::MatrixXd kmm() const;

    // 3 x columns() rows of one structure from its atomic numbers, normalized lambda=1 features A (N x 3Q) and,
    // for LinearTimesScalar, normalized power spectra X (N x D; ignored otherwise). Atoms of species without a
    // sparse set contribute nothing (as in DipoleCalculator).
    Eigen::Matrix<double, 3, Eigen::Dynamic> rows(const std::vector<int>& numbers, const RowMatrix& A,
                                                  const RowMatrix& X) const;

private:
    const DipoleModel& model_;
    std::vector<int> offsets_;
    int columns_ = 0;
};

}  // namespace gapd
