#include "models/core/nearest_lattice_vector.hpp"

#include <Eigen/LU>
#include <cmath>
#include <stdexcept>

namespace gapd {

Eigen::Vector3i nearest_lattice_vector(const Eigen::Matrix3d& L, const Eigen::Vector3d& x) {
    if (!L.allFinite() || !x.allFinite()) throw std::invalid_argument("nearest lattice vector: non-finite input");
    const double det = L.determinant();
    if (!(std::abs(det) > 1e-12 * L.rowwise().norm().prod()))
        throw std::invalid_argument("nearest lattice vector: singular lattice basis");
    const Eigen::Matrix3d inverse = L.inverse();
    const Eigen::Vector3d f = inverse.transpose() * x;  // x = f^T L  <=>  f = L^-T x
    Eigen::Vector3i best;
    for (int k = 0; k < 3; ++k) best[k] = static_cast<int>(std::lround(f[k]));
    auto distance2 = [&](const Eigen::Vector3i& n) { return (x - L.transpose() * n.cast<double>()).squaredNorm(); };
    double best_d2 = distance2(best);
    // Box of integer triples that can be at least as close as the rounded one.
    const double d0 = std::sqrt(best_d2);
    Eigen::Vector3i lo, hi;
    double count = 1;
    for (int k = 0; k < 3; ++k) {
        const double half = d0 * inverse.col(k).norm() * (1 + 1e-12) + 1e-12;
        lo[k] = static_cast<int>(std::ceil(f[k] - half));
        hi[k] = static_cast<int>(std::floor(f[k] + half));
        count *= std::max(1, hi[k] - lo[k] + 1);
    }
    if (count > 1e6) throw std::runtime_error("nearest lattice vector: basis too skewed (search box > 10^6 points)");
    const Eigen::Vector3i rounded = best;
    for (int a = lo[0]; a <= hi[0]; ++a)
        for (int b = lo[1]; b <= hi[1]; ++b)
            for (int c = lo[2]; c <= hi[2]; ++c) {
                const Eigen::Vector3i n(a, b, c);
                if (n == rounded) continue;
                const double d2 = distance2(n);
                if (d2 < best_d2 * (1 - 1e-14)) {
                    best_d2 = d2;
                    best = n;
                }
            }
    return best;
}

}  // namespace gapd
