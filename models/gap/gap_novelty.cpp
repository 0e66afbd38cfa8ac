#include "models/gap/gap_novelty.hpp"

#include "models/core/integer_power.hpp"
#include "models/descriptors/neighbour_list.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>

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
    return from_features(s, gap_.kernel_features(s));
}

Eigen::VectorXd GapNovelty::per_atom(const Structure& s, const NeighbourList& nl) const {
    return from_features(s, gap_.kernel_features(s, nl));
}

Eigen::VectorXd GapNovelty::from_features(const Structure& s, const RowMatrix& features) const {
    const int zeta = gap_.model().zeta;
    Eigen::VectorXd out = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(s.size()));
    for (const Projector& set : sets_) {
        // The atoms of this species as rows, then K = X T^T and W K^T as GEMMs.
        std::vector<Eigen::Index> atoms;
        for (Eigen::Index i = 0; i < out.size(); ++i)
            if (s.numbers[i] == set.species) atoms.push_back(i);
        if (atoms.empty()) continue;
        RowMatrix X(static_cast<Eigen::Index>(atoms.size()), features.cols());
        for (std::size_t a = 0; a < atoms.size(); ++a) X.row(static_cast<Eigen::Index>(a)) = features.row(atoms[a]);
        RowMatrix K = X * set.points.transpose();
        K = K.unaryExpr([&](double v) { return integer_power(v, zeta); });
        const Eigen::MatrixXd projected = set.whitening * K.transpose();  // r x atoms
        for (std::size_t a = 0; a < atoms.size(); ++a) {
            const double self = integer_power(X.row(static_cast<Eigen::Index>(a)).squaredNorm(), zeta);
            if (!(self > 0.0)) continue;  // a zero feature vector (an isolated atom of a non-normalized model)
            const double explained = projected.col(static_cast<Eigen::Index>(a)).squaredNorm();
            out[atoms[a]] = std::clamp(1.0 - explained / self, 0.0, 1.0);
        }
    }
    return out;
}

}  // namespace gapd
