#pragma once
// Radial cutoff functions of librascal (docs/maths.md): they multiply every neighbour term of the
// density expansion, never the centre's own term.

#include "models/descriptors/soap_hypers.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace gapd {

class CutoffFunction {
public:
    explicit CutoffFunction(const CutoffParams& p) : p_(p) {
        if (!(p.cutoff > 0) || !(p.smooth_width >= 0) || p.smooth_width > p.cutoff)
            throw std::invalid_argument("cutoff function: need 0 <= smooth_width <= cutoff and cutoff > 0");
        if (p.kind == CutoffKind::RadialScaling && (!(p.scale > 0) || !(p.rate >= 0)))
            throw std::invalid_argument("cutoff function: RadialScaling needs scale > 0 and rate >= 0");
    }

    double cutoff() const { return p_.cutoff; }

    // fc(r) and dfc/dr.
    void evaluate(double r, double& value, double& derivative) const {
        double sw = 1.0, dsw = 0.0;
        const double inner = p_.cutoff - p_.smooth_width;
        if (r > p_.cutoff) {
            sw = 0.0;
        } else if (r > inner) {
            const double t = M_PI * (r - inner) / p_.smooth_width;
            sw = 0.5 * (1.0 + std::cos(t));
            dsw = -0.5 * M_PI / p_.smooth_width * std::sin(t);
        }
        if (p_.kind == CutoffKind::ShiftedCosine) {
            value = sw;
            derivative = dsw;
            return;
        }
        // RadialScaling: u(r) = c / (c + (r/r0)^m), with librascal's special cases.
        double u = 1.0, du = 0.0;
        const double m = p_.exponent;
        if (m != 0.0) {
            const double x = r / p_.scale;
            // Integral exponents (the usual m = 4) by multiplication: std::pow showed up in profiles.
            double xm1;
            if (m == std::floor(m) && m >= 1.0 && m <= 16.0) {
                xm1 = 1.0;
                for (int k = 1; k < static_cast<int>(m); ++k) xm1 *= x;
            } else {
                xm1 = std::pow(x, m - 1.0);
            }
            const double xm = xm1 * x;
            const double dxm = m * xm1 / p_.scale;
            if (std::abs(p_.rate) <= 100 * std::numeric_limits<double>::epsilon()) {
                u = 1.0 / xm;
                du = -dxm / (xm * xm);
            } else {
                u = p_.rate / (p_.rate + xm);
                du = -p_.rate * dxm / ((p_.rate + xm) * (p_.rate + xm));
            }
        }
        value = u * sw;
        derivative = du * sw + u * dsw;
    }

private:
    CutoffParams p_;
};

}  // namespace gapd
