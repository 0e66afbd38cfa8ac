#include "models/descriptors/wigner3j.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gapd {

namespace {

long double factorial(int n) {
    long double f = 1.0L;
    for (int k = 2; k <= n; ++k) f *= k;
    return f;
}

}  // namespace

long double wigner_3j(int j1, int j2, int j3, int m1, int m2, int m3) {
    if (j1 < 0 || j2 < 0 || j3 < 0 || j1 > 40 || j2 > 40 || j3 > 40)
        throw std::invalid_argument("wigner_3j: angular momenta must be in [0, 40]");
    if (m1 + m2 + m3 != 0) return 0.0L;
    if (std::abs(m1) > j1 || std::abs(m2) > j2 || std::abs(m3) > j3) return 0.0L;
    if (j3 < std::abs(j1 - j2) || j3 > j1 + j2) return 0.0L;

    // Racah: (-1)^(j1-j2-m3) sqrt(Delta * prod (j+-m)!) sum_k (-1)^k / [k! (j3-j2+k+m1)! (j3-j1+k-m2)!
    //        (j1+j2-j3-k)! (j1-k-m1)! (j2-k+m2)!], k over the range where every argument is >= 0.
    const long double delta = factorial(j1 + j2 - j3) * factorial(j1 - j2 + j3) * factorial(-j1 + j2 + j3) /
                              factorial(j1 + j2 + j3 + 1);
    const long double moments = factorial(j1 + m1) * factorial(j1 - m1) * factorial(j2 + m2) * factorial(j2 - m2) *
                                factorial(j3 + m3) * factorial(j3 - m3);
    const int k_min = std::max({0, j2 - j3 - m1, j1 - j3 + m2});
    const int k_max = std::min({j1 + j2 - j3, j1 - m1, j2 + m2});
    long double sum = 0.0L;
    for (int k = k_min; k <= k_max; ++k) {
        const long double term = 1.0L / (factorial(k) * factorial(j3 - j2 + k + m1) * factorial(j3 - j1 + k - m2) *
                                         factorial(j1 + j2 - j3 - k) * factorial(j1 - k - m1) * factorial(j2 - k + m2));
        sum += (k % 2 == 0) ? term : -term;
    }
    const int phase = j1 - j2 - m3;
    const long double sign = (((phase % 2) + 2) % 2 == 0) ? 1.0L : -1.0L;
    return sign * std::sqrt(delta * moments) * sum;
}

}  // namespace gapd
