#include "models/fit_sparse_selection.hpp"

#include <algorithm>
#include <limits>

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
