#include "models/descriptors/lambda1_features.hpp"

#include "models/descriptors/radial_dispatch.hpp"
#include "models/descriptors/spherical_harmonics.hpp"
#include "models/descriptors/wigner3j.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd {

namespace {

// The expansion that feeds these features stops at the harmonics' limit; it also bounds the stack buffers.
constexpr int kMaxAngular = SphericalHarmonics::kMaxSupportedAngular;

using Complex = std::complex<long double>;

// Complex coefficients C_{l,M} (index M + l) of the real unit vector e_m (librascal's compute_impl):
// C_M = (-1)^M (c_M + i c_-M)/sqrt2 for M > 0, C_0 = c_0, C_M = (c_|M| - i c_-|M|)/sqrt2 for M < 0.
std::vector<Complex> complex_of_real_unit(int l, int m) {
    const long double h = 1.0L / std::sqrt(2.0L);
    std::vector<Complex> C(2 * l + 1, Complex(0, 0));
    if (m == 0) {
        C[l] = 1.0L;
        return C;
    }
    const int am = std::abs(m);
    const long double sign = (am % 2 == 0) ? 1.0L : -1.0L;
    // M = +am: (-1)^am times (1 if m = am, i if m = -am), over sqrt2.
    C[l + am] = (m > 0) ? Complex(sign * h, 0) : Complex(0, sign * h);
    // M = -am: 1 if m = am, -i if m = -am, over sqrt2.
    C[l - am] = (m > 0) ? Complex(h, 0) : Complex(0, -h);
    return C;
}

// Cartesian (x, y, z) = (T_+1, -T_-1, T_0) of T = R(X), X = A or -iA, for the real unit inputs e_m1, e_m2.
std::array<long double, 3> coupled_unit(int l1, int l2, int m1, int m2) {
    const std::vector<Complex> C1 = complex_of_real_unit(l1, m1), C2 = complex_of_real_unit(l2, m2);
    Complex A[3];  // A_mu at index mu + 1
    for (int mu = -1; mu <= 1; ++mu) {
        Complex sum(0, 0);
        for (int M1 = -l1; M1 <= l1; ++M1) {
            const int M2 = -M1 - mu;
            if (std::abs(M2) > l2) continue;
            sum += wigner_3j(l1, l2, 1, M1, M2, mu) * C1[M1 + l1] * C2[M2 + l2];
        }
        A[mu + 1] = sum;
    }
    if ((l1 + l2 + 1) % 2 != 0)
        for (Complex& a : A) a *= Complex(0, -1);
    // R: T_+1 = -sqrt2 Re X_1, T_0 = Re X_0, T_-1 = -sqrt2 Im X_1.
    const long double s2 = std::sqrt(2.0L);
    const long double t_plus = -s2 * A[2].real(), t_zero = A[1].real(), t_minus = -s2 * A[2].imag();
    return {t_plus, -t_minus, t_zero};
}

}  // namespace

Lambda1Features::Lambda1Features(const SoapHypers& h, bool inversion_symmetry)
    : nspecies_(static_cast<int>(h.species.size())),
      nmax_(h.max_radial),
      nlm_((h.max_angular + 1) * (h.max_angular + 1)),
      inversion_symmetry_(inversion_symmetry),
      normalize_(h.normalize) {
    const int lmax = h.max_angular;
    if (lmax < 1 || lmax > kMaxAngular)
        throw std::invalid_argument("lambda=1 features need max_angular in [1, " + std::to_string(kMaxAngular) +
                                    "], got " + std::to_string(lmax));
    if (nspecies_ < 1 || nmax_ < 1) throw std::invalid_argument("lambda=1 features: no species or max_radial < 1");
    if (nmax_ > kMaxRadial) throw std::invalid_argument("lambda=1 features: max_radial above " + std::to_string(kMaxRadial) +
                                    " is not supported");
    for (int l1 = 0; l1 <= lmax; ++l1)
        for (int l2 = std::max(0, l1 - 1); l2 <= std::min(lmax, l1 + 1); ++l2) {
            if (l1 + l2 < 1) continue;
            if (inversion_symmetry_ && (l1 + l2) % 2 == 0) continue;
            pairs_.push_back({l1, l2});
        }
    term_offsets_.push_back(0);
    for (const auto& p : pairs_) {
        const int l1 = p[0], l2 = p[1];
        for (int m1 = -l1; m1 <= l1; ++m1)
            for (int m2 = -l2; m2 <= l2; ++m2) {
                const auto v = coupled_unit(l1, l2, m1, m2);
                // Non-zero weights are >= 0.008 (lmax <= 12); what cancels analytically leaves ~1e-19.
                for (int a = 0; a < 3; ++a)
                    if (std::abs(v[a]) > 1e-12L)
                        terms_.push_back({a, l1 * l1 + l1 + m1, l2 * l2 + l2 + m2, static_cast<double>(v[a])});
            }
        term_offsets_.push_back(static_cast<int>(terms_.size()));
    }
    const int nkeys = nspecies_ * (nspecies_ + 1) / 2;
    triplets_ = nkeys * nmax_ * nmax_ * static_cast<int>(pairs_.size());
}

double Lambda1Features::compute(const double* c, double* x) const {
    dispatch_radial(nmax_, [&](auto n_const) { compute_blocks<decltype(n_const)::value>(c, x); });
    // A serial sum on purpose: the committed synthetic dipole model (tests/data/dipole) holds these features
    // bit for bit.
    double norm2 = 0.0;
    for (int k = 0; k < size(); ++k) norm2 += x[k] * x[k];
    const double norm = std::sqrt(norm2);
    if (normalize_ && norm > 0.0) {
        const double inv = 1.0 / norm;
        for (int k = 0; k < size(); ++k) x[k] *= inv;
    }
    return norm;
}

template <int NT>
void Lambda1Features::compute_blocks(const double* c, double* x) const {
    const int N = nmax_;
    const int npairs = static_cast<int>(pairs_.size());
    const int n2_stride = 3 * npairs;  // distance between consecutive n2 in the output
    // One (key, pair) block at a time as three n1 x n2 matrices (one per component): every update is a
    // coefficient times a length-n row (the output layout puts n2 npairs triplets apart).
    RadialSquare<NT> block[3];
    for (RadialSquare<NT>& B : block) B.resize(N, N);
    double* out = x;
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, out += N * N * n2_stride) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * N;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * N;
            for (int p = 0; p < npairs; ++p) {
                for (RadialSquare<NT>& B : block) B.setZero();
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    const double* ca_row = ca + term.lm1 * N;
                    const RadialRow<NT> cb_row(cb + term.lm2 * N, N);
                    RadialSquare<NT>& B = block[term.component];
                    for (int n1 = 0; n1 < N; ++n1) B.row(n1) += (term.weight * ca_row[n1]) * cb_row.transpose();
                }
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = 0; n2 < N; ++n2)
                        for (int comp = 0; comp < 3; ++comp)
                            out[(n1 * N + n2) * n2_stride + 3 * p + comp] = s * block[comp](n1, n2);
            }
        }
    }
}

namespace {

// Y = s * one n1 x n2 block of g, Yt = Y^T; g points at (n1, n2) = (0, 0), consecutive n2 n2_stride apart
// (n1 rows follow at N n2_stride).
template <int NT>
void gather_block(const double* g, int n2_stride, double s, int n_runtime, RadialSquare<NT>& Y, RadialSquare<NT>& Yt) {
    const int N = NT ? NT : n_runtime;
    for (int n1 = 0; n1 < N; ++n1)
        for (int n2 = 0; n2 < N; ++n2) Y(n1, n2) = s * g[(n1 * N + n2) * n2_stride];
    Yt = Y.transpose();
}

// sum_n v[n] Y.row(n) = Y^T v: a coefficient times a length-n row per step, no serial reduction over n.
template <int NT>
RadialVector<NT> rows_combination(const double* v, const RadialSquare<NT>& Y, int n_runtime) {
    const int N = NT ? NT : n_runtime;
    RadialVector<NT> acc = RadialVector<NT>::Zero(N);
    for (int n = 0; n < N; ++n) acc += v[n] * Y.row(n).transpose();
    return acc;
}

// Adjoint of one term, row_a^T row_b scaled by w into the block Y (Yt = Y^T):
// da += w Y cb  (= w sum_n2 cb[n2] Yt.row(n2)),  db += w Y^T ca  (= w sum_n1 ca[n1] Y.row(n1)).
template <int NT>
void term_adjoint(const double* ca, const double* cb, double w, const RadialSquare<NT>& Y, const RadialSquare<NT>& Yt,
                  int n_runtime, double* da, double* db) {
    const int N = NT ? NT : n_runtime;
    MutableRadialRow<NT>(da, N) += w * rows_combination<NT>(cb, Yt, N);
    MutableRadialRow<NT>(db, N) += w * rows_combination<NT>(ca, Y, N);
}

}  // namespace

void Lambda1Features::backpropagate(const double* c, const double* x, double norm, const double* g, double* dc,
                                    double* work) const {
    // Through the normalization: dE/dT = (g - x (x.g)) / ||T||.
    const double* gt = g;
    if (normalize_ && norm > 0.0) {
        const Eigen::Map<const Eigen::VectorXd> xv(x, size()), gv(g, size());
        Eigen::Map<Eigen::VectorXd>(work, size()) = (gv - xv.dot(gv) * xv) / norm;
        gt = work;
    }
    dispatch_radial(nmax_, [&](auto n_const) { backpropagate_blocks<decltype(n_const)::value>(c, gt, dc); });
}

template <int NT>
void Lambda1Features::backpropagate_blocks(const double* c, const double* gt, double* dc) const {
    const int N = nmax_;
    const int npairs = static_cast<int>(pairs_.size());
    const int n2_stride = 3 * npairs;
    std::fill(dc, dc + static_cast<std::size_t>(nspecies_) * nlm_ * N, 0.0);
    RadialSquare<NT> block[3], block_t[3];  // s dE/dT of one (key, pair) per component, and transposes
    for (int comp = 0; comp < 3; ++comp) {
        block[comp].resize(N, N);
        block_t[comp].resize(N, N);
    }
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, gt += N * N * n2_stride) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * N;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * N;
            double* dca = dc + static_cast<std::size_t>(a) * nlm_ * N;
            double* dcb = dc + static_cast<std::size_t>(b) * nlm_ * N;
            for (int p = 0; p < npairs; ++p) {
                for (int comp = 0; comp < 3; ++comp)
                    gather_block<NT>(gt + 3 * p + comp, n2_stride, s, N, block[comp], block_t[comp]);
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    term_adjoint<NT>(ca + term.lm1 * N, cb + term.lm2 * N, term.weight, block[term.component],
                                     block_t[term.component], N, dca + term.lm1 * N, dcb + term.lm2 * N);
                }
            }
        }
    }
}

void Lambda1Features::backpropagate_vector(const double* c, const double* x, double norm, const double* u,
                                           double* dm, double* bx) const {
    // m_a = x_a . u with x = T/||T||:  dm_a/dc = (B_a(u) - m_a B(x)) / ||T||, where B_a(u) is the adjoint of the
    // bilinear map T(c) applied to u on component a only (what contract_blocks accumulates) and B(x) that of
    // g = x (backpropagate_blocks). Unnormalized features need only B_a(u).
    const std::size_t ncoeff = static_cast<std::size_t>(nspecies_) * nlm_ * nmax_;
    std::fill(dm, dm + 3 * ncoeff, 0.0);
    Eigen::Vector3d unused = Eigen::Vector3d::Zero();
    dispatch_radial(nmax_, [&](auto n_const) { contract_blocks<decltype(n_const)::value>(c, u, unused, dm); });
    if (!(normalize_ && norm > 0.0)) return;
    // m = X u with X the 3 x Q matrix of the features (column q = triplet q).
    const Eigen::Vector3d m = Eigen::Map<const Eigen::Matrix<double, 3, Eigen::Dynamic>>(x, 3, triplets_) *
                              Eigen::Map<const Eigen::VectorXd>(u, triplets_);
    dispatch_radial(nmax_, [&](auto n_const) { backpropagate_blocks<decltype(n_const)::value>(c, x, bx); });
    const Eigen::Map<const Eigen::VectorXd> bxv(bx, ncoeff);
    for (int comp = 0; comp < 3; ++comp) {
        Eigen::Map<Eigen::VectorXd> dmv(dm + comp * ncoeff, ncoeff);
        dmv = (dmv - m[comp] * bxv) / norm;
    }
}

Eigen::Vector3d Lambda1Features::contract(const double* c, const double* u) const {
    if (normalize_) throw std::logic_error("lambda=1 features: contract needs unnormalized features");
    Eigen::Vector3d m = Eigen::Vector3d::Zero();
    dispatch_radial(nmax_, [&](auto n_const) { contract_blocks<decltype(n_const)::value>(c, u, m, nullptr); });
    return m;
}

Eigen::Vector3d Lambda1Features::contract_with_gradient(const double* c, const double* u, double* dm) const {
    if (normalize_) throw std::logic_error("lambda=1 features: contract needs unnormalized features");
    std::fill(dm, dm + 3 * static_cast<std::size_t>(nspecies_) * nlm_ * nmax_, 0.0);
    Eigen::Vector3d m = Eigen::Vector3d::Zero();
    dispatch_radial(nmax_, [&](auto n_const) { contract_blocks<decltype(n_const)::value>(c, u, m, dm); });
    return m;
}

template <int NT>
void Lambda1Features::contract_blocks(const double* c, const double* u, Eigen::Vector3d& m, double* dm) const {
    // T is bilinear, so m_a = sum over the terms (a, lm1, lm2, w) of each (key, pair) block of
    // w c_a[lm1] . (s U c_b[lm2]) with U the block's n1 x n2 slice of u: U c_b[lm2] is formed once per row of
    // c_b, then each term costs one dot product (and, for dm, two row updates) instead of an n1 x n2 block.
    const int N = nmax_;
    const int npairs = static_cast<int>(pairs_.size());
    const std::size_t ncoeff = static_cast<std::size_t>(nspecies_) * nlm_ * N;
    RadialSquare<NT> ublock(N, N), ublock_t(N, N);
    int max_rows = 0;
    for (const auto& pair : pairs_) max_rows = std::max(max_rows, 2 * std::max(pair[0], pair[1]) + 1);
    double u_products[2 * (2 * kMaxAngular + 1) * kMaxRadial];  // on the stack: no allocation per call
    double* u_cb = u_products;
    double* u_ca = u_cb + static_cast<std::size_t>(max_rows) * N;
    const double* uk = u;
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, uk += N * N * npairs) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const std::size_t offset_a = static_cast<std::size_t>(a) * nlm_ * N;
            const std::size_t offset_b = static_cast<std::size_t>(b) * nlm_ * N;
            const double* ca = c + offset_a;
            const double* cb = c + offset_b;
            for (int p = 0; p < npairs; ++p) {
                const int l1 = pairs_[p][0], l2 = pairs_[p][1];
                gather_block<NT>(uk + p, npairs, s, N, ublock, ublock_t);
                for (int row = 0; row < 2 * l2 + 1; ++row)
                    MutableRadialRow<NT>(u_cb + row * N, N) =
                        rows_combination<NT>(cb + (l2 * l2 + row) * N, ublock_t, N);
                if (dm)
                    for (int row = 0; row < 2 * l1 + 1; ++row)
                        MutableRadialRow<NT>(u_ca + row * N, N) =
                            rows_combination<NT>(ca + (l1 * l1 + row) * N, ublock, N);
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    const RadialRow<NT> ucb_row(u_cb + (term.lm2 - l2 * l2) * N, N);
                    m[term.component] += term.weight * RadialRow<NT>(ca + term.lm1 * N, N).dot(ucb_row);
                    if (!dm) continue;
                    double* dm_comp = dm + term.component * ncoeff;
                    MutableRadialRow<NT>(dm_comp + offset_a + term.lm1 * N, N) += term.weight * ucb_row;
                    MutableRadialRow<NT>(dm_comp + offset_b + term.lm2 * N, N) +=
                        term.weight * RadialRow<NT>(u_ca + (term.lm1 - l1 * l1) * N, N);
                }
            }
        }
    }
}

void Lambda1Features::from_librascal(const double* lib, int triplets, double* x) {
    for (int q = 0; q < triplets; ++q) {
        x[3 * q + 0] = lib[3 * q + 2];   // T_+1
        x[3 * q + 1] = -lib[3 * q + 0];  // -T_-1
        x[3 * q + 2] = lib[3 * q + 1];   // T_0
    }
}

}  // namespace gapd
