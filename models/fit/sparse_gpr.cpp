#include "models/fit/sparse_gpr.hpp"

#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <algorithm>
#include <stdexcept>

namespace gapd {

SparseGprSolver::SparseGprSolver(const Eigen::MatrixXd& kmm, double jitter, double delta)
    : m_(static_cast<int>(kmm.rows())) {
    if (kmm.cols() != m_) throw std::invalid_argument("sparse GPR: K_mm must be square");
    if (!(delta > 0)) throw std::invalid_argument("sparse GPR: delta must be positive");
    Eigen::MatrixXd shifted = kmm;
    shifted.diagonal().array() += jitter;
    Eigen::LLT<Eigen::MatrixXd> llt(shifted);
    if (llt.info() != Eigen::Success)
        throw std::runtime_error("sparse GPR: K_mm + jitter is not positive definite (duplicate sparse points?); "
                                 "increase gap.jitter");
    r_ = Eigen::MatrixXd::Zero(m_ + 1, m_ + 1);
    r_.topLeftCorner(m_, m_) = llt.matrixU();
    r_.topLeftCorner(m_, m_) /= delta;
    buffer_.resize(std::max(2 * (m_ + 1), 256), m_ + 1);
}

void SparseGprSolver::add_rows(const Eigen::Ref<const Eigen::MatrixXd>& A, const Eigen::Ref<const Eigen::VectorXd>& b) {
    if (A.cols() != m_ || A.rows() != b.size()) throw std::invalid_argument("sparse GPR: row block of the wrong shape");
    for (Eigen::Index start = 0; start < A.rows();) {
        const Eigen::Index n = std::min<Eigen::Index>(A.rows() - start, buffer_.rows() - pending_);
        buffer_.block(pending_, 0, n, m_) = A.middleRows(start, n);
        buffer_.block(pending_, m_, n, 1) = b.segment(start, n);
        pending_ += static_cast<int>(n);
        start += n;
        if (pending_ == buffer_.rows()) flush();
    }
    rows_ += A.rows();
}

void SparseGprSolver::flush() {
    if (pending_ == 0) return;
    Eigen::MatrixXd stacked(m_ + 1 + pending_, m_ + 1);
    stacked.topRows(m_ + 1) = r_;
    stacked.bottomRows(pending_) = buffer_.topRows(pending_);
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(stacked);
    r_ = qr.matrixQR().topRows(m_ + 1).triangularView<Eigen::Upper>();
    pending_ = 0;
}

Eigen::VectorXd SparseGprSolver::solve() {
    flush();
    return r_.topLeftCorner(m_, m_).triangularView<Eigen::Upper>().solve(r_.col(m_).head(m_));
}

}  // namespace gapd
