#include "models/power_spectrum.hpp"

#include "models/gap_model.hpp"

#include <algorithm>
#include <cmath>

namespace gapd {

PowerSpectrum::PowerSpectrum(const SoapHypers& h)
    : nspecies_(static_cast<int>(h.species.size())),
      nmax_(h.max_radial),
      lmax_(h.max_angular),
      nlm_((h.max_angular + 1) * (h.max_angular + 1)),
      block_(h.max_radial * h.max_radial * (h.max_angular + 1)),
      size_(power_spectrum_size(h)),
      normalize_(h.normalize) {
    for (int l = 0; l <= lmax_; ++l) l_factor_.push_back(1.0 / std::sqrt(2.0 * l + 1.0));
}

double PowerSpectrum::compute(const double* c, double* x) const {
    const int L = lmax_ + 1;
    double* out = x;
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, out += block_) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * nmax_;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * nmax_;
            for (int l = 0; l < L; ++l) {
                const double f = s * l_factor_[l];
                for (int n1 = 0; n1 < nmax_; ++n1) {
                    for (int n2 = 0; n2 < nmax_; ++n2) {
                        double sum = 0.0;
                        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm)
                            sum += ca[lm * nmax_ + n1] * cb[lm * nmax_ + n2];
                        out[(n1 * nmax_ + n2) * L + l] = f * sum;
                    }
                }
            }
        }
    }
    double norm2 = 0.0;
    for (int k = 0; k < size_; ++k) norm2 += x[k] * x[k];
    const double norm = std::sqrt(norm2);
    if (normalize_ && norm > 0.0) {
        const double inv = 1.0 / norm;
        for (int k = 0; k < size_; ++k) x[k] *= inv;
    }
    return norm;
}

void PowerSpectrum::backpropagate(const double* c, const double* x, double norm, const double* g, double* dc,
                                  double* work) const {
    const int L = lmax_ + 1;
    // Through the normalization: dE/dp = (g - x (x.g)) / ||p||.
    const double* gp = g;
    if (normalize_ && norm > 0.0) {
        double xg = 0.0;
        for (int k = 0; k < size_; ++k) xg += x[k] * g[k];
        const double inv = 1.0 / norm;
        for (int k = 0; k < size_; ++k) work[k] = (g[k] - x[k] * xg) * inv;
        gp = work;
    }
    std::fill(dc, dc + static_cast<std::size_t>(nspecies_) * nlm_ * nmax_, 0.0);
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, gp += block_) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * nmax_;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * nmax_;
            double* dca = dc + static_cast<std::size_t>(a) * nlm_ * nmax_;
            double* dcb = dc + static_cast<std::size_t>(b) * nlm_ * nmax_;
            for (int l = 0; l < L; ++l) {
                const double f = s * l_factor_[l];
                for (int n1 = 0; n1 < nmax_; ++n1) {
                    for (int n2 = 0; n2 < nmax_; ++n2) {
                        const double h = f * gp[(n1 * nmax_ + n2) * L + l];
                        if (h == 0.0) continue;
                        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                            dca[lm * nmax_ + n1] += h * cb[lm * nmax_ + n2];
                            dcb[lm * nmax_ + n2] += h * ca[lm * nmax_ + n1];
                        }
                    }
                }
            }
        }
    }
}

}  // namespace gapd
