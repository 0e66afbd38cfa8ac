#include "models/gap/gap_novelty.hpp"

#include "models/core/integer_power.hpp"
#include "models/descriptors/neighbour_list.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gapd {

GapNovelty::GapNovelty(const GapCalculator& gap) : gap_(gap) {
    const GapModel& model = gap.model();
    for (std::size_t k = 0; k < model.sparse.size(); ++k) {
        Projector p;
        p.species = model.sparse[k].species;
        p.points = gap.kernel_sparse_points(k);
        Eigen::MatrixXd K = p.points * p.points.transpose();
        K = K.unaryExpr([&](double v) { return integer_power(v, model.zeta); });
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(K);
        const Eigen::VectorXd& lambda = eig.eigenvalues();  // ascending
        const double floor = kRelativeEigenvalueFloor * std::max(lambda.maxCoeff(), 0.0);
        std::vector<Eigen::Index> kept;
        for (Eigen::Index i = 0; i < lambda.size(); ++i)
            if (lambda[i] > floor) kept.push_back(i);
        p.whitening.resize(static_cast<Eigen::Index>(kept.size()), K.rows());
        for (std::size_t r = 0; r < kept.size(); ++r)
            p.whitening.row(static_cast<Eigen::Index>(r)) =
                eig.eigenvectors().col(kept[r]).transpose() / std::sqrt(lambda[kept[r]]);
        sets_.push_back(std::move(p));
    }
}

Eigen::VectorXd GapNovelty::per_atom(const Structure& s) const {
    return from_capture(capture_from_features(s, gap_.kernel_features(s)));
}

Eigen::VectorXd GapNovelty::per_atom(const Structure& s, const NeighbourList& nl) const {
    return from_capture(capture_from_features(s, gap_.kernel_features(s, nl)));
}

GapKernelCapture GapNovelty::capture_from_features(const Structure& s, const RowMatrix& features) const {
    // What a compute call captures, computed from the features: x_i . t_m per set, x_i . x_i per atom.
    GapKernelCapture c;
    const auto n = static_cast<Eigen::Index>(s.size());
    c.set.assign(s.size(), -1);
    c.row.assign(s.size(), -1);
    c.self = features.rowwise().squaredNorm();
    for (std::size_t k = 0; k < sets_.size(); ++k) {
        std::vector<Eigen::Index> atoms;
        for (Eigen::Index i = 0; i < n; ++i)
            if (s.numbers[i] == sets_[k].species) {
                c.set[i] = static_cast<int>(k);
                c.row[i] = static_cast<int>(atoms.size());
                atoms.push_back(i);
            }
        RowMatrix X(static_cast<Eigen::Index>(atoms.size()), features.cols());
        for (std::size_t a = 0; a < atoms.size(); ++a) X.row(static_cast<Eigen::Index>(a)) = features.row(atoms[a]);
        c.kernel.push_back(X * sets_[k].points.transpose());
    }
    return c;
}

Eigen::VectorXd GapNovelty::from_capture(const GapKernelCapture& c) const {
    const int zeta = gap_.model().zeta;
    const auto n = static_cast<Eigen::Index>(c.set.size());
    if (c.kernel.size() != sets_.size() || c.row.size() != c.set.size() || c.self.size() != n)
        throw std::invalid_argument("GAP novelty: the kernel capture is not this model's");
    // Per set, the whitened kernel rows W k(x)^T as one GEMM: r x (centres of that species).
    std::vector<Eigen::MatrixXd> projected(sets_.size());
    for (std::size_t k = 0; k < sets_.size(); ++k) {
        const RowMatrix K = c.kernel[k].unaryExpr([&](double v) { return integer_power(v, zeta); });
        projected[k] = sets_[k].whitening * K.transpose();
    }
    Eigen::VectorXd out = Eigen::VectorXd::Ones(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        if (c.set[i] < 0) continue;
        const double self = integer_power(c.self[i], zeta);
        if (!(self > 0.0)) continue;  // a zero feature vector (an isolated atom of a non-normalized model)
        const double explained = projected[static_cast<std::size_t>(c.set[i])].col(c.row[i]).squaredNorm();
        out[i] = std::clamp(1.0 - explained / self, 0.0, 1.0);
    }
    return out;
}

GapKernelCapture* GapNovelty::capture_target(GapKernelCapture& kernel) const {
    return captures_kernel() ? &kernel : nullptr;
}

std::vector<Eigen::VectorXd> GapNovelty::of_batch(const std::vector<StructureNeighbours>& batch,
                                                  const GapKernelCapture& kernel) const {
    std::vector<Eigen::VectorXd> out;
    if (!captures_kernel()) {
        for (const StructureNeighbours& b : batch) out.push_back(per_atom(b.structure, b.neighbours));
        return out;
    }
    // The batch's atoms are numbered structure after structure.
    const Eigen::VectorXd all = from_capture(kernel);
    Eigen::Index first = 0;
    for (const StructureNeighbours& b : batch) {
        const auto n = static_cast<Eigen::Index>(b.structure.size());
        out.push_back(all.segment(first, n));
        first += n;
    }
    return out;
}

}  // namespace gapd
