#include "models/lambda1_features.hpp"

#include "models/wigner3j.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>

namespace gapd {

namespace {

constexpr int kMaxRadial = 32;  // bound for the per-block stack buffers

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
    if (lmax < 1) throw std::invalid_argument("lambda=1 features need max_angular >= 1");
    if (nspecies_ < 1 || nmax_ < 1) throw std::invalid_argument("lambda=1 features: no species or max_radial < 1");
    if (nmax_ > kMaxRadial) throw std::invalid_argument("lambda=1 features: max_radial above 32 is not supported");
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
    const int npairs = static_cast<int>(pairs_.size());
    const int n2_stride = 3 * npairs;  // distance between consecutive n2 in the output
    const int nn = nmax_ * nmax_;
    // One (key, pair) block at a time in a contiguous [component][n1][n2] buffer: the inner loop then runs
    // over contiguous n2 (the output layout puts n2 npairs triplets apart).
    double block[3 * kMaxRadial * kMaxRadial];
    double* out = x;
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, out += nn * n2_stride) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * nmax_;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * nmax_;
            for (int p = 0; p < npairs; ++p) {
                std::fill(block, block + 3 * nn, 0.0);
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    const double* ca_row = ca + term.lm1 * nmax_;
                    const double* cb_row = cb + term.lm2 * nmax_;
                    double* rows = block + term.component * nn;
                    for (int n1 = 0; n1 < nmax_; ++n1) {
                        const double h = term.weight * ca_row[n1];
                        double* row = rows + n1 * nmax_;
                        for (int n2 = 0; n2 < nmax_; ++n2) row[n2] += h * cb_row[n2];
                    }
                }
                for (int k = 0; k < nn; ++k)
                    for (int comp = 0; comp < 3; ++comp) out[k * n2_stride + 3 * p + comp] = s * block[comp * nn + k];
            }
        }
    }
    double norm2 = 0.0;
    for (int k = 0; k < size(); ++k) norm2 += x[k] * x[k];
    const double norm = std::sqrt(norm2);
    if (normalize_ && norm > 0.0) {
        const double inv = 1.0 / norm;
        for (int k = 0; k < size(); ++k) x[k] *= inv;
    }
    return norm;
}

void Lambda1Features::backpropagate(const double* c, const double* x, double norm, const double* g, double* dc,
                                    double* work) const {
    const int npairs = static_cast<int>(pairs_.size());
    const int n2_stride = 3 * npairs;
    // Through the normalization: dE/dT = (g - x (x.g)) / ||T||.
    const double* gt = g;
    if (normalize_ && norm > 0.0) {
        double xg = 0.0;
        for (int k = 0; k < size(); ++k) xg += x[k] * g[k];
        const double inv = 1.0 / norm;
        for (int k = 0; k < size(); ++k) work[k] = (g[k] - x[k] * xg) * inv;
        gt = work;
    }
    std::fill(dc, dc + static_cast<std::size_t>(nspecies_) * nlm_ * nmax_, 0.0);
    const int nn = nmax_ * nmax_;
    double block[3 * kMaxRadial * kMaxRadial];  // s dE/dT of one (key, pair) as [component][n1][n2]
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, gt += nn * n2_stride) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const double* ca = c + static_cast<std::size_t>(a) * nlm_ * nmax_;
            const double* cb = c + static_cast<std::size_t>(b) * nlm_ * nmax_;
            double* dca = dc + static_cast<std::size_t>(a) * nlm_ * nmax_;
            double* dcb = dc + static_cast<std::size_t>(b) * nlm_ * nmax_;
            for (int p = 0; p < npairs; ++p) {
                for (int k = 0; k < nn; ++k)
                    for (int comp = 0; comp < 3; ++comp) block[comp * nn + k] = s * gt[k * n2_stride + 3 * p + comp];
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    const double* ca_row = ca + term.lm1 * nmax_;
                    const double* cb_row = cb + term.lm2 * nmax_;
                    double* dca_row = dca + term.lm1 * nmax_;
                    double* dcb_row = dcb + term.lm2 * nmax_;
                    const double* rows = block + term.component * nn;
                    for (int n1 = 0; n1 < nmax_; ++n1) {
                        const double* row = rows + n1 * nmax_;
                        const double h = term.weight * ca_row[n1];
                        double sum = 0.0;
                        for (int n2 = 0; n2 < nmax_; ++n2) {
                            sum += row[n2] * cb_row[n2];
                            dcb_row[n2] += h * row[n2];
                        }
                        dca_row[n1] += term.weight * sum;
                    }
                }
            }
        }
    }
}

void Lambda1Features::backpropagate_vector(const double* c, const double* x, double norm, const double* u,
                                           double* dm, double* bx) const {
    // m_a = x_a . u with x = T/||T||:  dm_a/dc = (B_a(u) - m_a B(x)) / ||T||, where B(g) is the adjoint of the
    // bilinear map T(c) applied to g, and B_a(u) that of g = u on component a only. The three B_a(u) touch
    // disjoint terms, so together they cost one B(x): one sweep computes all four.
    const int npairs = static_cast<int>(pairs_.size());
    const int n2_stride = 3 * npairs;
    const int nn = nmax_ * nmax_;
    const std::size_t ncoeff = static_cast<std::size_t>(nspecies_) * nlm_ * nmax_;
    const bool normalized = normalize_ && norm > 0.0;
    double m[3] = {0.0, 0.0, 0.0};
    for (int q = 0; q < triplets_; ++q)
        for (int comp = 0; comp < 3; ++comp) m[comp] += x[3 * q + comp] * u[q];
    std::fill(dm, dm + 3 * ncoeff, 0.0);
    std::fill(bx, bx + ncoeff, 0.0);
    double xblock[3 * kMaxRadial * kMaxRadial];  // s x of one (key, pair) as [component][n1][n2]
    double ublock[kMaxRadial * kMaxRadial];      // s u as [n1][n2]
    const double* xk = x;
    const double* uk = u;
    for (int a = 0; a < nspecies_; ++a) {
        for (int b = a; b < nspecies_; ++b, xk += nn * n2_stride, uk += nn * npairs) {
            const double s = (a < b) ? std::sqrt(2.0) : 1.0;
            const std::size_t offset_a = static_cast<std::size_t>(a) * nlm_ * nmax_;
            const std::size_t offset_b = static_cast<std::size_t>(b) * nlm_ * nmax_;
            const double* ca = c + offset_a;
            const double* cb = c + offset_b;
            for (int p = 0; p < npairs; ++p) {
                for (int k = 0; k < nn; ++k) {
                    ublock[k] = s * uk[k * npairs + p];
                    for (int comp = 0; comp < 3; ++comp) xblock[comp * nn + k] = s * xk[k * n2_stride + 3 * p + comp];
                }
                for (int t = term_offsets_[p]; t < term_offsets_[p + 1]; ++t) {
                    const Term& term = terms_[t];
                    const double* ca_row = ca + term.lm1 * nmax_;
                    const double* cb_row = cb + term.lm2 * nmax_;
                    double* dm_comp = dm + term.component * ncoeff;
                    double* ua_row = dm_comp + offset_a + term.lm1 * nmax_;
                    double* ub_row = dm_comp + offset_b + term.lm2 * nmax_;
                    double* xa_row = bx + offset_a + term.lm1 * nmax_;
                    double* xb_row = bx + offset_b + term.lm2 * nmax_;
                    const double* xrows = xblock + term.component * nn;
                    for (int n1 = 0; n1 < nmax_; ++n1) {
                        const double* xrow = xrows + n1 * nmax_;
                        const double* urow = ublock + n1 * nmax_;
                        const double h = term.weight * ca_row[n1];
                        double sum_x = 0.0, sum_u = 0.0;
                        for (int n2 = 0; n2 < nmax_; ++n2) {
                            sum_x += xrow[n2] * cb_row[n2];
                            sum_u += urow[n2] * cb_row[n2];
                            xb_row[n2] += h * xrow[n2];
                            ub_row[n2] += h * urow[n2];
                        }
                        xa_row[n1] += term.weight * sum_x;
                        ua_row[n1] += term.weight * sum_u;
                    }
                }
            }
        }
    }
    if (!normalized) return;
    const double inv = 1.0 / norm;
    for (int comp = 0; comp < 3; ++comp)
        for (std::size_t k = 0; k < ncoeff; ++k) dm[comp * ncoeff + k] = (dm[comp * ncoeff + k] - m[comp] * bx[k]) * inv;
}

void Lambda1Features::from_librascal(const double* lib, int triplets, double* x) {
    for (int q = 0; q < triplets; ++q) {
        x[3 * q + 0] = lib[3 * q + 2];   // T_+1
        x[3 * q + 1] = -lib[3 * q + 0];  // -T_-1
        x[3 * q + 2] = lib[3 * q + 1];   // T_0
    }
}

}  // namespace gapd
