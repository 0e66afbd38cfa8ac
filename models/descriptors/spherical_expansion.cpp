#include "models/descriptors/spherical_expansion.hpp"

#include "models/descriptors/radial_dispatch.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

// c[lm][n] += fc Y_lm R_l[n] for one neighbour (NT = nmax or 0 for the runtime value).
template <int NT>
void accumulate_neighbour(const double* R, const double* Y, double fc, int lmax, int n_runtime, double* block) {
    const int N = NT ? NT : n_runtime;
    for (int l = 0; l <= lmax; ++l) {
        const RadialRow<NT> Rl(R + l * N, N);
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) MutableRadialRow<NT>(block + lm * N, N) += (fc * Y[lm]) * Rl;
    }
}

// dE/dr of one neighbour term f_nlm(r) = fc(r) M_nl(r) Y_lm(r) given d[lm][n] = dE/dc:
//   dE/dr = sum_ln [(fc' M_nl + fc M'_nl) u_ln] r/|r| + fc sum_ln M_nl v_ln,
//   u_ln = sum_m d_lmn Y_lm,  v_ln = sum_m d_lmn grad Y_lm.
// Summing over m first makes every inner loop an element-wise update over n (vectorised, no serial
// reduction chain); the four sums over n happen once per pair at the end.
template <int NT>
void neighbour_gradient(const double* d, const double* R, const double* dR, const double* Y, const double* dY,
                        double fc, double dfc, int lmax, int n_runtime, double out[4]) {
    using Vec = RadialVector<NT>;
    using Row = RadialRow<NT>;
    const int N = NT ? NT : n_runtime;
    Vec acc_r = Vec::Zero(N), acc_x = Vec::Zero(N), acc_y = Vec::Zero(N), acc_z = Vec::Zero(N);
    Vec u(N), vx(N), vy(N), vz(N);
    for (int l = 0; l <= lmax; ++l) {
        u.setZero();
        vx.setZero();
        vy.setZero();
        vz.setZero();
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
            const Row row(d + lm * N, N);
            u += Y[lm] * row;
            vx += dY[3 * lm] * row;
            vy += dY[3 * lm + 1] * row;
            vz += dY[3 * lm + 2] * row;
        }
        const Row Rl(R + l * N, N), dRl(dR + l * N, N);
        acc_r += (dfc * Rl + fc * dRl).cwiseProduct(u);
        acc_x += Rl.cwiseProduct(vx);
        acc_y += Rl.cwiseProduct(vy);
        acc_z += Rl.cwiseProduct(vz);
    }
    out[0] = acc_r.sum();
    out[1] = fc * acc_x.sum();
    out[2] = fc * acc_y.sum();
    out[3] = fc * acc_z.sum();
}

}  // namespace

SphericalExpansion::SphericalExpansion(const SoapHypers& hypers, RadialMode mode)
    : hypers_(hypers),
      species_(hypers.species),
      radial_(hypers, mode),
      harmonics_(hypers.max_angular),
      cutoff_(hypers.cutoff),
      nmax_(hypers.max_radial),
      lmax_(hypers.max_angular),
      nlm_((hypers.max_angular + 1) * (hypers.max_angular + 1)),
      size_(static_cast<int>(hypers.species.size()) * nlm_ * hypers.max_radial) {
    if (hypers_.species.empty()) throw std::invalid_argument("spherical expansion: the model names no species");
    if (nmax_ < 1 || nmax_ > kMaxRadial)
        throw std::invalid_argument("spherical expansion: max_radial must be in [1, " + std::to_string(kMaxRadial) +
                                    "], got " + std::to_string(nmax_));
    if (!std::is_sorted(hypers_.species.begin(), hypers_.species.end()))
        throw std::invalid_argument("spherical expansion: species must be sorted");
    // The centre contributes a Gaussian at r = 0: only l = 0, Y_00 = 1/sqrt(4 pi), no cutoff factor.
    centre_term_.resize(nmax_);
    radial_.centre_values(centre_term_.data());
    for (double& v : centre_term_) v /= std::sqrt(4.0 * M_PI);
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
        dispatch_radial(nmax_, [&](auto n_const) {
            accumulate_neighbour<decltype(n_const)::value>(s.radial.data(), s.harmonics.data(), fc, lmax_, nmax_,
                                                           block);
        });
    }
}

bool SphericalExpansion::pair_terms(const double* rij, double& r, double& fc, double& dfc, ExpansionScratch& s) const {
    r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
    cutoff_.evaluate(r, fc, dfc);
    if (fc == 0.0 && dfc == 0.0) return false;
    radial_.compute(r, s.radial.data(), s.radial_derivative.data());
    harmonics_.compute(rij, s.harmonics.data(), s.harmonics_gradient.data());
    return true;
}

void SphericalExpansion::backpropagate(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                       const double* dc, double* pair_gradients, ExpansionScratch& s) const {
    backpropagate_many(nl, species_of, i, dc, 1, &pair_gradients, s);
}

void SphericalExpansion::backpropagate_many(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                            const double* dc, int count, double* const* pair_gradients,
                                            ExpansionScratch& s) const {
    // The centre term does not depend on positions; each neighbour entry gets neighbour_gradient's dQ/dr_ij.
    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
        const double* rij = nl.vectors.data() + 3 * e;
        double r, fc, dfc;
        if (!pair_terms(rij, r, fc, dfc, s)) {
            for (int k = 0; k < count; ++k) std::fill(pair_gradients[k] + 3 * e, pair_gradients[k] + 3 * e + 3, 0.0);
            continue;
        }
        const std::size_t block_offset = static_cast<std::size_t>(species_of[nl.neighbour[e]]) * nlm_ * nmax_;
        const double inv_r = 1.0 / r;
        for (int k = 0; k < count; ++k) {
            const double* block = dc + static_cast<std::size_t>(k) * size_ + block_offset;
            double parts[4];  // radial part, then the angular gradient x, y, z
            dispatch_radial(nmax_, [&](auto n_const) {
                neighbour_gradient<decltype(n_const)::value>(block, s.radial.data(), s.radial_derivative.data(),
                                                             s.harmonics.data(), s.harmonics_gradient.data(), fc,
                                                             dfc, lmax_, nmax_, parts);
            });
            double* g = pair_gradients[k] + 3 * e;
            g[0] = parts[1] + parts[0] * rij[0] * inv_r;
            g[1] = parts[2] + parts[0] * rij[1] * inv_r;
            g[2] = parts[3] + parts[0] * rij[2] * inv_r;
        }
    }
}

void SphericalExpansion::pair_jacobian(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                       PairJacobian& jacobian, ExpansionScratch& s) const {
    const int nspecies = species_count(), block_width = nlm_ * nmax_;
    jacobian.entries.resize(nspecies);
    jacobian.blocks.resize(nspecies);
    for (auto& e : jacobian.entries) e.clear();
    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e)
        jacobian.entries[species_of[nl.neighbour[e]]].push_back(e);
    for (int a = 0; a < nspecies; ++a) {
        const std::vector<std::size_t>& entries = jacobian.entries[a];
        RowMatrix& block = jacobian.blocks[a];
        block.setZero(block_width, 3 * static_cast<Eigen::Index>(entries.size()));
        for (std::size_t q = 0; q < entries.size(); ++q) {
            const double* rij = nl.vectors.data() + 3 * entries[q];
            double r, fc, dfc;
            if (!pair_terms(rij, r, fc, dfc, s)) continue;
            for (int l = 0; l <= lmax_; ++l) {
                const double* R = s.radial.data() + l * nmax_;
                const double* dR = s.radial_derivative.data() + l * nmax_;
                for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) {
                    const double Y = s.harmonics[lm];
                    const double* dY = s.harmonics_gradient.data() + 3 * lm;
                    for (int n = 0; n < nmax_; ++n) {
                        const double radial_part = (dfc * R[n] + fc * dR[n]) * Y / r;
                        double* row = block.row(lm * nmax_ + n).data() + 3 * q;
                        for (int d = 0; d < 3; ++d) row[d] = radial_part * rij[d] + fc * R[n] * dY[d];
                    }
                }
            }
        }
    }
}

}  // namespace gapd
