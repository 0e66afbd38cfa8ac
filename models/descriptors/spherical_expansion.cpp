#include "models/descriptors/spherical_expansion.hpp"

#include "models/descriptors/radial_dispatch.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

// Up to kBatch neighbour entries of one centre whose harmonics are evaluated together.
struct PairBatch {
    static constexpr int kSize = SphericalHarmonics::kBatch;
    int count = 0;
    std::size_t entry[kSize];
    double directions[3 * kSize], r[kSize], fc[kSize], dfc[kSize];
    // Appends one pair; true when the batch is full.
    bool add(std::size_t e, const double* rij, double r_, double fc_, double dfc_) {
        entry[count] = e;
        for (int k = 0; k < 3; ++k) directions[3 * count + k] = rij[k];
        r[count] = r_;
        fc[count] = fc_;
        dfc[count] = dfc_;
        return ++count == kSize;
    }
};

// The pairs of one centre are visited in batches of SphericalHarmonics::kBatch, whose harmonics are evaluated
// together (lane-major: Y_lm of the batch's pair p at Y[lm * kYStride + p]).
constexpr int kYStride = SphericalHarmonics::kBatch;

// c[lm][n] += fc Y_lm R_l[n] for one neighbour (NT = nmax or 0 for the runtime value; Y_lm at Y[lm * kYStride]).
template <int NT>
void accumulate_neighbour(const double* R, const double* Y, double fc, int lmax, int n_runtime, double* block) {
    const int N = NT ? NT : n_runtime;
    for (int l = 0; l <= lmax; ++l) {
        const RadialRow<NT> Rl(R + l * N, N);
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm)
            MutableRadialRow<NT>(block + lm * N, N) += (fc * Y[lm * kYStride]) * Rl;
    }
}

// dE/dr of one neighbour term f_nlm(r) = fc(r) M_nl(r) Y_lm(r) given d[lm][n] = dE/dc:
//   dE/dr = sum_ln [(fc' M_nl + fc M'_nl) u_ln] r/|r| + fc sum_ln M_nl v_ln,
//   u_ln = sum_m d_lmn Y_lm,  v_ln = sum_m d_lmn grad Y_lm.
// The gradients of the harmonics are not evaluated: with the solid harmonics R_lm(r) = |r|^l Y_lm(r/|r|),
//   grad Y_lm = (grad R_lm(u) - l Y_lm u) / |r|,   grad R_lm = sum_m' a_{lm,m'} R_{l-1,m'}   (u = r/|r|),
// because a derivative of a harmonic polynomial is a harmonic polynomial of one degree less. So
//   v_ln = (sum_m' D_{l-1,m',n} Y_{l-1,m'}(u) - l u u_ln) / |r|,   D_{l-1,m',n} = sum_m a_{lm,m'} d_lmn,
// where D (three components) depends on the centre only: lowered() computes it once per centre, and each pair
// needs only Y, not its 3 (lmax+1)^2 gradients. Summing over m first keeps every inner loop an element-wise
// update over n (vectorised, no serial reduction); the sums over n happen once per pair at the end.
// Y_lm is read at Y[lm * kYStride] (the pair's lane of a harmonics batch).
template <int NT>
void neighbour_gradient(const double* d, const double* lowered, const double* R, const double* dR, const double* Y,
                        double fc, double dfc, double inv_r, int lmax, int n_runtime, double out[5]) {
    using Vec = RadialVector<NT>;
    using Row = RadialRow<NT>;
    const int N = NT ? NT : n_runtime;
    const int lowered_rows = lmax * lmax;  // (l-1, m') rows for l = 1..lmax, per component
    const double* Dx = lowered;
    const double* Dy = lowered + lowered_rows * N;
    const double* Dz = lowered + 2 * lowered_rows * N;
    Vec acc_r = Vec::Zero(N), acc_x = Vec::Zero(N), acc_y = Vec::Zero(N), acc_z = Vec::Zero(N), acc_l = Vec::Zero(N);
    Vec u(N), wx(N), wy(N), wz(N);
    for (int l = 0; l <= lmax; ++l) {
        u.setZero();
        for (int lm = l * l; lm < (l + 1) * (l + 1); ++lm) u += Y[lm * kYStride] * Row(d + lm * N, N);
        const Row Rl(R + l * N, N), dRl(dR + l * N, N);
        acc_r += (dfc * Rl + fc * dRl).cwiseProduct(u);
        if (l == 0) continue;
        wx.setZero();
        wy.setZero();
        wz.setZero();
        for (int q = (l - 1) * (l - 1); q < l * l; ++q) {  // q = index of (l-1, m') in Y and in D
            const double Yq = Y[q * kYStride];
            wx += Yq * Row(Dx + q * N, N);
            wy += Yq * Row(Dy + q * N, N);
            wz += Yq * Row(Dz + q * N, N);
        }
        acc_x += Rl.cwiseProduct(wx);
        acc_y += Rl.cwiseProduct(wy);
        acc_z += Rl.cwiseProduct(wz);
        acc_l += static_cast<double>(l) * Rl.cwiseProduct(u);
    }
    out[0] = acc_r.sum();
    const double scale = fc * inv_r;
    out[1] = scale * acc_x.sum();
    out[2] = scale * acc_y.sum();
    out[3] = scale * acc_z.sum();
    out[4] = scale * acc_l.sum();  // times u_k, subtracted from component k by the caller
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
    build_solid_harmonic_derivatives();
}

void SphericalExpansion::build_solid_harmonic_derivatives() {
    // grad R_lm = sum_m' a_{lm,m'} R_{l-1,m'} holds exactly; fit a on points of the unit sphere, where
    // R_lm = Y_lm and grad R_lm = grad Y_lm + l Y_lm u (|r| = 1). Twice as many points (a Fibonacci lattice) as
    // unknowns make the least-squares problem well conditioned; the residual is ~1e-15.
    derivative_terms_.clear();
    if (lmax_ < 1) return;
    const int points = 4 * (2 * lmax_ + 1) + 8;
    Eigen::MatrixXd u(points, 3);
    const double golden = M_PI * (3.0 - std::sqrt(5.0));
    for (int p = 0; p < points; ++p) {
        const double z = 1.0 - (2.0 * p + 1.0) / points, rho = std::sqrt(1.0 - z * z);
        u.row(p) << rho * std::cos(golden * p), rho * std::sin(golden * p), z;
    }
    std::vector<double> y(nlm_), dy(3 * nlm_);
    for (int l = 1; l <= lmax_; ++l) {
        const int lower = (l - 1) * (l - 1), width = 2 * l - 1;
        Eigen::MatrixXd basis(points, width);
        Eigen::MatrixXd targets(points, 3 * (2 * l + 1));
        for (int p = 0; p < points; ++p) {
            const double r[3] = {u(p, 0), u(p, 1), u(p, 2)};
            harmonics_.compute(r, y.data(), dy.data());
            for (int j = 0; j < width; ++j) basis(p, j) = y[lower + j];
            for (int m = 0; m < 2 * l + 1; ++m)
                for (int k = 0; k < 3; ++k)
                    targets(p, 3 * m + k) = dy[3 * (l * l + m) + k] + l * y[l * l + m] * r[k];
        }
        const Eigen::MatrixXd a = basis.colPivHouseholderQr().solve(targets);  // width x 3 (2l+1)
        for (int m = 0; m < 2 * l + 1; ++m)
            for (int k = 0; k < 3; ++k)
                for (int j = 0; j < width; ++j) {
                    const double value = a(j, 3 * m + k);
                    if (std::abs(value) > 1e-10)  // the exact zeros come out at ~1e-15
                        derivative_terms_.push_back({k, l * l + m, lower + j, value});
                }
    }
}

void SphericalExpansion::lower(const double* d, double* lowered) const {
    // lowered = [D_x | D_y | D_z] of one species block d, each lmax^2 rows of nmax (rows (l-1, m') for l >= 1).
    const int rows = lmax_ * lmax_;
    std::fill(lowered, lowered + 3 * rows * nmax_, 0.0);
    dispatch_radial(nmax_, [&](auto n_const) {
        constexpr int NT = decltype(n_const)::value;
        const int N = NT ? NT : nmax_;
        for (const DerivativeTerm& t : derivative_terms_)
            MutableRadialRow<NT>(lowered + (t.component * rows + t.lower) * N, N) +=
                t.coefficient * RadialRow<NT>(d + t.upper * N, N);
    });
}

ExpansionScratch SphericalExpansion::make_scratch() const {
    ExpansionScratch s;
    s.radial.resize((lmax_ + 1) * nmax_);
    s.radial_derivative.resize((lmax_ + 1) * nmax_);
    s.harmonics.resize(static_cast<std::size_t>(SphericalHarmonics::kBatch) * nlm_);
    s.harmonics_gradient.resize(3 * nlm_);
    return s;
}

void SphericalExpansion::compute(const NeighbourList& nl, const std::vector<int>& species_of, int i,
                                 double* c, ExpansionScratch& s) const {
    std::fill(c, c + size_, 0.0);
    double* centre_block = c + static_cast<std::size_t>(species_of[i]) * nlm_ * nmax_;
    for (int n = 0; n < nmax_; ++n) centre_block[n] += centre_term_[n];

    // Neighbours inside the cutoff, kBatch at a time; each is added in list order, as one at a time would.
    PairBatch batch;
    auto add_batch = [&] {
        for (int p = 0; p < batch.count; ++p) radial_.prefetch(batch.r[p]);  // loads under the harmonics
        harmonics_.compute_batch(batch.directions, batch.count, s.harmonics.data());
        for (int p = 0; p < batch.count; ++p) {
            radial_.compute(batch.r[p], s.radial.data(), nullptr);
            double* block = c + static_cast<std::size_t>(species_of[nl.neighbour[batch.entry[p]]]) * nlm_ * nmax_;
            dispatch_radial(nmax_, [&](auto n_const) {
                accumulate_neighbour<decltype(n_const)::value>(s.radial.data(), s.harmonics.data() + p,
                                                               batch.fc[p], lmax_, nmax_, block);
            });
        }
        batch.count = 0;
    };
    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
        const double* rij = nl.vectors.data() + 3 * e;
        const double r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
        double fc, dfc;
        cutoff_.evaluate(r, fc, dfc);
        if (fc == 0.0) continue;
        if (batch.add(e, rij, r, fc, dfc)) add_batch();
    }
    if (batch.count) add_batch();
}

bool SphericalExpansion::radial_terms(const double* rij, double& r, double& fc, double& dfc,
                                      ExpansionScratch& s) const {
    r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
    cutoff_.evaluate(r, fc, dfc);
    if (fc == 0.0 && dfc == 0.0) return false;
    radial_.compute(r, s.radial.data(), s.radial_derivative.data());
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
    // The lowered coefficients D of every (k, species) block first: they depend on the centre only.
    const int nspecies = species_count(), block_size = nlm_ * nmax_, lowered_size = 3 * lmax_ * lmax_ * nmax_;
    s.lowered.resize(static_cast<std::size_t>(count) * nspecies * lowered_size);
    for (int k = 0; k < count; ++k)
        for (int a = 0; a < nspecies; ++a)
            lower(dc + static_cast<std::size_t>(k) * size_ + static_cast<std::size_t>(a) * block_size,
                  s.lowered.data() + (static_cast<std::size_t>(k) * nspecies + a) * lowered_size);
    PairBatch batch;
    auto differentiate_batch = [&] {
        for (int p = 0; p < batch.count; ++p) radial_.prefetch(batch.r[p]);  // loads under the harmonics
        harmonics_.compute_batch(batch.directions, batch.count, s.harmonics.data());  // no gradients: see above
        for (int p = 0; p < batch.count; ++p) {
            const std::size_t e = batch.entry[p];
            radial_.compute(batch.r[p], s.radial.data(), s.radial_derivative.data());
            const int a = species_of[nl.neighbour[e]];
            const double inv_r = 1.0 / batch.r[p];
            const double* rij = batch.directions + 3 * p;
            const double unit[3] = {rij[0] * inv_r, rij[1] * inv_r, rij[2] * inv_r};
            for (int k = 0; k < count; ++k) {
                const double* block = dc + static_cast<std::size_t>(k) * size_ + static_cast<std::size_t>(a) * block_size;
                const double* lowered = s.lowered.data() + (static_cast<std::size_t>(k) * nspecies + a) * lowered_size;
                double parts[5];  // radial part, the angular parts x, y, z, and the l u_ln sum (times u)
                dispatch_radial(nmax_, [&](auto n_const) {
                    neighbour_gradient<decltype(n_const)::value>(block, lowered, s.radial.data(),
                                                                 s.radial_derivative.data(), s.harmonics.data() + p,
                                                                 batch.fc[p], batch.dfc[p], inv_r, lmax_, nmax_,
                                                                 parts);
                });
                double* g = pair_gradients[k] + 3 * e;
                for (int c = 0; c < 3; ++c) g[c] = parts[1 + c] + (parts[0] - parts[4]) * unit[c];
            }
        }
        batch.count = 0;
    };
    for (std::size_t e = nl.offsets[i]; e < nl.offsets[i + 1]; ++e) {
        const double* rij = nl.vectors.data() + 3 * e;
        const double r = std::sqrt(rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2]);
        double fc, dfc;
        cutoff_.evaluate(r, fc, dfc);
        if (fc == 0.0 && dfc == 0.0) {
            for (int k = 0; k < count; ++k) std::fill(pair_gradients[k] + 3 * e, pair_gradients[k] + 3 * e + 3, 0.0);
            continue;
        }
        if (batch.add(e, rij, r, fc, dfc)) differentiate_batch();
    }
    if (batch.count) differentiate_batch();
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
            if (!radial_terms(rij, r, fc, dfc, s)) continue;
            harmonics_.compute(rij, s.harmonics.data(), s.harmonics_gradient.data());
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
