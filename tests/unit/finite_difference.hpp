#pragma once
// The finite-difference derivative the unit tests check analytic derivatives against.

#include <type_traits>

namespace gapd::testing {

// Fourth-order central difference of f at 0 (error O(h^4)): f may return a number or an Eigen vector/matrix
// (the result is evaluated into that type before the temporaries f returned go away).
template <class F>
auto derivative(F f, double h) -> std::decay_t<decltype(f(h))> {
    return (8.0 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12.0 * h);
}

}  // namespace gapd::testing
