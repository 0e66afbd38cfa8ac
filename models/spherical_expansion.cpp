#include "models/spherical_expansion.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gapd {

SphericalExpansion::SphericalExpansion(const SoapHypers& hypers, RadialMode mode)
    : hypers_(hypers),
      radial_(hypers, mode),
      harmonics_(hypers.max_angular),
      cutoff_(hypers.cutoff),
      nmax_(hypers.max_radial),
      lmax_(hypers.max_angular),
      nlm_((hypers.max_angular + 1) * (hypers.max_angular + 1)),
      size_(static_cast<int>(hypers.species.size()) * nlm_ * hypers.max_radial) {
    if (hypers_.species.empty()) throw std::invalid_argument("spherical expansion: the model names no species");
    if (!std::is_sorted(hypers_.species.begin(), hypers_.species.end()))
        throw std::invalid_argument("spherical expansion: species must be sorted");
    // The centre contributes a Gaussian at r = 0: only l = 0, Y_00 = 1/sqrt(4 pi), no cutoff factor.
    centre_term_.resize(nmax_);
    radial_.centre_values(centre_term_.data());
    for (double& v : centre_term_) v /= std::sqrt(4.0 * M_PI);
}

int SphericalExpansion::species_index(int z) const {
    const auto it = std::lower_bound(hypers_.species.begin(), hypers_.species.end(), z);
    return (it != hypers_.species.end() && *it == z) ? static_cast<int>(it - hypers_.species.begin()) : -1;
}

ExpansionScratch SphericalExpansion::make_scratch() const {
    ExpansionScratch s;
    s.radial.resize((lmax_ + 1) * nmax_);
    s.radial_derivative.resize((lmax_ + 1) * nmax_);
    s.harmonics.resize(nlm_);
    s.harmonics_gradient.resize(3 * nlm_);
    return s;
}

void SphericalExpansion::compute(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                 double* c, ExpansionScratch& s) const {
    std::fill(c, c + size_, 0.0);
    double* centre_block = c + static_cast<std::size_t>(species_of[i]) * nlm_ * nmax_;
    for (int n = 0; n < nmax_; ++n) centre_block[n] += centre_term_[n];

    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
        const double* rij = nl.vectors.data() + 3 * e;
        const double r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
        double fc, dfc;
        cutoff_.evaluate(r, fc, dfc);
        if (fc == 0.0) continue;
        radial_.compute(r, s.radial.data(), nullptr);
        harmonics_.compute(rij, s.harmonics.data(), nullptr);
        double* block = c + static_cast<std::size_t>(species_of[nl.neighbour[e]]) * nlm_ * nmax_;
        for (int l = 0; l <= lmax_; ++l) {
            const double* R = s.radial.data() + l * nmax_;
            for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                const double fy = fc * s.harmonics[lm];
                double* out = block + lm * nmax_;
                for (int n = 0; n < nmax_; ++n) out[n] += fy * R[n];
            }
        }
    }
}

void SphericalExpansion::backpropagate(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                       const double* dc, double* pair_gradients, ExpansionScratch& s) const {
    // Neighbour term f_nlm(r) = fc(r) M_nl(r) Y_lm(r). With A_lm = sum_n dc_nlm M_nl and
    // B_lm = sum_n dc_nlm M'_nl:  dE/dr = sum_lm [(fc' A_lm + fc B_lm) Y_lm r/|r| + fc A_lm grad Y_lm].
    // The centre term does not depend on positions.
    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
        double* g = pair_gradients + 3 * e;
        const double* rij = nl.vectors.data() + 3 * e;
        const double r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
        double fc, dfc;
        cutoff_.evaluate(r, fc, dfc);
        if (fc == 0.0 && dfc == 0.0) {
            g[0] = g[1] = g[2] = 0.0;
            continue;
        }
        radial_.compute(r, s.radial.data(), s.radial_derivative.data());
        harmonics_.compute(rij, s.harmonics.data(), s.harmonics_gradient.data());
        const double* block = dc + static_cast<std::size_t>(species_of[nl.neighbour[e]]) * nlm_ * nmax_;
        double radial_part = 0.0, gx = 0.0, gy = 0.0, gz = 0.0;
        for (int l = 0; l <= lmax_; ++l) {
            const double* R = s.radial.data() + l * nmax_;
            const double* dR = s.radial_derivative.data() + l * nmax_;
            for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                const double* d = block + lm * nmax_;
                double a = 0.0, b = 0.0;
                for (int n = 0; n < nmax_; ++n) {
                    a += d[n] * R[n];
                    b += d[n] * dR[n];
                }
                radial_part += (dfc * a + fc * b) * s.harmonics[lm];
                const double* dY = s.harmonics_gradient.data() + 3 * lm;
                gx += fc * a * dY[0];
                gy += fc * a * dY[1];
                gz += fc * a * dY[2];
            }
        }
        const double inv_r = 1.0 / r;
        g[0] = gx + radial_part * rij[0] * inv_r;
        g[1] = gy + radial_part * rij[1] * inv_r;
        g[2] = gz + radial_part * rij[2] * inv_r;
    }
}

}  // namespace gapd
