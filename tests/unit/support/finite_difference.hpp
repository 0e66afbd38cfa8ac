#pragma once
// The finite-difference derivative the unit tests check analytic derivatives against.

#include "models/core/structure.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace gapd::testing {

// Fourth-order central difference of f at 0 (error O(h^4)): f may return a number or an Eigen vector/matrix
// (the result is evaluated into that type before the temporaries f returned go away).
template <class F>
auto derivative(F f, double h) -> std::decay_t<decltype(f(h))> {
    return (8.0 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12.0 * h);
}

// Largest |F_ia - (-dE/dr_ia)| over atoms 0, stride, 2 stride, ... and the three components, with dE/dr_ia
// from `derivative` (step h, Å) of `energy(Structure)`; `forces` is the analytic N x 3 result for s0.
template <class EnergyOf, class Forces>
double max_force_fd_error(EnergyOf energy, const Structure& s0, const Forces& forces, int stride, double h = 1e-4) {
    double worst = 0.0;
    for (int i = 0; i < static_cast<int>(s0.size()); i += stride)
        for (int a = 0; a < 3; ++a) {
            const double fd = -derivative(
                [&](double step) {
                    Structure s = s0;
                    s.positions(i, a) += step;
                    return energy(s);
                },
                h);
            worst = std::max(worst, std::abs(fd - forces(i, a)));
        }
    return worst;
}

}  // namespace gapd::testing
