#pragma once
// Sparse GPR (subset of regressors / projected process) solved by a streaming QR factorisation:
//   minimise || Sigma^(-1/2) (y - K_nm w) ||^2 + delta^(-2) w^T K_mm w
// = least squares on the stacked system [Sigma^(-1/2) K_nm ; R_mm / delta] w = [Sigma^(-1/2) y ; 0],
// with K_mm + jitter I = R_mm^T R_mm (Cholesky). QR of the stacked system rather than the normal equations
// because forming K_nm^T K_nm squares the condition number: with meV energy sigmas next to 0.05 eV/Å force
// sigmas and a 1e-8 jitter, the normal equations lose most of their digits; the QR keeps the accuracy of
// the data (needed to recover a model from its own exact labels).
//
// Rows arrive already scaled by Sigma^(-1/2), in blocks; they are buffered and folded into the
// (M+1) x (M+1) triangular factor R of [A | b] with one Householder QR of [R ; buffer] per ~2M rows, so
// memory stays O(M^2) whatever the number of rows.

#include <Eigen/Core>

namespace gapd {

class SparseGprSolver {
public:
    // Throws std::runtime_error if K_mm + jitter I is not positive definite (increase the jitter).
    SparseGprSolver(const Eigen::MatrixXd& kmm, double jitter, double delta);

    // Appends rows A (scaled) and targets b (scaled); A.cols() == M.
    void add_rows(const Eigen::Ref<const Eigen::MatrixXd>& A, const Eigen::Ref<const Eigen::VectorXd>& b);

    // Weights from all rows so far (the solver can keep receiving rows afterwards).
    Eigen::VectorXd solve();

    long rows() const { return rows_; }

private:
    void flush();

    int m_;
    Eigen::MatrixXd r_;       // (M+1) x (M+1) upper triangular factor of the rows seen so far
    Eigen::MatrixXd buffer_;  // pending rows [A | b]
    int pending_ = 0;
    long rows_ = 0;
};

}  // namespace gapd
