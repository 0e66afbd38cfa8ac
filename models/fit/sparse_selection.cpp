#include "models/fit/sparse_selection.hpp"

#include "models/core/elements.hpp"

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

namespace {

// Top eigenvector of the symmetric PSD matrix G by power iteration from v (updated in place); returns the
// eigenvalue estimate (0 if G v = 0). Stops when v changes by < 1e-8 or after 300 steps: the selection only needs
// the argmax of the scores, and a fixed rule keeps it deterministic.
double top_eigenvector(const Eigen::MatrixXd& G, Eigen::VectorXd& v) {
    double lambda = 0.0;
    for (int it = 0; it < 300; ++it) {
        Eigen::VectorXd next = G * v;
        const double norm = next.norm();
        if (!(norm > 0)) return 0.0;
        next /= norm;
        const double change = (next - v).norm();
        v = std::move(next);
        lambda = norm;
        if (change < 1e-8) break;
    }
    return lambda;
}

int best_untaken(const Eigen::VectorXd& scores, const std::vector<char>& taken) {
    int best = -1;
    double best_score = -1.0;
    for (Eigen::Index i = 0; i < scores.size(); ++i)
        if (!taken[i] && scores[i] > best_score) {
            best_score = scores[i];
            best = static_cast<int>(i);
        }
    return best;
}

}  // namespace

std::vector<int> cur_selection(const RowMatrix& X, int count) {
    const Eigen::Index n = X.rows(), D = X.cols();
    count = static_cast<int>(std::min<Eigen::Index>(count, std::min(n, D)));
    std::vector<int> chosen;
    if (count <= 0) return chosen;
    std::vector<char> taken(n, 0);
    if (n <= D) {
        // Left Gram G = X' X'^T (n x n) of the projected matrix X': its top eigenvector u gives the scores
        // u_i^2 = (x'_i . v)^2 / sigma^2, and projecting out row p is G <- G - g g^T, g = G[:, p] / sqrt(G_pp).
        Eigen::MatrixXd G = X * X.transpose();
        const double floor = 1e-12 * G.trace();
        Eigen::VectorXd u = Eigen::VectorXd::Constant(n, 1.0 / std::sqrt(static_cast<double>(n)));
        for (int k = 0; k < count; ++k) {
            if (!(top_eigenvector(G, u) > floor)) break;
            const int p = best_untaken(u.cwiseAbs2(), taken);
            if (p < 0 || !(G(p, p) > floor)) break;
            chosen.push_back(p);
            taken[p] = 1;
            const Eigen::VectorXd g = G.col(p) / std::sqrt(G(p, p));
            G.noalias() -= g * g.transpose();
            u -= g * (g.dot(u) / g.squaredNorm());
            if (!(u.norm() > 0)) u = Eigen::VectorXd::Constant(n, 1.0);
            u.normalize();
        }
        return chosen;
    }
    // Right Gram G = X'^T X' (D x D), deflated in place; v is orthogonal to the chosen directions W, so
    // X' v = X v and the scores need no projected copy of X.
    Eigen::MatrixXd gram = X.transpose() * X;
    const double floor = 1e-12 * gram.trace();
    Eigen::MatrixXd picked(D, 0);
    Eigen::VectorXd v = Eigen::VectorXd::Constant(D, 1.0 / std::sqrt(static_cast<double>(D)));
    for (int k = 0; k < count; ++k) {
        if (!(top_eigenvector(gram, v) > floor)) break;
        const int best = best_untaken((X * v).cwiseAbs2(), taken);
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
        if (!(v.norm() > 0)) v = Eigen::VectorXd::Constant(D, 1.0);
        v.normalize();
    }
    return chosen;
}

std::vector<int> select_sparse_rows(const RowMatrix& features, int count, SparseSelection method) {
    return method == SparseSelection::Cur ? cur_selection(features, count) : farthest_point_sampling(features, count);
}

std::map<int, std::vector<int>> select_sparse_rows_per_species(const std::map<int, RowMatrix>& candidates,
                                                               const std::map<int, int>& counts,
                                                               SparseSelection method, const std::string& key,
                                                               std::ostream& log) {
    std::map<int, std::vector<int>> picked;
    for (const auto& [z, x] : candidates) {
        const auto want = counts.find(z);
        if (want == counts.end())
            throw std::runtime_error(key + ".sparse_points: no count for " + chemical_symbol(z) + ", present in the data");
        std::vector<int>& rows = picked[z];
        rows = select_sparse_rows(x, want->second, method);
        if (static_cast<int>(rows.size()) < want->second)
            log << "gapd fit: warning: " << key << ": " << chemical_symbol(z) << ": " << rows.size()
                << " sparse points instead of " << want->second << " (" << x.rows() << " training environments"
                << (static_cast<Eigen::Index>(rows.size()) < x.rows() ? ", the others add nothing new" : "") << ")\n";
    }
    return picked;
}

}  // namespace gapd
