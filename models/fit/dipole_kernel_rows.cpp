#include "models/fit/dipole_kernel_rows.hpp"

#include "models/core/integer_power.hpp"
#include "models/dipoles/dipole_calculator.hpp"

namespace gapd {

namespace {

// (x_i . t_j)^(zeta-1) for all pairs; X: B x D, T: M x D.
RowMatrix scalar_factor(const RowMatrix& X, const RowMatrix& T, int zeta) {
    RowMatrix K = X * T.transpose();
    return K.unaryExpr([zeta](double v) { return integer_power(v, zeta - 1); });
}

}  // namespace

DipoleKernelRows::DipoleKernelRows(const DipoleModel& model) : model_(model) {
    for (const DipoleSparseSet& set : model_.sparse) {
        offsets_.push_back(columns_);
        columns_ += 3 * static_cast<int>(set.points.rows());
    }
}

Eigen::MatrixXd DipoleKernelRows::kmm() const {
    Eigen::MatrixXd K = Eigen::MatrixXd::Zero(columns_, columns_);
    const bool scalar = model_.kernel == DipoleKernel::LinearTimesScalar;
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const DipoleSparseSet& set = model_.sparse[k];
        const Eigen::Index M = set.points.rows();
        RowMatrix S;
        if (scalar) S = scalar_factor(set.scalar_points, set.scalar_points, model_.zeta);
        for (int b = 0; b < 3; ++b)
            for (int c = 0; c < 3; ++c) {
                RowMatrix block = triplet_component(set.points, b) * triplet_component(set.points, c).transpose();
                if (scalar) block = block.cwiseProduct(S);
                for (Eigen::Index j = 0; j < M; ++j)
                    for (Eigen::Index l = 0; l < M; ++l) K(offsets_[k] + 3 * j + b, offsets_[k] + 3 * l + c) = block(j, l);
            }
    }
    return K;
}

Eigen::Matrix<double, 3, Eigen::Dynamic> DipoleKernelRows::rows(const std::vector<int>& numbers, const RowMatrix& A,
                                                                const RowMatrix& X) const {
    Eigen::Matrix<double, 3, Eigen::Dynamic> out = Eigen::Matrix<double, 3, Eigen::Dynamic>::Zero(3, columns_);
    const bool scalar = model_.kernel == DipoleKernel::LinearTimesScalar;
    for (std::size_t k = 0; k < model_.sparse.size(); ++k) {
        const DipoleSparseSet& set = model_.sparse[k];
        std::vector<Eigen::Index> atoms;
        for (std::size_t i = 0; i < numbers.size(); ++i)
            if (numbers[i] == set.species) atoms.push_back(static_cast<Eigen::Index>(i));
        if (atoms.empty()) continue;
        // Linear: the kernel is linear in A_i, so the atoms' features are summed first.
        RowMatrix As(scalar ? atoms.size() : 1, A.cols());
        if (scalar) {
            for (std::size_t n = 0; n < atoms.size(); ++n) As.row(n) = A.row(atoms[n]);
        } else {
            As.setZero();
            for (Eigen::Index i : atoms) As.row(0) += A.row(i);
        }
        RowMatrix S;
        if (scalar) {
            RowMatrix Xs(atoms.size(), X.cols());
            for (std::size_t n = 0; n < atoms.size(); ++n) Xs.row(n) = X.row(atoms[n]);
            S = scalar_factor(Xs, set.scalar_points, model_.zeta);
        }
        const Eigen::Index M = set.points.rows();
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b) {
                RowMatrix P = triplet_component(As, a) * triplet_component(set.points, b).transpose();  // atoms x M
                if (scalar) P = P.cwiseProduct(S);
                const Eigen::RowVectorXd summed = P.colwise().sum();
                for (Eigen::Index j = 0; j < M; ++j) out(a, offsets_[k] + 3 * j + b) = summed[j];
            }
    }
    return out;
}

}  // namespace gapd
