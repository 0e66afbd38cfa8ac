#pragma once
// Compile-time lengths for the short loops over the radial index n (nmax values): with a constant trip count
// the compiler unrolls and vectorises them. Used by the expansion and the power spectrum.

#include <Eigen/Core>
#include <type_traits>

namespace gapd {

constexpr int kMaxRadial = 32;  // bound for the small stack arrays indexed by n (hypers are checked against it)

// Runs f with std::integral_constant<int, N> for the common nmax values, and with 0 = "use the runtime n"
// otherwise.
template <class F>
void dispatch_radial(int n, F&& f) {
    switch (n) {
        case 4: f(std::integral_constant<int, 4>{}); break;
        case 6: f(std::integral_constant<int, 6>{}); break;
        case 8: f(std::integral_constant<int, 8>{}); break;
        case 10: f(std::integral_constant<int, 10>{}); break;
        case 12: f(std::integral_constant<int, 12>{}); break;
        default: f(std::integral_constant<int, 0>{}); break;
    }
}

// Length-n vectors and n x n matrices for those loops, with explicit SIMD (Eigen): fixed-size for NT > 0,
// dynamic (bounded by kMaxRadial, still on the stack) for NT = 0.
template <int NT>
using RadialVector = Eigen::Matrix<double, NT ? NT : Eigen::Dynamic, 1, 0, NT ? NT : kMaxRadial, 1>;
template <int NT>
using RadialSquare = Eigen::Matrix<double, NT ? NT : Eigen::Dynamic, NT ? NT : Eigen::Dynamic, Eigen::RowMajor,
                                   NT ? NT : kMaxRadial, NT ? NT : kMaxRadial>;
// A length-n row of a coefficient array (unaligned).
template <int NT>
using RadialRow = Eigen::Map<const RadialVector<NT>, Eigen::Unaligned>;
template <int NT>
using MutableRadialRow = Eigen::Map<RadialVector<NT>, Eigen::Unaligned>;

}  // namespace gapd
