#pragma once
// x^n for the small integer kernel exponents (zeta) of GAP and SA-GPR models, by repeated multiplication: the
// calculators and the fits must round identically, so there is one definition.

namespace gapd {

inline double integer_power(double x, int n) {
    double r = 1.0;
    for (int k = 0; k < n; ++k) r *= x;
    return r;
}

}  // namespace gapd
