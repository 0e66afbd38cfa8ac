#include "models/fit_sparse_selection.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gapd {

std::vector<int> farthest_point_sampling(const RowMatrix& features, int count) {
    const int n = static_cast<int>(features.rows());
    count = std::min(count, n);
    std::vector<int> chosen;
    if (count <= 0) return chosen;
    const Eigen::VectorXd sq = features.rowwise().squaredNorm();
    Eigen::VectorXd distance = Eigen::VectorXd::Constant(n, std::numeric_limits<double>::infinity());
    int next = 0;
    for (int k = 0; k < count; ++k) {
        chosen.push_back(next);
        // ||f_i - f_next||^2 = |f_i|^2 + |f_next|^2 - 2 f_i . f_next, one GEMV per pick.
        const Eigen::VectorXd dots = features * features.row(next).transpose();
        int best = -1;
        double best_distance = -1.0;
        for (int i = 0; i < n; ++i) {
            distance[i] = std::min(distance[i], std::max(0.0, sq[i] + sq[next] - 2.0 * dots[i]));
            if (distance[i] > best_distance) {
                best_distance = distance[i];
                best = i;
            }
        }
        // Only duplicates of chosen environments left: more points would make K_mm singular.
        if (best_distance <= 1e-14) break;
        next = best;
    }
    return chosen;
}

}  // namespace gapd

namespace gapd {

SparseSelection parse_sparse_selection(const std::string& name) {
    if (name == "fps") return SparseSelection::FarthestPoint;
    if (name == "cur") return SparseSelection::Cur;
    throw std::invalid_argument("must be 'fps' (farthest-point sampling) or 'cur', got '" + name + "'");
}

std::string sparse_selection_name(SparseSelection s) { return s == SparseSelection::Cur ? "cur" : "fps"; }

std::vector<int> cur_selection(const RowMatrix& X, int count) {
    const Eigen::Index n = X.rows(), D = X.cols();
    count = static_cast<int>(std::min<Eigen::Index>(count, std::min(n, D)));
    std::vector<int> chosen;
    if (count <= 0) return chosen;
    Eigen::MatrixXd gram = X.transpose() * X;  // deflated in place: (I - W W^T) X^T X (I - W W^T)
    const double floor = 1e-12 * gram.trace();
    Eigen::MatrixXd picked(D, 0);             // orthonormal directions w of the chosen rows
    Eigen::VectorXd v = Eigen::VectorXd::Constant(D, 1.0 / std::sqrt(static_cast<double>(D)));
    std::vector<char> taken(n, 0);
    for (int k = 0; k < count; ++k) {
        // Top eigenvector of the deflated Gram matrix by power iteration (Rayleigh quotient to 1e-12).
        double lambda = 0.0;
        for (int it = 0; it < 1000; ++it) {
            Eigen::VectorXd next = gram * v;
            const double norm = next.norm();
            if (!(norm > 0)) {
                lambda = 0.0;
                break;
            }
            next /= norm;
            const double change = (next - v).norm();
            v = next;
            lambda = norm;
            if (change < 1e-10) break;
        }
        if (!(lambda > floor)) break;
        // v is orthogonal to the chosen directions, so X v equals the projected matrix times v.
        const Eigen::VectorXd scores = (X * v).cwiseAbs2();
        int best = -1;
        double best_score = -1.0;
        for (Eigen::Index i = 0; i < n; ++i)
            if (!taken[i] && scores[i] > best_score) {
                best_score = scores[i];
                best = static_cast<int>(i);
            }
        if (best < 0) break;
        Eigen::VectorXd w = X.row(best).transpose();
        if (picked.cols()) w -= picked * (picked.transpose() * w);
        const double wn = w.norm();
        if (!(wn * wn > floor)) break;
        w /= wn;
        chosen.push_back(best);
        taken[best] = 1;
        picked.conservativeResize(Eigen::NoChange, picked.cols() + 1);
        picked.col(picked.cols() - 1) = w;
        // gram <- P gram P, P = I - w w^T.
        const Eigen::VectorXd gw = gram * w;
        const double wgw = w.dot(gw);
        gram.noalias() -= w * gw.transpose();
        gram.noalias() -= gw * w.transpose();
        gram.noalias() += (wgw * w) * w.transpose();
        v -= w * w.dot(v);
        if (!(v.norm() > 0)) v = Eigen::VectorXd::Constant(D, 1.0 / std::sqrt(static_cast<double>(D)));
        v.normalize();
    }
    return chosen;
}

std::vector<int> select_sparse_rows(const RowMatrix& features, int count, SparseSelection method) {
    return method == SparseSelection::Cur ? cur_selection(features, count) : farthest_point_sampling(features, count);
}

}  // namespace gapd
